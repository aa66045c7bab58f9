//! The IAM actions this function calls, in one list.
//!
//! `template.yaml` grants exactly these (tests/deploy checks it), so a new SDK call
//! in `src/aws/` must be added here, or the deployed role will deny it.
//! `sts:GetCallerIdentity` needs no permission and is not listed.

/// `(action, what it is used for)`.
pub const IAM_ACTIONS: &[(&str, &str)] = &[
    ("s3:GetBucketTagging", "read the exemption tag"),
    ("s3:GetEncryptionConfiguration", "read default encryption"),
    ("s3:PutEncryptionConfiguration", "apply SSE-KMS"),
    ("s3:GetBucketPublicAccessBlock", "read Block Public Access"),
    ("s3:PutBucketPublicAccessBlock", "apply Block Public Access"),
    ("s3:GetBucketPolicy", "read the bucket policy"),
    ("s3:PutBucketPolicy", "merge the TLS-only statement"),
    ("s3:ListAllMyBuckets", "scan: list buckets"),
    ("s3:GetBucketLocation", "scan: resolve a bucket's region"),
    ("kms:DescribeKey", "resolve and check KMS keys"),
    ("kms:GetKeyRotationStatus", "advise on key rotation"),
    (
        "organizations:DescribeOrganization",
        "is the account in an organization",
    ),
    (
        "organizations:DescribeEffectivePolicy",
        "effective AI opt-out policy",
    ),
    (
        "organizations:ListParents",
        "opt-out fallback: walk to the root",
    ),
    (
        "organizations:ListPoliciesForTarget",
        "opt-out fallback: attached policies",
    ),
    (
        "organizations:DescribePolicy",
        "opt-out fallback: policy content",
    ),
    (
        "organizations:ListAccounts",
        "opt-out drift: every account of the organization",
    ),
    (
        "organizations:ListAccountsForParent",
        "opt-out drift: the accounts of an OU",
    ),
    (
        "organizations:ListOrganizationalUnitsForParent",
        "opt-out drift: the OUs below an OU",
    ),
    (
        "dynamodb:PutItem",
        "drift: count restorations (conditional writes)",
    ),
    ("sns:Publish", "alert the security team"),
    (
        "rekognition:DescribeProjects",
        "scan: Custom Labels projects",
    ),
    (
        "rekognition:DescribeProjectVersions",
        "scan: their output buckets",
    ),
];

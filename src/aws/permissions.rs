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
    ("s3:GetBucketAcl", "who depends on the bucket: ACL grants"),
    (
        "s3:GetReplicationConfiguration",
        "who depends on the bucket: replication",
    ),
    (
        "s3:GetBucketWebsite",
        "who depends on the bucket: website hosting",
    ),
    ("s3:ListAllMyBuckets", "scan: list buckets"),
    (
        "s3:GetAccountPublicAccessBlock",
        "account-level Block Public Access, a layer above the buckets (read only)",
    ),
    ("s3:GetBucketLocation", "scan: resolve a bucket's region"),
    ("kms:DescribeKey", "resolve and check KMS keys"),
    ("kms:GetKeyRotationStatus", "advise on key rotation"),
    (
        "kms:GetKeyPolicy",
        "does the key a fix switches to cover the bucket's dependents",
    ),
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
        "organizations:ListPolicies",
        "opt-out fallback: the opt-out policies, read during the walk",
    ),
    (
        "organizations:ListEffectivePolicyValidationErrors",
        "an S3 policy that exists but is not enforced",
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
        "scheduler:CreateSchedule",
        "notify-then-remediate: schedule a bucket's remediation after its grace",
    ),
    (
        "iam:PassRole",
        "notify-then-remediate: hand EventBridge Scheduler its role",
    ),
    (
        "ssm:GetParameter",
        "read the scope rules document (GUARD_SCOPE_RULES)",
    ),
    (
        "rekognition:DescribeProjects",
        "scan: Custom Labels projects",
    ),
    (
        "rekognition:DescribeProjectVersions",
        "scan: their output buckets",
    ),
    (
        "rekognition:DescribeStreamProcessor",
        "data sharing, output and key a CreateStreamProcessor record does not show",
    ),
    (
        "rekognition:GetMediaAnalysisJob",
        "output, input and key a StartMediaAnalysisJob record hid",
    ),
    // The Security Hub sink (the same three as SECURITY_HUB_ACTIONS, below).
    (
        "securityhub:BatchImportFindings",
        "import the findings (GUARD_SECURITY_HUB=on)",
    ),
    (
        "securityhub:GetFindings",
        "keep CreatedAt; find the findings to archive",
    ),
    (
        "securityhub:DescribeHub",
        "is Security Hub enabled in this account and Region",
    ),
];

/// What the Security Hub sink calls, in the account a report is about. Security Hub only
/// accepts findings whose `AwsAccountId` is the caller's, so in organization scope these
/// belong in the member role (`deploy/` member template), not only in the function's role.
pub const SECURITY_HUB_ACTIONS: &[(&str, &str)] = &[
    (
        "securityhub:BatchImportFindings",
        "import the findings (GUARD_SECURITY_HUB=on)",
    ),
    (
        "securityhub:GetFindings",
        "keep CreatedAt; find the findings to archive",
    ),
    (
        "securityhub:DescribeHub",
        "is Security Hub enabled in this account and Region",
    ),
];

/// Organization scope, in the guard account (`OrganizationPolicy` in template.yaml): the
/// member roles and the sweep's work queue. (The gate's Organizations reads,
/// `ListAccounts` and the OU listings, are in `IAM_ACTIONS`: drift uses them in account
/// scope too.)
pub const ORG_ACTIONS: &[(&str, &str)] = &[
    ("sts:AssumeRole", "act in a member account through its role"),
    ("sqs:SendMessage", "planner: queue the sweep's work items"),
];

/// `GUARD_REENCRYPT=batch` (`ReencryptPolicy` in template.yaml, only when
/// `ReencryptExistingObjects` is on): start the Batch Operations job that re-encrypts a
/// remediated bucket's objects, handing it the job role (`ReencryptJobRole`), and nothing more.
pub const REENCRYPT_ACTIONS: &[(&str, &str)] = &[
    (
        "s3:CreateJob",
        "start a re-encryption job after an sse-kms remediation",
    ),
    (
        "iam:PassRole",
        "hand the job its role (batchoperations.s3.amazonaws.com only)",
    ),
];

/// What the member role grants in each member account (deploy/member-role.yaml): the
/// controls' S3 and KMS calls and the sweep's listings, nothing of Organizations or SNS,
/// which stay in the guard account.
pub const MEMBER_ACTIONS: &[(&str, &str)] = &[
    ("s3:GetBucketTagging", "read the exemption tag"),
    ("s3:GetEncryptionConfiguration", "read default encryption"),
    ("s3:PutEncryptionConfiguration", "apply SSE-KMS"),
    ("s3:GetBucketPublicAccessBlock", "read Block Public Access"),
    ("s3:PutBucketPublicAccessBlock", "apply Block Public Access"),
    ("s3:GetBucketPolicy", "read the bucket policy"),
    ("s3:PutBucketPolicy", "merge the TLS-only statement"),
    ("s3:GetBucketAcl", "who depends on the bucket: ACL grants"),
    (
        "s3:GetReplicationConfiguration",
        "who depends on the bucket: replication",
    ),
    (
        "s3:GetBucketWebsite",
        "who depends on the bucket: website hosting",
    ),
    ("s3:ListAllMyBuckets", "sweep: list buckets"),
    (
        "s3:GetAccountPublicAccessBlock",
        "account-level Block Public Access, a layer above the buckets (read only)",
    ),
    ("s3:GetBucketLocation", "sweep: resolve a bucket's region"),
    ("kms:DescribeKey", "resolve and check KMS keys"),
    ("kms:GetKeyRotationStatus", "advise on key rotation"),
    (
        "kms:GetKeyPolicy",
        "does the key a fix switches to cover the bucket's dependents",
    ),
    (
        "rekognition:DescribeProjects",
        "sweep: Custom Labels projects",
    ),
    (
        "rekognition:DescribeProjectVersions",
        "sweep: their output buckets",
    ),
    (
        "rekognition:DescribeStreamProcessor",
        "what a CreateStreamProcessor record does not show",
    ),
    (
        "rekognition:GetMediaAnalysisJob",
        "what a StartMediaAnalysisJob record hid",
    ),
    // The Security Hub sink imports in the member account (SECURITY_HUB_ACTIONS).
    (
        "securityhub:BatchImportFindings",
        "import the findings (GUARD_SECURITY_HUB=on)",
    ),
    (
        "securityhub:GetFindings",
        "keep CreatedAt; find the findings to archive",
    ),
    (
        "securityhub:DescribeHub",
        "is Security Hub enabled in this account and Region",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The member role acts only as the function does in its own account: every member
    /// action is one the function itself calls.
    #[test]
    fn member_actions_are_the_functions_own() {
        for (action, _) in MEMBER_ACTIONS {
            assert!(
                IAM_ACTIONS.iter().any(|(a, _)| a == action),
                "{action} is not in IAM_ACTIONS"
            );
        }
        for (action, _) in IAM_ACTIONS {
            let guard_only = [
                "organizations:",
                "sns:",
                "dynamodb:",
                "scheduler:",
                "iam:",
                "ssm:",
            ]
            .iter()
            .any(|service| action.starts_with(service));
            assert_eq!(
                MEMBER_ACTIONS.iter().any(|(a, _)| a == action),
                !guard_only,
                "{action}"
            );
        }
    }

    #[test]
    fn the_function_role_has_every_security_hub_action() {
        for entry in SECURITY_HUB_ACTIONS {
            assert!(IAM_ACTIONS.contains(entry), "{entry:?}");
        }
        assert!(
            SECURITY_HUB_ACTIONS
                .iter()
                .all(|(a, _)| a.starts_with("securityhub:")
                    && *a != "securityhub:BatchUpdateFindings")
        );
    }
}

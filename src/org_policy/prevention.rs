//! The preventive layer the guard ships (`rekognition-guard policies`): for the configured
//! prefixes, output bucket patterns and roles,
//!
//! - an SCP that denies the weakening writes on guarded buckets, and the tagging that would
//!   exempt them, to every principal but the guard's function and member roles (and an
//!   optional break-glass role): drift that would have been restored seconds later never
//!   happens, and the denied call arrives as a "prevented" record;
//! - an RCP that denies S3 requests over plain HTTP (AWS's "enforce secure transport"
//!   example, S3 only), so every bucket of the OU is TLS-only whatever its bucket policy;
//! - an `S3_POLICY` that turns all four Block Public Access flags on for the accounts below.
//!
//! IAM action names, not API names: `DeleteBucketPolicy` is `s3:DeleteBucketPolicy`, but
//! `DeleteBucketEncryption` is authorized as `s3:PutEncryptionConfiguration`,
//! `DeleteBucketPublicAccessBlock` as `s3:PutBucketPublicAccessBlock` and
//! `DeleteBucketTagging` as `s3:PutBucketTagging` (Service Authorization Reference, Amazon S3).

use super::s3_policy;
use serde_json::{Value, json};

/// Organizations' quota on an SCP's and an RCP's content, in characters.
pub const AUTHORIZATION_POLICY_MAX_CHARS: usize = 5_120;
/// Organizations' quota on a management policy's content (S3 policies), in characters.
pub const MANAGEMENT_POLICY_MAX_CHARS: usize = 10_000;

pub const SCP_NAME: &str = "rekognition-guard-scp";
pub const RCP_NAME: &str = "rekognition-guard-rcp";
pub const S3_POLICY_NAME: &str = "rekognition-guard-s3-policy";

/// The weakening writes the SCP denies (IAM actions; see the module docs).
pub const WEAKENING_ACTIONS: &[&str] = &[
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketPublicAccessBlock",
];

/// What the policies are written for.
#[derive(Debug, Clone)]
pub struct Scope {
    pub partition: String,
    /// Bucket name prefixes (the console prefix first).
    pub prefixes: Vec<String>,
    /// Wildcard bucket names (`GUARD_OUTPUT_BUCKET_PATTERNS`).
    pub output_patterns: Vec<String>,
    pub exempt_tag: String,
    /// The function's role ARN (or ARN pattern).
    pub function_role: String,
    /// `GUARD_MEMBER_ROLE_NAME`, exempt in every account.
    pub member_role_name: String,
    pub break_glass_role: Option<String>,
    pub min_tls_version: Option<String>,
}

impl Scope {
    /// Every guarded bucket, as ARN patterns.
    pub fn bucket_arns(&self) -> Vec<String> {
        let p = &self.partition;
        self.prefixes
            .iter()
            .map(|prefix| format!("arn:{p}:s3:::{prefix}*"))
            .chain(
                self.output_patterns
                    .iter()
                    .map(|pattern| format!("arn:{p}:s3:::{pattern}")),
            )
            .collect()
    }

    /// The principals the SCP lets through.
    pub fn exempt_principals(&self) -> Vec<String> {
        let mut out = vec![
            self.function_role.clone(),
            format!(
                "arn:{}:iam::*:role/{}",
                self.partition, self.member_role_name
            ),
        ];
        out.extend(self.break_glass_role.clone());
        out
    }
}

/// The three documents, by name, in the order they are printed.
pub fn policies(scope: &Scope) -> Vec<(&'static str, Value)> {
    vec![
        (SCP_NAME, scp(scope)),
        (RCP_NAME, rcp(scope)),
        (S3_POLICY_NAME, s3_policy::enforcing()),
    ]
}

pub fn scp(scope: &Scope) -> Value {
    let buckets = scope.bucket_arns();
    let except = json!({ "ArnNotLike": { "aws:PrincipalArn": scope.exempt_principals() } });
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyWeakeningGuardedBuckets",
                "Effect": "Deny",
                "Action": WEAKENING_ACTIONS,
                "Resource": buckets,
                "Condition": except,
            },
            {
                // PutBucketTagging replaces the whole tag set and carries no tag-key
                // condition: on guarded buckets only the guard's roles may use it.
                "Sid": "DenyTaggingGuardedBuckets",
                "Effect": "Deny",
                "Action": ["s3:PutBucketTagging"],
                "Resource": buckets,
                "Condition": except,
            },
            {
                "Sid": "DenyExemptionTag",
                "Effect": "Deny",
                "Action": ["s3:TagResource", "s3:UntagResource"],
                "Resource": buckets,
                "Condition": {
                    "ForAnyValue:StringLike": { "aws:TagKeys": [format!("{}*", scope.exempt_tag)] },
                    "ArnNotLike": { "aws:PrincipalArn": scope.exempt_principals() },
                },
            },
        ],
    })
}

pub fn rcp(scope: &Scope) -> Value {
    let mut statements = vec![json!({
        "Sid": "EnforceSecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": { "BoolIfExists": { "aws:SecureTransport": "false" } },
    })];
    if let Some(min) = &scope.min_tls_version {
        statements.push(json!({
            "Sid": "EnforceMinimumTls",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": { "NumericLessThan": { "s3:TlsVersion": min } },
        }));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org_policy::deny::{Request, document_denies, tls_enforcers};
    use crate::org_policy::{AttachedPolicy, Hierarchy, Level, PolicyKind, TargetKind};
    use crate::policy::Requirement;

    fn scope(prefixes: usize, patterns: usize, break_glass: bool) -> Scope {
        Scope {
            partition: "aws".into(),
            prefixes: std::iter::once("custom-labels-console-".to_owned())
                .chain((1..prefixes).map(|i| format!("team-{i:02}-rekognition-data-")))
                .collect(),
            output_patterns: (0..patterns)
                .map(|i| format!("rekognition-output-{i:02}-*"))
                .collect(),
            exempt_tag: "rekognition-guard:exempt".into(),
            function_role:
                "arn:aws:iam::999999999999:role/rekognition-guard-GuardFunctionRole-ABC123".into(),
            member_role_name: "RekognitionGuardMember".into(),
            break_glass_role: break_glass.then(|| "arn:aws:iam::*:role/BreakGlass".to_owned()),
            min_tls_version: Some("1.2".into()),
        }
    }

    fn minified(v: &Value) -> usize {
        serde_json::to_string(v)
            .map(|s| s.chars().count())
            .unwrap_or(usize::MAX)
    }

    #[test]
    fn within_the_quotas() {
        // A typical scope, and a large one: 10 prefixes and 10 output patterns.
        for s in [scope(1, 0, false), scope(3, 2, true), scope(10, 10, true)] {
            for (name, doc) in policies(&s) {
                let limit = if name == S3_POLICY_NAME {
                    MANAGEMENT_POLICY_MAX_CHARS
                } else {
                    AUTHORIZATION_POLICY_MAX_CHARS
                };
                assert!(minified(&doc) <= limit, "{name}: {} chars", minified(&doc));
                // Valid JSON that round-trips.
                let text = serde_json::to_string(&doc).unwrap();
                assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), doc);
            }
        }
    }

    #[test]
    fn scp_denies_weakening_except_the_guards_roles() {
        let s = scope(2, 1, true);
        let doc = scp(&s);
        let doc = doc.as_object().unwrap();
        let buckets = [
            "arn:aws:s3:::custom-labels-console-us-east-1-abc",
            "arn:aws:s3:::team-01-rekognition-data-x",
            "arn:aws:s3:::rekognition-output-00-y",
        ];
        let someone = "arn:aws:iam::111122223333:role/Developer";
        let exempt = [
            s.function_role.as_str(),
            "arn:aws:iam::111122223333:role/RekognitionGuardMember",
            "arn:aws:iam::111122223333:role/BreakGlass",
        ];
        for action in WEAKENING_ACTIONS.iter().chain(&["s3:PutBucketTagging"]) {
            for bucket in buckets {
                let req = |principal| Request {
                    action,
                    resource: bucket,
                    principal_arn: principal,
                    secure_transport: true,
                    tag_keys: &[],
                };
                assert_eq!(
                    document_denies(doc, &req(someone)),
                    Some(true),
                    "{action} {bucket}"
                );
                for role in exempt {
                    assert_eq!(document_denies(doc, &req(role)), Some(false), "{role}");
                }
            }
            // Buckets the guard does not guard are left alone.
            let other = Request {
                action,
                resource: "arn:aws:s3:::unrelated",
                principal_arn: someone,
                secure_transport: true,
                tag_keys: &[],
            };
            assert_eq!(document_denies(doc, &other), Some(false));
        }
        let tag = |keys: &'static [&'static str]| Request {
            action: "s3:TagResource",
            resource: buckets[0],
            principal_arn: someone,
            secure_transport: true,
            tag_keys: keys,
        };
        assert_eq!(
            document_denies(doc, &tag(&["rekognition-guard:exempt"])),
            Some(true)
        );
        assert_eq!(
            document_denies(doc, &tag(&["rekognition-guard:exempt-until"])),
            Some(true)
        );
        assert_eq!(document_denies(doc, &tag(&["cost-center"])), Some(false));
        // Reads are never denied.
        let read = Request {
            action: "s3:GetBucketPolicy",
            resource: buckets[0],
            principal_arn: someone,
            secure_transport: true,
            tag_keys: &[],
        };
        assert_eq!(document_denies(doc, &read), Some(false));
    }

    #[test]
    fn rcp_is_tls_only_by_meaning() {
        let s = scope(1, 0, false);
        let h = Hierarchy {
            levels: vec![Level {
                target_id: "ou-ab12-11111111".into(),
                kind: TargetKind::OrganizationalUnit,
                policies: vec![AttachedPolicy {
                    id: "p-guard".into(),
                    content: rcp(&s).to_string(),
                }],
            }],
        };
        let req = Requirement::new("any-bucket-at-all", "aws", Some("1.2"));
        assert_eq!(tls_enforcers(&h, PolicyKind::Rcp, &req, false).len(), 1);
        // The statement semantically denies plain HTTP and nothing over TLS.
        let doc = rcp(&s);
        let doc = doc.as_object().unwrap();
        let get = |secure| Request {
            action: "s3:GetObject",
            resource: "arn:aws:s3:::any-bucket-at-all/key",
            principal_arn: "arn:aws:iam::111122223333:role/App",
            secure_transport: secure,
            tag_keys: &[],
        };
        let first = crate::policy::statements(doc).unwrap()[0];
        assert_eq!(
            crate::org_policy::deny::denies(first, &get(false)),
            Some(true)
        );
        assert_eq!(
            crate::org_policy::deny::denies(first, &get(true)),
            Some(false)
        );
    }

    #[test]
    fn s3_policy_enforces_all_flags() {
        let doc = policies(&scope(1, 0, false))
            .into_iter()
            .find(|(n, _)| *n == S3_POLICY_NAME)
            .map(|(_, d)| d)
            .unwrap();
        assert!(s3_policy::from_effective(&doc.to_string()).blocks_all);
    }
}

//! Authorization policies on the account's path: resource control policies (RCPs) and service
//! control policies (SCPs). Unlike management policies they do not inherit values: every Deny
//! on the path applies (IAM's evaluation: an explicit deny anywhere wins), and neither applies
//! to the management account.
//!
//! Two questions are answered here, by meaning (never by a statement's Sid or layout):
//! - which policies deny every request to a bucket over plain HTTP (`tls_enforcers`, through
//!   `policy::denies_insecure_transport`, so `BoolIfExists`, `Resource: "*"`, principal `*` and
//!   action lists count as S3's own evaluation counts them);
//! - whether a statement denies one request (`denies`): action, resource, principal ARN,
//!   transport and tag keys, with the condition operators the guard's own policies use.
//!   Anything else is "cannot tell" (`None`), never a guess.

use super::{Hierarchy, PolicyKind, Source};
use crate::policy::{self, Requirement, glob_match, strings};
use serde_json::{Map, Value};

/// Which policies on the path deny insecure transport to the bucket of `req`. Empty for the
/// management account: RCPs and SCPs do not apply to it.
pub fn tls_enforcers(
    hierarchy: &Hierarchy,
    kind: PolicyKind,
    req: &Requirement,
    management: bool,
) -> Vec<Source> {
    if management {
        return Vec::new();
    }
    let mut out = Vec::new();
    for level in &hierarchy.levels {
        for attached in &level.policies {
            let Ok(doc) = policy::parse(&attached.content) else {
                continue;
            };
            let statements = policy::statements(&doc).unwrap_or_default();
            let enforces = statements.iter().any(|s| match kind {
                // An SCP has no Principal: it binds every principal of the account.
                PolicyKind::Scp if !s.contains_key("Principal") => {
                    let mut s = (*s).clone();
                    s.insert("Principal".into(), Value::String("*".into()));
                    policy::denies_insecure_transport(&s, req)
                }
                _ => policy::denies_insecure_transport(s, req),
            });
            if enforces {
                out.push(Source {
                    kind,
                    policy_id: attached.id.clone(),
                    target_id: level.target_id.clone(),
                });
            }
        }
    }
    out
}

/// One request, as an authorization policy sees it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `s3:PutBucketPolicy`.
    pub action: &'a str,
    /// `arn:aws:s3:::bucket`.
    pub resource: &'a str,
    /// The caller's role ARN (`arn:aws:iam::111122223333:role/name`).
    pub principal_arn: &'a str,
    pub secure_transport: bool,
    /// `aws:TagKeys` of a tagging request (empty: the key is absent).
    pub tag_keys: &'a [&'a str],
}

/// Whether any statement of the document denies the request; `None` when one might and this
/// evaluator cannot tell.
pub fn document_denies(doc: &Map<String, Value>, req: &Request) -> Option<bool> {
    let mut unknown = false;
    for s in policy::statements(doc).ok()? {
        match denies(s, req) {
            Some(true) => return Some(true),
            Some(false) => {}
            None => unknown = true,
        }
    }
    (!unknown).then_some(false)
}

/// Whether one statement denies the request (`None`: a condition this evaluator does not know).
pub fn denies(s: &Map<String, Value>, req: &Request) -> Option<bool> {
    if s.get("Effect").and_then(Value::as_str) != Some("Deny") {
        return Some(false);
    }
    let action_ci = |p: &str| glob_match(&p.to_ascii_lowercase(), &req.action.to_ascii_lowercase());
    let action = match (s.get("Action"), s.get("NotAction")) {
        (Some(a), _) => strings(a).iter().any(|p| action_ci(p)),
        (None, Some(n)) => !strings(n).iter().any(|p| action_ci(p)),
        (None, None) => false,
    };
    let resource = match (s.get("Resource"), s.get("NotResource")) {
        (Some(r), _) => strings(r).iter().any(|p| glob_match(p, req.resource)),
        (None, Some(n)) => !strings(n).iter().any(|p| glob_match(p, req.resource)),
        // SCPs may leave Resource out? No: it is required; treat as no match.
        (None, None) => false,
    };
    if !action || !resource {
        return Some(false);
    }
    let Some(conditions) = s.get("Condition") else {
        return Some(true);
    };
    let conditions = conditions.as_object()?;
    for (op, keys) in conditions {
        for (key, values) in keys.as_object()? {
            if !condition_holds(op, key, values, req)? {
                return Some(false);
            }
        }
    }
    Some(true)
}

fn condition_holds(op: &str, key: &str, values: &Value, req: &Request) -> Option<bool> {
    let values = match values {
        Value::Array(_) => strings(values),
        Value::String(s) => vec![s.as_str()],
        Value::Bool(true) => vec!["true"],
        Value::Bool(false) => vec!["false"],
        _ => return None,
    };
    let key = key.to_ascii_lowercase();
    match (op, key.as_str()) {
        ("Bool" | "BoolIfExists", "aws:securetransport") => {
            let actual = req.secure_transport.to_string();
            Some(values.iter().any(|v| v.eq_ignore_ascii_case(&actual)))
        }
        (
            "ArnLike" | "ArnNotLike" | "StringLike" | "StringNotLike" | "ArnEquals"
            | "ArnNotEquals" | "StringEquals" | "StringNotEquals",
            "aws:principalarn",
        ) => {
            let like = op.contains("Like");
            let matched = values.iter().any(|v| {
                if like {
                    glob_match(v, req.principal_arn)
                } else {
                    *v == req.principal_arn
                }
            });
            Some(if op.contains("Not") {
                !matched
            } else {
                matched
            })
        }
        ("ForAnyValue:StringLike" | "ForAnyValue:StringEquals", "aws:tagkeys") => {
            let like = op.ends_with("Like");
            Some(req.tag_keys.iter().any(|k| {
                values
                    .iter()
                    .any(|v| if like { glob_match(v, k) } else { v == k })
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org_policy::{AttachedPolicy, Level, TargetKind};
    use serde_json::json;

    /// AWS's example RCP ("Enforce secure transport", resource control policy examples).
    pub(crate) fn aws_tls_rcp() -> Value {
        json!({"Version": "2012-10-17", "Statement": [{
            "Sid": "EnforceSecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["sts:*", "s3:*", "sqs:*", "secretsmanager:*", "kms:*"],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:SecureTransport": "false"}}
        }]})
    }

    fn path(kind_docs: &[(&str, TargetKind, Value)]) -> Hierarchy {
        Hierarchy {
            levels: kind_docs
                .iter()
                .map(|(id, kind, doc)| Level {
                    target_id: (*id).to_owned(),
                    kind: *kind,
                    policies: vec![AttachedPolicy {
                        id: format!("p-{id}"),
                        content: doc.to_string(),
                    }],
                })
                .collect(),
        }
    }

    #[test]
    fn tls_rcp_on_an_ou_is_named() {
        let req = Requirement::new("b", "aws", None);
        let full = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
        let h = path(&[
            ("r-ab12", TargetKind::Root, full),
            (
                "ou-ab12-11111111",
                TargetKind::OrganizationalUnit,
                aws_tls_rcp(),
            ),
        ]);
        let found = tls_enforcers(&h, PolicyKind::Rcp, &req, false);
        assert_eq!(
            found.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["RCP p-ou-ab12-11111111 on ou-ab12-11111111"]
        );
        assert!(
            tls_enforcers(&h, PolicyKind::Rcp, &req, true).is_empty(),
            "management account"
        );
    }

    #[test]
    fn near_misses_do_not_count() {
        let req = Requirement::new("b", "aws", None);
        let mut variants = Vec::new();
        for (field, value) in [
            ("Action", json!(["sqs:*"])),
            ("Resource", json!("arn:aws:s3:::other*")),
            (
                "Principal",
                json!({"AWS": "arn:aws:iam::111122223333:root"}),
            ),
            (
                "Condition",
                json!({"Bool": {"aws:SecureTransport": "true"}}),
            ),
            ("Effect", json!("Allow")),
        ] {
            let mut doc = aws_tls_rcp();
            doc["Statement"][0][field] = value;
            variants.push(doc);
        }
        for doc in variants {
            let h = path(&[("ou-x", TargetKind::OrganizationalUnit, doc.clone())]);
            assert!(
                tls_enforcers(&h, PolicyKind::Rcp, &req, false).is_empty(),
                "{doc}"
            );
        }
    }

    #[test]
    fn scp_without_principal_counts_for_its_account() {
        let req = Requirement::new("b", "aws", None);
        let mut doc = aws_tls_rcp();
        doc["Statement"][0]
            .as_object_mut()
            .map(|s| s.remove("Principal"));
        let h = path(&[("ou-x", TargetKind::OrganizationalUnit, doc)]);
        assert_eq!(tls_enforcers(&h, PolicyKind::Scp, &req, false).len(), 1);
    }

    #[test]
    fn request_evaluation() {
        let stmt = json!({"Effect": "Deny", "Action": ["s3:PutBucketPolicy"], "Resource": "arn:aws:s3:::guard-*",
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/Guard"]}}});
        let s = stmt.as_object().unwrap();
        let req = |principal, resource| Request {
            action: "s3:PutBucketPolicy",
            resource,
            principal_arn: principal,
            secure_transport: true,
            tag_keys: &[],
        };
        assert_eq!(
            denies(s, &req("arn:aws:iam::1:role/Dev", "arn:aws:s3:::guard-a")),
            Some(true)
        );
        assert_eq!(
            denies(s, &req("arn:aws:iam::1:role/Guard", "arn:aws:s3:::guard-a")),
            Some(false)
        );
        assert_eq!(
            denies(s, &req("arn:aws:iam::1:role/Dev", "arn:aws:s3:::other")),
            Some(false)
        );
        let unknown = json!({"Effect": "Deny", "Action": "*", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}});
        assert_eq!(denies(unknown.as_object().unwrap(), &req("x", "y")), None);
    }
}

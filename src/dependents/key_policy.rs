//! Whether a KMS key policy lets a dependent use the key as S3 needs it.
//!
//! S3 calls KMS with the requester's identity: a reader needs `kms:Decrypt`, a writer
//! `kms:GenerateDataKey` and `kms:Decrypt` (multipart uploads need both) (Amazon S3 User
//! Guide, "Using server-side encryption with AWS KMS keys"). A Custom Labels caller that
//! gave the call a `KmsKeyId` also needs `kms:CreateGrant` and `kms:DescribeKey` on it;
//! the call succeeded, so it has them already, and only the S3 actions are checked here.
//!
//! Same-account principals are covered through the root (IAM) delegation
//! (`arn:aws:iam::ACCOUNT:root`) or by name; other accounts and service principals only
//! by name. A statement counts only when every condition on it is decided from what is
//! known here (`kms:ViaService` of S3, `kms:CallerAccount`, `aws:PrincipalOrgID`,
//! `aws:SourceAccount`/`aws:SourceArn` for services, the S3 encryption context of this
//! bucket); an unconditional Deny that matches takes coverage away. Anything else is
//! *not* counted: the rule then holds the fix and says why.

use super::{Access, Dependent, Who, principal_account};
use crate::policy;
use serde_json::{Map, Value};

pub const DECRYPT: &str = "kms:Decrypt";
pub const GENERATE: &str = "kms:GenerateDataKey";

/// The actions a dependent with `access` needs on the bucket's key.
pub fn needed(access: Access) -> Vec<&'static str> {
    let mut actions = Vec::new();
    if access.write {
        actions.push(GENERATE);
    }
    if access.read || access.write {
        actions.push(DECRYPT);
    }
    actions
}

/// Who asks KMS, as a key policy can name it.
#[derive(Debug, Clone, Copy)]
enum Subject<'a> {
    /// A named principal (role, user, or session) of `account`.
    Principal {
        arn: &'a str,
        account: &'a str,
    },
    /// Any principal of an account (its root).
    Account(&'a str),
    Organization(&'a str),
    Service(&'a str),
}

/// Why this dependent can never use a KMS key on this bucket, if it cannot.
pub fn never(who: &Who) -> Option<&'static str> {
    Some(match who {
        Who::Public | Who::Website => {
            "anonymous requests cannot use a KMS key (SSE-KMS objects need signed requests)"
        }
        Who::LogDeliveryGroup => {
            "S3 delivers server access logs only to buckets whose default encryption is SSE-S3"
        }
        Who::ElbLogDelivery { .. } => {
            "Elastic Load Balancing delivers access logs only to buckets encrypted with SSE-S3"
        }
        Who::CloudFrontOai { .. } => {
            "an origin access identity cannot read SSE-KMS objects (origin access control can)"
        }
        Who::CanonicalUser { .. } => {
            "a canonical user id of an ACL grant cannot be matched to a key policy principal"
        }
        Who::Conditional { .. } => "the principals it allows cannot be named in a key policy check",
        _ => return None,
    })
}

fn subject<'a>(who: &'a Who, key_account: &'a str) -> Option<Subject<'a>> {
    Some(match who {
        Who::Account { account, principal } => {
            if principal == account || principal.ends_with(":root") {
                Subject::Account(account)
            } else {
                Subject::Principal {
                    arn: principal,
                    account,
                }
            }
        }
        Who::OwnPrincipal { principal } => Subject::Principal {
            arn: principal,
            account: principal_account(principal).unwrap_or(key_account),
        },
        Who::ReplicationSource { role, .. } => Subject::Principal {
            arn: role,
            account: principal_account(role).unwrap_or(key_account),
        },
        Who::Organization { org_id } => Subject::Organization(org_id),
        Who::Service { service } => Subject::Service(service),
        _ => return None,
    })
}

/// The actions of `needed` the key policy does not grant to `dependent`, with why; empty
/// when it is covered.
pub fn missing(
    doc: &Map<String, Value>,
    key_account: &str,
    bucket_arn: &str,
    dependent: &Dependent,
    needed: &[&'static str],
) -> Vec<&'static str> {
    let Some(subject) = subject(&dependent.who, key_account) else {
        return needed.to_vec();
    };
    let statements = policy::statements(doc).unwrap_or_default();
    needed
        .iter()
        .copied()
        .filter(|action| {
            let allowed = statements
                .iter()
                .any(|s| grants(s, "Allow", subject, action, bucket_arn, true));
            let denied = statements
                .iter()
                .any(|s| grants(s, "Deny", subject, action, bucket_arn, false));
            !allowed || denied
        })
        .collect()
}

/// Whether statement `s` with `effect` applies to `subject` for `action`; with
/// `conditions`, each condition must be decided true, else conditional statements never
/// apply (a Deny with a condition is not counted: conservative for Allows only).
fn grants(
    s: &Map<String, Value>,
    effect: &str,
    subject: Subject,
    action: &str,
    bucket_arn: &str,
    conditions: bool,
) -> bool {
    if s.get("Effect").and_then(Value::as_str) != Some(effect) || s.contains_key("NotPrincipal") {
        return false;
    }
    let action_ok = match (s.get("Action"), s.get("NotAction")) {
        (Some(a), _) => policy::strings(a).iter().any(|p| action_match(p, action)),
        (None, Some(na)) => !policy::strings(na).iter().any(|p| action_match(p, action)),
        (None, None) => false,
    };
    if !action_ok {
        return false;
    }
    let (named, everyone) = match s.get("Principal") {
        Some(p) => principal_matches(p, subject),
        None => return false,
    };
    if !named && !everyone {
        return false;
    }
    match s.get("Condition") {
        None => true,
        Some(_) if !conditions => false,
        Some(Value::Object(c)) => {
            // `*` must be narrowed to this subject by a condition it satisfies.
            let decided = c.iter().all(|(op, keys)| {
                keys.as_object().is_some_and(|keys| {
                    keys.iter()
                        .all(|(k, v)| condition_holds(op, k, v, subject, bucket_arn))
                })
            });
            decided && (named || narrows_to(c, subject))
        }
        Some(_) => false,
    }
}

fn action_match(pattern: &str, action: &str) -> bool {
    policy::glob_match(&pattern.to_ascii_lowercase(), &action.to_ascii_lowercase())
}

/// (named explicitly or through its account's root, matched only by `*`).
fn principal_matches(principal: &Value, subject: Subject) -> (bool, bool) {
    if super::public::is_everyone(principal) {
        return (false, true);
    }
    let Some(map) = principal.as_object() else {
        return (false, false);
    };
    let aws = map.get("AWS").map(policy::strings).unwrap_or_default();
    let services = map.get("Service").map(policy::strings).unwrap_or_default();
    let named = match subject {
        Subject::Service(svc) => services.iter().any(|s| s.eq_ignore_ascii_case(svc)),
        Subject::Account(account) => aws.iter().any(|v| is_root(v, account)),
        Subject::Principal { arn, account } => aws
            .iter()
            .any(|v| is_root(v, account) || *v == arn || same_role(v, arn)),
        Subject::Organization(_) => false,
    };
    (named, false)
}

fn is_root(value: &str, account: &str) -> bool {
    value == account
        || (value.ends_with(&format!(":iam::{account}:root")) && value.starts_with("arn:"))
}

/// `arn:aws:iam::A:role/path/NAME` names the role behind `arn:aws:sts::A:assumed-role/NAME/session`.
fn same_role(policy_value: &str, arn: &str) -> bool {
    let role_of = |a: &str| -> Option<(String, String)> {
        let account = principal_account(a)?.to_owned();
        let resource = a.splitn(6, ':').nth(5)?;
        let name = if let Some(rest) = resource.strip_prefix("assumed-role/") {
            rest.split('/').next()?
        } else if let Some(rest) = resource.strip_prefix("role/") {
            rest.rsplit('/').next()?
        } else {
            return None;
        };
        Some((account, name.to_owned()))
    };
    matches!((role_of(policy_value), role_of(arn)), (Some(a), Some(b)) if a == b)
}

fn values(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        Value::String(s) => vec![s.clone()],
        other => vec![other.to_string()],
    }
}

fn subject_account(subject: Subject<'_>) -> Option<&str> {
    match subject {
        Subject::Principal { account, .. } | Subject::Account(account) => Some(account),
        _ => None,
    }
}

/// Whether one condition is known to hold for requests S3 makes for `subject`.
fn condition_holds(op: &str, key: &str, v: &Value, subject: Subject, bucket_arn: &str) -> bool {
    let base = op
        .strip_prefix("ForAnyValue:")
        .or_else(|| op.strip_prefix("ForAllValues:"))
        .unwrap_or(op);
    if !matches!(
        base,
        "StringEquals" | "StringEqualsIgnoreCase" | "StringLike" | "ArnEquals" | "ArnLike" | "Bool"
    ) {
        return false;
    }
    let vals = values(v);
    let any = |text: &str| vals.iter().any(|p| policy::glob_match(p, text));
    match key.to_ascii_lowercase().as_str() {
        // S3 calls KMS on the requester's behalf from its Regional endpoint.
        "kms:viaservice" => vals.iter().any(|p| p.starts_with("s3.")),
        "kms:calleraccount" | "aws:principalaccount" => subject_account(subject).is_some_and(any),
        "aws:principalorgid" => matches!(subject, Subject::Organization(o) if any(o)),
        "aws:principalarn" => matches!(subject, Subject::Principal { arn, .. } if any(arn)),
        // A service principal's own scoping to the resources that use it.
        "aws:sourceaccount" | "aws:sourcearn" => matches!(subject, Subject::Service(_)),
        "kms:encryptioncontext:aws:s3:arn" => any(bucket_arn) || any(&format!("{bucket_arn}/x")),
        "kms:grantisforawsresource" => vals.iter().any(|v| v.eq_ignore_ascii_case("true")),
        _ => false,
    }
}

/// A `*` statement applies to `subject` only when a condition names it.
fn narrows_to(cond: &Map<String, Value>, subject: Subject) -> bool {
    cond.values().filter_map(Value::as_object).any(|keys| {
        keys.keys().any(|k| {
            let k = k.to_ascii_lowercase();
            match subject {
                Subject::Organization(_) => k == "aws:principalorgid",
                Subject::Principal { .. } => matches!(
                    k.as_str(),
                    "kms:calleraccount" | "aws:principalaccount" | "aws:principalarn"
                ),
                Subject::Account(_) => {
                    matches!(k.as_str(), "kms:calleraccount" | "aws:principalaccount")
                }
                Subject::Service(_) => false,
            }
        })
    })
}

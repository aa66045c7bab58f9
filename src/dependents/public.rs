//! What S3 counts as public in a bucket policy: "The meaning of public", S3 User Guide,
//! Blocking public access (access-control-block-public-access.html#access-control-block-public-access-policy-status).
//!
//! A statement that allows a wildcard principal (`"*"`, `{"AWS": "*"}`, or `NotPrincipal`)
//! is public unless a condition pins one of the keys S3 lists to fixed values: the
//! principal's account, ARN or organization, the source account, ARN, owner, VPC, VPC
//! endpoint or IP range (a CIDR other than `/0`), the access point, `aws:userid` outside
//! `AROLEID:*`, or the SSE-KMS key id. Wildcards in a value, negated operators and
//! `…IfExists` do not pin a value.

use crate::policy;
use serde_json::{Map, Value};

/// The condition keys whose fixed values make a `*` statement non-public.
const NARROWING_KEYS: &[&str] = &[
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalOrgID",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceIp",
    "aws:SourceOwner",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:userid",
    "s3:DataAccessPointArn",
    "s3:DataAccessPointAccount",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
];

/// Operators that compare with fixed values (with a `ForAnyValue:`/`ForAllValues:` prefix too).
const FIXED_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "ArnEquals",
    "ArnLike",
    "IpAddress",
];

/// `"*"` or an `AWS` list containing `"*"`.
pub fn is_everyone(principal: &Value) -> bool {
    match principal {
        Value::String(s) => s == "*",
        Value::Object(m) => m
            .get("AWS")
            .is_some_and(|aws| policy::strings(aws).contains(&"*")),
        _ => false,
    }
}

fn fixed_value(key: &str, value: &str) -> bool {
    if value.contains('*') || value.contains('?') || value.is_empty() {
        return false;
    }
    if key.eq_ignore_ascii_case("aws:SourceIp") {
        return !value.ends_with("/0");
    }
    if key.eq_ignore_ascii_case("aws:userid") {
        // `AROLEID:*` is any session of a role: caught by the wildcard test above.
        return true;
    }
    true
}

/// The statement's conditions that pin a narrowing key to fixed values, as
/// `(key, values)`. Empty: nothing narrows the statement's principal.
pub fn fixed_conditions(s: &Map<String, Value>) -> Vec<(String, Vec<String>)> {
    let Some(Value::Object(cond)) = s.get("Condition") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (op, keys) in cond {
        let base = op
            .strip_prefix("ForAnyValue:")
            .or_else(|| op.strip_prefix("ForAllValues:"))
            .unwrap_or(op);
        if !FIXED_OPERATORS.contains(&base) {
            continue;
        }
        let Some(keys) = keys.as_object() else {
            continue;
        };
        for (key, values) in keys {
            if !NARROWING_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                continue;
            }
            let values: Vec<String> = match values {
                Value::Array(items) => items.iter().filter_map(scalar).collect(),
                other => scalar(other).into_iter().collect(),
            };
            if !values.is_empty() && values.iter().all(|v| fixed_value(key, v)) {
                out.push((key.clone(), values));
            }
        }
    }
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether S3 counts this statement as public.
pub fn is_public_statement(s: &Map<String, Value>) -> bool {
    if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return false;
    }
    let wildcard = s.contains_key("NotPrincipal") || s.get("Principal").is_some_and(is_everyone);
    wildcard && fixed_conditions(s).is_empty()
}

/// The public statements of a policy, by Sid (or `#n`).
pub fn public_statements(doc: &Map<String, Value>) -> Vec<String> {
    policy::statements(doc)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter(|(_, s)| is_public_statement(s))
        .map(|(i, s)| match s.get("Sid").and_then(Value::as_str) {
            Some(sid) if !sid.is_empty() => sid.to_owned(),
            _ => format!("#{}", i + 1),
        })
        .collect()
}

/// Whether a policy document (text) is public; an unparsable one is not judged public.
pub fn is_public_text(text: &str) -> bool {
    policy::parse(text).is_ok_and(|doc| !public_statements(&doc).is_empty())
}

//! `tls-only`: the bucket policy denies every request over plain HTTP (and, with
//! `GUARD_MIN_TLS_VERSION`, below that TLS version), on the bucket and its objects.
//!
//! Remediable by merging one statement into the existing policy (see `crate::policy`);
//! an equivalent existing statement counts as compliant.

use super::{Finding, Fix, Outcome};
use crate::policy::{self, Merge, Requirement};
use serde_json::{Map, Value, json};

pub const ID: &str = "tls-only";

/// A summary of a policy for reports: never the full document (it may be large and
/// sensitive), but enough to see what changed. `denies_outdated_tls` (with the
/// `min_tls_version` it was checked against) only when a minimum is configured: without
/// one there is nothing to deny, and `true` would claim a condition the policy lacks.
fn summary(doc: Option<&Map<String, Value>>, req: &Requirement) -> Value {
    let Some(doc) = doc else {
        return Value::Null;
    };
    let statements = policy::statements(doc).unwrap_or_default();
    let sids: Vec<&str> = statements
        .iter()
        .filter_map(|s| s.get("Sid").and_then(Value::as_str))
        .collect();
    let eval = policy::evaluate(Some(doc), req).ok();
    let mut summary = json!({
        "statements": statements.len(),
        "sids": sids,
        "denies_insecure_transport": eval.map(|e| e.denies_insecure_transport),
    });
    if let (Some(min), Value::Object(fields)) = (&req.min_tls, &mut summary) {
        fields.insert("min_tls_version".into(), json!(min));
        fields.insert(
            "denies_outdated_tls".into(),
            json!(eval.map(|e| e.denies_outdated_tls)),
        );
    }
    summary
}

/// `policy_text`: the bucket policy as S3 returned it, `None` when there is none.
pub fn evaluate(policy_text: Option<&str>, req: &Requirement) -> Finding {
    let mut doc = match policy_text.map(policy::parse).transpose() {
        Ok(doc) => doc,
        Err(e) => {
            let before = json!({"error": e.to_string()});
            return Finding::new(ID, Outcome::Failed, format!("{e}; nothing written"), before);
        }
    };
    let before = summary(doc.as_ref(), req);
    if policy::evaluate(doc.as_ref(), req).is_ok_and(|e| e.compliant()) {
        return Finding::new(
            ID,
            Outcome::Compliant,
            "the bucket policy denies insecure transport on the bucket and its objects",
            before,
        );
    }
    // A write must re-put every statement: S3 refuses a deleted principal's unique id.
    let stale = doc
        .as_ref()
        .map(policy::stale_principals)
        .unwrap_or_default();
    let mut dropped = Vec::new();
    if !stale.is_empty() {
        let list = stale
            .iter()
            .map(|p| format!("{} (statement {})", p.id, p.statement))
            .collect::<Vec<_>>()
            .join(", ");
        if !req.drop_stale_principals {
            return Finding::new(
                ID,
                Outcome::Failed,
                format!(
                    "the bucket policy names deleted principals by unique id: {list}; S3 refuses a policy that contains them (MalformedPolicy: Invalid principal in policy), so the merged policy cannot be written: remove them, or set GUARD_DROP_STALE_PRINCIPALS=true; nothing written"
                ),
                before,
            )
            .with_severity(crate::report::Severity::High);
        }
        if let Some(doc) = doc.as_mut() {
            let (removed, whole) = policy::drop_stale_principals(doc);
            dropped = removed
                .iter()
                .map(|p| format!("{} (statement {})", p.id, p.statement))
                .collect();
            dropped.extend(
                whole
                    .iter()
                    .map(|sid| format!("statement {sid} (it named deleted principals only)")),
            );
        }
    }
    match policy::merge_parsed(doc, req) {
        Ok(Merge::Unchanged) => Finding::new(
            ID,
            Outcome::Compliant,
            "the bucket policy denies insecure transport on the bucket and its objects",
            before,
        ),
        Ok(Merge::Updated { document, added }) => {
            let mut detail = match policy_text {
                None => format!("no bucket policy: create one with {}", added.join(", ")),
                Some(_) => format!(
                    "merge {} into the bucket policy, keeping its other statements",
                    added.join(", ")
                ),
            };
            if !dropped.is_empty() {
                detail.push_str(&format!(
                    "; removing deleted principals (GUARD_DROP_STALE_PRINCIPALS=true): {}",
                    dropped.join(", ")
                ));
            }
            Finding::new(
                ID,
                Outcome::Fix(Fix::Policy {
                    document,
                    added,
                    dropped,
                }),
                detail,
                before,
            )
        }
        Err(e) => Finding::new(ID, Outcome::Failed, format!("{e}; nothing written"), before)
            .with_severity(crate::report::Severity::High),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        let req = Requirement::new("b", "aws", None);
        assert!(matches!(evaluate(None, &req).outcome, Outcome::Fix(_)));
        let Outcome::Fix(Fix::Policy { document, .. }) = evaluate(None, &req).outcome else {
            panic!("expected a policy fix")
        };
        assert_eq!(evaluate(Some(&document), &req).outcome, Outcome::Compliant);
        let failed = evaluate(Some("not json"), &req);
        assert_eq!(failed.outcome, Outcome::Failed);
        assert!(failed.detail.contains("nothing written"));
        assert_eq!(evaluate(Some(&document), &req).before["statements"], 1);
    }

    #[test]
    fn outdated_tls_is_reported_only_against_a_configured_minimum() {
        let plain = Requirement::new("b", "aws", None);
        let Outcome::Fix(Fix::Policy { document, .. }) = evaluate(None, &plain).outcome else {
            panic!("expected a policy fix")
        };
        let before = evaluate(Some(&document), &plain).before;
        assert_eq!(before["denies_insecure_transport"], true);
        assert!(before.get("denies_outdated_tls").is_none(), "{before}");
        assert!(before.get("min_tls_version").is_none(), "{before}");

        let strict = Requirement::new("b", "aws", Some("1.2"));
        let before = evaluate(Some(&document), &strict).before;
        assert_eq!(before["denies_outdated_tls"], false, "{before}");
        assert_eq!(before["min_tls_version"], "1.2");
        let Outcome::Fix(Fix::Policy { document, .. }) = evaluate(None, &strict).outcome else {
            panic!("expected a policy fix")
        };
        assert_eq!(
            evaluate(Some(&document), &strict).before["denies_outdated_tls"],
            true
        );
    }

    #[test]
    fn deleted_principals_are_named_or_dropped_when_asked() {
        let stale = "AROA1234567890EXAMPLE";
        let text = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Gone", "Effect": "Allow", "Principal": {"AWS": stale}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
            {"Sid": "Mixed", "Effect": "Allow", "Principal": {"AWS": [stale, "arn:aws:iam::123456789012:role/r"]}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}
        ]})
        .to_string();
        let req = Requirement::new("b", "aws", None);
        let f = evaluate(Some(&text), &req);
        assert_eq!(f.outcome, Outcome::Failed);
        assert!(
            f.detail.contains("AROA1234567890EXAMPLE (statement Gone)"),
            "{}",
            f.detail
        );
        assert!(f.detail.contains("nothing written"));

        let f = evaluate(Some(&text), &req.clone().dropping_stale_principals(true));
        let Outcome::Fix(Fix::Policy {
            document, dropped, ..
        }) = f.outcome
        else {
            panic!("expected a policy fix: {}", f.detail)
        };
        assert_eq!(
            dropped,
            [
                "AROA1234567890EXAMPLE (statement Gone)",
                "AROA1234567890EXAMPLE (statement Mixed)",
                "statement Gone (it named deleted principals only)"
            ]
        );
        assert!(!document.contains(stale));
        let doc = policy::parse(&document).unwrap();
        let sids: Vec<&str> = policy::statements(&doc)
            .unwrap()
            .iter()
            .filter_map(|s| s.get("Sid").and_then(Value::as_str))
            .collect();
        assert_eq!(sids, ["Mixed", "DenyInsecureTransport"]);
        // A compliant policy is not rewritten (nor failed) for its stale principals.
        let compliant = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Gone", "Effect": "Allow", "Principal": {"AWS": stale}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
        ]})
        .to_string();
        assert_eq!(evaluate(Some(&compliant), &req).outcome, Outcome::Compliant);
    }
}

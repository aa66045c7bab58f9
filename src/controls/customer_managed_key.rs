//! `customer-managed-key`: a project version or stream processor names a customer
//! KMS key (`KmsKeyId`). Without one, Rekognition uses an AWS owned key the customer
//! cannot audit, rotate or revoke.
//!
//! Not remediable: report and alert. Severity follows `GUARD_REQUIRE_CMK`.

use super::{Finding, Outcome};
use crate::report::Severity;
use serde_json::json;

pub const ID: &str = "customer-managed-key";

pub fn evaluate(kms_key_id: Option<&str>, require_cmk: bool) -> Finding {
    match kms_key_id {
        Some(key) => Finding::new(
            ID,
            Outcome::Compliant,
            format!("KmsKeyId {key}"),
            json!({"KmsKeyId": key}),
        ),
        None => Finding::new(
            ID,
            Outcome::NonCompliant,
            "no KmsKeyId: Rekognition encrypts with an AWS owned key you cannot audit or revoke",
            json!({"KmsKeyId": null}),
        )
        .with_severity(if require_cmk {
            Severity::Medium
        } else {
            Severity::Low
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_follows_the_setting() {
        assert_eq!(evaluate(Some("alias/k"), true).outcome, Outcome::Compliant);
        assert_eq!(evaluate(None, true).severity, Some(Severity::Medium));
        assert_eq!(evaluate(None, false).severity, Some(Severity::Low));
        assert_eq!(evaluate(None, false).outcome, Outcome::NonCompliant);
    }
}

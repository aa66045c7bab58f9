//! `kms-key-spec`: a KMS key used for Rekognition data (or for remediation) is
//! `SYMMETRIC_DEFAULT`, `ENCRYPT_DECRYPT` and `Enabled`; automatic rotation is advised.
//!
//! Not remediable: report and alert. Custom Labels supports only symmetric keys.

use super::{Finding, Outcome};
use crate::report::Severity;
use serde_json::{Value, json};

pub const ID: &str = "kms-key-spec";

/// What `DescribeKey` (and `GetKeyRotationStatus`) said about a key, as plain data.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyInfo {
    pub arn: String,
    pub key_id: String,
    pub key_spec: Option<String>,
    /// AWS always returns it; some emulators leave it empty.
    pub key_usage: Option<String>,
    pub key_state: Option<String>,
    pub enabled: bool,
    /// `AWS` or `CUSTOMER`.
    pub key_manager: Option<String>,
    /// `None` when the rotation status could not be read (or does not apply).
    pub rotation_enabled: Option<bool>,
}

impl KeyInfo {
    pub fn is_aws_managed(&self) -> bool {
        self.key_manager.as_deref() == Some("AWS")
    }

    pub fn state(&self) -> Value {
        json!({
            "arn": self.arn,
            "key_spec": self.key_spec,
            "key_usage": self.key_usage,
            "key_state": self.key_state,
            "key_manager": self.key_manager,
            "rotation_enabled": self.rotation_enabled,
        })
    }
}

/// Why a key may not protect Rekognition data, or `Ok` when it may.
pub fn check(key: &KeyInfo) -> Result<(), String> {
    let spec = key.key_spec.as_deref().unwrap_or("unknown");
    if spec != "SYMMETRIC_DEFAULT" {
        return Err(format!(
            "key spec is {spec}, not SYMMETRIC_DEFAULT (Rekognition and S3 support only symmetric keys)"
        ));
    }
    // A SYMMETRIC_DEFAULT key can only be ENCRYPT_DECRYPT, so an empty usage is not a doubt.
    if let Some(usage) = key.key_usage.as_deref().filter(|u| *u != "ENCRYPT_DECRYPT") {
        return Err(format!("key usage is {usage}, not ENCRYPT_DECRYPT"));
    }
    let state = key
        .key_state
        .as_deref()
        .unwrap_or(if key.enabled { "Enabled" } else { "unknown" });
    if state != "Enabled" || !key.enabled {
        return Err(format!("key state is {state}, not Enabled"));
    }
    Ok(())
}

/// `described`: the key, or why it could not be described.
pub fn evaluate(requested: &str, described: &Result<KeyInfo, String>) -> Finding {
    match described {
        Err(reason) => Finding::new(
            ID,
            Outcome::NonCompliant,
            format!("key {requested} cannot be used: {reason}"),
            json!({"requested": requested}),
        ),
        Ok(key) => match check(key) {
            Err(reason) => Finding::new(ID, Outcome::NonCompliant, reason, key.state()),
            Ok(()) if key.rotation_enabled == Some(false) && !key.is_aws_managed() => Finding::new(
                ID,
                Outcome::Compliant,
                "symmetric, ENCRYPT_DECRYPT, Enabled; advice: automatic key rotation is off",
                key.state(),
            )
            .with_severity(Severity::Low),
            Ok(()) => Finding::new(
                ID,
                Outcome::Compliant,
                "symmetric, ENCRYPT_DECRYPT, Enabled",
                key.state(),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn good() -> KeyInfo {
        KeyInfo {
            arn: "arn:aws:kms:us-east-1:123456789012:key/k".into(),
            key_id: "k".into(),
            key_spec: Some("SYMMETRIC_DEFAULT".into()),
            key_usage: Some("ENCRYPT_DECRYPT".into()),
            key_state: Some("Enabled".into()),
            enabled: true,
            key_manager: Some("CUSTOMER".into()),
            rotation_enabled: Some(true),
        }
    }

    #[test]
    fn table() {
        let cases: Vec<(KeyInfo, Outcome, Option<Severity>, &str)> = vec![
            (good(), Outcome::Compliant, None, "Enabled"),
            (
                KeyInfo {
                    key_usage: None,
                    ..good()
                },
                Outcome::Compliant,
                None,
                "Enabled",
            ),
            (
                KeyInfo {
                    rotation_enabled: Some(false),
                    ..good()
                },
                Outcome::Compliant,
                Some(Severity::Low),
                "rotation is off",
            ),
            (
                KeyInfo {
                    key_spec: Some("RSA_2048".into()),
                    ..good()
                },
                Outcome::NonCompliant,
                None,
                "RSA_2048",
            ),
            (
                KeyInfo {
                    key_usage: Some("SIGN_VERIFY".into()),
                    ..good()
                },
                Outcome::NonCompliant,
                None,
                "SIGN_VERIFY",
            ),
            (
                KeyInfo {
                    key_state: Some("Disabled".into()),
                    enabled: false,
                    ..good()
                },
                Outcome::NonCompliant,
                None,
                "Disabled",
            ),
            (
                KeyInfo {
                    key_state: Some("PendingDeletion".into()),
                    enabled: false,
                    ..good()
                },
                Outcome::NonCompliant,
                None,
                "PendingDeletion",
            ),
        ];
        for (key, outcome, severity, needle) in cases {
            let f = evaluate("k", &Ok(key.clone()));
            assert_eq!(f.outcome, outcome, "{key:?}");
            assert_eq!(f.severity, severity, "{key:?}");
            assert!(f.detail.contains(needle), "{}", f.detail);
        }
        let missing = evaluate(
            "alias/nope",
            &Err("NotFoundException: alias not found".into()),
        );
        assert_eq!(missing.outcome, Outcome::NonCompliant);
        assert!(missing.detail.contains("alias/nope"));
    }
}

//! `sse-kms`: default bucket encryption is `aws:kms` (or `aws:kms:dsse`), with the
//! configured key when one is set, and S3 Bucket Keys on (`aws:kms` only: DSSE-KMS does
//! not support them).
//!
//! Remediable. SSE-S3 and the AWS managed `aws/s3` key are upgraded to the configured
//! key; an existing configuration with another *customer* key is kept, never replaced.
//! That key meets the control when it passes `kms-key-spec` (`GUARD_KMS_KEY_POLICY=
//! customer-managed`, the default) and is reported when only the configured key may
//! (`configured-only`). A bucket whose key is disabled, pending deletion or cannot be
//! described is non-compliant, high: uploads to it fail.

use super::kms_key_spec::{self, KeyInfo};
use super::{EncryptionFix, Finding, Fix, Outcome};
use crate::config::KeyPolicy;
use crate::report::Severity;
use serde_json::{Value, json};

pub const ID: &str = "sse-kms";
pub const KMS: &str = "aws:kms";
pub const DSSE: &str = "aws:kms:dsse";

/// A bucket's default encryption rule, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encryption {
    pub algorithm: String,
    pub kms_key_id: Option<String>,
    pub bucket_key_enabled: bool,
    /// `BlockedEncryptionTypes` (`SSE-C`, or `NONE`): what S3 refuses in uploads.
    pub blocked_encryption_types: Vec<String>,
}

impl Encryption {
    /// Whether uploads may still use SSE-C (S3 blocks it by default on buckets created
    /// since April 2026; older buckets allow it until told otherwise).
    pub fn allows_sse_c(&self) -> bool {
        !self.blocked_encryption_types.iter().any(|t| t == SSE_C)
    }
}

pub const SSE_C: &str = "SSE-C";

/// The key remediation should use.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyTarget {
    /// No key configured: the AWS managed `aws/s3` key (any KMS key is compliant).
    AwsManaged,
    /// A configured customer key that passed `kms-key-spec`.
    Customer(KeyInfo),
    /// A configured key that cannot be used; never written.
    Unusable { requested: String, reason: String },
}

pub fn state(enc: Option<&Encryption>) -> Value {
    match enc {
        None => Value::Null,
        Some(e) => json!({
            "SSEAlgorithm": e.algorithm,
            "KMSMasterKeyID": e.kms_key_id,
            "BucketKeyEnabled": e.bucket_key_enabled,
            "BlockedEncryptionTypes": e.blocked_encryption_types,
        }),
    }
}

/// Whether `key_id` as S3 stores it names the AWS managed `aws/s3` key by alias.
fn is_aws_s3_alias(key_id: &str) -> bool {
    key_id == "alias/aws/s3" || key_id.ends_with(":alias/aws/s3")
}

/// The existing key identifier names `target` without asking KMS.
pub fn names_key(existing: &str, target: &KeyInfo) -> bool {
    existing == target.arn || existing == target.key_id
}

/// Whether evaluating `current` against `target` needs `DescribeKey` on the existing key
/// (to tell the `aws/s3` key from another customer key, and whether that key works).
pub fn needs_existing_key(current: Option<&Encryption>, target: &KeyTarget) -> Option<String> {
    let enc = current?;
    let existing = enc.kms_key_id.as_deref()?;
    let kms = enc.algorithm == KMS || enc.algorithm == DSSE;
    let is_target = match target {
        KeyTarget::Customer(target) => names_key(existing, target),
        KeyTarget::AwsManaged => false,
        KeyTarget::Unusable { .. } => return None,
    };
    (kms && !is_target && !is_aws_s3_alias(existing)).then(|| existing.to_owned())
}

/// Why uploads to a bucket encrypted with this (customer) key fail, if they do.
fn broken_key(existing: &str, described: &Result<KeyInfo, String>) -> Option<String> {
    match described {
        Err(reason) => Some(format!(
            "KMS cannot describe the bucket's key {existing} ({reason})"
        )),
        Ok(info) if info.is_aws_managed() => None,
        Ok(info) => kms_key_spec::check(info)
            .err()
            .map(|reason| format!("the bucket's key {}: {reason}", info.arn)),
    }
}

/// `existing_key`: `DescribeKey` of the bucket's current key in the bucket's Region, when
/// [`needs_existing_key`] asked for it (`Err` with why it could not be described).
/// A bucket that still allows SSE-C uploads says so (the guard never re-allows it).
pub fn evaluate(
    current: Option<&Encryption>,
    target: &KeyTarget,
    existing_key: Option<&Result<KeyInfo, String>>,
    policy: KeyPolicy,
) -> Finding {
    let mut finding = evaluate_key(current, target, existing_key, policy);
    if current.is_some_and(Encryption::allows_sse_c) && finding.outcome != Outcome::Failed {
        finding.detail.push_str(
            "; the bucket allows SSE-C uploads (BlockedEncryptionTypes does not list SSE-C)",
        );
    }
    finding
}

fn evaluate_key(
    current: Option<&Encryption>,
    target: &KeyTarget,
    existing_key: Option<&Result<KeyInfo, String>>,
    policy: KeyPolicy,
) -> Finding {
    let before = state(current);
    if let KeyTarget::Unusable { requested, reason } = target {
        return Finding::new(
            ID,
            Outcome::Failed,
            format!(
                "GUARD_KMS_KEY_ID {requested} cannot be used ({reason}); refusing to write bucket encryption"
            ),
            before,
        );
    }
    let target_arn = match target {
        KeyTarget::Customer(k) => Some(k.arn.clone()),
        _ => None,
    };
    // Every write carries the blocked encryption types it read: SSE-C stays blocked.
    let blocked = current
        .map(|e| e.blocked_encryption_types.clone())
        .unwrap_or_default();
    let fix =
        |algorithm: &str, key: Option<String>, new_key: bool, detail: String, before: Value| {
            Finding::new(
                ID,
                Outcome::Fix(Fix::Encryption(EncryptionFix {
                    algorithm: algorithm.to_owned(),
                    kms_key_id: key,
                    bucket_key_enabled: algorithm == KMS,
                    new_key,
                    blocked_encryption_types: blocked.clone(),
                })),
                detail,
                before,
            )
        };
    let key_name = |k: &Option<String>| {
        k.clone()
            .unwrap_or_else(|| "the AWS managed aws/s3 key".to_owned())
    };

    let Some(enc) = current.filter(|e| e.algorithm == KMS || e.algorithm == DSSE) else {
        let from = current.map_or("no default encryption".to_owned(), |e| {
            format!("{} (SSE-S3)", e.algorithm)
        });
        return fix(
            KMS,
            target_arn.clone(),
            true,
            format!("{from}: set SSE-KMS with {}", key_name(&target_arn)),
            before,
        );
    };
    let bucket_key_ok = enc.algorithm == DSSE || enc.bucket_key_enabled;
    let described = existing_key.and_then(|r| r.as_ref().ok());
    let uses_aws_managed = match (&enc.kms_key_id, existing_key) {
        (None, _) => true,
        (Some(id), _) if is_aws_s3_alias(id) => true,
        (Some(_), Some(Ok(info))) => info.is_aws_managed(),
        (Some(_), _) => false,
    };
    let is_target = |key: &KeyInfo| {
        enc.kms_key_id
            .as_deref()
            .is_some_and(|id| names_key(id, key))
            || described.is_some_and(|info| info.arn == key.arn)
    };
    // Another customer key that does not work: every upload to the bucket fails.
    if let (Some(existing), Some(result)) = (enc.kms_key_id.as_deref(), existing_key)
        && !uses_aws_managed
        && !matches!(target, KeyTarget::Customer(key) if is_target(key))
        && let Some(why) = broken_key(existing, result)
    {
        return Finding::new(
            ID,
            Outcome::NonCompliant,
            format!(
                "{} with a key that does not work: {why}; uploads to the bucket fail (kept: a customer key is never replaced)",
                enc.algorithm
            ),
            before,
        )
        .with_severity(Severity::High);
    }
    match target {
        KeyTarget::Customer(key) => {
            let same = is_target(key);
            if same && bucket_key_ok {
                Finding::new(
                    ID,
                    Outcome::Compliant,
                    format!("{} with {}", enc.algorithm, key.arn),
                    before,
                )
            } else if same {
                fix(
                    KMS,
                    Some(key.arn.clone()),
                    false,
                    format!("{} with {}: turn S3 Bucket Keys on", enc.algorithm, key.arn),
                    before,
                )
            } else if uses_aws_managed {
                fix(
                    &enc.algorithm,
                    Some(key.arn.clone()),
                    true,
                    format!(
                        "{} with the AWS managed aws/s3 key: upgrade to {}",
                        enc.algorithm, key.arn
                    ),
                    before,
                )
            } else {
                let existing = described.map_or_else(
                    || enc.kms_key_id.clone().unwrap_or_default(),
                    |info| info.arn.clone(),
                );
                match (policy, described) {
                    (KeyPolicy::CustomerManaged, Some(_)) if bucket_key_ok => Finding::new(
                        ID,
                        Outcome::Compliant,
                        format!(
                            "{} with another customer managed key {existing} (symmetric, enabled): kept",
                            enc.algorithm
                        ),
                        before,
                    ),
                    // Written as the key's full ARN (S3 and cross-account callers need it).
                    (KeyPolicy::CustomerManaged, Some(info)) => fix(
                        KMS,
                        Some(info.arn.clone()),
                        false,
                        format!(
                            "{} with another customer managed key {existing}: turn S3 Bucket Keys on",
                            enc.algorithm
                        ),
                        before,
                    ),
                    _ => Finding::new(
                        ID,
                        Outcome::NonCompliant,
                        format!(
                            "{} with another customer managed key {existing}, not {} (GUARD_KMS_KEY_POLICY=configured-only): kept (a customer key is never replaced)",
                            enc.algorithm, key.arn
                        ),
                        before,
                    )
                    .with_severity(Severity::Low),
                }
            }
        }
        _ if bucket_key_ok => Finding::new(
            ID,
            Outcome::Compliant,
            format!("{} with {}", enc.algorithm, key_name(&enc.kms_key_id)),
            before,
        ),
        _ => fix(
            KMS,
            enc.kms_key_id.clone(),
            false,
            format!(
                "{} with {}: turn S3 Bucket Keys on",
                enc.algorithm,
                key_name(&enc.kms_key_id)
            ),
            before,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(arn: &str, manager: &str) -> KeyInfo {
        KeyInfo {
            arn: arn.into(),
            key_id: arn.rsplit('/').next().unwrap().into(),
            key_spec: Some("SYMMETRIC_DEFAULT".into()),
            key_usage: Some("ENCRYPT_DECRYPT".into()),
            key_state: Some("Enabled".into()),
            enabled: true,
            key_manager: Some(manager.into()),
            rotation_enabled: Some(true),
        }
    }

    const MINE: &str = "arn:aws:kms:us-east-1:123456789012:key/mine";
    const OTHER: &str = "arn:aws:kms:us-east-1:123456789012:key/other";
    const AWS_S3: &str = "arn:aws:kms:us-east-1:123456789012:key/awss3";

    fn enc(alg: &str, key: Option<&str>, bk: bool) -> Encryption {
        Encryption {
            algorithm: alg.into(),
            kms_key_id: key.map(Into::into),
            bucket_key_enabled: bk,
            blocked_encryption_types: vec![SSE_C.into()],
        }
    }

    /// The fix's target state (what `new_key` and the carried blocked types say is
    /// tested on its own, below).
    fn fix_of(f: &Finding) -> Option<EncryptionFix> {
        match &f.outcome {
            Outcome::Fix(Fix::Encryption(e)) => Some(EncryptionFix {
                new_key: false,
                blocked_encryption_types: Vec::new(),
                ..e.clone()
            }),
            _ => None,
        }
    }

    fn full_fix(f: &Finding) -> EncryptionFix {
        match &f.outcome {
            Outcome::Fix(Fix::Encryption(e)) => e.clone(),
            other => panic!("expected an encryption fix, got {other:?}"),
        }
    }

    #[test]
    fn fixes_say_whether_the_key_changes_and_carry_the_blocked_types() {
        let mine = KeyTarget::Customer(key(MINE, "CUSTOMER"));
        let cases: Vec<(Encryption, &KeyTarget, Option<KeyInfo>, bool)> = vec![
            (enc("AES256", None, false), &mine, None, true),
            (enc(KMS, Some("alias/aws/s3"), true), &mine, None, true),
            (enc(KMS, Some(MINE), false), &mine, None, false),
            (
                enc("AES256", None, false),
                &KeyTarget::AwsManaged,
                None,
                true,
            ),
            (enc(KMS, None, false), &KeyTarget::AwsManaged, None, false),
            (
                enc(KMS, Some("other"), false),
                &mine,
                Some(key(OTHER, "CUSTOMER")),
                false,
            ),
        ];
        for (current, target, existing, new_key) in cases {
            let existing = existing.map(Ok);
            let f = evaluate(
                Some(&current),
                target,
                existing.as_ref(),
                KeyPolicy::CustomerManaged,
            );
            let fix = full_fix(&f);
            assert_eq!(fix.new_key, new_key, "{current:?}");
            assert_eq!(fix.blocked_encryption_types, vec![SSE_C.to_owned()]);
        }
    }

    #[test]
    fn a_teams_key_is_kept_and_written_as_its_full_arn() {
        let f = evaluate(
            Some(&enc(KMS, Some("other"), false)),
            &KeyTarget::Customer(key(MINE, "CUSTOMER")),
            Some(&Ok(key(OTHER, "CUSTOMER"))),
            KeyPolicy::CustomerManaged,
        );
        assert_eq!(full_fix(&f).kms_key_id.as_deref(), Some(OTHER));
    }

    #[test]
    fn a_bucket_that_allows_sse_c_says_so() {
        let mut allows = enc(KMS, None, true);
        allows.blocked_encryption_types.clear();
        let f = evaluate(
            Some(&allows),
            &KeyTarget::AwsManaged,
            None,
            KeyPolicy::CustomerManaged,
        );
        assert_eq!(f.outcome, Outcome::Compliant);
        assert!(f.detail.contains("allows SSE-C"), "{}", f.detail);
        let f = evaluate(
            Some(&enc(KMS, None, true)),
            &KeyTarget::AwsManaged,
            None,
            KeyPolicy::CustomerManaged,
        );
        assert!(!f.detail.contains("SSE-C"), "{}", f.detail);
    }

    #[test]
    fn with_a_configured_key() {
        let target = KeyTarget::Customer(key(MINE, "CUSTOMER"));
        let up = |alg: &str, bk| {
            Want::Fix(EncryptionFix {
                algorithm: alg.into(),
                kms_key_id: Some(MINE.into()),
                bucket_key_enabled: bk,
                new_key: false,
                blocked_encryption_types: Vec::new(),
            })
        };
        let cases: Vec<(Option<Encryption>, Option<KeyInfo>, Want)> = vec![
            (None, None, up(KMS, true)),
            (Some(enc("AES256", None, false)), None, up(KMS, true)),
            (Some(enc(KMS, None, true)), None, up(KMS, true)),
            (
                Some(enc(KMS, Some("alias/aws/s3"), true)),
                None,
                up(KMS, true),
            ),
            (
                Some(enc(KMS, Some(AWS_S3), true)),
                Some(key(AWS_S3, "AWS")),
                up(KMS, true),
            ),
            (Some(enc(DSSE, None, false)), None, up(DSSE, false)),
            (
                Some(enc(KMS, Some(MINE), true)),
                None,
                Want::Is(Outcome::Compliant),
            ),
            (
                Some(enc(KMS, Some("mine"), true)),
                None,
                Want::Is(Outcome::Compliant),
            ),
            (
                Some(enc(DSSE, Some(MINE), false)),
                None,
                Want::Is(Outcome::Compliant),
            ),
            (Some(enc(KMS, Some(MINE), false)), None, up(KMS, true)),
            (
                Some(enc(KMS, Some(OTHER), true)),
                Some(key(OTHER, "CUSTOMER")),
                Want::Is(Outcome::NonCompliant),
            ),
            (
                Some(enc(DSSE, Some(OTHER), false)),
                None,
                Want::Is(Outcome::NonCompliant),
            ),
            (
                Some(enc(KMS, Some("alias/mine"), true)),
                Some(key(MINE, "CUSTOMER")),
                Want::Is(Outcome::Compliant),
            ),
        ];
        for (current, existing, want) in cases {
            let existing = existing.map(Ok);
            let f = evaluate(
                current.as_ref(),
                &target,
                existing.as_ref(),
                KeyPolicy::ConfiguredOnly,
            );
            match want {
                Want::Fix(fix) => assert_eq!(fix_of(&f), Some(fix), "{current:?}: {}", f.detail),
                Want::Is(outcome) => assert_eq!(f.outcome, outcome, "{current:?}: {}", f.detail),
            }
        }
    }

    enum Want {
        Fix(EncryptionFix),
        Is(Outcome),
    }

    #[test]
    fn another_customer_key_is_kept_and_reported() {
        let f = evaluate(
            Some(&enc(KMS, Some(OTHER), true)),
            &KeyTarget::Customer(key(MINE, "CUSTOMER")),
            Some(&Ok(key(OTHER, "CUSTOMER"))),
            KeyPolicy::ConfiguredOnly,
        );
        assert_eq!(f.outcome, Outcome::NonCompliant);
        assert!(f.detail.contains("kept") && f.detail.contains(OTHER));
    }

    #[test]
    fn without_a_configured_key_any_kms_key_complies() {
        let t = KeyTarget::AwsManaged;
        assert_eq!(
            evaluate(
                Some(&enc(KMS, Some(OTHER), true)),
                &t,
                None,
                KeyPolicy::CustomerManaged
            )
            .outcome,
            Outcome::Compliant
        );
        assert_eq!(
            evaluate(
                Some(&enc(KMS, None, true)),
                &t,
                None,
                KeyPolicy::CustomerManaged
            )
            .outcome,
            Outcome::Compliant
        );
        let f = evaluate(None, &t, None, KeyPolicy::CustomerManaged);
        assert_eq!(
            fix_of(&f),
            Some(EncryptionFix {
                algorithm: KMS.into(),
                kms_key_id: None,
                bucket_key_enabled: true,
                new_key: false,
                blocked_encryption_types: Vec::new(),
            })
        );
        let f = evaluate(
            Some(&enc(KMS, Some(OTHER), false)),
            &t,
            None,
            KeyPolicy::CustomerManaged,
        );
        assert_eq!(
            fix_of(&f).unwrap().kms_key_id.as_deref(),
            Some(OTHER),
            "keeps the key, turns bucket keys on"
        );
    }

    #[test]
    fn an_unusable_key_is_never_written() {
        let t = KeyTarget::Unusable {
            requested: "alias/rsa".into(),
            reason: "key spec is RSA_2048".into(),
        };
        let f = evaluate(None, &t, None, KeyPolicy::CustomerManaged);
        assert_eq!(f.outcome, Outcome::Failed);
        assert!(f.detail.contains("refusing"));
    }

    #[test]
    fn describe_only_when_needed() {
        let t = KeyTarget::Customer(key(MINE, "CUSTOMER"));
        assert_eq!(
            needs_existing_key(Some(&enc(KMS, Some(OTHER), true)), &t).as_deref(),
            Some(OTHER)
        );
        assert_eq!(
            needs_existing_key(Some(&enc(KMS, Some(MINE), true)), &t),
            None
        );
        assert_eq!(needs_existing_key(Some(&enc(KMS, None, true)), &t), None);
        assert_eq!(
            needs_existing_key(Some(&enc("AES256", None, false)), &t),
            None
        );
        assert_eq!(
            needs_existing_key(Some(&enc(KMS, Some(OTHER), true)), &KeyTarget::AwsManaged)
                .as_deref(),
            Some(OTHER),
            "a key the bucket names is described to tell whether uploads work"
        );
        assert_eq!(
            needs_existing_key(
                Some(&enc(KMS, Some("alias/aws/s3"), true)),
                &KeyTarget::AwsManaged
            ),
            None
        );
    }

    #[test]
    fn another_teams_valid_key_meets_the_control_by_default() {
        let mine = KeyTarget::Customer(key(MINE, "CUSTOMER"));
        let other = Ok(key(OTHER, "CUSTOMER"));
        let f = evaluate(
            Some(&enc(KMS, Some(OTHER), true)),
            &mine,
            Some(&other),
            KeyPolicy::CustomerManaged,
        );
        assert_eq!(f.outcome, Outcome::Compliant, "{}", f.detail);
        assert!(f.detail.contains(OTHER) && f.detail.contains("kept"));
        let f = evaluate(
            Some(&enc(KMS, Some(OTHER), false)),
            &mine,
            Some(&other),
            KeyPolicy::CustomerManaged,
        );
        assert_eq!(
            fix_of(&f).and_then(|e| e.kms_key_id).as_deref(),
            Some(OTHER),
            "bucket keys on, the key kept"
        );
    }

    #[test]
    fn a_key_that_does_not_work_is_high_whatever_the_policy() {
        let mut disabled = key(OTHER, "CUSTOMER");
        disabled.enabled = false;
        disabled.key_state = Some("Disabled".into());
        let mut pending = key(OTHER, "CUSTOMER");
        pending.enabled = false;
        pending.key_state = Some("PendingDeletion".into());
        for policy in [KeyPolicy::CustomerManaged, KeyPolicy::ConfiguredOnly] {
            for target in [
                KeyTarget::Customer(key(MINE, "CUSTOMER")),
                KeyTarget::AwsManaged,
            ] {
                for (described, needle) in [
                    (Ok(disabled.clone()), "Disabled"),
                    (Ok(pending.clone()), "PendingDeletion"),
                    (Err("AccessDeniedException".to_owned()), "cannot describe"),
                ] {
                    let f = evaluate(
                        Some(&enc(KMS, Some(OTHER), true)),
                        &target,
                        Some(&described),
                        policy,
                    );
                    assert_eq!(
                        (f.outcome.clone(), f.severity),
                        (Outcome::NonCompliant, Some(Severity::High)),
                        "{needle}: {}",
                        f.detail
                    );
                    assert!(f.detail.contains(needle) && f.detail.contains("uploads"));
                }
            }
        }
    }
}

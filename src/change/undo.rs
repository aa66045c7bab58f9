//! `undo`: whether a recorded change may be put back, and what to write. Pure; the CLI
//! reads the current state, writes and reads back (`crate::cli::change`).

use super::{ChangeRecord, same_state};
use crate::controls::public_access_block::{self, PublicAccessBlock};
use crate::controls::{EncryptionFix, sse_kms, tls_only};
use serde_json::Value;

/// The write that puts a recorded `before` back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restore {
    PutEncryption(EncryptionFix),
    /// There was no default encryption configuration (S3 then applies SSE-S3 itself).
    DeleteEncryption,
    PutPublicAccessBlock(PublicAccessBlock),
    DeletePublicAccessBlock,
    /// The document exactly as it was read.
    PutPolicy(String),
    DeletePolicy,
}

/// What to write to put `before` of `control` back.
pub fn restore(control: &str, before: &Value) -> Result<Restore, String> {
    let bad = |what: &str| format!("the recorded before state of {control} is not {what}");
    match control {
        sse_kms::ID => match before {
            Value::Null => Ok(Restore::DeleteEncryption),
            Value::Object(m) => Ok(Restore::PutEncryption(EncryptionFix {
                algorithm: m
                    .get("SSEAlgorithm")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("an encryption rule"))?
                    .to_owned(),
                kms_key_id: m
                    .get("KMSMasterKeyID")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                bucket_key_enabled: m
                    .get("BucketKeyEnabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                new_key: false,
                blocked_encryption_types: m
                    .get("BlockedEncryptionTypes")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            })),
            _ => Err(bad("an encryption rule")),
        },
        public_access_block::ID => match before {
            Value::Null => Ok(Restore::DeletePublicAccessBlock),
            Value::Object(m) => {
                let flag = |k: &str| {
                    m.get(k)
                        .and_then(Value::as_bool)
                        .ok_or_else(|| bad("four Block Public Access flags"))
                };
                Ok(Restore::PutPublicAccessBlock(PublicAccessBlock {
                    block_public_acls: flag("BlockPublicAcls")?,
                    ignore_public_acls: flag("IgnorePublicAcls")?,
                    block_public_policy: flag("BlockPublicPolicy")?,
                    restrict_public_buckets: flag("RestrictPublicBuckets")?,
                }))
            }
            _ => Err(bad("four Block Public Access flags")),
        },
        tls_only::ID => match before {
            Value::Null => Ok(Restore::DeletePolicy),
            Value::String(text) => Ok(Restore::PutPolicy(text.clone())),
            _ => Err(bad("a policy document")),
        },
        other => Err(format!("{other} changes cannot be undone")),
    }
}

/// Whether `change` may be undone now: not undone already, and (unless `force`) the
/// resource still in the state the guard wrote.
pub fn check(
    change: &ChangeRecord,
    current: &Value,
    undone_by: Option<&ChangeRecord>,
    force: bool,
) -> Result<(), String> {
    if let Some(undo) = undone_by {
        return Err(format!(
            "already undone by {} at {}{}",
            undo.id,
            undo.time,
            undo.trigger
                .principal
                .as_deref()
                .map(|p| format!(" by {p}"))
                .unwrap_or_default()
        ));
    }
    if !force && !same_state(&change.control, current, &change.after) {
        return Err(format!(
            "{} of {} changed after the guard's write (now {}, written {}); nothing written (--force puts the recorded before state back anyway)",
            change.control,
            change.bucket,
            short(current),
            short(&change.after)
        ));
    }
    Ok(())
}

/// Whether the state read back after an undo is the recorded `before`. A deleted
/// default encryption reads back as S3's own default (SSE-S3) on S3, as none on an emulator.
pub fn restored(control: &str, before: &Value, read_back: &Value) -> bool {
    if control == sse_kms::ID && before.is_null() {
        return read_back.is_null()
            || (read_back["SSEAlgorithm"] == "AES256" && read_back["KMSMasterKeyID"].is_null());
    }
    same_state(control, before, read_back)
}

/// What stays as it is after an undo, said with it.
pub fn warnings(change: &ChangeRecord, exempt_tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    if change.control == sse_kms::ID {
        let key = change.after["KMSMasterKeyID"]
            .as_str()
            .unwrap_or("the aws/s3 key");
        out.push(format!(
            "objects written to {} since {} stay encrypted under {key}: undo changes the default, not existing objects (KMS keys are never touched)",
            change.bucket, change.time
        ));
    }
    out.push(format!(
        "the next sweep or event fixes {} again unless it is exempt: add the tag {exempt_tag}=true to {} (put-bucket-tagging replaces the whole tag set: include its existing tags)",
        change.control, change.bucket
    ));
    out
}

fn short(state: &Value) -> String {
    let text = match state {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > 160 {
        format!("{}…", text.chars().take(160).collect::<String>())
    } else {
        text
    }
}

/// The change `id` undoes nothing yet: the undo that put it back, if any.
pub fn undone_by<'a>(id: &str, records: &'a [ChangeRecord]) -> Option<&'a ChangeRecord> {
    records.iter().find(|r| r.undoes.as_deref() == Some(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Trigger;
    use serde_json::json;

    fn change(control: &str, before: Value, after: Value) -> ChangeRecord {
        ChangeRecord {
            id: "chg-1".into(),
            time: "2026-12-06T10:00:00Z".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            bucket: "b".into(),
            control: control.into(),
            action: "remediate".into(),
            status: "remediated".into(),
            before,
            after,
            trigger: Trigger::default(),
            written_by: None,
            undoes: None,
        }
    }

    #[test]
    fn each_before_state_has_its_write() {
        assert_eq!(
            restore("sse-kms", &Value::Null),
            Ok(Restore::DeleteEncryption)
        );
        let Ok(Restore::PutEncryption(fix)) = restore(
            "sse-kms",
            &json!({"SSEAlgorithm": "AES256", "KMSMasterKeyID": null, "BucketKeyEnabled": false, "BlockedEncryptionTypes": ["SSE-C"]}),
        ) else {
            panic!("a rule is put back");
        };
        assert_eq!(fix.algorithm, "AES256");
        assert_eq!(fix.blocked_encryption_types, vec!["SSE-C".to_owned()]);
        assert_eq!(
            restore(
                "public-access-block",
                &json!({"BlockPublicAcls": true, "IgnorePublicAcls": false, "BlockPublicPolicy": false, "RestrictPublicBuckets": true})
            ),
            Ok(Restore::PutPublicAccessBlock(PublicAccessBlock {
                block_public_acls: true,
                ignore_public_acls: false,
                block_public_policy: false,
                restrict_public_buckets: true
            }))
        );
        assert_eq!(
            restore("tls-only", &json!("{\"Version\":\"2012-10-17\"}")),
            Ok(Restore::PutPolicy("{\"Version\":\"2012-10-17\"}".into()))
        );
        assert_eq!(restore("tls-only", &Value::Null), Ok(Restore::DeletePolicy));
        assert!(restore("public-access-block", &json!({"BlockPublicAcls": true})).is_err());
        assert!(restore("ai-opt-out", &Value::Null).is_err());
    }

    #[test]
    fn a_changed_resource_is_refused_unless_forced() {
        let c = change(
            "public-access-block",
            Value::Null,
            json!({"BlockPublicAcls": true}),
        );
        assert!(check(&c, &json!({"BlockPublicAcls": true}), None, false).is_ok());
        let refused = check(&c, &json!({"BlockPublicAcls": false}), None, false).unwrap_err();
        assert!(
            refused.contains("changed after the guard's write"),
            "{refused}"
        );
        assert!(check(&c, &json!({"BlockPublicAcls": false}), None, true).is_ok());
    }

    #[test]
    fn a_second_undo_is_refused_even_forced() {
        let c = change("tls-only", Value::Null, json!("{}"));
        let mut undo = change("tls-only", json!("{}"), Value::Null);
        undo.id = "chg-2".into();
        undo.undoes = Some("chg-1".into());
        let all = vec![c.clone(), undo];
        let by = undone_by("chg-1", &all);
        let refused = check(&c, &json!("{}"), by, true).unwrap_err();
        assert!(refused.starts_with("already undone by chg-2"), "{refused}");
    }

    #[test]
    fn deleted_encryption_reads_back_as_none_or_sse_s3() {
        assert!(restored("sse-kms", &Value::Null, &Value::Null));
        assert!(restored(
            "sse-kms",
            &Value::Null,
            &json!({"SSEAlgorithm": "AES256", "KMSMasterKeyID": null})
        ));
        assert!(!restored(
            "sse-kms",
            &Value::Null,
            &json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": null})
        ));
    }

    #[test]
    fn an_encryption_undo_warns_about_objects_written_since() {
        let c = change(
            "sse-kms",
            Value::Null,
            json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:us-east-1:1:key/k"}),
        );
        let w = warnings(&c, "rekognition-guard:exempt");
        assert!(w[0].contains("stay encrypted under arn:aws:kms:us-east-1:1:key/k"));
        assert!(w[1].contains("rekognition-guard:exempt=true"));
    }
}

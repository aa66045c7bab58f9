//! The change record, and what `plan`, `apply`, `history` and `undo` are made of
//! (DESIGN.md, "Rollout, change record, undo").
//!
//! A control's report keeps a short `before`/`after` (a policy is summarised, never
//! printed whole). What a change needs is the *full* state: the encryption rule, the four
//! Block Public Access flags, the whole policy document as S3 returned it. The handler
//! attaches it to each result it wrote (or would write) as [`States`], in process only;
//! [`records`] turns the written ones into [`ChangeRecord`]s, one per control written.
//!
//! Full states, per control (`null`: nothing configured):
//! - `sse-kms`: `{"SSEAlgorithm", "KMSMasterKeyID", "BucketKeyEnabled", "BlockedEncryptionTypes"}`;
//! - `public-access-block`: the four flags;
//! - `tls-only`: the policy document, a string exactly as read.

pub mod html;
pub mod plan;
pub mod store;
pub mod undo;

use crate::controls::{Fix, public_access_block, sse_kms, tls_only};
use crate::report::{Report, Status};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What a result's full states are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatesKind {
    /// Would be written (audit mode, `plan`).
    Proposed,
    /// Would be written, but the dependents hold it.
    Held,
    /// Written: `after` is what was read back.
    Written,
}

/// The full states behind a result (never serialized with the report).
#[derive(Debug, Clone, PartialEq)]
pub struct States {
    pub kind: StatesKind,
    pub before: Value,
    pub after: Value,
}

/// The full state a fix puts, in the shape its control reads.
pub fn desired(fix: &Fix) -> Value {
    match fix {
        Fix::Encryption(enc) => sse_kms::state(Some(&sse_kms::Encryption {
            algorithm: enc.algorithm.clone(),
            kms_key_id: enc.kms_key_id.clone(),
            bucket_key_enabled: enc.bucket_key_enabled,
            blocked_encryption_types: enc.blocked_encryption_types.clone(),
        })),
        Fix::PublicAccessBlock => {
            public_access_block::state(Some(&public_access_block::PublicAccessBlock::ALL))
        }
        Fix::Policy { document, .. } => Value::String(document.clone()),
    }
}

/// Whether two full states of `control` are the same configuration: policies compare as
/// parsed JSON (S3 may re-serialise a document it stores), the rest as read.
pub fn same_state(control: &str, a: &Value, b: &Value) -> bool {
    if control == tls_only::ID
        && let (Some(a), Some(b)) = (a.as_str(), b.as_str())
    {
        return match (
            serde_json::from_str::<Value>(a),
            serde_json::from_str::<Value>(b),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
    }
    a == b
}

/// Who and what caused a change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Trigger {
    /// `event`, `drift`, `scheduled-scan`, `manual-scan`, `apply`, `undo`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    /// The principal whose call triggered it (`userIdentity` of the event, the CLI's
    /// caller for a manual run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The plan applied (`apply`), the change undone (`undo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// One write, as the change record keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// `chg-<UTC time>-<hash>`: sorts by time, unique per write.
    pub id: String,
    /// RFC 3339, UTC.
    pub time: String,
    pub account: String,
    pub region: String,
    pub bucket: String,
    pub control: String,
    /// `remediate` (event, sweep, drift, apply) or `undo`.
    pub action: String,
    /// `remediated` (`restored` for an undo) when the write was verified by reading
    /// back, else `failed`.
    pub status: String,
    pub before: Value,
    pub after: Value,
    pub trigger: Trigger,
    /// The principal that wrote (this function's role, the member role, the CLI caller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_by: Option<String>,
    /// `undo`: the change it put back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undoes: Option<String>,
}

impl ChangeRecord {
    /// A record id: the time, then a hash of what makes the write unique.
    pub fn new_id(time_millis: i64, parts: &[&str]) -> String {
        let mut hash = Sha256::new();
        hash.update(time_millis.to_le_bytes());
        for p in parts {
            hash.update(p.as_bytes());
            hash.update([0]);
        }
        let digest = hash.finalize();
        let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
        let stamp: String = timestamp(time_millis)
            .chars()
            .filter(|c| c.is_ascii_digit())
            .take(17)
            .collect();
        format!("chg-{stamp}-{hex}")
    }
}

/// RFC 3339 with milliseconds, UTC.
pub fn timestamp(epoch_millis: i64) -> String {
    crate::aws::securityhub::timestamp(epoch_millis)
}

/// Milliseconds since the epoch of an RFC 3339 time, or of a date (`2026-12-06`, midnight UTC).
pub fn parse_time(text: &str) -> Option<i64> {
    crate::aws::securityhub::parse_timestamp(text).or_else(|| {
        (text.len() == 10)
            .then(|| crate::aws::securityhub::parse_timestamp(&format!("{text}T00:00:00Z")))
            .flatten()
    })
}

/// The trigger kind of a report, as a record says it.
fn trigger_of(report: &Report, principal: Option<&str>) -> Trigger {
    let t = &report.trigger;
    Trigger {
        kind: t.kind.as_str().to_owned(),
        event_id: t.event_id.clone(),
        event_name: t.event_name.clone(),
        principal: t
            .principal
            .clone()
            .or_else(|| t.change.as_ref().map(|c| c.by.clone()))
            .or_else(|| principal.map(str::to_owned)),
        reference: t.reference.clone(),
    }
}

/// The records of every write a report says was made: each result carrying written
/// [`States`] (remediated, or written and not verified). `caller`: who ran the CLI or
/// the function (the trigger's principal when the event names none); `written_by`:
/// the principal that wrote.
pub fn records(
    report: &Report,
    caller: Option<&str>,
    written_by: Option<&str>,
    now_millis: i64,
) -> Vec<ChangeRecord> {
    let trigger = trigger_of(report, caller);
    let time = timestamp(now_millis);
    report
        .results()
        .filter_map(|(resource, result)| {
            let states = result.states.as_deref()?;
            if states.kind != StatesKind::Written {
                return None;
            }
            let account = resource.account.clone().unwrap_or_default();
            let region = resource.region.clone().unwrap_or_default();
            let id = ChangeRecord::new_id(
                now_millis,
                &[
                    &account,
                    &region,
                    &resource.id,
                    &result.control,
                    trigger.event_id.as_deref().unwrap_or(""),
                ],
            );
            Some(ChangeRecord {
                id,
                time: time.clone(),
                account,
                region,
                bucket: resource.id.clone(),
                control: result.control.clone(),
                action: if report.trigger.kind == crate::event::TriggerKind::Undo {
                    "undo".to_owned()
                } else {
                    "remediate".to_owned()
                },
                status: if result.status == Status::Remediated {
                    "remediated".to_owned()
                } else {
                    "failed".to_owned()
                },
                before: states.before.clone(),
                after: states.after.clone(),
                trigger: trigger.clone(),
                written_by: written_by.map(str::to_owned),
                undoes: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_differ_per_write() {
        let a = ChangeRecord::new_id(1_765_000_000_000, &["a", "b"]);
        let b = ChangeRecord::new_id(1_765_000_000_000, &["a", "c"]);
        let c = ChangeRecord::new_id(1_765_000_001_000, &["a", "b"]);
        assert_ne!(a, b);
        assert!(a < c || b < c);
        assert!(a.starts_with("chg-2025"), "{a}");
    }

    #[test]
    fn policies_compare_as_json() {
        let a = Value::String(r#"{"Version":"2012-10-17","Statement":[]}"#.into());
        let b = Value::String("{ \"Version\": \"2012-10-17\",\n \"Statement\": [] }".into());
        assert!(same_state(tls_only::ID, &a, &b));
        assert!(!same_state(tls_only::ID, &a, &Value::Null));
        assert!(!same_state(sse_kms::ID, &a, &b), "only policies are parsed");
    }

    #[test]
    fn dates_and_times_parse() {
        assert_eq!(parse_time("2026-12-06"), parse_time("2026-12-06T00:00:00Z"));
        assert!(parse_time("yesterday").is_none());
    }
}

//! The report: what every invocation returns, prints and alerts with.
//!
//! Field names are a stable interface (DESIGN.md, "Report"): tools downstream parse them.
//! This module owns the types, the exit code and the table rendering; it makes no AWS calls.

use crate::config::Mode;
use crate::event::TriggerInfo;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt::Write as _;

/// The outcome of one control on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Compliant,
    Remediated,
    WouldRemediate,
    NonCompliant,
    Exempt,
    Failed,
    Skipped,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Compliant,
        Status::Remediated,
        Status::WouldRemediate,
        Status::NonCompliant,
        Status::Exempt,
        Status::Failed,
        Status::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Compliant => "compliant",
            Status::Remediated => "remediated",
            Status::WouldRemediate => "would-remediate",
            Status::NonCompliant => "non-compliant",
            Status::Exempt => "exempt",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }

    /// Whether the security team should hear about it.
    pub fn needs_attention(self) -> bool {
        !matches!(self, Status::Compliant | Status::Skipped)
    }
}

/// Alert severity, ordered so that `max` gives the most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceType {
    S3Bucket,
    KmsKey,
    Organization,
    RekognitionProjectVersion,
    RekognitionStreamProcessor,
    /// A member account as a whole (organization scope: access to it, the gate).
    Account,
    RekognitionDataset,
    RekognitionMediaAnalysisJob,
    RekognitionFaceLivenessSession,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::S3Bucket => "s3-bucket",
            ResourceType::KmsKey => "kms-key",
            ResourceType::Organization => "organization",
            ResourceType::RekognitionProjectVersion => "rekognition-project-version",
            ResourceType::RekognitionStreamProcessor => "rekognition-stream-processor",
            ResourceType::Account => "account",
            ResourceType::RekognitionDataset => "rekognition-dataset",
            ResourceType::RekognitionMediaAnalysisJob => "rekognition-media-analysis-job",
            ResourceType::RekognitionFaceLivenessSession => "rekognition-face-liveness-session",
        }
    }
}

/// One control's result. `before`/`after` are the state read from AWS, never what was sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlResult {
    pub control: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    pub detail: String,
    /// `null` means "read, and nothing is configured"; absent means "not read".
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub before: Option<Value>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub after: Option<Value>,
    /// The published requirements this control corresponds to (`crate::standards`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub standards: Vec<String>,
    /// The layers that enforce this control for the bucket (`public-access-block`,
    /// `tls-only`): `bucket`, `account`, `organization policy p-…`, `RCP p-… on ou-…`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enforced_by: Vec<String>,
    /// `sse-kms` remediated with `GUARD_REENCRYPT=batch`: the S3 Batch Operations job
    /// started for the objects already in the bucket (`rekognition-guard jobs`). Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reencrypt_job: Option<String>,
    /// In process only: the full states written or proposed (`crate::change`), for the
    /// change record and the plan; never in the report.
    #[serde(skip)]
    pub states: Attached,
}

/// What a result carries in process and never reports (`ControlResult::states`). Two
/// results are equal when they report the same: this compares equal to any other.
#[derive(Debug, Clone, Default)]
pub struct Attached(pub Option<Box<crate::change::States>>);

impl PartialEq for Attached {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::ops::Deref for Attached {
    type Target = Option<Box<crate::change::States>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl From<Option<Box<crate::change::States>>> for Attached {
    fn from(states: Option<Box<crate::change::States>>) -> Self {
        Self(states)
    }
}

/// A present field is `Some`, even when it is `null`.
pub(crate) fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl ControlResult {
    pub fn new(control: &str, status: Status, detail: impl Into<String>) -> Self {
        Self {
            control: control.to_owned(),
            status,
            severity: None,
            detail: detail.into(),
            before: None,
            after: None,
            standards: Vec::new(),
            enforced_by: Vec::new(),
            states: Attached::default(),
            reencrypt_job: None,
        }
    }

    pub fn with_states(mut self, states: crate::change::States) -> Self {
        self.states = Attached(Some(Box::new(states)));
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }

    pub fn with_before(mut self, before: Value) -> Self {
        self.before = Some(before);
        self
    }

    pub fn with_after(mut self, after: Value) -> Self {
        self.after = Some(after);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    #[serde(rename = "type")]
    pub kind: ResourceType,
    pub id: String,
    /// When the record names no ARN for the resource itself: its name (a version name,
    /// a dataset type), `id` then being the parent project's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The account the resource lives in (the member account in organization scope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub controls: Vec<ControlResult>,
}

/// Whether the SNS alert went out.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AlertOutcome {
    pub published: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Why nothing was published, or why publishing failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the Security Hub sink did (absent when `GUARD_SECURITY_HUB` is off).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FindingsOutcome {
    /// Findings Security Hub accepted (archived ones included).
    pub imported: usize,
    /// Of those, re-imported with `RecordState` `ARCHIVED` (the resource is gone).
    pub archived: usize,
    /// Findings Security Hub rejected (`FailedFindings`), or that were never sent.
    pub failed: usize,
    /// `BatchImportFindings` calls made.
    pub batches: usize,
    /// Account/Region pairs left out, with the reason (Security Hub not enabled there).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// The first errors (rejections with their codes, failed calls); any fails the invocation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl FindingsOutcome {
    pub fn failed(&self) -> bool {
        !self.errors.is_empty() || self.failed > 0
    }
}

/// Everything one invocation did (DESIGN.md, "Report").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub trigger: TriggerInfo,
    pub mode: Mode,
    pub resources: Vec<Resource>,
    pub alert: AlertOutcome,
    /// Security Hub findings, when that sink is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_hub: Option<FindingsOutcome>,
    /// Work not started because the invocation's deadline was near.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unfinished: Vec<String>,
    /// The change record of this invocation's writes (absent when nothing was written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_record: Option<RecordOutcome>,
}

/// What was kept in the change record (`crate::change`): any error fails the invocation
/// after the fix (the fix stays; the record is never silently lost).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RecordOutcome {
    /// The ids of the records written, one per control written.
    pub recorded: Vec<String>,
    /// Where: `dynamodb:<table>`, a JSONL file, or `log`.
    pub store: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Process exit codes (DESIGN.md, "Interfaces").
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const BAD_INPUT: u8 = 2;
    pub const NON_COMPLIANT: u8 = 3;
}

impl Report {
    pub fn results(&self) -> impl Iterator<Item = (&Resource, &ControlResult)> {
        self.resources
            .iter()
            .flat_map(|r| r.controls.iter().map(move |c| (r, c)))
    }

    /// Count of results per status, in `Status::ALL` order, zeros left out.
    pub fn counts(&self) -> Vec<(Status, usize)> {
        Status::ALL
            .iter()
            .map(|&s| (s, self.results().filter(|(_, c)| c.status == s).count()))
            .filter(|&(_, n)| n > 0)
            .collect()
    }

    /// `1` if a control failed, the alert or the findings import failed, or work was left
    /// unfinished; `3` if
    /// non-compliance remains; `0` otherwise.
    pub fn exit_code(&self) -> u8 {
        let any = |s: Status| self.results().any(|(_, c)| c.status == s);
        let findings_failed = self
            .security_hub
            .as_ref()
            .is_some_and(FindingsOutcome::failed);
        let record_failed = self
            .change_record
            .as_ref()
            .is_some_and(|r| r.error.is_some());
        if any(Status::Failed)
            || self.alert.error.is_some()
            || findings_failed
            || record_failed
            || !self.unfinished.is_empty()
        {
            exit::FAILED
        } else if any(Status::WouldRemediate) || any(Status::NonCompliant) {
            exit::NON_COMPLIANT
        } else {
            exit::OK
        }
    }

    /// The keys this report's SSE-KMS fixes (made or proposed) encrypt with, in order:
    /// `None` for the AWS managed `aws/s3` key (a fix that names no key).
    pub fn fix_keys(&self) -> Vec<Option<String>> {
        let mut keys = Vec::new();
        let fixes = self.results().filter(|(_, c)| {
            c.control == "sse-kms"
                && matches!(c.status, Status::Remediated | Status::WouldRemediate)
        });
        for (_, c) in fixes {
            let state = c.states.as_ref().map(|s| &s.after).or(c.after.as_ref());
            let Some(Value::Object(state)) = state else {
                continue;
            };
            let key = state
                .get("KMSMasterKeyID")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    }

    /// Which key the SSE-KMS fixes use, for the summary line; with the AWS managed key,
    /// how to use one's own (the SAM template configures a customer managed key; the CLI
    /// uses `aws/s3` unless told).
    pub fn key_note(&self) -> Option<String> {
        let keys = self.fix_keys();
        if keys.is_empty() {
            return None;
        }
        let names: Vec<String> = keys
            .iter()
            .map(|k| match k {
                None => "the AWS managed aws/s3 key".to_owned(),
                Some(k) => format!("key {k}"),
            })
            .collect();
        let hint = if keys.contains(&None) {
            ": set GUARD_KMS_KEY_ID for your own"
        } else {
            ""
        };
        Some(format!("SSE-KMS with {}{hint}", names.join(", ")))
    }

    pub fn needs_attention(&self) -> bool {
        self.results().any(|(_, c)| c.status.needs_attention())
            || !self.unfinished.is_empty()
            // A weakening call an organization policy denied: the team hears who tried.
            || self.trigger.kind == crate::event::TriggerKind::ChangePrevented
    }

    /// A table for people at a terminal.
    pub fn to_table(&self) -> String {
        let t = &self.trigger;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "trigger: {} {} in {}/{} (event {}), mode {}",
            t.kind.as_str(),
            t.event_name.as_deref().unwrap_or("-"),
            t.account.as_deref().unwrap_or("-"),
            t.region.as_deref().unwrap_or("-"),
            t.event_id.as_deref().unwrap_or("-"),
            self.mode.as_str(),
        );
        if let Some(reason) = &t.ignored_reason {
            let _ = writeln!(out, "ignored: {reason}");
        }
        let rows: Vec<[String; 4]> = self
            .results()
            .map(|(r, c)| {
                [
                    match &r.name {
                        Some(name) => format!("{} {} ({name})", r.kind.as_str(), r.id),
                        None => format!("{} {}", r.kind.as_str(), r.id),
                    },
                    c.control.clone(),
                    c.status.as_str().to_owned(),
                    c.detail.clone(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            let header = ["RESOURCE", "CONTROL", "STATUS", "DETAIL"].map(str::to_owned);
            let width = |i: usize| {
                rows.iter()
                    .chain(std::iter::once(&header))
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            };
            let (w0, w1, w2) = (width(0), width(1), width(2));
            for row in std::iter::once(&header).chain(rows.iter()) {
                let _ = writeln!(
                    out,
                    "{:w0$}  {:w1$}  {:w2$}  {}",
                    row[0], row[1], row[2], row[3]
                );
            }
        }
        for item in &self.unfinished {
            let _ = writeln!(out, "unfinished: {item}");
        }
        let counts: Vec<String> = self
            .counts()
            .into_iter()
            .map(|(status, n)| format!("{n} {}", status.as_str()))
            .collect();
        if !counts.is_empty() {
            let key = self
                .key_note()
                .map(|note| format!("; {note}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "summary: {} across {} resources{key}",
                counts.join(", "),
                self.resources.len()
            );
        }
        let alert = &self.alert;
        let _ = match (&alert.error, alert.published, &alert.reason) {
            (Some(e), _, _) => writeln!(out, "alert: FAILED: {e}"),
            (None, true, _) => writeln!(
                out,
                "alert: published (message {})",
                alert.message_id.as_deref().unwrap_or("-")
            ),
            (None, false, reason) => writeln!(
                out,
                "alert: not published ({})",
                reason.as_deref().unwrap_or("-")
            ),
        };
        if let Some(r) = &self.change_record {
            let _ = match &r.error {
                Some(e) => writeln!(out, "change record: FAILED ({}): {e}", r.store),
                None => writeln!(
                    out,
                    "change record: {} change(s) in {} ({})",
                    r.recorded.len(),
                    r.store,
                    r.recorded.join(", ")
                ),
            };
        }
        if let Some(f) = &self.security_hub {
            let _ = writeln!(
                out,
                "security hub: {} imported ({} archived), {} failed in {} calls{}{}",
                f.imported,
                f.archived,
                f.failed,
                f.batches,
                f.skipped
                    .iter()
                    .map(|s| format!("; skipped {s}"))
                    .collect::<String>(),
                f.errors
                    .iter()
                    .map(|e| format!("; error: {e}"))
                    .collect::<String>(),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::TriggerKind;

    fn report(statuses: &[Status]) -> Report {
        Report {
            trigger: TriggerInfo::manual(TriggerKind::ManualScan, None),
            mode: Mode::Remediate,
            resources: vec![Resource {
                kind: ResourceType::S3Bucket,
                id: "b".into(),
                name: None,
                role: None,
                region: None,
                account: None,
                controls: statuses
                    .iter()
                    .map(|&s| ControlResult::new("sse-kms", s, "d"))
                    .collect(),
            }],
            alert: AlertOutcome::default(),
            security_hub: None,
            unfinished: Vec::new(),
            change_record: None,
        }
    }

    #[test]
    fn the_summary_line_names_the_key_of_the_encryption_fixes() {
        use serde_json::json;
        let with_after = |after: Value| {
            let mut r = report(&[Status::Remediated]);
            r.resources[0].controls[0].after = Some(after);
            r
        };
        let aws_managed = with_after(json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": null}));
        assert!(
            aws_managed.to_table().contains(
                "summary: 1 remediated across 1 resources; SSE-KMS with the AWS managed aws/s3 key: set GUARD_KMS_KEY_ID for your own"
            ),
            "{}",
            aws_managed.to_table()
        );
        let arn = "arn:aws:kms:us-east-1:123456789012:key/k";
        let own = with_after(json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": arn}));
        assert_eq!(own.key_note(), Some(format!("SSE-KMS with key {arn}")));
        // Nothing encrypted: no key to name.
        assert_eq!(report(&[Status::Compliant]).key_note(), None);
    }

    #[test]
    fn exit_codes() {
        use Status::*;
        assert_eq!(report(&[]).exit_code(), 0);
        assert_eq!(
            report(&[Compliant, Remediated, Exempt, Skipped]).exit_code(),
            0
        );
        assert_eq!(report(&[Compliant, WouldRemediate]).exit_code(), 3);
        assert_eq!(report(&[NonCompliant]).exit_code(), 3);
        assert_eq!(report(&[NonCompliant, Failed]).exit_code(), 1);
        let mut r = report(&[Remediated]);
        r.alert.error = Some("Publish: NotFound".into());
        assert_eq!(r.exit_code(), 1);
        let mut r = report(&[Remediated]);
        r.security_hub = Some(FindingsOutcome {
            skipped: vec!["123456789012/us-east-1: not enabled".into()],
            ..FindingsOutcome::default()
        });
        assert_eq!(
            r.exit_code(),
            0,
            "Security Hub not enabled is not a failure"
        );
        r.security_hub = Some(FindingsOutcome {
            failed: 1,
            ..FindingsOutcome::default()
        });
        assert_eq!(r.exit_code(), 1, "a rejected finding fails the invocation");
    }

    #[test]
    fn the_table_ends_with_a_summary() {
        use Status::*;
        let table = report(&[Remediated, Remediated, Compliant]).to_table();
        assert!(
            table.contains("s3-bucket b  sse-kms  remediated  d"),
            "{table}"
        );
        assert!(
            table.contains("summary: 1 compliant, 2 remediated across 1 resources"),
            "{table}"
        );
        assert!(table.ends_with("alert: not published (-)\n"), "{table}");
    }

    #[test]
    fn json_field_names_are_stable() {
        let v = serde_json::to_value(report(&[Status::WouldRemediate])).unwrap();
        assert_eq!(v["trigger"]["kind"], "manual-scan");
        assert_eq!(v["mode"], "remediate");
        assert_eq!(v["resources"][0]["type"], "s3-bucket");
        assert_eq!(
            v["resources"][0]["controls"][0]["status"],
            "would-remediate"
        );
        assert_eq!(v["alert"]["published"], false);
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back, report(&[Status::WouldRemediate]));
    }
}

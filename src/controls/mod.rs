//! Controls: one file each, a pure `evaluate(facts, …) -> Finding`.
//!
//! A control *proposes* a [`Fix`]; the handler decides whether to apply it (remediate
//! mode) or only report it (audit mode), and `src/aws/s3.rs` applies it. Every fix is a
//! "put the desired state" operation, so a retried event converges to the same state.
//! Controls never call AWS and never read the environment.

pub mod customer_managed_key;
pub mod data_sharing;
pub mod kms_key_spec;
pub mod public_access_block;
pub mod sse_kms;
pub mod tls_only;

use crate::report::{ControlResult, Severity, Status};
use serde_json::Value;

/// What evaluating a control concluded, before any fix is applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Compliant,
    /// Remediable: apply this fix (or report `would-remediate`).
    Fix(Fix),
    /// Not auto-fixable.
    NonCompliant,
    /// Cannot be evaluated or must not be fixed (e.g. an unusable key): `failed`.
    Failed,
}

/// A desired state to put. Each is idempotent.
#[derive(Debug, Clone, PartialEq)]
pub enum Fix {
    Encryption(EncryptionFix),
    PublicAccessBlock,
    Policy {
        document: String,
        added: Vec<String>,
        /// Deleted principals' unique ids removed (`GUARD_DROP_STALE_PRINCIPALS=true`),
        /// as `id (statement Sid)`; statements left with no principal are removed whole.
        dropped: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionFix {
    /// `aws:kms` or `aws:kms:dsse`.
    pub algorithm: String,
    /// Full key ARN; `None` uses the AWS managed `aws/s3` key.
    pub kms_key_id: Option<String>,
    pub bucket_key_enabled: bool,
    /// New objects are encrypted under another key than before (not just S3 Bucket Keys
    /// turned on): who can read them changes, so the dependents rules decide.
    pub new_key: bool,
    /// `BlockedEncryptionTypes` as read: every write carries it, so SSE-C stays blocked.
    pub blocked_encryption_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub control: &'static str,
    pub outcome: Outcome,
    pub detail: String,
    /// A severity the control insists on (advice, policy-dependent checks); the
    /// general mapping lives in `alert::classify`.
    pub severity: Option<Severity>,
    pub before: Value,
    /// The layers that enforce the control as found (`layered`): `bucket` when the bucket's
    /// own setting does, then the layers above it.
    pub enforced_by: Vec<String>,
}

impl Finding {
    pub fn new(
        control: &'static str,
        outcome: Outcome,
        detail: impl Into<String>,
        before: Value,
    ) -> Self {
        Self {
            control,
            outcome,
            detail: detail.into(),
            severity: None,
            before,
            enforced_by: Vec::new(),
        }
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }

    /// The result of a control that proposes no fix (not auto-fixable, or compliant).
    pub fn reported(self) -> ControlResult {
        self.unapplied(Status::NonCompliant, "not auto-fixable")
    }

    /// The result when nothing is applied: compliant/non-compliant/failed as found;
    /// a proposed fix becomes `fix_status` (`would-remediate` in audit mode,
    /// `non-compliant` for audit-only resources), its detail saying `why` not.
    pub fn unapplied(self, fix_status: Status, why: &str) -> ControlResult {
        let status = match self.outcome {
            Outcome::Compliant => Status::Compliant,
            Outcome::Fix(_) => fix_status,
            Outcome::NonCompliant => Status::NonCompliant,
            Outcome::Failed => Status::Failed,
        };
        let detail = if matches!(self.outcome, Outcome::Fix(_)) {
            format!("{} (not applied: {why})", self.detail)
        } else {
            self.detail
        };
        let mut result = ControlResult::new(self.control, status, detail).with_before(self.before);
        result.severity = self.severity;
        result
    }
}

/// The layers above a bucket (the account, the organization's policies) that enforce a
/// control for it, as the report names them: `account`, `organization policy p-…`,
/// `RCP p-… on ou-…`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Above {
    /// Layers that enforce the control for every principal.
    pub enforcing: Vec<String>,
    /// Layers that enforce it for some principals only (an SCP binds the account's own):
    /// named, never counted.
    pub partial: Vec<String>,
    /// About layers that are not counted (a policy AWS reports as not enforced).
    pub notes: Vec<String>,
    /// `when-not-enforced`: an enforcing layer makes the bucket compliant without a write.
    pub leave_to_layers: bool,
    /// The variable that says so (`GUARD_BUCKET_BPA`), for the report's wording.
    pub setting: &'static str,
}

/// A bucket control's finding, completed with the layers above the bucket: the report says
/// which layers enforce the control (`before.enforced_by`), and with `leave_to_layers` a
/// proposed fix becomes compliant through them (nothing written).
pub fn layered(mut finding: Finding, above: &Above) -> Finding {
    let mut names: Vec<String> = Vec::new();
    if finding.outcome == Outcome::Compliant {
        names.push("bucket".to_owned());
    }
    names.extend(above.enforcing.iter().cloned());
    finding.enforced_by = names.clone();
    let mut notes = above.notes.clone();
    if !above.partial.is_empty() {
        notes.push(format!(
            "{} for this organization's principals only",
            above.partial.join(", ")
        ));
    }
    if above.enforcing.is_empty() {
        if !notes.is_empty() {
            finding.detail = format!("{}; {}", finding.detail, notes.join("; "));
        }
        return finding;
    }
    let layers = above.enforcing.join(", ");
    match finding.outcome {
        Outcome::Fix(_) if above.leave_to_layers => {
            finding.detail = format!(
                "enforced by {layers}; the bucket's own setting is left as it is ({}=when-not-enforced): {}",
                above.setting, finding.detail
            );
            finding.outcome = Outcome::Compliant;
        }
        Outcome::Compliant => {
            finding.detail = format!("{}; enforced by {}", finding.detail, names.join(", "));
        }
        _ => finding.detail = format!("{}; also enforced by {layers}", finding.detail),
    }
    if !notes.is_empty() {
        finding.detail = format!("{}; {}", finding.detail, notes.join("; "));
    }
    finding
}

#[cfg(test)]
mod layered_tests {
    use super::*;
    use serde_json::json;

    fn above(leave: bool) -> Above {
        Above {
            enforcing: vec!["account".into(), "organization policy p-s3all".into()],
            partial: Vec::new(),
            notes: Vec::new(),
            leave_to_layers: leave,
            setting: "GUARD_BUCKET_BPA",
        }
    }

    #[test]
    fn compliant_names_every_layer() {
        let f = Finding::new(
            "public-access-block",
            Outcome::Compliant,
            "all four on",
            json!({}),
        );
        let f = layered(f, &above(false));
        assert_eq!(
            f.detail,
            "all four on; enforced by bucket, account, organization policy p-s3all"
        );
        assert_eq!(
            f.enforced_by,
            ["bucket", "account", "organization policy p-s3all"]
        );
        // The state read is left as read: undo puts `before` back.
        assert_eq!(f.before, json!({}));
    }

    #[test]
    fn a_fix_is_still_proposed_unless_left_to_the_layers() {
        let fix = || {
            Finding::new(
                "public-access-block",
                Outcome::Fix(Fix::PublicAccessBlock),
                "no configuration",
                Value::Null,
            )
        };
        let kept = layered(fix(), &above(false));
        assert_eq!(kept.outcome, Outcome::Fix(Fix::PublicAccessBlock));
        assert!(
            kept.detail
                .ends_with("also enforced by account, organization policy p-s3all")
        );
        let left = layered(fix(), &above(true));
        assert_eq!(left.outcome, Outcome::Compliant);
        assert!(
            left.detail.starts_with("enforced by account"),
            "{}",
            left.detail
        );
        // Nothing above: unchanged.
        assert_eq!(layered(fix(), &Above::default()), fix());
    }
}

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

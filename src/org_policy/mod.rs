//! The organization's policies, one family: what AWS Organizations policies on an account's
//! path (root → OUs → account) decide for the guarded buckets and data.
//!
//! Owns the shared engine: the hierarchy types (`Hierarchy`, `Level`, `AttachedPolicy`), the
//! inheritance of management policies (`inherit`: `@@assign`, `@@append`, `@@remove`,
//! `@@operators_allowed_for_child_policies`) and IAM-style deny evaluation for authorization
//! policies (`deny`: RCPs, SCPs). One file per policy type uses them:
//!
//! - `opt_out`: `AISERVICES_OPT_OUT_POLICY` (the `ai-opt-out` control),
//! - `s3_policy`: `S3_POLICY` (organization-level Block Public Access),
//! - `deny`: `RESOURCE_CONTROL_POLICY` and `SERVICE_CONTROL_POLICY` (TLS-only, prevention),
//! - `prevention`: the SCP, RCP and S3 policy the guard ships (`rekognition-guard policies`).
//!
//! Pure: plain data in, plain data out; `aws::organizations` reads the documents (the walk and
//! its caching of policy contents live there, as the only code that calls Organizations).

pub mod deny;
pub mod inherit;
pub mod layers;
pub mod opt_out;
pub mod prevention;
pub mod s3_policy;

use serde::Serialize;
use std::fmt;

/// The policy types this family reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum PolicyKind {
    #[serde(rename = "AISERVICES_OPT_OUT_POLICY")]
    AiOptOut,
    #[serde(rename = "S3_POLICY")]
    S3,
    #[serde(rename = "RESOURCE_CONTROL_POLICY")]
    Rcp,
    #[serde(rename = "SERVICE_CONTROL_POLICY")]
    Scp,
}

impl PolicyKind {
    /// The Organizations `PolicyType` string.
    pub fn policy_type(self) -> &'static str {
        match self {
            PolicyKind::AiOptOut => "AISERVICES_OPT_OUT_POLICY",
            PolicyKind::S3 => "S3_POLICY",
            PolicyKind::Rcp => "RESOURCE_CONTROL_POLICY",
            PolicyKind::Scp => "SERVICE_CONTROL_POLICY",
        }
    }

    /// How reports name it: `RCP`, `SCP`, `S3 policy`, `AI services opt-out policy`.
    pub fn short(self) -> &'static str {
        match self {
            PolicyKind::AiOptOut => "AI services opt-out policy",
            PolicyKind::S3 => "S3 policy",
            PolicyKind::Rcp => "RCP",
            PolicyKind::Scp => "SCP",
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

/// Where a policy is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    Root,
    OrganizationalUnit,
    Account,
}

/// One policy attached to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedPolicy {
    pub id: String,
    pub content: String,
}

/// One node on the path from the root to the account, with the policies attached to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub target_id: String,
    pub kind: TargetKind,
    pub policies: Vec<AttachedPolicy>,
}

/// The path from the organization root down to the account, top-down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hierarchy {
    pub levels: Vec<Level>,
}

impl Hierarchy {
    /// `root r-ab12 > ou-ab12-cd34 > account 111122223333`.
    pub fn describe(&self) -> String {
        self.levels
            .iter()
            .map(|level| match level.kind {
                TargetKind::Root => format!("root {}", level.target_id),
                TargetKind::OrganizationalUnit => level.target_id.clone(),
                TargetKind::Account => format!("account {}", level.target_id),
            })
            .collect::<Vec<_>>()
            .join(" > ")
    }

    /// The account at the bottom of the path, if the path reaches one.
    pub fn account(&self) -> Option<&str> {
        self.levels
            .last()
            .filter(|l| l.kind == TargetKind::Account)
            .map(|l| l.target_id.as_str())
    }
}

/// A policy on the path that decides something: which one, and where it is attached.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Source {
    pub kind: PolicyKind,
    pub policy_id: String,
    pub target_id: String,
}

impl fmt::Display for Source {
    /// `RCP p-abcd1234 on ou-ab12-cd34`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} on {}", self.kind, self.policy_id, self.target_id)
    }
}

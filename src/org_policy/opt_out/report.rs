//! The `ai-opt-out` control's report entries, built from what `aws::organizations` read:
//! the verdict per service, its wording, severity and the `after` state. Pure.

use super::{DecidedBy, Effective, Origin, Setting, Verdict};
use crate::report::{ControlResult, Resource, ResourceType, Severity, Status};
use serde_json::{Value, json};
use tracing::warn;

/// The control's stable id.
pub const CONTROL_ID: &str = "ai-opt-out";

/// The service checked when the caller names none.
pub const DEFAULT_SERVICES: &[&str] = &["rekognition"];

/// How the verdict was reached.
#[derive(Debug, Clone)]
pub enum EvaluationPath {
    EffectivePolicy,
    Hierarchy(String),
}

impl EvaluationPath {
    pub fn describe(&self) -> String {
        match self {
            EvaluationPath::EffectivePolicy => "describe-effective-policy".to_owned(),
            EvaluationPath::Hierarchy(path) => format!("computed from hierarchy: {path}"),
        }
    }

    pub fn id(&self) -> &'static str {
        match self {
            EvaluationPath::EffectivePolicy => "describe-effective-policy",
            EvaluationPath::Hierarchy(_) => "hierarchy",
        }
    }
}

/// Locks read from the hierarchy to complete an effective policy that does not show them.
#[derive(Debug)]
pub enum Locks {
    /// The effective policy shows them, or the verdict came from the hierarchy.
    Shown,
    Read(Effective),
    Unknown(String),
}

/// What the Organizations reads found for one account: the facts the report is built from.
#[derive(Debug)]
pub enum OptOutFacts {
    NoOrganization,
    /// No policy of this type applies to the account.
    NoPolicy {
        path: &'static str,
        reason: String,
    },
    Evaluated {
        path: EvaluationPath,
        effective: Box<Effective>,
        locks: Locks,
        /// AWS's validation errors (`ListEffectivePolicyValidationErrors`): a policy that
        /// exists but is not enforced. Empty when there are none or they could not be read.
        not_enforced: Vec<String>,
    },
    /// Access denied wherever it mattered.
    Skipped {
        missing: Vec<&'static str>,
        /// Why the effective policy was not used, when it was not a denial.
        note: Option<String>,
    },
    /// An AWS error that retries did not clear.
    Failed(String),
}

/// The `organization` resource for `account_id`: one `ai-opt-out` control per service
/// (`rekognition` when `services` is empty).
pub fn resource(facts: &OptOutFacts, account_id: &str, services: &[String]) -> Resource {
    Resource {
        kind: ResourceType::Organization,
        id: account_id.to_owned(),
        name: None,
        role: None,
        region: None,
        account: None,
        controls: service_list(services)
            .iter()
            .map(|service| control(facts, account_id, service))
            .collect(),
    }
}

pub fn service_list(services: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for service in services.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !out.iter().any(|s| s == service) {
            out.push(service.to_owned());
        }
    }
    if out.is_empty() {
        out = DEFAULT_SERVICES.iter().map(|s| (*s).to_owned()).collect();
    }
    out
}

pub fn outcome_name(outcome: &OptOutFacts) -> &'static str {
    match outcome {
        OptOutFacts::NoOrganization => "no-organization",
        OptOutFacts::NoPolicy { .. } => "no-policy",
        OptOutFacts::Evaluated { path, .. } => path.id(),
        OptOutFacts::Skipped { .. } => "skipped",
        OptOutFacts::Failed(_) => "failed",
    }
}

fn control(outcome: &OptOutFacts, account_id: &str, service: &str) -> ControlResult {
    match outcome {
        OptOutFacts::NoOrganization => ControlResult::new(
            CONTROL_ID,
            Status::NonCompliant,
            format!(
                "{service}: the account is in no organization, so no AI services opt-out policy \
                 applies and {service} may store and use its content \
                 (AWSOrganizationsNotInUseException; path: describe-organization)"
            ),
        )
        .with_severity(Severity::High)
        .with_after(json!({
            "service": service,
            "opt_out_policy": Value::Null,
            "path": "describe-organization",
            "organization": false,
        })),
        OptOutFacts::NoPolicy { path, reason } => ControlResult::new(
            CONTROL_ID,
            Status::NonCompliant,
            format!(
                "{service}: no AI services opt-out policy applies to account {account_id}, so \
                 {service} may store and use its content ({reason}; path: {path})"
            ),
        )
        .with_severity(Severity::High)
        .with_after(json!({
            "service": service,
            "opt_out_policy": Value::Null,
            "path": path,
        })),
        OptOutFacts::Skipped { missing, note } => {
            let mut detail = format!(
                "{service}: not evaluated: access denied; missing IAM permission(s): {}",
                missing.join(", ")
            );
            if let Some(note) = note {
                detail.push_str(&format!("; {note}"));
            }
            ControlResult::new(CONTROL_ID, Status::Skipped, detail)
        }
        OptOutFacts::Failed(err) => ControlResult::new(
            CONTROL_ID,
            Status::Failed,
            format!("{service}: could not read the AI services opt-out policy: {err}"),
        )
        .with_severity(Severity::Medium),
        OptOutFacts::Evaluated {
            path,
            effective,
            not_enforced,
            ..
        } if !not_enforced.is_empty() => {
            let verdict = effective.verdict(service);
            ControlResult::new(
                CONTROL_ID,
                Status::NonCompliant,
                format!(
                    "{service}: the AI services opt-out policy is not enforced, so {service} may store and use the content: {}; path: {}",
                    not_enforced.join("; "),
                    path.describe()
                ),
            )
            .with_severity(Severity::High)
            .with_after(json!({
                "service": service,
                "opt_out_policy": verdict.setting,
                "path": path.id(),
                "not_enforced": not_enforced,
            }))
        }
        OptOutFacts::Evaluated {
            path,
            effective,
            locks,
            ..
        } => evaluated(path, effective, locks, service),
    }
}

fn evaluated(
    path: &EvaluationPath,
    effective: &Effective,
    locks: &Locks,
    service: &str,
) -> ControlResult {
    let mut verdict = effective.verdict(service);
    let mut notes: Vec<String> = Vec::new();
    match locks {
        Locks::Shown => {}
        Locks::Read(hierarchy) => {
            let computed = hierarchy.verdict(service);
            verdict.child_can_opt_in = computed.child_can_opt_in;
            if computed.setting != verdict.setting {
                warn!(
                    service = %service,
                    effective = ?verdict.setting,
                    computed = ?computed.setting,
                    "the hierarchy disagrees with AWS's effective policy; AWS's wins"
                );
                notes.push(format!(
                    "the attached policies compute {}, AWS's effective policy wins",
                    setting_text(computed.setting)
                ));
            }
        }
        Locks::Unknown(reason) if verdict.is_opted_out() => notes.push(format!(
            "whether a lower policy could opt {service} back in is unknown ({reason})"
        )),
        Locks::Unknown(_) => {}
    }
    notes.extend(effective.conflicts.iter().map(ToString::to_string));
    notes.extend(effective.ignored.iter().map(ToString::to_string));
    notes.extend(effective.problems.iter().map(ToString::to_string));

    let (status, severity) = match verdict.setting {
        Some(Setting::OptOut) => {
            let advice = verdict.child_can_opt_in == Some(true);
            if advice {
                notes.insert(
                    0,
                    format!(
                        "advice: nothing locks it, so a policy attached to an OU or to the \
                         account could opt {service} back in; lock it in the root policy: \
                         services.{service}.opt_out_policy = {{\"@@assign\": \"optOut\", \
                         \"@@operators_allowed_for_child_policies\": [\"@@none\"]}}"
                    ),
                );
            }
            let low = advice || !effective.problems.is_empty();
            (Status::Compliant, low.then_some(Severity::Low))
        }
        Some(Setting::OptIn) | None => (Status::NonCompliant, Some(Severity::High)),
    };

    let mut detail = format!("{service}: {}", verdict_text(&verdict));
    detail.push_str(&format!("; path: {}", path.describe()));
    for note in &notes {
        detail.push_str("; ");
        detail.push_str(note);
    }

    let mut result = ControlResult::new(CONTROL_ID, status, detail)
        .with_after(after(path, effective, &verdict, service));
    if let Some(severity) = severity {
        result = result.with_severity(severity);
    }
    result
}

fn setting_text(setting: Option<Setting>) -> &'static str {
    setting.map_or("no setting", Setting::as_str)
}

fn verdict_text(verdict: &Verdict) -> String {
    let service = &verdict.service;
    let element = match verdict.decided_by {
        Some(DecidedBy::Service) => format!("services.{service}.opt_out_policy"),
        Some(DecidedBy::Default) => "services.default.opt_out_policy".to_owned(),
        None => String::new(),
    };
    let origin = verdict
        .origin
        .as_ref()
        .map(|o| match o {
            Origin::EffectivePolicy => String::new(),
            other => format!(", set by {other}"),
        })
        .unwrap_or_default();
    match verdict.setting {
        Some(Setting::OptOut) => format!("opted out ({element} = optOut{origin})"),
        Some(Setting::OptIn) => {
            format!("opted in ({element} = optIn{origin}): {service} may store and use the content")
        }
        None => format!(
            "no opt-out setting applies (neither services.{service} nor services.default sets \
             opt_out_policy): {service} may store and use the content"
        ),
    }
}

fn after(path: &EvaluationPath, effective: &Effective, verdict: &Verdict, service: &str) -> Value {
    let mut value = json!({
        "service": service,
        "opt_out_policy": verdict.setting,
        "decided_by": verdict.decided_by,
        "set_by": verdict.origin,
        "path": path.id(),
        "child_can_opt_in": verdict.child_can_opt_in,
    });
    if let (EvaluationPath::Hierarchy(hierarchy), Some(map)) = (path, value.as_object_mut()) {
        map.insert("hierarchy".into(), json!(hierarchy));
    }
    if let Some(map) = value.as_object_mut() {
        let strings = |items: Vec<String>| Value::from(items);
        if !effective.problems.is_empty() {
            map.insert(
                "problems".into(),
                strings(effective.problems.iter().map(ToString::to_string).collect()),
            );
        }
        if !effective.ignored.is_empty() {
            map.insert(
                "ignored".into(),
                strings(effective.ignored.iter().map(ToString::to_string).collect()),
            );
        }
        if !effective.conflicts.is_empty() {
            map.insert(
                "conflicts".into(),
                strings(
                    effective
                        .conflicts
                        .iter()
                        .map(ToString::to_string)
                        .collect(),
                ),
            );
        }
    }
    value
}

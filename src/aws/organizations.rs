//! AWS Organizations adapter for the `ai-opt-out` control: reads the account's AI services
//! opt-out policy and reports the verdict per service.
//!
//! Owns the Organizations calls (`DescribeOrganization`, `DescribeEffectivePolicy`, and for the
//! fallback `ListParents`, `ListPoliciesForTarget`, `DescribePolicy`: all listed in
//! `aws::permissions`) and their error codes. The inheritance rules and the verdict belong to
//! the pure `crate::opt_out`; this module only gathers documents and builds report entries.
//! It never writes to Organizations.
//!
//! Order: `DescribeOrganization` (no organization: nothing applies), then
//! `DescribeEffectivePolicy`, AWS's own merge; where that call is denied or unavailable, the
//! hierarchy from the root to the account is read and merged by `crate::opt_out`. When the
//! effective policy says `optOut` but cannot show whether a lower policy could opt back in, the
//! hierarchy is read too (best effort) for the locks. The hierarchy read starts alongside the
//! first calls (and is dropped when not needed), its levels' attachments and policies all at
//! once, so the whole evaluation is as deep as the walk up from the account plus two.

use super::AwsError;
use crate::opt_out::{
    AttachedPolicy, DecidedBy, Effective, Hierarchy, Level, Origin, Setting, TargetKind, Verdict,
};
use crate::report::{ControlResult, Resource, ResourceType, Severity, Status};
use aws_sdk_organizations::Client;
use aws_sdk_organizations::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_organizations::types::{EffectivePolicyType, ParentType, PolicyType};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Instant;
use tracing::{debug, info, warn};

/// The control's stable id.
pub const CONTROL_ID: &str = "ai-opt-out";

/// The service checked when the caller names none.
pub const DEFAULT_SERVICES: &[&str] = &["rekognition"];

const DESCRIBE_ORGANIZATION: &str = "organizations:DescribeOrganization";
const DESCRIBE_EFFECTIVE_POLICY: &str = "organizations:DescribeEffectivePolicy";
const LIST_PARENTS: &str = "organizations:ListParents";
const LIST_POLICIES_FOR_TARGET: &str = "organizations:ListPoliciesForTarget";
const DESCRIBE_POLICY: &str = "organizations:DescribePolicy";

/// Organizations allows five levels of OUs; anything deeper is a loop or a broken answer.
const MAX_DEPTH: usize = 8;

/// Why an Organizations call gave no answer.
#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("{action} denied ({code})")]
    Denied { action: &'static str, code: String },
    #[error("the account is in no organization")]
    NoOrganization,
    #[error("{action} is not available here ({reason})")]
    Unavailable {
        action: &'static str,
        reason: String,
    },
    #[error("{} failed: {}", .0.operation, .0.message)]
    Failed(#[source] AwsError),
}

impl CallError {
    fn from_sdk<E>(action: &'static str, err: SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        match err.code() {
            Some(code @ ("AccessDeniedException" | "AccessDenied")) => CallError::Denied {
                action,
                code: code.to_owned(),
            },
            Some("AWSOrganizationsNotInUseException") => CallError::NoOrganization,
            Some(
                code @ ("UnsupportedAPIEndpointException"
                | "UnknownOperationException"
                | "InvalidAction"
                | "NotImplemented"),
            ) => CallError::Unavailable {
                action,
                reason: code.to_owned(),
            },
            _ => CallError::Failed(AwsError::from_sdk(action, err)),
        }
    }

    fn code(&self) -> Option<&str> {
        match self {
            CallError::Failed(e) => e.code.as_deref(),
            _ => None,
        }
    }
}

/// How the verdict was reached.
#[derive(Debug, Clone)]
enum EvaluationPath {
    EffectivePolicy,
    Hierarchy(String),
}

impl EvaluationPath {
    fn describe(&self) -> String {
        match self {
            EvaluationPath::EffectivePolicy => "describe-effective-policy".to_owned(),
            EvaluationPath::Hierarchy(path) => format!("computed from hierarchy: {path}"),
        }
    }

    fn id(&self) -> &'static str {
        match self {
            EvaluationPath::EffectivePolicy => "describe-effective-policy",
            EvaluationPath::Hierarchy(_) => "hierarchy",
        }
    }
}

/// Locks read from the hierarchy to complete an effective policy that does not show them.
#[derive(Debug)]
enum Locks {
    /// The effective policy shows them, or the verdict came from the hierarchy.
    Shown,
    Read(Effective),
    Unknown(String),
}

#[derive(Debug)]
enum Outcome {
    NoOrganization,
    /// No policy of this type applies to the account.
    NoPolicy {
        path: &'static str,
        reason: String,
    },
    Evaluated {
        path: EvaluationPath,
        effective: Effective,
        locks: Locks,
    },
    /// Access denied wherever it mattered.
    Skipped {
        missing: Vec<&'static str>,
        /// Why the effective policy was not used, when it was not a denial.
        note: Option<String>,
    },
    Failed(CallError),
}

/// Evaluates the effective AI services opt-out policy of `account_id` for each service
/// (`rekognition` when `services` is empty), one `ai-opt-out` control per service.
///
/// Never fails: no organization, no policy, denied access and AWS errors each become a status.
pub async fn evaluate_opt_out(client: &Client, account_id: &str, services: &[String]) -> Resource {
    let started = Instant::now();
    let services = service_list(services);
    let outcome = evaluate(client, account_id, &services).await;
    let controls: Vec<ControlResult> = services
        .iter()
        .map(|service| control(&outcome, account_id, service))
        .collect();
    info!(
        control = CONTROL_ID,
        account = %account_id,
        outcome = outcome_name(&outcome),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "evaluated the AI services opt-out policy"
    );
    Resource {
        kind: ResourceType::Organization,
        id: account_id.to_owned(),
        role: None,
        region: None,
        controls,
    }
}

fn service_list(services: &[String]) -> Vec<String> {
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

fn outcome_name(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::NoOrganization => "no-organization",
        Outcome::NoPolicy { .. } => "no-policy",
        Outcome::Evaluated { path, .. } => path.id(),
        Outcome::Skipped { .. } => "skipped",
        Outcome::Failed(_) => "failed",
    }
}

async fn evaluate(client: &Client, account_id: &str, services: &[String]) -> Outcome {
    let mut denied: Vec<&'static str> = Vec::new();
    // The hierarchy is read alongside: it is needed whenever the effective policy is
    // unavailable or does not show its locks, and then it costs no round trips of its own.
    let mut hierarchy = Speculative::start(client, account_id);

    let management = match client.describe_organization().send().await {
        Ok(out) => out
            .organization()
            .and_then(|o| o.master_account_id())
            .map(str::to_owned),
        Err(err) => match CallError::from_sdk(DESCRIBE_ORGANIZATION, err) {
            CallError::NoOrganization => return Outcome::NoOrganization,
            CallError::Denied { action, .. } => {
                // Optional: it only tells whether to name a target, so carry on.
                denied.push(action);
                None
            }
            other => {
                debug!(error = %other, "DescribeOrganization failed; carrying on without it");
                None
            }
        },
    };

    let fallback_note = match describe_effective(client, account_id, management.as_deref()).await {
        Ok(Some(content)) => {
            let effective = Effective::from_effective_content(&content);
            let locks = effective_locks(&mut hierarchy, account_id, services, &effective).await;
            return Outcome::Evaluated {
                path: EvaluationPath::EffectivePolicy,
                effective,
                locks,
            };
        }
        Ok(None) => {
            return Outcome::NoPolicy {
                path: "describe-effective-policy",
                reason: "EffectivePolicyNotFoundException".to_owned(),
            };
        }
        Err(CallError::NoOrganization) => return Outcome::NoOrganization,
        Err(CallError::Denied { action, code }) => {
            denied.push(action);
            warn!(account = %account_id, action, code = %code, "effective policy denied; computing it from the hierarchy");
            None
        }
        Err(err @ CallError::Unavailable { .. }) => {
            info!(account = %account_id, error = %err, "effective policy unavailable; computing it from the hierarchy");
            Some(err.to_string())
        }
        Err(err @ CallError::Failed(_)) => {
            if err.code() == Some("TargetNotFoundException") {
                return Outcome::NoPolicy {
                    path: "describe-effective-policy",
                    reason: "TargetNotFoundException: the account is not in this organization"
                        .to_owned(),
                };
            }
            warn!(account = %account_id, error = %err, "effective policy failed; computing it from the hierarchy");
            Some(err.to_string())
        }
    };

    match hierarchy.take().await {
        Ok(hierarchy) => Outcome::Evaluated {
            path: EvaluationPath::Hierarchy(hierarchy.describe()),
            effective: hierarchy.merge(),
            locks: Locks::Shown,
        },
        Err(CallError::NoOrganization) => Outcome::NoOrganization,
        Err(CallError::Denied { action, .. }) => {
            denied.push(action);
            Outcome::Skipped {
                missing: denied,
                note: fallback_note,
            }
        }
        Err(err)
            if matches!(
                err.code(),
                Some("ChildNotFoundException" | "TargetNotFoundException")
            ) =>
        {
            Outcome::NoPolicy {
                path: "hierarchy",
                reason: format!("{err}: the account is not in this organization"),
            }
        }
        Err(err) => Outcome::Failed(err),
    }
}

/// `DescribeEffectivePolicy` for the account. `Ok(None)`: no policy of this type applies.
///
/// Any account may ask for its own effective policy without a target; only the management
/// account may name another account. So the target is named only when the account is not the
/// organization's management account, and a refusal to name it is retried without it (the
/// caller is then the account itself, which the answer's `TargetId` confirms).
async fn describe_effective(
    client: &Client,
    account_id: &str,
    management: Option<&str>,
) -> Result<Option<String>, CallError> {
    let name_target = management.is_some_and(|m| m != account_id);
    let first = describe_effective_once(client, name_target.then_some(account_id)).await;
    let answer = match first {
        Err(CallError::Denied { .. }) if name_target => {
            debug!(account = %account_id, "may not name the account; asking for the caller's own");
            describe_effective_once(client, None).await
        }
        Err(err)
            if name_target
                && matches!(
                    err.code(),
                    Some("ConstraintViolationException" | "InvalidInputException")
                ) =>
        {
            debug!(account = %account_id, code = ?err.code(), "may not name the account; asking for the caller's own");
            describe_effective_once(client, None).await
        }
        other => other,
    }?;
    match answer {
        None => Ok(None),
        Some((content, target)) => match target {
            Some(target) if target != account_id => Err(CallError::Unavailable {
                action: DESCRIBE_EFFECTIVE_POLICY,
                reason: format!("it answered for account {target}, not {account_id}"),
            }),
            _ => Ok(Some(content)),
        },
    }
}

/// One call: `Ok(Some((content, target id)))`, or `Ok(None)` for `EffectivePolicyNotFoundException`.
async fn describe_effective_once(
    client: &Client,
    target: Option<&str>,
) -> Result<Option<(String, Option<String>)>, CallError> {
    let result = client
        .describe_effective_policy()
        .policy_type(EffectivePolicyType::AiservicesOptOutPolicy)
        .set_target_id(target.map(str::to_owned))
        .customize()
        .config_override(
            aws_sdk_organizations::config::Builder::default()
                .retry_classifier(super::HtmlServerErrorIsFinal),
        )
        .send()
        .await;
    match result {
        Ok(out) => {
            let policy = out.effective_policy();
            let content = policy
                .and_then(|p| p.policy_content())
                .unwrap_or_default()
                .to_owned();
            let target = policy.and_then(|p| p.target_id()).map(str::to_owned);
            Ok(Some((content, target)))
        }
        Err(err) if err.code() == Some("EffectivePolicyNotFoundException") => Ok(None),
        Err(err) => {
            let err = CallError::from_sdk(DESCRIBE_EFFECTIVE_POLICY, err);
            match err {
                // A server without the operation (moto): not an AWS failure to report.
                CallError::Failed(AwsError {
                    code: None,
                    status: Some(status),
                    ..
                }) if status >= 500 || status == 404 => Err(CallError::Unavailable {
                    action: DESCRIBE_EFFECTIVE_POLICY,
                    reason: format!("HTTP {status} without an error code"),
                }),
                other => Err(other),
            }
        }
    }
}

/// Completes an effective policy that does not show its locks, when that matters: a service is
/// opted out and the question is whether a lower policy could opt it back in.
async fn effective_locks(
    hierarchy: &mut Speculative,
    account_id: &str,
    services: &[String],
    effective: &Effective,
) -> Locks {
    if effective.locks_known || !services.iter().any(|s| effective.verdict(s).is_opted_out()) {
        return Locks::Shown;
    }
    match hierarchy.take().await {
        Ok(hierarchy) => Locks::Read(hierarchy.merge()),
        Err(err) => {
            debug!(account = %account_id, error = %err, "could not read the hierarchy for locks");
            Locks::Unknown(err.to_string())
        }
    }
}

/// A hierarchy read started before it is known to be needed: taken once, aborted when
/// dropped untaken.
struct Speculative(Option<tokio::task::JoinHandle<Result<Hierarchy, CallError>>>);

impl Speculative {
    fn start(client: &Client, account_id: &str) -> Speculative {
        let (client, account) = (client.clone(), account_id.to_owned());
        Speculative(Some(tokio::spawn(async move {
            read_hierarchy(&client, &account).await
        })))
    }

    async fn take(&mut self) -> Result<Hierarchy, CallError> {
        let task = self.0.take().ok_or_else(|| {
            CallError::Failed(AwsError::new(
                LIST_PARENTS,
                "the hierarchy was read already",
            ))
        })?;
        task.await.unwrap_or_else(|e| {
            Err(CallError::Failed(AwsError::new(
                LIST_PARENTS,
                format!("reading the hierarchy stopped: {e}"),
            )))
        })
    }
}

impl Drop for Speculative {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// The path from the root to the account with every opt-out policy attached on it.
async fn read_hierarchy(client: &Client, account_id: &str) -> Result<Hierarchy, CallError> {
    let mut path = vec![(account_id.to_owned(), TargetKind::Account)];
    let mut child = account_id.to_owned();
    loop {
        if path.len() > MAX_DEPTH {
            return Err(CallError::Failed(AwsError::new(
                LIST_PARENTS,
                format!("no root within {MAX_DEPTH} levels above {account_id}"),
            )));
        }
        let (id, kind) = parent(client, &child).await?;
        path.push((id.clone(), kind));
        if kind == TargetKind::Root {
            break;
        }
        child = id;
    }
    path.reverse();

    // Every level's attachments at once, then every distinct policy at once: two round
    // trips after the walk up, whatever the depth.
    let attached = futures::future::try_join_all(
        path.iter()
            .map(|(target_id, _)| attached_policies(client, target_id)),
    )
    .await?;
    let mut distinct: Vec<&String> = attached.iter().flatten().collect();
    distinct.sort();
    distinct.dedup();
    let contents: HashMap<&String, String> = distinct
        .iter()
        .copied()
        .zip(
            futures::future::try_join_all(distinct.iter().map(|id| policy_content(client, id)))
                .await?,
        )
        .collect();
    let levels = path
        .into_iter()
        .zip(&attached)
        .map(|((target_id, kind), ids)| {
            let policies: Vec<AttachedPolicy> = ids
                .iter()
                .map(|id| AttachedPolicy {
                    id: id.clone(),
                    content: contents.get(id).cloned().unwrap_or_default(),
                })
                .collect();
            debug!(target = %target_id, policies = policies.len(), "read opt-out policies");
            Level {
                target_id,
                kind,
                policies,
            }
        })
        .collect();
    Ok(Hierarchy { levels })
}

/// The one parent of an account or OU.
async fn parent(client: &Client, child: &str) -> Result<(String, TargetKind), CallError> {
    let mut pages = client
        .list_parents()
        .child_id(child)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| CallError::from_sdk(LIST_PARENTS, e))?;
        if let Some(parent) = page.parents().first() {
            let id = parent.id().unwrap_or_default().to_owned();
            let kind = match parent.r#type() {
                Some(ParentType::Root) => TargetKind::Root,
                _ => TargetKind::OrganizationalUnit,
            };
            return Ok((id, kind));
        }
    }
    Err(CallError::Failed(AwsError::new(
        LIST_PARENTS,
        format!("{child} has no parent"),
    )))
}

async fn attached_policies(client: &Client, target: &str) -> Result<Vec<String>, CallError> {
    let mut ids = Vec::new();
    let mut pages = client
        .list_policies_for_target()
        .target_id(target)
        .filter(PolicyType::AiservicesOptOutPolicy)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| CallError::from_sdk(LIST_POLICIES_FOR_TARGET, e))?;
        ids.extend(
            page.policies()
                .iter()
                .filter_map(|p| p.id())
                .map(str::to_owned),
        );
    }
    Ok(ids)
}

async fn policy_content(client: &Client, policy_id: &str) -> Result<String, CallError> {
    let out = client
        .describe_policy()
        .policy_id(policy_id)
        .send()
        .await
        .map_err(|e| CallError::from_sdk(DESCRIBE_POLICY, e))?;
    Ok(out
        .policy()
        .and_then(|p| p.content())
        .unwrap_or_default()
        .to_owned())
}

// --- report ------------------------------------------------------------------------------

fn control(outcome: &Outcome, account_id: &str, service: &str) -> ControlResult {
    match outcome {
        Outcome::NoOrganization => ControlResult::new(
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
        Outcome::NoPolicy { path, reason } => ControlResult::new(
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
        Outcome::Skipped { missing, note } => {
            let mut detail = format!(
                "{service}: not evaluated: access denied; missing IAM permission(s): {}",
                missing.join(", ")
            );
            if let Some(note) = note {
                detail.push_str(&format!("; {note}"));
            }
            ControlResult::new(CONTROL_ID, Status::Skipped, detail)
        }
        Outcome::Failed(err) => ControlResult::new(
            CONTROL_ID,
            Status::Failed,
            format!("{service}: could not read the AI services opt-out policy: {err}"),
        )
        .with_severity(Severity::Medium),
        Outcome::Evaluated {
            path,
            effective,
            locks,
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

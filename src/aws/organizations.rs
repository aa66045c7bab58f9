//! AWS Organizations adapter for the `ai-opt-out` control: reads the account's AI services
//! opt-out policy and returns what it found as facts (`opt_out::report::OptOutFacts`).
//!
//! Owns the Organizations calls (`DescribeOrganization`, `DescribeEffectivePolicy`, and for the
//! fallback `ListParents`, `ListPoliciesForTarget`, `DescribePolicy`: all listed in
//! `aws::permissions`) and their error codes. The inheritance rules and the verdict belong to
//! the pure `crate::opt_out`; this module only gathers documents (`opt_out::report` builds the
//! report entries).
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
use crate::opt_out::report::{
    CONTROL_ID, EvaluationPath, Locks, OptOutFacts, outcome_name, service_list,
};
use crate::opt_out::{AttachedPolicy, Effective, Hierarchy, Level, TargetKind};
use aws_sdk_organizations::Client;
use aws_sdk_organizations::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_organizations::types::{EffectivePolicyType, ParentType, PolicyType};
use std::collections::HashMap;
use std::time::Instant;
use tracing::{debug, info, warn};

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

/// Reads the AI services opt-out policy of `account_id` (as the caller, the management
/// account or a delegated administrator, sees it). Never fails: no organization, no policy,
/// denied access and AWS errors are each facts for the report.
pub async fn read_opt_out(client: &Client, account_id: &str, services: &[String]) -> OptOutFacts {
    let started = Instant::now();
    let services = service_list(services);
    let facts = read(client, account_id, &services).await;
    info!(
        control = CONTROL_ID,
        account = %account_id,
        outcome = outcome_name(&facts),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "read the AI services opt-out policy"
    );
    facts
}

async fn read(client: &Client, account_id: &str, services: &[String]) -> OptOutFacts {
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
            CallError::NoOrganization => return OptOutFacts::NoOrganization,
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
            return OptOutFacts::Evaluated {
                path: EvaluationPath::EffectivePolicy,
                effective: Box::new(effective),
                locks,
            };
        }
        Ok(None) => {
            return OptOutFacts::NoPolicy {
                path: "describe-effective-policy",
                reason: "EffectivePolicyNotFoundException".to_owned(),
            };
        }
        Err(CallError::NoOrganization) => return OptOutFacts::NoOrganization,
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
                return OptOutFacts::NoPolicy {
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
        Ok(hierarchy) => OptOutFacts::Evaluated {
            path: EvaluationPath::Hierarchy(hierarchy.describe()),
            effective: Box::new(hierarchy.merge()),
            locks: Locks::Shown,
        },
        Err(CallError::NoOrganization) => OptOutFacts::NoOrganization,
        Err(CallError::Denied { action, .. }) => {
            denied.push(action);
            OptOutFacts::Skipped {
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
            OptOutFacts::NoPolicy {
                path: "hierarchy",
                reason: format!("{err}: the account is not in this organization"),
            }
        }
        Err(err) => OptOutFacts::Failed(err.to_string()),
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

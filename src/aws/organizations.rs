//! AWS Organizations adapter for the `ai-opt-out` control: reads the account's AI services
//! opt-out policy and returns what it found as facts (`opt_out::report::OptOutFacts`).
//!
//! Owns the Organizations calls (`DescribeOrganization`, `DescribeEffectivePolicy`, and for the
//! fallback `ListParents`, `ListPoliciesForTarget`, `DescribePolicy`: all listed in
//! `aws::permissions`) and their error codes. The inheritance rules and the verdict belong to
//! the pure `crate::org_policy::opt_out`; this module only gathers documents (`opt_out::report` builds the
//! report entries).
//! It never writes to Organizations.
//!
//! Order: `DescribeOrganization` (no organization: nothing applies) and, at the same time when
//! the caller's own account is known (`Ask::caller`), `DescribeEffectivePolicy`, AWS's own
//! merge: one round trip; once this process has seen `DescribeEffectivePolicy` answer, that
//! call alone (it answers "no organization" itself). Where that call is denied or unavailable, the hierarchy from the root
//! to the account is read and merged by `crate::org_policy::opt_out`. When the effective policy says
//! `optOut` but cannot show whether a lower policy could opt back in, the hierarchy is read too
//! (best effort) for the locks. Until this process has seen `DescribeEffectivePolicy` answer
//! (`Ask::learned`), the hierarchy read starts alongside the first calls and is dropped when not
//! needed: each level's attachments are asked for as soon as the walk up finds the level, and
//! the organization's opt-out policies are listed and read meanwhile, so the fallback is as deep
//! as the walk up plus one (two round trips for an account below the root).

use super::AwsError;
use crate::org_policy::opt_out::report::{
    CONTROL_ID, EvaluationPath, Locks, OptOutFacts, outcome_name, service_list,
};
use crate::org_policy::opt_out::{self, Effective};
use crate::org_policy::{AttachedPolicy, Hierarchy, Level, TargetKind};
use aws_sdk_organizations::Client;
use aws_sdk_organizations::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_organizations::types::{EffectivePolicyType, ParentType, PolicyType};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;
use tracing::{debug, info, warn};

const DESCRIBE_ORGANIZATION: &str = "organizations:DescribeOrganization";
const DESCRIBE_EFFECTIVE_POLICY: &str = "organizations:DescribeEffectivePolicy";
const LIST_PARENTS: &str = "organizations:ListParents";
const LIST_POLICIES_FOR_TARGET: &str = "organizations:ListPoliciesForTarget";
const DESCRIBE_POLICY: &str = "organizations:DescribePolicy";
const LIST_POLICIES: &str = "organizations:ListPolicies";
const OPT_OUT: EffectivePolicyType = EffectivePolicyType::AiservicesOptOutPolicy;

/// The organization's opt-out policies are read ahead of the walk only when there are at most
/// this many; otherwise only the attached ones, once the walk has found them.
const CATALOG_MAX: usize = 10;

/// Organizations allows five levels of OUs; anything deeper is a loop or a broken answer.
const MAX_DEPTH: usize = 8;

/// Why an Organizations call gave no answer.
#[derive(Debug, thiserror::Error)]
pub(super) enum CallError {
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

    pub(super) fn code(&self) -> Option<&str> {
        match self {
            CallError::Failed(e) => e.code.as_deref(),
            _ => None,
        }
    }
}

/// What a process has learned of `DescribeEffectivePolicy`: whether it answers here. Shared
/// by every evaluation of a process, so that once the call is known to answer, no evaluation
/// reads the hierarchy ahead (Organizations' request quota is the organization's).
#[derive(Debug)]
pub struct Learned(AtomicU8);

const UNKNOWN: u8 = 0;
const ANSWERS: u8 = 1;
const DOES_NOT_ANSWER: u8 = 2;

impl Default for Learned {
    fn default() -> Self {
        Learned(AtomicU8::new(UNKNOWN))
    }
}

impl Learned {
    /// Whether `DescribeEffectivePolicy` has answered here (no hierarchy is read ahead then).
    pub fn answers(&self) -> bool {
        self.0.load(Ordering::Relaxed) == ANSWERS
    }

    fn read_ahead(&self) -> bool {
        !self.answers()
    }

    fn record(&self, answers: bool) {
        let value = if answers { ANSWERS } else { DOES_NOT_ANSWER };
        self.0.store(value, Ordering::Relaxed);
    }
}

/// What is known before asking.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ask<'a> {
    /// The account the client acts as, when known without a request: asking for its own
    /// effective policy, or naming another account, need not wait for `DescribeOrganization`.
    pub caller: Option<&'a str>,
    /// This process's experience of `DescribeEffectivePolicy` (none: start from scratch).
    pub learned: Option<&'a Learned>,
}

/// Reads the AI services opt-out policy of `account_id` (as the caller, the management
/// account or a delegated administrator, sees it). Never fails: no organization, no policy,
/// denied access and AWS errors are each facts for the report.
pub async fn read_opt_out(
    client: &Client,
    account_id: &str,
    services: &[String],
    ask: Ask<'_>,
) -> OptOutFacts {
    let started = Instant::now();
    let services = service_list(services);
    let fresh = Learned::default();
    let learned = ask.learned.unwrap_or(&fresh);
    // Boxed: the SDK's futures are large, and this one nests several (debug builds run
    // tests on 2 MiB stacks).
    let facts = Box::pin(read(client, account_id, &services, ask.caller, learned)).await;
    info!(
        control = CONTROL_ID,
        account = %account_id,
        outcome = outcome_name(&facts),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "read the AI services opt-out policy"
    );
    facts
}

async fn read(
    client: &Client,
    account_id: &str,
    services: &[String],
    caller: Option<&str>,
    learned: &Learned,
) -> OptOutFacts {
    let mut denied: Vec<&'static str> = Vec::new();
    // The hierarchy is read alongside while the effective policy may not answer: it is
    // needed whenever that call is unavailable or does not show its locks, and then it costs
    // no round trips of its own.
    let hierarchy = Speculative::new(client, account_id, learned.read_ahead());

    let (organization, effective) = match caller {
        // Known to answer here: it says "no organization" itself, and whose policy to ask
        // for is known, so `DescribeOrganization` would tell nothing more.
        Some(caller) if learned.answers() => (
            Ok(None),
            Box::pin(describe_effective(
                client,
                OPT_OUT,
                account_id,
                caller != account_id,
            ))
            .await,
        ),
        // Whose policy to ask for is known: both at once.
        Some(caller) => {
            tokio::join!(
                Box::pin(organization(client)),
                Box::pin(describe_effective(
                    client,
                    OPT_OUT,
                    account_id,
                    caller != account_id
                ))
            )
        }
        None => {
            let organization = organization(client).await;
            if matches!(organization, Err(CallError::NoOrganization)) {
                return OptOutFacts::NoOrganization;
            }
            let name_target = matches!(&organization, Ok(Some(m)) if m != account_id);
            let effective = describe_effective(client, OPT_OUT, account_id, name_target).await;
            (organization, effective)
        }
    };
    match organization {
        Ok(_) => {}
        Err(CallError::NoOrganization) => return OptOutFacts::NoOrganization,
        // Optional: it only tells whether to name a target, so carry on.
        Err(CallError::Denied { action, .. }) => denied.push(action),
        Err(other) => debug!(error = %other, "DescribeOrganization failed; carrying on without it"),
    }
    match &effective {
        Ok(_) | Err(CallError::NoOrganization) => learned.record(true),
        Err(CallError::Denied { .. } | CallError::Unavailable { .. }) => learned.record(false),
        Err(CallError::Failed(_)) => {}
    }

    let fallback_note = match effective {
        Ok(Some(content)) => {
            let effective = Effective::from_effective_content(&content);
            let locks = effective_locks(hierarchy, account_id, services, &effective).await;
            return OptOutFacts::Evaluated {
                path: EvaluationPath::EffectivePolicy,
                effective: Box::new(effective),
                locks,
                not_enforced: Vec::new(),
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
            effective: Box::new(opt_out::merge(&hierarchy.levels)),
            locks: Locks::Shown,
            not_enforced: Vec::new(),
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

/// [`read_opt_out`], then, where AWS's own effective policy answered and opts a service out,
/// AWS's validation errors for it (`ListEffectivePolicyValidationErrors`): a policy that exists
/// but is not enforced protects nothing. Best effort: errors that cannot be read are logged.
pub async fn read_opt_out_checked(
    client: &Client,
    account_id: &str,
    services: &[String],
    ask: Ask<'_>,
) -> OptOutFacts {
    let mut facts = read_opt_out(client, account_id, services, ask).await;
    let services = service_list(services);
    if let OptOutFacts::Evaluated {
        path: EvaluationPath::EffectivePolicy,
        effective,
        not_enforced,
        ..
    } = &mut facts
        && services.iter().any(|s| effective.verdict(s).is_opted_out())
    {
        *not_enforced = Box::pin(super::org_layers::validation_errors(
            client, account_id, OPT_OUT,
        ))
        .await
        .unwrap_or_else(|e| {
            debug!(account = %account_id, error = %e, "validation errors not read");
            Vec::new()
        });
    }
    facts
}

/// The organization's management account (`Ok(None)`: not named in the answer).
pub(super) async fn organization(client: &Client) -> Result<Option<String>, CallError> {
    let out = client
        .describe_organization()
        .send()
        .await
        .map_err(|e| CallError::from_sdk(DESCRIBE_ORGANIZATION, e))?;
    Ok(out
        .organization()
        .and_then(|o| o.master_account_id())
        .map(str::to_owned))
}

/// `DescribeEffectivePolicy` for the account. `Ok(None)`: no policy of this type applies.
///
/// Any account may ask for its own effective policy without a target; only the management
/// account (or a delegated administrator) may name another account. So the target is named
/// only when the account is not the caller's own (`name_target`), and a refusal to name it is
/// retried without it (the caller is then the account itself, which the answer's `TargetId`
/// confirms).
pub(super) async fn describe_effective(
    client: &Client,
    ty: EffectivePolicyType,
    account_id: &str,
    name_target: bool,
) -> Result<Option<String>, CallError> {
    let first =
        describe_effective_once(client, ty.clone(), name_target.then_some(account_id)).await;
    let answer = match first {
        Err(CallError::Denied { .. }) if name_target => {
            debug!(account = %account_id, "may not name the account; asking for the caller's own");
            describe_effective_once(client, ty.clone(), None).await
        }
        Err(err)
            if name_target
                && matches!(
                    err.code(),
                    Some("ConstraintViolationException" | "InvalidInputException")
                ) =>
        {
            debug!(account = %account_id, code = ?err.code(), "may not name the account; asking for the caller's own");
            describe_effective_once(client, ty.clone(), None).await
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
    ty: EffectivePolicyType,
    target: Option<&str>,
) -> Result<Option<(String, Option<String>)>, CallError> {
    let result = client
        .describe_effective_policy()
        .policy_type(ty)
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
    hierarchy: Speculative,
    account_id: &str,
    services: &[String],
    effective: &Effective,
) -> Locks {
    if effective.locks_known || !services.iter().any(|s| effective.verdict(s).is_opted_out()) {
        return Locks::Shown;
    }
    match hierarchy.take().await {
        Ok(hierarchy) => Locks::Read(opt_out::merge(&hierarchy.levels)),
        Err(err) => {
            debug!(account = %account_id, error = %err, "could not read the hierarchy for locks");
            Locks::Unknown(err.to_string())
        }
    }
}

/// A hierarchy read, started before it is known to be needed (or on first need): taken
/// once, aborted when dropped untaken.
struct Speculative {
    client: Client,
    account: String,
    task: Option<tokio::task::JoinHandle<Result<Hierarchy, CallError>>>,
}

impl Speculative {
    fn new(client: &Client, account_id: &str, start_now: bool) -> Speculative {
        let task = start_now.then(|| spawn_read(client, account_id));
        Speculative {
            client: client.clone(),
            account: account_id.to_owned(),
            task,
        }
    }

    async fn take(mut self) -> Result<Hierarchy, CallError> {
        let task = match self.task.take() {
            Some(task) => task,
            None => spawn_read(&self.client, &self.account),
        };
        task.await.unwrap_or_else(|e| {
            Err(CallError::Failed(AwsError::new(
                LIST_PARENTS,
                format!("reading the hierarchy stopped: {e}"),
            )))
        })
    }
}

fn spawn_read(
    client: &Client,
    account_id: &str,
) -> tokio::task::JoinHandle<Result<Hierarchy, CallError>> {
    let (client, account) = (client.clone(), account_id.to_owned());
    tokio::spawn(async move {
        read_hierarchy(&client, &account, PolicyType::AiservicesOptOutPolicy).await
    })
}

impl Drop for Speculative {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The path from the root to the account with every opt-out policy attached on it.
///
/// Three things at once: the walk up (`ListParents`, one level a round trip), each level's
/// attachments as soon as the walk has found the level, and the organization's opt-out
/// policies (`ListPolicies`, then each one's content, when there are few). Whatever the
/// catalogue lacks is read after the walk.
pub(super) async fn read_hierarchy(
    client: &Client,
    account_id: &str,
    filter: PolicyType,
) -> Result<Hierarchy, CallError> {
    let walk = async {
        let mut path = vec![(account_id.to_owned(), TargetKind::Account)];
        let mut attachments = tokio::task::JoinSet::new();
        let spawn = |set: &mut tokio::task::JoinSet<_>, index: usize, target: String| {
            let (client, filter) = (client.clone(), filter.clone());
            set.spawn(async move { (index, attached_policies(&client, &target, filter).await) });
        };
        spawn(&mut attachments, 0, account_id.to_owned());
        let mut child = account_id.to_owned();
        loop {
            if path.len() > MAX_DEPTH {
                return Err(CallError::Failed(AwsError::new(
                    LIST_PARENTS,
                    format!("no root within {MAX_DEPTH} levels above {account_id}"),
                )));
            }
            let (id, kind) = parent(client, &child).await?;
            spawn(&mut attachments, path.len(), id.clone());
            path.push((id.clone(), kind));
            if kind == TargetKind::Root {
                break;
            }
            child = id;
        }
        let mut attached = vec![Vec::new(); path.len()];
        while let Some(joined) = attachments.join_next().await {
            let (index, ids) = joined.map_err(|e| {
                CallError::Failed(AwsError::new(
                    LIST_POLICIES_FOR_TARGET,
                    format!("reading the attachments stopped: {e}"),
                ))
            })?;
            attached[index] = ids?;
        }
        Ok((path, attached))
    };
    let (walked, mut contents) = tokio::join!(walk, catalog(client, filter.clone()));
    let (mut path, mut attached) = walked?;
    path.reverse();
    attached.reverse();

    // Attached but not in the catalogue (many policies, or one created meanwhile): read now.
    let mut missing: Vec<&String> = attached
        .iter()
        .flatten()
        .filter(|id| !contents.contains_key(*id))
        .collect();
    missing.sort();
    missing.dedup();
    let read =
        futures::future::try_join_all(missing.iter().map(|id| policy_content(client, id))).await?;
    contents.extend(missing.into_iter().cloned().zip(read));

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

async fn attached_policies(
    client: &Client,
    target: &str,
    filter: PolicyType,
) -> Result<Vec<String>, CallError> {
    let mut ids = Vec::new();
    let mut pages = client
        .list_policies_for_target()
        .target_id(target)
        .filter(filter)
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

/// The content of every opt-out policy of the organization, when there are at most
/// `CATALOG_MAX`; empty when there are more or the list is refused, and without any policy
/// that could not be read (whatever is attached is then read after the walk, and its
/// failure reported there).
async fn catalog(client: &Client, filter: PolicyType) -> HashMap<String, String> {
    let mut ids = Vec::new();
    let mut pages = client
        .list_policies()
        .filter(filter)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        match page {
            Ok(page) => ids.extend(
                page.policies()
                    .iter()
                    .filter_map(|p| p.id())
                    .map(str::to_owned),
            ),
            Err(e) => {
                let err = CallError::from_sdk(LIST_POLICIES, e);
                debug!(error = %err, "no catalogue of opt-out policies; reading the attached ones");
                return HashMap::new();
            }
        }
        if ids.len() > CATALOG_MAX {
            return HashMap::new();
        }
    }
    let contents = futures::future::join_all(ids.iter().map(|id| policy_content(client, id))).await;
    ids.into_iter()
        .zip(contents)
        .filter_map(|(id, content)| content.ok().map(|c| (id, c)))
        .collect()
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

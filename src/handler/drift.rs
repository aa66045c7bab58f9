//! Drift: a guarded resource was changed after the fact. Bucket changes run the bucket's
//! three controls exactly as a sweep does (read, merge, write, read back), counting each
//! restoration so a writer fighting the function ends in an alert rather than a duel;
//! key, opt-out policy and stream processor changes re-evaluate their control.
//!
//! Loops are cut twice: the rules drop the function's own role, and [`prepare`] ignores
//! the function's own principal (and the member role) again in code.

use super::bucket::{Hold, WriteGate, guard_bucket_gated};
use super::{App, HandleError, single};
use crate::aws::clients::Clients;
use crate::aws::dynamodb::DynamoRestorations;
use crate::aws::{kms, org_drift, organizations, rekognition, s3, sts};
use crate::config::Config;
use crate::controls::{data_sharing, kms_key_spec};
use crate::event::{Drift, DriftTarget, IgnoredPrincipal, OPT_OUT_POLICY_TYPE, Plan, own_change};
use crate::report::{ControlResult, Resource, ResourceType, Severity, Status};
use crate::state::{
    DUEL_STOPPED, InProcess, MAX_RESTORATIONS, Reservation, RestorationLog, WINDOW, bucket_key,
};
use futures::StreamExt;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tracing::{info, warn};

/// At most this many guarded buckets are read to find those a changed key protects.
const MAX_DEPENDENT_BUCKETS: usize = 200;
/// Accounts whose opt-out verdict is evaluated at once after a policy change.
const OPT_OUT_CONCURRENCY: usize = 4;

/// The restoration store: the DynamoDB table when `GUARD_STATE_TABLE` is set.
pub(super) fn restoration_log(config: &Config, clients: &Clients) -> Arc<dyn RestorationLog> {
    match &config.state_table {
        Some(table) => Arc::new(DynamoRestorations::new(clients.dynamodb(), table)),
        None => Arc::new(InProcess::default()),
    }
}

impl App {
    /// This function's own principal, or the CLI caller's (`sts:GetCallerIdentity`, cached).
    pub async fn principal(&self) -> Result<&str, HandleError> {
        self.principal
            .get_or_try_init(|| async { sts::caller_arn(&self.clients.sts()).await })
            .await
            .map(String::as_str)
            .map_err(HandleError::Identity)
    }
}

/// The principals whose changes are this function's own: its role, and the member role
/// it assumes in organization scope (by name, in any account).
fn ignored_principals(own_arn: &str, member_role: &str) -> Vec<IgnoredPrincipal> {
    vec![
        IgnoredPrincipal::from_caller_arn(own_arn),
        IgnoredPrincipal::Role {
            account: None,
            name: member_role.to_owned(),
        },
    ]
}

/// Before a drift plan runs: the reason to ignore it when the change is our own, and
/// otherwise drops what the change made stale (the opt-out verdict, described keys).
pub(super) async fn prepare(app: &App, plan: &Plan) -> Result<Option<String>, HandleError> {
    let Plan::Drift(drift) = plan else {
        return Ok(None);
    };
    let ignore = ignored_principals(app.principal().await?, &app.config.member_role_name);
    if let Some(reason) = own_change(&drift.actor, &ignore) {
        info!(event_name = %drift.event_name, by = %drift.change.by, "our own change; ignored");
        return Ok(Some(reason));
    }
    match &drift.target {
        DriftTarget::OptOutPolicy { .. } => {
            app.forget_opt_out();
        }
        DriftTarget::Key { .. } => app
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear(),
        _ => {}
    }
    Ok(None)
}

pub(super) async fn run(
    app: &App,
    drift: Drift,
    account: &str,
    deadline: Instant,
) -> Vec<Resource> {
    let by = drift.change.by.as_str();
    match &drift.target {
        DriftTarget::Bucket(target) => {
            let key = app.remediation_key(&target.region).await;
            let gate = DuelGate {
                log: app.restorations.as_ref(),
                key: bucket_key(account, &target.region, &target.name),
                by,
            };
            vec![guard_bucket_gated(app, target, &key, account, deadline, Some(&gate)).await]
        }
        DriftTarget::Key { key, region } => {
            vec![key_drift(app, key, region, account, &drift.event_name, by).await]
        }
        DriftTarget::OptOutPolicy {
            policy_id,
            policy_type,
            targets,
        } => {
            opt_out_drift(
                app,
                policy_id.as_deref(),
                policy_type.as_deref(),
                targets,
                account,
            )
            .await
        }
        DriftTarget::StreamProcessor {
            id,
            region,
            data_sharing_opt_in,
        } => {
            let mut processor = single(
                ResourceType::RekognitionStreamProcessor,
                id,
                data_sharing::evaluate(
                    *data_sharing_opt_in,
                    "in the UpdateStreamProcessor request",
                )
                .reported(),
            );
            processor.region = Some(region.clone());
            if let Some(c) = processor.controls.first_mut()
                && c.status != Status::Compliant
            {
                c.detail = format!("{} (UpdateStreamProcessor by {by})", c.detail);
            }
            vec![processor]
        }
    }
}

/// Counts a restoration before a drifted bucket is written; past the limit, holds the fixes.
struct DuelGate<'a> {
    log: &'a dyn RestorationLog,
    key: String,
    by: &'a str,
}

impl WriteGate for DuelGate<'_> {
    fn permit(&self) -> BoxFuture<'_, Result<(), Hold>> {
        Box::pin(async move {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            match self.log.reserve(&self.key, self.by, now).await {
                Ok(Reservation::Granted) => Ok(()),
                Ok(Reservation::Exhausted) => {
                    warn!(key = %self.key, by = %self.by, "restoration limit reached; not restoring");
                    Err(Hold {
                        status: Status::NonCompliant,
                        severity: Severity::High,
                        why: format!(
                            "restored {MAX_RESTORATIONS} times in the last {}; last changed by {}; \
                             {DUEL_STOPPED}",
                            if WINDOW.as_secs() == 3600 {
                                "hour".to_owned()
                            } else {
                                format!("{} s", WINDOW.as_secs())
                            },
                            self.by
                        ),
                    })
                }
                Err(e) => Err(Hold {
                    status: Status::Failed,
                    severity: Severity::High,
                    why: format!(
                        "cannot count restorations ({e}); not restored, a retry converges"
                    ),
                }),
            }
        })
    }
}

/// States in which a key cannot encrypt or decrypt for S3 or Rekognition.
fn cannot_serve(state: Option<&str>) -> bool {
    matches!(
        state,
        Some(
            "Disabled"
                | "PendingDeletion"
                | "PendingReplicaDeletion"
                | "Unavailable"
                | "PendingImport"
        )
    )
}

/// A changed key: re-evaluated (`kms-key-spec`) when the remediation key, a guarded
/// bucket's default encryption or a Custom Labels project version depends on it; high
/// when it can no longer serve.
async fn key_drift(
    app: &App,
    key: &str,
    region: &str,
    account: &str,
    event_name: &str,
    by: &str,
) -> Resource {
    let client = app.clients.kms(region);
    // Not the warm cache: the point is the key's state after the change.
    let described = kms::describe(&client, key, true)
        .await
        .map_err(|e| e.to_string());
    let (arn, key_id) = match &described {
        Ok(info) => (info.arn.clone(), info.key_id.clone()),
        Err(_) => (
            key.to_owned(),
            key.rsplit('/').next().unwrap_or(key).to_owned(),
        ),
    };
    let mut dependents = Vec::new();
    if let Some(remediation) = app.config.kms_key_id.as_deref() {
        let remediation_client = app.key_clients(remediation).kms(region);
        match kms::describe(&remediation_client, remediation, false).await {
            Ok(r) if r.arn == arn || r.key_id == key_id => dependents.push(format!(
                "it is the remediation key (GUARD_KMS_KEY_ID) of every guarded bucket in {region}"
            )),
            _ => {}
        }
    }
    let rekognition = app.clients.rekognition(region);
    let (buckets, versions) = tokio::join!(
        buckets_using(app, region, account, &arn, &key_id),
        rekognition::project_versions_using_key(&rekognition, &arn, &key_id)
    );
    if !buckets.is_empty() {
        dependents.push(format!("default encryption of {}", buckets.join(", ")));
    }
    match versions {
        Ok(versions) if !versions.is_empty() => dependents.push(format!(
            "Custom Labels project versions {}",
            versions.join(", ")
        )),
        Ok(_) => {}
        // Best effort: the key's own state is still reported.
        Err(e) => warn!(error = %e, "cannot list the project versions that use the key"),
    }
    let mut resource = Resource {
        kind: ResourceType::KmsKey,
        id: arn.clone(),
        name: None,
        role: Some("drift".to_owned()),
        region: Some(region.to_owned()),
        account: None,
        controls: Vec::new(),
    };
    if dependents.is_empty() {
        resource.controls.push(ControlResult::new(
            kms_key_spec::ID,
            Status::Skipped,
            format!("{event_name} on a key neither the remediation key nor a guarded bucket uses"),
        ));
        return resource;
    }
    let mut result = kms_key_spec::evaluate(key, &described).reported();
    let state = described.as_ref().ok().and_then(|k| k.key_state.clone());
    if cannot_serve(state.as_deref()) {
        result.status = Status::NonCompliant;
        result.severity = Some(Severity::High);
        result.detail = format!(
            "key {arn} can no longer serve ({}) after {event_name} by {by}; depends on it: {}",
            state.as_deref().unwrap_or("unknown state"),
            dependents.join("; ")
        );
    } else {
        result.detail = format!(
            "{} ({event_name} by {by}; depends on it: {})",
            result.detail,
            dependents.join("; ")
        );
    }
    resource.controls.push(result);
    resource
}

/// Guarded buckets in `region` whose default encryption names the key (by ARN or id).
async fn buckets_using(
    app: &App,
    region: &str,
    account: &str,
    arn: &str,
    key_id: &str,
) -> Vec<String> {
    let client = app.clients.s3(region);
    let mut names: Vec<String> = Vec::new();
    let prefixes: Vec<String> = app.config.guarded_prefixes().map(str::to_owned).collect();
    for prefix in prefixes {
        match s3::list_buckets(&client, &prefix).await {
            Ok(found) => names.extend(
                found
                    .into_iter()
                    .filter(|(_, r)| r.as_deref().is_none_or(|r| r == region))
                    .map(|(n, _)| n),
            ),
            Err(e) => warn!(prefix = %prefix, error = %e, "cannot list buckets for key dependents"),
        }
    }
    names.sort();
    names.dedup();
    names.truncate(MAX_DEPENDENT_BUCKETS);
    let reads = futures::stream::iter(names)
        .map(|name| {
            let client = client.clone();
            async move {
                let enc = s3::read_encryption(&client, &name, account).await;
                let uses = enc
                    .ok()
                    .flatten()
                    .and_then(|e| e.kms_key_id)
                    .is_some_and(|k| k == arn || k == key_id || k.ends_with(&format!("/{key_id}")));
                uses.then_some(name)
            }
        })
        .buffered(8)
        .collect::<Vec<_>>()
        .await;
    reads.into_iter().flatten().collect()
}

/// An opt-out policy change: the accounts it can affect are evaluated again (the cache
/// was dropped in [`prepare`]). This account itself is the report's usual opt-out entry.
async fn opt_out_drift(
    app: &App,
    policy_id: Option<&str>,
    policy_type: Option<&str>,
    targets: &[String],
    account: &str,
) -> Vec<Resource> {
    let client = app.clients.organizations();
    let fail = |id: &str, detail: String| {
        vec![single(
            ResourceType::Organization,
            id,
            ControlResult::new(
                crate::org_policy::opt_out::report::CONTROL_ID,
                Status::Failed,
                detail,
            ),
        )]
    };
    if let (None, Some(id)) = (policy_type, policy_id) {
        match org_drift::policy_type(&client, id).await {
            Ok(Some(t)) if t != OPT_OUT_POLICY_TYPE => {
                return vec![single(
                    ResourceType::Organization,
                    id,
                    ControlResult::new(
                        crate::org_policy::opt_out::report::CONTROL_ID,
                        Status::Skipped,
                        format!("policy {id} is a {t}, not an AI services opt-out policy"),
                    ),
                )];
            }
            // An opt-out policy, or one already deleted: re-evaluate to be sure.
            Ok(_) => {}
            Err(e) => return fail(id, format!("cannot tell the changed policy's type: {e}")),
        }
    }
    let mut accounts: Vec<String> = Vec::new();
    if targets.is_empty() {
        match org_drift::all_accounts(&client).await {
            Ok(all) => accounts = all,
            Err(e) => {
                return fail(
                    account,
                    format!("cannot list the organization's accounts: {e}"),
                );
            }
        }
    }
    for target in targets {
        match org_drift::accounts_under(&client, target).await {
            Ok(found) => accounts.extend(found),
            Err(e) => {
                return fail(
                    target,
                    format!("cannot list the accounts below {target}: {e}"),
                );
            }
        }
    }
    accounts.sort();
    accounts.dedup();
    accounts.retain(|a| a != account);
    info!(
        accounts = accounts.len(),
        "re-evaluating the opt-out policy after a change"
    );
    let services = &app.config.opt_out_services;
    // Asked with this account's own clients, as this account; once the effective policy has
    // answered for one account, the others read no hierarchy ahead.
    let learned = organizations::Learned::default();
    let ask = organizations::Ask {
        caller: Some(account),
        learned: Some(&learned),
    };
    futures::stream::iter(accounts)
        .map(|a| {
            let client = client.clone();
            async move {
                let facts = organizations::read_opt_out_checked(&client, &a, services, ask).await;
                crate::org_policy::opt_out::report::resource(&facts, &a, services)
            }
        })
        .buffered(OPT_OUT_CONCURRENCY)
        .collect()
        .await
}

/// The control id of a weakening call an organization policy denied.
pub(super) const PREVENTED: &str = "prevented";

/// A weakening call an SCP or RCP denied: nothing changed and nothing is read or written;
/// the report (and a low alert) says which policy type prevented it and who tried.
pub(super) fn prevented(p: &crate::event::Prevented) -> Resource {
    let (kind, id, region) = match &p.drift.target {
        DriftTarget::Bucket(t) => (
            ResourceType::S3Bucket,
            t.name.clone(),
            Some(t.region.clone()),
        ),
        DriftTarget::Key { key, region } => {
            (ResourceType::KmsKey, key.clone(), Some(region.clone()))
        }
        DriftTarget::OptOutPolicy { policy_id, .. } => (
            ResourceType::Organization,
            policy_id
                .clone()
                .unwrap_or_else(|| "organization".to_owned()),
            None,
        ),
        DriftTarget::StreamProcessor { id, region, .. } => (
            ResourceType::RekognitionStreamProcessor,
            id.clone(),
            Some(region.clone()),
        ),
    };
    info!(
        event_name = %p.drift.event_name,
        by = %p.drift.change.by,
        policy_type = p.policy.policy_type(),
        resource = %id,
        "a weakening call was prevented by an organization policy"
    );
    let detail = format!(
        "{} by {} was prevented by {}: nothing changed, nothing written ({})",
        p.drift.event_name, p.drift.change.by, p.policy, p.error
    );
    let mut result = ControlResult::new(PREVENTED, Status::Compliant, detail)
        .with_severity(Severity::Low)
        .with_after(serde_json::json!({
            "event_name": p.drift.event_name,
            "prevented_by": p.policy.policy_type(),
            "by": p.drift.change.by,
            "source_ip": p.drift.change.source_ip,
            "event_time": p.drift.change.event_time,
        }));
    result.severity = Some(Severity::Low);
    Resource {
        kind,
        id,
        name: None,
        role: None,
        region,
        account: None,
        controls: vec![result],
    }
}

//! The organization sweep: the planner that queues one work item per account × Region, the
//! worker that sweeps one item through the member role (re-queuing what the deadline left),
//! and `scan --org`, which runs both in one process.

use super::gate::{self, Verdict};
use super::work::{self, WorkItem};
use super::{PLAN_CONTROL, Router, ignored, queue_region, session_name, single};
use crate::aws::{AwsError, sqs};
use crate::event::{TriggerInfo, TriggerKind};
use crate::handler::{self, Progress, Quiet};
use crate::report::{ControlResult, Report, Resource, ResourceType, Status};
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Instant;
use tracing::info;

/// One account × Region of an organization sweep, as `scan --org` shows it.
pub struct OrgSweep {
    pub sweep_id: String,
    pub accounts: usize,
    pub regions: Vec<String>,
    pub items: Vec<(WorkItem, Report)>,
    /// Accounts asked for (`--account`) that the gate refused.
    pub refused: Vec<Report>,
}

/// Progress of an organization sweep on a terminal.
pub trait OrgProgress: Send + Sync {
    fn started(&self, _item: &WorkItem) -> Box<dyn Progress + '_> {
        Box::new(Quiet)
    }
    fn finished(&self, _item: &WorkItem) {}
}

pub struct NoOrgProgress;
impl OrgProgress for NoOrgProgress {}

impl Router {
    /// The scheduled trigger in organization scope: one work item per account × Region
    /// on the queue the function consumes.
    pub(super) async fn plan_sweep(&self, trigger: TriggerInfo, deadline: Instant) -> Report {
        let started = Instant::now();
        let sweep_id = trigger
            .event_id
            .clone()
            .unwrap_or_else(|| format!("sweep-{}", session_name()));
        let trigger = TriggerInfo {
            event_name: Some("PlanSweep".to_owned()),
            ..trigger
        };
        let Some(queue) = self.config().work_queue_url.clone() else {
            let resource = single(
                ResourceType::Organization,
                "-",
                ControlResult::new(
                    PLAN_CONTROL,
                    Status::Failed,
                    "GUARD_WORK_QUEUE_URL is not set: the organization sweep has no queue to plan onto",
                ),
            );
            return handler::conclude(
                &self.app,
                trigger,
                vec![resource],
                Vec::new(),
                started,
                deadline,
            )
            .await;
        };
        let snapshot = match self.snapshot(None, true).await {
            Ok(s) => s,
            Err(e) => {
                return self
                    .failed_report(
                        None,
                        format!("cannot read the organization's accounts: {e}; nothing queued"),
                        deadline,
                    )
                    .await;
            }
        };
        let accounts = snapshot.sweepable(self.config());
        let regions = self.regions();
        let items = work::plan(&accounts, &regions, &sweep_id);
        let client = self
            .app
            .central
            .sqs(&queue_region(&queue).unwrap_or_else(|| self.home_region()));
        let mut queued: Vec<String> = Vec::new();
        let mut not_queued: Vec<Value> = Vec::new();
        for chunk in items.chunks(sqs::BATCH) {
            let entries: Vec<(String, String)> = chunk
                .iter()
                .enumerate()
                .map(|(i, item)| (i.to_string(), item.body()))
                .collect();
            match sqs::send_batch(&client, &queue, &entries).await {
                Ok(refused) => {
                    for (i, item) in chunk.iter().enumerate() {
                        match refused.iter().find(|(id, _)| *id == i.to_string()) {
                            Some((_, why)) => {
                                not_queued.push(json!({"item": item.label(), "error": why}))
                            }
                            None => queued.push(item.label()),
                        }
                    }
                }
                Err(e) => not_queued.extend(
                    chunk
                        .iter()
                        .map(|item| json!({"item": item.label(), "error": e.to_string()})),
                ),
            }
        }
        let status = if not_queued.is_empty() {
            Status::Compliant
        } else {
            Status::Failed
        };
        let detail = format!(
            "queued {} of {} work items: {} accounts x {} Regions (sweep {sweep_id}){}",
            queued.len(),
            items.len(),
            accounts.len(),
            regions.len(),
            if not_queued.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} not queued, the retried schedule plans them again",
                    not_queued.len()
                )
            }
        );
        info!(sweep_id = %sweep_id, queued = queued.len(), not_queued = not_queued.len(), "planned the organization sweep");
        let resource = Resource {
            kind: ResourceType::Organization,
            id: snapshot.organization_id.clone(),
            name: None,
            role: None,
            region: None,
            account: None,
            controls: vec![
                ControlResult::new(PLAN_CONTROL, status, detail).with_after(json!({
                    "sweep_id": sweep_id,
                    "accounts": accounts.len(),
                    "regions": regions,
                    "queued": queued,
                    "not_queued": not_queued,
                })),
            ],
        };
        handler::conclude(
            &self.app,
            trigger,
            vec![resource],
            Vec::new(),
            started,
            deadline,
        )
        .await
    }

    /// One work item: that account × Region swept through the member role. With
    /// `requeue`, buckets not reached before the deadline go back on the queue as a new
    /// item; without (the CLI), they are reported unfinished.
    pub async fn work(
        &self,
        item: &WorkItem,
        deadline: Instant,
        requeue: bool,
        progress: &dyn Progress,
    ) -> Report {
        let started = Instant::now();
        let trigger = TriggerInfo {
            kind: TriggerKind::ScheduledScan,
            event_id: Some(item.sweep_id.clone()),
            event_name: Some("Sweep".to_owned()),
            account: Some(item.account.clone()),
            region: Some(item.region.clone()),
            ignored_reason: None,
            change: None,
            principal: None,
            reference: None,
        };
        if !self.regions().contains(&item.region) {
            let reason = format!(
                "Region {} is not one the organization sweep covers (GUARD_REGIONS)",
                item.region
            );
            return handler::conclude(
                &self.app,
                ignored(trigger, reason),
                Vec::new(),
                Vec::new(),
                started,
                deadline,
            )
            .await;
        }
        let account = match self
            .gate(|s| gate::check_account(&item.account, s, self.config()))
            .await
        {
            Ok((Verdict::Pass { account }, _)) => account,
            Ok((Verdict::Reject { reason, suspicious }, _)) => {
                return self
                    .refuse(trigger, Some(&item.account), reason, suspicious, deadline)
                    .await;
            }
            Ok((Verdict::Unknown { account }, _)) => {
                return self
                    .refuse(
                        trigger,
                        Some(&account),
                        format!("account {account} could not be checked"),
                        true,
                        deadline,
                    )
                    .await;
            }
            Err(e) => {
                return self
                    .failed_report(Some(&item.account), format!("cannot read the organization's accounts: {e}; nothing assumed or written"), deadline)
                    .await;
            }
        };
        let app = match self.account_app(&account, &item.region).await {
            Ok(app) => app,
            Err(resource) => {
                return handler::conclude(
                    &self.app,
                    trigger,
                    vec![*resource],
                    Vec::new(),
                    started,
                    deadline,
                )
                .await;
            }
        };
        let (swept, org) = tokio::join!(
            handler::sweep_in(
                &app,
                &item.buckets,
                &account,
                &item.region,
                Some(&item.region),
                deadline,
                progress
            ),
            app.opt_out_until(&account, deadline)
        );
        let mut resources = swept.resources;
        resources.push(org);
        let mut unfinished = Vec::new();
        if !swept.not_started.is_empty() {
            let remainder = item.remainder(swept.not_started.clone());
            let sent = match (&self.config().work_queue_url, requeue) {
                (Some(queue), true) => {
                    let client = self
                        .app
                        .central
                        .sqs(&queue_region(queue).unwrap_or_else(|| self.home_region()));
                    sqs::send_batch(&client, queue, &[("0".to_owned(), remainder.body())])
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|refused| match refused.first() {
                            Some((_, why)) => Err(why.clone()),
                            None => Ok(()),
                        })
                }
                _ => Err("no queue to put it back on".to_owned()),
            };
            match sent {
                Ok(()) => {
                    info!(item = %item.label(), buckets = remainder.buckets.len(), "re-queued the rest of the work item");
                    resources.push(single(
                        ResourceType::Account,
                        &account,
                        ControlResult::new(
                            "sweep",
                            Status::Skipped,
                            format!(
                                "{} buckets not reached before the deadline were queued again as a new work item: {}",
                                remainder.buckets.len(),
                                remainder.buckets.join(", ")
                            ),
                        ),
                    ));
                }
                Err(why) => {
                    unfinished.extend(swept.not_started.iter().map(|name| {
                        format!("bucket {name}: not started before the deadline ({why})")
                    }))
                }
            }
        }
        handler::conclude(&app, trigger, resources, unfinished, started, deadline).await
    }

    /// `scan --org`: the planner and the workers in one process, `GUARD_ORG_CONCURRENCY`
    /// account × Region items at once, over `GUARD_REGIONS` (`--regions`).
    pub async fn sweep_organization(
        &self,
        only_accounts: &[String],
        deadline: Instant,
        progress: &dyn OrgProgress,
    ) -> Result<OrgSweep, AwsError> {
        self.sweep_organization_items(only_accounts, None, deadline, progress)
            .await
    }

    /// `apply --plan` in organization scope: only the plan's buckets, per account × Region,
    /// each account through the gate as in a sweep.
    pub async fn apply_organization(
        &self,
        planned: &std::collections::BTreeMap<(String, String), Vec<String>>,
        deadline: Instant,
        progress: &dyn OrgProgress,
    ) -> Result<OrgSweep, AwsError> {
        let mut accounts: Vec<String> = planned.keys().map(|(a, _)| a.clone()).collect();
        accounts.dedup();
        self.sweep_organization_items(&accounts, Some(planned), deadline, progress)
            .await
    }

    async fn sweep_organization_items(
        &self,
        only_accounts: &[String],
        planned: Option<&std::collections::BTreeMap<(String, String), Vec<String>>>,
        deadline: Instant,
        progress: &dyn OrgProgress,
    ) -> Result<OrgSweep, AwsError> {
        let snapshot = self.snapshot(None, true).await?;
        let sweep_id = format!("cli-{}", session_name());
        let mut refused = Vec::new();
        let accounts: Vec<String> = if only_accounts.is_empty() {
            snapshot.sweepable(self.config())
        } else {
            let mut chosen = Vec::new();
            for account in only_accounts {
                match gate::check_account(account, &snapshot, self.config()) {
                    Verdict::Pass { account } => chosen.push(account),
                    Verdict::Reject { reason, suspicious } => {
                        let trigger = TriggerInfo {
                            account: Some(account.clone()),
                            ..TriggerInfo::manual(TriggerKind::ManualScan, None)
                        };
                        refused.push(
                            self.refuse(trigger, Some(account), reason, suspicious, deadline)
                                .await,
                        );
                    }
                    Verdict::Unknown { account } => {
                        let trigger = TriggerInfo {
                            account: Some(account.clone()),
                            ..TriggerInfo::manual(TriggerKind::ManualScan, None)
                        };
                        let Verdict::Reject { reason, .. } =
                            gate::not_a_member(&account, &snapshot)
                        else {
                            continue;
                        };
                        refused.push(
                            self.refuse(trigger, Some(&account), reason, false, deadline)
                                .await,
                        );
                    }
                }
            }
            chosen
        };
        let (regions, items) = match planned {
            None => {
                let regions = self.regions();
                let items = work::plan(&accounts, &regions, &sweep_id);
                (regions, items)
            }
            Some(planned) => {
                let items: Vec<WorkItem> = planned
                    .iter()
                    .filter(|((account, _), _)| accounts.contains(account))
                    .map(|((account, region), buckets)| {
                        WorkItem::new(account, region, &sweep_id).remainder(buckets.clone())
                    })
                    .collect();
                let mut regions: Vec<String> = planned.keys().map(|(_, r)| r.clone()).collect();
                regions.sort();
                regions.dedup();
                (regions, items)
            }
        };
        let results: Vec<(WorkItem, Report)> =
            futures::stream::iter(items.into_iter().map(|item| async move {
                let bar = progress.started(&item);
                let mut report = self.work(&item, deadline, false, bar.as_ref()).await;
                report.trigger.kind = TriggerKind::ManualScan;
                progress.finished(&item);
                (item, report)
            }))
            .buffer_unordered(self.config().org_concurrency)
            .collect()
            .await;
        let mut items = results;
        items.sort_by_key(|(item, _)| item.label());
        Ok(OrgSweep {
            sweep_id,
            accounts: accounts.len(),
            regions,
            items,
            refused,
        })
    }
}

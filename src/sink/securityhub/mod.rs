//! The Security Hub sink: one ASFF finding per (account, Region, resource, control) the
//! report evaluated, imported with `BatchImportFindings` in the resource's Region, in
//! the account the report is about (the caller must be that account).
//!
//! Lifecycle: before importing, the findings already stored under the same ids are read
//! back (`GetFindings`), so `CreatedAt` and `FirstObservedAt` stay what they were and
//! `UpdatedAt` is always newer than the stored one. A deleted bucket's findings, and in a
//! full sweep those of prefix-listed buckets it no longer finds, are re-imported with
//! `RecordState` `ARCHIVED`. Calls are paced under Security Hub's quotas
//! (`BatchImportFindings` 10/s, `GetFindings` 3/s per account and Region) and throttling
//! is retried by the client. A Region where Security Hub is not enabled is `skipped`
//! with the reason; any other failure or rejected finding is an error, which fails the
//! invocation so that it is retried.

pub mod asff;

use super::{Accounts, Delivery, Sink};
use crate::aws::clients::Clients;
use crate::aws::securityhub::{self as hub, Outgoing, Query, Stored};
use crate::report::{FindingsOutcome, Report, ResourceType};
use futures::future::BoxFuture;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::{info, warn};

/// How many rejection messages the report keeps (the count is always exact).
const MAX_ERRORS: usize = 5;
/// `BatchImportFindings`: 10 requests per second per account and Region.
const IMPORT_INTERVAL: Duration = Duration::from_millis(100);
/// `GetFindings`: 3 requests per second per account and Region.
const READ_INTERVAL: Duration = Duration::from_millis(334);

pub struct Findings;

impl Sink for Findings {
    fn name(&self) -> &'static str {
        "security-hub"
    }

    fn deliver<'a>(
        &'a self,
        report: &'a Report,
        accounts: Accounts<'a>,
    ) -> BoxFuture<'a, Delivery> {
        Box::pin(async move { Delivery::Findings(import(report, accounts.subject).await) })
    }

    fn unfinished(&self, why: &str) -> Delivery {
        Delivery::Findings(FindingsOutcome {
            errors: vec![format!("findings import {why}")],
            ..FindingsOutcome::default()
        })
    }
}

/// Spaces calls at least `interval` apart.
struct Pacer {
    interval: Duration,
    next: Option<tokio::time::Instant>,
}

impl Pacer {
    fn new(interval: Duration) -> Self {
        Self {
            interval,
            next: None,
        }
    }

    async fn wait(&mut self) {
        if let Some(next) = self.next {
            tokio::time::sleep_until(next).await;
        }
        self.next = Some(tokio::time::Instant::now() + self.interval);
    }
}

/// What one Region gets.
#[derive(Default)]
struct RegionPlan<'a> {
    subjects: Vec<asff::Subject<'a>>,
    /// Ids of findings whose resource is gone (a deleted bucket).
    gone: Vec<String>,
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `now`, or just after the stored `UpdatedAt` when the clock says otherwise: Security
/// Hub ignores an update whose `UpdatedAt` is not newer.
fn newer(now: i64, stored: Option<&str>) -> String {
    let at = match stored.and_then(hub::parse_timestamp) {
        Some(prev) if prev >= now => prev + 1,
        _ => now,
    };
    hub::timestamp(at)
}

fn push_error(out: &mut FindingsOutcome, error: String) {
    warn!(error = %error, "Security Hub import problem");
    if out.errors.len() < MAX_ERRORS {
        out.errors.push(error);
    }
}

/// Imports the report's findings with `clients` (the account the report is about).
pub async fn import(report: &Report, clients: &Clients) -> FindingsOutcome {
    let mut out = FindingsOutcome::default();
    let Some(account) = report.trigger.account.as_deref() else {
        out.skipped
            .push("the report names no account: no finding imported".to_owned());
        return out;
    };
    let home = clients
        .home_region()
        .unwrap_or_else(|| "us-east-1".to_owned());
    let default_region = report.trigger.region.as_deref().unwrap_or(&home);
    let mut regions: BTreeMap<&str, RegionPlan> = BTreeMap::new();
    for s in asff::subjects(report, &home) {
        regions.entry(s.region).or_default().subjects.push(s);
    }
    for r in &report.resources {
        if r.kind == ResourceType::S3Bucket && r.role.as_deref() == Some(asff::ROLE_DELETED) {
            let region = r.region.as_deref().unwrap_or(default_region);
            regions
                .entry(region)
                .or_default()
                .gone
                .extend(asff::bucket_finding_ids(&r.id, region, account));
        }
    }
    let sweep = asff::is_full_sweep(report);
    if sweep {
        regions.entry(home.as_str()).or_default();
    }
    for (region, plan) in regions {
        import_region(
            &clients.securityhub(region),
            region,
            account,
            plan,
            report,
            sweep,
            &mut out,
        )
        .await;
    }
    info!(
        imported = out.imported,
        archived = out.archived,
        failed = out.failed,
        batches = out.batches,
        skipped = out.skipped.len(),
        "Security Hub findings"
    );
    out
}

/// Reads every stored finding `query` names, page by page.
async fn read_all(
    client: &aws_sdk_securityhub::Client,
    query: Query,
    pace: &mut Pacer,
    into: &mut HashMap<String, Stored>,
) -> Result<(), crate::aws::AwsError> {
    let mut token = None;
    loop {
        pace.wait().await;
        let (found, next) = hub::get_page(client, &query, token).await?;
        for f in found {
            into.insert(f.id.clone(), f);
        }
        match next {
            Some(t) => token = Some(t),
            None => return Ok(()),
        }
    }
}

async fn import_region(
    client: &aws_sdk_securityhub::Client,
    region: &str,
    account: &str,
    plan: RegionPlan<'_>,
    report: &Report,
    sweep: bool,
    out: &mut FindingsOutcome,
) {
    let planned = plan.subjects.len() + plan.gone.len();
    match hub::not_enabled(client).await {
        Ok(None) => {}
        Ok(Some(reason)) => {
            info!(account, region, reason = %reason, "Security Hub not enabled: findings skipped");
            out.skipped.push(format!(
                "{account}/{region}: Security Hub is not enabled ({reason})"
            ));
            return;
        }
        Err(e) => {
            out.failed += planned;
            push_error(out, format!("{account}/{region}: {e}"));
            return;
        }
    }
    let ids: Vec<String> = plan
        .subjects
        .iter()
        .map(|s| {
            let arn = asff::resource_arn(s.resource, s.region, account);
            asff::finding_id(region, account, &s.control.control, &arn)
        })
        .collect();

    // What Security Hub has now, to keep CreatedAt and to find what to archive. Without
    // it the import would reset CreatedAt: fail instead, so a retry gets it right.
    let mut stored: HashMap<String, Stored> = HashMap::new();
    let mut read_pace = Pacer::new(READ_INTERVAL);
    let read = if sweep {
        read_all(
            client,
            Query::ActiveWithPrefix(asff::id_prefix(region, account)),
            &mut read_pace,
            &mut stored,
        )
        .await
    } else {
        let mut wanted: Vec<String> = ids.iter().chain(&plan.gone).cloned().collect();
        wanted.sort();
        wanted.dedup();
        let mut result = Ok(());
        for chunk in wanted.chunks(hub::MAX_FILTER_VALUES) {
            result = read_all(
                client,
                Query::Ids(chunk.to_vec()),
                &mut read_pace,
                &mut stored,
            )
            .await;
            if result.is_err() {
                break;
            }
        }
        result
    };
    if let Err(e) = read {
        out.failed += planned;
        push_error(
            out,
            format!("{account}/{region}: cannot read the stored findings: {e}"),
        );
        return;
    }

    tracing::debug!(
        account,
        region,
        stored = stored.len(),
        planned,
        "stored findings read"
    );
    let now = now_millis();
    let now_text = hub::timestamp(now);
    let mut outgoing: Vec<Outgoing> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for (s, id) in plan.subjects.iter().zip(&ids) {
        if !seen.insert(id.as_str()) {
            continue;
        }
        let prev = stored.get(id);
        let created = prev
            .and_then(|p| p.created_at.clone())
            .filter(|t| hub::parse_timestamp(t).is_some())
            .unwrap_or_else(|| now_text.clone());
        let times = asff::Times {
            first_observed_at: prev
                .and_then(|p| p.first_observed_at.clone())
                .unwrap_or_else(|| created.clone()),
            created_at: created,
            updated_at: newer(now, prev.and_then(|p| p.updated_at.as_deref())),
        };
        outgoing.push(hub::outgoing(&asff::build(
            s,
            &report.trigger,
            account,
            &times,
        )));
    }
    let swept: HashSet<&str> = report
        .resources
        .iter()
        .filter(|r| r.kind == ResourceType::S3Bucket)
        .map(|r| r.id.as_str())
        .collect();
    let mut gone: Vec<&Stored> = plan
        .gone
        .iter()
        .filter_map(|id| stored.get(id))
        .filter(|f| f.is_active())
        .collect();
    if sweep {
        gone.extend(stored.values().filter(|f| {
            let field = |k: &str| f.product_fields.get(k).map(String::as_str);
            f.is_active()
                && !seen.contains(f.id.as_str())
                && field(asff::FIELD_RESOURCE_TYPE) == Some(ResourceType::S3Bucket.as_str())
                && field(asff::FIELD_ROLE).is_some_and(|r| asff::SWEPT_ROLES.contains(&r))
                && field(asff::FIELD_RESOURCE).is_some_and(|b| !swept.contains(b))
        }));
    }
    gone.sort_by(|a, b| a.id.cmp(&b.id));
    gone.dedup_by(|a, b| a.id == b.id);
    let archived_ids: HashSet<String> = gone.iter().map(|f| f.id.clone()).collect();
    for f in gone {
        outgoing.push(hub::archived(f, &newer(now, f.updated_at.as_deref())));
    }

    let mut pace = Pacer::new(IMPORT_INTERVAL);
    for chunk in outgoing.chunks(hub::MAX_BATCH) {
        pace.wait().await;
        out.batches += 1;
        match hub::import(client, chunk.to_vec()).await {
            Ok(result) => {
                let rejected: HashSet<&str> = result
                    .rejected
                    .iter()
                    .map(|(id, _, _)| id.as_str())
                    .collect();
                out.imported += result.success;
                out.archived += chunk
                    .iter()
                    .filter(|o| archived_ids.contains(o.id()) && !rejected.contains(o.id()))
                    .count();
                out.failed += result.rejected.len();
                for (id, code, message) in &result.rejected {
                    push_error(out, format!("{id}: {code}: {message}"));
                }
            }
            Err(e) if hub::is_not_enabled(&e) => {
                out.skipped.push(format!(
                    "{account}/{region}: Security Hub is not enabled ({})",
                    e.message
                ));
                return;
            }
            Err(e) => {
                out.failed += chunk.len();
                push_error(out, format!("{account}/{region}: {e}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updated_at_is_always_newer_than_the_stored_one() {
        let now = 1_767_225_600_000;
        assert_eq!(newer(now, None), hub::timestamp(now));
        assert_eq!(
            newer(now, Some(&hub::timestamp(now - 5))),
            hub::timestamp(now)
        );
        // A stored time ahead of this clock (skew): one millisecond after it.
        assert_eq!(
            newer(now, Some(&hub::timestamp(now + 60_000))),
            hub::timestamp(now + 60_001)
        );
        assert_eq!(newer(now, Some("garbage")), hub::timestamp(now));
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_calls() {
        let mut p = Pacer::new(IMPORT_INTERVAL);
        let start = tokio::time::Instant::now();
        for _ in 0..3 {
            p.wait().await;
        }
        assert_eq!(start.elapsed(), IMPORT_INTERVAL * 2);
    }
}

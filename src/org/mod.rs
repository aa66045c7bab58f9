//! Organization scope: a router in front of the single-account handler.
//!
//! Owns what only an organization has: SQS batches of forwarded events, the account gate
//! (`gate`), member credentials (`sts:AssumeRole` into `GUARD_MEMBER_ROLE_NAME`, cached
//! until shortly before expiry), the sweep planner and its workers (`work`). It hands the
//! handler an `App` whose clients act in the member account; controls and adapters never
//! ask which scope they run in. Nothing is assumed or written before the gate has passed
//! the record.

pub mod gate;
pub mod work;

use crate::aws::{AwsError, org_accounts, sqs, sts};
use crate::config::Scope;
use crate::event::{self, SCHEDULED_DETAIL_TYPE, TriggerInfo, TriggerKind};
use crate::handler::{self, App, HandleError, Progress, Quiet};
use crate::report::{ControlResult, Report, Resource, ResourceType, Severity, Status, exit};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use gate::{Snapshot, Verdict};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::{info, warn};
use work::WorkItem;

/// How long a snapshot of the organization's accounts is trusted.
const SNAPSHOT_TTL: Duration = Duration::from_secs(600);
/// An unknown account triggers a fresh read at most this often (forged records cannot
/// turn into a stream of `ListAccounts` calls).
const UNKNOWN_REFRESH: Duration = Duration::from_secs(60);
/// Member credentials are renewed this long before they expire.
const CREDENTIAL_MARGIN: Duration = Duration::from_secs(300);

/// The gate's control id, and the member-credentials control's.
pub const GATE_CONTROL: &str = "member-gate";
pub const ACCESS_CONTROL: &str = "member-access";
pub const PLAN_CONTROL: &str = "sweep-plan";

struct Member {
    app: Arc<App>,
    expires: SystemTime,
}

type MemberSlot = Arc<tokio::sync::Mutex<Option<Member>>>;

/// The function's entry for every payload: routes it to the single-account handler, the
/// batch of queue records, the planner or a worker.
pub struct Router {
    pub app: Arc<App>,
    members: Mutex<HashMap<String, MemberSlot>>,
    snapshot: tokio::sync::Mutex<Option<Arc<Snapshot>>>,
}

/// What one payload produced.
pub enum Handled {
    Report(Box<Report>),
    Batch(BatchOutcome),
}

/// One queue record's outcome.
#[derive(Debug)]
pub struct RecordOutcome {
    pub message_id: String,
    pub report: Report,
    /// The record's exit code: `1` is retried by SQS, anything else is acknowledged.
    pub code: u8,
}

#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub records: Vec<RecordOutcome>,
}

impl BatchOutcome {
    /// Exactly the records whose outcome is retryable (the exit-1 class).
    pub fn response(&self) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = self
            .records
            .iter()
            .filter(|r| r.code == exit::FAILED)
            .map(|r| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = r.message_id.clone();
                failure
            })
            .collect();
        response
    }

    /// `{"batchItemFailures": […], "reports": [<report with its message_id>…]}`.
    pub fn to_json(&self) -> Value {
        let reports: Vec<Value> = self
            .records
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(&r.report).unwrap_or(Value::Null);
                if let Value::Object(map) = &mut v {
                    map.insert("message_id".to_owned(), json!(r.message_id));
                }
                v
            })
            .collect();
        let failures = serde_json::to_value(self.response())
            .ok()
            .and_then(|v| v.get("batchItemFailures").cloned())
            .unwrap_or_else(|| json!([]));
        json!({"batchItemFailures": failures, "reports": reports})
    }

    /// The worst record's exit code: failed, then bad input, then non-compliant.
    pub fn exit_code(&self) -> u8 {
        worst(self.records.iter().map(|r| r.code))
    }
}

/// Failed (1) is worse than bad input (2), which is worse than non-compliance (3).
pub fn worst(codes: impl Iterator<Item = u8>) -> u8 {
    let rank = |c: u8| match c {
        exit::FAILED => 3,
        exit::BAD_INPUT => 2,
        exit::NON_COMPLIANT => 1,
        _ => 0,
    };
    codes.max_by_key(|c| rank(*c)).unwrap_or(exit::OK)
}

/// Whether a payload is an SQS event (the event source mapping's batch).
pub fn is_sqs_event(payload: &Value) -> bool {
    payload
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(|r| r.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs")
}

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

fn role_arn(region: &str, account: &str, role: &str) -> String {
    format!(
        "arn:{}:iam::{account}:role/{role}",
        event::partition(region)
    )
}

fn session_name() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("rekognition-guard-{secs}")
}

fn single(kind: ResourceType, id: &str, control: ControlResult) -> Resource {
    Resource {
        kind,
        id: id.to_owned(),
        role: None,
        region: None,
        controls: vec![control],
    }
}

fn ignored(mut trigger: TriggerInfo, reason: String) -> TriggerInfo {
    trigger.kind = TriggerKind::Ignored;
    trigger.ignored_reason = Some(reason);
    trigger
}

/// The trigger of an envelope, as far as it can be read (for records the gate refuses).
fn envelope_trigger(value: &Value, config: &crate::config::Config) -> TriggerInfo {
    match event::parse(value, config) {
        Ok(parsed) => parsed.trigger,
        Err(_) => TriggerInfo::manual(TriggerKind::Ignored, None),
    }
}

impl Router {
    pub fn new(app: App) -> Self {
        Self {
            app: Arc::new(app),
            members: Mutex::default(),
            snapshot: tokio::sync::Mutex::new(None),
        }
    }

    fn config(&self) -> &crate::config::Config {
        &self.app.config
    }

    fn home_region(&self) -> String {
        self.app
            .central
            .home_region()
            .unwrap_or_else(|| "us-east-1".to_owned())
    }

    /// Regions an organization sweep covers.
    pub fn regions(&self) -> Vec<String> {
        if self.config().regions.is_empty() {
            vec![self.home_region()]
        } else {
            self.config().regions.clone()
        }
    }

    /// Handles one payload: an SQS batch, an organization's scheduled sweep, or (as in
    /// account scope) one EventBridge event.
    pub async fn handle(&self, payload: &Value, deadline: Instant) -> Result<Handled, HandleError> {
        if is_sqs_event(payload) {
            let batch: SqsEvent = serde_json::from_value(payload.clone())
                .map_err(|e| HandleError::BadEvent(event::EventError::NotJson(e)))?;
            return Ok(Handled::Batch(self.handle_batch(batch, deadline).await));
        }
        let parsed = event::parse(payload, self.config())?;
        Ok(Handled::Report(Box::new(
            self.handle_event(payload, parsed, deadline).await?,
        )))
    }

    /// One EventBridge event delivered directly (not through the queue): in organization
    /// scope the schedule starts the planner and a CloudTrail event passes the gate like
    /// a queued one; in account scope, the single-account handler.
    pub async fn handle_event(
        &self,
        payload: &Value,
        parsed: event::Parsed,
        deadline: Instant,
    ) -> Result<Report, HandleError> {
        if self.config().scope == Scope::Account {
            return handler::handle_parsed(&self.app, parsed, deadline).await;
        }
        if parsed.trigger.kind == TriggerKind::ScheduledScan {
            return Ok(self.plan_sweep(parsed.trigger, deadline).await);
        }
        Ok(self.route_event(payload, deadline).await)
    }

    /// The records of one batch, concurrently (bounded by `GUARD_ORG_CONCURRENCY`).
    pub async fn handle_batch(&self, batch: SqsEvent, deadline: Instant) -> BatchOutcome {
        let mut records: Vec<RecordOutcome> = futures::stream::iter(
            batch
                .records
                .iter()
                .map(|record| self.handle_record(record, deadline)),
        )
        .buffered(self.config().org_concurrency)
        .collect()
        .await;
        // Keep the batch's own order (buffered already does); ids make it explicit.
        records.sort_by_key(|r| {
            batch
                .records
                .iter()
                .position(|m| m.message_id.as_deref() == Some(r.message_id.as_str()))
        });
        BatchOutcome { records }
    }

    async fn handle_record(&self, record: &SqsMessage, deadline: Instant) -> RecordOutcome {
        let started = Instant::now();
        let message_id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or("");
        let outcome = |report: Report| {
            let code = report.exit_code();
            RecordOutcome {
                message_id: message_id.clone(),
                report,
                code,
            }
        };
        let bad_id = message_id.clone();
        let bad = |reason: String| async move {
            let message_id = bad_id;
            warn!(message_id = %message_id, reason = %reason, "queue record is bad input; acknowledged");
            let trigger = ignored(
                TriggerInfo::manual(TriggerKind::Ignored, None),
                format!("bad input: {reason}"),
            );
            let report = handler::conclude(
                &self.app,
                trigger,
                Vec::new(),
                Vec::new(),
                started,
                deadline,
            )
            .await;
            RecordOutcome {
                message_id: message_id.clone(),
                report,
                code: exit::BAD_INPUT,
            }
        };
        let value: Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => return bad(format!("the message body is not JSON: {e}")).await,
        };
        if work::is_work_item(&value) {
            return match work::parse(&value) {
                Ok(item) if self.config().scope == Scope::Organization => {
                    outcome(self.work(&item, deadline, true, &Quiet).await)
                }
                Ok(_) => bad("work items are for GUARD_SCOPE=organization".to_owned()).await,
                Err(e) => bad(e).await,
            };
        }
        if self.config().scope == Scope::Account {
            return match event::parse(&value, self.config()) {
                Ok(parsed) => match handler::handle_parsed(&self.app, parsed, deadline).await {
                    Ok(report) => outcome(report),
                    Err(HandleError::BadEvent(e)) => bad(e.to_string()).await,
                    Err(e) => outcome(self.failed_report(None, e.to_string(), deadline).await),
                },
                Err(e) => bad(e.to_string()).await,
            };
        }
        if let Err(e) = event::parse(&value, self.config()) {
            return bad(e.to_string()).await;
        }
        outcome(self.route_event(&value, deadline).await)
    }

    /// A report for work that could not start (identity or organization unreadable).
    async fn failed_report(
        &self,
        account: Option<&str>,
        detail: String,
        deadline: Instant,
    ) -> Report {
        let trigger = TriggerInfo {
            account: account.map(str::to_owned),
            ..TriggerInfo::manual(TriggerKind::Ignored, self.app.central.home_region())
        };
        let resource = single(
            ResourceType::Account,
            account.unwrap_or("-"),
            ControlResult::new(GATE_CONTROL, Status::Failed, detail),
        );
        handler::conclude(
            &self.app,
            trigger,
            vec![resource],
            Vec::new(),
            Instant::now(),
            deadline,
        )
        .await
    }

    /// The organization's snapshot: read when missing or older than its TTL, and again
    /// (at most once a minute) when `unknown` names an account it does not hold.
    async fn snapshot(
        &self,
        unknown: Option<&str>,
        force: bool,
    ) -> Result<Arc<Snapshot>, AwsError> {
        let mut slot = self.snapshot.lock().await;
        let stale = match &*slot {
            None => true,
            Some(s) => {
                force
                    || s.read_at.elapsed() > SNAPSHOT_TTL
                    || unknown.is_some_and(|a| {
                        !s.accounts.contains_key(a) && s.read_at.elapsed() > UNKNOWN_REFRESH
                    })
            }
        };
        if !stale && let Some(s) = &*slot {
            return Ok(Arc::clone(s));
        }
        let fresh = Arc::new(self.read_snapshot().await?);
        *slot = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    async fn read_snapshot(&self) -> Result<Snapshot, AwsError> {
        let client = self.app.central.organizations();
        let ((organization_id, management_account), accounts) = tokio::try_join!(
            org_accounts::describe(&client),
            org_accounts::list_accounts(&client)
        )?;
        let below =
            futures::future::try_join_all(self.config().ous_exclude.iter().map(|ou| async {
                Ok::<_, AwsError>((ou.clone(), org_accounts::accounts_below(&client, ou).await?))
            }))
            .await?;
        let mut excluded_by_ou = HashMap::new();
        for (ou, accounts) in below {
            for account in accounts {
                excluded_by_ou.entry(account).or_insert_with(|| ou.clone());
            }
        }
        info!(
            organization = %organization_id,
            accounts = accounts.len(),
            excluded_by_ou = excluded_by_ou.len(),
            "read the organization's accounts"
        );
        Ok(Snapshot {
            organization_id,
            management_account,
            accounts: accounts.into_iter().map(|a| (a.id, a.state)).collect(),
            excluded_by_ou,
            read_at: Instant::now(),
        })
    }

    /// The gate for an account: a fresh read when the snapshot does not know it.
    async fn gate(
        &self,
        first: impl Fn(&Snapshot) -> Verdict,
    ) -> Result<(Verdict, Arc<Snapshot>), AwsError> {
        let snapshot = self.snapshot(None, false).await?;
        match first(&snapshot) {
            Verdict::Unknown { account } => {
                let fresh = self.snapshot(Some(&account), false).await?;
                let verdict = match first(&fresh) {
                    Verdict::Unknown { account } => gate::not_a_member(&account, &fresh),
                    other => other,
                };
                Ok((verdict, fresh))
            }
            other => Ok((other, snapshot)),
        }
    }

    /// A forwarded EventBridge event: gate, member credentials, then the handler.
    async fn route_event(&self, value: &Value, deadline: Instant) -> Report {
        let started = Instant::now();
        let config = self.config();
        if value.get("detail-type").and_then(Value::as_str) == Some(SCHEDULED_DETAIL_TYPE) {
            let trigger = ignored(
                envelope_trigger(value, config),
                "scheduled events start the planner directly; they are not taken from the queue"
                    .to_owned(),
            );
            return handler::conclude(
                &self.app,
                trigger,
                Vec::new(),
                Vec::new(),
                started,
                deadline,
            )
            .await;
        }
        let named = value
            .get("account")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let verdict = match self.gate(|s| gate::check_event(value, s, config)).await {
            Ok((verdict, _)) => verdict,
            Err(e) => {
                return self
                    .failed_report(
                        named.as_deref(),
                        format!("cannot read the organization's accounts to check the record: {e}; nothing assumed or written"),
                        deadline,
                    )
                    .await;
            }
        };
        let account = match verdict {
            Verdict::Pass { account } => account,
            Verdict::Reject { reason, suspicious } => {
                return self
                    .refuse(
                        envelope_trigger(value, config),
                        named.as_deref(),
                        reason,
                        suspicious,
                        deadline,
                    )
                    .await;
            }
            Verdict::Unknown { account } => {
                // `gate` never returns Unknown; refuse rather than act if it ever did.
                return self
                    .refuse(
                        envelope_trigger(value, config),
                        Some(&account),
                        format!("account {account} could not be checked"),
                        true,
                        deadline,
                    )
                    .await;
            }
        };
        let parsed = match event::parse(value, config) {
            Ok(parsed) => parsed,
            Err(e) => {
                let trigger = ignored(envelope_trigger(value, config), format!("bad input: {e}"));
                return handler::conclude(
                    &self.app,
                    trigger,
                    Vec::new(),
                    Vec::new(),
                    started,
                    deadline,
                )
                .await;
            }
        };
        if parsed.plan == event::Plan::Ignore {
            // Nothing to guard: no credentials needed.
            return handler::conclude(
                &self.app,
                parsed.trigger,
                Vec::new(),
                Vec::new(),
                started,
                deadline,
            )
            .await;
        }
        let region = parsed
            .trigger
            .region
            .clone()
            .unwrap_or_else(|| self.home_region());
        let app = match self.account_app(&account, &region).await {
            Ok(app) => app,
            Err(resource) => {
                return handler::conclude(
                    &self.app,
                    parsed.trigger,
                    vec![*resource],
                    Vec::new(),
                    started,
                    deadline,
                )
                .await;
            }
        };
        match handler::handle_parsed(&app, parsed, deadline).await {
            Ok(report) => report,
            Err(e) => {
                self.failed_report(Some(&account), e.to_string(), deadline)
                    .await
            }
        }
    }

    /// A record the gate refused: ignored with the reason; a forged-looking one is
    /// reported on the account it names, high, so the alert goes out.
    async fn refuse(
        &self,
        trigger: TriggerInfo,
        account: Option<&str>,
        reason: String,
        suspicious: bool,
        deadline: Instant,
    ) -> Report {
        warn!(account = account.unwrap_or("-"), reason = %reason, suspicious, "record refused by the gate");
        let resources = if suspicious {
            vec![single(
                ResourceType::Account,
                account.unwrap_or("-"),
                ControlResult::new(
                    GATE_CONTROL,
                    Status::NonCompliant,
                    format!("refused: {reason}; nothing assumed or written"),
                )
                .with_severity(Severity::High),
            )]
        } else {
            Vec::new()
        };
        handler::conclude(
            &self.app,
            ignored(trigger, reason),
            resources,
            Vec::new(),
            Instant::now(),
            deadline,
        )
        .await
    }

    /// The `App` acting in `account`: the function's own for the guard account, else one
    /// built from the member role's credentials (cached per account until 5 minutes
    /// before they expire). A failure is the `member-access` resource to report.
    pub async fn account_app(
        &self,
        account: &str,
        region: &str,
    ) -> Result<Arc<App>, Box<Resource>> {
        if let Ok(own) = self.app.account().await
            && own == account
        {
            return Ok(Arc::clone(&self.app));
        }
        let slot = Arc::clone(
            self.members
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(account.to_owned())
                .or_default(),
        );
        let mut slot = slot.lock().await;
        if let Some(member) = &*slot
            && member.expires > SystemTime::now() + CREDENTIAL_MARGIN
        {
            return Ok(Arc::clone(&member.app));
        }
        let role = role_arn(region, account, &self.config().member_role_name);
        match sts::assume_role(
            &self.app.central.sts_in(region),
            &role,
            &session_name(),
            self.config().member_external_id.as_deref(),
        )
        .await
        {
            Ok(credentials) => {
                info!(account, role = %role, "assumed the member role");
                let clients = self.app.central.for_credentials(credentials.credentials);
                let app = Arc::new(self.app.for_account(account, clients));
                *slot = Some(Member {
                    app: Arc::clone(&app),
                    expires: credentials.expires,
                });
                Ok(app)
            }
            Err(e) => {
                warn!(account, role = %role, error = %e, "member role not assumed");
                let why = if e.is_access_denied() {
                    "access denied"
                } else {
                    "failed"
                };
                Err(Box::new(single(
                    ResourceType::Account,
                    account,
                    ControlResult::new(
                        ACCESS_CONTROL,
                        Status::Failed,
                        format!(
                            "account not onboarded: sts:AssumeRole on {role} {why} ({e}); none of the account's resources were read or changed"
                        ),
                    ),
                )))
            }
        }
    }

    /// The scheduled trigger in organization scope: one work item per account × Region
    /// on the queue the function consumes.
    async fn plan_sweep(&self, trigger: TriggerInfo, deadline: Instant) -> Report {
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
            role: None,
            region: None,
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
        let regions = self.regions();
        let items = work::plan(&accounts, &regions, &sweep_id);
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

/// The Region of an SQS queue URL (`https://sqs.<region>.amazonaws.com/…`).
fn queue_region(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let region = host.strip_prefix("sqs.")?.split('.').next()?;
    event::is_region(region).then(|| region.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_regions() {
        assert_eq!(
            queue_region("https://sqs.eu-west-1.amazonaws.com/123456789012/q").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(queue_region("http://127.0.0.1:5000/123456789012/q"), None);
    }

    #[test]
    fn worst_code_orders_failed_bad_input_non_compliant() {
        assert_eq!(worst([0, 3, 2].into_iter()), exit::BAD_INPUT);
        assert_eq!(worst([3, 1, 2].into_iter()), exit::FAILED);
        assert_eq!(worst([0, 3].into_iter()), exit::NON_COMPLIANT);
        assert_eq!(worst(std::iter::empty()), exit::OK);
    }

    #[test]
    fn role_arns_use_the_region_partition() {
        assert_eq!(
            role_arn("us-east-1", "111122223333", "RekognitionGuardMember"),
            "arn:aws:iam::111122223333:role/RekognitionGuardMember"
        );
        assert_eq!(
            role_arn("cn-north-1", "111122223333", "R"),
            "arn:aws-cn:iam::111122223333:role/R"
        );
    }
}

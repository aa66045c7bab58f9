//! Orchestration: trigger → resources → facts → findings → fixes → verify → report → alert.
//!
//! The handler is an ordinary async function over an event and `&App`, so the Lambda,
//! the CLI and the tests call the same code. It owns ordering and safety rules: no
//! write on an ignored event, an unreadable exemption tag, an exempt bucket, an
//! audit-only resource or in audit mode; every write is verified by reading back.

use crate::alert;
use crate::aws::clients::Clients;
use crate::aws::{AwsError, kms, organizations, sns, sts};
use crate::config::Config;
use crate::controls::kms_key_spec::{self, KeyInfo};
use crate::controls::sse_kms::KeyTarget;
use crate::controls::{Outcome, customer_managed_key, data_sharing};
use crate::event::{self, EventError, Plan, TriggerInfo, TriggerKind};
use crate::report::{AlertOutcome, ControlResult, Report, Resource, ResourceType, Status};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::info;

mod bucket;
mod early;
mod sweep;

pub use bucket::guard_bucket;
pub use sweep::{Progress, Quiet, Swept, sweep, sweep_in};

/// Stop starting new writes this close to the deadline, to report what was done.
const DEADLINE_MARGIN: Duration = Duration::from_secs(2);
/// Abandon work still running this close to the deadline: the report and the alert
/// must still go out before Lambda stops the invocation.
const HARD_STOP_MARGIN: Duration = Duration::from_millis(500);
const NOT_FINISHED: &str = "not finished before the invocation's deadline";

fn hard_stop(deadline: Instant) -> tokio::time::Instant {
    tokio::time::Instant::from_std(deadline.checked_sub(HARD_STOP_MARGIN).unwrap_or(deadline))
}

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error(transparent)]
    BadEvent(#[from] EventError),
    #[error("cannot tell which account this runs in: {0}")]
    Identity(#[source] AwsError),
}

/// One key's description, filled once; concurrent callers wait for the same request.
type KeyCell = Arc<tokio::sync::OnceCell<KeyInfo>>;

/// Opt-out verdicts per account, with the time each was evaluated.
type OptOutCache = Mutex<HashMap<String, (Instant, Resource)>>;

/// State built once per process and reused while warm: one per account served.
///
/// `clients` act in the account guarded (a member account's role in organization
/// scope); `central` are the function's own, for what lives in the guard account (the
/// alert topic, Organizations). In account scope both are the same.
#[derive(Debug)]
pub struct App {
    pub config: Config,
    pub clients: Arc<Clients>,
    pub central: Arc<Clients>,
    account: tokio::sync::OnceCell<String>,
    /// `(region, key, with rotation)` → the key, described once per warm process.
    keys: Mutex<HashMap<(String, String, bool), KeyCell>>,
    /// Shared by every account's `App`: the verdicts come from the guard account.
    opt_out: Arc<OptOutCache>,
}

impl App {
    pub fn new(config: Config, clients: Clients) -> Self {
        let clients = Arc::new(clients);
        Self {
            config,
            central: Arc::clone(&clients),
            clients,
            account: tokio::sync::OnceCell::new(),
            keys: Mutex::default(),
            opt_out: Arc::default(),
        }
    }

    /// The same function acting in `account` with that account's `clients` (organization
    /// scope): its own key cache, the shared opt-out cache, alerts through `central`.
    pub fn for_account(&self, account: &str, clients: Clients) -> Self {
        Self {
            config: self.config.clone(),
            clients: Arc::new(clients),
            central: Arc::clone(&self.central),
            account: tokio::sync::OnceCell::new_with(Some(account.to_owned())),
            keys: Mutex::default(),
            opt_out: Arc::clone(&self.opt_out),
        }
    }

    /// Forgets the cached opt-out verdicts (all accounts).
    pub fn forget_opt_out(&self) {
        self.opt_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// This function's own account (`sts:GetCallerIdentity`, cached).
    pub async fn account(&self) -> Result<&str, HandleError> {
        self.account
            .get_or_try_init(|| async { sts::caller_account(&self.clients.sts()).await })
            .await
            .map(String::as_str)
            .map_err(HandleError::Identity)
    }

    /// Describes a key in a region. Successes are cached while warm, and concurrent
    /// callers (a sweep's buckets) share one in-flight request instead of each sending it.
    async fn describe_key(
        &self,
        region: &str,
        key: &str,
        with_rotation: bool,
    ) -> Result<KeyInfo, AwsError> {
        let cell = Arc::clone(
            self.keys
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry((region.to_owned(), key.to_owned(), with_rotation))
                .or_default(),
        );
        let client = self.clients.kms(region);
        cell.get_or_try_init(|| kms::describe(&client, key, with_rotation))
            .await
            .cloned()
    }

    /// The key remediation writes in `region`, checked with the `kms-key-spec` rules.
    async fn remediation_key(&self, region: &str) -> KeyTarget {
        let Some(requested) = self.config.kms_key_id.as_deref() else {
            return KeyTarget::AwsManaged;
        };
        key_target(requested, self.describe_key(region, requested, false).await)
    }

    /// The opt-out verdict, or a `failed` result if it is not known before `deadline`.
    pub async fn opt_out_until(&self, account: &str, deadline: Instant) -> Resource {
        match tokio::time::timeout_at(hard_stop(deadline), self.opt_out(account)).await {
            Ok(resource) => resource,
            Err(_) => Resource {
                kind: ResourceType::Organization,
                id: account.to_owned(),
                role: None,
                region: None,
                controls: vec![ControlResult::new(
                    organizations::CONTROL_ID,
                    Status::Failed,
                    format!("{NOT_FINISHED}: the opt-out policy was not evaluated"),
                )],
            },
        }
    }

    /// The AI services opt-out verdict, cached for `GUARD_OPT_OUT_CACHE_SECONDS`.
    pub async fn opt_out(&self, account: &str) -> Resource {
        let ttl = self.config.opt_out_cache;
        if let Some((at, resource)) = self
            .opt_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(account)
            && at.elapsed() < ttl
        {
            return resource.clone();
        }
        // From the guard account: Organizations policies are read by the management
        // account or a delegated administrator, with the member as the target.
        let resource = organizations::evaluate_opt_out(
            &self.central.organizations(),
            account,
            &self.config.opt_out_services,
        )
        .await;
        self.opt_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(account.to_owned(), (Instant::now(), resource.clone()));
        resource
    }
}

fn key_target(requested: &str, described: Result<KeyInfo, AwsError>) -> KeyTarget {
    match described {
        Ok(info) => match kms_key_spec::check(&info) {
            Ok(()) => KeyTarget::Customer(info),
            Err(reason) => KeyTarget::Unusable {
                requested: requested.to_owned(),
                reason,
            },
        },
        Err(e) => KeyTarget::Unusable {
            requested: requested.to_owned(),
            reason: e.to_string(),
        },
    }
}

/// Handles one EventBridge event. `deadline`: when the invocation must have returned.
pub async fn handle(app: &App, event: &Value, deadline: Instant) -> Result<Report, HandleError> {
    let parsed = event::parse(event, &app.config)?;
    handle_parsed(app, parsed, deadline).await
}

/// Handles an event already parsed (the CLI validates its input before any client exists).
pub async fn handle_parsed(
    app: &App,
    parsed: event::Parsed,
    deadline: Instant,
) -> Result<Report, HandleError> {
    let started = Instant::now();
    let mut trigger = parsed.trigger;
    let mut resources = Vec::new();
    let mut unfinished = Vec::new();
    let home = app.clients.home_region();
    if let Some(reason) = foreign_partition(trigger.region.as_deref(), home.as_deref()) {
        trigger.kind = TriggerKind::Ignored;
        trigger.ignored_reason = Some(reason);
    } else if parsed.plan != Plan::Ignore {
        let (plan, accounts) = (parsed.plan, parsed.accounts);
        // While STS answers: the bucket's reads and the opt-out evaluation, for the account
        // the event names (see `early`); nothing is written before STS confirms it.
        let named = early::named_account(&accounts);
        let _reads = named.and_then(|a| early::bucket_reads(app, &plan, a));
        let early_org = async {
            match named {
                Some(a) => Some(app.opt_out_until(a, deadline).await),
                None => None,
            }
        };
        let guarded = async {
            // The remediation key is described while STS answers: one round trip, not two.
            let (account, ()) = tokio::join!(app.account(), prefetch_key(app, &plan));
            let account = account?.to_owned();
            if let Some(reason) = foreign_account(&accounts, &account) {
                return Ok::<_, HandleError>(Err(reason));
            }
            let late_org = async {
                match named == Some(account.as_str()) {
                    true => None,
                    false => Some(app.opt_out_until(&account, deadline).await),
                }
            };
            let (planned, org) = tokio::join!(
                run_plan(app, plan, &account, deadline, &mut unfinished),
                late_org
            );
            Ok(Ok((planned, org)))
        };
        let (guarded, early_org) = tokio::join!(guarded, early_org);
        match guarded? {
            Err(reason) => {
                trigger.kind = TriggerKind::Ignored;
                trigger.ignored_reason = Some(reason);
            }
            Ok((mut planned, org)) => {
                resources.append(&mut planned);
                resources.extend(org.or(early_org));
            }
        }
    }
    Ok(finish(app, trigger, resources, unfinished, started, deadline).await)
}

/// Runs a sweep of every guarded bucket (`scan`), optionally limited to `only`.
pub async fn scan(
    app: &App,
    only: &[String],
    deadline: Instant,
    kind: TriggerKind,
    progress: &dyn Progress,
) -> Result<Report, HandleError> {
    let started = Instant::now();
    let account = app.account().await?.to_owned();
    let mut unfinished = Vec::new();
    let trigger = TriggerInfo {
        account: Some(account.clone()),
        event_name: Some("Scan".to_owned()),
        ..TriggerInfo::manual(kind, app.clients.home_region())
    };
    let (mut resources, org) = tokio::join!(
        sweep(app, only, &account, deadline, &mut unfinished, progress),
        app.opt_out_until(&account, deadline)
    );
    resources.push(org);
    Ok(finish(app, trigger, resources, unfinished, started, deadline).await)
}

/// Evaluates the AI services opt-out policy alone (`opt-out`).
pub async fn opt_out_check(app: &App, deadline: Instant) -> Result<Report, HandleError> {
    let started = Instant::now();
    let account = app.account().await?.to_owned();
    let trigger = TriggerInfo {
        account: Some(account.clone()),
        event_name: Some("OptOutCheck".to_owned()),
        ..TriggerInfo::manual(TriggerKind::OptOutCheck, app.clients.home_region())
    };
    let resources = vec![app.opt_out_until(&account, deadline).await];
    Ok(finish(app, trigger, resources, Vec::new(), started, deadline).await)
}

/// Fills the key cache for the region the plan's output bucket is in.
async fn prefetch_key(app: &App, plan: &Plan) {
    let region = match plan {
        Plan::Bucket(target) | Plan::ProjectVersion { output: target, .. } => Some(&target.region),
        Plan::StreamProcessor {
            output: Some(target),
            ..
        } => Some(&target.region),
        _ => None,
    };
    if let Some(region) = region {
        app.remediation_key(region).await;
    }
}

/// EventBridge never delivers across partitions: an event from another partition than
/// the function's own is forged or misrouted, and its ARNs would name another world.
fn foreign_partition(region: Option<&str>, home: Option<&str>) -> Option<String> {
    let (region, home) = (region?, home?);
    let (theirs, ours) = (event::partition(region), event::partition(home));
    (theirs != ours).then(|| {
        format!("the event is from {region} (partition {theirs}); this function runs in partition {ours}")
    })
}

/// The event names another account than this one (no cross-account role exists yet).
fn foreign_account(named: &[String], account: &str) -> Option<String> {
    named.iter().find(|a| *a != account).map(|other| {
        format!(
            "the event is for account {}, this function runs in {account} and no cross-account role is configured",
            other.chars().take(40).collect::<String>()
        )
    })
}

async fn run_plan(
    app: &App,
    plan: Plan,
    account: &str,
    deadline: Instant,
    unfinished: &mut Vec<String>,
) -> Vec<Resource> {
    match plan {
        Plan::Ignore => Vec::new(),
        Plan::Bucket(target) => {
            let key = app.remediation_key(&target.region).await;
            vec![guard_bucket(app, &target, &key, account, deadline).await]
        }
        Plan::ProjectVersion {
            id,
            output,
            kms_key_id,
            training_data,
        } => {
            let mut resources = Vec::new();
            let (key_resource, key_target) = rekognition_key(
                app,
                &output.region,
                kms_key_id.as_deref(),
                "project-version",
            )
            .await;
            resources.extend(key_resource);
            resources.push(single(
                ResourceType::RekognitionProjectVersion,
                &id,
                customer_managed_key::evaluate(kms_key_id.as_deref(), app.config.require_cmk)
                    .reported(),
            ));
            let key = match (&app.config.kms_key_id, key_target) {
                (None, Some(project_key)) => project_key,
                _ => app.remediation_key(&output.region).await,
            };
            let output_fut = guard_bucket(app, &output, &key, account, deadline);
            let training_fut = futures::future::join_all(
                training_data
                    .iter()
                    .map(|t| guard_bucket(app, t, &KeyTarget::AwsManaged, account, deadline)),
            );
            let (out, training) = tokio::join!(output_fut, training_fut);
            resources.push(out);
            resources.extend(training);
            resources
        }
        Plan::StreamProcessor {
            id,
            output,
            kms_key_id,
            data_sharing_opt_in,
        } => {
            let region = output
                .as_ref()
                .map(|o| o.region.clone())
                .or_else(|| app.clients.home_region())
                .unwrap_or_default();
            let mut resources = Vec::new();
            let (key_resource, _) =
                rekognition_key(app, &region, kms_key_id.as_deref(), "stream-processor").await;
            resources.extend(key_resource);
            let mut processor = single(
                ResourceType::RekognitionStreamProcessor,
                &id,
                data_sharing::evaluate(data_sharing_opt_in).reported(),
            );
            processor.controls.push(
                customer_managed_key::evaluate(kms_key_id.as_deref(), app.config.require_cmk)
                    .reported(),
            );
            resources.push(processor);
            if let Some(output) = output {
                let key = app.remediation_key(&output.region).await;
                resources.push(guard_bucket(app, &output, &key, account, deadline).await);
            }
            resources
        }
        Plan::Scan => sweep(app, &[], account, deadline, unfinished, &Quiet).await,
    }
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

/// The `kms-key-spec` resource for a key a Rekognition resource names, and — when it is
/// usable — the key itself as a remediation target.
async fn rekognition_key(
    app: &App,
    region: &str,
    key: Option<&str>,
    role: &str,
) -> (Option<Resource>, Option<KeyTarget>) {
    let Some(requested) = key else {
        return (None, None);
    };
    let described = app
        .describe_key(region, requested, true)
        .await
        .map_err(|e| e.to_string());
    let finding = kms_key_spec::evaluate(requested, &described);
    let usable = matches!(finding.outcome, Outcome::Compliant);
    let id = described
        .as_ref()
        .map_or_else(|_| requested.to_owned(), |k| k.arn.clone());
    let resource = Resource {
        kind: ResourceType::KmsKey,
        id,
        role: Some(role.to_owned()),
        region: Some(region.to_owned()),
        controls: vec![finding.reported()],
    };
    let target = match (usable, described) {
        (true, Ok(info)) => Some(KeyTarget::Customer(info)),
        _ => None,
    };
    (Some(resource), target)
}

/// Builds and delivers the report of work done outside `handle_parsed` (the
/// organization router's gate, planner and workers): severities, alert, summary line.
pub async fn conclude(
    app: &App,
    trigger: TriggerInfo,
    resources: Vec<Resource>,
    unfinished: Vec<String>,
    started: Instant,
    deadline: Instant,
) -> Report {
    finish(app, trigger, resources, unfinished, started, deadline).await
}

/// Severities, the alert, and the summary log line.
async fn finish(
    app: &App,
    trigger: TriggerInfo,
    resources: Vec<Resource>,
    unfinished: Vec<String>,
    started: Instant,
    deadline: Instant,
) -> Report {
    let mut report = Report {
        trigger,
        mode: app.config.mode,
        resources,
        alert: AlertOutcome::default(),
        unfinished,
    };
    alert::classify_all(&mut report);
    report.alert = match tokio::time::timeout_at(
        hard_stop(deadline) + HARD_STOP_MARGIN / 2,
        publish_alert(app, &report),
    )
    .await
    {
        Ok(outcome) => outcome,
        Err(_) => AlertOutcome {
            error: Some(format!("alert {NOT_FINISHED}")),
            ..AlertOutcome::default()
        },
    };
    log_summary(app, &report, started);
    report
}

async fn publish_alert(app: &App, report: &Report) -> AlertOutcome {
    if !report.needs_attention() {
        return AlertOutcome {
            reason: Some("nothing needs attention".to_owned()),
            ..AlertOutcome::default()
        };
    }
    let Some(topic) = app.config.alert_topic_arn.as_deref() else {
        return AlertOutcome {
            reason: Some("GUARD_ALERT_TOPIC_ARN is not set; logged only".to_owned()),
            ..AlertOutcome::default()
        };
    };
    let region = sns::topic_region(topic).unwrap_or_default();
    let attributes = alert::attributes(report);
    match sns::publish(
        &app.central.sns(&region),
        topic,
        &alert::subject(report),
        &alert::body(report),
        &attributes,
    )
    .await
    {
        Ok(message_id) => AlertOutcome {
            published: true,
            message_id: Some(message_id),
            ..AlertOutcome::default()
        },
        Err(e) => {
            tracing::error!(topic, error = %e, "alert publish failed");
            AlertOutcome {
                error: Some(e.to_string()),
                ..AlertOutcome::default()
            }
        }
    }
}

fn log_summary(app: &App, report: &Report, started: Instant) {
    let counts: serde_json::Map<String, Value> = report
        .counts()
        .into_iter()
        .map(|(s, n)| (s.as_str().to_owned(), Value::from(n)))
        .collect();
    let counts = Value::Object(counts).to_string();
    let elapsed_ms = started.elapsed().as_millis() as u64;
    info!(
        event_id = report.trigger.event_id.as_deref().unwrap_or("-"),
        trigger = report.trigger.kind.as_str(),
        event_name = report.trigger.event_name.as_deref().unwrap_or("-"),
        counts = %counts,
        ignored_reason = report.trigger.ignored_reason.as_deref().unwrap_or(""),
        alert_published = report.alert.published,
        aws_requests = app.clients.counter().requests(),
        s3_writes = app.clients.counter().s3_writes(),
        elapsed_ms,
        "invocation summary"
    );
}

//! Orchestration: trigger → resources → facts → findings → fixes → verify → report → alert.
//!
//! The handler is an ordinary async function over an event and `&App`, so the Lambda,
//! the CLI and the tests call the same code. It owns ordering and safety rules: no
//! write on an ignored event, an unreadable exemption tag, an exempt bucket, an
//! audit-only resource or in audit mode; every write is verified by reading back.

use crate::alert;
use crate::aws::clients::Clients;
use crate::aws::{AwsError, kms, organizations, rekognition, s3, sns, sts};
use crate::config::{Config, Mode};
use crate::controls::kms_key_spec::{self, KeyInfo};
use crate::controls::sse_kms::{self, KeyTarget};
use crate::controls::{
    Finding, Fix, Outcome, customer_managed_key, data_sharing, public_access_block, tls_only,
};
use crate::event::{self, BucketTarget, EventError, Plan, TriggerInfo, TriggerKind};
use crate::policy::Requirement;
use crate::report::{AlertOutcome, ControlResult, Report, Resource, ResourceType, Status};
use futures::StreamExt;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How long to keep retrying S3's fresh-bucket races (`OperationAborted`, `NoSuchBucket`)
/// on a bucket the event just created, and on any other bucket.
const RACE_BUDGET_FRESH: Duration = Duration::from_secs(20);
const RACE_BUDGET: Duration = Duration::from_secs(2);
/// Stop starting new writes this close to the deadline, to report what was done.
const DEADLINE_MARGIN: Duration = Duration::from_secs(2);
/// Abandon work still running this close to the deadline: the report and the alert
/// must still go out before Lambda stops the invocation.
const HARD_STOP_MARGIN: Duration = Duration::from_millis(500);
const NOT_FINISHED: &str = "not finished before the invocation's deadline";

fn hard_stop(deadline: Instant) -> tokio::time::Instant {
    tokio::time::Instant::from_std(deadline.checked_sub(HARD_STOP_MARGIN).unwrap_or(deadline))
}
/// Re-read/re-merge rounds for the bucket policy when a concurrent writer interferes.
const POLICY_ROUNDS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error(transparent)]
    BadEvent(#[from] EventError),
    #[error("cannot tell which account this runs in: {0}")]
    Identity(#[source] AwsError),
}

/// State built once per process and reused while warm.
#[derive(Debug)]
pub struct App {
    pub config: Config,
    pub clients: Clients,
    account: tokio::sync::OnceCell<String>,
    keys: Mutex<HashMap<(String, String), KeyInfo>>,
    opt_out: Mutex<Option<(Instant, Resource)>>,
}

impl App {
    pub fn new(config: Config, clients: Clients) -> Self {
        Self {
            config,
            clients,
            account: tokio::sync::OnceCell::new(),
            keys: Mutex::default(),
            opt_out: Mutex::default(),
        }
    }

    /// This function's own account (`sts:GetCallerIdentity`, cached).
    pub async fn account(&self) -> Result<&str, HandleError> {
        self.account
            .get_or_try_init(|| async { sts::caller_account(&self.clients.sts()).await })
            .await
            .map(String::as_str)
            .map_err(HandleError::Identity)
    }

    /// Describes a key in a region; successes are cached while warm.
    async fn describe_key(
        &self,
        region: &str,
        key: &str,
        with_rotation: bool,
    ) -> Result<KeyInfo, AwsError> {
        let cache_key = (region.to_owned(), key.to_owned());
        if let Some(hit) = self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&cache_key)
            && (!with_rotation || hit.rotation_enabled.is_some() || hit.is_aws_managed())
        {
            return Ok(hit.clone());
        }
        let info = kms::describe(&self.clients.kms(region), key, with_rotation).await?;
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(cache_key, info.clone());
        Ok(info)
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
        if let Some((at, resource)) = &*self
            .opt_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            && at.elapsed() < ttl
            && resource.id == account
        {
            return resource.clone();
        }
        let resource = organizations::evaluate_opt_out(
            &self.clients.organizations(),
            account,
            &self.config.opt_out_services,
        )
        .await;
        *self
            .opt_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), resource.clone()));
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
    let started = Instant::now();
    let parsed = event::parse(event, &app.config)?;
    let mut trigger = parsed.trigger;
    let mut resources = Vec::new();
    let mut unfinished = Vec::new();
    if parsed.plan != Plan::Ignore {
        let account = app.account().await?.to_owned();
        if let Some(reason) = foreign_account(event, &account) {
            trigger.kind = TriggerKind::Ignored;
            trigger.ignored_reason = Some(reason);
        } else {
            let (mut planned, org) = tokio::join!(
                run_plan(app, parsed.plan, &account, deadline, &mut unfinished),
                app.opt_out_until(&account, deadline)
            );
            resources.append(&mut planned);
            resources.push(org);
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

/// The event names another account than this one (no cross-account role exists yet).
fn foreign_account(event: &Value, account: &str) -> Option<String> {
    let named = [
        event.get("account").and_then(Value::as_str),
        event
            .pointer("/detail/recipientAccountId")
            .and_then(Value::as_str),
    ];
    named.into_iter().flatten().find(|a| *a != account).map(|other| {
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
                    .unapplied(Status::NonCompliant, "not auto-fixable"),
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
                data_sharing::evaluate(data_sharing_opt_in)
                    .unapplied(Status::NonCompliant, "not auto-fixable"),
            );
            processor.controls.push(
                customer_managed_key::evaluate(kms_key_id.as_deref(), app.config.require_cmk)
                    .unapplied(Status::NonCompliant, "not auto-fixable"),
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
        controls: vec![finding.unapplied(Status::NonCompliant, "not auto-fixable")],
    };
    let target = match (usable, described) {
        (true, Ok(info)) => Some(KeyTarget::Customer(info)),
        _ => None,
    };
    (Some(resource), target)
}

/// Progress of a sweep, for a terminal's progress bar.
pub trait Progress: Send + Sync {
    fn total(&self, _buckets: usize) {}
    fn done(&self, _bucket: &str) {}
}

/// No progress display (Lambda, JSON output, tests).
pub struct Quiet;
impl Progress for Quiet {}

/// A bucket a sweep will guard: its region when the listing said it.
struct Candidate {
    name: String,
    region: Option<String>,
    role: &'static str,
}

/// The buckets a sweep covers: every guarded prefix's buckets and the output buckets of
/// existing Custom Labels project versions, or exactly `only`.
async fn candidates(
    app: &App,
    only: &[String],
    home: &str,
    resources: &mut Vec<Resource>,
) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = Vec::new();
    let mut add = |name: String, region: Option<String>, role: &'static str| {
        if !found.iter().any(|c| c.name == name) {
            found.push(Candidate { name, region, role });
        }
    };
    if !only.is_empty() {
        for name in only {
            match event::check_bucket_name(name) {
                Ok(()) => add(
                    name.clone(),
                    None,
                    app.config.bucket_role(name).unwrap_or("scan"),
                ),
                Err(reason) => resources.push(single(
                    ResourceType::S3Bucket,
                    name,
                    ControlResult::new("scan", Status::Skipped, reason),
                )),
            }
        }
        return found;
    }
    let s3_home = app.clients.s3(home);
    let prefixes: Vec<String> = app.config.guarded_prefixes().map(str::to_owned).collect();
    for prefix in prefixes {
        match s3::list_buckets(&s3_home, &prefix).await {
            Ok(buckets) => {
                for (name, region) in buckets {
                    let role = app.config.bucket_role(&name).unwrap_or("scan");
                    add(name, region, role);
                }
            }
            Err(e) => resources.push(single(
                ResourceType::S3Bucket,
                &format!("{prefix}*"),
                ControlResult::new("scan", Status::Failed, format!("cannot list buckets: {e}")),
            )),
        }
    }
    match rekognition::project_output_buckets(&app.clients.rekognition(home)).await {
        Ok(buckets) => {
            for name in buckets
                .into_iter()
                .filter(|b| event::check_bucket_name(b).is_ok())
            {
                add(name, None, "output");
            }
        }
        // "When the role allows it": a sweep without Rekognition read access still runs.
        Err(e) => info!(error = %e, "Custom Labels output buckets not listed"),
    }
    found
}

/// Lists guarded buckets (or takes `only`), resolves their regions and guards them with
/// bounded concurrency; a bucket not started before the deadline is reported unfinished.
pub async fn sweep(
    app: &App,
    only: &[String],
    account: &str,
    deadline: Instant,
    unfinished: &mut Vec<String>,
    progress: &dyn Progress,
) -> Vec<Resource> {
    let home = app
        .clients
        .home_region()
        .unwrap_or_else(|| "us-east-1".to_owned());
    let mut resources = Vec::new();
    let found = candidates(app, only, &home, &mut resources).await;
    progress.total(found.len());
    let s3_home = &app.clients.s3(&home);
    let mut stream = futures::stream::iter(found.into_iter().map(|c| async move {
        if Instant::now() + DEADLINE_MARGIN >= deadline {
            return Err(c.name);
        }
        let region = match c.region {
            Some(region) => region,
            None => match s3::bucket_region(s3_home, &c.name, account).await {
                Ok(region) => region,
                Err(e) => {
                    let status = if e.code.as_deref() == Some("NoSuchBucket") {
                        Status::Skipped
                    } else {
                        Status::Failed
                    };
                    return Ok(single(
                        ResourceType::S3Bucket,
                        &c.name,
                        ControlResult::new(
                            "scan",
                            status,
                            format!("cannot resolve the bucket's region: {e}"),
                        ),
                    ));
                }
            },
        };
        let target = BucketTarget {
            name: c.name,
            region,
            role: c.role,
            audit_only: false,
            fresh: false,
        };
        let key = app.remediation_key(&target.region).await;
        Ok(guard_bucket(app, &target, &key, account, deadline).await)
    }))
    .buffer_unordered(app.config.scan_concurrency);
    while let Some(result) = stream.next().await {
        match result {
            Ok(resource) => {
                progress.done(&resource.id);
                resources.push(resource);
            }
            Err(name) => {
                progress.done(&name);
                unfinished.push(format!("bucket {name}: not started before the deadline"));
            }
        }
    }
    resources.sort_by(|a, b| a.id.cmp(&b.id));
    resources
}

/// The facts one bucket's controls need, read concurrently.
struct BucketFacts {
    tags: Result<Vec<(String, String)>, AwsError>,
    encryption: Result<Option<sse_kms::Encryption>, AwsError>,
    public_access_block: Result<Option<public_access_block::PublicAccessBlock>, AwsError>,
    policy: Result<Option<String>, AwsError>,
}

async fn read_facts(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
    audit_only: bool,
    race: s3::Race,
) -> BucketFacts {
    let tags = s3::race_retry(race, || s3::read_tags(client, bucket, owner));
    let encryption = s3::race_retry(race, || s3::read_encryption(client, bucket, owner));
    if audit_only {
        let (tags, encryption) = tokio::join!(tags, encryption);
        return BucketFacts {
            tags,
            encryption,
            public_access_block: Ok(None),
            policy: Ok(None),
        };
    }
    let pab = s3::race_retry(race, || s3::read_public_access_block(client, bucket, owner));
    let policy = s3::race_retry(race, || s3::read_policy(client, bucket, owner));
    let (tags, encryption, public_access_block, policy) =
        tokio::join!(tags, encryption, pab, policy);
    BucketFacts {
        tags,
        encryption,
        public_access_block,
        policy,
    }
}

fn unreadable(control: &'static str, e: &AwsError) -> ControlResult {
    if e.code.as_deref() == Some("NoSuchBucket") {
        return ControlResult::new(
            control,
            Status::Skipped,
            "the bucket does not exist (NoSuchBucket); nothing written",
        );
    }
    let detail = if e.is_access_denied() {
        format!(
            "cannot read the bucket's state: access denied ({}); nothing written",
            e.operation
        )
    } else {
        format!("cannot read the bucket's state: {e}; nothing written")
    };
    ControlResult::new(control, Status::Failed, detail)
}

/// Evaluates the S3 controls on one bucket and, in remediate mode, applies and verifies,
/// giving up shortly before `deadline`: then every control of the bucket is `failed`
/// with what was not finished (a retried event converges).
pub async fn guard_bucket(
    app: &App,
    target: &BucketTarget,
    key: &KeyTarget,
    account: &str,
    deadline: Instant,
) -> Resource {
    let work = guard_bucket_unbounded(app, target, key, account, deadline);
    match tokio::time::timeout_at(hard_stop(deadline), work).await {
        Ok(resource) => resource,
        Err(_) => {
            warn!(bucket = %target.name, "bucket not finished before the deadline");
            let controls: &[&str] = if target.audit_only {
                &[sse_kms::ID]
            } else {
                &[sse_kms::ID, public_access_block::ID, tls_only::ID]
            };
            Resource {
                kind: ResourceType::S3Bucket,
                id: target.name.clone(),
                role: Some(target.role.to_owned()),
                region: Some(target.region.clone()),
                controls: controls
                    .iter()
                    .map(|c| {
                        ControlResult::new(
                            c,
                            Status::Failed,
                            format!("{NOT_FINISHED}; state not verified, a retry converges"),
                        )
                    })
                    .collect(),
            }
        }
    }
}

async fn guard_bucket_unbounded(
    app: &App,
    target: &BucketTarget,
    key: &KeyTarget,
    account: &str,
    deadline: Instant,
) -> Resource {
    let client = app.clients.s3(&target.region);
    let budget = if target.fresh {
        RACE_BUDGET_FRESH
    } else {
        RACE_BUDGET
    };
    let race = s3::Race {
        until: deadline.min(Instant::now() + budget),
        fresh: target.fresh,
    };
    let facts = read_facts(&client, &target.name, account, target.audit_only, race).await;
    let req = Requirement::new(
        &target.name,
        event::partition(&target.region),
        app.config.min_tls_version.as_deref(),
    );
    let mut resource = Resource {
        kind: ResourceType::S3Bucket,
        id: target.name.clone(),
        role: Some(target.role.to_owned()),
        region: Some(target.region.clone()),
        controls: Vec::new(),
    };
    let controls: &[&'static str] = if target.audit_only {
        &[sse_kms::ID]
    } else {
        &[sse_kms::ID, public_access_block::ID, tls_only::ID]
    };

    // Without the tags the exemption is unknown: write nothing at all.
    let tags = match facts.tags {
        Ok(tags) => tags,
        Err(e) => {
            warn!(bucket = %target.name, error = %e, "cannot read bucket tags; no control will write");
            resource.controls = controls
                .iter()
                .map(|c| {
                    let mut r = unreadable(c, &e);
                    if r.status == Status::Failed {
                        r.detail = format!("cannot read the bucket's tags to check the exemption ({e}); nothing written");
                    }
                    r
                })
                .collect();
            return resource;
        }
    };
    let exempt = tags
        .iter()
        .any(|(k, v)| *k == app.config.exempt_tag && v.eq_ignore_ascii_case("true"));

    let existing_key = match facts
        .encryption
        .as_ref()
        .ok()
        .and_then(|e| sse_kms::needs_existing_key(e.as_ref(), key))
    {
        // Undescribable (e.g. another account's key): treated as a customer key, so kept.
        Some(existing) => app
            .describe_key(&target.region, &existing, false)
            .await
            .ok(),
        None => None,
    };
    let findings: Vec<(&'static str, Result<Finding, &AwsError>)> = vec![
        (
            sse_kms::ID,
            facts
                .encryption
                .as_ref()
                .map(|e| sse_kms::evaluate(e.as_ref(), key, existing_key.as_ref())),
        ),
        (
            public_access_block::ID,
            facts
                .public_access_block
                .as_ref()
                .map(|p| public_access_block::evaluate(p.as_ref())),
        ),
        (
            tls_only::ID,
            facts
                .policy
                .as_ref()
                .map(|p| tls_only::evaluate(p.as_deref(), &req)),
        ),
    ];
    let mut to_apply = Vec::new();
    for (control, finding) in findings.into_iter().filter(|(c, _)| controls.contains(c)) {
        let finding = match finding {
            Ok(f) => f,
            Err(e) => {
                resource.controls.push(unreadable(control, e));
                continue;
            }
        };
        if exempt {
            let mut r = ControlResult::new(
                control,
                Status::Exempt,
                format!(
                    "exempt by tag {}=true; found: {}",
                    app.config.exempt_tag, finding.detail
                ),
            )
            .with_before(finding.before);
            r.severity = finding.severity;
            resource.controls.push(r);
        } else if target.audit_only {
            resource.controls.push(finding.unapplied(
                Status::NonCompliant,
                "source data is reported, never changed",
            ));
        } else if app.config.mode == Mode::Audit {
            resource
                .controls
                .push(finding.unapplied(Status::WouldRemediate, "audit mode"));
        } else if let Outcome::Fix(_) = finding.outcome {
            to_apply.push(finding);
        } else {
            resource
                .controls
                .push(finding.unapplied(Status::NonCompliant, "not auto-fixable"));
        }
    }
    if !to_apply.is_empty() {
        if Instant::now() + DEADLINE_MARGIN >= deadline {
            for f in to_apply {
                resource
                    .controls
                    .push(f.unapplied(Status::Failed, "the invocation's deadline was near"));
            }
        } else {
            let applied = futures::future::join_all(
                to_apply
                    .into_iter()
                    .map(|f| apply_and_verify(&client, target, account, key, &req, f, race)),
            )
            .await;
            resource.controls.extend(applied);
        }
    }
    let order = |c: &str| controls.iter().position(|x| *x == c).unwrap_or(usize::MAX);
    resource.controls.sort_by_key(|c| order(&c.control));
    resource
}

/// Applies one fix, then reads the bucket back and reports what it verified.
async fn apply_and_verify(
    client: &aws_sdk_s3::Client,
    target: &BucketTarget,
    owner: &str,
    key: &KeyTarget,
    req: &Requirement,
    finding: Finding,
    race: s3::Race,
) -> ControlResult {
    let bucket = target.name.as_str();
    let Outcome::Fix(fix) = &finding.outcome else {
        return finding.unapplied(Status::NonCompliant, "not auto-fixable");
    };
    let verified: Result<(Finding, Value), AwsError> = match fix {
        Fix::Encryption(enc) => {
            async {
                s3::race_retry(race, || s3::put_encryption(client, bucket, owner, enc)).await?;
                let now =
                    s3::race_retry(race, || s3::read_encryption(client, bucket, owner)).await?;
                // The key we wrote is the target key: no need to describe it again.
                Ok((
                    sse_kms::evaluate(now.as_ref(), key, None),
                    sse_kms::state(now.as_ref()),
                ))
            }
            .await
        }
        Fix::PublicAccessBlock => {
            async {
                s3::race_retry(race, || s3::put_public_access_block(client, bucket, owner)).await?;
                let now =
                    s3::race_retry(race, || s3::read_public_access_block(client, bucket, owner))
                        .await?;
                Ok((
                    public_access_block::evaluate(now.as_ref()),
                    public_access_block::state(now.as_ref()),
                ))
            }
            .await
        }
        Fix::Policy { document, .. } => {
            merge_policy_until_verified(client, bucket, owner, req, document, race).await
        }
    };
    let (control, before, detail) = (finding.control, finding.before, finding.detail);
    match verified {
        Ok((after, state)) if after.outcome == Outcome::Compliant => {
            info!(control, bucket, "remediated and verified");
            ControlResult::new(control, Status::Remediated, detail)
                .with_before(before)
                .with_after(state)
        }
        Ok((after, state)) => {
            warn!(control, bucket, found = %after.detail, "write not verified");
            ControlResult::new(
                control,
                Status::Failed,
                format!("{detail}; wrote it, but read back: {}", after.detail),
            )
            .with_before(before)
            .with_after(state)
        }
        Err(e) => {
            warn!(control, bucket, error = %e, "remediation failed");
            ControlResult::new(control, Status::Failed, format!("{detail}; {e}"))
                .with_before(before)
        }
    }
}

/// Puts the merged policy, reads it back, and — if a concurrent writer replaced it in
/// between — merges into what is there now and puts again, a bounded number of times.
/// Each put is a full merge of the policy just read, so no statement read is dropped.
async fn merge_policy_until_verified(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
    req: &Requirement,
    first: &str,
    race: s3::Race,
) -> Result<(Finding, Value), AwsError> {
    let mut document = first.to_owned();
    let mut last = None;
    for _ in 0..POLICY_ROUNDS {
        s3::race_retry(race, || s3::put_policy(client, bucket, owner, &document)).await?;
        let now = s3::race_retry(race, || s3::read_policy(client, bucket, owner)).await?;
        let finding = tls_only::evaluate(now.as_deref(), req);
        let state = tls_only::state(now.as_deref(), req);
        match &finding.outcome {
            Outcome::Fix(Fix::Policy { document: next, .. }) => {
                warn!(bucket, "bucket policy changed under us; merging again");
                document = next.clone();
                last = Some((finding, state));
            }
            _ => return Ok((finding, state)),
        }
    }
    Ok(last.unwrap_or_else(|| (tls_only::evaluate(None, req), Value::Null)))
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
    if !alert::is_due(report) {
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
        &app.clients.sns(&region),
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
    let kind = serde_json::to_value(report.trigger.kind).unwrap_or_default();
    info!(
        event_id = report.trigger.event_id.as_deref().unwrap_or("-"),
        trigger = kind.as_str().unwrap_or("-"),
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

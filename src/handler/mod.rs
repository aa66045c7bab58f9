//! Orchestration: trigger → resources → facts → findings → fixes → verify → report → alert.
//!
//! The handler is an ordinary async function over an event and `&App`, so the Lambda,
//! the CLI and the tests call the same code. It owns ordering and safety rules: no
//! write on an ignored event, an unreadable exemption tag, an exempt bucket, an
//! audit-only resource or in audit mode; every write is verified by reading back.

use crate::alert;
use crate::aws::clients::Clients;
use crate::aws::{AwsError, kms, organizations, sts};
use crate::config::Config;
use crate::controls::Outcome;
use crate::controls::kms_key_spec::{self, KeyInfo};
use crate::controls::sse_kms::KeyTarget;
use crate::event::{self, EventError, Plan, TriggerInfo, TriggerKind};
use crate::org_policy::opt_out;
use crate::region;
use crate::report::{AlertOutcome, ControlResult, Report, Resource, ResourceType, Status};
use crate::{sink, standards};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::info;

mod bucket;
mod drift;
mod early;
mod reencrypt;
mod rekognition;
mod safety;
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

/// One account's opt-out verdict and when it was evaluated; the async lock makes
/// concurrent callers (a batch's records of one account) wait for one evaluation.
type OptOutSlot = Arc<tokio::sync::Mutex<Option<(Instant, Resource)>>>;
/// Opt-out verdicts per account.
type OptOutCache = Mutex<HashMap<String, OptOutSlot>>;

/// A key policy and when it was read; concurrent readers (a sweep's buckets) wait for one.
type KeyPolicySlot = Arc<tokio::sync::Mutex<Option<(Instant, String)>>>;
/// How long a key policy read is trusted: long enough for a sweep to read it once, short
/// enough that a grant added to fix a held bucket counts on the next event.
const KEY_POLICY_TTL: Duration = Duration::from_secs(60);

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
    /// `(region, key ARN)` → its key policy, for [`KEY_POLICY_TTL`].
    key_policies: Mutex<HashMap<(String, String), KeyPolicySlot>>,
    /// Shared by every account's `App`: the verdicts come from the guard account.
    opt_out: Arc<OptOutCache>,
    /// Whether `DescribeEffectivePolicy` answers here (shared, like the verdicts).
    opt_out_learned: Arc<organizations::Learned>,
    /// A member's `App`: the guard account `central` acts as, when it was known.
    central_account: Option<String>,
    /// `(region, bucket)` → when this warm process last verified it compliant.
    verified: Mutex<HashMap<(String, String), Instant>>,
    /// Bucket → its Region, as `GetBucketLocation` said (a bucket never moves): an
    /// organization sweep's items for one account's Regions look each bucket up once.
    bucket_regions: Mutex<HashMap<String, String>>,
    /// This function's own principal (STS caller ARN): its changes are not drift.
    principal: tokio::sync::OnceCell<String>,
    /// Drift restorations per bucket: `GUARD_STATE_TABLE` (in the guard account), or this
    /// process alone; shared by every account's `App`.
    restorations: Arc<dyn crate::state::RestorationLog>,
    /// `apply --plan`: the only writes allowed (shared by every account's `App`).
    pub approved: Option<Arc<crate::change::plan::Approved>>,
    /// Where this process records its writes (`crate::change::store`).
    pub history: Arc<crate::change::store::Store>,
    /// The scope rules document (`crate::scope`); empty: `GUARD_MODE` decides.
    pub rules: Arc<crate::scope::Rules>,
    /// `--dry-run` and `plan`: nothing is written, whatever a rule says.
    pub dry_run: bool,
    /// A fixed "now" (milliseconds since the epoch) for exceptions' dates: tests set it.
    pub clock: Option<i64>,
    /// The OUs of this `App`'s account, root first, read once when a rule names an OU.
    ous: tokio::sync::OnceCell<Result<Vec<String>, String>>,
    /// The layers above this account's buckets (account Block Public Access, the
    /// organization's S3 policy, RCPs and SCPs) and when they were read: trusted for
    /// `GUARD_OPT_OUT_CACHE_SECONDS`, like the opt-out verdict (the same policies' reads).
    layers: tokio::sync::Mutex<Option<(Instant, Arc<crate::org_policy::layers::Layers>)>>,
    /// In Lambda: the function's own ARN (from the invocation), what a notify-then-remediate
    /// schedule invokes unless `GUARD_SCHEDULE_TARGET_ARN` says otherwise.
    function_arn: Arc<Mutex<Option<String>>>,
}

impl App {
    pub fn new(config: Config, clients: Clients) -> Self {
        let restorations = drift::restoration_log(&config, &clients);
        let history = Arc::new(crate::change::store::Store::configured(&config, &clients));
        let clients = Arc::new(clients);
        Self {
            approved: None,
            rules: Arc::clone(&config.rules),
            dry_run: config.dry_run,
            clock: None,
            ous: tokio::sync::OnceCell::new(),
            layers: tokio::sync::Mutex::const_new(None),
            function_arn: Arc::default(),
            history,
            principal: tokio::sync::OnceCell::new(),
            restorations,
            config,
            central: Arc::clone(&clients),
            clients,
            account: tokio::sync::OnceCell::new(),
            keys: Mutex::default(),
            key_policies: Mutex::default(),
            opt_out: Arc::default(),
            opt_out_learned: Arc::default(),
            central_account: None,
            verified: Mutex::default(),
            bucket_regions: Mutex::default(),
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
            key_policies: Mutex::default(),
            opt_out: Arc::clone(&self.opt_out),
            opt_out_learned: Arc::clone(&self.opt_out_learned),
            central_account: self.central_account().map(str::to_owned),
            verified: Mutex::default(),
            bucket_regions: Mutex::default(),
            // The member role's own ARN in that account, read with its credentials.
            principal: tokio::sync::OnceCell::new(),
            restorations: Arc::clone(&self.restorations),
            approved: self.approved.clone(),
            history: Arc::clone(&self.history),
            rules: Arc::clone(&self.rules),
            dry_run: self.dry_run,
            clock: self.clock,
            ous: tokio::sync::OnceCell::new(),
            layers: tokio::sync::Mutex::const_new(None),
            function_arn: Arc::clone(&self.function_arn),
        }
    }

    /// The invoked function's ARN, as the Lambda context gives it.
    pub fn set_function_arn(&self, arn: &str) {
        *self
            .function_arn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(arn.to_owned());
    }

    pub fn function_arn(&self) -> Option<String> {
        self.function_arn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Milliseconds since the epoch: the clock, or the fixed one tests set.
    pub fn now_millis(&self) -> i64 {
        self.clock
            .unwrap_or_else(|| crate::metrics::now_millis() as i64)
    }

    /// This account's OUs (root first) when a rule names an OU; `Err` says why they are
    /// unknown (then no rule can be trusted to allow a write: the caller audits).
    pub async fn ou_path(&self, account: &str) -> Result<&[String], String> {
        let needed = self
            .rules
            .rules
            .iter()
            .any(|r| matches!(r.selector, crate::scope::Selector::Ou(_)));
        if !needed {
            return Ok(&[]);
        }
        self.ous
            .get_or_init(|| async {
                crate::aws::org_accounts::ou_path(&self.central.organizations(), account)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await
            .as_deref()
            .map_err(Clone::clone)
    }

    /// The layers above `account`'s buckets: its own Block Public Access configuration (read
    /// with its credentials, in `region`) and the organization's policies (read from the
    /// guard account). Concurrent callers (a sweep's buckets) wait for one read; a warm
    /// process reads them again after `GUARD_OPT_OUT_CACHE_SECONDS`.
    pub async fn layers(
        &self,
        account: &str,
        region: &str,
    ) -> Arc<crate::org_policy::layers::Layers> {
        let mut slot = self.layers.lock().await;
        if let Some((at, layers)) = &*slot
            && at.elapsed() < self.config.opt_out_cache
        {
            return Arc::clone(layers);
        }
        let caller = self.opt_out_ask(account).caller;
        let layers = Arc::new(
            Box::pin(crate::aws::org_layers::read_layers(
                &self.central.organizations(),
                &self.clients.s3control(region),
                account,
                caller,
            ))
            .await,
        );
        *slot = Some((Instant::now(), Arc::clone(&layers)));
        layers
    }

    /// Only the changes of this plan may be written (`apply --plan`).
    pub fn with_plan(mut self, approved: crate::change::plan::Approved) -> Self {
        self.approved = Some(Arc::new(approved));
        self
    }

    /// Forgets the cached opt-out verdicts (all accounts).
    pub fn forget_opt_out(&self) {
        self.opt_out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// A bucket's Region: from this warm process's earlier look-up, or `GetBucketLocation`.
    async fn bucket_region(
        &self,
        home: &str,
        bucket: &str,
        owner: &str,
    ) -> Result<String, AwsError> {
        if let Some(region) = self
            .bucket_regions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(bucket)
        {
            return Ok(region.clone());
        }
        let region = crate::aws::s3::bucket_region(&self.clients.s3(home), bucket, owner).await?;
        self.bucket_regions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(bucket.to_owned(), region.clone());
        Ok(region)
    }

    /// How long ago this warm process verified the bucket compliant, if it did.
    fn verified_age(&self, region: &str, bucket: &str) -> Option<Duration> {
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(region.to_owned(), bucket.to_owned()))
            .map(Instant::elapsed)
    }

    fn mark_verified(&self, region: &str, bucket: &str) {
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((region.to_owned(), bucket.to_owned()), Instant::now());
    }

    /// The account `central` acts as (the guard's), when known without a request.
    fn central_account(&self) -> Option<&str> {
        match &self.central_account {
            Some(guard) => Some(guard),
            None if Arc::ptr_eq(&self.clients, &self.central) => {
                self.account.get().map(String::as_str)
            }
            None => None,
        }
    }

    /// How to ask Organizations about `account` from `central`: as whom, and what this
    /// process has learned. The function's own `App` is asked only about its own account
    /// (an event naming another is refused before its verdict is used), so before STS has
    /// answered that account is the caller.
    pub fn opt_out_ask<'a>(&'a self, account: &'a str) -> organizations::Ask<'a> {
        let own = Arc::ptr_eq(&self.clients, &self.central);
        organizations::Ask {
            caller: self.central_account().or(own.then_some(account)),
            learned: Some(&self.opt_out_learned),
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
        let client = self.key_clients(key).kms(region);
        cell.get_or_try_init(|| kms::describe(&client, key, with_rotation))
            .await
            .cloned()
    }

    /// Who reads a key: a key ARN of another account than a member's (the guard account's
    /// `GUARD_KMS_KEY_ID`) is read by the function itself, where the key lives; an alias or
    /// key id is resolved in the account guarded (each member's own key of that alias).
    pub(super) fn key_clients(&self, key: &str) -> &Arc<Clients> {
        let member = !Arc::ptr_eq(&self.clients, &self.central);
        let foreign = crate::dependents::key_account(key)
            .is_some_and(|a| self.account.get().is_some_and(|own| own != a));
        if member && foreign {
            &self.central
        } else {
            &self.clients
        }
    }

    /// A customer key's policy document, parsed; `Err` says why it cannot be known.
    async fn key_policy(
        &self,
        region: &str,
        arn: &str,
    ) -> Result<serde_json::Map<String, Value>, String> {
        let slot = Arc::clone(
            self.key_policies
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry((region.to_owned(), arn.to_owned()))
                .or_default(),
        );
        let mut slot = slot.lock().await;
        let text = match &*slot {
            Some((at, text)) if at.elapsed() < KEY_POLICY_TTL => text.clone(),
            _ => {
                let text = kms::key_policy(&self.key_clients(arn).kms(region), arn)
                    .await
                    .map_err(|e| e.to_string())?;
                *slot = Some((Instant::now(), text.clone()));
                text
            }
        };
        crate::policy::parse(&text).map_err(|e| format!("the key policy: {e}"))
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
                name: None,
                role: None,
                region: None,
                account: None,
                controls: vec![ControlResult::new(
                    opt_out::report::CONTROL_ID,
                    Status::Failed,
                    format!("{NOT_FINISHED}: the opt-out policy was not evaluated"),
                )],
            },
        }
    }

    /// The AI services opt-out verdict, cached for `GUARD_OPT_OUT_CACHE_SECONDS`.
    pub async fn opt_out(&self, account: &str) -> Resource {
        let ttl = self.config.opt_out_cache;
        let slot = Arc::clone(
            self.opt_out
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(account.to_owned())
                .or_default(),
        );
        let mut slot = slot.lock().await;
        if let Some((at, resource)) = &*slot
            && at.elapsed() < ttl
        {
            return resource.clone();
        }
        // From the guard account: Organizations policies are read by the management
        // account or a delegated administrator, with the member as the target.
        let services = &self.config.opt_out_services;
        let facts = organizations::read_opt_out_checked(
            &self.central.organizations(),
            account,
            services,
            self.opt_out_ask(account),
        )
        .await;
        let resource = opt_out::report::resource(&facts, account, services);
        *slot = Some((Instant::now(), resource.clone()));
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
        // the event names (see `early`); nothing is written before STS confirms it. Not for
        // drift: whether it is our own change is decided first, and then nothing is read.
        let named = early::named_account(&accounts).filter(|_| !matches!(plan, Plan::Drift(_)));
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
            let ignored = match foreign_account(&accounts, &account) {
                Some(reason) => Some(reason),
                None => drift::prepare(app, &plan).await?,
            };
            if let Some(reason) = ignored {
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
    // A sweep of chosen buckets says so: a bucket it did not see is not gone.
    let event_name = if only.is_empty() {
        "Scan"
    } else {
        sink::SCAN_SELECTED
    };
    let trigger = TriggerInfo {
        account: Some(account.clone()),
        event_name: Some(event_name.to_owned()),
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
        Plan::Bucket(target) => Some(&target.region),
        Plan::Rekognition(plan) => plan.output.value().map(|o| &o.region),
        _ => None,
    };
    if let Some(region) = region {
        let key = app.remediation_key(region).await;
        // Callers the event names are dependents of the output bucket: the key policy
        // that must cover them is read now, not after the bucket's reads.
        let callers = match plan {
            Plan::Rekognition(plan) => plan.output.value().is_some_and(|o| !o.users.is_empty()),
            _ => false,
        };
        if let (true, KeyTarget::Customer(info)) = (callers, &key) {
            let _ = app.key_policy(region, &info.arn).await;
        }
    }
}

/// EventBridge never delivers across partitions: an event from another partition than
/// the function's own is forged or misrouted, and its ARNs would name another world.
fn foreign_partition(region: Option<&str>, home: Option<&str>) -> Option<String> {
    let (region, home) = (region?, home?);
    let (theirs, ours) = (region::partition(region), region::partition(home));
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
        Plan::Rekognition(plan) => {
            rekognition::guard_rekognition(app, *plan, account, deadline).await
        }
        Plan::Scan => sweep(app, &[], account, deadline, unfinished, &Quiet).await,
        Plan::Drift(change) => drift::run(app, *change, account, deadline).await,
        Plan::BucketDeleted(target) => vec![deleted_bucket(&target)],
        Plan::Prevented(prevented) => vec![drift::prevented(&prevented)],
    }
}

/// A deleted bucket: reported with role `deleted` and nothing evaluated (no AWS call).
fn deleted_bucket(target: &event::BucketTarget) -> Resource {
    Resource {
        kind: ResourceType::S3Bucket,
        id: target.name.clone(),
        name: None,
        role: Some(target.role.to_owned()),
        region: Some(target.region.clone()),
        account: None,
        controls: vec![ControlResult::new(
            "bucket-deleted",
            Status::Skipped,
            "the bucket was deleted: nothing to evaluate; its Security Hub findings are archived",
        )],
    }
}

fn single(kind: ResourceType, id: &str, control: ControlResult) -> Resource {
    Resource {
        kind,
        id: id.to_owned(),
        name: None,
        role: None,
        region: None,
        account: None,
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
        name: None,
        role: Some(role.to_owned()),
        region: Some(region.to_owned()),
        account: None,
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

/// Severities, standards, every configured sink, and the summary log line.
async fn finish(
    app: &App,
    trigger: TriggerInfo,
    resources: Vec<Resource>,
    unfinished: Vec<String>,
    started: Instant,
    deadline: Instant,
) -> Report {
    let mut trigger = trigger;
    if let Some(approved) = &app.approved {
        trigger.kind = TriggerKind::PlanApplied;
        trigger.reference = Some(approved.plan_id.clone());
    }
    let mut report = Report {
        trigger,
        mode: app.config.mode,
        resources,
        alert: AlertOutcome::default(),
        security_hub: None,
        unfinished,
        change_record: None,
    };
    // Every resource names its account: the event's (the member's in organization scope).
    let account = report.trigger.account.clone();
    for resource in &mut report.resources {
        if resource.account.is_none() {
            resource.account.clone_from(&account);
        }
    }
    alert::classify_all(&mut report);
    standards::cite_all(&mut report);
    record_changes(app, &mut report).await;
    let mut sinks = sink::configured(&app.config);
    // Security Hub takes a finding only in the account it is about: a report on another
    // account than this `App`'s (a record the organization gate refused) has no finding.
    if report.trigger.account.as_deref() != app.account.get().map(String::as_str) {
        sinks.retain(|s| s.name() != "security-hub");
    }
    sink::deliver_all(
        &sinks,
        &mut report,
        // Alerts from the function's own account; findings in the account guarded.
        sink::Accounts {
            function: &app.central,
            subject: &app.clients,
        },
        hard_stop(deadline) + HARD_STOP_MARGIN / 2,
        NOT_FINISHED,
    )
    .await;
    log_summary(app, &report, started);
    report
}

/// Keeps every write of the report in the change record, after the writes (never a
/// round trip before a fix); a record that cannot be kept fails the invocation.
async fn record_changes(app: &App, report: &mut Report) {
    let written = report.results().any(|(_, c)| {
        c.states
            .as_ref()
            .is_some_and(|s| s.kind == crate::change::StatesKind::Written)
    });
    if !written {
        return;
    }
    let written_by = app.principal().await.ok().map(str::to_owned);
    let now = crate::metrics::now_millis() as i64;
    let records = crate::change::records(report, written_by.as_deref(), written_by.as_deref(), now);
    let outcome = app.history.append(&records, (now / 1000) as u64).await;
    if let Err(e) = &outcome {
        tracing::error!(error = %e, "change record not written; the fixes stay");
    }
    report.change_record = Some(crate::report::RecordOutcome {
        recorded: match outcome {
            Ok(()) => records.into_iter().map(|r| r.id).collect(),
            Err(_) => Vec::new(),
        },
        store: app.history.describe(),
        error: outcome.err(),
    });
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
        findings_imported = report.security_hub.as_ref().map_or(0, |f| f.imported),
        aws_requests = app.clients.counter().requests(),
        s3_writes = app.clients.counter().s3_writes(),
        elapsed_ms,
        "invocation summary"
    );
}

//! Organization scope: a router in front of the single-account handler.
//!
//! Owns what only an organization has: SQS batches of forwarded events, the account gate
//! (`gate`), member credentials (`sts:AssumeRole` into `GUARD_MEMBER_ROLE_NAME`, cached
//! until shortly before expiry), the sweep planner and its workers (`work`). It hands the
//! handler an `App` whose clients act in the member account; controls and adapters never
//! ask which scope they run in. Nothing is assumed or written before the gate has passed
//! the record.

mod batch;
pub mod gate;
mod members;
mod sweep;
pub mod work;

pub use batch::{BatchOutcome, RecordOutcome, is_sqs_event, worst};
pub use sweep::{NoOrgProgress, OrgProgress, OrgSweep};

use crate::aws::{AwsError, org_accounts};
use crate::config::Scope;
use crate::event::{self, SCHEDULED_DETAIL_TYPE, TriggerInfo, TriggerKind};
use crate::handler::{self, App, HandleError};
use crate::report::{ControlResult, Report, Resource, ResourceType, Severity, Status};
use aws_lambda_events::event::sqs::SqsEvent;
use gate::{Snapshot, Verdict};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::{info, warn};

/// How long a snapshot of the organization's accounts is trusted.
const SNAPSHOT_TTL: Duration = Duration::from_secs(600);
/// An unknown account triggers a fresh read at most this often (forged records cannot
/// turn into a stream of `ListAccounts` calls).
const UNKNOWN_REFRESH: Duration = Duration::from_secs(60);

/// The gate's control id, and the member-credentials control's.
pub const GATE_CONTROL: &str = "member-gate";
pub const ACCESS_CONTROL: &str = "member-access";
pub const PLAN_CONTROL: &str = "sweep-plan";

/// The function's entry for every payload: routes it to the single-account handler, the
/// batch of queue records, the planner or a worker.
pub struct Router {
    pub app: Arc<App>,
    members: Mutex<HashMap<String, members::MemberSlot>>,
    snapshot: tokio::sync::Mutex<Option<Arc<Snapshot>>>,
}

/// What one payload produced.
pub enum Handled {
    Report(Box<Report>),
    Batch(BatchOutcome),
}

pub(super) fn role_arn(region: &str, account: &str, role: &str) -> String {
    format!(
        "arn:{}:iam::{account}:role/{role}",
        crate::region::partition(region)
    )
}

pub(super) fn session_name() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("rekognition-guard-{secs}")
}

pub(super) fn single(kind: ResourceType, id: &str, control: ControlResult) -> Resource {
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

pub(super) fn ignored(mut trigger: TriggerInfo, reason: String) -> TriggerInfo {
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

    pub(super) fn config(&self) -> &crate::config::Config {
        &self.app.config
    }

    pub(super) fn home_region(&self) -> String {
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
        if parsed.trigger.kind == TriggerKind::GraceElapsed {
            return Ok(self.grace_elapsed(parsed, deadline).await);
        }
        Ok(self.route_event(payload, deadline).await)
    }

    /// A notify-then-remediate schedule of the guard account fired for a member's bucket
    /// (delivered directly, never through the queue): the account passes the gate, then
    /// the member's handler evaluates the bucket again.
    async fn grace_elapsed(&self, parsed: event::Parsed, deadline: Instant) -> Report {
        let config = self.config();
        let Some(account) = parsed.accounts.first().cloned() else {
            let trigger = ignored(
                parsed.trigger,
                "the grace event names no account".to_owned(),
            );
            return handler::conclude(
                &self.app,
                trigger,
                Vec::new(),
                Vec::new(),
                Instant::now(),
                deadline,
            )
            .await;
        };
        let verdict = match self
            .gate(|s| gate::check_account(&account, s, config))
            .await
        {
            Ok((verdict, _)) => verdict,
            Err(e) => {
                return self
                    .failed_report(
                        Some(&account),
                        format!("cannot read the organization's accounts to check the grace event: {e}; nothing assumed or written"),
                        deadline,
                    )
                    .await;
            }
        };
        match verdict {
            Verdict::Pass { account } => {
                let region = parsed
                    .trigger
                    .region
                    .clone()
                    .unwrap_or_else(|| self.home_region());
                match self.account_app(&account, &region).await {
                    Ok(app) => match handler::handle_parsed(&app, parsed, deadline).await {
                        Ok(report) => report,
                        Err(e) => {
                            self.failed_report(Some(&account), e.to_string(), deadline)
                                .await
                        }
                    },
                    Err(resource) => {
                        handler::conclude(
                            &self.app,
                            parsed.trigger,
                            vec![*resource],
                            Vec::new(),
                            Instant::now(),
                            deadline,
                        )
                        .await
                    }
                }
            }
            Verdict::Reject { reason, suspicious } => {
                self.refuse(parsed.trigger, Some(&account), reason, suspicious, deadline)
                    .await
            }
            Verdict::Unknown { account } => {
                let reason = format!("account {account} is not a member of the organization");
                self.refuse(parsed.trigger, Some(&account), reason, false, deadline)
                    .await
            }
        }
    }

    /// A report for work that could not start (identity or organization unreadable).
    pub(super) async fn failed_report(
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
    pub(super) async fn snapshot(
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
    pub(super) async fn gate(
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
    pub(super) async fn route_event(&self, value: &Value, deadline: Instant) -> Report {
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
    pub(super) async fn refuse(
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
}

/// The Region of an SQS queue URL (`https://sqs.<region>.amazonaws.com/…`).
pub(super) fn queue_region(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let region = host.strip_prefix("sqs.")?.split('.').next()?;
    crate::region::is_region(region).then(|| region.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::exit;

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

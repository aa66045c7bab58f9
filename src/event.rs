//! EventBridge/CloudTrail envelope → what to guard. Lenient, pure, no AWS calls.
//!
//! Real CloudTrail records vary (console events carry `sessionIssuer: {}`, no
//! `userAgent`, `requestParameters: null`, extra keys), so this reads only the fields
//! it needs from a `serde_json::Value`. An input that is not an EventBridge event at
//! all is an [`EventError`] (exit code 2); an event it will not act on is parsed into
//! [`Plan::Ignore`] with a reason.

use crate::config::Config;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod cloudtrail;
mod fields;
mod rekognition;
mod s3;
#[cfg(test)]
mod tests;

pub use cloudtrail::{Intake, intake, to_eventbridge};
use fields::str_field;
pub use fields::{DIRECTORY_BUCKET, check_bucket_name, check_existing_bucket_name};
// Kept for callers written before `crate::region` existed; new code imports that.
pub use crate::region::{is_region, partition};
mod drift;
pub use drift::{
    Actor, Change, Drift, DriftTarget, IgnoredPrincipal, KMS_EVENTS, OPT_OUT_POLICY_TYPE,
    ORGANIZATIONS_EVENTS, Prevented, REKOGNITION_EVENTS, S3_EVENTS, own_change,
};
mod deleted;
pub use deleted::ROLE as DELETED_ROLE;

pub const CLOUDTRAIL_DETAIL_TYPE: &str = "AWS API Call via CloudTrail";
pub const SCHEDULED_DETAIL_TYPE: &str = "Scheduled Event";
/// The event a notify-then-remediate schedule delivers when its grace has elapsed.
pub const GRACE_DETAIL_TYPE: &str = "Rekognition Guard Grace Elapsed";
pub const GRACE_SOURCE: &str = "rekognition-guard";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerKind {
    BucketCreated,
    ProjectVersionCreated,
    StreamProcessorCreated,
    ScheduledScan,
    ProjectVersionCopied,
    DatasetCreated,
    MediaAnalysisJobStarted,
    FaceLivenessSessionCreated,
    ManualScan,
    OptOutCheck,
    Ignored,
    /// Drift: a guarded resource's configuration was changed after the fact.
    ConfigurationChanged,
    BucketDeleted,
    /// `apply --plan`: the items of a reviewed plan.
    PlanApplied,
    /// `undo`: a recorded change put back.
    Undo,
    /// A notify-then-remediate grace elapsed: the bucket is evaluated again and fixed.
    GraceElapsed,
    /// A weakening call an organization policy (SCP, RCP) denied: nothing changed.
    ChangePrevented,
}

impl TriggerKind {
    /// The report's spelling (`bucket-created`, …), for logs, tables and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::BucketCreated => "bucket-created",
            TriggerKind::ProjectVersionCreated => "project-version-created",
            TriggerKind::StreamProcessorCreated => "stream-processor-created",
            TriggerKind::ScheduledScan => "scheduled-scan",
            TriggerKind::ManualScan => "manual-scan",
            TriggerKind::OptOutCheck => "opt-out-check",
            TriggerKind::Ignored => "ignored",
            TriggerKind::ProjectVersionCopied => "project-version-copied",
            TriggerKind::DatasetCreated => "dataset-created",
            TriggerKind::MediaAnalysisJobStarted => "media-analysis-job-started",
            TriggerKind::FaceLivenessSessionCreated => "face-liveness-session-created",
            TriggerKind::ConfigurationChanged => "configuration-changed",
            TriggerKind::ChangePrevented => "change-prevented",
            TriggerKind::BucketDeleted => "bucket-deleted",
            TriggerKind::PlanApplied => "plan-applied",
            TriggerKind::Undo => "undo",
            TriggerKind::GraceElapsed => "grace-elapsed",
        }
    }
}

/// The `trigger` object of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerInfo {
    pub kind: TriggerKind,
    pub event_id: Option<String>,
    pub event_name: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub ignored_reason: Option<String>,
    /// Who changed the configuration, from where and when (drift events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    /// The principal whose call is the event (`userIdentity`; the CLI's caller for a
    /// manual run), as the change record names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The plan an `apply` carries out, or the change an `undo` puts back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl TriggerInfo {
    pub fn manual(kind: TriggerKind, region: Option<String>) -> Self {
        Self {
            kind,
            event_id: None,
            event_name: None,
            account: None,
            region,
            ignored_reason: None,
            change: None,
            principal: None,
            reference: None,
        }
    }
}

/// A bucket to guard, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketTarget {
    pub name: String,
    pub region: String,
    /// `console`, `guarded-prefix`, `output`, `stream-output`, `training-data`, `scan`.
    pub role: &'static str,
    /// Report only, never write (the customer's source data).
    pub audit_only: bool,
    /// Created by the triggering call a moment ago: S3 may still answer
    /// `NoSuchBucket`/`OperationAborted` for a while, so reads and writes retry longer.
    pub fresh: bool,
    /// Principals that read and write this bucket with their own credentials because of
    /// the triggering call: a Custom Labels caller (`userIdentity`), a stream
    /// processor's `RoleArn`. Dependents of the bucket (see `crate::dependents`).
    pub users: Vec<String>,
    /// The grace of a `notify-then-remediate` rule has elapsed (the schedule fired): its
    /// fixes are applied now, after the bucket is evaluated again from scratch.
    pub after_grace: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Ignore,
    Bucket(BucketTarget),
    /// A Rekognition call that decides where data lands (one per trigger in
    /// `event/rekognition.rs`).
    Rekognition(Box<RekognitionPlan>),
    Scan,
    /// A guarded resource's configuration changed (drift).
    Drift(Box<Drift>),
    /// A bucket was deleted: nothing to evaluate; its findings are archived.
    BucketDeleted(BucketTarget),
    /// A weakening call an SCP or RCP denied: reported, nothing written.
    Prevented(Box<drift::Prevented>),
}

/// What a Rekognition call created or started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RekognitionKind {
    ProjectVersion,
    StreamProcessor,
    Dataset,
    MediaAnalysisJob,
    FaceLivenessSession,
}

/// A request field as CloudTrail shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field<T> {
    /// Not in the request.
    Absent,
    /// Replaced by `HIDDEN_DUE_TO_SECURITY_REASONS`: set, but unknown here.
    Hidden,
    Value(T),
}

impl<T> Field<T> {
    pub fn value(&self) -> Option<&T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// The value CloudTrail writes in place of a field it will not show.
pub const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Whether a `KmsKeyId` is expected on this resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyExpectation {
    /// The API accepts one: its absence is a `customer-managed-key` finding.
    Expected,
    /// The API refuses one (face-search stream processors): `skipped`, with why.
    NotAllowed(&'static str),
    /// The call takes no key (`CreateDataset`): no `customer-managed-key` result.
    NotApplicable,
}

/// How to read a Rekognition resource back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// `DescribeStreamProcessor`.
    StreamProcessor { name: String },
    /// `DescribeProjectVersions` of one version.
    ProjectVersion {
        project_arn: String,
        version_name: String,
    },
    /// `GetMediaAnalysisJob`.
    MediaAnalysisJob { job_id: String },
}

/// Everything one Rekognition call decides: where output lands, under which key, what
/// it reads, and (stream processors) whether video is shared.
#[derive(Debug, Clone, PartialEq)]
pub struct RekognitionPlan {
    pub kind: RekognitionKind,
    /// The event's Region: the resource's, and its buckets' (Rekognition reads and
    /// writes buckets in its own Region only).
    pub region: String,
    /// The resource's ARN from `responseElements` (a project version, stream processor
    /// or dataset); jobs and sessions have no ARN and are named by their id. When the
    /// record has no ARN, the parent project's ARN, with `name` naming the child.
    pub id: String,
    /// The version name / dataset type when `id` is the parent's ARN.
    pub name: Option<String>,
    /// The bucket Rekognition writes to (three controls).
    pub output: Field<BucketTarget>,
    pub kms_key_id: Field<String>,
    pub key_expectation: KeyExpectation,
    /// Buckets Rekognition only reads (training data, job input): encryption reported.
    pub inputs: Vec<BucketTarget>,
    /// Stream processors: `DataSharingPreference.OptIn` as the request set it.
    pub data_sharing_opt_in: Option<Field<bool>>,
    /// The read-only call that tells what the record does not (a field CloudTrail hid, a
    /// stream processor's data sharing left out of the request).
    pub lookup: Option<Lookup>,
    /// One call per end user (liveness sessions): an output bucket verified compliant a
    /// moment ago by this warm function is trusted for `GUARD_RECHECK_SECONDS`.
    pub trust_recent_verification: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub trigger: TriggerInfo,
    pub plan: Plan,
    /// Every account the event names (`account`, `detail.recipientAccountId`): the
    /// handler acts only if each is its own.
    pub accounts: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("the event is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("not an EventBridge event: {0}")]
    NotEventBridge(&'static str),
}

/// Parses raw bytes (a file, stdin, or the Lambda payload).
pub fn parse_bytes(raw: &[u8], config: &Config) -> Result<Parsed, EventError> {
    let value: Value = serde_json::from_slice(raw).map_err(EventError::NotJson)?;
    parse(&value, config)
}

pub fn parse(event: &Value, config: &Config) -> Result<Parsed, EventError> {
    let envelope = event
        .as_object()
        .ok_or(EventError::NotEventBridge("expected a JSON object"))?;
    let detail_type = envelope
        .get("detail-type")
        .and_then(Value::as_str)
        .ok_or(EventError::NotEventBridge("no \"detail-type\" string"))?;
    let source = envelope
        .get("source")
        .and_then(Value::as_str)
        .ok_or(EventError::NotEventBridge("no \"source\" string"))?;
    let detail = match envelope.get("detail") {
        Some(Value::Object(d)) => d,
        Some(_) => return Err(EventError::NotEventBridge("\"detail\" is not an object")),
        None => return Err(EventError::NotEventBridge("no \"detail\" object")),
    };

    let mut trigger = TriggerInfo {
        kind: TriggerKind::Ignored,
        event_id: str_field(envelope, "id").or_else(|| str_field(detail, "eventID")),
        event_name: str_field(detail, "eventName"),
        account: str_field(envelope, "account").or_else(|| str_field(detail, "recipientAccountId")),
        region: str_field(detail, "awsRegion").or_else(|| str_field(envelope, "region")),
        ignored_reason: None,
        change: None,
        principal: detail
            .get("userIdentity")
            .is_some()
            .then(|| drift::principal_of(detail)),
        reference: None,
    };

    let plan = match (detail_type, source) {
        (SCHEDULED_DETAIL_TYPE, "aws.events") => {
            trigger.event_name = Some(SCHEDULED_DETAIL_TYPE.to_owned());
            Ok((TriggerKind::ScheduledScan, Plan::Scan))
        }
        (GRACE_DETAIL_TYPE, GRACE_SOURCE) => grace_plan(detail, config),
        (CLOUDTRAIL_DETAIL_TYPE, _) => cloudtrail_plan(source, detail, &trigger, config),
        _ => Err(format!(
            "unsupported event: detail-type {detail_type:?} from {source:?}"
        )),
    }
    .and_then(|plan| match identity_problem(envelope, detail) {
        Some(reason) => Err(reason),
        None => Ok(plan),
    });
    let plan = match plan {
        Ok((kind, plan)) => {
            trigger.kind = kind;
            if let Plan::Drift(d) = &plan {
                trigger.change = Some(d.change.clone());
            }
            plan
        }
        Err(reason) => {
            trigger.kind = TriggerKind::Ignored;
            trigger.ignored_reason = Some(reason);
            Plan::Ignore
        }
    };
    let accounts = [
        str_field(envelope, "account"),
        str_field(detail, "recipientAccountId"),
    ]
    .into_iter()
    .flatten()
    .collect();
    Ok(Parsed {
        trigger,
        plan,
        accounts,
    })
}

pub(crate) type PlanResult = Result<(TriggerKind, Plan), String>;

/// A notify-then-remediate schedule fired: the bucket it names, evaluated again (only a
/// guarded bucket: anything else is ignored, as a CloudTrail event for it would be).
fn grace_plan(detail: &Map<String, Value>, config: &Config) -> PlanResult {
    let name = str_field(detail, "bucketName").ok_or("no detail.bucketName")?;
    check_bucket_name(&name)?;
    let region = str_field(detail, "awsRegion").ok_or("no detail.awsRegion")?;
    if !crate::region::is_region(&region) {
        return Err(format!("detail.awsRegion {region:?} is not a Region name"));
    }
    let role = config
        .bucket_role(&name)
        .ok_or_else(|| format!("bucket {name} is not guarded (no guarded prefix)"))?;
    Ok((
        TriggerKind::GraceElapsed,
        Plan::Bucket(BucketTarget {
            name,
            region,
            role,
            audit_only: false,
            fresh: false,
            users: Vec::new(),
            after_grace: true,
        }),
    ))
}

/// The event a schedule delivers for `bucket` when its grace ends.
pub fn grace_event(
    account: &str,
    region: &str,
    bucket: &str,
    schedule: &str,
    decided_by: &str,
) -> Value {
    serde_json::json!({
        "version": "0",
        "id": schedule,
        "detail-type": GRACE_DETAIL_TYPE,
        "source": GRACE_SOURCE,
        "account": account,
        "region": region,
        "resources": [format!("arn:{}:s3:::{bucket}", crate::region::partition(region))],
        "detail": {
            "bucketName": bucket,
            "awsRegion": region,
            "recipientAccountId": account,
            "eventName": "GraceElapsed",
            "schedule": schedule,
            "decidedBy": decided_by,
        }
    })
}

/// EventBridge always names the account and region as strings, and CloudTrail the
/// recipient account and `awsRegion`. Another type there cannot be checked against this
/// function's own account (the handler compares strings), nor silently replaced by a
/// fallback, so such an event is not acted on.
fn identity_problem(envelope: &Map<String, Value>, detail: &Map<String, Value>) -> Option<String> {
    let fields = [
        (envelope, "account", "account"),
        (envelope, "region", "region"),
        (detail, "recipientAccountId", "detail.recipientAccountId"),
        (detail, "awsRegion", "detail.awsRegion"),
    ];
    for (map, key, label) in fields {
        if let Some(value) = map.get(key).filter(|v| !v.is_string()) {
            let kind = match value {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::Array(_) => "an array",
                Value::Object(_) => "an object",
                Value::String(_) => "a string",
            };
            return Some(format!("{label} is {kind}, not a string"));
        }
    }
    if !envelope.contains_key("account") && !detail.contains_key("recipientAccountId") {
        return Some(
            "the event names no account (neither account nor detail.recipientAccountId)".to_owned(),
        );
    }
    None
}

fn cloudtrail_plan(
    source: &str,
    detail: &Map<String, Value>,
    trigger: &TriggerInfo,
    config: &Config,
) -> PlanResult {
    if let (Some(policy), Some(name)) = (drift::prevented_by(detail), trigger.event_name.as_deref())
        && drift::handles(name)
    {
        let region = trigger.region.as_deref().ok_or("no awsRegion")?;
        if !is_region(region) {
            return Err(format!("invalid region {region:?}"));
        }
        let params = match detail.get("requestParameters") {
            Some(Value::Object(p)) => Some(p),
            _ => None,
        };
        let event_source = str_field(detail, "eventSource").unwrap_or_default();
        return drift::prevented_plan(
            name,
            source,
            &event_source,
            detail,
            params,
            region,
            config,
            policy,
        );
    }
    if let Some(code) = detail.get("errorCode").filter(|v| !v.is_null()) {
        let code = code
            .as_str()
            .map_or_else(|| code.to_string(), str::to_owned);
        return Err(format!("the API call failed ({code}); nothing was created"));
    }
    let event_name = trigger
        .event_name
        .as_deref()
        .ok_or("no detail.eventName string")?;
    let event_source = str_field(detail, "eventSource").unwrap_or_default();
    let region = trigger.region.as_deref().ok_or("no awsRegion")?;
    if !is_region(region) {
        return Err(format!("invalid region {region:?}"));
    }
    let params = match detail.get("requestParameters") {
        Some(Value::Object(p)) => Some(p),
        _ => None,
    };
    match (event_name, source, event_source.as_str()) {
        ("CreateBucket", "aws.s3", "s3.amazonaws.com") => s3::create_bucket_plan(
            params.ok_or("CreateBucket without requestParameters")?,
            region,
            config,
        ),
        (_, "aws.s3express", _) | (_, _, "s3express.amazonaws.com") => {
            Err(s3::DIRECTORY_BUCKET.to_owned())
        }
        (name, "aws.rekognition", "rekognition.amazonaws.com")
            if rekognition::TRIGGERS.iter().any(|(n, _)| *n == name) =>
        {
            let call = rekognition::Call {
                name,
                params: params.ok_or_else(|| format!("{name} without requestParameters"))?,
                response: match detail.get("responseElements") {
                    Some(Value::Object(r)) => Some(r),
                    _ => None,
                },
                region,
                account: str_field(detail, "recipientAccountId")
                    .or_else(|| trigger.account.clone()),
                caller: {
                    // The role behind a session (with its path) names it in key policies.
                    let actor = drift::actor(detail);
                    actor.issuer_arn.or(actor.arn)
                },
            };
            rekognition::plan(&call)
        }
        (name, _, _)
            if name == "CreateBucket" || rekognition::TRIGGERS.iter().any(|(n, _)| *n == name) =>
        {
            Err(format!(
                "{event_name} from unexpected source {source:?} / eventSource {event_source:?}"
            ))
        }
        (name, _, _) if drift::handles(name) => {
            drift::plan(name, source, &event_source, detail, params, region, config)
        }
        (deleted::EVENT_NAME, "aws.s3", "s3.amazonaws.com") => deleted::plan(
            params.ok_or("DeleteBucket without requestParameters")?,
            region,
        ),
        _ => Err(format!(
            "eventName {event_name:?} is not one rekognition-guard handles"
        )),
    }
}

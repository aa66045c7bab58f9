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

mod deleted;
pub use deleted::ROLE as DELETED_ROLE;

pub const CLOUDTRAIL_DETAIL_TYPE: &str = "AWS API Call via CloudTrail";
pub const SCHEDULED_DETAIL_TYPE: &str = "Scheduled Event";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriggerKind {
    BucketCreated,
    ProjectVersionCreated,
    StreamProcessorCreated,
    ScheduledScan,
    ManualScan,
    OptOutCheck,
    Ignored,
    BucketDeleted,
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
            TriggerKind::BucketDeleted => "bucket-deleted",
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
}

#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Ignore,
    Bucket(BucketTarget),
    ProjectVersion {
        /// `<projectArn>/version/<versionName>`, as Rekognition names it.
        id: String,
        output: BucketTarget,
        kms_key_id: Option<String>,
        training_data: Vec<BucketTarget>,
    },
    StreamProcessor {
        /// The stream processor's name.
        id: String,
        output: Option<BucketTarget>,
        kms_key_id: Option<String>,
        data_sharing_opt_in: Option<bool>,
    },
    Scan,
    /// A bucket was deleted: nothing to evaluate; its findings are archived.
    BucketDeleted(BucketTarget),
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
    };

    let plan = match (detail_type, source) {
        (SCHEDULED_DETAIL_TYPE, "aws.events") => {
            trigger.event_name = Some(SCHEDULED_DETAIL_TYPE.to_owned());
            Ok((TriggerKind::ScheduledScan, Plan::Scan))
        }
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

type PlanResult = Result<(TriggerKind, Plan), String>;

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
        ("CreateBucket", "aws.s3", "s3.amazonaws.com") => create_bucket_plan(
            params.ok_or("CreateBucket without requestParameters")?,
            region,
            config,
        ),
        ("CreateProjectVersion", "aws.rekognition", "rekognition.amazonaws.com") => {
            project_version_plan(
                params.ok_or("CreateProjectVersion without requestParameters")?,
                region,
            )
        }
        ("CreateStreamProcessor", "aws.rekognition", "rekognition.amazonaws.com") => {
            stream_processor_plan(
                params.ok_or("CreateStreamProcessor without requestParameters")?,
                region,
            )
        }
        (deleted::EVENT_NAME, "aws.s3", "s3.amazonaws.com") => deleted::plan(
            params.ok_or("DeleteBucket without requestParameters")?,
            region,
        ),
        ("CreateBucket" | "CreateProjectVersion" | "CreateStreamProcessor", _, _) => Err(format!(
            "{event_name} from unexpected source {source:?} / eventSource {event_source:?}"
        )),
        _ => Err(format!(
            "eventName {event_name:?} is not one rekognition-guard handles"
        )),
    }
}

fn create_bucket_plan(params: &Map<String, Value>, region: &str, config: &Config) -> PlanResult {
    let name = get_ci(params, "bucketName")
        .and_then(Value::as_str)
        .ok_or("requestParameters.bucketName missing or not a string")?;
    check_bucket_name(name)?;
    let role = config.bucket_role(name).ok_or_else(|| {
        format!("bucket {name:?} matches neither the console prefix nor GUARD_BUCKET_PREFIXES")
    })?;
    let region = match get_ci(params, "createBucketConfiguration")
        .and_then(Value::as_object)
        .and_then(|c| get_ci(c, "locationConstraint"))
    {
        None | Some(Value::Null) => region.to_owned(),
        Some(Value::String(lc)) => {
            let target = location_constraint_region(lc)?;
            // One partition's S3 endpoint cannot create a bucket in another's.
            if partition(&target) != partition(region) {
                return Err(format!(
                    "LocationConstraint {target:?} is in partition {}, the event in {}",
                    partition(&target),
                    partition(region)
                ));
            }
            target
        }
        Some(_) => return Err("LocationConstraint is not a string".to_owned()),
    };
    Ok((
        TriggerKind::BucketCreated,
        Plan::Bucket(BucketTarget {
            name: name.to_owned(),
            region,
            role,
            audit_only: false,
            fresh: true,
        }),
    ))
}

fn project_version_plan(params: &Map<String, Value>, region: &str) -> PlanResult {
    let output = get_ci(params, "outputConfig")
        .and_then(Value::as_object)
        .ok_or("CreateProjectVersion without outputConfig: no bucket to guard")?;
    let bucket = get_ci(output, "s3Bucket")
        .and_then(Value::as_str)
        .ok_or("outputConfig.s3Bucket missing or not a string")?;
    check_bucket_name(bucket)?;
    let kms_key_id = key_id(params, "kmsKeyId", region)?;
    let project = get_ci(params, "projectArn")
        .and_then(Value::as_str)
        .unwrap_or("unknown-project");
    let version = get_ci(params, "versionName")
        .and_then(Value::as_str)
        .unwrap_or("unknown-version");
    let id: String = format!("{project}/version/{version}")
        .chars()
        .take(512)
        .collect();
    let mut training: Vec<String> = Vec::new();
    for dataset in ["trainingData", "testingData"] {
        let assets = get_ci(params, dataset)
            .and_then(Value::as_object)
            .and_then(|d| get_ci(d, "assets"))
            .and_then(Value::as_array);
        for asset in assets.into_iter().flatten() {
            let name = asset
                .as_object()
                .and_then(|a| get_ci(a, "groundTruthManifest"))
                .and_then(Value::as_object)
                .and_then(|m| get_ci(m, "s3Object"))
                .and_then(Value::as_object)
                .and_then(|o| get_ci(o, "bucket"))
                .and_then(Value::as_str);
            if let Some(name) = name
                && check_bucket_name(name).is_ok()
                && name != bucket
                && !training.iter().any(|t| t == name)
            {
                training.push(name.to_owned());
            }
        }
    }
    Ok((
        TriggerKind::ProjectVersionCreated,
        Plan::ProjectVersion {
            id,
            output: BucketTarget {
                name: bucket.to_owned(),
                region: region.to_owned(),
                role: "output",
                audit_only: false,
                fresh: false,
            },
            kms_key_id,
            training_data: training
                .into_iter()
                .map(|name| BucketTarget {
                    name,
                    region: region.to_owned(),
                    role: "training-data",
                    audit_only: true,
                    fresh: false,
                })
                .collect(),
        },
    ))
}

fn stream_processor_plan(params: &Map<String, Value>, region: &str) -> PlanResult {
    let bucket = get_ci(params, "output")
        .and_then(Value::as_object)
        .and_then(|o| get_ci(o, "s3Destination"))
        .and_then(Value::as_object)
        .and_then(|d| get_ci(d, "bucket"));
    let output = match bucket {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => {
            check_bucket_name(name)?;
            Some(BucketTarget {
                name: name.clone(),
                region: region.to_owned(),
                role: "stream-output",
                audit_only: false,
                fresh: false,
            })
        }
        Some(_) => return Err("output.s3Destination.bucket is not a string".to_owned()),
    };
    let kms_key_id = key_id(params, "kmsKeyId", region)?;
    let id: String = get_ci(params, "name")
        .and_then(Value::as_str)
        .unwrap_or("unknown-stream-processor")
        .chars()
        .take(128)
        .collect();
    let data_sharing_opt_in = match get_ci(params, "dataSharingPreference")
        .and_then(Value::as_object)
        .and_then(|d| get_ci(d, "optIn"))
    {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        Some(_) => return Err("dataSharingPreference.optIn is not a boolean".to_owned()),
    };
    Ok((
        TriggerKind::StreamProcessorCreated,
        Plan::StreamProcessor {
            id,
            output,
            kms_key_id,
            data_sharing_opt_in,
        },
    ))
}

fn str_field(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// CloudTrail writes lowerCamelCase (`outputConfig`); the API uses PascalCase
/// (`OutputConfig`). Accept both.
fn get_ci<'a>(map: &'a Map<String, Value>, camel: &str) -> Option<&'a Value> {
    map.get(camel).or_else(|| {
        let mut chars = camel.chars();
        let pascal: String = chars
            .next()
            .map(|c| c.to_ascii_uppercase())
            .into_iter()
            .chain(chars)
            .collect();
        map.get(&pascal)
    })
}

fn optional_str(map: &Map<String, Value>, camel: &str) -> Result<Option<String>, String> {
    match get_ci(map, camel) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s.len() <= 2048 && !s.chars().any(char::is_whitespace) => {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(format!("{camel} is not a valid key identifier")),
    }
}

/// A KMS key as the Rekognition API accepts it: a key id, an alias name, or a key or
/// alias ARN of the event's own partition. The API refuses anything else (the event
/// would carry an `errorCode`), so an event naming it is corrupt or forged: not acted on.
fn key_id(map: &Map<String, Value>, camel: &str, region: &str) -> Result<Option<String>, String> {
    let Some(key) = optional_str(map, camel)? else {
        return Ok(None);
    };
    if is_key_id(&key, region) {
        Ok(Some(key))
    } else {
        Err(format!(
            "{camel} {:?} is not a KMS key id, alias or ARN in partition {}",
            key.chars().take(80).collect::<String>(),
            partition(region)
        ))
    }
}

fn is_key_id(key: &str, region: &str) -> bool {
    let id = |s: &str| {
        (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let alias = |s: &str| {
        (1..=256).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-'))
    };
    if let Some(name) = key.strip_prefix("alias/") {
        return alias(name);
    }
    let Some(arn) = key.strip_prefix("arn:") else {
        return id(key);
    };
    let parts: Vec<&str> = arn.splitn(5, ':').collect();
    let [arn_partition, service, key_region, account, resource] = parts[..] else {
        return false;
    };
    arn_partition == partition(region)
        && service == "kms"
        && is_region(key_region)
        && partition(key_region) == arn_partition
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (resource.strip_prefix("key/").is_some_and(id)
            || resource.strip_prefix("alias/").is_some_and(alias))
}

/// S3's bucket naming rules (general purpose buckets). A name that breaks them cannot
/// exist, so acting on it could only be a mistake or an injection attempt.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    let shown: String = name.chars().take(80).collect();
    let bad = |why: &str| Err(format!("invalid bucket name {shown:?}: {why}"));
    if !(3..=63).contains(&name.len()) {
        return bad("must be 3 to 63 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return bad("only lowercase letters, digits, dots and hyphens are allowed");
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return bad("must begin and end with a letter or digit");
    }
    if name.contains("..") {
        return bad("must not contain two adjacent dots");
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return bad("must not be formatted as an IP address");
    }
    if name.starts_with("xn--") || name.starts_with("sthree-") {
        return bad("reserved prefix");
    }
    if name.ends_with("-s3alias") || name.ends_with("--ol-s3") || name.ends_with("--x-s3") {
        return bad("reserved suffix");
    }
    Ok(())
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, …
pub fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && region.len() <= 32
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok_and(|n| n > 0)
}

fn location_constraint_region(lc: &str) -> Result<String, String> {
    match lc {
        "" => Ok("us-east-1".to_owned()),
        "EU" => Ok("eu-west-1".to_owned()),
        r if is_region(r) => Ok(r.to_owned()),
        other => Err(format!(
            "invalid LocationConstraint {:?}",
            other.chars().take(40).collect::<String>()
        )),
    }
}

/// The ARN partition of a region.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> Config {
        Config {
            bucket_prefixes: vec!["acme-ml-".into()],
            ..Config::default()
        }
    }

    fn sample(name: &str) -> Value {
        let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn create_bucket(params: Value) -> Value {
        json!({"version": "0", "id": "e1", "detail-type": CLOUDTRAIL_DETAIL_TYPE,
               "source": "aws.s3", "account": "123456789012", "region": "us-east-1",
               "detail": {"eventSource": "s3.amazonaws.com", "eventName": "CreateBucket",
                          "awsRegion": "us-east-1", "requestParameters": params,
                          "userIdentity": {"sessionContext": {"sessionIssuer": {}}}}})
    }

    fn bucket_of(p: &Parsed) -> &BucketTarget {
        match &p.plan {
            Plan::Bucket(b) => b,
            other => panic!("expected a bucket plan, got {other:?}"),
        }
    }

    #[test]
    fn console_sample_is_a_guarded_bucket() {
        let p = parse(&sample("create-bucket-console.json"), &cfg()).unwrap();
        assert_eq!(p.trigger.kind, TriggerKind::BucketCreated);
        assert_eq!(p.trigger.event_name.as_deref(), Some("CreateBucket"));
        assert_eq!(p.trigger.account.as_deref(), Some("123456789012"));
        let b = bucket_of(&p);
        assert_eq!(b.name, "custom-labels-console-us-east-1-3f9a1c2b7d");
        assert_eq!((b.region.as_str(), b.role), ("us-east-1", "console"));
    }

    #[test]
    fn location_constraint_sets_the_region() {
        let p = parse(&sample("create-bucket-eu-west-1.json"), &cfg()).unwrap();
        assert_eq!(bucket_of(&p).region, "eu-west-1");
        let p = parse(
            &create_bucket(json!({"bucketName": "acme-ml-x",
                "CreateBucketConfiguration": {"LocationConstraint": "EU"}})),
            &cfg(),
        )
        .unwrap();
        assert_eq!(bucket_of(&p).region, "eu-west-1");
        assert_eq!(bucket_of(&p).role, "guarded-prefix");
    }

    #[test]
    fn failed_and_unguarded_calls_are_ignored_with_a_reason() {
        for (file, needle) in [
            ("create-bucket-failed.json", "BucketAlreadyOwnedByYou"),
            ("create-bucket-unguarded.json", "matches neither"),
        ] {
            let p = parse(&sample(file), &cfg()).unwrap();
            assert_eq!(p.trigger.kind, TriggerKind::Ignored, "{file}");
            assert_eq!(p.plan, Plan::Ignore);
            let reason = p.trigger.ignored_reason.unwrap();
            assert!(reason.contains(needle), "{file}: {reason}");
        }
    }

    #[test]
    fn ignored_content_cases() {
        let cases = [
            (json!(null), "requestParameters"),
            (json!({}), "bucketName"),
            (json!({"bucketName": 7}), "bucketName"),
            (
                json!({"bucketName": "custom-labels-console-../x"}),
                "invalid bucket name",
            ),
            (
                json!({"bucketName": "custom-labels-console-*"}),
                "invalid bucket name",
            ),
            (
                json!({"bucketName": "arn:aws:s3:::custom-labels-console-x"}),
                "invalid bucket name",
            ),
            (
                json!({"bucketName": "Custom-Labels-Console-X"}),
                "invalid bucket name",
            ),
            (
                json!({"bucketName": "custom-labels-console-x",
                    "CreateBucketConfiguration": {"LocationConstraint": "../../etc"}}),
                "LocationConstraint",
            ),
            (
                json!({"bucketName": "custom-labels-console-x",
                    "CreateBucketConfiguration": {"LocationConstraint": "cn-north-1"}}),
                "partition aws-cn",
            ),
        ];
        for (params, needle) in cases {
            let p = parse(&create_bucket(params.clone()), &cfg()).unwrap();
            let reason = p.trigger.ignored_reason.unwrap_or_default();
            assert!(reason.contains(needle), "{params}: {reason}");
            assert_eq!(p.plan, Plan::Ignore);
        }
    }

    #[test]
    fn not_eventbridge_is_an_error() {
        for raw in [
            &b"not json"[..],
            b"",
            b"[]",
            b"{}",
            b"{\"detail-type\": 1}",
            b"{\"detail-type\": \"x\", \"source\": \"y\", \"detail\": []}",
        ] {
            assert!(
                parse_bytes(raw, &cfg()).is_err(),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn unknown_event_names_are_ignored() {
        let mut e = create_bucket(json!({"bucketName": "custom-labels-console-x"}));
        e["detail"]["eventName"] = json!("PutBucketAcl");
        let p = parse(&e, &cfg()).unwrap();
        assert!(p.trigger.ignored_reason.unwrap().contains("PutBucketAcl"));
    }

    #[test]
    fn project_version_both_casings() {
        let p = parse(&sample("create-project-version.json"), &cfg()).unwrap();
        let Plan::ProjectVersion {
            output,
            kms_key_id,
            training_data,
            ..
        } = p.plan
        else {
            panic!("not a project version")
        };
        assert_eq!(output.name, "custom-labels-console-us-east-1-3f9a1c2b7d");
        assert_eq!(output.role, "output");
        assert!(kms_key_id.unwrap().starts_with("arn:aws:kms:"));
        assert_eq!(training_data.len(), 1);
        assert!(training_data[0].audit_only);

        let mut e = sample("create-project-version.json");
        e["detail"]["requestParameters"] = json!({
            "ProjectArn": "arn:aws:rekognition:us-east-1:123456789012:project/p/1",
            "VersionName": "v1",
            "OutputConfig": {"S3Bucket": "pascal-bucket", "S3KeyPrefix": "out/"},
            "KmsKeyId": "alias/k",
            "TrainingData": {"Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": "src-a", "Name": "m"}}}]},
            "TestingData": {"AutoCreate": true}
        });
        let p = parse(&e, &cfg()).unwrap();
        let Plan::ProjectVersion {
            output,
            kms_key_id,
            training_data,
            ..
        } = p.plan
        else {
            panic!("not a project version")
        };
        assert_eq!(output.name, "pascal-bucket");
        assert_eq!(kms_key_id.as_deref(), Some("alias/k"));
        assert_eq!(training_data[0].name, "src-a");
    }

    #[test]
    fn project_version_without_output_config_is_ignored() {
        let mut e = sample("create-project-version.json");
        e["detail"]["requestParameters"]
            .as_object_mut()
            .unwrap()
            .remove("outputConfig");
        let p = parse(&e, &cfg()).unwrap();
        assert!(p.trigger.ignored_reason.unwrap().contains("outputConfig"));
    }

    #[test]
    fn stream_processor_fields() {
        let p = parse(&sample("create-stream-processor-data-sharing.json"), &cfg()).unwrap();
        assert_eq!(p.trigger.kind, TriggerKind::StreamProcessorCreated);
        let Plan::StreamProcessor {
            output,
            kms_key_id,
            data_sharing_opt_in,
            ..
        } = p.plan
        else {
            panic!("not a stream processor")
        };
        assert_eq!(output.unwrap().role, "stream-output");
        assert_eq!(kms_key_id, None);
        assert_eq!(data_sharing_opt_in, Some(true));
    }

    #[test]
    fn scheduled_event_is_a_scan() {
        let p = parse(&sample("scheduled-scan.json"), &cfg()).unwrap();
        assert_eq!(p.trigger.kind, TriggerKind::ScheduledScan);
        assert_eq!(p.plan, Plan::Scan);
    }

    #[test]
    fn identity_fields_must_be_strings() {
        let good = create_bucket(json!({"bucketName": "custom-labels-console-x"}));
        assert_eq!(
            parse(&good, &cfg()).unwrap().trigger.kind,
            TriggerKind::BucketCreated
        );
        let mut no_account = good.clone();
        no_account.as_object_mut().unwrap().remove("account");
        for (event, needle) in [
            (
                {
                    let mut e = good.clone();
                    e["account"] = json!(123456789012_u64);
                    e
                },
                "account is a number",
            ),
            (
                {
                    let mut e = good.clone();
                    e["detail"]["awsRegion"] = json!(1);
                    e
                },
                "detail.awsRegion is a number",
            ),
            (
                {
                    let mut e = good.clone();
                    e["detail"]["recipientAccountId"] = json!({"id": "123456789012"});
                    e
                },
                "recipientAccountId is an object",
            ),
            (no_account, "names no account"),
        ] {
            let p = parse(&event, &cfg()).unwrap();
            assert_eq!(p.plan, Plan::Ignore, "{needle}");
            let reason = p.trigger.ignored_reason.unwrap();
            assert!(reason.contains(needle), "{reason}");
        }
    }

    #[test]
    fn key_ids() {
        for ok in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "alias/rekognition",
            "alias/aws/s3",
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:210987654321:alias/shared",
        ] {
            assert!(is_key_id(ok, "us-east-1"), "{ok}");
        }
        assert!(is_key_id(
            "arn:aws-cn:kms:cn-north-1:123456789012:key/k",
            "cn-northwest-1"
        ));
        for bad in [
            "*",
            "alias/",
            "alias/x y",
            "arn:aws-cn:kms:cn-north-1:123456789012:key/k",
            "arn:aws:kms:cn-north-1:123456789012:key/k",
            "arn:aws:s3:::bucket",
            "arn:aws:kms:us-east-1:1234:key/k",
            "arn:aws:kms:us-east-1:123456789012:key/../../x",
            "key/../x",
        ] {
            assert!(!is_key_id(bad, "us-east-1"), "{bad}");
        }
    }

    #[test]
    fn kind_names_match_the_report() {
        for kind in [
            TriggerKind::BucketCreated,
            TriggerKind::ProjectVersionCreated,
            TriggerKind::StreamProcessorCreated,
            TriggerKind::ScheduledScan,
            TriggerKind::ManualScan,
            TriggerKind::OptOutCheck,
            TriggerKind::Ignored,
            TriggerKind::BucketDeleted,
        ] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn partitions() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert!(is_region("ap-southeast-2") && !is_region("us-east") && !is_region("US-EAST-1"));
    }
}

//! Rekognition triggers: every call that decides which bucket receives Rekognition
//! data, under which key, or whether it is shared. One function per call, listed in
//! [`TRIGGERS`]; each reads the request as CloudTrail writes it (lowerCamelCase, the
//! API's PascalCase accepted too) and the resource's ARN from `responseElements`.
//!
//! Shapes: botocore `rekognition/2016-06-27` (CreateProjectVersion, CopyProjectVersion,
//! CreateStreamProcessor, CreateDataset, StartMediaAnalysisJob,
//! CreateFaceLivenessSession).

use super::fields::{check_existing_bucket_name, get_ci, hidden_or_str, key_id};
use super::{
    BucketTarget, Field, HIDDEN, KeyExpectation, Lookup, Plan, PlanResult, RekognitionKind,
    RekognitionPlan, TriggerKind,
};
use crate::region::partition;
use serde_json::{Map, Value};

/// One successful call, as the envelope found it.
pub(super) struct Call<'a> {
    pub name: &'a str,
    pub params: &'a Map<String, Value>,
    pub response: Option<&'a Map<String, Value>>,
    pub region: &'a str,
    pub account: Option<String>,
    /// Who made the call (the role behind a session when there is one).
    pub caller: Option<String>,
}

type Trigger = fn(&Call) -> PlanResult;

/// Every Rekognition call the guard watches. Adding one = a function and a line here
/// (and its EventBridge rule in template.yaml).
pub(super) const TRIGGERS: &[(&str, Trigger)] = &[
    ("CreateProjectVersion", create_project_version),
    ("CopyProjectVersion", copy_project_version),
    ("CreateStreamProcessor", create_stream_processor),
    ("CreateDataset", create_dataset),
    ("StartMediaAnalysisJob", start_media_analysis_job),
    ("CreateFaceLivenessSession", create_face_liveness_session),
];

pub(super) fn plan(call: &Call) -> PlanResult {
    let (_, trigger) = TRIGGERS
        .iter()
        .find(|(name, _)| *name == call.name)
        .ok_or_else(|| format!("eventName {:?} is not a Rekognition trigger", call.name))?;
    let (kind, mut plan) = trigger(call)?;
    if let Plan::Rekognition(r) = &mut plan {
        let users = output_users(call, r.kind);
        if let Field::Value(output) = &mut r.output {
            output.users = users;
        }
    }
    Ok((kind, plan))
}

/// Who reads and writes the output bucket with their own credentials: a stream processor
/// writes with its `RoleArn`; Custom Labels training and copies, media analysis jobs and
/// liveness sessions work with the caller's credentials (Rekognition Custom Labels Guide,
/// "Setting up Amazon S3 bucket permissions"; Face Liveness, "Audit images").
fn output_users(call: &Call, kind: RekognitionKind) -> Vec<String> {
    let user = match kind {
        RekognitionKind::StreamProcessor => get_ci(call.params, "roleArn")
            .and_then(Value::as_str)
            .filter(|r| *r != HIDDEN && r.starts_with("arn:"))
            .map(str::to_owned),
        _ => call.caller.clone(),
    };
    user.into_iter().collect()
}

const FACE_SEARCH_NO_KEY: &str =
    "the API does not allow KmsKeyId for face-search stream processors (Settings.FaceSearch)";

fn create_project_version(call: &Call) -> PlanResult {
    let output = output_bucket(
        call.params,
        &["outputConfig", "s3Bucket"],
        call.region,
        "output",
    )?
    .required("CreateProjectVersion without outputConfig: no bucket to guard")?;
    let mut inputs = Vec::new();
    for dataset in ["trainingData", "testingData"] {
        let assets = walk(call.params, &[dataset, "assets"]).and_then(Value::as_array);
        for asset in assets.into_iter().flatten() {
            let bucket = asset
                .as_object()
                .and_then(|a| walk(a, &["groundTruthManifest", "s3Object", "bucket"]))
                .and_then(Value::as_str);
            if let Some(name) = bucket
                && name != HIDDEN
                && check_existing_bucket_name(name).is_ok()
            {
                push_input(&mut inputs, &output, name, call.region, "training-data");
            }
        }
    }
    let (id, name) = resource_id(
        call,
        &["projectVersionArn"],
        is_version_arn,
        "projectArn",
        "versionName",
    )?;
    Ok(rekognition(
        TriggerKind::ProjectVersionCreated,
        RekognitionPlan {
            kind: RekognitionKind::ProjectVersion,
            region: call.region.to_owned(),
            id,
            name,
            output,
            kms_key_id: key(call)?,
            key_expectation: KeyExpectation::Expected,
            inputs,
            data_sharing_opt_in: None,
            lookup: version_lookup(call, "projectArn"),
            trust_recent_verification: false,
        },
    ))
}

/// The copy lands in the caller's (destination) account: its output bucket and key are
/// guarded there, exactly as for `CreateProjectVersion`.
fn copy_project_version(call: &Call) -> PlanResult {
    let output = output_bucket(
        call.params,
        &["outputConfig", "s3Bucket"],
        call.region,
        "output",
    )?
    .required("CopyProjectVersion without outputConfig: no bucket to guard")?;
    let (id, name) = resource_id(
        call,
        &["projectVersionArn"],
        is_version_arn,
        "destinationProjectArn",
        "versionName",
    )?;
    Ok(rekognition(
        TriggerKind::ProjectVersionCopied,
        RekognitionPlan {
            kind: RekognitionKind::ProjectVersion,
            region: call.region.to_owned(),
            id,
            name,
            output,
            kms_key_id: key(call)?,
            key_expectation: KeyExpectation::Expected,
            inputs: Vec::new(),
            data_sharing_opt_in: None,
            lookup: version_lookup(call, "destinationProjectArn"),
            trust_recent_verification: false,
        },
    ))
}

fn create_stream_processor(call: &Call) -> PlanResult {
    let output = output_bucket(
        call.params,
        &["output", "s3Destination", "bucket"],
        call.region,
        "stream-output",
    )?;
    let face_search = walk(call.params, &["settings", "faceSearch"]).is_some_and(|v| !v.is_null());
    let name = get_ci(call.params, "name")
        .and_then(Value::as_str)
        .filter(|n| is_resource_name(n, 128))
        .map(str::to_owned);
    let id = response_arn(call, &["streamProcessorArn"], |r| {
        r.strip_prefix("streamprocessor/")
            .is_some_and(|n| is_resource_name(n, 128))
    })
    .or_else(|| {
        // The ARN of a stream processor is fixed by its name (no timestamp): build it.
        let (name, account) = (name.as_deref()?, call.account.as_deref()?);
        is_account(account).then(|| {
            format!(
                "arn:{}:rekognition:{}:{account}:streamprocessor/{name}",
                partition(call.region),
                call.region
            )
        })
    })
    .ok_or("CreateStreamProcessor names no valid stream processor (no ARN, name or account)")?;
    let data_sharing_opt_in = match walk(call.params, &["dataSharingPreference", "optIn"]) {
        None | Some(Value::Null) => Field::Absent,
        Some(Value::Bool(b)) => Field::Value(*b),
        Some(Value::String(s)) if s == HIDDEN => Field::Hidden,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Field::Value(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Field::Value(false),
        Some(_) => return Err("dataSharingPreference.optIn is not a boolean".to_owned()),
    };
    Ok(rekognition(
        TriggerKind::StreamProcessorCreated,
        RekognitionPlan {
            kind: RekognitionKind::StreamProcessor,
            region: call.region.to_owned(),
            id,
            name: None,
            output,
            kms_key_id: key(call)?,
            key_expectation: if face_search {
                KeyExpectation::NotAllowed(FACE_SEARCH_NO_KEY)
            } else {
                KeyExpectation::Expected
            },
            inputs: Vec::new(),
            data_sharing_opt_in: Some(data_sharing_opt_in),
            lookup: name.map(|name| Lookup::StreamProcessor { name }),
            trust_recent_verification: false,
        },
    ))
}

/// The console's (dataset) flow: the manifest names the training-data bucket, which
/// `CreateProjectVersion` then no longer does. Reported, never changed.
fn create_dataset(call: &Call) -> PlanResult {
    let bucket = walk(
        call.params,
        &["datasetSource", "groundTruthManifest", "s3Object", "bucket"],
    );
    let input = match hidden_or_str(bucket) {
        None if bucket.is_some_and(|v| !v.is_null()) => {
            return Err("datasetSource.groundTruthManifest.s3Object.bucket is not a string".into());
        }
        None => {
            return Err(
                "CreateDataset without a GroundTruthManifest (copied from another dataset, or empty): no bucket to check"
                    .to_owned(),
            );
        }
        Some(Err(())) => Field::Hidden,
        Some(Ok(name)) => {
            check_existing_bucket_name(name)?;
            Field::Value(BucketTarget {
                name: name.to_owned(),
                region: call.region.to_owned(),
                role: "training-data",
                audit_only: true,
                fresh: false,
                users: Vec::new(),
                after_grace: false,
            })
        }
    };
    let (id, name) = resource_id(
        call,
        &["datasetArn"],
        is_dataset_arn,
        "projectArn",
        "datasetType",
    )?;
    // The manifest bucket is the only one: a hidden name is reported like an output's.
    let (output, inputs) = match input {
        Field::Value(b) => (Field::Absent, vec![b]),
        _ => (Field::Hidden, Vec::new()),
    };
    Ok(rekognition(
        TriggerKind::DatasetCreated,
        RekognitionPlan {
            kind: RekognitionKind::Dataset,
            region: call.region.to_owned(),
            id,
            name,
            output,
            kms_key_id: Field::Absent,
            key_expectation: KeyExpectation::NotApplicable,
            inputs,
            data_sharing_opt_in: None,
            lookup: None,
            trust_recent_verification: false,
        },
    ))
}

fn start_media_analysis_job(call: &Call) -> PlanResult {
    let output = output_bucket(
        call.params,
        &["outputConfig", "s3Bucket"],
        call.region,
        "job-output",
    )?
    .required("StartMediaAnalysisJob without outputConfig.s3Bucket: no bucket to guard")?;
    let mut inputs = Vec::new();
    if let Some(name) = walk(call.params, &["input", "s3Object", "bucket"]).and_then(Value::as_str)
        && name != HIDDEN
        && check_existing_bucket_name(name).is_ok()
    {
        push_input(&mut inputs, &output, name, call.region, "job-input");
    }
    let (id, name) = job_or_session_id(call, "jobId", "jobName");
    Ok(rekognition(
        TriggerKind::MediaAnalysisJobStarted,
        RekognitionPlan {
            kind: RekognitionKind::MediaAnalysisJob,
            region: call.region.to_owned(),
            id,
            name,
            output,
            kms_key_id: key(call)?,
            key_expectation: KeyExpectation::Expected,
            inputs,
            data_sharing_opt_in: None,
            lookup: job_lookup(call),
            trust_recent_verification: false,
        },
    ))
}

/// One call per end-user session: the reference and audit images of people's faces land
/// in `Settings.OutputConfig.S3Bucket`, when one is named.
fn create_face_liveness_session(call: &Call) -> PlanResult {
    let output = output_bucket(
        call.params,
        &["settings", "outputConfig", "s3Bucket"],
        call.region,
        "liveness-output",
    )?
    .required("CreateFaceLivenessSession without Settings.OutputConfig.S3Bucket: no images are stored in S3")?;
    let (id, name) = job_or_session_id(call, "sessionId", "clientRequestToken");
    Ok(rekognition(
        TriggerKind::FaceLivenessSessionCreated,
        RekognitionPlan {
            kind: RekognitionKind::FaceLivenessSession,
            region: call.region.to_owned(),
            id,
            name,
            output,
            kms_key_id: key(call)?,
            key_expectation: KeyExpectation::Expected,
            inputs: Vec::new(),
            data_sharing_opt_in: None,
            lookup: None,
            trust_recent_verification: true,
        },
    ))
}

fn rekognition(kind: TriggerKind, plan: RekognitionPlan) -> (TriggerKind, Plan) {
    (kind, Plan::Rekognition(Box::new(plan)))
}

impl Field<BucketTarget> {
    /// An output the API requires: its absence means the record names no bucket.
    fn required(self, why: &str) -> Result<Self, String> {
        match self {
            Field::Absent => Err(why.to_owned()),
            other => Ok(other),
        }
    }
}

/// `get_ci` along a path of objects.
fn walk<'a>(map: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut here = map;
    for key in parents {
        here = get_ci(here, key)?.as_object()?;
    }
    get_ci(here, last)
}

/// An output bucket field: absent, hidden by CloudTrail (the field, or the object
/// holding it), or a name that exists (legacy names included).
fn output_bucket(
    params: &Map<String, Value>,
    path: &[&str],
    region: &str,
    role: &'static str,
) -> Result<Field<BucketTarget>, String> {
    let label = path.join(".");
    // A parent object CloudTrail replaced by the marker hides the bucket too.
    for depth in 1..path.len() {
        if walk(params, &path[..depth]).and_then(Value::as_str) == Some(HIDDEN) {
            return Ok(Field::Hidden);
        }
    }
    match walk(params, path) {
        None | Some(Value::Null)
            if walk(params, &path[..path.len() - 1]).is_none_or(Value::is_null) =>
        {
            Ok(Field::Absent)
        }
        None | Some(Value::Null) => Err(format!("{label} missing or not a string")),
        Some(Value::String(s)) if s == HIDDEN => Ok(Field::Hidden),
        Some(Value::String(name)) => {
            check_existing_bucket_name(name)?;
            Ok(Field::Value(BucketTarget {
                name: name.clone(),
                after_grace: false,
                region: region.to_owned(),
                role,
                audit_only: false,
                fresh: false,
                users: Vec::new(),
            }))
        }
        Some(_) => Err(format!("{label} missing or not a string")),
    }
}

fn push_input(
    inputs: &mut Vec<BucketTarget>,
    output: &Field<BucketTarget>,
    name: &str,
    region: &str,
    role: &'static str,
) {
    let is_output = output.value().is_some_and(|o| o.name == name);
    if !is_output && !inputs.iter().any(|t| t.name == name) {
        inputs.push(BucketTarget {
            name: name.to_owned(),
            region: region.to_owned(),
            role,
            audit_only: true,
            fresh: false,
            users: Vec::new(),
            after_grace: false,
        });
    }
}

fn key(call: &Call) -> Result<Field<String>, String> {
    if get_ci(call.params, "kmsKeyId").and_then(Value::as_str) == Some(HIDDEN) {
        return Ok(Field::Hidden);
    }
    Ok(match key_id(call.params, "kmsKeyId", call.region)? {
        Some(k) => Field::Value(k),
        None => Field::Absent,
    })
}

fn is_account(account: &str) -> bool {
    account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
}

/// Names Rekognition gives resources: `[a-zA-Z0-9_.\-]+`.
fn is_resource_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `arn:<partition>:rekognition:<region>:<account>:<resource>` of the event's own
/// partition, Region and account, with a resource `valid` accepts.
pub fn is_rekognition_arn(
    arn: &str,
    region: &str,
    account: Option<&str>,
    valid: impl Fn(&str) -> bool,
) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [
        "arn",
        arn_partition,
        "rekognition",
        arn_region,
        arn_account,
        resource,
    ] = parts[..]
    else {
        return false;
    };
    arn.len() <= 2048
        && arn_partition == partition(region)
        && arn_region == region
        && is_account(arn_account)
        && account.is_none_or(|a| a == arn_account)
        && resource
            .split('/')
            .all(|segment| is_resource_name(segment, 255))
        && valid(resource)
}

fn is_version_arn(resource: &str) -> bool {
    let segments: Vec<&str> = resource.split('/').collect();
    matches!(segments[..], ["project", _, "version", _, _])
}

/// `project/<project>/dataset/<type>/<created>`.
fn is_dataset_arn(resource: &str) -> bool {
    let segments: Vec<&str> = resource.split('/').collect();
    matches!(segments[..], ["project", _, "dataset", _, _])
}

fn is_project_arn(resource: &str) -> bool {
    let segments: Vec<&str> = resource.split('/').collect();
    matches!(segments[..], ["project", _, _])
}

/// The ARN in `responseElements` (lowerCamelCase, or the PascalCase of older records),
/// if it is one of this event's partition, Region and account.
fn response_arn(call: &Call, keys: &[&str], valid: impl Fn(&str) -> bool) -> Option<String> {
    let response = call.response?;
    keys.iter()
        .filter_map(|k| get_ci(response, k).and_then(Value::as_str))
        .find(|arn| is_rekognition_arn(arn, call.region, call.account.as_deref(), &valid))
        .map(str::to_owned)
}

/// The resource's own ARN from the response or, when the record has none, the parent
/// project's ARN from the request and the child's name, never an invented ARN.
fn resource_id(
    call: &Call,
    response_keys: &[&str],
    valid: impl Fn(&str) -> bool,
    parent_key: &str,
    name_key: &str,
) -> Result<(String, Option<String>), String> {
    if let Some(arn) = response_arn(call, response_keys, valid) {
        return Ok((arn, None));
    }
    let parent = match get_ci(call.params, parent_key).and_then(Value::as_str) {
        Some(arn)
            if is_rekognition_arn(arn, call.region, call.account.as_deref(), is_project_arn) =>
        {
            arn
        }
        Some(arn) => {
            return Err(format!(
                "{}: no responseElements.{}, and {parent_key} {:?} is not a project ARN of the event's partition, Region and account",
                call.name,
                response_keys[0],
                arn.chars().take(120).collect::<String>()
            ));
        }
        None => {
            return Err(format!(
                "{}: neither responseElements.{} nor {parent_key} in the record",
                call.name, response_keys[0]
            ));
        }
    };
    let name = get_ci(call.params, name_key)
        .and_then(Value::as_str)
        .filter(|n| is_resource_name(n, 255))
        .ok_or_else(|| {
            format!(
                "{}: neither responseElements.{} nor a valid {name_key} in the record",
                call.name, response_keys[0]
            )
        })?;
    Ok((parent.to_owned(), Some(name.to_owned())))
}

/// A job or session id from the response (`[a-zA-Z0-9_-]{1,64}`).
fn response_id(call: &Call, key: &str) -> Option<String> {
    call.response
        .and_then(|r| get_ci(r, key))
        .and_then(Value::as_str)
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
        })
        .map(str::to_owned)
}

/// Jobs and sessions have no ARN: their id from the response or, when the record has
/// none, "unknown" with the name the request gave.
fn job_or_session_id(call: &Call, id_key: &str, name_key: &str) -> (String, Option<String>) {
    match response_id(call, id_key) {
        Some(id) => (id, None),
        None => (
            format!("unknown (no responseElements.{id_key} in the record)"),
            get_ci(call.params, name_key)
                .and_then(Value::as_str)
                .filter(|n| is_resource_name(n, 64))
                .map(str::to_owned),
        ),
    }
}

/// `DescribeProjectVersions` of the version the call created, when the record names its
/// project and version.
fn version_lookup(call: &Call, project_key: &str) -> Option<Lookup> {
    let project_arn = get_ci(call.params, project_key)
        .and_then(Value::as_str)
        .filter(|arn| {
            is_rekognition_arn(arn, call.region, call.account.as_deref(), is_project_arn)
        })?;
    let version_name = get_ci(call.params, "versionName")
        .and_then(Value::as_str)
        .filter(|n| is_resource_name(n, 255))?;
    Some(Lookup::ProjectVersion {
        project_arn: project_arn.to_owned(),
        version_name: version_name.to_owned(),
    })
}

/// `GetMediaAnalysisJob` of the job the call started, when the record has its id.
fn job_lookup(call: &Call) -> Option<Lookup> {
    response_id(call, "jobId").map(|job_id| Lookup::MediaAnalysisJob { job_id })
}

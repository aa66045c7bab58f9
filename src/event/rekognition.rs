//! Rekognition triggers: the calls that name where Rekognition writes data.

use super::fields::{check_bucket_name, get_ci, key_id};
use super::{BucketTarget, Plan, PlanResult, TriggerKind};
use serde_json::{Map, Value};

pub(super) fn project_version_plan(params: &Map<String, Value>, region: &str) -> PlanResult {
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

pub(super) fn stream_processor_plan(params: &Map<String, Value>, region: &str) -> PlanResult {
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

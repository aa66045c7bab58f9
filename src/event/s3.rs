//! S3 triggers: `CreateBucket` of a guarded name.

pub(super) use super::fields::DIRECTORY_BUCKET;
use super::fields::{check_bucket_name, get_ci};
use super::{BucketTarget, Plan, PlanResult, TriggerKind};
use crate::config::Config;
use crate::region::{is_region, partition};
use serde_json::{Map, Value};

pub(super) fn create_bucket_plan(
    params: &Map<String, Value>,
    region: &str,
    config: &Config,
) -> PlanResult {
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
            users: Vec::new(),
            after_grace: false,
        }),
    ))
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

//! `GUARD_REENCRYPT=batch`: after `sse-kms` was remediated on a bucket, start an S3 Batch
//! Operations job that brings the objects already in it to the key just written (default
//! encryption protects new objects only). Asynchronous: the job id goes into the control's
//! result (`reencrypt_job`), and so into the report and the alert; `rekognition-guard jobs`
//! follows it. A held bucket is never remediated, so never gets a job; a job that cannot be
//! created leaves the remediation as it is and says why in the detail.

use super::App;
use crate::aws;
use crate::change::StatesKind;
use crate::config::REENCRYPT_REPORT_PREFIX;
use crate::controls::sse_kms;
use crate::event::BucketTarget;
use crate::objects::{Target, job};
use crate::report::{Resource, Status};
use serde_json::Value;
use tracing::{info, warn};

/// The key a state names, or `None` when it is the `aws/s3` key (or not SSE-KMS at all).
fn state_key(state: &Value) -> (Option<&str>, Option<&str>) {
    (
        state.get("SSEAlgorithm").and_then(Value::as_str),
        state
            .get("KMSMasterKeyID")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty()),
    )
}

/// The key's ARN (the job takes nothing else), `aws/s3` when `key` is `None`.
async fn key_arn(app: &App, region: &str, key: Option<&str>) -> Result<String, String> {
    let key = key.unwrap_or("alias/aws/s3");
    if key.starts_with("arn:") && key.contains(":key/") {
        return Ok(key.to_owned());
    }
    aws::kms::describe(&app.clients.kms(region), key, false)
        .await
        .map(|i| i.arn)
        .map_err(|e| format!("the key {key}: {e}"))
}

/// The job for `bucket` after a verified write from `before` to `after` (full `sse-kms` states).
async fn request(
    app: &App,
    target: &BucketTarget,
    account: &str,
    before: &Value,
    after: &Value,
) -> Result<job::JobRequest, String> {
    let role = app
        .config
        .reencrypt_role_arn
        .clone()
        .ok_or("GUARD_REENCRYPT_ROLE_ARN is not set")?;
    let (_, new_key) = state_key(after);
    let target_key = Target {
        key_arn: key_arn(app, &target.region, new_key).await?,
        bucket_key: true,
    };
    // Objects written under the old default: SSE-S3 (always in the filter), or the old key.
    let mut others = Vec::new();
    if let (Some(alg), old_key) = state_key(before)
        && alg.starts_with(sse_kms::KMS)
    {
        others.push(key_arn(app, &target.region, old_key).await?);
    }
    let (report_bucket, report_prefix) = match app.config.reencrypt_report.as_deref() {
        Some(location) => job::report_location(location, &target.name)?,
        None => (target.name.clone(), REENCRYPT_REPORT_PREFIX.to_owned()),
    };
    let hour = (crate::metrics::now_millis() / 3_600_000).to_string();
    Ok(job::request(&job::JobInputs {
        account,
        partition: crate::region::partition(&target.region),
        bucket: &target.name,
        prefix: None,
        target: &target_key,
        other_keys: &others,
        report_bucket: &report_bucket,
        report_prefix: &report_prefix,
        role_arn: &role,
        // A retried invocation within the hour creates the same job once.
        token_seed: &format!("{before}{after}{hour}"),
    }))
}

/// Starts the job when `sse-kms` was just remediated on the bucket, and records its id.
pub(super) async fn after_remediation(
    app: &App,
    target: &BucketTarget,
    account: &str,
    resource: &mut Resource,
) {
    let Some(result) = resource.controls.iter_mut().find(|c| {
        c.control == sse_kms::ID
            && c.status == Status::Remediated
            && c.states
                .as_ref()
                .is_some_and(|s| s.kind == StatesKind::Written)
    }) else {
        return;
    };
    let Some(states) = result.states.as_deref() else {
        return;
    };
    let started = match request(app, target, account, &states.before, &states.after).await {
        Ok(request) => aws::s3control::create_job(&app.clients.s3control(&target.region), &request)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    match started {
        Ok(id) => {
            info!(bucket = %target.name, job_id = %id, "existing objects: re-encryption job started");
            result.detail = format!(
                "{}; existing objects: S3 Batch Operations job {id} re-encrypts them",
                result.detail
            );
            result.reencrypt_job = Some(id);
        }
        Err(e) => {
            warn!(bucket = %target.name, error = %e, "existing objects: no re-encryption job");
            result.detail = format!(
                "{}; existing objects: the re-encryption job was not started: {e}",
                result.detail
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn state_keys() {
        assert_eq!(
            state_key(&json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"})),
            (Some("aws:kms"), Some("k"))
        );
        assert_eq!(
            state_key(&json!({"SSEAlgorithm": "AES256", "KMSMasterKeyID": null})),
            (Some("AES256"), None)
        );
        assert_eq!(state_key(&Value::Null), (None, None));
    }
}

//! One Rekognition call: the key it names, the resource it created (with the
//! `customer-managed-key` and `data-sharing` findings), the output bucket it writes to
//! (three controls) and the buckets it only reads (encryption reported).
//!
//! What the record does not show — a field CloudTrail hid, a stream processor's data
//! sharing left out of the request — is read back (`DescribeStreamProcessor`,
//! `DescribeProjectVersions`, `GetMediaAnalysisJob`), or reported `skipped` with the
//! reason; never ignored silently.

use super::{App, guard_bucket, rekognition_key};
use crate::aws::rekognition::{self as rek, ResourceFacts};
use crate::controls::sse_kms::KeyTarget;
use crate::controls::{customer_managed_key, data_sharing, kms_key_spec, public_access_block};
use crate::controls::{sse_kms, tls_only};
use crate::event::{
    BucketTarget, Field, HIDDEN, KeyExpectation, Lookup, RekognitionKind, RekognitionPlan,
    check_existing_bucket_name,
};
use crate::report::{ControlResult, Resource, ResourceType, Status};
use std::time::Instant;
use tracing::warn;

fn resource_type(kind: RekognitionKind) -> ResourceType {
    match kind {
        RekognitionKind::ProjectVersion => ResourceType::RekognitionProjectVersion,
        RekognitionKind::StreamProcessor => ResourceType::RekognitionStreamProcessor,
        RekognitionKind::Dataset => ResourceType::RekognitionDataset,
        RekognitionKind::MediaAnalysisJob => ResourceType::RekognitionMediaAnalysisJob,
        RekognitionKind::FaceLivenessSession => ResourceType::RekognitionFaceLivenessSession,
    }
}

/// The role a key plays in the report (`kms-key` resources).
fn key_role(kind: RekognitionKind) -> &'static str {
    match kind {
        RekognitionKind::ProjectVersion => "project-version",
        RekognitionKind::StreamProcessor => "stream-processor",
        RekognitionKind::Dataset => "dataset",
        RekognitionKind::MediaAnalysisJob => "media-analysis-job",
        RekognitionKind::FaceLivenessSession => "face-liveness-session",
    }
}

fn hidden(field: &str) -> String {
    format!("{field} is hidden by CloudTrail ({HIDDEN})")
}

pub async fn guard_rekognition(
    app: &App,
    mut plan: RekognitionPlan,
    account: &str,
    deadline: Instant,
) -> Vec<Resource> {
    let region = plan.region.clone();
    // What the record does not tell (hidden, or data sharing left out), the resource's
    // read call does.
    let unknown = plan.output == Field::Hidden
        || plan.kms_key_id == Field::Hidden
        || plan
            .data_sharing_opt_in
            .as_ref()
            .is_some_and(|f| !matches!(f, Field::Value(_)));
    let described = if unknown {
        let result = match &plan.lookup {
            Some(lookup) => read_back(app, &region, lookup).await.map_err(|e| {
                warn!(resource = %plan.id, error = %e, "cannot read the resource back");
                e.to_string()
            }),
            None => Err("the record names nothing to read back".to_owned()),
        };
        if let Ok(facts) = &result {
            fill_from_description(&mut plan, facts);
        }
        Some(result)
    } else {
        None
    };
    let described_error = match &described {
        Some(Err(e)) => Some(e.clone()),
        _ => None,
    };

    let mut resources = Vec::new();
    let mut controls = Vec::new();

    // The key, and whether it may encrypt the output bucket.
    let mut own_key = None;
    match (&plan.key_expectation, &plan.kms_key_id) {
        (KeyExpectation::NotApplicable, _) => {}
        (KeyExpectation::NotAllowed(why), _) => controls.push(ControlResult::new(
            customer_managed_key::ID,
            Status::Skipped,
            *why,
        )),
        (KeyExpectation::Expected, Field::Hidden) => {
            let why = unread(&hidden("KmsKeyId"), described_error.as_deref());
            controls.push(ControlResult::new(
                customer_managed_key::ID,
                Status::Compliant,
                format!("a KmsKeyId is set ({})", hidden("its value")),
            ));
            controls.push(ControlResult::new(kms_key_spec::ID, Status::Skipped, why));
        }
        (KeyExpectation::Expected, key) => {
            let key = key.value().map(String::as_str);
            let (key_resource, target) =
                rekognition_key(app, &region, key, key_role(plan.kind)).await;
            resources.extend(key_resource);
            own_key = target;
            controls.push(customer_managed_key::evaluate(key, app.config.require_cmk).reported());
        }
    }

    if let Some(opt_in) = &plan.data_sharing_opt_in {
        controls.push(data_sharing_result(opt_in, &described));
    }

    // An output bucket whose name CloudTrail hid, and no Describe call gave back.
    if plan.output == Field::Hidden {
        let bucket_controls: &[&str] = if plan.kind == RekognitionKind::Dataset {
            &[sse_kms::ID]
        } else {
            &[sse_kms::ID, public_access_block::ID, tls_only::ID]
        };
        let why = unread(&hidden("the bucket name"), described_error.as_deref());
        for control in bucket_controls {
            controls.push(ControlResult::new(control, Status::Skipped, why.clone()));
        }
    }

    resources.push(Resource {
        kind: resource_type(plan.kind),
        id: plan.id.clone(),
        name: plan.name.clone(),
        role: None,
        region: Some(region.clone()),
        account: None,
        controls,
    });

    // The resource's own usable key encrypts its output, unless a key is configured.
    let output_key = match (plan.output.value(), &app.config.kms_key_id, own_key) {
        (Some(_), None, Some(key)) => Some(key),
        (Some(output), _, _) => Some(app.remediation_key(&output.region).await),
        (None, _, _) => None,
    };
    let output = async {
        match (plan.output.value(), &output_key) {
            (Some(output), Some(key)) => Some(
                guard_output(
                    app,
                    output,
                    key,
                    account,
                    deadline,
                    plan.trust_recent_verification,
                )
                .await,
            ),
            _ => None,
        }
    };
    let inputs = futures::future::join_all(
        plan.inputs
            .iter()
            .map(|t| guard_bucket(app, t, &KeyTarget::AwsManaged, account, deadline)),
    );
    let (output, inputs) = tokio::join!(output, inputs);
    resources.extend(output);
    resources.extend(inputs);
    resources
}

async fn read_back(
    app: &App,
    region: &str,
    lookup: &Lookup,
) -> Result<ResourceFacts, crate::aws::AwsError> {
    let client = app.clients.rekognition(region);
    match lookup {
        Lookup::StreamProcessor { name } => rek::describe_stream_processor(&client, name).await,
        Lookup::ProjectVersion {
            project_arn,
            version_name,
        } => rek::describe_project_version(&client, project_arn, version_name).await,
        Lookup::MediaAnalysisJob { job_id } => rek::get_media_analysis_job(&client, job_id).await,
    }
}

/// `why` a value is unknown, and why reading the resource back did not tell it.
fn unread(why: &str, read_error: Option<&str>) -> String {
    match read_error {
        Some(e) => format!("{why}, and reading it back failed ({e}): not checked"),
        None => format!("{why}, and no read call returns it: not checked"),
    }
}

/// What the read call says replaces what the record left out or hid.
fn fill_from_description(plan: &mut RekognitionPlan, facts: &ResourceFacts) {
    if plan.output == Field::Hidden {
        let role = match plan.kind {
            RekognitionKind::StreamProcessor => "stream-output",
            RekognitionKind::MediaAnalysisJob => "job-output",
            _ => "output",
        };
        plan.output = match facts.output_bucket.as_deref() {
            Some(name) if check_existing_bucket_name(name).is_ok() => Field::Value(BucketTarget {
                name: name.to_owned(),
                region: plan.region.clone(),
                role,
                audit_only: false,
                fresh: false,
                users: Vec::new(),
                after_grace: false,
            }),
            Some(_) => Field::Hidden,
            None => Field::Absent,
        };
    }
    if plan.kms_key_id == Field::Hidden {
        plan.kms_key_id = facts.kms_key_id.clone().map_or(Field::Absent, Field::Value);
    }
    if facts.face_search {
        plan.key_expectation = KeyExpectation::NotAllowed(
            "the API does not allow KmsKeyId for face-search stream processors (Settings.FaceSearch)",
        );
    }
}

fn data_sharing_result(
    requested: &Field<bool>,
    described: &Option<Result<ResourceFacts, String>>,
) -> ControlResult {
    let in_request = match requested {
        Field::Value(opt_in) => {
            return data_sharing::evaluate(*opt_in, "in the request").reported();
        }
        Field::Absent => "not set in the request (the API model documents no default)".to_owned(),
        Field::Hidden => hidden("DataSharingPreference.OptIn"),
    };
    match described {
        Some(Ok(ResourceFacts {
            data_sharing_opt_in: Some(opt_in),
            call,
            ..
        })) => data_sharing::evaluate(*opt_in, &format!("per {call}; {in_request}")).reported(),
        Some(Ok(facts)) => ControlResult::new(
            data_sharing::ID,
            Status::Skipped,
            format!(
                "{in_request}, and {} returns no DataSharingPreference",
                facts.call
            ),
        ),
        Some(Err(e)) => ControlResult::new(
            data_sharing::ID,
            Status::Skipped,
            format!("{in_request}, and reading it back failed ({e}): not checked"),
        ),
        None => ControlResult::new(data_sharing::ID, Status::Skipped, in_request),
    }
}

/// An output bucket, trusted without reading it again when this warm function verified
/// it compliant less than `GUARD_RECHECK_SECONDS` ago (liveness sessions: one call per
/// end user).
async fn guard_output(
    app: &App,
    output: &BucketTarget,
    key: &KeyTarget,
    account: &str,
    deadline: Instant,
    trust_recent: bool,
) -> Resource {
    let window = app.config.recheck;
    if trust_recent
        && !window.is_zero()
        && let Some(age) = app.verified_age(&output.region, &output.name)
        && age < window
    {
        let detail = format!(
            "verified compliant {}s ago by this warm function; not read again within GUARD_RECHECK_SECONDS={}",
            age.as_secs(),
            window.as_secs()
        );
        return Resource {
            kind: ResourceType::S3Bucket,
            id: output.name.clone(),
            name: None,
            role: Some(output.role.to_owned()),
            region: Some(output.region.clone()),
            account: None,
            controls: [sse_kms::ID, public_access_block::ID, tls_only::ID]
                .iter()
                .map(|c| ControlResult::new(c, Status::Compliant, detail.clone()))
                .collect(),
        };
    }
    let resource = guard_bucket(app, output, key, account, deadline).await;
    let verified = !resource.controls.is_empty()
        && resource
            .controls
            .iter()
            .all(|c| matches!(c.status, Status::Compliant | Status::Remediated));
    if trust_recent && verified {
        app.mark_verified(&output.region, &output.name);
    }
    resource
}

//! Issue 14: every Rekognition call that places data, end to end against the emulator
//! (S3 and KMS in moto; the Rekognition calls moto lacks, `DescribeStreamProcessor`,
//! from `aws-smithy-mocks` with the documented response shapes), and the findings that
//! were wrong before: face-search keys, real ARNs, data sharing wording, legacy bucket
//! names, partitions, hidden values, directory buckets.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use aws_sdk_rekognition::Client as RekClient;
use aws_sdk_rekognition::operation::describe_project_versions::DescribeProjectVersionsOutput;
use aws_sdk_rekognition::operation::describe_stream_processor::{
    DescribeStreamProcessorError, DescribeStreamProcessorOutput,
};
use aws_sdk_rekognition::operation::get_media_analysis_job::{
    GetMediaAnalysisJobError, GetMediaAnalysisJobOutput,
};
use aws_sdk_rekognition::types::{
    MediaAnalysisJobStatus, MediaAnalysisOutputConfig, ProjectVersionDescription, S3Destination,
    StreamProcessorDataSharingPreference, StreamProcessorOutput,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use common::{ACCOUNT, REGION};
use rekognition_guard::aws::clients::Clients;
use rekognition_guard::config::Config;
use rekognition_guard::event::TriggerKind;
use rekognition_guard::handler::{self, App};
use rekognition_guard::report::{ControlResult, Report, Resource, ResourceType, Severity, Status};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn app(config: Config) -> App {
    common::app(config, Clients::new(common::sdk_config().await))
}

async fn app_with_rekognition(config: Config, client: RekClient) -> App {
    common::app(
        config,
        Clients::new(common::sdk_config().await).with_rekognition(client),
    )
}

async fn run(app: &App, event: &Value) -> Report {
    handler::handle(app, event, Instant::now() + Duration::from_secs(60))
        .await
        .unwrap()
}

async fn bucket(name: &str) -> aws_sdk_s3::Client {
    let s3 = common::s3(REGION).await;
    s3.create_bucket().bucket(name).send().await.unwrap();
    s3
}

fn resource(report: &Report, kind: ResourceType) -> &Resource {
    report
        .resources
        .iter()
        .find(|r| r.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?}: {report:#?}"))
}

fn control<'a>(r: &'a Resource, control: &str) -> &'a ControlResult {
    r.controls
        .iter()
        .find(|c| c.control == control)
        .unwrap_or_else(|| panic!("no {control} on {}: {r:#?}", r.id))
}

fn bucket_resource<'a>(report: &'a Report, bucket: &str) -> &'a Resource {
    report
        .resources
        .iter()
        .find(|r| r.kind == ResourceType::S3Bucket && r.id == bucket)
        .unwrap_or_else(|| panic!("no bucket {bucket}: {report:#?}"))
}

async fn sse(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<(String, Option<String>)> {
    common::read_encryption(s3, bucket)
        .await
        .map(|(alg, key, _)| (alg, key))
}

/// A sample with its buckets renamed to fresh ones and its key replaced by a real one.
fn sample_with(name: &str, edits: &[(&str, Value)]) -> Value {
    let mut e = common::sample(name);
    for (pointer, value) in edits {
        *e.pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{name} has no {pointer}")) = value.clone();
    }
    e
}

#[tokio::test]
async fn copy_project_version_guards_the_copys_output_bucket_with_its_key() {
    let output = common::unique("acme-rek-copies-");
    let s3 = bucket(&output).await;
    let key = common::create_key("SYMMETRIC_DEFAULT").await;
    let event = sample_with(
        "copy-project-version.json",
        &[
            (
                "/detail/requestParameters/outputConfig/s3Bucket",
                json!(output),
            ),
            ("/detail/requestParameters/kmsKeyId", json!(key)),
        ],
    );
    let report = run(&app(Config::default()).await, &event).await;
    assert_eq!(report.trigger.kind, TriggerKind::ProjectVersionCopied);
    let version = resource(&report, ResourceType::RekognitionProjectVersion);
    assert_eq!(
        version.id,
        "arn:aws:rekognition:us-east-1:123456789012:project/defect-detection-prod/version/v3-prod/1732300000000",
        "the copy's ARN from responseElements"
    );
    assert_eq!(
        control(version, "customer-managed-key").status,
        Status::Compliant
    );
    assert_eq!(
        control(resource(&report, ResourceType::KmsKey), "kms-key-spec").status,
        Status::Compliant
    );
    let out = bucket_resource(&report, &output);
    assert_eq!(out.role.as_deref(), Some("output"));
    for c in ["sse-kms", "public-access-block", "tls-only"] {
        assert_eq!(control(out, c).status, Status::Remediated, "{c}");
    }
    assert_eq!(
        sse(&s3, &output).await,
        Some(("aws:kms".into(), Some(key))),
        "the copy's own key"
    );
}

#[tokio::test]
async fn create_dataset_reports_the_manifest_bucket_and_never_changes_it() {
    let manifests = common::unique("acme-rek-manifests-");
    let s3 = bucket(&manifests).await;
    common::put_encryption(&s3, &manifests, "AES256", None, false).await;
    let before = common::read_encryption(&s3, &manifests).await;
    let event = sample_with(
        "create-dataset.json",
        &[(
            "/detail/requestParameters/datasetSource/groundTruthManifest/s3Object/bucket",
            json!(manifests),
        )],
    );
    let app = app(Config::default()).await;
    let writes = app.clients.counter().s3_writes();
    let report = run(&app, &event).await;
    assert_eq!(report.trigger.kind, TriggerKind::DatasetCreated);
    let dataset = resource(&report, ResourceType::RekognitionDataset);
    assert_eq!(
        dataset.id,
        "arn:aws:rekognition:us-east-1:123456789012:project/defect-detection/dataset/train/1732093400000"
    );
    let b = bucket_resource(&report, &manifests);
    assert_eq!(b.role.as_deref(), Some("training-data"));
    assert_eq!(b.controls.len(), 1, "encryption only: {b:#?}");
    assert_eq!(control(b, "sse-kms").status, Status::NonCompliant);
    assert_eq!(common::read_encryption(&s3, &manifests).await, before);
    assert_eq!(app.clients.counter().s3_writes(), writes, "no S3 write");
}

#[tokio::test]
async fn media_analysis_job_output_is_guarded_and_its_input_only_read() {
    let input = common::unique("acme-rek-media-in-");
    let output = common::unique("acme-rek-media-out-");
    let s3 = bucket(&input).await;
    bucket(&output).await;
    common::put_encryption(&s3, &input, "AES256", None, false).await;
    let input_before = common::read_encryption(&s3, &input).await;
    let key = common::create_key("SYMMETRIC_DEFAULT").await;
    let event = sample_with(
        "start-media-analysis-job.json",
        &[
            (
                "/detail/requestParameters/input/s3Object/bucket",
                json!(input),
            ),
            (
                "/detail/requestParameters/outputConfig/s3Bucket",
                json!(output),
            ),
            ("/detail/requestParameters/kmsKeyId", json!(key)),
        ],
    );
    let report = run(&app(Config::default()).await, &event).await;
    assert_eq!(report.trigger.kind, TriggerKind::MediaAnalysisJobStarted);
    let job = resource(&report, ResourceType::RekognitionMediaAnalysisJob);
    assert_eq!(
        job.id,
        "7d3c1b9e2a4f6085c1e3d5b7a9f0e2c4d6b8a0f1e3c5d7b9a1f2e4c6d8b0a2f4"
    );
    let out = bucket_resource(&report, &output);
    assert_eq!(out.role.as_deref(), Some("job-output"));
    assert!(out.controls.iter().all(|c| c.status == Status::Remediated));
    assert_eq!(
        sse(&s3, &output).await.unwrap().1.as_deref(),
        Some(key.as_str())
    );
    let inp = bucket_resource(&report, &input);
    assert_eq!(
        (inp.role.as_deref(), control(inp, "sse-kms").status),
        (Some("job-input"), Status::NonCompliant)
    );
    assert_eq!(common::read_encryption(&s3, &input).await, input_before);
}

#[tokio::test]
async fn liveness_sessions_trust_a_bucket_verified_a_moment_ago() {
    let output = common::unique("acme-rek-liveness-");
    let s3 = bucket(&output).await;
    let key = common::create_key("SYMMETRIC_DEFAULT").await;
    let event = sample_with(
        "create-face-liveness-session.json",
        &[
            (
                "/detail/requestParameters/settings/outputConfig/s3Bucket",
                json!(output),
            ),
            ("/detail/requestParameters/kmsKeyId", json!(key)),
        ],
    );
    let app = app(Config::default()).await;
    let first = run(&app, &event).await;
    println!(
        "requests for a first liveness session (cold): {}",
        app.clients.counter().requests()
    );
    assert_eq!(first.trigger.kind, TriggerKind::FaceLivenessSessionCreated);
    assert_eq!(
        resource(&first, ResourceType::RekognitionFaceLivenessSession).id,
        "2f9c3a51-7e0b-4d6a-9c1e-5b8d7f4a2e63"
    );
    let out = bucket_resource(&first, &output);
    assert_eq!(out.role.as_deref(), Some("liveness-output"));
    assert!(out.controls.iter().all(|c| c.status == Status::Remediated));

    // The next session, a moment later: not read again.
    let requests = app.clients.counter().requests();
    let second = run(&app, &event).await;
    let out = bucket_resource(&second, &output);
    assert!(
        out.controls
            .iter()
            .all(|c| c.status == Status::Compliant && c.detail.contains("not read again")),
        "{out:#?}"
    );
    let sent = app.clients.counter().requests() - requests;
    println!("requests for a second liveness session while warm: {sent}");
    assert_eq!(
        sent, 0,
        "STS, key, opt-out and bucket all cached while warm"
    );

    // A bucket changed since is caught once the window has passed (0 = always read).
    s3.delete_bucket_encryption()
        .bucket(&output)
        .send()
        .await
        .unwrap();
    let app = self::app(Config {
        recheck: Duration::ZERO,
        ..Config::default()
    })
    .await;
    run(&app, &event).await;
    let third = run(&app, &event).await;
    assert_eq!(
        control(bucket_resource(&third, &output), "sse-kms").status,
        Status::Compliant
    );
    assert!(
        !control(bucket_resource(&third, &output), "sse-kms")
            .detail
            .contains("not read again")
    );
}

#[tokio::test]
async fn face_search_processors_skip_the_key_and_label_detection_keeps_the_finding() {
    let app = app(Config::default()).await;
    let report = run(
        &app,
        &common::sample("create-stream-processor-face-search.json"),
    )
    .await;
    let sp = resource(&report, ResourceType::RekognitionStreamProcessor);
    let cmk = control(sp, "customer-managed-key");
    assert_eq!(cmk.status, Status::Skipped);
    assert!(cmk.detail.contains("face-search"), "{}", cmk.detail);
    assert_eq!(
        sp.id,
        "arn:aws:rekognition:us-east-1:123456789012:streamprocessor/lobby-face-search"
    );

    let output = common::unique("acme-rek-video-");
    bucket(&output).await;
    let mut label = common::sample("create-stream-processor.json");
    let p = &mut label["detail"]["requestParameters"];
    p["output"]["s3Destination"]["bucket"] = json!(output);
    p.as_object_mut().unwrap().remove("kmsKeyId");
    let report = run(&app, &label).await;
    let cmk = control(
        resource(&report, ResourceType::RekognitionStreamProcessor),
        "customer-managed-key",
    );
    assert_eq!(cmk.status, Status::NonCompliant);
}

#[tokio::test]
async fn ids_are_real_arns_or_the_project_and_the_version_name() {
    let output = common::unique("acme-rek-output-");
    bucket(&output).await;
    let app = app(Config::default()).await;
    let mut event = common::sample("create-project-version-no-kms.json");
    event["detail"]["requestParameters"]["outputConfig"]["s3Bucket"] = json!(output);
    let project = event["detail"]["requestParameters"]["projectArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let version = event["detail"]["requestParameters"]["versionName"]
        .as_str()
        .unwrap()
        .to_owned();
    let report = run(&app, &event).await;
    let r = resource(&report, ResourceType::RekognitionProjectVersion);
    assert_eq!(
        r.id,
        event["detail"]["responseElements"]["projectVersionArn"]
            .as_str()
            .unwrap()
    );
    assert!(r.id.contains(&format!("/version/{version}/")), "{}", r.id);
    assert_eq!(r.name, None);

    event["detail"]["responseElements"] = Value::Null;
    let report = run(&app, &event).await;
    let r = resource(&report, ResourceType::RekognitionProjectVersion);
    assert_eq!(
        (r.id.as_str(), r.name.as_deref()),
        (project.as_str(), Some(version.as_str())),
        "no invented ARN: the project, and the version by name"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert!(
        json["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["name"] == json!(version))
    );
}

fn described(opt_in: bool, bucket: Option<&str>) -> DescribeStreamProcessorOutput {
    let mut out = DescribeStreamProcessorOutput::builder()
        .name("front-door")
        .stream_processor_arn(format!(
            "arn:aws:rekognition:{REGION}:{ACCOUNT}:streamprocessor/front-door"
        ))
        .data_sharing_preference(
            StreamProcessorDataSharingPreference::builder()
                .opt_in(opt_in)
                .build(),
        );
    if let Some(bucket) = bucket {
        out = out.output(
            StreamProcessorOutput::builder()
                .s3_destination(S3Destination::builder().bucket(bucket).build())
                .build(),
        );
    }
    out.build()
}

#[tokio::test]
async fn data_sharing_not_in_the_request_is_read_with_describe_stream_processor() {
    let mut event = common::sample("create-stream-processor.json");
    event["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("dataSharingPreference");
    event["detail"]["requestParameters"]["output"]["s3Destination"]["bucket"] =
        json!(common::unique("acme-rek-video-"));

    let rule = mock!(RekClient::describe_stream_processor)
        .match_requests(|r| r.name() == Some("front-door"))
        .then_output(|| described(true, None));
    let client = mock_client!(aws_sdk_rekognition, RuleMode::MatchAny, [&rule]);
    let report = run(
        &app_with_rekognition(Config::default(), client).await,
        &event,
    )
    .await;
    let sharing = control(
        resource(&report, ResourceType::RekognitionStreamProcessor),
        "data-sharing",
    );
    assert_eq!(
        (sharing.status, sharing.severity),
        (Status::NonCompliant, Some(Severity::High))
    );
    assert!(
        sharing.detail.contains("DescribeStreamProcessor")
            && sharing.detail.contains("not set in the request"),
        "{}",
        sharing.detail
    );
    assert_eq!(rule.num_calls(), 1);

    let denied = mock!(RekClient::describe_stream_processor).then_error(|| {
        DescribeStreamProcessorError::AccessDeniedException(
            aws_sdk_rekognition::types::error::AccessDeniedException::builder()
                .message("not authorized")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_rekognition, RuleMode::MatchAny, [&denied]);
    let report = run(
        &app_with_rekognition(Config::default(), client).await,
        &event,
    )
    .await;
    let sharing = control(
        resource(&report, ResourceType::RekognitionStreamProcessor),
        "data-sharing",
    );
    assert_eq!(sharing.status, Status::Skipped);
    assert!(
        sharing.detail.contains("not set in the request") && !sharing.detail.contains("default is"),
        "{}",
        sharing.detail
    );
}

#[tokio::test]
async fn values_cloudtrail_hides_are_read_back_or_skipped_with_the_reason() {
    // A stream processor whose output bucket and opt-in CloudTrail hid: described.
    let output = common::unique("acme-rek-video-");
    let s3 = bucket(&output).await;
    let mut event = common::sample("create-stream-processor.json");
    let p = &mut event["detail"]["requestParameters"];
    p["output"]["s3Destination"]["bucket"] = json!("HIDDEN_DUE_TO_SECURITY_REASONS");
    p["dataSharingPreference"]["optIn"] = json!("HIDDEN_DUE_TO_SECURITY_REASONS");
    p.as_object_mut().unwrap().remove("kmsKeyId");
    let bucket_name = output.clone();
    let rule = mock!(RekClient::describe_stream_processor)
        .then_output(move || described(false, Some(&bucket_name)));
    let client = mock_client!(aws_sdk_rekognition, RuleMode::MatchAny, [&rule]);
    let report = run(
        &app_with_rekognition(Config::default(), client).await,
        &event,
    )
    .await;
    let sp = resource(&report, ResourceType::RekognitionStreamProcessor);
    assert_eq!(control(sp, "data-sharing").status, Status::Compliant);
    assert!(control(sp, "data-sharing").detail.contains("HIDDEN"));
    assert!(
        bucket_resource(&report, &output)
            .controls
            .iter()
            .all(|c| c.status == Status::Remediated)
    );
    assert_eq!(sse(&s3, &output).await.unwrap().0, "aws:kms");

    // A job whose output bucket and key are hidden: read back with GetMediaAnalysisJob.
    let results = common::unique("acme-rek-media-out-");
    let s3 = bucket(&results).await;
    let key = common::create_key("SYMMETRIC_DEFAULT").await;
    let mut job = common::sample("start-media-analysis-job.json");
    job["detail"]["requestParameters"]["outputConfig"]["s3Bucket"] =
        json!("HIDDEN_DUE_TO_SECURITY_REASONS");
    job["detail"]["requestParameters"]["kmsKeyId"] = json!("HIDDEN_DUE_TO_SECURITY_REASONS");
    let (bucket_name, key_arn) = (results.clone(), key.clone());
    let rule = mock!(RekClient::get_media_analysis_job)
        .match_requests(|r| {
            r.job_id() == Some("7d3c1b9e2a4f6085c1e3d5b7a9f0e2c4d6b8a0f1e3c5d7b9a1f2e4c6d8b0a2f4")
        })
        .then_output(move || {
            GetMediaAnalysisJobOutput::builder()
                .job_id("7d3c1b9e2a4f6085c1e3d5b7a9f0e2c4d6b8a0f1e3c5d7b9a1f2e4c6d8b0a2f4")
                .status(MediaAnalysisJobStatus::InProgress)
                .creation_timestamp(aws_smithy_types::DateTime::from_secs(1_732_100_000))
                .output_config(
                    MediaAnalysisOutputConfig::builder()
                        .s3_bucket(&bucket_name)
                        .s3_key_prefix("moderation/")
                        .build()
                        .unwrap(),
                )
                .kms_key_id(&key_arn)
                .build()
                .unwrap()
        });
    let client = mock_client!(aws_sdk_rekognition, RuleMode::MatchAny, [&rule]);
    let report = run(&app_with_rekognition(Config::default(), client).await, &job).await;
    let out = bucket_resource(&report, &results);
    assert_eq!(out.role.as_deref(), Some("job-output"));
    assert!(out.controls.iter().all(|c| c.status == Status::Remediated));
    assert_eq!(
        sse(&s3, &results).await.unwrap().1.as_deref(),
        Some(key.as_str()),
        "the job's own key, read back"
    );
    assert_eq!(
        control(resource(&report, ResourceType::KmsKey), "kms-key-spec").status,
        Status::Compliant
    );

    // When the read-back fails: skipped, with both reasons.
    let denied = mock!(RekClient::get_media_analysis_job).then_error(|| {
        GetMediaAnalysisJobError::AccessDeniedException(
            aws_sdk_rekognition::types::error::AccessDeniedException::builder()
                .message("not authorized")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_rekognition, RuleMode::MatchAny, [&denied]);
    let report = run(&app_with_rekognition(Config::default(), client).await, &job).await;
    assert_eq!(
        report.trigger.ignored_reason, None,
        "never ignored silently"
    );
    let r = resource(&report, ResourceType::RekognitionMediaAnalysisJob);
    for c in ["sse-kms", "public-access-block", "tls-only", "kms-key-spec"] {
        let result = control(r, c);
        assert_eq!(result.status, Status::Skipped, "{c}");
        assert!(
            result.detail.contains("HIDDEN_DUE_TO_SECURITY_REASONS")
                && result.detail.contains("GetMediaAnalysisJob"),
            "{c}: {}",
            result.detail
        );
    }
    assert_eq!(
        control(r, "customer-managed-key").status,
        Status::Compliant,
        "a key was named"
    );
}

#[tokio::test]
async fn a_hidden_project_key_is_read_with_describe_project_versions() {
    let output = common::unique("acme-rek-output-");
    let s3 = bucket(&output).await;
    let key = common::create_key("SYMMETRIC_DEFAULT").await;
    let mut event = common::sample("create-project-version.json");
    event["detail"]["requestParameters"]["outputConfig"]["s3Bucket"] = json!(output);
    event["detail"]["requestParameters"]["kmsKeyId"] = json!("HIDDEN_DUE_TO_SECURITY_REASONS");
    let project = event["detail"]["requestParameters"]["projectArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let key_arn = key.clone();
    let rule = mock!(RekClient::describe_project_versions)
        .match_requests(move |r| {
            r.project_arn() == Some(project.as_str()) && r.version_names().len() == 1
        })
        .then_output(move || {
            DescribeProjectVersionsOutput::builder()
                .project_version_descriptions(
                    ProjectVersionDescription::builder()
                        .kms_key_id(&key_arn)
                        .build(),
                )
                .build()
        });
    let client = mock_client!(aws_sdk_rekognition, RuleMode::MatchAny, [&rule]);
    let report = run(
        &app_with_rekognition(Config::default(), client).await,
        &event,
    )
    .await;
    assert_eq!(rule.num_calls(), 1);
    let k = resource(&report, ResourceType::KmsKey);
    assert_eq!(k.id, key);
    assert_eq!(control(k, "kms-key-spec").status, Status::Compliant);
    assert_eq!(
        sse(&s3, &output).await.unwrap().1.as_deref(),
        Some(key.as_str())
    );
}

#[tokio::test]
async fn a_legacy_bucket_name_from_a_successful_call_is_guarded() {
    let output = format!("Acme_Legacy.{}", common::unique("out-"));
    let s3 = common::s3(REGION).await;
    s3.create_bucket().bucket(&output).send().await.unwrap();
    let mut event = common::sample("create-project-version-no-kms.json");
    event["detail"]["requestParameters"]["outputConfig"]["s3Bucket"] = json!(output);
    let report = run(&app(Config::default()).await, &event).await;
    assert_eq!(report.trigger.ignored_reason, None);
    let b = bucket_resource(&report, &output);
    assert!(
        b.controls.iter().all(|c| c.status == Status::Remediated),
        "{b:#?}"
    );
    assert_eq!(sse(&s3, &output).await.unwrap().0, "aws:kms");

    for bad in ["Acme/../x", "acme..x", "acme\nx"] {
        event["detail"]["requestParameters"]["outputConfig"]["s3Bucket"] = json!(bad);
        let report = run(&app(Config::default()).await, &event).await;
        assert!(
            report
                .trigger
                .ignored_reason
                .as_deref()
                .is_some_and(|r| r.contains("invalid bucket name")),
            "{bad:?}: {:?}",
            report.trigger
        );
    }
}

#[tokio::test]
async fn directory_buckets_are_ignored_with_the_reason() {
    let mut express = common::console_event("custom-labels-console-a--use1-az4--x-s3");
    let app = app(Config::default()).await;
    let report = run(&app, &express).await;
    assert_eq!(
        report.trigger.ignored_reason.as_deref(),
        Some("directory bucket: not used by Rekognition")
    );
    express["source"] = json!("aws.s3express");
    express["detail"]["eventSource"] = json!("s3express.amazonaws.com");
    let report = run(&app, &express).await;
    assert_eq!(
        report.trigger.ignored_reason.as_deref(),
        Some("directory bucket: not used by Rekognition")
    );
    let mut job = common::sample("start-media-analysis-job.json");
    job["detail"]["requestParameters"]["outputConfig"]["s3Bucket"] = json!("out--use1-az4--x-s3");
    let report = run(&app, &job).await;
    assert_eq!(
        report.trigger.ignored_reason.as_deref(),
        Some("directory bucket: not used by Rekognition")
    );
    assert_eq!(app.clients.counter().s3_writes(), 0);
}

#[tokio::test]
async fn newer_partitions_are_told_apart() {
    // This function runs in us-east-1 (aws): events from the other partitions are not
    // its own, and say which partition they are from.
    let app = app(Config::default()).await;
    for (region, partition) in [
        ("eusc-de-east-1", "aws-eusc"),
        ("eu-isoe-west-1", "aws-iso-e"),
        ("us-isof-south-1", "aws-iso-f"),
    ] {
        let mut e = common::console_event("custom-labels-console-x1");
        e["region"] = json!(region);
        e["detail"]["awsRegion"] = json!(region);
        let report = run(&app, &e).await;
        let reason = report.trigger.ignored_reason.unwrap_or_default();
        assert!(reason.contains(partition), "{region}: {reason}");
    }
    assert_eq!(app.clients.counter().s3_writes(), 0);
}

fn invoke_binary(event_file: &std::path::Path) -> (i32, Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rekognition-guard"))
        .args(["invoke", "--event"])
        .arg(event_file)
        .envs(common::moto().env())
        .env_remove("GUARD_MODE")
        .env_remove("GUARD_KMS_KEY_ID")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn invoke_takes_records_as_pasted_and_lambda_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = common::console_bucket("records").await;
    let record = common::console_event(&bucket)["detail"].clone();

    let bare = dir.path().join("record.json");
    std::fs::write(&bare, record.to_string()).unwrap();
    let (code, report, stderr) = invoke_binary(&bare);
    assert!(stderr.contains("a bare CloudTrail record"), "{stderr}");
    assert_eq!(report["trigger"]["kind"], "bucket-created", "{stderr}");
    assert_eq!(report["resources"][0]["id"], json!(bucket));
    assert_eq!(
        report["resources"][0]["controls"][0]["status"],
        "remediated"
    );
    // The emulator's account is in no organization: ai-opt-out stays non-compliant.
    assert_eq!(code, 3);

    let mut failed = record.clone();
    failed["errorCode"] = json!("BucketAlreadyOwnedByYou");
    let log = dir.path().join("log.json");
    std::fs::write(&log, json!({"Records": [record, failed]}).to_string()).unwrap();
    let (code, reports, stderr) = invoke_binary(&log);
    assert!(
        stderr.contains("a CloudTrail log file with 2 records"),
        "{stderr}"
    );
    let reports = reports.as_array().unwrap_or_else(|| panic!("{stderr}"));
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["trigger"]["kind"], "bucket-created");
    assert_eq!(reports[1]["trigger"]["kind"], "ignored");
    assert_eq!(code, 3, "the most serious of the runs");

    // In Lambda, only EventBridge (and SQS) events are accepted.
    let app = app(Config::default()).await;
    let err = handler::handle(
        &app,
        &common::console_event(&bucket)["detail"],
        Instant::now() + Duration::from_secs(60),
    )
    .await;
    assert!(
        matches!(err, Err(handler::HandleError::BadEvent(_))),
        "{err:?}"
    );
}

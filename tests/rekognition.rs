//! CreateProjectVersion and CreateStreamProcessor against the emulator: output buckets
//! guarded, KMS keys checked, training data left byte-identical, data sharing flagged.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::REGION;
use rekognition_guard::aws::clients::Clients;
use rekognition_guard::config::Config;
use rekognition_guard::handler::{self, App};
use rekognition_guard::report::{Report, ResourceType, Severity, Status};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn app(config: Config) -> App {
    common::app(config, Clients::new(common::sdk_config().await))
}

async fn run(app: &App, event: &Value) -> Report {
    let mut report = handler::handle(app, event, Instant::now() + Duration::from_secs(60))
        .await
        .unwrap();
    rekognition_guard::alert::classify_all(&mut report);
    report
}

async fn bucket(name: &str) -> aws_sdk_s3::Client {
    let s3 = common::s3(REGION).await;
    s3.create_bucket().bucket(name).send().await.unwrap();
    s3
}

async fn key(spec: &str, enabled: bool, rotation: bool) -> String {
    let kms = common::kms(REGION).await;
    let arn = common::create_key(spec).await;
    if rotation {
        kms.enable_key_rotation().key_id(&arn).send().await.unwrap();
    }
    if !enabled {
        // moto's DisableKey takes a key id only (AWS also accepts the ARN)
        let id = arn.rsplit('/').next().unwrap();
        kms.disable_key().key_id(id).send().await.unwrap();
    }
    arn
}

fn project_version(output: &str, training: &str, kms_key: Option<&str>) -> Value {
    let mut e = common::sample("create-project-version.json");
    let p = &mut e["detail"]["requestParameters"];
    p["outputConfig"] = json!({"s3Bucket": output, "s3KeyPrefix": "results/"});
    p["trainingData"]["assets"][0]["groundTruthManifest"]["s3Object"]["bucket"] = json!(training);
    p["testingData"]["assets"][0]["groundTruthManifest"]["s3Object"]["bucket"] = json!(training);
    match kms_key {
        Some(k) => p["kmsKeyId"] = json!(k),
        None => {
            p.as_object_mut().unwrap().remove("kmsKeyId");
        }
    }
    e
}

fn result<'a>(
    report: &'a Report,
    kind: ResourceType,
    control: &str,
) -> &'a rekognition_guard::report::ControlResult {
    report
        .results()
        .find(|(r, c)| r.kind == kind && c.control == control)
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("no {control} on {kind:?}: {report:#?}"))
}

fn bucket_result<'a>(
    report: &'a Report,
    bucket: &str,
    control: &str,
) -> Option<&'a rekognition_guard::report::ControlResult> {
    report
        .results()
        .find(|(r, c)| r.id == bucket && c.control == control)
        .map(|(_, c)| c)
}

async fn sse(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<(String, Option<String>)> {
    common::read_encryption(s3, bucket)
        .await
        .map(|(alg, key, _)| (alg, key))
}

/// Everything S3 says about a bucket's configuration, as raw text, for byte comparisons.
async fn raw_config(s3: &aws_sdk_s3::Client, bucket: &str) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}",
        s3.get_bucket_encryption()
            .bucket(bucket)
            .send()
            .await
            .ok()
            .map(|o| format!("{:?}", o.server_side_encryption_configuration())),
        s3.get_public_access_block()
            .bucket(bucket)
            .send()
            .await
            .ok()
            .map(|o| format!("{:?}", o.public_access_block_configuration())),
        s3.get_bucket_policy()
            .bucket(bucket)
            .send()
            .await
            .ok()
            .map(|o| o.policy().map(str::to_owned)),
        s3.get_bucket_tagging()
            .bucket(bucket)
            .send()
            .await
            .ok()
            .map(|o| format!("{:?}", o.tag_set())),
    )
}

#[tokio::test]
async fn project_version_key_encrypts_the_output_bucket_and_training_data_is_untouched() {
    let output = common::unique("acme-rek-output-");
    let training = common::unique("acme-rek-training-");
    let s3 = bucket(&output).await;
    bucket(&training).await;
    common::put_encryption(&s3, &training, "AES256", None, false).await;
    let training_before = raw_config(&s3, &training).await;
    let key = key("SYMMETRIC_DEFAULT", true, true).await;

    let app = app(Config::default()).await;
    let report = run(&app, &project_version(&output, &training, Some(&key))).await;

    assert_eq!(
        report.trigger.event_name.as_deref(),
        Some("CreateProjectVersion")
    );
    let spec = result(&report, ResourceType::KmsKey, "kms-key-spec");
    assert_eq!(
        (spec.status, spec.severity),
        (Status::Compliant, None),
        "{}",
        spec.detail
    );
    assert_eq!(
        result(
            &report,
            ResourceType::RekognitionProjectVersion,
            "customer-managed-key"
        )
        .status,
        Status::Compliant
    );
    for control in ["sse-kms", "public-access-block", "tls-only"] {
        assert_eq!(
            bucket_result(&report, &output, control).unwrap().status,
            Status::Remediated,
            "{control}"
        );
    }
    let out_resource = report.resources.iter().find(|r| r.id == output).unwrap();
    assert_eq!(out_resource.role.as_deref(), Some("output"));
    assert_eq!(
        sse(&s3, &output).await,
        Some(("aws:kms".into(), Some(key.clone()))),
        "the project's own key"
    );

    // training data: reported (audit only), never changed
    let t = bucket_result(&report, &training, "sse-kms").unwrap();
    assert_eq!(
        t.status,
        Status::NonCompliant,
        "SSE-S3 source data is reported"
    );
    assert!(
        bucket_result(&report, &training, "tls-only").is_none(),
        "only encryption is reported"
    );
    assert_eq!(
        raw_config(&s3, &training).await,
        training_before,
        "byte-identical"
    );
}

#[tokio::test]
async fn unusable_project_keys_are_non_compliant_and_never_used_for_the_bucket() {
    let rsa = key("RSA_2048", true, false).await;
    let disabled = key("SYMMETRIC_DEFAULT", false, true).await;
    let app = app(Config::default()).await;
    for (k, needle) in [
        (rsa.as_str(), "RSA_2048"),
        (disabled.as_str(), "Disabled"),
        ("alias/no-such-key", "cannot be used"),
    ] {
        let output = common::unique("acme-rek-output-");
        let s3 = bucket(&output).await;
        let report = run(
            &app,
            &project_version(&output, "acme-rek-training-none", Some(k)),
        )
        .await;
        let spec = result(&report, ResourceType::KmsKey, "kms-key-spec");
        assert_eq!(spec.status, Status::NonCompliant, "{k}");
        assert!(spec.detail.contains(needle), "{k}: {}", spec.detail);
        assert_eq!(spec.severity, Some(Severity::Medium));
        // the output bucket still gets SSE-KMS, with the AWS managed key, not the bad key
        assert_eq!(
            sse(&s3, &output).await,
            Some(("aws:kms".into(), None)),
            "{k}"
        );
        assert_eq!(report.exit_code(), 3, "{report:#?}");
    }
}

#[tokio::test]
async fn an_alias_resolves_and_rotation_off_is_advice() {
    let arn = key("SYMMETRIC_DEFAULT", true, false).await;
    let alias = format!("alias/{}", common::unique("rek-"));
    common::kms(REGION)
        .await
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&arn)
        .send()
        .await
        .unwrap();
    let output = common::unique("acme-rek-output-");
    bucket(&output).await;
    let report = run(
        &app(Config::default()).await,
        &project_version(&output, "acme-rek-training-none", Some(&alias)),
    )
    .await;
    let key_resource = report
        .resources
        .iter()
        .find(|r| r.kind == ResourceType::KmsKey)
        .unwrap();
    assert_eq!(key_resource.id, arn, "reported by its ARN");
    let spec = &key_resource.controls[0];
    assert_eq!(
        (spec.status, spec.severity),
        (Status::Compliant, Some(Severity::Low))
    );
    assert!(spec.detail.contains("rotation is off"));
}

#[tokio::test]
async fn no_kms_key_id_is_a_customer_managed_key_finding_whose_severity_is_configurable() {
    let output = common::unique("acme-rek-output-");
    bucket(&output).await;
    for (require, severity) in [(true, Severity::Medium), (false, Severity::Low)] {
        let app = app(Config {
            require_cmk: require,
            ..Config::default()
        })
        .await;
        let report = run(
            &app,
            &project_version(&output, "acme-rek-training-none", None),
        )
        .await;
        let cmk = result(
            &report,
            ResourceType::RekognitionProjectVersion,
            "customer-managed-key",
        );
        assert_eq!(
            (cmk.status, cmk.severity),
            (Status::NonCompliant, Some(severity))
        );
        assert!(
            report
                .resources
                .iter()
                .all(|r| r.kind != ResourceType::KmsKey)
        );
    }
}

#[tokio::test]
async fn the_configured_key_wins_over_the_project_key() {
    let configured = key("SYMMETRIC_DEFAULT", true, true).await;
    let project = key("SYMMETRIC_DEFAULT", true, true).await;
    let output = common::unique("acme-rek-output-");
    let s3 = bucket(&output).await;
    let app = app(Config {
        kms_key_id: Some(configured.clone()),
        ..Config::default()
    })
    .await;
    run(
        &app,
        &project_version(&output, "acme-rek-training-none", Some(&project)),
    )
    .await;
    assert_eq!(sse(&s3, &output).await.unwrap().1, Some(configured));
}

#[tokio::test]
async fn missing_output_config_and_failed_calls_are_ignored_without_writes() {
    let app = app(Config::default()).await;
    let mut no_output = common::sample("create-project-version.json");
    no_output["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("outputConfig");
    let mut failed = common::sample("create-stream-processor.json");
    failed["detail"]["errorCode"] = json!("ValidationException");
    for (event, needle) in [(no_output, "outputConfig"), (failed, "ValidationException")] {
        let report = run(&app, &event).await;
        assert!(
            report
                .trigger
                .ignored_reason
                .as_deref()
                .unwrap_or("")
                .contains(needle)
        );
        assert!(report.resources.is_empty());
    }
    assert_eq!(app.clients.counter().s3_writes(), 0);
}

#[tokio::test]
async fn stream_processor_output_is_guarded_and_data_sharing_is_high() {
    let output = common::unique("acme-rek-video-");
    let s3 = bucket(&output).await;
    let mut event = common::sample("create-stream-processor-data-sharing.json");
    event["detail"]["requestParameters"]["output"]["s3Destination"]["bucket"] = json!(output);
    let report = run(&app(Config::default()).await, &event).await;
    assert_eq!(
        report.trigger.kind,
        rekognition_guard::event::TriggerKind::StreamProcessorCreated
    );
    let sharing = result(
        &report,
        ResourceType::RekognitionStreamProcessor,
        "data-sharing",
    );
    assert_eq!(
        (sharing.status, sharing.severity),
        (Status::NonCompliant, Some(Severity::High))
    );
    let resource = report.resources.iter().find(|r| r.id == output).unwrap();
    assert_eq!(resource.role.as_deref(), Some("stream-output"));
    assert!(
        resource
            .controls
            .iter()
            .all(|c| c.status == Status::Remediated)
    );
    assert_eq!(sse(&s3, &output).await.unwrap().0, "aws:kms");
    assert_eq!(report.exit_code(), 3);
}

#[tokio::test]
async fn stream_processor_with_a_key_and_no_sharing() {
    let output = common::unique("acme-rek-video-");
    bucket(&output).await;
    let k = key("SYMMETRIC_DEFAULT", true, true).await;
    let mut event = common::sample("create-stream-processor.json");
    event["detail"]["requestParameters"]["output"]["s3Destination"]["bucket"] = json!(output);
    event["detail"]["requestParameters"]["kmsKeyId"] = json!(k);
    let report = run(&app(Config::default()).await, &event).await;
    assert_eq!(
        result(
            &report,
            ResourceType::RekognitionStreamProcessor,
            "data-sharing"
        )
        .status,
        Status::Compliant
    );
    assert_eq!(
        result(&report, ResourceType::KmsKey, "kms-key-spec").status,
        Status::Compliant
    );
}

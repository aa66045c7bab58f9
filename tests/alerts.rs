//! Alerts as the security team receives them: SNS → SQS (raw delivery off) on the
//! emulator; subject, summary, the report JSON, attributes, and silence when compliant.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::REGION;
use rekognition_guard::aws::clients::Clients;
use rekognition_guard::config::Config;
use rekognition_guard::handler;
use rekognition_guard::report::Report;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn run(topic: &str, event: &Value) -> Report {
    let config = Config {
        alert_topic_arn: Some(topic.to_owned()),
        ..Config::default()
    };
    let app = common::app(config, Clients::new(common::sdk_config().await));
    handler::handle(&app, event, Instant::now() + Duration::from_secs(60))
        .await
        .unwrap()
}

fn attribute(envelope: &Value, name: &str) -> String {
    envelope["MessageAttributes"][name]["Value"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_remediation_is_one_readable_message_and_a_compliant_rerun_is_silent() {
    let (topic, queue) = common::topic_with_queue().await;
    let bucket = common::console_bucket("alert").await;
    let report = run(&topic, &common::console_event(&bucket)).await;
    assert!(report.alert.published, "{:?}", report.alert);

    let messages = common::drain(&queue).await;
    assert_eq!(messages.len(), 1, "one message per invocation");
    let m = &messages[0];
    let subject = m["Subject"].as_str().unwrap();
    assert_eq!(
        subject,
        "[HIGH] rekognition-guard: 3 remediated, 1 non-compliant in 123456789012/us-east-1"
    );
    assert!(subject.len() <= 100 && subject.is_ascii());
    assert_eq!(m["MessageId"].as_str(), report.alert.message_id.as_deref());

    let body = m["Message"].as_str().unwrap();
    let (summary, json) = body
        .split_once("\n--- report (JSON) ---\n")
        .expect("summary, then the report");
    assert!(
        summary.starts_with(
            "rekognition-guard CreateBucket (bucket-created) in 123456789012/us-east-1"
        )
    );
    assert!(summary.contains(&format!(
        "[MEDIUM] s3-bucket {bucket} sse-kms: remediated - AES256 (SSE-S3)"
    )));
    assert!(summary.contains(&format!(
        "[MEDIUM] s3-bucket {bucket} public-access-block: remediated"
    )));
    assert!(
        summary.contains("(none -> {\"BlockPublicAcls\":true"),
        "{summary}"
    );
    assert!(summary.contains("[HIGH] organization 123456789012 ai-opt-out: non-compliant"));
    let published: Report = serde_json::from_str(json).unwrap();
    let mut expected = report.clone();
    // the alert outcome is only known after publishing
    expected.alert = published.alert.clone();
    assert_eq!(published, expected);

    assert_eq!(attribute(m, "severity"), "high");
    assert_eq!(attribute(m, "account"), "123456789012");
    assert_eq!(attribute(m, "region"), "us-east-1");
    assert_eq!(attribute(m, "event_name"), "CreateBucket");
    assert_eq!(attribute(m, "mode"), "remediate");

    // Rerun: the bucket is compliant now; only the opt-out finding (the shared emulator's
    // account is in no organization) is still alerted, and no bucket line is listed.
    let again = run(&topic, &common::console_event(&bucket)).await;
    assert!(again.alert.published, "ai-opt-out is still non-compliant");
    let messages = common::drain(&queue).await;
    assert_eq!(messages.len(), 1);
    let summary = messages[0]["Message"].as_str().unwrap();
    assert!(
        !summary
            .split("--- report")
            .next()
            .unwrap()
            .contains("s3-bucket"),
        "compliant controls are not listed"
    );
}

#[tokio::test]
async fn nothing_is_published_when_everything_is_compliant() {
    // A private emulator whose organization opts out, so every control can be compliant.
    let moto = common::Moto::start();
    let conf = common::sdk_config_for(&moto).await;
    let org = aws_sdk_organizations::Client::new(&conf);
    org.create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let root = org.list_roots().send().await.unwrap().roots()[0]
        .id()
        .unwrap()
        .to_owned();
    org.enable_policy_type()
        .root_id(&root)
        .policy_type(aws_sdk_organizations::types::PolicyType::AiservicesOptOutPolicy)
        .send()
        .await
        .unwrap();
    let content = json!({"services": {"default": {"opt_out_policy": {"@@assign": "optOut"}},
                         "@@operators_allowed_for_child_policies": ["@@none"]}});
    let policy = org
        .create_policy()
        .name("optout")
        .description("d")
        .r#type(aws_sdk_organizations::types::PolicyType::AiservicesOptOutPolicy)
        .content(content.to_string())
        .send()
        .await
        .unwrap();
    org.attach_policy()
        .policy_id(
            policy
                .policy()
                .unwrap()
                .policy_summary()
                .unwrap()
                .id()
                .unwrap(),
        )
        .target_id(&root)
        .send()
        .await
        .unwrap();
    let (topic, url) = common::topic_with_queue_in(&conf).await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let bucket = "custom-labels-console-us-east-1-quiet";
    s3.create_bucket().bucket(bucket).send().await.unwrap();

    let config = Config {
        alert_topic_arn: Some(topic.clone()),
        ..Config::default()
    };
    let app = common::app(config, Clients::new(conf.clone()));
    let first = handler::handle(
        &app,
        &common::console_event(bucket),
        Instant::now() + Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert!(first.alert.published);
    let second = handler::handle(
        &app,
        &common::console_event(bucket),
        Instant::now() + Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(second.exit_code(), 0, "{second:#?}");
    assert!(!second.alert.published);
    assert_eq!(
        second.alert.reason.as_deref(),
        Some("nothing needs attention")
    );
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.messages().len(),
        1,
        "only the first invocation published"
    );
}

#[tokio::test]
async fn a_missing_topic_fails_the_invocation_but_keeps_the_remediation() {
    let bucket = common::console_bucket("alert").await;
    let moto = common::moto();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    std::fs::write(&path, common::console_event(&bucket).to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rekognition-guard"))
        .args([
            "invoke",
            "--event",
            path.to_str().unwrap(),
            "--format",
            "json",
        ])
        .envs(moto.env())
        .env(
            "GUARD_ALERT_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:no-such-topic",
        )
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["alert"]["published"], false);
    assert!(
        report["alert"]["error"]
            .as_str()
            .unwrap()
            .contains("Publish"),
        "{}",
        report["alert"]
    );
    assert_eq!(
        report["resources"][0]["controls"][0]["status"],
        "remediated"
    );
    // the remediation stands
    let s3 = common::s3(REGION).await;
    let enc = s3
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm()
            .as_str(),
        "aws:kms"
    );
}

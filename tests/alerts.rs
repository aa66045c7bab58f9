//! Alerts as the security team receives them: SNS → SQS (raw delivery off) on the
//! emulator; subject, summary, the report JSON, attributes, and silence when compliant;
//! and what a chat channel gets (the HTTPS message: a custom notification, validated
//! against the documented schema by tests/chat_validate.py).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::REGION;
use rekognition_guard::alert;
use rekognition_guard::aws::clients::Clients;
use rekognition_guard::config::{Config, Mode};
use rekognition_guard::event::{TriggerInfo, TriggerKind};
use rekognition_guard::handler;
use rekognition_guard::report::{
    AlertOutcome, ControlResult, Report, Resource, ResourceType, Status,
};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
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
    // and the full states a result carries in process are never in the report
    for c in expected
        .resources
        .iter_mut()
        .flat_map(|r| r.controls.iter_mut())
    {
        c.states = Default::default();
    }
    assert_eq!(published, expected);
    // The text is byte for byte what it was before the chat message joined it.
    assert_eq!(body, alert::body(&expected));

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

/// Every message published to `topic`, as sent (the `MessageStructure=json` document),
/// read from moto's own record of them (`/moto-api/data.json`): SNS does not deliver to an
/// HTTPS subscriber offline, so this is what the chat service would have been given.
fn published(topic: &str) -> Vec<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", common::moto().port)).unwrap();
    stream
        .write_all(b"GET /moto-api/data.json HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "{head}"
    );
    let data: Value = serde_json::from_str(body).unwrap();
    let topics = data["sns"]["Topic"].as_array().unwrap();
    let ours = topics.iter().find(|t| t["arn"] == topic).unwrap();
    ours["sent_notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n[1].as_str().unwrap().to_owned())
        .collect()
}

/// Runs tests/chat_validate.py on `notifications`: `{"count": N, "problems": [...]}`.
fn validate_chat(notifications: &[Value]) -> Value {
    let script = format!("{}/tests/chat_validate.py", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(std::env::var("MOTO_PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(Value::from(notifications.to_vec()).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn a_chat_channel_gets_a_custom_notification_and_email_the_same_text() {
    let (topic, queue) = common::topic_with_queue().await;
    let bucket = common::console_bucket("chat").await;
    let report = run(&topic, &common::console_event(&bucket)).await;
    assert!(report.alert.published, "{:?}", report.alert);
    let mut at_publish = report.clone();
    at_publish.alert = AlertOutcome::default();

    // E-mail, SQS and every other protocol without its own key: today's text, unchanged.
    let messages = common::drain(&queue).await;
    assert_eq!(messages.len(), 1);
    let text = messages[0]["Message"].as_str().unwrap();
    assert_eq!(text, alert::body(&at_publish));
    assert_eq!(
        messages[0]["Subject"].as_str().unwrap(),
        alert::subject(&at_publish)
    );

    // What was published: one document, a message per protocol.
    let sent = published(&topic);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].len() <= alert::MAX_MESSAGE_BYTES);
    let document: Value = serde_json::from_str(&sent[0]).unwrap();
    let protocols: Vec<&String> = document.as_object().unwrap().keys().collect();
    assert_eq!(protocols, ["default", "https"]);
    assert_eq!(document["default"].as_str().unwrap(), text);

    // HTTPS (Amazon Q Developer in chat applications): a valid custom notification.
    let chat: Value = serde_json::from_str(document["https"].as_str().unwrap()).unwrap();
    let checked = validate_chat(std::slice::from_ref(&chat));
    assert_eq!(checked["count"], 1);
    assert_eq!(checked["problems"], json!([]), "{chat:#}");
    assert_eq!(
        chat["content"]["title"],
        "[HIGH] rekognition-guard: 3 remediated, 1 non-compliant in 123456789012/us-east-1"
    );
    assert_eq!(
        chat["content"]["keywords"],
        json!(["HIGH", "123456789012", "us-east-1", "CreateBucket"])
    );
    assert_eq!(chat["metadata"]["additionalContext"]["severity"], "high");
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(
        description.contains(&format!("`{bucket}` (s3-bucket) sse-kms: *remediated*")),
        "{description}"
    );
    assert!(description.contains("`123456789012` (organization) ai-opt-out: *non-compliant*"));
    let steps: Vec<&str> = chat["content"]["nextSteps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        steps[0].starts_with("Non-compliant (1), e.g. organization `123456789012` ai-opt-out: "),
        "{steps:?}"
    );
    assert!(
        steps[1].starts_with("Remediated (3): nothing to do."),
        "{steps:?}"
    );
}

fn bucket(name: &str, controls: Vec<ControlResult>) -> Resource {
    Resource {
        kind: ResourceType::S3Bucket,
        id: name.to_owned(),
        name: None,
        role: Some("console".into()),
        region: Some(REGION.into()),
        account: None,
        controls,
    }
}

fn report_of(mode: Mode, resources: Vec<Resource>) -> Report {
    let mut r = Report {
        trigger: TriggerInfo {
            event_id: Some("e-1".into()),
            event_name: Some("CreateBucket".into()),
            account: Some(common::ACCOUNT.into()),
            ..TriggerInfo::manual(TriggerKind::BucketCreated, Some(REGION.into()))
        },
        mode,
        resources,
        alert: AlertOutcome::default(),
        security_hub: None,
        unfinished: vec![],
        change_record: None,
    };
    alert::classify_all(&mut r);
    r
}

#[test]
fn custom_notifications_validate_against_the_documented_schema() {
    let held = "no bucket policy: create one with DenyInsecureTransport (not applied: held, nothing written: a TLS-only deny would cut the website endpoint — public bucket holding Rekognition data: serve it through CloudFront with origin access control, or set GUARD_PUBLIC_ACCESS=block to cut public access on purpose)";
    let long = "ü€ `tick` *star* <link> ".repeat(400);
    let reports = [
        report_of(
            Mode::Remediate,
            vec![bucket(
                "acme-site",
                vec![
                    ControlResult::new("public-access-block", Status::NonCompliant, held),
                    ControlResult::new("tls-only", Status::NonCompliant, held),
                ],
            )],
        ),
        report_of(
            Mode::Remediate,
            vec![bucket(
                "acme-data",
                vec![ControlResult::new(
                    "sse-kms",
                    Status::Failed,
                    "PutBucketEncryption: AccessDenied; nothing written",
                )],
            )],
        ),
        report_of(
            Mode::Audit,
            vec![bucket(
                "acme-audit",
                vec![ControlResult::new(
                    "sse-kms",
                    Status::WouldRemediate,
                    "AES256: would set SSE-KMS (not applied: audit mode)",
                )],
            )],
        ),
        report_of(
            Mode::Remediate,
            (0..2000)
                .map(|i| {
                    bucket(
                        &format!("acme-{i}"),
                        vec![
                            ControlResult::new("sse-kms", Status::Remediated, long.as_str()),
                            ControlResult::new("tls-only", Status::Exempt, "exempt by tag"),
                        ],
                    )
                })
                .collect(),
        ),
    ];
    let notifications: Vec<Value> = reports
        .iter()
        .map(|r| serde_json::to_value(alert::chat::notification(r)).unwrap())
        .collect();
    let checked = validate_chat(&notifications);
    assert_eq!(checked["count"], 4);
    assert_eq!(checked["problems"], json!([]));

    // The check can fail: one character over the title's limit, an unknown textType.
    let mut broken = notifications[0].clone();
    broken["content"]["title"] = Value::from("x".repeat(251));
    broken["content"]["textType"] = Value::from("markdown");
    let checked = validate_chat(&[broken]);
    assert_eq!(
        checked["problems"].as_array().unwrap().len(),
        2,
        "{checked}"
    );
}

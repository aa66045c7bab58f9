//! The negative path of least privilege (issue 25): the proxy answers `s3:PutBucketPolicy`
//! with AccessDenied in S3's own wire format, and the report and the alert say which action
//! was denied, on which bucket, to which role, and what to check.
//!
//! Decision (docs/src/safety.md, "Permission errors are retried, not acknowledged"): a permission error is **retried**, not acknowledged.
//! The control is `failed` (high), the alert is published, and the invocation fails (exit 1):
//! Lambda retries the event twice and keeps it in the dead-letter queue, and an SQS record is
//! reported in `batchItemFailures`, so the event can be redriven once the role is fixed; no
//! remediation is lost to an acknowledged error.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::proxy::Proxy;
use common::{ACCOUNT, REGION};
use serde_json::{Value, json};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

fn control<'a>(report: &'a Value, bucket: &str, control: &str) -> &'a Value {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"] == bucket)
        .flat_map(|r| r["controls"].as_array().unwrap())
        .find(|c| c["control"] == control)
        .unwrap_or_else(|| panic!("no {control} on {bucket}: {report:#}"))
}

fn write_event(dir: &tempfile::TempDir, event: &Value) -> std::path::PathBuf {
    let path = dir.path().join("event.json");
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

/// The alert bodies waiting in `queue` (SNS envelopes: Subject, Message, attributes).
async fn alerts(conf: &aws_config::SdkConfig, queue: &str) -> Vec<Value> {
    common::drain_in(conf, queue).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_put_bucket_policy_names_the_action_the_bucket_and_the_function_role() {
    let moto = common::moto();
    let conf = common::sdk_config().await;
    let bucket = common::console_bucket("denied").await;
    let (topic, queue) = common::topic_with_queue().await;
    let proxy = Proxy::start(&moto.endpoint);
    proxy.set_rules(json!([{"operation": "PutBucketPolicy", "fault": "access-denied-403"}]));
    let dir = tempfile::tempdir().unwrap();
    let event = write_event(&dir, &common::console_event(&bucket));

    let run = proxy.invoke(&event, &[("GUARD_ALERT_TOPIC_ARN", topic.as_str())], LIMIT);

    // Retried, not acknowledged: exit 1 is a Lambda invocation error (retries, then the DLQ).
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let report = run.report();
    let tls = control(&report, &bucket, "tls-only");
    assert_eq!(tls["status"], "failed", "{tls:#}");
    let detail = tls["detail"].as_str().unwrap();
    let expected = format!(
        "s3:PutBucketPolicy on arn:aws:s3:::{bucket} denied to this function's role: does the stack's role grant it"
    );
    assert!(detail.contains(&expected), "{detail}");
    assert_eq!(tls["severity"], "high", "{tls:#}");
    // The other controls were written: only the denied one failed.
    assert_eq!(control(&report, &bucket, "sse-kms")["status"], "remediated");
    assert_eq!(
        proxy.count("PutBucketPolicy"),
        (1, 1),
        "AccessDenied is not retried by the SDK"
    );

    let alerts = alerts(&conf, &queue).await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert["MessageAttributes"]["severity"]["Value"], "high");
    let body = alert["Message"].as_str().unwrap();
    let line = body
        .lines()
        .find(|l| l.contains("tls-only"))
        .unwrap_or_else(|| panic!("{body}"));
    assert!(line.starts_with("[HIGH]"), "{line}");
    assert!(line.contains(&expected), "{line}");
    assert!(
        alert["Subject"].as_str().unwrap().contains(ACCOUNT),
        "{alert:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_roles_denial_names_the_member_role_and_its_stack_set_instance() {
    let moto = common::moto();
    let conf = common::sdk_config().await;
    let org = common::organizations().await;
    // One organization per emulator: another test of this binary may not have made one.
    let root = match org.list_roots().send().await {
        Ok(r) if !r.roots().is_empty() => r.roots()[0].id().unwrap().to_owned(),
        _ => common::org::create(&org).await,
    };
    let member = common::org::account(&org, &common::unique("iam-member-"), &root, &root).await;
    let member_conf = common::org::member_conf(&conf, &moto.endpoint, &member).await;
    let bucket = common::unique("custom-labels-console-us-east-1-member");
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&member_conf)
            .force_path_style(true)
            .build(),
    )
    .create_bucket()
    .bucket(&bucket)
    .send()
    .await
    .unwrap();
    let (topic, queue) = common::topic_with_queue().await;
    let proxy = Proxy::start(&moto.endpoint);
    proxy.set_rules(json!([{"operation": "PutBucketPolicy", "fault": "access-denied-403"}]));

    let mut forwarded = common::console_event(&bucket);
    let text = forwarded.to_string().replace(ACCOUNT, &member);
    forwarded = serde_json::from_str(&text).unwrap();
    let batch = json!({"Records": [{
        "messageId": "m-1", "receiptHandle": "rh-1", "body": forwarded.to_string(),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs", "awsRegion": REGION,
        "eventSourceARN": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:rekognition-guard-work"),
    }]});
    let dir = tempfile::tempdir().unwrap();
    let event = write_event(&dir, &batch);

    let run = proxy.invoke(
        &event,
        &[
            ("GUARD_SCOPE", "organization"),
            ("GUARD_ALERT_TOPIC_ARN", topic.as_str()),
        ],
        LIMIT,
    );

    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    let out = run.report();
    // Retried: the record goes back to the queue (and to its DLQ after maxReceiveCount).
    assert_eq!(
        out["batchItemFailures"],
        json!([{"itemIdentifier": "m-1"}]),
        "{out:#}"
    );
    let report = &out["reports"][0];
    let detail = control(report, &bucket, "tls-only")["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    let role = format!("arn:aws:iam::{member}:role/RekognitionGuardMember");
    let expected = format!(
        "s3:PutBucketPolicy on arn:aws:s3:::{bucket} denied to the member role {role}: is the member role's StackSet instance current"
    );
    assert!(detail.contains(&expected), "{detail}");

    let alerts = alerts(&conf, &queue).await;
    let bodies: Vec<&str> = alerts
        .iter()
        .map(|a| a["Message"].as_str().unwrap())
        .collect();
    assert!(
        bodies.iter().any(|b| b.contains(&expected)),
        "no alert names the denial: {bodies:#?}"
    );
}

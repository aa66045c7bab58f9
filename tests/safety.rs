//! Safety under concurrency and replay: nothing lost, nothing duplicated, nothing
//! written twice, nothing sensitive logged.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::REGION;
use rekognition_guard::aws::clients::Clients;
use rekognition_guard::config::Config;
use rekognition_guard::handler;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn original_policy(bucket: &str) -> Value {
    let arn = format!("arn:aws:s3:::{bucket}");
    json!({"Version": "2012-10-17", "Id": "team-policy", "Statement": [
        {"Sid": "ReadForAnalytics", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/analytics"},
         "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [arn, format!("{arn}/*")]},
        // A same-account writer: a service principal would (rightly) hold the aws/s3 fix
        // these tests apply (tests/do_no_harm.rs).
        {"Sid": "RekognitionWrites", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/rekognition-writer"},
         "Action": "s3:PutObject", "Resource": format!("{arn}/results/*"),
         "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}},
        {"Sid": "NoDeletes", "Effect": "Deny", "Principal": "*", "Action": ["s3:DeleteBucket", "s3:DeleteBucketPolicy"], "Resource": arn},
        {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:PutBucketAcl", "Resource": arn}
    ]})
}

async fn seeded_bucket() -> (String, aws_sdk_s3::Client, Value) {
    let bucket = common::unique("custom-labels-console-us-east-1-safe");
    let s3 = common::s3(REGION).await;
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let policy = original_policy(&bucket);
    s3.put_bucket_policy()
        .bucket(&bucket)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
    (bucket, s3, policy)
}

async fn statements(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<Value> {
    let text = s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .policy()
        .unwrap()
        .to_owned();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["Statement"].as_array().unwrap().clone()
}

fn tls_statements(stmts: &[Value]) -> usize {
    stmts
        .iter()
        .filter(|s| s.to_string().contains("aws:SecureTransport"))
        .count()
}

#[tokio::test]
async fn sixteen_simultaneous_invocations_keep_every_statement_and_add_exactly_one() {
    let (bucket, s3, original) = seeded_bucket().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    std::fs::write(&path, common::console_event(&bucket).to_string()).unwrap();
    let children: Vec<_> = (0..16)
        .map(|_| {
            std::process::Command::new(env!("CARGO_BIN_EXE_rekognition-guard"))
                .args(["invoke", "--event", path.to_str().unwrap()])
                .envs(common::moto().env())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut remediated = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        // 3: ai-opt-out is non-compliant on the shared emulator (no organization)
        assert_eq!(
            out.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let tls = &report["resources"][0]["controls"][2];
        assert_eq!(tls["control"], "tls-only");
        assert!(
            matches!(tls["status"].as_str(), Some("remediated" | "compliant")),
            "{tls}"
        );
        remediated += usize::from(tls["status"] == "remediated");
    }
    assert!(remediated >= 1);
    let after = statements(&s3, &bucket).await;
    let before = original["Statement"].as_array().unwrap();
    for stmt in before {
        assert!(after.contains(stmt), "lost {stmt}");
    }
    assert_eq!(tls_statements(&after), 1, "{after:#?}");
    assert_eq!(after.len(), before.len() + 1);
}

#[tokio::test]
async fn the_same_event_five_times_converges_and_writes_only_once() {
    let (bucket, s3, _) = seeded_bucket().await;
    let event = common::console_event(&bucket);
    let mut writes = Vec::new();
    let mut states = Vec::new();
    for _ in 0..5 {
        // a fresh process each time, as separate Lambda deliveries may be
        let app = common::app(Config::default(), Clients::new(common::sdk_config().await));
        handler::handle(&app, &event, Instant::now() + Duration::from_secs(60))
            .await
            .unwrap();
        writes.push(app.clients.counter().s3_writes());
        states.push(statements(&s3, &bucket).await);
    }
    assert_eq!(writes, [3, 0, 0, 0, 0]);
    assert!(states.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(tls_statements(&states[4]), 1);
}

#[tokio::test]
async fn info_logs_carry_no_policy_documents_or_credentials() {
    let (bucket, s3, _) = seeded_bucket().await;
    let marker = "arn:aws:iam::123456789012:role/analytics";
    let secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    std::fs::write(&path, common::console_event(&bucket).to_string()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rekognition-guard"))
        .args(["-v", "invoke", "--event", path.to_str().unwrap()])
        .envs(common::moto().env())
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invocation summary"),
        "info logs are on: {stderr}"
    );
    assert!(
        !stderr.contains(marker),
        "a policy statement reached the logs: {stderr}"
    );
    assert!(!stderr.contains("SecureTransport"), "{stderr}");
    assert!(!stderr.contains(secret));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    assert_eq!(tls_statements(&statements(&s3, &bucket).await), 1);
}

//! Sweeps: `scan` and the scheduled trigger bring every existing guarded bucket into
//! line (read back from the emulator), `--bucket` limits them, a near deadline is
//! reported, and Custom Labels output buckets are found (SDK mocks: moto lacks
//! DescribeProjects).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::REGION;
use rekognition_guard::aws::clients::Clients;
use rekognition_guard::config::Config;
use rekognition_guard::event::TriggerKind;
use rekognition_guard::handler::{self, App, Quiet};
use rekognition_guard::report::Status;
use serde_json::json;
use std::time::{Duration, Instant};

async fn app(prefix: &str) -> App {
    let config = Config {
        console_bucket_prefix: prefix.to_owned(),
        ..Config::default()
    };
    common::app(config, Clients::new(common::sdk_config().await))
}

async fn seed(prefix: &str) -> (aws_sdk_s3::Client, Vec<String>) {
    let s3 = common::s3(REGION).await;
    let names: Vec<String> = ["plain", "sse-s3", "partial-pab", "policy", "compliant"]
        .iter()
        .map(|s| format!("{prefix}{s}"))
        .collect();
    for n in &names {
        s3.create_bucket().bucket(n).send().await.unwrap();
    }
    common::put_encryption(&s3, &names[1], "AES256", None, false).await;
    s3.put_public_access_block()
        .bucket(&names[2])
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Keep", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{}/*", names[3])}]});
    s3.put_bucket_policy()
        .bucket(&names[3])
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
    (s3, names)
}

async fn compliant(s3: &aws_sdk_s3::Client, bucket: &str) -> bool {
    let enc = s3.get_bucket_encryption().bucket(bucket).send().await.ok();
    let alg = enc
        .as_ref()
        .and_then(|e| e.server_side_encryption_configuration())
        .and_then(|c| c.rules().first())
        .and_then(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().as_str().to_owned());
    let pab = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .ok();
    let all = pab
        .and_then(|p| p.public_access_block_configuration().cloned())
        .is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        });
    let policy = s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .ok()
        .and_then(|p| p.policy().map(str::to_owned));
    alg.as_deref() == Some("aws:kms")
        && all
        && policy.is_some_and(|p| p.contains("aws:SecureTransport"))
}

#[tokio::test]
async fn a_scan_remediates_every_guarded_bucket_and_a_second_scan_writes_nothing() {
    let prefix = format!("{}-", common::unique("sweep-a"));
    let (s3, names) = seed(&prefix).await;
    let outsider = common::unique("not-guarded-");
    s3.create_bucket().bucket(&outsider).send().await.unwrap();
    let app = app(&prefix).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let report = handler::scan(&app, &[], deadline, TriggerKind::ManualScan, &Quiet)
        .await
        .unwrap();

    let buckets: Vec<&str> = report
        .resources
        .iter()
        .filter(|r| r.role.is_some())
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(buckets.len(), names.len(), "{buckets:?}");
    for n in &names {
        assert!(compliant(&s3, n).await, "{n}");
    }
    assert!(
        !compliant(&s3, &outsider).await,
        "unguarded buckets are not touched"
    );
    let kept = s3
        .get_bucket_policy()
        .bucket(&names[3])
        .send()
        .await
        .unwrap();
    assert!(kept.policy().unwrap().contains("\"Sid\":\"Keep\""));

    let writes = app.clients.counter().s3_writes();
    let again = handler::scan(&app, &[], deadline, TriggerKind::ManualScan, &Quiet)
        .await
        .unwrap();
    assert_eq!(
        app.clients.counter().s3_writes(),
        writes,
        "zero writes on a compliant sweep"
    );
    assert!(
        again
            .results()
            .filter(|(r, _)| r.role.is_some())
            .all(|(_, c)| c.status == Status::Compliant)
    );
}

#[tokio::test]
async fn bucket_flags_limit_the_scan() {
    let prefix = format!("{}-", common::unique("sweep-b"));
    let (s3, names) = seed(&prefix).await;
    let app = app(&prefix).await;
    let only = vec![names[0].clone()];
    let report = handler::scan(
        &app,
        &only,
        Instant::now() + Duration::from_secs(60),
        TriggerKind::ManualScan,
        &Quiet,
    )
    .await
    .unwrap();
    assert_eq!(
        report.resources.iter().filter(|r| r.role.is_some()).count(),
        1
    );
    assert!(compliant(&s3, &names[0]).await);
    assert!(!compliant(&s3, &names[1]).await);
}

#[tokio::test]
async fn a_near_deadline_reports_what_was_not_started() {
    let prefix = format!("{}-", common::unique("sweep-c"));
    let (s3, names) = seed(&prefix).await;
    let app = app(&prefix).await;
    app.account().await.unwrap();
    let report = handler::scan(
        &app,
        &[],
        Instant::now() + Duration::from_secs(1),
        TriggerKind::ScheduledScan,
        &Quiet,
    )
    .await
    .unwrap();
    assert_eq!(
        report.unfinished.len(),
        names.len(),
        "{:?}",
        report.unfinished
    );
    assert!(report.unfinished[0].contains("not started before the deadline"));
    assert_eq!(report.exit_code(), 1);
    assert_eq!(app.clients.counter().s3_writes(), 0);
    assert!(!compliant(&s3, &names[0]).await);
}

#[tokio::test]
async fn the_scheduled_event_sweeps_through_the_binary() {
    let prefix = format!("{}-", common::unique("sweep-d"));
    let (s3, names) = seed(&prefix).await;
    let event = format!("{}/events/scheduled-scan.json", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rekognition-guard"))
        .args(["invoke", "--event", &event])
        .envs(common::moto().env())
        .env("GUARD_CONSOLE_BUCKET_PREFIX", &prefix)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["trigger"]["kind"], "scheduled-scan");
    // 3: the shared emulator's account is in no organization (ai-opt-out non-compliant)
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for n in &names {
        assert!(compliant(&s3, n).await, "{n}");
    }
}

#[tokio::test]
async fn custom_labels_output_buckets_are_listed() {
    use aws_sdk_rekognition::Client;
    use aws_sdk_rekognition::operation::describe_project_versions::DescribeProjectVersionsOutput;
    use aws_sdk_rekognition::operation::describe_projects::DescribeProjectsOutput;
    use aws_sdk_rekognition::types::{OutputConfig, ProjectDescription, ProjectVersionDescription};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    let projects = mock!(Client::describe_projects).then_output(|| {
        DescribeProjectsOutput::builder()
            .project_descriptions(
                ProjectDescription::builder()
                    .project_arn("arn:aws:rekognition:us-east-1:123456789012:project/a/1")
                    .build(),
            )
            .project_descriptions(
                ProjectDescription::builder()
                    .project_arn("arn:aws:rekognition:us-east-1:123456789012:project/b/2")
                    .build(),
            )
            .build()
    });
    let version = |bucket: &str| {
        ProjectVersionDescription::builder()
            .output_config(OutputConfig::builder().s3_bucket(bucket).build())
            .build()
    };
    let versions_a = mock!(Client::describe_project_versions)
        .match_requests(|r| r.project_arn().is_some_and(|a| a.contains("/a/")))
        .then_output(move || {
            DescribeProjectVersionsOutput::builder()
                .project_version_descriptions(version("out-a"))
                .project_version_descriptions(version("out-shared"))
                .build()
        });
    let versions_b = mock!(Client::describe_project_versions)
        .match_requests(|r| r.project_arn().is_some_and(|a| a.contains("/b/")))
        .then_output(move || {
            DescribeProjectVersionsOutput::builder()
                .project_version_descriptions(version("out-shared"))
                .project_version_descriptions(ProjectVersionDescription::builder().build())
                .build()
        });
    let client = mock_client!(
        aws_sdk_rekognition,
        RuleMode::MatchAny,
        [&projects, &versions_a, &versions_b]
    );
    let buckets = rekognition_guard::aws::rekognition::project_output_buckets(&client)
        .await
        .unwrap();
    assert_eq!(buckets, ["out-a", "out-shared"]);
}

//! Issue 26: objects already in a bucket. `objects` counts them by encryption against the
//! emulator (moto's `HeadObject` answers `ServerSideEncryption` and `SSEKMSKeyId`);
//! `reencrypt` sends `UpdateObjectEncryption` through `aws-smithy-mocks` (moto answers the
//! call but rewrites the object's body, which S3 never does) and `CreateJob` through a
//! mocked S3 Control (moto has no Batch Operations jobs); a bucket whose encryption fix is
//! held by its dependents is refused with nothing written.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use aws_sdk_s3::operation::update_object_encryption::{
    UpdateObjectEncryptionInput, UpdateObjectEncryptionOutput,
};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use aws_sdk_s3control::operation::create_job::{CreateJobInput, CreateJobOutput};
use aws_sdk_s3control::operation::describe_job::DescribeJobOutput;
use aws_sdk_s3control::operation::get_public_access_block::GetPublicAccessBlockOutput;
use aws_sdk_s3control::operation::list_jobs::ListJobsOutput;
use aws_sdk_s3control::types::{
    JobDescriptor, JobListDescriptor, JobManifestGenerator, JobProgressSummary, JobReport,
    JobStatus, ObjectEncryptionFilter,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, mock};
use common::{ACCOUNT, REGION};
use rekognition_guard::aws::clients::Clients;
use rekognition_guard::cli::objects::{self as cmd, NoProgress, ReencryptArgs};
use rekognition_guard::config::Config;
use rekognition_guard::objects::Path;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PARTNER: &str = "444455556666";

/// A bucket with `sse_s3` objects under SSE-S3 (100 bytes each) and `n` under each key.
async fn seed(bucket: &str, sse_s3: usize, keyed: &[(&str, usize)]) -> aws_sdk_s3::Client {
    let s3 = common::s3(REGION).await;
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    for i in 0..sse_s3 {
        s3.put_object()
            .bucket(bucket)
            .key(format!("training/images/{i:03}.jpg"))
            .body(ByteStream::from(vec![b'x'; 100]))
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await
            .unwrap();
    }
    for (k, (key, n)) in keyed.iter().enumerate() {
        for i in 0..*n {
            s3.put_object()
                .bucket(bucket)
                .key(format!("results/{k}/{i}.json"))
                .body(ByteStream::from(vec![b'y'; 10]))
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(*key)
                .send()
                .await
                .unwrap();
        }
    }
    s3
}

/// The mocked S3 Control also answers the guard's read of the account-level Block Public
/// Access (issue 24): this account has none, as a new account.
fn no_account_bpa() -> Rule {
    mock!(aws_sdk_s3control::Client::get_public_access_block)
        .then_output(|| GetPublicAccessBlockOutput::builder().build())
}

/// A mock client of `$crate` answering by `rules` (built by hand rather than with
/// `mock_client!`, which needs the SDK's `test-util` feature).
macro_rules! mocked {
    ($crate_:ident, $rules:expr) => {{
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        $crate_::Client::from_conf(
            $crate_::config::Config::builder()
                .behavior_version($crate_::config::BehaviorVersion::latest())
                .region($crate_::config::Region::new(REGION))
                .credentials_provider($crate_::config::Credentials::new(
                    "testing", "testing", None, None, "mock",
                ))
                .http_client(aws_smithy_mocks::create_mock_http_client())
                .interceptor(interceptor)
                .build(),
        )
    }};
}

fn args(bucket: &str) -> ReencryptArgs {
    ReencryptArgs {
        bucket: bucket.to_owned(),
        prefix: None,
        key: None,
        direct_max: 10_000,
        batch: false,
        report_prefix: None,
        role: None,
        all_versions: false,
        dry_run: false,
        concurrency: 8,
        token_seed: "test".to_owned(),
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(120)
}

/// `UpdateObjectEncryption` calls the mock answered: (key, KMS key ARN, Bucket Key).
type Updates = Arc<Mutex<Vec<(String, String, Option<bool>)>>>;

fn update_rule(seen: &Updates) -> Rule {
    let seen = Arc::clone(seen);
    mock!(aws_sdk_s3::Client::update_object_encryption).then_compute_output(
        move |r: &UpdateObjectEncryptionInput| {
            let sse = r
                .object_encryption()
                .and_then(|e| e.as_ssekms().ok())
                .expect("SSE-KMS");
            seen.lock().unwrap().push((
                r.key().unwrap().to_owned(),
                sse.kms_key_arn().to_owned(),
                sse.bucket_key_enabled(),
            ));
            UpdateObjectEncryptionOutput::builder().build()
        },
    )
}

#[tokio::test]
async fn objects_counts_fifty_sse_s3_objects_and_a_few_under_each_key_exactly() {
    let (k1, k2) = (
        common::create_key("SYMMETRIC_DEFAULT").await,
        common::create_key("SYMMETRIC_DEFAULT").await,
    );
    let bucket = common::unique("rek-objects-count-");
    seed(&bucket, 50, &[(&k1, 3), (&k2, 2)]).await;
    let run = |extra: &[&str]| {
        let mut a = vec!["objects", "--bucket", bucket.as_str(), "--format", "json"];
        a.extend_from_slice(extra);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rekognition-guard"))
            .args(&a)
            .envs(common::moto().env())
            .env("GUARD_SCAN_CONCURRENCY", "8")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let json: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
        (out.status.code(), json)
    };
    let (code, census) = run(&[]);
    assert_eq!(code, Some(0), "{census:#}");
    assert_eq!(census["objects"], 55);
    assert_eq!(census["bytes"], 50 * 100 + 5 * 10);
    assert_eq!(census["sampled"], false);
    assert_eq!(census["source"], "list-and-head");
    let rows = census["by_encryption"].as_array().unwrap();
    let row = |enc: &str, key: Option<&str>| {
        rows.iter()
            .find(|r| r["encryption"] == enc && r["kms_key"].as_str() == key)
            .unwrap_or_else(|| panic!("no {enc} {key:?} row: {census:#}"))
    };
    assert_eq!(row("sse-s3", None)["objects"], 50);
    assert_eq!(row("sse-s3", None)["bytes"], 5000);
    assert_eq!(row("sse-kms", Some(&k1))["objects"], 3);
    assert_eq!(row("sse-kms", Some(&k2))["objects"], 2);
    assert_eq!(rows.len(), 3, "{census:#}");
    // 55 HeadObject, one ListObjectsV2 page, the rest is identity and the aws/s3 lookup.
    assert!(census["requests"].as_u64().unwrap() >= 56, "{census:#}");

    let (code, sample) = run(&["--max", "10"]);
    assert_eq!(code, Some(0));
    assert_eq!(sample["objects"], 10);
    assert_eq!(sample["sampled"], true, "--max says it sampled: {sample:#}");

    let (code, images) = run(&["--prefix", "training/"]);
    assert_eq!(code, Some(0));
    assert_eq!(images["objects"], 50);
}

#[tokio::test]
async fn reencrypt_sends_one_update_per_object_not_under_the_key_and_none_for_the_others() {
    let (target, other) = (
        common::create_key("SYMMETRIC_DEFAULT").await,
        common::create_key("SYMMETRIC_DEFAULT").await,
    );
    let bucket = common::unique("rek-objects-direct-");
    let s3 = seed(&bucket, 50, &[(&target, 3), (&other, 2)]).await;
    // The bucket's own key is the target: compliant, nothing holds it.
    common::put_encryption(&s3, &bucket, "aws:kms", Some(&target), true).await;

    let seen: Updates = Arc::default();
    let rule = update_rule(&seen);
    let writer = mocked!(aws_sdk_s3, [&rule]);
    let clients = Clients::new(common::sdk_config().await).with_object_writer(writer);
    let app = common::app(Config::default(), clients);

    // --dry-run lists what would change and sends nothing.
    let dry = ReencryptArgs {
        dry_run: true,
        ..args(&bucket)
    };
    let (summary, code) = cmd::reencrypt(&app, &dry, deadline(), &NoProgress).await;
    let summary = summary.expect("a summary");
    assert_eq!(code, 0);
    assert_eq!(summary.path, Path::Direct);
    assert_eq!(summary.would_update.len(), 52);
    assert_eq!(rule.num_calls(), 0, "a dry run writes nothing");

    let (summary, code) = cmd::reencrypt(&app, &args(&bucket), deadline(), &NoProgress).await;
    let summary = summary.expect("a summary");
    assert_eq!(code, 0, "{summary:#?}");
    assert_eq!(summary.listed, 55);
    assert_eq!(summary.kept, 3);
    assert_eq!(summary.updated, 52);
    assert!(summary.failed.is_empty() && summary.unsupported.is_empty());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 52, "one update per object not under the key");
    let mut keys: Vec<&str> = seen.iter().map(|(k, _, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 52, "no object twice");
    assert!(
        keys.iter().all(|k| !k.starts_with("results/0/")),
        "none under the key"
    );
    assert_eq!(
        keys.iter().filter(|k| k.starts_with("results/1/")).count(),
        2
    );
    assert!(
        seen.iter()
            .all(|(_, arn, bk)| arn == &target && *bk == Some(true)),
        "every update names the key's ARN and a Bucket Key"
    );
    // The objects are as they were: the mock took the writes, moto kept the bodies.
    let body = s3
        .get_object()
        .bucket(&bucket)
        .key("training/images/000.jpg")
        .send()
        .await
        .unwrap();
    assert_eq!(body.content_length(), Some(100));
}

#[tokio::test]
async fn reencrypt_lists_objects_the_api_cannot_change_and_never_copies_them() {
    let target = common::create_key("SYMMETRIC_DEFAULT").await;
    let bucket = common::unique("rek-objects-dsse-");
    let s3 = seed(&bucket, 2, &[]).await;
    s3.put_object()
        .bucket(&bucket)
        .key("dual-layer.bin")
        .body(ByteStream::from_static(b"z"))
        .server_side_encryption(ServerSideEncryption::AwsKmsDsse)
        .ssekms_key_id(&target)
        .send()
        .await
        .unwrap();
    common::put_encryption(&s3, &bucket, "aws:kms", Some(&target), true).await;
    let seen: Updates = Arc::default();
    let rule = update_rule(&seen);
    let app = common::app(
        Config::default(),
        Clients::new(common::sdk_config().await).with_object_writer(mocked!(aws_sdk_s3, [&rule])),
    );
    let (summary, code) = cmd::reencrypt(&app, &args(&bucket), deadline(), &NoProgress).await;
    let summary = summary.unwrap();
    assert_eq!(
        code, 3,
        "objects the API cannot change remain: {summary:#?}"
    );
    assert_eq!(summary.updated, 2);
    assert_eq!(summary.unsupported.len(), 1);
    assert_eq!(summary.unsupported[0].key, "dual-layer.bin");
    assert!(summary.unsupported[0].error.contains("DSSE-KMS"));
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn batch_creates_a_job_whose_filter_operation_and_report_match_the_request() {
    let (target, other) = (
        common::create_key("SYMMETRIC_DEFAULT").await,
        common::create_key("SYMMETRIC_DEFAULT").await,
    );
    let bucket = common::unique("rek-objects-batch-");
    let s3 = seed(&bucket, 50, &[(&target, 3), (&other, 2)]).await;
    common::put_encryption(&s3, &bucket, "aws:kms", Some(&target), true).await;

    let captured: Arc<Mutex<Option<CreateJobInput>>> = Arc::default();
    let c = Arc::clone(&captured);
    let create = mock!(aws_sdk_s3control::Client::create_job).then_compute_output(
        move |r: &CreateJobInput| {
            *c.lock().unwrap() = Some(r.clone());
            CreateJobOutput::builder().job_id("job-0001").build()
        },
    );
    let writer_rule = update_rule(&Arc::default());
    let clients = Clients::new(common::sdk_config().await)
        .with_s3control(mocked!(aws_sdk_s3control, [&create, &no_account_bpa()]))
        .with_object_writer(mocked!(aws_sdk_s3, [&writer_rule]));
    let app = common::app(Config::default(), clients);
    let role = format!("arn:aws:iam::{ACCOUNT}:role/rekognition-guard-batch");
    let a = ReencryptArgs {
        batch: true,
        report_prefix: Some("s3://guard-reports/reencrypt".to_owned()),
        role: Some(role.clone()),
        prefix: Some("results/".to_owned()),
        ..args(&bucket)
    };
    let (summary, code) = cmd::reencrypt(&app, &a, deadline(), &NoProgress).await;
    let summary = summary.unwrap();
    assert_eq!(code, 0, "{summary:#?}");
    assert_eq!(summary.path, Path::Batch);
    assert_eq!(summary.job_id.as_deref(), Some("job-0001"));
    assert_eq!(create.num_calls(), 1);
    assert_eq!(
        writer_rule.num_calls(),
        0,
        "the job changes the objects, not us"
    );

    let input = captured.lock().unwrap().clone().expect("CreateJob sent");
    assert_eq!(input.account_id(), Some(ACCOUNT));
    assert_eq!(input.role_arn(), Some(role.as_str()));
    assert_eq!(input.confirmation_required(), Some(false));
    assert!(input.client_request_token().is_some_and(|t| !t.is_empty()));
    assert!(input.manifest().is_none(), "the manifest is generated");
    let Some(JobManifestGenerator::S3JobManifestGenerator(generator)) = input.manifest_generator()
    else {
        panic!("no S3 manifest generator: {input:#?}");
    };
    assert_eq!(generator.source_bucket(), format!("arn:aws:s3:::{bucket}"));
    assert_eq!(generator.expected_bucket_owner(), Some(ACCOUNT));
    let filter = generator.filter().expect("a filter");
    assert_eq!(
        filter
            .key_name_constraint()
            .map(|k| k.match_any_prefix().to_vec()),
        Some(vec!["results/".to_owned()])
    );
    let encryptions = filter.match_any_object_encryption();
    assert_eq!(encryptions.len(), 2, "{encryptions:#?}");
    assert!(encryptions.iter().any(ObjectEncryptionFilter::is_sses3));
    let kms: Vec<Option<&str>> = encryptions
        .iter()
        .filter_map(|e| e.as_ssekms().ok())
        .map(|f| f.kms_key_arn())
        .collect();
    assert_eq!(
        kms,
        vec![Some(other.as_str())],
        "SSE-KMS only under the other key"
    );
    let operation = input
        .operation()
        .and_then(|o| o.s3_update_object_encryption())
        .expect("the S3UpdateObjectEncryption operation");
    let sse = operation
        .object_encryption()
        .and_then(|e| e.ssekms())
        .expect("SSE-KMS");
    assert_eq!(sse.kms_key_arn(), target);
    assert_eq!(sse.bucket_key_enabled(), Some(true));
    let report = input.report().expect("a completion report");
    assert!(report.enabled());
    assert_eq!(report.bucket(), Some("arn:aws:s3:::guard-reports"));
    assert_eq!(report.prefix(), Some("reencrypt"));
    assert_eq!(
        report.format().map(|f| f.as_str()),
        Some("Report_CSV_20180820")
    );
}

#[tokio::test]
async fn jobs_shows_status_and_the_completion_reports_counts() {
    let reports = common::unique("rek-objects-reports-");
    let s3 = common::s3(REGION).await;
    s3.create_bucket().bucket(&reports).send().await.unwrap();
    let manifest = json!({"Format": "Report_CSV_20180820", "ReportCreationDate": "2026-12-06T10:00:00Z",
        "Results": [
            {"TaskExecutionStatus": "succeeded", "Bucket": reports, "MD5Checksum": "x", "Key": "guard/job-j1/results/ok.csv"},
            {"TaskExecutionStatus": "failed", "Bucket": reports, "MD5Checksum": "y", "Key": "guard/job-j1/results/failed.csv"}],
        "ReportSchema": "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"});
    for (key, body) in [
        ("guard/job-j1/manifest.json", manifest.to_string()),
        (
            "guard/job-j1/results/ok.csv",
            "b,a.jpg,,succeeded,,200,Successful\nb,b.jpg,,succeeded,,200,Successful\n".to_owned(),
        ),
        (
            "guard/job-j1/results/failed.csv",
            "b,c.jpg,,failed,AccessDenied,403,\"Object Lock, governance\"\n".to_owned(),
        ),
    ] {
        s3.put_object()
            .bucket(&reports)
            .key(key)
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .unwrap();
    }
    let progress = JobProgressSummary::builder()
        .total_number_of_tasks(3)
        .number_of_tasks_succeeded(2)
        .number_of_tasks_failed(1)
        .build();
    let p = progress.clone();
    let r = reports.clone();
    let describe = mock!(aws_sdk_s3control::Client::describe_job)
        .match_requests(|i| i.job_id() == Some("j1") && i.account_id() == Some(ACCOUNT))
        .then_output(move || {
            DescribeJobOutput::builder()
                .job(
                    JobDescriptor::builder()
                        .job_id("j1")
                        .status(JobStatus::Complete)
                        .description("rekognition-guard reencrypt b")
                        .progress_summary(p.clone())
                        .report(
                            JobReport::builder()
                                .enabled(true)
                                .bucket(format!("arn:aws:s3:::{r}"))
                                .prefix("guard")
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let list = mock!(aws_sdk_s3control::Client::list_jobs).then_output(move || {
        ListJobsOutput::builder()
            .jobs(
                JobListDescriptor::builder()
                    .job_id("j1")
                    .status(JobStatus::Complete)
                    .description("rekognition-guard reencrypt b")
                    .progress_summary(progress.clone())
                    .build(),
            )
            .jobs(
                JobListDescriptor::builder()
                    .job_id("someone-elses")
                    .status(JobStatus::Active)
                    .description("copy to archive")
                    .build(),
            )
            .build()
    });
    let clients = Clients::new(common::sdk_config().await)
        .with_s3control(mocked!(aws_sdk_s3control, [&describe, &list]));
    let app = common::app(Config::default(), clients);

    let (listed, code) = cmd::jobs(&app, None, None).await;
    assert_eq!(code, 0);
    assert_eq!(listed.len(), 1, "only this tool's jobs: {listed:#?}");
    assert_eq!(
        (listed[0].total, listed[0].succeeded, listed[0].failed),
        (Some(3), Some(2), Some(1))
    );
    let (one, code) = cmd::jobs(&app, Some(ACCOUNT), Some("j1")).await;
    assert_eq!(code, 0);
    let counts = one[0].report_counts.as_ref().expect("the report was read");
    assert_eq!((counts.succeeded, counts.failed), (2, 1));
    assert_eq!(counts.by_error.get("AccessDenied"), Some(&1));
}

#[tokio::test]
async fn a_held_bucket_is_refused_with_nothing_written() {
    // A partner account reads the bucket and no GUARD_KMS_KEY_ID is set: moving it to
    // aws/s3 would break the partner, so its encryption fix is held (tests/do_no_harm.rs).
    let bucket = common::unique("rek-objects-held-");
    let s3 = seed(&bucket, 3, &[]).await;
    let arn = format!("arn:aws:s3:::{bucket}");
    common::put_policy(
        &s3,
        &bucket,
        &json!({"Version": "2012-10-17", "Statement": [{"Sid": "PartnerReadsResults", "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{PARTNER}:root")},
            "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [arn, format!("{arn}/*")]}]}),
    )
    .await;
    let proxy = common::proxy::Proxy::start(&common::moto().endpoint);
    for extra in [
        &[][..],
        &[
            "--batch",
            "--report-prefix",
            "reports",
            "--role",
            "arn:aws:iam::123456789012:role/r",
        ][..],
    ] {
        proxy.reset();
        let mut a = vec!["reencrypt", "--bucket", bucket.as_str()];
        a.extend_from_slice(extra);
        let run = proxy.run(&a, &[], Duration::from_secs(60));
        assert_eq!(run.code, Some(3), "{}", run.stderr);
        assert!(
            run.stderr.contains("held") && run.stderr.contains(PARTNER),
            "the refusal names the hold and the dependent: {}",
            run.stderr
        );
        assert!(run.stderr.contains("nothing written"), "{}", run.stderr);
        let writes: Vec<Value> = proxy
            .log()
            .into_iter()
            .filter(|e| e["write"] == true)
            .collect();
        assert!(writes.is_empty(), "nothing written: {writes:#?}");
        assert!(
            !proxy.log().iter().any(|e| e["operation"] == "HeadObject"),
            "refused before reading the objects"
        );
    }
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("training/images/000.jpg")
        .send()
        .await
        .unwrap();
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
}

#[tokio::test]
async fn bad_arguments_exit_2_before_any_aws_call() {
    for a in [
        &["reencrypt", "--bucket", "b", "--batch"][..],
        &["reencrypt", "--bucket", "Bad/Name"][..],
        &["reencrypt", "--bucket", "b", "--report-prefix", "s3:///x"][..],
        &["jobs", "--account", "12"][..],
        &["objects", "--bucket", "b", "--format", "ocsf"][..],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rekognition-guard"))
            .args(a)
            .envs(common::env_for("http://127.0.0.1:9"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{a:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{a:?}: one line: {stderr}");
    }
}

/// `GUARD_REENCRYPT=batch`: a `CreateBucket` event remediates the console bucket (SSE-S3 to
/// the configured key) and starts one job for the objects already in it; its id is in the
/// `sse-kms` result. A held bucket is never remediated, so it gets no job.
#[tokio::test]
async fn the_lambda_starts_a_job_after_it_remediated_a_buckets_encryption_and_not_when_held() {
    use rekognition_guard::config::Reencrypt;
    use rekognition_guard::report::Status;
    let key = common::create_key("SYMMETRIC_DEFAULT").await;
    let bucket = common::unique("custom-labels-console-us-east-1-reenc-");
    seed(&bucket, 3, &[]).await;
    let captured: Arc<Mutex<Vec<CreateJobInput>>> = Arc::default();
    let c = Arc::clone(&captured);
    let create = mock!(aws_sdk_s3control::Client::create_job).then_compute_output(
        move |r: &CreateJobInput| {
            c.lock().unwrap().push(r.clone());
            CreateJobOutput::builder().job_id("job-lambda-1").build()
        },
    );
    let role = format!("arn:aws:iam::{ACCOUNT}:role/guard-reencrypt");
    let config = Config {
        kms_key_id: Some(key.clone()),
        reencrypt: Reencrypt::Batch,
        reencrypt_role_arn: Some(role.clone()),
        ..Config::default()
    };
    let clients = Clients::new(common::sdk_config().await)
        .with_s3control(mocked!(aws_sdk_s3control, [&create, &no_account_bpa()]));
    let app = common::app(config.clone(), clients);
    let report = rekognition_guard::handler::handle(
        &app,
        &common::console_event(&bucket),
        Instant::now() + Duration::from_secs(60),
    )
    .await
    .unwrap();
    let sse = report
        .results()
        .find(|(r, c)| r.id == bucket && c.control == "sse-kms")
        .map(|(_, c)| c.clone())
        .expect("sse-kms on the bucket");
    assert_eq!(sse.status, Status::Remediated, "{sse:#?}");
    assert_eq!(sse.reencrypt_job.as_deref(), Some("job-lambda-1"));
    assert!(sse.detail.contains("job-lambda-1"), "{}", sse.detail);
    let json = serde_json::to_value(&report).unwrap();
    assert!(
        json.to_string()
            .contains("\"reencrypt_job\":\"job-lambda-1\"")
    );
    let jobs = captured.lock().unwrap().clone();
    assert_eq!(jobs.len(), 1);
    let input = &jobs[0];
    assert_eq!(input.role_arn(), Some(role.as_str()));
    let Some(JobManifestGenerator::S3JobManifestGenerator(generator)) = input.manifest_generator()
    else {
        panic!("no manifest generator");
    };
    assert_eq!(generator.source_bucket(), format!("arn:aws:s3:::{bucket}"));
    let encryptions = generator.filter().unwrap().match_any_object_encryption();
    assert_eq!(
        encryptions.len(),
        1,
        "the old default was SSE-S3: {encryptions:#?}"
    );
    assert!(encryptions[0].is_sses3());
    let sse_kms = input
        .operation()
        .and_then(|o| o.s3_update_object_encryption())
        .and_then(|o| o.object_encryption())
        .and_then(|e| e.ssekms())
        .unwrap();
    assert_eq!(sse_kms.kms_key_arn(), key);
    let report_conf = input.report().unwrap();
    assert_eq!(
        report_conf.bucket(),
        Some(format!("arn:aws:s3:::{bucket}").as_str())
    );
    assert_eq!(
        report_conf.prefix(),
        Some("rekognition-guard-reencrypt-reports")
    );

    // Held: a partner account reads the bucket and the key does not cover it.
    let held = common::unique("custom-labels-console-us-east-1-held-");
    let s3 = seed(&held, 1, &[]).await;
    let arn = format!("arn:aws:s3:::{held}");
    common::put_policy(
        &s3,
        &held,
        &json!({"Version": "2012-10-17", "Statement": [{"Sid": "Partner", "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{PARTNER}:root")},
            "Action": ["s3:GetObject"], "Resource": [arn.clone(), format!("{arn}/*")]}]}),
    )
    .await;
    let report = rekognition_guard::handler::handle(
        &app,
        &common::console_event(&held),
        Instant::now() + Duration::from_secs(60),
    )
    .await
    .unwrap();
    let sse = report
        .results()
        .find(|(r, c)| r.id == held && c.control == "sse-kms")
        .map(|(_, c)| c.clone())
        .unwrap();
    assert_eq!(sse.status, Status::NonCompliant, "{sse:#?}");
    assert!(sse.reencrypt_job.is_none());
    assert_eq!(create.num_calls(), 1, "no job for a held bucket");
}

//! Under faults: the function talks to moto through tests/fault_proxy.py, which answers
//! chosen operations with AWS's own errors (SlowDown, InternalError, OperationAborted,
//! throttling), resets connections or delays answers. What is asserted is the state read
//! back directly from moto (not through the proxy), the report and the alert:
//!
//! - transient faults, fewer than the retry budget: the bucket ends compliant, verified;
//! - persistent faults on a write: `failed`, exit code 1, an alert, and no partial write
//!   (the bucket policy is the original or the fully merged one, every statement kept);
//! - resets and delays past the client's timeouts: the invocation ends within a bound and
//!   says what it did not finish.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use common::proxy::{Invocation, Proxy};
use common::{ACCOUNT, REGION, statements};
use rekognition_guard::aws::clients::Clients;
use rekognition_guard::config::Config;
use rekognition_guard::handler::{self, App};
use rekognition_guard::report::{Report, Status};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PREFIX: &str = "custom-labels-console-us-east-1-";

// ---- setup ---------------------------------------------------------------------------

/// This binary's moto holds an organization whose root opts every AI service out, so the
/// opt-out check walks the hierarchy (ListParents, ListPoliciesForTarget, DescribePolicy)
/// and ends compliant when nothing is faulted.
async fn organization() {
    common::org::opted_out().await;
}

/// A proxy in front of this binary's moto, with the organization in place.
async fn proxy() -> Proxy {
    organization().await;
    Proxy::start(&common::moto().endpoint)
}

/// The SDK's standard retries (3 attempts, as in production) with a short backoff, and
/// the given attempt/operation timeouts: SDK configuration for the function, via the proxy.
async fn sdk_via(proxy: &Proxy, attempt: Duration, operation: Duration) -> aws_config::SdkConfig {
    common::sdk_config_with_endpoint(&proxy.endpoint)
        .await
        .to_builder()
        .retry_config(RetryConfig::standard().with_initial_backoff(Duration::from_millis(50)))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(attempt)
                .operation_timeout(operation)
                .build(),
        )
        .build()
}

async fn app_via(proxy: &Proxy, config: Config) -> App {
    let conf = sdk_via(proxy, Duration::from_secs(10), Duration::from_secs(30)).await;
    common::app(config, Clients::new(conf))
}

/// A bucket as the console leaves it, plus a policy of several statements of the owner's.
async fn bucket_with_policy() -> (String, Value) {
    let name = common::unique(PREFIX);
    let s3 = common::s3(REGION).await;
    s3.create_bucket().bucket(&name).send().await.unwrap();
    let arn = format!("arn:aws:s3:::{name}");
    let original = json!({"Version": "2012-10-17", "Id": "corp-policy", "Statement": [
        // A same-account trainer: a service principal here would (rightly) hold the aws/s3
        // fix these fault tests apply (tests/do_no_harm.rs).
        {"Sid": "AllowRekognition", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/rekognition-trainer")},
         "Action": ["s3:GetObject", "s3:PutObject"], "Resource": format!("{arn}/*"),
         "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}},
        {"Sid": "DenyDeletes", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket", "Resource": arn},
        {"Sid": "AuditRead", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
         "Action": ["s3:GetBucketPolicy", "s3:GetEncryptionConfiguration"], "Resource": arn},
        {"Effect": "Deny", "NotPrincipal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/Admin")},
         "Action": "s3:PutBucketPolicy", "Resource": arn}
    ]});
    s3.put_bucket_policy()
        .bucket(&name)
        .policy(original.to_string())
        .send()
        .await
        .unwrap();
    (name, original)
}

// ---- reading back from moto directly ----------------------------------------------------

async fn policy(bucket: &str) -> Option<Value> {
    common::bucket_policy(&common::s3(REGION).await, bucket).await
}

fn denies_insecure_transport(statement: &Value) -> bool {
    statement["Effect"] == "Deny"
        && statement["Condition"]["Bool"]["aws:SecureTransport"]
            .as_str()
            .is_some_and(|v| v.eq_ignore_ascii_case("false"))
}

/// The policy in moto is either exactly the original, or the fully merged one: the
/// original statements, unchanged and in order, plus exactly one TLS-only statement.
/// Returns whether it was merged.
async fn assert_all_or_nothing(bucket: &str, original: &Value) -> bool {
    let now = policy(bucket).await.expect("the bucket still has a policy");
    if &now == original {
        return false;
    }
    let before = statements(original);
    let after = statements(&now);
    assert_eq!(now["Id"], original["Id"], "Id kept: {now}");
    assert_eq!(now["Version"], original["Version"], "Version kept: {now}");
    assert_eq!(
        &after[..before.len().min(after.len())],
        &before[..],
        "every original statement, unchanged and in order: {now}"
    );
    assert_eq!(after.len(), before.len() + 1, "one statement added: {now}");
    assert!(
        denies_insecure_transport(&after[before.len()]),
        "the added statement is the TLS-only one: {now}"
    );
    true
}

async fn assert_s3_compliant(bucket: &str, original: &Value) {
    let s3 = common::s3(REGION).await;
    let enc = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    let default = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!(default.sse_algorithm().as_str(), "aws:kms", "{bucket}");
    assert_eq!(rule.bucket_key_enabled(), Some(true), "{bucket}");
    let pab = s3
        .get_public_access_block()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    let c = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        [
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets()
        ],
        [Some(true); 4],
        "{bucket}"
    );
    assert!(
        assert_all_or_nothing(bucket, original).await,
        "{bucket}: the policy was merged"
    );
}

fn status(report: &Report, id: &str, control: &str) -> Status {
    report
        .results()
        .find(|(r, c)| r.id == id && c.control == control)
        .map(|(_, c)| c.status)
        .unwrap_or_else(|| panic!("no {control} result for {id}: {report:#?}"))
}

/// Each rule's operation was faulted exactly `times` and then answered by moto.
fn assert_faulted_then_passed(proxy: &Proxy, expected: &[(&str, usize)]) -> usize {
    let log = proxy.log();
    let mut injected = 0;
    for (operation, times) in expected {
        let seen: Vec<&Value> = log
            .iter()
            .filter(|e| e["operation"] == *operation)
            .collect();
        let faulted = seen.iter().filter(|e| !e["fault"].is_null()).count();
        assert_eq!(faulted, *times, "{operation} faulted: {seen:?}");
        let last = seen
            .last()
            .unwrap_or_else(|| panic!("{operation} never sent"));
        assert!(
            last["fault"].is_null() && last["status"].as_u64().is_some_and(|s| s < 300),
            "{operation}: after {times} faults it went through: {seen:?}"
        );
        injected += faulted;
    }
    injected
}

// ---- transient faults --------------------------------------------------------------------

#[tokio::test]
async fn transient_s3_faults_below_the_retry_budget_converge() {
    let proxy = proxy().await;
    let (bucket, original) = bucket_with_policy().await;
    let faults = [
        ("PutBucketPolicy", "slowdown-503", 2),
        ("GetBucketEncryption", "internal-500", 1),
        ("PutBucketEncryption", "operation-aborted-409", 3),
        ("PutPublicAccessBlock", "throttle-429", 2),
        ("GetBucketPolicy", "internal-500", 2),
    ];
    proxy.set_rules(Value::Array(
        faults
            .iter()
            .map(|(op, fault, times)| json!({"operation": op, "fault": fault, "times": times}))
            .collect(),
    ));
    let app = app_via(&proxy, Config::default()).await;
    let report = handler::handle(
        &app,
        &common::console_event(&bucket),
        Instant::now() + Duration::from_secs(60),
    )
    .await
    .unwrap();
    for control in ["sse-kms", "public-access-block", "tls-only"] {
        assert_eq!(
            status(&report, &bucket, control),
            Status::Remediated,
            "{control}: {report:#?}"
        );
    }
    assert_eq!(report.exit_code(), 0, "{report:#?}");
    assert_s3_compliant(&bucket, &original).await;
    let injected =
        assert_faulted_then_passed(&proxy, &faults.map(|(op, _, times)| (op, times as usize)));
    eprintln!("transient S3 faults injected: {injected}");
}

#[tokio::test]
async fn transient_throttling_of_kms_organizations_sns_and_sts_is_retried() {
    let proxy = proxy().await;
    let (bucket, original) = bucket_with_policy().await;
    let key = common::kms(REGION)
        .await
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let (topic, queue) = common::topic_with_queue().await;
    let faults = [
        ("GetCallerIdentity", 2),
        ("DescribeKey", 2),
        ("ListParents", 2),
        ("Publish", 2),
    ];
    proxy.set_rules(Value::Array(
        faults
            .iter()
            .map(|(op, times)| json!({"operation": op, "fault": "throttle-429", "times": times}))
            .collect(),
    ));
    let config = Config {
        kms_key_id: Some(key.clone()),
        alert_topic_arn: Some(topic),
        ..Config::default()
    };
    let app = app_via(&proxy, config).await;
    let report = handler::handle(
        &app,
        &common::console_event(&bucket),
        Instant::now() + Duration::from_secs(60),
    )
    .await
    .unwrap();
    assert_eq!(
        status(&report, &bucket, "sse-kms"),
        Status::Remediated,
        "{report:#?}"
    );
    assert_eq!(
        status(&report, ACCOUNT, "ai-opt-out"),
        Status::Compliant,
        "{report:#?}"
    );
    assert!(report.alert.published, "{:?}", report.alert);
    assert_eq!(report.exit_code(), 0, "{report:#?}");
    assert_s3_compliant(&bucket, &original).await;
    let enc = common::s3(REGION)
        .await
        .get_bucket_encryption()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let written = enc.server_side_encryption_configuration().unwrap().rules()[0]
        .apply_server_side_encryption_by_default()
        .unwrap()
        .kms_master_key_id()
        .map(str::to_owned);
    assert_eq!(written.as_deref(), Some(key.as_str()), "the configured key");
    let messages = common::drain(&queue).await;
    assert_eq!(
        messages.len(),
        1,
        "one alert, not one per attempt: {messages:?}"
    );
    assert!(messages[0]["Message"].as_str().unwrap().contains(&bucket));
    let injected = assert_faulted_then_passed(&proxy, &faults);
    eprintln!("transient throttling faults injected: {injected}");
}

// ---- persistent faults on a write, through the built binary --------------------------------

/// Runs the built binary on `event` through the proxy (the production SDK configuration:
/// standard retries, 3 attempts).
fn binary(proxy: &Proxy, event: &Value, extra_env: &[(&str, &str)]) -> Invocation {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("event.json");
    std::fs::write(&file, event.to_string()).unwrap();
    proxy.invoke(&file, extra_env, Duration::from_secs(60))
}

fn control_status(report: &Value, bucket: &str, control: &str) -> String {
    report["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["id"] == bucket)
        .flat_map(|r| r["controls"].as_array().into_iter().flatten())
        .find(|c| c["control"] == control)
        .and_then(|c| c["status"].as_str())
        .unwrap_or_else(|| panic!("no {control} for {bucket} in {report:#}"))
        .to_owned()
}

/// A write that fails on every attempt: that control `failed`, the others remediated,
/// exit code 1, an alert (SNS is reachable), and the policy all or nothing.
async fn persistent_write_fault(operation: &str, control: &str, rule: Value) {
    let proxy = proxy().await;
    let (bucket, original) = bucket_with_policy().await;
    let (topic, queue) = common::topic_with_queue().await;
    let mut rule = rule;
    rule["operation"] = json!(operation);
    proxy.set_rules(json!([rule]));
    let run = binary(
        &proxy,
        &common::console_event(&bucket),
        &[("GUARD_ALERT_TOPIC_ARN", &topic)],
    );
    let report = run.report();
    assert_eq!(
        run.code,
        Some(1),
        "{operation}: exit code\n{}\n{:#}",
        run.stderr,
        report
    );
    assert_eq!(control_status(&report, &bucket, control), "failed");
    for other in ["sse-kms", "public-access-block", "tls-only"] {
        if other != control {
            assert_eq!(
                control_status(&report, &bucket, other),
                "remediated",
                "{operation}: {other}"
            );
        }
    }
    assert_eq!(report["alert"]["published"], true, "{:#}", report["alert"]);
    let messages = common::drain(&queue).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        messages[0]["MessageAttributes"]["severity"]["Value"], "high",
        "a failure pages: {:#}",
        messages[0]
    );
    let body = messages[0]["Message"].as_str().unwrap();
    assert!(body.contains(&bucket) && body.contains("failed"), "{body}");

    let merged = assert_all_or_nothing(&bucket, &original).await;
    let (sent, faulted) = proxy.count(operation);
    eprintln!(
        "{operation} persistent {}: {sent} attempts, {faulted} faulted; policy {}",
        rule["fault"],
        if merged { "fully merged" } else { "unchanged" }
    );
    assert_eq!(sent, faulted, "{operation}: every attempt faulted");
    assert_eq!(
        sent, 3,
        "{operation}: the SDK's standard budget of 3 attempts"
    );
    if operation == "PutBucketPolicy" && rule["after_upstream"] != true {
        assert!(!merged, "the policy write never reached moto");
    }
}

#[tokio::test]
async fn persistent_put_bucket_policy_fault_fails_without_a_partial_write() {
    persistent_write_fault(
        "PutBucketPolicy",
        "tls-only",
        json!({"fault": "internal-500"}),
    )
    .await;
}

#[tokio::test]
async fn persistent_lost_put_bucket_policy_responses_leave_the_full_merge() {
    // The write lands every time, but the answer is a 500: the SDK retries the same
    // document, and the policy in the bucket is the fully merged one.
    persistent_write_fault(
        "PutBucketPolicy",
        "tls-only",
        json!({"fault": "internal-500", "after_upstream": true}),
    )
    .await;
}

#[tokio::test]
async fn persistent_put_bucket_encryption_fault_fails_and_alerts() {
    persistent_write_fault(
        "PutBucketEncryption",
        "sse-kms",
        json!({"fault": "slowdown-503"}),
    )
    .await;
}

#[tokio::test]
async fn persistent_put_public_access_block_fault_fails_and_alerts() {
    persistent_write_fault(
        "PutPublicAccessBlock",
        "public-access-block",
        json!({"fault": "internal-500"}),
    )
    .await;
}

// ---- resets and delays: bounded ---------------------------------------------------------------

#[tokio::test]
async fn connection_resets_are_retried_then_reported() {
    let proxy = proxy().await;
    let (bucket, original) = bucket_with_policy().await;
    proxy.set_rules(json!([
        {"operation": "GetBucketTagging", "fault": "reset", "times": 1},
        {"operation": "PutBucketEncryption", "fault": "reset"}
    ]));
    let conf = sdk_via(&proxy, Duration::from_secs(2), Duration::from_secs(5)).await;
    let app = common::app(Config::default(), Clients::new(conf));
    let started = Instant::now();
    let report = handler::handle(
        &app,
        &common::console_event(&bucket),
        Instant::now() + Duration::from_secs(30),
    )
    .await
    .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(
        status(&report, &bucket, "sse-kms"),
        Status::Failed,
        "{report:#?}"
    );
    assert_eq!(
        status(&report, &bucket, "public-access-block"),
        Status::Remediated
    );
    assert_eq!(status(&report, &bucket, "tls-only"), Status::Remediated);
    assert_eq!(report.exit_code(), 1);
    assert!(assert_all_or_nothing(&bucket, &original).await);
    let (sent, faulted) = proxy.count("PutBucketEncryption");
    assert_eq!((sent, faulted), (3, 3), "retried as a transient error");
    let (sent, faulted) = proxy.count("GetBucketTagging");
    assert_eq!((sent, faulted), (2, 1), "one reset, then through");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    eprintln!("resets injected: 4; elapsed {elapsed:?}");
}

#[tokio::test]
async fn a_delay_past_the_attempt_timeout_is_bounded_by_the_operation_timeout() {
    let proxy = proxy().await;
    let (bucket, original) = bucket_with_policy().await;
    proxy.set_rules(json!([
        {"operation": "GetBucketPolicy", "fault": "delay", "delay_seconds": 5}
    ]));
    let operation_timeout = Duration::from_millis(2500);
    let conf = sdk_via(&proxy, Duration::from_secs(1), operation_timeout).await;
    let app = common::app(Config::default(), Clients::new(conf));
    let started = Instant::now();
    let report = handler::handle(
        &app,
        &common::console_event(&bucket),
        Instant::now() + Duration::from_secs(30),
    )
    .await
    .unwrap();
    let elapsed = started.elapsed();
    // The policy could not be read, so it is not written: failed, and nothing merged.
    assert_eq!(
        status(&report, &bucket, "tls-only"),
        Status::Failed,
        "{report:#?}"
    );
    assert_eq!(status(&report, &bucket, "sse-kms"), Status::Remediated);
    assert_eq!(
        status(&report, &bucket, "public-access-block"),
        Status::Remediated
    );
    assert_eq!(report.exit_code(), 1);
    assert!(
        !assert_all_or_nothing(&bucket, &original).await,
        "unchanged"
    );
    assert_eq!(
        proxy.count("PutBucketPolicy").0,
        0,
        "no policy write without a read"
    );
    let delayed = proxy.count("GetBucketPolicy").1;
    assert!(delayed >= 2, "retried after the attempt timeout: {delayed}");
    let bound = operation_timeout + Duration::from_millis(1500);
    assert!(elapsed < bound, "{elapsed:?} >= {bound:?}");
    eprintln!(
        "delay past the attempt timeout: {delayed} GetBucketPolicy attempts delayed; elapsed {elapsed:?}"
    );
}

/// The client's own timeouts are longer than the invocation's remaining time (as in
/// production: 10 s per attempt, 30 s per operation); only the handler's deadline can
/// stop it. The invocation must return by the deadline (plus a small margin) and report
/// the write it did not finish.
#[tokio::test]
async fn the_deadline_bounds_an_invocation_whose_write_hangs() {
    let proxy = proxy().await;
    let (bucket, original) = bucket_with_policy().await;
    proxy.set_rules(json!([
        {"operation": "PutBucketPolicy", "fault": "delay", "delay_seconds": 6}
    ]));
    let app = app_via(&proxy, Config::default()).await;
    let budget = Duration::from_secs(3);
    let started = Instant::now();
    let report = handler::handle(&app, &common::console_event(&bucket), started + budget)
        .await
        .unwrap();
    let elapsed = started.elapsed();

    // The delayed write still reaches moto after the client gave up (as a real request
    // in flight would): wait for it, then the policy must be all or nothing.
    let waited = Instant::now();
    while !proxy
        .log()
        .iter()
        .any(|e| e["operation"] == "PutBucketPolicy" && !e["status"].is_null())
    {
        assert!(
            waited.elapsed() < Duration::from_secs(15),
            "{:?}",
            proxy.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_all_or_nothing(&bucket, &original).await;

    let tls = status(&report, &bucket, "tls-only");
    let mentioned = report.unfinished.iter().any(|u| u.contains(&bucket));
    assert!(
        tls == Status::Failed || mentioned,
        "the unfinished write is reported: {report:#?}"
    );
    assert_eq!(report.exit_code(), 1, "{report:#?}");
    let margin = Duration::from_millis(1000);
    assert!(
        elapsed <= budget + margin,
        "the invocation ran {elapsed:?}, past its deadline of {budget:?} (+{margin:?})"
    );
    eprintln!("hung write: returned after {elapsed:?} for a {budget:?} deadline");
}

// ---- the harness itself ---------------------------------------------------------------------

/// The proxy names operations as AWS does, marks writes, and its faults reach the SDK as
/// the error codes AWS sends, which the SDK's standard retry classifies as retryable.
#[tokio::test]
async fn the_proxy_names_operations_and_its_faults_are_retryable_aws_errors() {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    let proxy = proxy().await;
    let conf = sdk_via(&proxy, Duration::from_secs(5), Duration::from_secs(10)).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&conf)
            .force_path_style(true)
            .build(),
    );
    let bucket = common::unique(PREFIX);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    s3.get_bucket_location()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    s3.list_buckets().send().await.unwrap();
    let (topic, _queue) = common::topic_with_queue().await;
    let sns = aws_sdk_sns::Client::new(&conf);
    sns.publish()
        .topic_arn(&topic)
        .message("x")
        .send()
        .await
        .unwrap();
    let kms = aws_sdk_kms::Client::new(&conf);
    let sts = aws_sdk_sts::Client::new(&conf);
    sts.get_caller_identity().send().await.unwrap();
    let names: Vec<(String, bool)> = proxy
        .log()
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap().to_owned(),
                e["write"] == true,
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("CreateBucket", true),
            ("GetBucketLocation", false),
            ("ListBuckets", false),
            ("Publish", true),
            ("GetCallerIdentity", false),
        ]
        .map(|(n, w)| (n.to_owned(), w))
    );

    proxy.reset();
    proxy.set_rules(json!([
        {"operation": "GetBucketTagging", "fault": "slowdown-503"},
        {"operation": "GetBucketPolicy", "fault": "internal-500"},
        {"operation": "PutBucketTagging", "fault": "operation-aborted-409"},
        {"operation": "DescribeKey", "fault": "throttle-429"},
        {"operation": "Publish", "fault": "throttle-429"},
        {"operation": "GetCallerIdentity", "fault": "throttle-429"},
    ]));
    let code = |e: &dyn ProvideErrorMetadata| e.code().map(str::to_owned);
    let tagging = s3.get_bucket_tagging().bucket(&bucket).send().await;
    assert_eq!(code(&tagging.unwrap_err()).as_deref(), Some("SlowDown"));
    let policy = s3.get_bucket_policy().bucket(&bucket).send().await;
    assert_eq!(code(&policy.unwrap_err()).as_deref(), Some("InternalError"));
    let put = s3
        .put_bucket_tagging()
        .bucket(&bucket)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .set_tag_set(Some(vec![]))
                .build()
                .unwrap(),
        )
        .send()
        .await;
    assert_eq!(code(&put.unwrap_err()).as_deref(), Some("OperationAborted"));
    let key = kms.describe_key().key_id("alias/x").send().await;
    assert_eq!(
        code(&key.unwrap_err()).as_deref(),
        Some("ThrottlingException")
    );
    let publish = sns.publish().topic_arn(&topic).message("x").send().await;
    assert_eq!(code(&publish.unwrap_err()).as_deref(), Some("Throttling"));
    let who = sts.get_caller_identity().send().await;
    assert_eq!(code(&who.unwrap_err()).as_deref(), Some("Throttling"));
    // Retryable faults took the whole budget of 3 attempts; OperationAborted is final
    // for the SDK (the function's own race retry handles it).
    for (operation, attempts) in [
        ("GetBucketTagging", 3),
        ("GetBucketPolicy", 3),
        ("PutBucketTagging", 1),
        ("DescribeKey", 3),
        ("Publish", 3),
        ("GetCallerIdentity", 3),
    ] {
        assert_eq!(proxy.count(operation), (attempts, attempts), "{operation}");
    }
}

//! The CreateBucket path end to end against the emulator: seed a bucket in a given
//! state, run the handler (in-process and through the built binary), read the bucket
//! back and assert what a user cares about.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use aws_sdk_s3::types::{PublicAccessBlockConfiguration, Tag, Tagging};
use common::{ACCOUNT, REGION};
use common::{bucket_policy as policy, public_access_block as pab, statements};
use rekognition_guard::aws::clients::Clients;
use rekognition_guard::config::{Config, KeyPolicy, Mode};
use rekognition_guard::handler::{self, App};
use rekognition_guard::report::{Report, Severity, Status};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const PREFIX: &str = "custom-labels-console-us-east-1-";

fn event_for(bucket: &str, region: &str) -> Value {
    let mut e = common::console_event(bucket);
    e["detail"]["awsRegion"] = json!(region);
    e["region"] = json!(region);
    if region != "us-east-1" {
        e["detail"]["requestParameters"]["CreateBucketConfiguration"] =
            json!({"LocationConstraint": region});
    }
    e
}

async fn app(config: Config) -> App {
    common::app(config, Clients::new(common::sdk_config().await))
}

async fn run(app: &App, event: &Value) -> Report {
    handler::handle(app, event, Instant::now() + Duration::from_secs(60))
        .await
        .unwrap()
}

async fn new_bucket(region: &str) -> (String, aws_sdk_s3::Client) {
    let name = common::unique(PREFIX);
    let s3 = common::s3(region).await;
    let mut req = s3.create_bucket().bucket(&name);
    if region != "us-east-1" {
        req = req.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    req.send().await.unwrap();
    (name, s3)
}

use common::put_policy;

fn status(report: &Report, bucket: &str, control: &str) -> Status {
    report
        .results()
        .find(|(r, c)| r.id == bucket && c.control == control)
        .map(|(_, c)| c.status)
        .unwrap_or_else(|| panic!("no {control} result for {bucket}: {report:#?}"))
}

fn detail<'a>(report: &'a Report, bucket: &str, control: &str) -> &'a str {
    report
        .results()
        .find(|(r, c)| r.id == bucket && c.control == control)
        .map(|(_, c)| c.detail.as_str())
        .unwrap()
}

fn tls_statement(principal: Value, resources: Value, value: Value, sid: &str) -> Value {
    json!({"Sid": sid, "Effect": "Deny", "Principal": principal, "Action": "s3:*",
           "Resource": resources, "Condition": {"Bool": {"aws:SecureTransport": value}}})
}

#[tokio::test]
async fn console_defaults_are_remediated_verified_and_a_rerun_writes_nothing() {
    let key = common::create_key("SYMMETRIC_DEFAULT").await;
    let (bucket, s3) = new_bucket(REGION).await;
    let app = app(Config {
        kms_key_id: Some(key.clone()),
        ..Config::default()
    })
    .await;

    let report = run(&app, &event_for(&bucket, REGION)).await;
    for control in ["sse-kms", "public-access-block", "tls-only"] {
        assert_eq!(
            status(&report, &bucket, control),
            Status::Remediated,
            "{control}: {report:#?}"
        );
    }
    assert_eq!(
        common::read_encryption(&s3, &bucket).await,
        Some(("aws:kms".into(), Some(key.clone()), Some(true)))
    );
    assert_eq!(pab(&s3, &bucket).await, Some([true; 4]));
    let p = policy(&s3, &bucket).await.unwrap();
    assert_eq!(p["Version"], "2012-10-17");
    assert_eq!(statements(&p).len(), 1);
    assert_eq!(statements(&p)[0]["Sid"], "DenyInsecureTransport");
    // the report says what it read back, not what it sent
    let after = report
        .results()
        .find(|(_, c)| c.control == "sse-kms")
        .unwrap()
        .1
        .after
        .clone()
        .unwrap();
    assert_eq!(after["KMSMasterKeyID"], json!(key));

    let writes_before = app.clients.counter().s3_writes();
    let again = run(&app, &event_for(&bucket, REGION)).await;
    for control in ["sse-kms", "public-access-block", "tls-only"] {
        assert_eq!(
            status(&again, &bucket, control),
            Status::Compliant,
            "{control}"
        );
    }
    assert_eq!(
        app.clients.counter().s3_writes(),
        writes_before,
        "a compliant bucket costs no write"
    );
    assert_eq!(statements(&policy(&s3, &bucket).await.unwrap()).len(), 1);
}

#[tokio::test]
async fn an_alias_is_written_as_the_full_key_arn() {
    let key = common::create_key("SYMMETRIC_DEFAULT").await;
    let alias = format!("alias/{}", common::unique("guard-"));
    common::kms(REGION)
        .await
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&key)
        .send()
        .await
        .unwrap();
    let (bucket, s3) = new_bucket(REGION).await;
    let app = app(Config {
        kms_key_id: Some(alias),
        ..Config::default()
    })
    .await;
    run(&app, &event_for(&bucket, REGION)).await;
    assert_eq!(
        common::read_encryption(&s3, &bucket).await.unwrap().1,
        Some(key)
    );
}

#[tokio::test]
async fn sse_s3_and_the_aws_managed_key_are_upgraded_to_the_configured_key() {
    let key = common::create_key("SYMMETRIC_DEFAULT").await;
    let app = app(Config {
        kms_key_id: Some(key.clone()),
        ..Config::default()
    })
    .await;
    for (alg, existing) in [
        ("AES256", None),
        ("aws:kms", None),
        ("aws:kms", Some("alias/aws/s3")),
    ] {
        let (bucket, s3) = new_bucket(REGION).await;
        common::put_encryption(&s3, &bucket, alg, existing, false).await;
        let report = run(&app, &event_for(&bucket, REGION)).await;
        assert_eq!(
            status(&report, &bucket, "sse-kms"),
            Status::Remediated,
            "{alg} {existing:?}"
        );
        assert_eq!(
            common::read_encryption(&s3, &bucket).await,
            Some(("aws:kms".into(), Some(key.clone()), Some(true)))
        );
    }
}

#[tokio::test]
async fn another_teams_valid_key_is_compliant_unless_only_the_configured_key_may_be() {
    let mine = common::create_key("SYMMETRIC_DEFAULT").await;
    let theirs = common::create_key("SYMMETRIC_DEFAULT").await;
    for (policy, want) in [
        (KeyPolicy::CustomerManaged, Status::Compliant),
        (KeyPolicy::ConfiguredOnly, Status::NonCompliant),
    ] {
        let app = app(Config {
            kms_key_id: Some(mine.clone()),
            kms_key_policy: policy,
            ..Config::default()
        })
        .await;
        for alg in ["aws:kms", "aws:kms:dsse"] {
            let (bucket, s3) = new_bucket(REGION).await;
            common::put_encryption(&s3, &bucket, alg, Some(&theirs), alg == "aws:kms").await;
            let before = common::read_encryption(&s3, &bucket).await;
            let report = run(&app, &event_for(&bucket, REGION)).await;
            assert_eq!(
                status(&report, &bucket, "sse-kms"),
                want,
                "{policy:?} {alg}"
            );
            let text = detail(&report, &bucket, "sse-kms");
            assert!(text.contains("kept") && text.contains(&theirs), "{text}");
            assert_eq!(
                common::read_encryption(&s3, &bucket).await,
                before,
                "{alg}: never replaced"
            );
            // Nothing left to alert on for this bucket once the other controls are fixed.
            let attention = report
                .results()
                .filter(|(r, _)| r.id == bucket)
                .any(|(_, c)| !matches!(c.status, Status::Compliant | Status::Remediated));
            assert_eq!(attention, want == Status::NonCompliant, "{policy:?} {alg}");
        }
    }
}

#[tokio::test]
async fn a_bucket_whose_key_does_not_work_is_high_and_kept() {
    let kms = common::kms(REGION).await;
    let disabled = common::create_key("SYMMETRIC_DEFAULT").await;
    kms.disable_key()
        .key_id(disabled.rsplit('/').next().unwrap())
        .send()
        .await
        .unwrap();
    let pending = common::create_key("SYMMETRIC_DEFAULT").await;
    kms.schedule_key_deletion()
        .key_id(pending.rsplit('/').next().unwrap())
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let missing =
        format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-4000-8000-000000000000");
    for configured in [None, Some(common::create_key("SYMMETRIC_DEFAULT").await)] {
        let app = app(Config {
            kms_key_id: configured.clone(),
            ..Config::default()
        })
        .await;
        for (key, needle) in [
            (&disabled, "Disabled"),
            (&pending, "PendingDeletion"),
            (&missing, "cannot describe"),
        ] {
            let (bucket, s3) = new_bucket(REGION).await;
            common::put_encryption(&s3, &bucket, "aws:kms", Some(key), true).await;
            let report = run(&app, &event_for(&bucket, REGION)).await;
            let result = report
                .results()
                .find(|(r, c)| r.id == bucket && c.control == "sse-kms")
                .map(|(_, c)| c.clone())
                .unwrap();
            assert_eq!(
                (result.status, result.severity),
                (Status::NonCompliant, Some(Severity::High)),
                "{configured:?} {needle}: {}",
                result.detail
            );
            assert!(
                result.detail.contains(needle) && result.detail.contains("uploads"),
                "{}",
                result.detail
            );
            assert_eq!(
                common::read_encryption(&s3, &bucket)
                    .await
                    .unwrap()
                    .1
                    .as_deref(),
                Some(key.as_str()),
                "kept"
            );
        }
    }
}

#[tokio::test]
async fn another_key_is_described_in_the_buckets_region() {
    let region = "eu-west-1";
    let kms = common::kms(region).await;
    let theirs = kms
        .create_key()
        .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    // Described in us-east-1 (the function's Region) the key would not exist: high.
    let app = app(Config::default()).await;
    let (bucket, s3) = new_bucket(region).await;
    common::put_encryption(&s3, &bucket, "aws:kms", Some(&theirs), true).await;
    let report = run(&app, &event_for(&bucket, region)).await;
    assert_eq!(
        status(&report, &bucket, "sse-kms"),
        Status::Compliant,
        "{}",
        detail(&report, &bucket, "sse-kms")
    );
}

#[tokio::test]
async fn an_unusable_configured_key_is_never_written() {
    let rsa = common::create_key("RSA_2048").await;
    let (bucket, s3) = new_bucket(REGION).await;
    let app = app(Config {
        kms_key_id: Some(rsa),
        ..Config::default()
    })
    .await;
    let report = run(&app, &event_for(&bucket, REGION)).await;
    assert_eq!(status(&report, &bucket, "sse-kms"), Status::Failed);
    assert!(
        detail(&report, &bucket, "sse-kms").contains("RSA_2048"),
        "{}",
        detail(&report, &bucket, "sse-kms")
    );
    assert_eq!(
        common::read_encryption(&s3, &bucket).await,
        common::new_bucket_encryption(),
        "nothing written: S3's default stays"
    );
    assert_eq!(report.exit_code(), 1);
    // the other controls still do their job
    assert_eq!(pab(&s3, &bucket).await, Some([true; 4]));

    let missing = app_with_key("alias/does-not-exist").await;
    let (bucket, s3) = new_bucket(REGION).await;
    let report = run(&missing, &event_for(&bucket, REGION)).await;
    assert_eq!(status(&report, &bucket, "sse-kms"), Status::Failed);
    assert_eq!(
        common::read_encryption(&s3, &bucket).await,
        common::new_bucket_encryption()
    );
}

async fn app_with_key(key: &str) -> App {
    app(Config {
        kms_key_id: Some(key.to_owned()),
        ..Config::default()
    })
    .await
}

#[tokio::test]
async fn partial_public_access_block_gets_all_four() {
    let (bucket, s3) = new_bucket(REGION).await;
    s3.put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(false)
                .block_public_policy(true)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let report = run(&app(Config::default()).await, &event_for(&bucket, REGION)).await;
    assert_eq!(
        status(&report, &bucket, "public-access-block"),
        Status::Remediated
    );
    assert!(
        detail(&report, &bucket, "public-access-block")
            .contains("IgnorePublicAcls, RestrictPublicBuckets off")
    );
    assert_eq!(pab(&s3, &bucket).await, Some([true; 4]));
}

#[tokio::test]
async fn a_merge_keeps_every_other_statement_id_and_version() {
    let (bucket, s3) = new_bucket(REGION).await;
    let arn = format!("arn:aws:s3:::{bucket}");
    let original = json!({"Version": "2012-10-17", "Id": "corp-policy", "Statement": [
        {"Sid": "AllowRekognition", "Effect": "Allow", "Principal": {"Service": "rekognition.amazonaws.com"},
         "Action": ["s3:GetObject", "s3:PutObject"], "Resource": format!("{arn}/*"),
         "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}},
        {"Sid": "DenyDeletes", "Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket", "Resource": arn},
        // A TLS deny on the objects only: not compliant, and kept.
        {"Sid": "ObjectsTlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": format!("{arn}/*"),
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    ]});
    put_policy(&s3, &bucket, &original).await;
    let app = app(Config::default()).await;
    let report = run(&app, &event_for(&bucket, REGION)).await;
    assert_eq!(status(&report, &bucket, "tls-only"), Status::Remediated);
    let merged = policy(&s3, &bucket).await.unwrap();
    assert_eq!(merged["Id"], "corp-policy");
    assert_eq!(merged["Version"], "2012-10-17");
    let after = statements(&merged);
    assert_eq!(
        &after[..3],
        &statements(&original)[..],
        "every original statement, unchanged"
    );
    assert_eq!(after.len(), 4);
    assert_eq!(after[3]["Resource"], json!([arn, format!("{arn}/*")]));

    // A rerun adds nothing.
    run(&app, &event_for(&bucket, REGION)).await;
    assert_eq!(statements(&policy(&s3, &bucket).await.unwrap()).len(), 4);
}

#[tokio::test]
async fn equivalent_tls_statements_are_compliant_and_untouched() {
    let app = app(Config::default()).await;
    let cases = [
        (json!({"AWS": "*"}), json!("false"), "AwsStar"),
        (json!("*"), json!(false), "BooleanFalse"),
        (json!("*"), json!("false"), "SomeOtherSid"),
    ];
    for (principal, value, sid) in cases {
        let (bucket, s3) = new_bucket(REGION).await;
        let arn = format!("arn:aws:s3:::{bucket}");
        let p = json!({"Version": "2012-10-17", "Statement": [
            tls_statement(principal, json!([arn, format!("{arn}/*")]), value, sid)]});
        put_policy(&s3, &bucket, &p).await;
        let writes = app.clients.counter().s3_writes();
        let report = run(&app, &event_for(&bucket, REGION)).await;
        assert_eq!(
            status(&report, &bucket, "tls-only"),
            Status::Compliant,
            "{sid}"
        );
        assert_eq!(policy(&s3, &bucket).await.unwrap(), p, "{sid}: untouched");
        // sse-kms and public-access-block were fixed: exactly two writes
        assert_eq!(app.clients.counter().s3_writes() - writes, 2, "{sid}");
    }
}

#[tokio::test]
async fn min_tls_version_adds_the_tls_version_deny() {
    let (bucket, s3) = new_bucket(REGION).await;
    let app = app(Config {
        min_tls_version: Some("1.2".into()),
        ..Config::default()
    })
    .await;
    run(&app, &event_for(&bucket, REGION)).await;
    let p = policy(&s3, &bucket).await.unwrap();
    let sids: Vec<&str> = statements(&p)
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .map(|s| Box::leak(s.to_owned().into_boxed_str()) as &str)
        .collect();
    assert_eq!(sids, ["DenyInsecureTransport", "DenyOutdatedTls"]);
    assert_eq!(
        statements(&p)[1]["Condition"],
        json!({"NumericLessThan": {"s3:TlsVersion": "1.2"}})
    );
}

#[tokio::test]
async fn an_exempt_bucket_is_never_written() {
    let (bucket, s3) = new_bucket(REGION).await;
    s3.put_bucket_tagging()
        .bucket(&bucket)
        .tagging(
            Tagging::builder()
                .tag_set(
                    Tag::builder()
                        .key("rekognition-guard:exempt")
                        .value("true")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let app = app(Config::default()).await;
    let report = run(&app, &event_for(&bucket, REGION)).await;
    for control in ["sse-kms", "public-access-block", "tls-only"] {
        assert_eq!(status(&report, &bucket, control), Status::Exempt);
    }
    assert_untouched(&app, &s3, &bucket).await;
}

/// No S3 write was sent, and the bucket is as S3 created it: SSE-S3 with SSE-C blocked, no
/// BPA, no policy.
async fn assert_untouched(app: &App, s3: &aws_sdk_s3::Client, bucket: &str) {
    assert_eq!(app.clients.counter().s3_writes(), 0);
    assert_eq!(
        (
            common::read_encryption(s3, bucket).await,
            pab(s3, bucket).await,
            policy(s3, bucket).await
        ),
        (common::new_bucket_encryption(), None, None)
    );
    assert_eq!(
        common::blocked_encryption_types(s3, bucket).await,
        ["SSE-C"]
    );
}

#[tokio::test]
async fn audit_mode_writes_nothing_and_reports_would_remediate() {
    let (bucket, s3) = new_bucket(REGION).await;
    let app = app(Config {
        mode: Mode::Audit,
        ..Config::default()
    })
    .await;
    let report = run(&app, &event_for(&bucket, REGION)).await;
    for control in ["sse-kms", "public-access-block", "tls-only"] {
        assert_eq!(status(&report, &bucket, control), Status::WouldRemediate);
    }
    assert_untouched(&app, &s3, &bucket).await;
    assert_eq!(report.exit_code(), 3);
}

#[tokio::test]
async fn a_bucket_in_another_region_is_guarded_there() {
    let region = "eu-west-1";
    let (bucket, s3) = new_bucket(region).await;
    let report = run(&app(Config::default()).await, &event_for(&bucket, region)).await;
    let resource = report.resources.iter().find(|r| r.id == bucket).unwrap();
    assert_eq!(resource.region.as_deref(), Some(region));
    assert_eq!(status(&report, &bucket, "sse-kms"), Status::Remediated);
    assert_eq!(
        common::read_encryption(&s3, &bucket).await.unwrap().0,
        "aws:kms"
    );
    let p = policy(&s3, &bucket).await.unwrap();
    assert_eq!(
        statements(&p)[0]["Resource"][0],
        format!("arn:aws:s3:::{bucket}")
    );
}

#[tokio::test]
async fn ignored_events_make_no_aws_write() {
    let (bucket, s3) = new_bucket(REGION).await;
    let app = app(Config::default()).await;
    let mut failed = event_for(&bucket, REGION);
    failed["detail"]["errorCode"] = json!("AccessDenied");
    let mut foreign = event_for(&bucket, REGION);
    foreign["account"] = json!("210987654321");
    let mut unguarded = event_for(&bucket, REGION);
    unguarded["detail"]["requestParameters"]["bucketName"] = json!("marketing-website-assets");
    for (event, needle) in [
        (failed, "AccessDenied"),
        (foreign, "210987654321"),
        (unguarded, "matches neither"),
    ] {
        let report = run(&app, &event).await;
        let reason = report.trigger.ignored_reason.clone().unwrap_or_default();
        assert!(reason.contains(needle), "{reason}");
        assert!(report.resources.is_empty());
        assert_eq!(report.exit_code(), 0);
    }
    assert_eq!(app.clients.counter().s3_writes(), 0);
    assert_eq!(
        common::read_encryption(&s3, &bucket).await,
        common::new_bucket_encryption()
    );
}

// ---- through the built binary -------------------------------------------------

fn binary(args: &[&str], extra_env: &[(&str, &str)], stdin: Option<&str>) -> (i32, Value, String) {
    use std::io::Write;
    let moto = common::moto();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rekognition-guard"));
    cmd.args(args)
        .envs(moto.env())
        .env_remove("GUARD_MODE")
        .env_remove("GUARD_KMS_KEY_ID");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn the_binary_remediates_from_stdin_and_reports_json() {
    let (bucket, s3) = new_bucket(REGION).await;
    let event = event_for(&bucket, REGION).to_string();
    // exit 3: the emulator's account is in no organization, so ai-opt-out stays non-compliant
    let (code, report, stderr) = binary(&["invoke", "--event", "-"], &[], Some(&event));
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(report["trigger"]["kind"], "bucket-created");
    assert_eq!(report["mode"], "remediate");
    let controls = &report["resources"][0]["controls"];
    assert_eq!(
        controls
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["status"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["remediated"; 3]
    );
    assert_eq!(pab(&s3, &bucket).await, Some([true; 4]));
    assert_eq!(report["resources"][1]["type"], "organization");

    let (code, report, _) = binary(&["invoke", "--event", "-", "--dry-run"], &[], Some(&event));
    assert_eq!(code, 3);
    assert_eq!(report["mode"], "audit");
    assert_eq!(report["resources"][0]["controls"][0]["status"], "compliant");
}

#[tokio::test]
async fn the_binary_rejects_bad_input_with_exit_2_and_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let not_json = dir.path().join("bad.json");
    std::fs::write(&not_json, "{not json").unwrap();
    let not_eb = dir.path().join("plain.json");
    std::fs::write(&not_eb, r#"{"hello": "world"}"#).unwrap();
    for args in [
        vec!["invoke", "--event", not_json.to_str().unwrap()],
        vec!["invoke", "--event", not_eb.to_str().unwrap()],
        vec!["invoke", "--event", "/nonexistent/event.json"],
        vec!["invoke"],
    ] {
        let (code, report, stderr) = binary(&args, &[], None);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert_eq!(report, Value::Null, "nothing on stdout");
        assert!(stderr.trim().lines().count() >= 1);
    }
    let (code, _, stderr) = binary(&["invoke", "--event", not_eb.to_str().unwrap()], &[], None);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not an EventBridge event"), "{stderr}");
    assert_eq!(code, 2);
    let sample = format!(
        "{}/events/create-bucket-console.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let (code, _, stderr) = binary(
        &["invoke", "--event", &sample],
        &[("GUARD_MODE", "fix-everything")],
        None,
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("GUARD_MODE"), "{stderr}");
}

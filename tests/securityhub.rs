//! Security Hub findings as Security Hub stores them: the built binary imports into a
//! moto emulator (through the fault proxy, which counts and faults the calls), and every
//! finding is read back and validated against the Security Hub API model
//! (tests/securityhub_findings.py), because moto accepts almost anything.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::proxy::{Invocation, Proxy};
use common::{ACCOUNT, Moto, REGION};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::Duration;

const ON: (&str, &str) = ("GUARD_SECURITY_HUB", "on");

/// A private emulator (findings of one test are invisible to the others) and a proxy.
fn world() -> (Moto, Proxy) {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto.endpoint);
    (moto, proxy)
}

async fn conf(moto: &Moto) -> aws_config::SdkConfig {
    common::sdk_config_for(moto).await
}

async fn enable_hub(conf: &aws_config::SdkConfig, region: &str) {
    let hub = aws_sdk_securityhub::Client::from_conf(
        aws_sdk_securityhub::config::Builder::from(conf)
            .region(aws_sdk_securityhub::config::Region::new(region.to_owned()))
            .build(),
    );
    hub.enable_security_hub().send().await.unwrap();
}

async fn s3(conf: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(true)
            .build(),
    )
}

async fn create_bucket(conf: &aws_config::SdkConfig, name: &str) {
    s3(conf)
        .await
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .unwrap();
}

fn run(proxy: &Proxy, event: &Value, env: &[(&str, &str)]) -> Invocation {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("event.json");
    std::fs::write(&file, event.to_string()).unwrap();
    let inv = proxy.invoke(&file, env, Duration::from_secs(120));
    assert!(inv.code.is_some(), "killed: {}", inv.stderr);
    inv
}

/// Every finding the emulator holds in `region`, as Security Hub returns them, and the
/// validator's problems (by finding Id).
fn read_back(moto: &Moto, region: &str, creds: Option<(&str, &str, &str)>) -> (Vec<Value>, Value) {
    let script = format!(
        "{}/tests/securityhub_findings.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut cmd = Command::new(std::env::var("MOTO_PYTHON").unwrap_or_else(|_| "python3".into()));
    cmd.arg(script)
        .args(["--endpoint", &moto.endpoint, "--region", region]);
    if let Some((key, secret, token)) = creds {
        cmd.args([
            "--access-key",
            key,
            "--secret-key",
            secret,
            "--session-token",
            token,
        ]);
    }
    let out = cmd.stderr(Stdio::inherit()).output().unwrap();
    assert!(out.status.success(), "securityhub_findings.py failed");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["findings"].as_array().unwrap().clone(),
        v["problems"].clone(),
    )
}

fn ours(findings: &[Value]) -> BTreeMap<String, Value> {
    findings
        .iter()
        .filter(|f| f["Id"].as_str().unwrap().starts_with("rekognition-guard/"))
        .map(|f| (f["Id"].as_str().unwrap().to_owned(), f.clone()))
        .collect()
}

fn of_control<'a>(findings: &'a BTreeMap<String, Value>, control: &str) -> Vec<&'a Value> {
    findings
        .values()
        .filter(|f| f["GeneratorId"] == format!("rekognition-guard/{control}"))
        .collect()
}

fn hub_outcome(inv: &Invocation) -> Value {
    inv.report()["security_hub"].clone()
}

fn assert_valid(problems: &Value) {
    assert_eq!(
        problems,
        &json!({}),
        "findings the Security Hub model rejects"
    );
}

#[tokio::test]
async fn a_remediated_console_bucket_is_one_finding_per_control_failed_then_passed() {
    let (moto, proxy) = world();
    let conf = conf(&moto).await;
    enable_hub(&conf, REGION).await;
    let bucket = common::unique("custom-labels-console-us-east-1-sh");
    create_bucket(&conf, &bucket).await;
    let event = common::console_event(&bucket);

    // Audit first: the console bucket as the console leaves it fails three controls.
    let audit = run(&proxy, &event, &[ON, ("GUARD_MODE", "audit")]);
    assert_eq!(audit.code, Some(3), "{}", audit.stderr);
    assert_eq!(hub_outcome(&audit)["imported"], 4, "{}", audit.stdout);
    let (first, problems) = read_back(&moto, REGION, None);
    assert_valid(&problems);
    let first = ours(&first);
    assert_eq!(first.len(), 4, "3 bucket controls and the opt-out check");
    for control in ["sse-kms", "public-access-block", "tls-only"] {
        let f = of_control(&first, control);
        assert_eq!(f.len(), 1, "{control}");
        assert_eq!(f[0]["Compliance"]["Status"], "FAILED", "{control}");
        assert_eq!(
            f[0]["ProductFields"]["rekognition-guard/Status"],
            "would-remediate"
        );
        assert_eq!(f[0]["AwsAccountId"], ACCOUNT);
        assert_eq!(
            f[0]["ProductArn"],
            format!("arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default")
        );
        let resources = f[0]["Resources"].as_array().unwrap();
        assert_eq!(resources.len(), 1);
        assert_eq!(resources[0]["Type"], "AwsS3Bucket");
        assert_eq!(resources[0]["Id"], format!("arn:aws:s3:::{bucket}"));
        assert_eq!(resources[0]["Region"], REGION);
        assert!(f[0]["Compliance"].get("SecurityControlId").is_none());
    }
    // Severity from the one mapping: a bucket left without Block Public Access is high.
    assert_eq!(
        of_control(&first, "public-access-block")[0]["Severity"]["Label"],
        "HIGH"
    );
    assert_eq!(
        of_control(&first, "sse-kms")[0]["Severity"]["Label"],
        "MEDIUM"
    );
    let tls = of_control(&first, "tls-only")[0];
    assert!(
        tls["Compliance"]["RelatedRequirements"]
            .as_array()
            .unwrap()
            .contains(&json!(
                "AWS Foundational Security Best Practices v1.0.0/S3.5"
            ))
    );

    // Remediate: the same findings turn PASSED in this invocation, CreatedAt kept.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let fix = run(&proxy, &event, &[ON]);
    assert_eq!(
        fix.code,
        Some(3),
        "ai-opt-out stays non-compliant: {}",
        fix.stderr
    );
    let (second, problems) = read_back(&moto, REGION, None);
    assert_valid(&problems);
    let second = ours(&second);
    assert_eq!(
        second.keys().collect::<Vec<_>>(),
        first.keys().collect::<Vec<_>>(),
        "same ids, no new finding"
    );
    for control in ["sse-kms", "public-access-block", "tls-only"] {
        let (before, after) = (
            of_control(&first, control)[0],
            of_control(&second, control)[0],
        );
        assert_eq!(after["Compliance"]["Status"], "PASSED", "{control}");
        assert_eq!(
            after["ProductFields"]["rekognition-guard/Status"],
            "remediated"
        );
        assert_eq!(
            after["CreatedAt"], before["CreatedAt"],
            "{control}: CreatedAt kept"
        );
        assert_eq!(after["FirstObservedAt"], before["FirstObservedAt"]);
        assert!(
            after["UpdatedAt"].as_str() > before["UpdatedAt"].as_str(),
            "{control}: UpdatedAt newer"
        );
        assert_eq!(after["RecordState"], "ACTIVE");
    }
    let sse = of_control(&second, "sse-kms")[0];
    assert_eq!(
        sse["Resources"][0]["Details"]["AwsS3Bucket"]["ServerSideEncryptionConfiguration"]["Rules"]
            [0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "aws:kms",
        "the details are the state read back after the fix"
    );
    assert_eq!(
        sse["Resources"][0]["Details"]["AwsS3Bucket"]["PublicAccessBlockConfiguration"]["BlockPublicAcls"],
        true
    );

    // A rerun: compliant, same ids, still one finding per control.
    let again = run(&proxy, &event, &[ON]);
    assert_eq!(again.code, Some(3));
    let (third, _) = read_back(&moto, REGION, None);
    let third = ours(&third);
    assert_eq!(third.len(), 4);
    for (id, f) in &third {
        assert_eq!(f["CreatedAt"], first[id]["CreatedAt"]);
        assert!(f["UpdatedAt"].as_str() > second[id]["UpdatedAt"].as_str());
    }
    // One import call per invocation, each after one DescribeHub and one GetFindings.
    assert_eq!(proxy.count("BatchImportFindings"), (3, 0));
    assert_eq!(proxy.count("DescribeHub").0, 3);
    assert_eq!(
        proxy.count("BatchUpdateFindings").0,
        0,
        "never the customer's API"
    );
}

#[tokio::test]
async fn a_sweep_of_253_findings_is_3_calls_and_archives_a_bucket_it_no_longer_finds() {
    let (moto, proxy) = world();
    let conf = conf(&moto).await;
    enable_hub(&conf, REGION).await;
    let buckets: Vec<String> = (0..84)
        .map(|i| format!("custom-labels-console-us-east-1-sweep{i:03}"))
        .collect();
    for b in &buckets {
        create_bucket(&conf, b).await;
    }
    let sweep = common::sample("scheduled-scan.json");
    let first = run(&proxy, &sweep, &[ON]);
    let outcome = hub_outcome(&first);
    assert_eq!(outcome["imported"], 84 * 3 + 1, "{}", first.stderr);
    assert_eq!(outcome["batches"], 3);
    assert_eq!(
        proxy.count("BatchImportFindings"),
        (3, 0),
        "3 calls of at most 100"
    );
    let (found, problems) = read_back(&moto, REGION, None);
    assert_valid(&problems);
    assert_eq!(ours(&found).len(), 84 * 3 + 1);

    // The bucket is deleted without an event reaching us: the next sweep archives it.
    let gone = &buckets[7];
    let s3 = s3(&conf).await;
    s3.delete_bucket_policy().bucket(gone).send().await.unwrap();
    s3.delete_bucket().bucket(gone).send().await.unwrap();
    proxy.reset();
    let second = run(&proxy, &sweep, &[ON]);
    assert_eq!(hub_outcome(&second)["archived"], 3, "{}", second.stdout);
    let (found, problems) = read_back(&moto, REGION, None);
    assert_valid(&problems);
    let found = ours(&found);
    assert_eq!(
        found.len(),
        84 * 3 + 1,
        "archived, not duplicated or dropped"
    );
    let arn = format!("arn:aws:s3:::{gone}");
    for f in found.values() {
        let expected = if f["Resources"][0]["Id"] == arn.as_str() {
            "ARCHIVED"
        } else {
            "ACTIVE"
        };
        assert_eq!(f["RecordState"], expected, "{}", f["Id"]);
    }
}

#[tokio::test]
async fn rejected_findings_are_counted_reported_and_fail_the_invocation_without_undoing_the_fix() {
    let (moto, proxy) = world();
    let conf = conf(&moto).await;
    enable_hub(&conf, REGION).await;
    let bucket = common::unique("custom-labels-console-us-east-1-rej");
    create_bucket(&conf, &bucket).await;
    proxy.set_rules(json!([
        {"operation": "BatchImportFindings", "fault": "failed-findings", "count": 2}
    ]));
    let inv = run(&proxy, &common::console_event(&bucket), &[ON]);
    assert_eq!(
        inv.code,
        Some(1),
        "a failed import fails the invocation: {}",
        inv.stdout
    );
    let outcome = hub_outcome(&inv);
    assert_eq!(outcome["failed"], 2);
    assert_eq!(outcome["imported"], 2);
    let errors = outcome["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert!(
        errors[0].as_str().unwrap().contains("rekognition-guard/")
            && errors[0].as_str().unwrap().contains("InvalidInput"),
        "{errors:?}"
    );
    // The remediation stands: the bucket is encrypted as fixed.
    let enc = common::read_encryption(&s3(&conf).await, &bucket).await;
    assert_eq!(enc.unwrap().0, "aws:kms");
    assert_eq!(
        inv.report()["resources"][0]["controls"][0]["status"],
        "remediated"
    );
}

#[tokio::test]
async fn throttling_is_retried_and_the_findings_arrive() {
    let (moto, proxy) = world();
    let conf = conf(&moto).await;
    enable_hub(&conf, REGION).await;
    let bucket = common::unique("custom-labels-console-us-east-1-thr");
    create_bucket(&conf, &bucket).await;
    proxy.set_rules(json!([
        {"operation": "BatchImportFindings", "fault": "throttle-429", "times": 2},
        {"operation": "GetFindings", "fault": "throttle-429", "times": 1}
    ]));
    let inv = run(&proxy, &common::console_event(&bucket), &[ON]);
    assert_eq!(inv.code, Some(3), "{}", inv.stderr);
    assert_eq!(hub_outcome(&inv)["imported"], 4);
    assert_eq!(proxy.count("BatchImportFindings"), (3, 2));
    // Two reads, the first throttled once and retried: whether a finding was suppressed
    // (read with the dependents, before the fixes) and the sink's (CreatedAt to keep).
    assert_eq!(proxy.count("GetFindings"), (3, 1));
    let (found, problems) = read_back(&moto, REGION, None);
    assert_valid(&problems);
    assert_eq!(ours(&found).len(), 4);
}

#[tokio::test]
async fn security_hub_not_enabled_is_skipped_once_with_the_reason() {
    let (moto, proxy) = world();
    let conf = conf(&moto).await;
    let bucket = common::unique("custom-labels-console-us-east-1-off");
    create_bucket(&conf, &bucket).await;
    let inv = run(&proxy, &common::console_event(&bucket), &[ON]);
    assert_eq!(inv.code, Some(3), "not a failure: {}", inv.stdout);
    let outcome = hub_outcome(&inv);
    let skipped = outcome["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{outcome}");
    assert!(
        skipped[0]
            .as_str()
            .unwrap()
            .contains(&format!("{ACCOUNT}/{REGION}: Security Hub is not enabled")),
        "{skipped:?}"
    );
    assert_eq!(outcome["imported"], 0);
    assert_eq!(proxy.count("BatchImportFindings").0, 0);
    // And the rest of the invocation went on: the bucket was remediated.
    assert_eq!(
        inv.report()["resources"][0]["controls"][0]["status"],
        "remediated"
    );
    // Off (the CLI default): no Security Hub call at all, no security_hub in the report.
    proxy.reset();
    let off = run(&proxy, &common::console_event(&bucket), &[]);
    assert!(off.report().get("security_hub").is_none());
    assert_eq!(proxy.count("DescribeHub").0, 0);
}

#[tokio::test]
async fn a_deleted_bucket_has_its_findings_archived() {
    let (moto, proxy) = world();
    let conf = conf(&moto).await;
    enable_hub(&conf, REGION).await;
    let bucket = common::unique("custom-labels-console-us-east-1-del");
    create_bucket(&conf, &bucket).await;
    let created = run(&proxy, &common::console_event(&bucket), &[ON]);
    assert_eq!(hub_outcome(&created)["imported"], 4);
    let (before, _) = read_back(&moto, REGION, None);
    let before = ours(&before);

    let s3 = s3(&conf).await;
    s3.delete_bucket_policy()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket(&bucket).send().await.unwrap();
    let mut event = common::sample("delete-bucket.json");
    event["detail"]["requestParameters"]["bucketName"] = json!(bucket);
    proxy.reset();
    let deleted = run(&proxy, &event, &[ON]);
    assert_eq!(deleted.report()["trigger"]["kind"], "bucket-deleted");
    assert_eq!(hub_outcome(&deleted)["archived"], 3, "{}", deleted.stdout);
    assert_eq!(proxy.count("BatchImportFindings"), (1, 0));
    assert_eq!(proxy.writes(), 1, "no S3 call: only the import writes");
    let (after, problems) = read_back(&moto, REGION, None);
    assert_valid(&problems);
    let after = ours(&after);
    assert_eq!(after.len(), 4);
    for (id, f) in &after {
        let bucket_finding = f["Resources"][0]["Type"] == "AwsS3Bucket";
        assert_eq!(
            f["RecordState"],
            if bucket_finding { "ARCHIVED" } else { "ACTIVE" },
            "{id}"
        );
        assert_eq!(f["CreatedAt"], before[id]["CreatedAt"]);
        if bucket_finding {
            assert!(f["UpdatedAt"].as_str() > before[id]["UpdatedAt"].as_str());
            // Archived as last known, not re-evaluated.
            assert_eq!(
                f["Compliance"]["Status"],
                before[id]["Compliance"]["Status"]
            );
        }
    }
}

fn validate_ocsf(input: &str) -> Value {
    let script = format!("{}/tests/ocsf_validate.py", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(std::env::var("MOTO_PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn ocsf_output_is_compliance_findings_with_the_security_hub_ids() {
    let (moto, proxy) = world();
    let conf = conf(&moto).await;
    enable_hub(&conf, REGION).await;
    let bucket = common::unique("custom-labels-console-us-east-1-ocsf");
    create_bucket(&conf, &bucket).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("event.json");
    std::fs::write(&file, common::console_event(&bucket).to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rekognition-guard"))
        .args(["invoke", "--format", "ocsf", "--event"])
        .arg(&file)
        .env_clear()
        .envs(proxy.env())
        .env("GUARD_SECURITY_HUB", "on")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8(out.stdout).unwrap();
    let checked = validate_ocsf(&text);
    assert_eq!(checked["events"], 4);
    assert_eq!(checked["problems"], json!([]));
    let events: Vec<Value> = serde_json::from_str(&text).unwrap();
    let (found, _) = read_back(&moto, REGION, None);
    let mut ids: Vec<&str> = events
        .iter()
        .map(|e| e["finding_info"]["uid"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    let found = ours(&found);
    assert_eq!(ids, found.keys().map(String::as_str).collect::<Vec<_>>());
    let sse = events
        .iter()
        .find(|e| e["compliance"]["control"] == "sse-kms")
        .unwrap();
    assert_eq!(sse["compliance"]["status_id"], 1, "remediated: Pass");
    assert_eq!(sse["severity_id"], 3, "medium, as in the alert");
    assert_eq!(sse["cloud"]["account"]["uid"], ACCOUNT);
    assert_eq!(sse["cloud"]["region"], REGION);
    // GUARD_REPORT_FORMAT sets the default format.
    let out = Command::new(env!("CARGO_BIN_EXE_rekognition-guard"))
        .args(["invoke", "--event"])
        .arg(&file)
        .env_clear()
        .envs(proxy.env())
        .env("GUARD_REPORT_FORMAT", "ocsf")
        .output()
        .unwrap();
    let again = validate_ocsf(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(
        (again["events"].clone(), again["problems"].clone()),
        (json!(4), json!([]))
    );
}

/// The validators would be worthless if they passed anything.
#[tokio::test]
async fn the_validators_reject_what_security_hub_and_ocsf_would() {
    use aws_sdk_securityhub::types::{
        AwsSecurityFinding, Compliance, Resource, Severity, SeverityLabel,
    };
    let moto = Moto::start();
    let conf = conf(&moto).await;
    let hub = aws_sdk_securityhub::Client::new(&conf);
    let resource = |id: &str| Resource::builder().r#type("AwsS3Bucket").id(id).build();
    let bad = AwsSecurityFinding::builder()
        .schema_version("2018-10-08")
        .id("rekognition-guard/us-east-1/123456789012/sse-kms/bad")
        .product_arn("arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default")
        .generator_id("security-control/S3.17")
        .aws_account_id(ACCOUNT)
        .types("Made Up/Category")
        .created_at("2026-01-02T00:00:00Z")
        .updated_at("yesterday")
        .severity(
            Severity::builder()
                .label(SeverityLabel::from("SEVERE"))
                .build(),
        )
        .title("t".repeat(300))
        .resources(resource("arn:aws:s3:::a"))
        .resources(resource("arn:aws:s3:::b"))
        .compliance(Compliance::builder().security_control_id("S3.17").build())
        .build();
    hub.batch_import_findings()
        .findings(bad)
        .send()
        .await
        .unwrap();
    let (_, problems) = read_back(&moto, REGION, None);
    let p = problems["rekognition-guard/us-east-1/123456789012/sse-kms/bad"].to_string();
    for needle in [
        "Description: required",
        "SEVERE",
        "Title: 300 characters",
        "Resources: 2 resources",
        "SecurityControlId",
        "security-control/",
        "Made Up/Category",
        "UpdatedAt: 'yesterday'",
    ] {
        assert!(p.contains(needle), "{needle} not caught: {p}");
    }

    let broken = json!([{
        "class_uid": 2004, "category_uid": 2, "activity_id": 1, "type_uid": 200301,
        "severity_id": 9, "time": "now", "metadata": {"version": "1.5.0", "product": {}},
        "compliance": {"status_id": 3, "control": "sse-kms"},
        "cloud": {"provider": "AWS"}, "bogus": 1
    }]);
    let checked = validate_ocsf(&broken.to_string());
    let p = checked["problems"].to_string();
    for needle in [
        "finding_info: required",
        "class_uid",
        "severity_id: 9",
        "time: 'now'",
        "product: needs at least one of",
        "bogus",
        "compliance.standards: missing",
        "cloud.account.uid: missing",
        "cloud profile",
    ] {
        assert!(p.contains(needle), "{needle} not caught: {p}");
    }
}

/// Organization scope: the sink imports with the member account's clients (AssumeRole
/// credentials), so the finding lands in the member's Security Hub with the member's
/// `AwsAccountId` — Security Hub's own aggregation brings it to the administrator.
#[test]
fn in_a_member_account_the_finding_is_the_members() {
    // The Security Hub SDK's futures are large: run on a thread with room for them.
    std::thread::Builder::new()
        .stack_size(16 * 1024 * 1024)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(member_account())
        })
        .unwrap()
        .join()
        .unwrap();
}

async fn member_account() {
    use rekognition_guard::aws::clients::Clients;
    use rekognition_guard::config::Mode;
    use rekognition_guard::event::{TriggerInfo, TriggerKind};
    use rekognition_guard::report::{ControlResult, Report, Resource, ResourceType, Status};

    let moto = Moto::start();
    let guard = conf(&moto).await;
    let org = aws_sdk_organizations::Client::new(&guard);
    org.create_organization().send().await.unwrap();
    let member = org
        .create_account()
        .email("member@example.com")
        .account_name("member")
        .send()
        .await
        .unwrap()
        .create_account_status()
        .unwrap()
        .account_id()
        .unwrap()
        .to_owned();
    let creds = aws_sdk_sts::Client::new(&guard)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{member}:role/RekognitionGuardMember"))
        .role_session_name("rekognition-guard")
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    let member_conf = guard
        .to_builder()
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            aws_sdk_s3::config::Credentials::new(
                creds.access_key_id(),
                creds.secret_access_key(),
                Some(creds.session_token().to_owned()),
                None,
                "assume-role",
            ),
        ))
        .build();
    enable_hub(&member_conf, REGION).await;
    enable_hub(&guard, REGION).await;

    let mut report = Report {
        trigger: TriggerInfo {
            kind: TriggerKind::BucketCreated,
            event_id: Some("member-event".into()),
            event_name: Some("CreateBucket".into()),
            account: Some(member.clone()),
            region: Some(REGION.into()),
            ignored_reason: None,
            change: None,
            principal: None,
            reference: None,
        },
        mode: Mode::Remediate,
        resources: vec![Resource {
            kind: ResourceType::S3Bucket,
            id: "custom-labels-console-us-east-1-member".into(),
            name: None,
            role: Some("console".into()),
            region: Some(REGION.into()),
            account: None,
            controls: vec![ControlResult::new(
                "sse-kms",
                Status::Remediated,
                "set SSE-KMS",
            )],
        }],
        alert: Default::default(),
        security_hub: None,
        unfinished: vec![],
        change_record: None,
    };
    rekognition_guard::alert::classify_all(&mut report);
    let member_clients = Clients::new(member_conf);
    let outcome = rekognition_guard::sink::securityhub::import(&report, &member_clients).await;
    assert_eq!((outcome.imported, outcome.failed), (1, 0), "{outcome:?}");

    let (found, problems) = read_back(
        &moto,
        REGION,
        Some((
            creds.access_key_id(),
            creds.secret_access_key(),
            creds.session_token(),
        )),
    );
    assert_valid(&problems);
    let found = ours(&found);
    assert_eq!(found.len(), 1);
    let f = found.values().next().unwrap();
    assert_eq!(f["AwsAccountId"], member.as_str());
    assert!(
        f["Id"]
            .as_str()
            .unwrap()
            .contains(&format!("/{member}/sse-kms/"))
    );
    assert_eq!(
        f["ProductArn"],
        format!("arn:aws:securityhub:{REGION}:{member}:product/{member}/default")
    );
    let (in_guard, _) = read_back(&moto, REGION, None);
    assert!(
        ours(&in_guard).is_empty(),
        "nothing imported in the guard account"
    );
}

/// A person suppressed the tls-only finding (accepted the risk): the guard honours it as an
/// exception for that control — `exempt`, nothing written for it — and fixes the rest.
#[tokio::test]
async fn a_suppressed_finding_is_honoured_as_an_exception_for_its_control() {
    let (moto, proxy) = world();
    let conf = conf(&moto).await;
    enable_hub(&conf, REGION).await;
    let bucket = common::unique("custom-labels-console-us-east-1-sup");
    create_bucket(&conf, &bucket).await;
    let event = common::console_event(&bucket);
    let audit = run(&proxy, &event, &[ON, ("GUARD_MODE", "audit")]);
    assert_eq!(audit.code, Some(3), "{}", audit.stderr);

    // Suppressed in Security Hub (moto has no BatchUpdateFindings: the finding is
    // re-imported with its workflow status, as Security Hub would then return it).
    let script = format!(
        "import boto3\n\
         c = boto3.client('securityhub', endpoint_url='{}', region_name='{REGION}',\n\
             aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         f = [x for x in c.get_findings()['Findings'] if x['GeneratorId'] == 'rekognition-guard/tls-only'][0]\n\
         f['Workflow'] = {{'Status': 'SUPPRESSED'}}\n\
         r = c.batch_import_findings(Findings=[f])\n\
         assert r['FailedCount'] == 0, r\n",
        moto.endpoint
    );
    let out = Command::new(std::env::var("MOTO_PYTHON").unwrap_or_else(|_| "python3".into()))
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    proxy.reset();
    let fix = run(&proxy, &event, &[ON]);
    let report = fix.report();
    let controls: BTreeMap<String, Value> = report["resources"][0]["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["control"].as_str().unwrap().to_owned(), c.clone()))
        .collect();
    assert_eq!(controls["tls-only"]["status"], "exempt", "{report:#}");
    assert!(
        controls["tls-only"]["detail"]
            .as_str()
            .unwrap()
            .starts_with("exempt: its Security Hub finding is SUPPRESSED"),
        "{report:#}"
    );
    assert_eq!(controls["sse-kms"]["status"], "remediated");
    let policy_writes = proxy
        .log()
        .iter()
        .filter(|e| e["operation"] == "PutBucketPolicy")
        .count();
    assert_eq!(policy_writes, 0, "the suppressed control is not written");
    assert!(
        s3(&conf)
            .await
            .get_bucket_policy()
            .bucket(&bucket)
            .send()
            .await
            .is_err(),
        "no policy was put"
    );
}

//! The hostile-input corpus (tests/corpus/, described in tests/corpus/manifest.json) plus
//! a few generated cases too big to commit, each run through the built binary
//! (`invoke --event FILE`) with every AWS call going through the fault proxy to moto.
//!
//! Each case must end as its manifest says: exit 2 with exactly one line on stderr and no
//! AWS request at all, or exit 0 with `trigger.kind = "ignored"` and a reason. Over the
//! whole corpus the proxy must see zero write requests, and the two buckets the corpus
//! names (which exist in moto, unprotected) must be exactly as they were: a case that
//! slipped through would have had real buckets to write to.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::REGION;
use common::proxy::{Invocation, Proxy};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Guarded by the console prefix; named by the CreateBucket cases.
const GUARDED: &str = "custom-labels-console-us-east-1-hostile";
/// Guarded by `GUARD_BUCKET_PREFIXES=acme-`; the Rekognition cases' output bucket.
const OUTPUT: &str = "acme-output-hostile";

struct Case {
    name: String,
    path: PathBuf,
    expect: &'static str,
    reason: Option<String>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn corpus() -> Vec<Case> {
    let manifest: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(corpus_dir().join("manifest.json")).unwrap())
            .unwrap();
    let listed: Vec<&str> = manifest
        .iter()
        .map(|m| m["file"].as_str().unwrap())
        .collect();
    for entry in std::fs::read_dir(corpus_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name != "manifest.json" && name != "README.md" {
            assert!(
                listed.contains(&name.as_str()),
                "{name} is not in manifest.json"
            );
        }
    }
    manifest
        .iter()
        .map(|m| {
            let expect = match m["expect"].as_str().unwrap() {
                "exit 2" => "exit 2",
                "ignored" => "ignored",
                other => panic!("{m}: unknown expectation {other}"),
            };
            assert!(!m["description"].as_str().unwrap_or("").is_empty(), "{m}");
            Case {
                name: m["file"].as_str().unwrap().to_owned(),
                path: corpus_dir().join(m["file"].as_str().unwrap()),
                expect,
                reason: m["reason"].as_str().map(str::to_owned),
            }
        })
        .collect()
}

fn sample_event() -> Value {
    common::console_event(GUARDED)
}

/// Cases too big to commit: 10k levels of nesting (serde_json's recursion limit must be
/// a clean exit 2, not a stack overflow) and 1 MB strings.
fn generated(dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name: &str, content: Vec<u8>, expect: &'static str, reason: Option<&str>| {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        cases.push(Case {
            name: format!("(generated) {name}"),
            path,
            expect,
            reason: reason.map(str::to_owned),
        });
    };
    let depth = 10_000;
    add(
        "deep-array-10k.json",
        format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes(),
        "exit 2",
        None,
    );
    let event = sample_event().to_string();
    let nested = format!("{}{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    add(
        "deep-object-in-user-identity-10k.json",
        event
            .replacen(
                "\"userIdentity\":",
                &format!("\"userIdentity\": {nested}, \"x\":"),
                1,
            )
            .into_bytes(),
        "exit 2",
        None,
    );
    let mut huge_bucket = sample_event();
    huge_bucket["detail"]["requestParameters"]["bucketName"] =
        json!(format!("{GUARDED}{}", "a".repeat(1 << 20)));
    add(
        "huge-bucket-name-1mb.json",
        huge_bucket.to_string().into_bytes(),
        "ignored",
        Some("bucket"),
    );
    let mut huge_name = sample_event();
    huge_name["detail"]["eventName"] = json!(format!("CreateBucket{}", "x".repeat(1 << 20)));
    add(
        "huge-event-name-1mb.json",
        huge_name.to_string().into_bytes(),
        "ignored",
        Some("eventName"),
    );
    let mut huge_account = sample_event();
    huge_account["account"] = json!("1".repeat(1 << 20));
    add(
        "huge-account-1mb.json",
        huge_account.to_string().into_bytes(),
        "ignored",
        Some("account"),
    );
    let mut huge_key = sample_event();
    huge_key["source"] = json!("aws.rekognition");
    huge_key["detail"]["eventSource"] = json!("rekognition.amazonaws.com");
    huge_key["detail"]["eventName"] = json!("CreateProjectVersion");
    huge_key["detail"]["requestParameters"] = json!({
        "projectArn": "arn:aws:rekognition:us-east-1:123456789012:project/p/1",
        "versionName": "v1", "outputConfig": {"s3Bucket": OUTPUT},
        "kmsKeyId": format!("alias/{}", "k".repeat(1 << 20))});
    add(
        "huge-kms-key-id-1mb.json",
        huge_key.to_string().into_bytes(),
        "ignored",
        Some("kmsKeyId"),
    );
    cases
}

/// What the case did wrong, if anything.
fn check(case: &Case, outcome: &Invocation, requests: usize) -> Option<String> {
    let shown = |s: &str| s.chars().take(400).collect::<String>();
    match case.expect {
        "exit 2" => {
            let lines = outcome.stderr.trim_end().lines().count();
            if outcome.code != Some(2) {
                Some(format!(
                    "expected exit 2, got {:?}; stderr {:?}",
                    outcome.code,
                    shown(&outcome.stderr)
                ))
            } else if lines != 1 {
                Some(format!(
                    "exit 2 with {lines} lines on stderr: {:?}",
                    shown(&outcome.stderr)
                ))
            } else if !outcome.stdout.trim().is_empty() {
                Some(format!(
                    "exit 2 printed a report: {}",
                    shown(&outcome.stdout)
                ))
            } else if requests != 0 {
                Some(format!("exit 2 after {requests} AWS requests"))
            } else {
                None
            }
        }
        _ => {
            let report: Value = serde_json::from_str(&outcome.stdout).unwrap_or(Value::Null);
            let trigger = &report["trigger"];
            let reason = trigger["ignored_reason"].as_str().unwrap_or("");
            if outcome.code != Some(0) || trigger["kind"] != "ignored" {
                Some(format!(
                    "expected ignored (exit 0), got exit {:?}, kind {}; stderr {:?}",
                    outcome.code,
                    trigger["kind"],
                    shown(&outcome.stderr),
                ))
            } else if reason.is_empty() {
                Some("ignored without a reason".to_owned())
            } else if let Some(needle) = &case.reason
                && !reason.to_lowercase().contains(&needle.to_lowercase())
            {
                Some(format!(
                    "ignored, but the reason {:?} does not mention {needle:?}",
                    shown(reason)
                ))
            } else if report["resources"]
                .as_array()
                .is_some_and(|r| !r.is_empty())
            {
                Some(format!(
                    "ignored, yet reports resources: {}",
                    report["resources"]
                ))
            } else if report["alert"]["published"] == true {
                Some("ignored, yet published an alert".to_owned())
            } else {
                None
            }
        }
    }
}

/// The state of a bucket that a write of any control would change.
async fn fingerprint(s3: &aws_sdk_s3::Client, bucket: &str) -> String {
    let enc = s3.get_bucket_encryption().bucket(bucket).send().await;
    let pab = s3.get_public_access_block().bucket(bucket).send().await;
    let policy = s3.get_bucket_policy().bucket(bucket).send().await;
    let tags = s3.get_bucket_tagging().bucket(bucket).send().await;
    format!(
        "encryption {:?}\npab {:?}\npolicy {:?}\ntags {:?}",
        enc.ok()
            .and_then(|o| o.server_side_encryption_configuration),
        pab.ok().and_then(|o| o.public_access_block_configuration),
        policy.ok().and_then(|o| o.policy),
        tags.ok().map(|o| o.tag_set)
    )
}

/// Back to unprotected: no policy, no Block Public Access, no default encryption.
async fn restore(s3: &aws_sdk_s3::Client) {
    for bucket in [GUARDED, OUTPUT] {
        let _ = s3.delete_bucket_policy().bucket(bucket).send().await;
        let _ = s3.delete_public_access_block().bucket(bucket).send().await;
        let _ = s3.delete_bucket_encryption().bucket(bucket).send().await;
    }
}

#[tokio::test]
async fn every_hostile_event_exits_2_or_is_ignored_and_nothing_is_written() {
    let s3 = common::s3(REGION).await;
    for bucket in [GUARDED, OUTPUT] {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
    }
    let before = [
        fingerprint(&s3, GUARDED).await,
        fingerprint(&s3, OUTPUT).await,
    ];
    let (topic, queue) = common::topic_with_queue().await;
    let proxy = Proxy::start(&common::moto().endpoint);
    let generated_dir = tempfile::tempdir().unwrap();
    let mut cases = corpus();
    let committed = cases.len();
    cases.extend(generated(generated_dir.path()));

    let started = Instant::now();
    let mut failures = Vec::new();
    let (mut exit2, mut ignored, mut requests_total) = (0, 0, 0);
    for case in &cases {
        let seen = proxy.log().len();
        let outcome = proxy.invoke(
            &case.path,
            &[
                ("GUARD_BUCKET_PREFIXES", "acme-"),
                ("GUARD_ALERT_TOPIC_ARN", &topic),
            ],
            Duration::from_secs(60),
        );
        let log = proxy.log();
        let requests = log.len() - seen;
        requests_total += requests;
        let written: Vec<&str> = log[seen..]
            .iter()
            .filter(|e| e["write"] == true)
            .filter_map(|e| e["operation"].as_str())
            .collect();
        if !written.is_empty() {
            // Undo it, so each case that slips through is caught on its own.
            restore(&s3).await;
        }
        match check(case, &outcome, requests) {
            Some(problem) => failures.push(format!("{}: {problem}; writes {written:?}", case.name)),
            None if case.expect == "exit 2" => exit2 += 1,
            None => ignored += 1,
        }
    }
    let log = proxy.log();
    let writes: Vec<&Value> = log.iter().filter(|e| e["write"] == true).collect();
    let mut operations: Vec<String> = log
        .iter()
        .map(|e| e["operation"].as_str().unwrap_or("?").to_owned())
        .collect();
    operations.sort();
    operations.dedup();
    eprintln!(
        "hostile corpus: {} files ({committed} committed + {} generated), {exit2} exit 2, \
         {ignored} ignored, {} failed; {requests_total} AWS requests ({}), {} writes; {:?}",
        cases.len(),
        cases.len() - committed,
        failures.len(),
        operations.join(", "),
        writes.len(),
        started.elapsed()
    );
    let after = [
        fingerprint(&s3, GUARDED).await,
        fingerprint(&s3, OUTPUT).await,
    ];
    let alerts = common::drain(&queue).await;

    assert!(
        failures.is_empty(),
        "{} of {} cases misbehaved:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(writes.is_empty(), "write requests: {writes:#?}");
    assert_eq!(before, after, "the corpus's buckets changed");
    assert!(alerts.is_empty(), "alerts published: {alerts:?}");
    assert!(cases.len() >= 40);
}

//! A proptest-driven fuzzer for event intake: arbitrary JSON built from the keys the
//! parser reads, mutated sample events and raw bytes. No input may panic, and whatever
//! the parser decides to act on must be a valid bucket name in a valid region.
//!
//! `cargo test --test fuzz_events` runs a short round (part of `make test`);
//! `make fuzz` runs `fuzz_for_a_while` for `FUZZ_SECONDS` (default 120). Failures are
//! kept in `tests/fuzz-regressions.txt` and replayed first on every run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, FileFailurePersistence, TestRunner};
use rekognition_guard::config::Config;
use rekognition_guard::event::{self, Plan};
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

const KEYS: &[&str] = &[
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "region",
    "detail",
    "eventName",
    "eventSource",
    "awsRegion",
    "errorCode",
    "recipientAccountId",
    "requestParameters",
    "bucketName",
    "CreateBucketConfiguration",
    "createBucketConfiguration",
    "LocationConstraint",
    "outputConfig",
    "OutputConfig",
    "s3Bucket",
    "S3Bucket",
    "kmsKeyId",
    "KmsKeyId",
    "trainingData",
    "testingData",
    "assets",
    "groundTruthManifest",
    "s3Object",
    "bucket",
    "output",
    "s3Destination",
    "dataSharingPreference",
    "optIn",
    "projectArn",
    "versionName",
    "name",
    "eventID",
];

const STRINGS: &[&str] = &[
    "AWS API Call via CloudTrail",
    "Scheduled Event",
    "aws.s3",
    "aws.rekognition",
    "aws.events",
    "s3.amazonaws.com",
    "rekognition.amazonaws.com",
    "CreateBucket",
    "CreateProjectVersion",
    "CreateStreamProcessor",
    "us-east-1",
    "eu-west-1",
    "cn-north-1",
    "EU",
    "",
    "123456789012",
    "custom-labels-console-us-east-1-abc",
    "custom-labels-console-../x",
    "custom-labels-console-*",
    "arn:aws:s3:::custom-labels-console-x",
    "Custom-Labels-Console-X",
    "192.168.1.1",
    "alias/k",
    "arn:aws-cn:kms:cn-north-1:123456789012:key/k",
    "false",
    "true",
    "\u{0}",
    "💥",
    "a..b",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        proptest::sample::select(STRINGS).prop_map(|s| Value::String(s.to_owned())),
        ".{0,80}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..8).prop_map(
                |kv| {
                    Value::Object(
                        kv.into_iter()
                            .map(|(k, v)| (k.to_owned(), v))
                            .collect::<Map<_, _>>(),
                    )
                }
            ),
        ]
    })
}

fn samples() -> Vec<Value> {
    let dir = format!("{}/events", env!("CARGO_MANIFEST_DIR"));
    let mut out: Vec<Value> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            serde_json::from_str(&std::fs::read_to_string(e.unwrap().path()).unwrap()).unwrap()
        })
        .collect();
    out.sort_by_key(|v| v.to_string());
    out
}

/// Every JSON pointer in a document.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| {
            pointers(
                c,
                format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                out,
            )
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, c)| pointers(c, format!("{at}/{i}"), out)),
        _ => {}
    }
}

/// A sample event with some of its nodes replaced by arbitrary values.
fn arb_mutated() -> impl Strategy<Value = Value> {
    let samples = samples();
    (
        0..samples.len(),
        proptest::collection::vec((any::<prop::sample::Index>(), arb_json()), 1..4),
    )
        .prop_map(move |(i, edits)| {
            let mut doc = samples[i].clone();
            for (index, value) in edits {
                let mut paths = Vec::new();
                pointers(&doc, String::new(), &mut paths);
                let path = index.get(&paths).clone();
                if path.is_empty() {
                    doc = value;
                } else if let Some(node) = doc.pointer_mut(&path) {
                    *node = value;
                }
            }
            doc
        })
}

fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
    let sample_text: Vec<Vec<u8>> = samples()
        .iter()
        .map(|s| s.to_string().into_bytes())
        .collect();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        (
            0..sample_text.len(),
            proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
        )
            .prop_map(move |(i, flips)| {
                let mut bytes = sample_text[i].clone();
                for (at, b) in flips {
                    let n = at.index(bytes.len());
                    bytes[n] = b;
                }
                bytes
            }),
    ]
}

fn config() -> Config {
    Config {
        bucket_prefixes: vec!["acme-".into()],
        ..Config::default()
    }
}

/// The parser's promise: what it acts on is well-formed; everything else is an error or
/// an ignore with a reason.
fn check(
    result: Result<event::Parsed, event::EventError>,
    config: &Config,
) -> Result<(), TestCaseError> {
    let Ok(parsed) = result else { return Ok(()) };
    let valid = |name: &str, region: &str| {
        event::check_bucket_name(name).is_ok() && event::is_region(region)
    };
    match &parsed.plan {
        Plan::Ignore => prop_assert!(
            parsed
                .trigger
                .ignored_reason
                .as_deref()
                .is_some_and(|r| !r.is_empty())
        ),
        Plan::Bucket(b) => {
            prop_assert!(valid(&b.name, &b.region), "{b:?}");
            prop_assert!(config.bucket_role(&b.name).is_some());
        }
        Plan::ProjectVersion {
            output,
            training_data,
            ..
        } => {
            prop_assert!(valid(&output.name, &output.region));
            prop_assert!(
                training_data
                    .iter()
                    .all(|t| valid(&t.name, &t.region) && t.audit_only)
            );
        }
        Plan::StreamProcessor { output, .. } => {
            prop_assert!(output.as_ref().is_none_or(|o| valid(&o.name, &o.region)));
        }
        Plan::Scan => {}
        Plan::BucketDeleted(b) => prop_assert!(valid(&b.name, &b.region) && b.audit_only),
    }
    Ok(())
}

fn fuzz(budget: Duration, cases_per_round: u32) -> u64 {
    let config = config();
    // A runner counts cases over its lifetime: one per strategy and round.
    let runner = || {
        TestRunner::new(RunnerConfig {
            cases: cases_per_round,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
                "tests/fuzz-regressions.txt",
            ))),
            ..RunnerConfig::default()
        })
    };
    let started = Instant::now();
    let mut total = 0u64;
    while total == 0 || started.elapsed() < budget {
        runner()
            .run(&arb_json(), |v| check(event::parse(&v, &config), &config))
            .unwrap();
        runner()
            .run(&arb_mutated(), |v| {
                check(event::parse(&v, &config), &config)
            })
            .unwrap();
        runner()
            .run(&arb_bytes(), |b| {
                check(event::parse_bytes(&b, &config), &config)
            })
            .unwrap();
        total += 3 * u64::from(cases_per_round);
    }
    total
}

#[test]
fn fuzz_smoke() {
    let n = fuzz(Duration::ZERO, 1000);
    assert_eq!(n, 3000);
}

#[test]
fn deep_nesting_and_huge_strings_are_errors_or_ignores_not_crashes() {
    let config = config();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(event::parse_bytes(deep.as_bytes(), &config).is_err());
    let mut e = samples()
        .into_iter()
        .find(|s| s["detail"]["eventName"] == "CreateBucket")
        .unwrap();
    e["detail"]["requestParameters"]["bucketName"] = Value::String("a".repeat(1 << 20));
    let p = event::parse(&e, &config).unwrap();
    assert_eq!(p.plan, Plan::Ignore);
    assert!(
        p.trigger.ignored_reason.unwrap().len() < 300,
        "the reason quotes a bounded prefix"
    );
}

#[test]
#[ignore = "long-running: `make fuzz`"]
fn fuzz_for_a_while() {
    let seconds = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let n = fuzz(Duration::from_secs(seconds), 5000);
    println!("fuzzed {n} inputs in {seconds} s: no panic, every acted-on bucket valid");
}

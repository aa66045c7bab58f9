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
use rekognition_guard::event::{self, Field, Plan, RekognitionKind};
use rekognition_guard::region;
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
    "responseElements",
    "projectVersionArn",
    "ProjectVersionArn",
    "streamProcessorArn",
    "datasetArn",
    "jobId",
    "sessionId",
    "destinationProjectArn",
    "datasetSource",
    "datasetType",
    "input",
    "settings",
    "faceSearch",
    "connectedHome",
    "Records",
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
    "CopyProjectVersion",
    "CreateDataset",
    "StartMediaAnalysisJob",
    "CreateFaceLivenessSession",
    "HIDDEN_DUE_TO_SECURITY_REASONS",
    "arn:aws:rekognition:us-east-1:123456789012:project/p/1700000000000",
    "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v1/1700000000000",
    "arn:aws-cn:rekognition:cn-north-1:123456789012:project/p/version/v1/1",
    "arn:aws:rekognition:eu-west-1:123456789012:streamprocessor/sp",
    "arn:aws:rekognition:us-east-1:123456789012:project/p/dataset/train/1",
    "Legacy_Bucket.Name",
    "acme--x-s3",
    "eusc-de-east-1",
    "us-isof-south-1",
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

/// A job or session id as Rekognition returns it.
fn is_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `arn:<partition of region>:rekognition:<region>:<account>:<resource of kind>`,
/// checked independently of the parser. `parent`: the record had no ARN of its own,
/// so the id is the project's.
fn is_arn_of(arn: &str, region: &str, kind: RekognitionKind, parent: bool) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    let [
        "arn",
        partition,
        "rekognition",
        arn_region,
        account,
        resource,
    ] = parts[..]
    else {
        return false;
    };
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    };
    let segments: Vec<&str> = resource.split('/').collect();
    let shape = match (kind, parent) {
        (_, true) => matches!(segments[..], ["project", _, _]),
        (RekognitionKind::ProjectVersion, false) => {
            matches!(segments[..], ["project", _, "version", _, _])
        }
        (RekognitionKind::Dataset, false) => {
            matches!(segments[..], ["project", _, "dataset", _, _])
        }
        (RekognitionKind::StreamProcessor, false) => matches!(segments[..], ["streamprocessor", _]),
        _ => false,
    };
    partition == region::partition(region)
        && arn_region == region
        && region::is_region(region)
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && segments.iter().all(|s| segment_ok(s))
        && shape
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
        Plan::Rekognition(plan) => {
            // Rekognition reads and writes buckets of its own Region only.
            let region = parsed.trigger.region.as_deref().unwrap_or_default();
            prop_assert_eq!(&plan.region, region);
            let existing = |b: &event::BucketTarget| {
                event::check_existing_bucket_name(&b.name).is_ok()
                    && b.region == region
                    && !b.name.contains("..")
                    && !b.name.contains('/')
                    && !b.name.ends_with("--x-s3")
            };
            if let Field::Value(output) = &plan.output {
                prop_assert!(existing(output), "{output:?}");
            }
            // Only the output is written: everything else it names is read only.
            prop_assert!(plan.inputs.iter().all(|t| existing(t) && t.audit_only));
            let id_ok = match plan.kind {
                RekognitionKind::MediaAnalysisJob | RekognitionKind::FaceLivenessSession => {
                    is_id(&plan.id) || plan.id.starts_with("unknown (")
                }
                kind => is_arn_of(&plan.id, region, kind, plan.name.is_some()),
            };
            prop_assert!(id_ok, "{:?} id {:?} in {region}", plan.kind, plan.id);
        }
        Plan::Scan => {}
        // Never a write: a prevented call is reported only, its target as drift's.
        Plan::Prevented(p) => {
            if let event::DriftTarget::Bucket(b) = &p.drift.target {
                prop_assert!(valid(&b.name, &b.region), "{b:?}");
                prop_assert!(config.drift_bucket_role(&b.name).is_some());
            }
        }
        Plan::Drift(d) => {
            if let event::DriftTarget::Bucket(b) = &d.target {
                prop_assert!(valid(&b.name, &b.region), "{b:?}");
                prop_assert!(config.drift_bucket_role(&b.name).is_some());
            }
            prop_assert!(!d.change.by.is_empty() && !d.change.by.chars().any(char::is_control));
        }
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

//! Do no harm: a bucket's dependents are known before any write, and a fix that would
//! break one is held (nothing written, non-compliant, a high alert naming it, exit 3).
//!
//! Each case seeds a bucket the way a workload uses it (another account reading it, log
//! delivery, replication, CloudFront, a website, `rekognition.amazonaws.com`), runs the
//! built binary through a recording proxy, and reads the bucket back: with the AWS
//! managed `aws/s3` key, with a configured key whose policy covers the dependent, and
//! with one whose policy does not.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::proxy::{Invocation, Proxy};
use common::{ACCOUNT, REGION};
use serde_json::{Value, json};
use std::time::Duration;

const PREFIX: &str = "acme-rekognition-";
const PARTNER: &str = "444455556666";

struct Env {
    proxy: Proxy,
    topic: String,
    queue: String,
    dir: tempfile::TempDir,
}

async fn env() -> Env {
    // An opted-out organization: `ai-opt-out` compliant, so exit codes speak of the bucket.
    common::org::opted_out().await;
    let (topic, queue) = common::topic_with_queue().await;
    Env {
        proxy: Proxy::start(&common::moto().endpoint),
        topic,
        queue,
        dir: tempfile::tempdir().unwrap(),
    }
}

/// A `CreateBucket` record for a bucket under the guarded prefix.
fn create_bucket_event(bucket: &str) -> Value {
    let mut e = common::console_event(bucket);
    e["detail"]["requestParameters"]["bucketName"] = json!(bucket);
    e
}

struct Run {
    code: Option<i32>,
    report: Value,
    /// S3 writes the function sent, by operation.
    s3_writes: Vec<String>,
    alerts: Vec<Value>,
    stderr: String,
}

impl Run {
    fn control(&self, control: &str) -> &Value {
        self.report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["type"] == "s3-bucket")
            .flat_map(|r| r["controls"].as_array().unwrap())
            .find(|c| c["control"] == control)
            .unwrap_or_else(|| panic!("no {control} in {:#}", self.report))
    }

    fn status(&self, control: &str) -> &str {
        self.control(control)["status"].as_str().unwrap()
    }

    fn detail(&self, control: &str) -> &str {
        self.control(control)["detail"].as_str().unwrap()
    }

    fn wrote(&self, operation: &str) -> bool {
        self.s3_writes.iter().any(|w| w == operation)
    }
}

async fn invoke(env: &Env, event: &Value, vars: &[(&str, &str)]) -> Run {
    let path = env
        .dir
        .path()
        .join(format!("{}.json", common::unique("event-")));
    std::fs::write(&path, event.to_string()).unwrap();
    env.proxy.reset();
    let mut all: Vec<(&str, &str)> = vec![
        ("GUARD_BUCKET_PREFIXES", PREFIX),
        ("GUARD_ALERT_TOPIC_ARN", &env.topic),
    ];
    all.extend_from_slice(vars);
    let Invocation {
        code,
        stdout,
        stderr,
    } = env.proxy.invoke(&path, &all, Duration::from_secs(60));
    let s3_writes = env
        .proxy
        .log()
        .iter()
        .filter(|e| e["service"] == "s3" && e["write"] == true)
        .map(|e| e["operation"].as_str().unwrap().to_owned())
        .collect();
    Run {
        code,
        report: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        s3_writes,
        alerts: common::drain(&env.queue).await,
        stderr,
    }
}

async fn new_bucket(tag: &str) -> (String, aws_sdk_s3::Client) {
    let name = common::unique(&format!("{PREFIX}{tag}-"));
    let s3 = common::s3(REGION).await;
    s3.create_bucket().bucket(&name).send().await.unwrap();
    (name, s3)
}

/// Seeds a bucket policy of these statements.
async fn put_policy(s3: &aws_sdk_s3::Client, bucket: &str, statements: Value) {
    let policy = json!({"Version": "2012-10-17", "Statement": statements});
    common::put_policy(s3, bucket, &policy).await;
}

fn arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// A KMS key whose policy is the account's root delegation plus `extra` statements.
async fn key_with(extra: Vec<Value>) -> String {
    let mut statements = vec![json!({"Sid": "Root", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "kms:*", "Resource": "*"})];
    statements.extend(extra);
    let policy = json!({"Version": "2012-10-17", "Statement": statements});
    common::create_key_with("SYMMETRIC_DEFAULT", Some(&policy)).await
}

fn grant(principal: Value, actions: &[&str]) -> Value {
    json!({"Sid": "Dependent", "Effect": "Allow", "Principal": principal, "Action": actions, "Resource": "*"})
}

/// One way a workload uses a bucket.
struct Case {
    name: &'static str,
    /// Text the held detail and the alert must contain: the dependent, named.
    needle: &'static str,
    /// The key policy statement that covers it (`None`: no key policy can).
    covering: Option<Value>,
    /// Block Public Access and the TLS deny are held too (a public bucket).
    public: bool,
}

async fn seed(case: &str, bucket: &str, s3: &aws_sdk_s3::Client) {
    let b = arn(bucket);
    let objects = format!("{b}/*");
    match case {
        "partner-reader" => {
            put_policy(
                s3,
                bucket,
                json!([{"Sid": "PartnerReadsResults", "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{PARTNER}:root")},
                "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [b, objects]}]),
            )
            .await;
        }
        "log-target" => {
            put_policy(s3, bucket, json!([{"Sid": "S3ServerAccessLogsPolicy", "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
                "Resource": objects, "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]))
            .await;
        }
        "replication-source" => {
            let destination = common::unique("replica-");
            s3.create_bucket()
                .bucket(&destination)
                .send()
                .await
                .unwrap();
            for name in [bucket, destination.as_str()] {
                s3.put_bucket_versioning()
                    .bucket(name)
                    .versioning_configuration(
                        aws_sdk_s3::types::VersioningConfiguration::builder()
                            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                            .build(),
                    )
                    .send()
                    .await
                    .unwrap();
            }
            use aws_sdk_s3::types::{
                Destination, ReplicationConfiguration, ReplicationRule, ReplicationRuleStatus,
            };
            let rule = ReplicationRule::builder()
                .id("to-dr")
                .status(ReplicationRuleStatus::Enabled)
                .filter(
                    aws_sdk_s3::types::ReplicationRuleFilter::builder()
                        .prefix("")
                        .build(),
                )
                .priority(1)
                .delete_marker_replication(
                    aws_sdk_s3::types::DeleteMarkerReplication::builder()
                        .status(aws_sdk_s3::types::DeleteMarkerReplicationStatus::Disabled)
                        .build(),
                )
                .destination(
                    Destination::builder()
                        .bucket(arn(&destination))
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap();
            s3.put_bucket_replication()
                .bucket(bucket)
                .replication_configuration(
                    ReplicationConfiguration::builder()
                        .role(format!("arn:aws:iam::{ACCOUNT}:role/s3-replication"))
                        .rules(rule)
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
        }
        "cloudfront-oai" => {
            put_policy(s3, bucket, json!([{"Sid": "OAIReads", "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E2EXAMPLE"},
                "Action": "s3:GetObject", "Resource": objects}]))
            .await;
        }
        "cloudfront-oac" => {
            put_policy(s3, bucket, json!([{"Sid": "OACReads", "Effect": "Allow",
                "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
                "Resource": objects, "Condition": {"StringEquals": {
                    "AWS:SourceArn": format!("arn:aws:cloudfront::{ACCOUNT}:distribution/E1EXAMPLE")}}}]))
            .await;
        }
        "website" => {
            use aws_sdk_s3::types::{IndexDocument, WebsiteConfiguration};
            s3.put_bucket_website()
                .bucket(bucket)
                .website_configuration(
                    WebsiteConfiguration::builder()
                        .index_document(
                            IndexDocument::builder()
                                .suffix("index.html")
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .send()
                .await
                .unwrap();
            put_policy(
                s3,
                bucket,
                json!([{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
                "Action": "s3:GetObject", "Resource": objects}]),
            )
            .await;
        }
        "rekognition-service" => {
            put_policy(
                s3,
                bucket,
                json!([{"Sid": "RekognitionReadsAndWrites", "Effect": "Allow",
                "Principal": {"Service": "rekognition.amazonaws.com"},
                "Action": ["s3:GetObject", "s3:PutObject"], "Resource": objects}]),
            )
            .await;
        }
        other => panic!("no case {other}"),
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "partner-reader",
            needle: "account 444455556666",
            covering: Some(grant(
                json!({"AWS": format!("arn:aws:iam::{PARTNER}:root")}),
                &["kms:Decrypt"],
            )),
            public: false,
        },
        Case {
            name: "log-target",
            needle: "the service logging.s3.amazonaws.com",
            covering: None,
            public: false,
        },
        Case {
            name: "replication-source",
            needle: "replication to other buckets",
            covering: None,
            public: false,
        },
        Case {
            name: "cloudfront-oai",
            needle: "CloudFront origin access identity",
            covering: None,
            public: false,
        },
        Case {
            name: "cloudfront-oac",
            needle: "the service cloudfront.amazonaws.com",
            covering: Some(grant(
                json!({"Service": "cloudfront.amazonaws.com"}),
                &["kms:Decrypt"],
            )),
            public: false,
        },
        Case {
            name: "website",
            needle: "the static website's anonymous readers",
            covering: None,
            public: true,
        },
        Case {
            name: "rekognition-service",
            needle: "the service rekognition.amazonaws.com",
            covering: Some(grant(
                json!({"Service": "rekognition.amazonaws.com"}),
                &["kms:Decrypt", "kms:GenerateDataKey"],
            )),
            public: false,
        },
    ]
}

fn assert_held(run: &Run, control: &str, needle: &str, what: &str) {
    assert_eq!(
        run.status(control),
        "non-compliant",
        "{what} {control}: {:#}",
        run.report
    );
    assert_eq!(run.control(control)["severity"], "high", "{what} {control}");
    let detail = run.detail(control);
    assert!(detail.contains("held, nothing written"), "{what}: {detail}");
    assert!(
        detail.contains(needle),
        "{what}: {detail} should name {needle:?}"
    );
}

/// The alert went out as high and names the dependent.
fn assert_alerted(run: &Run, needle: &str, what: &str) {
    assert_eq!(run.alerts.len(), 1, "{what}: one alert");
    let m = &run.alerts[0];
    assert_eq!(
        m["MessageAttributes"]["severity"]["Value"], "high",
        "{what}"
    );
    assert!(
        m["Message"].as_str().unwrap().contains(needle),
        "{what}: the alert names {needle:?}"
    );
}

#[tokio::test]
async fn each_dependent_with_aws_s3_a_covering_key_and_one_that_does_not_cover() {
    let env = env().await;
    for case in cases() {
        let covering_key = match &case.covering {
            Some(statement) => Some(key_with(vec![statement.clone()]).await),
            None => None,
        };
        let uncovering_key = key_with(vec![]).await;
        let mut keys: Vec<(&str, Option<String>)> = vec![
            ("aws/s3", None),
            ("a key that does not cover it", Some(uncovering_key)),
        ];
        if let Some(k) = covering_key.clone() {
            keys.push(("a covering key", Some(k)));
        }
        for (key_case, key) in keys {
            let what = format!("{} with {key_case}", case.name);
            let (bucket, s3) = new_bucket(case.name).await;
            seed(case.name, &bucket, &s3).await;
            let encryption_before = common::read_encryption(&s3, &bucket).await;
            let mut vars = vec![];
            if let Some(k) = &key {
                vars.push(("GUARD_KMS_KEY_ID", k.as_str()));
            }
            let run = invoke(&env, &create_bucket_event(&bucket), &vars).await;
            let safe = key_case == "a covering key";
            if safe {
                assert_eq!(
                    run.status("sse-kms"),
                    "remediated",
                    "{what}: {:#}",
                    run.report
                );
                let (alg, written, bucket_key) =
                    common::read_encryption(&s3, &bucket).await.unwrap();
                assert_eq!(
                    (alg.as_str(), written.as_deref(), bucket_key),
                    ("aws:kms", key.as_deref(), Some(true)),
                    "{what}"
                );
                assert_eq!(run.code, Some(0), "{what}: {}", run.stderr);
            } else {
                assert_held(&run, "sse-kms", case.needle, &what);
                assert!(
                    !run.wrote("PutBucketEncryption"),
                    "{what}: {:?}",
                    run.s3_writes
                );
                assert_eq!(
                    common::read_encryption(&s3, &bucket).await,
                    encryption_before,
                    "{what}"
                );
                assert_eq!(run.code, Some(3), "{what}: {}", run.stderr);
                assert_alerted(&run, case.needle, &what);
            }
            if case.public {
                assert_held(&run, "public-access-block", case.needle, &what);
                assert_held(&run, "tls-only", case.needle, &what);
                assert!(
                    run.detail("public-access-block")
                        .contains("public bucket holding Rekognition data")
                );
                assert!(
                    run.s3_writes.is_empty(),
                    "{what}: nothing written at all: {:?}",
                    run.s3_writes
                );
                assert_eq!(
                    common::public_access_block(&s3, &bucket).await,
                    None,
                    "{what}"
                );
            } else {
                assert_eq!(run.status("public-access-block"), "remediated", "{what}");
                assert_eq!(run.status("tls-only"), "remediated", "{what}");
                // The merge kept the workload's own statement.
                let policy = common::bucket_policy(&s3, &bucket).await.unwrap();
                assert!(
                    common::statements(&policy).len() >= 2 || case.name == "replication-source",
                    "{what}: {policy}"
                );
            }
        }
    }
}

#[tokio::test]
async fn audit_mode_says_what_would_be_held_and_writes_nothing() {
    let env = env().await;
    let (bucket, s3) = new_bucket("partner-reader").await;
    seed("partner-reader", &bucket, &s3).await;
    let run = invoke(
        &env,
        &create_bucket_event(&bucket),
        &[("GUARD_MODE", "audit")],
    )
    .await;
    assert_held(&run, "sse-kms", "account 444455556666", "audit");
    assert_eq!(run.status("public-access-block"), "would-remediate");
    assert!(run.s3_writes.is_empty(), "{:?}", run.s3_writes);
    assert_eq!(run.code, Some(3));
}

#[tokio::test]
async fn a_website_in_block_mode_gets_the_tls_statement_and_block_public_access_merge_first() {
    let env = env().await;
    let (bucket, s3) = new_bucket("website").await;
    seed("website", &bucket, &s3).await;
    let run = invoke(
        &env,
        &create_bucket_event(&bucket),
        &[("GUARD_PUBLIC_ACCESS", "block")],
    )
    .await;
    for control in ["sse-kms", "public-access-block", "tls-only"] {
        assert_eq!(
            run.status(control),
            "remediated",
            "{control}: {:#}",
            run.report
        );
    }
    // The policy, which keeps its public statement, went out before Block Public Access:
    // S3 refuses a public policy once BlockPublicPolicy is on.
    let order: Vec<&str> = run
        .s3_writes
        .iter()
        .map(String::as_str)
        .filter(|w| *w != "PutBucketEncryption")
        .collect();
    assert_eq!(order, ["PutBucketPolicy", "PutPublicAccessBlock"]);
    assert_eq!(
        common::public_access_block(&s3, &bucket).await,
        Some([true; 4])
    );
    let policy = common::bucket_policy(&s3, &bucket).await.unwrap();
    let statements = common::statements(&policy);
    let sids: Vec<&str> = statements
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect();
    assert!(
        sids.contains(&"PublicRead") && sids.contains(&"DenyInsecureTransport"),
        "{policy}"
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
}

#[tokio::test]
async fn a_public_statement_and_a_partner_restrict_public_buckets_is_predicted() {
    let env = env().await;
    let (bucket, s3) = new_bucket("both").await;
    let objects = format!("{}/*", arn(&bucket));
    put_policy(&s3, &bucket, json!([
        {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": objects},
        {"Sid": "PartnerWrites", "Effect": "Allow", "Principal": {"AWS": PARTNER}, "Action": "s3:PutObject", "Resource": objects},
    ]))
    .await;
    let run = invoke(
        &env,
        &create_bucket_event(&bucket),
        &[("GUARD_PUBLIC_ACCESS", "block")],
    )
    .await;
    let detail = run.detail("public-access-block");
    assert!(
        detail.contains("RestrictPublicBuckets also cuts account 444455556666"),
        "{detail}"
    );
    assert_eq!(run.control("public-access-block")["severity"], "high");
}

/// Custom Labels trains and writes with the caller's credentials: a configured key whose
/// policy does not let that role use it must not encrypt the output bucket.
#[tokio::test]
async fn a_training_caller_the_configured_key_does_not_cover_keeps_the_output_bucket_as_it_is() {
    let env = env().await;
    let (bucket, s3) = new_bucket("output").await;
    // A key policy without the root delegation that names another role only.
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "KeyAdmins", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/KeyAdmin")},
         "Action": "kms:*", "Resource": "*"}]});
    let key = common::create_key_with("SYMMETRIC_DEFAULT", Some(&policy)).await;
    let mut event = common::sample("create-project-version.json");
    event["detail"]["requestParameters"]["outputConfig"]["s3Bucket"] = json!(bucket);
    event["detail"]["requestParameters"]
        .as_object_mut()
        .unwrap()
        .remove("kmsKeyId");
    let before = common::read_encryption(&s3, &bucket).await;
    let run = invoke(&env, &event, &[("GUARD_KMS_KEY_ID", &key)]).await;
    assert_held(
        &run,
        "sse-kms",
        "arn:aws:iam::123456789012:role/Admin",
        "caller",
    );
    assert!(
        run.detail("sse-kms")
            .contains("kms:GenerateDataKey and kms:Decrypt"),
        "{}",
        run.detail("sse-kms")
    );
    assert!(!run.wrote("PutBucketEncryption"), "{:?}", run.s3_writes);
    assert_eq!(common::read_encryption(&s3, &bucket).await, before);
    assert_eq!(run.code, Some(3));

    // The same call with a key whose policy delegates to the account: switched, verified.
    let covering = key_with(vec![]).await;
    let (bucket, s3) = new_bucket("output").await;
    event["detail"]["requestParameters"]["outputConfig"]["s3Bucket"] = json!(bucket);
    let run = invoke(&env, &event, &[("GUARD_KMS_KEY_ID", &covering)]).await;
    assert_eq!(run.status("sse-kms"), "remediated", "{:#}", run.report);
    assert_eq!(
        common::read_encryption(&s3, &bucket)
            .await
            .unwrap()
            .1
            .as_deref(),
        Some(covering.as_str())
    );
}

/// A team's own customer key with Bucket Keys off: Bucket Keys on, the key kept and
/// written as its full ARN, verified, exit 0 (the default GUARD_KMS_KEY_POLICY).
#[tokio::test]
async fn a_teams_own_key_with_bucket_keys_off_ends_remediated() {
    let env = env().await;
    let configured = key_with(vec![]).await;
    let team = key_with(vec![]).await;
    let team_id = team.rsplit('/').next().unwrap().to_owned();
    let (bucket, s3) = new_bucket("team").await;
    common::put_encryption(&s3, &bucket, "aws:kms", Some(&team_id), false).await;
    let run = invoke(
        &env,
        &create_bucket_event(&bucket),
        &[("GUARD_KMS_KEY_ID", &configured)],
    )
    .await;
    assert_eq!(run.status("sse-kms"), "remediated", "{:#}", run.report);
    assert_eq!(
        common::read_encryption(&s3, &bucket).await,
        Some(("aws:kms".into(), Some(team.clone()), Some(true)))
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // The rerun finds it compliant and writes nothing.
    let run = invoke(
        &env,
        &create_bucket_event(&bucket),
        &[("GUARD_KMS_KEY_ID", &configured)],
    )
    .await;
    assert_eq!(run.status("sse-kms"), "compliant");
    assert!(run.s3_writes.is_empty(), "{:?}", run.s3_writes);
}

/// S3 refuses a policy over 20 KB: the merge is `failed` with the reason, nothing written.
#[tokio::test]
async fn a_policy_the_merge_would_take_over_20_kb_is_failed_and_not_written() {
    let env = env().await;
    let (bucket, s3) = new_bucket("large").await;
    let objects = format!("{}/*", arn(&bucket));
    // Just under 20 KB minified: S3 takes it; the merged one would not fit.
    let mut statements: Vec<Value> = Vec::new();
    let size = |st: &Vec<Value>| {
        json!({"Version": "2012-10-17", "Statement": st})
            .to_string()
            .len()
    };
    for i in 0.. {
        let next = json!({"Sid": format!("Reader{i:03}"), "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/analytics-team-reader-{i:03}")},
            "Action": "s3:GetObject", "Resource": objects});
        statements.push(next);
        if size(&statements) > 20_480 - 60 {
            statements.pop();
            break;
        }
    }
    // Exactly 10 bytes under the limit whatever the bucket name's length: no merged
    // statement can fit (the Sid of the first statement takes up the rest).
    let gap = 20_480 - 10 - size(&statements);
    let sid = format!("Reader000{}", "X".repeat(gap));
    statements[0]["Sid"] = json!(sid);
    assert_eq!(size(&statements), 20_470);
    assert!(
        size(&statements) > 20_200,
        "seed size {}",
        size(&statements)
    );
    put_policy(&s3, &bucket, Value::Array(statements)).await;
    let before = common::bucket_policy(&s3, &bucket).await;
    let run = invoke(&env, &create_bucket_event(&bucket), &[]).await;
    assert_eq!(run.status("tls-only"), "failed", "{:#}", run.report);
    assert!(
        run.detail("tls-only")
            .contains("over S3's limit of 20480 bytes"),
        "{}",
        run.detail("tls-only")
    );
    assert!(!run.wrote("PutBucketPolicy"));
    assert_eq!(common::bucket_policy(&s3, &bucket).await, before);
    assert_eq!(run.code, Some(1));
}

/// A deleted role's unique id in the policy: S3 refuses to have it put back. `failed`
/// naming it, nothing written (tests/fidelity.rs shows S3 is never asked); with
/// GUARD_DROP_STALE_PRINCIPALS=true it is removed and reported, every other statement kept.
#[tokio::test]
async fn a_deleted_principals_unique_id_is_named_and_dropped_only_when_asked() {
    let env = env().await;
    let (bucket, s3) = new_bucket("stale").await;
    let objects = format!("{}/*", arn(&bucket));
    let stale = "AROA1234567890EXAMPLE";
    // S3 shows a deleted role this way; only the emulator itself accepts it as input.
    let raw = common::s3_raw(REGION).await;
    raw.put_bucket_policy()
        .bucket(&bucket)
        .policy(json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Gone", "Effect": "Allow", "Principal": {"AWS": stale}, "Action": "s3:GetObject", "Resource": objects},
            {"Sid": "Mixed", "Effect": "Allow", "Principal": {"AWS": [stale, format!("arn:aws:iam::{ACCOUNT}:role/kept")]},
             "Action": "s3:GetObject", "Resource": objects},
            {"Sid": "Kept", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/analytics")},
             "Action": "s3:GetObject", "Resource": objects}]}).to_string())
        .send()
        .await
        .unwrap();
    let before = common::bucket_policy(&s3, &bucket).await;
    let run = invoke(&env, &create_bucket_event(&bucket), &[]).await;
    assert_eq!(run.status("tls-only"), "failed");
    let detail = run.detail("tls-only");
    assert!(
        detail.contains(&format!("{stale} (statement Gone)"))
            && detail.contains("GUARD_DROP_STALE_PRINCIPALS"),
        "{detail}"
    );
    assert!(!run.wrote("PutBucketPolicy"));
    assert_eq!(common::bucket_policy(&s3, &bucket).await, before);
    assert_eq!(run.code, Some(1));

    let run = invoke(
        &env,
        &create_bucket_event(&bucket),
        &[("GUARD_DROP_STALE_PRINCIPALS", "true")],
    )
    .await;
    assert_eq!(run.status("tls-only"), "remediated", "{:#}", run.report);
    assert!(
        run.detail("tls-only")
            .contains("statement Gone (it named deleted principals only)"),
        "{}",
        run.detail("tls-only")
    );
    let policy = common::bucket_policy(&s3, &bucket).await.unwrap();
    let sids: Vec<String> = common::statements(&policy)
        .iter()
        .map(|s| s["Sid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sids, ["Mixed", "Kept", "DenyInsecureTransport"]);
    assert!(!policy.to_string().contains(stale));
}

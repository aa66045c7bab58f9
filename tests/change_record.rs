//! Plan → review → apply → history → undo, end to end against the emulator through a
//! recording proxy: `plan` writes nothing; `apply` writes exactly the plan's items and
//! skips a bucket changed since; every write is in the change record with its full before
//! and after state; `undo` puts the before state back (read back), once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::REGION;
use common::proxy::{Invocation, Proxy};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

struct Env {
    proxy: Proxy,
    prefix: String,
    dir: tempfile::TempDir,
}

impl Env {
    async fn new(tag: &str) -> Env {
        // An opted-out organization: `ai-opt-out` compliant, so exit codes speak of buckets.
        common::org::opted_out().await;
        Env {
            proxy: Proxy::start(&common::moto().endpoint),
            prefix: common::unique(&format!("rg-{tag}-")),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn history_file(&self) -> String {
        self.dir.path().join("history.jsonl").display().to_string()
    }

    fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> Invocation {
        let history = self.history_file();
        let mut env: Vec<(&str, &str)> = vec![
            ("GUARD_BUCKET_PREFIXES", self.prefix.as_str()),
            (
                "GUARD_CONSOLE_BUCKET_PREFIX",
                "no-console-buckets-in-this-test-",
            ),
            ("GUARD_HISTORY_FILE", history.as_str()),
        ];
        env.extend_from_slice(extra);
        self.proxy.run(args, &env, Duration::from_secs(120))
    }

    async fn bucket(&self, name: &str) -> String {
        let bucket = format!("{}{name}", self.prefix);
        common::s3(REGION)
            .await
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
        bucket
    }

    /// S3 writes the proxy saw since its last reset, by operation.
    fn s3_writes(&self) -> Vec<String> {
        self.proxy
            .log()
            .iter()
            .filter(|e| e["service"] == "s3" && e["write"] == true)
            .map(|e| e["operation"].as_str().unwrap().to_owned())
            .collect()
    }

    fn history(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["history", "--format", "json"];
        all.extend_from_slice(args);
        let out = self.run(&all, &[]);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        out.report().as_array().cloned().unwrap()
    }
}

fn write(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

fn control<'a>(report: &'a Value, bucket: &str, control: &str) -> &'a Value {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"] == bucket)
        .flat_map(|r| r["controls"].as_array().unwrap())
        .find(|c| c["control"] == control)
        .unwrap_or_else(|| panic!("no {control} of {bucket} in {report:#}"))
}

/// (algorithm, key) read back; the four Block Public Access flags; the policy.
async fn state(bucket: &str) -> (Option<String>, Option<[bool; 4]>, Option<Value>) {
    let s3 = common::s3(REGION).await;
    (
        common::read_encryption(&s3, bucket).await.map(|e| e.0),
        common::public_access_block(&s3, bucket).await,
        common::bucket_policy(&s3, bucket).await,
    )
}

fn denies_plain_http(policy: &Option<Value>) -> bool {
    policy.as_ref().is_some_and(|p| {
        common::statements(p)
            .iter()
            .any(|s| s["Effect"] == "Deny" && s.to_string().contains("aws:SecureTransport"))
    })
}

#[tokio::test]
async fn plan_writes_nothing_and_apply_writes_exactly_the_plan() {
    let env = Env::new("apply").await;
    let a = env.bucket("a").await;
    let b = env.bucket("b").await;
    let s3 = common::s3(REGION).await;
    let reads = |sid: &str, principal: &str, bucket: &str| {
        json!({"Version": "2012-10-17", "Statement": [{"Sid": sid, "Effect": "Allow",
            "Principal": {"AWS": principal}, "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*")}]})
    };
    let analytics = "arn:aws:iam::123456789012:role/analytics";
    common::put_policy(&s3, &a, &reads("AnalyticsRead", analytics, &a)).await;
    // Held: another account reads it (the aws/s3 key serves only its own account).
    let shared = env.bucket("shared").await;
    let partner = "arn:aws:iam::444455556666:root";
    common::put_policy(&s3, &shared, &reads("PartnerRead", partner, &shared)).await;
    // Exempt by tag.
    let exempt = env.bucket("exempt").await;
    s3.put_bucket_tagging()
        .bucket(&exempt)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(
                    aws_sdk_s3::types::Tag::builder()
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

    env.proxy.reset();
    let out = env.run(&["plan", "--format", "json"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let plan = out.report();
    assert_eq!(plan["schema"], "rekognition-guard/plan/v1");
    assert!(
        env.s3_writes().is_empty(),
        "plan wrote: {:?}",
        env.s3_writes()
    );
    assert_eq!(
        env.proxy.writes(),
        0,
        "no write request of any kind reached the emulator"
    );
    let changes = plan["changes"].as_array().unwrap();
    let planned: Vec<(String, String)> = changes
        .iter()
        .map(|c| {
            (
                c["bucket"].as_str().unwrap().to_owned(),
                c["control"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for bucket in [&a, &b] {
        for c in ["sse-kms", "public-access-block", "tls-only"] {
            assert!(
                planned.contains(&(bucket.clone(), c.to_owned())),
                "{bucket} {c} planned: {plan:#}"
            );
        }
    }
    let of = |bucket: &str, c: &str| -> Value {
        plan["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == bucket)
            .unwrap()["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["control"] == c)
            .unwrap()
            .clone()
    };
    let held = of(&shared, "sse-kms");
    assert_eq!(held["status"], "held", "{held:#}");
    assert!(held["detail"].as_str().unwrap().contains("444455556666"));
    assert_eq!(
        held["after"]["SSEAlgorithm"], "aws:kms",
        "what it would write"
    );
    assert!(!planned.contains(&(shared.clone(), "sse-kms".to_owned())));
    for c in ["sse-kms", "public-access-block", "tls-only"] {
        assert_eq!(of(&exempt, c)["status"], "exempt");
        assert!(!planned.contains(&(exempt.clone(), c.to_owned())));
    }
    // a and b three each; shared: Block Public Access and TLS (its encryption is held).
    assert_eq!(plan["totals"]["would-change"], 8, "{plan:#}");
    assert_eq!(plan["totals"]["held"], 1, "{plan:#}");
    assert_eq!(plan["totals"]["exempt"], 3, "{plan:#}");
    let cell = plan["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["control"] == "sse-kms")
        .unwrap();
    assert_eq!(cell["account"], "123456789012");
    assert_eq!(cell["counts"]["would-change"], 2);
    assert_eq!(cell["counts"]["held"], 1);
    assert_eq!(cell["counts"]["exempt"], 1);
    // The policy diff: one statement added, the reader's kept.
    let tls = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == a.as_str())
        .unwrap()["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["control"] == "tls-only")
        .unwrap()
        .clone();
    assert_eq!(tls["statements_added"].as_array().unwrap().len(), 1);
    assert!(tls.get("statements_removed").is_none());
    assert!(tls["after"].as_str().unwrap().contains("AnalyticsRead"));
    // The table counts per account x Region x control.
    let table = env.run(&["plan", "--format", "table"], &[]);
    assert!(
        table.stdout.contains(
            "summary: 1 compliant, 8 would-change, 1 held, 3 exempt; 8 change(s) for apply"
        ),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("123456789012   us-east-1      sse-kms                        0            2     1      1             0      0"),
        "{}",
        table.stdout
    );

    // Between plan and apply: b's Block Public Access changed by its owner, a bucket created.
    s3.put_public_access_block()
        .bucket(&b)
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let late = env.bucket("late").await;
    let file = env.dir.path().join("plan.json");
    write(&file, &plan);

    env.proxy.reset();
    let out = env.run(
        &[
            "apply",
            "--plan",
            file.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    );
    let report = out.report();
    // 3: shared's encryption is still held (non-compliant), as planned.
    assert_eq!(out.code, Some(3), "{report:#}\n{}", out.stderr);
    assert_eq!(
        control(&report, &shared, "sse-kms")["status"],
        "non-compliant"
    );
    assert_eq!(report["trigger"]["kind"], "plan-applied");
    assert_eq!(report["trigger"]["reference"], plan["id"]);
    for c in ["sse-kms", "public-access-block", "tls-only"] {
        assert_eq!(control(&report, &a, c)["status"], "remediated");
    }
    let skipped = control(&report, &b, "public-access-block");
    assert_eq!(skipped["status"], "skipped");
    assert!(
        skipped["detail"]
            .as_str()
            .unwrap()
            .starts_with("changed since plan"),
        "{skipped}"
    );
    assert!(
        report["resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != late.as_str()),
        "a bucket the plan does not name is not visited"
    );
    // Read back: a and b as planned (b's flags as its owner left them), `late` untouched.
    let (enc, pab, policy) = state(&a).await;
    assert_eq!(enc.as_deref(), Some("aws:kms"));
    assert_eq!(pab, Some([true; 4]));
    assert!(denies_plain_http(&policy));
    assert!(policy.unwrap().to_string().contains("AnalyticsRead"));
    let (enc, pab, policy) = state(&b).await;
    assert_eq!(enc.as_deref(), Some("aws:kms"));
    assert_eq!(pab, Some([true, false, false, false]));
    assert!(denies_plain_http(&policy));
    let (enc, pab, policy) = state(&late).await;
    assert_eq!(enc, common::new_bucket_encryption().map(|e| e.0));
    assert_eq!((pab, policy), (None, None));
    assert_eq!(
        env.s3_writes().len(),
        7,
        "exactly the seven admitted items were written (a: 3, b: 2, shared: 2): {:?}",
        env.s3_writes()
    );
    let (enc, pab, policy) = state(&shared).await;
    assert_eq!(
        enc,
        common::new_bucket_encryption().map(|e| e.0),
        "held stays held"
    );
    assert_eq!(pab, Some([true; 4]));
    assert!(policy.unwrap().to_string().contains("PartnerRead"));

    // The change record: one per write, with the plan as the reference.
    let history = env.history(&[]);
    assert_eq!(history.len(), 7, "{history:#?}");
    assert!(
        history
            .iter()
            .all(|r| r["trigger"]["kind"] == "plan-applied"
                && r["trigger"]["reference"] == plan["id"]
                && r["status"] == "remediated")
    );
    let policy_change = history
        .iter()
        .find(|r| r["bucket"] == a.as_str() && r["control"] == "tls-only")
        .unwrap();
    assert!(
        policy_change["before"]
            .as_str()
            .unwrap()
            .contains("AnalyticsRead"),
        "the whole policy before"
    );
    assert!(
        policy_change["after"]
            .as_str()
            .unwrap()
            .contains("aws:SecureTransport")
    );

    // The same plan again: every item's bucket has changed since (it was applied).
    let again = env.run(
        &[
            "apply",
            "--plan",
            file.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
    );
    assert_eq!(again.code, Some(3), "{}", again.stderr);
    assert_eq!(env.s3_writes().len(), 7, "a second apply writes nothing");
}

#[tokio::test]
async fn old_foreign_or_malformed_plans_are_refused_before_any_call() {
    let env = Env::new("refuse").await;
    env.bucket("x").await;
    let out = env.run(&["plan", "--format", "json"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let plan = out.report();
    let file = env.dir.path().join("plan.json");

    let mut old = plan.clone();
    old["created_at"] = json!("2020-01-01T00:00:00.000Z");
    write(&file, &old);
    env.proxy.reset();
    let out = env.run(&["apply", "--plan", file.to_str().unwrap()], &[]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains("older than --max-age 24h"),
        "{}",
        out.stderr
    );
    assert!(env.proxy.log().is_empty(), "no AWS call for a stale plan");

    let mut other = plan.clone();
    other["schema"] = json!("rekognition-guard/plan/v0");
    write(&file, &other);
    let out = env.run(&["apply", "--plan", file.to_str().unwrap()], &[]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("is not \"rekognition-guard/plan/v1\""));

    let mut foreign = plan.clone();
    foreign["account"] = json!("999999999999");
    write(&file, &foreign);
    env.proxy.reset();
    let out = env.run(&["apply", "--plan", file.to_str().unwrap()], &[]);
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains("the plan was made from account 999999999999"),
        "{}",
        out.stderr
    );
    assert!(env.s3_writes().is_empty());

    let out = env.run(&["history", "--since", "last tuesday"], &[]);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("--since"), "{}", out.stderr);
}

/// A bucket as a team left it: SSE-S3, two of four flags, a policy written by hand.
const HAND_WRITTEN: &str = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Sid\": \"Reader\", \"Effect\": \"Allow\", \"Principal\": {\"AWS\": \"arn:aws:iam::123456789012:role/reader\"}, \"Action\": \"s3:GetObject\", \"Resource\": \"arn:aws:s3:::BUCKET/*\"}\n  ]\n}";

async fn hand_configured(env: &Env, name: &str) -> (String, String) {
    let bucket = env.bucket(name).await;
    let s3 = common::s3(REGION).await;
    common::put_encryption(&s3, &bucket, "AES256", None, false).await;
    s3.put_public_access_block()
        .bucket(&bucket)
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .block_public_policy(false)
                .ignore_public_acls(true)
                .restrict_public_buckets(false)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let policy = HAND_WRITTEN.replace("BUCKET", &bucket);
    s3.put_bucket_policy()
        .bucket(&bucket)
        .policy(&policy)
        .send()
        .await
        .unwrap();
    (bucket, policy)
}

async fn raw_policy(bucket: &str) -> Option<String> {
    common::s3(REGION)
        .await
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .ok()
        .and_then(|o| o.policy().map(str::to_owned))
}

#[tokio::test]
async fn undo_puts_back_exactly_what_was_there_once() {
    let env = Env::new("undo").await;
    let (bucket, policy) = hand_configured(&env, "team").await;
    assert_eq!(
        raw_policy(&bucket).await.as_deref(),
        Some(policy.as_str()),
        "the emulator keeps a policy byte for byte (S3 itself may re-serialise it)"
    );
    let event = env.dir.path().join("event.json");
    let mut e = common::console_event(&bucket);
    e["detail"]["requestParameters"]["bucketName"] = json!(bucket);
    std::fs::write(&event, e.to_string()).unwrap();
    let out = env.run(
        &[
            "invoke",
            "--event",
            event.to_str().unwrap(),
            "--format",
            "json",
        ],
        &[("GUARD_BUCKET_PREFIXES", env.prefix.as_str())],
    );
    let report = out.report();
    assert_eq!(out.code, Some(0), "{report:#}\n{}", out.stderr);
    let recorded = report["change_record"]["recorded"].as_array().unwrap();
    assert_eq!(recorded.len(), 3, "{report:#}");
    assert_eq!(report["change_record"]["store"], env.history_file());

    let history = env.history(&["--bucket", &bucket]);
    assert_eq!(history.len(), 3);
    for r in &history {
        assert_eq!(r["action"], "remediate");
        assert_eq!(r["trigger"]["event_name"], "CreateBucket");
        assert_eq!(
            r["trigger"]["principal"], "arn:aws:sts::123456789012:assumed-role/Admin/alice",
            "the principal whose call triggered it"
        );
        assert!(r["written_by"].as_str().unwrap().starts_with("arn:aws:"));
    }
    let id_of = |control: &str| {
        history.iter().find(|r| r["control"] == control).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (enc, pab, _) = state(&bucket).await;
    assert_eq!(enc.as_deref(), Some("aws:kms"));
    assert_eq!(pab, Some([true; 4]));

    // Undo each: read back exactly as before.
    for c in ["tls-only", "public-access-block", "sse-kms"] {
        let out = env.run(&["undo", "--change", &id_of(c)], &[]);
        let result = out.report();
        assert_eq!(out.code, Some(0), "{result:#}\n{}", out.stderr);
        assert_eq!(result[0]["status"], "restored", "{result:#}");
        let warnings = result[0]["warnings"].to_string();
        assert!(
            warnings.contains("rekognition-guard:exempt=true"),
            "{warnings}"
        );
        if c == "sse-kms" {
            assert!(warnings.contains("stay encrypted under"), "{warnings}");
        }
    }
    assert_eq!(
        raw_policy(&bucket).await.as_deref(),
        Some(policy.as_str()),
        "the policy document byte for byte"
    );
    let (enc, pab, _) = state(&bucket).await;
    assert_eq!(enc.as_deref(), Some("AES256"));
    assert_eq!(pab, Some([true, true, false, false]));

    // A second undo of the same change is refused, and writes nothing.
    env.proxy.reset();
    let out = env.run(&["undo", "--change", &id_of("tls-only")], &[]);
    assert_eq!(out.code, Some(1));
    let result = out.report();
    assert_eq!(result[0]["status"], "refused");
    assert!(
        result[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("already undone by chg-"),
        "{result:#}"
    );
    assert!(env.s3_writes().is_empty());

    // history: the remediation and the undo, with their principals.
    let history = env.history(&["--bucket", &bucket]);
    assert_eq!(history.len(), 6);
    let undos: Vec<&Value> = history.iter().filter(|r| r["action"] == "undo").collect();
    assert_eq!(undos.len(), 3);
    for u in &undos {
        assert_eq!(u["trigger"]["kind"], "undo");
        assert_eq!(u["status"], "restored");
        assert!(
            u["trigger"]["principal"]
                .as_str()
                .unwrap()
                .starts_with("arn:aws:")
        );
        assert!(history.iter().any(|r| r["id"] == u["undoes"]));
    }
    let csv = env.run(&["history", "--format", "csv", "--bucket", &bucket], &[]);
    assert_eq!(csv.stdout.lines().count(), 7, "{}", csv.stdout);
    assert!(
        csv.stdout
            .starts_with("id,time,account,region,bucket,control,action,status,trigger,principal\n")
    );
    let table = env.run(&["history", "--format", "table", "--bucket", &bucket], &[]);
    assert!(table.stdout.ends_with("6 change(s)\n"), "{}", table.stdout);
}

#[tokio::test]
async fn undo_refuses_a_resource_changed_after_the_write_unless_forced() {
    let env = Env::new("changed").await;
    let (bucket, policy) = hand_configured(&env, "team").await;
    let out = env.run(&["scan", "--bucket", &bucket, "--format", "json"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let history = env.history(&[]);
    let change = history.iter().find(|r| r["control"] == "tls-only").unwrap();
    assert_eq!(change["trigger"]["kind"], "manual-scan");
    let since = change["time"].as_str().unwrap().to_owned();

    // Someone edits the policy after the guard's write.
    let s3 = common::s3(REGION).await;
    let mut edited: Value = serde_json::from_str(&raw_policy(&bucket).await.unwrap()).unwrap();
    edited["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Sid": "Later", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:role/later"},
            "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{bucket}")}));
    common::put_policy(&s3, &bucket, &edited).await;

    env.proxy.reset();
    let out = env.run(&["undo", "--bucket", &bucket, "--since", &since], &[]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    let results = out.report();
    let tls = results
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["control"] == "tls-only")
        .unwrap();
    assert_eq!(tls["status"], "refused");
    assert!(
        tls["detail"]
            .as_str()
            .unwrap()
            .contains("changed after the guard's write"),
        "{tls}"
    );
    assert!(
        !env.s3_writes().iter().any(|w| w.contains("Policy")),
        "the edited policy is not overwritten: {:?}",
        env.s3_writes()
    );
    // The other two were unchanged and are restored.
    assert_eq!(
        results
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == "restored")
            .count(),
        2
    );

    let out = env.run(
        &[
            "undo",
            "--change",
            change["id"].as_str().unwrap(),
            "--force",
        ],
        &[],
    );
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert_eq!(raw_policy(&bucket).await.as_deref(), Some(policy.as_str()));
}

#[tokio::test]
async fn the_state_table_keeps_the_record_and_a_lost_record_fails_after_the_fix() {
    let env = Env::new("table").await;
    let table = common::unique("rg-state-");
    let ddb = aws_sdk_dynamodb::Client::new(&common::sdk_config().await);
    ddb.create_table()
        .table_name(&table)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let bucket = env.bucket("t").await;
    let out = env.run(
        &["scan", "--bucket", &bucket, "--format", "json"],
        &[("GUARD_STATE_TABLE", &table), ("GUARD_HISTORY_DAYS", "30")],
    );
    let report = out.report();
    assert_eq!(out.code, Some(0), "{report:#}\n{}", out.stderr);
    assert_eq!(
        report["change_record"]["store"],
        format!("dynamodb:{table}")
    );
    // One item per change, its TTL 30 days on.
    let items = ddb.scan().table_name(&table).send().await.unwrap();
    let changes: Vec<_> = items
        .items()
        .iter()
        .filter(|i| i["pk"].as_s().unwrap().starts_with("change#"))
        .collect();
    assert_eq!(changes.len(), 3);
    let expires: u64 = changes[0]["expires_at"].as_n().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!((now + 29 * 86_400..=now + 31 * 86_400).contains(&expires));
    let out = env.run(
        &["history", "--format", "json", "--bucket", &bucket],
        &[("GUARD_STATE_TABLE", &table)],
    );
    assert_eq!(out.report().as_array().unwrap().len(), 3);
    assert!(
        !Path::new(&env.history_file()).exists(),
        "no local file with a table"
    );

    // A table that does not exist: the fix is made and verified, the run fails (1).
    let other = env.bucket("lost").await;
    let out = env.run(
        &["scan", "--bucket", &other, "--format", "json"],
        &[("GUARD_STATE_TABLE", "rg-no-such-table")],
    );
    let report = out.report();
    assert_eq!(out.code, Some(1), "{report:#}");
    assert!(
        report["change_record"]["error"]
            .as_str()
            .unwrap()
            .contains("ResourceNotFoundException"),
        "{report:#}"
    );
    assert_eq!(control(&report, &other, "sse-kms")["status"], "remediated");
    let (enc, pab, policy) = state(&other).await;
    assert_eq!(enc.as_deref(), Some("aws:kms"));
    assert_eq!(pab, Some([true; 4]));
    assert!(denies_plain_http(&policy));
}

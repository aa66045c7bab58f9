//! Organization scope end to end against moto: an organization with member accounts,
//! buckets created in the members with their own credentials, SQS batches of forwarded
//! events through the built binary, state read back with each member's credentials, and
//! AssumeRole counted (and refused) at a fault proxy in front of the emulator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use common::proxy::Proxy;
use common::{Moto, REGION};
use serde_json::{Value, json};
use std::process::Command;

const OTHER_REGION: &str = "eu-west-1";
const OUTSIDE: &str = "999999999999";
const MANAGEMENT: &str = "123456789012";

/// One organization in a private emulator, with a proxy in front of it.
struct World {
    moto: Moto,
    proxy: Proxy,
    conf: aws_config::SdkConfig,
    /// Member accounts: a (events), b (another Region), c (role refused), d (below a
    /// nested excluded OU).
    a: String,
    b: String,
    c: String,
    d: String,
    excluded_ou: String,
    alerts_topic: String,
    alerts_queue: String,
}

impl World {
    async fn new() -> World {
        let moto = Moto::start();
        let proxy = Proxy::start(&moto.endpoint);
        let conf = common::sdk_config_for(&moto).await;
        let org = aws_sdk_organizations::Client::new(&conf);
        let root = common::org::create(&org).await;
        // Rekognition opted out at the root, as a well-run organization has it.
        common::org::opt_out_everything(&org, &root).await;
        let excluded_ou = common::org::ou(&org, &root, "sandbox").await;
        let nested = common::org::ou(&org, &excluded_ou, "experiments").await;
        let mut ids = Vec::new();
        for (name, parent) in [
            ("member-a", &root),
            ("member-b", &root),
            ("member-c", &root),
            ("member-d", &nested),
        ] {
            ids.push(common::org::account(&org, name, &root, parent).await);
        }
        let (alerts_topic, alerts_queue) = common::topic_with_queue_in(&conf).await;
        World {
            moto,
            proxy,
            conf,
            a: ids[0].clone(),
            b: ids[1].clone(),
            c: ids[2].clone(),
            d: ids[3].clone(),
            excluded_ou,
            alerts_topic,
            alerts_queue,
        }
    }

    /// Credentials that act in `account` (moto scopes state by the caller's account).
    async fn member_conf(&self, account: &str) -> aws_config::SdkConfig {
        common::org::member_conf(&self.conf, &self.moto.endpoint, account).await
    }

    async fn s3(&self, account: &str, region: &str) -> aws_sdk_s3::Client {
        let conf = if account == MANAGEMENT {
            self.conf.clone()
        } else {
            self.member_conf(account).await
        };
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&conf)
                .region(aws_sdk_s3::config::Region::new(region.to_owned()))
                .force_path_style(true)
                .build(),
        )
    }

    async fn bucket(&self, account: &str, region: &str, name: &str) {
        let s3 = self.s3(account, region).await;
        let mut req = s3.create_bucket().bucket(name);
        if region != "us-east-1" {
            req = req.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                    .build(),
            );
        }
        req.send().await.unwrap();
    }

    /// (encryption algorithm, all four Block Public Access flags, a TLS-only statement),
    /// read with the account's own credentials.
    async fn state(&self, account: &str, region: &str, name: &str) -> (Option<String>, bool, bool) {
        let s3 = self.s3(account, region).await;
        let enc = common::read_encryption(&s3, name).await.map(|e| e.0);
        let pab = s3
            .get_public_access_block()
            .bucket(name)
            .send()
            .await
            .ok()
            .and_then(|o| o.public_access_block_configuration().cloned())
            .is_some_and(|c| {
                c.block_public_acls() == Some(true)
                    && c.ignore_public_acls() == Some(true)
                    && c.block_public_policy() == Some(true)
                    && c.restrict_public_buckets() == Some(true)
            });
        let tls = s3
            .get_bucket_policy()
            .bucket(name)
            .send()
            .await
            .ok()
            .and_then(|o| o.policy().map(str::to_owned))
            .is_some_and(|p| p.contains("aws:SecureTransport"));
        (enc, pab, tls)
    }

    fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.proxy.env();
        env.extend(
            [
                ("GUARD_SCOPE", "organization"),
                ("GUARD_ALERT_TOPIC_ARN", self.alerts_topic.as_str()),
                ("GUARD_OUS_EXCLUDE", self.excluded_ou.as_str()),
                ("GUARD_OPT_OUT_CACHE_SECONDS", "900"),
            ]
            .iter()
            .chain(extra)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        env
    }

    /// Runs the binary with `args`; (exit code, stdout JSON, stderr).
    fn run(
        &self,
        args: &[&str],
        stdin: Option<&Value>,
        extra: &[(&str, &str)],
    ) -> (i32, Value, String) {
        let dir = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        if let Some(event) = stdin {
            let path = dir.path().join("event.json");
            std::fs::write(&path, event.to_string()).unwrap();
            args.extend([
                "invoke".to_owned(),
                "--event".to_owned(),
                path.display().to_string(),
            ]);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_rekognition-guard"))
            .args(&args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env(extra))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        (
            out.status.code().unwrap_or(-1),
            serde_json::from_str(&stdout).unwrap_or(Value::String(stdout)),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    }

    /// The queue the function consumes (`GUARD_WORK_QUEUE_URL`), in the guard account.
    async fn work_queue(&self) -> String {
        aws_sdk_sqs::Client::new(&self.conf)
            .create_queue()
            .queue_name("rekognition-guard-work")
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_owned()
    }

    async fn alerts(&self) -> Vec<Value> {
        common::drain_in(&self.conf, &self.alerts_queue).await
    }

    /// The role ARNs AssumeRole was asked for, at the proxy.
    fn assumed(&self) -> Vec<String> {
        self.proxy
            .log()
            .iter()
            .filter(|e| e["operation"] == "AssumeRole")
            .filter_map(|e| {
                let body = e["body_excerpt"].as_str()?;
                let start = body.find("RoleArn=")? + "RoleArn=".len();
                Some(body[start..].split('&').next()?.to_owned())
            })
            .collect()
    }
}

/// A CloudTrail `CreateBucket` as a member forwards it (account, Region and detail unchanged).
fn create_bucket(account: &str, recipient: &str, bucket: &str, region: &str) -> Value {
    let mut e = common::console_event(bucket);
    e["account"] = json!(account);
    e["region"] = json!(region);
    e["detail"]["recipientAccountId"] = json!(recipient);
    e["detail"]["awsRegion"] = json!(region);
    e["detail"]["userIdentity"]["accountId"] = json!(OUTSIDE);
    e
}

fn project_version(account: &str, bucket: &str, region: &str) -> Value {
    // The record as that account's CloudTrail writes it: its ARNs name the account and Region.
    let text = common::sample("create-project-version-no-kms.json")
        .to_string()
        .replace(common::ACCOUNT, account)
        .replace("us-east-1", region);
    let mut e: Value = serde_json::from_str(&text).unwrap();
    e["detail"]["requestParameters"]["outputConfig"]["s3Bucket"] = json!(bucket);
    if let Some(p) = e["detail"]["requestParameters"].as_object_mut() {
        p.remove("trainingData");
        p.remove("testingData");
    }
    e
}

/// An SQS event as the event source mapping delivers it: one record per body.
fn sqs_batch(bodies: &[(&str, String)]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .map(|(id, body)| {
            json!({"messageId": id, "receiptHandle": format!("rh-{id}"), "body": body,
                   "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                   "md5OfBody": "", "eventSource": "aws:sqs",
                   "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:rekognition-guard-work",
                   "awsRegion": "us-east-1"})
        })
        .collect();
    json!({"Records": records})
}

fn report_of<'a>(out: &'a Value, id: &str) -> &'a Value {
    out["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["message_id"] == id)
        .unwrap_or_else(|| panic!("no report for {id} in {out:#}"))
}

fn statuses(report: &Value, resource: &str) -> Vec<(String, String)> {
    report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["id"] == resource)
        .flat_map(|r| r["controls"].as_array().unwrap().clone())
        .map(|c| {
            (
                c["control"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn all_remediated(report: &Value, bucket: &str) {
    let got = statuses(report, bucket);
    let want: Vec<(String, String)> = ["sse-kms", "public-access-block", "tls-only"]
        .iter()
        .map(|c| ((*c).to_owned(), "remediated".to_owned()))
        .collect();
    assert_eq!(got, want, "{report:#}");
}

/// A bucket as S3 creates it (default encryption SSE-S3, no Block Public Access, no policy)
/// and as the function must leave it when it may not write.
fn untouched() -> (Option<String>, bool, bool) {
    (Some("AES256".to_owned()), false, false)
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_batch_is_gated_and_remediated_through_member_roles() {
    let w = World::new().await;
    let bucket_a = "custom-labels-console-us-east-1-member-a";
    let bucket_b = "acme-output-member-b";
    let bucket_c = "custom-labels-console-us-east-1-member-c";
    let bucket_d = "custom-labels-console-us-east-1-member-d";
    let bucket_out = "custom-labels-console-us-east-1-outside";
    let bucket_mis = "custom-labels-console-us-east-1-mismatch";
    let bucket_custom = "custom-labels-console-us-east-1-custom";
    w.bucket(&w.a, REGION, bucket_a).await;
    w.bucket(&w.b, OTHER_REGION, bucket_b).await;
    w.bucket(&w.c, REGION, bucket_c).await;
    w.bucket(&w.d, REGION, bucket_d).await;
    w.bucket(OUTSIDE, REGION, bucket_out).await;
    w.bucket(&w.a, REGION, bucket_mis).await;
    w.bucket(&w.a, REGION, bucket_custom).await;

    let mut custom = create_bucket(&w.a, &w.a, bucket_custom, REGION);
    custom["source"] = json!("acme.custom");
    let batch = sqs_batch(&[
        (
            "m-a",
            create_bucket(&w.a, &w.a, bucket_a, REGION).to_string(),
        ),
        (
            "m-b",
            project_version(&w.b, bucket_b, OTHER_REGION).to_string(),
        ),
        (
            "m-c",
            create_bucket(&w.c, &w.c, bucket_c, REGION).to_string(),
        ),
        (
            "m-d",
            create_bucket(&w.d, &w.d, bucket_d, REGION).to_string(),
        ),
        (
            "m-outside",
            create_bucket(OUTSIDE, OUTSIDE, bucket_out, REGION).to_string(),
        ),
        (
            "m-mismatch",
            create_bucket(&w.a, &w.b, bucket_mis, REGION).to_string(),
        ),
        ("m-custom", custom.to_string()),
        ("m-garbage", "{not json".to_owned()),
    ]);
    // Member C has not deployed the member role.
    w.proxy.set_rules(
        json!([{"operation": "AssumeRole", "fault": "access-denied-403",
                               "body_contains": format!(":{}:", w.c)}]),
    );

    let (code, out, stderr) = w.run(&[], Some(&batch), &[]);
    assert_eq!(
        code, 1,
        "the refused member's record fails: {stderr}\n{out:#}"
    );
    assert_eq!(
        out["batchItemFailures"],
        json!([{"itemIdentifier": "m-c"}]),
        "{out:#}"
    );

    all_remediated(report_of(&out, "m-a"), bucket_a);
    all_remediated(report_of(&out, "m-b"), bucket_b);
    assert_eq!(report_of(&out, "m-a")["trigger"]["account"], json!(w.a));
    for resource in report_of(&out, "m-b")["resources"].as_array().unwrap() {
        assert_eq!(
            resource["account"],
            json!(w.b),
            "every resource names its account"
        );
    }
    let c = report_of(&out, "m-c");
    let role_c = format!("arn:aws:iam::{}:role/RekognitionGuardMember", w.c);
    assert_eq!(
        statuses(c, &w.c),
        [("member-access".to_owned(), "failed".to_owned())]
    );
    assert!(c.to_string().contains(&role_c), "{c:#}");
    for (id, needle) in [
        ("m-d", "below the excluded OU"),
        ("m-outside", "not a member of organization"),
        ("m-mismatch", "differs from detail.recipientAccountId"),
        ("m-custom", "not one the central rule forwards"),
        ("m-garbage", "bad input"),
    ] {
        let r = report_of(&out, id);
        assert_eq!(r["trigger"]["kind"], "ignored", "{id}: {r:#}");
        let reason = r["trigger"]["ignored_reason"].as_str().unwrap();
        assert!(reason.contains(needle), "{id}: {reason}");
    }

    // State read back with each member's own credentials.
    for (account, region, bucket, remediated) in [
        (&w.a, REGION, bucket_a, true),
        (&w.b, OTHER_REGION, bucket_b, true),
        (&w.c, REGION, bucket_c, false),
        (&w.d, REGION, bucket_d, false),
        (&OUTSIDE.to_owned(), REGION, bucket_out, false),
        (&w.a, REGION, bucket_mis, false),
        (&w.a, REGION, bucket_custom, false),
    ] {
        let state = w.state(account, region, bucket).await;
        if remediated {
            assert_eq!(state, (Some("aws:kms".to_owned()), true, true), "{bucket}");
        } else {
            assert_eq!(state, untouched(), "{bucket} must be untouched");
        }
    }

    // No AssumeRole for any rejected record: only A, B (once each) and C's refused try.
    let mut assumed = w.assumed();
    assumed.sort();
    let role = |a: &str| format!("arn:aws:iam::{a}:role/RekognitionGuardMember");
    let mut want = vec![role(&w.a), role(&w.b), role(&w.c)];
    want.sort();
    assert_eq!(assumed, want);

    // The alerts: A and B remediated; C not onboarded (naming the role); two forgeries.
    let alerts = w.alerts().await;
    let subjects: Vec<String> = alerts
        .iter()
        .map(|m| m["Subject"].as_str().unwrap_or_default().to_owned())
        .collect();
    let one = |needle: &str| {
        let found: Vec<&Value> = alerts
            .iter()
            .filter(|m| m["Subject"].as_str().unwrap_or_default().contains(needle))
            .collect();
        assert_eq!(found.len(), 1, "one alert with {needle:?}: {subjects:#?}");
        found[0].clone()
    };
    let onboard = one(&format!("account not onboarded: 1 failed in {}/", w.c));
    assert!(onboard["Subject"].as_str().unwrap().starts_with("[HIGH]"));
    assert!(onboard["Message"].as_str().unwrap().contains(&role_c));
    assert!(
        one(&format!(
            "forged-looking record refused: 1 non-compliant in {OUTSIDE}/"
        ))["Subject"]
            .as_str()
            .unwrap()
            .starts_with("[HIGH]")
    );
    one(&format!(
        "forged-looking record refused: 1 non-compliant in {}/",
        w.a
    ));
    one(&format!("3 remediated in {}/us-east-1", w.a));
    one(&format!("in {}/{OTHER_REGION}", w.b));
    let attributes = &onboard["MessageAttributes"];
    assert_eq!(attributes["account"]["Value"], json!(w.c));
    assert_eq!(alerts.len(), 5, "{subjects:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn planner_queues_accounts_by_regions_and_workers_sweep_each_through_its_role() {
    let w = World::new().await;
    let work = w.work_queue().await;
    // Guarded buckets in every member × Region, and one unguarded that must stay so.
    let mut guarded = Vec::new();
    for account in [&w.a, &w.b, &w.c, &w.d] {
        for region in [REGION, OTHER_REGION] {
            let name = format!("acme-ml-{}-{region}", &account[..6]);
            w.bucket(account, region, &name).await;
            guarded.push((account.clone(), region, name));
        }
    }
    w.bucket(&w.a, REGION, "unguarded-member-a").await;
    let env = [
        ("GUARD_REGIONS", "us-east-1,eu-west-1"),
        ("GUARD_WORK_QUEUE_URL", work.as_str()),
        ("GUARD_BUCKET_PREFIXES", "acme-ml-"),
    ];
    w.proxy.set_rules(
        json!([{"operation": "AssumeRole", "fault": "access-denied-403",
                               "body_contains": format!(":{}:", w.c)}]),
    );

    // Planner: the scheduled event.
    let (code, report, stderr) = w.run(&[], Some(&common::sample("scheduled-scan.json")), &env);
    assert_eq!(code, 0, "{stderr}\n{report:#}");
    let plan = &report["resources"][0]["controls"][0];
    assert_eq!(plan["control"], "sweep-plan");
    // The management account, A, B, C (D is below the excluded OU) × 2 Regions.
    assert!(
        plan["detail"]
            .as_str()
            .unwrap()
            .starts_with("queued 8 of 8 work items: 4 accounts x 2 Regions"),
        "{plan:#}"
    );
    let items = common::drain_in(&w.conf, &work).await;
    let mut labels: Vec<String> = items
        .iter()
        .map(|i| {
            assert_eq!(i["rekognition-guard"], "sweep/1");
            format!(
                "{}/{}",
                i["account"].as_str().unwrap(),
                i["region"].as_str().unwrap()
            )
        })
        .collect();
    labels.sort();
    let mut want: Vec<String> = [MANAGEMENT, &w.a, &w.b, &w.c]
        .iter()
        .flat_map(|a| [format!("{a}/{REGION}"), format!("{a}/{OTHER_REGION}")])
        .collect();
    want.sort();
    assert_eq!(labels, want);
    assert!(w.assumed().is_empty(), "the planner assumes no role");

    // Workers: the queued items as one SQS batch.
    let bodies: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            (
                format!(
                    "{}/{}",
                    i["account"].as_str().unwrap(),
                    i["region"].as_str().unwrap()
                ),
                i.to_string(),
            )
        })
        .collect();
    let refs: Vec<(&str, String)> = bodies
        .iter()
        .map(|(id, b)| (id.as_str(), b.clone()))
        .collect();
    let (code, out, stderr) = w.run(&[], Some(&sqs_batch(&refs)), &env);
    assert_eq!(code, 1, "{stderr}");
    let mut failures: Vec<String> = out["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect();
    failures.sort();
    assert_eq!(
        failures,
        [
            format!("{}/{OTHER_REGION}", w.c),
            format!("{}/{REGION}", w.c)
        ]
    );
    for (account, region, bucket) in &guarded {
        let state = w.state(account, region, bucket).await;
        if *account == w.a || *account == w.b {
            assert_eq!(state, (Some("aws:kms".to_owned()), true, true), "{bucket}");
            // Each item swept its own Region only.
            let r = report_of(&out, &format!("{account}/{region}"));
            all_remediated(r, bucket);
            assert_eq!(
                statuses(
                    r,
                    &format!(
                        "acme-ml-{}-{}",
                        &account[..6],
                        if *region == REGION {
                            OTHER_REGION
                        } else {
                            REGION
                        }
                    )
                ),
                []
            );
        } else {
            assert_eq!(state, untouched(), "{bucket}: C refused, D excluded");
        }
    }
    assert_eq!(
        w.state(&w.a, REGION, "unguarded-member-a").await,
        untouched()
    );
    let alerts = w.alerts().await;
    let onboarding = alerts
        .iter()
        .filter(|m| {
            m["Subject"]
                .as_str()
                .unwrap_or_default()
                .contains("account not onboarded")
        })
        .count();
    assert_eq!(onboarding, 2, "one per refused account × Region");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_out_of_time_requeues_the_rest_and_the_next_pass_finishes() {
    let w = World::new().await;
    let work = w.work_queue().await;
    let names: Vec<String> = (0..10).map(|i| format!("acme-ml-big-{i:02}")).collect();
    for name in &names {
        w.bucket(&w.a, REGION, name).await;
    }
    let env = [
        ("GUARD_WORK_QUEUE_URL", work.as_str()),
        ("GUARD_BUCKET_PREFIXES", "acme-ml-"),
        ("GUARD_SCAN_CONCURRENCY", "1"),
    ];
    let item = json!({"rekognition-guard": "sweep/1", "account": w.a, "region": REGION, "sweep_id": "s-big"});
    // Every S3 request takes 150 ms: a 4-second invocation reaches only some buckets.
    w.proxy.set_rules(
        json!([{"operation": "*", "service": "s3", "fault": "delay", "delay_seconds": 0.15}]),
    );
    let (code, out, stderr) = w.run(
        &["--deadline-seconds", "4"],
        Some(&sqs_batch(&[("m-1", item.to_string())])),
        &env,
    );
    assert_eq!(
        code, 0,
        "the record is acknowledged, its rest re-queued: {stderr}\n{out:#}"
    );
    assert_eq!(out["batchItemFailures"], json!([]));
    let report = report_of(&out, "m-1");
    let done: Vec<String> = names
        .iter()
        .filter(|n| !statuses(report, n).is_empty())
        .cloned()
        .collect();
    let queued = common::drain_in(&w.conf, &work).await;
    assert_eq!(queued.len(), 1, "{queued:#?}");
    let rest: Vec<String> = queued[0]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap().to_owned())
        .collect();
    assert!(
        !done.is_empty() && !rest.is_empty(),
        "done {done:?}, rest {rest:?}"
    );
    let mut all: Vec<String> = done.iter().chain(&rest).cloned().collect();
    all.sort();
    assert_eq!(all, names, "every bucket is either done or re-queued, once");
    for name in &rest {
        assert_eq!(
            w.state(&w.a, REGION, name).await,
            untouched(),
            "{name} not reached yet"
        );
    }

    // The second pass takes the re-queued item and finishes.
    w.proxy.set_rules(json!([]));
    let (code, out, stderr) = w.run(
        &[],
        Some(&sqs_batch(&[("m-2", queued[0].to_string())])),
        &env,
    );
    assert_eq!(code, 0, "{stderr}\n{out:#}");
    for name in &names {
        assert_eq!(
            w.state(&w.a, REGION, name).await,
            (Some("aws:kms".to_owned()), true, true),
            "{name}"
        );
    }
    assert!(common::drain_in(&w.conf, &work).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_org_reads_members_through_their_roles_and_apply_writes_only_the_plan() {
    let w = World::new().await;
    let mut guarded = Vec::new();
    for account in [&w.a, &w.b, &w.d] {
        for region in [REGION, OTHER_REGION] {
            let name = format!("acme-ml-plan-{}-{region}", &account[..6]);
            w.bucket(account, region, &name).await;
            guarded.push((account.clone(), region, name));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.jsonl");
    let history = history.to_str().unwrap();
    let env = [
        ("GUARD_BUCKET_PREFIXES", "acme-ml-"),
        ("GUARD_HISTORY_FILE", history),
    ];
    w.proxy.reset();
    let (code, plan, stderr) = w.run(
        &[
            "plan",
            "--org",
            "--regions",
            "us-east-1,eu-west-1",
            "--format",
            "json",
        ],
        None,
        &env,
    );
    assert_eq!(code, 0, "{stderr}\n{plan:#}");
    assert_eq!(plan["scope"], "organization");
    let writes: Vec<Value> = w
        .proxy
        .log()
        .into_iter()
        .filter(|e| e["service"] == "s3" && e["write"] == true)
        .collect();
    assert!(writes.is_empty(), "plan wrote: {writes:?}");
    assert!(
        w.assumed().iter().any(|r| r.contains(&w.a))
            && w.assumed().iter().any(|r| r.contains(&w.b)),
        "members read through their roles: {:?}",
        w.assumed()
    );
    let changes = plan["changes"].as_array().unwrap();
    for (account, region, bucket) in &guarded {
        let n = changes
            .iter()
            .filter(|c| {
                c["account"] == account.as_str()
                    && c["region"] == *region
                    && c["bucket"] == bucket.as_str()
            })
            .count();
        assert_eq!(n, if *account == w.d { 0 } else { 3 }, "{bucket}: {plan:#}");
    }
    // Only member a is approved: the plan is edited down, as a reviewer may.
    let mut reviewed = plan.clone();
    reviewed["changes"] = Value::Array(
        changes
            .iter()
            .filter(|c| c["account"] == w.a.as_str())
            .cloned()
            .collect(),
    );
    let file = dir.path().join("plan.json");
    std::fs::write(&file, reviewed.to_string()).unwrap();
    let (code, out, stderr) = w.run(
        &[
            "apply",
            "--plan",
            file.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
        &env,
    );
    assert_eq!(code, 0, "{stderr}\n{out:#}");
    for (account, region, bucket) in &guarded {
        let want = if *account == w.a {
            (Some("aws:kms".to_owned()), true, true)
        } else {
            untouched()
        };
        assert_eq!(w.state(account, region, bucket).await, want, "{bucket}");
    }
    // The change record names each member account and the member role that wrote.
    let records: Vec<Value> = std::fs::read_to_string(history)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 6, "{records:#?}");
    for r in &records {
        assert_eq!(r["account"], w.a.as_str());
        assert_eq!(r["trigger"]["kind"], "plan-applied");
        assert!(
            r["written_by"].as_str().unwrap().contains(&w.a),
            "written in the member account: {r}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scope_rules_audit_an_ou_remediate_a_nested_one_and_audit_one_control() {
    let w = World::new().await;
    let org = aws_sdk_organizations::Client::new(&w.conf);
    let roots = org.list_roots().send().await.unwrap();
    let root = roots.roots()[0].id().unwrap().to_owned();
    let rollout = common::org::ou(&org, &root, "rollout").await;
    let critical = common::org::ou(&org, &rollout, "critical").await;
    let e = common::org::account(&org, "member-e", &root, &rollout).await;
    let f = common::org::account(&org, "member-f", &root, &critical).await;
    let (be, bf) = ("acme-ml-rollout-e", "acme-ml-rollout-f");
    w.bucket(&e, REGION, be).await;
    w.bucket(&f, REGION, bf).await;
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.json");
    std::fs::write(
        &rules,
        json!({"rules": [
            {"ou": rollout, "mode": "audit"},
            {"ou": critical, "mode": "remediate"},
            {"account": f, "mode": "audit", "controls": ["tls-only"]}]})
        .to_string(),
    )
    .unwrap();
    w.proxy.reset();
    let (code, out, stderr) = w.run(
        &[
            "scan",
            "--org",
            "--account",
            &e,
            "--account",
            &f,
            "--rules",
            rules.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
        &[("GUARD_BUCKET_PREFIXES", "acme-ml-")],
    );
    assert_eq!(code, 3, "{stderr}\n{out:#}");
    let results = out["reports"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["resources"].as_array().unwrap())
        .filter(|r| r["type"] == "s3-bucket")
        .flat_map(|r| r["controls"].as_array().unwrap())
        .count();
    assert_eq!(results, 6, "{out:#}");
    let of = |bucket: &str, control: &str| -> Value {
        out["reports"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["resources"].as_array().unwrap())
            .find(|r| r["id"] == bucket)
            .unwrap()["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["control"] == control)
            .unwrap()
            .clone()
    };
    // e: in the audited OU: nothing written, would-remediate, the rule named.
    for c in ["sse-kms", "public-access-block", "tls-only"] {
        let r = of(be, c);
        assert_eq!(r["status"], "would-remediate", "{r}");
        assert!(
            r["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("by rules[0] (ou {rollout}: audit)")),
            "{r}"
        );
    }
    assert_eq!(w.state(&e, REGION, be).await, untouched());
    // f: the nested OU overrides its parent; its own account rule audits tls-only.
    assert_eq!(of(bf, "sse-kms")["status"], "remediated");
    assert!(
        of(bf, "sse-kms")["detail"]
            .as_str()
            .unwrap()
            .ends_with(&format!(
                "(mode remediate, by rules[1] (ou {critical}: remediate))"
            )),
        "{}",
        of(bf, "sse-kms")
    );
    assert_eq!(of(bf, "public-access-block")["status"], "remediated");
    assert_eq!(of(bf, "tls-only")["status"], "would-remediate");
    assert_eq!(
        w.state(&f, REGION, bf).await,
        (Some("aws:kms".to_owned()), true, false)
    );
    let writes: Vec<Value> = w
        .proxy
        .log()
        .into_iter()
        .filter(|e| e["service"] == "s3" && e["write"] == true)
        .collect();
    assert_eq!(
        writes.len(),
        2,
        "f's encryption and flags only: {writes:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grace_event_is_gated_and_remediates_the_members_bucket_through_its_role() {
    let w = World::new().await;
    let (ba, bd) = ("acme-ml-grace-a", "acme-ml-grace-d");
    w.bucket(&w.a, REGION, ba).await;
    w.bucket(&w.d, REGION, bd).await;
    let env = [("GUARD_BUCKET_PREFIXES", "acme-ml-")];
    // What the schedule delivers when the grace of member a's bucket ends.
    let event =
        rekognition_guard::event::grace_event(&w.a, REGION, ba, "rg-grace-test", "rules[0]");
    let (code, report, stderr) = w.run(&[], Some(&event), &env);
    assert_eq!(code, 0, "{stderr}\n{report:#}");
    assert_eq!(report["trigger"]["kind"], "grace-elapsed");
    assert_eq!(
        w.state(&w.a, REGION, ba).await,
        (Some("aws:kms".to_owned()), true, true)
    );
    // An account below an excluded OU: refused by the gate, nothing assumed or written.
    let event =
        rekognition_guard::event::grace_event(&w.d, REGION, bd, "rg-grace-test", "rules[0]");
    w.proxy.reset();
    let (_, report, stderr) = w.run(&[], Some(&event), &env);
    assert!(
        report["trigger"]["ignored_reason"]
            .as_str()
            .is_some_and(|r| r.contains("excluded")),
        "{stderr}\n{report:#}"
    );
    assert!(
        w.assumed().is_empty(),
        "no role assumed for a refused account"
    );
    assert_eq!(w.state(&w.d, REGION, bd).await, untouched());
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_org_reaches_the_same_end_state_in_one_process() {
    let w = World::new().await;
    let mut guarded = Vec::new();
    for account in [&w.a, &w.b, &w.d] {
        for region in [REGION, OTHER_REGION] {
            let name = format!("acme-ml-scan-{}-{region}", &account[..6]);
            w.bucket(account, region, &name).await;
            guarded.push((account.clone(), region, name));
        }
    }
    let env = [("GUARD_BUCKET_PREFIXES", "acme-ml-")];
    let (code, table, stderr) = w.run(
        &[
            "scan",
            "--org",
            "--regions",
            "us-east-1,eu-west-1",
            "--format",
            "table",
        ],
        None,
        &env,
    );
    let table = table
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| table.to_string());
    assert_eq!(code, 0, "{stderr}\n{table}");
    assert!(table.contains("4 accounts x 2 Regions"), "{table}");
    for region in [REGION, OTHER_REGION] {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("{}/{region}", w.a)))
            .unwrap_or_else(|| panic!("{table}"));
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(&cols[1..5], ["1", "3", "0", "0"], "{row}");
    }
    for (account, region, bucket) in &guarded {
        let want = if *account == w.d {
            untouched()
        } else {
            (Some("aws:kms".to_owned()), true, true)
        };
        assert_eq!(w.state(account, region, bucket).await, want, "{bucket}");
    }
    // A bad --account is refused before any AWS call.
    let (code, _, stderr) = w.run(&["scan", "--org", "--account", "12"], None, &env);
    assert_eq!(code, 2, "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn findings_go_to_the_member_account_and_drift_there_is_restored_through_its_role() {
    let w = World::new().await;
    let bucket = "custom-labels-console-us-east-1-member-hub";
    w.bucket(&w.a, REGION, bucket).await;
    // Security Hub enabled in member A and in the guard account, as an organization has it.
    let member = w.member_conf(&w.a).await;
    for conf in [&member, &w.conf] {
        aws_sdk_securityhub::Client::new(conf)
            .enable_security_hub()
            .send()
            .await
            .unwrap();
    }
    let env = [("GUARD_SECURITY_HUB", "on")];
    let batch = sqs_batch(&[("m-1", create_bucket(&w.a, &w.a, bucket, REGION).to_string())]);
    let (code, out, stderr) = w.run(&[], Some(&batch), &env);
    assert_eq!(code, 0, "{stderr}\n{out:#}");
    let report = report_of(&out, "m-1");
    all_remediated(report, bucket);
    assert!(
        report["security_hub"]["imported"].as_u64().unwrap_or(0) >= 3,
        "{report:#}"
    );
    let findings = |conf: &aws_config::SdkConfig| {
        let hub = aws_sdk_securityhub::Client::new(conf);
        async move {
            hub.get_findings()
                .max_results(100)
                .send()
                .await
                .unwrap()
                .findings()
                .iter()
                .filter(|f| f.id().unwrap_or_default().starts_with("rekognition-guard/"))
                .map(|f| {
                    (
                        f.aws_account_id().unwrap_or_default().to_owned(),
                        f.compliance()
                            .and_then(|c| c.status())
                            .map(|s| s.as_str().to_owned())
                            .unwrap_or_default(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let in_member = findings(&member).await;
    assert!(
        !in_member.is_empty(),
        "the member's own Security Hub has the findings"
    );
    assert!(
        in_member.iter().all(|(account, _)| *account == w.a),
        "{in_member:?}"
    );
    assert!(
        in_member.iter().filter(|(_, s)| s == "PASSED").count() >= 3,
        "remediated controls are PASSED: {in_member:?}"
    );
    assert!(
        findings(&w.conf).await.is_empty(),
        "nothing about the member lands in the guard account's Security Hub"
    );

    // Drift in the member: someone else deletes the policy; the forwarded event restores it.
    let s3 = w.s3(&w.a, REGION).await;
    s3.delete_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    assert!(!w.state(&w.a, REGION, bucket).await.2);
    let mut drift = common::sample("drift-delete-bucket-policy.json");
    let text = drift
        .to_string()
        .replace(common::ACCOUNT, &w.a)
        .replace("custom-labels-console-us-east-1-3f9a1c2b7d", bucket);
    drift = serde_json::from_str(&text).unwrap();
    let batch = sqs_batch(&[("m-2", drift.to_string())]);
    let (code, out, stderr) = w.run(&[], Some(&batch), &[]);
    assert_eq!(code, 0, "{stderr}\n{out:#}");
    let report = report_of(&out, "m-2");
    assert_eq!(
        report["trigger"]["kind"], "configuration-changed",
        "{report:#}"
    );
    assert!(
        report["trigger"]["change"]["by"]
            .as_str()
            .unwrap_or_default()
            .contains(&w.a),
        "{report:#}"
    );
    assert!(statuses(report, bucket).contains(&("tls-only".to_owned(), "remediated".to_owned())));
    assert!(
        w.state(&w.a, REGION, bucket).await.2,
        "restored in the member account"
    );
    let alerts = w.alerts().await;
    assert!(
        alerts.iter().any(|m| {
            let subject = m["Subject"].as_str().unwrap_or_default();
            subject.contains("tls-only restored") && subject.contains(&w.a)
        }),
        "{alerts:#?}"
    );
}

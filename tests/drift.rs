//! Drift end to end against the emulator: a remediated bucket is weakened in moto by
//! another principal, the matching CloudTrail event (from `events/drift-*.json`) is fed to
//! the handler, and the bucket read back, the report and the alert say what happened.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    SseSpecification, TimeToLiveSpecification,
};
use aws_sdk_s3::types::{PublicAccessBlockConfiguration, Tag, Tagging};
use common::{ACCOUNT, REGION};
use common::{bucket_policy as policy, public_access_block as pab, statements};
use rekognition_guard::aws::clients::Clients;
use rekognition_guard::aws::dynamodb::DynamoRestorations;
use rekognition_guard::config::Config;
use rekognition_guard::event::TriggerKind;
use rekognition_guard::handler::{self, App};
use rekognition_guard::report::{Report, ResourceType, Severity, Status};
use rekognition_guard::state::{Reservation, RestorationLog};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const CI: &str = "arn:aws:sts::123456789012:assumed-role/ci-deploy/pipeline-run-4711";
const CI_IP: &str = "198.51.100.23";
const OWN_ROLE: &str = "rekognition-guard-RemediationRole-1A2B3C4D5E6F";

/// Guards a short prefix too, so drift subjects (at most 100 characters) have room for
/// the bucket, the place and the principal.
const SHORT_PREFIX: &str = "acme-";

fn config() -> Config {
    Config {
        bucket_prefixes: vec![SHORT_PREFIX.to_owned()],
        ..Config::default()
    }
}

async fn app(config: Config) -> App {
    common::app(config, Clients::new(common::sdk_config().await))
}

async fn run(app: &App, event: &Value) -> Report {
    handler::handle(app, event, Instant::now() + Duration::from_secs(60))
        .await
        .unwrap()
}

/// A drift sample, for another bucket.
fn drift_event(sample: &str, bucket: &str) -> Value {
    let mut e = common::sample(sample);
    e["detail"]["requestParameters"]["bucketName"] = json!(bucket);
    e["detail"]["requestParameters"]["Host"] = json!(format!("{bucket}.s3.amazonaws.com"));
    e
}

/// A new guarded bucket brought to the guarded state by its CreateBucket event.
async fn remediated_bucket(tag: &str) -> (String, aws_sdk_s3::Client) {
    let bucket = common::unique(&format!("{SHORT_PREFIX}{tag}"));
    common::s3(REGION)
        .await
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let guard = app(config()).await;
    let report = run(&guard, &common::console_event(&bucket)).await;
    for control in ["sse-kms", "public-access-block", "tls-only"] {
        assert_eq!(
            status(&report, &bucket, control),
            Status::Remediated,
            "{report:#?}"
        );
    }
    (bucket, common::s3(REGION).await)
}

fn result<'a>(
    report: &'a Report,
    id: &str,
    control: &str,
) -> &'a rekognition_guard::report::ControlResult {
    report
        .results()
        .find(|(r, c)| r.id == id && c.control == control)
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("no {control} result for {id}: {report:#?}"))
}

fn status(report: &Report, id: &str, control: &str) -> Status {
    result(report, id, control).status
}

/// Whether the policy read back denies insecure transport on the bucket and its objects.
fn denies_insecure_transport(policy: &Option<Value>, bucket: &str) -> bool {
    let Some(policy) = policy else { return false };
    statements(policy).iter().any(|s| {
        let resources = s["Resource"].to_string();
        s["Effect"] == "Deny"
            && s["Condition"]["Bool"]["aws:SecureTransport"]
                .to_string()
                .contains("false")
            && resources.contains(&format!("arn:aws:s3:::{bucket}\""))
            && resources.contains(&format!("arn:aws:s3:::{bucket}/*"))
    })
}

fn team_statement(bucket: &str) -> Value {
    json!({"Sid": "TeamRead", "Effect": "Allow",
           "Principal": {"AWS": "arn:aws:iam::123456789012:role/ml-team"},
           "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")})
}

/// The six weakening changes, made in moto as another principal would.
async fn weaken(s3: &aws_sdk_s3::Client, bucket: &str, event_name: &str) {
    match event_name {
        "PutBucketPolicy" => {
            let only_team = json!({"Version": "2012-10-17", "Statement": [team_statement(bucket)]});
            s3.put_bucket_policy()
                .bucket(bucket)
                .policy(only_team.to_string())
                .send()
                .await
                .unwrap();
        }
        "DeleteBucketPolicy" => {
            s3.delete_bucket_policy()
                .bucket(bucket)
                .send()
                .await
                .unwrap();
        }
        "PutBucketEncryption" => common::put_encryption(s3, bucket, "AES256", None, false).await,
        "DeleteBucketEncryption" => {
            s3.delete_bucket_encryption()
                .bucket(bucket)
                .send()
                .await
                .unwrap();
        }
        "PutBucketPublicAccessBlock" => {
            s3.put_public_access_block()
                .bucket(bucket)
                .public_access_block_configuration(
                    PublicAccessBlockConfiguration::builder()
                        .block_public_acls(false)
                        .ignore_public_acls(false)
                        .block_public_policy(false)
                        .restrict_public_buckets(false)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
        "DeleteBucketPublicAccessBlock" => {
            s3.delete_public_access_block()
                .bucket(bucket)
                .send()
                .await
                .unwrap();
        }
        other => panic!("no weakening for {other}"),
    }
}

/// The bucket read back is in the guarded state for every control.
async fn assert_guarded(s3: &aws_sdk_s3::Client, bucket: &str) {
    let enc = common::read_encryption(s3, bucket).await;
    assert_eq!(
        enc.as_ref().map(|e| e.0.as_str()),
        Some("aws:kms"),
        "{bucket}: {enc:?}"
    );
    assert_eq!(pab(s3, bucket).await, Some([true; 4]), "{bucket}");
    assert!(
        denies_insecure_transport(&policy(s3, bucket).await, bucket),
        "{bucket}"
    );
}

fn subject_and_body(messages: &[Value]) -> (String, String) {
    assert_eq!(messages.len(), 1, "{messages:#?}");
    (
        messages[0]["Subject"].as_str().unwrap().to_owned(),
        messages[0]["Message"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn each_weakening_change_is_restored_and_names_who_made_it() {
    let (topic, queue) = common::topic_with_queue().await;
    let guard = app(Config {
        alert_topic_arn: Some(topic),
        ..config()
    })
    .await;
    for (sample, event_name, control) in [
        (
            "drift-put-bucket-policy.json",
            "PutBucketPolicy",
            "tls-only",
        ),
        (
            "drift-delete-bucket-policy.json",
            "DeleteBucketPolicy",
            "tls-only",
        ),
        (
            "drift-put-bucket-encryption.json",
            "PutBucketEncryption",
            "sse-kms",
        ),
        (
            "drift-delete-bucket-encryption.json",
            "DeleteBucketEncryption",
            "sse-kms",
        ),
        (
            "drift-put-public-access-block.json",
            "PutBucketPublicAccessBlock",
            "public-access-block",
        ),
        (
            "drift-delete-public-access-block.json",
            "DeleteBucketPublicAccessBlock",
            "public-access-block",
        ),
    ] {
        let (bucket, s3) = remediated_bucket("d").await;
        weaken(&s3, &bucket, event_name).await;
        let event = drift_event(sample, &bucket);
        assert_eq!(event["detail"]["eventName"], event_name);

        let writes = guard.clients.counter().s3_writes();
        let report = run(&guard, &event).await;
        assert_eq!(
            report.trigger.kind,
            TriggerKind::ConfigurationChanged,
            "{sample}"
        );
        let change = report.trigger.change.as_ref().unwrap();
        assert_eq!(change.by, CI, "{sample}");
        assert_eq!(change.source_ip.as_deref(), Some(CI_IP));
        assert_eq!(change.event_time.as_deref(), Some("2026-11-20T10:15:42Z"));
        for other in ["sse-kms", "public-access-block", "tls-only"] {
            let want = if other == control {
                Status::Remediated
            } else {
                Status::Compliant
            };
            assert_eq!(
                status(&report, &bucket, other),
                want,
                "{sample} {other}: {report:#?}"
            );
        }
        // One control written (the policy merge may need its put only).
        assert_eq!(guard.clients.counter().s3_writes() - writes, 1, "{sample}");
        assert_guarded(&s3, &bucket).await;
        // The restoration is in the change record: who changed it, and the full states.
        let recorded = &report.change_record.as_ref().unwrap().recorded;
        assert_eq!(recorded.len(), 1, "{sample}");
        let record: Value = std::fs::read_to_string(common::history_file())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|r| r["id"] == recorded[0].as_str())
            .unwrap();
        assert_eq!(record["control"], control);
        assert_eq!(record["trigger"]["kind"], "configuration-changed");
        assert_eq!(record["trigger"]["event_name"], event_name);
        assert_eq!(record["trigger"]["principal"], CI, "who weakened it");
        assert_ne!(record["before"], record["after"], "{record}");
        if event_name == "PutBucketPolicy" {
            let kept = statements(&policy(&s3, &bucket).await.unwrap());
            assert!(
                kept.contains(&team_statement(&bucket)),
                "the team's statement is kept: {kept:?}"
            );
        }

        let (subject, body) = subject_and_body(&common::drain(&queue).await);
        assert!(subject.len() <= 100, "{subject}");
        assert!(subject.starts_with("[HIGH] "), "{subject}");
        assert!(
            subject.contains(&format!(
                "{control} restored on {bucket} in {ACCOUNT}/{REGION}"
            )),
            "{subject}"
        );
        assert!(
            body.contains(&format!(
                "changed by {CI} from {CI_IP} at 2026-11-20T10:15:42Z\n"
            )),
            "{body}"
        );
        assert!(
            body.contains(&format!("s3-bucket {bucket} {control}: remediated")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn drift_subject_has_the_principal_when_it_fits() {
    let (topic, queue) = common::topic_with_queue().await;
    // A short guarded prefix, as a team naming its own output buckets would have.
    let config = Config {
        alert_topic_arn: Some(topic),
        bucket_prefixes: vec!["acme-".into()],
        ..Config::default()
    };
    let guard = app(config).await;
    let bucket = format!("acme-{}", std::process::id() % 1000);
    let s3 = common::s3(REGION).await;
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let mut created = common::console_event(&bucket);
    created["detail"]["requestParameters"]["bucketName"] = json!(bucket);
    run(&guard, &created).await;
    common::drain(&queue).await;
    weaken(&s3, &bucket, "DeleteBucketPolicy").await;
    run(
        &guard,
        &drift_event("drift-delete-bucket-policy.json", &bucket),
    )
    .await;
    let (subject, _) = subject_and_body(&common::drain(&queue).await);
    assert_eq!(
        subject,
        format!(
            "[HIGH] tls-only restored on {bucket} in {ACCOUNT}/{REGION} after ci-deploy removed it"
        )
    );
}

#[tokio::test]
async fn a_team_adding_its_own_statement_costs_no_write_and_no_alert() {
    let (topic, queue) = common::topic_with_queue().await;
    let guard = app(Config {
        alert_topic_arn: Some(topic),
        ..config()
    })
    .await;
    let (bucket, s3) = remediated_bucket("drift-team-").await;
    let mut doc = policy(&s3, &bucket).await.unwrap();
    let mut all = statements(&doc);
    all.push(team_statement(&bucket));
    doc["Statement"] = json!(all);
    s3.put_bucket_policy()
        .bucket(&bucket)
        .policy(doc.to_string())
        .send()
        .await
        .unwrap();
    let writes = guard.clients.counter().s3_writes();
    let report = run(
        &guard,
        &drift_event("drift-put-bucket-policy.json", &bucket),
    )
    .await;
    assert_eq!(
        guard.clients.counter().s3_writes(),
        writes,
        "no write: {report:#?}"
    );
    for control in ["sse-kms", "public-access-block", "tls-only"] {
        assert_eq!(status(&report, &bucket, control), Status::Compliant);
    }
    assert_eq!(
        policy(&s3, &bucket).await.unwrap(),
        doc,
        "the policy is as the team left it"
    );
    // The account is in no organization (ai-opt-out), but the bucket needs no attention.
    let (_, body) = subject_and_body(&common::drain(&queue).await);
    let summary = body.split("--- report (JSON) ---").next().unwrap();
    assert!(!summary.contains(&bucket), "{summary}");
}

#[tokio::test]
async fn the_functions_own_change_is_ignored_without_touching_s3() {
    // The function runs as the role the sample's principal is a session of.
    let moto = common::moto();
    let sts = aws_sdk_sts::Client::new(&common::sdk_config().await);
    let creds = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{OWN_ROLE}"))
        .role_session_name("rekognition-guard-remediation")
        .send()
        .await
        .unwrap()
        .credentials()
        .cloned()
        .unwrap();
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&moto.endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            Some(creds.session_token().to_owned()),
            None,
            "assumed",
        ))
        .load()
        .await;
    let guard = common::app(config(), Clients::new(conf));

    let (bucket, s3) = remediated_bucket("drift-own-").await;
    weaken(&s3, &bucket, "PutBucketPolicy").await;
    let before = policy(&s3, &bucket).await;
    let report = run(&guard, &drift_event("drift-own-role.json", &bucket)).await;
    assert_eq!(report.trigger.kind, TriggerKind::Ignored);
    let reason = report.trigger.ignored_reason.as_deref().unwrap();
    assert!(
        reason.starts_with("our own change") && reason.contains(OWN_ROLE),
        "{reason}"
    );
    assert!(report.resources.is_empty(), "{report:#?}");
    // GetCallerIdentity twice (account, principal); nothing else, so no S3 request.
    assert_eq!(guard.clients.counter().requests(), 2);
    assert_eq!(guard.clients.counter().s3_writes(), 0);
    assert_eq!(policy(&s3, &bucket).await, before);

    // The same change by someone else is restored.
    let other = run(
        &guard,
        &drift_event("drift-put-bucket-policy.json", &bucket),
    )
    .await;
    assert_eq!(status(&other, &bucket, "tls-only"), Status::Remediated);
}

/// A writer that keeps removing the TLS statement: three restorations, then none.
async fn duel(guards: &[&App], queue: &str) {
    let (bucket, s3) = remediated_bucket("drift-duel-").await;
    common::drain(queue).await;
    let event = drift_event("drift-delete-bucket-policy.json", &bucket);
    for round in 0..3 {
        weaken(&s3, &bucket, "DeleteBucketPolicy").await;
        let report = run(guards[round % guards.len()], &event).await;
        assert_eq!(
            status(&report, &bucket, "tls-only"),
            Status::Remediated,
            "round {round}"
        );
        assert!(denies_insecure_transport(
            &policy(&s3, &bucket).await,
            &bucket
        ));
    }
    assert_eq!(common::drain(queue).await.len(), 3);

    weaken(&s3, &bucket, "DeleteBucketPolicy").await;
    let guard = guards[3 % guards.len()];
    let writes = guard.clients.counter().s3_writes();
    let report = run(guard, &event).await;
    assert_eq!(
        guard.clients.counter().s3_writes(),
        writes,
        "no fourth write"
    );
    assert_eq!(
        policy(&s3, &bucket).await,
        None,
        "left as the other writer made it"
    );
    let held = result(&report, &bucket, "tls-only");
    assert_eq!(held.status, Status::NonCompliant);
    assert_eq!(held.severity, Some(Severity::High));
    assert!(
        held.detail.contains(&format!(
            "restored 3 times in the last hour; last changed by {CI}"
        )),
        "{}",
        held.detail
    );
    let (subject, body) = subject_and_body(&common::drain(queue).await);
    // What was stopped, and who keeps changing it (the role: the whole ARN is in the body).
    assert!(subject.starts_with("[HIGH] "), "{subject}");
    assert!(
        subject.contains(&format!(
            "tls-only no longer restored on {bucket}: ci-deploy"
        )),
        "{subject}"
    );
    assert!(subject.ends_with(" keeps changing it"), "{subject}");
    assert!(subject.len() <= 100);
    assert!(body.contains("restored 3 times in the last hour"), "{body}");
    assert!(
        body.contains(&format!(
            "stopped: tls-only on {bucket} is no longer restored (3 restorations in the last hour); {CI} keeps changing it"
        )),
        "{body}"
    );
}

#[tokio::test]
async fn a_duel_stops_after_three_restorations_in_process() {
    let (topic, queue) = common::topic_with_queue().await;
    let guard = app(Config {
        alert_topic_arn: Some(topic),
        ..config()
    })
    .await;
    duel(&[&guard], &queue).await;
}

async fn state_table() -> String {
    let table = common::unique("guard-state-");
    let ddb = aws_sdk_dynamodb::Client::new(&common::sdk_config().await);
    ddb.create_table()
        .table_name(&table)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .sse_specification(SseSpecification::builder().enabled(true).build())
        .send()
        .await
        .unwrap();
    ddb.update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires_at")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    table
}

#[tokio::test]
async fn the_count_survives_across_instances_in_dynamodb() {
    let (topic, queue) = common::topic_with_queue().await;
    let table = state_table().await;
    let config = Config {
        alert_topic_arn: Some(topic),
        state_table: Some(table.clone()),
        ..config()
    };
    // Two instances (cold starts), one table: the fourth drift is held whichever serves it.
    let (a, b) = (app(config.clone()).await, app(config).await);
    duel(&[&a, &b], &queue).await;

    let ddb = aws_sdk_dynamodb::Client::new(&common::sdk_config().await);
    let scan = ddb.scan().table_name(&table).send().await.unwrap();
    let (slots, changes): (Vec<_>, Vec<_>) = scan
        .items()
        .iter()
        .partition(|i| i["pk"].as_s().unwrap().starts_with("restore#"));
    assert_eq!(slots.len(), 3, "one item per restoration slot");
    assert_eq!(
        changes.len(),
        3,
        "and one change record per restoration, in the same table"
    );
    assert!(
        changes
            .iter()
            .all(|i| i["pk"].as_s().unwrap().starts_with("change#"))
    );
    for item in slots {
        assert_eq!(item["changed_by"].as_s().unwrap(), CI);
        let expires: u64 = item["expires_at"].as_n().unwrap().parse().unwrap();
        let restored: u64 = item["restored_at"].as_n().unwrap().parse().unwrap();
        assert_eq!(expires - restored, 3600);
    }
}

#[tokio::test]
async fn concurrent_instances_count_once_each() {
    let table = state_table().await;
    let ddb = aws_sdk_dynamodb::Client::new(&common::sdk_config().await);
    let logs: Vec<DynamoRestorations> = (0..8)
        .map(|_| DynamoRestorations::new(ddb.clone(), table.clone()))
        .collect();
    let now = 1_800_000_000;
    let answers = futures::future::join_all(
        logs.iter()
            .map(|l| l.reserve("123456789012/us-east-1/b", CI, now)),
    )
    .await;
    let granted = answers
        .iter()
        .filter(|a| matches!(a, Ok(Reservation::Granted)))
        .count();
    assert_eq!(granted, 3, "{answers:?}");
    assert!(answers.iter().all(Result::is_ok));
    // An hour later the slots free again.
    assert_eq!(
        logs[0]
            .reserve("123456789012/us-east-1/b", CI, now + 3600)
            .await
            .unwrap(),
        Reservation::Granted
    );
}

async fn tag(s3: &aws_sdk_s3::Client, bucket: &str, value: Option<&str>) {
    match value {
        Some(v) => {
            s3.put_bucket_tagging()
                .bucket(bucket)
                .tagging(
                    Tagging::builder()
                        .tag_set(
                            Tag::builder()
                                .key("rekognition-guard:exempt")
                                .value(v)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
        }
        None => {
            s3.delete_bucket_tagging()
                .bucket(bucket)
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn the_exemption_tag_added_is_exempt_and_removed_is_guarded_again() {
    let guard = app(config()).await;
    let (bucket, s3) = remediated_bucket("drift-tag-").await;
    tag(&s3, &bucket, Some("true")).await;
    weaken(&s3, &bucket, "DeleteBucketPolicy").await;

    let writes = guard.clients.counter().s3_writes();
    let report = run(
        &guard,
        &drift_event("drift-put-bucket-tagging.json", &bucket),
    )
    .await;
    assert_eq!(
        guard.clients.counter().s3_writes(),
        writes,
        "an exempt bucket is never written"
    );
    for control in ["sse-kms", "public-access-block", "tls-only"] {
        assert_eq!(
            status(&report, &bucket, control),
            Status::Exempt,
            "{control}"
        );
    }
    assert!(
        result(&report, &bucket, "tls-only")
            .detail
            .contains("exempt by tag")
    );
    assert_eq!(policy(&s3, &bucket).await, None);

    tag(&s3, &bucket, None).await;
    let report = run(
        &guard,
        &drift_event("drift-delete-bucket-tagging.json", &bucket),
    )
    .await;
    assert_eq!(report.trigger.change.as_ref().unwrap().by, CI);
    assert_eq!(status(&report, &bucket, "tls-only"), Status::Remediated);
    assert_eq!(status(&report, &bucket, "sse-kms"), Status::Compliant);
    assert_guarded(&s3, &bucket).await;
}

#[tokio::test]
async fn scheduling_the_remediation_keys_deletion_is_high_and_says_what_depends_on_it() {
    let key = common::create_key("SYMMETRIC_DEFAULT").await;
    let (topic, queue) = common::topic_with_queue().await;
    let guard = app(Config {
        alert_topic_arn: Some(topic),
        kms_key_id: Some(key.clone()),
        ..config()
    })
    .await;
    // A bucket remediated with that key.
    let bucket = common::console_bucket("drift-key-").await;
    let created = run(&guard, &common::console_event(&bucket)).await;
    assert_eq!(status(&created, &bucket, "sse-kms"), Status::Remediated);
    common::drain(&queue).await;

    common::kms(REGION)
        .await
        .schedule_key_deletion()
        // moto answers an ARN here with a 500 (KeyError); CloudTrail records it as given.
        .key_id(key.rsplit('/').next().unwrap())
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let mut event = common::sample("drift-schedule-key-deletion.json");
    event["detail"]["requestParameters"]["keyId"] = json!(key);
    let report = run(&guard, &event).await;
    assert_eq!(report.trigger.kind, TriggerKind::ConfigurationChanged);
    let r = result(&report, &key, "kms-key-spec");
    assert_eq!(r.status, Status::NonCompliant);
    assert_eq!(r.severity, Some(Severity::High));
    assert!(r.detail.contains("PendingDeletion"), "{}", r.detail);
    assert!(r.detail.contains("remediation key"), "{}", r.detail);
    assert!(
        r.detail.contains(&bucket),
        "the bucket encrypted with it: {}",
        r.detail
    );
    assert!(r.detail.contains(CI), "{}", r.detail);
    let (subject, body) = subject_and_body(&common::drain(&queue).await);
    assert!(subject.starts_with("[HIGH] "), "{subject}");
    assert!(
        body.contains(&format!("kms-key {key} kms-key-spec: non-compliant")),
        "{body}"
    );

    // A key nothing guarded uses is not this function's business.
    let unrelated = common::create_key("SYMMETRIC_DEFAULT").await;
    event["detail"]["requestParameters"]["keyId"] = json!(unrelated);
    let report = run(&guard, &event).await;
    assert_eq!(status(&report, &unrelated, "kms-key-spec"), Status::Skipped);
}

#[tokio::test]
async fn data_sharing_turned_on_is_high() {
    let (topic, queue) = common::topic_with_queue().await;
    let guard = app(Config {
        alert_topic_arn: Some(topic),
        ..config()
    })
    .await;
    let report = run(
        &guard,
        &common::sample("drift-update-stream-processor-data-sharing.json"),
    )
    .await;
    assert_eq!(report.trigger.kind, TriggerKind::ConfigurationChanged);
    let r = result(&report, "lobby-camera-faces", "data-sharing");
    assert_eq!(r.status, Status::NonCompliant);
    assert_eq!(r.severity, Some(Severity::High));
    assert!(r.detail.contains(CI), "{}", r.detail);
    let (subject, _) = subject_and_body(&common::drain(&queue).await);
    assert!(subject.starts_with("[HIGH] "), "{subject}");
}

#[tokio::test]
async fn an_opt_out_policy_detached_from_an_ou_re_evaluates_every_account_below() {
    let moto = common::Moto::start();
    let conf = common::sdk_config_for(&moto).await;
    let org = aws_sdk_organizations::Client::new(&conf);
    let root = common::org::create(&org).await;
    common::org::enable_opt_out_policies(&org, &root).await;
    let ou = common::org::ou(&org, &root, "ml").await;
    let team = common::org::ou(&org, &ou, "ml-team").await;
    let mut members = Vec::new();
    for (name, parent) in [("ml-prod", &ou), ("ml-dev", &team)] {
        members.push(common::org::account(&org, name, &root, parent).await);
    }
    let outside = common::org::account(&org, "web", &root, &root).await;
    let policy = common::org::attach_opt_out(
        &org,
        "ai-opt-out",
        &json!({"services": {"default": {"opt_out_policy": {"@@assign": "optOut"}}}}).to_string(),
        &ou,
    )
    .await;

    let (topic, queue) = common::topic_with_queue_in(&conf).await;
    let guard = common::app(
        Config {
            alert_topic_arn: Some(topic),
            ..config()
        },
        Clients::new(conf.clone()),
    );
    // While attached, both accounts below the OU are opted out (the verdict is cached).
    for member in &members {
        let before = guard.opt_out(member).await;
        assert_eq!(before.controls[0].status, Status::Compliant, "{before:#?}");
    }

    org.detach_policy()
        .policy_id(&policy)
        .target_id(&ou)
        .send()
        .await
        .unwrap();
    let mut event = common::sample("drift-detach-opt-out-policy.json");
    event["detail"]["requestParameters"] = json!({"policyId": policy, "targetId": ou});
    let report = run(&guard, &event).await;
    assert_eq!(report.trigger.kind, TriggerKind::ConfigurationChanged);
    let evaluated: Vec<&str> = report
        .resources
        .iter()
        .filter(|r| r.kind == ResourceType::Organization)
        .map(|r| r.id.as_str())
        .collect();
    for member in &members {
        let r = result(&report, member, "ai-opt-out");
        assert_eq!(r.status, Status::NonCompliant, "{member}: {r:#?}");
        assert_eq!(r.severity, Some(Severity::High));
    }
    assert!(!evaluated.contains(&outside.as_str()), "{evaluated:?}");
    // The management account's own entry, as every trigger has.
    assert!(evaluated.contains(&ACCOUNT), "{evaluated:?}");
    let (subject, body) = subject_and_body(&drain_in(&conf, &queue).await);
    assert!(subject.starts_with("[HIGH] "), "{subject}");
    for member in &members {
        assert!(
            body.contains(&format!("organization {member} ai-opt-out: non-compliant")),
            "{body}"
        );
    }
}

/// The SNS envelopes in a queue of a private emulator.
async fn drain_in(conf: &aws_config::SdkConfig, queue: &str) -> Vec<Value> {
    let sqs = aws_sdk_sqs::Client::new(conf);
    let got = sqs
        .receive_message()
        .queue_url(queue)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    got.messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_scp_change_is_not_an_opt_out_change() {
    use aws_sdk_organizations::types::PolicyType;
    let moto = common::Moto::start();
    let conf = common::sdk_config_for(&moto).await;
    let org = aws_sdk_organizations::Client::new(&conf);
    let root = common::org::create(&org).await;
    let scp = common::org::create_policy(
        &org,
        "deny-leave",
        PolicyType::ServiceControlPolicy,
        &json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}]}).to_string(),
    )
    .await;
    let guard = common::app(config(), Clients::new(conf));
    let mut event = common::sample("drift-detach-opt-out-policy.json");
    event["detail"]["requestParameters"] = json!({"policyId": scp, "targetId": root});
    let report = run(&guard, &event).await;
    let r = result(&report, &scp, "ai-opt-out");
    assert_eq!(r.status, Status::Skipped);
    assert!(r.detail.contains("SERVICE_CONTROL_POLICY"), "{}", r.detail);
}

#[tokio::test]
async fn the_project_versions_a_key_protects_are_found() {
    // moto has no DescribeProjects: the SDK's own mocks stand in for Rekognition.
    use aws_sdk_rekognition::Client;
    use aws_sdk_rekognition::operation::describe_project_versions::DescribeProjectVersionsOutput;
    use aws_sdk_rekognition::operation::describe_projects::DescribeProjectsOutput;
    use aws_sdk_rekognition::types::{ProjectDescription, ProjectVersionDescription};
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    let key_id = "1234abcd-12ab-34cd-56ef-1234567890ab";
    let key_arn = format!("arn:aws:kms:us-east-1:123456789012:key/{key_id}");
    let projects = mock!(Client::describe_projects).then_output(|| {
        DescribeProjectsOutput::builder()
            .project_descriptions(
                ProjectDescription::builder()
                    .project_arn("arn:aws:rekognition:us-east-1:123456789012:project/doors/1")
                    .build(),
            )
            .build()
    });
    let version = |name: &str, key: Option<&str>| {
        ProjectVersionDescription::builder()
            .project_version_arn(format!(
                "arn:aws:rekognition:us-east-1:123456789012:project/doors/version/{name}/1"
            ))
            .set_kms_key_id(key.map(str::to_owned))
            .build()
    };
    let (by_arn, by_id) = (key_arn.clone(), key_id.to_owned());
    let versions = mock!(Client::describe_project_versions).then_output(move || {
        DescribeProjectVersionsOutput::builder()
            .project_version_descriptions(version("v1", Some(&by_arn)))
            .project_version_descriptions(version("v2", Some(&by_id)))
            .project_version_descriptions(version(
                "v3",
                Some("arn:aws:kms:us-east-1:123456789012:key/other"),
            ))
            .project_version_descriptions(version("v4", None))
            .build()
    });
    let client = mock_client!(
        aws_sdk_rekognition,
        RuleMode::MatchAny,
        [&projects, &versions]
    );
    let found =
        rekognition_guard::aws::rekognition::project_versions_using_key(&client, &key_arn, key_id)
            .await
            .unwrap();
    assert_eq!(
        found,
        [
            "arn:aws:rekognition:us-east-1:123456789012:project/doors/version/v1/1",
            "arn:aws:rekognition:us-east-1:123456789012:project/doors/version/v2/1"
        ]
    );
}

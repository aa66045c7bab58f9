//! Rollout by scope against the emulator: exceptions that expire (the clock injected, not
//! slept), notify-then-remediate through EventBridge Scheduler (moto's), per-control
//! rules, and a malformed rules document refused before any AWS call.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod common;

use aws_sdk_s3::types::{Tag, Tagging};
use common::REGION;
use rekognition_guard::aws::clients::Clients;
use rekognition_guard::config::Config;
use rekognition_guard::handler::{self, App};
use rekognition_guard::report::{Report, Severity, Status};
use rekognition_guard::scope;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PREFIX: &str = "custom-labels-console-us-east-1-";
const ROLE: &str = "arn:aws:iam::123456789012:role/rekognition-guard-scheduler";
const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:rekognition-guard";

fn at(date: &str) -> i64 {
    rekognition_guard::change::parse_time(date).unwrap()
}

async fn app(rules: &str, now: Option<i64>, extra: impl FnOnce(&mut Config)) -> App {
    // An opted-out organization: ai-opt-out compliant, so alerts speak of the buckets.
    common::org::opted_out().await;
    let mut config = Config {
        rules: Arc::new(scope::parse(rules).unwrap()),
        scheduler_role_arn: Some(ROLE.to_owned()),
        schedule_target_arn: Some(FUNCTION.to_owned()),
        ..Config::default()
    };
    extra(&mut config);
    let mut app = common::app(config, Clients::new(common::sdk_config().await));
    app.clock = now;
    app
}

async fn run(app: &App, event: &Value) -> Report {
    handler::handle(app, event, Instant::now() + Duration::from_secs(60))
        .await
        .unwrap()
}

async fn new_bucket(tags: &[(&str, &str)]) -> String {
    let name = common::unique(PREFIX);
    let s3 = common::s3(REGION).await;
    s3.create_bucket().bucket(&name).send().await.unwrap();
    if !tags.is_empty() {
        let set = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap())
            .collect();
        s3.put_bucket_tagging()
            .bucket(&name)
            .tagging(Tagging::builder().set_tag_set(Some(set)).build().unwrap())
            .send()
            .await
            .unwrap();
    }
    name
}

fn result<'a>(report: &'a Report, control: &str) -> &'a rekognition_guard::report::ControlResult {
    report
        .results()
        .find(|(r, c)| {
            r.kind == rekognition_guard::report::ResourceType::S3Bucket && c.control == control
        })
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("no {control}: {report:#?}"))
}

/// (encryption algorithm, all four flags on, a TLS deny) read back.
async fn state(bucket: &str) -> (Option<String>, bool, bool) {
    let s3 = common::s3(REGION).await;
    let enc = common::read_encryption(&s3, bucket).await.map(|e| e.0);
    let pab = common::public_access_block(&s3, bucket).await == Some([true; 4]);
    let tls = common::bucket_policy(&s3, bucket)
        .await
        .is_some_and(|p| p.to_string().contains("aws:SecureTransport"));
    (enc, pab, tls)
}

#[tokio::test]
async fn an_exemption_until_a_future_date_writes_nothing_and_a_past_one_is_enforced() {
    let tags = [
        ("rekognition-guard:exempt-until", "2027-03-31"),
        (
            "rekognition-guard:exempt-reason",
            "key migration, ticket SEC-42",
        ),
    ];
    let bucket = new_bucket(&tags).await;
    let before = state(&bucket).await;

    let guard = app("{}", Some(at("2027-03-30")), |_| {}).await;
    let writes = guard.clients.counter().s3_writes();
    let report = run(&guard, &common::console_event(&bucket)).await;
    assert_eq!(guard.clients.counter().s3_writes(), writes, "no write");
    assert_eq!(state(&bucket).await, before);
    for c in ["sse-kms", "public-access-block", "tls-only"] {
        let r = result(&report, c);
        assert_eq!(r.status, Status::Exempt, "{c}");
        assert!(
            r.detail.starts_with(
                "exempt until 2027-03-31 by tag rekognition-guard:exempt-until: key migration, ticket SEC-42"
            ),
            "{}",
            r.detail
        );
    }

    // After the date: remediated, and the alert's text says the exception expired.
    let (topic, queue) = common::topic_with_queue().await;
    let guard = app("{}", Some(at("2027-04-01")), |c| {
        c.alert_topic_arn = Some(topic)
    })
    .await;
    let report = run(&guard, &common::console_event(&bucket)).await;
    for c in ["sse-kms", "public-access-block", "tls-only"] {
        let r = result(&report, c);
        assert_eq!(r.status, Status::Remediated, "{c}: {r:?}");
        assert!(
            r.detail.starts_with("exception expired on 2027-03-31"),
            "{}",
            r.detail
        );
    }
    assert_eq!(
        state(&bucket).await,
        (Some("aws:kms".to_owned()), true, true)
    );
    let alerts = common::drain(&queue).await;
    let body = alerts[0]["Message"].as_str().unwrap();
    assert!(body.contains("exception expired on 2027-03-31"), "{body}");
}

#[tokio::test]
async fn a_document_exception_names_its_approver_and_an_open_ended_one_is_low() {
    let bucket = new_bucket(&[]).await;
    let rules = json!({"exceptions": [
        {"bucket": format!("{PREFIX}*"), "control": "tls-only", "until": "2027-06-30",
         "reason": "old SDK without TLS 1.2", "approved_by": "ciso@example.com"},
        {"bucket": bucket, "control": "sse-kms", "reason": "team key pending", "approved_by": "secops"}]})
    .to_string();
    let guard = app(&rules, Some(at("2027-01-01")), |_| {}).await;
    let report = run(&guard, &common::console_event(&bucket)).await;
    let tls = result(&report, "tls-only");
    assert_eq!(tls.status, Status::Exempt);
    assert!(
        tls.detail
            .contains("approved by ciso@example.com: old SDK without TLS 1.2"),
        "{}",
        tls.detail
    );
    let sse = result(&report, "sse-kms");
    assert_eq!(sse.status, Status::Exempt);
    assert!(sse.detail.contains("open-ended"), "{}", sse.detail);
    assert_eq!(sse.severity, Some(Severity::Low));
    assert_eq!(
        result(&report, "public-access-block").status,
        Status::Remediated
    );
    let (enc, pab, tls) = state(&bucket).await;
    assert_eq!(enc, common::new_bucket_encryption().map(|e| e.0));
    assert!(pab && !tls);
}

#[tokio::test]
async fn a_per_control_rule_audits_one_control_and_remediates_the_rest() {
    let bucket = new_bucket(&[("team", "vision")]).await;
    let rules = r#"{"rules": [{"tag": "team=vision", "mode": "audit", "controls": ["tls-only"]},
                              {"mode": "remediate"}]}"#;
    let guard = app(rules, None, |c| {
        c.mode = rekognition_guard::config::Mode::Audit
    })
    .await;
    let report = run(&guard, &common::console_event(&bucket)).await;
    let tls = result(&report, "tls-only");
    assert_eq!(tls.status, Status::WouldRemediate);
    assert!(
        tls.detail
            .contains("audit mode, by rules[0] (tag team=vision, controls tls-only: audit)"),
        "{}",
        tls.detail
    );
    assert_eq!(
        result(&report, "sse-kms").status,
        Status::Remediated,
        "a rule beats GUARD_MODE=audit"
    );
    assert_eq!(
        state(&bucket).await,
        (Some("aws:kms".to_owned()), true, false)
    );
}

async fn schedules(group: &str) -> Vec<aws_sdk_scheduler::types::ScheduleSummary> {
    let client = aws_sdk_scheduler::Client::new(&common::sdk_config().await);
    client
        .list_schedules()
        .group_name(group)
        .send()
        .await
        .unwrap()
        .schedules()
        .to_vec()
}

async fn schedule_input(group: &str, name: &str) -> Value {
    let client = aws_sdk_scheduler::Client::new(&common::sdk_config().await);
    let s = client
        .get_schedule()
        .group_name(group)
        .name(name)
        .send()
        .await
        .unwrap();
    let target = s.target().unwrap();
    assert_eq!(target.arn(), FUNCTION);
    assert_eq!(target.role_arn(), ROLE);
    assert!(
        s.schedule_expression()
            .unwrap()
            .starts_with("at(2027-01-01T02:00:00"),
        "{s:?}"
    );
    serde_json::from_str(target.input().unwrap()).unwrap()
}

#[tokio::test]
async fn notify_then_remediate_schedules_once_and_the_schedule_remediates_from_scratch() {
    let group = common::unique("rg-grace-");
    let client = aws_sdk_scheduler::Client::new(&common::sdk_config().await);
    client
        .create_schedule_group()
        .name(&group)
        .send()
        .await
        .unwrap();
    let rules = r#"{"rules": [{"mode": "notify-then-remediate", "grace": "PT2H"}]}"#;
    let (topic, queue) = common::topic_with_queue().await;
    let guard = app(rules, Some(at("2027-01-01")), |c| {
        c.schedule_group = group.clone();
        c.alert_topic_arn = Some(topic);
    })
    .await;

    // Two buckets: one the owner fixes during the grace, one left as it is.
    let left = new_bucket(&[]).await;
    let fixed = new_bucket(&[]).await;
    for bucket in [&left, &fixed] {
        let writes = guard.clients.counter().s3_writes();
        let report = run(&guard, &common::console_event(bucket)).await;
        assert_eq!(
            guard.clients.counter().s3_writes(),
            writes,
            "nothing written first"
        );
        let r = result(&report, "sse-kms");
        assert_eq!(r.status, Status::WouldRemediate);
        assert!(
            r.detail.contains("notify-then-remediate, by rules[0]"),
            "{}",
            r.detail
        );
        assert!(
            r.detail.contains("scheduled for 2027-01-01T02:00:00Z"),
            "{}",
            r.detail
        );
    }
    let alerts = common::drain(&queue).await;
    assert_eq!(
        alerts.len(),
        2,
        "one alert per bucket, with the planned change"
    );
    assert!(
        alerts[0]["Message"]
            .as_str()
            .unwrap()
            .contains("would-remediate")
    );
    assert_eq!(schedules(&group).await.len(), 2, "one schedule per bucket");

    // A second event during the grace: no second schedule, no alert, no write.
    let writes = guard.clients.counter().s3_writes();
    let again = run(&guard, &common::console_event(&left)).await;
    assert_eq!(result(&again, "sse-kms").status, Status::Skipped);
    assert!(
        result(&again, "sse-kms")
            .detail
            .contains("already scheduled")
    );
    assert_eq!(schedules(&group).await.len(), 2);
    assert!(common::drain(&queue).await.is_empty(), "no re-alert");
    assert_eq!(guard.clients.counter().s3_writes(), writes);

    // The owner fixes `fixed` during the grace.
    let s3 = common::s3(REGION).await;
    common::put_encryption(&s3, &fixed, "aws:kms", None, true).await;
    s3.put_public_access_block()
        .bucket(&fixed)
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    common::put_policy(
        &s3,
        &fixed,
        &json!({"Version": "2012-10-17", "Statement": [{"Sid": "TeamTls", "Effect": "Deny", "Principal": "*",
            "Action": "s3:*", "Resource": [format!("arn:aws:s3:::{fixed}"), format!("arn:aws:s3:::{fixed}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}),
    )
    .await;

    // The schedules fire: what each delivers is handled from scratch.
    let names: Vec<String> = schedules(&group)
        .await
        .iter()
        .map(|s| s.name().unwrap().to_owned())
        .collect();
    for name in names {
        let event = schedule_input(&group, &name).await;
        let bucket = event["detail"]["bucketName"].as_str().unwrap().to_owned();
        let writes = guard.clients.counter().s3_writes();
        let report = run(&guard, &event).await;
        assert_eq!(report.trigger.kind.as_str(), "grace-elapsed");
        if bucket == fixed {
            assert_eq!(
                guard.clients.counter().s3_writes(),
                writes,
                "fixed by its owner: no write"
            );
            assert!(
                report
                    .results()
                    .filter(|(r, _)| r.kind == rekognition_guard::report::ResourceType::S3Bucket)
                    .all(|(_, c)| c.status == Status::Compliant)
            );
        } else {
            assert_eq!(bucket, left);
            assert_eq!(result(&report, "sse-kms").status, Status::Remediated);
            assert_eq!(state(&left).await, (Some("aws:kms".to_owned()), true, true));
        }
    }
}

#[tokio::test]
async fn a_malformed_rules_document_exits_2_naming_the_line_before_any_call() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.json");
    std::fs::write(
        &file,
        "{\"rules\": [\n  {\"ou\": \"ou-ab12-sandbox1\", \"mode\": \"audit\"},\n  {\"ou\": \"ou-ab12-prod0001\", \"mode\": \"remediate-now\"}\n]}\n",
    )
    .unwrap();
    let proxy = common::proxy::Proxy::start(&common::moto().endpoint);
    let out = proxy.run(
        &["scan", "--rules", file.to_str().unwrap()],
        &[],
        Duration::from_secs(30),
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_eq!(
        out.stderr.trim(),
        format!(
            "rekognition-guard: {}: line 3, column 53: mode \"remediate-now\" is not remediate, audit, notify-then-remediate or off",
            file.display()
        )
    );
    assert!(proxy.log().is_empty(), "no AWS call");
}

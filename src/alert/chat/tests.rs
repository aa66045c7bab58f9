use super::*;
use crate::alert::classify_all;
use crate::config::Mode;
use crate::event::{Change, TriggerInfo};
use crate::report::{AlertOutcome, ResourceType};
use serde_json::Value;

const HELD: &str = "no bucket policy: create one with DenyInsecureTransport (not applied: held, nothing written: a TLS-only deny would cut the website endpoint (website endpoints answer plain HTTP only) — public bucket holding Rekognition data: serve it through CloudFront with origin access control, or set GUARD_PUBLIC_ACCESS=block to cut public access on purpose)";

fn bucket(i: usize, controls: &[(&str, Status, &str)]) -> Resource {
    Resource {
        kind: ResourceType::S3Bucket,
        id: format!("custom-labels-console-us-east-1-{i:06}"),
        name: None,
        role: Some("console".into()),
        region: Some("us-east-1".into()),
        account: None,
        controls: controls
            .iter()
            .map(|(c, s, d)| ControlResult::new(c, *s, *d))
            .collect(),
    }
}

fn report(mode: Mode, resources: Vec<Resource>) -> Report {
    let mut r = Report {
        trigger: TriggerInfo {
            kind: TriggerKind::BucketCreated,
            event_id: Some("6a7e8feb-0000".into()),
            event_name: Some("CreateBucket".into()),
            account: Some("123456789012".into()),
            region: Some("us-east-1".into()),
            ignored_reason: None,
            change: None,
            principal: None,
            reference: None,
        },
        mode,
        resources,
        alert: AlertOutcome::default(),
        security_hub: None,
        unfinished: vec![],
        change_record: None,
    };
    classify_all(&mut r);
    r
}

fn remediated() -> Report {
    report(
        Mode::Remediate,
        vec![bucket(
            0,
            &[
                (
                    "sse-kms",
                    Status::Remediated,
                    "AES256 (SSE-S3): set SSE-KMS",
                ),
                ("tls-only", Status::Compliant, "denies insecure transport"),
            ],
        )],
    )
}

fn held() -> Report {
    report(
        Mode::Remediate,
        vec![bucket(
            0,
            &[
                ("public-access-block", Status::NonCompliant, HELD),
                ("tls-only", Status::NonCompliant, HELD),
                ("sse-kms", Status::Compliant, "SSE-KMS"),
            ],
        )],
    )
}

fn failed() -> Report {
    report(
        Mode::Remediate,
        vec![bucket(
            0,
            &[(
                "sse-kms",
                Status::Failed,
                "PutBucketEncryption: AccessDenied; nothing written",
            )],
        )],
    )
}

fn audit() -> Report {
    report(
        Mode::Audit,
        (0..3)
            .map(|i| {
                bucket(
                    i,
                    &[(
                        "sse-kms",
                        Status::WouldRemediate,
                        "AES256 (SSE-S3): would set SSE-KMS (not applied: audit mode)",
                    )],
                )
            })
            .collect(),
    )
}

fn drift() -> Report {
    let mut r = report(
        Mode::Remediate,
        vec![bucket(
            0,
            &[(
                "tls-only",
                Status::Remediated,
                "restored DenyInsecureTransport",
            )],
        )],
    );
    r.trigger.kind = TriggerKind::ConfigurationChanged;
    r.trigger.event_name = Some("PutBucketPolicy".into());
    r.trigger.change = Some(Change {
        by: "arn:aws:sts::123456789012:assumed-role/ci/build-42".into(),
        source_ip: Some("203.0.113.7".into()),
        event_time: Some("2025-01-01T00:00:00Z".into()),
    });
    classify_all(&mut r);
    r
}

fn huge() -> Report {
    let detail = "x".repeat(2_000);
    let mut r = report(
        Mode::Remediate,
        (0..3000)
            .map(|i| {
                bucket(
                    i,
                    &[
                        ("sse-kms", Status::Remediated, detail.as_str()),
                        ("public-access-block", Status::NonCompliant, HELD),
                        ("tls-only", Status::Failed, "ü€𝄞 unicode"),
                    ],
                )
            })
            .collect(),
    );
    r.unfinished = (0..50)
        .map(|i| format!("bucket b{i}: not started"))
        .collect();
    r.trigger.change = Some(Change {
        by: "y".repeat(5_000),
        source_ip: None,
        event_time: None,
    });
    r
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

#[test]
fn every_field_is_within_the_documented_limits() {
    for (name, r) in [
        ("remediated", remediated()),
        ("held", held()),
        ("failed", failed()),
        ("audit", audit()),
        ("drift", drift()),
        ("huge", huge()),
    ] {
        let n = notification(&r);
        let v = serde_json::to_value(&n).unwrap();
        assert_eq!(
            (v["version"].as_str(), v["source"].as_str()),
            (Some("1.0"), Some("custom")),
            "{name}"
        );
        let c = &v["content"];
        assert_eq!(c["textType"], "client-markdown", "{name}");
        let description = c["description"].as_str().unwrap();
        assert!(
            !description.is_empty() && chars(description) <= MAX_DESCRIPTION_CHARS,
            "{name}: {}",
            chars(description)
        );
        assert!(
            chars(c["title"].as_str().unwrap()) <= MAX_TITLE_CHARS,
            "{name}"
        );
        let steps = c["nextSteps"].as_array().unwrap();
        assert!(!steps.is_empty() && steps.len() <= MAX_NEXT_STEPS, "{name}");
        for s in steps {
            assert!(
                chars(s.as_str().unwrap()) <= MAX_NEXT_STEP_CHARS,
                "{name}: {s}"
            );
        }
        for k in c["keywords"].as_array().unwrap() {
            assert!(
                chars(k.as_str().unwrap()) <= MAX_KEYWORD_CHARS,
                "{name}: {k}"
            );
        }
        let m = &v["metadata"];
        assert!(m["relatedResources"].as_array().unwrap().len() <= MAX_RELATED_RESOURCES);
        assert!(
            m["additionalContext"]
                .as_object()
                .unwrap()
                .values()
                .all(Value::is_string)
        );
        assert!(
            m["eventType"]
                .as_str()
                .unwrap()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "{name}: eventType is an identifier (letters, digits, hyphens)"
        );
    }
}

#[test]
fn title_keywords_and_severity_say_what_and_where() {
    let r = remediated();
    let n = notification(&r);
    assert_eq!(n.content.title, crate::alert::subject(&r));
    assert_eq!(
        n.content.title,
        "[MEDIUM] rekognition-guard: 1 remediated in 123456789012/us-east-1"
    );
    assert_eq!(n.metadata.summary, n.content.title);
    assert_eq!(
        n.content.keywords,
        ["MEDIUM", "123456789012", "us-east-1", "CreateBucket"]
    );
    assert_eq!(n.metadata.additional_context["severity"], "medium");
    assert_eq!(n.metadata.additional_context["counts"], "1 remediated");
    assert_eq!(n.metadata.event_type, "rekognition-guard-bucket-created");
    assert_eq!(n.id.as_deref(), Some("6a7e8feb-0000"));
    assert_eq!(
        n.content.description,
        "*CreateBucket* (bucket-created) in `123456789012`/`us-east-1`, mode *remediate*, event `6a7e8feb-0000`\n\
         • *MEDIUM* `custom-labels-console-us-east-1-000000` (s3-bucket) sse-kms: *remediated* — AES256 (SSE-S3): set SSE-KMS"
    );
    assert_eq!(
        n.content.next_steps,
        [
            "Remediated (1): nothing to do. `rekognition-guard history` lists the changes; `rekognition-guard undo --change ID` puts one back."
        ]
    );
    assert_eq!(
        n.metadata.related_resources,
        ["custom-labels-console-us-east-1-000000"]
    );
}

#[test]
fn a_held_bucket_says_why_and_the_fix() {
    let n = notification(&held());
    assert_eq!(n.content.title.get(..7), Some("[HIGH] "));
    assert_eq!(
        n.content.next_steps,
        [
            "Held on `custom-labels-console-us-east-1-000000` (public-access-block, tls-only): a TLS-only deny would cut the website endpoint (website endpoints answer plain HTTP only). Fix: public bucket holding Rekognition data: serve it through CloudFront with origin access control, or set GUARD_PUBLIC_ACCESS=block to cut public access on purpose"
        ]
    );
    // A long reason gives way; the fix stays whole.
    let long = HELD.replace("the website endpoint", &"a partner account, ".repeat(30));
    let r = report(
        Mode::Remediate,
        vec![bucket(
            0,
            &[("tls-only", Status::NonCompliant, long.as_str())],
        )],
    );
    let step = &notification(&r).content.next_steps[0];
    assert!(chars(step) <= MAX_NEXT_STEP_CHARS, "{}", chars(step));
    assert!(
        step.contains("…. Fix: public bucket") && step.ends_with("on purpose"),
        "{step}"
    );
    // In process, the handler's mark is what counts.
    let mut marked = report(
        Mode::Remediate,
        vec![bucket(
            0,
            &[(
                "sse-kms",
                Status::NonCompliant,
                "SSE-S3 (not applied: SSE-KMS with k would break 1 dependent: role r)",
            )],
        )],
    );
    let c = marked.resources[0].controls.remove(0);
    marked.resources[0]
        .controls
        .push(c.with_states(crate::change::States {
            kind: StatesKind::Held,
            before: Value::Null,
            after: Value::Null,
        }));
    assert!(notification(&marked).content.next_steps[0].starts_with(
        "Held on `custom-labels-console-us-east-1-000000` (sse-kms): SSE-KMS with k would break 1 dependent: role r"
    ));
}

#[test]
fn failed_work_says_retry_and_dead_letter_queue() {
    let steps = notification(&failed()).content.next_steps;
    assert_eq!(steps.len(), 1);
    assert!(steps[0].starts_with("Failed (1), e.g. `custom-labels-console-us-east-1-000000` sse-kms: PutBucketEncryption: AccessDenied"), "{}", steps[0]);
    assert!(steps[0].contains("dead-letter queue"), "{}", steps[0]);
    let mut r = failed();
    r.unfinished = vec!["bucket b: not started".into()];
    let steps = notification(&r).content.next_steps;
    assert!(
        steps[1].starts_with("Unfinished (1), e.g. bucket b: not started: the deadline came first"),
        "{}",
        steps[1]
    );
}

#[test]
fn audit_mode_says_how_to_apply() {
    let n = notification(&audit());
    assert_eq!(
        n.content.next_steps,
        [
            "Would remediate (3): audit mode wrote nothing. Review with `rekognition-guard plan`, then apply exactly that with `rekognition-guard apply --plan PLAN.json`, or set GUARD_MODE=remediate."
        ]
    );
    assert_eq!(n.metadata.additional_context["mode"], "audit");
    assert_eq!(n.metadata.related_resources.len(), 3);
    assert_eq!(
        n.metadata.thread_id,
        "rekognition-guard-123456789012-us-east-1"
    );
}

#[test]
fn a_drift_restoration_names_who_removed_it() {
    let r = drift();
    let n = notification(&r);
    assert!(
        n.content.title.starts_with("[HIGH] tls-only restored on"),
        "{}",
        n.content.title
    );
    assert!(n.content.description.contains(
        "\nChanged by `arn:aws:sts::123456789012:assumed-role/ci/build-42` from 203.0.113.7 at 2025-01-01T00:00:00Z\n"
    ));
    assert_eq!(
        n.content.next_steps,
        [
            "Restored after `arn:aws:sts::123456789012:assumed-role/ci/build-42` removed it: ask why. A writer that keeps removing it is stopped after three restorations in an hour."
        ]
    );
    // One resource: its own thread, so its later alerts follow in it.
    let thread = &n.metadata.thread_id;
    assert!(
        thread.starts_with("rekognition-guard-123456789012-us-east-1-") && thread.len() == 41 + 16,
        "{thread}"
    );
    assert_eq!(thread, &notification(&drift()).metadata.thread_id);
}

#[test]
fn a_large_report_is_cut_and_says_how_much_was_left_out() {
    let r = huge();
    let d = notification(&r).content.description;
    assert!(chars(&d) <= MAX_DESCRIPTION_CHARS, "{}", chars(&d));
    let shown = d.lines().filter(|l| l.starts_with("• ")).count();
    let total = entries(&r).len() + r.unfinished.len();
    let last = d.lines().last().unwrap();
    let left: usize = last
        .strip_prefix("_… ")
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{last}"));
    assert!(
        shown > 0 && shown + left == total,
        "{shown} + {left} != {total}"
    );
    // Three held resources get a step each; the rest are counted.
    let steps = notification(&r).content.next_steps;
    assert_eq!(steps.len(), MAX_NEXT_STEPS);
    assert!(steps[0].starts_with("Failed (3000), e.g. "), "{steps:?}");
    assert!(steps[1].starts_with("Unfinished (50), e.g. "), "{steps:?}");
    assert!(
        steps[2..5]
            .iter()
            .all(|s| s.starts_with("Held on `custom-labels-console-us-east-1-"))
    );
    assert!(
        steps[5].starts_with("Held on 2997 more resources:"),
        "{steps:?}"
    );
    // Most severe first: the failed (high) lines lead.
    assert!(d.lines().nth(2).unwrap().starts_with("• *HIGH* "), "{d}");
}

#[test]
fn serialized_names_are_the_documented_ones() {
    let v = serde_json::to_value(notification(&held())).unwrap();
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys(&v), ["version", "source", "id", "content", "metadata"]);
    assert_eq!(
        keys(&v["content"]),
        ["textType", "title", "description", "nextSteps", "keywords"]
    );
    assert_eq!(
        keys(&v["metadata"]),
        [
            "threadId",
            "summary",
            "eventType",
            "relatedResources",
            "additionalContext"
        ]
    );
    let mut manual = held();
    manual.trigger.event_id = None;
    assert!(
        serde_json::to_value(notification(&manual))
            .unwrap()
            .get("id")
            .is_none()
    );
}

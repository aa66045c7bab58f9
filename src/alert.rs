//! Alerts: severity of every result (the one place that maps them), and the SNS message
//! a security team reads — subject, human summary, full report JSON, attributes — and,
//! for chat channels, the same alert as a custom notification ([`chat`]).
//! Pure: publishing is `aws::sns`.

pub mod chat;

use crate::event::TriggerKind;
use crate::report::{ControlResult, Report, Resource, ResourceType, Severity, Status};

/// SNS accepts 256 KiB per message including attributes; keep a margin.
pub const MAX_BODY_BYTES: usize = 240 * 1024;
/// The `MessageStructure=json` document as sent, escapes included: SNS bounds the whole
/// document, so its protocols share the 256 KiB ("including multiple protocols may limit
/// message sizes", <https://docs.aws.amazon.com/sns/latest/api/API_Publish.html>). The
/// rest is the margin for the subject and the attributes.
pub const MAX_MESSAGE_BYTES: usize = 248 * 1024;
pub const MAX_SUBJECT_CHARS: usize = 100;

/// The severity of one result; `None` for results that need no attention.
/// A control's own severity (advice, policy-dependent checks) is kept where given.
pub fn classify(control: &ControlResult) -> Option<Severity> {
    use Status::*;
    match (control.control.as_str(), control.status) {
        (_, Skipped) => None,
        (_, Compliant) => control.severity.filter(|s| *s == Severity::Low),
        (_, Failed) => Some(Severity::High),
        ("ai-opt-out" | "data-sharing", NonCompliant | WouldRemediate) => Some(Severity::High),
        // Anything public: a bucket left without Block Public Access.
        ("public-access-block", NonCompliant | WouldRemediate | Exempt) => Some(Severity::High),
        (_, Exempt) => Some(control.severity.unwrap_or(Severity::Low)),
        // High when the fix itself cuts someone (RestrictPublicBuckets cutting a partner).
        (_, Remediated | WouldRemediate) => Some(
            control
                .severity
                .filter(|s| *s == Severity::High)
                .unwrap_or(Severity::Medium),
        ),
        (_, NonCompliant) => Some(control.severity.unwrap_or(Severity::Medium)),
    }
}

/// Fills in every result's severity. A drift restoration is high: someone removed a
/// protection from a guarded resource, and the security team should know who.
pub fn classify_all(report: &mut Report) {
    let drift = report.trigger.kind == TriggerKind::ConfigurationChanged;
    for resource in &mut report.resources {
        for control in &mut resource.controls {
            control.severity = classify(control);
            if drift && control.status == Status::Remediated {
                control.severity = Some(Severity::High);
            }
        }
    }
}

/// The highest severity in the report.
pub fn highest(report: &Report) -> Option<Severity> {
    let unfinished = (!report.unfinished.is_empty()).then_some(Severity::High);
    report
        .results()
        .filter_map(|(_, c)| c.severity)
        .chain(unfinished)
        .max()
}

/// `[HIGH] rekognition-guard: 2 remediated, 1 non-compliant in 123456789012/us-east-1`
pub fn subject(report: &Report) -> String {
    let severity = highest(report).map_or("INFO", |s| match s {
        Severity::High => "HIGH",
        Severity::Medium => "MEDIUM",
        Severity::Low => "LOW",
    });
    let counts: Vec<String> = report
        .counts()
        .into_iter()
        .filter(|(s, _)| s.needs_attention())
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .chain(
            (!report.unfinished.is_empty())
                .then(|| format!("{} unfinished", report.unfinished.len())),
        )
        .collect();
    let t = &report.trigger;
    let place = format!(
        " in {}/{}",
        t.account.as_deref().unwrap_or("unknown"),
        t.region.as_deref().unwrap_or("unknown")
    );
    if let Some(subject) = restored_subject(report, severity, &place) {
        return subject;
    }
    let head = format!("[{severity}] rekognition-guard: ");
    let prevented: Vec<String> = report
        .results()
        .filter(|(_, c)| c.control == "prevented")
        .filter_map(|(_, c)| {
            let after = c.after.as_ref()?;
            let kind = match after.get("prevented_by")?.as_str()? {
                "SERVICE_CONTROL_POLICY" => "SCP",
                "RESOURCE_CONTROL_POLICY" => "RCP",
                other => other,
            };
            Some(format!(
                "{} prevented by {kind}",
                after.get("event_name")?.as_str()?
            ))
        })
        .collect();
    let body = if !prevented.is_empty() {
        prevented.join(", ")
    } else if counts.is_empty() {
        "report".to_owned()
    } else {
        counts.join(", ")
    };
    let body = match headline(report) {
        Some(lead) => format!("{lead}: {body}"),
        None => body,
    };
    let full: String = format!("{head}{body}{place}")
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if full.len() <= MAX_SUBJECT_CHARS {
        return full;
    }
    let mut short: String = full.chars().take(MAX_SUBJECT_CHARS - 3).collect();
    short.push_str("...");
    short
}

/// What an organization's security team must read first, before the counts.
fn headline(report: &Report) -> Option<&'static str> {
    let has = |control: &str, status: Status| {
        report
            .results()
            .any(|(_, c)| c.control == control && c.status == status)
    };
    if has("member-access", Status::Failed) {
        Some("account not onboarded")
    } else if has("member-gate", Status::NonCompliant) {
        Some("forged-looking record refused")
    } else {
        None
    }
}

/// Subjects are ASCII (SNS e-mail subjects): anything else becomes `?`.
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// How a drift subject tells what happened to a bucket's controls.
#[derive(Debug, PartialEq, Eq)]
struct Duel {
    /// After the control names: ` restored on ` or ` no longer restored on `.
    verb: &'static str,
    /// Between the place and the principal, and after the principal.
    join: &'static str,
    tail: &'static str,
    /// Whether the subject names the account and Region (the stopped duel leaves them to
    /// the body: who keeps changing the bucket matters more, and both rarely fit).
    with_place: bool,
}

/// A drift restoration: `tls-only restored on B in A/R after ci removed it`.
const RESTORED: Duel = Duel {
    verb: " restored on ",
    join: " after ",
    tail: " removed it",
    with_place: true,
};

/// The end of a duel (restorations stopped, `state::DUEL_STOPPED`): what is no longer
/// restored, and who keeps changing it.
const STOPPED: Duel = Duel {
    verb: " no longer restored on ",
    join: ": ",
    tail: " keeps changing it",
    with_place: false,
};

/// Whether drift stopped restoring this control (the other writer keeps undoing it).
pub fn duel_stopped(c: &ControlResult) -> bool {
    c.status == Status::NonCompliant && c.detail.contains(crate::state::DUEL_STOPPED)
}

/// The bucket and the controls of a drift report that drift restored, or else that it
/// stopped restoring, with how to say it.
fn drift_outcome(report: &Report) -> Option<(&str, Vec<&str>, &'static Duel)> {
    let pick = |keep: &dyn Fn(&ControlResult) -> bool| {
        report.resources.iter().find_map(|r| {
            let controls: Vec<&str> = r
                .controls
                .iter()
                .filter(|c| keep(c))
                .map(|c| c.control.as_str())
                .collect();
            (r.kind == ResourceType::S3Bucket && !controls.is_empty())
                .then_some((r.id.as_str(), controls))
        })
    };
    pick(&|c| c.status == Status::Remediated)
        .map(|(b, c)| (b, c, &RESTORED))
        .or_else(|| pick(&duel_stopped).map(|(b, c)| (b, c, &STOPPED)))
}

/// `… tls-only restored on BUCKET in ACCOUNT/REGION after PRINCIPAL removed it` for a
/// drift event that restored a bucket, and `… tls-only no longer restored on BUCKET in
/// ACCOUNT/REGION: PRINCIPAL keeps changing it` for the one that ended a duel. SNS caps
/// subjects at 100 characters, which the fixed words nearly fill, so the first form that
/// fits is taken: with the `rekognition-guard:` head, then without; the principal as
/// `ci/build-42` (a session of role `ci` in the event's account), then as the role alone,
/// then cut with `...`; last, the whole line cut. The full ARN is always in the body.
fn restored_subject(report: &Report, severity: &str, place: &str) -> Option<String> {
    if report.trigger.kind != TriggerKind::ConfigurationChanged {
        return None;
    }
    let by = &report.trigger.change.as_ref()?.by;
    let (bucket, restored, duel) = drift_outcome(report)?;
    let Duel {
        verb,
        join,
        tail,
        with_place,
    } = duel;
    let place = if *with_place { place } else { "" };
    let account = report.trigger.account.as_deref();
    let (session, role) = (
        ascii(&short_principal(by, account, true)),
        ascii(&short_principal(by, account, false)),
    );
    let what = ascii(&format!(
        "{}{verb}{bucket}{place}{join}",
        restored.join(", ")
    ));
    let heads = [
        format!("[{severity}] rekognition-guard: "),
        format!("[{severity}] "),
    ];
    let fits = |s: &String| s.len() <= MAX_SUBJECT_CHARS;
    for head in &heads {
        for who in [&session, &role] {
            let s = format!("{head}{what}{who}{tail}");
            if fits(&s) {
                return Some(s);
            }
        }
    }
    let short = &heads[1];
    let room = MAX_SUBJECT_CHARS.saturating_sub(short.len() + what.len() + tail.len());
    if room >= 8 {
        return Some(format!("{short}{what}{}...{tail}", &role[..room - 3]));
    }
    // A long bucket name: its middle gives way (both ends are what people recognise), but
    // not below MIN_BUCKET; then the principal goes (it is in the body), then the tail.
    const MIN_BUCKET: usize = 16;
    let bucket = ascii(bucket);
    let controls = restored.join(", ");
    let shorten = |others: usize| {
        let room = MAX_SUBJECT_CHARS.saturating_sub(others);
        (room >= MIN_BUCKET && bucket.len() > room).then(|| {
            let keep = room - 3;
            let (head_len, tail_len) = (keep - keep / 2, keep / 2);
            format!(
                "{}...{}",
                &bucket[..head_len],
                &bucket[bucket.len() - tail_len..]
            )
        })
    };
    let after = format!("{join}{role}{tail}");
    let bare = format!("{short}{controls}{verb}{place}");
    if let Some(shown) = shorten(bare.len() + after.len()) {
        return Some(format!("{short}{controls}{verb}{shown}{place}{after}"));
    }
    let unnamed = format!("{short}{controls}{verb}{bucket}{place}");
    if fits(&unnamed) {
        return Some(unnamed);
    }
    if let Some(shown) = shorten(bare.len()) {
        return Some(format!("{short}{controls}{verb}{shown}{place}"));
    }
    Some(format!("{}...", &unnamed[..MAX_SUBJECT_CHARS - 3]))
}

/// A principal ARN without what the subject already says: the partition, the account
/// when it is the event's own, and optionally the session
/// (`arn:aws:sts::A:assumed-role/ci/s` → `ci/s` or `ci`).
fn short_principal(by: &str, account: Option<&str>, with_session: bool) -> String {
    let parts: Vec<&str> = by.splitn(6, ':').collect();
    let [
        "arn",
        _,
        service @ ("sts" | "iam"),
        _,
        arn_account,
        resource,
    ] = parts[..]
    else {
        return by.to_owned();
    };
    let resource = match service
        .strip_prefix("sts")
        .and(resource.strip_prefix("assumed-role/"))
    {
        Some(session) if !with_session => session.split('/').next().unwrap_or(session),
        Some(session) => session,
        None => resource,
    };
    if Some(arn_account) == account {
        resource.to_owned()
    } else {
        format!("{arn_account}:{resource}")
    }
}

fn brief(v: &Option<serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "none".to_owned(),
        Some(v) => v.to_string(),
    }
}

/// One line per result that needs attention.
pub fn summary_lines(report: &Report) -> Vec<String> {
    report
        .results()
        .filter(|(_, c)| c.status.needs_attention() || c.severity.is_some())
        .map(|(r, c)| summary_line(r, c))
        .chain(
            report
                .unfinished
                .iter()
                .map(|u| format!("[HIGH] unfinished: {u}")),
        )
        .collect()
}

fn summary_line(r: &Resource, c: &ControlResult) -> String {
    let severity = c
        .severity
        .map_or("INFO".to_owned(), |s| s.as_str().to_uppercase());
    let mut line = format!(
        "[{severity}] {} {} {}: {} - {}",
        r.kind.as_str(),
        r.id,
        c.control,
        c.status.as_str(),
        c.detail
    );
    if c.status == Status::Remediated {
        line.push_str(&format!(" ({} -> {})", brief(&c.before), brief(&c.after)));
    }
    line
}

/// The message to publish with `MessageStructure=json`: `default`, which every protocol
/// without its own key gets (e-mail, SQS, Lambda…), is [`body`]'s text, unchanged;
/// `https` is the [`chat::notification`] (Amazon Q Developer in chat applications
/// subscribes over HTTPS). No `email` key: it would repeat `default` and halve the room.
/// The whole document stays within [`MAX_MESSAGE_BYTES`]; the text is cut further only
/// when its escaped JSON would not fit (a sweep near the limit), in the same way.
pub fn message(report: &Report) -> String {
    let https = serde_json::to_string(&chat::notification(report)).unwrap_or_default();
    let document =
        |default: &str| serde_json::json!({ "default": default, "https": https }).to_string();
    let default = body_within(report, &|text: &str| {
        text.len() <= MAX_BODY_BYTES && document(text).len() <= MAX_MESSAGE_BYTES
    });
    document(&default)
}

/// The message body: the human summary, then the full report JSON on its own lines.
/// A report too large for SNS is cut to the resources that need attention, then to as
/// many of those as fit, saying how many entries were left out.
pub fn body(report: &Report) -> String {
    body_within(report, &|text: &str| text.len() <= MAX_BODY_BYTES)
}

/// [`body`], cut until `fits` takes it.
fn body_within(report: &Report, fits: &dyn Fn(&str) -> bool) -> String {
    let t = &report.trigger;
    let head = format!(
        "rekognition-guard {} ({}) in {}/{}, event {}, mode {}\n",
        t.event_name.as_deref().unwrap_or("-"),
        t.kind.as_str(),
        t.account.as_deref().unwrap_or("-"),
        t.region.as_deref().unwrap_or("-"),
        t.event_id.as_deref().unwrap_or("-"),
        report.mode.as_str(),
    );
    let head = match &t.change {
        Some(c) => format!(
            "{head}changed by {} from {} at {}\n",
            c.by,
            c.source_ip.as_deref().unwrap_or("an unknown address"),
            c.event_time.as_deref().unwrap_or("an unknown time")
        ),
        None => head,
    };
    let head = match (&t.change, drift_outcome(report)) {
        (Some(c), Some((bucket, controls, duel))) if *duel == STOPPED => format!(
            "{head}stopped: {} on {bucket} is no longer restored ({} restorations in the last \
             hour); {} keeps changing it: ask them to stop, or exempt the bucket\n",
            controls.join(", "),
            crate::state::MAX_RESTORATIONS,
            c.by,
        ),
        _ => head,
    };
    // Which key the encryption fixes use (the AWS managed one unless GUARD_KMS_KEY_ID is set).
    let head = match report.key_note() {
        Some(note) => format!("{head}{note}\n"),
        None => head,
    };
    let lines = summary_lines(report);
    let compose = |lines: &[String], left_out: usize, json: &str| {
        let mut s = head.clone();
        for l in lines {
            s.push_str(l);
            s.push('\n');
        }
        if left_out > 0 {
            s.push_str(&format!(
                "... {left_out} more entries left out to fit the SNS size limit\n"
            ));
        }
        s.push_str("\n--- report (JSON) ---\n");
        s.push_str(json);
        s.push('\n');
        s
    };
    let full_json = serde_json::to_string_pretty(report).unwrap_or_default();
    let full = compose(&lines, 0, &full_json);
    if fits(&full) {
        return full;
    }
    // Too large: keep only the resources needing attention, then halve until it fits.
    let mut reduced = report.clone();
    reduced
        .resources
        .retain(|r| r.controls.iter().any(|c| c.status.needs_attention()));
    let total = report.resources.len();
    let mut keep_lines = lines.len();
    loop {
        let left_out = total - reduced.resources.len() + (lines.len() - keep_lines);
        let json = serde_json::to_string(&reduced).unwrap_or_default();
        let candidate = compose(&lines[..keep_lines], left_out, &json);
        if fits(&candidate) || (reduced.resources.is_empty() && keep_lines == 0) {
            return candidate;
        }
        if !reduced.resources.is_empty() {
            let n = reduced.resources.len() / 2;
            reduced.resources.truncate(n);
        }
        keep_lines /= 2;
    }
}

/// Message attributes for subscription filter policies.
pub fn attributes(report: &Report) -> Vec<(&'static str, String)> {
    let t = &report.trigger;
    vec![
        (
            "severity",
            highest(report).unwrap_or(Severity::Low).as_str().to_owned(),
        ),
        (
            "account",
            t.account.clone().unwrap_or_else(|| "unknown".into()),
        ),
        (
            "region",
            t.region.clone().unwrap_or_else(|| "unknown".into()),
        ),
        (
            "event_name",
            t.event_name.clone().unwrap_or_else(|| "manual".into()),
        ),
        ("mode", report.mode.as_str().to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::event::TriggerInfo;
    use crate::report::{AlertOutcome, ResourceType};
    use serde_json::json;

    fn report(n: usize, statuses: &[(&str, Status)]) -> Report {
        Report {
            trigger: TriggerInfo {
                kind: TriggerKind::BucketCreated,
                event_id: Some("e-1".into()),
                event_name: Some("CreateBucket".into()),
                account: Some("123456789012".into()),
                region: Some("us-east-1".into()),
                ignored_reason: None,
                change: None,
                principal: None,
                reference: None,
            },
            mode: Mode::Remediate,
            resources: (0..n)
                .map(|i| Resource {
                    kind: ResourceType::S3Bucket,
                    id: format!("custom-labels-console-us-east-1-{i:06}"),
                    name: None,
                    role: Some("console".into()),
                    region: Some("us-east-1".into()),
                    account: None,
                    controls: statuses
                        .iter()
                        .map(|(c, s)| {
                            ControlResult::new(c, *s, "no default encryption: set SSE-KMS")
                                .with_before(json!(null))
                                .with_after(json!({"SSEAlgorithm": "aws:kms"}))
                        })
                        .collect(),
                })
                .collect(),
            alert: AlertOutcome::default(),
            security_hub: None,
            unfinished: vec![],
            change_record: None,
        }
    }

    #[test]
    fn severity_mapping() {
        use Status::*;
        let c = |control: &str, status| ControlResult::new(control, status, "");
        assert_eq!(classify(&c("sse-kms", Failed)), Some(Severity::High));
        assert_eq!(
            classify(&c("ai-opt-out", NonCompliant)),
            Some(Severity::High)
        );
        assert_eq!(
            classify(&c("data-sharing", NonCompliant)),
            Some(Severity::High)
        );
        assert_eq!(
            classify(&c("public-access-block", WouldRemediate)),
            Some(Severity::High)
        );
        assert_eq!(
            classify(&c("public-access-block", Remediated)),
            Some(Severity::Medium)
        );
        assert_eq!(
            classify(&c("kms-key-spec", NonCompliant)),
            Some(Severity::Medium)
        );
        assert_eq!(
            classify(&c("customer-managed-key", NonCompliant).with_severity(Severity::Low)),
            Some(Severity::Low)
        );
        assert_eq!(
            classify(&c("kms-key-spec", Compliant).with_severity(Severity::Low)),
            Some(Severity::Low)
        );
        assert_eq!(classify(&c("sse-kms", Compliant)), None);
        assert_eq!(classify(&c("sse-kms", Skipped)), None);
        assert_eq!(classify(&c("tls-only", Exempt)), Some(Severity::Low));
    }

    #[test]
    fn subject_says_what_and_where() {
        let mut r = report(
            1,
            &[
                ("sse-kms", Status::Remediated),
                ("tls-only", Status::Remediated),
                ("ai-opt-out", Status::NonCompliant),
            ],
        );
        classify_all(&mut r);
        assert_eq!(
            subject(&r),
            "[HIGH] rekognition-guard: 2 remediated, 1 non-compliant in 123456789012/us-east-1"
        );
        r.trigger.region = Some("ü".repeat(200));
        let s = subject(&r);
        assert!(
            s.len() <= MAX_SUBJECT_CHARS && s.is_ascii() && s.ends_with("..."),
            "{s}"
        );
    }

    #[test]
    fn drift_subject_names_what_was_restored_and_who_removed_it() {
        let mut r = report(
            1,
            &[
                ("tls-only", Status::Remediated),
                ("sse-kms", Status::Compliant),
            ],
        );
        r.resources[0].id = "acme-output".into();
        r.trigger.kind = TriggerKind::ConfigurationChanged;
        r.trigger.account = Some("111122223333".into());
        r.trigger.region = Some("eu-west-1".into());
        let by = |r: &mut Report, who: &str| {
            r.trigger.change = Some(crate::event::Change {
                by: who.into(),
                source_ip: None,
                event_time: None,
            })
        };
        by(&mut r, "arn:aws:sts::111122223333:assumed-role/ci/build-42");
        classify_all(&mut r);
        assert_eq!(
            subject(&r),
            "[HIGH] tls-only restored on acme-output in 111122223333/eu-west-1 after ci/build-42 removed it"
        );
        by(
            &mut r,
            "arn:aws:sts::444455556666:assumed-role/deployment-pipeline/session-1234567890",
        );
        let s = subject(&r);
        assert_eq!(
            s,
            "[HIGH] tls-only restored on acme-output in 111122223333/eu-west-1 after 444455556666:d... removed it"
        );
        assert!(s.len() <= MAX_SUBJECT_CHARS);
        r.resources[0].id = "ab".into();
        by(&mut r, "arn:aws:sts::111122223333:assumed-role/ci/build-42");
        r.resources[0].controls[0].control = "public-access-block".into();
        assert_eq!(
            subject(&r),
            "[HIGH] public-access-block restored on ab in 111122223333/eu-west-1 after ci/build-42 removed it"
        );
        r.resources[0].id = "custom-labels-console-us-east-1-3f9a1c2b7d".into();
        assert_eq!(
            subject(&r),
            "[HIGH] public-access-block restored on custom-labels-co...ast-1-3f9a1c2b7d in 111122223333/eu-west-1"
        );
        r.resources[0].controls[0].control = "tls-only".into();
        assert_eq!(
            subject(&r),
            "[HIGH] tls-only restored on custom-label...-3f9a1c2b7d in 111122223333/eu-west-1 after ci removed it"
        );
        // A principal that cannot be shortened: the subject leaves it to the body.
        r.trigger.change.as_mut().unwrap().by = "x".repeat(300);
        assert_eq!(
            subject(&r),
            "[HIGH] tls-only restored on custom-labels-console-us-east-1-3f9a1c2b7d in 111122223333/eu-west-1"
        );
        // Not a drift event: the usual counts.
        r.resources[0].id = "acme-output".into();
        r.trigger.kind = TriggerKind::BucketCreated;
        // As the control left it (the drift classification above raised it to high).
        r.resources[0].controls[0].severity = None;
        classify_all(&mut r);
        assert_eq!(
            subject(&r),
            "[MEDIUM] rekognition-guard: 1 remediated in 111122223333/eu-west-1"
        );
    }

    #[test]
    fn the_end_of_a_duel_says_what_is_no_longer_restored_and_who_keeps_changing_it() {
        let mut r = report(1, &[("tls-only", Status::NonCompliant)]);
        r.resources[0].id = "acme-output".into();
        r.resources[0].controls[0].detail = format!(
            "restored 3 times in the last hour; last changed by ci; {}",
            crate::state::DUEL_STOPPED
        );
        r.trigger.kind = TriggerKind::ConfigurationChanged;
        r.trigger.account = Some("111122223333".into());
        r.trigger.region = Some("eu-west-1".into());
        let ci = "arn:aws:sts::111122223333:assumed-role/ci-deploy/pipeline-run-4711";
        r.trigger.change = Some(crate::event::Change {
            by: ci.into(),
            source_ip: None,
            event_time: None,
        });
        classify_all(&mut r);
        assert_eq!(
            subject(&r),
            "[MEDIUM] rekognition-guard: tls-only no longer restored on acme-output: ci-deploy keeps changing it"
        );
        let b = body(&r);
        assert!(
            b.contains(&format!("stopped: tls-only on acme-output is no longer restored (3 restorations in the last hour); {ci} keeps changing it")),
            "{b}"
        );
        // A long bucket name gives way in its middle; who keeps changing it stays.
        r.resources[0].id = "custom-labels-console-us-east-1-3f9a1c2b7d".into();
        let s = subject(&r);
        assert!(s.len() <= MAX_SUBJECT_CHARS, "{s}");
        assert!(
            s.starts_with("[MEDIUM] tls-only no longer restored on custom-labels-"),
            "{s}"
        );
        assert!(
            s.ends_with("3f9a1c2b7d: ci-deploy keeps changing it"),
            "{s}"
        );
        // Another hold (a dependent, say) is not the end of a duel.
        r.resources[0].controls[0].detail = "held: account 444455556666 reads the bucket".into();
        assert!(!subject(&r).contains("no longer restored"));
        assert!(!body(&r).contains("stopped:"));
    }

    #[test]
    fn body_has_summary_then_parseable_json() {
        let mut r = report(
            1,
            &[
                ("sse-kms", Status::Remediated),
                ("tls-only", Status::Compliant),
            ],
        );
        classify_all(&mut r);
        let b = body(&r);
        let (summary, json) = b.split_once("\n--- report (JSON) ---\n").unwrap();
        assert!(summary.contains(
            "[MEDIUM] s3-bucket custom-labels-console-us-east-1-000000 sse-kms: remediated"
        ));
        assert!(summary.contains("(none -> {\"SSEAlgorithm\":\"aws:kms\"})"));
        assert!(!summary.contains("tls-only"));
        let back: Report = serde_json::from_str(json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn large_reports_are_cut_to_fit_and_say_so() {
        let mut r = report(
            3000,
            &[
                ("sse-kms", Status::Remediated),
                ("public-access-block", Status::Remediated),
                ("tls-only", Status::Compliant),
            ],
        );
        classify_all(&mut r);
        let b = body(&r);
        assert!(b.len() <= MAX_BODY_BYTES, "{}", b.len());
        assert!(b.contains("more entries left out"));
        let json = b.split_once("\n--- report (JSON) ---\n").unwrap().1;
        let back: Report = serde_json::from_str(json).unwrap();
        assert!(!back.resources.is_empty() && back.resources.len() < 3000);
    }

    #[test]
    fn attributes_for_filter_policies() {
        let mut r = report(1, &[("public-access-block", Status::WouldRemediate)]);
        r.mode = Mode::Audit;
        classify_all(&mut r);
        let attrs = attributes(&r);
        assert_eq!(attrs[0], ("severity", "high".to_owned()));
        assert!(attrs.contains(&("mode", "audit".to_owned())));
        assert!(attrs.contains(&("event_name", "CreateBucket".to_owned())));
    }

    #[test]
    fn the_message_keeps_the_email_text_for_every_protocol_but_https() {
        let mut r = report(
            2,
            &[
                ("sse-kms", Status::Remediated),
                ("tls-only", Status::Compliant),
            ],
        );
        classify_all(&mut r);
        let m: serde_json::Value = serde_json::from_str(&message(&r)).unwrap();
        let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["default", "https"]);
        // Byte for byte the text e-mail (and SQS, Lambda…) subscribers had before.
        assert_eq!(m["default"].as_str().unwrap(), body(&r));
        let https: serde_json::Value = serde_json::from_str(m["https"].as_str().unwrap()).unwrap();
        assert_eq!(https, serde_json::to_value(chat::notification(&r)).unwrap());
    }

    #[test]
    fn a_large_sweep_fits_sns_with_both_protocols() {
        for n in [250, 3000] {
            let mut r = report(
                n,
                &[
                    ("sse-kms", Status::Remediated),
                    ("public-access-block", Status::Remediated),
                    ("tls-only", Status::Compliant),
                ],
            );
            classify_all(&mut r);
            let text = message(&r);
            assert!(text.len() <= MAX_MESSAGE_BYTES, "{n}: {}", text.len());
            let m: serde_json::Value = serde_json::from_str(&text).unwrap();
            let default = m["default"].as_str().unwrap();
            assert!(default.contains("more entries left out"), "{n}");
            let json = default.split_once("\n--- report (JSON) ---\n").unwrap().1;
            let back: Report = serde_json::from_str(json).unwrap();
            assert!(!back.resources.is_empty(), "{n}");
            assert!(m["https"].as_str().unwrap().len() < 16 * 1024, "{n}");
        }
        // 250 resources: the text fits SNS alone (e-mail had it whole), but escaped
        // beside the chat message it does not, so it is cut the same way as a larger one.
        let mut r = report(
            250,
            &[
                ("sse-kms", Status::Remediated),
                ("public-access-block", Status::Remediated),
                ("tls-only", Status::Compliant),
            ],
        );
        classify_all(&mut r);
        assert!(!body(&r).contains("more entries left out"));
        let m: serde_json::Value = serde_json::from_str(&message(&r)).unwrap();
        assert!(
            m["default"]
                .as_str()
                .unwrap()
                .contains("more entries left out")
        );
    }
}

//! The alert as a chat channel shows it. Amazon Q Developer in chat applications (formerly
//! AWS Chatbot) renders an SNS message in Slack, Microsoft Teams and Amazon Chime only when
//! the message is a *custom notification*; [`notification`] builds one from the report, and
//! `alert::message` gives it to HTTPS subscribers (the chat service subscribes over HTTPS)
//! while e-mail keeps its text. Pure: no AWS calls, no configuration.
//!
//! Schema and limits: "Custom notifications using Amazon Q Developer in chat applications",
//! <https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html> ("Event
//! schema", "Parameter details"): `version` must be `1.0` and `source` `custom`;
//! `content.description` is required, markdown, at most 8,000 characters; `title` at most
//! 250; each of `nextSteps` (a bulleted list) at most 350; each of `keywords` (inline tags)
//! at most 75; `textType` only `client-markdown`; `metadata.summary` shows on the top-level
//! message of a thread (`threadId`); `additionalContext` is string to string.
//! tests/chat/custom-notification.schema.json transcribes the page for the tests.

use crate::change::StatesKind;
use crate::event::TriggerKind;
use crate::report::{ControlResult, Report, Resource, Severity, Status};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const MAX_TITLE_CHARS: usize = 250;
pub const MAX_DESCRIPTION_CHARS: usize = 8_000;
pub const MAX_NEXT_STEP_CHARS: usize = 350;
pub const MAX_KEYWORD_CHARS: usize = 75;
/// Ours (the page sets no count): what a channel reader acts on; the e-mail has the rest.
pub const MAX_NEXT_STEPS: usize = 6;
pub const MAX_RELATED_RESOURCES: usize = 10;
/// Held resources given a step each; the rest are counted in one.
const MAX_HELD_STEPS: usize = 3;
/// One result's detail in the description: a held bucket's reason can be long.
const MAX_DETAIL_CHARS: usize = 600;
/// The description's first lines (a drift event names a principal of any length).
const MAX_HEAD_CHARS: usize = 1_000;

/// A custom notification, field for field as the page names them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub version: &'static str,
    pub source: &'static str,
    /// The event's id, when the trigger has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub content: Content,
    pub metadata: Metadata,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    pub text_type: &'static str,
    pub title: String,
    pub description: String,
    pub next_steps: Vec<String>,
    pub keywords: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub thread_id: String,
    pub summary: String,
    pub event_type: String,
    pub related_resources: Vec<String>,
    pub additional_context: BTreeMap<&'static str, String>,
}

/// The custom notification for a report: the subject as title, the results that need
/// attention (most severe first) as the description, what to do as next steps, and
/// severity, account, Region and trigger as keywords (severity also as metadata).
pub fn notification(report: &Report) -> Notification {
    let t = &report.trigger;
    let subject = super::subject(report);
    let severity = severity_word(report);
    let account = t.account.clone().unwrap_or_else(|| "unknown".into());
    let region = t.region.clone().unwrap_or_else(|| "unknown".into());
    let trigger = t
        .event_name
        .clone()
        .unwrap_or_else(|| t.kind.as_str().to_owned());
    let mut context = BTreeMap::from([
        ("severity", severity.to_lowercase()),
        ("account", account.clone()),
        ("region", region.clone()),
        ("mode", report.mode.as_str().to_owned()),
        ("trigger", trigger.clone()),
        ("counts", counts(report)),
    ]);
    if let Some(id) = &t.event_id {
        context.insert("eventId", id.clone());
    }
    Notification {
        version: "1.0",
        source: "custom",
        id: t.event_id.clone(),
        content: Content {
            text_type: "client-markdown",
            title: cut(&subject, MAX_TITLE_CHARS),
            description: description(report),
            next_steps: next_steps(report),
            keywords: [severity, account, region, trigger]
                .iter()
                .map(|k| cut(k, MAX_KEYWORD_CHARS))
                .collect(),
        },
        metadata: Metadata {
            thread_id: thread_id(report),
            summary: subject,
            event_type: format!("rekognition-guard-{}", t.kind.as_str()),
            related_resources: related_resources(report),
            additional_context: context,
        },
    }
}

/// `HIGH`, `MEDIUM`, `LOW`, or `INFO` when nothing has a severity (as the subject says).
fn severity_word(report: &Report) -> String {
    super::highest(report)
        .map_or("INFO", severity_upper)
        .to_owned()
}

fn severity_upper(s: Severity) -> &'static str {
    match s {
        Severity::High => "HIGH",
        Severity::Medium => "MEDIUM",
        Severity::Low => "LOW",
    }
}

/// `2 remediated, 1 non-compliant`.
fn counts(report: &Report) -> String {
    let counts: Vec<String> = report
        .counts()
        .into_iter()
        .filter(|(s, _)| s.needs_attention())
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    if counts.is_empty() {
        "none".to_owned()
    } else {
        counts.join(", ")
    }
}

/// The results the e-mail lists, most severe first (the report's order otherwise).
fn entries(report: &Report) -> Vec<Entry<'_>> {
    let mut entries: Vec<Entry> = report
        .results()
        .filter(|(_, c)| c.status.needs_attention() || c.severity.is_some())
        .collect();
    entries.sort_by_key(|(_, c)| std::cmp::Reverse(c.severity));
    entries
}

/// The trigger, then one line per result that needs attention, cut to fit with a count
/// of what was left out (the e-mail and the report have every line).
fn description(report: &Report) -> String {
    let t = &report.trigger;
    let mut head = format!(
        "*{}* ({}) in {}/{}, mode *{}*",
        t.event_name.as_deref().unwrap_or("manual run"),
        t.kind.as_str(),
        code(t.account.as_deref().unwrap_or("unknown")),
        code(t.region.as_deref().unwrap_or("unknown")),
        report.mode.as_str(),
    );
    if let Some(id) = &t.event_id {
        head.push_str(&format!(", event {}", code(id)));
    }
    if let Some(c) = &t.change {
        head.push_str(&format!(
            "\nChanged by {} from {} at {}",
            code(&c.by),
            c.source_ip.as_deref().unwrap_or("an unknown address"),
            c.event_time.as_deref().unwrap_or("an unknown time")
        ));
    }
    let lines: Vec<String> = entries(report)
        .into_iter()
        .map(|(r, c)| line(r, c))
        .chain(report.unfinished.iter().map(|u| {
            format!(
                "• *HIGH* unfinished: {}",
                cut(&one_line(u), MAX_DETAIL_CHARS)
            )
        }))
        .collect();
    fit(&cut(&head, MAX_HEAD_CHARS), &lines, MAX_DESCRIPTION_CHARS)
}

/// `• *MEDIUM* `bucket` (s3-bucket) sse-kms: *remediated* — AES256 (SSE-S3): set SSE-KMS…`
fn line(r: &Resource, c: &ControlResult) -> String {
    format!(
        "• *{}* {} ({}) {}: *{}* — {}",
        c.severity.map_or("INFO", severity_upper),
        code(&r.id),
        r.kind.as_str(),
        c.control,
        c.status.as_str(),
        cut(&one_line(&c.detail), MAX_DETAIL_CHARS)
    )
}

/// `head`, then as many `lines` as fit in `max` characters, then how many were left out.
fn fit(head: &str, lines: &[String], max: usize) -> String {
    let left_out = |n: usize| {
        format!("_… {n} more left out here: the e-mail alert and the report list every result_")
    };
    let reserve = left_out(lines.len()).chars().count() + 1;
    let mut out = head.to_owned();
    let mut used = out.chars().count();
    for (i, l) in lines.iter().enumerate() {
        let len = l.chars().count() + 1;
        let last = i + 1 == lines.len();
        if used + len + if last { 0 } else { reserve } > max {
            out.push('\n');
            out.push_str(&left_out(lines.len() - i));
            return out;
        }
        out.push('\n');
        out.push_str(l);
        used += len;
    }
    out
}

/// What the security team should do, most urgent first: failed work (retried, then
/// dead-lettered), held fixes (why, and the safe path), non-compliance the function does
/// not fix, audit mode's would-be changes (how to apply them), a drift restoration (who
/// removed the protection), remediations (how to review or undo them).
fn next_steps(report: &Report) -> Vec<String> {
    let results: Vec<Entry> = report.results().collect();
    let mut steps: Vec<String> = [failed_step(&results), unfinished_step(report)]
        .into_iter()
        .flatten()
        .collect();
    steps.extend(held_steps(&results));
    steps.extend(
        [
            open_step(&results),
            would_step(&results),
            done_step(report, &results),
        ]
        .into_iter()
        .flatten(),
    );
    steps.truncate(MAX_NEXT_STEPS);
    steps
}

type Entry<'a> = (&'a Resource, &'a ControlResult);

fn with<'a>(results: &'a [Entry<'a>], status: Status) -> impl Iterator<Item = &'a Entry<'a>> {
    results.iter().filter(move |(_, c)| c.status == status)
}

fn failed_step(results: &[Entry]) -> Option<String> {
    let failed: Vec<_> = with(results, Status::Failed).collect();
    let (r, c) = failed.first()?;
    Some(step(
        &format!(
            "Failed ({}), e.g. {} {}: ",
            failed.len(),
            code(&r.id),
            c.control
        ),
        &one_line(&c.detail),
        ". Lambda retries the event, then keeps it in the dead-letter queue (alarmed): fix the cause, then redrive it or run `rekognition-guard scan --bucket NAME`.",
    ))
}

fn unfinished_step(report: &Report) -> Option<String> {
    let u = report.unfinished.first()?;
    Some(step(
        &format!("Unfinished ({}), e.g. ", report.unfinished.len()),
        &one_line(u),
        ": the deadline came first; the invocation fails, so Lambda retries it (then dead-letters it).",
    ))
}

/// One step per held resource, its controls together (they share the safe path); past
/// [`MAX_HELD_STEPS`], one step counts the rest.
fn held_steps(results: &[Entry]) -> Vec<String> {
    let mut held: Vec<(&Resource, Vec<&str>, &str)> = Vec::new();
    for (r, c) in results.iter().filter(|(_, c)| c.status != Status::Failed) {
        let Some(why) = held_reason(c) else { continue };
        match held
            .iter_mut()
            .find(|(h, _, _)| h.id == r.id && h.kind == r.kind)
        {
            Some((_, controls, _)) => controls.push(&c.control),
            None => held.push((r, vec![&c.control], why)),
        }
    }
    let mut steps: Vec<String> = held
        .iter()
        .take(MAX_HELD_STEPS)
        .map(|(r, controls, why)| {
            let why = why.strip_prefix("held, nothing written: ").unwrap_or(why);
            let (what, fix) = why.split_once(" — ").unwrap_or((why, ""));
            let fix = if fix.is_empty() {
                String::new()
            } else {
                format!(". Fix: {}", one_line(fix))
            };
            step(
                &format!("Held on {} ({}): ", code(&r.id), controls.join(", ")),
                &one_line(what),
                &fix,
            )
        })
        .collect();
    if held.len() > MAX_HELD_STEPS {
        steps.push(format!(
            "Held on {} more resources: the description and the e-mail give each one's reason and safe path.",
            held.len() - MAX_HELD_STEPS
        ));
    }
    steps
}

/// Non-compliance nobody held: the function does not change it (an opt-out policy, a key).
fn open_step(results: &[Entry]) -> Option<String> {
    let open: Vec<_> = with(results, Status::NonCompliant)
        .filter(|(_, c)| held_reason(c).is_none())
        .collect();
    let (r, c) = open.first()?;
    Some(step(
        &format!(
            "Non-compliant ({}), e.g. {} {} {}: ",
            open.len(),
            r.kind.as_str(),
            code(&r.id),
            c.control
        ),
        &one_line(&c.detail),
        ". The function does not change this: the owner must.",
    ))
}

fn would_step(results: &[Entry]) -> Option<String> {
    let n = with(results, Status::WouldRemediate).count();
    (n > 0).then(|| {
        format!(
            "Would remediate ({n}): audit mode wrote nothing. Review with `rekognition-guard plan`, then apply exactly that with `rekognition-guard apply --plan PLAN.json`, or set GUARD_MODE=remediate."
        )
    })
}

/// After remediation: who to ask (a drift restoration), or how to review and undo.
fn done_step(report: &Report, results: &[Entry]) -> Option<String> {
    let n = with(results, Status::Remediated).count();
    if n == 0 {
        return None;
    }
    match (&report.trigger.kind, &report.trigger.change) {
        (TriggerKind::ConfigurationChanged, Some(change)) => Some(step(
            "Restored after ",
            &code(&change.by),
            " removed it: ask why. A writer that keeps removing it is stopped after three restorations in an hour.",
        )),
        _ => Some(format!(
            "Remediated ({n}): nothing to do. `rekognition-guard history` lists the changes; `rekognition-guard undo --change ID` puts one back."
        )),
    }
}

/// Why a fix was held back, when it was: the handler marks the result (in process), and
/// the detail says so (`… (not applied: held, nothing written: …)`) in a report read back.
fn held_reason(c: &ControlResult) -> Option<&str> {
    let marked = c
        .states
        .as_ref()
        .is_some_and(|s| s.kind == StatesKind::Held);
    let (_, why) = c.detail.split_once("(not applied: ")?;
    let why = why.strip_suffix(')').unwrap_or(why);
    (marked || why.starts_with("held")).then_some(why)
}

/// `lead` + `middle` + `tail` in at most [`MAX_NEXT_STEP_CHARS`]: the middle (a detail)
/// gives way first, so the action in the tail survives.
fn step(lead: &str, middle: &str, tail: &str) -> String {
    let fixed = lead.chars().count() + tail.chars().count();
    if fixed + 1 >= MAX_NEXT_STEP_CHARS {
        return cut(&format!("{lead}{middle}{tail}"), MAX_NEXT_STEP_CHARS);
    }
    format!("{lead}{}{tail}", cut(middle, MAX_NEXT_STEP_CHARS - fixed))
}

/// One thread per resource when one resource needs attention (its later alerts land in the
/// same thread), else one per account and Region.
fn thread_id(report: &Report) -> String {
    let t = &report.trigger;
    let place = format!(
        "rekognition-guard-{}-{}",
        t.account.as_deref().unwrap_or("unknown"),
        t.region.as_deref().unwrap_or("unknown")
    );
    let ids: std::collections::BTreeSet<&str> =
        entries(report).iter().map(|(r, _)| r.id.as_str()).collect();
    match ids.iter().collect::<Vec<_>>().as_slice() {
        [one] => {
            let hash = Sha256::digest(one.as_bytes());
            let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("{place}-{hex}")
        }
        _ => place,
    }
}

/// The resources that need attention, each once, most severe first.
fn related_resources(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (r, _) in entries(report) {
        if !out.contains(&r.id) {
            out.push(r.id.clone());
        }
    }
    out.truncate(MAX_RELATED_RESOURCES);
    out
}

/// Markdown inline code; a backtick inside would end it early.
fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', "'"))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters, ending in `…` when cut.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests;

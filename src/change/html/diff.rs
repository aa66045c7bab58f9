//! One control of one resource on the page: its status, why, and for a change (or a held
//! one) the before → after it plans: a settings table for encryption and Block Public
//! Access, statements added and removed for a policy.

use super::{esc, label};
use crate::change::plan::{PlanControl, PlanStatus};
use crate::controls::tls_only;
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// The markup of one control.
pub(super) fn control(c: &PlanControl) -> String {
    match c.status {
        PlanStatus::WouldChange | PlanStatus::Held => change(c),
        PlanStatus::Compliant => compliant(c),
        _ => finding(c),
    }
}

fn head(c: &PlanControl) -> String {
    let severity = c
        .severity
        .map(|s| {
            format!(
                "<span class=\"sev sev-{0}\">{0} severity</span>",
                s.as_str()
            )
        })
        .unwrap_or_default();
    format!(
        "<div class=\"ctl-head\"><code class=\"cid\">{}</code><span class=\"badge st-{}\">{}</span>{severity}</div>",
        esc(&c.control),
        c.status.as_str(),
        label(c.status)
    )
}

/// A planned write, or one the dependents hold: why, then the diff.
fn change(c: &PlanControl) -> String {
    let why = if c.status == PlanStatus::Held {
        format!(
            "<div class=\"held-why\"><strong>Held: nothing will be written.</strong> {}</div>\
             <p class=\"would\">The change it would make once nothing depends on the current state:</p>",
            esc(&c.detail)
        )
    } else {
        format!("<p class=\"detail\">{}</p>", esc(&c.detail))
    };
    // A saved plan read back loses `null` (nothing configured) to absent: same meaning here.
    let before = c.before.as_ref().unwrap_or(&Value::Null);
    let after = c.after.as_ref().unwrap_or(&Value::Null);
    let diff = if c.control == tls_only::ID {
        policy(before, after, &c.statements_added, &c.statements_removed)
    } else if is_state(before) && is_state(after) {
        settings(before, after)
    } else {
        raw(before, after)
    };
    format!(
        "<div class=\"ctl st-{}\">{}{why}{diff}</div>\n",
        c.status.as_str(),
        head(c)
    )
}

fn compliant(c: &PlanControl) -> String {
    format!(
        "<div class=\"ctl-line\"><span class=\"mark\" aria-hidden=\"true\">✓</span><code class=\"cid\">{}</code>\
         <span class=\"badge st-compliant\">compliant</span><span class=\"detail\">{}</span></div>\n",
        esc(&c.control),
        esc(&c.detail)
    )
}

/// Exempt, non-compliant, failed, skipped: what the control found, and what it read.
fn finding(c: &PlanControl) -> String {
    let read = match &c.before {
        Some(v) if !v.is_null() => format!(
            "<details><summary>State read</summary><pre>{}</pre></details>",
            esc(&pretty(v))
        ),
        _ => String::new(),
    };
    format!(
        "<div class=\"ctl st-{}\">{}<p class=\"detail\">{}</p>{read}</div>\n",
        c.status.as_str(),
        head(c),
        esc(&c.detail)
    )
}

/// An object of settings, or nothing configured.
fn is_state(v: &Value) -> bool {
    v.is_object() || v.is_null()
}

/// Before → after, one row per setting; changed rows are marked.
fn settings(before: &Value, after: &Value) -> String {
    let empty = Map::new();
    let (b, a) = (
        before.as_object().unwrap_or(&empty),
        after.as_object().unwrap_or(&empty),
    );
    let keys = a.keys().chain(b.keys().filter(|k| !a.contains_key(*k)));
    let mut rows = String::new();
    for key in keys {
        // Compared as shown: a null key id means no key under AES256 but aws/s3 under aws:kms.
        let (old, new) = (
            setting(key, b.get(key), before),
            setting(key, a.get(key), after),
        );
        let _ = write!(
            rows,
            "<tr class=\"{}\"><th>{}</th><td class=\"old\">{old}</td><td class=\"arrow\">→</td><td class=\"new\">{new}</td></tr>",
            if before.is_null() || old != new {
                "changed"
            } else {
                "same"
            },
            esc(key),
        );
    }
    let caption = if before.is_null() {
        "<caption>Nothing configured today</caption>"
    } else {
        ""
    };
    format!(
        "<table class=\"diff\">{caption}<colgroup><col class=\"k\"><col><col class=\"a\"><col></colgroup><thead><tr><th>Setting</th><th>Before</th><th></th><th>After</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// One setting's value as people read it (`state`: the object it is part of).
fn setting(key: &str, value: Option<&Value>, state: &Value) -> String {
    let kms = state.get("SSEAlgorithm").and_then(Value::as_str) == Some("aws:kms");
    match value {
        None if state.is_null() => "<span class=\"unset\">not set</span>".to_owned(),
        None => "<span class=\"unset\">absent</span>".to_owned(),
        Some(Value::Null) if key == "KMSMasterKeyID" && kms => {
            "<span class=\"val\">aws/s3</span> <span class=\"note\">AWS managed key</span>"
                .to_owned()
        }
        Some(Value::Null) => "<span class=\"unset\">none</span>".to_owned(),
        Some(Value::Bool(true)) => "<span class=\"flag on\">on</span>".to_owned(),
        Some(Value::Bool(false)) => "<span class=\"flag off\">off</span>".to_owned(),
        Some(Value::Array(items)) if items.is_empty() => {
            "<span class=\"unset\">none</span>".to_owned()
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| format!("<span class=\"val\">{}</span>", esc(&scalar(i))))
            .collect::<Vec<_>>()
            .join(" "),
        Some(v) => format!("<span class=\"val\">{}</span>", esc(&scalar(v))),
    }
}

fn scalar(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// A policy change: what is kept, each statement added (and removed), the full
/// documents folded away.
fn policy(before: &Value, after: &Value, added: &[Value], removed: &[Value]) -> String {
    let old = statements(before);
    let new = statements(after);
    let mut out = String::new();
    match before.as_str() {
        None => out.push_str("<p class=\"ctx\">No bucket policy today: a new one is created.</p>"),
        Some(_) => {
            let kept: Vec<&Value> = old.iter().filter(|s| new.contains(s)).collect();
            let chips: String = kept
                .iter()
                .map(|s| format!("<code class=\"sid\">{}</code>", esc(&sid(s))))
                .collect();
            let _ = write!(
                out,
                "<p class=\"ctx\">Today: {} · kept unchanged: {}</p>",
                super::plural(old.len(), "statement", "statements"),
                if kept.is_empty() {
                    "none".to_owned()
                } else {
                    chips
                }
            );
        }
    }
    for s in added {
        out.push_str(&statement("added", "+ added", s));
    }
    if removed.is_empty() {
        out.push_str("<p class=\"none-removed\">No statement removed.</p>");
    } else {
        for s in removed {
            out.push_str(&statement("removed", "− removed", s));
        }
    }
    for (title, doc, n) in [
        ("Full policy before", before, old.len()),
        ("Full policy after", after, new.len()),
    ] {
        if let Some(text) = doc.as_str() {
            let _ = write!(
                out,
                "<details><summary>{title} ({})</summary><pre>{}</pre></details>",
                super::plural(n, "statement", "statements"),
                esc(&pretty_text(text))
            );
        }
    }
    out
}

fn statement(class: &str, mark: &str, s: &Value) -> String {
    format!(
        "<div class=\"stmt {class}\"><div class=\"stmt-head\">{mark} <code>{}</code></div><pre>{}</pre></div>",
        esc(&sid(s)),
        esc(&by_key(s))
    )
}

/// A statement one element per line (`"Resource": ["a", "b"]`): short enough to read at a
/// glance, and every key still on its own line.
fn by_key(v: &Value) -> String {
    match v.as_object() {
        Some(map) if !map.is_empty() => {
            let lines: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("  {}: {}", inline(&Value::String(k.clone())), inline(v)))
                .collect();
            format!("{{\n{}\n}}", lines.join(",\n"))
        }
        _ => inline(v),
    }
}

/// JSON on one line, spaced as people write it.
fn inline(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(inline).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", inline(&Value::String(k.clone())), inline(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        scalar => scalar.to_string(),
    }
}

/// A policy state's statements (none for nothing configured or a document that does not parse).
fn statements(state: &Value) -> Vec<Value> {
    let Some(doc) = state.as_str().and_then(|t| crate::policy::parse(t).ok()) else {
        return Vec::new();
    };
    crate::policy::statements(&doc)
        .map(|s| s.into_iter().map(|m| Value::Object(m.clone())).collect())
        .unwrap_or_default()
}

fn sid(statement: &Value) -> String {
    statement
        .get("Sid")
        .and_then(Value::as_str)
        .map_or_else(|| "(no Sid)".to_owned(), str::to_owned)
}

/// Any other before → after: both shown whole.
fn raw(before: &Value, after: &Value) -> String {
    format!(
        "<div class=\"raw\"><div><h4>Before</h4><pre>{}</pre></div><div><h4>After</h4><pre>{}</pre></div></div>",
        esc(&pretty(before)),
        esc(&pretty(after))
    )
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// A JSON document given as text, indented; text that is not JSON, as it is.
fn pretty_text(text: &str) -> String {
    serde_json::from_str::<Value>(text).map_or_else(|_| text.to_owned(), |v| pretty(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn planned(control: &str, status: PlanStatus, before: Value, after: Value) -> PlanControl {
        PlanControl {
            control: control.into(),
            status,
            severity: None,
            detail: "why".into(),
            before: Some(before),
            after: Some(after),
            statements_added: vec![],
            statements_removed: vec![],
        }
    }

    #[test]
    fn settings_mark_what_changes() {
        let before = json!({"SSEAlgorithm": "AES256", "KMSMasterKeyID": null, "BucketKeyEnabled": false, "Other": 1});
        let after = json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": null, "BucketKeyEnabled": true, "BlockedEncryptionTypes": ["SSE-C"], "Other": 1});
        let html = settings(&before, &after);
        assert_eq!(
            html.matches("<tr class=\"changed\">").count(),
            4,
            "a null key under AES256 is no key, under aws:kms the aws/s3 key: {html}"
        );
        assert_eq!(html.matches("<tr class=\"same\">").count(), 1);
        assert!(
            html.contains(
                "<th>SSEAlgorithm</th><td class=\"old\"><span class=\"val\">AES256</span>"
            )
        );
        assert!(html.contains("aws/s3</span> <span class=\"note\">AWS managed key"));
        assert!(html.contains("<span class=\"flag on\">on</span>"));
        assert!(html.contains("<span class=\"unset\">absent</span>"));
    }

    #[test]
    fn nothing_configured_is_said_once() {
        let html = settings(&Value::Null, &json!({"BlockPublicAcls": true}));
        assert!(html.contains("Nothing configured today"));
        assert!(html.contains("not set"));
    }

    #[test]
    fn a_policy_change_shows_kept_added_and_no_removal() {
        let keep = json!({"Sid": "Keep", "Effect": "Allow"});
        let deny = json!({"Sid": "DenyInsecureTransport", "Effect": "Deny"});
        let before = Value::String(json!({"Statement": [keep]}).to_string());
        let after = Value::String(json!({"Statement": [keep, deny]}).to_string());
        let html = policy(&before, &after, std::slice::from_ref(&deny), &[]);
        assert!(
            html.contains("Today: 1 statement · kept unchanged: <code class=\"sid\">Keep</code>")
        );
        assert!(html.contains("<div class=\"stmt added\"><div class=\"stmt-head\">+ added <code>DenyInsecureTransport</code>"));
        assert!(html.contains("No statement removed."));
        assert!(html.contains("<summary>Full policy before (1 statement)</summary>"));
        assert!(html.contains("<summary>Full policy after (2 statements)</summary>"));
    }

    #[test]
    fn statements_read_one_key_per_line() {
        let s = json!({"Sid": "T", "Resource": ["a", "b"], "Condition": {"Bool": {"k": "false"}}});
        assert_eq!(
            by_key(&s),
            "{\n  \"Sid\": \"T\",\n  \"Resource\": [\"a\", \"b\"],\n  \"Condition\": {\"Bool\": {\"k\": \"false\"}}\n}"
        );
        assert_eq!(
            serde_json::from_str::<Value>(&by_key(&s)).unwrap(),
            s,
            "still JSON"
        );
    }

    #[test]
    fn removed_statements_are_shown_apart() {
        let stale = json!({"Sid": "Stale", "Principal": {"AWS": "AROAEXAMPLE"}});
        let before = Value::String(json!({"Statement": [stale]}).to_string());
        let html = policy(&before, &Value::String("{}".into()), &[], &[stale]);
        assert!(html.contains(
            "<div class=\"stmt removed\"><div class=\"stmt-head\">− removed <code>Stale</code>"
        ));
        assert!(!html.contains("No statement removed."));
    }

    #[test]
    fn no_policy_today() {
        let html = policy(&Value::Null, &Value::String("{}".into()), &[], &[]);
        assert!(html.contains("No bucket policy today"));
        assert!(!html.contains("Full policy before"));
    }

    #[test]
    fn held_says_why_and_still_shows_the_diff() {
        let c = PlanControl {
            detail: "would break account 444455556666".into(),
            ..planned(
                "public-access-block",
                PlanStatus::Held,
                Value::Null,
                json!({"BlockPublicAcls": true}),
            )
        };
        let html = control(&c);
        assert!(
            html.contains(
                "Held: nothing will be written.</strong> would break account 444455556666"
            )
        );
        assert!(html.contains("<table class=\"diff\">"));
    }

    #[test]
    fn a_saved_plan_without_before_reads_as_nothing_configured() {
        let c = PlanControl {
            before: None,
            ..planned(
                "sse-kms",
                PlanStatus::WouldChange,
                Value::Null,
                json!({"SSEAlgorithm": "aws:kms"}),
            )
        };
        assert!(control(&c).contains("Nothing configured today"));
    }

    #[test]
    fn other_states_are_shown_whole() {
        let c = planned(
            "kms-key-spec",
            PlanStatus::WouldChange,
            json!("SYMMETRIC_DEFAULT"),
            json!(["a", "b"]),
        );
        let html = control(&c);
        assert!(html.contains("<h4>Before</h4><pre>&quot;SYMMETRIC_DEFAULT&quot;</pre>"));
    }

    #[test]
    fn compliant_is_one_line_and_findings_show_what_was_read() {
        let ok = planned("sse-kms", PlanStatus::Compliant, json!({}), Value::Null);
        assert!(control(&ok).starts_with("<div class=\"ctl-line\">"));
        let bad = planned(
            "ai-opt-out",
            PlanStatus::NonCompliant,
            json!({"a": 1}),
            Value::Null,
        );
        let html = control(&bad);
        assert!(html.contains("<summary>State read</summary>"));
        assert!(html.contains("badge st-non-compliant\">non-compliant"));
    }
}

//! The plan as one self-contained HTML page for the people who approve `apply`: a header
//! with the totals, a heat map of accounts × controls, then each resource's before → after.
//!
//! Pure: a [`PlanDoc`] in, a string out. The page makes no request of any kind (inline
//! CSS, SVG and script, system fonts) and reads the same without its script: the script
//! only adds the account and status filters. Every text of the plan (bucket names,
//! details, policy documents) is untrusted and escaped where it lands: [`esc`] in markup,
//! [`script_json`] inside `<script>`.
//!
//! For machines (the browser test): one `data-status`/`data-count` element per status,
//! `data-changes` on the changes count, and `data-ready="1"` on `<body>` once the script
//! has run without error.

mod diff;
mod heatmap;

use super::plan::{PlanDoc, PlanResource, PlanStatus};
use crate::config::Scope;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const CSS: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// The page for `plan --format html`.
pub fn render(doc: &PlanDoc) -> String {
    let mut out = String::with_capacity(16 * 1024 + doc.resources.len() * 4096);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
         <title>Plan {id} · rekognition-guard</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n",
        id = esc(&doc.id)
    );
    out.push_str(&header(doc));
    out.push_str("<main>\n");
    out.push_str(&not_planned(&doc.not_planned));
    out.push_str(&summary(doc));
    out.push_str(&filters(doc));
    out.push_str(&resources(&doc.resources));
    out.push_str("</main>\n");
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"plan-data\">{}</script>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n",
        script_json(doc)
    );
    out
}

/// HTML-escapes text for element content and quoted attribute values alike.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The plan as JSON safe inside `<script>`: no `<`, `>` or `&` survives (so nothing can
/// close the element or open a comment), nor the two line separators old parsers choke on.
fn script_json(doc: &PlanDoc) -> String {
    serde_json::to_string(doc)
        .unwrap_or_else(|_| "null".to_owned())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// How bad a status is, for colouring: the worst of a cell or a resource wins.
/// `skipped` (not evaluated) ranks just above `compliant`: it must not hide a finding.
pub(crate) fn rank(status: PlanStatus) -> u8 {
    match status {
        PlanStatus::Failed => 6,
        PlanStatus::Held => 5,
        PlanStatus::WouldChange => 4,
        PlanStatus::NonCompliant => 3,
        PlanStatus::Exempt => 2,
        PlanStatus::Skipped => 1,
        PlanStatus::Compliant => 0,
    }
}

/// Statuses from worst to best: the order of badges, legends and filters.
pub(crate) fn by_severity() -> [PlanStatus; 7] {
    let mut all = PlanStatus::ALL;
    all.sort_by_key(|s| std::cmp::Reverse(rank(*s)));
    all
}

/// The worst status with a non-zero count.
pub(crate) fn worst<'a>(statuses: impl IntoIterator<Item = &'a PlanStatus>) -> Option<PlanStatus> {
    statuses.into_iter().copied().max_by_key(|s| rank(*s))
}

/// A status as people read it.
pub(crate) fn label(status: PlanStatus) -> &'static str {
    match status {
        PlanStatus::WouldChange => "would change",
        other => other.as_str(),
    }
}

fn count(totals: &BTreeMap<PlanStatus, usize>, status: PlanStatus) -> usize {
    totals.get(&status).copied().unwrap_or(0)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn header(doc: &PlanDoc) -> String {
    let scope = match doc.scope {
        Scope::Account => "account",
        Scope::Organization => "organization",
    };
    let regions = if doc.regions.is_empty() {
        "-".to_owned()
    } else {
        doc.regions.join(", ")
    };
    let mut meta = String::new();
    for (term, value) in [
        ("Plan", doc.id.as_str()),
        ("Scope", scope),
        ("Account", doc.account.as_str()),
        ("Regions", regions.as_str()),
        ("Created", doc.created_at.as_str()),
        ("Principal", doc.principal.as_deref().unwrap_or("-")),
    ] {
        let _ = write!(meta, "<div><dt>{term}</dt><dd>{}</dd></div>", esc(value));
    }
    let n = doc.changes.len();
    format!(
        "<header class=\"top\">\n<div class=\"wrap\">\n\
         <div class=\"title\"><h1>Remediation plan</h1><span class=\"product\">rekognition-guard · read-only, nothing written yet</span></div>\n\
         <dl class=\"meta\">{meta}</dl>\n\
         <div class=\"totals\">\n<div class=\"apply\" data-changes=\"{n}\"><strong>{n}</strong> {}</div>\n\
         <div class=\"badges\">{}</div>\n</div>\n</div>\n</header>\n",
        if n == 1 {
            "change for apply"
        } else {
            "changes for apply"
        },
        badges(&doc.totals)
    )
}

/// One badge per status, zeros included (dimmed), each with its machine-readable count.
fn badges(totals: &BTreeMap<PlanStatus, usize>) -> String {
    by_severity()
        .iter()
        .map(|s| {
            let n = count(totals, *s);
            format!(
                "<span class=\"badge st-{id}{zero}\" data-status=\"{id}\" data-count=\"{n}\"><b>{n}</b> {}</span>",
                label(*s),
                id = s.as_str(),
                zero = if n == 0 { " zero" } else { "" },
            )
        })
        .collect()
}

fn not_planned(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let list: String = items
        .iter()
        .map(|i| format!("<li>{}</li>", esc(i)))
        .collect();
    format!(
        "<section class=\"warn\"><h2>Not planned</h2><p>These accounts and Regions were not read; \
         the plan says nothing about them.</p><ul>{list}</ul></section>\n"
    )
}

fn summary(doc: &PlanDoc) -> String {
    let buckets = doc
        .resources
        .iter()
        .filter(|r| r.kind == crate::report::ResourceType::S3Bucket)
        .count();
    let mut accounts: Vec<&str> = doc.cells.iter().map(|c| c.account.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    format!(
        "<section class=\"summary\"><h2>Accounts × controls</h2>\
         <p class=\"sub\">{} · {} · {}. Each cell: the worst status of that control in that account and Region, \
         and how many resources are in each status.<span class=\"js-only\" hidden> Click a cell to filter the list below.</span></p>\n{}</section>\n",
        plural(accounts.len(), "account", "accounts"),
        plural(buckets, "bucket", "buckets"),
        plural(doc.resources.len(), "resource", "resources"),
        heatmap::svg(&doc.cells)
    )
}

/// The two filters, hidden until the script shows them (without it, all is visible).
fn filters(doc: &PlanDoc) -> String {
    let mut accounts: Vec<&str> = doc.resources.iter().map(|r| r.account.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let account_options: String = accounts
        .iter()
        .map(|a| format!("<option value=\"{a}\">{a}</option>", a = esc(a)))
        .collect();
    let status_options: String = by_severity()
        .iter()
        .filter(|s| count(&doc.totals, **s) > 0)
        .map(|s| format!("<option value=\"{}\">{}</option>", s.as_str(), label(*s)))
        .collect();
    format!(
        "<div class=\"filters\" id=\"filters\" hidden>\
         <label>Account <select id=\"f-account\"><option value=\"\">all accounts</option>{account_options}</select></label>\
         <label>Status <select id=\"f-status\"><option value=\"\">any status</option>{status_options}</select></label>\
         <span id=\"f-shown\" class=\"shown\"></span></div>\n"
    )
}

fn resources(list: &[PlanResource]) -> String {
    if list.is_empty() {
        return "<section class=\"empty\"><h2>Nothing planned</h2><p>No guarded resource was found in scope.</p></section>\n".to_owned();
    }
    let mut out = format!(
        "<h2 class=\"list-title\">Resources</h2>\n<div id=\"resources\" data-total=\"{}\">\n",
        list.len()
    );
    for (i, r) in list.iter().enumerate() {
        out.push_str(&resource(i, r));
    }
    out.push_str("</div>\n");
    out
}

/// One resource: its name and where it is, a pill per control, then each control.
fn resource(index: usize, r: &PlanResource) -> String {
    let mut statuses: Vec<PlanStatus> = r.controls.iter().map(|c| c.status).collect();
    statuses.sort_by_key(|s| std::cmp::Reverse(rank(*s)));
    statuses.dedup();
    let worst = statuses.first().copied().unwrap_or(PlanStatus::Skipped);
    let data_statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    let pills: String = r
        .controls
        .iter()
        .map(|c| {
            format!(
                "<span class=\"pill st-{}\" title=\"{}\">{}</span>",
                c.status.as_str(),
                label(c.status),
                esc(&c.control)
            )
        })
        .collect();
    let role = r
        .role
        .as_deref()
        .map(|role| format!(" · {} bucket", esc(role)))
        .unwrap_or_default();
    let body: String = r.controls.iter().map(diff::control).collect();
    format!(
        "<section class=\"res worst-{worst}\" id=\"res-{index}\" data-resource=\"{id}\" data-account=\"{account}\" \
         data-statuses=\"{statuses}\">\n<div class=\"res-head\"><div><h3>{id}</h3>\
         <div class=\"where\">{kind} · account {account} · {region}{role}</div></div><div class=\"pills\">{pills}</div></div>\n{body}</section>\n",
        worst = worst.as_str(),
        id = esc(&r.id),
        account = esc(&r.account),
        region = esc(&r.region),
        kind = r.kind.as_str(),
        statuses = data_statuses.join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::plan::{Cell, PlanControl, PlannedChange, SCHEMA};
    use crate::report::ResourceType;
    use serde_json::{Value, json};

    const HOSTILE: &str = "</script><img src=x onerror=alert(1)>";

    fn control(control: &str, status: PlanStatus, before: Value, after: Value) -> PlanControl {
        PlanControl {
            control: control.into(),
            status,
            severity: None,
            detail: format!("detail of {control}"),
            before: Some(before),
            after: Some(after),
            statements_added: vec![],
            statements_removed: vec![],
        }
    }

    fn doc(resources: Vec<PlanResource>) -> PlanDoc {
        let mut totals: BTreeMap<PlanStatus, usize> = BTreeMap::new();
        let mut cells: BTreeMap<(String, String, String), BTreeMap<PlanStatus, usize>> =
            BTreeMap::new();
        let mut changes = vec![];
        for r in &resources {
            for c in &r.controls {
                *totals.entry(c.status).or_default() += 1;
                *cells
                    .entry((r.account.clone(), r.region.clone(), c.control.clone()))
                    .or_default()
                    .entry(c.status)
                    .or_default() += 1;
                if c.status == PlanStatus::WouldChange {
                    changes.push(PlannedChange {
                        account: r.account.clone(),
                        region: r.region.clone(),
                        bucket: r.id.clone(),
                        control: c.control.clone(),
                        before: c.before.clone().unwrap_or(Value::Null),
                        after: c.after.clone().unwrap_or(Value::Null),
                    });
                }
            }
        }
        PlanDoc {
            schema: SCHEMA.into(),
            id: "plan-20261206100000000-abc".into(),
            created_at: "2026-12-06T10:00:00.000Z".into(),
            scope: Scope::Account,
            account: "123456789012".into(),
            regions: vec!["us-east-1".into()],
            principal: Some("arn:aws:sts::123456789012:assumed-role/Reviewer/alice".into()),
            totals,
            cells: cells
                .into_iter()
                .map(|((account, region, control), counts)| Cell {
                    account,
                    region,
                    control,
                    counts,
                })
                .collect(),
            resources,
            changes,
            not_planned: vec![],
        }
    }

    fn bucket(id: &str, controls: Vec<PlanControl>) -> PlanResource {
        PlanResource {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            kind: ResourceType::S3Bucket,
            id: id.into(),
            role: Some("console".into()),
            controls,
        }
    }

    fn tls(before: Option<&str>, after: &str, added: Value) -> PlanControl {
        PlanControl {
            statements_added: vec![added],
            ..control(
                "tls-only",
                PlanStatus::WouldChange,
                before.map_or(Value::Null, |b| Value::String(b.into())),
                Value::String(after.into()),
            )
        }
    }

    fn sample() -> PlanDoc {
        let deny = json!({"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": "arn:aws:s3:::b/*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
        let keep = json!({"Sid": "Keep", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"});
        let before = json!({"Version": "2012-10-17", "Statement": [keep]}).to_string();
        let after = json!({"Version": "2012-10-17", "Statement": [keep, deny]}).to_string();
        let pab = json!({"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true});
        let sse = json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": null, "BucketKeyEnabled": true, "BlockedEncryptionTypes": []});
        doc(vec![
            bucket(
                "acme-plain",
                vec![
                    control("sse-kms", PlanStatus::WouldChange, Value::Null, sse.clone()),
                    control(
                        "public-access-block",
                        PlanStatus::WouldChange,
                        Value::Null,
                        pab.clone(),
                    ),
                    tls(Some(&before), &after, deny.clone()),
                ],
            ),
            bucket(
                "acme-held",
                vec![
                    PlanControl {
                        detail: "held: would break account 444455556666".into(),
                        ..control("sse-kms", PlanStatus::Held, Value::Null, sse)
                    },
                    control(
                        "public-access-block",
                        PlanStatus::Compliant,
                        pab,
                        Value::Null,
                    ),
                ],
            ),
        ])
    }

    /// Every `data-status`/`data-count` pair of the page.
    fn counts(page: &str) -> BTreeMap<String, usize> {
        page.split("data-status=\"")
            .skip(1)
            .filter_map(|rest| {
                let (status, rest) = rest.split_once('"')?;
                let n = rest.strip_prefix(" data-count=\"")?.split_once('"')?.0;
                Some((status.to_owned(), n.parse().ok()?))
            })
            .collect()
    }

    #[test]
    fn escapes_text_and_attributes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn hostile_names_details_and_policies_are_escaped_everywhere() {
        let mut c = tls(
            Some(&json!({"Statement": [{"Sid": HOSTILE}]}).to_string()),
            &json!({"Statement": [{"Sid": HOSTILE}, {"Sid": "T"}]}).to_string(),
            json!({"Sid": HOSTILE}),
        );
        c.detail = HOSTILE.into();
        c.statements_removed = vec![json!({"Sid": HOSTILE})];
        let mut d = doc(vec![PlanResource {
            account: HOSTILE.into(),
            region: HOSTILE.into(),
            role: Some(HOSTILE.into()),
            ..bucket(HOSTILE, vec![c])
        }]);
        d.id = HOSTILE.into();
        d.principal = Some(HOSTILE.into());
        d.not_planned = vec![HOSTILE.into()];
        let page = render(&d);
        assert!(!page.contains("<img"), "{page}");
        assert!(!page.contains("onerror=alert(1)>"), "{page}");
        // Exactly the page's own two scripts open and close.
        assert_eq!(page.matches("<script").count(), 2);
        assert_eq!(page.matches("</script>").count(), 2);
        assert!(page.contains("&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"));
        let (_, data) = page
            .split_once("<script type=\"application/json\" id=\"plan-data\">")
            .unwrap();
        let (data, _) = data.split_once("</script>").unwrap();
        assert!(!data.contains('<') && !data.contains('>'));
        let parsed: Value = serde_json::from_str(data).unwrap();
        assert_eq!(parsed["resources"][0]["id"], HOSTILE, "the JSON reads back");
    }

    #[test]
    fn the_page_fetches_nothing() {
        let page = render(&sample());
        for needle in [
            "src=\"http",
            "href=\"http",
            "@import",
            "url(http",
            "url(",
            "<link",
            "<iframe",
            "src=\"//",
            "href=\"//",
        ] {
            assert!(!page.contains(needle), "{needle}");
        }
        // The sample's own data holds no URL, so no URL at all may appear.
        assert!(!page.contains("http://") && !page.contains("https://"));
        assert!(
            page.contains("default-src 'none'"),
            "a CSP forbids requests"
        );
    }

    #[test]
    fn the_counts_are_the_plans_totals() {
        let d = sample();
        let page = render(&d);
        let got = counts(&page);
        assert_eq!(got.len(), PlanStatus::ALL.len(), "one per status: {got:?}");
        for s in PlanStatus::ALL {
            assert_eq!(got[s.as_str()], count(&d.totals, s), "{}", s.as_str());
        }
        assert_eq!(got["would-change"], 3);
        assert_eq!(got["held"], 1);
        assert!(page.contains(&format!("data-changes=\"{}\"", d.changes.len())));
        assert!(page.contains("<strong>3</strong> changes for apply"));
    }

    #[test]
    fn a_plan_with_nothing_in_it_renders() {
        let page = render(&doc(vec![]));
        assert!(page.starts_with("<!doctype html>") && page.trim_end().ends_with("</html>"));
        assert!(page.contains("Nothing planned"));
        assert!(page.contains("data-changes=\"0\""));
        assert!(counts(&page).values().all(|n| *n == 0));
        assert!(page.contains("<svg"), "an empty heat map still renders");
    }

    #[test]
    fn sections_carry_what_the_filters_read() {
        let page = render(&sample());
        assert!(page.contains(
            "data-resource=\"acme-held\" data-account=\"123456789012\" data-statuses=\"held compliant\""
        ));
        assert!(page.contains("<option value=\"held\">held</option>"));
        assert!(
            !page.contains("<option value=\"failed\">"),
            "only statuses present"
        );
    }

    #[test]
    fn worst_status_and_order() {
        assert_eq!(
            worst(&[
                PlanStatus::Compliant,
                PlanStatus::Held,
                PlanStatus::WouldChange
            ]),
            Some(PlanStatus::Held)
        );
        assert_eq!(
            worst(&[PlanStatus::Compliant, PlanStatus::Skipped]),
            Some(PlanStatus::Skipped)
        );
        assert_eq!(worst(&[]), None);
        let order = by_severity();
        assert_eq!(order[0], PlanStatus::Failed);
        assert_eq!(order[6], PlanStatus::Compliant);
    }
}

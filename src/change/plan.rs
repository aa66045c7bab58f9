//! `plan`: a read-only run's reports as one reviewable document, and the input of
//! `apply --plan` (its `changes`, and nothing else, are what `apply` may write).
//!
//! The JSON is versioned ([`SCHEMA`]); fields are only ever added within a version.

use super::{States, StatesKind, same_state};
use crate::config::Scope;
use crate::controls::tls_only;
use crate::report::{Report, ResourceType, Status};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

pub const SCHEMA: &str = "rekognition-guard/plan/v1";

/// How a plan sees one control of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanStatus {
    Compliant,
    WouldChange,
    Held,
    Exempt,
    NonCompliant,
    Failed,
    Skipped,
}

impl PlanStatus {
    pub const ALL: [PlanStatus; 7] = [
        PlanStatus::Compliant,
        PlanStatus::WouldChange,
        PlanStatus::Held,
        PlanStatus::Exempt,
        PlanStatus::NonCompliant,
        PlanStatus::Failed,
        PlanStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Compliant => "compliant",
            PlanStatus::WouldChange => "would-change",
            PlanStatus::Held => "held",
            PlanStatus::Exempt => "exempt",
            PlanStatus::NonCompliant => "non-compliant",
            PlanStatus::Failed => "failed",
            PlanStatus::Skipped => "skipped",
        }
    }

    fn of(status: Status, states: Option<&States>) -> Self {
        let held = states.is_some_and(|s| s.kind == StatesKind::Held);
        match status {
            Status::Compliant => PlanStatus::Compliant,
            Status::WouldRemediate | Status::Remediated => PlanStatus::WouldChange,
            Status::NonCompliant if held => PlanStatus::Held,
            Status::NonCompliant => PlanStatus::NonCompliant,
            Status::Exempt => PlanStatus::Exempt,
            Status::Failed => PlanStatus::Failed,
            Status::Skipped => PlanStatus::Skipped,
        }
    }
}

/// One control of one resource, as planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanControl {
    pub control: String,
    pub status: PlanStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<crate::report::Severity>,
    pub detail: String,
    /// The full state read (a policy: the whole document), when a change is proposed or
    /// held; else the report's summary. `null`: read, nothing configured; absent: not read.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::report::present"
    )]
    pub before: Option<Value>,
    /// The full state it would write (would-change and held).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::report::present"
    )]
    pub after: Option<Value>,
    /// Policy statements the change adds, and removes (only stale principals, ever).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statements_added: Vec<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statements_removed: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanResource {
    pub account: String,
    pub region: String,
    #[serde(rename = "type")]
    pub kind: ResourceType,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub controls: Vec<PlanControl>,
}

/// One write `apply` may make: exactly this state over exactly that one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedChange {
    pub account: String,
    pub region: String,
    pub bucket: String,
    pub control: String,
    pub before: Value,
    pub after: Value,
}

/// Counts of one account × Region × control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub account: String,
    pub region: String,
    pub control: String,
    pub counts: BTreeMap<PlanStatus, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanDoc {
    pub schema: String,
    pub id: String,
    /// RFC 3339, UTC: `apply` refuses a plan older than `--max-age`.
    pub created_at: String,
    pub scope: Scope,
    /// The account the plan was made from (the guard account in organization scope).
    pub account: String,
    pub regions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Results per status, over everything planned.
    pub totals: BTreeMap<PlanStatus, usize>,
    pub cells: Vec<Cell>,
    pub resources: Vec<PlanResource>,
    pub changes: Vec<PlannedChange>,
    /// Accounts × Regions not planned, and why (the gate refused, the role failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_planned: Vec<String>,
}

/// What planning ran as.
pub struct Origin<'a> {
    pub scope: Scope,
    pub account: &'a str,
    pub regions: Vec<String>,
    pub principal: Option<&'a str>,
    pub now_millis: i64,
}

/// Statements in `after` that are not in `before`, and the reverse.
fn statement_diff(before: &Value, after: &Value) -> (Vec<Value>, Vec<Value>) {
    let statements = |v: &Value| -> Vec<Value> {
        let Some(doc) = v.as_str().and_then(|t| crate::policy::parse(t).ok()) else {
            return Vec::new();
        };
        crate::policy::statements(&doc)
            .map(|s| s.into_iter().map(|m| Value::Object(m.clone())).collect())
            .unwrap_or_default()
    };
    let (b, a) = (statements(before), statements(after));
    let added = a.iter().filter(|s| !b.contains(s)).cloned().collect();
    let removed = b.iter().filter(|s| !a.contains(s)).cloned().collect();
    (added, removed)
}

/// The plan of a read-only run's reports (one per account × Region in organization scope).
pub fn from_reports(reports: &[Report], origin: &Origin<'_>) -> PlanDoc {
    let mut resources = Vec::new();
    let mut changes = Vec::new();
    let mut not_planned = Vec::new();
    let mut cells: BTreeMap<(String, String, String), BTreeMap<PlanStatus, usize>> =
        BTreeMap::new();
    let mut totals: BTreeMap<PlanStatus, usize> = BTreeMap::new();
    for report in reports {
        if let Some(reason) = &report.trigger.ignored_reason {
            not_planned.push(format!(
                "{}: {reason}",
                report.trigger.account.as_deref().unwrap_or("-")
            ));
        }
        for r in &report.resources {
            let account = r
                .account
                .clone()
                .or_else(|| report.trigger.account.clone())
                .unwrap_or_default();
            let region = r
                .region
                .clone()
                .or_else(|| report.trigger.region.clone())
                .unwrap_or_else(|| "-".to_owned());
            let mut controls = Vec::new();
            for c in &r.controls {
                let states = c.states.as_deref();
                let status = PlanStatus::of(c.status, states);
                *totals.entry(status).or_default() += 1;
                *cells
                    .entry((account.clone(), region.clone(), c.control.clone()))
                    .or_default()
                    .entry(status)
                    .or_default() += 1;
                let (before, after) = match states {
                    Some(s) if s.kind != StatesKind::Written => {
                        (Some(s.before.clone()), Some(s.after.clone()))
                    }
                    _ => (c.before.clone(), None),
                };
                let (added, removed) = match (&before, &after) {
                    (Some(b), Some(a)) if c.control == tls_only::ID => statement_diff(b, a),
                    _ => (Vec::new(), Vec::new()),
                };
                if status == PlanStatus::WouldChange
                    && r.kind == ResourceType::S3Bucket
                    && let (Some(b), Some(a)) = (&before, &after)
                {
                    changes.push(PlannedChange {
                        account: account.clone(),
                        region: region.clone(),
                        bucket: r.id.clone(),
                        control: c.control.clone(),
                        before: b.clone(),
                        after: a.clone(),
                    });
                }
                controls.push(PlanControl {
                    control: c.control.clone(),
                    status,
                    severity: c.severity,
                    detail: c.detail.clone(),
                    before,
                    after,
                    statements_added: added,
                    statements_removed: removed,
                });
            }
            resources.push(PlanResource {
                account,
                region,
                kind: r.kind,
                id: r.id.clone(),
                role: r.role.clone(),
                controls,
            });
        }
    }
    resources.sort_by(|a, b| (&a.account, &a.region, &a.id).cmp(&(&b.account, &b.region, &b.id)));
    let id = super::ChangeRecord::new_id(
        origin.now_millis,
        &[origin.account, &changes.len().to_string()],
    )
    .replacen("chg-", "plan-", 1);
    PlanDoc {
        schema: SCHEMA.to_owned(),
        id,
        created_at: super::timestamp(origin.now_millis),
        scope: origin.scope,
        account: origin.account.to_owned(),
        regions: origin.regions.clone(),
        principal: origin.principal.map(str::to_owned),
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
        not_planned,
    }
}

/// Reads a plan file's JSON: the schema must be this version's.
pub fn parse(text: &str) -> Result<PlanDoc, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    match value.get("schema").and_then(Value::as_str) {
        Some(SCHEMA) => {}
        Some(other) => {
            return Err(format!(
                "schema {other:?} is not {SCHEMA:?}: write the plan again with this version"
            ));
        }
        None => return Err(format!("no \"schema\": not a plan (expected {SCHEMA:?})")),
    }
    serde_json::from_value(value).map_err(|e| format!("not a valid plan ({e})"))
}

/// Refuses a plan older than `max_age_secs` (or dated in the future).
pub fn check_age(doc: &PlanDoc, now_millis: i64, max_age_secs: u64) -> Result<(), String> {
    let created = super::parse_time(&doc.created_at)
        .ok_or_else(|| format!("created_at {:?} is not a time", doc.created_at))?;
    let age = (now_millis - created) / 1000;
    if age < -300 {
        return Err(format!(
            "the plan is dated {} in the future ({}); check the clock",
            human_secs(age.unsigned_abs()),
            doc.created_at
        ));
    }
    if age > max_age_secs as i64 {
        return Err(format!(
            "the plan is {} old (created {}), older than --max-age {}: plan again and review it",
            human_secs(age as u64),
            doc.created_at,
            human_secs(max_age_secs)
        ));
    }
    Ok(())
}

fn human_secs(s: u64) -> String {
    match s {
        s if s >= 86_400 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 3600 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `24h`, `90m`, `2d`, `3600s` or `3600` (seconds).
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 24h, 90m, 2d)"))?;
    let factor = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: unit {unit:?} is not s, m, h or d")),
    };
    Ok(n * factor)
}

/// What `apply` may write: the plan's changes by (account, Region, bucket, control).
#[derive(Debug, Clone, Default)]
pub struct Approved {
    pub plan_id: String,
    changes: HashMap<(String, String, String, String), PlannedChange>,
}

/// The answer for one proposed fix during `apply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admit {
    /// Planned, and the bucket is as planned: write it.
    Go,
    /// Not an item of the plan: not written.
    NotPlanned,
    /// Planned, but the state read or the state to write is not the plan's.
    ChangedSincePlan(String),
}

impl Approved {
    pub fn new(doc: &PlanDoc) -> Self {
        Self {
            plan_id: doc.id.clone(),
            changes: doc
                .changes
                .iter()
                .map(|c| {
                    (
                        (
                            c.account.clone(),
                            c.region.clone(),
                            c.bucket.clone(),
                            c.control.clone(),
                        ),
                        c.clone(),
                    )
                })
                .collect(),
        }
    }

    pub fn admit(
        &self,
        at: (&str, &str, &str),
        control: &str,
        before: &Value,
        after: &Value,
    ) -> Admit {
        let (account, region, bucket) = at;
        let key = (
            account.to_owned(),
            region.to_owned(),
            bucket.to_owned(),
            control.to_owned(),
        );
        let Some(planned) = self.changes.get(&key) else {
            return Admit::NotPlanned;
        };
        if !same_state(control, &planned.before, before) {
            Admit::ChangedSincePlan("its current state is no longer the plan's before".to_owned())
        } else if !same_state(control, &planned.after, after) {
            Admit::ChangedSincePlan(
                "the state it would write now differs from the plan's after (configuration or key changed)"
                    .to_owned(),
            )
        } else {
            Admit::Go
        }
    }

    /// Buckets to visit, per (account, Region).
    pub fn buckets(&self) -> BTreeMap<(String, String), Vec<String>> {
        let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for (account, region, bucket, _) in self.changes.keys() {
            let list = out.entry((account.clone(), region.clone())).or_default();
            if !list.contains(bucket) {
                list.push(bucket.clone());
            }
        }
        for list in out.values_mut() {
            list.sort();
        }
        out
    }
}

/// The terminal view: one row per account × Region × control, then each change.
pub fn to_table(doc: &PlanDoc) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "plan {} ({} scope, from {} at {})",
        doc.id,
        match doc.scope {
            Scope::Account => "account",
            Scope::Organization => "organization",
        },
        doc.account,
        doc.created_at
    );
    let shown = [
        PlanStatus::Compliant,
        PlanStatus::WouldChange,
        PlanStatus::Held,
        PlanStatus::Exempt,
        PlanStatus::NonCompliant,
        PlanStatus::Failed,
    ];
    let _ = writeln!(
        out,
        "{:<14} {:<14} {:<22} {:>9} {:>12} {:>5} {:>6} {:>13} {:>6}",
        "ACCOUNT",
        "REGION",
        "CONTROL",
        "COMPLIANT",
        "WOULD-CHANGE",
        "HELD",
        "EXEMPT",
        "NON-COMPLIANT",
        "FAILED"
    );
    for cell in &doc.cells {
        let n = |s: PlanStatus| cell.counts.get(&s).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "{:<14} {:<14} {:<22} {:>9} {:>12} {:>5} {:>6} {:>13} {:>6}",
            cell.account,
            cell.region,
            cell.control,
            n(shown[0]),
            n(shown[1]),
            n(shown[2]),
            n(shown[3]),
            n(shown[4]),
            n(shown[5])
        );
    }
    for r in &doc.resources {
        for c in &r.controls {
            if matches!(c.status, PlanStatus::WouldChange | PlanStatus::Held) {
                let _ = writeln!(
                    out,
                    "{} {}/{}/{} {}: {}",
                    c.status.as_str(),
                    r.account,
                    r.region,
                    r.id,
                    c.control,
                    c.detail
                );
            }
        }
    }
    for n in &doc.not_planned {
        let _ = writeln!(out, "not planned: {n}");
    }
    let totals: Vec<String> = PlanStatus::ALL
        .iter()
        .filter_map(|s| doc.totals.get(s).map(|n| format!("{n} {}", s.as_str())))
        .collect();
    let _ = writeln!(
        out,
        "summary: {}; {} change(s) for apply",
        totals.join(", "),
        doc.changes.len()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(changes: Vec<PlannedChange>) -> PlanDoc {
        PlanDoc {
            schema: SCHEMA.into(),
            id: "plan-1".into(),
            created_at: "2026-12-06T10:00:00Z".into(),
            scope: Scope::Account,
            account: "123456789012".into(),
            regions: vec![],
            principal: None,
            totals: BTreeMap::new(),
            cells: vec![],
            resources: vec![],
            changes,
            not_planned: vec![],
        }
    }

    #[test]
    fn apply_admits_only_planned_unchanged_items() {
        let planned = PlannedChange {
            account: "1".into(),
            region: "r".into(),
            bucket: "b".into(),
            control: "public-access-block".into(),
            before: Value::Null,
            after: json!({"BlockPublicAcls": true}),
        };
        let approved = Approved::new(&doc(vec![planned.clone()]));
        let at = ("1", "r", "b");
        assert_eq!(
            approved.admit(at, "public-access-block", &Value::Null, &planned.after),
            Admit::Go
        );
        assert_eq!(
            approved.admit(at, "sse-kms", &Value::Null, &planned.after),
            Admit::NotPlanned
        );
        assert!(matches!(
            approved.admit(at, "public-access-block", &json!({}), &planned.after),
            Admit::ChangedSincePlan(_)
        ));
        assert!(matches!(
            approved.admit(at, "public-access-block", &Value::Null, &json!({})),
            Admit::ChangedSincePlan(_)
        ));
        assert_eq!(approved.buckets().len(), 1);
    }

    #[test]
    fn old_and_future_plans_are_refused() {
        let d = doc(vec![]);
        let created = super::super::parse_time(&d.created_at).unwrap();
        assert!(check_age(&d, created + 3_600_000, 86_400).is_ok());
        let old = check_age(&d, created + 90_000_000, 86_400).unwrap_err();
        assert!(old.contains("older than --max-age 24h"), "{old}");
        assert!(check_age(&d, created - 3_600_000, 86_400).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Ok(86_400));
        assert_eq!(parse_duration("90m"), Ok(5_400));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        assert_eq!(parse_duration("3600"), Ok(3_600));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn a_saved_plan_keeps_nothing_configured_apart_from_not_read() {
        let c = PlanControl {
            control: "tls-only".into(),
            status: PlanStatus::WouldChange,
            severity: None,
            detail: "d".into(),
            before: Some(Value::Null),
            after: Some(json!("{}")),
            statements_added: vec![],
            statements_removed: vec![],
        };
        let back: PlanControl = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn plans_of_another_schema_are_refused() {
        let text = serde_json::to_string(&doc(vec![])).unwrap();
        assert!(parse(&text).is_ok());
        let other = text.replace(SCHEMA, "rekognition-guard/plan/v0");
        assert!(parse(&other).unwrap_err().contains("is not"));
        assert!(parse("{}").unwrap_err().contains("not a plan"));
    }

    #[test]
    fn policy_diff_lists_added_statements_only() {
        let before = Value::String(
            json!({"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}).to_string(),
        );
        let after = Value::String(
            json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"},
                {"Sid": "T", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]})
            .to_string(),
        );
        let (added, removed) = statement_diff(&before, &after);
        assert_eq!(added.len(), 1);
        assert_eq!(added[0]["Sid"], "T");
        assert!(removed.is_empty());
    }
}

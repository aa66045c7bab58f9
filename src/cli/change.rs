//! `plan`, `apply`, `history` and `undo`: the CLI side of the change record
//! (`crate::change`). Bad input exits 2 before any AWS call.

use super::{Format, OrgBars, ProgressBar, bad_input, print_json, print_org_sweep, print_report};
use crate::aws::clients::Clients;
use crate::aws::{AwsError, s3};
use crate::change::plan::{self, Approved, Origin, PlanDoc};
use crate::change::undo::{self, Restore};
use crate::change::{self, ChangeRecord, Trigger, html, store::Store};
use crate::config::{Config, Mode, Scope};
use crate::controls::{public_access_block, sse_kms};
use crate::event::TriggerKind;
use crate::handler::{self, App, HandleError};
use crate::org::{self, Router};
use crate::report::{Report, exit};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

fn now_millis() -> i64 {
    crate::metrics::now_millis() as i64
}

/// `plan`: a read-only run over the same scope as `scan`, printed as a plan.
pub async fn plan(
    mut config: Config,
    buckets: &[String],
    org: Option<&[String]>,
    format: Option<Format>,
    deadline: Instant,
) -> u8 {
    config.mode = Mode::Audit;
    config.dry_run = true;
    let scope = config.scope;
    let clients = match super::aws_clients().await {
        Ok(clients) => clients,
        Err(code) => return code,
    };
    let router = Router::new(App::new(config, clients));
    let app = &*router.app;
    let principal = app.principal().await.ok().map(str::to_owned);
    let account = match app.account().await {
        Ok(a) => a.to_owned(),
        Err(e) => {
            eprintln!("rekognition-guard: {e}");
            return exit::FAILED;
        }
    };
    let (reports, regions) = match org {
        Some(accounts) => {
            let bars = OrgBars::new();
            let result = router.sweep_organization(accounts, deadline, &bars).await;
            bars.finish();
            match result {
                Ok(sweep) => {
                    let regions = sweep.regions.clone();
                    let reports: Vec<Report> = sweep
                        .items
                        .into_iter()
                        .map(|(_, r)| r)
                        .chain(sweep.refused)
                        .collect();
                    (reports, regions)
                }
                Err(e) => {
                    eprintln!("rekognition-guard: cannot read the organization's accounts: {e}");
                    return exit::FAILED;
                }
            }
        }
        None => {
            let bar = ProgressBar::new();
            let report = handler::scan(app, buckets, deadline, TriggerKind::ManualScan, &bar).await;
            bar.finish();
            match report {
                Ok(r) => (vec![r], app.clients.home_region().into_iter().collect()),
                Err(e) => {
                    eprintln!("rekognition-guard: {e}");
                    return exit::FAILED;
                }
            }
        }
    };
    let doc = plan::from_reports(
        &reports,
        &Origin {
            scope,
            account: &account,
            regions,
            principal: principal.as_deref(),
            now_millis: now_millis(),
        },
    );
    print_plan(&doc, format);
    // The plan itself succeeded; a failed read is in it, and exits 1 as `scan` would.
    let codes = reports.iter().map(Report::exit_code);
    match org::worst(codes) {
        exit::FAILED => exit::FAILED,
        _ => exit::OK,
    }
}

/// Renders a plan in `format` (JSON unless a terminal, which gets the table).
pub fn print_plan(doc: &PlanDoc, format: Option<Format>) {
    let format = format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    });
    match format {
        Format::Html => print!("{}", html::render(doc)),
        Format::Table => print!("{}", plan::to_table(doc)),
        _ => match serde_json::to_value(doc) {
            Ok(v) => print_json(&v),
            Err(e) => eprintln!("rekognition-guard: cannot render the plan: {e}"),
        },
    }
}

/// `plan --render FILE`: a saved plan, rendered again (no AWS call).
pub fn render(path: &Path, format: Option<Format>) -> u8 {
    match load(path) {
        Ok(doc) => {
            print_plan(&doc, format);
            exit::OK
        }
        Err(e) => bad_input(e),
    }
}

fn load(path: &Path) -> Result<PlanDoc, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the plan {}: {e}", path.display()))?;
    plan::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// `apply --plan FILE`: exactly the plan's changes, each only if its bucket is still as
/// planned; everything else is reported, not written.
pub async fn apply(
    mut config: Config,
    path: &Path,
    max_age: &str,
    format: Option<Format>,
    deadline: Instant,
) -> u8 {
    let max_age = match plan::parse_duration(max_age) {
        Ok(s) => s,
        Err(e) => return bad_input(format!("--max-age: {e}")),
    };
    let doc = match load(path) {
        Ok(doc) => doc,
        Err(e) => return bad_input(e),
    };
    if let Err(e) = plan::check_age(&doc, now_millis(), max_age) {
        return bad_input(format!("{}: {e}", path.display()));
    }
    if doc.scope != config.scope {
        return bad_input(format!(
            "{}: the plan was made in {} scope; GUARD_SCOPE is {}",
            path.display(),
            scope_name(doc.scope),
            scope_name(config.scope)
        ));
    }
    let approved = Approved::new(&doc);
    let planned = approved.buckets();
    if doc.scope == Scope::Organization && !doc.regions.is_empty() {
        config.regions = doc.regions.clone();
    }
    let clients = match super::aws_clients().await {
        Ok(clients) => clients,
        Err(code) => return code,
    };
    let router = Router::new(App::new(config, clients).with_plan(approved));
    let app = &*router.app;
    let own = match app.account().await {
        Ok(a) => a.to_owned(),
        Err(e) => {
            eprintln!("rekognition-guard: {e}");
            return exit::FAILED;
        }
    };
    if doc.account != own {
        return bad_input(format!(
            "{}: the plan was made from account {}; these credentials act in {own}",
            path.display(),
            doc.account
        ));
    }
    eprintln!(
        "rekognition-guard: applying plan {} ({} change(s) in {} bucket(s), created {})",
        doc.id,
        doc.changes.len(),
        planned.values().map(Vec::len).sum::<usize>(),
        doc.created_at
    );
    if doc.scope == Scope::Organization {
        let bars = OrgBars::new();
        let result = router.apply_organization(&planned, deadline, &bars).await;
        bars.finish();
        return match result {
            Ok(sweep) => print_org_sweep(&sweep, format, app.clients.home_region().as_deref()),
            Err(e) => {
                eprintln!("rekognition-guard: cannot read the organization's accounts: {e}");
                exit::FAILED
            }
        };
    }
    let only: Vec<String> = planned.into_values().flatten().collect();
    if only.is_empty() {
        eprintln!("rekognition-guard: the plan has no change to apply");
        return exit::OK;
    }
    let bar = ProgressBar::new();
    let report = handler::scan(app, &only, deadline, TriggerKind::PlanApplied, &bar).await;
    bar.finish();
    match report {
        Ok(report) => {
            print_report(&report, format, app.clients.home_region().as_deref());
            report.exit_code()
        }
        Err(HandleError::BadEvent(e)) => bad_input(e),
        Err(e) => {
            eprintln!("rekognition-guard: {e}");
            exit::FAILED
        }
    }
}

fn scope_name(scope: Scope) -> &'static str {
    match scope {
        Scope::Account => "account",
        Scope::Organization => "organization",
    }
}

/// Which records `history` and `undo --bucket` select.
pub struct Filter<'a> {
    pub bucket: Option<&'a str>,
    pub account: Option<&'a str>,
    /// Milliseconds since the epoch.
    pub since: Option<i64>,
}

impl Filter<'_> {
    fn keeps(&self, r: &ChangeRecord) -> bool {
        self.bucket.is_none_or(|b| r.bucket == b)
            && self.account.is_none_or(|a| r.account == a)
            && self
                .since
                .is_none_or(|t| change::parse_time(&r.time).is_some_and(|rt| rt >= t))
    }
}

/// Parses `--since` (RFC 3339 or a date), exiting 2 on anything else.
pub fn since(text: Option<&str>) -> Result<Option<i64>, String> {
    text.map(|t| {
        change::parse_time(t).ok_or_else(|| {
            format!("--since {t:?} is not a time (2026-12-06 or 2026-12-06T10:00:00Z)")
        })
    })
    .transpose()
}

/// `history`: one row per change.
pub async fn history(config: Config, filter: Filter<'_>, format: Option<Format>) -> u8 {
    // A local JSONL file needs no Region; the DynamoDB table does.
    let clients = match config.state_table {
        Some(_) => match super::aws_clients().await {
            Ok(clients) => clients,
            Err(code) => return code,
        },
        None => Clients::from_env().await,
    };
    let store = Store::configured(&config, &clients);
    let records = match store.list().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rekognition-guard: {e}");
            return exit::FAILED;
        }
    };
    let rows: Vec<&ChangeRecord> = records.iter().filter(|r| filter.keeps(r)).collect();
    let format = format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    });
    match format {
        Format::Table => print!("{}", history_table(&rows)),
        Format::Csv => print!("{}", history_csv(&rows)),
        _ => match serde_json::to_value(&rows) {
            Ok(v) => print_json(&v),
            Err(e) => eprintln!("rekognition-guard: cannot render the history: {e}"),
        },
    }
    exit::OK
}

const HISTORY_COLUMNS: [&str; 10] = [
    "id",
    "time",
    "account",
    "region",
    "bucket",
    "control",
    "action",
    "status",
    "trigger",
    "principal",
];

fn history_row(r: &ChangeRecord) -> [String; 10] {
    let trigger = match (&r.trigger.event_name, &r.trigger.reference) {
        (_, Some(reference)) => format!("{} {reference}", r.trigger.kind),
        (Some(name), None) => format!("{} {name}", r.trigger.kind),
        (None, None) => r.trigger.kind.clone(),
    };
    [
        r.id.clone(),
        r.time.clone(),
        r.account.clone(),
        r.region.clone(),
        r.bucket.clone(),
        r.control.clone(),
        r.action.clone(),
        r.status.clone(),
        trigger,
        r.trigger
            .principal
            .clone()
            .or_else(|| r.written_by.clone())
            .unwrap_or_else(|| "-".to_owned()),
    ]
}

pub fn history_table(rows: &[&ChangeRecord]) -> String {
    let rows: Vec<[String; 10]> = rows.iter().map(|r| history_row(r)).collect();
    let header = HISTORY_COLUMNS.map(str::to_uppercase);
    let widths: Vec<usize> = (0..10)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    let _ = writeln!(out, "{} change(s)", rows.len());
    out
}

pub fn history_csv(rows: &[&ChangeRecord]) -> String {
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = HISTORY_COLUMNS.join(",");
    out.push('\n');
    for r in rows {
        let row: Vec<String> = history_row(r).iter().map(|c| quote(c)).collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// Which changes `undo` puts back.
pub enum UndoTarget<'a> {
    Change(&'a str),
    Bucket { bucket: &'a str, since: i64 },
}

/// `undo`: puts the recorded before state back, newest change first, verified by
/// reading back, and records each undo as a change of its own.
pub async fn undo(config: Config, target: UndoTarget<'_>, force: bool) -> u8 {
    let exempt_tag = config.exempt_tag.clone();
    let clients = match super::aws_clients().await {
        Ok(clients) => clients,
        Err(code) => return code,
    };
    let router = Router::new(App::new(config, clients));
    let app = &*router.app;
    let records = match app.history.list().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rekognition-guard: {e}");
            return exit::FAILED;
        }
    };
    let mut chosen: Vec<&ChangeRecord> = match target {
        UndoTarget::Change(id) => match records.iter().find(|r| r.id == id) {
            Some(r) => vec![r],
            None => {
                return bad_input(format!(
                    "no change {id} in the change record ({})",
                    app.history.describe()
                ));
            }
        },
        UndoTarget::Bucket { bucket, since } => {
            let filter = Filter {
                bucket: Some(bucket),
                account: None,
                since: Some(since),
            };
            records
                .iter()
                .filter(|r| filter.keeps(r) && r.action == "remediate")
                .collect()
        }
    };
    if chosen.is_empty() {
        eprintln!("rekognition-guard: no change of that bucket since then; nothing written");
        return exit::OK;
    }
    chosen.reverse();
    let caller = app.principal().await.ok().map(str::to_owned);
    let mut results = Vec::new();
    let mut code = exit::OK;
    for change in chosen {
        let outcome = undo_one(&router, change, &records, force, caller.as_deref()).await;
        let (status, detail, record) = match outcome {
            Ok((detail, record)) => ("restored", detail, Some(record)),
            Err(UndoError::Refused(why)) => ("refused", why, None),
            Err(UndoError::Failed(why)) => ("failed", why, None),
        };
        if status != "restored" {
            code = exit::FAILED;
        }
        let mut recorded = Value::Null;
        if let Some(record) = &record {
            match app
                .history
                .append(std::slice::from_ref(record), (now_millis() / 1000) as u64)
                .await
            {
                Ok(()) => recorded = json!(record.id),
                Err(e) => {
                    code = exit::FAILED;
                    recorded = json!({"error": e});
                }
            }
        }
        results.push(json!({
            "change": change.id,
            "account": change.account,
            "region": change.region,
            "bucket": change.bucket,
            "control": change.control,
            "status": status,
            "detail": detail,
            "undo_change": recorded,
            "warnings": if status == "restored" { undo::warnings(change, &exempt_tag) } else { Vec::new() },
        }));
    }
    print_json(&Value::Array(results));
    code
}

enum UndoError {
    Refused(String),
    Failed(String),
}

async fn undo_one(
    router: &Router,
    change: &ChangeRecord,
    records: &[ChangeRecord],
    force: bool,
    caller: Option<&str>,
) -> Result<(String, ChangeRecord), UndoError> {
    let restore = undo::restore(&change.control, &change.before).map_err(UndoError::Refused)?;
    let app = router
        .account_app(&change.account, &change.region)
        .await
        .map_err(|r| {
            UndoError::Failed(r.controls.first().map_or_else(
                || "cannot act in the account".to_owned(),
                |c| c.detail.clone(),
            ))
        })?;
    let client = app.clients.s3(&change.region);
    let (bucket, owner) = (change.bucket.as_str(), change.account.as_str());
    let failed = |e: AwsError| UndoError::Failed(format!("{e}; the state may be partly restored"));
    let current = read_state(&client, bucket, owner, &change.control)
        .await
        .map_err(|e| {
            UndoError::Failed(format!(
                "cannot read the current state: {e}; nothing written"
            ))
        })?;
    undo::check(
        change,
        &current,
        undo::undone_by(&change.id, records),
        force,
    )
    .map_err(UndoError::Refused)?;
    write_restore(&client, bucket, owner, &restore)
        .await
        .map_err(failed)?;
    let read_back = read_state(&client, bucket, owner, &change.control)
        .await
        .map_err(failed)?;
    let ok = undo::restored(&change.control, &change.before, &read_back);
    let now = now_millis();
    let record = ChangeRecord {
        id: ChangeRecord::new_id(now, &[&change.id, "undo"]),
        time: change::timestamp(now),
        account: change.account.clone(),
        region: change.region.clone(),
        bucket: change.bucket.clone(),
        control: change.control.clone(),
        action: "undo".to_owned(),
        status: if ok { "restored" } else { "failed" }.to_owned(),
        before: current,
        after: read_back,
        trigger: Trigger {
            kind: TriggerKind::Undo.as_str().to_owned(),
            event_id: None,
            event_name: Some("Undo".to_owned()),
            principal: caller.map(str::to_owned),
            reference: Some(change.id.clone()),
        },
        written_by: app.principal().await.ok().map(str::to_owned),
        undoes: Some(change.id.clone()),
    };
    if !ok {
        return Err(UndoError::Failed(format!(
            "wrote the recorded before state of {}, but read back {}",
            change.control, record.after
        )));
    }
    Ok((
        format!(
            "{} of {} put back to its state before {} (read back)",
            change.control, change.bucket, change.time
        ),
        record,
    ))
}

/// A control's full state, read now (`crate::change` says the shapes).
async fn read_state(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
    control: &str,
) -> Result<Value, AwsError> {
    Ok(match control {
        sse_kms::ID => sse_kms::state(s3::read_encryption(client, bucket, owner).await?.as_ref()),
        public_access_block::ID => public_access_block::state(
            s3::read_public_access_block(client, bucket, owner)
                .await?
                .as_ref(),
        ),
        _ => s3::read_policy(client, bucket, owner)
            .await?
            .map_or(Value::Null, Value::String),
    })
}

async fn write_restore(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
    restore: &Restore,
) -> Result<(), AwsError> {
    match restore {
        Restore::PutEncryption(fix) => s3::put_encryption(client, bucket, owner, fix).await,
        Restore::DeleteEncryption => s3::delete_encryption(client, bucket, owner).await,
        Restore::PutPublicAccessBlock(flags) => {
            s3::put_public_access_block_flags(client, bucket, owner, *flags).await
        }
        Restore::DeletePublicAccessBlock => {
            s3::delete_public_access_block(client, bucket, owner).await
        }
        Restore::PutPolicy(text) => s3::put_policy(client, bucket, owner, text).await,
        Restore::DeletePolicy => s3::delete_policy(client, bucket, owner).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, bucket: &str, time: &str) -> ChangeRecord {
        ChangeRecord {
            id: id.into(),
            time: time.into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            bucket: bucket.into(),
            control: "tls-only".into(),
            action: "remediate".into(),
            status: "remediated".into(),
            before: Value::Null,
            after: Value::Null,
            trigger: Trigger {
                kind: "bucket-created".into(),
                event_name: Some("CreateBucket".into()),
                principal: Some("arn:aws:iam::123456789012:user/a,b".into()),
                ..Trigger::default()
            },
            written_by: None,
            undoes: None,
        }
    }

    #[test]
    fn history_filters_by_bucket_and_time() {
        let a = record("chg-1", "a", "2026-12-06T10:00:00.000Z");
        let b = record("chg-2", "b", "2026-12-06T11:00:00.000Z");
        let f = Filter {
            bucket: None,
            account: None,
            since: change::parse_time("2026-12-06T10:30:00Z"),
        };
        assert!(!f.keeps(&a) && f.keeps(&b));
        let f = Filter {
            bucket: Some("a"),
            account: Some("123456789012"),
            since: None,
        };
        assert!(f.keeps(&a) && !f.keeps(&b));
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let a = record("chg-1", "a", "2026-12-06T10:00:00.000Z");
        let csv = history_csv(&[&a]);
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some(HISTORY_COLUMNS.join(",").as_str()));
        assert!(
            lines
                .next()
                .unwrap()
                .ends_with(",bucket-created CreateBucket,\"arn:aws:iam::123456789012:user/a,b\""),
            "{csv}"
        );
        assert!(history_table(&[&a]).ends_with("1 change(s)\n"));
    }
}

//! The command line: the same handler as the Lambda, over a file, a sweep or the
//! opt-out check. Bad input or configuration exits 2 with one line on stderr, before
//! any AWS call.

use crate::aws::clients::Clients;
use crate::config::{Config, Mode, ReportFormat, Scope, is_account_id};
use crate::event::{self, TriggerKind};
use crate::handler::{self, App, HandleError};
use crate::org::{self, OrgProgress, OrgSweep, Router, work::WorkItem};
use crate::report::{Report, Status, exit};
use crate::{metrics, ocsf};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod change;
pub mod objects;
mod policies;

/// Keeps the S3 buckets, KMS keys and AI opt-out policy behind Amazon Rekognition protected.
///
/// Configuration comes from GUARD_* environment variables (see docs/src/configuration.md); the AWS
/// endpoint, region and credentials from the SDK's standard chain (AWS_ENDPOINT_URL
/// points it at a local emulator).
#[derive(Debug, Parser)]
#[command(name = "rekognition-guard", version = VERSION)]
pub struct Cli {
    /// Audit mode: write nothing, report `would-remediate` (same as GUARD_MODE=audit).
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Output format [default: GUARD_REPORT_FORMAT, else table on a terminal, json otherwise].
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,
    /// Stop starting new work this many seconds after the start, as a Lambda timeout
    /// would (unreached buckets are reported, or re-queued by an organization worker).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = CLI_BUDGET.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub deadline_seconds: u64,
    /// Scope rules document (JSON): modes per OU, account, Region and tag, and exceptions;
    /// instead of the SSM parameter GUARD_SCOPE_RULES. Checked before any AWS call.
    #[arg(long, global = true, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Log more on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Handle one EventBridge event exactly as the Lambda would, and print the report.
    Invoke {
        /// The event file, or `-` for stdin.
        #[arg(long, value_name = "FILE")]
        event: PathBuf,
    },
    /// Sweep existing guarded buckets (of the organization's accounts with --org).
    Scan {
        /// Only these buckets (repeatable).
        #[arg(long = "bucket", value_name = "NAME", conflicts_with = "org")]
        buckets: Vec<String>,
        /// Sweep every ACTIVE, not excluded account of the organization through its member
        /// role, one account x Region at a time per GUARD_ORG_CONCURRENCY slot.
        #[arg(long)]
        org: bool,
        /// With --org: these Regions (comma-separated) instead of GUARD_REGIONS.
        #[arg(long, value_name = "R1,R2", requires = "org")]
        regions: Option<String>,
        /// With --org: only this account (repeatable).
        #[arg(long = "account", value_name = "ID", requires = "org")]
        accounts: Vec<String>,
    },
    /// Evaluate the organization's AI services opt-out policy alone.
    OptOut,
    /// Read-only: what every guarded bucket's controls would change, per account x Region x
    /// control (`--format json` is the input of `apply`; `--format html` one page to review).
    Plan {
        /// Only these buckets (repeatable).
        #[arg(long = "bucket", value_name = "NAME", conflicts_with_all = ["org", "render"])]
        buckets: Vec<String>,
        /// Plan every ACTIVE, not excluded member account through its member role.
        #[arg(long, conflicts_with = "render")]
        org: bool,
        /// With --org: these Regions (comma-separated) instead of GUARD_REGIONS.
        #[arg(long, value_name = "R1,R2", requires = "org")]
        regions: Option<String>,
        /// With --org: only this account (repeatable).
        #[arg(long = "account", value_name = "ID", requires = "org")]
        accounts: Vec<String>,
        /// Render a saved plan (JSON) again, e.g. as HTML; no AWS call.
        #[arg(long, value_name = "PLAN.json")]
        render: Option<PathBuf>,
    },
    /// Apply exactly the changes of a plan (`plan --format json`); a bucket changed since
    /// the plan is skipped, `changed since plan`.
    Apply {
        #[arg(long, value_name = "PLAN.json")]
        plan: PathBuf,
        /// Refuse a plan older than this (s, m, h or d).
        #[arg(long, value_name = "AGE", default_value = "24h")]
        max_age: String,
    },
    /// The change record: one row per write (GUARD_STATE_TABLE, else GUARD_HISTORY_FILE).
    History {
        #[arg(long, value_name = "NAME")]
        bucket: Option<String>,
        #[arg(long, value_name = "ID")]
        account: Option<String>,
        /// Changes at or after this time (2026-12-06 or 2026-12-06T10:00:00Z).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
    },
    /// Put back the recorded before state of a change (or of a bucket's changes since a
    /// time), verified by reading back, and record the undo.
    Undo {
        #[arg(long, value_name = "ID", conflicts_with_all = ["bucket", "since"], required_unless_present = "bucket")]
        change: Option<String>,
        #[arg(long, value_name = "NAME", requires = "since")]
        bucket: Option<String>,
        #[arg(long, value_name = "TIME", requires = "bucket")]
        since: Option<String>,
        /// Also when the resource changed after the guard's write.
        #[arg(long)]
        force: bool,
    },
    /// How many objects (and bytes) of a bucket are under each encryption.
    Objects {
        #[arg(long, value_name = "NAME")]
        bucket: String,
        #[arg(long, value_name = "PREFIX")]
        prefix: Option<String>,
        /// Stop after N objects (the counts are then a sample, and say so).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        max: Option<u64>,
        /// Every version (ListObjectVersions), not only the current ones.
        #[arg(long)]
        all_versions: bool,
        /// Count from the bucket's S3 Inventory (newest CSV delivery) instead of HeadObject.
        #[arg(long, conflicts_with = "max")]
        inventory: bool,
        /// HeadObject requests at once [default: GUARD_SCAN_CONCURRENCY].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
        concurrency: Option<u16>,
    },
    /// Bring every object not under the bucket's key (or --key) to it, without copying:
    /// UpdateObjectEncryption per object, or an S3 Batch Operations job.
    Reencrypt {
        #[arg(long, value_name = "NAME")]
        bucket: String,
        #[arg(long, value_name = "PREFIX")]
        prefix: Option<String>,
        /// The target KMS key (id, ARN or alias) [default: the bucket's default encryption key].
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// Above this many objects, a Batch Operations job instead of one call per object.
        #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        direct_max: u64,
        /// A Batch Operations job whatever the bucket's size.
        #[arg(long)]
        batch: bool,
        /// Where the job's completion report goes: s3://BUCKET/PREFIX, or PREFIX in the bucket.
        #[arg(long, value_name = "P")]
        report_prefix: Option<String>,
        /// The role Batch Operations assumes [default: GUARD_REENCRYPT_ROLE_ARN].
        #[arg(long, value_name = "ARN")]
        role: Option<String>,
        /// Every version, not only the current ones (no version is ever deleted).
        #[arg(long)]
        all_versions: bool,
        /// Requests at once [default: GUARD_SCAN_CONCURRENCY].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
        concurrency: Option<u16>,
    },
    /// Print the preventive policies for the configured prefixes, output bucket patterns and
    /// roles: an SCP (no weakening writes or exemption tagging on guarded buckets but by the
    /// guard's roles), an RCP (S3 over TLS only) and an S3 policy (Block Public Access). No
    /// AWS call; see docs/src/deployment.md to attach them.
    Policies {
        /// The function's role ARN (exempt from the SCP; the member role, by
        /// GUARD_MEMBER_ROLE_NAME, is exempt in every account).
        #[arg(long, value_name = "ARN")]
        function_role: String,
        /// A break-glass role also exempt from the SCP (the account may be `*`).
        #[arg(long, value_name = "ARN")]
        break_glass_role: Option<String>,
    },
    /// This tool's S3 Batch Operations re-encryption jobs: status and counts
    /// (with --job, the completion report's counts).
    Jobs {
        #[arg(long, value_name = "ID")]
        account: Option<String>,
        #[arg(long, value_name = "JOB-ID")]
        job: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Table,
    /// One OCSF 1.5.0 Compliance Finding (class_uid 2003) per control result, as a JSON array.
    Ocsf,
    /// `plan`: one self-contained page (no network).
    Html,
    /// `history`: comma-separated values with a header row.
    Csv,
}

/// `--version`: the crate's version and the git commit it was built from (`build.rs`;
/// `unknown` from a tarball built without `REKOGNITION_GUARD_COMMIT`).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("REKOGNITION_GUARD_COMMIT"),
    ")"
);

/// How long a CLI run may take before it stops starting new work, by default.
const CLI_BUDGET: Duration = Duration::from_secs(15 * 60);

fn bad_input(message: impl std::fmt::Display) -> u8 {
    eprintln!("rekognition-guard: {message}");
    exit::BAD_INPUT
}

/// The message when no Region is configured: the SDK would otherwise try the instance
/// metadata service and fail each request with "missing signing region".
pub const NO_REGION: &str = "no AWS Region configured: set AWS_REGION (e.g. AWS_REGION=us-east-1), or region in the AWS profile";

/// The SDK clients of a command that calls AWS: exit 2 with one line, before any request,
/// when the standard chain finds no Region.
pub(crate) async fn aws_clients() -> Result<Clients, u8> {
    let clients = Clients::from_env().await;
    match clients.home_region() {
        Some(_) => Ok(clients),
        None => Err(bad_input(NO_REGION)),
    }
}

/// A scope rules document from a file: one line naming the file, line and reason.
fn read_rules(path: &PathBuf) -> Result<crate::scope::Rules, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the rules {}: {e}", path.display()))?;
    crate::scope::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_event(path: &PathBuf) -> Result<Vec<u8>, String> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read the event from stdin: {e}"))?;
        Ok(buf)
    } else {
        std::fs::read(path)
            .map_err(|e| format!("cannot read the event file {}: {e}", path.display()))
    }
}

/// Runs the CLI; returns the process exit code.
pub async fn run(cli: Cli) -> u8 {
    let mut config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => return bad_input(format!("configuration: {e}")),
    };
    if cli.dry_run {
        config.mode = Mode::Audit;
        config.dry_run = true;
    }
    if let Some(path) = &cli.rules {
        match read_rules(path) {
            Ok(rules) => config.rules = std::sync::Arc::new(rules),
            Err(e) => return bad_input(e),
        }
    }
    if let Command::Policies {
        function_role,
        break_glass_role,
    } = &cli.command
    {
        return policies::run(
            &config,
            function_role,
            break_glass_role.as_deref(),
            cli.format,
        );
    }
    if let Some(code) = run_change(&cli, &mut config).await {
        return code;
    }
    if let Some(code) = objects::run(&cli, &mut config).await {
        return code;
    }
    if let Some(f @ (Format::Html | Format::Csv)) = cli.format {
        return bad_input(format!(
            "--format {} is for {}",
            if f == Format::Html { "html" } else { "csv" },
            if f == Format::Html { "plan" } else { "history" }
        ));
    }
    // Validate the input before any AWS client exists.
    let mut batch = None;
    let event = match &cli.command {
        Command::Invoke { event: path } => {
            let raw = match read_event(path) {
                Ok(raw) => raw,
                Err(e) => return bad_input(e),
            };
            // CloudTrail records as pasted from the console or S3: one run per record.
            if let Ok(event::Intake::Records { events, what }) = event::intake(&raw) {
                let deadline = Instant::now() + Duration::from_secs(cli.deadline_seconds);
                return invoke_records(config, path, &events, &what, cli.format, deadline).await;
            }
            let value: Option<serde_json::Value> = serde_json::from_slice(&raw).ok();
            match value {
                // An SQS batch, as the event source mapping delivers it.
                Some(v) if org::is_sqs_event(&v) => match serde_json::from_value(v) {
                    Ok(sqs) => {
                        batch = Some(sqs);
                        None
                    }
                    Err(e) => {
                        return bad_input(format!("{}: not an SQS event: {e}", path.display()));
                    }
                },
                Some(v) => match event::parse(&v, &config) {
                    Ok(parsed) => Some((v, parsed)),
                    Err(e) => return bad_input(format!("{}: {e}", path.display())),
                },
                None => match event::parse_bytes(&raw, &config) {
                    Ok(_) => return bad_input(format!("{}: unreadable event", path.display())),
                    Err(e) => return bad_input(format!("{}: {e}", path.display())),
                },
            }
        }
        Command::Scan {
            org: true,
            regions,
            accounts,
            ..
        } => {
            if let Err(e) = org_scope(&mut config, regions.as_deref(), accounts) {
                return bad_input(e);
            }
            None
        }
        Command::Scan { buckets, .. } => {
            if let Some(Err(e)) = buckets
                .iter()
                .map(|b| event::check_bucket_name(b))
                .find(Result::is_err)
            {
                return bad_input(e);
            }
            None
        }
        Command::OptOut => None,
        Command::Plan { .. }
        | Command::Apply { .. }
        | Command::History { .. }
        | Command::Undo { .. }
        | Command::Objects { .. }
        | Command::Reencrypt { .. }
        | Command::Policies { .. }
        | Command::Jobs { .. } => None,
    };
    let format = cli.format.or(match config.report_format {
        Some(ReportFormat::Json) => Some(Format::Json),
        Some(ReportFormat::Ocsf) => Some(Format::Ocsf),
        None => None,
    });
    let clients = match aws_clients().await {
        Ok(clients) => clients,
        Err(code) => return code,
    };
    let router = Router::new(App::new(config, clients));
    let app = &*router.app;
    let home = app.clients.home_region();
    let deadline = Instant::now() + Duration::from_secs(cli.deadline_seconds);
    if let Some(batch) = batch {
        let outcome = router.handle_batch(batch, deadline).await;
        print_json(&outcome.to_json());
        return outcome.exit_code();
    }
    if let Command::Scan {
        org: true,
        accounts,
        ..
    } = &cli.command
    {
        let bars = OrgBars::new();
        let result = router.sweep_organization(accounts, deadline, &bars).await;
        bars.finish();
        return match result {
            Ok(sweep) => print_org_sweep(&sweep, format, home.as_deref()),
            Err(e) => {
                eprintln!("rekognition-guard: cannot read the organization's accounts: {e}");
                exit::FAILED
            }
        };
    }
    let result = match (&cli.command, event) {
        (Command::Invoke { .. }, Some((value, parsed))) => {
            router.handle_event(&value, parsed, deadline).await
        }
        (Command::Scan { buckets, .. }, _) => {
            let bar = ProgressBar::new();
            let report = handler::scan(app, buckets, deadline, TriggerKind::ManualScan, &bar).await;
            bar.finish();
            report
        }
        _ => handler::opt_out_check(app, deadline).await,
    };
    match result {
        Ok(report) => {
            print_report(&report, format, home.as_deref());
            report.exit_code()
        }
        Err(HandleError::BadEvent(e)) => bad_input(e),
        Err(e) => {
            eprintln!("rekognition-guard: {e}");
            exit::FAILED
        }
    }
}

/// `--org` flags: organization scope, account ids, `--regions` into the configuration.
fn org_scope(
    config: &mut Config,
    regions: Option<&str>,
    accounts: &[String],
) -> Result<(), String> {
    if config.scope != Scope::Organization {
        return Err("--org needs GUARD_SCOPE=organization".to_owned());
    }
    if let Some(bad) = accounts.iter().find(|a| !is_account_id(a)) {
        return Err(format!("--account {bad:?} is not a 12-digit account id"));
    }
    if let Some(list) = regions {
        let list: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(bad) = list.iter().find(|r| !crate::region::is_region(r)) {
            return Err(format!("--regions: {bad:?} is not a Region name"));
        }
        if list.is_empty() {
            return Err("--regions names no Region".to_owned());
        }
        config.regions = list;
    }
    Ok(())
}

/// `plan`, `apply`, `history`, `undo` (`cli::change`); `None` for the other commands.
async fn run_change(cli: &Cli, config: &mut Config) -> Option<u8> {
    let deadline = Instant::now() + Duration::from_secs(cli.deadline_seconds);
    let format = cli.format;
    let allowed = |ok: &[Format]| match format {
        Some(f) if !ok.contains(&f) => Err(bad_input(
            format!(
                "--format {f:?} is not one of {}",
                ok.iter()
                    .map(|f| format!("{f:?}").to_lowercase())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .to_lowercase(),
        )),
        _ => Ok(()),
    };
    if !matches!(
        cli.command,
        Command::Plan { .. }
            | Command::Apply { .. }
            | Command::History { .. }
            | Command::Undo { .. }
    ) {
        return None;
    }
    let config = std::mem::take(config);
    Some(match &cli.command {
        Command::Plan {
            buckets,
            org,
            regions,
            accounts,
            render,
        } => {
            if let Err(code) = allowed(&[Format::Json, Format::Table, Format::Html]) {
                return Some(code);
            }
            if let Some(path) = render {
                return Some(change::render(path, format));
            }
            if let Some(Err(e)) = buckets
                .iter()
                .map(|b| event::check_bucket_name(b))
                .find(Result::is_err)
            {
                return Some(bad_input(e));
            }
            let mut config = config;
            if *org && let Err(e) = org_scope(&mut config, regions.as_deref(), accounts) {
                return Some(bad_input(e));
            }
            let org = org.then_some(accounts.as_slice());
            change::plan(config, buckets, org, format, deadline).await
        }
        Command::Apply { plan, max_age } => {
            if let Err(code) = allowed(&[Format::Json, Format::Table, Format::Ocsf]) {
                return Some(code);
            }
            change::apply(config, plan, max_age, format, deadline).await
        }
        Command::History {
            bucket,
            account,
            since,
        } => {
            if let Err(code) = allowed(&[Format::Json, Format::Table, Format::Csv]) {
                return Some(code);
            }
            let since = match change::since(since.as_deref()) {
                Ok(s) => s,
                Err(e) => return Some(bad_input(e)),
            };
            if let Some(bad) = account.as_deref().filter(|a| !is_account_id(a)) {
                return Some(bad_input(format!(
                    "--account {bad:?} is not a 12-digit account id"
                )));
            }
            let filter = change::Filter {
                bucket: bucket.as_deref(),
                account: account.as_deref(),
                since,
            };
            change::history(config, filter, format).await
        }
        Command::Undo {
            change: id,
            bucket,
            since,
            force,
        } => {
            if let Err(code) = allowed(&[Format::Json]) {
                return Some(code);
            }
            let target = match (id, bucket, change::since(since.as_deref())) {
                (Some(id), _, _) => change::UndoTarget::Change(id),
                (None, Some(bucket), Ok(Some(since))) => {
                    change::UndoTarget::Bucket { bucket, since }
                }
                (_, _, Err(e)) => return Some(bad_input(e)),
                _ => return Some(bad_input("undo needs --change ID, or --bucket B --since T")),
            };
            change::undo(config, target, *force).await
        }
        _ => return None,
    })
}

/// Handles each CloudTrail record as its EventBridge event would be handled, saying so
/// on stderr; prints one report per record (a JSON array for a log file) and exits with
/// the most serious code (failed, then non-compliant).
async fn invoke_records(
    config: Config,
    path: &std::path::Path,
    events: &[serde_json::Value],
    what: &str,
    format: Option<Format>,
    deadline: Instant,
) -> u8 {
    let mut parsed = Vec::new();
    for e in events {
        match event::parse(e, &config) {
            Ok(p) => parsed.push((e, p)),
            Err(e) => return bad_input(format!("{}: {e}", path.display())),
        }
    }
    eprintln!(
        "rekognition-guard: {} is {what}: handling each record as its EventBridge event",
        path.display()
    );
    let clients = match aws_clients().await {
        Ok(clients) => clients,
        Err(code) => return code,
    };
    let router = Router::new(App::new(config, clients));
    let mut reports = Vec::new();
    for (e, p) in parsed {
        match router.handle_event(e, p, deadline).await {
            Ok(report) => reports.push(report),
            Err(e) => {
                eprintln!("rekognition-guard: {e}");
                return exit::FAILED;
            }
        }
    }
    if what.starts_with("a bare") {
        reports.iter().for_each(|r| print_report(r, format, None));
    } else if format == Some(Format::Table) || (format.is_none() && std::io::stdout().is_terminal())
    {
        reports
            .iter()
            .for_each(|r| print_report(r, Some(Format::Table), None));
    } else {
        match serde_json::to_string_pretty(&reports) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("rekognition-guard: cannot render the reports: {e}"),
        }
    }
    let codes: Vec<u8> = reports.iter().map(Report::exit_code).collect();
    [exit::FAILED, exit::NON_COMPLIANT]
        .into_iter()
        .find(|c| codes.contains(c))
        .unwrap_or(exit::OK)
}

/// A progress bar on stderr, shown only when stderr is a terminal.
struct ProgressBar(Option<indicatif::ProgressBar>);

impl ProgressBar {
    fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return Self(None);
        }
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {pos}/{len} buckets [{bar:30}] {elapsed} {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Self(Some(bar))
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl handler::Progress for ProgressBar {
    fn total(&self, buckets: usize) {
        if let Some(bar) = &self.0 {
            bar.set_length(buckets as u64);
        }
    }

    fn done(&self, bucket: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(bucket.to_owned());
            bar.inc(1);
        }
    }
}

fn print_report(report: &Report, format: Option<Format>, home: Option<&str>) {
    let format = format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    });
    match format {
        // `run` refuses html and csv for a report.
        Format::Json | Format::Html | Format::Csv => match serde_json::to_string_pretty(report) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("rekognition-guard: cannot render the report: {e}"),
        },
        Format::Table => print!("{}", report.to_table()),
        Format::Ocsf => {
            let findings = ocsf::findings(
                report,
                home.unwrap_or("us-east-1"),
                metrics::now_millis() as i64,
            );
            match serde_json::to_string_pretty(&findings) {
                Ok(json) => println!("{json}"),
                Err(e) => eprintln!("rekognition-guard: cannot render the findings: {e}"),
            }
        }
    }
}

fn print_json(value: &serde_json::Value) {
    match serde_json::to_string_pretty(value) {
        Ok(json) => println!("{json}"),
        Err(e) => eprintln!("rekognition-guard: cannot render the report: {e}"),
    }
}

/// One progress bar per account x Region on a terminal.
struct OrgBars(Option<indicatif::MultiProgress>);

impl OrgBars {
    fn new() -> Self {
        Self(
            std::io::stderr()
                .is_terminal()
                .then(indicatif::MultiProgress::new),
        )
    }

    fn finish(&self) {
        if let Some(multi) = &self.0 {
            let _ = multi.clear();
        }
    }
}

impl OrgProgress for OrgBars {
    fn started(&self, item: &WorkItem) -> Box<dyn handler::Progress + '_> {
        match &self.0 {
            None => Box::new(handler::Quiet),
            Some(multi) => {
                let bar = multi.add(indicatif::ProgressBar::new(0));
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{prefix:28} {pos}/{len} buckets [{bar:30}] {msg}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_prefix(item.label());
                Box::new(ProgressBar(Some(bar)))
            }
        }
    }
}

/// One row per account x Region: buckets, remediated, non-compliant, failed.
pub fn org_table(sweep: &OrgSweep) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "organization sweep {}: {} accounts x {} Regions ({})",
        sweep.sweep_id,
        sweep.accounts,
        sweep.regions.len(),
        sweep.regions.join(", ")
    );
    let _ = writeln!(
        out,
        "{:<28} {:>7} {:>10} {:>13} {:>6}  NOTE",
        "ACCOUNT/REGION", "BUCKETS", "REMEDIATED", "NON-COMPLIANT", "FAILED"
    );
    for (item, report) in &sweep.items {
        let buckets = report
            .resources
            .iter()
            .filter(|r| r.kind == crate::report::ResourceType::S3Bucket)
            .count();
        let count = |s: Status| report.results().filter(|(_, c)| c.status == s).count();
        let non_compliant = count(Status::NonCompliant) + count(Status::WouldRemediate);
        let note = report
            .results()
            .find(|(r, c)| {
                r.kind == crate::report::ResourceType::Account && c.status == Status::Failed
            })
            .map(|(_, c)| c.detail.clone())
            .or_else(|| report.trigger.ignored_reason.clone())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<28} {:>7} {:>10} {:>13} {:>6}  {}",
            item.label(),
            buckets,
            count(Status::Remediated),
            non_compliant,
            count(Status::Failed),
            note.chars().take(120).collect::<String>()
        );
    }
    for report in &sweep.refused {
        let _ = writeln!(
            out,
            "refused {}: {}",
            report.trigger.account.as_deref().unwrap_or("-"),
            report.trigger.ignored_reason.as_deref().unwrap_or("-")
        );
    }
    out
}

fn print_org_sweep(sweep: &OrgSweep, format: Option<Format>, home: Option<&str>) -> u8 {
    let format = format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    });
    match format {
        Format::Table | Format::Html | Format::Csv => print!("{}", org_table(sweep)),
        Format::Ocsf => {
            let findings: Vec<serde_json::Value> = sweep
                .items
                .iter()
                .map(|(_, r)| r)
                .chain(&sweep.refused)
                .flat_map(|r| {
                    ocsf::findings(r, home.unwrap_or("us-east-1"), metrics::now_millis() as i64)
                })
                .collect();
            print_json(&serde_json::Value::Array(findings));
        }
        Format::Json => {
            let reports: Vec<serde_json::Value> = sweep
                .items
                .iter()
                .map(|(_, r)| serde_json::to_value(r).unwrap_or_default())
                .chain(
                    sweep
                        .refused
                        .iter()
                        .map(|r| serde_json::to_value(r).unwrap_or_default()),
                )
                .collect();
            print_json(&serde_json::json!({
                "sweep_id": sweep.sweep_id,
                "accounts": sweep.accounts,
                "regions": sweep.regions,
                "reports": reports,
            }));
        }
    }
    org::worst(
        sweep
            .items
            .iter()
            .map(|(_, r)| r.exit_code())
            .chain(sweep.refused.iter().map(Report::exit_code)),
    )
}

//! The command line: the same handler as the Lambda, over a file, a sweep or the
//! opt-out check. Bad input or configuration exits 2 with one line on stderr, before
//! any AWS call.

use crate::aws::clients::Clients;
use crate::config::{Config, Mode};
use crate::event::{self, TriggerKind};
use crate::handler::{self, App, HandleError};
use crate::report::{Report, exit};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Keeps the S3 buckets, KMS keys and AI opt-out policy behind Amazon Rekognition protected.
///
/// Configuration comes from GUARD_* environment variables (see the README); the AWS
/// endpoint, region and credentials from the SDK's standard chain (AWS_ENDPOINT_URL
/// points it at a local emulator).
#[derive(Debug, Parser)]
#[command(name = "rekognition-guard", version)]
pub struct Cli {
    /// Audit mode: write nothing, report `would-remediate` (same as GUARD_MODE=audit).
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,
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
    /// Sweep existing guarded buckets.
    Scan {
        /// Only these buckets (repeatable).
        #[arg(long = "bucket", value_name = "NAME")]
        buckets: Vec<String>,
    },
    /// Evaluate the organization's AI services opt-out policy alone.
    OptOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Table,
}

/// How long a CLI run may take before it stops starting new work.
const CLI_BUDGET: Duration = Duration::from_secs(15 * 60);

fn bad_input(message: impl std::fmt::Display) -> u8 {
    eprintln!("rekognition-guard: {message}");
    exit::BAD_INPUT
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
    }
    // Validate the input before any AWS client exists.
    let event = match &cli.command {
        Command::Invoke { event: path } => {
            let raw = match read_event(path) {
                Ok(raw) => raw,
                Err(e) => return bad_input(e),
            };
            // CloudTrail records as pasted from the console or S3: one run per record.
            if let Ok(event::Intake::Records { events, what }) = event::intake(&raw) {
                return invoke_records(config, path, &events, &what, cli.format).await;
            }
            match event::parse_bytes(&raw, &config) {
                Ok(parsed) => Some(parsed),
                Err(e) => return bad_input(format!("{}: {e}", path.display())),
            }
        }
        Command::Scan { buckets } => {
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
    };
    let app = App::new(config, Clients::from_env().await);
    let deadline = Instant::now() + CLI_BUDGET;
    let result = match (&cli.command, event) {
        (Command::Invoke { .. }, Some(parsed)) => {
            handler::handle_parsed(&app, parsed, deadline).await
        }
        (Command::Scan { buckets }, _) => {
            let bar = ProgressBar::new();
            let report =
                handler::scan(&app, buckets, deadline, TriggerKind::ManualScan, &bar).await;
            bar.finish();
            report
        }
        _ => handler::opt_out_check(&app, deadline).await,
    };
    match result {
        Ok(report) => {
            print_report(&report, cli.format);
            report.exit_code()
        }
        Err(HandleError::BadEvent(e)) => bad_input(e),
        Err(e) => {
            eprintln!("rekognition-guard: {e}");
            exit::FAILED
        }
    }
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
) -> u8 {
    let mut parsed = Vec::new();
    for e in events {
        match event::parse(e, &config) {
            Ok(p) => parsed.push(p),
            Err(e) => return bad_input(format!("{}: {e}", path.display())),
        }
    }
    eprintln!(
        "rekognition-guard: {} is {what}: handling each record as its EventBridge event",
        path.display()
    );
    let app = App::new(config, Clients::from_env().await);
    let deadline = Instant::now() + CLI_BUDGET;
    let mut reports = Vec::new();
    for p in parsed {
        match handler::handle_parsed(&app, p, deadline).await {
            Ok(report) => reports.push(report),
            Err(e) => {
                eprintln!("rekognition-guard: {e}");
                return exit::FAILED;
            }
        }
    }
    if what.starts_with("a bare") {
        reports.iter().for_each(|r| print_report(r, format));
    } else if format == Some(Format::Table) || (format.is_none() && std::io::stdout().is_terminal())
    {
        reports
            .iter()
            .for_each(|r| print_report(r, Some(Format::Table)));
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

fn print_report(report: &Report, format: Option<Format>) {
    let format = format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Table
    } else {
        Format::Json
    });
    match format {
        Format::Json => match serde_json::to_string_pretty(report) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("rekognition-guard: cannot render the report: {e}"),
        },
        Format::Table => print!("{}", report.to_table()),
    }
}

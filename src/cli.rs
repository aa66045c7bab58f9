//! The command line: the same handler as the Lambda, over a file, a sweep or the
//! opt-out check. Bad input or configuration exits 2 with one line on stderr, before
//! any AWS call.

use crate::aws::clients::Clients;
use crate::config::{Config, Mode, ReportFormat};
use crate::event::{self, TriggerKind};
use crate::handler::{self, App, HandleError};
use crate::report::{Report, exit};
use crate::{metrics, ocsf};
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
    /// Output format [default: GUARD_REPORT_FORMAT, else table on a terminal, json otherwise].
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
    /// One OCSF 1.5.0 Compliance Finding (class_uid 2003) per control result, as a JSON array.
    Ocsf,
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
    let format = cli.format.or(match config.report_format {
        Some(ReportFormat::Json) => Some(Format::Json),
        Some(ReportFormat::Ocsf) => Some(Format::Ocsf),
        None => None,
    });
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
        Format::Json => match serde_json::to_string_pretty(report) {
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

//! Boot only: logging, configuration, clients built once, then the Lambda runtime
//! (when `AWS_LAMBDA_RUNTIME_API` is set) or the CLI.

#![recursion_limit = "256"]

use clap::Parser;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use rekognition_guard::aws::clients::Clients;
use rekognition_guard::cli::{self, Cli};
use rekognition_guard::config::{Config, ReportFormat};
use rekognition_guard::handler::App;
use rekognition_guard::org::{Handled, Router};
use rekognition_guard::report::{Report, Status, exit};
use rekognition_guard::{metrics, ocsf};
use serde_json::Value;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        init_lambda_logging();
        match lambda().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!(error = %e, "runtime stopped");
                ExitCode::from(exit::FAILED)
            }
        }
    } else {
        let cli = Cli::parse();
        init_cli_logging(cli.verbose);
        ExitCode::from(cli::run(cli).await)
    }
}

/// CLI: human logs on stderr, so stdout stays the report. `RUST_LOG` overrides.
/// By default the SDK's configuration loader only speaks up for errors: its warnings
/// (the instance metadata service, tried for a Region or credentials, is absent off EC2)
/// would bury the one line the CLI prints about what to set.
fn init_cli_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,aws_config=error",
        1 => "info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Lambda: JSON lines when the function's log format is JSON, at its log level.
fn init_lambda_logging() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .unwrap_or_else(|_| "info".to_owned())
        .to_lowercase();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time();
    if std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder
            .json()
            .with_current_span(false)
            .flatten_event(true)
            .init();
    } else {
        builder.init();
    }
}

async fn lambda() -> Result<(), Error> {
    let mut config = Config::from_env()?;
    let clients = Clients::from_env().await;
    // The scope rules, read once per cold start: a document that cannot be used stops
    // the function at start (every event then fails into the DLQ) rather than guessing.
    if let Some(name) = config.scope_rules_parameter.clone() {
        let text = rekognition_guard::aws::ssm::parameter(&clients.ssm(), &name)
            .await
            .map_err(|e| format!("GUARD_SCOPE_RULES {name}: {e}"))?;
        let rules = rekognition_guard::scope::parse(&text)
            .map_err(|e| format!("GUARD_SCOPE_RULES {name}: {e}"))?;
        config.rules = std::sync::Arc::new(rules);
    }
    let router = Router::new(App::new(config, clients));
    let router = &router;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        invoke(router, event).await
    }))
    .await
}

/// One Lambda invocation. An SQS batch returns `batchItemFailures` naming exactly the
/// records to retry. Any other event returns its report; one whose exit code is 1 (a
/// control failed, the alert failed, work left unfinished) is returned as an error, so
/// Lambda retries it and the dead-letter queue keeps it; the report is logged either way.
async fn invoke(router: &Router, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let started = Instant::now();
    let remaining = event
        .context
        .deadline()
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    let deadline = Instant::now() + remaining;
    router
        .app
        .set_function_arn(&event.context.invoked_function_arn);
    let report = match router.handle(&event.payload, deadline).await? {
        Handled::Report(report) => *report,
        Handled::Batch(batch) => {
            for record in &batch.records {
                emit_metrics(&router.app, &record.report, started);
                if record.code == exit::FAILED {
                    tracing::error!(message_id = %record.message_id, report = %serde_json::to_string(&record.report)?, "record failed; SQS will retry it");
                }
            }
            return Ok(serde_json::to_value(batch.response())?);
        }
    };
    emit_metrics(&router.app, &report, started);
    if report.exit_code() == exit::FAILED {
        tracing::error!(report = %serde_json::to_string(&report)?, "invocation failed");
        let failed = report
            .results()
            .filter(|(_, c)| c.status == Status::Failed)
            .count();
        let mut message = format!("rekognition-guard: {failed} failed control(s)");
        if !report.unfinished.is_empty() {
            message.push_str(&format!(", {} unfinished", report.unfinished.len()));
        }
        if let Some(e) = &report.alert.error {
            message.push_str(&format!(", alert failed: {e}"));
        }
        if let Some(f) = report.security_hub.as_ref().filter(|f| f.failed()) {
            message.push_str(&format!(
                ", Security Hub import failed ({} findings): {}",
                f.failed,
                f.errors.first().map_or("-", String::as_str)
            ));
        }
        message.push_str("; see the report in the log");
        return Err(message.into());
    }
    Ok(serde_json::to_value(report)?)
}

/// The EMF metrics line, and with `GUARD_REPORT_FORMAT=ocsf` one OCSF Compliance Finding
/// line per control result.
fn emit_metrics(app: &App, report: &Report, started: Instant) {
    println!(
        "{}",
        metrics::emf_line(
            report,
            started.elapsed().as_millis() as u64,
            metrics::now_millis()
        )
    );
    if app.config.report_format == Some(ReportFormat::Ocsf) {
        let home = app.clients.home_region().unwrap_or_default();
        for finding in ocsf::findings(report, &home, metrics::now_millis() as i64) {
            println!("{finding}");
        }
    }
}

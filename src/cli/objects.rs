//! `objects`, `reencrypt` and `jobs`: objects already in a bucket (issue 26). Arguments
//! are checked before any AWS call (exit 2); the logic is `crate::objects`, the SDK calls
//! `aws::objects` and `aws::s3control`.
//!
//! Exit codes: `objects` 0 (1 when an object could not be read); `reencrypt` 0 when
//! every object is under the key (or a job was created), 1 when an update failed, 2 for
//! bad input, 3 when objects remain that the API cannot change, or when the bucket is
//! refused: its encryption fix is held by its dependents ("Do no harm") or it is exempt.

use super::{Cli, Command, Format, bad_input, print_json};
use crate::aws::{self, AwsError};
use crate::change::StatesKind;
use crate::config::{Config, Mode, is_account_id};
use crate::event::{self, TriggerKind};
use crate::handler::{self, App, Quiet};
use crate::objects::{self, Census, Failure, Object, Source, Summary, Tally, Target};
use crate::report::{ResourceType, Status, exit};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Objects whose encryption a batch path reads to learn which keys to filter on.
const BATCH_SAMPLE: usize = 1000;

/// `objects`, `reencrypt`, `jobs`; `None` for the other commands.
pub async fn run(cli: &Cli, config: &mut Config) -> Option<u8> {
    let format = match cli.format {
        None => None,
        Some(f @ (Format::Json | Format::Table)) => Some(f),
        Some(_)
            if matches!(
                cli.command,
                Command::Objects { .. } | Command::Reencrypt { .. } | Command::Jobs { .. }
            ) =>
        {
            return Some(bad_input("--format is json or table for this command"));
        }
        Some(_) => None,
    };
    let deadline = Instant::now() + Duration::from_secs(cli.deadline_seconds);
    let code = match &cli.command {
        Command::Objects {
            bucket,
            prefix,
            max,
            all_versions,
            inventory,
            concurrency,
        } => {
            if let Err(e) = event::check_bucket_name(bucket) {
                return Some(bad_input(e));
            }
            let args = ObjectsArgs {
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                max: *max,
                all_versions: *all_versions,
                inventory: *inventory,
                concurrency: concurrency.map_or(config.scan_concurrency, usize::from),
            };
            let clients = match super::aws_clients().await {
                Ok(clients) => clients,
                Err(code) => return Some(code),
            };
            let app = App::new(std::mem::take(config), clients);
            let bar = bars();
            let (census, code) = census(&app, &args, &*bar).await;
            if let Some(c) = census {
                print(format, &c, Census::to_table);
            }
            code
        }
        Command::Reencrypt {
            bucket,
            prefix,
            key,
            direct_max,
            batch,
            report_prefix,
            role,
            all_versions,
            concurrency,
        } => {
            if let Err(e) = event::check_bucket_name(bucket) {
                return Some(bad_input(e));
            }
            let role = role.clone().or_else(|| config.reencrypt_role_arn.clone());
            if *batch && !cli.dry_run && (report_prefix.is_none() || role.is_none()) {
                return Some(bad_input(
                    "--batch needs --report-prefix and --role (or GUARD_REENCRYPT_ROLE_ARN)",
                ));
            }
            if let Some(Err(e)) = report_prefix
                .as_deref()
                .map(|p| objects::job::report_location(p, bucket))
            {
                return Some(bad_input(e));
            }
            let args = ReencryptArgs {
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                key: key.clone(),
                direct_max: *direct_max,
                batch: *batch,
                report_prefix: report_prefix.clone(),
                role,
                all_versions: *all_versions,
                dry_run: cli.dry_run,
                concurrency: concurrency.map_or(config.scan_concurrency, usize::from),
                token_seed: crate::metrics::now_millis().to_string(),
            };
            let clients = match super::aws_clients().await {
                Ok(clients) => clients,
                Err(code) => return Some(code),
            };
            let app = App::new(std::mem::take(config), clients);
            let bar = bars();
            let (summary, code) = reencrypt(&app, &args, deadline, &*bar).await;
            if let Some(s) = summary {
                print(format, &s, Summary::to_table);
            }
            code
        }
        Command::Jobs { account, job } => {
            if let Some(bad) = account.as_deref().filter(|a| !is_account_id(a)) {
                return Some(bad_input(format!(
                    "--account {bad:?} is not a 12-digit account id"
                )));
            }
            let clients = match super::aws_clients().await {
                Ok(clients) => clients,
                Err(code) => return Some(code),
            };
            let app = App::new(std::mem::take(config), clients);
            let (jobs, code) = jobs(&app, account.as_deref(), job.as_deref()).await;
            print(format, &jobs, |j: &Vec<objects::job::JobStatus>| {
                objects::job::jobs_table(j)
            });
            code
        }
        _ => return None,
    };
    Some(code)
}

fn print<T: serde::Serialize>(format: Option<Format>, value: &T, table: impl Fn(&T) -> String) {
    let table_wanted = match format {
        Some(f) => f == Format::Table,
        None => std::io::stdout().is_terminal(),
    };
    if table_wanted {
        print!("{}", table(value));
    } else {
        print_json(&serde_json::to_value(value).unwrap_or_default());
    }
}

/// What `objects` was asked.
#[derive(Debug, Clone)]
pub struct ObjectsArgs {
    pub bucket: String,
    pub prefix: Option<String>,
    pub max: Option<u64>,
    pub all_versions: bool,
    pub inventory: bool,
    pub concurrency: usize,
}

/// What `reencrypt` was asked.
#[derive(Debug, Clone)]
pub struct ReencryptArgs {
    pub bucket: String,
    pub prefix: Option<String>,
    pub key: Option<String>,
    pub direct_max: u64,
    pub batch: bool,
    pub report_prefix: Option<String>,
    pub role: Option<String>,
    pub all_versions: bool,
    pub dry_run: bool,
    pub concurrency: usize,
    /// Makes the job's client token: the CLI's start time.
    pub token_seed: String,
}

/// Progress of per-object work (a bar on a terminal, nothing otherwise).
pub trait ObjectProgress: Sync {
    fn start(&self, what: &str, total: u64);
    fn inc(&self);
    fn finish(&self);
}

/// No progress shown (tests, and stderr that is not a terminal).
pub struct NoProgress;

impl ObjectProgress for NoProgress {
    fn start(&self, _: &str, _: u64) {}
    fn inc(&self) {}
    fn finish(&self) {}
}

struct Bar(indicatif::ProgressBar);

impl ObjectProgress for Bar {
    fn start(&self, what: &str, total: u64) {
        self.0.reset();
        self.0.set_length(total);
        self.0.set_message(what.to_owned());
    }
    fn inc(&self) {
        self.0.inc(1);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

fn bars() -> Box<dyn ObjectProgress> {
    if !std::io::stderr().is_terminal() {
        return Box::new(NoProgress);
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {pos}/{len} objects [{bar:30}] {elapsed} {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    Box::new(Bar(bar))
}

fn failed(e: impl std::fmt::Display) -> u8 {
    eprintln!("rekognition-guard: {e}");
    exit::FAILED
}

/// The account and the bucket's Region (`GetBucketLocation`).
async fn locate(app: &App, bucket: &str) -> Result<(String, String), String> {
    let account = app.account().await.map_err(|e| e.to_string())?.to_owned();
    let home = app
        .clients
        .home_region()
        .unwrap_or_else(|| "us-east-1".to_owned());
    let region = aws::s3::bucket_region(&app.clients.s3(&home), bucket, &account)
        .await
        .map_err(|e| format!("{bucket}: {e}"))?;
    Ok((account, region))
}

/// The ARN of the account's `aws/s3` key in `region`, when KMS answers.
async fn aws_s3_key(app: &App, region: &str) -> Option<String> {
    match aws::kms::describe(&app.clients.kms(region), "alias/aws/s3", false).await {
        Ok(info) if !info.arn.is_empty() => Some(info.arn),
        Ok(_) => None,
        Err(e) => {
            tracing::info!(error = %e, "the aws/s3 key is not known: its objects count under its ARN");
            None
        }
    }
}

/// `objects`: the census, and the exit code.
pub async fn census(
    app: &App,
    args: &ObjectsArgs,
    progress: &dyn ObjectProgress,
) -> (Option<Census>, u8) {
    let before = app.clients.counter().requests();
    let (account, region) = match locate(app, &args.bucket).await {
        Ok(v) => v,
        Err(e) => return (None, failed(e)),
    };
    let s3 = app.clients.s3(&region);
    let mut tally = Tally::default();
    let mut sampled = false;
    let (source, aws_s3) = if args.inventory {
        let location = match aws::objects::inventory_location(
            &s3,
            &args.bucket,
            &account,
            args.all_versions,
        )
        .await
        {
            Ok(Some(l)) => l,
            Ok(None) => {
                return (
                    None,
                    failed(format!(
                        "{}: no enabled CSV inventory with EncryptionStatus{} is configured; run without --inventory",
                        args.bucket,
                        if args.all_versions {
                            " and all versions"
                        } else {
                            ""
                        }
                    )),
                );
            }
            Err(e) => return (None, failed(e)),
        };
        match aws::objects::inventory_counts(
            &s3,
            &location,
            args.prefix.as_deref(),
            !args.all_versions,
        )
        .await
        {
            Ok((by, manifest)) => {
                tracing::info!(bucket = %args.bucket, manifest = %manifest, "counted from S3 Inventory");
                tally.by = by;
            }
            Err(e) => return (None, failed(e)),
        }
        (Source::Inventory, None)
    } else {
        let (listed, truncated) = match aws::objects::list(
            &s3,
            &args.bucket,
            &account,
            args.prefix.as_deref(),
            args.all_versions,
            args.max,
        )
        .await
        {
            Ok(v) => v,
            Err(e) => return (None, failed(e)),
        };
        sampled = truncated;
        let aws_s3 = aws_s3_key(app, &region).await;
        progress.start("HeadObject", listed.len() as u64);
        let results = aws::objects::heads(
            &s3,
            &args.bucket,
            &account,
            listed,
            args.concurrency,
            aws_s3.as_deref(),
            &|| progress.inc(),
        )
        .await;
        progress.finish();
        for (object, result) in results {
            match result {
                Ok(e) => tally.add(&object, e),
                Err(e) => tally.unread.push(failure(&object, &e)),
            }
        }
        (Source::ListAndHead, aws_s3)
    };
    let census = Census {
        bucket: args.bucket.clone(),
        prefix: args.prefix.clone(),
        versions: if args.all_versions { "all" } else { "current" },
        source,
        sampled,
        max: args.max,
        objects: tally.objects(),
        bytes: tally.bytes(),
        by_encryption: Census::rows(&tally),
        unread: tally.unread.clone(),
        aws_s3_key: aws_s3,
        requests: app.clients.counter().requests() - before,
    };
    tracing::info!(bucket = %census.bucket, objects = census.objects, sampled = census.sampled,
        requests = census.requests, "objects counted");
    let code = if census.unread.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    };
    (Some(census), code)
}

fn failure(object: &Object, e: &AwsError) -> Failure {
    Failure {
        key: object.key.clone(),
        version_id: object.version_id.clone(),
        error: e.to_string(),
    }
}

/// Why the bucket must not be re-encrypted, from the same evaluation the handler makes in
/// audit mode (nothing written, no alert, no finding): its encryption fix is held by its
/// dependents, or it is exempt. `Err` is a failed evaluation.
pub async fn refusal(
    app: &App,
    bucket: &str,
    key: Option<&str>,
    deadline: Instant,
) -> Result<Option<String>, String> {
    let mut config = app.config.clone();
    config.mode = Mode::Audit;
    config.alert_topic_arn = None;
    config.security_hub = false;
    config.state_table = None;
    if let Some(k) = key {
        // The dependents are checked against the key the objects would be under.
        config.kms_key_id = Some(k.to_owned());
    }
    let audit = App::new(config, app.clients.sibling());
    let report = handler::scan(
        &audit,
        &[bucket.to_owned()],
        deadline,
        TriggerKind::ManualScan,
        &Quiet,
    )
    .await
    .map_err(|e| e.to_string())?;
    let Some(resource) = report
        .resources
        .iter()
        .find(|r| r.kind == ResourceType::S3Bucket && r.id == bucket)
    else {
        return Err(format!(
            "{bucket}: the safety evaluation did not reach the bucket"
        ));
    };
    for c in &resource.controls {
        if c.control == "sse-kms"
            && c.states
                .as_ref()
                .is_some_and(|s| s.kind == StatesKind::Held)
        {
            return Ok(Some(format!(
                "refused: the encryption fix of {bucket} is held because of its dependents (Do no harm): {}",
                c.detail
            )));
        }
        if c.status == Status::Exempt {
            return Ok(Some(format!("refused: {bucket} is exempt: {}", c.detail)));
        }
        if c.control == "sse-kms" && c.status == Status::Failed {
            return Err(format!(
                "{bucket}: sse-kms could not be evaluated: {}",
                c.detail
            ));
        }
    }
    Ok(None)
}

/// The target: `--key` or the bucket's default key, as an ARN.
async fn target(
    app: &App,
    bucket: &str,
    account: &str,
    region: &str,
    key: Option<&str>,
    aws_s3: Option<&str>,
) -> Result<Target, (u8, String)> {
    let enc = aws::s3::read_encryption(&app.clients.s3(region), bucket, account)
        .await
        .map_err(|e| (exit::FAILED, e.to_string()))?;
    let named = objects::target_key(
        key,
        enc.as_ref().map(|e| e.algorithm.as_str()),
        enc.as_ref().and_then(|e| e.kms_key_id.as_deref()),
    )
    .map_err(|e| (exit::BAD_INPUT, format!("{bucket}: {e}")))?;
    let arn = match named {
        Some(k) if k.starts_with("arn:") && k.contains(":key/") => k,
        Some(k) => aws::kms::describe(&app.clients.kms(region), &k, false)
            .await
            .map(|i| i.arn)
            .map_err(|e| (exit::FAILED, format!("the key {k}: {e}")))?,
        None => aws_s3.map(str::to_owned).ok_or_else(|| {
            (
                exit::FAILED,
                "the bucket's key is aws/s3, and its ARN could not be read (kms:DescribeKey alias/aws/s3)".to_owned(),
            )
        })?,
    };
    Ok(Target {
        key_arn: arn,
        bucket_key: true,
    })
}

/// `reencrypt`: the summary (when it got that far), and the exit code.
pub async fn reencrypt(
    app: &App,
    args: &ReencryptArgs,
    deadline: Instant,
    progress: &dyn ObjectProgress,
) -> (Option<Summary>, u8) {
    let before = app.clients.counter().requests();
    match refusal(app, &args.bucket, args.key.as_deref(), deadline).await {
        Ok(None) => {}
        Ok(Some(reason)) => {
            eprintln!("rekognition-guard: {reason}; nothing written");
            return (None, exit::NON_COMPLIANT);
        }
        Err(e) => return (None, failed(e)),
    }
    let (account, region) = match locate(app, &args.bucket).await {
        Ok(v) => v,
        Err(e) => return (None, failed(e)),
    };
    let aws_s3 = aws_s3_key(app, &region).await;
    let target = match target(
        app,
        &args.bucket,
        &account,
        &region,
        args.key.as_deref(),
        aws_s3.as_deref(),
    )
    .await
    {
        Ok(t) => t,
        Err((code, e)) => {
            eprintln!("rekognition-guard: {e}");
            return (None, code);
        }
    };
    let s3 = app.clients.s3(&region);
    let (listed, more) = match aws::objects::list(
        &s3,
        &args.bucket,
        &account,
        args.prefix.as_deref(),
        args.all_versions,
        Some(args.direct_max.saturating_add(1)),
    )
    .await
    {
        Ok(v) => v,
        Err(e) => return (None, failed(e)),
    };
    let path = objects::path(listed.len() as u64, args.direct_max, args.batch);
    let mut summary = Summary {
        bucket: args.bucket.clone(),
        path,
        dry_run: args.dry_run,
        target: target.clone(),
        listed: listed.len() as u64,
        kept: 0,
        updated: 0,
        would_update: Vec::new(),
        unsupported: Vec::new(),
        failed: Vec::new(),
        job_id: None,
        job: None,
        notes: Vec::new(),
        requests: 0,
    };
    let code = match path {
        objects::Path::Direct => {
            direct(
                app,
                args,
                &account,
                &region,
                listed,
                &target,
                aws_s3.as_deref(),
                &mut summary,
                progress,
            )
            .await
        }
        objects::Path::Batch => {
            if more {
                summary.notes.push(format!(
                    "more than --direct-max {} objects: an S3 Batch Operations job",
                    args.direct_max
                ));
            }
            batch(
                app,
                args,
                &account,
                &region,
                listed,
                &target,
                aws_s3.as_deref(),
                &mut summary,
            )
            .await
        }
    };
    summary.requests = app.clients.counter().requests() - before;
    tracing::info!(bucket = %summary.bucket, path = ?summary.path, updated = summary.updated,
        failed = summary.failed.len(), unsupported = summary.unsupported.len(),
        job_id = ?summary.job_id, requests = summary.requests, "reencrypt finished");
    (Some(summary), code)
}

#[allow(clippy::too_many_arguments)]
async fn direct(
    app: &App,
    args: &ReencryptArgs,
    account: &str,
    region: &str,
    listed: Vec<Object>,
    target: &Target,
    aws_s3: Option<&str>,
    summary: &mut Summary,
    progress: &dyn ObjectProgress,
) -> u8 {
    let s3 = app.clients.s3(region);
    progress.start("HeadObject", listed.len() as u64);
    let heads = aws::objects::heads(
        &s3,
        &args.bucket,
        account,
        listed,
        args.concurrency,
        aws_s3,
        &|| progress.inc(),
    )
    .await;
    progress.finish();
    let mut read = Vec::new();
    for (object, result) in heads {
        match result {
            Ok(e) => read.push((object, e)),
            Err(e) => summary.failed.push(failure(&object, &e)),
        }
    }
    let changes = objects::changes(read, target);
    summary.kept = changes.keep;
    summary.unsupported = changes
        .unsupported
        .iter()
        .map(|(o, _, reason)| Failure {
            key: o.key.clone(),
            version_id: o.version_id.clone(),
            error: (*reason).to_owned(),
        })
        .collect();
    let to_update: Vec<Object> = changes.update.into_iter().map(|(o, _)| o).collect();
    if args.dry_run {
        summary.updated = 0;
        summary.would_update = to_update;
    } else {
        let writer = aws::objects::adaptive(&app.clients.object_writer(region));
        progress.start("UpdateObjectEncryption", to_update.len() as u64);
        let results = aws::objects::updates(
            &writer,
            &args.bucket,
            account,
            to_update,
            target,
            args.concurrency,
            &|| progress.inc(),
        )
        .await;
        progress.finish();
        for (object, result) in results {
            match result {
                Ok(()) => summary.updated += 1,
                Err(e) => summary.failed.push(failure(&object, &e)),
            }
        }
    }
    if !summary.failed.is_empty() {
        exit::FAILED
    } else if !summary.unsupported.is_empty() {
        exit::NON_COMPLIANT
    } else {
        exit::OK
    }
}

#[allow(clippy::too_many_arguments)]
async fn batch(
    app: &App,
    args: &ReencryptArgs,
    account: &str,
    region: &str,
    mut listed: Vec<Object>,
    target: &Target,
    aws_s3: Option<&str>,
    summary: &mut Summary,
) -> u8 {
    // Which keys objects are under: a sample, since the filter cannot say "not under K".
    listed.truncate(BATCH_SAMPLE);
    let sample = listed.len();
    let s3 = app.clients.s3(region);
    let mut tally = Tally::default();
    for (o, r) in aws::objects::heads(
        &s3,
        &args.bucket,
        account,
        listed,
        args.concurrency,
        aws_s3,
        &|| {},
    )
    .await
    {
        if let Ok(e) = r {
            tally.add(&o, e);
        }
    }
    let others = tally.other_keys(&target.key_arn);
    summary.notes.push(format!(
        "the job's filter is SSE-S3 and SSE-KMS under the {} other key(s) found in a sample of {sample} objects; objects under a key the sample missed are not in the job (run `objects` for a full count)",
        others.len()
    ));
    let unsupported: u64 = tally
        .by
        .iter()
        .filter(|(e, _)| objects::unsupported(e).is_some())
        .map(|(_, c)| c.objects)
        .sum();
    if unsupported > 0 {
        summary.notes.push(format!(
            "{unsupported} object(s) of the sample are unencrypted, DSSE-KMS or SSE-C: the API cannot change them, the job leaves them out (run `objects` to list them)"
        ));
    }
    let (report_bucket, report_prefix) = match args
        .report_prefix
        .as_deref()
        .map(|p| objects::job::report_location(p, &args.bucket))
    {
        Some(Ok(v)) => v,
        Some(Err(e)) => return bad_input(e),
        None if args.dry_run => (args.bucket.clone(), "REPORT-PREFIX".to_owned()),
        None => {
            return bad_input(
                "more than --direct-max objects: the Batch Operations job needs --report-prefix and --role",
            );
        }
    };
    let role = match (&args.role, args.dry_run) {
        (Some(r), _) => r.clone(),
        (None, true) => "ROLE-ARN".to_owned(),
        (None, false) => {
            return bad_input(
                "the Batch Operations job needs --role (or GUARD_REENCRYPT_ROLE_ARN)",
            );
        }
    };
    let request = objects::job::request(&objects::job::JobInputs {
        account,
        partition: crate::region::partition(region),
        bucket: &args.bucket,
        prefix: args.prefix.as_deref(),
        target,
        other_keys: &others,
        report_bucket: &report_bucket,
        report_prefix: &report_prefix,
        role_arn: &role,
        token_seed: &args.token_seed,
    });
    summary.job = Some(request.clone());
    if args.dry_run {
        return exit::OK;
    }
    match aws::s3control::create_job(&app.clients.s3control(region), &request).await {
        Ok(id) => {
            tracing::info!(bucket = %args.bucket, job_id = %id, "Batch Operations job created");
            summary.job_id = Some(id);
            exit::OK
        }
        Err(e) => failed(format!(
            "{}: the Batch Operations job was not created: {e}",
            args.bucket
        )),
    }
}

/// `jobs`: this tool's Batch Operations jobs, or one job with its report's counts.
pub async fn jobs(
    app: &App,
    account: Option<&str>,
    job: Option<&str>,
) -> (Vec<objects::job::JobStatus>, u8) {
    let account = match account {
        Some(a) => a.to_owned(),
        None => match app.account().await {
            Ok(a) => a.to_owned(),
            Err(e) => return (Vec::new(), failed(e)),
        },
    };
    let region = app
        .clients
        .home_region()
        .unwrap_or_else(|| "us-east-1".to_owned());
    let control = app.clients.s3control(&region);
    let Some(id) = job else {
        return match aws::s3control::list_jobs(&control, &account).await {
            Ok(jobs) => (jobs, exit::OK),
            Err(e) => (Vec::new(), failed(e)),
        };
    };
    let mut status = match aws::s3control::describe_job(&control, &account, id).await {
        Ok(s) => s,
        Err(e) => return (Vec::new(), failed(e)),
    };
    if objects::job::is_terminal(&status.status)
        && let Some(location) = status.report.clone()
    {
        let rest = location.trim_start_matches("s3://");
        let (bucket, folder) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = folder
            .trim_end_matches('/')
            .rsplit_once('/')
            .map_or("", |(p, _)| p);
        match aws::objects::report_counts(&app.clients.s3(&region), bucket, prefix, id).await {
            Ok(c) => status.report_counts = Some(c),
            Err(e) => tracing::warn!(job_id = id, error = %e, "completion report not read"),
        }
    }
    (vec![status], exit::OK)
}

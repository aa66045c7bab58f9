//! The S3 Batch Operations job that re-encrypts a bucket's objects (`CreateJob` with the
//! `S3UpdateObjectEncryption` operation and a manifest generator), and what `jobs` reads
//! back: the job's status and its completion report. Pure; `aws::s3control` sends.
//!
//! The manifest generator's `MatchAnyObjectEncryption` keeps objects under any of the
//! encryptions listed; it cannot say "not under key K". So the filter lists SSE-S3 and
//! SSE-KMS under each key other than the target that is known (found by the census or a
//! sample of it): every object the API can change that is not under the target key, when
//! every key is known. Objects the API cannot change (unencrypted, DSSE-KMS, SSE-C) are never
//! in the filter, so they never fail in the report: `objects` lists them.

use super::{Target, same_key};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Tag of every job this tool creates (its description starts with it): `jobs` lists these.
pub const DESCRIPTION_PREFIX: &str = "rekognition-guard reencrypt";

/// One entry of the manifest generator's `MatchAnyObjectEncryption`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Filter {
    SseS3,
    SseKms { key_arn: String },
}

/// Everything `CreateJob` is sent, as plain data (printed by `--dry-run`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRequest {
    pub account: String,
    pub bucket: String,
    pub bucket_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    pub filter: Vec<Filter>,
    pub target: Target,
    pub report_bucket_arn: String,
    pub report_prefix: String,
    pub role_arn: String,
    pub priority: i32,
    pub description: String,
    /// Idempotency: the same request (a retried event) creates one job.
    pub client_token: String,
}

/// Where the completion report goes: `s3://bucket/prefix`, or a bare prefix in the
/// bucket re-encrypted.
pub fn report_location(value: &str, bucket: &str) -> Result<(String, String), String> {
    let (report_bucket, prefix) = match value.strip_prefix("s3://") {
        Some(rest) => match rest.split_once('/') {
            Some((b, p)) => (b.to_owned(), p.trim_end_matches('/').to_owned()),
            None => (rest.to_owned(), String::new()),
        },
        None => (bucket.to_owned(), value.trim_matches('/').to_owned()),
    };
    if report_bucket.is_empty() {
        return Err(format!("--report-prefix {value:?} names no bucket"));
    }
    if prefix.len() > 512 {
        return Err("--report-prefix is longer than 512 characters".to_owned());
    }
    Ok((report_bucket, prefix))
}

/// `MatchAnyObjectEncryption`: SSE-S3, and SSE-KMS under each other key (once each).
pub fn filter(target: &Target, other_keys: &[String]) -> Vec<Filter> {
    let mut out = vec![Filter::SseS3];
    for k in other_keys {
        if same_key(k, &target.key_arn) {
            continue;
        }
        let f = Filter::SseKms { key_arn: k.clone() };
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

pub fn bucket_arn(partition: &str, bucket: &str) -> String {
    format!("arn:{partition}:s3:::{bucket}")
}

/// A client token (1–64 characters) from what makes the request the same request.
pub fn client_token(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(24)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The inputs of a job request, as the commands and the handler know them.
#[derive(Debug, Clone)]
pub struct JobInputs<'a> {
    pub account: &'a str,
    pub partition: &'a str,
    pub bucket: &'a str,
    pub prefix: Option<&'a str>,
    pub target: &'a Target,
    pub other_keys: &'a [String],
    pub report_bucket: &'a str,
    pub report_prefix: &'a str,
    pub role_arn: &'a str,
    /// What makes this request unique: the CLI's start time, or the event's id.
    pub token_seed: &'a str,
}

pub fn request(i: &JobInputs<'_>) -> JobRequest {
    JobRequest {
        account: i.account.to_owned(),
        bucket: i.bucket.to_owned(),
        bucket_arn: bucket_arn(i.partition, i.bucket),
        prefix: i.prefix.filter(|p| !p.is_empty()).map(str::to_owned),
        filter: filter(i.target, i.other_keys),
        target: i.target.clone(),
        report_bucket_arn: bucket_arn(i.partition, i.report_bucket),
        report_prefix: i.report_prefix.to_owned(),
        role_arn: i.role_arn.to_owned(),
        priority: 10,
        description: format!("{DESCRIPTION_PREFIX} {}", i.bucket)
            .chars()
            .take(256)
            .collect(),
        client_token: client_token(&[
            i.account,
            i.bucket,
            i.prefix.unwrap_or(""),
            &i.target.key_arn,
            i.token_seed,
        ]),
    }
}

/// A job as `DescribeJob`/`ListJobs` tell it, and its report's counts once read.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct JobStatus {
    pub job_id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub succeeded: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failure_reasons: Vec<String>,
    /// `s3://bucket/prefix/job-ID/` once the job wrote its report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_counts: Option<ReportCounts>,
}

/// Whether a job has finished (its report, if any, is written).
pub fn is_terminal(status: &str) -> bool {
    matches!(status, "Complete" | "Failed" | "Cancelled")
}

/// The completion report's manifest (`<prefix>/job-<id>/manifest.json`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReportManifest {
    #[serde(default)]
    pub results: Vec<ReportFile>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReportFile {
    pub task_execution_status: String,
    pub bucket: String,
    pub key: String,
}

pub fn parse_report_manifest(text: &str) -> Result<ReportManifest, String> {
    serde_json::from_str(text).map_err(|e| format!("not a Batch Operations report manifest: {e}"))
}

/// Counts of a completion report's rows: succeeded, failed, and the failures by error code.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ReportCounts {
    pub succeeded: u64,
    pub failed: u64,
    pub by_error: BTreeMap<String, u64>,
}

/// Adds the rows of one report CSV (`Bucket, Key, VersionId, TaskStatus, ErrorCode,
/// HTTPStatusCode, ResultMessage`, no header) to `counts`.
pub fn count_report_csv(text: &str, counts: &mut ReportCounts) {
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields = super::inventory::split_csv(line);
        match fields.get(3).map(|s| s.to_ascii_lowercase()).as_deref() {
            Some("succeeded") => counts.succeeded += 1,
            Some(_) => {
                counts.failed += 1;
                let code = fields
                    .get(4)
                    .filter(|c| !c.is_empty())
                    .cloned()
                    .unwrap_or_else(|| "unknown".to_owned());
                *counts.by_error.entry(code).or_default() += 1;
            }
            None => {}
        }
    }
}

/// `jobs` as a table.
pub fn jobs_table(jobs: &[JobStatus]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<38} {:<10} {:>8} {:>9} {:>7}  DESCRIPTION",
        "JOB", "STATUS", "TOTAL", "SUCCEEDED", "FAILED"
    );
    let n = |v: Option<i64>| v.map_or("-".to_owned(), |v| v.to_string());
    for j in jobs {
        let _ = writeln!(
            out,
            "{:<38} {:<10} {:>8} {:>9} {:>7}  {}",
            j.job_id,
            j.status,
            n(j.total),
            n(j.succeeded),
            n(j.failed),
            j.description.as_deref().unwrap_or("")
        );
        if let Some(c) = &j.report_counts {
            let errors: Vec<String> = c.by_error.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(
                out,
                "    report {}: succeeded {}, failed {}{}",
                j.report.as_deref().unwrap_or("-"),
                c.succeeded,
                c.failed,
                if errors.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", errors.join(", "))
                }
            );
        }
        for r in &j.failure_reasons {
            let _ = writeln!(out, "    failure: {r}");
        }
    }
    out
}

//! S3 Control adapter: create the Batch Operations job that re-encrypts a bucket's
//! objects (`CreateJob`: a manifest generator filtered by encryption, the
//! `S3UpdateObjectEncryption` operation, a completion report), and read jobs back
//! (`DescribeJob`, `ListJobs`). Plain data in and out (`crate::objects::job`).

use super::AwsError;
use crate::objects::job::{self, Filter, JobRequest, JobStatus};
use aws_sdk_s3control::Client;
use aws_sdk_s3control::types::{
    JobManifestGenerator, JobManifestGeneratorFilter, JobOperation, JobReport, JobReportFormat,
    JobReportScope, KeyNameConstraint, ObjectEncryption, ObjectEncryptionFilter,
    S3JobManifestGenerator, S3UpdateObjectEncryptionOperation, S3UpdateObjectEncryptionSsekms,
    SsekmsFilter, Sses3Filter,
};

fn build_err(e: aws_sdk_s3control::error::BuildError) -> AwsError {
    AwsError::build("CreateJob", e)
}

/// Sends `CreateJob` (no confirmation: the job runs once S3 has built its manifest) and
/// returns the job id.
pub async fn create_job(client: &Client, r: &JobRequest) -> Result<String, AwsError> {
    let encryption: Vec<ObjectEncryptionFilter> = r
        .filter
        .iter()
        .map(|f| match f {
            Filter::SseS3 => ObjectEncryptionFilter::Sses3(Sses3Filter::builder().build()),
            Filter::SseKms { key_arn } => {
                ObjectEncryptionFilter::Ssekms(SsekmsFilter::builder().kms_key_arn(key_arn).build())
            }
        })
        .collect();
    let mut filter =
        JobManifestGeneratorFilter::builder().set_match_any_object_encryption(Some(encryption));
    if let Some(prefix) = &r.prefix {
        filter = filter.key_name_constraint(
            KeyNameConstraint::builder()
                .match_any_prefix(prefix)
                .build(),
        );
    }
    let generator = S3JobManifestGenerator::builder()
        .expected_bucket_owner(&r.account)
        .source_bucket(&r.bucket_arn)
        .enable_manifest_output(false)
        .filter(filter.build())
        .build()
        .map_err(build_err)?;
    let sse = S3UpdateObjectEncryptionSsekms::builder()
        .kms_key_arn(&r.target.key_arn)
        .bucket_key_enabled(r.target.bucket_key)
        .build()
        .map_err(build_err)?;
    let operation = JobOperation::builder()
        .s3_update_object_encryption(
            S3UpdateObjectEncryptionOperation::builder()
                .object_encryption(ObjectEncryption::builder().ssekms(sse).build())
                .build(),
        )
        .build();
    let report = JobReport::builder()
        .enabled(true)
        .bucket(&r.report_bucket_arn)
        .prefix(&r.report_prefix)
        .format(JobReportFormat::ReportCsv20180820)
        .report_scope(JobReportScope::AllTasks)
        .expected_bucket_owner(&r.account)
        .build();
    let out = client
        .create_job()
        .account_id(&r.account)
        .confirmation_required(false)
        .operation(operation)
        .report(report)
        .client_request_token(&r.client_token)
        .manifest_generator(JobManifestGenerator::S3JobManifestGenerator(generator))
        .description(&r.description)
        .priority(r.priority)
        .role_arn(&r.role_arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("CreateJob", e))?;
    out.job_id()
        .map(str::to_owned)
        .ok_or_else(|| AwsError::new("CreateJob", "the answer has no JobId"))
}

fn progress(
    p: Option<&aws_sdk_s3control::types::JobProgressSummary>,
) -> (Option<i64>, Option<i64>, Option<i64>) {
    p.map_or((None, None, None), |p| {
        (
            p.total_number_of_tasks(),
            p.number_of_tasks_succeeded(),
            p.number_of_tasks_failed(),
        )
    })
}

fn time(t: Option<&aws_sdk_s3control::primitives::DateTime>) -> Option<String> {
    t.and_then(|t| {
        t.fmt(aws_sdk_s3control::primitives::DateTimeFormat::DateTime)
            .ok()
    })
}

/// One job, with where its report is.
pub async fn describe_job(client: &Client, account: &str, id: &str) -> Result<JobStatus, AwsError> {
    let out = client
        .describe_job()
        .account_id(account)
        .job_id(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeJob", e))?;
    let j = out
        .job()
        .ok_or_else(|| AwsError::new("DescribeJob", "the answer has no Job"))?;
    let (total, succeeded, failed) = progress(j.progress_summary());
    let report = j.report().filter(|r| r.enabled()).map(|r| {
        let bucket = r.bucket().unwrap_or_default();
        let bucket = bucket.rsplit(":::").next().unwrap_or(bucket);
        match r.prefix().filter(|p| !p.is_empty()) {
            Some(p) => format!("s3://{bucket}/{}/job-{id}/", p.trim_end_matches('/')),
            None => format!("s3://{bucket}/job-{id}/"),
        }
    });
    Ok(JobStatus {
        job_id: j.job_id().unwrap_or(id).to_owned(),
        status: j
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        description: j.description().map(str::to_owned),
        operation: j
            .operation()
            .and_then(|o| o.s3_update_object_encryption())
            .map(|_| "S3UpdateObjectEncryption".to_owned()),
        created: time(j.creation_time()),
        total,
        succeeded,
        failed,
        failure_reasons: j
            .failure_reasons()
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f.failure_code().unwrap_or("-"),
                    f.failure_reason().unwrap_or("-")
                )
            })
            .collect(),
        report,
        report_counts: None,
    })
}

/// The jobs this tool created (their description starts with `job::DESCRIPTION_PREFIX`).
pub async fn list_jobs(client: &Client, account: &str) -> Result<Vec<JobStatus>, AwsError> {
    let mut out = Vec::new();
    let mut token = None::<String>;
    loop {
        let page = client
            .list_jobs()
            .account_id(account)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListJobs", e))?;
        for j in page.jobs() {
            if !j
                .description()
                .is_some_and(|d| d.starts_with(job::DESCRIPTION_PREFIX))
            {
                continue;
            }
            let (total, succeeded, failed) = progress(j.progress_summary());
            out.push(JobStatus {
                job_id: j.job_id().unwrap_or_default().to_owned(),
                status: j
                    .status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                description: j.description().map(str::to_owned),
                operation: j.operation().map(|o| o.as_str().to_owned()),
                created: time(j.creation_time()),
                total,
                succeeded,
                failed,
                ..JobStatus::default()
            });
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// The account-level Block Public Access configuration (`GetPublicAccessBlock` on S3
/// Control, `s3:GetAccountPublicAccessBlock`); `None` when the account has none. Read only:
/// the guard never writes account-level Block Public Access.
pub async fn account_public_access_block(
    client: &Client,
    account: &str,
) -> Result<Option<crate::controls::public_access_block::PublicAccessBlock>, AwsError> {
    use aws_sdk_s3control::error::ProvideErrorMetadata;
    match client
        .get_public_access_block()
        .account_id(account)
        .send()
        .await
    {
        Ok(out) => Ok(out.public_access_block_configuration().map(|c| {
            crate::controls::public_access_block::PublicAccessBlock {
                block_public_acls: c.block_public_acls().unwrap_or(false),
                ignore_public_acls: c.ignore_public_acls().unwrap_or(false),
                block_public_policy: c.block_public_policy().unwrap_or(false),
                restrict_public_buckets: c.restrict_public_buckets().unwrap_or(false),
            }
        })),
        Err(e) if e.code() == Some("NoSuchPublicAccessBlockConfiguration") => Ok(None),
        Err(e) => Err(AwsError::from_sdk("GetAccountPublicAccessBlock", e)),
    }
}

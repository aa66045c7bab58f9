//! Security Hub adapter: is the hub enabled, read our stored findings, import findings.
//!
//! One call per function; the sink paces and batches them. `BatchUpdateFindings` is
//! never called: it belongs to the customer (workflow, notes, suppression).
//! Throttling (`TooManyRequestsException`) is retried by the SDK's standard retry
//! strategy, which the client in `Clients::securityhub` configures with more attempts.

use super::AwsError;
use crate::sink::securityhub::asff;
use aws_sdk_securityhub::types::{
    AwsKmsKeyDetails, AwsS3AccountPublicAccessBlockDetails, AwsS3BucketDetails,
    AwsS3BucketServerSideEncryptionByDefault, AwsS3BucketServerSideEncryptionConfiguration,
    AwsS3BucketServerSideEncryptionRule, AwsSecurityFinding, AwsSecurityFindingFilters, Compliance,
    ComplianceStatus, FindingProviderFields, FindingProviderSeverity, Partition, Recommendation,
    RecordState, Remediation, Resource, ResourceDetails, Severity, SeverityLabel, StringFilter,
    StringFilterComparison,
};
use aws_smithy_types::date_time::{DateTime, Format};
use std::collections::{BTreeMap, HashMap};

/// Security Hub's answer in an account/Region where it is not enabled.
pub const NOT_ENABLED_CODE: &str = "InvalidAccessException";
/// `GetFindings` accepts at most 20 values per filter attribute.
pub const MAX_FILTER_VALUES: usize = 20;
/// `BatchImportFindings` accepts at most 100 findings per call.
pub const MAX_BATCH: usize = 100;

pub fn is_not_enabled(e: &AwsError) -> bool {
    e.code.as_deref() == Some(NOT_ENABLED_CODE)
}

/// `DescribeHub`: `Ok(None)` when the hub is enabled, `Ok(Some(reason))` when it is not.
pub async fn not_enabled(client: &aws_sdk_securityhub::Client) -> Result<Option<String>, AwsError> {
    match client.describe_hub().send().await {
        Ok(_) => Ok(None),
        Err(e) => {
            let e = AwsError::from_sdk("DescribeHub", e);
            if is_not_enabled(&e) {
                Ok(Some(e.message))
            } else {
                Err(e)
            }
        }
    }
}

/// A finding as Security Hub stores it: what the sink needs to know, and the whole
/// record, to re-import it archived.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: String,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub first_observed_at: Option<String>,
    pub record_state: Option<String>,
    /// `Workflow.Status`: `NEW`, `NOTIFIED`, `RESOLVED` or `SUPPRESSED` (a risk accepted).
    pub workflow_status: Option<String>,
    pub product_fields: BTreeMap<String, String>,
    raw: AwsSecurityFinding,
}

impl Stored {
    fn from_sdk(f: AwsSecurityFinding) -> Self {
        Self {
            id: f.id().unwrap_or_default().to_owned(),
            created_at: f.created_at().map(str::to_owned),
            updated_at: f.updated_at().map(str::to_owned),
            first_observed_at: f.first_observed_at().map(str::to_owned),
            record_state: f.record_state().map(|s| s.as_str().to_owned()),
            workflow_status: f
                .workflow()
                .and_then(|w| w.status())
                .map(|s| s.as_str().to_owned()),
            product_fields: f
                .product_fields()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            raw: f,
        }
    }

    pub fn is_active(&self) -> bool {
        self.record_state.as_deref() != Some("ARCHIVED")
    }
}

/// Which stored findings to read.
#[derive(Debug, Clone)]
pub enum Query {
    /// These ids (at most [`MAX_FILTER_VALUES`]).
    Ids(Vec<String>),
    /// Every ACTIVE finding whose id starts with this prefix (ours, in one account/Region).
    ActiveWithPrefix(String),
}

impl Query {
    fn filters(&self) -> AwsSecurityFindingFilters {
        let filter = |value: &str, comparison| {
            StringFilter::builder()
                .value(value)
                .comparison(comparison)
                .build()
        };
        match self {
            Query::Ids(ids) => AwsSecurityFindingFilters::builder()
                .set_id(Some(
                    ids.iter()
                        .map(|id| filter(id, StringFilterComparison::Equals))
                        .collect(),
                ))
                .build(),
            Query::ActiveWithPrefix(prefix) => AwsSecurityFindingFilters::builder()
                .id(filter(prefix, StringFilterComparison::Prefix))
                .record_state(filter("ACTIVE", StringFilterComparison::Equals))
                .build(),
        }
    }

    /// Checked again on the answer: an emulator (moto) ignores filters, and a
    /// finding aggregation Region returns other Regions' findings too.
    fn matches(&self, f: &Stored) -> bool {
        match self {
            Query::Ids(ids) => ids.contains(&f.id),
            Query::ActiveWithPrefix(prefix) => f.id.starts_with(prefix.as_str()) && f.is_active(),
        }
    }
}

/// One page of `GetFindings`: the matching findings and the next page's token.
pub async fn get_page(
    client: &aws_sdk_securityhub::Client,
    query: &Query,
    next_token: Option<String>,
) -> Result<(Vec<Stored>, Option<String>), AwsError> {
    let out = client
        .get_findings()
        .filters(query.filters())
        .max_results(100)
        .set_next_token(next_token)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetFindings", e))?;
    let next = out
        .next_token()
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let found = out
        .findings
        .unwrap_or_default()
        .into_iter()
        .map(Stored::from_sdk)
        .filter(|f| query.matches(f))
        .collect();
    Ok((found, next))
}

/// What `BatchImportFindings` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub success: usize,
    /// `(id, error code, message)` of each finding it rejected.
    pub rejected: Vec<(String, String, String)>,
}

/// One finding to send: built by us, or a stored one re-imported archived.
#[derive(Debug, Clone)]
pub struct Outgoing(AwsSecurityFinding);

impl Outgoing {
    pub fn id(&self) -> &str {
        self.0.id().unwrap_or_default()
    }
}

/// At most [`MAX_BATCH`] findings in one `BatchImportFindings` call.
pub async fn import(
    client: &aws_sdk_securityhub::Client,
    findings: Vec<Outgoing>,
) -> Result<Imported, AwsError> {
    let out = client
        .batch_import_findings()
        .set_findings(Some(findings.into_iter().map(|o| o.0).collect()))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("BatchImportFindings", e))?;
    let rejected: Vec<(String, String, String)> = out
        .failed_findings()
        .iter()
        .map(|f| {
            (
                f.id().unwrap_or_default().to_owned(),
                f.error_code().unwrap_or_default().to_owned(),
                f.error_message().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    // Trust the list over the count, but never report fewer failures than the count says.
    let failed = rejected
        .len()
        .max(out.failed_count().unwrap_or(0).max(0) as usize);
    let mut rejected = rejected;
    while rejected.len() < failed {
        rejected.push((
            String::new(),
            "Unknown".to_owned(),
            "counted in FailedCount without an entry in FailedFindings".to_owned(),
        ));
    }
    Ok(Imported {
        success: out.success_count().unwrap_or(0).max(0) as usize,
        rejected,
    })
}

/// A stored finding re-imported with `RecordState` `ARCHIVED` (its resource is gone).
pub fn archived(stored: &Stored, updated_at: &str) -> Outgoing {
    let mut f = stored.raw.clone();
    f.record_state = Some(RecordState::Archived);
    f.updated_at = Some(updated_at.to_owned());
    Outgoing(f)
}

/// RFC 3339 with milliseconds, as Security Hub writes its own timestamps.
pub fn timestamp(epoch_millis: i64) -> String {
    DateTime::from_millis(epoch_millis)
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

/// Milliseconds since the epoch of an ASFF timestamp, `None` when it is not RFC 3339.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    DateTime::from_str(text, Format::DateTime)
        .ok()
        .and_then(|t| t.to_millis().ok())
}

/// Our finding in the SDK's types.
pub fn outgoing(f: &asff::Finding) -> Outgoing {
    let severity = Severity::builder()
        .label(SeverityLabel::from(f.severity.label))
        .original(&f.severity.original)
        .build();
    let provider = FindingProviderFields::builder()
        .severity(
            FindingProviderSeverity::builder()
                .label(SeverityLabel::from(
                    f.finding_provider_fields.severity.label,
                ))
                .original(&f.finding_provider_fields.severity.original)
                .build(),
        )
        .set_types(Some(f.finding_provider_fields.types.clone()))
        .build();
    let finding = AwsSecurityFinding::builder()
        .schema_version(f.schema_version)
        .id(&f.id)
        .product_arn(&f.product_arn)
        .generator_id(&f.generator_id)
        .aws_account_id(&f.aws_account_id)
        .set_types(Some(f.types.clone()))
        .first_observed_at(&f.first_observed_at)
        .last_observed_at(&f.last_observed_at)
        .created_at(&f.created_at)
        .updated_at(&f.updated_at)
        .severity(severity)
        .title(&f.title)
        .description(&f.description)
        .remediation(
            Remediation::builder()
                .recommendation(
                    Recommendation::builder()
                        .text(&f.remediation.recommendation.text)
                        .url(&f.remediation.recommendation.url)
                        .build(),
                )
                .build(),
        )
        .set_product_fields(Some(
            f.product_fields
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>(),
        ))
        .set_resources(Some(f.resources.iter().map(resource).collect()))
        .compliance(
            Compliance::builder()
                .status(ComplianceStatus::from(f.compliance.status))
                .set_related_requirements(
                    (!f.compliance.related_requirements.is_empty())
                        .then(|| f.compliance.related_requirements.clone()),
                )
                .build(),
        )
        .record_state(RecordState::from(f.record_state))
        .finding_provider_fields(provider)
        .build();
    Outgoing(finding)
}

fn resource(r: &asff::AsffResource) -> Resource {
    let mut details = ResourceDetails::builder();
    if let Some(s3) = &r.details.aws_s3_bucket {
        let mut b = AwsS3BucketDetails::builder();
        if let Some(sse) = &s3.server_side_encryption_configuration {
            b = b.server_side_encryption_configuration(
                AwsS3BucketServerSideEncryptionConfiguration::builder()
                    .set_rules(Some(
                        sse.rules
                            .iter()
                            .map(|rule| {
                                let d = &rule.apply_server_side_encryption_by_default;
                                AwsS3BucketServerSideEncryptionRule::builder()
                                    .apply_server_side_encryption_by_default(
                                        AwsS3BucketServerSideEncryptionByDefault::builder()
                                            .sse_algorithm(&d.sse_algorithm)
                                            .set_kms_master_key_id(d.kms_master_key_id.clone())
                                            .build(),
                                    )
                                    .build()
                            })
                            .collect(),
                    ))
                    .build(),
            );
        }
        if let Some(p) = &s3.public_access_block_configuration {
            b = b.public_access_block_configuration(
                AwsS3AccountPublicAccessBlockDetails::builder()
                    .block_public_acls(p.block_public_acls)
                    .block_public_policy(p.block_public_policy)
                    .ignore_public_acls(p.ignore_public_acls)
                    .restrict_public_buckets(p.restrict_public_buckets)
                    .build(),
            );
        }
        details = details.aws_s3_bucket(b.build());
    }
    if let Some(k) = &r.details.aws_kms_key {
        details = details.aws_kms_key(
            AwsKmsKeyDetails::builder()
                .set_key_id(k.key_id.clone())
                .set_key_state(k.key_state.clone())
                .set_key_manager(k.key_manager.clone())
                .set_key_rotation_status(k.key_rotation_status)
                .build(),
        );
    }
    if let Some(other) = &r.details.other {
        details = details.set_other(Some(
            other.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        ));
    }
    let has_details = r.details.aws_s3_bucket.is_some()
        || r.details.aws_kms_key.is_some()
        || r.details.other.is_some();
    Resource::builder()
        .r#type(r.kind)
        .id(&r.id)
        .partition(Partition::from(r.partition))
        .region(&r.region)
        .set_details(has_details.then(|| details.build()))
        .build()
}

/// The controls whose finding on this resource a person suppressed (`Workflow.Status`
/// `SUPPRESSED`, still ACTIVE): an exception the guard honours. `ids`: control → finding id.
pub async fn suppressed(
    client: &aws_sdk_securityhub::Client,
    ids: &[(&'static str, String)],
) -> Result<Vec<&'static str>, AwsError> {
    let query = Query::Ids(ids.iter().map(|(_, id)| id.clone()).collect());
    let (found, _) = get_page(client, &query, None).await?;
    Ok(ids
        .iter()
        .filter(|(_, id)| {
            found.iter().any(|f| {
                f.id == *id && f.is_active() && f.workflow_status.as_deref() == Some("SUPPRESSED")
            })
        })
        .map(|(control, _)| *control)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let t = timestamp(1_767_225_600_123);
        assert_eq!(t, "2026-01-01T00:00:00.123Z");
        assert_eq!(parse_timestamp(&t), Some(1_767_225_600_123));
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}

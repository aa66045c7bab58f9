//! The ASFF finding for one (account, Region, resource, control): pure, from the report.
//!
//! Identity is deterministic, so a rerun updates the finding it made before instead of
//! adding one: `Id` = `rekognition-guard/<region>/<account>/<control>/<sha256 of the
//! resource ARN>`, `GeneratorId` = `rekognition-guard/<control>`. Timestamps are inputs:
//! the sink keeps `CreatedAt` and `FirstObservedAt` from what Security Hub has stored.
//! The related Security Hub CSPM controls are cited in `Compliance.RelatedRequirements`;
//! `Compliance.SecurityControlId` is never set and the generator never starts with
//! `security-control/`, so Security Hub and Automated Security Response do not take the
//! finding for one of their own controls.

use crate::event::{TriggerInfo, partition};
use crate::report::{ControlResult, Report, Resource, ResourceType, Severity, Status};
use crate::standards;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const SCHEMA_VERSION: &str = "2018-10-08";
pub const PRODUCT: &str = "rekognition-guard";
pub const MAX_TITLE: usize = 256;
pub const MAX_DESCRIPTION: usize = 1024;
pub const MAX_RECOMMENDATION: usize = 512;
/// Security Hub's limit on a `ProductFields` value.
pub const MAX_PRODUCT_FIELD: usize = 2048;
/// Product field keys (`rekognition-guard/…`).
pub const FIELD_STATUS: &str = "rekognition-guard/Status";
pub const FIELD_RESOURCE_TYPE: &str = "rekognition-guard/ResourceType";
pub const FIELD_ROLE: &str = "rekognition-guard/Role";
pub const FIELD_RESOURCE: &str = "rekognition-guard/Resource";
/// The role of a resource the report says is gone (a `DeleteBucket` event).
pub const ROLE_DELETED: &str = crate::event::DELETED_ROLE;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Finding {
    pub schema_version: &'static str,
    pub id: String,
    pub product_arn: String,
    pub generator_id: String,
    pub aws_account_id: String,
    pub types: Vec<String>,
    pub first_observed_at: String,
    pub last_observed_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub severity: SeverityField,
    pub title: String,
    pub description: String,
    pub remediation: Remediation,
    pub product_fields: BTreeMap<String, String>,
    /// Exactly one.
    pub resources: Vec<AsffResource>,
    pub compliance: Compliance,
    pub record_state: &'static str,
    pub finding_provider_fields: ProviderFields,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SeverityField {
    pub label: &'static str,
    pub original: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Remediation {
    pub recommendation: Recommendation,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Recommendation {
    pub text: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Compliance {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_requirements: Vec<String>,
}

/// What the provider (not the customer) says: Security Hub keeps it apart from
/// `BatchUpdateFindings` changes the customer makes to the top-level fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProviderFields {
    pub severity: SeverityField,
    pub types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AsffResource {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub id: String,
    pub partition: &'static str,
    pub region: String,
    #[serde(skip_serializing_if = "Details::is_empty")]
    pub details: Details,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_s3_bucket: Option<S3Details>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_kms_key: Option<KmsDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<BTreeMap<String, String>>,
}

impl Details {
    fn is_empty(&self) -> bool {
        self.aws_s3_bucket.is_none() && self.aws_kms_key.is_none() && self.other.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3Details {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_side_encryption_configuration: Option<SseConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_access_block_configuration: Option<PublicAccessBlock>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SseConfiguration {
    pub rules: Vec<SseRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SseRule {
    pub apply_server_side_encryption_by_default: SseDefault,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SseDefault {
    #[serde(rename = "SSEAlgorithm")]
    pub sse_algorithm: String,
    #[serde(rename = "KMSMasterKeyID", skip_serializing_if = "Option::is_none")]
    pub kms_master_key_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub block_public_policy: bool,
    pub ignore_public_acls: bool,
    pub restrict_public_buckets: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KmsDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_manager: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_rotation_status: Option<bool>,
}

/// One result a finding is made for, and where it goes.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub resource: &'a Resource,
    pub control: &'a ControlResult,
    pub region: &'a str,
}

/// When the finding was first made and is made now (RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Times {
    pub created_at: String,
    pub first_observed_at: String,
    pub updated_at: String,
}

/// `arn:<partition>:securityhub:<region>:<account>:product/<account>/default`.
pub fn product_arn(region: &str, account: &str) -> String {
    format!(
        "arn:{}:securityhub:{region}:{account}:product/{account}/default",
        partition(region)
    )
}

/// The prefix every id of ours in this account and Region starts with.
pub fn id_prefix(region: &str, account: &str) -> String {
    format!("{PRODUCT}/{region}/{account}/")
}

pub fn finding_id(region: &str, account: &str, control: &str, resource_arn: &str) -> String {
    let hash = Sha256::digest(resource_arn.as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}{control}/{hex}", id_prefix(region, account))
}

/// The results that get a finding, with their Region: every evaluated control of every
/// resource, except `skipped` ones (nothing was evaluated) and pseudo-controls (`scan`).
pub fn subjects<'a>(report: &'a Report, home: &'a str) -> Vec<Subject<'a>> {
    let default_region = report.trigger.region.as_deref().unwrap_or(home);
    report
        .resources
        .iter()
        .filter(|r| r.role.as_deref() != Some(ROLE_DELETED))
        .flat_map(|r| {
            let region = r.region.as_deref().unwrap_or(default_region);
            r.controls
                .iter()
                .filter(|c| c.status != Status::Skipped && standards::info(&c.control).is_some())
                .map(move |c| Subject {
                    resource: r,
                    control: c,
                    region,
                })
        })
        .collect()
}

/// The ARN (or Security Hub's id form) of a resource of the report.
pub fn resource_arn(resource: &Resource, region: &str, account: &str) -> String {
    let p = partition(region);
    match resource.kind {
        ResourceType::S3Bucket => format!("arn:{p}:s3:::{}", resource.id),
        ResourceType::KmsKey if resource.id.starts_with("arn:") => resource.id.clone(),
        ResourceType::KmsKey => format!("arn:{p}:kms:{region}:{account}:key/{}", resource.id),
        ResourceType::Organization | ResourceType::Account => {
            format!("AWS::::Account:{}", resource.id)
        }
        // Datasets have ARNs; jobs and sessions have none, so their id is not dressed as one.
        ResourceType::RekognitionDataset if resource.id.starts_with("arn:") => resource.id.clone(),
        ResourceType::RekognitionDataset => {
            format!("rekognition:{region}:{account}:dataset/{}", resource.id)
        }
        ResourceType::RekognitionMediaAnalysisJob => {
            format!(
                "rekognition:{region}:{account}:media-analysis-job/{}",
                resource.id
            )
        }
        ResourceType::RekognitionFaceLivenessSession => {
            format!(
                "rekognition:{region}:{account}:face-liveness-session/{}",
                resource.id
            )
        }
        ResourceType::RekognitionProjectVersion if resource.id.starts_with("arn:") => {
            resource.id.clone()
        }
        ResourceType::RekognitionProjectVersion => format!(
            "arn:{p}:rekognition:{region}:{account}:project/{}",
            resource.id
        ),
        ResourceType::RekognitionStreamProcessor if resource.id.starts_with("arn:") => {
            resource.id.clone()
        }
        ResourceType::RekognitionStreamProcessor => format!(
            "arn:{p}:rekognition:{region}:{account}:streamprocessor/{}",
            resource.id
        ),
    }
}

/// The ids the bucket controls of a bucket have (for archiving a deleted bucket).
pub fn bucket_finding_ids(bucket: &str, region: &str, account: &str) -> Vec<String> {
    let arn = format!("arn:{}:s3:::{bucket}", partition(region));
    ["sse-kms", "public-access-block", "tls-only"]
        .iter()
        .map(|c| finding_id(region, account, c, &arn))
        .collect()
}

/// `PASSED` when the control holds (remediated included: it was fixed in this
/// invocation), `FAILED` when it does not (exempt and audit-mode results included),
/// `WARNING` when it holds with advice (rotation off), `NOT_AVAILABLE` when it could
/// not be evaluated.
pub fn compliance_status(control: &ControlResult) -> &'static str {
    match control.status {
        Status::Compliant if control.severity.is_some() => "WARNING",
        Status::Compliant | Status::Remediated => "PASSED",
        Status::WouldRemediate | Status::NonCompliant | Status::Exempt => "FAILED",
        Status::Failed | Status::Skipped => "NOT_AVAILABLE",
    }
}

/// From the one severity mapping (`alert::classify`, already applied to the report).
pub fn severity_label(severity: Option<Severity>) -> &'static str {
    match severity {
        None => "INFORMATIONAL",
        Some(Severity::Low) => "LOW",
        Some(Severity::Medium) => "MEDIUM",
        Some(Severity::High) => "HIGH",
    }
}

/// Cuts `text` to at most `max` characters on a character boundary, saying so.
pub fn truncate(text: &str, max: usize) -> String {
    const MARK: &str = " [truncated]";
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let keep = max.saturating_sub(MARK.chars().count());
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(MARK);
    out
}

fn brief(v: Option<&Value>) -> String {
    match v {
        None => "not read".to_owned(),
        Some(Value::Null) => "none".to_owned(),
        Some(v) => v.to_string(),
    }
}

/// The finding for one subject.
pub fn build(
    subject: &Subject<'_>,
    trigger: &TriggerInfo,
    account: &str,
    times: &Times,
) -> Finding {
    let Subject {
        resource,
        control,
        region,
    } = *subject;
    let info = standards::info(&control.control);
    let arn = resource_arn(resource, region, account);
    let title_text = info.map_or(control.control.as_str(), |i| i.title);
    let title = truncate(
        &format!("{title_text}: {} {}", resource.kind.as_str(), resource.id),
        MAX_TITLE,
    );
    let mut description = format!("{}: {}", control.status.as_str(), control.detail);
    match (&control.before, &control.after) {
        (before, Some(after)) => description.push_str(&format!(
            " (before: {}; after: {})",
            brief(before.as_ref()),
            brief(Some(after))
        )),
        (Some(found), None) => description.push_str(&format!(" (found: {})", brief(Some(found)))),
        (None, None) => {}
    }
    let severity = SeverityField {
        label: severity_label(control.severity),
        original: control
            .severity
            .map_or("informational", Severity::as_str)
            .to_owned(),
    };
    let types: Vec<String> = info.map_or_else(
        || vec!["Software and Configuration Checks/AWS Security Best Practices".to_owned()],
        |i| i.types.iter().map(|t| (*t).to_owned()).collect(),
    );
    let mut fields = BTreeMap::new();
    let mut field = |k: &str, v: String| {
        fields.insert(format!("{PRODUCT}/{k}"), truncate(&v, MAX_PRODUCT_FIELD));
    };
    field("Control", control.control.clone());
    field("Status", control.status.as_str().to_owned());
    field("ResourceType", resource.kind.as_str().to_owned());
    field("Resource", resource.id.clone());
    if let Some(role) = &resource.role {
        field("Role", role.clone());
    }
    if let Some(before) = &control.before {
        field("Before", before.to_string());
    }
    if let Some(after) = &control.after {
        field("After", after.to_string());
    }
    field("Trigger", trigger.kind.as_str().to_owned());
    if let Some(name) = &trigger.event_name {
        field("EventName", name.clone());
    }
    if let Some(id) = &trigger.event_id {
        field("EventId", id.clone());
    }
    Finding {
        schema_version: SCHEMA_VERSION,
        id: finding_id(region, account, &control.control, &arn),
        product_arn: product_arn(region, account),
        generator_id: format!("{PRODUCT}/{}", control.control),
        aws_account_id: account.to_owned(),
        types: types.clone(),
        first_observed_at: times.first_observed_at.clone(),
        last_observed_at: times.updated_at.clone(),
        created_at: times.created_at.clone(),
        updated_at: times.updated_at.clone(),
        severity: severity.clone(),
        title,
        description: truncate(&description, MAX_DESCRIPTION),
        remediation: Remediation {
            recommendation: Recommendation {
                text: truncate(
                    info.map_or("See the rekognition-guard README.", |i| i.remediation),
                    MAX_RECOMMENDATION,
                ),
                url: info
                    .map_or("https://docs.aws.amazon.com/securityhub/", |i| i.url)
                    .to_owned(),
            },
        },
        product_fields: fields,
        resources: vec![asff_resource(resource, region, &arn)],
        compliance: Compliance {
            status: compliance_status(control),
            related_requirements: info
                .map(|i| i.requirements.iter().map(|r| (*r).to_owned()).collect())
                .unwrap_or_default(),
        },
        record_state: "ACTIVE",
        finding_provider_fields: ProviderFields { severity, types },
    }
}

fn asff_resource(resource: &Resource, region: &str, arn: &str) -> AsffResource {
    let (kind, details) = match resource.kind {
        ResourceType::S3Bucket => (
            "AwsS3Bucket",
            Details {
                aws_s3_bucket: Some(s3_details(resource)),
                ..Details::default()
            },
        ),
        ResourceType::KmsKey => (
            "AwsKmsKey",
            Details {
                aws_kms_key: kms_details(resource),
                ..Details::default()
            },
        ),
        ResourceType::Organization | ResourceType::Account => ("AwsAccount", Details::default()),
        ResourceType::RekognitionProjectVersion
        | ResourceType::RekognitionStreamProcessor
        | ResourceType::RekognitionDataset
        | ResourceType::RekognitionMediaAnalysisJob
        | ResourceType::RekognitionFaceLivenessSession => (
            "Other",
            Details {
                other: Some(BTreeMap::from([(
                    "Kind".to_owned(),
                    resource.kind.as_str().to_owned(),
                )])),
                ..Details::default()
            },
        ),
    };
    AsffResource {
        kind,
        id: arn.to_owned(),
        partition: partition(region),
        region: region.to_owned(),
        details,
    }
}

/// The state a control last read: after a fix, what was verified; otherwise what was found.
fn state<'a>(resource: &'a Resource, control: &str) -> Option<&'a Value> {
    let c = resource.controls.iter().find(|c| c.control == control)?;
    c.after
        .as_ref()
        .or(c.before.as_ref())
        .filter(|v| !v.is_null())
}

fn s3_details(resource: &Resource) -> S3Details {
    let sse = state(resource, "sse-kms").and_then(|v| {
        Some(SseConfiguration {
            rules: vec![SseRule {
                apply_server_side_encryption_by_default: SseDefault {
                    sse_algorithm: v.get("SSEAlgorithm")?.as_str()?.to_owned(),
                    kms_master_key_id: v
                        .get("KMSMasterKeyID")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                },
            }],
        })
    });
    let pab = state(resource, "public-access-block").and_then(|v| {
        let flag = |k: &str| v.get(k).and_then(Value::as_bool);
        Some(PublicAccessBlock {
            block_public_acls: flag("BlockPublicAcls")?,
            block_public_policy: flag("BlockPublicPolicy")?,
            ignore_public_acls: flag("IgnorePublicAcls")?,
            restrict_public_buckets: flag("RestrictPublicBuckets")?,
        })
    });
    S3Details {
        server_side_encryption_configuration: sse,
        public_access_block_configuration: pab,
    }
}

fn kms_details(resource: &Resource) -> Option<KmsDetails> {
    let v = state(resource, "kms-key-spec")?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let details = KmsDetails {
        key_id: s("arn"),
        key_state: s("key_state"),
        key_manager: s("key_manager"),
        key_rotation_status: v.get("rotation_enabled").and_then(Value::as_bool),
    };
    (details != KmsDetails::default()).then_some(details)
}

/// A sweep that covered every guarded bucket (not `scan --bucket`), finished, and
/// listed every prefix: a bucket it did not find is gone.
pub fn is_full_sweep(report: &Report) -> bool {
    use crate::event::TriggerKind;
    matches!(
        report.trigger.kind,
        TriggerKind::ScheduledScan | TriggerKind::ManualScan
    ) && report.trigger.event_name.as_deref() != Some(crate::sink::SCAN_SELECTED)
        && report.unfinished.is_empty()
        && !report
            .results()
            .any(|(_, c)| c.control == "scan" && c.status == Status::Failed)
}

/// Roles of buckets a sweep finds by listing prefixes: only their findings may be
/// archived because a sweep did not see the bucket (training data, stream outputs and
/// output buckets are not all listed by a sweep).
pub const SWEPT_ROLES: &[&str] = &["console", "guarded-prefix"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::TriggerKind;
    use serde_json::json;

    fn trigger() -> TriggerInfo {
        TriggerInfo {
            kind: TriggerKind::BucketCreated,
            event_id: Some("ev-1".into()),
            event_name: Some("CreateBucket".into()),
            account: Some("123456789012".into()),
            region: Some("us-east-1".into()),
            ignored_reason: None,
            change: None,
            principal: None,
            reference: None,
        }
    }

    fn times() -> Times {
        Times {
            created_at: "2026-01-01T00:00:00.000Z".into(),
            first_observed_at: "2026-01-01T00:00:00.000Z".into(),
            updated_at: "2026-01-02T00:00:00.000Z".into(),
        }
    }

    fn bucket(controls: Vec<ControlResult>) -> Resource {
        Resource {
            kind: ResourceType::S3Bucket,
            id: "custom-labels-console-us-east-1-abc".into(),
            name: None,
            role: Some("console".into()),
            region: Some("eu-west-1".into()),
            account: None,
            controls,
        }
    }

    fn one(resource: &Resource, i: usize) -> Finding {
        let s = Subject {
            resource,
            control: &resource.controls[i],
            region: resource.region.as_deref().unwrap(),
        };
        build(&s, &trigger(), "123456789012", &times())
    }

    #[test]
    fn identity_is_deterministic_and_names_region_account_control() {
        let r = bucket(vec![ControlResult::new("sse-kms", Status::Remediated, "d")]);
        let (a, b) = (one(&r, 0), one(&r, 0));
        assert_eq!(a.id, b.id);
        assert!(
            a.id.starts_with("rekognition-guard/eu-west-1/123456789012/sse-kms/"),
            "{}",
            a.id
        );
        assert_eq!(a.id.rsplit('/').next().unwrap().len(), 64);
        assert_eq!(a.generator_id, "rekognition-guard/sse-kms");
        assert_eq!(
            a.product_arn,
            "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default"
        );
        let other = bucket(vec![ControlResult::new(
            "tls-only",
            Status::Remediated,
            "d",
        )]);
        assert_ne!(one(&other, 0).id, a.id);
        assert_eq!(
            bucket_finding_ids(&r.id, "eu-west-1", "123456789012")[0],
            a.id
        );
        assert_eq!(
            product_arn("cn-north-1", "123456789012"),
            "arn:aws-cn:securityhub:cn-north-1:123456789012:product/123456789012/default"
        );
    }

    #[test]
    fn compliance_status_table() {
        use Status::*;
        for (status, severity, want) in [
            (Compliant, None, "PASSED"),
            (Compliant, Some(Severity::Low), "WARNING"),
            (Remediated, Some(Severity::Medium), "PASSED"),
            (WouldRemediate, Some(Severity::Medium), "FAILED"),
            (NonCompliant, Some(Severity::High), "FAILED"),
            (Exempt, Some(Severity::Low), "FAILED"),
            (Failed, Some(Severity::High), "NOT_AVAILABLE"),
        ] {
            let mut c = ControlResult::new("sse-kms", status, "d");
            c.severity = severity;
            assert_eq!(compliance_status(&c), want, "{status:?}");
        }
    }

    #[test]
    fn severity_comes_from_the_report() {
        let mut c = ControlResult::new("public-access-block", Status::WouldRemediate, "d");
        c.severity = crate::alert::classify(&c);
        let f = one(&bucket(vec![c]), 0);
        assert_eq!(f.severity.label, "HIGH");
        assert_eq!(f.finding_provider_fields.severity.label, "HIGH");
        assert_eq!(severity_label(None), "INFORMATIONAL");
    }

    #[test]
    fn one_s3_resource_with_encryption_and_public_access_block_details() {
        let r = bucket(vec![
            ControlResult::new("sse-kms", Status::Remediated, "set SSE-KMS")
                .with_before(Value::Null)
                .with_after(json!({"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:eu-west-1:123456789012:key/k", "BucketKeyEnabled": true})),
            ControlResult::new("public-access-block", Status::Compliant, "all on").with_before(
                json!({"BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true}),
            ),
        ]);
        let f = one(&r, 0);
        assert_eq!(f.resources.len(), 1);
        let v = serde_json::to_value(&f).unwrap();
        let res = &v["Resources"][0];
        assert_eq!(res["Type"], "AwsS3Bucket");
        assert_eq!(
            res["Id"],
            "arn:aws:s3:::custom-labels-console-us-east-1-abc"
        );
        assert_eq!(res["Partition"], "aws");
        assert_eq!(res["Region"], "eu-west-1");
        let d = &res["Details"]["AwsS3Bucket"];
        assert_eq!(
            d["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
                ["SSEAlgorithm"],
            "aws:kms"
        );
        assert_eq!(
            d["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"],
            true
        );
        assert_eq!(v["Compliance"]["Status"], "PASSED");
        assert!(v["Compliance"].get("SecurityControlId").is_none());
        assert_eq!(
            v["Compliance"]["RelatedRequirements"][0],
            "AWS Foundational Security Best Practices v1.0.0/S3.17"
        );
        assert_eq!(v["ProductFields"]["rekognition-guard/Status"], "remediated");
        assert_eq!(v["ProductFields"]["rekognition-guard/Before"], "null");
        assert_eq!(v["ProductFields"]["rekognition-guard/EventId"], "ev-1");
        assert_eq!(
            v["ProductFields"]["rekognition-guard/Trigger"],
            "bucket-created"
        );
        assert_eq!(v["SchemaVersion"], "2018-10-08");
        assert_eq!(v["RecordState"], "ACTIVE");
        assert!(f.description.contains("before: none; after: {"));
    }

    #[test]
    fn resource_types_per_kind() {
        let cases = [
            (
                ResourceType::KmsKey,
                "arn:aws:kms:us-east-1:123456789012:key/k",
                "kms-key-spec",
                "AwsKmsKey",
            ),
            (
                ResourceType::Organization,
                "123456789012",
                "ai-opt-out",
                "AwsAccount",
            ),
            (
                ResourceType::RekognitionStreamProcessor,
                "sp",
                "data-sharing",
                "Other",
            ),
            (
                ResourceType::RekognitionProjectVersion,
                "arn:aws:rekognition:us-east-1:123456789012:project/p/1/version/v1",
                "customer-managed-key",
                "Other",
            ),
        ];
        for (kind, id, control, want) in cases {
            let r = Resource {
                kind,
                id: id.into(),
                name: None,
                role: None,
                region: None,
                account: None,
                controls: vec![ControlResult::new(control, Status::NonCompliant, "d")
                    .with_before(json!({"arn": id, "key_state": "Enabled", "key_manager": "CUSTOMER", "rotation_enabled": false}))],
            };
            let s = Subject {
                resource: &r,
                control: &r.controls[0],
                region: "us-east-1",
            };
            let f = build(&s, &trigger(), "123456789012", &times());
            assert_eq!(f.resources.len(), 1);
            assert_eq!(f.resources[0].kind, want, "{kind:?}");
            if kind == ResourceType::Organization {
                assert_eq!(f.resources[0].id, "AWS::::Account:123456789012");
            }
            if kind == ResourceType::KmsKey {
                let k = f.resources[0].details.aws_kms_key.as_ref().unwrap();
                assert_eq!(k.key_rotation_status, Some(false));
            }
        }
    }

    #[test]
    fn limits_are_kept_on_a_character_boundary_and_say_so() {
        let long = "é".repeat(3000);
        let r = Resource {
            id: "b".repeat(63),
            ..bucket(vec![ControlResult::new(
                "tls-only",
                Status::Failed,
                long.clone(),
            )])
        };
        let f = one(&r, 0);
        assert!(f.title.chars().count() <= MAX_TITLE);
        assert!(f.description.chars().count() <= MAX_DESCRIPTION);
        assert!(f.description.ends_with("[truncated]"));
        assert!(f.remediation.recommendation.text.chars().count() <= MAX_RECOMMENDATION);
        assert_eq!(truncate("short", 10), "short");
        let t = truncate(&long, 20);
        assert_eq!(t.chars().count(), 20);
        assert!(t.starts_with('é'));
    }

    #[test]
    fn skipped_results_and_pseudo_controls_get_no_finding() {
        let r = bucket(vec![
            ControlResult::new("sse-kms", Status::Skipped, "NoSuchBucket"),
            ControlResult::new("scan", Status::Failed, "cannot list"),
            ControlResult::new("tls-only", Status::Compliant, "ok"),
        ]);
        let report = Report {
            trigger: trigger(),
            mode: crate::config::Mode::Remediate,
            resources: vec![r],
            alert: Default::default(),
            security_hub: None,
            change_record: None,
            unfinished: vec![],
        };
        let s = subjects(&report, "us-east-1");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].control.control, "tls-only");
        assert_eq!(s[0].region, "eu-west-1");
    }
}

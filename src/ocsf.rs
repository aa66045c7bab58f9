//! The report as OCSF 1.5.0 Compliance Findings (class_uid 2003), one per control
//! result, for Security Lake and SIEMs (`--format ocsf`, `GUARD_REPORT_FORMAT=ocsf`).
//! Pure: the caller gives the time.
//!
//! `finding_info.uid` is the Security Hub finding's `Id`, so the two describe the same
//! finding; `compliance.standards` are the same related requirements
//! (`crate::standards`); the severity is the one the report has (`alert::classify`).

use crate::event::partition;
use crate::report::{ControlResult, Report, Resource, ResourceType, Severity, Status};
use crate::sink::securityhub::asff;
use crate::standards;
use serde_json::{Value, json};

pub const VERSION: &str = "1.5.0";
pub const CATEGORY_UID: u32 = 2;
pub const CLASS_UID: u32 = 2003;
const ACTIVITY_CREATE: u32 = 1;
/// Every control is first a control of the project's own baseline.
pub const BASELINE: &str = "rekognition-guard baseline";

/// OCSF `severity_id`: 1 Informational, 2 Low, 3 Medium, 4 High.
pub fn severity_id(severity: Option<Severity>) -> (u32, &'static str) {
    match severity {
        None => (1, "Informational"),
        Some(Severity::Low) => (2, "Low"),
        Some(Severity::Medium) => (3, "Medium"),
        Some(Severity::High) => (4, "High"),
    }
}

/// OCSF `compliance.status_id`: 1 Pass, 2 Warning, 3 Fail, 0 Unknown (not evaluated).
pub fn compliance_status_id(control: &ControlResult) -> (u32, &'static str) {
    match asff::compliance_status(control) {
        "PASSED" => (1, "Pass"),
        "WARNING" => (2, "Warning"),
        "FAILED" => (3, "Fail"),
        _ => (0, "Unknown"),
    }
}

fn resource_type(kind: ResourceType) -> &'static str {
    match kind {
        ResourceType::S3Bucket => "AWS::S3::Bucket",
        ResourceType::KmsKey => "AWS::KMS::Key",
        ResourceType::Organization => "AWS::::Account",
        ResourceType::RekognitionProjectVersion => "AWS::Rekognition::ProjectVersion",
        ResourceType::RekognitionStreamProcessor => "AWS::Rekognition::StreamProcessor",
        ResourceType::RekognitionDataset => "AWS::Rekognition::Dataset",
        ResourceType::RekognitionMediaAnalysisJob => "AWS::Rekognition::MediaAnalysisJob",
        ResourceType::RekognitionFaceLivenessSession => "AWS::Rekognition::FaceLivenessSession",
        ResourceType::Account => "AWS::::Account",
    }
}

/// The project's own baseline (DESIGN.md, "Controls"), then the published requirements.
fn standards(info: Option<&standards::ControlInfo>) -> Vec<&'static str> {
    std::iter::once(BASELINE)
        .chain(
            info.into_iter()
                .flat_map(|i| i.requirements.iter().copied()),
        )
        .collect()
}

/// Every evaluated result (skipped ones and pseudo-controls left out, as in Security Hub).
pub fn findings(report: &Report, home: &str, time_millis: i64) -> Vec<Value> {
    let account = report.trigger.account.as_deref().unwrap_or("unknown");
    asff::subjects(report, home)
        .into_iter()
        .map(|s| {
            finding(
                report,
                s.resource,
                s.control,
                s.region,
                account,
                time_millis,
            )
        })
        .collect()
}

fn finding(
    report: &Report,
    resource: &Resource,
    control: &ControlResult,
    region: &str,
    account: &str,
    time_millis: i64,
) -> Value {
    let info = standards::info(&control.control);
    let arn = asff::resource_arn(resource, region, account);
    let (severity_id, severity) = severity_id(control.severity);
    let (status_id, status) = compliance_status_id(control);
    let title = format!(
        "{}: {} {}",
        info.map_or(control.control.as_str(), |i| i.title),
        resource.kind.as_str(),
        resource.id
    );
    let t = &report.trigger;
    let mut event = json!({
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Compliance Finding: Create",
        "time": time_millis,
        "severity_id": severity_id,
        "severity": severity,
        "message": format!("{title}: {}", control.status.as_str()),
        "metadata": {
            "version": VERSION,
            "profiles": ["cloud"],
            "product": {
                "name": "rekognition-guard",
                "vendor_name": "rekognition-guard",
                "version": env!("CARGO_PKG_VERSION"),
            },
        },
        "finding_info": {
            "uid": asff::finding_id(region, account, &control.control, &arn),
            "title": title,
            "desc": control.detail,
            "types": info.map(|i| i.types.to_vec()).unwrap_or_default(),
        },
        "compliance": {
            "control": control.control,
            "standards": standards(info),
            "status_id": status_id,
            "status": status,
            "status_detail": control.detail,
        },
        "cloud": {
            "provider": "AWS",
            "region": region,
            "cloud_partition": partition(region),
            "account": {"uid": account, "type_id": 10, "type": "AWS Account"},
        },
        "resources": [{
            "uid": arn,
            "name": resource.id,
            "type": resource_type(resource.kind),
            "region": region,
            "cloud_partition": partition(region),
        }],
        "unmapped": {
            "rekognition_guard": {
                "status": control.status.as_str(),
                "role": resource.role,
                "before": control.before,
                "after": control.after,
                "trigger": t.kind.as_str(),
                "event_name": t.event_name,
                "event_id": t.event_id,
                "mode": report.mode.as_str(),
            }
        },
    });
    if let Some(i) = info {
        event["remediation"] = json!({"desc": i.remediation, "references": [i.url]});
    }
    if control.status == Status::Remediated {
        event["status_id"] = json!(4);
        event["status"] = json!("Resolved");
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::event::{TriggerInfo, TriggerKind};

    #[test]
    fn one_compliance_finding_per_evaluated_result() {
        let mut report = Report {
            trigger: TriggerInfo {
                kind: TriggerKind::BucketCreated,
                event_id: Some("e".into()),
                event_name: Some("CreateBucket".into()),
                account: Some("123456789012".into()),
                region: Some("us-east-1".into()),
                ignored_reason: None,
                change: None,
                principal: None,
                reference: None,
            },
            mode: Mode::Remediate,
            resources: vec![Resource {
                kind: ResourceType::S3Bucket,
                id: "b-1".into(),
                name: None,
                role: Some("console".into()),
                region: Some("us-east-1".into()),
                account: None,
                controls: vec![
                    ControlResult::new("sse-kms", Status::Remediated, "set"),
                    ControlResult::new("tls-only", Status::NonCompliant, "no"),
                    ControlResult::new("public-access-block", Status::Skipped, "gone"),
                ],
            }],
            alert: Default::default(),
            security_hub: None,
            change_record: None,
            unfinished: vec![],
        };
        crate::alert::classify_all(&mut report);
        let f = findings(&report, "us-east-1", 1_000);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0]["class_uid"], 2003);
        assert_eq!(f[0]["type_uid"], 200301);
        assert_eq!(f[0]["compliance"]["status_id"], 1);
        assert_eq!(f[1]["compliance"]["status_id"], 3);
        assert_eq!(f[0]["severity_id"], 3);
        assert_eq!(f[0]["cloud"]["account"]["uid"], "123456789012");
        assert_eq!(f[0]["resources"][0]["uid"], "arn:aws:s3:::b-1");
        assert_eq!(
            f[1]["compliance"]["standards"][1],
            "AWS Foundational Security Best Practices v1.0.0/S3.5"
        );
        assert!(
            f[0]["finding_info"]["uid"]
                .as_str()
                .unwrap()
                .starts_with("rekognition-guard/us-east-1/123456789012/sse-kms/")
        );
    }
}

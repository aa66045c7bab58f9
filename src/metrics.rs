//! CloudWatch Embedded Metric Format: one JSON log line per invocation with counts per
//! status and per control and the duration, so dashboards and alarms need no API calls.

use crate::report::{Report, Status};
use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "RekognitionGuard";

pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The EMF document for one report.
pub fn emf_line(report: &Report, duration_ms: u64, timestamp_ms: u64) -> String {
    let mut doc = Map::new();
    let mut metrics = vec![json!({"Name": "DurationMs", "Unit": "Milliseconds"})];
    doc.insert("DurationMs".into(), json!(duration_ms));
    for status in Status::ALL {
        let name = format!("Status.{}", status.as_str());
        let n = report.results().filter(|(_, c)| c.status == status).count();
        metrics.push(json!({"Name": name, "Unit": "Count"}));
        doc.insert(name, json!(n));
    }
    let mut controls: Vec<&str> = report.results().map(|(_, c)| c.control.as_str()).collect();
    controls.sort_unstable();
    controls.dedup();
    for control in controls {
        let name = format!("Control.{control}.NeedsAttention");
        let n = report
            .results()
            .filter(|(_, c)| c.control == control && c.status.needs_attention())
            .count();
        metrics.push(json!({"Name": name, "Unit": "Count"}));
        doc.insert(name, json!(n));
    }
    doc.insert("Trigger".into(), json!(report.trigger.kind.as_str()));
    doc.insert("Mode".into(), json!(report.mode.as_str()));
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Trigger"], []],
                "Metrics": metrics,
            }],
        }),
    );
    Value::Object(doc).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::event::{TriggerInfo, TriggerKind};
    use crate::report::{AlertOutcome, ControlResult, Resource, ResourceType};

    #[test]
    fn emf_shape() {
        let report = Report {
            trigger: TriggerInfo::manual(TriggerKind::ManualScan, None),
            mode: Mode::Remediate,
            resources: vec![Resource {
                kind: ResourceType::S3Bucket,
                id: "b".into(),
                name: None,
                role: None,
                region: None,
                account: None,
                controls: vec![
                    ControlResult::new("sse-kms", Status::Remediated, ""),
                    ControlResult::new("tls-only", Status::Compliant, ""),
                ],
            }],
            alert: AlertOutcome::default(),
            security_hub: None,
            change_record: None,
            unfinished: vec![],
        };
        let v: Value = serde_json::from_str(&emf_line(&report, 42, 1_700_000_000_000)).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(v["Status.remediated"], 1);
        assert_eq!(v["Status.compliant"], 1);
        assert_eq!(v["Control.sse-kms.NeedsAttention"], 1);
        assert_eq!(v["Control.tls-only.NeedsAttention"], 0);
        assert_eq!(v["DurationMs"], 42);
        assert_eq!(v["Trigger"], "manual-scan");
        let declared = v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap();
        assert!(
            declared
                .iter()
                .all(|m| v.get(m["Name"].as_str().unwrap()).is_some())
        );
    }
}

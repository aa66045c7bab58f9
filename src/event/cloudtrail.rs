//! CloudTrail records as users paste them into `invoke --event`: a bare record, or a
//! log file (`{"Records": [...]}`, as copied from the console or S3). Each record is
//! turned into the EventBridge event that would carry it, so it is handled exactly as
//! that event would be. Pure; the Lambda accepts only EventBridge (and SQS) events.

use super::{CLOUDTRAIL_DETAIL_TYPE, EventError};
use serde_json::{Map, Value, json};

/// What an `invoke` input holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Intake {
    /// An EventBridge event, or anything else: `parse` judges it.
    Event(Value),
    /// CloudTrail records, each as the EventBridge event that would carry it, and
    /// what the input was ("a bare CloudTrail record", "a CloudTrail log file with 3 records").
    Records { events: Vec<Value>, what: String },
}

/// Reads an `invoke` input: an EventBridge event stays as it is; CloudTrail records
/// become EventBridge events.
pub fn intake(raw: &[u8]) -> Result<Intake, EventError> {
    let value: Value = serde_json::from_slice(raw).map_err(EventError::NotJson)?;
    let Some(object) = value.as_object() else {
        return Ok(Intake::Event(value));
    };
    if object.contains_key("detail-type") {
        return Ok(Intake::Event(value));
    }
    if let Some(records) = object.get("Records") {
        let records = records
            .as_array()
            .ok_or(EventError::NotEventBridge("\"Records\" is not an array"))?;
        let events = records
            .iter()
            .map(|r| {
                r.as_object()
                    .filter(|r| is_record(r))
                    .map(to_eventbridge)
                    .ok_or(EventError::NotEventBridge(
                        "a CloudTrail log file whose Records are not all CloudTrail records",
                    ))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let n = events.len();
        return Ok(Intake::Records {
            events,
            what: format!(
                "a CloudTrail log file with {n} record{}",
                if n == 1 { "" } else { "s" }
            ),
        });
    }
    if is_record(object) {
        return Ok(Intake::Records {
            events: vec![to_eventbridge(object)],
            what: "a bare CloudTrail record".to_owned(),
        });
    }
    Ok(Intake::Event(value))
}

/// A CloudTrail record names its event and the service that wrote it.
fn is_record(record: &Map<String, Value>) -> bool {
    ["eventVersion", "eventSource", "eventName"]
        .iter()
        .all(|k| record.get(*k).is_some_and(Value::is_string))
}

/// The EventBridge event CloudTrail delivers for a record: `source` is `aws.` and the
/// service of `eventSource` (`s3.amazonaws.com` → `aws.s3`), `detail` the record itself.
pub fn to_eventbridge(record: &Map<String, Value>) -> Value {
    let text = |k: &str| record.get(k).cloned().unwrap_or(Value::Null);
    let source = record
        .get("eventSource")
        .and_then(Value::as_str)
        .map(|s| format!("aws.{}", s.strip_suffix(".amazonaws.com").unwrap_or(s)));
    let mut event = json!({
        "version": "0",
        "id": text("eventID"),
        "detail-type": CLOUDTRAIL_DETAIL_TYPE,
        "source": source,
        "account": text("recipientAccountId"),
        "time": text("eventTime"),
        "region": text("awsRegion"),
        "resources": [],
        "detail": Value::Object(record.clone()),
    });
    // Absent in the record: absent in the event, so the envelope's own checks say so.
    if let Some(e) = event.as_object_mut() {
        e.retain(|_, v| !v.is_null());
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_detail(name: &str) -> Value {
        let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
        let event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        event["detail"].clone()
    }

    #[test]
    fn a_bare_record_becomes_its_eventbridge_event() {
        for name in [
            "create-bucket-console.json",
            "create-project-version.json",
            "create-face-liveness-session.json",
        ] {
            let path = format!("{}/events/{name}", env!("CARGO_MANIFEST_DIR"));
            let original: Value =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            let raw = sample_detail(name).to_string();
            let Intake::Records { events, what } = intake(raw.as_bytes()).unwrap() else {
                panic!("{name}: not read as a record")
            };
            assert_eq!(what, "a bare CloudTrail record");
            let event = &events[0];
            for field in ["detail-type", "source", "account", "region", "detail"] {
                assert_eq!(event[field], original[field], "{name}: {field}");
            }
        }
    }

    #[test]
    fn a_log_file_becomes_one_event_per_record() {
        let records = json!({"Records": [
            sample_detail("create-bucket-console.json"),
            sample_detail("copy-project-version.json"),
        ]});
        let Intake::Records { events, what } = intake(records.to_string().as_bytes()).unwrap()
        else {
            panic!("not read as records")
        };
        assert_eq!(what, "a CloudTrail log file with 2 records");
        assert_eq!(events[0]["source"], "aws.s3");
        assert_eq!(events[1]["source"], "aws.rekognition");
    }

    #[test]
    fn eventbridge_events_and_junk_pass_through_or_fail() {
        let event = std::fs::read(format!(
            "{}/events/create-bucket-console.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        assert!(matches!(intake(&event).unwrap(), Intake::Event(_)));
        assert!(matches!(intake(b"{}").unwrap(), Intake::Event(_)));
        assert!(intake(b"{\"Records\": 1}").is_err());
        assert!(intake(b"{\"Records\": [{\"eventName\": 1}]}").is_err());
        assert!(intake(b"not json").is_err());
    }
}

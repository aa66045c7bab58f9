//! SQS batches as the event source mapping delivers them: each record handled on its own
//! (concurrently, bounded), and `batchItemFailures` naming exactly the retryable ones.

use super::{Router, ignored, work};
use crate::config::Scope;
use crate::event::{self, TriggerInfo, TriggerKind};
use crate::handler::{self, HandleError, Quiet};
use crate::report::{Report, exit};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::StreamExt;
use serde_json::{Value, json};
use std::time::Instant;
use tracing::warn;

/// One queue record's outcome.
#[derive(Debug)]
pub struct RecordOutcome {
    pub message_id: String,
    pub report: Report,
    /// The record's exit code: `1` is retried by SQS, anything else is acknowledged.
    pub code: u8,
}

#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub records: Vec<RecordOutcome>,
}

impl BatchOutcome {
    /// Exactly the records whose outcome is retryable (the exit-1 class).
    pub fn response(&self) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = self
            .records
            .iter()
            .filter(|r| r.code == exit::FAILED)
            .map(|r| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = r.message_id.clone();
                failure
            })
            .collect();
        response
    }

    /// `{"batchItemFailures": […], "reports": [<report with its message_id>…]}`.
    pub fn to_json(&self) -> Value {
        let reports: Vec<Value> = self
            .records
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(&r.report).unwrap_or(Value::Null);
                if let Value::Object(map) = &mut v {
                    map.insert("message_id".to_owned(), json!(r.message_id));
                }
                v
            })
            .collect();
        let failures = serde_json::to_value(self.response())
            .ok()
            .and_then(|v| v.get("batchItemFailures").cloned())
            .unwrap_or_else(|| json!([]));
        json!({"batchItemFailures": failures, "reports": reports})
    }

    /// The worst record's exit code: failed, then bad input, then non-compliant.
    pub fn exit_code(&self) -> u8 {
        worst(self.records.iter().map(|r| r.code))
    }
}

/// Failed (1) is worse than bad input (2), which is worse than non-compliance (3).
pub fn worst(codes: impl Iterator<Item = u8>) -> u8 {
    let rank = |c: u8| match c {
        exit::FAILED => 3,
        exit::BAD_INPUT => 2,
        exit::NON_COMPLIANT => 1,
        _ => 0,
    };
    codes.max_by_key(|c| rank(*c)).unwrap_or(exit::OK)
}

/// Whether a payload is an SQS event (the event source mapping's batch).
pub fn is_sqs_event(payload: &Value) -> bool {
    payload
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(|r| r.get("eventSource"))
        .and_then(Value::as_str)
        == Some("aws:sqs")
}

impl Router {
    /// The records of one batch, concurrently (bounded by `GUARD_ORG_CONCURRENCY`).
    pub async fn handle_batch(&self, batch: SqsEvent, deadline: Instant) -> BatchOutcome {
        let mut records: Vec<RecordOutcome> = futures::stream::iter(
            batch
                .records
                .iter()
                .map(|record| self.handle_record(record, deadline)),
        )
        .buffered(self.config().org_concurrency)
        .collect()
        .await;
        // Keep the batch's own order (buffered already does); ids make it explicit.
        records.sort_by_key(|r| {
            batch
                .records
                .iter()
                .position(|m| m.message_id.as_deref() == Some(r.message_id.as_str()))
        });
        BatchOutcome { records }
    }

    pub(super) async fn handle_record(
        &self,
        record: &SqsMessage,
        deadline: Instant,
    ) -> RecordOutcome {
        let started = Instant::now();
        let message_id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or("");
        let outcome = |report: Report| {
            let code = report.exit_code();
            RecordOutcome {
                message_id: message_id.clone(),
                report,
                code,
            }
        };
        let bad_id = message_id.clone();
        let bad = |reason: String| async move {
            let message_id = bad_id;
            warn!(message_id = %message_id, reason = %reason, "queue record is bad input; acknowledged");
            let trigger = ignored(
                TriggerInfo::manual(TriggerKind::Ignored, None),
                format!("bad input: {reason}"),
            );
            let report = handler::conclude(
                &self.app,
                trigger,
                Vec::new(),
                Vec::new(),
                started,
                deadline,
            )
            .await;
            RecordOutcome {
                message_id: message_id.clone(),
                report,
                code: exit::BAD_INPUT,
            }
        };
        let value: Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => return bad(format!("the message body is not JSON: {e}")).await,
        };
        if work::is_work_item(&value) {
            return match work::parse(&value) {
                Ok(item) if self.config().scope == Scope::Organization => {
                    outcome(self.work(&item, deadline, true, &Quiet).await)
                }
                Ok(_) => bad("work items are for GUARD_SCOPE=organization".to_owned()).await,
                Err(e) => bad(e).await,
            };
        }
        if self.config().scope == Scope::Account {
            return match event::parse(&value, self.config()) {
                Ok(parsed) => match handler::handle_parsed(&self.app, parsed, deadline).await {
                    Ok(report) => outcome(report),
                    Err(HandleError::BadEvent(e)) => bad(e.to_string()).await,
                    Err(e) => outcome(self.failed_report(None, e.to_string(), deadline).await),
                },
                Err(e) => bad(e.to_string()).await,
            };
        }
        if let Err(e) = event::parse(&value, self.config()) {
            return bad(e.to_string()).await;
        }
        outcome(self.route_event(&value, deadline).await)
    }
}

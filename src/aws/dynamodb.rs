//! DynamoDB adapter for [`RestorationLog`]: the table named by `GUARD_STATE_TABLE`
//! (partition key `pk`, a string; TTL attribute `expires_at`). The template creates it
//! (tests and demos create it in the emulator); this function never does.
//!
//! A restoration takes one of `MAX_RESTORATIONS` slot items of the bucket with a
//! conditional `PutItem` — written only if the slot is absent or expired — so
//! concurrent instances each count once, and a slot frees an hour after it was taken
//! (the condition checks `expires_at` itself: TTL deletion may lag by days).

use super::AwsError;
use crate::state::{MAX_RESTORATIONS, Reservation, RestorationLog, expires_at, slot_key};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::BoxFuture;

#[derive(Debug, Clone)]
pub struct DynamoRestorations {
    client: Client,
    table: String,
}

impl DynamoRestorations {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Takes `slot` if it is free at `now`; `false` when another restoration holds it.
    async fn take(&self, key: &str, slot: u32, by: &str, now: u64) -> Result<bool, AwsError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(slot_key(key, slot)))
            .item("expires_at", AttributeValue::N(expires_at(now).to_string()))
            .item("restored_at", AttributeValue::N(now.to_string()))
            .item("changed_by", AttributeValue::S(by.to_owned()))
            .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(AwsError::from_sdk("PutItem", e)),
        }
    }
}

impl RestorationLog for DynamoRestorations {
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        by: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Reservation, AwsError>> {
        Box::pin(async move {
            for slot in 1..=MAX_RESTORATIONS {
                if self.take(key, slot, by, now).await? {
                    return Ok(Reservation::Granted);
                }
            }
            Ok(Reservation::Exhausted)
        })
    }
}

/// The change record's items in the state table: `pk` = `change#<id>`, the record as
/// JSON in `record`, `expires_at` its TTL. Never overwrites an item.
pub async fn put_change(
    client: &Client,
    table: &str,
    id: &str,
    record_json: &str,
    expires_at: u64,
) -> Result<(), AwsError> {
    client
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(format!("{CHANGE_PREFIX}{id}")))
        .item("record", AttributeValue::S(record_json.to_owned()))
        .item("expires_at", AttributeValue::N(expires_at.to_string()))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("PutItem", e))?;
    Ok(())
}

pub const CHANGE_PREFIX: &str = "change#";

/// Every change record item's JSON (a paginated `Scan` filtered on the key prefix).
pub async fn scan_changes(client: &Client, table: &str) -> Result<Vec<String>, AwsError> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(":p", AttributeValue::S(CHANGE_PREFIX.to_owned()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("Scan", e))?;
        out.extend(
            page.items()
                .iter()
                .filter_map(|item| item.get("record")?.as_s().ok().cloned()),
        );
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => return Ok(out),
        }
    }
}

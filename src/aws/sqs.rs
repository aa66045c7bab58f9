//! SQS adapter: the organization planner's work items (`sqs:SendMessage`, batched).

use super::AwsError;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

/// SQS takes at most 10 entries per `SendMessageBatch`.
pub const BATCH: usize = 10;

/// Sends `bodies` (at most [`BATCH`]), each with its caller's id. Returns the ids SQS
/// refused, with its reason; a call that fails as a whole is an error.
pub async fn send_batch(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
    entries: &[(String, String)],
) -> Result<Vec<(String, String)>, AwsError> {
    let batch: Vec<SendMessageBatchRequestEntry> = entries
        .iter()
        .map(|(id, body)| {
            SendMessageBatchRequestEntry::builder()
                .id(id)
                .message_body(body)
                .build()
                .map_err(|e| AwsError::new("SendMessageBatch", e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    let out = client
        .send_message_batch()
        .queue_url(queue_url)
        .set_entries(Some(batch))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("SendMessageBatch", e))?;
    Ok(out
        .failed()
        .iter()
        .map(|f| {
            (
                f.id().to_owned(),
                format!("{}: {}", f.code(), f.message().unwrap_or("-")),
            )
        })
        .collect())
}

//! State that must outlive one invocation: how many times drift restored a bucket
//! recently, so that a writer fighting the function ends in an alert, not a duel.
//!
//! The rule is pure and lives here; the store is a [`RestorationLog`]: a DynamoDB table
//! (`GUARD_STATE_TABLE`, `aws::dynamodb`) shared by every instance, or [`InProcess`]
//! when no table is configured (the count then lasts as long as the warm process).

use crate::aws::AwsError;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Restorations of one bucket allowed within [`WINDOW`]; the next drift is only reported.
pub const MAX_RESTORATIONS: u32 = 3;
pub const WINDOW: Duration = Duration::from_secs(3600);
/// In the detail of a control drift no longer restores (`handler::drift`); the alert
/// finds those by it, to say what was stopped and who keeps changing it.
pub const DUEL_STOPPED: &str = "not restored again until the other writer stops";

/// The answer to "may I restore this bucket once more?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// A restoration was counted; go ahead.
    Granted,
    /// [`MAX_RESTORATIONS`] already happened within [`WINDOW`]: write nothing.
    Exhausted,
}

/// Counts restorations per key with a sliding window. `reserve` must count each caller
/// once even when instances call it concurrently (the DynamoDB store uses conditional writes).
pub trait RestorationLog: Send + Sync + std::fmt::Debug {
    /// Takes one of the key's [`MAX_RESTORATIONS`] slots for [`WINDOW`] from `now`
    /// (seconds since the Unix epoch), if one is free; `by` is kept for the record.
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        by: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Reservation, AwsError>>;
}

/// Slot `i` of `key` in a store: the slots of one key are independent items, so each
/// conditional write is atomic on its own and two writers never take the same slot.
pub fn slot_key(key: &str, slot: u32) -> String {
    format!("restore#{key}#{slot}")
}

/// The key restorations of one bucket are counted under.
pub fn bucket_key(account: &str, region: &str, bucket: &str) -> String {
    format!("{account}/{region}/{bucket}")
}

/// When a slot taken at `now` frees itself (the table's TTL attribute `expires_at`).
pub fn expires_at(now: u64) -> u64 {
    now + WINDOW.as_secs()
}

/// The per-process fallback: exact, but forgotten when the process ends and not shared
/// between concurrent instances.
#[derive(Debug, Default)]
pub struct InProcess {
    /// key → expiry time of each taken slot.
    slots: Mutex<HashMap<String, Vec<u64>>>,
}

impl RestorationLog for InProcess {
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        _by: &'a str,
        now: u64,
    ) -> BoxFuture<'a, Result<Reservation, AwsError>> {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let taken = slots.entry(key.to_owned()).or_default();
        taken.retain(|expiry| *expiry > now);
        let answer = if taken.len() < MAX_RESTORATIONS as usize {
            taken.push(expires_at(now));
            Reservation::Granted
        } else {
            Reservation::Exhausted
        };
        Box::pin(std::future::ready(Ok(answer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn three_per_hour_per_key_sliding() {
        let log = InProcess::default();
        for t in [0, 10, 20] {
            assert_eq!(
                log.reserve("a", "x", t).await.unwrap(),
                Reservation::Granted
            );
        }
        assert_eq!(
            log.reserve("a", "x", 30).await.unwrap(),
            Reservation::Exhausted
        );
        assert_eq!(
            log.reserve("b", "x", 30).await.unwrap(),
            Reservation::Granted
        );
        // The first slot frees an hour after it was taken, not the whole window at once.
        assert_eq!(
            log.reserve("a", "x", 3599).await.unwrap(),
            Reservation::Exhausted
        );
        assert_eq!(
            log.reserve("a", "x", 3600).await.unwrap(),
            Reservation::Granted
        );
        assert_eq!(
            log.reserve("a", "x", 3601).await.unwrap(),
            Reservation::Exhausted
        );
    }
}

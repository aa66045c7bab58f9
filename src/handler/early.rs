//! Work started before STS names the function's own account: the account the event names
//! is, whenever the event is ours, the account STS will answer (anything else is refused as
//! foreign), so the bucket's reads (with it as `ExpectedBucketOwner`) and the opt-out
//! evaluation need not wait one round trip for it. Reads only: the plan, and every write,
//! still starts after STS has confirmed the account.

use super::App;
use crate::aws::s3::EarlyReads;
use crate::event::Plan;

/// The one account the event names, if it names any (every name the same).
pub(super) fn named_account(accounts: &[String]) -> Option<&str> {
    let first = accounts.first()?;
    accounts
        .iter()
        .all(|a| a == first)
        .then_some(first.as_str())
}

/// Starts the first reads of the plan's bucket for `account` (dropped: forgotten).
pub(super) fn bucket_reads(app: &App, plan: &Plan, account: &str) -> Option<EarlyReads> {
    let target = match plan {
        Plan::Bucket(target) => target,
        // A liveness output bucket trusted from a recent verification is not read at all.
        Plan::Rekognition(r) if !r.trust_recent_verification => r.output.value()?,
        _ => return None,
    };
    let client = app.clients.s3(&target.region);
    Some(EarlyReads::start(
        &client,
        &target.name,
        account,
        !target.audit_only,
    ))
}

#[cfg(test)]
mod tests {
    use super::named_account;

    #[test]
    fn one_account_named_or_none() {
        let a = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(named_account(&a(&[])), None);
        assert_eq!(named_account(&a(&["111", "111"])), Some("111"));
        assert_eq!(named_account(&a(&["111", "222"])), None);
    }
}

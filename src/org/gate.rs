//! The account gate: whether a queue record may be acted on at all. Pure: it reads the
//! record's envelope and an organization snapshot, and decides before any AssumeRole.
//!
//! A record passes only if its `source` is one the central rule forwards, its `account`
//! equals `detail.recipientAccountId` (the account whose CloudTrail recorded the call;
//! `userIdentity.accountId` can be a third account and is never used), the account is an
//! ACTIVE member of this organization, and neither it nor any OU above it is excluded.

use crate::config::{Config, is_account_id};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// Sources the central rule forwards (and the only ones acted on from the queue).
pub const FORWARDED_SOURCES: &[&str] =
    &["aws.s3", "aws.rekognition", "aws.kms", "aws.organizations"];

/// What the organization looked like when last read.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub organization_id: String,
    pub management_account: String,
    /// Account id → state (`ACTIVE`, `SUSPENDED`, …).
    pub accounts: HashMap<String, String>,
    /// Accounts below an excluded OU (at any depth), with the OU that excludes each.
    pub excluded_by_ou: HashMap<String, String>,
    pub read_at: Instant,
}

impl Snapshot {
    /// ACTIVE members that are not excluded, sorted: what an organization sweep covers.
    pub fn sweepable(&self, config: &Config) -> Vec<String> {
        let mut ids: Vec<String> = self
            .accounts
            .iter()
            .filter(|(id, state)| *state == "ACTIVE" && exclusion(self, config, id).is_none())
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }
}

/// The gate's answer for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Act on it, in this account.
    Pass { account: String },
    /// Not acted on. `suspicious`: it looks like forgery (a high alert is due).
    Reject { reason: String, suspicious: bool },
    /// The account is not in the snapshot: read the organization again, then decide.
    Unknown { account: String },
}

fn reject(reason: String, suspicious: bool) -> Verdict {
    Verdict::Reject { reason, suspicious }
}

/// Why `account` is excluded, if it is.
pub fn exclusion(snapshot: &Snapshot, config: &Config, account: &str) -> Option<String> {
    if config.accounts_exclude.iter().any(|a| a == account) {
        return Some(format!(
            "account {account} is excluded (GUARD_ACCOUNTS_EXCLUDE)"
        ));
    }
    snapshot
        .excluded_by_ou
        .get(account)
        .map(|ou| format!("account {account} is below the excluded OU {ou} (GUARD_OUS_EXCLUDE)"))
}

fn shown(v: &str) -> String {
    v.chars().take(40).collect()
}

/// Checks an EventBridge envelope taken from the queue.
pub fn check_event(envelope: &Value, snapshot: &Snapshot, config: &Config) -> Verdict {
    let source = envelope.get("source").and_then(Value::as_str).unwrap_or("");
    if !FORWARDED_SOURCES.contains(&source) {
        return reject(
            format!(
                "source {:?} is not one the central rule forwards ({})",
                shown(source),
                FORWARDED_SOURCES.join(", ")
            ),
            false,
        );
    }
    let Some(account) = envelope.get("account").and_then(Value::as_str) else {
        return reject("the record names no account".to_owned(), false);
    };
    if !is_account_id(account) {
        return reject(
            format!("account {:?} is not an account id", shown(account)),
            true,
        );
    }
    match envelope.pointer("/detail/recipientAccountId") {
        None | Some(Value::Null) => {}
        Some(Value::String(recipient)) if recipient == account => {}
        Some(other) => {
            let other = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned);
            return reject(
                format!(
                    "account {account} differs from detail.recipientAccountId {:?}: the record was not recorded by that account's CloudTrail",
                    shown(&other)
                ),
                true,
            );
        }
    }
    check_account(account, snapshot, config)
}

/// Checks an account named by a work item or an event.
pub fn check_account(account: &str, snapshot: &Snapshot, config: &Config) -> Verdict {
    match snapshot.accounts.get(account).map(String::as_str) {
        None => Verdict::Unknown {
            account: account.to_owned(),
        },
        Some("ACTIVE") => match exclusion(snapshot, config, account) {
            Some(reason) => reject(reason, false),
            None => Verdict::Pass {
                account: account.to_owned(),
            },
        },
        Some(state) => reject(
            format!("account {account} is {state}, not an ACTIVE member"),
            false,
        ),
    }
}

/// After a fresh read, an account still unknown is not a member at all.
pub fn not_a_member(account: &str, snapshot: &Snapshot) -> Verdict {
    reject(
        format!(
            "account {account} is not a member of organization {}: the record was not forwarded by this organization",
            snapshot.organization_id
        ),
        true,
    )
}

/// Accounts named in `only` that the snapshot does not know or will not sweep.
pub fn unknown_accounts<'a>(only: &'a [String], snapshot: &Snapshot) -> HashSet<&'a str> {
    only.iter()
        .map(String::as_str)
        .filter(|a| !snapshot.accounts.contains_key(*a))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snapshot() -> Snapshot {
        Snapshot {
            organization_id: "o-abc".into(),
            management_account: "111111111111".into(),
            accounts: [
                ("111111111111", "ACTIVE"),
                ("222222222222", "ACTIVE"),
                ("333333333333", "SUSPENDED"),
                ("444444444444", "ACTIVE"),
            ]
            .into_iter()
            .map(|(a, s)| (a.to_owned(), s.to_owned()))
            .collect(),
            excluded_by_ou: [("444444444444".to_owned(), "ou-ab12-nested01".to_owned())].into(),
            read_at: Instant::now(),
        }
    }

    fn event(source: &str, account: &str, recipient: Option<&str>) -> Value {
        let mut e = json!({"source": source, "account": account, "detail-type": "AWS API Call via CloudTrail",
                           "detail": {"userIdentity": {"accountId": "999999999999"}}});
        if let Some(r) = recipient {
            e["detail"]["recipientAccountId"] = json!(r);
        }
        e
    }

    #[test]
    fn table() {
        let config = Config {
            accounts_exclude: vec!["222222222222".into()],
            ..Config::default()
        };
        let s = snapshot();
        let pass = |a: &str| Verdict::Pass { account: a.into() };
        type Want = Result<Verdict, (&'static str, bool)>;
        let cases: Vec<(Value, Want)> = vec![
            (
                event("aws.s3", "111111111111", Some("111111111111")),
                Ok(pass("111111111111")),
            ),
            (
                event("aws.rekognition", "111111111111", None),
                Ok(pass("111111111111")),
            ),
            (
                event("acme.custom", "111111111111", Some("111111111111")),
                Err(("not one the central rule forwards", false)),
            ),
            (
                event("aws.s3", "111111111111", Some("555555555555")),
                Err(("differs from detail.recipientAccountId", true)),
            ),
            (
                event("aws.s3", "12345", None),
                Err(("not an account id", true)),
            ),
            (
                event("aws.s3", "222222222222", None),
                Err(("GUARD_ACCOUNTS_EXCLUDE", false)),
            ),
            (
                event("aws.s3", "333333333333", None),
                Err(("SUSPENDED", false)),
            ),
            (
                event("aws.s3", "444444444444", None),
                Err(("ou-ab12-nested01", false)),
            ),
            (
                event("aws.s3", "999999999999", Some("999999999999")),
                Ok(Verdict::Unknown {
                    account: "999999999999".into(),
                }),
            ),
        ];
        for (e, want) in cases {
            let got = check_event(&e, &s, &config);
            match (want, &got) {
                (Ok(v), _) => assert_eq!(got, v, "{e}"),
                (
                    Err((needle, suspicious)),
                    Verdict::Reject {
                        reason,
                        suspicious: s,
                    },
                ) => {
                    assert!(reason.contains(needle), "{e}: {reason}");
                    assert_eq!(*s, suspicious, "{e}");
                }
                (Err(_), other) => panic!("{e}: expected a rejection, got {other:?}"),
            }
        }
        // The third account of userIdentity is never the one acted on.
        assert!(matches!(
            check_event(&event("aws.s3", "111111111111", None), &s, &config),
            Verdict::Pass { account } if account == "111111111111"
        ));
        let Verdict::Reject { reason, suspicious } = not_a_member("999999999999", &s) else {
            panic!()
        };
        assert!(suspicious && reason.contains("o-abc"));
    }

    #[test]
    fn sweepable_accounts_are_active_and_not_excluded() {
        let config = Config {
            accounts_exclude: vec!["222222222222".into()],
            ..Config::default()
        };
        assert_eq!(snapshot().sweepable(&config), ["111111111111"]);
        assert_eq!(
            snapshot().sweepable(&Config::default()),
            ["111111111111", "222222222222"]
        );
    }
}

//! Rollout by scope (DESIGN.md, "Rollout, change record, undo"): one rules document maps
//! OUs, accounts, Regions and bucket tags to a mode, per control where needed, and lists
//! exceptions that expire. Pure: parsing with the line of each mistake, and resolution.
//!
//! ```json
//! {"rules": [{"ou": "ou-ab12-sandbox1", "mode": "audit"},
//!            {"ou": "ou-ab12-prod0001", "mode": "notify-then-remediate", "grace": "PT24H"},
//!            {"account": "111122223333", "mode": "audit", "controls": ["tls-only"]},
//!            {"tag": "env=dev", "mode": "off"}],
//!  "exceptions": [{"account": "111122223333", "bucket": "ml-legacy-*", "control": "sse-kms",
//!                  "until": "2027-03-31", "reason": "key migration", "approved_by": "secops@example.com"}]}
//! ```
//!
//! Which rule decides a control of a bucket: the most specific selector (a bucket tag,
//! then the account, then the nearest OU — any ancestor counts —, then the Region, then
//! a rule without a selector); among equals, one that lists the control beats one for
//! every control, then the first in the document. No rule: `GUARD_MODE`.

pub mod duration;

use crate::config::{Mode, is_account_id};
use serde::Deserialize;
use std::time::Duration;

/// The controls a rule or an exception may name (those that write, and the checks).
pub const CONTROLS: &[&str] = &[
    "sse-kms",
    "public-access-block",
    "tls-only",
    "kms-key-spec",
    "customer-managed-key",
    "ai-opt-out",
    "data-sharing",
];

/// What a rule makes of a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleMode {
    Remediate,
    Audit,
    /// Alert with the planned change, remediate after the grace unless fixed or excepted.
    NotifyThenRemediate(Duration),
    /// Not evaluated (reported `skipped`).
    Off,
}

impl RuleMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleMode::Remediate => "remediate",
            RuleMode::Audit => "audit",
            RuleMode::NotifyThenRemediate(_) => "notify-then-remediate",
            RuleMode::Off => "off",
        }
    }
}

/// What a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Everything,
    Region(String),
    Ou(String),
    Account(String),
    /// `key=value`, or `key` (any value).
    Tag {
        key: String,
        value: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub selector: Selector,
    pub mode: RuleMode,
    /// Empty: every control.
    pub controls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// Absent: any account.
    #[serde(default, deserialize_with = "account_id")]
    pub account: Option<String>,
    /// A bucket-name pattern (`*`, `?`).
    pub bucket: String,
    /// Absent: every control.
    #[serde(default, deserialize_with = "control_id")]
    pub control: Option<String>,
    /// `2027-03-31` (end of that day, UTC) or an RFC 3339 time; absent: open-ended.
    #[serde(default, deserialize_with = "until")]
    pub until: Option<String>,
    pub reason: String,
    pub approved_by: String,
}

/// The parsed document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rules {
    pub rules: Vec<Rule>,
    pub exceptions: Vec<Exception>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    exceptions: Vec<Exception>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawRuleFields")]
struct RawRule(Rule);

/// Each field is checked where it is written (so the error names its line); what
/// depends on two fields is checked for the rule as a whole.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleFields {
    #[serde(default, deserialize_with = "ou_id")]
    ou: Option<String>,
    #[serde(default, deserialize_with = "account_id")]
    account: Option<String>,
    #[serde(default, deserialize_with = "region_name")]
    region: Option<String>,
    tag: Option<String>,
    #[serde(deserialize_with = "mode_name")]
    mode: String,
    #[serde(default, deserialize_with = "control_ids")]
    controls: Vec<String>,
    #[serde(default, deserialize_with = "grace")]
    grace: Option<Duration>,
}

fn checked<'de, D, T>(d: D, check: impl Fn(&T) -> Option<String>) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    let v = T::deserialize(d)?;
    match check(&v) {
        Some(why) => Err(serde::de::Error::custom(why)),
        None => Ok(v),
    }
}

fn ou_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, |v: &Option<String>| {
        v.as_ref()
            .filter(|ou| !crate::config::is_ou_id(ou) && !ou.starts_with("r-"))
            .map(|ou| format!("{ou:?} is not an OU id (ou-xxxx-xxxxxxxx) or root id (r-xxxx)"))
    })
}

fn region_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    checked(d, |v: &Option<String>| {
        v.as_ref()
            .filter(|r| !crate::region::is_region(r))
            .map(|r| format!("{r:?} is not a Region name"))
    })
}

fn mode_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    checked(d, |m: &String| {
        (!matches!(
            m.as_str(),
            "remediate" | "audit" | "notify-then-remediate" | "off"
        ))
        .then(|| format!("mode {m:?} is not remediate, audit, notify-then-remediate or off"))
    })
}

fn control_ids<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    checked(d, |v: &Vec<String>| {
        v.iter()
            .find(|c| !CONTROLS.contains(&c.as_str()))
            .map(|c| format!("control {c:?} is not one of {}", CONTROLS.join(", ")))
    })
}

fn grace<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|g| duration::parse(&g).map_err(|e| serde::de::Error::custom(format!("grace: {e}"))))
        .transpose()
}

impl TryFrom<RawRuleFields> for RawRule {
    type Error = String;

    fn try_from(r: RawRuleFields) -> Result<Self, String> {
        let selectors = [&r.ou, &r.account, &r.region, &r.tag]
            .iter()
            .filter(|s| s.is_some())
            .count();
        if selectors > 1 {
            return Err(
                "a rule names one of \"ou\", \"account\", \"region\" or \"tag\" (write two rules)"
                    .to_owned(),
            );
        }
        let selector = if let Some(ou) = r.ou {
            Selector::Ou(ou)
        } else if let Some(account) = r.account {
            Selector::Account(account)
        } else if let Some(region) = r.region {
            Selector::Region(region)
        } else if let Some(tag) = r.tag {
            let (key, value) = match tag.split_once('=') {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => (tag.clone(), None),
            };
            if key.is_empty() || key.len() > 128 {
                return Err(format!("tag {tag:?}: expected key=value or key"));
            }
            Selector::Tag { key, value }
        } else {
            Selector::Everything
        };
        let mode = match (r.mode.as_str(), r.grace) {
            ("remediate", None) => RuleMode::Remediate,
            ("audit", None) => RuleMode::Audit,
            ("off", None) => RuleMode::Off,
            ("notify-then-remediate", g) => {
                RuleMode::NotifyThenRemediate(g.unwrap_or(duration::DEFAULT_GRACE))
            }
            ("remediate" | "audit" | "off", Some(_)) => {
                return Err(format!(
                    "\"grace\" is for mode notify-then-remediate, not {}",
                    r.mode
                ));
            }
            (other, _) => {
                return Err(format!(
                    "mode {other:?} is not remediate, audit, notify-then-remediate or off"
                ));
            }
        };
        Ok(RawRule(Rule {
            selector,
            mode,
            controls: r.controls,
        }))
    }
}

fn account_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<String>::deserialize(d)?;
    match v {
        Some(a) if !is_account_id(&a) => Err(serde::de::Error::custom(format!(
            "{a:?} is not a 12-digit account id"
        ))),
        other => Ok(other),
    }
}

fn control_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<String>::deserialize(d)?;
    match v {
        Some(c) if !CONTROLS.contains(&c.as_str()) => Err(serde::de::Error::custom(format!(
            "control {c:?} is not one of {}",
            CONTROLS.join(", ")
        ))),
        other => Ok(other),
    }
}

fn until<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<String>::deserialize(d)?;
    match v {
        Some(t) if until_millis(&t).is_none() => Err(serde::de::Error::custom(format!(
            "until {t:?} is not a date (2027-03-31) or an RFC 3339 time"
        ))),
        other => Ok(other),
    }
}

/// The end of an exception: a date means the end of that day, UTC.
pub fn until_millis(text: &str) -> Option<i64> {
    if text.len() == 10 {
        crate::change::parse_time(text).map(|t| t + 86_400_000 - 1)
    } else {
        crate::change::parse_time(text)
    }
}

/// A rules document that cannot be used: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {reason}")]
pub struct RulesError {
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

/// Parses and validates a rules document (JSON).
pub fn parse(text: &str) -> Result<Rules, RulesError> {
    let doc: RawDocument = serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let reason = match full.rfind(" at line ") {
            Some(i) => full[..i].to_owned(),
            None => full,
        };
        RulesError {
            line: e.line(),
            column: e.column(),
            reason,
        }
    })?;
    Ok(Rules {
        rules: doc.rules.into_iter().map(|r| r.0).collect(),
        exceptions: doc.exceptions,
    })
}

/// What a rule decides is matched against.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub account: &'a str,
    /// The account's OUs, root first (the root id may lead).
    pub ous: &'a [String],
    pub region: &'a str,
    pub tags: &'a [(String, String)],
    pub bucket: &'a str,
    pub control: &'a str,
}

/// A control's mode, and what decided it (for the report and the alert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub mode: RuleMode,
    pub decided_by: String,
}

/// How specific a matching rule is: (selector rank, OU depth, lists the control).
fn specificity(rule: &Rule, s: &Subject<'_>) -> Option<(u8, usize, bool)> {
    let names_control = rule.controls.iter().any(|c| c == s.control);
    if !rule.controls.is_empty() && !names_control {
        return None;
    }
    let (rank, depth) = match &rule.selector {
        Selector::Everything => (0, 0),
        Selector::Region(r) => (r == s.region).then_some((1, 0))?,
        Selector::Ou(ou) => (2, s.ous.iter().position(|o| o == ou)? + 1),
        Selector::Account(a) => (a == s.account).then_some((3, 0))?,
        Selector::Tag { key, value } => s
            .tags
            .iter()
            .any(|(k, v)| k == key && value.as_ref().is_none_or(|want| want == v))
            .then_some((4, 0))?,
    };
    Some((rank, depth, names_control))
}

fn describe(index: usize, rule: &Rule) -> String {
    let what = match &rule.selector {
        Selector::Everything => "every resource".to_owned(),
        Selector::Region(r) => format!("region {r}"),
        Selector::Ou(ou) => format!("ou {ou}"),
        Selector::Account(a) => format!("account {a}"),
        Selector::Tag {
            key,
            value: Some(v),
        } => format!("tag {key}={v}"),
        Selector::Tag { key, value: None } => format!("tag {key}"),
    };
    let controls = if rule.controls.is_empty() {
        String::new()
    } else {
        format!(", controls {}", rule.controls.join(","))
    };
    format!("rules[{index}] ({what}{controls}: {})", rule.mode.as_str())
}

/// The mode of one control of one resource.
pub fn resolve(rules: &Rules, subject: &Subject<'_>, fallback: Mode) -> Decision {
    let best = rules
        .rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| specificity(r, subject).map(|s| (s, i, r)))
        // The most specific; among equals the first (max_by_key keeps the last maximum).
        .max_by_key(|(s, i, _)| (*s, std::cmp::Reverse(*i)));
    match best {
        Some((_, i, rule)) => Decision {
            mode: rule.mode,
            decided_by: describe(i, rule),
        },
        None => Decision {
            mode: match fallback {
                Mode::Remediate => RuleMode::Remediate,
                Mode::Audit => RuleMode::Audit,
            },
            decided_by: format!("GUARD_MODE={}", fallback.as_str()),
        },
    }
}

/// The one-time schedule of a bucket's notify-then-remediate grace: named after the
/// bucket (at most 64 characters), so an event during the grace finds the one running.
pub fn schedule_name(account: &str, region: &str, bucket: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{account}/{region}/{bucket}").as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("rg-grace-{hex}")
}

/// An exception in force, or one that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Excepted {
    /// Not evaluated for a fix: `exempt`, with why and until when (`None`: open-ended).
    Exempt {
        source: String,
        reason: String,
        until: Option<String>,
    },
    /// Ended: enforced as usual, and the alert says the exception expired.
    Expired {
        source: String,
        reason: String,
        until: String,
    },
}

impl Excepted {
    /// The report's words for it.
    pub fn detail(&self) -> String {
        match self {
            Excepted::Exempt {
                source,
                reason,
                until: Some(until),
            } => format!("exempt until {until} by {source}: {reason}"),
            Excepted::Exempt {
                source,
                reason,
                until: None,
            } => format!("exempt by {source}, open-ended (no end date): {reason}"),
            Excepted::Expired {
                source,
                reason,
                until,
            } => format!("exception expired on {until} ({source}: {reason}); enforced again"),
        }
    }
}

/// The tags a bucket's own exception is read from: `<exempt tag>` = `true` (open-ended),
/// `<exempt tag>-until` = a date, `<exempt tag>-reason`.
pub fn tag_exception(
    tags: &[(String, String)],
    exempt_tag: &str,
    now_millis: i64,
) -> Option<Excepted> {
    let get = |k: &str| tags.iter().find(|(t, _)| t == k).map(|(_, v)| v.as_str());
    let until_key = format!("{exempt_tag}-until");
    let reason = get(&format!("{exempt_tag}-reason"))
        .unwrap_or("no reason given")
        .to_owned();
    if let Some(until) = get(&until_key) {
        let source = format!("tag {until_key}");
        return Some(match until_millis(until) {
            Some(end) if end >= now_millis => Excepted::Exempt {
                source,
                reason,
                until: Some(until.to_owned()),
            },
            Some(_) => Excepted::Expired {
                source,
                reason,
                until: until.to_owned(),
            },
            // An unreadable date exempts nothing: enforced, and said.
            None => Excepted::Expired {
                source,
                reason: format!("{reason}; {until:?} is not a date, so it exempts nothing"),
                until: until.to_owned(),
            },
        });
    }
    get(exempt_tag)
        .filter(|v| v.eq_ignore_ascii_case("true"))
        .map(|_| Excepted::Exempt {
            source: format!("tag {exempt_tag}=true"),
            reason,
            until: None,
        })
}

/// The document's exception for this control of this bucket, if one matches: one in
/// force wins over one that ended.
pub fn document_exception(
    rules: &Rules,
    subject: &Subject<'_>,
    now_millis: i64,
) -> Option<Excepted> {
    let matching = rules.exceptions.iter().enumerate().filter(|(_, e)| {
        e.account.as_deref().is_none_or(|a| a == subject.account)
            && e.control.as_deref().is_none_or(|c| c == subject.control)
            && crate::policy::glob_match(&e.bucket, subject.bucket)
    });
    let mut expired = None;
    for (i, e) in matching {
        let source = format!("exceptions[{i}], approved by {}", e.approved_by);
        match e.until.as_deref().map(|u| (u, until_millis(u))) {
            None => {
                return Some(Excepted::Exempt {
                    source,
                    reason: e.reason.clone(),
                    until: None,
                });
            }
            Some((u, Some(end))) if end >= now_millis => {
                return Some(Excepted::Exempt {
                    source,
                    reason: e.reason.clone(),
                    until: Some(u.to_owned()),
                });
            }
            Some((u, _)) => {
                expired.get_or_insert(Excepted::Expired {
                    source,
                    reason: e.reason.clone(),
                    until: u.to_owned(),
                });
            }
        }
    }
    expired
}

#[cfg(test)]
mod tests;

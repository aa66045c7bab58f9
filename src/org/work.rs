//! Work items of the organization sweep: one message per account × Region, a small
//! versioned JSON body of the project's own. Pure.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The body's version tag: `{"rekognition-guard": "sweep/1", …}`.
pub const VERSION_KEY: &str = "rekognition-guard";
pub const VERSION: &str = "sweep/1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItem {
    #[serde(rename = "rekognition-guard")]
    pub version: String,
    pub account: String,
    pub region: String,
    pub sweep_id: String,
    /// The rest of an item that did not finish within its invocation: only these buckets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buckets: Vec<String>,
}

impl WorkItem {
    pub fn new(account: &str, region: &str, sweep_id: &str) -> Self {
        Self {
            version: VERSION.to_owned(),
            account: account.to_owned(),
            region: region.to_owned(),
            sweep_id: sweep_id.to_owned(),
            buckets: Vec::new(),
        }
    }

    /// The remainder of this item: the same sweep, only `buckets`.
    pub fn remainder(&self, buckets: Vec<String>) -> Self {
        Self {
            buckets,
            ..self.clone()
        }
    }

    /// `account/region`, as tables and logs show an item.
    pub fn label(&self) -> String {
        format!("{}/{}", self.account, self.region)
    }

    pub fn body(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Whether a queue body claims to be a work item (and so must parse as one).
pub fn is_work_item(body: &Value) -> bool {
    body.get(VERSION_KEY).is_some()
}

/// Parses a work item; the error is one line for the report.
pub fn parse(body: &Value) -> Result<WorkItem, String> {
    let version = body.get(VERSION_KEY).and_then(Value::as_str).unwrap_or("");
    if version != VERSION {
        return Err(format!(
            "work item version {:?} is not {VERSION:?}",
            version.chars().take(20).collect::<String>()
        ));
    }
    let item: WorkItem =
        serde_json::from_value(body.clone()).map_err(|e| format!("invalid work item: {e}"))?;
    if !crate::config::is_account_id(&item.account) {
        return Err("invalid work item: account is not a 12-digit id".to_owned());
    }
    if !crate::region::is_region(&item.region) {
        return Err("invalid work item: region is not a Region name".to_owned());
    }
    if let Some(Err(e)) = item
        .buckets
        .iter()
        .map(|b| crate::event::check_bucket_name(b))
        .find(Result::is_err)
    {
        return Err(format!("invalid work item: {e}"));
    }
    Ok(item)
}

/// Every account × Region, accounts first (one account's Regions are queued together).
pub fn plan(accounts: &[String], regions: &[String], sweep_id: &str) -> Vec<WorkItem> {
    accounts
        .iter()
        .flat_map(|a| regions.iter().map(move |r| WorkItem::new(a, r, sweep_id)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plan_crosses_accounts_and_regions() {
        let items = plan(
            &["111111111111".into(), "222222222222".into()],
            &["us-east-1".into(), "eu-west-1".into()],
            "s-1",
        );
        let labels: Vec<String> = items.iter().map(WorkItem::label).collect();
        assert_eq!(
            labels,
            [
                "111111111111/us-east-1",
                "111111111111/eu-west-1",
                "222222222222/us-east-1",
                "222222222222/eu-west-1"
            ]
        );
        assert!(plan(&[], &["us-east-1".into()], "s").is_empty());
    }

    #[test]
    fn bodies_round_trip_and_bad_ones_say_why() {
        let item = WorkItem::new("111111111111", "us-east-1", "s-1").remainder(vec!["b-1".into()]);
        let body: Value = serde_json::from_str(&item.body()).unwrap();
        assert_eq!(body["rekognition-guard"], "sweep/1");
        assert!(is_work_item(&body));
        assert_eq!(parse(&body).unwrap(), item);
        for (bad, needle) in [
            (json!({"rekognition-guard": "sweep/9"}), "version"),
            (
                json!({"rekognition-guard": "sweep/1", "account": "1", "region": "us-east-1", "sweep_id": "s"}),
                "12-digit",
            ),
            (
                json!({"rekognition-guard": "sweep/1", "account": "111111111111", "region": "../x", "sweep_id": "s"}),
                "region",
            ),
            (
                json!({"rekognition-guard": "sweep/1", "account": "111111111111", "region": "us-east-1"}),
                "sweep_id",
            ),
            (
                json!({"rekognition-guard": "sweep/1", "account": "111111111111", "region": "us-east-1", "sweep_id": "s", "buckets": ["A/B"]}),
                "invalid bucket name",
            ),
        ] {
            let e = parse(&bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
        assert!(!is_work_item(&json!({"detail-type": "x"})));
    }
}

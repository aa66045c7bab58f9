//! `data-sharing`: a stream processor's `DataSharingPreference.OptIn` is false, so its
//! video is not stored and used to improve the service.
//!
//! The API model documents no default for `OptIn`: a request that does not set it says
//! nothing, and the verdict comes from `DescribeStreamProcessor` (the handler reports
//! `skipped` when that cannot be read). Not remediable: report and alert (high).

use super::{Finding, Outcome};
use crate::report::Severity;
use serde_json::json;

pub const ID: &str = "data-sharing";

/// `source`: where the value was read ("in the request", "per DescribeStreamProcessor").
pub fn evaluate(opt_in: bool, source: &str) -> Finding {
    let before = json!({"DataSharingPreference": {"OptIn": opt_in}});
    if opt_in {
        Finding::new(
            ID,
            Outcome::NonCompliant,
            format!("DataSharingPreference.OptIn is true {source}: video may be stored and used to improve the service"),
            before,
        )
        .with_severity(Severity::High)
    } else {
        Finding::new(
            ID,
            Outcome::Compliant,
            format!("DataSharingPreference.OptIn is false {source}"),
            before,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opt_in_is_high() {
        let f = evaluate(true, "in the request");
        assert_eq!(
            (f.outcome, f.severity),
            (Outcome::NonCompliant, Some(Severity::High))
        );
        assert!(f.detail.contains("in the request"));
        let f = evaluate(false, "per DescribeStreamProcessor");
        assert_eq!(f.outcome, Outcome::Compliant);
        assert!(f.detail.contains("DescribeStreamProcessor"));
    }
}

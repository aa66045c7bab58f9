//! `data-sharing`: a stream processor's `DataSharingPreference.OptIn` is false, so its
//! video is not stored and used to improve the service.
//!
//! Not remediable: report and alert (high severity).

use super::{Finding, Outcome};
use crate::report::Severity;
use serde_json::json;

pub const ID: &str = "data-sharing";

pub fn evaluate(opt_in: Option<bool>) -> Finding {
    let before = json!({"DataSharingPreference": {"OptIn": opt_in}});
    match opt_in {
        Some(true) => Finding::new(
            ID,
            Outcome::NonCompliant,
            "DataSharingPreference.OptIn is true: video may be stored and used to improve the service",
            before,
        )
        .with_severity(Severity::High),
        Some(false) => Finding::new(ID, Outcome::Compliant, "DataSharingPreference.OptIn is false", before),
        None => Finding::new(ID, Outcome::Compliant, "no DataSharingPreference: the API default is OptIn false", before),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opt_in_is_high() {
        let f = evaluate(Some(true));
        assert_eq!(
            (f.outcome, f.severity),
            (Outcome::NonCompliant, Some(Severity::High))
        );
        assert_eq!(evaluate(Some(false)).outcome, Outcome::Compliant);
        assert_eq!(evaluate(None).outcome, Outcome::Compliant);
    }
}

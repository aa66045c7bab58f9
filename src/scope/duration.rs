//! ISO 8601 durations as the rules document writes a grace: `PT24H`, `P2D`, `PT30M`,
//! `P1DT12H`. Weeks, months and years are refused (their length varies or is rarely meant).

use std::time::Duration;

/// A grace the document does not state.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 3600);

/// The longest grace: EventBridge Scheduler one-time schedules are for the future, and a
/// grace longer than this is an exception, which has a reason and an approver.
pub const MAX_GRACE: Duration = Duration::from_secs(90 * 86_400);

pub fn parse(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not an ISO 8601 duration such as PT24H, P2D or P1DT12H");
    let rest = text.strip_prefix('P').ok_or_else(bad)?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut secs: u64 = 0;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, u64)]| -> Result<(), String> {
        let mut number = String::new();
        let mut allowed = units.iter();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            // Units in order, each at most once.
            let factor = loop {
                match allowed.next() {
                    Some((u, f)) if *u == c => break *f,
                    Some(_) => continue,
                    None => return Err(bad()),
                }
            };
            let n: u64 = number.parse().map_err(|_| bad())?;
            secs = secs.saturating_add(n.saturating_mul(factor));
            number.clear();
            any = true;
        }
        if number.is_empty() {
            Ok(())
        } else {
            Err(bad())
        }
    };
    take(days, &[('D', 86_400)])?;
    if let Some(t) = time {
        if t.is_empty() {
            return Err(bad());
        }
        take(t, &[('H', 3600), ('M', 60), ('S', 1)])?;
    }
    if !any || secs == 0 {
        return Err(bad());
    }
    let d = Duration::from_secs(secs);
    if d > MAX_GRACE {
        return Err(format!(
            "{text:?} is longer than 90 days: write an exception with a reason and an approver"
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graces() {
        assert_eq!(parse("PT24H"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse("P2D"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse("PT30M"), Ok(Duration::from_secs(1_800)));
        assert_eq!(parse("P1DT12H"), Ok(Duration::from_secs(129_600)));
        assert_eq!(parse("PT1H30M15S"), Ok(Duration::from_secs(5_415)));
        for bad in [
            "24h", "P", "PT", "PT0H", "P1W", "PT5D", "P1H", "PT1M1H", "P1DT", "PTH",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("P91D").unwrap_err().contains("longer than 90 days"));
    }
}

//! `public-access-block`: all four S3 Block Public Access flags on the bucket are true.
//!
//! Remediable: put all four true (flags already true stay true).

use super::{Finding, Fix, Outcome};
use serde_json::{Value, json};

pub const ID: &str = "public-access-block";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    pub const ALL: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };

    fn missing(self) -> Vec<&'static str> {
        [
            (self.block_public_acls, "BlockPublicAcls"),
            (self.ignore_public_acls, "IgnorePublicAcls"),
            (self.block_public_policy, "BlockPublicPolicy"),
            (self.restrict_public_buckets, "RestrictPublicBuckets"),
        ]
        .into_iter()
        .filter(|(on, _)| !on)
        .map(|(_, name)| name)
        .collect()
    }
}

pub fn state(pab: Option<&PublicAccessBlock>) -> Value {
    match pab {
        None => Value::Null,
        Some(p) => json!({
            "BlockPublicAcls": p.block_public_acls,
            "IgnorePublicAcls": p.ignore_public_acls,
            "BlockPublicPolicy": p.block_public_policy,
            "RestrictPublicBuckets": p.restrict_public_buckets,
        }),
    }
}

pub fn evaluate(current: Option<&PublicAccessBlock>) -> Finding {
    let before = state(current);
    let missing = current.copied().unwrap_or_default().missing();
    if missing.is_empty() {
        Finding::new(
            ID,
            Outcome::Compliant,
            "all four Block Public Access flags are on",
            before,
        )
    } else if current.is_none() {
        Finding::new(
            ID,
            Outcome::Fix(Fix::PublicAccessBlock),
            "no Block Public Access configuration: turn all four flags on",
            before,
        )
    } else {
        Finding::new(
            ID,
            Outcome::Fix(Fix::PublicAccessBlock),
            format!("{} off: turn all four flags on", missing.join(", ")),
            before,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let partial = PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: false,
            block_public_policy: true,
            restrict_public_buckets: false,
        };
        let cases: [(Option<PublicAccessBlock>, bool, &str); 4] = [
            (None, false, "no Block Public Access"),
            (
                Some(PublicAccessBlock::default()),
                false,
                "BlockPublicAcls, IgnorePublicAcls",
            ),
            (
                Some(partial),
                false,
                "IgnorePublicAcls, RestrictPublicBuckets off",
            ),
            (Some(PublicAccessBlock::ALL), true, "all four"),
        ];
        for (current, compliant, needle) in cases {
            let f = evaluate(current.as_ref());
            assert_eq!(f.outcome == Outcome::Compliant, compliant, "{current:?}");
            assert!(f.detail.contains(needle), "{}", f.detail);
        }
    }
}

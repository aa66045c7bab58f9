//! Regions and partitions: the one table every module asks "is this a Region?" and
//! "which partition is it in?" (ARNs, cross-partition checks, bucket policies).
//!
//! [`PARTITIONS`] mirrors the endpoint partitions the AWS SDK embeds (its
//! `partitions.json`: `regionRegex` per partition); `tests/region.rs` compares the two,
//! so a partition AWS adds fails the build instead of being read as `aws`. Pure: no
//! AWS calls, no environment. Depends on nothing else in the crate.

/// One partition: its id (the ARN's second field) and the labels its Regions begin with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub id: &'static str,
    /// The leading labels of a Region name, each a set of alternatives; the Region is
    /// `<leading>-<word>-<number>` (the SDK's `^<leading>\-\w+\-\d+$`).
    pub leading: &'static [&'static [&'static str]],
}

/// The SDK's partitions, in its order (tests/region.rs keeps them in step).
pub const PARTITIONS: &[Partition] = &[
    Partition {
        id: "aws",
        leading: &[&["us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"]],
    },
    Partition {
        id: "aws-cn",
        leading: &[&["cn"]],
    },
    Partition {
        id: "aws-eusc",
        leading: &[&["eusc"], &["de"]],
    },
    Partition {
        id: "aws-iso",
        leading: &[&["us"], &["iso"]],
    },
    Partition {
        id: "aws-iso-b",
        leading: &[&["us"], &["isob"]],
    },
    Partition {
        id: "aws-iso-e",
        leading: &[&["eu"], &["isoe"]],
    },
    Partition {
        id: "aws-iso-f",
        leading: &[&["us"], &["isof"]],
    },
    Partition {
        id: "aws-us-gov",
        leading: &[&["us"], &["gov"]],
    },
];

/// The partition whose Region pattern `region` matches, if any.
pub fn partition_of(region: &str) -> Option<&'static Partition> {
    let labels: Vec<&str> = region.split('-').collect();
    PARTITIONS.iter().find(|p| {
        labels.len() == p.leading.len() + 2
            && p.leading
                .iter()
                .zip(&labels)
                .all(|(alternatives, label)| alternatives.contains(label))
            && is_word(labels[labels.len() - 2])
            && is_number(labels[labels.len() - 1])
    })
}

/// The ARN partition of a Region. A Region no pattern matches resolves to `aws`, as
/// the SDK's endpoint resolver does; [`is_region`] refuses such names first.
pub fn partition(region: &str) -> &'static str {
    partition_of(region).map_or("aws", |p| p.id)
}

/// A Region name of a known partition: `us-east-1`, `eusc-de-east-1`, `us-isof-south-1`, …
pub fn is_region(region: &str) -> bool {
    region.len() <= 32 && partition_of(region).is_some()
}

/// Whether `id` names a partition (the second field of an ARN).
pub fn is_partition(id: &str) -> bool {
    PARTITIONS.iter().any(|p| p.id == id)
}

// `\w+` in the SDK allows digits and `_`; Region names use lowercase letters only.
fn is_word(label: &str) -> bool {
    !label.is_empty() && label.bytes().all(|b| b.is_ascii_lowercase())
}

fn is_number(label: &str) -> bool {
    (1..=3).contains(&label.len())
        && label.bytes().all(|b| b.is_ascii_digit())
        && !label.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_partition() {
        for (region, want) in [
            ("us-east-1", "aws"),
            ("ap-southeast-7", "aws"),
            ("mx-central-1", "aws"),
            ("cn-north-1", "aws-cn"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eu-isoe-west-1", "aws-iso-e"),
            ("us-isof-south-1", "aws-iso-f"),
            ("eusc-de-east-1", "aws-eusc"),
        ] {
            assert!(is_region(region), "{region}");
            assert_eq!(partition(region), want, "{region}");
        }
    }

    #[test]
    fn not_regions() {
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "us-east-0",
            "us-east-01",
            "xx-east-1",
            "eusc-fr-east-1",
            "us-isoz-east-1",
            "us-east-1-",
            "us--1",
            "us-east-1\n",
            "us_east_1",
            "../../etc",
        ] {
            assert!(!is_region(bad), "{bad:?}");
        }
    }

    #[test]
    fn partition_ids() {
        assert!(is_partition("aws-iso-f") && is_partition("aws-eusc") && !is_partition("aws-x"));
    }
}

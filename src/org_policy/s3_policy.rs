//! The organization S3 policy (`S3_POLICY`, November 2025): `s3_attributes.
//! public_access_block_configuration` = `all` turns the four Block Public Access flags on for
//! every account below it (and makes account-level changes fail); `none` leaves them to the
//! accounts. Read from `DescribeEffectivePolicy`, or merged from the hierarchy by `inherit`.

use super::inherit::{self, Inherited};
use super::{Level, PolicyKind, Source};
use serde_json::Value;

pub const PATH: &[&str] = &["s3_attributes", "public_access_block_configuration"];
/// The value that blocks all public access.
pub const ALL: &str = "all";

/// What the S3 policy decides for one account's Block Public Access.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// `all` is in force.
    pub blocks_all: bool,
    /// The policy that set it (unknown when only the effective policy was read).
    pub set_by: Option<Source>,
    /// Problems, ignored changes and AWS's validation errors, as sentences.
    pub notes: Vec<String>,
}

/// The effective content `DescribeEffectivePolicy` returns: plain values or `@@assign`.
pub fn from_effective(content: &str) -> Verdict {
    let value: Value = match serde_json::from_str(content) {
        Ok(v) => v,
        Err(e) => {
            return Verdict {
                notes: vec![format!("the effective S3 policy is not valid JSON ({e})")],
                ..Verdict::default()
            };
        }
    };
    let mut node = &value;
    for key in PATH {
        match node.get(key) {
            Some(next) => node = next,
            None => return Verdict::default(),
        }
    }
    let setting = node.get("@@assign").unwrap_or(node);
    Verdict {
        blocks_all: setting.as_str() == Some(ALL),
        ..Verdict::default()
    }
}

/// Merges the attached S3 policies of the path (root first).
pub fn from_levels(levels: &[Level]) -> Verdict {
    // Of two values on one target, `none` protects less.
    let Inherited {
        value,
        set_by,
        ignored,
        problems,
        ..
    } = inherit::inherit(PolicyKind::S3, levels, PATH, |a, _| a.as_str() != Some(ALL));
    let blocks_all = value.as_ref().and_then(Value::as_str) == Some(ALL);
    Verdict {
        blocks_all,
        set_by: set_by.filter(|_| blocks_all),
        notes: ignored.into_iter().chain(problems).collect(),
    }
}

/// The S3 policy that enforces all of Block Public Access.
pub fn enforcing() -> Value {
    serde_json::json!({ "s3_attributes": { "public_access_block_configuration": { "@@assign": ALL } } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org_policy::{AttachedPolicy, TargetKind};
    use serde_json::json;

    #[test]
    fn effective_forms() {
        for (content, all) in [
            (
                r#"{"s3_attributes":{"public_access_block_configuration":"all"}}"#,
                true,
            ),
            (
                r#"{"s3_attributes":{"public_access_block_configuration":{"@@assign":"all"}}}"#,
                true,
            ),
            (
                r#"{"s3_attributes":{"public_access_block_configuration":"none"}}"#,
                false,
            ),
            ("{}", false),
            ("<html>500</html>", false),
        ] {
            assert_eq!(from_effective(content).blocks_all, all, "{content}");
        }
    }

    #[test]
    fn hierarchy_names_the_policy() {
        let levels = [
            Level {
                target_id: "r-ab12".into(),
                kind: TargetKind::Root,
                policies: vec![AttachedPolicy {
                    id: "p-s3all".into(),
                    content: enforcing().to_string(),
                }],
            },
            Level {
                target_id: "111122223333".into(),
                kind: TargetKind::Account,
                policies: vec![AttachedPolicy {
                    id: "p-none".into(),
                    content: json!({"s3_attributes": {"public_access_block_configuration": {"@@assign": "none"}}}).to_string(),
                }],
            },
        ];
        let v = from_levels(&levels[..1]);
        assert!(v.blocks_all);
        assert_eq!(
            v.set_by.map(|s| s.to_string()).as_deref(),
            Some("S3 policy p-s3all on r-ab12")
        );
        // Not locked: the account's own `none` wins.
        assert!(!from_levels(&levels).blocks_all);
    }
}

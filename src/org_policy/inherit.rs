//! Inheritance of management (declarative) policies, for one value at a path
//! (`s3_attributes.public_access_block_configuration`), as AWS Organizations documents it
//! ("Understanding management policy inheritance"):
//!
//! - `@@assign` overwrites the inherited value; `@@append` adds to an inherited list;
//!   `@@remove` takes values out of it.
//! - `@@operators_allowed_for_child_policies` on an element says which operators policies
//!   attached *lower* in the tree may use at and below it: `@@all`, a list of operators, or
//!   `@@none` (nothing). A child's change its parents forbid is ignored and reported.
//! - Policies attached to the same target are merged; where they assign different values the
//!   engine keeps the one the caller calls weaker, never erring towards compliance.
//!
//! The AI services opt-out policy has its own, stricter reading (`opt_out`: only `@@assign`);
//! this one serves the other management policy types, one value each.

use super::{Level, PolicyKind, Source};
use serde_json::Value;
use std::collections::BTreeSet;

const ASSIGN: &str = "@@assign";
const APPEND: &str = "@@append";
const REMOVE: &str = "@@remove";
const CHILD_OPERATORS: &str = "@@operators_allowed_for_child_policies";

/// What children may do below an element.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    All,
    Only(BTreeSet<String>),
}

impl Allowed {
    fn permits(&self, operator: &str) -> bool {
        match self {
            Allowed::All => true,
            Allowed::Only(ops) => ops.contains(operator),
        }
    }

    fn parse(value: &Value) -> Option<Allowed> {
        let list = value.as_array()?;
        let ops: Option<BTreeSet<String>> =
            list.iter().map(|v| v.as_str().map(str::to_owned)).collect();
        let ops = ops?;
        if ops.contains("@@all") {
            return (ops.len() == 1).then_some(Allowed::All);
        }
        if ops.contains("@@none") {
            return (ops.len() == 1).then(|| Allowed::Only(BTreeSet::new()));
        }
        ops.iter()
            .all(|o| matches!(o.as_str(), ASSIGN | APPEND | REMOVE))
            .then_some(Allowed::Only(ops))
    }

    fn narrow(&mut self, other: Allowed) {
        *self = match (std::mem::replace(self, Allowed::All), other) {
            (Allowed::All, o) => o,
            (s, Allowed::All) => s,
            (Allowed::Only(a), Allowed::Only(b)) => {
                Allowed::Only(a.intersection(&b).cloned().collect())
            }
        };
    }
}

/// The inherited value at one path, and how it came to be.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inherited {
    pub value: Option<Value>,
    /// The policy that last set the value.
    pub set_by: Option<Source>,
    /// The highest policy that keeps children from changing the value, if any.
    pub locked_by: Option<Source>,
    /// Changes a parent's lock overrode, as sentences.
    pub ignored: Vec<String>,
    /// Invalid content, reported and ignored.
    pub problems: Vec<String>,
}

/// Merges the levels top-down for the value at `path`. `weaker(a, b)`: of two values policies
/// on one target assign, whether `a` protects less than `b` (then `a` is kept).
pub fn inherit(
    kind: PolicyKind,
    levels: &[Level],
    path: &[&str],
    weaker: impl Fn(&Value, &Value) -> bool,
) -> Inherited {
    let mut out = Inherited::default();
    let mut allowed = Allowed::All;
    for level in levels {
        let mut locks_here: Vec<(Allowed, Source)> = Vec::new();
        let mut assigned_here: Option<(Value, Source)> = None;
        for policy in &level.policies {
            let source = Source {
                kind,
                policy_id: policy.id.clone(),
                target_id: level.target_id.clone(),
            };
            let doc: Value = match serde_json::from_str(&policy.content) {
                Ok(v) => v,
                Err(e) => {
                    out.problems
                        .push(format!("{source}: not valid JSON ({e}); ignored"));
                    continue;
                }
            };
            if !doc.is_object() {
                out.problems
                    .push(format!("{source}: expected a JSON object; ignored"));
                continue;
            }
            // Walk down the path, collecting the child-operator limits on the way.
            let mut node = &doc;
            let mut reached = true;
            for (depth, key) in path.iter().enumerate() {
                if let Some(ops) = node.get(CHILD_OPERATORS) {
                    match Allowed::parse(ops) {
                        Some(a) => locks_here.push((a, source.clone())),
                        None => out.problems.push(format!(
                            "{source}: {}: invalid {CHILD_OPERATORS}; ignored, so it locks nothing",
                            path[..depth].join(".")
                        )),
                    }
                }
                match node.get(key) {
                    Some(next) => node = next,
                    None => {
                        reached = false;
                        break;
                    }
                }
            }
            if !reached {
                continue;
            }
            let Some(leaf) = node.as_object() else {
                out.problems.push(format!(
                    "{source}: {}: a value must be written {{\"@@assign\": …}}; ignored",
                    path.join(".")
                ));
                continue;
            };
            for (op, value) in leaf {
                match op.as_str() {
                    CHILD_OPERATORS => match Allowed::parse(value) {
                        Some(a) => locks_here.push((a, source.clone())),
                        None => out.problems.push(format!(
                            "{source}: {}: invalid {CHILD_OPERATORS}; ignored, so it locks nothing",
                            path.join(".")
                        )),
                    },
                    ASSIGN | APPEND | REMOVE if !allowed.permits(op) => {
                        out.ignored.push(format!(
                            "{source} uses {op} on {}, ignored: {} does not allow it",
                            path.join("."),
                            out.locked_by
                                .as_ref()
                                .map_or_else(|| "a parent policy".to_owned(), ToString::to_string)
                        ));
                    }
                    ASSIGN => match &assigned_here {
                        Some((previous, _)) if !weaker(value, previous) => {}
                        _ => assigned_here = Some((value.clone(), source.clone())),
                    },
                    APPEND => {
                        let mut list = as_list(out.value.take());
                        for item in as_list(Some(value.clone())) {
                            if !list.contains(&item) {
                                list.push(item);
                            }
                        }
                        out.value = Some(Value::Array(list));
                        out.set_by = Some(source.clone());
                    }
                    REMOVE => {
                        let gone = as_list(Some(value.clone()));
                        out.value = match out.value.take() {
                            Some(Value::Array(items)) => Some(Value::Array(
                                items.into_iter().filter(|i| !gone.contains(i)).collect(),
                            )),
                            Some(scalar) if gone.contains(&scalar) => None,
                            other => other,
                        };
                        out.set_by = Some(source.clone());
                    }
                    other => out.problems.push(format!(
                        "{source}: {}: {other} is not an operator here; ignored",
                        path.join(".")
                    )),
                }
            }
        }
        if let Some((value, source)) = assigned_here {
            out.value = Some(value);
            out.set_by = Some(source);
        }
        // A lock binds the levels below, not the policies next to it.
        for (lock, source) in locks_here {
            if lock != Allowed::All && out.locked_by.is_none() {
                out.locked_by = Some(source);
            }
            allowed.narrow(lock);
        }
    }
    out
}

fn as_list(value: Option<Value>) -> Vec<Value> {
    match value {
        None => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org_policy::{AttachedPolicy, TargetKind};
    use serde_json::json;

    fn level(kind: TargetKind, id: &str, docs: &[Value]) -> Level {
        Level {
            target_id: id.to_owned(),
            kind,
            policies: docs
                .iter()
                .enumerate()
                .map(|(i, d)| AttachedPolicy {
                    id: format!("p-{id}-{i}"),
                    content: d.to_string(),
                })
                .collect(),
        }
    }

    const PATH: &[&str] = &["s3_attributes", "public_access_block_configuration"];

    fn run(levels: &[Level]) -> Inherited {
        inherit(PolicyKind::S3, levels, PATH, |a, _| a == &json!("none"))
    }

    fn bpa(node: Value) -> Value {
        json!({ "s3_attributes": { "public_access_block_configuration": node } })
    }

    /// (name, levels, value, set_by, locked, ignored, problems)
    type Case = (
        &'static str,
        Vec<Level>,
        Option<Value>,
        Option<&'static str>,
        bool,
        usize,
        usize,
    );

    #[test]
    fn table() {
        let root = |d: &[Value]| level(TargetKind::Root, "r-1", d);
        let ou = |d: &[Value]| level(TargetKind::OrganizationalUnit, "ou-1", d);
        let acct = |d: &[Value]| level(TargetKind::Account, "111122223333", d);
        // (name, levels, value, set_by, locked, ignored, problems)
        let cases: Vec<Case> = vec![
            (
                "nothing attached",
                vec![root(&[]), acct(&[])],
                None,
                None,
                false,
                0,
                0,
            ),
            (
                "root assigns all",
                vec![root(&[bpa(json!({"@@assign": "all"}))]), acct(&[])],
                Some(json!("all")),
                Some("p-r-1-0"),
                false,
                0,
                0,
            ),
            (
                "a child overrides without a lock",
                vec![
                    root(&[bpa(json!({"@@assign": "all"}))]),
                    ou(&[bpa(json!({"@@assign": "none"}))]),
                ],
                Some(json!("none")),
                Some("p-ou-1-0"),
                false,
                0,
                0,
            ),
            (
                "a lock keeps the child's override out",
                vec![
                    root(&[bpa(
                        json!({"@@assign": "all", "@@operators_allowed_for_child_policies": ["@@none"]}),
                    )]),
                    ou(&[bpa(json!({"@@assign": "none"}))]),
                    acct(&[]),
                ],
                Some(json!("all")),
                Some("p-r-1-0"),
                true,
                1,
                0,
            ),
            (
                "a lock higher on the path (s3_attributes) binds too",
                vec![
                    root(&[
                        json!({"s3_attributes": {"@@operators_allowed_for_child_policies": ["@@none"],
                        "public_access_block_configuration": {"@@assign": "all"}}}),
                    ]),
                    acct(&[bpa(json!({"@@assign": "none"}))]),
                ],
                Some(json!("all")),
                Some("p-r-1-0"),
                true,
                1,
                0,
            ),
            (
                "a lock binds children, not the policies next to it",
                vec![root(&[
                    bpa(
                        json!({"@@assign": "all", "@@operators_allowed_for_child_policies": ["@@none"]}),
                    ),
                    bpa(json!({"@@assign": "none"})),
                ])],
                Some(json!("none")),
                Some("p-r-1-1"),
                true,
                0,
                0,
            ),
            (
                "@@assign allowed, @@append not",
                vec![
                    root(&[bpa(
                        json!({"@@assign": ["a"], "@@operators_allowed_for_child_policies": ["@@assign"]}),
                    )]),
                    ou(&[bpa(json!({"@@append": ["b"]}))]),
                ],
                Some(json!(["a"])),
                Some("p-r-1-0"),
                true,
                1,
                0,
            ),
            (
                "@@append and @@remove on lists",
                vec![
                    root(&[bpa(json!({"@@assign": ["a", "b"]}))]),
                    ou(&[bpa(json!({"@@append": ["c"]}))]),
                    acct(&[bpa(json!({"@@remove": ["a"]}))]),
                ],
                Some(json!(["b", "c"])),
                Some("p-111122223333-0"),
                false,
                0,
                0,
            ),
            (
                "a plain value, bad JSON, an unknown operator and a bad lock are problems",
                vec![root(&[
                    bpa(json!("all")),
                    Value::String("{".into()),
                    bpa(
                        json!({"@@set": "all", "@@operators_allowed_for_child_policies": "@@none"}),
                    ),
                ])],
                None,
                None,
                false,
                0,
                4,
            ),
        ];
        for (name, levels, value, set_by, locked, ignored, problems) in cases {
            let got = run(&levels);
            assert_eq!(got.value, value, "{name}");
            assert_eq!(
                got.set_by.as_ref().map(|s| s.policy_id.as_str()),
                set_by,
                "{name}"
            );
            assert_eq!(got.locked_by.is_some(), locked, "{name}");
            assert_eq!(got.ignored.len(), ignored, "{name}: {:?}", got.ignored);
            assert_eq!(got.problems.len(), problems, "{name}: {:?}", got.problems);
        }
    }

    #[test]
    fn conflicting_assignments_on_one_target_keep_the_weaker() {
        let levels = [level(
            TargetKind::Root,
            "r-1",
            &[
                bpa(json!({"@@assign": "none"})),
                bpa(json!({"@@assign": "all"})),
            ],
        )];
        assert_eq!(run(&levels).value, Some(json!("none")));
    }
}

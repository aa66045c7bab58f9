//! AI services opt-out policies (`AISERVICES_OPT_OUT_POLICY`): the effective setting of an
//! account, computed by inheritance, and the verdict for one service.
//!
//! Owns the syntax of this policy type, the AWS Organizations management-policy inheritance
//! rules as they apply to it, and the verdict (which value applies, which policy set it, whether a
//! policy lower in the tree could still opt the service back in). Pure: plain data in, plain data
//! out, no AWS SDK and no I/O. `aws::organizations` gathers the documents; `report` turns the
//! verdicts into report entries.
//!
//! The rules, as AWS documents them:
//! - `@@assign` is the only value-setting operator valid here, and only under `opt_out_policy`,
//!   with the case-sensitive values `optOut` and `optIn`.
//! - `@@operators_allowed_for_child_policies` under `services`, under a service key (or
//!   `default`) or under `opt_out_policy` says what policies attached lower in the tree may
//!   change at and below that element: `["@@assign"]` (or `["@@all"]`) anything, `["@@none"]`
//!   nothing. A child's change its parents forbid is ignored.
//! - A service's own `opt_out_policy` overrides `default.opt_out_policy`.
//!
//! Where AWS is silent the engine never errs towards compliance: invalid content is reported and
//! ignored (an invalid lock does not lock), and policies attached to the same target that assign
//! different values are reported as a conflict resolved to `optIn`.

pub mod report;

use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The Organizations policy type this module understands.
pub const POLICY_TYPE: &str = "AISERVICES_OPT_OUT_POLICY";
/// The service key that stands for every AI service without an entry of its own.
pub const DEFAULT_SERVICE: &str = "default";

const SERVICES: &str = "services";
const OPT_OUT_POLICY: &str = "opt_out_policy";
const ASSIGN: &str = "@@assign";
const CHILD_OPERATORS: &str = "@@operators_allowed_for_child_policies";

/// The value of an `opt_out_policy` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Setting {
    #[serde(rename = "optOut")]
    OptOut,
    #[serde(rename = "optIn")]
    OptIn,
}

impl Setting {
    pub fn as_str(self) -> &'static str {
        match self {
            Setting::OptOut => "optOut",
            Setting::OptIn => "optIn",
        }
    }

    /// Case-sensitive, as AWS reads it ("The policies do not work if you use unexpected
    /// capitalization").
    fn parse(text: &str) -> Option<Self> {
        match text {
            "optOut" => Some(Setting::OptOut),
            "optIn" => Some(Setting::OptIn),
            _ => None,
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a policy is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    Root,
    OrganizationalUnit,
    Account,
}

/// One policy attached to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedPolicy {
    pub id: String,
    pub content: String,
}

/// One node on the path from the root to the account, with the policies attached to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub target_id: String,
    pub kind: TargetKind,
    pub policies: Vec<AttachedPolicy>,
}

/// The path from the organization root down to the account, top-down.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hierarchy {
    pub levels: Vec<Level>,
}

impl Hierarchy {
    /// `root r-ab12 > ou-ab12-cd34 > account 111122223333`.
    pub fn describe(&self) -> String {
        self.levels
            .iter()
            .map(|level| match level.kind {
                TargetKind::Root => format!("root {}", level.target_id),
                TargetKind::OrganizationalUnit => level.target_id.clone(),
                TargetKind::Account => format!("account {}", level.target_id),
            })
            .collect::<Vec<_>>()
            .join(" > ")
    }

    /// The effective policy of the last level, merged top-down.
    pub fn merge(&self) -> Effective {
        merge(&self.levels)
    }
}

/// What set a value or a lock.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum Origin {
    /// A policy attached in the hierarchy.
    Policy {
        policy_id: String,
        target_id: String,
        target_kind: TargetKind,
    },
    /// The effective policy as `DescribeEffectivePolicy` returned it.
    EffectivePolicy,
}

impl Origin {
    fn policy(policy: &AttachedPolicy, level: &Level) -> Self {
        Origin::Policy {
            policy_id: policy.id.clone(),
            target_id: level.target_id.clone(),
            target_kind: level.kind,
        }
    }

    /// Whether a lock from here binds policies attached to the account itself.
    fn binds_account(&self) -> bool {
        match self {
            Origin::Policy { target_kind, .. } => *target_kind != TargetKind::Account,
            // An effective policy shows only what the account inherits.
            Origin::EffectivePolicy => true,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Policy {
                policy_id,
                target_id,
                ..
            } => write!(f, "policy {policy_id} on {target_id}"),
            Origin::EffectivePolicy => f.write_str("the effective policy"),
        }
    }
}

/// Why part of a policy document was ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    #[error("not valid JSON ({0})")]
    NotJson(String),
    #[error("expected a JSON object")]
    NotAnObject,
    #[error("no `services` element")]
    NoServices,
    #[error("unknown element")]
    UnknownKey,
    #[error("operator {0} is not valid in an AI services opt-out policy (only @@assign is)")]
    Operator(String),
    #[error("@@assign is valid only under opt_out_policy")]
    MisplacedAssign,
    #[error("{0} is neither \"optOut\" nor \"optIn\" (the values are case-sensitive)")]
    BadValue(String),
    #[error("a setting must be written {{\"@@assign\": \"optOut\"}}, not as a plain value")]
    PlainValue,
    #[error(
        "@@operators_allowed_for_child_policies must be [\"@@assign\"], [\"@@all\"] or [\"@@none\"]; ignored, so it locks nothing"
    )]
    BadChildOperators,
}

/// One problem found in a policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Which document (`policy p-… on ou-…`, or the effective policy).
    pub origin: Origin,
    /// JSON path of the offending element, `services.rekognition.opt_out_policy`.
    pub path: String,
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.origin, self.kind)
        } else {
            write!(f, "{}: {}: {}", self.origin, self.path, self.kind)
        }
    }
}

/// One service's section of a parsed document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceSection {
    /// `services.<key>.@@operators_allowed_for_child_policies` is `["@@none"]`.
    pub key_locked: bool,
    /// `services.<key>.opt_out_policy`'s value.
    pub value: Option<Setting>,
    /// `services.<key>.opt_out_policy.@@operators_allowed_for_child_policies` is `["@@none"]`.
    pub value_locked: bool,
}

/// The valid part of one policy document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyDocument {
    /// `services.@@operators_allowed_for_child_policies` is `["@@none"]`.
    pub services_locked: bool,
    pub services: BTreeMap<String, ServiceSection>,
    /// Whether the document says anything about child policies at all (an effective policy
    /// usually does not, so its locks are unknown).
    pub has_child_controls: bool,
}

/// The two ways a document may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    /// A policy as attached: every value under `@@assign`.
    Attached,
    /// An effective policy: values may be plain (`"opt_out_policy": "optOut"`) or assigned.
    Effective,
}

/// Parses an attached policy. Invalid parts are left out of the document and listed.
pub fn parse_policy(content: &str, origin: &Origin) -> (PolicyDocument, Vec<Problem>) {
    Parser::new(origin, Syntax::Attached).document(content)
}

/// Parses the content `DescribeEffectivePolicy` returns, accepting plain values and
/// `{"@@assign": …}` alike.
pub fn parse_effective(content: &str) -> (PolicyDocument, Vec<Problem>) {
    Parser::new(&Origin::EffectivePolicy, Syntax::Effective).document(content)
}

struct Parser<'a> {
    origin: &'a Origin,
    syntax: Syntax,
    problems: Vec<Problem>,
}

impl<'a> Parser<'a> {
    fn new(origin: &'a Origin, syntax: Syntax) -> Self {
        Self {
            origin,
            syntax,
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, path: &str, kind: ProblemKind) {
        self.problems.push(Problem {
            origin: self.origin.clone(),
            path: path.to_owned(),
            kind,
        });
    }

    fn document(mut self, content: &str) -> (PolicyDocument, Vec<Problem>) {
        let mut doc = PolicyDocument::default();
        let root = match serde_json::from_str::<Value>(content) {
            Ok(value) => value,
            Err(err) => {
                self.problem("", ProblemKind::NotJson(err.to_string()));
                return (doc, self.problems);
            }
        };
        let Some(root) = root.as_object() else {
            self.problem("", ProblemKind::NotAnObject);
            return (doc, self.problems);
        };
        for key in root.keys() {
            if key != SERVICES {
                self.unexpected(key, key);
            }
        }
        match root.get(SERVICES) {
            Some(Value::Object(services)) => self.services(services, &mut doc),
            Some(_) => self.problem(SERVICES, ProblemKind::NotAnObject),
            None if self.syntax == Syntax::Attached => self.problem("", ProblemKind::NoServices),
            None => {}
        }
        (doc, self.problems)
    }

    /// A key that has no meaning where it stands.
    fn unexpected(&mut self, path: &str, key: &str) {
        let kind = match key {
            ASSIGN => ProblemKind::MisplacedAssign,
            op if op.starts_with("@@") => ProblemKind::Operator(op.to_owned()),
            _ => ProblemKind::UnknownKey,
        };
        self.problem(path, kind);
    }

    fn services(&mut self, services: &Map<String, Value>, doc: &mut PolicyDocument) {
        for (key, value) in services {
            let path = format!("{SERVICES}.{key}");
            if key == CHILD_OPERATORS {
                doc.has_child_controls = true;
                doc.services_locked = self.child_operators(&path, value);
            } else if key.starts_with("@@") {
                self.unexpected(&path, key);
            } else if let Some(section) = value.as_object() {
                let section = self.service(&path, section, doc);
                doc.services.insert(key.clone(), section);
            } else {
                self.problem(&path, ProblemKind::NotAnObject);
            }
        }
    }

    fn service(
        &mut self,
        path: &str,
        section: &Map<String, Value>,
        doc: &mut PolicyDocument,
    ) -> ServiceSection {
        let mut out = ServiceSection::default();
        for (key, value) in section {
            let path = format!("{path}.{key}");
            match key.as_str() {
                CHILD_OPERATORS => {
                    doc.has_child_controls = true;
                    out.key_locked = self.child_operators(&path, value);
                }
                OPT_OUT_POLICY => self.opt_out_policy(&path, value, &mut out, doc),
                _ => self.unexpected(&path, key),
            }
        }
        out
    }

    fn opt_out_policy(
        &mut self,
        path: &str,
        value: &Value,
        out: &mut ServiceSection,
        doc: &mut PolicyDocument,
    ) {
        match value {
            Value::String(text) if self.syntax == Syntax::Effective => {
                out.value = self.setting(path, text);
            }
            Value::String(_) => self.problem(path, ProblemKind::PlainValue),
            Value::Object(node) => {
                for (key, value) in node {
                    let path = format!("{path}.{key}");
                    match (key.as_str(), value) {
                        (ASSIGN, Value::String(text)) => out.value = self.setting(&path, text),
                        (ASSIGN, other) => {
                            self.problem(&path, ProblemKind::BadValue(other.to_string()))
                        }
                        (CHILD_OPERATORS, _) => {
                            doc.has_child_controls = true;
                            out.value_locked = self.child_operators(&path, value);
                        }
                        _ => self.unexpected(&path, key),
                    }
                }
            }
            other => self.problem(path, ProblemKind::BadValue(other.to_string())),
        }
    }

    fn setting(&mut self, path: &str, text: &str) -> Option<Setting> {
        let setting = Setting::parse(text);
        if setting.is_none() {
            self.problem(path, ProblemKind::BadValue(format!("{text:?}")));
        }
        setting
    }

    /// Whether the list locks the element for children. Only an exactly valid `["@@none"]`
    /// locks: an invalid list is reported and locks nothing, so that it can never hide a
    /// child's opt-in.
    fn child_operators(&mut self, path: &str, value: &Value) -> bool {
        let Some(list) = value.as_array() else {
            self.problem(path, ProblemKind::BadChildOperators);
            return false;
        };
        let mut none = false;
        let mut assign = false;
        for item in list {
            match item.as_str() {
                Some("@@none") => none = true,
                Some("@@assign" | "@@all") => assign = true,
                Some(op @ ("@@append" | "@@remove")) => {
                    self.problem(path, ProblemKind::Operator(op.to_owned()));
                    return false;
                }
                _ => {
                    self.problem(path, ProblemKind::BadChildOperators);
                    return false;
                }
            }
        }
        if none == assign {
            // Empty, or `@@none` next to an operator: meaningless.
            self.problem(path, ProblemKind::BadChildOperators);
            return false;
        }
        none
    }
}

/// An element policies lower in the tree may not change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "element", content = "service", rename_all = "kebab-case")]
pub enum LockedElement {
    /// `services`: nothing under it.
    Services,
    /// `services.<key>`.
    Service(String),
    /// `services.<key>.opt_out_policy`.
    OptOutPolicy(String),
}

impl fmt::Display for LockedElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockedElement::Services => f.write_str(SERVICES),
            LockedElement::Service(key) => write!(f, "{SERVICES}.{key}"),
            LockedElement::OptOutPolicy(key) => write!(f, "{SERVICES}.{key}.{OPT_OUT_POLICY}"),
        }
    }
}

/// A value in the effective policy and the policy that put it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assigned {
    pub value: Setting,
    pub origin: Origin,
}

/// A child's change that a parent's lock overrode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IgnoredChange {
    pub service: String,
    pub value: Setting,
    pub origin: Origin,
    pub locked: LockedElement,
    pub locked_by: Origin,
}

impl fmt::Display for IgnoredChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sets {} to {}, ignored: {} locks {}",
            self.origin, self.service, self.value, self.locked_by, self.locked
        )
    }
}

/// Policies attached to the same target that assign different values to one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub service: String,
    pub target_id: String,
    /// Each policy's value, in the order given.
    pub assignments: Vec<(String, Setting)>,
    /// The value the engine kept: always `optIn`, the one that does not protect the data.
    pub kept: Setting,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let each = self
            .assignments
            .iter()
            .map(|(policy, value)| format!("{policy} {value}"))
            .collect::<Vec<_>>()
            .join(", ");
        write!(
            f,
            "policies on {} disagree on {} ({each}); counted as {}",
            self.target_id, self.service, self.kept
        )
    }
}

/// The effective AI services opt-out policy of an account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Effective {
    /// `opt_out_policy` per service key (`default` included).
    pub values: BTreeMap<String, Assigned>,
    /// Elements locked for policies lower in the tree, with the highest policy that locks each.
    pub locks: BTreeMap<LockedElement, Origin>,
    /// False when the locks could not be seen (an effective policy without operators).
    pub locks_known: bool,
    pub problems: Vec<Problem>,
    pub ignored: Vec<IgnoredChange>,
    pub conflicts: Vec<Conflict>,
}

/// Which entry decided a service's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecidedBy {
    /// The service's own `opt_out_policy`.
    Service,
    /// `default.opt_out_policy`.
    Default,
}

/// The verdict for one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub service: String,
    /// The effective value; `None` when no policy sets it (the service may use the content).
    pub setting: Option<Setting>,
    pub decided_by: Option<DecidedBy>,
    pub origin: Option<Origin>,
    /// Whether a policy attached to the account (or to an OU below the locks) could still opt
    /// the service in; `None` when the locks are unknown.
    pub child_can_opt_in: Option<bool>,
}

impl Verdict {
    pub fn is_opted_out(&self) -> bool {
        self.setting == Some(Setting::OptOut)
    }
}

impl Effective {
    /// The effective policy as `DescribeEffectivePolicy` returned it.
    pub fn from_effective_content(content: &str) -> Effective {
        let (doc, problems) = parse_effective(content);
        let origin = Origin::EffectivePolicy;
        let mut effective = Effective {
            locks_known: doc.has_child_controls,
            problems,
            ..Effective::default()
        };
        for (service, section) in &doc.services {
            if let Some(value) = section.value {
                effective.values.insert(
                    service.clone(),
                    Assigned {
                        value,
                        origin: origin.clone(),
                    },
                );
            }
        }
        effective.add_locks(&doc, &origin);
        effective
    }

    /// The lock, if any, that keeps `service`'s setting from changing below the merged levels.
    pub fn lock_for(&self, service: &str) -> Option<(&LockedElement, &Origin)> {
        self.locks_matching(service, |_| true)
    }

    fn locks_matching(
        &self,
        service: &str,
        keep: impl Fn(&Origin) -> bool,
    ) -> Option<(&LockedElement, &Origin)> {
        [
            LockedElement::Services,
            LockedElement::Service(service.to_owned()),
            LockedElement::OptOutPolicy(service.to_owned()),
        ]
        .into_iter()
        .find_map(|element| {
            self.locks
                .get_key_value(&element)
                .filter(|(_, origin)| keep(origin))
        })
    }

    /// The verdict for `service`: its own effective `opt_out_policy` when present, else
    /// `default.opt_out_policy`.
    pub fn verdict(&self, service: &str) -> Verdict {
        let (assigned, decided_by) = match self.values.get(service) {
            Some(assigned) => (Some(assigned), Some(DecidedBy::Service)),
            None => match self.values.get(DEFAULT_SERVICE) {
                Some(assigned) => (Some(assigned), Some(DecidedBy::Default)),
                None => (None, None),
            },
        };
        // A default lock does not matter: a child can still add the service's own entry.
        let child_can_opt_in = self.locks_known.then(|| {
            self.locks_matching(service, Origin::binds_account)
                .is_none()
        });
        Verdict {
            service: service.to_owned(),
            setting: assigned.map(|a| a.value),
            decided_by,
            origin: assigned.map(|a| a.origin.clone()),
            child_can_opt_in,
        }
    }

    fn add_locks(&mut self, doc: &PolicyDocument, origin: &Origin) {
        let mut lock = |element: LockedElement| {
            // The highest lock is the one to name; later ones add nothing.
            self.locks.entry(element).or_insert_with(|| origin.clone());
        };
        if doc.services_locked {
            lock(LockedElement::Services);
        }
        for (service, section) in &doc.services {
            if section.key_locked {
                lock(LockedElement::Service(service.clone()));
            }
            if section.value_locked {
                lock(LockedElement::OptOutPolicy(service.clone()));
            }
        }
    }
}

/// Merges the levels top-down (root first, account last) into the last level's effective policy.
pub fn merge(levels: &[Level]) -> Effective {
    let mut effective = Effective {
        locks_known: true,
        ..Effective::default()
    };
    for level in levels {
        let docs: Vec<(Origin, PolicyDocument)> = level
            .policies
            .iter()
            .map(|policy| {
                let origin = Origin::policy(policy, level);
                let (doc, problems) = parse_policy(&policy.content, &origin);
                effective.problems.extend(problems);
                (origin, doc)
            })
            .collect();

        // Values first, checked against the locks of the levels above only: a lock binds
        // children, not the policies attached next to it.
        let mut at_level: BTreeMap<String, Assigned> = BTreeMap::new();
        let mut conflicts: BTreeMap<String, Conflict> = BTreeMap::new();
        for (origin, doc) in &docs {
            for (service, section) in &doc.services {
                let Some(value) = section.value else { continue };
                if let Some((element, locked_by)) = effective.lock_for(service) {
                    effective.ignored.push(IgnoredChange {
                        service: service.clone(),
                        value,
                        origin: origin.clone(),
                        locked: element.clone(),
                        locked_by: locked_by.clone(),
                    });
                    continue;
                }
                let policy_id = policy_id_of(origin);
                match at_level.get_mut(service) {
                    None => {
                        at_level.insert(
                            service.clone(),
                            Assigned {
                                value,
                                origin: origin.clone(),
                            },
                        );
                    }
                    Some(previous) => {
                        let conflict =
                            conflicts
                                .entry(service.clone())
                                .or_insert_with(|| Conflict {
                                    service: service.clone(),
                                    target_id: level.target_id.clone(),
                                    assignments: vec![(
                                        policy_id_of(&previous.origin),
                                        previous.value,
                                    )],
                                    kept: Setting::OptIn,
                                });
                        conflict.assignments.push((policy_id, value));
                        if value == Setting::OptIn && previous.value == Setting::OptOut {
                            *previous = Assigned {
                                value,
                                origin: origin.clone(),
                            };
                        }
                    }
                }
            }
        }
        effective.conflicts.extend(
            conflicts
                .into_values()
                .filter(|c| c.assignments.iter().any(|(_, v)| *v != c.assignments[0].1)),
        );
        effective.values.extend(at_level);

        for (origin, doc) in &docs {
            effective.add_locks(doc, origin);
        }
    }
    effective
}

fn policy_id_of(origin: &Origin) -> String {
    match origin {
        Origin::Policy { policy_id, .. } => policy_id.clone(),
        Origin::EffectivePolicy => "effective".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn level(kind: TargetKind, id: &str, policies: &[Value]) -> Level {
        Level {
            target_id: id.to_owned(),
            kind,
            policies: policies
                .iter()
                .enumerate()
                .map(|(i, content)| AttachedPolicy {
                    id: format!("p-{id}-{i}"),
                    content: match content {
                        Value::String(raw) => raw.clone(),
                        other => other.to_string(),
                    },
                })
                .collect(),
        }
    }

    fn root(policies: &[Value]) -> Level {
        level(TargetKind::Root, "r-ab12", policies)
    }

    fn ou(id: &str, policies: &[Value]) -> Level {
        level(TargetKind::OrganizationalUnit, id, policies)
    }

    fn account(policies: &[Value]) -> Level {
        level(TargetKind::Account, "111122223333", policies)
    }

    fn assign(value: &str) -> Value {
        json!({ "opt_out_policy": { "@@assign": value } })
    }

    fn locked_assign(value: &str) -> Value {
        json!({ "opt_out_policy": {
            "@@operators_allowed_for_child_policies": ["@@none"],
            "@@assign": value } })
    }

    /// AWS's "opt out of all AI services" example: everything locked at the root.
    fn aws_lock_everything() -> Value {
        json!({ "services": {
            "@@operators_allowed_for_child_policies": ["@@none"],
            "default": {
                "@@operators_allowed_for_child_policies": ["@@none"],
                "opt_out_policy": {
                    "@@operators_allowed_for_child_policies": ["@@none"],
                    "@@assign": "optOut" } } } })
    }

    /// AWS's "organization-wide default, children may override per service" example.
    fn aws_lock_default_only() -> Value {
        json!({ "services": {
            "default": {
                "@@operators_allowed_for_child_policies": ["@@none"],
                "opt_out_policy": {
                    "@@operators_allowed_for_child_policies": ["@@none"],
                    "@@assign": "optOut" } } } })
    }

    /// AWS's syntax example for a root: default out, Comprehend locked out, Rekognition in.
    fn aws_root_with_exemption() -> Value {
        json!({ "services": {
            "default": assign("optOut"),
            "comprehend": locked_assign("optOut"),
            "rekognition": assign("optIn") } })
    }

    /// (service, expected setting, decided by, expected `child_can_opt_in`)
    type Expect = (
        &'static str,
        Option<Setting>,
        Option<DecidedBy>,
        Option<bool>,
    );

    struct Case {
        name: &'static str,
        levels: Vec<Level>,
        expect: Vec<Expect>,
        ignored: usize,
        conflicts: usize,
        problems: usize,
    }

    use DecidedBy::{Default as Dflt, Service as Svc};
    use Setting::{OptIn, OptOut};

    fn cases() -> Vec<Case> {
        vec![
            Case {
                name: "AWS basic syntax example attached to the account only",
                levels: vec![
                    root(&[]),
                    account(&[json!({ "services": {
                        "rekognition": assign("optOut"), "lex": assign("optIn") } })]),
                ],
                expect: vec![
                    ("rekognition", Some(OptOut), Some(Svc), Some(true)),
                    ("lex", Some(OptIn), Some(Svc), Some(true)),
                    ("comprehend", None, None, Some(true)),
                ],
                ignored: 0,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "AWS root example: default out, Comprehend locked, Rekognition exempted (in)",
                levels: vec![root(&[aws_root_with_exemption()]), account(&[])],
                expect: vec![
                    ("rekognition", Some(OptIn), Some(Svc), Some(true)),
                    ("comprehend", Some(OptOut), Some(Svc), Some(false)),
                    ("lex", Some(OptOut), Some(Dflt), Some(true)),
                ],
                ignored: 0,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "AWS root example, the account tries to opt in to the locked Comprehend",
                levels: vec![
                    root(&[aws_root_with_exemption()]),
                    account(&[json!({ "services": { "comprehend": assign("optIn") } })]),
                ],
                expect: vec![("comprehend", Some(OptOut), Some(Svc), Some(false))],
                ignored: 1,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "AWS root example, the account opts Rekognition back out",
                levels: vec![
                    root(&[aws_root_with_exemption()]),
                    account(&[json!({ "services": { "rekognition": assign("optOut") } })]),
                ],
                expect: vec![("rekognition", Some(OptOut), Some(Svc), Some(true))],
                ignored: 0,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "AWS example 1: everything locked at the root, an OU tries to opt in",
                levels: vec![
                    root(&[aws_lock_everything()]),
                    ou(
                        "ou-ab12-11111111",
                        &[json!({ "services": { "rekognition": assign("optIn"),
                                                "default": assign("optIn") } })],
                    ),
                    account(&[]),
                ],
                expect: vec![
                    ("rekognition", Some(OptOut), Some(Dflt), Some(false)),
                    ("lex", Some(OptOut), Some(Dflt), Some(false)),
                ],
                ignored: 2,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "AWS example 2: default locked only, the account opts in to Lex",
                levels: vec![
                    root(&[aws_lock_default_only()]),
                    account(&[json!({ "services": { "lex": assign("optIn") } })]),
                ],
                expect: vec![
                    ("lex", Some(OptIn), Some(Svc), Some(true)),
                    ("rekognition", Some(OptOut), Some(Dflt), Some(true)),
                ],
                ignored: 0,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "root locks Rekognition's value, an OU tries to opt in",
                levels: vec![
                    root(&[json!({ "services": { "rekognition": locked_assign("optOut") } })]),
                    ou(
                        "ou-ab12-11111111",
                        &[json!({ "services": { "rekognition": assign("optIn") } })],
                    ),
                    account(&[]),
                ],
                expect: vec![("rekognition", Some(OptOut), Some(Svc), Some(false))],
                ignored: 1,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "root locks the Rekognition key, the account tries to opt in",
                levels: vec![
                    root(&[json!({ "services": { "rekognition": {
                        "@@operators_allowed_for_child_policies": ["@@none"],
                        "opt_out_policy": { "@@assign": "optOut" } } } })]),
                    account(&[json!({ "services": { "rekognition": assign("optIn") } })]),
                ],
                expect: vec![("rekognition", Some(OptOut), Some(Svc), Some(false))],
                ignored: 1,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "unlocked root default out, account-level override opts Rekognition in",
                levels: vec![
                    root(&[json!({ "services": { "default": assign("optOut") } })]),
                    account(&[json!({ "services": { "rekognition": assign("optIn") } })]),
                ],
                expect: vec![
                    ("rekognition", Some(OptIn), Some(Svc), Some(true)),
                    ("lex", Some(OptOut), Some(Dflt), Some(true)),
                ],
                ignored: 0,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "unlocked root opts in, the account overrides to opt out",
                levels: vec![
                    root(&[json!({ "services": { "default": assign("optIn") } })]),
                    account(&[json!({ "services": { "rekognition": assign("optOut") } })]),
                ],
                expect: vec![
                    ("rekognition", Some(OptOut), Some(Svc), Some(true)),
                    ("lex", Some(OptIn), Some(Dflt), Some(true)),
                ],
                ignored: 0,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "two policies on one OU disagree: counted as optIn, reported",
                levels: vec![
                    root(&[]),
                    ou(
                        "ou-ab12-11111111",
                        &[
                            json!({ "services": { "rekognition": assign("optOut") } }),
                            json!({ "services": { "rekognition": assign("optIn") } }),
                        ],
                    ),
                    account(&[]),
                ],
                expect: vec![("rekognition", Some(OptIn), Some(Svc), Some(true))],
                ignored: 0,
                conflicts: 1,
                problems: 0,
            },
            Case {
                name: "two policies on one OU agree: no conflict",
                levels: vec![
                    root(&[]),
                    ou(
                        "ou-ab12-11111111",
                        &[
                            json!({ "services": { "rekognition": assign("optOut") } }),
                            json!({ "services": { "rekognition": assign("optOut"),
                                                  "default": assign("optIn") } }),
                        ],
                    ),
                    account(&[]),
                ],
                expect: vec![
                    ("rekognition", Some(OptOut), Some(Svc), Some(true)),
                    ("lex", Some(OptIn), Some(Dflt), Some(true)),
                ],
                ignored: 0,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "nested OUs disagree: the lower OU wins while nothing locks",
                levels: vec![
                    root(&[]),
                    ou(
                        "ou-ab12-11111111",
                        &[json!({ "services": { "rekognition": assign("optOut") } })],
                    ),
                    ou(
                        "ou-ab12-22222222",
                        &[json!({ "services": { "rekognition": assign("optIn") } })],
                    ),
                    account(&[]),
                ],
                expect: vec![("rekognition", Some(OptIn), Some(Svc), Some(true))],
                ignored: 0,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "nested OUs: the upper OU locks services, the lower OU's opt-in is ignored",
                levels: vec![
                    root(&[json!({ "services": { "default": assign("optIn") } })]),
                    ou(
                        "ou-ab12-11111111",
                        &[json!({ "services": {
                            "@@operators_allowed_for_child_policies": ["@@none"],
                            "rekognition": assign("optOut") } })],
                    ),
                    ou(
                        "ou-ab12-22222222",
                        &[json!({ "services": { "rekognition": assign("optIn") } })],
                    ),
                    account(&[json!({ "services": { "lex": assign("optOut") } })]),
                ],
                expect: vec![
                    ("rekognition", Some(OptOut), Some(Svc), Some(false)),
                    ("lex", Some(OptIn), Some(Dflt), Some(false)),
                ],
                ignored: 2,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "a child cannot unlock: an OU re-allows @@assign under a root lock",
                levels: vec![
                    root(&[json!({ "services": { "rekognition": locked_assign("optOut") } })]),
                    ou(
                        "ou-ab12-11111111",
                        &[json!({ "services": { "rekognition": { "opt_out_policy": {
                            "@@operators_allowed_for_child_policies": ["@@assign"],
                            "@@assign": "optIn" } } } })],
                    ),
                    account(&[json!({ "services": { "rekognition": assign("optIn") } })]),
                ],
                expect: vec![("rekognition", Some(OptOut), Some(Svc), Some(false))],
                ignored: 2,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "a lock in the account's own policy does not stop another account policy",
                levels: vec![
                    root(&[json!({ "services": { "default": assign("optOut") } })]),
                    account(&[json!({ "services": { "rekognition": locked_assign("optOut") } })]),
                ],
                expect: vec![("rekognition", Some(OptOut), Some(Svc), Some(true))],
                ignored: 0,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "no policy anywhere: nothing applies",
                levels: vec![root(&[]), ou("ou-ab12-11111111", &[]), account(&[])],
                expect: vec![("rekognition", None, None, Some(true))],
                ignored: 0,
                conflicts: 0,
                problems: 0,
            },
            Case {
                name: "invalid JSON is reported and ignored; the valid policy still applies",
                levels: vec![
                    root(&[
                        Value::String("{ not json".into()),
                        json!({ "services": { "default": assign("optOut") } }),
                    ]),
                    account(&[]),
                ],
                expect: vec![("rekognition", Some(OptOut), Some(Dflt), Some(true))],
                ignored: 0,
                conflicts: 0,
                problems: 1,
            },
            Case {
                name: "wrong capitalisation, a plain value and @@append are reported, not applied",
                levels: vec![
                    root(&[json!({ "services": {
                        "default": assign("OptOut"),
                        "rekognition": { "opt_out_policy": "optOut" },
                        "lex": { "opt_out_policy": { "@@append": "optOut" } } } })]),
                    account(&[]),
                ],
                expect: vec![
                    ("rekognition", None, None, Some(true)),
                    ("lex", None, None, Some(true)),
                ],
                ignored: 0,
                conflicts: 0,
                problems: 3,
            },
            Case {
                name: "an invalid lock locks nothing, so the account's opt-in stands",
                levels: vec![
                    root(&[json!({ "services": { "rekognition": { "opt_out_policy": {
                        "@@operators_allowed_for_child_policies": ["@@nothing"],
                        "@@assign": "optOut" } } } })]),
                    account(&[json!({ "services": { "rekognition": assign("optIn") } })]),
                ],
                expect: vec![("rekognition", Some(OptIn), Some(Svc), Some(true))],
                ignored: 0,
                conflicts: 0,
                problems: 1,
            },
            Case {
                name: "wrong shapes everywhere: reported, never a panic",
                levels: vec![
                    root(&[
                        json!([1, 2, 3]),
                        json!({ "services": [] }),
                        json!({ "service": {} }),
                        json!({ "services": {
                            "@@assign": "optOut",
                            "rekognition": "optOut",
                            "lex": { "opt_out_policy": 7, "extra": true },
                            "default": { "opt_out_policy": { "@@assign": ["optOut"] } } } }),
                    ]),
                    account(&[json!(null)]),
                ],
                expect: vec![("rekognition", None, None, Some(true))],
                ignored: 0,
                conflicts: 0,
                // array root, services not an object, unknown `service` + missing `services`,
                // misplaced @@assign, rekognition not an object, bad lex value, unknown
                // `extra`, bad default value, null root.
                problems: 10,
            },
        ]
    }

    #[test]
    fn hierarchy_table() {
        let cases = cases();
        assert!(cases.len() >= 15);
        for case in cases {
            let effective = merge(&case.levels);
            for (service, setting, decided_by, child) in &case.expect {
                let verdict = effective.verdict(service);
                assert_eq!(
                    verdict.setting, *setting,
                    "{}: {service} setting",
                    case.name
                );
                assert_eq!(
                    verdict.decided_by, *decided_by,
                    "{}: {service} from",
                    case.name
                );
                assert_eq!(
                    verdict.child_can_opt_in, *child,
                    "{}: {service} child",
                    case.name
                );
            }
            assert_eq!(
                effective.ignored.len(),
                case.ignored,
                "{}: ignored {:?}",
                case.name,
                effective.ignored
            );
            assert_eq!(
                effective.conflicts.len(),
                case.conflicts,
                "{}: conflicts {:?}",
                case.name,
                effective.conflicts
            );
            assert_eq!(
                effective.problems.len(),
                case.problems,
                "{}: problems {:#?}",
                case.name,
                effective.problems
            );
        }
    }

    #[test]
    fn ignored_change_names_the_lock_and_its_policy() {
        let effective = merge(&[
            root(&[aws_lock_everything()]),
            ou(
                "ou-ab12-11111111",
                &[json!({ "services": { "rekognition": assign("optIn") } })],
            ),
        ]);
        let text = effective.ignored[0].to_string();
        assert_eq!(
            text,
            "policy p-ou-ab12-11111111-0 on ou-ab12-11111111 sets rekognition to optIn, \
             ignored: policy p-r-ab12-0 on r-ab12 locks services"
        );
    }

    #[test]
    fn verdict_names_the_policy_that_set_the_value() {
        let effective = merge(&[
            root(&[aws_lock_default_only()]),
            account(&[json!({ "services": { "lex": assign("optIn") } })]),
        ]);
        let verdict = effective.verdict("rekognition");
        assert_eq!(
            verdict.origin.map(|o| o.to_string()).as_deref(),
            Some("policy p-r-ab12-0 on r-ab12")
        );
    }

    #[test]
    fn conflict_is_described() {
        let effective = merge(&[ou(
            "ou-ab12-11111111",
            &[
                json!({ "services": { "rekognition": assign("optIn") } }),
                json!({ "services": { "rekognition": assign("optOut") } }),
            ],
        )]);
        assert_eq!(effective.verdict("rekognition").setting, Some(OptIn));
        assert_eq!(
            effective.conflicts[0].to_string(),
            "policies on ou-ab12-11111111 disagree on rekognition \
             (p-ou-ab12-11111111-0 optIn, p-ou-ab12-11111111-1 optOut); counted as optIn"
        );
    }

    #[test]
    fn problems_name_policy_and_path() {
        let effective = merge(&[root(&[
            json!({ "services": { "rekognition": assign("optout") } }),
        ])]);
        assert_eq!(
            effective.problems[0].to_string(),
            "policy p-r-ab12-0 on r-ab12: services.rekognition.opt_out_policy.@@assign: \
             \"optout\" is neither \"optOut\" nor \"optIn\" (the values are case-sensitive)"
        );
    }

    #[test]
    fn describe_renders_the_path() {
        let hierarchy = Hierarchy {
            levels: vec![root(&[]), ou("ou-ab12-11111111", &[]), account(&[])],
        };
        assert_eq!(
            hierarchy.describe(),
            "root r-ab12 > ou-ab12-11111111 > account 111122223333"
        );
    }

    #[test]
    fn effective_content_plain_values() {
        // The shape DescribeEffectivePolicy returns: operators resolved, plain values.
        let effective = Effective::from_effective_content(
            r#"{"services":{"default":{"opt_out_policy":"optOut"},"lex":{"opt_out_policy":"optIn"}}}"#,
        );
        assert!(effective.problems.is_empty(), "{:?}", effective.problems);
        let rekognition = effective.verdict("rekognition");
        assert_eq!(rekognition.setting, Some(OptOut));
        assert_eq!(rekognition.decided_by, Some(Dflt));
        assert_eq!(rekognition.origin, Some(Origin::EffectivePolicy));
        assert_eq!(rekognition.child_can_opt_in, None, "locks are not visible");
        assert_eq!(effective.verdict("lex").setting, Some(OptIn));
    }

    #[test]
    fn effective_content_assign_form_and_locks() {
        let effective = Effective::from_effective_content(
            &json!({ "services": {
                "rekognition": { "opt_out_policy": { "@@assign": "optOut" } },
                "default": locked_assign("optIn") } })
            .to_string(),
        );
        assert!(effective.problems.is_empty(), "{:?}", effective.problems);
        let verdict = effective.verdict("rekognition");
        assert_eq!(verdict.setting, Some(OptOut));
        assert_eq!(verdict.decided_by, Some(Svc));
        assert_eq!(verdict.child_can_opt_in, Some(true));
        assert_eq!(effective.verdict("lex").setting, Some(OptIn));

        let locked = Effective::from_effective_content(&aws_lock_everything().to_string());
        assert_eq!(locked.verdict("rekognition").child_can_opt_in, Some(false));
    }

    #[test]
    fn effective_content_invalid() {
        for content in ["", "null", "[]", "{\"services\": 1}", "<html>500</html>"] {
            let effective = Effective::from_effective_content(content);
            assert_eq!(effective.problems.len(), 1, "{content:?}");
            assert_eq!(effective.verdict("rekognition").setting, None);
        }
        // An empty effective policy is valid and sets nothing.
        let empty = Effective::from_effective_content("{}");
        assert!(empty.problems.is_empty());
        assert_eq!(empty.verdict("rekognition").setting, None);
    }

    #[test]
    fn setting_serializes_as_aws_writes_it() {
        assert_eq!(serde_json::to_value(OptOut).ok(), Some(json!("optOut")));
        assert_eq!(serde_json::to_value(OptIn).ok(), Some(json!("optIn")));
    }

    // --- properties ---------------------------------------------------------------------

    const KEYS: [&str; 4] = ["default", "rekognition", "lex", "comprehend"];

    fn child_ops() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            4 => Just(None),
            3 => Just(Some(json!(["@@none"]))),
            2 => Just(Some(json!(["@@assign"]))),
            1 => Just(Some(json!(["@@all"]))),
            1 => Just(Some(json!(["@@none", "@@assign"]))),
            1 => Just(Some(json!("@@none"))),
            1 => Just(Some(json!(["@@append"]))),
        ]
    }

    fn value() -> impl Strategy<Value = Option<Value>> {
        prop_oneof![
            2 => Just(None),
            4 => Just(Some(json!("optOut"))),
            4 => Just(Some(json!("optIn"))),
            1 => Just(Some(json!("OPTOUT"))),
            1 => Just(Some(json!(1))),
        ]
    }

    fn opt_out_node() -> impl Strategy<Value = Value> {
        prop_oneof![
            8 => (value(), child_ops()).prop_map(|(value, ops)| {
                let mut node = Map::new();
                if let Some(v) = value { node.insert(ASSIGN.into(), v); }
                if let Some(o) = ops { node.insert(CHILD_OPERATORS.into(), o); }
                Value::Object(node)
            }),
            1 => Just(json!("optOut")),
            1 => Just(json!({ "@@append": "optIn" })),
        ]
    }

    fn section() -> impl Strategy<Value = Value> {
        prop_oneof![
            9 => (proptest::option::of(opt_out_node()), child_ops()).prop_map(|(node, ops)| {
                let mut section = Map::new();
                if let Some(n) = node { section.insert(OPT_OUT_POLICY.into(), n); }
                if let Some(o) = ops { section.insert(CHILD_OPERATORS.into(), o); }
                Value::Object(section)
            }),
            1 => Just(json!("optIn")),
        ]
    }

    fn policy_content() -> impl Strategy<Value = String> {
        prop_oneof![
            12 => (child_ops(), proptest::collection::btree_map(
                    proptest::sample::select(KEYS.to_vec()), section(), 0..4))
                .prop_map(|(ops, sections)| {
                    let mut services = Map::new();
                    if let Some(o) = ops { services.insert(CHILD_OPERATORS.into(), o); }
                    for (key, section) in sections { services.insert(key.into(), section); }
                    json!({ "services": services }).to_string()
                }),
            1 => Just("not json".to_owned()),
            1 => Just("[]".to_owned()),
            1 => ".{0,40}",
        ]
    }

    fn hierarchy() -> impl Strategy<Value = Vec<Level>> {
        proptest::collection::vec(proptest::collection::vec(policy_content(), 0..3), 1..6).prop_map(
            |levels| {
                let count = levels.len();
                levels
                    .into_iter()
                    .enumerate()
                    .map(|(i, contents)| {
                        let kind = if i == 0 {
                            TargetKind::Root
                        } else if i + 1 == count {
                            TargetKind::Account
                        } else {
                            TargetKind::OrganizationalUnit
                        };
                        Level {
                            target_id: format!("t-{i}"),
                            kind,
                            policies: contents
                                .into_iter()
                                .enumerate()
                                .map(|(j, content)| AttachedPolicy {
                                    id: format!("p-{i}-{j}"),
                                    content,
                                })
                                .collect(),
                        }
                    })
                    .collect()
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Random hierarchies never panic, and a value locked by a level never changes below it.
        #[test]
        fn locked_values_never_change_below_the_lock(levels in hierarchy()) {
            let full = merge(&levels);
            for depth in 1..=levels.len() {
                let above = merge(&levels[..depth]);
                for key in KEYS {
                    if above.lock_for(key).is_some() {
                        prop_assert_eq!(
                            full.values.get(key).map(|a| a.value),
                            above.values.get(key).map(|a| a.value),
                            "{} locked after level {} but changed below", key, depth - 1
                        );
                    }
                }
            }
            for key in KEYS {
                let verdict = full.verdict(key);
                let expected = full.values.get(key).or_else(|| full.values.get(DEFAULT_SERVICE));
                prop_assert_eq!(verdict.setting, expected.map(|a| a.value));
            }
        }

        /// Arbitrary text never panics either parser.
        #[test]
        fn arbitrary_content_never_panics(content in ".{0,200}") {
            let _ = Effective::from_effective_content(&content);
            let _ = parse_policy(&content, &Origin::EffectivePolicy);
        }
    }
}

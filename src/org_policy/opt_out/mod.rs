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

pub use super::{AttachedPolicy, Hierarchy, Level, TargetKind};
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
mod tests;

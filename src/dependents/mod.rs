//! Who depends on a bucket, and which of the proposed fixes would break them.
//!
//! Pure: the bucket's facts (policy, ACL, replication, website, the Rekognition callers
//! of the event) go in, [`Dependent`]s come out ([`analyse`]); [`rules`] decides per fix
//! whether it is safe, with the key policy of the key a fix would switch to
//! ([`key_policy`]). Controls propose fixes; these rules may hold them; the handler only
//! orchestrates. No AWS call and no environment here (DESIGN.md, "Do no harm").

pub mod key_policy;
pub mod public;
pub mod rules;
#[cfg(test)]
mod tests;

use crate::policy;
use serde::Serialize;
use serde_json::{Map, Value};

/// What a dependent does with the bucket's objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Access {
    pub read: bool,
    pub write: bool,
}

impl Access {
    pub const READ: Access = Access {
        read: true,
        write: false,
    };
    pub const WRITE: Access = Access {
        read: false,
        write: true,
    };
    pub const BOTH: Access = Access {
        read: true,
        write: true,
    };

    fn any(self) -> bool {
        self.read || self.write
    }

    fn union(self, other: Access) -> Access {
        Access {
            read: self.read || other.read,
            write: self.write || other.write,
        }
    }

    /// "reads", "writes", "reads and writes".
    pub fn verb(self) -> &'static str {
        match (self.read, self.write) {
            (true, true) => "reads and writes",
            (false, true) => "writes",
            _ => "reads",
        }
    }
}

/// Who uses the bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Who {
    /// A principal of another account: its root (`123…`, `arn:…:root`), a role or a user.
    Account { account: String, principal: String },
    /// A principal of the bucket's own account, by ARN (a Rekognition caller, a stream
    /// processor's role, a role named in the policy).
    OwnPrincipal { principal: String },
    /// Every principal of an organization (`*` narrowed by `aws:PrincipalOrgID`).
    Organization { org_id: String },
    /// `*` narrowed by a fixed network or resource condition (VPC, endpoint, IP range,
    /// source ARN): principals of accounts the bucket cannot name.
    Conditional { condition: String },
    /// An AWS service principal (`cloudtrail.amazonaws.com`, …).
    Service { service: String },
    /// Elastic Load Balancing access log delivery, through its Region's account.
    ElbLogDelivery { account: String },
    /// The S3 Log Delivery group of the ACL (server access logs).
    LogDeliveryGroup,
    /// A CloudFront origin access identity (OAI).
    CloudFrontOai { principal: String },
    /// Another canonical user granted by the ACL.
    CanonicalUser { id: String },
    /// Anyone: a public statement or a public ACL grant.
    Public,
    /// Static website hosting: anonymous HTTP readers on the website endpoint.
    Website,
    /// This bucket replicates to others with `role`; `sse_kms_objects`: every enabled
    /// rule replicates SSE-KMS encrypted objects too.
    ReplicationSource { role: String, sse_kms_objects: bool },
}

/// One user of the bucket, what it does, and where that was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependent {
    pub who: Who,
    pub access: Access,
    /// `bucket policy statement "PartnerRead"`, `ACL grant`, `the CloudTrail record's caller`…
    pub via: String,
}

impl Dependent {
    /// How alerts name it: `account 444455556666 (arn:…:root)`.
    pub fn name(&self) -> String {
        match &self.who {
            Who::Account { account, principal } if principal == account => {
                format!("account {account}")
            }
            Who::Account { account, principal } => format!("account {account} ({principal})"),
            Who::OwnPrincipal { principal } => principal.clone(),
            Who::Organization { org_id } => format!("every account of organization {org_id}"),
            Who::Conditional { condition } => format!("any principal with {condition}"),
            Who::Service { service } => format!("the service {service}"),
            Who::ElbLogDelivery { account } => {
                format!("Elastic Load Balancing log delivery (account {account})")
            }
            Who::LogDeliveryGroup => "the S3 Log Delivery group (server access logs)".to_owned(),
            Who::CloudFrontOai { principal } => {
                format!("CloudFront origin access identity {principal}")
            }
            Who::CanonicalUser { id } => format!("canonical user {id}"),
            Who::Public => "anyone (public access)".to_owned(),
            Who::Website => "the static website's anonymous readers".to_owned(),
            Who::ReplicationSource { role, .. } => {
                format!("replication to other buckets (role {role})")
            }
        }
    }

    /// `account 444455556666 (bucket policy statement "PartnerRead", reads)`.
    pub fn describe(&self) -> String {
        format!("{} ({}, {})", self.name(), self.via, self.access.verb())
    }

    /// Whether this dependent is an anonymous/public user (cut on purpose in block mode).
    pub fn is_public(&self) -> bool {
        matches!(self.who, Who::Public | Who::Website)
    }
}

/// One ACL grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub grantee: Grantee,
    /// `READ`, `WRITE`, `READ_ACP`, `WRITE_ACP`, `FULL_CONTROL`.
    pub permission: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    CanonicalUser(String),
    /// A predefined group's URI.
    Group(String),
    Email(String),
}

/// The bucket ACL: owner and grants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acl {
    pub owner: Option<String>,
    pub grants: Vec<Grant>,
}

/// The bucket's replication configuration (this bucket as the source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication {
    pub role: String,
    /// One entry per rule: (enabled, replicates SSE-KMS encrypted objects).
    pub rules: Vec<(bool, bool)>,
}

/// Everything known about how a bucket is used (`acl`: `None` when not read).
#[derive(Debug, Clone, Copy)]
pub struct Usage<'a> {
    /// The bucket owner's account.
    pub account: &'a str,
    pub policy: Option<&'a Map<String, Value>>,
    pub acl: Option<&'a Acl>,
    pub replication: Option<&'a Replication>,
    pub website: bool,
    /// Principals that read and write the bucket with their own credentials because of
    /// the triggering call (Custom Labels callers, a stream processor's role).
    pub users: &'a [String],
}

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// Every dependent of the bucket, deduplicated by who (access merged, first source kept).
pub fn analyse(usage: &Usage) -> Vec<Dependent> {
    let mut found = Vec::new();
    if let Some(doc) = usage.policy {
        for (i, s) in policy::statements(doc)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            found.extend(from_statement(s, i, usage.account));
        }
    }
    if let Some(acl) = usage.acl {
        found.extend(from_acl(acl));
    }
    if let Some(r) = usage.replication
        && r.rules.iter().any(|(enabled, _)| *enabled)
    {
        found.push(Dependent {
            who: Who::ReplicationSource {
                role: r.role.clone(),
                sse_kms_objects: r.rules.iter().all(|(enabled, kms)| !enabled || *kms),
            },
            access: Access::READ,
            via: "the replication configuration".to_owned(),
        });
    }
    if usage.website {
        found.push(Dependent {
            who: Who::Website,
            access: Access::READ,
            via: "the website configuration".to_owned(),
        });
    }
    for user in usage.users {
        found.push(Dependent {
            who: principal_who(user, usage.account),
            access: Access::BOTH,
            via: "the Rekognition call's own credentials".to_owned(),
        });
    }
    dedup(found)
}

fn dedup(found: Vec<Dependent>) -> Vec<Dependent> {
    let mut out: Vec<Dependent> = Vec::new();
    for d in found {
        match out.iter_mut().find(|o| o.who == d.who) {
            Some(o) => o.access = o.access.union(d.access),
            None => out.push(d),
        }
    }
    out
}

/// What an Allow statement's actions do with objects.
fn access_of(s: &Map<String, Value>) -> Access {
    if s.contains_key("NotAction") {
        // Everything but a list: assume both (conservative).
        return Access::BOTH;
    }
    let actions = s.get("Action").map(policy::strings).unwrap_or_default();
    let matches = |op: &str| {
        actions
            .iter()
            .any(|a| policy::glob_match(&a.to_ascii_lowercase(), &op.to_ascii_lowercase()))
    };
    Access {
        read: matches("s3:GetObject") || matches("s3:GetObjectVersion"),
        write: matches("s3:PutObject")
            || matches("s3:ReplicateObject")
            || matches("s3:RestoreObject"),
    }
}

fn statement_label(s: &Map<String, Value>, index: usize) -> String {
    match s.get("Sid").and_then(Value::as_str) {
        Some(sid) if !sid.is_empty() => format!("bucket policy statement {sid:?}"),
        _ => format!("bucket policy statement #{}", index + 1),
    }
}

/// The dependents one Allow statement names.
fn from_statement(s: &Map<String, Value>, index: usize, own: &str) -> Vec<Dependent> {
    if s.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return Vec::new();
    }
    let access = access_of(s);
    if !access.any() {
        return Vec::new();
    }
    let via = statement_label(s, index);
    let dep = |who| Dependent {
        who,
        access,
        via: via.clone(),
    };
    if s.contains_key("NotPrincipal") {
        return vec![dep(Who::Public)];
    }
    let Some(principal) = s.get("Principal") else {
        return Vec::new();
    };
    if public::is_everyone(principal) {
        return narrowed_everyone(s, own).into_iter().map(dep).collect();
    }
    let Some(map) = principal.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (kind, values) in map {
        for value in policy::strings(values) {
            let who = match kind.as_str() {
                "AWS" => aws_principal_who(value, own),
                "Service" => Some(Who::Service {
                    service: value.to_owned(),
                }),
                "CanonicalUser" => Some(Who::CanonicalUser {
                    id: value.to_owned(),
                }),
                "Federated" => Some(Who::Conditional {
                    condition: format!("federated identity {value}"),
                }),
                _ => None,
            };
            out.extend(who.map(dep));
        }
    }
    out
}

/// Who `*` is once the statement's fixed-value conditions narrow it: the accounts,
/// organization or principals they name, or everyone.
fn narrowed_everyone(s: &Map<String, Value>, own: &str) -> Vec<Who> {
    let conditions = public::fixed_conditions(s);
    if conditions.is_empty() {
        return vec![Who::Public];
    }
    let mut out = Vec::new();
    // The narrowest key decides who: principal account/ARN/org, then source account.
    let by_key = |key: &str| -> Vec<&str> {
        conditions
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .flat_map(|(_, v)| v.iter().map(String::as_str))
            .collect()
    };
    let arns = by_key("aws:PrincipalArn");
    let accounts = by_key("aws:PrincipalAccount");
    let orgs = by_key("aws:PrincipalOrgID");
    if !arns.is_empty() {
        out.extend(arns.iter().filter_map(|a| aws_principal_who(a, own)));
    } else if !accounts.is_empty() {
        out.extend(accounts.iter().filter_map(|a| aws_principal_who(a, own)));
    } else if !orgs.is_empty() {
        out.extend(orgs.iter().map(|o| Who::Organization {
            org_id: (*o).to_owned(),
        }));
    } else {
        let sources = by_key("aws:SourceAccount");
        if !sources.is_empty() && sources.iter().all(|a| *a == own) {
            // Services acting for this account: which service is not named.
            out.push(Who::Conditional {
                condition: format!("aws:SourceAccount {own}"),
            });
        } else {
            let (key, values) = &conditions[0];
            out.push(Who::Conditional {
                condition: format!("{key} {}", values.join(", ")),
            });
        }
    }
    out
}

/// The ELB account of each Region that delivers Classic/Application Load Balancer
/// access logs by account principal (Elastic Load Balancing User Guide, "Enable access
/// logs": the Regions available before August 2022; newer Regions use the
/// `logdelivery.elasticloadbalancing.amazonaws.com` service principal).
const ELB_ACCOUNTS: &[&str] = &[
    "127311923021", // us-east-1
    "033677994240", // us-east-2
    "027434742980", // us-west-1
    "797873946194", // us-west-2
    "098369216593", // af-south-1
    "754344448648", // ap-east-1
    "589379963580", // ap-southeast-3
    "718504428378", // ap-south-1
    "383597477331", // ap-northeast-3
    "600734575887", // ap-northeast-2
    "114774131450", // ap-southeast-1
    "783225319266", // ap-southeast-2
    "582318560864", // ap-northeast-1
    "985666609251", // ca-central-1
    "054676820928", // eu-central-1
    "156460612806", // eu-west-1
    "652711504416", // eu-west-2
    "635631232127", // eu-south-1
    "009996457667", // eu-west-3
    "897822967062", // eu-north-1
    "076674570225", // me-south-1
    "507241528517", // sa-east-1
    "048591011584", // us-gov-west-1
    "190560391635", // us-gov-east-1
];

/// The account field of an ARN of one of `services` (`arn:PARTITION:SERVICE:REGION:ACCOUNT:…`).
fn arn_account<'a>(value: &'a str, services: &[&str]) -> Option<&'a str> {
    let mut parts = value.splitn(6, ':');
    let (arn, _partition, service, _region, account) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (arn == "arn" && services.contains(&service) && !account.is_empty()).then_some(account)
}

/// The account of an AWS principal: a bare id, or the account field of an IAM/STS ARN.
pub fn principal_account(value: &str) -> Option<&str> {
    if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(value);
    }
    arn_account(value, &["iam", "sts"])
}

/// The account of a KMS key ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`); `None` for an id or alias.
pub fn key_account(key: &str) -> Option<&str> {
    arn_account(key, &["kms"])
}

/// The bucket's own account as a dependent of a key that lives in another account: its
/// principals (every workload that writes or reads the bucket) must be able to use it.
pub fn own_account(account: &str, key_arn: &str) -> Option<Dependent> {
    let key_owner = key_account(key_arn)?;
    (key_owner != account).then(|| Dependent {
        who: Who::Account {
            account: account.to_owned(),
            principal: account.to_owned(),
        },
        access: Access::BOTH,
        via: format!("the bucket's own account (the key is in account {key_owner})"),
    })
}

/// Whether `value` is the unique id S3 shows for a deleted role or user (`AROA…`, `AIDA…`).
pub fn is_unique_id(value: &str) -> bool {
    const PREFIXES: &[&str] = &["AROA", "AIDA", "AGPA", "ANPA", "ANVA", "AIPA", "ASIA"];
    value.len() >= 16
        && PREFIXES.iter().any(|p| value.starts_with(p))
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn aws_principal_who(value: &str, own: &str) -> Option<Who> {
    if value.contains(":cloudfront:user/CloudFront Origin Access Identity") {
        return Some(Who::CloudFrontOai {
            principal: value.to_owned(),
        });
    }
    if is_unique_id(value) {
        // A deleted principal: it uses nothing any more (the policy write checks it).
        return None;
    }
    let account = principal_account(value)?;
    if ELB_ACCOUNTS.contains(&account) {
        return Some(Who::ElbLogDelivery {
            account: account.to_owned(),
        });
    }
    Some(principal_who(value, own))
}

/// A principal ARN (or account id) as a dependent of a bucket owned by `own`.
fn principal_who(value: &str, own: &str) -> Who {
    match principal_account(value) {
        Some(account) if account != own => Who::Account {
            account: account.to_owned(),
            principal: value.to_owned(),
        },
        _ => Who::OwnPrincipal {
            principal: value.to_owned(),
        },
    }
}

fn from_acl(acl: &Acl) -> Vec<Dependent> {
    let mut out = Vec::new();
    for grant in &acl.grants {
        let access = match grant.permission.as_str() {
            "READ" => Access::READ,
            "WRITE" => Access::WRITE,
            "FULL_CONTROL" => Access::BOTH,
            _ => continue,
        };
        let who = match &grant.grantee {
            Grantee::CanonicalUser(id) if acl.owner.as_deref() == Some(id.as_str()) => continue,
            Grantee::CanonicalUser(id) => Who::CanonicalUser { id: id.clone() },
            Grantee::Email(e) => Who::Conditional {
                condition: format!("the ACL grantee {e}"),
            },
            Grantee::Group(uri) if uri == ALL_USERS || uri == AUTHENTICATED_USERS => Who::Public,
            Grantee::Group(uri) if uri == LOG_DELIVERY => Who::LogDeliveryGroup,
            Grantee::Group(uri) => Who::Conditional {
                condition: format!("the ACL group {uri}"),
            },
        };
        out.push(Dependent {
            who,
            access,
            via: format!("ACL grant {}", grant.permission),
        });
    }
    out
}

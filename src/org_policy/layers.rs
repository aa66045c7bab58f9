//! The layers above one account's buckets, as read (`aws::org_layers`): the account-level
//! Block Public Access configuration, the organization S3 policy and the RCPs and SCPs on the
//! account's path. Turned here into what each bucket control's report says (`controls::Above`).
//! Pure.

use super::{Hierarchy, PolicyKind, deny, s3_policy};
use crate::controls::Above;
use crate::controls::public_access_block::PublicAccessBlock;
use crate::policy::Requirement;

/// What the Organizations reads found.
#[derive(Debug, Clone, PartialEq)]
pub enum OrgLayers {
    /// The account is in no organization: no organization policy applies.
    NoOrganization,
    Read(Box<OrgFacts>),
    /// Not readable (denied, or an AWS error): no organization layer is counted.
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrgFacts {
    /// The account is the organization's management account: RCPs and SCPs do not apply.
    pub management: bool,
    pub rcps: Result<Hierarchy, String>,
    pub scps: Result<Hierarchy, String>,
    pub s3: Result<s3_policy::Verdict, String>,
}

/// Everything above one account's buckets.
#[derive(Debug, Clone, PartialEq)]
pub struct Layers {
    /// `GetPublicAccessBlock` on S3 Control: `Ok(None)` when the account has none.
    pub account_bpa: Result<Option<PublicAccessBlock>, String>,
    pub org: OrgLayers,
}

impl Layers {
    /// Nothing known above the bucket (audit-only buckets, tests).
    pub fn none() -> Layers {
        Layers {
            account_bpa: Ok(None),
            org: OrgLayers::NoOrganization,
        }
    }

    fn org(&self) -> Option<&OrgFacts> {
        match &self.org {
            OrgLayers::Read(facts) => Some(facts),
            _ => None,
        }
    }

    /// Why the organization's policies of one kind were not read, if they were not.
    fn org_unread<'a, T: 'a>(
        &'a self,
        pick: impl Fn(&'a OrgFacts) -> &'a Result<T, String>,
    ) -> Option<&'a str> {
        match &self.org {
            OrgLayers::NoOrganization => None,
            OrgLayers::Unknown(e) => Some(e),
            OrgLayers::Read(facts) => pick(facts).as_ref().err().map(String::as_str),
        }
    }

    /// The layers that enforce all four Block Public Access flags for every bucket.
    pub fn public_access_block(&self, leave_to_layers: bool) -> Above {
        let mut enforcing = Vec::new();
        if matches!(&self.account_bpa, Ok(Some(p)) if *p == PublicAccessBlock::ALL) {
            enforcing.push("account".to_owned());
        }
        let mut notes = Vec::new();
        if let Some(Ok(verdict)) = self.org().map(|o| &o.s3) {
            if verdict.blocks_all {
                enforcing.push(match &verdict.set_by {
                    Some(source) => format!("organization policy {}", source.policy_id),
                    None => "organization policy (the effective S3 policy)".to_owned(),
                });
            }
            notes.extend(verdict.notes.iter().cloned());
        }
        // With `when-not-enforced` the layers decide whether the bucket is written: a layer
        // that could not be read counts for nothing, and the report says so.
        if leave_to_layers {
            if let Err(e) = &self.account_bpa {
                notes.push(format!("account-level Block Public Access not read ({e})"));
            }
            if let Some(e) = self.org_unread(|o| &o.s3) {
                notes.push(format!("the organization S3 policy not read ({e})"));
            }
        }
        Above {
            enforcing,
            partial: Vec::new(),
            notes,
            leave_to_layers,
            setting: "GUARD_BUCKET_BPA",
        }
    }

    /// The RCPs (enforcing) and SCPs (this organization's principals only) that deny plain
    /// HTTP to the bucket of `req`. None for the management account.
    pub fn tls_only(&self, req: &Requirement, leave_to_layers: bool) -> Above {
        let mut above = Above {
            leave_to_layers,
            setting: "GUARD_TLS",
            ..Above::default()
        };
        if leave_to_layers && let Some(e) = self.org_unread(|o| &o.rcps) {
            above
                .notes
                .push(format!("the RCPs on the account's path not read ({e})"));
        }
        let Some(org) = self.org() else {
            return above;
        };
        if let Ok(rcps) = &org.rcps {
            above.enforcing = deny::tls_enforcers(rcps, PolicyKind::Rcp, req, org.management)
                .iter()
                .map(ToString::to_string)
                .collect();
        }
        if let Ok(scps) = &org.scps {
            above.partial = deny::tls_enforcers(scps, PolicyKind::Scp, req, org.management)
                .iter()
                .map(ToString::to_string)
                .collect();
        }
        above
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Requirement;

    fn unread() -> Layers {
        Layers {
            account_bpa: Err("GetAccountPublicAccessBlock: AccessDenied".into()),
            org: OrgLayers::Unknown("DescribeOrganization: AccessDeniedException".into()),
        }
    }

    #[test]
    fn layers_that_could_not_be_read_are_said_when_they_would_decide() {
        let bpa = unread().public_access_block(true);
        assert!(bpa.enforcing.is_empty());
        assert_eq!(
            bpa.notes,
            [
                "account-level Block Public Access not read (GetAccountPublicAccessBlock: AccessDenied)",
                "the organization S3 policy not read (DescribeOrganization: AccessDeniedException)"
            ]
        );
        let req = Requirement::new("b", "aws", None);
        let tls = unread().tls_only(&req, true);
        assert!(tls.enforcing.is_empty());
        assert_eq!(
            tls.notes,
            [
                "the RCPs on the account's path not read (DescribeOrganization: AccessDeniedException)"
            ]
        );
        // With `always` the bucket is written whatever the layers say: no noise.
        assert!(unread().public_access_block(false).notes.is_empty());
        assert!(unread().tls_only(&req, false).notes.is_empty());
        // No organization is not a failure to read.
        assert!(Layers::none().tls_only(&req, true).notes.is_empty());
    }
}

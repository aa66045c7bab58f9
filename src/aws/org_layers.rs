//! Reads the layers above one account's buckets (`org_policy::layers::Layers`): the
//! account-level Block Public Access configuration (S3 Control `GetPublicAccessBlock`, with
//! the account's own credentials: the member role in organization scope), and, from the
//! guard account, the organization S3 policy (`DescribeEffectivePolicy` for `S3_POLICY`,
//! `ListEffectivePolicyValidationErrors`, and the attached S3 policies to name the one that
//! sets it) and the RCPs and SCPs on the account's path (`ListParents`,
//! `ListPoliciesForTarget`, `DescribePolicy`). Never writes; never fails: what cannot be read
//! is a fact (`Unknown`, `Err(reason)`), and then no layer is counted.

use super::organizations::{CallError, describe_effective, organization, read_hierarchy};
use crate::org_policy::layers::{Layers, OrgFacts, OrgLayers};
use crate::org_policy::{Hierarchy, s3_policy};
use aws_sdk_organizations::error::ProvideErrorMetadata;
use aws_sdk_organizations::types::{EffectivePolicyType, PolicyType};
use tracing::{debug, info};

/// Reads every layer; `caller` is the account the Organizations client acts as, when known.
pub async fn read_layers(
    organizations: &aws_sdk_organizations::Client,
    s3control: &aws_sdk_s3control::Client,
    account: &str,
    caller: Option<&str>,
) -> Layers {
    let (account_bpa, org) = tokio::join!(
        super::s3control::account_public_access_block(s3control, account),
        Box::pin(read_org(organizations, account, caller))
    );
    let layers = Layers {
        account_bpa: account_bpa.map_err(|e| e.to_string()),
        org,
    };
    info!(
        account = %account,
        account_bpa = ?layers.account_bpa.as_ref().map(Option::is_some),
        organization = match &layers.org {
            OrgLayers::NoOrganization => "none",
            OrgLayers::Read(_) => "read",
            OrgLayers::Unknown(_) => "unknown",
        },
        "read the layers above the buckets"
    );
    layers
}

async fn read_org(
    client: &aws_sdk_organizations::Client,
    account: &str,
    caller: Option<&str>,
) -> OrgLayers {
    let management = match organization(client).await {
        Ok(management) => management,
        Err(CallError::NoOrganization) => return OrgLayers::NoOrganization,
        Err(e) => return OrgLayers::Unknown(e.to_string()),
    };
    let name_target = caller.or(management.as_deref()) != Some(account);
    let (rcps, scps, s3) = tokio::join!(
        Box::pin(path(client, account, PolicyType::ResourceControlPolicy)),
        Box::pin(path(client, account, PolicyType::ServiceControlPolicy)),
        Box::pin(s3_verdict(client, account, name_target)),
    );
    OrgLayers::Read(Box::new(OrgFacts {
        management: management.as_deref() == Some(account),
        rcps,
        scps,
        s3,
    }))
}

async fn path(
    client: &aws_sdk_organizations::Client,
    account: &str,
    filter: PolicyType,
) -> Result<Hierarchy, String> {
    read_hierarchy(client, account, filter.clone())
        .await
        .map_err(|e| {
            debug!(account = %account, policy_type = %filter.as_str(), error = %e, "policies on the path not read");
            e.to_string()
        })
}

/// The effective S3 policy: AWS's own merge where it answers, else the attached policies
/// merged here; the policy that sets it named from the attached ones; AWS's validation
/// errors make a policy that exists but is not enforced count for nothing.
async fn s3_verdict(
    client: &aws_sdk_organizations::Client,
    account: &str,
    name_target: bool,
) -> Result<s3_policy::Verdict, String> {
    let effective = Box::pin(describe_effective(
        client,
        EffectivePolicyType::S3Policy,
        account,
        name_target,
    ))
    .await;
    let mut verdict = match effective {
        Ok(None) => return Ok(s3_policy::Verdict::default()),
        Ok(Some(content)) => {
            let mut verdict = s3_policy::from_effective(&content);
            if verdict.blocks_all {
                // Best effort: which attached policy sets it.
                if let Ok(h) = read_hierarchy(client, account, PolicyType::S3Policy).await {
                    verdict.set_by = s3_policy::from_levels(&h.levels).set_by;
                }
            }
            verdict
        }
        Err(CallError::NoOrganization) => return Ok(s3_policy::Verdict::default()),
        Err(e) => {
            debug!(account = %account, error = %e, "effective S3 policy unavailable; reading the attached ones");
            let h = read_hierarchy(client, account, PolicyType::S3Policy)
                .await
                .map_err(|e2| format!("{e}; {e2}"))?;
            s3_policy::from_levels(&h.levels)
        }
    };
    if verdict.blocks_all {
        match validation_errors(client, account, EffectivePolicyType::S3Policy).await {
            Ok(errors) if !errors.is_empty() => {
                verdict.blocks_all = false;
                verdict.notes.extend(
                    errors
                        .into_iter()
                        .map(|e| format!("the organization S3 policy is not enforced: {e}")),
                );
            }
            Ok(_) => {}
            Err(e) => debug!(account = %account, error = %e, "validation errors not read"),
        }
    }
    Ok(verdict)
}

/// `ListEffectivePolicyValidationErrors` for the account's effective policy of type `ty`,
/// each as `CODE: message at path (policies p-…)`.
pub async fn validation_errors(
    client: &aws_sdk_organizations::Client,
    account: &str,
    ty: EffectivePolicyType,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_effective_policy_validation_errors()
            .account_id(account)
            .policy_type(ty.clone())
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                format!(
                    "ListEffectivePolicyValidationErrors: {}",
                    e.code().unwrap_or("failed")
                )
            })?;
        for e in page.effective_policy_validation_errors() {
            let mut text = format!(
                "{}: {}",
                e.error_code().unwrap_or("ERROR"),
                e.error_message().unwrap_or_default()
            );
            if let Some(path) = e.path_to_error().filter(|p| !p.is_empty()) {
                text.push_str(&format!(" at {path}"));
            }
            if !e.contributing_policies().is_empty() {
                text.push_str(&format!(
                    " (policies {})",
                    e.contributing_policies().join(", ")
                ));
            }
            out.push(text);
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(out),
        }
    }
}

//! Organizations reads for opt-out drift: what type a changed policy is, and which
//! accounts a root, OU or account target covers. Read-only, like `organizations`.

use super::AwsError;
use aws_sdk_organizations::Client;
use aws_sdk_organizations::error::ProvideErrorMetadata;
use aws_sdk_organizations::types::AccountStatus;

/// OUs nest at most five deep; a deeper walk is a loop or a broken answer.
const MAX_DEPTH: usize = 8;

/// The policy's type (`AISERVICES_OPT_OUT_POLICY`, …); `None` when it no longer exists.
pub async fn policy_type(client: &Client, policy_id: &str) -> Result<Option<String>, AwsError> {
    match client.describe_policy().policy_id(policy_id).send().await {
        Ok(out) => Ok(out
            .policy()
            .and_then(|p| p.policy_summary())
            .and_then(|s| s.r#type())
            .map(|t| t.as_str().to_owned())),
        Err(e) if e.code() == Some("PolicyNotFoundException") => Ok(None),
        Err(e) => Err(AwsError::from_sdk("DescribePolicy", e)),
    }
}

/// The active accounts below `target`: an account id is itself, a root the whole
/// organization, an OU every account in it and in the OUs below it.
pub async fn accounts_under(client: &Client, target: &str) -> Result<Vec<String>, AwsError> {
    if target.len() == 12 && target.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(vec![target.to_owned()]);
    }
    if target.starts_with("r-") {
        return all_accounts(client).await;
    }
    let mut accounts = Vec::new();
    let mut level = vec![target.to_owned()];
    for _ in 0..MAX_DEPTH {
        if level.is_empty() {
            break;
        }
        let mut next = Vec::new();
        for parent in &level {
            let mut pages = client
                .list_accounts_for_parent()
                .parent_id(parent)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| AwsError::from_sdk("ListAccountsForParent", e))?;
                accounts.extend(active(page.accounts()));
            }
            let mut pages = client
                .list_organizational_units_for_parent()
                .parent_id(parent)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page =
                    page.map_err(|e| AwsError::from_sdk("ListOrganizationalUnitsForParent", e))?;
                next.extend(
                    page.organizational_units()
                        .iter()
                        .filter_map(|ou| ou.id().map(str::to_owned)),
                );
            }
        }
        level = next;
    }
    Ok(accounts)
}

/// Every active account of the organization.
pub async fn all_accounts(client: &Client) -> Result<Vec<String>, AwsError> {
    let mut accounts = Vec::new();
    let mut pages = client.list_accounts().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ListAccounts", e))?;
        accounts.extend(active(page.accounts()));
    }
    Ok(accounts)
}

fn active(accounts: &[aws_sdk_organizations::types::Account]) -> impl Iterator<Item = String> + '_ {
    accounts
        .iter()
        .filter(|a| a.status().is_none_or(|s| *s == AccountStatus::Active))
        .filter_map(|a| a.id().map(str::to_owned))
}

//! Organizations adapter for organization scope: which accounts are ACTIVE members, and
//! which lie below an excluded OU. Returns facts; the gate and the planner decide
//! (`crate::org`). Read-only (`organizations:ListAccounts`, `ListAccountsForParent`,
//! `ListOrganizationalUnitsForParent`, `DescribeOrganization`, all in `aws::permissions`).

use super::AwsError;
use aws_sdk_organizations::Client;

/// One account as `ListAccounts` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    /// `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`, … (`State`, or the older `Status`).
    pub state: String,
}

impl OrgAccount {
    pub fn is_active(&self) -> bool {
        self.state == "ACTIVE"
    }
}

/// The organization's id and its management account.
pub async fn describe(client: &Client) -> Result<(String, String), AwsError> {
    let out = client
        .describe_organization()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeOrganization", e))?;
    let org = out
        .organization()
        .ok_or_else(|| AwsError::new("DescribeOrganization", "no Organization in the answer"))?;
    Ok((
        org.id().unwrap_or_default().to_owned(),
        org.master_account_id().unwrap_or_default().to_owned(),
    ))
}

/// Every account of the organization (paginated, 20 per page as AWS serves them).
pub async fn list_accounts(client: &Client) -> Result<Vec<OrgAccount>, AwsError> {
    let mut accounts = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_accounts()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListAccounts", e))?;
        accounts.extend(out.accounts().iter().filter_map(|a| {
            let state = a
                .state()
                .map(|s| s.as_str().to_owned())
                .or_else(|| a.status().map(|s| s.as_str().to_owned()))
                .unwrap_or_default();
            Some(OrgAccount {
                id: a.id()?.to_owned(),
                state,
            })
        }));
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(accounts),
        }
    }
}

/// Every account below `ou` (its own and those of every OU beneath it), breadth first.
pub async fn accounts_below(client: &Client, ou: &str) -> Result<Vec<String>, AwsError> {
    /// Organizations allows five levels of OUs; a deeper walk is a loop or a broken answer.
    const MAX_OUS: usize = 2000;
    let mut accounts = Vec::new();
    let mut queue = vec![ou.to_owned()];
    let mut seen = 0;
    while let Some(parent) = queue.pop() {
        seen += 1;
        if seen > MAX_OUS {
            return Err(AwsError::new(
                "ListOrganizationalUnitsForParent",
                format!("more than {MAX_OUS} OUs below {ou}"),
            ));
        }
        let mut token: Option<String> = None;
        loop {
            let out = client
                .list_accounts_for_parent()
                .parent_id(&parent)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListAccountsForParent", e))?;
            accounts.extend(
                out.accounts()
                    .iter()
                    .filter_map(|a| a.id().map(str::to_owned)),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        loop {
            let out = client
                .list_organizational_units_for_parent()
                .parent_id(&parent)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListOrganizationalUnitsForParent", e))?;
            queue.extend(
                out.organizational_units()
                    .iter()
                    .filter_map(|o| o.id().map(str::to_owned)),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
    }
    Ok(accounts)
}

/// An account's OUs, root first (`r-…`, then each OU down to the account's own), by
/// `ListParents` from the account up: what scope rules by OU match against.
pub async fn ou_path(client: &Client, account: &str) -> Result<Vec<String>, AwsError> {
    /// Organizations allows five levels of OUs below the root.
    const MAX_DEPTH: usize = 8;
    let mut path = Vec::new();
    let mut child = account.to_owned();
    for _ in 0..MAX_DEPTH {
        let out = client
            .list_parents()
            .child_id(&child)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListParents", e))?;
        let Some(parent) = out.parents().first() else {
            return Err(AwsError::new(
                "ListParents",
                format!("{child} has no parent"),
            ));
        };
        let id = parent.id().unwrap_or_default().to_owned();
        let root = matches!(
            parent.r#type(),
            Some(aws_sdk_organizations::types::ParentType::Root)
        );
        path.push(id.clone());
        if root {
            path.reverse();
            return Ok(path);
        }
        child = id;
    }
    Err(AwsError::new(
        "ListParents",
        format!("{account} is more than {MAX_DEPTH} levels below the root"),
    ))
}

//! STS adapter: which account this function runs in (needs no IAM permission), and the
//! member-account credentials of organization scope (`sts:AssumeRole`).

use super::AwsError;

pub async fn caller_account(client: &aws_sdk_sts::Client) -> Result<String, AwsError> {
    let out = client
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetCallerIdentity", e))?;
    out.account()
        .map(str::to_owned)
        .ok_or_else(|| AwsError::new("GetCallerIdentity", "no Account in the answer"))
}

/// Temporary credentials of a role, with their expiry.
#[derive(Debug, Clone)]
pub struct RoleCredentials {
    pub credentials: aws_sdk_sts::config::Credentials,
    pub expires: std::time::SystemTime,
}

/// Assumes `role_arn` (regional STS client), with an ExternalId when one is configured.
pub async fn assume_role(
    client: &aws_sdk_sts::Client,
    role_arn: &str,
    session_name: &str,
    external_id: Option<&str>,
) -> Result<RoleCredentials, AwsError> {
    let out = client
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session_name)
        .set_external_id(external_id.map(str::to_owned))
        .duration_seconds(3600)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("AssumeRole", e))?;
    let c = out
        .credentials()
        .ok_or_else(|| AwsError::new("AssumeRole", "no Credentials in the answer"))?;
    // A denial signed with these credentials names the member role (aws::denied).
    super::denied::remember_role(c.access_key_id(), role_arn);
    let expires = std::time::SystemTime::try_from(*c.expiration())
        .map_err(|e| AwsError::new("AssumeRole", format!("unusable Expiration: {e}")))?;
    Ok(RoleCredentials {
        credentials: aws_sdk_sts::config::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            Some(expires),
            "AssumeRole",
        ),
        expires,
    })
}

/// This function's own principal (`arn:…:sts::<account>:assumed-role/<role>/<session>` in Lambda).
pub async fn caller_arn(client: &aws_sdk_sts::Client) -> Result<String, AwsError> {
    let out = client
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetCallerIdentity", e))?;
    out.arn()
        .map(str::to_owned)
        .ok_or_else(|| AwsError::new("GetCallerIdentity", "no Arn in the answer"))
}

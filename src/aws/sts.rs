//! STS adapter: which account this function runs in (needs no IAM permission).

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

//! SSM Parameter Store: the scope rules document (`GUARD_SCOPE_RULES`), read at start.

use super::AwsError;

/// A parameter's value (a SecureString decrypted).
pub async fn parameter(client: &aws_sdk_ssm::Client, name: &str) -> Result<String, AwsError> {
    let out = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetParameter", e))?;
    out.parameter()
        .and_then(|p| p.value())
        .map(str::to_owned)
        .ok_or_else(|| AwsError::new("GetParameter", format!("{name} has no value")))
}

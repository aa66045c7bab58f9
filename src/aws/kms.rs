//! KMS adapter: describe a key (id, ARN, alias or alias ARN) into plain [`KeyInfo`].

use super::AwsError;
use crate::controls::kms_key_spec::KeyInfo;
use aws_sdk_kms::Client;

pub async fn describe(
    client: &Client,
    key: &str,
    with_rotation: bool,
) -> Result<KeyInfo, AwsError> {
    let out = client
        .describe_key()
        .key_id(key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeKey", e))?;
    let meta = out
        .key_metadata()
        .ok_or_else(|| AwsError::new("DescribeKey", "no KeyMetadata in the answer"))?;
    let mut info = KeyInfo {
        arn: meta.arn().unwrap_or_default().to_owned(),
        key_id: meta.key_id().to_owned(),
        key_spec: meta.key_spec().map(|s| s.as_str().to_owned()),
        key_usage: meta
            .key_usage()
            .map(|u| u.as_str().to_owned())
            .filter(|u| !u.is_empty()),
        key_state: meta.key_state().map(|s| s.as_str().to_owned()),
        enabled: meta.enabled(),
        key_manager: meta.key_manager().map(|m| m.as_str().to_owned()),
        rotation_enabled: None,
    };
    if with_rotation
        && !info.is_aws_managed()
        && info.key_spec.as_deref() == Some("SYMMETRIC_DEFAULT")
    {
        // Advice only: a failure to read it leaves it unknown rather than failing the key.
        match client
            .get_key_rotation_status()
            .key_id(&info.key_id)
            .send()
            .await
        {
            Ok(r) => info.rotation_enabled = Some(r.key_rotation_enabled()),
            Err(e) => {
                let e = AwsError::from_sdk("GetKeyRotationStatus", e);
                tracing::warn!(key = %info.arn, error = %e, "could not read key rotation status");
            }
        }
    }
    Ok(info)
}

/// The key's policy document (`GetKeyPolicy`, the `default` policy: a key has no other).
pub async fn key_policy(client: &Client, key: &str) -> Result<String, AwsError> {
    let out = client
        .get_key_policy()
        .key_id(key)
        .policy_name("default")
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("GetKeyPolicy", e))?;
    out.policy()
        .map(str::to_owned)
        .ok_or_else(|| AwsError::new("GetKeyPolicy", "no Policy in the answer"))
}

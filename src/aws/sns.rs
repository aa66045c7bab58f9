//! SNS adapter: publish one alert, a message per protocol (`MessageStructure=json`), with
//! message attributes for subscription filters.

use super::AwsError;
use aws_sdk_sns::types::MessageAttributeValue;

/// The region in a topic ARN (`arn:<partition>:sns:<region>:<account>:<name>`).
pub fn topic_region(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, "sns", region, account, name]
            if !partition.is_empty()
                && crate::region::is_region(region)
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && !name.is_empty() =>
        {
            Some((*region).to_owned())
        }
        _ => None,
    }
}

/// Publishes `message`, a JSON object of one string per protocol with the required
/// `default` (`alert::message`): each subscriber gets its protocol's string.
pub async fn publish(
    client: &aws_sdk_sns::Client,
    topic_arn: &str,
    subject: &str,
    message: &str,
    attributes: &[(&str, String)],
) -> Result<String, AwsError> {
    let mut request = client
        .publish()
        .topic_arn(topic_arn)
        .subject(subject)
        .message_structure("json")
        .message(message);
    for (name, value) in attributes {
        let attr = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .map_err(|e| AwsError::build("Publish", e))?;
        request = request.message_attributes(*name, attr);
    }
    let out = request
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("Publish", e))?;
    Ok(out.message_id().unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_from_arns() {
        assert_eq!(
            topic_region("arn:aws:sns:eu-west-1:123456789012:alerts").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            topic_region("arn:aws-cn:sns:cn-north-1:123456789012:a").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(topic_region("arn:aws:sns:eu-west-1:1234:alerts"), None);
        assert_eq!(topic_region("alerts"), None);
    }
}

//! The only code that imports AWS SDK crates: gather facts, apply fixes, publish alerts.
//!
//! Conversions from SDK types to the domain's plain data happen here. "Not configured"
//! error codes become `None`, access denied becomes a state, never a crash.

pub mod clients;
pub mod kms;
pub mod organizations;
pub mod permissions;
pub mod rekognition;
pub mod s3;
pub mod sns;
pub mod sts;

use aws_sdk_s3::error::ProvideErrorMetadata;

/// An AWS call that failed after the SDK's retries, kept with its source.
#[derive(Debug, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    /// The service's error code, when it sent one.
    pub code: Option<String>,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl AwsError {
    pub fn from_sdk<E>(operation: &'static str, err: aws_sdk_s3::error::SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_owned);
        let message = match (&code, err.message()) {
            (Some(code), Some(msg)) => format!("{code}: {msg}"),
            (Some(code), None) => code.clone(),
            _ => aws_sdk_s3::error::DisplayErrorContext(&err).to_string(),
        };
        Self {
            operation,
            code,
            message,
            source: Some(Box::new(err)),
        }
    }

    pub fn is_access_denied(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("AccessDenied" | "AccessDeniedException" | "AllAccessDisabled")
        )
    }
}

/// An HTML page with a 5xx status is a server that lacks the operation (an emulator's
/// "not implemented": moto answers `DescribeEffectivePolicy` and `DescribeProjects` this
/// way), not an AWS API error, which always carries a code: retrying it only adds
/// seconds before the fallback. Everything else, throttling and coded server errors
/// included, is left to the standard classifiers.
#[derive(Debug)]
pub struct HtmlServerErrorIsFinal;

impl aws_sdk_s3::config::retry::ClassifyRetry for HtmlServerErrorIsFinal {
    fn classify_retry(
        &self,
        ctx: &aws_sdk_s3::config::interceptors::InterceptorContext,
    ) -> aws_sdk_s3::config::retry::RetryAction {
        let html_5xx = ctx.response().is_some_and(|r| {
            let html_type = r
                .headers()
                .get("content-type")
                .is_some_and(|t| t.starts_with("text/html"));
            let html_body = r.body().bytes().is_some_and(|b| {
                let head: Vec<u8> = b.iter().take(16).map(u8::to_ascii_lowercase).collect();
                head.starts_with(b"<!doctype html") || head.starts_with(b"<html")
            });
            r.status().is_server_error() && (html_type || html_body)
        });
        if html_5xx {
            aws_sdk_s3::config::retry::RetryAction::RetryForbidden
        } else {
            aws_sdk_s3::config::retry::RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "HtmlServerErrorIsFinal"
    }
}

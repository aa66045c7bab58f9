//! The only code that imports AWS SDK crates: gather facts, apply fixes, publish alerts.
//!
//! Conversions from SDK types to the domain's plain data happen here. "Not configured"
//! error codes become `None`, access denied becomes a state, never a crash.

pub mod clients;
pub mod denied;
pub mod dynamodb;
pub mod kms;
pub mod objects;
pub mod org_accounts;
pub mod org_drift;
pub mod org_layers;
pub mod organizations;
pub mod permissions;
pub mod rekognition;
pub mod s3;
pub mod s3control;
pub mod scheduler;
pub mod securityhub;
pub mod sns;
pub mod sqs;
pub mod ssm;
pub mod sts;

use aws_sdk_s3::error::ProvideErrorMetadata;

/// An AWS call that failed after the SDK's retries, kept with its source. Shown as
/// `service Operation: Code: message`; the SDK's debug form is logged at debug level only
/// (`-vv`), never shown.
#[derive(Debug, thiserror::Error)]
#[error("{}{operation}: {message}", .service.map(|s| format!("{s} ")).unwrap_or_default())]
pub struct AwsError {
    /// The SDK crate's service (`s3`, `kms`...), when the error came from one.
    pub service: Option<&'static str>,
    pub operation: &'static str,
    /// The service's error code, when it sent one.
    pub code: Option<String>,
    /// The HTTP status, when a response came back.
    pub status: Option<u16>,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

/// The service of an SDK operation error type (`aws_sdk_s3::operation::…` → `s3`).
pub fn service_of<E>() -> Option<&'static str> {
    std::any::type_name::<E>()
        .split("::")
        .next()
        .and_then(|krate| krate.strip_prefix("aws_sdk_"))
}

/// What went wrong when no service error code came back, in one line: the kind of failure
/// and its innermost cause (`Connection refused (os error 111)`), not the chain of
/// wrappers and their debug forms that `DisplayErrorContext` prints.
fn without_code<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    use aws_sdk_s3::error::SdkError;
    let cause = root_cause(err);
    match err {
        SdkError::ConstructionFailure(_) => format!("the request could not be built: {cause}"),
        SdkError::TimeoutError(_) => format!("timed out: {cause}"),
        SdkError::DispatchFailure(d) if d.is_timeout() => format!("timed out: {cause}"),
        SdkError::DispatchFailure(d) if d.is_io() => {
            format!("could not reach the endpoint: {cause}")
        }
        SdkError::DispatchFailure(_) => format!("the request was not sent: {cause}"),
        SdkError::ResponseError(_) => format!("the response could not be read: {cause}"),
        _ => cause,
    }
}

/// The Display of the innermost error of a chain.
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = err;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

impl AwsError {
    pub fn from_sdk<E>(operation: &'static str, err: aws_sdk_s3::error::SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let service = service_of::<E>();
        tracing::debug!(service, operation, error = ?err, "AWS call failed");
        let code = err.code().map(str::to_owned);
        let status = err.raw_response().map(|r| r.status().as_u16());
        let mut message = match (&code, err.message(), status) {
            (Some(code), Some(msg), _) => format!("{code}: {msg}"),
            (Some(code), None, _) => code.clone(),
            (None, _, Some(status)) => format!("HTTP {status} without an error code"),
            (None, _, None) => without_code(&err),
        };
        // A permission error names the IAM action, the resource and the role, and what to
        // check: it does not clear by itself, so the reader must know what to fix.
        if is_access_denied_code(code.as_deref()) {
            let denied = denied::Denied::from_response(operation, err.raw_response());
            message = format!("{message}; {}", denied.explain());
        }
        Self {
            service,
            operation,
            code,
            status,
            message,
            source: Some(Box::new(err)),
        }
    }

    /// A request the SDK refused to build (a required field missing).
    pub fn build(operation: &'static str, e: aws_sdk_s3::error::BuildError) -> Self {
        let message = e.to_string();
        Self {
            source: Some(Box::new(e)),
            ..Self::new(operation, message)
        }
    }

    /// An error found in an answer rather than returned by the service.
    pub fn new(operation: &'static str, message: impl Into<String>) -> Self {
        Self {
            service: None,
            operation,
            code: None,
            status: None,
            message: message.into(),
            source: None,
        }
    }

    pub fn is_access_denied(&self) -> bool {
        is_access_denied_code(self.code.as_deref())
    }
}

fn is_access_denied_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("AccessDenied" | "AccessDeniedException" | "AllAccessDisabled")
    )
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

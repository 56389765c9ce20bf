//! The one error type every function returns, and how AWS SDK errors map to it.
//!
//! State machines `Retry`/`Catch` on the `errorType` a Lambda reports, so each
//! variant maps to one of the stable names in docs/design.md and nothing else.

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use lambda_runtime::Diagnostic;

/// Everything that can go wrong in a hookline function.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The event or the plan is malformed; `field` names where, `expected` says what would do.
    #[error("invalid input: {field}: {expected}")]
    InvalidInput { field: String, expected: String },
    /// A health gate said no.
    #[error("health check failed: {0}")]
    HealthCheckFailed(String),
    /// The deployment is no longer in progress (stopped from the console, failed, rolled back).
    #[error("deployment {deployment_id} is {status}, no longer in progress")]
    DeploymentStopped { deployment_id: String, status: String },
    /// Production traffic is not where the previous step left it; nothing was modified.
    #[error("traffic drift on {resource}: expected {expected}, found {found}")]
    TrafficDrift { resource: String, expected: String, found: String },
    /// AWS asked us to slow down.
    #[error("{operation} throttled: {message}")]
    Throttled { operation: &'static str, message: String },
    /// A fault worth retrying (timeouts, 5xx, dispatch failures).
    #[error("{operation} failed (transient): {message}")]
    AwsTransient { operation: &'static str, message: String },
    /// A fault retrying will not fix (access denied, validation, missing resource).
    #[error("{operation} failed: {message}")]
    AwsPermanent { operation: &'static str, code: Option<String>, message: String },
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Builds an [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, expected: impl Into<String>) -> Self {
        Error::InvalidInput { field: field.into(), expected: expected.into() }
    }

    /// The stable `errorType` name from docs/design.md that state machines match on.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "InvalidInput",
            Error::HealthCheckFailed(_) => "HealthCheckFailed",
            Error::DeploymentStopped { .. } => "DeploymentStopped",
            Error::Throttled { .. } => "Throttled",
            Error::AwsTransient { .. } => "AwsTransient",
            // Drift means someone else moved production traffic: roll back, like
            // any other non-retryable fault.
            Error::TrafficDrift { .. } | Error::AwsPermanent { .. } => "AwsPermanent",
        }
    }

    /// The AWS error code, when the error came from AWS.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Error::AwsPermanent { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// Classifies an SDK error from `operation` as throttling, transient or permanent,
    /// using the same code lists the SDK's own retry classifier uses.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_owned);
        let message = DisplayErrorContext(&err).to_string();
        let status = err.raw_response().map(|r| r.status().as_u16());
        match &err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
                Error::AwsTransient { operation, message }
            }
            _ => match code.as_deref() {
                Some(c) if THROTTLING_ERRORS.contains(&c) => Error::Throttled { operation, message },
                _ if status == Some(429) => Error::Throttled { operation, message },
                Some(c) if TRANSIENT_ERRORS.contains(&c) => Error::AwsTransient { operation, message },
                _ if status.is_some_and(|s| s >= 500) => Error::AwsTransient { operation, message },
                _ => Error::AwsPermanent { operation, code, message },
            },
        }
    }
}

impl From<Error> for Diagnostic {
    fn from(err: Error) -> Diagnostic {
        Diagnostic { error_type: err.error_type().into(), error_message: err.to_string() }
    }
}

/// `.aws("Operation")?` on any SDK call result classifies its error.
pub trait AwsResultExt<T> {
    /// Maps the SDK error of `operation` into an [`Error`].
    fn aws(self, operation: &'static str) -> Result<T>;
}

impl<T, E> AwsResultExt<T> for std::result::Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn aws(self, operation: &'static str) -> Result<T> {
        self.map_err(|e| Error::from_sdk(operation, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_a_design_error_type() {
        let allowed =
            ["InvalidInput", "HealthCheckFailed", "DeploymentStopped", "Throttled", "AwsTransient", "AwsPermanent"];
        let all = [
            Error::invalid("steps", "a list"),
            Error::HealthCheckFailed("x".into()),
            Error::DeploymentStopped { deployment_id: "d".into(), status: "Stopped".into() },
            Error::TrafficDrift { resource: "l".into(), expected: "a".into(), found: "b".into() },
            Error::Throttled { operation: "Op", message: "m".into() },
            Error::AwsTransient { operation: "Op", message: "m".into() },
            Error::AwsPermanent { operation: "Op", code: None, message: "m".into() },
        ];
        for e in all {
            let d: Diagnostic = e.clone().into();
            assert!(allowed.contains(&d.error_type.as_str()), "{e:?} -> {}", d.error_type);
            assert_eq!(d.error_message, e.to_string());
        }
    }
}

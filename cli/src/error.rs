//! The CLI's error: one message for the operator (exit code 1, 3 for `watch`), and how the
//! library's errors read on a terminal.

use hookline::lifecycle::DEPLOYMENT_NOT_FOUND;

/// An error for the operator: one clear message, exit code 1 (3 for `watch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError(pub String);

/// Shorthand.
pub type R<T> = Result<T, CliError>;

/// A [`CliError`] from a message.
pub fn fail(msg: impl Into<String>) -> CliError {
    CliError(msg.into())
}

impl From<hookline::Error> for CliError {
    /// A deployment its controller does not know reads as the adapter's message alone (it names the
    /// deployment and what was expected); anything else as [`short_error`].
    fn from(e: hookline::Error) -> Self {
        match &e {
            hookline::Error::AwsPermanent { code: Some(code), message, .. } if code == DEPLOYMENT_NOT_FOUND => {
                CliError(message.clone())
            }
            _ => CliError(short_error(&e)),
        }
    }
}

/// The SDK's error text without its debug dump, plus a hint when AWS could not be reached.
pub fn short_error(e: &hookline::Error) -> String {
    let text = e.to_string();
    let mut cut = text.as_str();
    for marker in
        [" (ServiceError(", " (DispatchFailure(", " (TimeoutError(", " (ResponseError(", " (ConstructionFailure("]
    {
        if let Some(i) = cut.find(marker) {
            cut = &cut[..i];
        }
    }
    if text.contains("loading credentials") || text.contains("no credentials") {
        format!(
            "{cut} (no AWS credentials: use --profile, AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or SSO)"
        )
    } else if text.contains("DispatchFailure") || text.contains("dispatch failure") {
        format!("{cut} (is AWS reachable? check --endpoint-url / AWS_ENDPOINT_URL and your network)")
    } else {
        cut.to_string()
    }
}

//! [`PlanStore`] over AWS Systems Manager Parameter Store.

use async_trait::async_trait;
use aws_sdk_ssm::types::ParameterType;

use crate::error::AwsResultExt;
use crate::ports::PlanStore;
use crate::Result;

/// Plans and release records as String parameters of SSM Parameter Store.
#[derive(Clone, Debug)]
pub struct ParameterStore {
    pub ssm: aws_sdk_ssm::Client,
}

impl ParameterStore {
    pub fn new(ssm: aws_sdk_ssm::Client) -> ParameterStore {
        ParameterStore { ssm }
    }

    /// Writes `value` as String parameter `name`, overwriting the previous version.
    async fn put(&self, name: &str, value: &str) -> Result<()> {
        self.ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .aws("PutParameter")?;
        Ok(())
    }
}

#[async_trait]
impl PlanStore for ParameterStore {
    async fn plan_text(&self, parameter: &str) -> Result<Option<String>> {
        self.get(parameter).await
    }

    async fn put_plan_text(&self, parameter: &str, text: &str) -> Result<()> {
        self.put(parameter, text).await
    }

    async fn put_release_record(&self, parameter: &str, record: &str) -> Result<()> {
        self.put(parameter, record).await
    }

    async fn release_record(&self, parameter: &str) -> Result<Option<String>> {
        self.get(parameter).await
    }

    async fn delete_release_record(&self, parameter: &str) -> Result<bool> {
        match self.ssm.delete_parameter().name(parameter).send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) => Ok(false),
            Err(e) => Err(e).aws("DeleteParameter"),
        }
    }
}

impl ParameterStore {
    /// The value of String parameter `name`; `None` when there is none.
    async fn get(&self, parameter: &str) -> Result<Option<String>> {
        match self.ssm.get_parameter().name(parameter).send().await {
            // GetParameter always returns the value of a parameter that exists (Parameter.Value is
            // required); an answer without one reads as empty text, which no plan parses from.
            Ok(out) => Ok(Some(out.parameter().and_then(|p| p.value()).unwrap_or_default().to_string())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) => Ok(None),
            Err(e) => Err(e).aws("GetParameter"),
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ssm::operation::get_parameter::{GetParameterError, GetParameterOutput};
    use aws_sdk_ssm::operation::put_parameter::{PutParameterError, PutParameterInput, PutParameterOutput};
    use aws_sdk_ssm::types::error::ParameterNotFound;
    use aws_sdk_ssm::types::Parameter;
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::testing::{access_denied, mocked_clients, throttling_json, Sent};

    const PLAN: &str = "/hookline/web/web-prod";

    fn adapter(rules: &[&aws_smithy_mocks::Rule]) -> ParameterStore {
        mocked_clients(rules).plans()
    }

    #[tokio::test]
    async fn plan_text_reads_the_named_parameter_and_a_missing_one_is_none() {
        let found =
            mock!(aws_sdk_ssm::Client::get_parameter).match_requests(|r| r.name() == Some(PLAN)).then_output(|| {
                GetParameterOutput::builder()
                    .parameter(Parameter::builder().name(PLAN).value(r#"{"steps":[]}"#).build())
                    .build()
            });
        let missing = mock!(aws_sdk_ssm::Client::get_parameter)
            .then_error(|| GetParameterError::ParameterNotFound(ParameterNotFound::builder().build()));
        let store = adapter(&[&found, &missing]);

        assert_eq!(store.plan_text(PLAN).await, Ok(Some(r#"{"steps":[]}"#.to_string())));
        assert_eq!(store.plan_text("/hookline/other/group").await, Ok(None));
    }

    #[tokio::test]
    async fn plan_text_returns_other_errors_classified() {
        let denied =
            mock!(aws_sdk_ssm::Client::get_parameter).then_error(|| GetParameterError::generic(access_denied()));
        let err = adapter(&[&denied]).plan_text(PLAN).await.unwrap_err();
        assert_eq!((err.error_type(), err.aws_code()), ("AwsPermanent", Some("AccessDeniedException")), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn plan_text_throttled_past_the_sdks_retries_is_throttled() {
        let throttled = mock!(aws_sdk_ssm::Client::get_parameter)
            .sequence()
            .http_status(400, Some(throttling_json()))
            .times(10)
            .build();
        let err = adapter(&[&throttled]).plan_text(PLAN).await.unwrap_err();
        assert_eq!(err.error_type(), "Throttled", "{err}");
    }

    #[tokio::test]
    async fn writes_overwrite_a_string_parameter() {
        let sent: Sent<PutParameterInput> = Sent::default();
        let put = mock!(aws_sdk_ssm::Client::put_parameter)
            .match_requests(sent.recorder())
            .then_output(|| PutParameterOutput::builder().version(2).build());
        let store = adapter(&[&put]);

        store
            .put_release_record("/hookline/web/web-prod/last-release", r#"{"deployment_id":"d-1"}"#)
            .await
            .expect("put");
        store.put_plan_text(PLAN, r#"{"steps":[{"weight":100}]}"#).await.expect("put");

        let requests = sent.all();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].name(), Some("/hookline/web/web-prod/last-release"));
        assert_eq!(requests[0].value(), Some(r#"{"deployment_id":"d-1"}"#));
        assert_eq!(requests[1].name(), Some(PLAN));
        for r in &requests {
            assert_eq!((r.r#type(), r.overwrite()), (Some(&ParameterType::String), Some(true)));
        }
    }

    #[tokio::test]
    async fn a_refused_write_is_returned() {
        let denied =
            mock!(aws_sdk_ssm::Client::put_parameter).then_error(|| PutParameterError::generic(access_denied()));
        let err = adapter(&[&denied]).put_release_record("/p", "{}").await.unwrap_err();
        assert_eq!(err.aws_code(), Some("AccessDeniedException"), "{err}");
    }

    #[tokio::test]
    async fn a_release_record_is_read_and_deleted_by_name_and_a_missing_one_is_none_or_false() {
        use aws_sdk_ssm::operation::delete_parameter::{DeleteParameterError, DeleteParameterOutput};
        const RECORD: &str = "/hookline/dns/dns-20261206-084016-abcd";
        let read =
            mock!(aws_sdk_ssm::Client::get_parameter).match_requests(|r| r.name() == Some(RECORD)).then_output(|| {
                GetParameterOutput::builder()
                    .parameter(Parameter::builder().name(RECORD).value(r#"{"status":"in-progress"}"#).build())
                    .build()
            });
        let missing = mock!(aws_sdk_ssm::Client::get_parameter)
            .then_error(|| GetParameterError::ParameterNotFound(ParameterNotFound::builder().build()));
        let deleted = mock!(aws_sdk_ssm::Client::delete_parameter)
            .match_requests(|r| r.name() == Some(RECORD))
            .then_output(|| DeleteParameterOutput::builder().build());
        let gone = mock!(aws_sdk_ssm::Client::delete_parameter)
            .then_error(|| DeleteParameterError::ParameterNotFound(ParameterNotFound::builder().build()));
        let store = adapter(&[&read, &missing, &deleted, &gone]);
        assert_eq!(store.release_record(RECORD).await.unwrap().as_deref(), Some(r#"{"status":"in-progress"}"#));
        assert_eq!(store.release_record("/hookline/dns/other").await.unwrap(), None);
        assert!(store.delete_release_record(RECORD).await.unwrap());
        assert!(!store.delete_release_record("/hookline/dns/other").await.unwrap());
    }
}

//! Mocked AWS clients for unit tests (feature `test-util`).
//!
//! Every client gets every rule: a rule only matches requests of its own
//! operation, so one list describes a whole scenario. An unmatched call panics.

use aws_smithy_mocks::{mock_client, Rule, RuleMode};

use crate::Clients;

/// Clients whose calls are answered by `rules`, with the SDK's standard retries on.
pub fn mocked_clients(rules: &[&Rule]) -> Clients {
    let rules = rules.to_vec();
    Clients {
        codedeploy: mock_client!(aws_sdk_codedeploy, RuleMode::MatchAny, rules.clone()),
        ecs: mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules.clone()),
        elbv2: mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, rules.clone()),
        sfn: mock_client!(aws_sdk_sfn, RuleMode::MatchAny, rules.clone()),
        cloudwatch: mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, rules.clone()),
        ssm: mock_client!(aws_sdk_ssm, RuleMode::MatchAny, rules),
        http: reqwest::Client::new(),
    }
}

/// An HTTP error body the SDKs classify as throttling, for `.sequence().http_status(400, Some(..))`.
pub fn throttling_json() -> String {
    r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string()
}

/// The query-protocol (ELBv2) throttling body.
pub fn throttling_xml() -> String {
    "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>".to_string()
}

use aws_sdk_elasticloadbalancingv2::operation::create_rule::CreateRuleOutput;
use aws_sdk_elasticloadbalancingv2::operation::delete_rule::{DeleteRuleError, DeleteRuleOutput};
use aws_sdk_elasticloadbalancingv2::operation::describe_rules::DescribeRulesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_tags::DescribeTagsOutput;
use aws_sdk_elasticloadbalancingv2::operation::modify_listener::ModifyListenerOutput;
use aws_sdk_elasticloadbalancingv2::types::error::RuleNotFoundException;
use aws_sdk_elasticloadbalancingv2::types::{HttpHeaderConditionConfig, RuleCondition, TagDescription};
use aws_sdk_elasticloadbalancingv2::Client;
use aws_smithy_mocks::{mock, mock_client, Rule as MockRule, RuleMode};

use super::*;
use crate::testing::{context, listener, weights_in, GREEN_TG};

fn router(rules: &[&MockRule]) -> AlbRouter {
    let client: Client = mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, rules.iter().copied());
    AlbRouter::new(client, &context())
}

fn modify_listener() -> MockRule {
    mock!(Client::modify_listener).then_output(|| ModifyListenerOutput::builder().build())
}

#[tokio::test]
async fn set_weights_modifies_once_with_the_new_split() {
    let describe = mock!(Client::describe_listeners).then_output(|| listener(100, 0));
    let modify = mock!(Client::modify_listener)
        .match_requests(|r| weights_in(r.default_actions()) == Some((90, 10)))
        .then_output(|| ModifyListenerOutput::builder().build());
    let r = router(&[&describe, &modify]);
    assert_eq!(r.set_weights(Weights::green(10), Some(Weights::BLUE_ONLY)).await, Ok(Change::Applied));
    assert_eq!(describe.num_calls(), 1);
    assert_eq!(modify.num_calls(), 1);
}

#[tokio::test]
async fn set_weights_is_a_no_op_when_already_there() {
    let describe = mock!(Client::describe_listeners).then_output(|| listener(90, 10));
    let modify = modify_listener();
    let r = router(&[&describe, &modify]);
    assert_eq!(r.set_weights(Weights::green(10), Some(Weights::green(10))).await, Ok(Change::AlreadyThere));
    assert_eq!(modify.num_calls(), 0);
}

#[tokio::test]
async fn drift_fails_without_modifying() {
    let describe = mock!(Client::describe_listeners).then_output(|| listener(50, 50));
    let modify = modify_listener();
    let r = router(&[&describe, &modify]);
    let err = r.set_weights(Weights::green(60), Some(Weights::green(10))).await.unwrap_err();
    assert!(matches!(err, Error::TrafficDrift { .. }), "{err}");
    assert_eq!(err.error_type(), "AwsPermanent");
    assert_eq!(modify.num_calls(), 0);
}

#[tokio::test]
async fn a_single_target_group_forward_reads_as_all_on_that_side() {
    let describe = mock!(Client::describe_listeners).then_output(|| {
        aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput::builder()
            .listeners(
                aws_sdk_elasticloadbalancingv2::types::Listener::builder()
                    .default_actions(
                        Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(GREEN_TG).build(),
                    )
                    .build(),
            )
            .build()
    });
    assert_eq!(router(&[&describe]).weights().await, Ok(Weights::green(100)));
}

#[tokio::test]
async fn weight_on_a_foreign_target_group_is_drift() {
    let describe = mock!(Client::describe_listeners).then_output(|| {
        aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput::builder()
            .listeners(
                aws_sdk_elasticloadbalancingv2::types::Listener::builder()
                    .default_actions(
                        Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn("arn:other").build(),
                    )
                    .build(),
            )
            .build()
    });
    assert!(matches!(router(&[&describe]).weights().await, Err(Error::TrafficDrift { .. })));
}

fn cohort_rule(arn: &str, header: &str) -> aws_sdk_elasticloadbalancingv2::types::Rule {
    aws_sdk_elasticloadbalancingv2::types::Rule::builder()
        .rule_arn(arn)
        .priority("1")
        .is_default(false)
        .conditions(
            RuleCondition::builder()
                .field("http-header")
                .http_header_config(
                    HttpHeaderConditionConfig::builder().http_header_name(header).values("internal").build(),
                )
                .build(),
        )
        .build()
}

fn rules(list: Vec<aws_sdk_elasticloadbalancingv2::types::Rule>) -> MockRule {
    mock!(Client::describe_rules)
        .then_output(move || DescribeRulesOutput::builder().set_rules(Some(list.clone())).build())
}

fn tags(managed: &'static [&'static str]) -> MockRule {
    mock!(Client::describe_tags).then_compute_output(move |req| {
        let descs = req
            .resource_arns()
            .iter()
            .map(|arn| {
                let mut d = TagDescription::builder().resource_arn(arn);
                if managed.contains(&arn.as_str()) {
                    d = d.tags(Tag::builder().key(MANAGED_TAG).value("cohort").build());
                }
                d.build()
            })
            .collect();
        DescribeTagsOutput::builder().set_tag_descriptions(Some(descs)).build()
    })
}

#[tokio::test]
async fn add_cohort_creates_a_tagged_header_rule_to_green_once() {
    let describe = rules(vec![]);
    let tag = tags(&[]);
    let create = mock!(Client::create_rule)
        .match_requests(|r| {
            let header = r.conditions().first().and_then(|c| c.http_header_config()).and_then(|h| h.http_header_name());
            let to_green = r
                .actions()
                .first()
                .and_then(|a| a.forward_config())
                .map(|f| f.target_groups()[0].target_group_arn() == Some(GREEN_TG));
            let tagged = r.tags().iter().any(|t| t.key() == Some(MANAGED_TAG));
            header == Some("X-Canary") && to_green == Some(true) && tagged && r.priority() == Some(1)
        })
        .then_output(|| CreateRuleOutput::builder().build());
    let r = router(&[&describe, &tag, &create]);
    let cohort = Cohort { header: "X-Canary".into(), values: vec!["internal".into()] };
    assert_eq!(r.add_cohort(&cohort).await, Ok(Change::Applied));
    assert_eq!(create.num_calls(), 1);

    // Already there: no second rule.
    let describe = rules(vec![cohort_rule("arn:rule/1", "X-Canary")]);
    let tag = tags(&["arn:rule/1"]);
    let create = mock!(Client::create_rule).then_output(|| CreateRuleOutput::builder().build());
    let r = router(&[&describe, &tag, &create]);
    assert_eq!(r.add_cohort(&cohort).await, Ok(Change::AlreadyThere));
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn remove_cohorts_deletes_only_managed_rules_and_tolerates_missing_ones() {
    let describe = rules(vec![
        cohort_rule("arn:rule/mine", "X-Canary"),
        cohort_rule("arn:rule/theirs", "X-Other"),
        cohort_rule("arn:rule/gone", "X-Canary"),
    ]);
    let tag = tags(&["arn:rule/mine", "arn:rule/gone"]);
    let delete_mine = mock!(Client::delete_rule)
        .match_requests(|r| r.rule_arn() == Some("arn:rule/mine"))
        .then_output(|| DeleteRuleOutput::builder().build());
    let delete_gone = mock!(Client::delete_rule)
        .match_requests(|r| r.rule_arn() == Some("arn:rule/gone"))
        .then_error(|| DeleteRuleError::RuleNotFoundException(RuleNotFoundException::builder().build()));
    let r = router(&[&describe, &tag, &delete_mine, &delete_gone]);
    assert_eq!(r.remove_cohorts().await, Ok(1));
    assert_eq!(delete_mine.num_calls(), 1);
    assert_eq!(delete_gone.num_calls(), 1);
}

#[tokio::test]
async fn restore_puts_blue_back_to_100() {
    let describe = mock!(Client::describe_listeners).then_output(|| listener(50, 50));
    let modify = mock!(Client::modify_listener)
        .match_requests(|r| weights_in(r.default_actions()) == Some((100, 0)))
        .then_output(|| ModifyListenerOutput::builder().build());
    let r = router(&[&describe, &modify, &rules(vec![]), &tags(&[])]);
    assert_eq!(r.restore().await, Ok(()));
    assert_eq!(modify.num_calls(), 1);
}

use aws_sdk_elasticloadbalancingv2::operation::create_rule::{CreateRuleInput, CreateRuleOutput};
use aws_sdk_elasticloadbalancingv2::operation::delete_rule::{DeleteRuleError, DeleteRuleInput, DeleteRuleOutput};
use aws_sdk_elasticloadbalancingv2::operation::describe_rules::DescribeRulesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_tags::DescribeTagsOutput;
use aws_sdk_elasticloadbalancingv2::operation::modify_listener::ModifyListenerOutput;
use aws_sdk_elasticloadbalancingv2::types::error::RuleNotFoundException;
use aws_sdk_elasticloadbalancingv2::types::{
    HostHeaderConditionConfig, HttpHeaderConditionConfig, PathPatternConditionConfig, Rule as ListenerRule,
    RuleCondition, TagDescription,
};
use aws_sdk_elasticloadbalancingv2::Client;
use aws_smithy_mocks::{mock, mock_client, Rule as MockRule, RuleMode};

use super::*;
use crate::testing::{context, listener, throttling_xml, weights_in, Sent, BLUE_TG, DEPLOYMENT, GREEN_TG, LISTENER};

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

/// The service and deployment of `context()`, as the cohort rules' tags spell them.
const SERVICE: &str = "demo/web";
const PRODUCTION_RULE: &str = "arn:rule/production";

/// Who a listener rule belongs to, by its tags.
#[derive(Clone, Copy)]
enum Owner {
    /// Tagged by this deployment of this service.
    Ours,
    /// Tagged by an earlier deployment of this service.
    OursEarlier,
    /// Tagged by another service's deployment.
    OtherService,
    /// Tagged `hookline:managed` only (made before rules named their service).
    LegacyManaged,
    /// Not hookline's.
    Untagged,
}

fn header(name: &str, values: &[&str]) -> RuleCondition {
    RuleCondition::builder()
        .field("http-header")
        .http_header_config(
            HttpHeaderConditionConfig::builder()
                .http_header_name(name)
                .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
                .build(),
        )
        .build()
}

/// A path condition spelled as DescribeRules answers it: legacy `Values` and the config both.
fn path(values: &[&str]) -> RuleCondition {
    let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    RuleCondition::builder()
        .field("path-pattern")
        .set_values(Some(values.clone()))
        .path_pattern_config(PathPatternConditionConfig::builder().set_values(Some(values)).build())
        .build()
}

fn host(values: &[&str]) -> RuleCondition {
    RuleCondition::builder()
        .field("host-header")
        .host_header_config(
            HostHeaderConditionConfig::builder()
                .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
                .build(),
        )
        .build()
}

fn listener_rule(arn: &str, priority: u32, conditions: Vec<RuleCondition>) -> ListenerRule {
    ListenerRule::builder()
        .rule_arn(arn)
        .priority(priority.to_string())
        .is_default(false)
        .set_conditions(Some(conditions))
        .build()
}

fn cohort_rule(arn: &str, priority: u32) -> ListenerRule {
    listener_rule(arn, priority, vec![header("X-Canary", &["internal"])])
}

/// DescribeRules on the production listener: the default rule plus `list`.
fn rules(list: Vec<ListenerRule>) -> MockRule {
    mock!(Client::describe_rules).match_requests(|r| r.listener_arn() == Some(LISTENER)).then_output(move || {
        let default = ListenerRule::builder().rule_arn("arn:rule/default").priority("default").is_default(true).build();
        DescribeRulesOutput::builder().set_rules(Some(std::iter::once(default).chain(list.clone()).collect())).build()
    })
}

/// DescribeTags answering each rule's tags from `owners` (a rule not listed has none).
fn tags(owners: &'static [(&'static str, Owner)]) -> MockRule {
    mock!(Client::describe_tags).then_compute_output(move |req| {
        let descs = req
            .resource_arns()
            .iter()
            .map(|arn| {
                let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
                let owner = owners.iter().find(|(a, _)| a == arn).map_or(Owner::Untagged, |(_, o)| *o);
                let list = match owner {
                    Owner::Ours => {
                        vec![tag(MANAGED_TAG, "cohort"), tag(SERVICE_TAG, SERVICE), tag(DEPLOYMENT_TAG, DEPLOYMENT)]
                    }
                    Owner::OursEarlier => {
                        vec![tag(MANAGED_TAG, "cohort"), tag(SERVICE_TAG, SERVICE), tag(DEPLOYMENT_TAG, "d-EARLIER01")]
                    }
                    Owner::OtherService => vec![
                        tag(MANAGED_TAG, "cohort"),
                        tag(SERVICE_TAG, "demo/admin"),
                        tag(DEPLOYMENT_TAG, "d-ADMIN0001"),
                    ],
                    Owner::LegacyManaged => vec![tag(MANAGED_TAG, "cohort")],
                    Owner::Untagged => vec![],
                };
                TagDescription::builder().resource_arn(arn).set_tags(Some(list)).build()
            })
            .collect();
        DescribeTagsOutput::builder().set_tag_descriptions(Some(descs)).build()
    })
}

fn cohort() -> Cohort {
    Cohort { header: "X-Canary".into(), values: vec!["internal".into()] }
}

/// The router of `context()`, in rule mode when `rule_mode`.
fn router_in(rule_mode: bool, rules: &[&MockRule]) -> AlbRouter {
    let client: Client = mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, rules.iter().copied());
    let mut ctx = context();
    if rule_mode {
        ctx.set_production_rule(Some(PRODUCTION_RULE.into()));
    }
    AlbRouter::new(client, &ctx)
}

fn create_rule(sent: &Sent<CreateRuleInput>) -> MockRule {
    mock!(Client::create_rule).match_requests(sent.recorder()).then_output(|| CreateRuleOutput::builder().build())
}

fn delete_rule(sent: &Sent<DeleteRuleInput>) -> MockRule {
    mock!(Client::delete_rule).match_requests(sent.recorder()).then_output(|| DeleteRuleOutput::builder().build())
}

/// The conditions a CreateRule request sets, spelled canonically and in a fixed order.
fn conditions_of(conditions: &[RuleCondition]) -> Vec<String> {
    condition_set(conditions)
}

fn tag_value<'a>(req: &'a CreateRuleInput, key: &str) -> Option<&'a str> {
    req.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

fn forwards_to_green_only(req: &CreateRuleInput) -> bool {
    let groups = req.actions().first().and_then(|a| a.forward_config()).map(|f| f.target_groups().to_vec());
    groups.is_some_and(|g| g.len() == 1 && g[0].target_group_arn() == Some(GREEN_TG))
}

#[tokio::test]
async fn rule_mode_cohort_rule_matches_only_the_production_rule_and_sits_right_before_it() {
    // Another service's path rule at 5; this service's production rule at 10.
    let describe = rules(vec![
        listener_rule("arn:rule/admin", 5, vec![path(&["/admin*"])]),
        listener_rule(PRODUCTION_RULE, 10, vec![path(&["/api*", "/v2/api*"]), host(&["shop.example.com"])]),
    ]);
    let (tag, created) = (tags(&[]), Sent::default());
    let create = create_rule(&created);
    let r = router_in(true, &[&describe, &tag, &create]);

    assert_eq!(r.add_cohort(&cohort()).await, Ok(Change::Applied));

    let req = created.only();
    assert_eq!(req.priority(), Some(9), "the highest free priority below the production rule's 10");
    assert_eq!(
        conditions_of(req.conditions()),
        conditions_of(&[path(&["/api*", "/v2/api*"]), host(&["shop.example.com"]), header("X-Canary", &["internal"])]),
        "the production rule's conditions plus the header"
    );
    assert!(req.conditions().iter().all(|c| c.values().is_empty()), "config spelling only: {:?}", req.conditions());
    assert!(forwards_to_green_only(&req));
    assert_eq!(tag_value(&req, MANAGED_TAG), Some("cohort"));
    assert_eq!(tag_value(&req, SERVICE_TAG), Some(SERVICE));
    assert_eq!(tag_value(&req, DEPLOYMENT_TAG), Some(DEPLOYMENT));
}

#[tokio::test]
async fn rule_mode_skips_this_services_own_rules_when_looking_for_a_free_priority() {
    // 9 is this deployment's rule for another header (kept, it is ours); 8 is free.
    let describe = rules(vec![
        listener_rule("arn:rule/admin", 2, vec![path(&["/admin*"])]),
        listener_rule("arn:rule/ours", 9, vec![path(&["/api*"]), header("X-Other", &["x"])]),
        listener_rule(PRODUCTION_RULE, 10, vec![path(&["/api*"])]),
    ]);
    let (tag, created) = (tags(&[("arn:rule/ours", Owner::Ours)]), Sent::default());
    let create = create_rule(&created);
    let r = router_in(true, &[&describe, &tag, &create]);
    assert_eq!(r.add_cohort(&cohort()).await, Ok(Change::Applied));
    assert_eq!(created.only().priority(), Some(8));
}

#[tokio::test]
async fn rule_mode_cohort_rule_with_the_same_conditions_is_already_there() {
    // Same conditions spelled differently (legacy Values, another order): still this deployment's rule.
    let describe = rules(vec![
        listener_rule("arn:rule/ours", 9, vec![header("X-Canary", &["internal"]), path(&["/api*"])]),
        listener_rule(PRODUCTION_RULE, 10, vec![path(&["/api*"])]),
    ]);
    let create = create_rule(&Sent::default());
    let r = router_in(true, &[&describe, &tags(&[("arn:rule/ours", Owner::Ours)]), &create]);
    assert_eq!(r.add_cohort(&cohort()).await, Ok(Change::AlreadyThere));
    assert_eq!(create.num_calls(), 0);

    // The header-only rule of default-action mode is not it: the rule-mode rule is created.
    let describe =
        rules(vec![cohort_rule("arn:rule/ours", 1), listener_rule(PRODUCTION_RULE, 10, vec![path(&["/api*"])])]);
    let created = Sent::default();
    let create = create_rule(&created);
    let r = router_in(true, &[&describe, &tags(&[("arn:rule/ours", Owner::Ours)]), &create]);
    assert_eq!(r.add_cohort(&cohort()).await, Ok(Change::Applied));
    assert_eq!(created.only().priority(), Some(9));
}

#[tokio::test]
async fn rule_mode_without_a_free_priority_before_the_production_rule_fails_and_creates_nothing() {
    for (name, list) in [
        ("production rule at priority 1", vec![listener_rule(PRODUCTION_RULE, 1, vec![path(&["/api*"])])]),
        (
            "another service's rule right before it (the cohort rule would shadow it)",
            vec![
                listener_rule("arn:rule/admin", 2, vec![path(&["/api/admin*"])]),
                listener_rule(PRODUCTION_RULE, 3, vec![path(&["/api*"])]),
            ],
        ),
    ] {
        let describe = rules(list);
        let (tag, created) = (tags(&[]), Sent::default());
        let create = create_rule(&created);
        let r = router_in(true, &[&describe, &tag, &create]);
        let err = r.add_cohort(&cohort()).await.expect_err(name);
        assert_eq!(err.error_type(), "InvalidInput", "{name}: {err}");
        assert!(err.to_string().contains(PRODUCTION_RULE), "{name}: the error names the rule: {err}");
        assert_eq!(create.num_calls(), 0, "{name}: nothing created");
    }
}

#[tokio::test]
async fn rule_mode_fails_clearly_when_alb_cannot_hold_the_combined_conditions() {
    // 3 path values + 1 host + 2 header values = 6 condition values; ALB allows 5 per rule.
    let describe =
        rules(vec![listener_rule(PRODUCTION_RULE, 10, vec![path(&["/a*", "/b*", "/c*"]), host(&["x.example.com"])])]);
    let (tag, created) = (tags(&[]), Sent::default());
    let create = create_rule(&created);
    let r = router_in(true, &[&describe, &tag, &create]);
    let two = Cohort { header: "X-Canary".into(), values: vec!["internal".into(), "staff".into()] };
    let err = r.add_cohort(&two).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("6 condition values, at most 5"), "{err}");
    assert!(err.to_string().contains(PRODUCTION_RULE), "{err}");

    // Four values in the header condition alone: at most three per condition.
    let four = Cohort { header: "X-Canary".into(), values: ["a", "b", "c", "d"].map(String::from).to_vec() };
    let err = router_in(false, &[&rules(vec![]), &tags(&[]), &create]).add_cohort(&four).await.unwrap_err();
    assert!(err.to_string().contains("at most 3"), "{err}");
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn rule_mode_production_rule_missing_from_the_listener_is_an_error() {
    let describe = rules(vec![listener_rule("arn:rule/admin", 5, vec![path(&["/admin*"])])]);
    let create = create_rule(&Sent::default());
    let r = router_in(true, &[&describe, &tags(&[]), &create]);
    let err = r.add_cohort(&cohort()).await.unwrap_err();
    assert_eq!((err.error_type(), err.aws_code()), ("AwsPermanent", Some("RuleNotFound")), "{err}");
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn default_mode_cohort_rule_goes_after_every_existing_rule() {
    // Other services' path rules at 1 and 7: a header-only rule before them would take their traffic.
    let describe = rules(vec![
        listener_rule("arn:rule/admin", 1, vec![path(&["/admin*"])]),
        listener_rule("arn:rule/shop", 7, vec![host(&["shop.example.com"])]),
    ]);
    let (tag, created) = (tags(&[]), Sent::default());
    let create = create_rule(&created);
    let r = router_in(false, &[&describe, &tag, &create]);
    assert_eq!(r.add_cohort(&cohort()).await, Ok(Change::Applied));
    let req = created.only();
    assert_eq!(req.priority(), Some(8));
    assert_eq!(conditions_of(req.conditions()), conditions_of(&[header("X-Canary", &["internal"])]));
    assert!(forwards_to_green_only(&req));
    assert_eq!(tag_value(&req, SERVICE_TAG), Some(SERVICE));

    // The highest priority taken: nowhere to go after it.
    let describe = rules(vec![listener_rule("arn:rule/last", 50_000, vec![path(&["/z*"])])]);
    let create = create_rule(&Sent::default());
    let err = router_in(false, &[&describe, &tags(&[]), &create]).add_cohort(&cohort()).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert_eq!(create.num_calls(), 0);
}

#[tokio::test]
async fn add_cohort_tags_the_rule_with_its_service_and_deployment() {
    let created = Sent::default();
    let create = create_rule(&created);
    let r = router_in(false, &[&rules(vec![]), &tags(&[]), &create]);
    assert_eq!(r.add_cohort(&cohort()).await, Ok(Change::Applied));
    let req = created.only();
    assert_eq!(conditions_of(req.conditions()), conditions_of(&[header("X-Canary", &["internal"])]));
    assert!(forwards_to_green_only(&req));
    assert_eq!(tag_value(&req, MANAGED_TAG), Some("cohort"));
    assert_eq!(tag_value(&req, SERVICE_TAG), Some(SERVICE));
    assert_eq!(tag_value(&req, DEPLOYMENT_TAG), Some(DEPLOYMENT));
}

#[tokio::test]
async fn add_cohort_is_already_there_only_for_this_deployments_rule_with_the_same_conditions() {
    // This deployment's rule, same conditions: nothing to do.
    let create = create_rule(&Sent::default());
    let r =
        router_in(false, &[&rules(vec![cohort_rule("arn:rule/1", 1)]), &tags(&[("arn:rule/1", Owner::Ours)]), &create]);
    assert_eq!(r.add_cohort(&cohort()).await, Ok(Change::AlreadyThere));
    assert_eq!(create.num_calls(), 0);

    // Another service's cohort rule with the very same header is not ours: ours is created after it.
    let created = Sent::default();
    let create = create_rule(&created);
    let r = router_in(
        false,
        &[
            &rules(vec![cohort_rule("arn:rule/admin-cohort", 1)]),
            &tags(&[("arn:rule/admin-cohort", Owner::OtherService)]),
            &create,
        ],
    );
    assert_eq!(r.add_cohort(&cohort()).await, Ok(Change::Applied));
    assert_eq!(created.only().priority(), Some(2));
}

#[tokio::test]
async fn add_cohort_replaces_a_rule_an_earlier_deployment_of_this_service_left() {
    // The earlier deployment's green is this deployment's blue: its rule must not stay in front.
    let describe = rules(vec![cohort_rule("arn:rule/earlier", 1)]);
    let tag = tags(&[("arn:rule/earlier", Owner::OursEarlier)]);
    let (deleted, created) = (Sent::default(), Sent::default());
    let (delete, create) = (delete_rule(&deleted), create_rule(&created));
    let r = router_in(false, &[&describe, &tag, &delete, &create]);
    assert_eq!(r.add_cohort(&cohort()).await, Ok(Change::Applied));
    assert_eq!(deleted.only().rule_arn(), Some("arn:rule/earlier"));
    assert_eq!(created.only().priority(), Some(1), "the freed priority is used again");
}

#[tokio::test]
async fn remove_cohorts_deletes_only_this_services_rules() {
    let describe = rules(vec![
        cohort_rule("arn:rule/mine", 1),
        cohort_rule("arn:rule/mine-earlier", 2),
        cohort_rule("arn:rule/other-service", 3),
        cohort_rule("arn:rule/legacy", 4),
        listener_rule("arn:rule/untagged", 5, vec![path(&["/admin*"])]),
    ]);
    let tag = tags(&[
        ("arn:rule/mine", Owner::Ours),
        ("arn:rule/mine-earlier", Owner::OursEarlier),
        ("arn:rule/other-service", Owner::OtherService),
        ("arn:rule/legacy", Owner::LegacyManaged),
    ]);
    let deleted = Sent::default();
    let delete = delete_rule(&deleted);
    let r = router_in(false, &[&describe, &tag, &delete]);
    assert_eq!(r.remove_cohorts().await, Ok(2));
    let arns: Vec<String> = deleted.all().iter().filter_map(|d| d.rule_arn().map(str::to_string)).collect();
    assert_eq!(arns, ["arn:rule/mine", "arn:rule/mine-earlier"]);
}

#[tokio::test]
async fn remove_cohorts_tolerates_rules_already_gone() {
    let describe = rules(vec![cohort_rule("arn:rule/mine", 1), cohort_rule("arn:rule/gone", 2)]);
    let tag = tags(&[("arn:rule/mine", Owner::Ours), ("arn:rule/gone", Owner::Ours)]);
    let delete_mine = mock!(Client::delete_rule)
        .match_requests(|r| r.rule_arn() == Some("arn:rule/mine"))
        .then_output(|| DeleteRuleOutput::builder().build());
    let delete_gone = mock!(Client::delete_rule)
        .match_requests(|r| r.rule_arn() == Some("arn:rule/gone"))
        .then_error(|| DeleteRuleError::RuleNotFoundException(RuleNotFoundException::builder().build()));
    let r = router_in(false, &[&describe, &tag, &delete_mine, &delete_gone]);
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

#[tokio::test]
async fn restore_of_a_plain_forward_to_blue_writes_nothing() {
    // Green already gone from the listener: a forward to blue alone is blue 100%.
    let describe = mock!(Client::describe_listeners).then_output(|| {
        aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput::builder()
            .listeners(
                aws_sdk_elasticloadbalancingv2::types::Listener::builder()
                    .listener_arn(LISTENER)
                    .default_actions(
                        Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(BLUE_TG).build(),
                    )
                    .build(),
            )
            .build()
    });
    let modify = modify_listener();
    let r = router(&[&describe, &modify, &rules(vec![]), &tags(&[])]);
    assert_eq!(r.restore().await, Ok(()));
    assert_eq!(modify.num_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_modify_listener_is_retried_by_the_sdk() {
    let describe = mock!(Client::describe_listeners).then_output(|| listener(50, 50));
    let modify = mock!(Client::modify_listener)
        .match_requests(|r| r.listener_arn() == Some(LISTENER) && weights_in(r.default_actions()) == Some((100, 0)))
        .sequence()
        .http_status(400, Some(throttling_xml()))
        .times(2)
        .output(|| ModifyListenerOutput::builder().build())
        .build();
    let r = router(&[&describe, &modify, &rules(vec![]), &tags(&[])]);
    let clock = tokio::time::Instant::now();

    assert_eq!(r.restore().await, Ok(()));

    assert_eq!(modify.num_calls(), 3);
    assert!(clock.elapsed() > std::time::Duration::ZERO, "backoff slept on tokio's paused clock");
}

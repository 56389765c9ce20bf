//! [`TrafficRouter`] on an Application Load Balancer: a weighted `forward` on
//! the production listener's default action, or on one listener rule.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, HostHeaderConditionConfig, HttpHeaderConditionConfig,
    HttpRequestMethodConditionConfig, PathPatternConditionConfig, QueryStringConditionConfig, Rule, RuleCondition,
    SourceIpConditionConfig, Tag, TargetGroupTuple,
};
use aws_sdk_elasticloadbalancingv2::Client;
use tracing::{info, warn};

use super::split::{Change, Cohort, Weights};
use crate::error::AwsResultExt;
use crate::execution::DeploymentContext;
use crate::ports::TrafficRouter;
use crate::{Error, Result};

/// Tag (value `cohort`) that marks the listener rules hookline created. Alone it
/// no longer makes a rule removable: see [`SERVICE_TAG`].
pub const MANAGED_TAG: &str = "hookline:managed";
/// Tag naming the ECS service (`<cluster>/<service>`) a cohort rule routes for.
/// Cleanup removes the rules whose service is its own, whatever deployment
/// created them: CodeDeploy runs one deployment per deployment group at a time,
/// so a rule of the same service from another deployment is a leftover of an
/// earlier one (it forwards to a target group that is now this deployment's),
/// while another service's rules belong to a deployment that may still be
/// running. Rules tagged with [`MANAGED_TAG`] only (made before this tag
/// existed) name no service and are left alone.
pub const SERVICE_TAG: &str = "hookline:service";
/// Tag naming the deployment that created a cohort rule.
pub const DEPLOYMENT_TAG: &str = "hookline:deployment";

// ALB rule limits (ELB user guide, "Condition types for listener rules": up to
// three match evaluations per condition and five per rule; "Quotas for your
// Application Load Balancers": 5 condition values and 5 condition wildcards per
// rule, none adjustable). Priorities run from 1 to 50,000 (CreateRule).
const MAX_VALUES_PER_CONDITION: usize = 3;
const MAX_VALUES_PER_RULE: usize = 5;
const MAX_WILDCARDS_PER_RULE: usize = 5;
const MAX_PRIORITY: i32 = 50_000;
/// Condition types a rule may hold at most once ("Condition types for listener
/// rules"); `http-header` and `query-string` may repeat.
const SINGLE_CONDITIONS: [&str; 4] = ["host-header", "http-request-method", "path-pattern", "source-ip"];

/// The production route of one deployment on an ALB.
#[derive(Clone, Debug)]
pub struct AlbRouter {
    elbv2: Client,
    listener_arn: String,
    rule_arn: Option<String>,
    blue_tg: String,
    green_tg: String,
    /// `<cluster>/<service>`, the value of [`SERVICE_TAG`] on this service's cohort rules.
    service: String,
    deployment_id: String,
}

impl AlbRouter {
    /// The production route of `ctx`.
    pub fn new(elbv2: Client, ctx: &DeploymentContext) -> AlbRouter {
        AlbRouter {
            elbv2,
            // Only ALB routes are given an AlbRouter (`traffic::Routers`); another route's empty ARN
            // would fail its first call with the service's own error.
            listener_arn: ctx.production.listener_arn().unwrap_or_default().to_string(),
            rule_arn: ctx.production.rule_arn().map(str::to_string),
            blue_tg: ctx.blue.target_group_arn.clone(),
            green_tg: ctx.green.target_group_arn.clone(),
            service: format!("{}/{}", ctx.cluster, ctx.service),
            deployment_id: ctx.deployment_id.clone(),
        }
    }

    fn resource(&self) -> &str {
        self.rule_arn.as_deref().unwrap_or(&self.listener_arn)
    }

    async fn live_actions(&self) -> Result<Vec<Action>> {
        match &self.rule_arn {
            Some(rule) => {
                let out = self.elbv2.describe_rules().rule_arns(rule).send().await.aws("DescribeRules")?;
                Ok(out.rules().first().map(|r| r.actions().to_vec()).unwrap_or_default())
            }
            None => {
                let out = self
                    .elbv2
                    .describe_listeners()
                    .listener_arns(&self.listener_arn)
                    .send()
                    .await
                    .aws("DescribeListeners")?;
                let listener = out.listeners().first().ok_or_else(|| Error::AwsPermanent {
                    operation: "DescribeListeners",
                    code: Some("ListenerNotFound".into()),
                    message: format!("listener {} not found", self.listener_arn),
                })?;
                Ok(listener.default_actions().to_vec())
            }
        }
    }

    /// The live split from a listener's or rule's actions. Weight on any other
    /// target group is drift: we never silently drop someone else's traffic.
    fn split_of(&self, actions: &[Action]) -> Result<Weights> {
        let forward = actions.iter().find(|a| a.r#type() == Some(&ActionTypeEnum::Forward));
        let drift = |found: String| Error::TrafficDrift {
            resource: self.resource().to_string(),
            expected: "a forward to the blue/green pair".into(),
            found,
        };
        let Some(forward) = forward else {
            return Err(drift("no forward action".into()));
        };
        let tuples: Vec<(String, u32)> =
            match forward.forward_config().map(|c| c.target_groups()).filter(|t| !t.is_empty()) {
                Some(groups) => groups
                    .iter()
                    .map(|t| {
                        (
                            t.target_group_arn().unwrap_or_default().to_string(),
                            u32::try_from(t.weight().unwrap_or(1)).unwrap_or(0),
                        )
                    })
                    .collect(),
                None => vec![(forward.target_group_arn().unwrap_or_default().to_string(), 1)],
            };
        let (mut blue, mut green) = (0, 0);
        for (arn, w) in tuples {
            if arn == self.blue_tg {
                blue += w;
            } else if arn == self.green_tg {
                green += w;
            } else if w > 0 {
                return Err(drift(format!("weight {w} on {arn}")));
            }
        }
        Weights::from_raw(blue, green).ok_or_else(|| drift("zero weight on both target groups".into()))
    }

    /// The same actions with the forward rewritten to `desired`, keeping its order and stickiness.
    fn with_weights(&self, actions: &[Action], desired: Weights) -> Vec<Action> {
        let forward_of = |old: Option<&Action>| {
            let stickiness =
                old.and_then(|a| a.forward_config()).and_then(|c| c.target_group_stickiness_config()).cloned();
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .set_order(old.and_then(|a| a.order()))
                .forward_config(
                    ForwardActionConfig::builder()
                        .target_groups(
                            TargetGroupTuple::builder()
                                .target_group_arn(&self.blue_tg)
                                .weight(i32::from(desired.blue))
                                .build(),
                        )
                        .target_groups(
                            TargetGroupTuple::builder()
                                .target_group_arn(&self.green_tg)
                                .weight(i32::from(desired.green))
                                .build(),
                        )
                        .set_target_group_stickiness_config(stickiness)
                        .build(),
                )
                .build()
        };
        let mut out: Vec<Action> = Vec::with_capacity(actions.len().max(1));
        let mut replaced = false;
        for a in actions {
            if a.r#type() == Some(&ActionTypeEnum::Forward) && !replaced {
                out.push(forward_of(Some(a)));
                replaced = true;
            } else if a.r#type() != Some(&ActionTypeEnum::Forward) {
                out.push(a.clone());
            }
        }
        if !replaced {
            out.push(forward_of(None));
        }
        out
    }

    async fn listener_rules(&self) -> Result<Vec<Rule>> {
        let out = self.elbv2.describe_rules().listener_arn(&self.listener_arn).send().await.aws("DescribeRules")?;
        Ok(out.rules().iter().filter(|r| !r.is_default().unwrap_or(false)).cloned().collect())
    }

    /// The hookline-tagged rules among `rules`, with whom they belong to.
    async fn managed_rules(&self, rules: &[Rule]) -> Result<Vec<Managed>> {
        let mut managed = Vec::new();
        // DescribeTags takes at most 20 resources per call.
        for chunk in rules.chunks(20) {
            let arns: Vec<String> = chunk.iter().filter_map(|r| r.rule_arn().map(str::to_string)).collect();
            if arns.is_empty() {
                continue;
            }
            let tags = self.elbv2.describe_tags().set_resource_arns(Some(arns)).send().await.aws("DescribeTags")?;
            for desc in tags.tag_descriptions() {
                let value = |key: &str| desc.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value());
                if !desc.tags().iter().any(|t| t.key() == Some(MANAGED_TAG)) {
                    continue;
                }
                if let Some(rule) = chunk.iter().find(|r| r.rule_arn() == desc.resource_arn()) {
                    managed.push(Managed {
                        rule: rule.clone(),
                        service: value(SERVICE_TAG).map(str::to_string),
                        deployment: value(DEPLOYMENT_TAG).map(str::to_string),
                    });
                }
            }
        }
        Ok(managed)
    }

    /// The conditions (and transforms) the cohort rule must have: in rule mode the
    /// production rule's own plus the header, so the cohort only ever catches
    /// requests that would have reached this service; on the default action the
    /// header alone (the rule goes after every other rule, see [`Self::cohort_priority`]).
    fn desired_cohort(&self, rules: &[Rule], cohort: &Cohort) -> Result<DesiredCohort> {
        let header = RuleCondition::builder()
            .field("http-header")
            .http_header_config(
                HttpHeaderConditionConfig::builder()
                    .http_header_name(&cohort.header)
                    .set_values(Some(cohort.values.clone()))
                    .build(),
            )
            .build();
        let Some(rule_arn) = &self.rule_arn else {
            let desired = DesiredCohort { conditions: vec![normalized(&header)], transforms: Vec::new() };
            check_limits(&desired.conditions, "cohort", "the cohort rule")?;
            return Ok(desired);
        };
        let production = self.production_rule(rules, rule_arn)?;
        let mut conditions: Vec<RuleCondition> = production.conditions().iter().map(normalized).collect();
        conditions.push(normalized(&header));
        check_limits(&conditions, "cohort", &format!("the production rule {rule_arn} plus the cohort header"))?;
        Ok(DesiredCohort { conditions, transforms: production.transforms().to_vec() })
    }

    fn production_rule<'a>(&self, rules: &'a [Rule], rule_arn: &str) -> Result<&'a Rule> {
        rules.iter().find(|r| r.rule_arn() == Some(rule_arn)).ok_or_else(|| Error::AwsPermanent {
            operation: "DescribeRules",
            code: Some("RuleNotFound".into()),
            message: format!("production rule {rule_arn} is not a rule of listener {}", self.listener_arn),
        })
    }

    /// Where the cohort rule goes. Rules are evaluated from the lowest priority
    /// up ("Listener rules for your Application Load Balancer").
    ///
    /// Rule mode: right before the production rule, at the highest free priority
    /// below it. Every rule in between must be this service's own: a request
    /// another rule there would have taken never reached this service, and the
    /// cohort rule placed in front of it would take it. Default-action mode:
    /// after every existing rule (highest used + 1), so the cohort only catches
    /// requests no other rule wants, which are the default action's.
    fn cohort_priority(&self, rules: &[Rule], own: &[&str]) -> Result<i32> {
        let used: HashMap<i32, &Rule> =
            rules.iter().filter_map(|r| Some((r.priority()?.parse::<i32>().ok()?, r))).collect();
        let Some(rule_arn) = &self.rule_arn else {
            let next = used.keys().max().map_or(1, |p| p + 1);
            if next > MAX_PRIORITY {
                return Err(Error::invalid(
                    "cohort",
                    format!(
                        "a free priority after every rule of listener {} for the cohort rule (the highest, \
                         {MAX_PRIORITY}, is taken)",
                        self.listener_arn
                    ),
                ));
            }
            return Ok(next);
        };
        let production = self.production_rule(rules, rule_arn)?;
        let Some(production_priority) = production.priority().and_then(|p| p.parse::<i32>().ok()) else {
            return Err(Error::invalid(
                "traffic.production_rule_arn",
                format!("a listener rule with a numeric priority, got {rule_arn} ({:?})", production.priority()),
            ));
        };
        let mut candidate = production_priority - 1;
        while candidate >= 1 {
            match used.get(&candidate) {
                None => return Ok(candidate),
                Some(r) if r.rule_arn().is_some_and(|a| own.contains(&a)) => candidate -= 1,
                Some(r) => {
                    return Err(Error::invalid(
                        "traffic.production_rule_arn",
                        format!(
                            "a free priority right before the production rule {rule_arn} (priority \
                             {production_priority}) for the cohort rule; priority {candidate} is taken by rule {}, \
                             which the cohort rule would shadow",
                            r.rule_arn().unwrap_or("(no ARN)")
                        ),
                    ))
                }
            }
        }
        Err(Error::invalid(
            "traffic.production_rule_arn",
            format!(
                "a free priority before the production rule {rule_arn} (priority {production_priority}) for the \
                 cohort rule; none is free"
            ),
        ))
    }

    /// Deletes `rule`: `true` when this call deleted it, `false` when it was already gone (not an error).
    async fn delete_rule(&self, rule: &Rule) -> Result<bool> {
        let Some(arn) = rule.rule_arn() else { return Ok(false) };
        match self.elbv2.delete_rule().rule_arn(arn).send().await {
            Ok(_) => Ok(true),
            // Gone already (a retry, or someone else cleaned up): that is what we wanted.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_rule_not_found_exception()) => Ok(false),
            Err(e) => Err(Error::from_sdk("DeleteRule", e)),
        }
    }
}

/// A hookline-tagged rule and the owner its tags name.
struct Managed {
    rule: Rule,
    service: Option<String>,
    deployment: Option<String>,
}

/// What the cohort rule should look like.
struct DesiredCohort {
    conditions: Vec<RuleCondition>,
    transforms: Vec<aws_sdk_elasticloadbalancingv2::types::RuleTransform>,
}

/// `values` sorted, or `None` when empty (an empty list is not sent).
fn sorted(values: &[String]) -> Option<Vec<String>> {
    let mut v = values.to_vec();
    v.sort();
    (!v.is_empty()).then_some(v)
}

/// A condition as CreateRule takes it, in one canonical spelling: `host-header`
/// and `path-pattern` through their config only (DescribeRules also echoes the
/// legacy `Values`, which the API reference gives as the alternative to the
/// config, not a companion), every value list sorted, so that two spellings of
/// one condition compare equal.
fn normalized(c: &RuleCondition) -> RuleCondition {
    let base =
        RuleCondition::builder().set_field(c.field().map(str::to_string)).set_regex_values(sorted(c.regex_values()));
    match c.field() {
        Some("host-header") => {
            let (values, regex) =
                c.host_header_config().map_or((c.values(), &[][..]), |h| (h.values(), h.regex_values()));
            base.host_header_config(
                HostHeaderConditionConfig::builder().set_values(sorted(values)).set_regex_values(sorted(regex)).build(),
            )
            .build()
        }
        Some("path-pattern") => {
            let (values, regex) =
                c.path_pattern_config().map_or((c.values(), &[][..]), |p| (p.values(), p.regex_values()));
            base.path_pattern_config(
                PathPatternConditionConfig::builder()
                    .set_values(sorted(values))
                    .set_regex_values(sorted(regex))
                    .build(),
            )
            .build()
        }
        _ => {
            let http_header = c.http_header_config().map(|h| {
                HttpHeaderConditionConfig::builder()
                    .set_http_header_name(h.http_header_name().map(str::to_string))
                    .set_values(sorted(h.values()))
                    .set_regex_values(sorted(h.regex_values()))
                    .build()
            });
            let query_string = c.query_string_config().map(|q| {
                let mut pairs = q.values().to_vec();
                pairs.sort_by(|a, b| (a.key(), a.value()).cmp(&(b.key(), b.value())));
                QueryStringConditionConfig::builder().set_values(Some(pairs)).build()
            });
            let method = c
                .http_request_method_config()
                .map(|m| HttpRequestMethodConditionConfig::builder().set_values(sorted(m.values())).build());
            let source_ip = c.source_ip_config().map(|s| {
                SourceIpConditionConfig::builder()
                    .set_values(sorted(s.values()))
                    .set_ip_address_type(s.ip_address_type().cloned())
                    .build()
            });
            base.set_http_header_config(http_header)
                .set_query_string_config(query_string)
                .set_http_request_method_config(method)
                .set_source_ip_config(source_ip)
                .set_values(sorted(c.values()))
                .build()
        }
    }
}

/// The conditions as an order-free comparable value.
fn condition_set(conditions: &[RuleCondition]) -> Vec<String> {
    let mut keys: Vec<String> = conditions.iter().map(|c| format!("{:?}", normalized(c))).collect();
    keys.sort();
    keys
}

/// The comparison strings of one condition (each is one match evaluation) and
/// how many wildcards (`*`, `?`) the plain ones hold (regular expressions are not wildcards).
fn evaluations(c: &RuleCondition) -> (usize, usize) {
    let wildcards = |v: &str| v.chars().filter(|ch| *ch == '*' || *ch == '?').count();
    let plain: Vec<&str> = match c.field() {
        Some("host-header") => {
            c.host_header_config().map(|h| h.values()).unwrap_or(c.values()).iter().map(String::as_str).collect()
        }
        Some("path-pattern") => {
            c.path_pattern_config().map(|p| p.values()).unwrap_or(c.values()).iter().map(String::as_str).collect()
        }
        Some("http-header") => {
            c.http_header_config().map(|h| h.values()).unwrap_or_default().iter().map(String::as_str).collect()
        }
        _ => Vec::new(),
    };
    let regex = c.regex_values().len()
        + c.host_header_config().map_or(0, |h| h.regex_values().len())
        + c.path_pattern_config().map_or(0, |p| p.regex_values().len())
        + c.http_header_config().map_or(0, |h| h.regex_values().len());
    let pairs = c.query_string_config().map(|q| q.values()).unwrap_or_default();
    let others = pairs.len()
        + c.http_request_method_config().map_or(0, |m| m.values().len())
        + c.source_ip_config().map_or(0, |s| s.values().len());
    let wild = plain.iter().map(|v| wildcards(v)).sum::<usize>()
        + pairs.iter().map(|kv| kv.key().map_or(0, wildcards) + kv.value().map_or(0, wildcards)).sum::<usize>();
    (plain.len() + regex + others, wild)
}

/// Fails when ALB could not hold `conditions` in one rule (limits above).
fn check_limits(conditions: &[RuleCondition], field: &str, what: &str) -> Result<()> {
    let too_much = |detail: String| Err(Error::invalid(field, format!("{what} must fit in one ALB rule: {detail}")));
    for kind in SINGLE_CONDITIONS {
        if conditions.iter().filter(|c| c.field() == Some(kind)).count() > 1 {
            return too_much(format!("a rule holds at most one {kind} condition"));
        }
    }
    let (mut values, mut wildcards) = (0, 0);
    for c in conditions {
        let (n, w) = evaluations(c);
        if n > MAX_VALUES_PER_CONDITION {
            return too_much(format!(
                "{n} values in one {} condition, at most {MAX_VALUES_PER_CONDITION}",
                c.field().unwrap_or("?")
            ));
        }
        values += n;
        wildcards += w;
    }
    if values > MAX_VALUES_PER_RULE {
        return too_much(format!("{values} condition values, at most {MAX_VALUES_PER_RULE} per rule"));
    }
    if wildcards > MAX_WILDCARDS_PER_RULE {
        return too_much(format!("{wildcards} wildcards, at most {MAX_WILDCARDS_PER_RULE} per rule"));
    }
    Ok(())
}
#[async_trait]
impl TrafficRouter for AlbRouter {
    async fn weights(&self) -> Result<Weights> {
        let actions = self.live_actions().await?;
        self.split_of(&actions)
    }

    async fn set_weights(&self, desired: Weights, expect: Option<Weights>) -> Result<Change> {
        let actions = self.live_actions().await?;
        let live = self.split_of(&actions);
        // Already at the target: a retry of a call that went through. Checked
        // before drift so a retried step does not roll back for nothing.
        if live.as_ref().ok() == Some(&desired) {
            return Ok(Change::AlreadyThere);
        }
        if let Some(expected) = expect {
            let live = live.clone()?;
            if live != expected {
                return Err(Error::TrafficDrift {
                    resource: self.resource().to_string(),
                    expected: expected.to_string(),
                    found: live.to_string(),
                });
            }
        }
        let new_actions = self.with_weights(&actions, desired);
        match &self.rule_arn {
            Some(rule) => {
                self.elbv2
                    .modify_rule()
                    .rule_arn(rule)
                    .set_actions(Some(new_actions))
                    .send()
                    .await
                    .aws("ModifyRule")?;
            }
            None => {
                self.elbv2
                    .modify_listener()
                    .listener_arn(&self.listener_arn)
                    .set_default_actions(Some(new_actions))
                    .send()
                    .await
                    .aws("ModifyListener")?;
            }
        }
        Ok(Change::Applied)
    }

    async fn add_cohort(&self, cohort: &Cohort) -> Result<Change> {
        let mut rules = self.listener_rules().await?;
        let managed = self.managed_rules(&rules).await?;
        let desired = self.desired_cohort(&rules, cohort)?;
        let wanted = condition_set(&desired.conditions);
        let ours = |m: &&Managed| m.service.as_deref() == Some(self.service.as_str());
        if managed.iter().filter(ours).any(|m| {
            m.deployment.as_deref() == Some(self.deployment_id.as_str()) && condition_set(m.rule.conditions()) == wanted
        }) {
            return Ok(Change::AlreadyThere);
        }
        // This service's rules from an earlier deployment forward to a target group that is
        // now this deployment's blue or green: they go before ours is made.
        let mut stale = Vec::new();
        for m in managed.iter().filter(ours) {
            if m.deployment.as_deref() != Some(self.deployment_id.as_str()) {
                let (rule, deployment) = (m.rule.rule_arn(), m.deployment.as_deref());
                info!(?rule, ?deployment, "removing a stale cohort rule of this service");
                self.delete_rule(&m.rule).await?;
                stale.extend(m.rule.rule_arn().map(str::to_string));
            }
        }
        rules.retain(|r| !r.rule_arn().is_some_and(|a| stale.iter().any(|s| s == a)));
        let own: Vec<&str> = managed.iter().filter(ours).filter_map(|m| m.rule.rule_arn()).collect();
        let priority = self.cohort_priority(&rules, &own)?;
        let transforms = (!desired.transforms.is_empty()).then_some(desired.transforms);
        self.elbv2
            .create_rule()
            .listener_arn(&self.listener_arn)
            .priority(priority)
            .set_conditions(Some(desired.conditions))
            .set_transforms(transforms)
            .actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .forward_config(
                        ForwardActionConfig::builder()
                            .target_groups(
                                TargetGroupTuple::builder().target_group_arn(&self.green_tg).weight(1).build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .tags(Tag::builder().key(MANAGED_TAG).value("cohort").build())
            .tags(Tag::builder().key(SERVICE_TAG).value(&self.service).build())
            .tags(Tag::builder().key(DEPLOYMENT_TAG).value(&self.deployment_id).build())
            .send()
            .await
            .aws("CreateRule")?;
        Ok(Change::Applied)
    }

    async fn remove_cohorts(&self) -> Result<usize> {
        let mut removed = 0;
        let rules = self.listener_rules().await?;
        for m in self.managed_rules(&rules).await? {
            match m.service.as_deref() {
                Some(service) if service == self.service => {
                    if self.delete_rule(&m.rule).await? {
                        removed += 1;
                    }
                }
                // Another service's cohort: its own deployment removes it.
                Some(_) => {}
                None => warn!(
                    rule = ?m.rule.rule_arn(),
                    "cohort rule without a {SERVICE_TAG} tag (made by an older hookline): left alone, delete it by hand"
                ),
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests;

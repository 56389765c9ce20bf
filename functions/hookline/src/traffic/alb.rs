//! [`TrafficRouter`] on an Application Load Balancer: a weighted `forward` on
//! the production listener's default action, or on one listener rule.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, HttpHeaderConditionConfig, Rule, RuleCondition, Tag, TargetGroupTuple,
};
use aws_sdk_elasticloadbalancingv2::Client;

use super::{Change, Cohort, TrafficRouter, Weights};
use crate::error::AwsResultExt;
use crate::execution::DeploymentContext;
use crate::{Error, Result};

/// Tag that marks the listener rules hookline created, so only those are removed.
pub const MANAGED_TAG: &str = "hookline:managed";

/// The production route of one deployment on an ALB.
#[derive(Clone, Debug)]
pub struct AlbRouter {
    elbv2: Client,
    listener_arn: String,
    rule_arn: Option<String>,
    blue_tg: String,
    green_tg: String,
}

impl AlbRouter {
    /// The production route of `ctx`.
    pub fn new(elbv2: Client, ctx: &DeploymentContext) -> AlbRouter {
        AlbRouter {
            elbv2,
            listener_arn: ctx.prod_listener_arn.clone(),
            rule_arn: ctx.prod_rule_arn.clone(),
            blue_tg: ctx.blue.target_group_arn.clone(),
            green_tg: ctx.green.target_group_arn.clone(),
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

    async fn managed_rules(&self, rules: &[Rule]) -> Result<Vec<Rule>> {
        let mut managed = Vec::new();
        // DescribeTags takes at most 20 resources per call.
        for chunk in rules.chunks(20) {
            let arns: Vec<String> = chunk.iter().filter_map(|r| r.rule_arn().map(str::to_string)).collect();
            if arns.is_empty() {
                continue;
            }
            let tags = self.elbv2.describe_tags().set_resource_arns(Some(arns)).send().await.aws("DescribeTags")?;
            for desc in tags.tag_descriptions() {
                if desc.tags().iter().any(|t| t.key() == Some(MANAGED_TAG)) {
                    if let Some(rule) = chunk.iter().find(|r| r.rule_arn() == desc.resource_arn()) {
                        managed.push(rule.clone());
                    }
                }
            }
        }
        Ok(managed)
    }
}

fn header_of(rule: &Rule) -> Option<(String, Vec<String>)> {
    rule.conditions().iter().find_map(|c| {
        let cfg = c.http_header_config()?;
        Some((cfg.http_header_name()?.to_string(), cfg.values().to_vec()))
    })
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
        let rules = self.listener_rules().await?;
        let managed = self.managed_rules(&rules).await?;
        if managed.iter().any(|r| header_of(r) == Some((cohort.header.clone(), cohort.values.clone()))) {
            return Ok(Change::AlreadyThere);
        }
        // The lowest free priority, so the cohort is matched before the rules behind it.
        let used: Vec<i32> = rules.iter().filter_map(|r| r.priority()?.parse().ok()).collect();
        let priority = (1..=50_000).find(|p| !used.contains(p)).unwrap_or(50_000);
        self.elbv2
            .create_rule()
            .listener_arn(&self.listener_arn)
            .priority(priority)
            .conditions(
                RuleCondition::builder()
                    .field("http-header")
                    .http_header_config(
                        HttpHeaderConditionConfig::builder()
                            .http_header_name(&cohort.header)
                            .set_values(Some(cohort.values.clone()))
                            .build(),
                    )
                    .build(),
            )
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
            .send()
            .await
            .aws("CreateRule")?;
        Ok(Change::Applied)
    }

    async fn remove_cohorts(&self) -> Result<usize> {
        let mut removed = 0;
        let rules = self.listener_rules().await?;
        for rule in self.managed_rules(&rules).await? {
            let Some(arn) = rule.rule_arn() else { continue };
            match self.elbv2.delete_rule().rule_arn(arn).send().await {
                Ok(_) => removed += 1,
                // Gone already (a retry, or someone else cleaned up): that is what we wanted.
                Err(e) if e.as_service_error().is_some_and(|s| s.is_rule_not_found_exception()) => {}
                Err(e) => return Err(Error::from_sdk("DeleteRule", e)),
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests;

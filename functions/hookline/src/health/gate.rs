//! Gathers the facts for a verdict: at most four AWS calls per run
//! (the caller's GetDeployment, DescribeTargetHealth, DescribeTaskSets,
//! DescribeAlarms), plus the HTTP probes.

use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;

use super::verdict::{self, Verdict};
use crate::error::AwsResultExt;
use crate::execution::DeploymentContext;
use crate::plan::Health;
use crate::Result;

/// The clients a gate run needs.
#[derive(Clone, Debug)]
pub struct HealthGate {
    pub ecs: aws_sdk_ecs::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub http: reqwest::Client,
}

impl HealthGate {
    /// Judges green against `health`.
    pub async fn check(&self, ctx: &DeploymentContext, health: &Health) -> Result<Verdict> {
        let mut checks = Vec::new();

        let mut desired = None;
        if let Some(task_set) = &ctx.green.task_set_arn {
            let out = self
                .ecs
                .describe_task_sets()
                .cluster(&ctx.cluster)
                .service(&ctx.service)
                .task_sets(task_set)
                .send()
                .await
                .aws("DescribeTaskSets")?;
            match out.task_sets().first() {
                Some(ts) => {
                    desired = Some(i64::from(ts.computed_desired_count()));
                    checks.push(verdict::steady(task_set, ts.stability_status().map(|s| s.as_str())));
                }
                None => checks.push(verdict::steady(task_set, Some("MISSING"))),
            }
        }

        let targets = self
            .elbv2
            .describe_target_health()
            .target_group_arn(&ctx.green.target_group_arn)
            .send()
            .await
            .aws("DescribeTargetHealth")?;
        let registered = targets.target_health_descriptions().len();
        let healthy = targets
            .target_health_descriptions()
            .iter()
            .filter(|d| d.target_health().and_then(|h| h.state()) == Some(&TargetHealthStateEnum::Healthy))
            .count();
        checks.push(verdict::targets(
            &ctx.green.target_group_name,
            healthy,
            registered,
            desired,
            health.min_healthy_percent,
        ));

        if !health.alarms.is_empty() {
            let out = self
                .cloudwatch
                .describe_alarms()
                .set_alarm_names(Some(health.alarms.clone()))
                .send()
                .await
                .aws("DescribeAlarms")?;
            for name in &health.alarms {
                let state = out
                    .metric_alarms()
                    .iter()
                    .find(|a| a.alarm_name() == Some(name.as_str()))
                    .and_then(|a| a.state_value())
                    .map(|s| s.as_str().to_string());
                checks.push(verdict::alarm(name, state.as_deref()));
            }
        }

        for probe in &health.http {
            let got = self
                .http
                .get(&probe.url)
                .timeout(Duration::from_millis(probe.timeout_ms))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .map_err(|e| {
                    if e.is_timeout() {
                        format!("timed out after {}ms", probe.timeout_ms)
                    } else {
                        format!("request failed: {e}")
                    }
                });
            checks.push(verdict::http(&probe.url, probe.expect_status, got));
        }
        Ok(Verdict { checks })
    }
}

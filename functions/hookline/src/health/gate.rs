//! Gathers the facts for a verdict: at most four AWS calls per run
//! (the caller's GetDeployment, DescribeTargetHealth, DescribeTaskSets,
//! DescribeAlarms), plus the HTTP probes.

use std::sync::{Arc, OnceLock};
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
    pub http: ProbeClient,
}

/// The HTTP client of the probes, built on first use: TLS setup and the
/// system's root certificates cost cold-start time that only plans with
/// `health.http` probes should pay. Clones share the one client.
#[derive(Clone, Debug, Default)]
pub struct ProbeClient(Arc<OnceLock<reqwest::Client>>);

impl ProbeClient {
    fn get(&self) -> std::result::Result<&reqwest::Client, String> {
        if let Some(client) = self.0.get() {
            return Ok(client);
        }
        // rustls needs one process-wide crypto provider; the AWS SDK's is aws-lc-rs,
        // so the probes use the same one. Err means one is installed already: fine.
        let _already_installed = rustls::crypto::aws_lc_rs::default_provider().install_default().is_err();
        let client = reqwest::Client::builder().build().map_err(|e| format!("no HTTP client: {e}"))?;
        Ok(self.0.get_or_init(|| client))
    }
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
            let http = match self.http.get() {
                Ok(http) => http,
                Err(e) => {
                    checks.push(verdict::http(&probe.url, probe.expect_status, Err(e)));
                    continue;
                }
            };
            let got = http
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

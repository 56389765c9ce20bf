//! Gathers the facts for a verdict through [`HealthFacts`]: [`check`] is the
//! gate's logic over any source, [`HealthGate`] the AWS/HTTP source (at most
//! four AWS calls per run: the caller's GetDeployment, DescribeTargetHealth,
//! DescribeTaskSets, DescribeAlarms, plus the HTTP probes).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::TargetHealthStateEnum;

use super::verdict::{self, Verdict};
use crate::aws::Placed;
use crate::dns::{Placement, ServiceFacts};
use crate::error::AwsResultExt;
use crate::execution::{DeploymentContext, ServiceRef};
use crate::plan::{Health, HttpProbe};
use crate::ports::Services;
use crate::Result;

/// The clients a gate run needs.
#[derive(Clone, Debug)]
pub struct HealthGate {
    /// ECS and ELBv2 per placement: green's own service and target group may be in its own Region
    /// (hookline's Route 53 controller, "Across Regions").
    pub ecs: Placed<aws_sdk_ecs::Client>,
    pub elbv2: Placed<aws_sdk_elasticloadbalancingv2::Client>,
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

pub use super::facts::{TargetFacts, TaskSetFacts};
pub use crate::ports::HealthFacts;

/// Judges green against `health` from the facts `facts` gives.
pub async fn check(facts: &dyn HealthFacts, ctx: &DeploymentContext, health: &Health) -> Result<Verdict> {
    let mut checks = Vec::new();

    let mut desired = None;
    if let Some(task_set) = &ctx.green.task_set_arn {
        match facts.task_set(&ctx.cluster, &ctx.service, task_set).await? {
            Some(ts) => {
                desired = Some(ts.desired);
                checks.push(verdict::steady(task_set, ts.stability.as_deref()));
            }
            None => checks.push(verdict::steady(task_set, Some("MISSING"))),
        }
    } else if let Some(service) = &ctx.green.service {
        // A whole service per release (hookline's Route 53 controller): stable, and its desired
        // count is what the targets are measured against.
        let facts = facts.service(service).await?;
        desired = facts.as_ref().map(|f| i64::from(f.desired));
        checks.push(verdict::service_stable(&service.service, facts.as_ref()));
    }

    let targets = facts.targets(&ctx.green.target_group_arn, &green_placement(ctx)).await?;
    checks.push(verdict::targets(
        &ctx.green.target_group_name,
        targets.healthy,
        targets.registered,
        desired,
        health.min_healthy_percent,
    ));

    if !health.alarms.is_empty() {
        let states = facts.alarm_states(&health.alarms).await?;
        for (name, state) in
            health.alarms.iter().zip(states.iter().map(Option::as_deref).chain(std::iter::repeat(None)))
        {
            checks.push(verdict::alarm(name, state));
        }
    }

    for probe in &health.http {
        checks.push(verdict::http(&probe.url, probe.expect_status, facts.probe(probe).await));
    }
    Ok(Verdict { checks })
}

/// Where green's target group is: its release's placement under hookline's Route 53 controller,
/// else the functions' own Region.
pub fn green_placement(ctx: &DeploymentContext) -> Placement {
    match &ctx.production {
        crate::execution::Route::DnsWeighted { green, .. } => green.placement(),
        _ => Placement::default(),
    }
}

impl HealthGate {
    /// Judges green against `health`, reading the facts from AWS and HTTP.
    pub async fn check(&self, ctx: &DeploymentContext, health: &Health) -> Result<Verdict> {
        check(self, ctx, health).await
    }
}

#[async_trait]
impl HealthFacts for HealthGate {
    async fn task_set(&self, cluster: &str, service: &str, task_set_arn: &str) -> Result<Option<TaskSetFacts>> {
        let out = self
            .ecs
            .home()
            .describe_task_sets()
            .cluster(cluster)
            .service(service)
            .task_sets(task_set_arn)
            .send()
            .await
            .aws("DescribeTaskSets")?;
        Ok(out.task_sets().first().map(|ts| TaskSetFacts {
            desired: i64::from(ts.computed_desired_count()),
            stability: ts.stability_status().map(|s| s.as_str().to_string()),
        }))
    }

    async fn targets(&self, target_group_arn: &str, at: &Placement) -> Result<TargetFacts> {
        let out = self
            .elbv2
            .at(at)
            .await
            .describe_target_health()
            .target_group_arn(target_group_arn)
            .send()
            .await
            .aws("DescribeTargetHealth")?;
        let descriptions = out.target_health_descriptions();
        Ok(TargetFacts {
            healthy: descriptions
                .iter()
                .filter(|d| d.target_health().and_then(|h| h.state()) == Some(&TargetHealthStateEnum::Healthy))
                .count(),
            registered: descriptions.len(),
        })
    }

    async fn service(&self, service: &ServiceRef) -> Result<Option<ServiceFacts>> {
        crate::aws::EcsServices { ecs: self.ecs.clone() }.describe(service).await
    }

    async fn alarm_states(&self, names: &[String]) -> Result<Vec<Option<String>>> {
        let out = self
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(names.to_vec()))
            .send()
            .await
            .aws("DescribeAlarms")?;
        Ok(names
            .iter()
            .map(|name| {
                out.metric_alarms()
                    .iter()
                    .find(|a| a.alarm_name() == Some(name.as_str()))
                    .and_then(|a| a.state_value())
                    .map(|s| s.as_str().to_string())
            })
            .collect())
    }

    async fn probe(&self, probe: &HttpProbe) -> std::result::Result<u16, String> {
        let http = self.http.get()?;
        http.get(&probe.url)
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
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{context, plan};

    /// Facts served from memory: the gate's logic without any client.
    struct Served {
        alarm: &'static str,
        probe: std::result::Result<u16, String>,
    }

    #[async_trait]
    impl HealthFacts for Served {
        async fn task_set(&self, _: &str, _: &str, _: &str) -> Result<Option<TaskSetFacts>> {
            Ok(Some(TaskSetFacts { desired: 2, stability: Some("STEADY_STATE".into()) }))
        }
        async fn targets(&self, _: &str, _: &Placement) -> Result<TargetFacts> {
            Ok(TargetFacts { healthy: 2, registered: 2 })
        }
        async fn service(&self, _: &ServiceRef) -> Result<Option<ServiceFacts>> {
            Ok(None)
        }
        async fn alarm_states(&self, names: &[String]) -> Result<Vec<Option<String>>> {
            Ok(names.iter().map(|_| Some(self.alarm.to_string())).collect())
        }
        async fn probe(&self, _: &HttpProbe) -> std::result::Result<u16, String> {
            self.probe.clone()
        }
    }

    fn health() -> Health {
        let mut health = plan().health;
        health.alarms = vec!["web-5xx".into()];
        health.http = vec![HttpProbe { url: "http://green/health".into(), expect_status: 200, timeout_ms: 100 }];
        health
    }

    #[tokio::test]
    async fn the_gate_judges_whatever_source_serves_the_facts() {
        let good = Served { alarm: "OK", probe: Ok(200) };
        assert!(check(&good, &context(), &health()).await.expect("verdict").healthy());

        let alarm = Served { alarm: "ALARM", probe: Ok(200) };
        let verdict = check(&alarm, &context(), &health()).await.expect("verdict");
        assert!(!verdict.healthy() && verdict.failures().contains("web-5xx"), "{}", verdict.failures());

        let down = Served { alarm: "OK", probe: Err("request failed".into()) };
        assert!(!check(&down, &context(), &health()).await.expect("verdict").healthy());
    }

    /// A local HTTP server answering `/ok` 200 and anything else 503, for the probes.
    async fn probe_server() -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let status = if request.starts_with(b"GET /ok ") { "200 OK" } else { "503 Service Unavailable" };
                let response = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _client_gone = socket.write_all(response.as_bytes()).await.is_err();
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn probes_answer_the_http_status_with_one_client_built_on_first_use() {
        let base = probe_server().await;
        let gate = crate::testing::mocked_clients(&[]).health_gate();
        let probe = |path: &str| HttpProbe { url: format!("{base}{path}"), expect_status: 200, timeout_ms: 2000 };
        assert!(gate.http.0.get().is_none(), "no HTTP client before a probe");

        assert_eq!(gate.probe(&probe("/broken")).await, Ok(503));
        let built = gate.http.0.get().map(|c| c as *const reqwest::Client);
        assert!(built.is_some(), "built by the first probe");

        // The same (lazily built) client serves the next check of this container.
        assert_eq!(gate.clone().probe(&probe("/ok")).await, Ok(200));
        assert_eq!(gate.http.0.get().map(|c| c as *const reqwest::Client), built);

        let refused = HttpProbe { url: "http://127.0.0.1:1/health".into(), expect_status: 200, timeout_ms: 2000 };
        let err = gate.probe(&refused).await.expect_err("nothing listens on port 1");
        assert!(err.starts_with("request failed"), "{err}");
    }
}

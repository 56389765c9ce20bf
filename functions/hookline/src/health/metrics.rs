//! The canary judge's samples: blue's and green's series of each `analysis` metric over a bake
//! window, read through [`MetricsSource`]; [`CloudWatchMetrics`] reads them with ONE GetMetricData
//! request per placement (per metric and side: one query per input, plus the metric math that
//! answers; followed through its pages; two requests only when the two releases of hookline's
//! Route 53 controller are in different Regions or accounts), and [`judge_window`] judges them. Each sample is one period's aggregate
//! (a minute's p99, a minute's errors per request), not a request's value.

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_smithy_types::DateTime;

use crate::error::AwsResultExt;
use crate::execution::DeploymentContext;
use crate::judge::{judge_metric, score, Judgement, Outcome};
use crate::plan::analysis::{Analysis, AnalysisMetric, MetricSource, OnMarginal, OnNoData, ALB_NAMESPACE};
use crate::{Error, Result};

pub use super::facts::{InputQuery, SeriesQuery, Side};
pub use crate::ports::MetricsSource;

/// The two queries (blue, then green) of every metric of `analysis`, in the metrics' order.
pub fn queries(analysis: &Analysis, ctx: &DeploymentContext) -> Result<Vec<SeriesQuery>> {
    let mut out = Vec::with_capacity(analysis.metrics.len() * 2);
    for (i, m) in analysis.metrics.iter().enumerate() {
        for side in [Side::Blue, Side::Green] {
            let (namespace, dimensions) = match &m.source {
                MetricSource::Alb => {
                    let target_group = match side {
                        Side::Blue => &ctx.blue.target_group_arn,
                        Side::Green => &ctx.green.target_group_arn,
                    };
                    (ALB_NAMESPACE.to_string(), side_dimensions(ctx, side, target_group)?)
                }
                MetricSource::Custom { namespace, dimensions, version_dimension, blue, green } => {
                    let mut dims: Vec<(String, String)> =
                        dimensions.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    let version = match side {
                        Side::Blue => blue,
                        Side::Green => green,
                    };
                    dims.push((version_dimension.clone(), version.clone()));
                    (namespace.clone(), dims)
                }
            };
            let suffix = match side {
                Side::Blue => "blue",
                Side::Green => "green",
            };
            let id = format!("m{i}_{suffix}");
            let expression = m.expression_for(|name| input_id(&id, m, name));
            let inputs = m
                .inputs
                .iter()
                .map(|input| InputQuery {
                    id: input_id(&id, m, &input.name),
                    namespace: namespace.clone(),
                    metric_name: input.metric_name.clone(),
                    dimensions: dimensions.clone(),
                    statistic: input.statistic.clone(),
                })
                .collect();
            out.push(SeriesQuery {
                id,
                side,
                inputs,
                expression,
                period_seconds: m.period_seconds,
                fill_zero: m.fills_zero(),
                at: side_placement(ctx, side),
            });
        }
    }
    Ok(out)
}

/// The query id of an input: the series' own id when the input answers itself, else
/// `<series id>_<input name>` (`m0_blue_errors`; `m0_blue_raw` under a FILL).
fn input_id(series_id: &str, m: &AnalysisMetric, name: &str) -> String {
    match (&m.expression, m.fills_zero()) {
        (None, false) => series_id.to_string(),
        (None, true) => format!("{series_id}_raw"),
        (Some(_), _) => format!("{series_id}_{name}"),
    }
}

/// The period the observed split is read over: ALB metrics' own granularity ("Elastic Load
/// Balancing reports metrics to CloudWatch only when requests are flowing through the load
/// balancer ... every 60 seconds", ELB user guide, CloudWatch metrics for your Application Load
/// Balancer).
pub const OBSERVED_SPLIT_PERIOD_SECONDS: u64 = 60;

/// Both load balancers' `RequestCount` (Sum, dimension `LoadBalancer`) over the last whole period
/// before `now`, as green's observed share next to `set_weight`: `None` for a route that is not
/// Route 53 records (a listener's weights are the split).
pub async fn observed_split(
    source: &dyn MetricsSource,
    ctx: &DeploymentContext,
    now: i64,
    set_weight: u8,
) -> Result<Option<crate::dns::ObservedSplit>> {
    let crate::execution::Route::DnsWeighted { blue, green, .. } = &ctx.production else { return Ok(None) };
    let period = i64::try_from(OBSERVED_SPLIT_PERIOD_SECONDS).unwrap_or(60);
    let end = now - now.rem_euclid(period);
    let start = end - period;
    let queries = observed_split_queries(blue, green)?;
    let series = source.series(&queries, start, end).await?;
    // A fold from 0.0: `Sum` of no f64 is -0.0.
    let sum = |i: usize| series.get(i).map_or(0.0, |v| v.iter().fold(0.0, |a, b| a + b));
    Ok(Some(crate::dns::ObservedSplit::new(set_weight, sum(0), sum(1), [start, end])))
}

/// The two `RequestCount` queries (blue's, then green's) of the observed split, each in its
/// release's placement.
fn observed_split_queries(
    blue: &crate::execution::DnsRelease,
    green: &crate::execution::DnsRelease,
) -> Result<[SeriesQuery; 2]> {
    let query = |side: Side, release: &crate::execution::DnsRelease| -> Result<SeriesQuery> {
        let load_balancer_arn = release.load_balancer_arn.as_str();
        let id = match side {
            Side::Blue => "requests_blue",
            Side::Green => "requests_green",
        };
        Ok(SeriesQuery {
            id: id.into(),
            side,
            inputs: vec![InputQuery {
                id: id.into(),
                namespace: ALB_NAMESPACE.into(),
                metric_name: "RequestCount".into(),
                dimensions: vec![("LoadBalancer".into(), load_balancer_dimension(load_balancer_arn)?)],
                statistic: "Sum".into(),
            }],
            expression: None,
            period_seconds: OBSERVED_SPLIT_PERIOD_SECONDS,
            fill_zero: true,
            at: release.placement(),
        })
    };
    Ok([query(Side::Blue, blue)?, query(Side::Green, green)?])
}

/// Where `side`'s metrics are: its release's placement under hookline's Route 53 controller (a
/// release may be in its own Region), else the caller's own.
fn side_placement(ctx: &DeploymentContext, side: Side) -> crate::dns::Placement {
    match &ctx.production {
        crate::execution::Route::DnsWeighted { blue, green, .. } => match side {
            Side::Blue => blue.placement(),
            Side::Green => green.placement(),
        },
        _ => crate::dns::Placement::default(),
    }
}

/// The ALB dimensions of `side`'s target group: the load balancer is the production listener's, or
/// under hookline's Route 53 controller the side's own release load balancer.
fn side_dimensions(ctx: &DeploymentContext, side: Side, target_group: &str) -> Result<Vec<(String, String)>> {
    match (&ctx.production, ctx.production.listener_arn()) {
        (crate::execution::Route::DnsWeighted { blue, green, .. }, _) => {
            let release = if side == Side::Blue { blue } else { green };
            let target_group = target_group_dimension(target_group)?;
            Ok(vec![
                ("TargetGroup".into(), target_group),
                ("LoadBalancer".into(), load_balancer_dimension(&release.load_balancer_arn)?),
            ])
        }
        (_, listener) => alb_dimensions(target_group, listener.unwrap_or_default()),
    }
}

/// The `LoadBalancer` dimension of an Application Load Balancer: its ARN's resource without
/// `loadbalancer/` (`app/<name>/<id>`).
/// <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html>
pub fn load_balancer_dimension(load_balancer_arn: &str) -> Result<String> {
    load_balancer_arn
        .splitn(6, ':')
        .nth(5)
        .and_then(|r| r.strip_prefix("loadbalancer/"))
        .filter(|r| r.starts_with("app/"))
        .map(str::to_string)
        .ok_or_else(|| {
            Error::invalid(
                "context.production.load_balancer_arn",
                format!("an Application Load Balancer ARN, got {load_balancer_arn:?}"),
            )
        })
}

fn target_group_dimension(target_group_arn: &str) -> Result<String> {
    target_group_arn.splitn(6, ':').nth(5).filter(|r| r.starts_with("targetgroup/")).map(str::to_string).ok_or_else(
        || Error::invalid("context.target_group_arn", format!("a target group ARN, got {target_group_arn:?}")),
    )
}

/// An ALB metric's per-target-group dimensions: `TargetGroup` is the target group ARN's resource
/// (`targetgroup/<name>/<id>`), `LoadBalancer` the load balancer's (`app/<name>/<id>`), read off the
/// listener ARN (`listener/app/<name>/<id>/<listener id>`).
/// <https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html>
pub fn alb_dimensions(target_group_arn: &str, listener_arn: &str) -> Result<Vec<(String, String)>> {
    let resource = |arn: &str| arn.splitn(6, ':').nth(5).map(str::to_string);
    let target_group = resource(target_group_arn).filter(|r| r.starts_with("targetgroup/")).ok_or_else(|| {
        Error::invalid("context.target_group_arn", format!("a target group ARN, got {target_group_arn:?}"))
    })?;
    let load_balancer = resource(listener_arn)
        .and_then(|r| r.strip_prefix("listener/").map(str::to_string))
        .and_then(|r| r.rsplit_once('/').map(|(lb, _listener)| lb.to_string()))
        .filter(|lb| lb.starts_with("app/"))
        .ok_or_else(|| {
            Error::invalid(
                "context.production.listener_arn",
                format!("an Application Load Balancer listener ARN, got {listener_arn:?}"),
            )
        })?;
    Ok(vec![("TargetGroup".into(), target_group), ("LoadBalancer".into(), load_balancer)])
}

/// Reads every metric's two series over the window `[start, end)` (see [`Analysis::window`]) and
/// judges green against blue. An empty window reads nothing: every metric is `NoData`.
pub async fn judge_window(
    source: &dyn MetricsSource,
    analysis: &Analysis,
    ctx: &DeploymentContext,
    start: i64,
    end: i64,
) -> Result<Judgement> {
    let queries = queries(analysis, ctx)?;
    let mut series =
        if end > start { source.series(&queries, start, end).await? } else { vec![Vec::new(); queries.len()] };
    if series.len() != queries.len() {
        return Err(Error::HealthCheckFailed(format!(
            "metrics source answered {} series for {} queries",
            series.len(),
            queries.len()
        )));
    }
    // A count read without an expression: every whole period of the window without a value counted
    // nothing (ALB count metrics are "only reported when non-zero"), whether or not FILL extended a
    // series that has no data point at all.
    for (q, values) in queries.iter().zip(series.iter_mut()) {
        if q.fill_zero {
            let periods = usize::try_from((end - start).max(0) / i64::try_from(q.period_seconds.max(1)).unwrap_or(1))
                .unwrap_or(0);
            if values.len() < periods {
                values.resize(periods, 0.0);
            }
        }
    }
    let settings = analysis.settings();
    let mut results = Vec::with_capacity(analysis.metrics.len());
    // `queries` holds blue then green for each metric, in the metrics' order.
    for (m, pair) in analysis.metrics.iter().zip(series.chunks_exact(2)) {
        let (baseline, canary) = (&pair[0], &pair[1]);
        let result = judge_metric(&m.spec(), &settings, baseline, canary)
            .map_err(|e| Error::invalid(format!("plan.analysis ({})", m.name), e.to_string()))?;
        results.push(result);
    }
    score(results, &analysis.thresholds()).map_err(|e| Error::invalid("plan.analysis", e.to_string()))
}

/// [`MetricsSource`] over CloudWatch.
#[derive(Clone, Debug)]
pub struct CloudWatchMetrics {
    pub client: crate::aws::Placed<aws_sdk_cloudwatch::Client>,
}

#[async_trait]
impl MetricsSource for CloudWatchMetrics {
    async fn series(&self, queries: &[SeriesQuery], start: i64, end: i64) -> Result<Vec<Vec<f64>>> {
        let mut values: Vec<Vec<f64>> = vec![Vec::new(); queries.len()];
        // CloudWatch's metrics are regional: one request per placement, in the queries' order.
        let mut placements: Vec<&crate::dns::Placement> = Vec::new();
        for q in queries {
            if !placements.contains(&&q.at) {
                placements.push(&q.at);
            }
        }
        for at in placements {
            let client = self.client.at(at).await;
            let mut request =
                client.get_metric_data().start_time(DateTime::from_secs(start)).end_time(DateTime::from_secs(end));
            for q in queries.iter().filter(|q| q.at == *at) {
                for query in metric_data_queries(q)? {
                    request = request.metric_data_queries(query);
                }
            }
            // One request; CloudWatch pages it by data points (NextToken) and a query's values may
            // continue on the next page.
            // https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html
            let mut pages = request.into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.aws("GetMetricData")?;
                for result in page.metric_data_results() {
                    let id = result.id();
                    if let Some(i) = id.and_then(|id| queries.iter().position(|q| q.id == id && q.at == *at)) {
                        values[i].extend_from_slice(result.values());
                    } else if !id.is_some_and(|id| queries.iter().any(|q| q.inputs.iter().any(|input| input.id == id)))
                    {
                        return Err(Error::HealthCheckFailed(format!(
                            "GetMetricData answered an unknown query id {id:?}"
                        )));
                    }
                    // An input's own values (returned although ReturnData is false) are not judged.
                }
            }
        }
        Ok(values)
    }
}

/// A series' GetMetricData queries: its input (answering under the series id), or its inputs
/// (`ReturnData: false`) and the expression answering.
fn metric_data_queries(q: &SeriesQuery) -> Result<Vec<MetricDataQuery>> {
    let period = i32::try_from(q.period_seconds)
        .map_err(|_| Error::invalid("plan.analysis.metrics.period", "at most i32::MAX seconds"))?;
    let mut out = Vec::with_capacity(q.inputs.len() + 1);
    for input in &q.inputs {
        let mut metric = Metric::builder().namespace(&input.namespace).metric_name(&input.metric_name);
        for (name, value) in &input.dimensions {
            metric = metric.dimensions(Dimension::builder().name(name).value(value).build());
        }
        let stat = MetricStat::builder().metric(metric.build()).period(period).stat(&input.statistic).build();
        out.push(
            MetricDataQuery::builder().id(&input.id).metric_stat(stat).return_data(q.expression.is_none()).build(),
        );
    }
    if let Some(expression) = &q.expression {
        out.push(MetricDataQuery::builder().id(&q.id).expression(expression).return_data(true).build());
    }
    Ok(out)
}

pub use super::verdict::{Action, StepJudgement};

/// What the plan's rules make of a judgement's outcome: `Pass` continues and `Fail` rolls back;
/// `Marginal` follows `on_marginal`, `NoData` follows `on_no_data` (a pass on no data only because
/// the plan says so, and the note says it).
pub fn action(outcome: Outcome, analysis: &Analysis) -> (Action, Option<String>) {
    match outcome {
        Outcome::Pass => (Action::Continue, None),
        Outcome::Fail => (Action::Rollback, None),
        Outcome::Marginal => match analysis.on_marginal {
            OnMarginal::Rollback => {
                (Action::Rollback, Some("marginal: rolled back (analysis.on_marginal: rollback)".into()))
            }
            OnMarginal::Approval => {
                (Action::Approval, Some("marginal: an operator decides (analysis.on_marginal: approval)".into()))
            }
        },
        Outcome::NoData => match analysis.on_no_data {
            OnNoData::Rollback => {
                (Action::Rollback, Some("no data: rolled back (analysis.on_no_data: rollback)".into()))
            }
            OnNoData::Pass => (
                Action::Continue,
                Some("no data: NOT judged, continued only because the plan says analysis.on_no_data: pass".into()),
            ),
            OnNoData::Approval => {
                (Action::Approval, Some("no data: an operator decides (analysis.on_no_data: approval)".into()))
            }
        },
    }
}

/// The window to judge when `state`'s bake is over: the bake of the current weight step less the
/// metrics' lag, on period boundaries ([`Analysis::window`]), when the plan has an analysis and blue still takes traffic (a step at 100% leaves blue no samples, and the
/// post-traffic bake runs at 100%). `None`: nothing to judge.
pub fn bake_window(plan: &crate::plan::Plan, state: &crate::execution::RolloutState) -> Option<[i64; 2]> {
    let analysis = plan.analysis.as_ref()?;
    let step = plan.steps.get(usize::try_from(state.index).ok()?)?;
    let crate::plan::Step::Weight { weight, bake_seconds } = step else { return None };
    if *weight != state.weight || *weight >= 100 || *bake_seconds == 0 {
        return None;
    }
    let end = state.bake_until?;
    Some(analysis.window(end - i64::try_from(*bake_seconds).ok()?, end))
}

#[cfg(test)]
mod tests;

//! The plan's `analysis` section: which CloudWatch metrics the canary judge compares, green
//! against blue, at the end of each weight step's bake, and what to do with its outcome.
//!
//! ```yaml
//! analysis:
//!   alpha: 0.05            # significance level (default 0.05)
//!   min_samples: 10        # per side; fewer is NoData (default 10)
//!   pass_score: 95         # default 95
//!   marginal_score: 75     # default 75
//!   on_marginal: rollback  # rollback | approval (default rollback)
//!   on_no_data: rollback   # rollback | pass | approval (default rollback: never a silent pass)
//!   metrics:
//!     - metric: TargetResponseTime   # AWS/ApplicationELB: blue's and green's target groups, resolved
//!       statistic: p99
//!       period: 1m
//!       lag: 2m                      # publication delay (ALB default 2m, custom default 0s)
//!       direction: increase
//!       tolerance: 0.2               # a relative effect: 0.2 = +20%
//!       critical: true
//!     - name: 5xx-rate               # a ratio per period: metric math over named inputs
//!       expression: errors / requests
//!       using:
//!         errors: {metric: HTTPCode_Target_5XX_Count, statistic: Sum}   # no data point = 0
//!         requests: {metric: RequestCount, statistic: Sum}
//!       direction: increase
//!       tolerance: 0.5
//! ```
//!
//! Like the rest of the plan: serde rejects unknown keys and wrong types with the path, then
//! `validate` reports every problem naming its field (`analysis.metrics[1].tolerance`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::duration::human;
use super::problem::Problems;
use super::step::Step;
use crate::judge::{Direction, Method, MetricSpec, TestSettings, Thresholds};

/// CloudWatch's namespace of Application Load Balancer metrics.
pub const ALB_NAMESPACE: &str = "AWS/ApplicationELB";

/// One GetMetricData call holds at most 500 queries (metrics and expressions).
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html>
pub const MAX_QUERIES: usize = 500;

/// At most this many metrics: two queries each (blue, green) fill one GetMetricData call.
pub const MAX_METRICS: usize = MAX_QUERIES / 2;

/// CloudWatch's dimension limit per metric (30), less the one hookline adds to tell the versions apart.
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Metric.html>
const MAX_FIXED_DIMENSIONS: usize = 29;

/// How long after a period ends its ALB data point can be read, when the plan does not say.
/// "If there are requests flowing through the load balancer, Elastic Load Balancing measures and
/// sends its metrics in 60-second intervals" (ELB user guide, "CloudWatch metrics for your
/// Application Load Balancer"): a minute's data point is sent after the minute, then delivered.
/// AWS states no delivery time; docs/judge.md explains the margin of a second minute.
pub const ALB_DEFAULT_LAG_SECONDS: u64 = 120;

/// The lag of a custom metric when the plan does not say: PutMetricData's points are read back
/// at once; a publisher that batches (an agent, embedded metric format) needs `lag`.
pub const CUSTOM_DEFAULT_LAG_SECONDS: u64 = 0;

const MAX_LAG_SECONDS: u64 = 3600;

/// What to do with a marginal judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnMarginal {
    /// Restore blue and report the hook `Failed`.
    #[default]
    Rollback,
    /// Ask an operator (see `docs/judge.md` for how it is carried out today).
    Approval,
}

/// What to do when the judge has too few samples to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnNoData {
    /// Restore blue and report the hook `Failed` (the default: not measured is not healthy).
    #[default]
    Rollback,
    /// Go on as if the judgement passed; only when the plan says so, and the result says so.
    Pass,
    /// Ask an operator (see `docs/judge.md`).
    Approval,
}

/// What a period without a data point means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Missing {
    /// Nothing was measured: the period is left out (latencies, gauges).
    #[default]
    Skip,
    /// Nothing was counted: the period is 0 (ALB count metrics are "only reported when non-zero").
    Zero,
}

/// Where a metric's series come from (every input of the metric shares it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MetricSource {
    /// `AWS/ApplicationELB`; its `TargetGroup` and `LoadBalancer` dimensions are blue's and green's
    /// target groups and the production listener's load balancer, resolved at run time.
    Alb,
    /// A custom metric: `dimensions` are the same on both sides, `version_dimension` is `blue` on
    /// blue's series and `green` on green's.
    Custom {
        namespace: String,
        dimensions: BTreeMap<String, String>,
        version_dimension: String,
        blue: String,
        green: String,
    },
}

/// One CloudWatch metric a judged metric reads: the metric itself, or a named input of its expression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricInput {
    /// The input's name in the expression (`errors`); `value` for a metric without an expression.
    pub name: String,
    pub metric_name: String,
    /// A CloudWatch statistic: `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount` or `pNN`.
    pub statistic: String,
    pub missing: Missing,
}

/// One judged metric, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisMetric {
    /// Shown in results and rollback reasons; defaults to `<metric> <statistic>` or the expression.
    pub name: String,
    pub source: MetricSource,
    /// One input without an expression; the expression's named inputs otherwise.
    pub inputs: Vec<MetricInput>,
    /// CloudWatch metric math over the inputs' names (`errors / requests`), one value per period.
    pub expression: Option<String>,
    /// One sample per period and side.
    pub period_seconds: u64,
    /// How long after a period ends its data point can be read (publication delay).
    pub lag_seconds: u64,
    pub direction: Direction,
    /// Relative effect (0.1 = 10%) a significant change must exceed to fail the metric.
    pub tolerance: f64,
    pub weight: f64,
    pub critical: bool,
}

// Validation admits only finite numbers, so equality is an equivalence (the plan is `Eq`).
impl Eq for AnalysisMetric {}

impl AnalysisMetric {
    /// What the judge needs to know about this metric.
    pub fn spec(&self) -> MetricSpec {
        MetricSpec {
            name: self.name.clone(),
            direction: self.direction,
            tolerance: self.tolerance,
            weight: self.weight,
            critical: self.critical,
        }
    }

    /// The metric math GetMetricData evaluates for one side: the plan's expression with each input's
    /// name replaced by `id_of(name)`, wrapped in `FILL(…, 0)` when a missing period of that input is
    /// 0; for a metric without an expression, `FILL(<id>, 0)` when missing periods are 0, else `None`
    /// (the metric's own query answers).
    /// "FILL: Fills the missing values of a time series"; "Missing values in a time series are
    /// treated as 0. If the value of a data point causes a function to attempt to divide by zero, the
    /// data point is dropped." (CloudWatch user guide, "Metric math syntax and functions",
    /// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html>)
    pub fn expression_for(&self, id_of: impl Fn(&str) -> String) -> Option<String> {
        let filled = |input: &MetricInput| {
            let id = id_of(&input.name);
            match input.missing {
                Missing::Zero => format!("FILL({id}, 0)"),
                Missing::Skip => id,
            }
        };
        let Some(expression) = &self.expression else {
            let input = self.inputs.first()?;
            return (input.missing == Missing::Zero).then(|| filled(input));
        };
        let mut out = String::with_capacity(expression.len() * 2);
        for token in tokens(expression).ok()? {
            match token {
                Token::Name(name) => match self.inputs.iter().find(|i| i.name == name) {
                    Some(input) => out.push_str(&filled(input)),
                    None => out.push_str(name),
                },
                Token::Word(w) | Token::Other(w) => out.push_str(w),
            }
        }
        Some(out)
    }

    /// A metric without an expression whose missing periods count as 0.
    pub fn fills_zero(&self) -> bool {
        self.expression.is_none() && self.inputs.first().is_some_and(|i| i.missing == Missing::Zero)
    }
}

/// The `analysis` section, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub metrics: Vec<AnalysisMetric>,
    pub alpha: f64,
    pub min_samples: usize,
    pub pass_score: f64,
    pub marginal_score: f64,
    pub on_marginal: OnMarginal,
    pub on_no_data: OnNoData,
}

// Validation admits only finite numbers, so equality is an equivalence (the plan is `Eq`).
impl Eq for Analysis {}

impl Analysis {
    /// The test settings every metric is judged with (asymptotic p-values: periods of a bake may tie).
    pub fn settings(&self) -> TestSettings {
        TestSettings { alpha: self.alpha, min_samples: self.min_samples, method: Method::Asymptotic, confidence: None }
    }

    /// The score thresholds.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds { pass_score: self.pass_score, marginal_score: self.marginal_score }
    }

    /// The boundary every window edge sits on: the least common multiple of the metrics' periods, so
    /// every metric's periods tile the window whole.
    pub fn alignment_seconds(&self) -> u64 {
        self.metrics.iter().map(|m| m.period_seconds.max(1)).fold(1, lcm)
    }

    /// The shortest bake sure to give every metric `min_samples` whole periods in its window
    /// ([`Analysis::window`]): how long a gate-mode judge waits after ECS's step before judging it.
    pub fn needed_bake_seconds(&self) -> u64 {
        let (unit, lag, n) = (self.alignment_seconds(), self.lag_seconds(), self.min_samples as u64);
        self.metrics.iter().map(|m| bake_for(n, unit, lag, m.period_seconds)).max().unwrap_or(0)
    }

    /// The longest lag of any metric: the window ends that long before the bake does.
    pub fn lag_seconds(&self) -> u64 {
        self.metrics.iter().map(|m| m.lag_seconds).max().unwrap_or(0)
    }

    /// The window `[start, end)` (epoch seconds) judged for a bake `[bake_start, bake_end)`: the
    /// bake less the lag at its end, shrunk to whole periods. GetMetricData rounds an unaligned StartTime down
    /// ("Start time less than 15 days ago - Round down to the nearest whole minute"; "If you set
    /// Period to 5, 10, 20, or 30, the start time of your request is rounded down to the nearest
    /// time that corresponds to even 5-, 10-, 20-, or 30-second divisions of a minute", API
    /// reference, GetMetricData, StartTime), so a start inside a period would count traffic from
    /// before the step. An empty window has `start == end`.
    pub fn window(&self, bake_start: i64, bake_end: i64) -> [i64; 2] {
        let unit = i64::try_from(self.alignment_seconds()).unwrap_or(i64::MAX).max(1);
        let lag = i64::try_from(self.lag_seconds()).unwrap_or(i64::MAX / 2);
        let start = bake_start.div_euclid(unit) * unit + if bake_start.rem_euclid(unit) == 0 { 0 } else { unit };
        let end = (bake_end - lag).div_euclid(unit) * unit;
        [start, end.max(start)]
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn lcm(a: u64, b: u64) -> u64 {
    (a / gcd(a, b).max(1)).saturating_mul(b)
}

/// Whole periods of `period` a bake of `bake` seconds is sure to hold, wherever it starts: the
/// window loses the lag at its end and up to a boundary (`unit`) less a second at each edge.
fn sure_periods(bake: u64, unit: u64, lag: u64, period: u64) -> u64 {
    let left = bake.saturating_sub(lag);
    let units = ((left + 1) / unit.max(1)).saturating_sub(1);
    units * unit / period.max(1)
}

/// The shortest bake that is sure to hold `n` whole periods of `period` (see [`sure_periods`]).
fn bake_for(n: u64, unit: u64, lag: u64, period: u64) -> u64 {
    let unit = unit.max(1);
    lag + (n.saturating_mul(period).div_ceil(unit) + 1) * unit
}

/// The section as users write it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireAnalysis {
    #[serde(default)]
    pub metrics: Vec<WireMetric>,
    pub alpha: Option<f64>,
    pub min_samples: Option<i64>,
    pub pass_score: Option<f64>,
    pub marginal_score: Option<f64>,
    pub on_marginal: Option<OnMarginal>,
    pub on_no_data: Option<OnNoData>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireMetric {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub metric: Option<String>,
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    pub version_dimension: Option<String>,
    pub blue: Option<String>,
    pub green: Option<String>,
    pub statistic: Option<String>,
    pub missing: Option<Missing>,
    pub expression: Option<String>,
    #[serde(default)]
    pub using: BTreeMap<String, WireInput>,
    pub period: Option<String>,
    pub lag: Option<String>,
    pub direction: Option<Direction>,
    pub tolerance: Option<f64>,
    pub weight: Option<f64>,
    pub critical: Option<bool>,
}

/// A named input of an expression.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireInput {
    pub metric: String,
    pub statistic: Option<String>,
    pub missing: Option<Missing>,
}

const DEFAULT_ALPHA: f64 = 0.05;
const DEFAULT_MIN_SAMPLES: i64 = 10;
const DEFAULT_PERIOD: u64 = 60;
const DEFAULT_STATISTIC: &str = "Average";
/// Longest input name: GetMetricData ids are at most 255 characters and hookline prefixes
/// `m<metric>_<side>_`.
const MAX_INPUT_NAME: usize = 200;

/// Checks the section, recording every problem, and checks each weight step's bake can hold
/// `min_samples` whole periods after the lag (a shorter bake could never be judged).
pub(super) fn validate(p: &mut Problems, wire: WireAnalysis, steps: &[Step]) -> Analysis {
    let alpha = wire.alpha.unwrap_or(DEFAULT_ALPHA);
    if !(alpha > 0.0 && alpha < 1.0) {
        p.add("analysis.alpha", format!("a number between 0 and 1 (exclusive), got {alpha}"));
    }
    let min_samples = wire.min_samples.unwrap_or(DEFAULT_MIN_SAMPLES);
    if !(1..=100_000).contains(&min_samples) {
        p.add("analysis.min_samples", format!("an integer from 1 to 100000, got {min_samples}"));
    }
    let default = Thresholds::default();
    let pass_score = wire.pass_score.unwrap_or(default.pass_score);
    let marginal_score = wire.marginal_score.unwrap_or(default.marginal_score);
    if !(0.0..=100.0).contains(&pass_score) {
        p.add("analysis.pass_score", format!("a number from 0 to 100, got {pass_score}"));
    }
    if !(0.0..=100.0).contains(&marginal_score) || marginal_score > pass_score {
        p.add("analysis.marginal_score", format!("a number from 0 to pass_score ({pass_score}), got {marginal_score}"));
    }
    if wire.metrics.is_empty() {
        p.add("analysis.metrics", "at least one metric");
    } else if wire.metrics.len() > MAX_METRICS {
        p.add(
            "analysis.metrics",
            format!(
                "at most {MAX_METRICS} metrics (one GetMetricData call holds 500 queries, two per metric), got {}",
                wire.metrics.len()
            ),
        );
    }
    let metrics: Vec<AnalysisMetric> =
        wire.metrics.into_iter().enumerate().map(|(i, m)| validate_metric(p, i, m)).collect();
    // Per side: one query per input, plus the expression (or FILL) that answers.
    let queries: usize =
        metrics.iter().map(|m| 2 * (m.inputs.len() + usize::from(m.expression.is_some() || m.fills_zero()))).sum();
    if metrics.len() <= MAX_METRICS && queries > MAX_QUERIES {
        p.add(
            "analysis.metrics",
            format!(
                "at most {MAX_QUERIES} GetMetricData queries in all (each side of a metric takes one per input, \
                 plus its expression), got {queries}"
            ),
        );
    }
    let mut seen = BTreeMap::new();
    for (i, m) in metrics.iter().enumerate() {
        if let Some(first) = seen.insert(m.name.clone(), i) {
            p.add(
                format!("analysis.metrics[{i}].name"),
                format!("a name no other metric has (analysis.metrics[{first}] is {:?} too)", m.name),
            );
        }
    }
    let min_samples = usize::try_from(min_samples.max(1)).unwrap_or(1);
    let analysis = Analysis {
        metrics,
        alpha,
        min_samples,
        pass_score,
        marginal_score,
        on_marginal: wire.on_marginal.unwrap_or_default(),
        on_no_data: wire.on_no_data.unwrap_or_default(),
    };
    check_bakes(p, &analysis, steps);
    analysis
}

/// Every weight step with a bake must be sure to give every metric `min_samples` whole periods
/// inside the judged window ([`Analysis::window`]); the message says which bake would.
fn check_bakes(p: &mut Problems, analysis: &Analysis, steps: &[Step]) {
    let (unit, lag) = (analysis.alignment_seconds(), analysis.lag_seconds());
    let n = analysis.min_samples as u64;
    let need = analysis.metrics.iter().map(|m| bake_for(n, unit, lag, m.period_seconds)).max().unwrap_or(0);
    for (i, step) in steps.iter().enumerate() {
        let Step::Weight { bake_seconds, .. } = step else { continue };
        if *bake_seconds == 0 {
            continue; // nothing to judge: the step does not bake
        }
        let short = analysis
            .metrics
            .iter()
            .enumerate()
            .map(|(j, m)| (j, m, sure_periods(*bake_seconds, unit, lag, m.period_seconds)))
            .find(|(_, _, got)| *got < n);
        if let Some((j, m, got)) = short {
            let edges = if unit > 1 {
                format!(", the window starting and ending on {} boundaries", human(unit))
            } else {
                String::new()
            };
            p.add(
                format!("steps[{i}].bake"),
                format!(
                    "analysis.metrics[{j}]: bake {} of steps[{i}] gives {got} whole {} period{} after lag {}{edges}; \
                     analysis.min_samples {n} needs bake >= {} (or leave the bake out: a step without a bake is not judged)",
                    human(*bake_seconds),
                    human(m.period_seconds),
                    if got == 1 { "" } else { "s" },
                    human(lag),
                    human(need),
                ),
            );
        }
    }
}

fn validate_metric(p: &mut Problems, i: usize, m: WireMetric) -> AnalysisMetric {
    let at = format!("analysis.metrics[{i}]");
    let period_seconds = p.duration(&format!("{at}.period"), m.period.as_deref(), DEFAULT_PERIOD);
    let namespace = m.namespace.clone().unwrap_or_else(|| ALB_NAMESPACE.to_string());
    let alb = namespace == ALB_NAMESPACE;
    let default_lag = if alb { ALB_DEFAULT_LAG_SECONDS } else { CUSTOM_DEFAULT_LAG_SECONDS };
    let lag_seconds = p.duration(&format!("{at}.lag"), m.lag.as_deref(), default_lag);
    if lag_seconds > MAX_LAG_SECONDS {
        p.add(format!("{at}.lag"), format!("at most {}, got {}", human(MAX_LAG_SECONDS), human(lag_seconds)));
    }
    // GetMetricData's Period: 1, 5, 10, 30 or a multiple of 60 (sub-minute only for high-resolution
    // custom metrics; ALB metrics are published every 60 s).
    // https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricStat.html
    let sub_minute = matches!(period_seconds, 1 | 5 | 10 | 30);
    let whole_minutes = period_seconds > 0 && period_seconds.is_multiple_of(60);
    if alb && !whole_minutes {
        p.add(
            format!("{at}.period"),
            format!(
                "a multiple of 1m ({ALB_NAMESPACE} metrics have one value a minute), got {}",
                human(period_seconds)
            ),
        );
    } else if !(alb || sub_minute || whole_minutes) {
        p.add(format!("{at}.period"), format!("1s, 5s, 10s, 30s or a multiple of 1m, got {}", human(period_seconds)));
    }
    let direction = m.direction.unwrap_or_else(|| {
        p.add(format!("{at}.direction"), "increase, decrease or either (which change of this metric hurts)");
        Direction::Either
    });
    let tolerance = m.tolerance.unwrap_or_else(|| {
        p.add(format!("{at}.tolerance"), "a relative effect the metric may move before it fails, like 0.1 for 10%");
        0.0
    });
    if !(tolerance.is_finite() && tolerance >= 0.0) {
        p.add(format!("{at}.tolerance"), format!("a finite number >= 0 (0.1 = 10%), got {tolerance}"));
    }
    let weight = m.weight.unwrap_or(1.0);
    if !(weight.is_finite() && weight > 0.0) {
        p.add(format!("{at}.weight"), format!("a finite number > 0, got {weight}"));
    }
    let source = if alb {
        for (field, given) in [
            ("version_dimension", m.version_dimension.is_some()),
            ("blue", m.blue.is_some()),
            ("green", m.green.is_some()),
            ("dimensions", !m.dimensions.is_empty()),
        ] {
            if given {
                p.add(
                    format!("{at}.{field}"),
                    format!(
                        "nothing: {ALB_NAMESPACE} metrics are resolved to blue's and green's target groups \
                         (TargetGroup, LoadBalancer); give a namespace for a custom metric"
                    ),
                );
            }
        }
        MetricSource::Alb
    } else {
        custom_source(p, &at, namespace, &m)
    };
    let (inputs, expression, default_name) = match &m.expression {
        Some(expression) => expression_inputs(p, &at, &m, expression),
        None => direct_input(p, &at, &m),
    };
    let name = m.name.clone().unwrap_or(default_name);
    if name.is_empty() || name.len() > 255 {
        p.add(format!("{at}.name"), "1 to 255 characters");
    }
    AnalysisMetric {
        name,
        source,
        inputs,
        expression,
        period_seconds,
        lag_seconds,
        direction,
        tolerance,
        weight,
        critical: m.critical.unwrap_or(false),
    }
}

/// Sum and SampleCount count volume, and volume follows the traffic split: green at 10% always has
/// fewer requests (and so fewer errors) than blue at 90%.
fn is_volume(statistic: &str) -> bool {
    matches!(statistic, "Sum" | "SampleCount")
}

fn check_statistic(p: &mut Problems, field: String, statistic: &str) {
    if !valid_statistic(statistic) {
        p.add(
            field,
            format!("Average, Sum, Minimum, Maximum, SampleCount or a percentile like p99 or p99.9, got {statistic:?}"),
        );
    }
}

fn check_metric_name(p: &mut Problems, field: String, metric: &str) {
    if metric.is_empty() || metric.len() > 255 {
        p.add(field, "a CloudWatch metric name (1 to 255 characters)");
    }
}

/// A metric judged as CloudWatch answers it: one input named `value`.
fn direct_input(p: &mut Problems, at: &str, m: &WireMetric) -> (Vec<MetricInput>, Option<String>, String) {
    if !m.using.is_empty() {
        p.add(format!("{at}.using"), "nothing without an expression (using names the inputs of expression)");
    }
    let metric = m.metric.clone().unwrap_or_else(|| {
        p.add(
            format!("{at}.metric"),
            "a CloudWatch metric name, or an expression over named inputs (expression, using)",
        );
        String::new()
    });
    if m.metric.is_some() {
        check_metric_name(p, format!("{at}.metric"), &metric);
    }
    let statistic = m.statistic.clone().unwrap_or_else(|| DEFAULT_STATISTIC.to_string());
    check_statistic(p, format!("{at}.statistic"), &statistic);
    if is_volume(&statistic) {
        p.add(
            format!("{at}.statistic"),
            format!(
                "a statistic that does not count volume (Average, Minimum, Maximum, pNN): {statistic} of {metric} \
                 follows the traffic split (green at 10% always counts less than blue at 90%); judge a ratio \
                 instead, e.g. expression: errors / requests with using: {{errors: {{metric: {metric}, statistic: \
                 {statistic}}}, requests: {{metric: RequestCount, statistic: Sum}}}}"
            ),
        );
    }
    let missing = m.missing.unwrap_or_default();
    let default_name = format!("{metric} {statistic}");
    (vec![MetricInput { name: "value".into(), metric_name: metric, statistic, missing }], None, default_name)
}

/// A metric judged as metric math over named inputs.
fn expression_inputs(
    p: &mut Problems,
    at: &str,
    m: &WireMetric,
    expression: &str,
) -> (Vec<MetricInput>, Option<String>, String) {
    for (field, given) in
        [("metric", m.metric.is_some()), ("statistic", m.statistic.is_some()), ("missing", m.missing.is_some())]
    {
        if given {
            p.add(
                format!("{at}.{field}"),
                format!("nothing with an expression: each input under using gives its own {field}"),
            );
        }
    }
    if m.using.is_empty() {
        p.add(
            format!("{at}.using"),
            "the expression's inputs by name, like {errors: {metric: HTTPCode_Target_5XX_Count, statistic: Sum}, \
             requests: {metric: RequestCount, statistic: Sum}}",
        );
    }
    let mut inputs = Vec::with_capacity(m.using.len());
    for (name, input) in &m.using {
        let field = format!("{at}.using.{name}");
        let good_name = name.len() <= MAX_INPUT_NAME
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !good_name {
            p.add(
                field.clone(),
                format!(
                    "a name that starts with a lowercase letter and holds only letters, digits and _ \
                     (at most {MAX_INPUT_NAME} characters), got {name:?}"
                ),
            );
        }
        check_metric_name(p, format!("{field}.metric"), &input.metric);
        let statistic = input.statistic.clone().unwrap_or_else(|| DEFAULT_STATISTIC.to_string());
        check_statistic(p, format!("{field}.statistic"), &statistic);
        // Nothing counted in a period is a count of 0; nothing measured is no sample.
        let missing = input.missing.unwrap_or(if is_volume(&statistic) { Missing::Zero } else { Missing::Skip });
        inputs.push(MetricInput { name: name.clone(), metric_name: input.metric.clone(), statistic, missing });
    }
    match tokens(expression) {
        Err(e) => p.add(format!("{at}.expression"), e),
        Ok(tokens) if tokens.iter().all(|t| matches!(t, Token::Other(w) if w.trim().is_empty())) => {
            p.add(format!("{at}.expression"), "a metric math expression over the inputs, like errors / requests")
        }
        Ok(tokens) => {
            let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
            for t in &tokens {
                match t {
                    Token::Name(n) if !names.contains(n) => p.add(
                        format!("{at}.expression"),
                        format!("only the names under using ({}), got {n:?}", names.join(", ")),
                    ),
                    Token::Word(w) if FORBIDDEN_FUNCTIONS.contains(w) => p.add(
                        format!("{at}.expression"),
                        format!("{w} reaches beyond this metric's inputs (and across blue and green): use the names under using"),
                    ),
                    _ => {}
                }
            }
            for input in &inputs {
                if !tokens.iter().any(|t| matches!(t, Token::Name(n) if *n == input.name)) {
                    p.add(format!("{at}.using.{}", input.name), "an input the expression uses");
                }
            }
            let divides = tokens.iter().any(|t| matches!(t, Token::Other("/")));
            if let Some(volume) = inputs.iter().find(|i| is_volume(&i.statistic)) {
                if !divides {
                    p.add(
                        format!("{at}.expression"),
                        format!(
                            "a ratio: using.{} is a {} of {}, which follows the traffic split (green at 10% always \
                             counts less than blue at 90%); divide it by another count, like errors / requests",
                            volume.name, volume.statistic, volume.metric_name
                        ),
                    );
                }
            }
        }
    }
    (inputs, Some(expression.to_string()), expression.to_string())
}

/// Metric math functions that read other metrics than the expression's inputs.
const FORBIDDEN_FUNCTIONS: [&str; 7] =
    ["METRICS", "SEARCH", "SELECT", "INSIGHT_RULE_METRIC", "ANOMALY_DETECTION_BAND", "SERVICE_QUOTA", "LAMBDA"];

/// A piece of a metric math expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    /// A name starting with a lowercase letter: an input (query ids start with one).
    Name(&'a str),
    /// A function or keyword (`FILL`, `REPEAT`, `AND`): metric math's are uppercase.
    Word(&'a str),
    /// Numbers, operators, parentheses, commas, spaces.
    Other(&'a str),
}

/// Splits an expression; refuses what hookline cannot check (strings, brackets of arrays, other characters).
fn tokens(expression: &str) -> Result<Vec<Token<'_>>, String> {
    let mut out = Vec::new();
    let bytes = expression.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &expression[start..i];
            out.push(if c.is_ascii_lowercase() { Token::Name(word) } else { Token::Word(word) });
        } else if c.is_ascii_digit() || c == b'.' {
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            out.push(Token::Other(&expression[start..i]));
        } else if b"+-*/^(),<>=!&| \t".contains(&c) {
            i += 1;
            out.push(Token::Other(&expression[start..i]));
        } else {
            let ch = expression[start..].chars().next().unwrap_or('?');
            return Err(format!(
                "metric math over the names under using with numbers, + - * / ^, comparisons, parentheses and \
                 uppercase functions like FILL; got {ch:?}"
            ));
        }
    }
    Ok(out)
}

fn custom_source(p: &mut Problems, at: &str, namespace: String, m: &WireMetric) -> MetricSource {
    if namespace.is_empty() || namespace.len() > 255 {
        p.add(format!("{at}.namespace"), "a CloudWatch namespace (1 to 255 characters)");
    }
    let mut required = |field: &str, value: &Option<String>| -> String {
        match value {
            Some(v) if !v.is_empty() && v.len() <= 1024 => v.clone(),
            _ => {
                p.add(
                    format!("{at}.{field}"),
                    "a non-empty string: a custom metric needs the dimension that tells blue from green \
                     (version_dimension) and its value on each side (blue, green)",
                );
                String::new()
            }
        }
    };
    let version_dimension = required("version_dimension", &m.version_dimension);
    let blue = required("blue", &m.blue);
    let green = required("green", &m.green);
    if !blue.is_empty() && blue == green {
        p.add(format!("{at}.green"), format!("a value other than blue's ({blue:?}): the two series must differ"));
    }
    if m.dimensions.contains_key(&version_dimension) {
        p.add(
            format!("{at}.dimensions.{version_dimension}"),
            "nothing: the version dimension takes blue's and green's values",
        );
    }
    if m.dimensions.len() > MAX_FIXED_DIMENSIONS {
        p.add(format!("{at}.dimensions"), format!("at most {MAX_FIXED_DIMENSIONS} dimensions (CloudWatch allows 30)"));
    }
    for (k, v) in &m.dimensions {
        if k.is_empty() || k.len() > 255 || v.is_empty() || v.len() > 1024 {
            p.add(format!("{at}.dimensions.{k}"), "a name of 1 to 255 and a value of 1 to 1024 characters");
        }
    }
    MetricSource::Custom { namespace, dimensions: m.dimensions.clone(), version_dimension, blue, green }
}

/// The statistics GetMetricData's `Stat` takes that the judge supports: the five basic ones and
/// percentiles `pNN` / `pNN.NN` with 0 < NN <= 100.
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Statistics-definitions.html>
fn valid_statistic(stat: &str) -> bool {
    match stat {
        "Average" | "Sum" | "Minimum" | "Maximum" | "SampleCount" => true,
        _ => stat
            .strip_prefix('p')
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
            .and_then(|n| n.parse::<f64>().ok())
            .is_some_and(|n| n > 0.0 && n <= 100.0),
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::{Plan, PlanErrors};

    fn problems(text: &str) -> Vec<String> {
        match Plan::parse(text) {
            Ok(_) => vec![],
            Err(PlanErrors(ps)) => ps.iter().map(ToString::to_string).collect(),
        }
    }

    const GOOD: &str = r#"
steps:
  - weight: 10
    bake: 13m
  - weight: 100
analysis:
  on_no_data: pass
  metrics:
    - metric: TargetResponseTime
      statistic: p99
      direction: increase
      tolerance: 0.2
      critical: true
    - name: checkout-errors
      namespace: Shop
      expression: errors / checkouts
      using:
        errors: {metric: CheckoutErrors, statistic: Sum}
        checkouts: {metric: Checkouts, statistic: Sum}
      dimensions: {Service: web}
      version_dimension: Version
      blue: v1
      green: v2
      period: 30s
      direction: increase
      tolerance: 0.5
      weight: 2
"#;

    #[test]
    fn a_judgement_that_may_ask_an_operator_counts_its_approval_in_the_history() {
        use crate::plan::history::{canary_events, JUDGEMENT_APPROVAL};
        let passes = Plan::parse(GOOD).unwrap_or_else(|e| panic!("{e}"));
        let asks =
            Plan::parse(&GOOD.replace("on_no_data: pass", "on_no_data: approval")).unwrap_or_else(|e| panic!("{e}"));
        // One judged weight step (10% with a bake); the 100% step is never judged.
        assert_eq!(canary_events(&asks, 30), canary_events(&passes, 30) + JUDGEMENT_APPROVAL);
    }

    #[test]
    fn a_good_section_is_normalized_with_defaults() {
        let plan = Plan::parse(GOOD).unwrap_or_else(|e| panic!("{e}"));
        let a = plan.analysis.expect("analysis");
        assert_eq!((a.alpha, a.min_samples, a.pass_score, a.marginal_score), (0.05, 10, 95.0, 75.0));
        assert_eq!((a.on_marginal, a.on_no_data), (super::OnMarginal::Rollback, super::OnNoData::Pass));
        assert_eq!(a.metrics[0].name, "TargetResponseTime p99");
        assert_eq!(a.metrics[0].source, super::MetricSource::Alb);
        assert_eq!(a.metrics[0].inputs[0].metric_name, "TargetResponseTime");
        assert_eq!((a.metrics[0].period_seconds, a.metrics[0].weight, a.metrics[0].critical), (60, 1.0, true));
        assert_eq!((a.metrics[1].period_seconds, a.metrics[1].weight), (30, 2.0));
        // Lags: ALB's default 2m, a custom metric's 0s; counts under an expression fill with 0.
        assert_eq!((a.metrics[0].lag_seconds, a.metrics[1].lag_seconds), (120, 0));
        assert_eq!(a.metrics[1].expression.as_deref(), Some("errors / checkouts"));
        assert!(a.metrics[1].inputs.iter().all(|i| i.missing == super::Missing::Zero), "{:?}", a.metrics[1].inputs);
        assert!(
            matches!(&a.metrics[1].source, super::MetricSource::Custom { version_dimension, .. } if version_dimension == "Version")
        );
    }

    #[test]
    fn a_plan_without_analysis_has_none_and_old_documents_still_parse() {
        let plan = Plan::parse(r#"{"steps":[{"weight":100}]}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.analysis, None);
        // An execution document written before the field existed.
        let mut json = serde_json::to_value(&plan).expect("serializes");
        assert!(json.get("analysis").is_none(), "absent, not null: {json}");
        json.as_object_mut().expect("object").remove("analysis");
        let back: Plan = serde_json::from_value(json).expect("old document parses");
        assert_eq!(back, plan);
    }

    #[test]
    fn the_plan_round_trips_through_the_execution_document() {
        let plan = Plan::parse(GOOD).unwrap_or_else(|e| panic!("{e}"));
        let back: Plan = serde_json::from_value(serde_json::to_value(&plan).expect("json")).expect("parses");
        assert_eq!(back, plan);
    }

    #[test]
    fn every_problem_is_reported_at_once_naming_its_field() {
        let text = r#"
steps:
  - weight: 10
    bake: 5m
  - weight: 100
analysis:
  alpha: 1.5
  min_samples: 0
  pass_score: 80
  marginal_score: 90
  metrics:
    - metric: TargetResponseTime
      statistic: p101
      period: 30s
      direction: increase
      tolerance: -1
      version_dimension: X
    - namespace: Shop
      metric: Errors
      blue: v1
      green: v1
      weight: 0
      dimensions: {Version: x}
      version_dimension: Version
"#;
        let got = problems(text);
        let expect = [
            "analysis.alpha: a number between 0 and 1",
            "analysis.min_samples: an integer from 1 to 100000, got 0",
            "analysis.marginal_score: a number from 0 to pass_score (80), got 90",
            "analysis.metrics[0].statistic: Average, Sum",
            "analysis.metrics[0].period: a multiple of 1m",
            "analysis.metrics[0].tolerance: a finite number >= 0",
            "analysis.metrics[0].version_dimension: nothing",
            "analysis.metrics[1].direction: increase, decrease or either",
            "analysis.metrics[1].tolerance: a relative effect",
            "analysis.metrics[1].weight: a finite number > 0, got 0",
            "analysis.metrics[1].green: a value other than blue's",
            "analysis.metrics[1].dimensions.Version: nothing",
        ];
        for e in expect {
            assert!(got.iter().any(|g| g.starts_with(e)), "missing {e:?} in {got:#?}");
        }
        assert_eq!(got.len(), expect.len(), "{got:#?}");
    }

    #[test]
    fn a_custom_metric_needs_its_version_dimension_and_values() {
        let text = r#"{"steps":[{"weight":100}],"analysis":{"metrics":[
            {"namespace":"Shop","metric":"Errors","direction":"increase","tolerance":0.1}]}}"#;
        let got = problems(text);
        for field in ["version_dimension", "blue", "green"] {
            assert!(
                got.iter().any(|g| g.starts_with(&format!("analysis.metrics[0].{field}: a non-empty"))),
                "{got:#?}"
            );
        }
    }

    #[test]
    fn a_bake_shorter_than_min_samples_whole_periods_after_the_lag_is_refused_with_a_bake_that_works() {
        // 10 one-minute periods fitted a 10m bake before the window lost ALB's 2m lag and a period to
        // alignment; the suggestion is the shortest bake that is sure to give 10 whole periods.
        let text = r#"{"steps":[{"weight":10,"bake":"10m"},{"weight":100}],"analysis":{"metrics":[
            {"metric":"TargetResponseTime","direction":"increase","tolerance":0.1}]}}"#;
        let got = problems(text);
        assert_eq!(got.len(), 1, "{got:#?}");
        assert_eq!(
            got[0],
            "steps[0].bake: analysis.metrics[0]: bake 10m of steps[0] gives 7 whole 1m periods after lag 2m, the \
             window starting and ending on 1m boundaries; analysis.min_samples 10 needs bake >= 13m (or leave the \
             bake out: a step without a bake is not judged)"
        );
        // The brief's example: 3m after a 2m lag.
        let text = r#"{"steps":[{"weight":10},{"weight":20,"bake":"3m"},{"weight":100}],"analysis":{"min_samples":3,
            "metrics":[{"metric":"TargetResponseTime","direction":"increase","tolerance":0.1}]}}"#;
        let got = problems(text);
        assert!(
            got[0].starts_with(
                "steps[1].bake: analysis.metrics[0]: bake 3m of steps[1] gives 0 whole 1m periods after lag 2m"
            ),
            "{got:#?}"
        );
        assert!(got[0].contains("analysis.min_samples 3 needs bake >= 6m"), "{got:#?}");
        // What the message suggests validates.
        assert_eq!(problems(&text.replace("\"3m\"", "\"6m\"")), Vec::<String>::new());
        // and a custom lag moves it
        let text = text.replace("\"tolerance\":0.1}", "\"tolerance\":0.1,\"lag\":\"4m\"}");
        assert!(problems(&text)[0].contains("needs bake >= 8m"), "{:#?}", problems(&text));
    }

    #[test]
    fn the_window_ends_lag_before_the_bake_and_sits_on_period_boundaries() {
        let plan = Plan::parse(
            r#"{"steps":[{"weight":10,"bake":"13m"},{"weight":100}],"analysis":{"metrics":[
            {"metric":"TargetResponseTime","direction":"increase","tolerance":0.1}]}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let a = plan.analysis.expect("analysis");
        // A bake from 10:00:30 to 10:13:30 (epoch 36030..36810): 10:01 to 10:11 (lag 2m, then down to a minute).
        assert_eq!(a.window(36_030, 36_810), [36_060, 36_660]);
        // Aligned edges stay; a bake too short for anything gives an empty window.
        assert_eq!(a.window(36_000, 36_900), [36_000, 36_780]);
        assert_eq!(a.window(36_030, 36_100), [36_060, 36_060]);
        // Mixed periods align to their least common multiple, lag to the longest.
        let plan = Plan::parse(
            r#"{"steps":[{"weight":10,"bake":"30m"},{"weight":100}],"analysis":{"min_samples":3,"metrics":[
            {"metric":"TargetResponseTime","period":"2m","direction":"increase","tolerance":0.1},
            {"metric":"HealthyHostCount","period":"3m","lag":"3m","direction":"decrease","tolerance":0.1}]}}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let a = plan.analysis.expect("analysis");
        assert_eq!((a.alignment_seconds(), a.lag_seconds()), (360, 180));
        assert_eq!(a.window(1_000, 2_800), [1_080, 2_520]);
    }

    #[test]
    fn volume_statistics_are_refused_unless_normalised_naming_the_field() {
        let text = r#"{"steps":[{"weight":100}],"analysis":{"metrics":[
            {"metric":"HTTPCode_Target_5XX_Count","statistic":"Sum","direction":"increase","tolerance":0.1},
            {"metric":"RequestCount","statistic":"SampleCount","direction":"decrease","tolerance":0.1},
            {"name":"errors","expression":"FILL(errors, 0)","using":{"errors":{"metric":"HTTPCode_Target_5XX_Count","statistic":"Sum"}},
             "direction":"increase","tolerance":0.1},
            {"name":"rate","expression":"errors / requests","using":{
              "errors":{"metric":"HTTPCode_Target_5XX_Count","statistic":"Sum"},
              "requests":{"metric":"RequestCount","statistic":"Sum"}},"direction":"increase","tolerance":0.1}]}}"#;
        let got = problems(text);
        assert_eq!(got.len(), 3, "{got:#?}");
        assert!(
            got[0].starts_with("analysis.metrics[0].statistic: a statistic that does not count volume"),
            "{got:#?}"
        );
        assert!(got[0].contains("Sum of HTTPCode_Target_5XX_Count follows the traffic split"), "{got:#?}");
        assert!(
            got[1].starts_with("analysis.metrics[1].statistic: a statistic that does not count volume"),
            "{got:#?}"
        );
        assert!(got[2].starts_with("analysis.metrics[2].expression: a ratio: using.errors is a Sum"), "{got:#?}");
    }

    #[test]
    fn an_expression_is_checked_naming_its_fields() {
        let text = r#"{"steps":[{"weight":100}],"analysis":{"metrics":[
            {"expression":"errors / requestz","metric":"X","using":{
              "errors":{"metric":"HTTPCode_Target_5XX_Count","statistic":"Sum"},
              "requests":{"metric":"RequestCount","statistic":"p101"},
              "Bad":{"metric":"RequestCount"}},"direction":"increase","tolerance":0.1},
            {"expression":"SUM(METRICS())","using":{"a":{"metric":"RequestCount"}},"direction":"increase","tolerance":0.1},
            {"expression":"a / 'b'","using":{"a":{"metric":"RequestCount"}},"direction":"increase","tolerance":0.1},
            {"expression":"a","direction":"increase","tolerance":0.1},
            {"metric":"TargetResponseTime","using":{"a":{"metric":"RequestCount"}},"direction":"increase","tolerance":0.1}]}}"#;
        let got = problems(text);
        let expect = [
            "analysis.metrics[0].metric: nothing with an expression",
            "analysis.metrics[0].using.Bad: a name that starts with a lowercase letter",
            "analysis.metrics[0].using.requests.statistic: Average, Sum",
            "analysis.metrics[0].expression: only the names under using (Bad, errors, requests), got \"requestz\"",
            "analysis.metrics[0].using.Bad: an input the expression uses",
            "analysis.metrics[0].using.requests: an input the expression uses",
            "analysis.metrics[1].expression: METRICS reaches beyond this metric's inputs",
            "analysis.metrics[1].using.a: an input the expression uses",
            "analysis.metrics[2].expression: metric math over the names under using",
            "analysis.metrics[3].using: the expression's inputs by name",
            "analysis.metrics[3].expression: only the names under using (), got \"a\"",
            "analysis.metrics[4].using: nothing without an expression",
        ];
        for e in expect {
            assert!(got.iter().any(|g| g.starts_with(e)), "missing {e:?} in {got:#?}");
        }
        assert_eq!(got.len(), expect.len(), "{got:#?}");
    }

    #[test]
    fn the_expression_sent_names_each_sides_queries_and_fills_counts_with_zero() {
        let text = r#"{"steps":[{"weight":100}],"analysis":{"metrics":[
            {"expression":"100 * errors/requests","using":{
              "errors":{"metric":"HTTPCode_Target_5XX_Count","statistic":"Sum"},
              "requests":{"metric":"RequestCount","statistic":"Sum","missing":"skip"}},"direction":"increase","tolerance":0.1},
            {"metric":"TargetResponseTime","direction":"increase","tolerance":0.1},
            {"metric":"HealthyHostCount","missing":"zero","direction":"decrease","tolerance":0.1}]}}"#;
        let a = Plan::parse(text).unwrap_or_else(|e| panic!("{e}")).analysis.expect("analysis");
        let id = |n: &str| format!("m0_blue_{n}");
        assert_eq!(a.metrics[0].expression_for(id).as_deref(), Some("100 * FILL(m0_blue_errors, 0)/m0_blue_requests"));
        assert_eq!(a.metrics[1].expression_for(|_| "m1_blue".into()), None);
        assert!(!a.metrics[1].fills_zero());
        assert_eq!(a.metrics[2].expression_for(|_| "m2_blue_raw".into()).as_deref(), Some("FILL(m2_blue_raw, 0)"));
        assert!(a.metrics[2].fills_zero());
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_path() {
        let got = problems(r#"{"steps":[{"weight":100}],"analysis":{"metrics":[],"colour":1}}"#);
        assert!(got[0].starts_with("analysis.colour: unknown field"), "{got:#?}");
        let got = problems(r#"{"steps":[{"weight":100}],"analysis":{"on_no_data":"ignore","metrics":[]}}"#);
        assert!(got[0].starts_with("analysis.on_no_data: unknown variant `ignore`"), "{got:#?}");
        let got = problems(r#"{"steps":[{"weight":100}],"analysis":{"metrics":[]}}"#);
        assert_eq!(got, vec!["analysis.metrics: at least one metric".to_string()]);
    }

    #[test]
    fn duplicate_names_are_refused() {
        let text = r#"{"steps":[{"weight":100}],"analysis":{"metrics":[
            {"metric":"TargetResponseTime","direction":"increase","tolerance":0.1},
            {"metric":"TargetResponseTime","direction":"increase","tolerance":0.2}]}}"#;
        let got = problems(text);
        assert!(got.iter().any(|g| g.starts_with("analysis.metrics[1].name: a name no other metric has")), "{got:#?}");
    }

    #[test]
    fn statistics() {
        for ok in ["Average", "Sum", "Minimum", "Maximum", "SampleCount", "p99", "p99.9", "p50", "p100"] {
            assert!(super::valid_statistic(ok), "{ok}");
        }
        for bad in ["average", "p", "p0", "p101", "p9x", "tm99", ""] {
            assert!(!super::valid_statistic(bad), "{bad}");
        }
    }
}

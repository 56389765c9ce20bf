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
//!       direction: increase
//!       tolerance: 0.2               # a relative effect: 0.2 = +20%
//!       critical: true
//!     - name: checkout-errors        # a custom metric: a dimension tells the versions apart
//!       namespace: Shop
//!       metric: CheckoutErrors
//!       dimensions: {Service: web}
//!       version_dimension: Version
//!       blue: v1
//!       green: v2
//!       statistic: Sum
//!       direction: increase
//!       tolerance: 0.5
//! ```
//!
//! Like the rest of the plan: serde rejects unknown keys and wrong types with the path, then
//! [`validate`] reports every problem naming its field (`analysis.metrics[1].tolerance`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{human, Problems, Step};
use crate::judge::{Direction, Method, MetricSpec, TestSettings, Thresholds};

/// CloudWatch's namespace of Application Load Balancer metrics.
pub const ALB_NAMESPACE: &str = "AWS/ApplicationELB";

/// One GetMetricData call holds at most 500 queries, and the judge asks two per metric (blue, green).
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html>
pub const MAX_METRICS: usize = 250;

/// CloudWatch's dimension limit per metric (30), less the one hookline adds to tell the versions apart.
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Metric.html>
const MAX_FIXED_DIMENSIONS: usize = 29;

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

/// Where a metric's two series come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MetricSource {
    /// An `AWS/ApplicationELB` metric; its `TargetGroup` and `LoadBalancer` dimensions are blue's and
    /// green's target groups and the production listener's load balancer, resolved at run time.
    Alb { metric_name: String },
    /// A custom metric: `dimensions` are the same on both sides, `version_dimension` is `blue` on
    /// blue's series and `green` on green's.
    Custom {
        namespace: String,
        metric_name: String,
        dimensions: BTreeMap<String, String>,
        version_dimension: String,
        blue: String,
        green: String,
    },
}

impl MetricSource {
    /// The CloudWatch metric name.
    pub fn metric_name(&self) -> &str {
        match self {
            MetricSource::Alb { metric_name } | MetricSource::Custom { metric_name, .. } => metric_name,
        }
    }
}

/// One judged metric, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisMetric {
    /// Shown in results and rollback reasons; defaults to `<metric> <statistic>`.
    pub name: String,
    pub source: MetricSource,
    /// A CloudWatch statistic: `Average`, `Sum`, `Minimum`, `Maximum`, `SampleCount` or a percentile `pNN`.
    pub statistic: String,
    /// One sample per period and side.
    pub period_seconds: u64,
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

    /// The longest period of any metric (the bake must hold `min_samples` of them).
    pub fn longest_period_seconds(&self) -> u64 {
        self.metrics.iter().map(|m| m.period_seconds).max().unwrap_or(0)
    }
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
    pub metric: String,
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    pub version_dimension: Option<String>,
    pub blue: Option<String>,
    pub green: Option<String>,
    pub statistic: Option<String>,
    pub period: Option<String>,
    pub direction: Option<Direction>,
    pub tolerance: Option<f64>,
    pub weight: Option<f64>,
    pub critical: Option<bool>,
}

const DEFAULT_ALPHA: f64 = 0.05;
const DEFAULT_MIN_SAMPLES: i64 = 10;
const DEFAULT_PERIOD: u64 = 60;
const DEFAULT_STATISTIC: &str = "Average";

/// Checks the section, recording every problem, and checks each weight step's bake can hold
/// `min_samples` periods (a shorter bake could never be judged).
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
    for (i, step) in steps.iter().enumerate() {
        let Step::Weight { bake_seconds, .. } = step else { continue };
        if *bake_seconds == 0 {
            continue; // nothing to judge: the step does not bake
        }
        for (j, m) in metrics.iter().enumerate() {
            let periods = bake_seconds / m.period_seconds.max(1);
            if periods < min_samples as u64 {
                p.add(
                    format!("steps[{i}].bake"),
                    format!(
                        "at least analysis.min_samples ({min_samples}) periods of analysis.metrics[{j}] ({}) = {} \
                         so the judge can decide, got {} (or leave the bake out: a step without a bake is not judged)",
                        human(m.period_seconds),
                        human(m.period_seconds.saturating_mul(min_samples as u64)),
                        human(*bake_seconds)
                    ),
                );
                break;
            }
        }
    }
    Analysis {
        metrics,
        alpha,
        min_samples,
        pass_score,
        marginal_score,
        on_marginal: wire.on_marginal.unwrap_or_default(),
        on_no_data: wire.on_no_data.unwrap_or_default(),
    }
}

fn validate_metric(p: &mut Problems, i: usize, m: WireMetric) -> AnalysisMetric {
    let at = format!("analysis.metrics[{i}]");
    if m.metric.is_empty() || m.metric.len() > 255 {
        p.add(format!("{at}.metric"), "a CloudWatch metric name (1 to 255 characters)");
    }
    let statistic = m.statistic.clone().unwrap_or_else(|| DEFAULT_STATISTIC.to_string());
    if !valid_statistic(&statistic) {
        p.add(
            format!("{at}.statistic"),
            format!("Average, Sum, Minimum, Maximum, SampleCount or a percentile like p99 or p99.9, got {statistic:?}"),
        );
    }
    let period_seconds = p.duration(&format!("{at}.period"), m.period.as_deref(), DEFAULT_PERIOD);
    let namespace = m.namespace.clone().unwrap_or_else(|| ALB_NAMESPACE.to_string());
    let alb = namespace == ALB_NAMESPACE;
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
        MetricSource::Alb { metric_name: m.metric.clone() }
    } else {
        custom_source(p, &at, namespace, &m)
    };
    let name = m.name.clone().unwrap_or_else(|| format!("{} {statistic}", m.metric));
    if name.is_empty() || name.len() > 255 {
        p.add(format!("{at}.name"), "1 to 255 characters");
    }
    AnalysisMetric {
        name,
        source,
        statistic,
        period_seconds,
        direction,
        tolerance,
        weight,
        critical: m.critical.unwrap_or(false),
    }
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
    MetricSource::Custom {
        namespace,
        metric_name: m.metric.clone(),
        dimensions: m.dimensions.clone(),
        version_dimension,
        blue,
        green,
    }
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
    bake: 10m
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
      metric: CheckoutErrors
      dimensions: {Service: web}
      version_dimension: Version
      blue: v1
      green: v2
      statistic: Sum
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
        assert_eq!(a.metrics[0].source, super::MetricSource::Alb { metric_name: "TargetResponseTime".into() });
        assert_eq!((a.metrics[0].period_seconds, a.metrics[0].weight, a.metrics[0].critical), (60, 1.0, true));
        assert_eq!((a.metrics[1].period_seconds, a.metrics[1].weight), (30, 2.0));
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
    fn a_bake_shorter_than_min_samples_periods_is_refused() {
        let text = r#"{"steps":[{"weight":10,"bake":"5m"},{"weight":100}],"analysis":{"metrics":[
            {"metric":"TargetResponseTime","direction":"increase","tolerance":0.1}]}}"#;
        let got = problems(text);
        assert_eq!(got.len(), 1, "{got:#?}");
        assert!(got[0].starts_with("steps[0].bake: at least analysis.min_samples (10) periods"), "{got:#?}");
        assert!(got[0].contains("= 10m"), "{got:#?}");
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

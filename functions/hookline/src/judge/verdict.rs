//! One metric's verdict from its baseline and canary samples.
//!
//! - `NoData`: fewer than `min_samples` finite values on either side (non-finite values count as
//!   missing periods and are dropped first, so an all-missing series is `NoData`).
//! - `High` / `Low`: the test is significant (`p ≤ alpha`, one-sided in the metric's harmful direction
//!   or two-sided for `either`) AND the relative effect is beyond `tolerance` in a harmful direction:
//!   `relative_effect > tolerance` is `High`, `relative_effect < −tolerance` is `Low`.
//! - `Pass` otherwise.
//!
//! The relative effect is the Hodges–Lehmann shift divided by `|median(baseline)|`. When the baseline
//! median is 0 it is undefined: a zero shift is a relative effect of 0, any other shift has no finite
//! relative effect (`relative_effect` is `None`) and counts as beyond every tolerance in its
//! direction (going from a median of 0 errors to more is a regression whatever the tolerance).

use serde::Serialize;

use super::error::JudgeError;
use super::hodges_lehmann::{hodges_lehmann, median};
use super::hypothesis::{Direction, Method};
use super::mann_whitney::test_with_null;

/// What to judge about one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricSpec {
    /// Shown in results and rollback reasons.
    pub name: String,
    /// Which change is harmful.
    pub direction: Direction,
    /// Relative effect (0.1 = 10%) a significant change must exceed to fail the metric; ≥ 0.
    pub tolerance: f64,
    /// Weight in the score; > 0.
    pub weight: f64,
    /// A failing critical metric fails the whole judgement.
    pub critical: bool,
}

impl MetricSpec {
    /// A metric with weight 1, not critical.
    pub fn new(name: impl Into<String>, direction: Direction, tolerance: f64) -> Self {
        MetricSpec { name: name.into(), direction, tolerance, weight: 1.0, critical: false }
    }

    /// Checks the ranges, naming the field.
    pub fn validate(&self) -> Result<(), JudgeError> {
        if !(self.tolerance.is_finite() && self.tolerance >= 0.0) {
            return Err(JudgeError::InvalidSetting { field: "tolerance", expected: "a finite number >= 0" });
        }
        if !(self.weight.is_finite() && self.weight > 0.0) {
            return Err(JudgeError::InvalidSetting { field: "weight", expected: "a finite number > 0" });
        }
        Ok(())
    }
}

/// How every metric is tested.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestSettings {
    /// Significance level: a metric can fail only when `p ≤ alpha`. 0 < alpha < 1.
    pub alpha: f64,
    /// Fewer finite values than this on either side is `NoData`. ≥ 1.
    pub min_samples: usize,
    /// Asymptotic (default) or exact p-values.
    pub method: Method,
    /// Confidence level of the shift's interval; `None` means `1 − alpha`.
    pub confidence: Option<f64>,
}

impl Default for TestSettings {
    fn default() -> Self {
        TestSettings { alpha: 0.05, min_samples: 10, method: Method::Asymptotic, confidence: None }
    }
}

impl TestSettings {
    /// The interval's confidence level.
    pub fn confidence_level(&self) -> f64 {
        self.confidence.unwrap_or(1.0 - self.alpha)
    }

    /// Checks the ranges, naming the field.
    pub fn validate(&self) -> Result<(), JudgeError> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(JudgeError::InvalidSetting {
                field: "alpha",
                expected: "a number between 0 and 1 (exclusive)",
            });
        }
        if self.min_samples < 1 {
            return Err(JudgeError::InvalidSetting { field: "min_samples", expected: "an integer >= 1" });
        }
        let level = self.confidence_level();
        if !(level > 0.0 && level < 1.0) {
            return Err(JudgeError::InvalidSetting {
                field: "confidence",
                expected: "a number between 0 and 1 (exclusive)",
            });
        }
        Ok(())
    }
}

/// One metric's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    Pass,
    /// Significantly and materially higher than the baseline, in a direction that hurts.
    High,
    /// Significantly and materially lower than the baseline, in a direction that hurts.
    Low,
    /// Too few samples to judge.
    NoData,
}

/// Everything the judge found about one metric. The statistics are `None` when a side has no value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricResult {
    pub name: String,
    pub direction: Direction,
    pub weight: f64,
    pub critical: bool,
    /// Finite values in each sample (non-finite values are missing periods).
    pub baseline_n: usize,
    pub canary_n: usize,
    /// Mann-Whitney U of the canary sample.
    pub u: Option<f64>,
    pub p_value: Option<f64>,
    /// Hodges–Lehmann shift canary − baseline, in the metric's unit.
    pub hodges_lehmann: Option<f64>,
    /// The shift's confidence interval; `None` also when the samples are too small for the level.
    pub ci: Option<[f64; 2]>,
    pub baseline_median: Option<f64>,
    /// Shift / |baseline median|; `None` when there is no data or the baseline median is 0 with a non-zero shift.
    pub relative_effect: Option<f64>,
    /// The interval divided by |baseline median|, when both exist and the median is not 0.
    pub relative_ci: Option<[f64; 2]>,
    pub verdict: Verdict,
}

/// Judges one metric. Errors only for an invalid spec or settings, or an exact test it cannot do.
pub fn judge_metric(
    spec: &MetricSpec,
    settings: &TestSettings,
    baseline: &[f64],
    canary: &[f64],
) -> Result<MetricResult, JudgeError> {
    spec.validate()?;
    settings.validate()?;
    let baseline: Vec<f64> = baseline.iter().copied().filter(|v| v.is_finite()).collect();
    let canary: Vec<f64> = canary.iter().copied().filter(|v| v.is_finite()).collect();
    let mut result = MetricResult {
        name: spec.name.clone(),
        direction: spec.direction,
        weight: spec.weight,
        critical: spec.critical,
        baseline_n: baseline.len(),
        canary_n: canary.len(),
        u: None,
        p_value: None,
        hodges_lehmann: None,
        ci: None,
        baseline_median: None,
        relative_effect: None,
        relative_ci: None,
        verdict: Verdict::NoData,
    };
    if baseline.is_empty() || canary.is_empty() {
        return Ok(result);
    }
    let (test, null) = test_with_null(&canary, &baseline, spec.direction.alternative(), settings.method)?;
    let shift = hodges_lehmann(&canary, &baseline, &null, settings.confidence_level());
    let base_median = median(&baseline);
    let scale = base_median.abs();
    result.u = Some(test.u);
    result.p_value = Some(test.p_value);
    result.hodges_lehmann = Some(shift.estimate);
    result.ci = shift.ci;
    result.baseline_median = Some(base_median);
    result.relative_effect = relative(shift.estimate, scale);
    result.relative_ci = if scale > 0.0 { shift.ci.map(|[lo, hi]| [lo / scale, hi / scale]) } else { None };
    if baseline.len() < settings.min_samples || canary.len() < settings.min_samples {
        return Ok(result);
    }
    result.verdict = decide(spec, test.p_value <= settings.alpha, shift.estimate, result.relative_effect);
    Ok(result)
}

/// Shift relative to the baseline's scale; see the module comment for a zero median.
fn relative(shift: f64, scale: f64) -> Option<f64> {
    if scale > 0.0 {
        Some(shift / scale)
    } else if shift == 0.0 {
        Some(0.0)
    } else {
        None
    }
}

fn decide(spec: &MetricSpec, significant: bool, shift: f64, relative_effect: Option<f64>) -> Verdict {
    if !significant {
        return Verdict::Pass;
    }
    // `None` with data means a non-zero shift from a zero median: beyond any tolerance, in the shift's direction.
    let higher = relative_effect.map_or(shift > 0.0, |r| r > spec.tolerance);
    let lower = relative_effect.map_or(shift < 0.0, |r| r < -spec.tolerance);
    match spec.direction {
        Direction::Increase if higher => Verdict::High,
        Direction::Decrease if lower => Verdict::Low,
        Direction::Either if higher => Verdict::High,
        Direction::Either if lower => Verdict::Low,
        _ => Verdict::Pass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(min_samples: usize) -> TestSettings {
        TestSettings { min_samples, ..TestSettings::default() }
    }

    fn judge(spec: &MetricSpec, min_samples: usize, baseline: &[f64], canary: &[f64]) -> MetricResult {
        match judge_metric(spec, &settings(min_samples), baseline, canary) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    fn series(n: u32, scale: f64) -> Vec<f64> {
        // 100, 101, …: distinct values, so the tests do not depend on ties.
        (0..n).map(|i| (100.0 + f64::from(i)) * scale).collect()
    }

    #[test]
    fn forty_percent_slower_is_high() {
        let spec = MetricSpec::new("TargetResponseTime", Direction::Increase, 0.1);
        let r = judge(&spec, 10, &series(20, 1.0), &series(20, 1.4));
        assert_eq!(r.verdict, Verdict::High);
        assert!(r.p_value.is_some_and(|p| p < 0.001), "{r:?}");
        // HL of 1.4·(100+i) − (100+j): median difference = 1.4·109.5 − 109.5 = 43.8 over a median of 109.5.
        assert!(r.relative_effect.is_some_and(|e| (e - 0.4).abs() < 0.02), "{r:?}");
    }

    #[test]
    fn significant_but_within_tolerance_passes() {
        let spec = MetricSpec::new("TargetResponseTime", Direction::Increase, 0.5);
        assert_eq!(judge(&spec, 10, &series(20, 1.0), &series(20, 1.4)).verdict, Verdict::Pass);
    }

    #[test]
    fn improvement_passes_a_one_sided_metric_and_fails_an_either_metric() {
        let faster = series(20, 0.6);
        let latency = MetricSpec::new("latency", Direction::Increase, 0.1);
        assert_eq!(judge(&latency, 10, &series(20, 1.0), &faster).verdict, Verdict::Pass);
        let either = MetricSpec::new("requests", Direction::Either, 0.1);
        assert_eq!(judge(&either, 10, &series(20, 1.0), &faster).verdict, Verdict::Low);
        let throughput = MetricSpec::new("throughput", Direction::Decrease, 0.1);
        assert_eq!(judge(&throughput, 10, &series(20, 1.0), &faster).verdict, Verdict::Low);
    }

    #[test]
    fn unchanged_passes() {
        let spec = MetricSpec::new("latency", Direction::Either, 0.0);
        let r = judge(&spec, 10, &series(20, 1.0), &series(20, 1.0));
        assert_eq!((r.verdict, r.hodges_lehmann, r.u), (Verdict::Pass, Some(0.0), Some(200.0)));
    }

    #[test]
    fn too_few_or_missing_samples_is_no_data() {
        let spec = MetricSpec::new("latency", Direction::Increase, 0.1);
        let few = judge(&spec, 10, &series(9, 1.0), &series(20, 2.0));
        assert_eq!(few.verdict, Verdict::NoData);
        assert!(few.p_value.is_some(), "statistics are still reported: {few:?}");
        let missing = judge(&spec, 1, &[f64::NAN, f64::NAN], &series(20, 2.0));
        assert_eq!((missing.verdict, missing.baseline_n, missing.p_value), (Verdict::NoData, 0, None));
    }

    #[test]
    fn from_zero_errors_any_significant_increase_is_high() {
        let spec = MetricSpec::new("HTTPCode_Target_5XX_Count", Direction::Increase, 10.0);
        let r = judge(&spec, 10, &[0.0; 20], &series(20, 0.01));
        assert_eq!((r.verdict, r.relative_effect, r.baseline_median), (Verdict::High, None, Some(0.0)));
    }

    #[test]
    fn invalid_settings_name_the_field() {
        let spec = MetricSpec { weight: 0.0, ..MetricSpec::new("m", Direction::Either, 0.0) };
        let err = judge_metric(&spec, &settings(1), &[1.0], &[1.0]);
        assert!(matches!(err, Err(JudgeError::InvalidSetting { field: "weight", .. })), "{err:?}");
        let bad_alpha = TestSettings { alpha: 1.0, ..TestSettings::default() };
        let err = judge_metric(&MetricSpec::new("m", Direction::Either, 0.0), &bad_alpha, &[1.0], &[1.0]);
        assert!(matches!(err, Err(JudgeError::InvalidSetting { field: "alpha", .. })), "{err:?}");
    }
}

//! The judgement over all metrics, scored like Kayenta.
//!
//! In this order:
//! 1. any `critical` metric that is `High` or `Low` fails the judgement, whatever the score;
//! 2. no metric with data (all `NoData`) is `NoData`; so is a `critical` metric without data (what
//!    matters most was not measured): the caller's rule for missing data decides, never a silent pass;
//! 3. otherwise the score is `100 × Σ weight(Pass) / Σ weight(metrics with data)`; below
//!    `marginal_score` fails, below `pass_score` is `Marginal`, at or above `pass_score` passes.

use serde::Serialize;

use super::error::JudgeError;
use super::verdict::{MetricResult, Verdict};

/// Score thresholds, on Kayenta's 0–100 scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// At or above: pass. Kayenta's default, 95.
    pub pass_score: f64,
    /// Below: fail; between this and `pass_score`: marginal. Kayenta's default, 75.
    pub marginal_score: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { pass_score: 95.0, marginal_score: 75.0 }
    }
}

impl Thresholds {
    /// Checks the ranges, naming the field.
    pub fn validate(&self) -> Result<(), JudgeError> {
        if !(0.0..=100.0).contains(&self.pass_score) {
            return Err(JudgeError::InvalidSetting { field: "pass_score", expected: "a number from 0 to 100" });
        }
        if !(0.0..=self.pass_score).contains(&self.marginal_score) {
            return Err(JudgeError::InvalidSetting {
                field: "marginal_score",
                expected: "a number from 0 to pass_score",
            });
        }
        Ok(())
    }
}

/// The judgement's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    Pass,
    /// Between `marginal_score` and `pass_score`: the plan says whether this rolls back or asks for approval.
    Marginal,
    Fail,
    /// Nothing (or no critical metric) to judge on.
    NoData,
}

/// All metrics' results, the score and the outcome, with a one-line reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub outcome: Outcome,
    /// 0–100; `None` when no metric has data.
    pub score: Option<f64>,
    pub reason: String,
    pub metrics: Vec<MetricResult>,
}

impl MetricResult {
    /// Whether the metric failed (`High` or `Low`).
    pub fn failed(&self) -> bool {
        matches!(self.verdict, Verdict::High | Verdict::Low)
    }

    /// "TargetResponseTime High: +38% (CI +21%..+55%), p=0.0004", for logs and rollback reasons.
    pub fn describe(&self) -> String {
        let verdict = match self.verdict {
            Verdict::Pass => "Pass",
            Verdict::High => "High",
            Verdict::Low => "Low",
            Verdict::NoData => {
                return format!("{} NoData ({} baseline, {} canary values)", self.name, self.baseline_n, self.canary_n)
            }
        };
        let effect = match (self.relative_effect, self.hodges_lehmann) {
            (Some(r), _) => percent(r),
            (None, Some(shift)) => format!("{shift:+} from a baseline median of 0"),
            (None, None) => "no effect measured".to_string(),
        };
        let ci = self.relative_ci.map(|[lo, hi]| format!(" (CI {}..{})", percent(lo), percent(hi))).unwrap_or_default();
        let p = self.p_value.map(|p| format!(", p={p:.2e}")).unwrap_or_default();
        format!("{} {verdict}: {effect}{ci}{p}", self.name)
    }
}

fn percent(ratio: f64) -> String {
    format!("{:+.0}%", ratio * 100.0)
}

/// Scores the metrics and decides.
pub fn score(metrics: Vec<MetricResult>, thresholds: &Thresholds) -> Result<Judgement, JudgeError> {
    thresholds.validate()?;
    let failed_critical: Vec<String> =
        metrics.iter().filter(|m| m.critical && m.failed()).map(MetricResult::describe).collect();
    let with_data: Vec<&MetricResult> = metrics.iter().filter(|m| m.verdict != Verdict::NoData).collect();
    let total_weight: f64 = with_data.iter().map(|m| m.weight).sum();
    // A fold from +0.0, not `sum()`: the empty f64 sum is -0.0, which would print as a score of "-0.0".
    let passing_weight = with_data.iter().filter(|m| m.verdict == Verdict::Pass).fold(0.0, |acc, m| acc + m.weight);
    let score = (total_weight > 0.0).then(|| 100.0 * passing_weight / total_weight);
    let failing = || metrics.iter().filter(|m| m.failed()).map(MetricResult::describe).collect::<Vec<_>>().join("; ");
    let (outcome, reason) = if !failed_critical.is_empty() {
        (Outcome::Fail, format!("critical metric failed: {}", failed_critical.join("; ")))
    } else if let Some(missing) = metrics.iter().find(|m| m.critical && m.verdict == Verdict::NoData) {
        (Outcome::NoData, format!("critical metric without enough data: {}", missing.describe()))
    } else {
        match score {
            None => (Outcome::NoData, "no metric has enough data".to_string()),
            Some(s) if s < thresholds.marginal_score => {
                (Outcome::Fail, format!("score {s:.1} below marginal {}: {}", thresholds.marginal_score, failing()))
            }
            Some(s) if s < thresholds.pass_score => {
                (Outcome::Marginal, format!("score {s:.1} below pass {}: {}", thresholds.pass_score, failing()))
            }
            Some(s) => (Outcome::Pass, format!("score {s:.1}")),
        }
    };
    Ok(Judgement { outcome, score, reason, metrics })
}

#[cfg(test)]
mod tests {
    use super::super::hypothesis::Direction;
    use super::*;

    fn metric(name: &str, verdict: Verdict, weight: f64, critical: bool) -> MetricResult {
        let data = verdict != Verdict::NoData;
        MetricResult {
            name: name.to_string(),
            direction: Direction::Increase,
            weight,
            critical,
            baseline_n: if data { 30 } else { 2 },
            canary_n: 30,
            u: Some(700.0),
            p_value: Some(0.0004),
            hodges_lehmann: Some(38.0),
            ci: Some([21.0, 55.0]),
            baseline_median: Some(100.0),
            relative_effect: Some(0.38),
            relative_ci: Some([0.21, 0.55]),
            verdict,
        }
    }

    fn judge(metrics: Vec<MetricResult>) -> Judgement {
        match score(metrics, &Thresholds::default()) {
            Ok(j) => j,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn weighted_share_of_passing_metrics_among_those_with_data() {
        // By hand: pass weights 3 + 1 of 3 + 1 + 1 with data (the NoData metric's 5 does not count) = 80.
        let j = judge(vec![
            metric("a", Verdict::Pass, 3.0, false),
            metric("b", Verdict::Pass, 1.0, false),
            metric("c", Verdict::High, 1.0, false),
            metric("d", Verdict::NoData, 5.0, false),
        ]);
        assert_eq!((j.outcome, j.score), (Outcome::Marginal, Some(80.0)));
        assert!(j.reason.contains("c High: +38% (CI +21%..+55%), p=4.00e-4"), "{}", j.reason);
    }

    #[test]
    fn thresholds_split_pass_marginal_fail() {
        let nineteen_of_twenty = |last: Verdict| {
            let mut m: Vec<_> = (0..19).map(|i| metric(&format!("m{i}"), Verdict::Pass, 1.0, false)).collect();
            m.push(metric("last", last, 1.0, false));
            m
        };
        assert_eq!(judge(nineteen_of_twenty(Verdict::Low)).outcome, Outcome::Pass); // 95 = pass_score
        assert_eq!(
            judge(vec![metric("a", Verdict::Pass, 3.0, false), metric("b", Verdict::Low, 1.0, false)]).outcome,
            Outcome::Marginal
        ); // 75
        assert_eq!(
            judge(vec![metric("a", Verdict::Pass, 1.0, false), metric("b", Verdict::Low, 1.0, false)]).outcome,
            Outcome::Fail
        ); // 50
    }

    #[test]
    fn a_failing_critical_metric_fails_whatever_the_score() {
        let mut m: Vec<_> = (0..99).map(|i| metric(&format!("m{i}"), Verdict::Pass, 1.0, false)).collect();
        m.push(metric("TargetResponseTime", Verdict::High, 1.0, true));
        let j = judge(m);
        assert_eq!((j.outcome, j.score), (Outcome::Fail, Some(99.0)));
        assert!(j.reason.starts_with("critical metric failed: TargetResponseTime High: +38%"), "{}", j.reason);
    }

    #[test]
    fn no_data_is_never_a_pass() {
        assert_eq!(judge(vec![metric("a", Verdict::NoData, 1.0, false)]).outcome, Outcome::NoData);
        assert_eq!(judge(vec![]).outcome, Outcome::NoData);
        let critical_missing =
            judge(vec![metric("a", Verdict::Pass, 1.0, false), metric("b", Verdict::NoData, 1.0, true)]);
        assert_eq!(critical_missing.outcome, Outcome::NoData);
    }

    #[test]
    fn no_passing_metric_scores_positive_zero() {
        let j = judge(vec![metric("a", Verdict::High, 1.0, true)]);
        assert!(j.score.is_some_and(|s| s == 0.0 && s.is_sign_positive()), "{:?}", j.score);
        assert_eq!(serde_json::to_string(&j.score).expect("json"), "0.0");
    }

    #[test]
    fn thresholds_are_validated() {
        let bad = Thresholds { pass_score: 80.0, marginal_score: 90.0 };
        assert!(matches!(score(vec![], &bad), Err(JudgeError::InvalidSetting { field: "marginal_score", .. })));
    }
}

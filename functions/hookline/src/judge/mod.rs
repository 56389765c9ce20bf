//! The canary judge: green's metric samples against blue's, Kayenta-style. Plain Rust, no I/O.
//!
//! - [`mann_whitney`]: the Mann-Whitney U test (tie-corrected normal approximation with continuity
//!   correction, or the exact distribution without ties), matching `scipy.stats.mannwhitneyu`.
//! - [`hodges_lehmann`]: the shift estimate (median of pairwise differences) and its confidence
//!   interval from the Mann-Whitney order statistics.
//! - [`verdict`]: one metric's verdict (`Pass`, `High`, `Low`, `NoData`).
//! - [`score`]: the weighted score over all metrics and the judgement (`Pass`, `Marginal`, `Fail`, `NoData`).
//! - [`normal`]: the normal distribution function the approximation needs.
//!
//! `docs/judge.md` explains the method, its assumptions and how to choose tolerances.

pub mod hodges_lehmann;
pub mod mann_whitney;
pub mod normal;
pub mod score;
pub mod verdict;

use serde::{Deserialize, Serialize};

pub use hodges_lehmann::{median, Shift};
pub use mann_whitney::{mann_whitney_u, MannWhitney};
pub use score::{score, Judgement, Outcome, Thresholds};
pub use verdict::{judge_metric, MetricResult, MetricSpec, TestSettings, Verdict};

/// Which way a metric's change hurts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// A larger canary value is harmful (latency, errors): one-sided test, alternative `greater`.
    Increase,
    /// A smaller canary value is harmful (throughput, success rate): one-sided test, alternative `less`.
    Decrease,
    /// Any change is harmful: two-sided test.
    #[default]
    Either,
}

impl Direction {
    /// The test's alternative hypothesis about the canary (scipy's `alternative`).
    pub fn alternative(self) -> Alternative {
        match self {
            Direction::Increase => Alternative::Greater,
            Direction::Decrease => Alternative::Less,
            Direction::Either => Alternative::TwoSided,
        }
    }
}

/// The alternative hypothesis: the canary's distribution is greater, less or just different.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alternative {
    Greater,
    Less,
    TwoSided,
}

/// How the p-value is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Tie-corrected normal approximation with continuity correction (any sizes, ties allowed).
    #[default]
    Asymptotic,
    /// The exact distribution of U (small samples without ties).
    Exact,
}

/// What the judge refuses, each with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JudgeError {
    /// The exact distribution of U assumes no ties.
    #[error("the exact test needs samples without ties (a value occurs more than once); use the asymptotic test")]
    ExactWithTies,
    /// C(n₁+n₂, n₁) does not fit the exact counts.
    #[error(
        "the exact test is limited to small samples ({canary_n} canary and {baseline_n} baseline values are too many); \
         use the asymptotic test"
    )]
    ExactTooLarge { canary_n: usize, baseline_n: usize },
    /// A test needs at least one value on each side.
    #[error("a sample is empty")]
    EmptySample,
    /// A setting out of range; `field` names it.
    #[error("{field}: {expected}")]
    InvalidSetting { field: &'static str, expected: &'static str },
}

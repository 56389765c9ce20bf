//! The canary judge: green's metric samples against blue's, Kayenta-style. Plain Rust, no I/O.
//!
//! - [`mann_whitney`]: the Mann-Whitney U test (tie-corrected normal approximation with continuity
//!   correction, or the exact distribution without ties), matching `scipy.stats.mannwhitneyu`.
//! - [`hodges_lehmann`]: the shift estimate (median of pairwise differences) and its confidence
//!   interval from the Mann-Whitney order statistics.
//! - [`verdict`]: one metric's verdict (`Pass`, `High`, `Low`, `NoData`).
//! - [`score`](mod@score): the weighted score over all metrics and the judgement (`Pass`, `Marginal`, `Fail`, `NoData`).
//! - [`normal`]: the normal distribution function the approximation needs.
//! - [`hypothesis`]: which way a change hurts, the alternative hypothesis, the p-value's method.
//! - [`error`]: what the judge refuses.
//!
//! `docs/judge.md` explains the method, its assumptions and how to choose tolerances.

pub mod error;
pub mod hodges_lehmann;
pub mod hypothesis;
pub mod mann_whitney;
pub mod normal;
pub mod score;
pub mod verdict;

pub use error::JudgeError;
pub use hodges_lehmann::{median, Shift};
pub use hypothesis::{Alternative, Direction, Method};
pub use mann_whitney::{mann_whitney_u, MannWhitney};
pub use score::{score, Judgement, Outcome, Thresholds};
pub use verdict::{judge_metric, MetricResult, MetricSpec, TestSettings, Verdict};

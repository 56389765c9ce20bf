//! What the judge refuses.

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

//! What a metric's test is about: which way a change hurts ([`Direction`]), the alternative
//! hypothesis that follows ([`Alternative`]) and how the p-value is computed ([`Method`]).

use serde::{Deserialize, Serialize};

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

//! What the [`TrafficRouter`] port speaks: production's split between blue and green, a cohort
//! sent to green, whether a call changed anything. Plain data, no port and no adapter here.
//!
//! [`TrafficRouter`]: crate::ports::TrafficRouter

use serde::{Deserialize, Serialize};

/// Production traffic split, in percent; always sums to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weights {
    pub blue: u8,
    pub green: u8,
}

impl Weights {
    /// Everything on blue: the only state a failed rollout may leave.
    pub const BLUE_ONLY: Weights = Weights { blue: 100, green: 0 };

    /// `green`% to green, the rest to blue (`green` is capped at 100).
    pub fn green(green: u8) -> Weights {
        let green = green.min(100);
        Weights { blue: 100 - green, green }
    }

    /// Percentages from raw ALB weights (0..=999 each), rounded to green's nearest percent.
    pub fn from_raw(blue: u32, green: u32) -> Option<Weights> {
        let total = blue + green;
        if total == 0 {
            return None;
        }
        let pct = (u64::from(green) * 100 + u64::from(total) / 2) / u64::from(total);
        Some(Weights::green(u8::try_from(pct).unwrap_or(100)))
    }

    /// Production is on one side only.
    pub fn is_split(self) -> bool {
        self.blue != 0 && self.green != 0
    }
}

impl std::fmt::Display for Weights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "blue {}% / green {}%", self.blue, self.green)
    }
}

/// Requests carrying `header` with one of `values` go to green.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cohort {
    pub header: String,
    pub values: Vec<String>,
}

/// Whether a call changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Applied,
    AlreadyThere,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_weights_become_percentages() {
        assert_eq!(Weights::from_raw(1, 0), Some(Weights::BLUE_ONLY));
        assert_eq!(Weights::from_raw(90, 10), Some(Weights::green(10)));
        assert_eq!(Weights::from_raw(1, 1), Some(Weights::green(50)));
        assert_eq!(Weights::from_raw(0, 5), Some(Weights::green(100)));
        assert_eq!(Weights::from_raw(0, 0), None);
        assert!(Weights::green(10).is_split());
        assert!(!Weights::BLUE_ONLY.is_split());
        assert_eq!(Weights::green(250), Weights::green(100));
    }
}

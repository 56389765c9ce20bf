//! Durations as plans write them ("90s", "5m", "1h"), in whole seconds.

use std::time::Duration;

/// Formats seconds the way plans write them.
pub fn human(seconds: u64) -> String {
    humantime::format_duration(Duration::from_secs(seconds)).to_string()
}

pub(super) fn seconds_rounded_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

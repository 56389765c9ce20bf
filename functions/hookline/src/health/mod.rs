//! The health gate: judging green from target health, task set stability,
//! CloudWatch alarms and HTTP probes.
//!
//! The verdict logic ([`verdict`]) is plain Rust, tested without I/O; the
//! gate ([`gate::HealthGate`]) gathers the facts from AWS and HTTP.

pub mod gate;
pub mod verdict;

pub use gate::HealthGate;
pub use verdict::{bake_progress, Check, Verdict};

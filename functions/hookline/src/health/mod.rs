//! The health gate: judging green from target health, task set stability,
//! CloudWatch alarms and HTTP probes.
//!
//! The verdict logic ([`verdict`]) is plain Rust, tested without I/O; the
//! gate ([`gate::check`]) reads the facts through [`HealthFacts`], which
//! [`gate::HealthGate`] serves from AWS and HTTP.

pub mod facts;
pub mod gate;
pub mod metrics;
pub mod verdict;

pub use gate::{HealthFacts, HealthGate, TargetFacts, TaskSetFacts};
pub use metrics::{CloudWatchMetrics, MetricsSource};
pub use verdict::{bake_progress, Check, Verdict};

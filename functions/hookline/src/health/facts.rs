//! What the health ports speak: the facts [`HealthFacts`] reads about green (its task set, its
//! target group) and the series queries [`MetricsSource`] answers. Plain data, no port and no
//! adapter here, so the ports and the AWS sources both build on it.
//!
//! [`HealthFacts`]: crate::ports::HealthFacts
//! [`MetricsSource`]: crate::ports::MetricsSource

/// Green's task set as the orchestrator reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskSetFacts {
    /// How many tasks it should run.
    pub desired: i64,
    /// `STEADY_STATE`, `STABILIZING`, as the orchestrator says it.
    pub stability: Option<String>,
}

/// Green's target group behind the load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetFacts {
    pub healthy: usize,
    pub registered: usize,
}

/// Which deployment side a series belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Blue,
    Green,
}

/// One CloudWatch metric read for a series: its own GetMetricData query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputQuery {
    /// GetMetricData's query id (ids must start with a lowercase letter).
    pub id: String,
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<(String, String)>,
    pub statistic: String,
}

/// One series to judge: one side of one metric. Without an expression its single input answers
/// under `id`; with one, the inputs are read but not returned and the expression answers under `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesQuery {
    /// GetMetricData's id of the answering query: `m<metric index>_<side>`.
    pub id: String,
    pub side: Side,
    pub inputs: Vec<InputQuery>,
    /// Metric math over the inputs' ids (`FILL(m0_blue_errors, 0) / FILL(m0_blue_requests, 0)`).
    pub expression: Option<String>,
    pub period_seconds: u64,
    /// A period without a value is 0 (a count metric read without an expression).
    pub fill_zero: bool,
    /// Where the series is read: the side's release placement under hookline's Route 53
    /// controller (CloudWatch metrics are regional), else the caller's own.
    pub at: crate::dns::Placement,
}

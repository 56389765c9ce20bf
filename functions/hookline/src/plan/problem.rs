//! What is wrong with a plan: each problem names its field, and [`Problems`] collects them while
//! a plan is checked.

use std::fmt;

use super::duration::seconds_rounded_up;

/// One thing wrong with a plan.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problem {
    /// Path of the field, e.g. `steps[2].weight`.
    pub field: String,
    /// What was expected there (and what was found).
    pub expected: String,
    /// Where in the text the parser stopped, for text that is not valid JSON/YAML or has a value
    /// of the wrong type; `None` for problems of meaning (a weight out of range).
    pub location: Option<Location>,
}

/// A position in the plan's text, as the JSON or YAML parser reports it (both 1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.expected)
    }
}

/// Every problem found in a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanErrors(pub Vec<Problem>);

impl fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(Problem::to_string).collect();
        f.write_str(&lines.join("; "))
    }
}

impl std::error::Error for PlanErrors {}

impl From<PlanErrors> for crate::Error {
    fn from(errs: PlanErrors) -> Self {
        match errs.0.as_slice() {
            [one] => crate::Error::invalid(format!("plan.{}", one.field), one.expected.clone()),
            _ => crate::Error::invalid("plan", errs.to_string()),
        }
    }
}

/// Collects problems while a plan is checked.
#[derive(Default)]
pub(super) struct Problems(pub(super) Vec<Problem>);

impl Problems {
    pub(super) fn add(&mut self, field: impl Into<String>, expected: impl Into<String>) {
        self.0.push(Problem { field: field.into(), expected: expected.into(), location: None });
    }

    /// Parses an optional duration, recording a problem when malformed.
    pub(super) fn duration(&mut self, field: &str, text: Option<&str>, default: u64) -> u64 {
        match text {
            None => default,
            Some(t) => match humantime::parse_duration(t.trim()) {
                Ok(d) => seconds_rounded_up(d),
                Err(e) => {
                    self.add(field, format!("a duration like \"90s\", \"5m\" or \"1h\", got {t:?} ({e})"));
                    default
                }
            },
        }
    }
}

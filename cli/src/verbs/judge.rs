//! `hookline judge`: judges two metric samples by hand, no AWS. Users tune tolerances on past
//! data with it, and the scipy known-answer tests drive the judge through it.
//!
//! Exit codes: 0 when judged (whatever the verdict: read `verdict`), 2 for bad input (unreadable
//! file, empty file, not a JSON array of finite numbers, `--exact` with ties or too many values),
//! like clap's own usage errors.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use hookline::judge::{judge_metric, Direction, Method, MetricSpec, TestSettings, Verdict};
use serde::Serialize;

use crate::output::emit;

/// Exit code for bad input, as clap uses for usage errors.
pub const BAD_INPUT: u8 = 2;

/// `hookline judge` arguments.
#[derive(Debug, Args)]
pub struct JudgeArgs {
    /// JSON array of the baseline's (blue's) samples, e.g. [0.21, 0.19, 0.25].
    #[arg(long, value_name = "FILE")]
    pub baseline: PathBuf,
    /// JSON array of the canary's (green's) samples.
    #[arg(long, value_name = "FILE")]
    pub canary: PathBuf,
    /// Which change is harmful: increase (one-sided, canary greater), decrease (one-sided, canary less), either (two-sided).
    #[arg(long, value_enum, default_value_t = DirectionArg::Either)]
    pub direction: DirectionArg,
    /// Significance level (also sets the shift's confidence interval to 1 - alpha).
    #[arg(long, default_value_t = 0.05, value_parser = parse_alpha)]
    pub alpha: f64,
    /// Relative effect (0.1 = 10% of the baseline median) a significant shift must exceed to fail.
    #[arg(long, default_value_t = 0.05, value_parser = parse_tolerance)]
    pub tolerance: f64,
    /// Fewer values than this on either side gives NoData.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub min_samples: u64,
    /// Exact p-value (small samples without ties) instead of the normal approximation.
    #[arg(long)]
    pub exact: bool,
}

/// `--direction` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DirectionArg {
    Increase,
    Decrease,
    Either,
}

impl From<DirectionArg> for Direction {
    fn from(d: DirectionArg) -> Self {
        match d {
            DirectionArg::Increase => Direction::Increase,
            DirectionArg::Decrease => Direction::Decrease,
            DirectionArg::Either => Direction::Either,
        }
    }
}

fn parse_alpha(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(a) if a > 0.0 && a < 1.0 => Ok(a),
        _ => Err(format!("{s:?} is not a number between 0 and 1 (exclusive)")),
    }
}

fn parse_tolerance(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
        _ => Err(format!("{s:?} is not a finite number >= 0")),
    }
}

/// What `hookline judge` prints: one JSON object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Output {
    pub baseline_n: usize,
    pub canary_n: usize,
    pub u: Option<f64>,
    pub p_value: Option<f64>,
    pub hodges_lehmann: Option<f64>,
    pub ci: Option<[f64; 2]>,
    pub relative_effect: Option<f64>,
    pub verdict: Verdict,
}

/// Reads one sample file: a JSON array of finite numbers (`[]` is an empty sample, hence NoData).
pub fn read_samples(path: &Path) -> Result<Vec<f64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_samples(path, &text)
}

/// Parses sample text; errors name the file and, where serde knows it, the line and column.
pub fn parse_samples(path: &Path, text: &str) -> Result<Vec<f64>, String> {
    if text.trim().is_empty() {
        return Err(format!("{}: empty file, expected a JSON array of numbers", path.display()));
    }
    let values: Vec<f64> = serde_json::from_str(text)
        .map_err(|e| format!("{}: not a JSON array of finite numbers: {e}", path.display()))?;
    // serde_json refuses NaN, Infinity and out-of-range literals already; this keeps the promise explicit.
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(format!("{}: element {i} is not a finite number", path.display()));
    }
    Ok(values)
}

/// Judges the two files.
pub fn judge(args: &JudgeArgs) -> Result<Output, String> {
    let baseline = read_samples(&args.baseline)?;
    let canary = read_samples(&args.canary)?;
    let spec = MetricSpec::new("sample", args.direction.into(), args.tolerance);
    let settings = TestSettings {
        alpha: args.alpha,
        min_samples: usize::try_from(args.min_samples).unwrap_or(usize::MAX),
        method: if args.exact { Method::Exact } else { Method::Asymptotic },
        confidence: None,
    };
    let r = judge_metric(&spec, &settings, &baseline, &canary).map_err(|e| e.to_string())?;
    Ok(Output {
        baseline_n: r.baseline_n,
        canary_n: r.canary_n,
        u: r.u,
        p_value: r.p_value,
        hodges_lehmann: r.hodges_lehmann,
        ci: r.ci,
        relative_effect: r.relative_effect,
        verdict: r.verdict,
    })
}

/// `hookline judge`: prints the JSON object and returns the exit code.
pub fn run(args: &JudgeArgs) -> u8 {
    let printed =
        judge(args).and_then(|out| serde_json::to_string_pretty(&out).map_err(|e| format!("cannot print JSON: {e}")));
    match printed {
        Ok(json) => {
            emit(&json);
            0
        }
        Err(e) => {
            eprintln!("hookline judge: {e}");
            BAD_INPUT
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<f64>, String> {
        parse_samples(Path::new("b.json"), text)
    }

    #[test]
    fn samples_are_a_json_array_of_numbers() {
        assert_eq!(parse("[1, 2.5, -3e2]\n"), Ok(vec![1.0, 2.5, -300.0]));
        assert_eq!(parse("[]"), Ok(vec![]));
    }

    #[test]
    fn bad_samples_name_the_file_and_the_place() {
        assert_eq!(parse(" \n"), Err("b.json: empty file, expected a JSON array of numbers".to_string()));
        let not_number = parse("[1,\n \"x\"]").err().unwrap_or_default();
        assert!(
            not_number.starts_with("b.json: not a JSON array of finite numbers: invalid type: string"),
            "{not_number}"
        );
        assert!(not_number.ends_with("at line 2 column 4"), "{not_number}");
        for text in ["{\"a\": 1}", "[1, null]", "[1e400]", "[NaN]", "[1] 2"] {
            let err = parse(text).err().unwrap_or_default();
            assert!(err.starts_with("b.json: not a JSON array of finite numbers: "), "{text}: {err}");
        }
    }

    #[test]
    fn unreadable_file_is_named() {
        let err = read_samples(Path::new("/nonexistent/c.json")).err().unwrap_or_default();
        assert!(err.starts_with("cannot read /nonexistent/c.json: "), "{err}");
    }
}

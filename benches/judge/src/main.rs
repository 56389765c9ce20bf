//! Times the canary judge of the hookline library (`functions/hookline/src/judge`, compiled in
//! here as is) on two sample files: `judge-bench BASELINE CANARY ITERATIONS`. Prints one JSON
//! object: the result of the last judgement and the wall time of every call in nanoseconds.

#![allow(dead_code, unused_imports)]

#[path = "../../../functions/hookline/src/judge/mod.rs"]
mod judge;

use std::time::Instant;

use judge::{judge_metric, Direction, MetricSpec, TestSettings};

fn read(path: &str) -> Result<Vec<f64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path}: not a JSON array of numbers: {e}"))
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let [_, baseline, canary, iterations] = args.as_slice() else {
        return Err("usage: judge-bench BASELINE.json CANARY.json ITERATIONS".into());
    };
    let (baseline, canary) = (read(baseline)?, read(canary)?);
    let iterations: usize = iterations.parse().map_err(|e| format!("ITERATIONS: {e}"))?;
    let spec = MetricSpec::new("bench", Direction::Increase, 0.1);
    let settings = TestSettings { min_samples: 1, ..TestSettings::default() };
    let mut ns = Vec::with_capacity(iterations);
    let mut last = None;
    for _ in 0..iterations {
        let t = Instant::now();
        let r = judge_metric(&spec, &settings, &baseline, &canary).map_err(|e| e.to_string())?;
        ns.push(t.elapsed().as_nanos());
        last = Some(r);
    }
    let r = last.ok_or("ITERATIONS must be at least 1")?;
    let out = serde_json::json!({
        "u": r.u, "p_value": r.p_value, "hodges_lehmann": r.hodges_lehmann, "ci": r.ci,
        "verdict": format!("{:?}", r.verdict), "ns": ns,
    });
    println!("{out}");
    Ok(())
}

#!/usr/bin/env python3
"""`make bench-judge`: what one canary judgement costs, hookline's judge against scipy, 1,000 vs 1,000.

Both sides judge the same two samples (latency-like, green +3 %, seeded) the way a metric is judged
at the end of a bake: the Mann-Whitney U test (one-sided `greater`, tie-corrected normal
approximation with continuity correction) plus the Hodges-Lehmann shift (median of the 1,000,000
pairwise differences) and its confidence interval from two order statistics of those differences.

- Rust: the library's `judge` module (functions/hookline/src/judge, compiled as is into
  benches/judge, release profile, target/bench-judge), timed in-process per call (`Instant`);
- scipy: `scipy.stats.mannwhitneyu(..., method="asymptotic")` + numpy for the shift and its interval,
  timed in-process per call (`time.perf_counter`).

Rounds are interleaved (Rust, scipy, Rust, ...) so machine load hits both alike; the table shows the
median, min and max per call over all rounds, and the p-values of both must agree to 1e-9.
Knobs: BENCH_JUDGE_ROUNDS (default 7), BENCH_JUDGE_ITERATIONS (calls per round, default 20),
BENCH_JUDGE_N (sample size per side, default 1000). Results: benches/results/judge.json.
Never fails on a number; exits 1 only when the two disagree or a side cannot run.
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy
from scipy import stats

ROOT = pathlib.Path(__file__).resolve().parents[1]
TARGET = ROOT / "target" / "bench-judge"
BIN = TARGET / "release" / "hookline-judge-bench"
ROUNDS = int(os.environ.get("BENCH_JUDGE_ROUNDS", "7"))
ITERATIONS = int(os.environ.get("BENCH_JUDGE_ITERATIONS", "20"))
N = int(os.environ.get("BENCH_JUDGE_N", "1000"))
ALPHA = 0.05


def build() -> None:
    env = {**os.environ, "CARGO_TARGET_DIR": str(TARGET)}
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", str(ROOT / "benches/judge/Cargo.toml")],
                   check=True, env=env)


def samples() -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(20261129)
    baseline = rng.lognormal(mean=np.log(0.120), sigma=0.25, size=N)
    canary = rng.lognormal(mean=np.log(0.120 * 1.03), sigma=0.25, size=N)
    return [round(float(v), 9) for v in baseline], [round(float(v), 9) for v in canary]


def scipy_judge(baseline: np.ndarray, canary: np.ndarray) -> dict:
    """The same judgement with scipy and numpy: U test, HL shift, its interval."""
    mw = stats.mannwhitneyu(canary, baseline, alternative="greater", use_continuity=True, method="asymptotic")
    diffs = np.subtract.outer(canary, baseline).ravel()
    shift = float(np.median(diffs))
    # Order statistics of the differences for a 1 - alpha interval (normal approximation of U's quantile).
    n1, n2 = len(canary), len(baseline)
    z = stats.norm.ppf(1 - ALPHA / 2)
    k = int(np.floor(n1 * n2 / 2 - z * np.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)))
    lo, hi = np.partition(diffs, [k, n1 * n2 - 1 - k])[[k, n1 * n2 - 1 - k]]
    return {"u": float(mw.statistic), "p_value": float(mw.pvalue), "hodges_lehmann": shift, "ci": [float(lo), float(hi)]}


def main() -> int:
    try:
        build()
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"bench-judge: cannot build benches/judge: {e}", file=sys.stderr)
        return 1
    baseline, canary = samples()
    b_np, c_np = np.array(baseline), np.array(canary)
    rust_ns: list[int] = []
    scipy_ns: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        bf, cf = pathlib.Path(tmp, "baseline.json"), pathlib.Path(tmp, "canary.json")
        bf.write_text(json.dumps(baseline))
        cf.write_text(json.dumps(canary))
        rust = py = None
        for _ in range(ROUNDS):
            out = subprocess.run([str(BIN), str(bf), str(cf), str(ITERATIONS)], check=True, capture_output=True, text=True)
            rust = json.loads(out.stdout)
            rust_ns += rust["ns"]
            for _ in range(ITERATIONS):
                t = time.perf_counter_ns()
                py = scipy_judge(b_np, c_np)
                scipy_ns.append(time.perf_counter_ns() - t)
    assert rust is not None and py is not None
    dp = abs(rust["p_value"] - py["p_value"])
    agree = dp <= 1e-9 and rust["u"] == py["u"] and rust["hodges_lehmann"] == py["hodges_lehmann"]

    def row(name: str, ns: list[int]) -> str:
        ms = [v / 1e6 for v in ns]
        return f"| {name:<44} | {statistics.median(ms):>9.2f} | {min(ms):>8.2f} | {max(ms):>8.2f} |"

    ratio = statistics.median(scipy_ns) / statistics.median(rust_ns)
    print(f"\nJudging cost, {N} vs {N} samples ({ROUNDS} interleaved rounds x {ITERATIONS} calls, "
          f"{platform.machine()}, {os.cpu_count()} CPUs shared)\n")
    print(f"| {'judge (U test + Hodges-Lehmann shift + CI)':<44} | median ms |   min ms |   max ms |")
    print(f"|{'-' * 46}|{'-' * 11}|{'-' * 10}|{'-' * 10}|")
    print(row("hookline (Rust, library judge module)", rust_ns))
    print(row(f"scipy {scipy.__version__} mannwhitneyu + numpy {np.__version__}", scipy_ns))
    print(f"\nscipy / hookline: {ratio:.1f}x   U {rust['u']} vs {py['u']}, "
          f"p {rust['p_value']:.12g} vs {py['p_value']:.12g} (|diff| {dp:.1e}), "
          f"HL {rust['hodges_lehmann']:.9g} vs {py['hodges_lehmann']:.9g}, "
          f"CI {rust['ci']} vs {py['ci']}")
    result = {"n": N, "rounds": ROUNDS, "iterations": ITERATIONS, "rust_ns": rust_ns, "scipy_ns": scipy_ns,
              "rust": {k: rust[k] for k in ("u", "p_value", "hodges_lehmann", "ci", "verdict")}, "scipy": py,
              "agree": agree, "machine": platform.machine(), "cpus": os.cpu_count(),
              "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (ROOT / "benches" / "results").mkdir(exist_ok=True)
    (ROOT / "benches" / "results" / "judge.json").write_text(json.dumps(result, indent=1) + "\n")
    if not agree:
        print("bench-judge: hookline and scipy disagree (U, p to 1e-9, or the shift)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

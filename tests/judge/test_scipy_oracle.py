"""Known answers for `hookline judge` from scipy (pinned in tests/requirements.txt).

Samples are generated with a fixed seed: sizes 2..500, with and without ties, shifted and not, each
direction. The built `target/debug/hookline` judges them (`make check-judge` builds it first) and must agree
with `scipy.stats.mannwhitneyu(canary, baseline, use_continuity=True, alternative=..., method=...)`:
U exactly, p-values to 1e-9 absolute and 1e-9 relative (the relative bound is what matters for tiny p),
and the Hodges-Lehmann shift exactly (`numpy.median` of all pairwise differences canary - baseline).
"""

import json
import math
import pathlib
import subprocess

import numpy as np
import pytest
from scipy import stats
from scipy.stats._mannwhitneyu import _MWU  # scipy 1.17.1's exact null distribution of U (for the CI check)

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOOKLINE = ROOT / "target" / "debug" / "hookline"
ALTERNATIVE = {"either": "two-sided", "increase": "greater", "decrease": "less"}
SEED = 20261129


def judge(tmp_path, baseline, canary, *args):
    b, c = tmp_path / "b.json", tmp_path / "c.json"
    b.write_text(json.dumps([float(v) for v in baseline]))
    c.write_text(json.dumps([float(v) for v in canary]))
    return run(["--baseline", str(b), "--canary", str(c), *args])


def run(args):
    assert HOOKLINE.exists(), f"{HOOKLINE} is missing: run `make build` (or `make check-judge`)"
    return subprocess.run([str(HOOKLINE), "judge", *args], capture_output=True, text=True, timeout=60)


def judged(tmp_path, baseline, canary, *args):
    proc = judge(tmp_path, baseline, canary, *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def assert_p(got, want, what):
    assert abs(got - want) <= 1e-9, f"{what}: p {got!r} vs scipy {want!r}"
    if want > 1e-300:
        assert abs(got - want) <= 1e-9 * want, f"{what}: p {got!r} vs scipy {want!r} (relative)"


def pairwise(canary, baseline):
    return (np.asarray(canary, dtype=float)[:, None] - np.asarray(baseline, dtype=float)[None, :]).ravel()


def expected_ci(canary, baseline, alpha, exact):
    """[D(c+1), D(nm-c)] with c the largest U value whose lower tail is <= alpha/2 (docs/judge.md)."""
    n1, n2 = len(canary), len(baseline)
    pairs = n1 * n2
    if exact:
        dist = _MWU(n1, n2)
        lower = lambda c: float(dist.cdf(np.array([c]))[0])  # noqa: E731
    else:
        _, counts = np.unique(np.concatenate([canary, baseline]), return_counts=True)
        n = n1 + n2
        tie = float(np.sum(counts.astype(float) ** 3 - counts))
        sd = math.sqrt(pairs / 12 * ((n + 1) - tie / (n * (n - 1))))
        lower = lambda c: float(stats.norm.cdf((c - pairs / 2 + 0.5) / sd)) if sd > 0 else 0.0  # noqa: E731
    if lower(0) > alpha / 2:
        return None
    best, bad = 0, (pairs - 1) // 2 + 1  # lower(best) <= alpha/2 < lower(bad), or bad is past the middle
    while bad - best > 1:
        mid = (best + bad) // 2
        best, bad = (mid, bad) if lower(mid) <= alpha / 2 else (best, mid)
    d = np.sort(pairwise(canary, baseline))
    return [float(d[best]), float(d[pairs - 1 - best])]


def expected_verdict(direction, p, rel, shift, n_b, n_c, alpha=0.05, tolerance=0.05, min_samples=10):
    if n_b < min_samples or n_c < min_samples:
        return "NoData"
    if p > alpha:
        return "Pass"
    higher = shift > 0 if rel is None else rel > tolerance
    lower = shift < 0 if rel is None else rel < -tolerance
    if direction in ("increase", "either") and higher:
        return "High"
    if direction in ("decrease", "either") and lower:
        return "Low"
    return "Pass"


def generate_cases():
    rng = np.random.default_rng(SEED)
    sizes = [(2, 2), (2, 3), (3, 2), (4, 9), (5, 5), (7, 8), (9, 9), (10, 12), (15, 11), (20, 20), (31, 25),
             (50, 50), (64, 40), (100, 100), (150, 90), (200, 200), (300, 257), (500, 500), (500, 3), (2, 500)]
    cases = []
    for n_b, n_c in sizes:
        for ties in (False, True):
            for shift in (0.0, 0.3, -0.2):
                base = rng.lognormal(mean=-1.5, sigma=0.4, size=n_b)
                canary = rng.lognormal(mean=-1.5, sigma=0.4, size=n_c) * (1 + shift)
                if ties:  # coarse metrics: CloudWatch counts and millisecond-rounded latencies
                    base, canary = np.round(base * 40) / 40, np.round(canary * 40) / 40
                cases.append((f"{n_b}x{n_c}-{'ties' if ties else 'distinct'}-shift{shift:+}", base, canary))
    # Heavily tied: integer error counts, mostly zero.
    for n in (12, 60, 240):
        cases.append((f"counts-{n}", rng.poisson(0.3, size=n).astype(float), rng.poisson(0.9, size=n).astype(float)))
    return cases


CASES = generate_cases()


@pytest.mark.parametrize("name,baseline,canary", CASES, ids=[c[0] for c in CASES])
def test_asymptotic_matches_scipy(tmp_path, name, baseline, canary):
    for direction, alternative in ALTERNATIVE.items():
        out = judged(tmp_path, baseline, canary, "--direction", direction)
        ref = stats.mannwhitneyu(canary, baseline, alternative=alternative, use_continuity=True, method="asymptotic")
        assert out["u"] == float(ref.statistic), f"{name} {direction}"
        assert_p(out["p_value"], float(ref.pvalue), f"{name} {direction}")
        shift = float(np.median(pairwise(canary, baseline)))
        assert out["hodges_lehmann"] == shift, f"{name}: HL"
        scale = abs(float(np.median(baseline)))
        rel = shift / scale if scale > 0 else (0.0 if shift == 0 else None)
        assert out["relative_effect"] == rel, f"{name}: relative effect"
        assert out["ci"] == expected_ci(canary, baseline, 0.05, exact=False), f"{name}: CI"
        assert (out["baseline_n"], out["canary_n"]) == (len(baseline), len(canary))
        assert out["verdict"] == expected_verdict(direction, out["p_value"], rel, shift, len(baseline), len(canary))


EXACT_SIZES = [(2, 2), (1, 6), (3, 3), (4, 6), (6, 6), (5, 11), (8, 8), (9, 12), (15, 15), (20, 25), (30, 30), (3, 200)]


@pytest.mark.parametrize("n_b,n_c", EXACT_SIZES, ids=[f"{b}x{c}" for b, c in EXACT_SIZES])
def test_exact_matches_scipy(tmp_path, n_b, n_c):
    rng = np.random.default_rng(SEED + n_b * 1000 + n_c)
    for shift in (0.0, 0.5):
        base = rng.normal(10, 2, size=n_b)
        canary = rng.normal(10, 2, size=n_c) + shift * 2
        for direction, alternative in ALTERNATIVE.items():
            out = judged(tmp_path, base, canary, "--direction", direction, "--exact", "--min-samples", "1")
            ref = stats.mannwhitneyu(canary, base, alternative=alternative, method="exact")
            assert out["u"] == float(ref.statistic)
            assert_p(out["p_value"], float(ref.pvalue), f"{n_b}x{n_c} {direction} exact")
            assert out["hodges_lehmann"] == float(np.median(pairwise(canary, base)))
            assert out["ci"] == expected_ci(canary, base, 0.05, exact=True)


def test_exact_is_refused_with_ties(tmp_path):
    proc = judge(tmp_path, [1, 2, 3, 4], [3, 5, 6, 7], "--exact")
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "exact test needs samples without ties" in proc.stderr


def test_exact_is_refused_for_large_samples(tmp_path):
    rng = np.random.default_rng(SEED)
    proc = judge(tmp_path, rng.normal(size=100), rng.normal(size=100), "--exact")
    assert proc.returncode == 2
    assert "limited to small samples" in proc.stderr


def test_too_few_samples_is_no_data_with_statistics(tmp_path):
    out = judged(tmp_path, [1, 2, 3], [7, 8, 9, 10, 11])
    assert out["verdict"] == "NoData"
    ref = stats.mannwhitneyu([7, 8, 9, 10, 11], [1, 2, 3], method="asymptotic")
    assert out["u"] == 15.0
    assert_p(out["p_value"], float(ref.pvalue), "3x5")
    empty = judged(tmp_path, [], [1, 2], "--min-samples", "1")
    assert empty == {"baseline_n": 0, "canary_n": 2, "u": None, "p_value": None, "hodges_lehmann": None,
                     "ci": None, "relative_effect": None, "verdict": "NoData"}


def test_forty_percent_slower_is_high(tmp_path):
    rng = np.random.default_rng(SEED)
    base = rng.lognormal(-1.5, 0.2, size=60)
    out = judged(tmp_path, base, rng.lognormal(-1.5, 0.2, size=60) * 1.4, "--direction", "increase", "--tolerance", "0.1")
    assert out["verdict"] == "High"
    assert 0.25 < out["relative_effect"] < 0.55


@pytest.mark.parametrize("text,message", [
    ("", "empty file, expected a JSON array of numbers"),
    ("  \n", "empty file, expected a JSON array of numbers"),
    ('{"samples": [1]}', "not a JSON array of finite numbers: invalid type: map"),
    ('[1,\n "2"]', 'not a JSON array of finite numbers: invalid type: string "2", expected f64 at line 2 column 4'),
    ("[1, null]", "not a JSON array of finite numbers: invalid type: null"),
    ("[1, 1e400]", "not a JSON array of finite numbers: number out of range"),
    ("[1, NaN]", "not a JSON array of finite numbers: expected value at line 1 column 5"),
    ("[1, 2", "not a JSON array of finite numbers: EOF while parsing a list"),
])
def test_bad_files_are_named(tmp_path, text, message):
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    good = tmp_path / "good.json"
    good.write_text("[1, 2, 3]")
    for args in (["--baseline", str(bad), "--canary", str(good)], ["--baseline", str(good), "--canary", str(bad)]):
        proc = run(args)
        assert proc.returncode == 2, proc
        assert proc.stdout == ""
        assert f"hookline judge: {bad}: {message}" in proc.stderr, proc.stderr


def test_unreadable_file_is_named(tmp_path):
    good = tmp_path / "good.json"
    good.write_text("[1]")
    missing = tmp_path / "missing.json"
    proc = run(["--baseline", str(good), "--canary", str(missing)])
    assert proc.returncode == 2
    assert f"hookline judge: cannot read {missing}: " in proc.stderr

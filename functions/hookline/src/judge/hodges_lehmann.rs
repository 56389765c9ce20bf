//! The Hodges–Lehmann shift of the canary against the baseline, and its confidence interval.
//!
//! - Estimate: the median of all `n₁·n₂` pairwise differences `canary[i] − baseline[j]` (for an even
//!   count, the mean of the two middle differences, like `numpy.median`). All differences are kept in
//!   one vector (8 MB for 1,000 × 1,000) and the middle ones found by selection (`select_nth_unstable`,
//!   linear time), not by sorting.
//! - Confidence interval (Bauer 1972; Hollander & Wolfe, *Nonparametric Statistical Methods*, §4.3):
//!   with `D(1) ≤ … ≤ D(n₁n₂)` the sorted differences and `c` the largest integer with
//!   `P(U ≤ c) ≤ (1 − level)/2` under the null distribution of U, `[D(c+1), D(n₁n₂ − c)]` covers the true
//!   shift with probability at least `level` (exactly `1 − 2·P(U ≤ c)` for the exact distribution).
//!   The null distribution is the one the p-value used: exact with `--exact`, otherwise the
//!   tie-corrected normal approximation with continuity correction. The interval is two-sided even
//!   when the test is one-sided. When even `c = 0` is too likely (tiny samples: 2 against 2 can
//!   never reach 95%), there is no interval (`None`).

use super::mann_whitney::NullDistribution;

/// The shift estimate and its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shift {
    /// Median of the pairwise differences canary − baseline.
    pub estimate: f64,
    /// `[low, high]` at `level`, or `None` when the samples are too small for that level.
    pub ci: Option<[f64; 2]>,
}

/// The median of a non-empty sample of finite values, as `numpy.median` computes it.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    median_in_place(&mut v)
}

fn nth(values: &mut [f64], index: usize) -> f64 {
    *values.select_nth_unstable_by(index, f64::total_cmp).1
}

fn median_in_place(values: &mut [f64]) -> f64 {
    let n = values.len();
    let upper = nth(values, n / 2);
    if n % 2 == 1 {
        return upper;
    }
    let lower = nth(values, n / 2 - 1);
    // numpy: mean of the two middle values = (lower + upper) / 2.
    (lower + upper) / 2.0
}

/// The Hodges–Lehmann shift of `canary` against `baseline` (both non-empty, finite) with its
/// interval at `level` (0 < level < 1) under `null`.
pub(crate) fn hodges_lehmann(canary: &[f64], baseline: &[f64], null: &NullDistribution, level: f64) -> Shift {
    let mut differences: Vec<f64> = Vec::with_capacity(canary.len() * baseline.len());
    for &c in canary {
        differences.extend(baseline.iter().map(|&b| c - b));
    }
    let estimate = median_in_place(&mut differences);
    let pairs = differences.len();
    let ci = lower_order(null, pairs, (1.0 - level) / 2.0)
        .map(|c| [nth(&mut differences, c), nth(&mut differences, pairs - 1 - c)]);
    Shift { estimate, ci }
}

/// The largest `c` in `0..=(pairs − 1)/2` with `P(U ≤ c) ≤ tail`, if any (binary search: the tail grows with `c`).
fn lower_order(null: &NullDistribution, pairs: usize, tail: f64) -> Option<usize> {
    let n_pairs = pairs as f64;
    let fits = |c: usize| null.lower_tail(c as f64, n_pairs) <= tail;
    if pairs == 0 || !fits(0) {
        return None;
    }
    let (mut good, mut bad) = (0usize, (pairs - 1) / 2 + 1);
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        if fits(mid) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    Some(good)
}

#[cfg(test)]
mod tests {
    use super::super::hypothesis::Method;
    use super::super::mann_whitney::null_distribution;
    use super::*;

    fn shift(canary: &[f64], baseline: &[f64], method: Method, level: f64) -> Shift {
        match null_distribution(canary, baseline, method) {
            Ok(null) => hodges_lehmann(canary, baseline, &null, level),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn median_like_numpy() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
    }

    #[test]
    fn estimate_is_median_of_pairwise_differences() {
        // By hand: canary [10, 12] − baseline [1, 2, 4] = {9, 8, 6, 11, 10, 8} → sorted 6 8 8 9 10 11 → (8+9)/2.
        assert_eq!(shift(&[10.0, 12.0], &[1.0, 2.0, 4.0], Method::Asymptotic, 0.95).estimate, 8.5);
    }

    #[test]
    fn exact_interval_uses_the_order_statistics() {
        // canary = baseline + 10 with 6 values each: differences are 10 + (i − j), i, j ∈ 0..6.
        // Exact null of U for 6 vs 6 (scipy `_MWU(6, 6).cdf`): P(U ≤ 5) = 0.0206 ≤ 0.025 < P(U ≤ 6) = 0.0325,
        // so c = 5 and the 95% interval is [D(6), D(31)] of the 36 sorted differences.
        // Sorted differences: 5 (×1), 6 (×2), 7 (×3), 8 (×4), 9 (×5), 10 (×6), … → D(6) = 7, D(31) = 13.
        let baseline: Vec<f64> = (0..6).map(f64::from).collect();
        let canary: Vec<f64> = baseline.iter().map(|b| b + 10.0).collect();
        let s = shift(&canary, &baseline, Method::Exact, 0.95);
        assert_eq!(s.estimate, 10.0);
        assert_eq!(s.ci, Some([7.0, 13.0]));
    }

    #[test]
    fn too_small_for_the_level_has_no_interval() {
        // 2 vs 2: P(U ≤ 0) = 1/6 > 0.025 → no 95% interval; at 60% (tail 0.2) c = 0 → [min, max].
        assert_eq!(shift(&[5.0, 6.0], &[1.0, 2.0], Method::Exact, 0.95).ci, None);
        assert_eq!(shift(&[5.0, 6.0], &[1.0, 2.0], Method::Exact, 0.6).ci, Some([3.0, 5.0]));
    }

    #[test]
    fn asymptotic_interval_narrows_with_more_samples() {
        let baseline: Vec<f64> = (0..200).map(|i| f64::from(i) * 0.37 % 10.0).collect();
        let canary: Vec<f64> = baseline.iter().map(|b| b + 2.0).collect();
        let s = shift(&canary, &baseline, Method::Asymptotic, 0.95);
        assert_eq!(s.estimate, 2.0);
        let Some([low, high]) = s.ci else { panic!("no interval for 200 vs 200") };
        assert!(low < 2.0 && 2.0 < high && high - low < 2.0, "[{low}, {high}]");
    }
}

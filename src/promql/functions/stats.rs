//! Numeric helpers shared by aggregations and `*_over_time` functions.
//!
//! Prometheus' results are the reference down to the last bit where we can manage it, so
//! these follow its summation and interpolation order exactly (Kahan–Babuška–Neumaier
//! compensation, NaN-first sorting, the same regression formulas).

use std::cmp::Ordering;

/// Kahan–Babuška summation step: adds `inc` to `sum` with compensation `c`; returns the new
/// (sum, c). Prometheus uses this for `sum`, `avg`, `sum_over_time` and friends.
///
/// Neumaier's variant: the compensation is taken from whichever operand is larger, and it is
/// reset once the sum overflows so that an infinite sum is not turned into NaN later.
pub fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Running arithmetic mean as Prometheus computes both the `avg` aggregation and
/// `avg_over_time`: a Kahan-compensated direct sum while it stays finite, switching to an
/// incremental mean once the sum would overflow. The direct mean is usually the more
/// accurate one; the incremental one survives inputs near `f64::MAX`
/// (prometheus/prometheus#16714).
#[derive(Clone, Copy, Debug, Default)]
pub struct Mean {
    count: f64,
    sum: f64,
    mean: f64,
    c: f64,
    incremental: bool,
}

impl Mean {
    pub fn new() -> Self {
        Mean::default()
    }

    pub fn add(&mut self, v: f64) {
        if self.count == 0.0 {
            self.count = 1.0;
            self.sum = v;
            return;
        }
        self.count += 1.0;
        let count = self.count;
        if !self.incremental {
            let (new_sum, new_c) = kahan_sum_inc(v, self.sum, self.c);
            if !new_sum.is_infinite() {
                (self.sum, self.c) = (new_sum, new_c);
                return;
            }
            self.incremental = true;
            self.mean = self.sum / (count - 1.0);
            self.c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (self.mean, self.c) = kahan_sum_inc(v / count, q * self.mean, q * self.c);
    }

    /// Number of values added so far.
    pub fn count(&self) -> f64 {
        self.count
    }

    /// The mean of the values added so far; NaN before the first.
    pub fn value(&self) -> f64 {
        if self.count == 0.0 {
            return f64::NAN;
        }
        if self.incremental {
            self.mean + self.c
        } else {
            self.sum / self.count + self.c / self.count
        }
    }
}

/// Running population variance as the `stdvar`/`stddev` aggregations compute it: plain
/// Welford updates (no Kahan compensation, unlike `stdvar_over_time`), and a group whose
/// first value is NaN or ±Inf stays NaN.
#[derive(Clone, Copy, Debug, Default)]
pub struct AggregationVariance {
    count: f64,
    mean: f64,
    m2: f64,
}

impl AggregationVariance {
    pub fn new() -> Self {
        AggregationVariance::default()
    }

    pub fn add(&mut self, v: f64) {
        if self.count == 0.0 {
            self.count = 1.0;
            self.mean = v;
            self.m2 = if v.is_finite() { 0.0 } else { f64::NAN };
            return;
        }
        self.count += 1.0;
        let delta = v - self.mean;
        self.mean += delta / self.count;
        self.m2 += delta * (v - self.mean);
    }

    /// `stdvar` of the values added so far; NaN before the first.
    pub fn variance(&self) -> f64 {
        if self.count == 0.0 {
            return f64::NAN;
        }
        self.m2 / self.count
    }

    /// `stddev` of the values added so far; NaN before the first.
    pub fn stddev(&self) -> f64 {
        self.variance().sqrt()
    }
}

/// The φ-quantile of `values` (any order) as Prometheus' `quantile` aggregation and
/// `quantile_over_time` compute it: NaN for an empty set, -Inf for q<0, +Inf for q>1.
///
/// Between two ranks the result is the weighted average of the neighbours (type 7 of
/// Hyndman & Fan). NaN values sort below everything, as in Prometheus. `values` is sorted in
/// place.
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(nan_first_cmp);

    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower_index = rank.floor().max(0.0);
    let upper_index = (n - 1.0).min(lower_index + 1.0);
    let weight = rank - rank.floor();
    // Both indices lie in [0, n-1] by construction; `get` keeps that proof local.
    let lower = values.get(lower_index as usize).copied().unwrap_or(f64::NAN);
    let upper = values.get(upper_index as usize).copied().unwrap_or(f64::NAN);
    lower * (1.0 - weight) + upper * weight
}

/// Total order used by Prometheus' `vectorByValueHeap`: NaN below every number, numbers in
/// ascending order. (Go's comparison treats -0 and +0 as equal, and so does this one.)
pub fn nan_first_cmp(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

/// Least-squares fit of `points` (ms timestamps, values) with x measured in seconds relative
/// to `intercept_time_ms`. Returns (slope per second, value at `intercept_time_ms`).
///
/// Mirrors Prometheus' `linearRegression`: Kahan-compensated sums, and a constant series is
/// answered exactly (slope 0) rather than through a 0/0, except that a constant infinite
/// series gives NaN. Callers must pass at least one point; an empty slice gives NaN.
pub fn linear_regression(points: &[(i64, f64)], intercept_time_ms: i64) -> (f64, f64) {
    let Some(&(_, init_y)) = points.first() else {
        return (f64::NAN, f64::NAN);
    };
    let mut n = 0.0;
    let (mut sum_x, mut c_x) = (0.0, 0.0);
    let (mut sum_y, mut c_y) = (0.0, 0.0);
    let (mut sum_xy, mut c_xy) = (0.0, 0.0);
    let (mut sum_x2, mut c_x2) = (0.0, 0.0);
    let mut const_y = true;
    for (i, &(t, y)) in points.iter().enumerate() {
        if const_y && i > 0 && y != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (t - intercept_time_ms) as f64 / 1e3;
        (sum_x, c_x) = kahan_sum_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_sum_inc(y, sum_y, c_y);
        (sum_xy, c_xy) = kahan_sum_inc(x * y, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_sum_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;

    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// Population variance of `values` by Welford's online algorithm with Kahan-compensated
/// running mean and sum of squares, as `stdvar_over_time` computes it. NaN when empty.
pub fn variance(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut count = 0.0;
    let (mut mean, mut c_mean) = (0.0, 0.0);
    let (mut aux, mut c_aux) = (0.0, 0.0);
    for v in values {
        count += 1.0;
        let delta = v - (mean + c_mean);
        (mean, c_mean) = kahan_sum_inc(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_sum_inc(delta * (v - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// Go's `sort.Search`: the smallest index in [0, n) for which `pred` holds, or n. Replicated
/// exactly (same probe sequence) so that a predicate that is not monotonic — possible with
/// NaN bucket counts — picks the same index as Prometheus.
pub fn go_search(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut i, mut j) = (0usize, n);
    while i < j {
        let h = i + (j - i) / 2;
        if !pred(h) {
            i = h + 1;
        } else {
            j = h;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kahan_recovers_small_terms_lost_between_huge_ones() {
        let mut sum = 0.0;
        let mut c = 0.0;
        for v in [1.0, 1e100, 1.0, -1e100] {
            (sum, c) = kahan_sum_inc(v, sum, c);
        }
        assert_eq!(sum + c, 2.0);
    }

    #[test]
    fn kahan_resets_compensation_on_overflow() {
        let (sum, c) = kahan_sum_inc(f64::MAX, f64::MAX, 0.0);
        assert_eq!(sum, f64::INFINITY);
        assert_eq!(c, 0.0);
    }

    #[test]
    fn quantile_interpolates_between_ranks() {
        // quantile_over_time cases from Prometheus' functions.test.
        let cases: [(f64, [f64; 3], f64); 5] = [
            (0.0, [0.0, 1.0, 4.0], 0.0),
            (0.5, [0.0, 1.0, 4.0], 1.0),
            (0.75, [0.0, 1.0, 4.0], 2.5),
            (0.8, [0.0, 1.0, 4.0], 2.8),
            (1.0, [4.0, 0.0, 1.0], 4.0),
        ];
        for (q, mut values, want) in cases {
            let got = quantile(q, &mut values);
            assert!((got - want).abs() < 1e-12, "q={q}: got {got}, want {want}");
        }
        assert_eq!(quantile(0.75, &mut [0.0, 1.0]), 0.75);
        assert_eq!(quantile(0.8, &mut [2.0, 0.0, 1.0]), 1.6);
    }

    #[test]
    fn quantile_special_cases() {
        assert!(quantile(0.5, &mut []).is_nan());
        assert!(quantile(f64::NAN, &mut [1.0]).is_nan());
        assert_eq!(quantile(-1.0, &mut [1.0]), f64::NEG_INFINITY);
        assert_eq!(quantile(2.0, &mut [1.0]), f64::INFINITY);
        // NaN sorts first, so the minimum is NaN and the maximum a number.
        assert!(quantile(0.0, &mut [3.0, f64::NAN, 1.0]).is_nan());
        assert_eq!(quantile(1.0, &mut [3.0, f64::NAN, 1.0]), 3.0);
        // Weight 0 times an infinite neighbour is NaN in Prometheus too.
        assert!(quantile(0.0, &mut [1.0, f64::INFINITY]).is_nan());
    }

    #[test]
    fn regression_matches_prometheus_worked_example() {
        // functions.test: testcounter_reset_middle_total 0+10x4 0+10x5 at 5m steps.
        let ys = [0.0, 10.0, 20.0, 30.0, 40.0, 0.0, 10.0, 20.0, 30.0, 40.0, 50.0];
        let points: Vec<(i64, f64)> = ys.iter().enumerate().map(|(i, &y)| (i as i64 * 300_000, y)).collect();
        let (slope, intercept) = linear_regression(&points, 0);
        assert!((slope - 0.010606060606060607).abs() < 1e-15);
        assert!((intercept - 6.818181818181818).abs() < 1e-12);
        let (_, at_end) = linear_regression(&points, 3_000_000);
        assert!((at_end - 38.63636363636364).abs() < 1e-12);
    }

    #[test]
    fn regression_of_constant_series() {
        assert_eq!(linear_regression(&[(0, 5.0), (1000, 5.0)], 0), (0.0, 5.0));
        let (slope, intercept) = linear_regression(&[(0, f64::INFINITY), (1000, f64::INFINITY)], 0);
        assert!(slope.is_nan() && intercept.is_nan());
    }

    #[test]
    fn variance_matches_prometheus() {
        // stdvar_over_time(metric[2m]) with metric 0 8 8 2 3 → 10.56.
        assert!((variance([0.0, 8.0, 8.0, 2.0, 3.0]) - 10.56).abs() < 1e-12);
        let v = 1.5990505637277868;
        assert_eq!(variance([v, v, v]), 0.0);
        assert!(variance([]).is_nan());
    }

    #[test]
    fn mean_switches_to_incremental_on_overflow() {
        let mut m = Mean::new();
        assert!(m.value().is_nan());
        for v in [1.0, 2.0, 3.0, 4.0, 5.0] {
            m.add(v);
        }
        assert_eq!((m.value(), m.count()), (3.0, 5.0));

        let big = 1e308;
        let mut m = Mean::new();
        for v in [big, big, big] {
            m.add(v);
        }
        assert_eq!(m.value(), big);

        let mut m = Mean::new();
        for v in [1.0, 1e100, 1.0, -1e100] {
            m.add(v);
        }
        assert_eq!(m.value(), 0.5);
    }

    #[test]
    fn aggregation_variance_matches_welford() {
        let mut v = AggregationVariance::new();
        assert!(v.variance().is_nan());
        for x in [0.0, 8.0, 8.0, 2.0, 3.0] {
            v.add(x);
        }
        assert!((v.variance() - 10.56).abs() < 1e-12);
        assert!((v.stddev() - 10.56f64.sqrt()).abs() < 1e-12);

        let mut first_inf = AggregationVariance::new();
        first_inf.add(f64::INFINITY);
        first_inf.add(1.0);
        assert!(first_inf.variance().is_nan());

        let mut single = AggregationVariance::new();
        single.add(5.0);
        assert_eq!(single.variance(), 0.0);
    }

    #[test]
    fn quantile_treats_nan_as_smallest() {
        // aggregators.test: quantile over {0, 1, NaN}.
        assert!((quantile(0.8, &mut [0.0, 1.0, f64::NAN]) - 0.6).abs() < 1e-12);
        assert!(quantile(0.2, &mut [0.0, 1.0, f64::NAN]).is_nan());
        assert_eq!(quantile(1.0, &mut [f64::NAN, 1.0, 0.0]), 1.0);
    }

    #[test]
    fn go_search_finds_first_true() {
        let data = [1, 3, 5, 7];
        assert_eq!(go_search(data.len(), |i| data[i] >= 5), 2);
        assert_eq!(go_search(data.len(), |i| data[i] >= 9), 4);
        assert_eq!(go_search(data.len(), |i| data[i] >= 0), 0);
        assert_eq!(go_search(0, |_| true), 0);
    }
}

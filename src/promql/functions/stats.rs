//! Numeric helpers shared by aggregations and `*_over_time` functions.

/// Kahan–Babuška summation step: adds `inc` to `sum` with compensation `c`; returns the new
/// (sum, c). Prometheus uses this for `sum`, `avg`, `sum_over_time` and friends.
pub fn kahan_sum_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let _ = (inc, sum, c);
    (f64::NAN, 0.0)
}

/// The φ-quantile of `values` (any order) as Prometheus' `quantile` aggregation and
/// `quantile_over_time` compute it: NaN for an empty set, -Inf for q<0, +Inf for q>1.
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    let _ = (q, values);
    f64::NAN
}

//! Classic (bucket-series) histogram functions.

/// One `le` bucket of a classic histogram: upper bound and cumulative count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    pub upper_bound: f64,
    pub count: f64,
}

/// What `bucket_quantile` noticed, for Prometheus' annotations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuantileNotes {
    /// Counts had to be made monotonic (`histogram_quantile` info annotation).
    pub forced_monotonicity: bool,
}

/// `histogram_quantile(q, …)` over the buckets of one histogram (any order; sorted inside).
/// Follows Prometheus' `bucketQuantile`: NaN for q outside [0,1] (±Inf for q<0 / q>1),
/// NaN without a +Inf bucket, linear interpolation inside the bucket.
pub fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> (f64, QuantileNotes) {
    let _ = (q, buckets);
    (f64::NAN, QuantileNotes::default())
}

/// `histogram_fraction(lower, upper, …)` over classic buckets.
pub fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    let _ = (lower, upper, buckets);
    f64::NAN
}

//! Classic (bucket-series) histogram functions.
//!
//! A classic histogram reaches us as loose `le` buckets with cumulative counts, possibly
//! unsorted, with duplicate bounds (`le="0.2"` and `le="2e-1"`), and with counts that are not
//! monotonic (recording rules racing scrapes). Prometheus repairs all of that before
//! interpolating; we repair it the same way so the answers agree.

use super::stats::go_search;

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

/// Everything `bucket_quantile` noticed while repairing the buckets, with the details that
/// Prometheus' forced-monotonicity annotation carries.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantileDetails {
    /// Counts had to be made monotonic (`histogram_quantile` info annotation).
    pub forced_monotonicity: bool,
    /// Tiny differences between neighbouring counts (relative 1e-12) were ironed out
    /// silently, as floating point noise.
    pub fixed_precision: bool,
    /// Lowest upper bound whose count was raised; +Inf when none was.
    pub min_bucket: f64,
    /// Highest upper bound whose count was raised; -Inf when none was.
    pub max_bucket: f64,
    /// Largest amount by which a count was raised; 0 when none was.
    pub max_diff: f64,
}

impl Default for QuantileDetails {
    fn default() -> Self {
        QuantileDetails {
            forced_monotonicity: false,
            fixed_precision: false,
            min_bucket: f64::INFINITY,
            max_bucket: f64::NEG_INFINITY,
            max_diff: 0.0,
        }
    }
}

/// Relative difference under which neighbouring bucket counts count as equal (Prometheus'
/// `smallDeltaTolerance`): such deltas come from float error in sharded sums, not data.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// `histogram_quantile(q, …)` over the buckets of one histogram (any order; sorted inside).
/// Follows Prometheus' `bucketQuantile`: -Inf for q<0, +Inf for q>1, NaN for a NaN q,
/// NaN without a +Inf bucket, linear interpolation inside the bucket.
pub fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> (f64, QuantileNotes) {
    let (value, details) = bucket_quantile_with_details(q, buckets);
    (
        value,
        QuantileNotes {
            forced_monotonicity: details.forced_monotonicity,
        },
    )
}

/// [`bucket_quantile`] with the full repair report, for the annotation text
/// (`NewHistogramQuantileForcedMonotonicityInfo` names the bucket range and largest fix).
///
/// Special cases, in Prometheus' order: NaN q → NaN; q<0 → -Inf; q>1 → +Inf; highest bound
/// not +Inf → NaN; fewer than two distinct bounds → NaN; no observations → NaN. The lowest
/// bucket's lower bound is 0 when its upper bound is positive; when it is ≤ 0 and the rank
/// falls into it, its upper bound is the answer. A rank in the +Inf bucket answers the
/// second-highest bound.
pub fn bucket_quantile_with_details(q: f64, buckets: &mut Vec<Bucket>) -> (f64, QuantileDetails) {
    let mut details = QuantileDetails::default();
    if q.is_nan() {
        return (f64::NAN, details);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, details);
    }
    if q > 1.0 {
        return (f64::INFINITY, details);
    }
    if !sort_and_check_inf_bucket(buckets) {
        return (f64::NAN, details);
    }
    coalesce_buckets(buckets);
    details = ensure_monotonic(buckets, SMALL_DELTA_TOLERANCE);

    let n = buckets.len();
    if n < 2 {
        return (f64::NAN, details);
    }
    let observations = buckets[n - 1].count;
    if observations == 0.0 {
        return (f64::NAN, details);
    }
    let mut rank = q * observations;
    let b = go_search(n - 1, |i| buckets[i].count >= rank);

    let value = if b == n - 1 {
        buckets[n - 2].upper_bound
    } else if b == 0 && buckets[0].upper_bound <= 0.0 {
        buckets[0].upper_bound
    } else {
        let bucket_end = buckets[b].upper_bound;
        let mut bucket_start = 0.0;
        let mut count = buckets[b].count;
        if b > 0 {
            bucket_start = buckets[b - 1].upper_bound;
            count -= buckets[b - 1].count;
            rank -= buckets[b - 1].count;
        }
        bucket_start + (bucket_end - bucket_start) * (rank / count)
    };
    (value, details)
}

/// `histogram_fraction(lower, upper, …)` over classic buckets.
///
/// Prometheus 3's `BucketFraction`: the share of observations in [lower, upper], linearly
/// interpolated inside finite buckets. The lowest bucket starts at 0 if its upper bound is
/// positive, else at -Inf; nothing is interpolated inside a bucket with an infinite bound
/// (the +Inf bucket contributes only when `upper` is +Inf). NaN without a +Inf bucket, with
/// no observations, or with a NaN bound; 0 when `lower >= upper`.
pub fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    if !sort_and_check_inf_bucket(buckets) {
        return f64::NAN;
    }
    coalesce_buckets(buckets);

    let count = buckets.last().map_or(0.0, |b| b.count);
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }

    let mut rank = 0.0;
    let mut lower_rank = 0.0;
    let mut upper_rank = 0.0;
    let mut lower_set = false;
    let mut upper_set = false;
    let mut lower_bound = if buckets[0].upper_bound <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };

    for (i, b) in buckets.iter().enumerate() {
        if i > 0 {
            lower_bound = buckets[i - 1].upper_bound;
        }
        let upper_bound = b.upper_bound;
        let interpolate = |v: f64| {
            // Inside (-Inf, x] there is nothing to interpolate against: count all of it, which
            // the final subtraction turns into "none of it", like the +Inf bucket.
            if lower_bound == f64::NEG_INFINITY {
                return b.count;
            }
            rank + (b.count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
        };

        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

/// Sorts by upper bound and reports whether the highest bound is +Inf (false for an empty
/// set). NaN bounds sort last, so a histogram with one never qualifies.
fn sort_and_check_inf_bucket(buckets: &mut [Bucket]) -> bool {
    buckets.sort_by(|a, b| a.upper_bound.total_cmp(&b.upper_bound));
    buckets.last().is_some_and(|b| b.upper_bound == f64::INFINITY)
}

/// Merges buckets with equal upper bounds (sorted input) by adding their counts, as happens
/// when one histogram was exposed with `le="0.2"` and `le="2e-1"`.
fn coalesce_buckets(buckets: &mut Vec<Bucket>) {
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.upper_bound == b.upper_bound => last.count += b.count,
            _ => merged.push(*b),
        }
    }
    *buckets = merged;
}

/// Makes counts non-decreasing: first treats numerically insignificant differences as
/// equal, then lifts any count below its predecessor to the predecessor's value (the
/// "envelope"), recording where and by how much that was needed.
fn ensure_monotonic(buckets: &mut [Bucket], tolerance: f64) -> QuantileDetails {
    let mut details = QuantileDetails::default();
    let Some(first) = buckets.first() else {
        return details;
    };
    let mut prev = first.count;
    for bucket in buckets.iter_mut().skip(1) {
        let curr = bucket.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, tolerance) {
            bucket.count = prev;
            details.fixed_precision = true;
            continue;
        }
        if curr < prev {
            bucket.count = prev;
            details.forced_monotonicity = true;
            details.min_bucket = details.min_bucket.min(bucket.upper_bound);
            details.max_bucket = details.max_bucket.max(bucket.upper_bound);
            details.max_diff = details.max_diff.max(prev - curr);
            continue;
        }
        prev = curr;
    }
    details
}

/// Prometheus' `almost.Equal`: equal within `epsilon` relative to the magnitudes, with NaN
/// equal to NaN and a staleness marker equal only to another staleness marker.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;
    let a_stale = a.to_bits() == STALE_NAN_BITS;
    let b_stale = b.to_bits() == STALE_NAN_BITS;
    if a_stale || b_stale {
        return a_stale && b_stale;
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(pairs: &[(f64, f64)]) -> Vec<Bucket> {
        pairs
            .iter()
            .map(|&(upper_bound, count)| Bucket { upper_bound, count })
            .collect()
    }

    fn close(got: f64, want: f64) -> bool {
        if want.is_nan() {
            return got.is_nan();
        }
        if want == 0.0 || want.is_infinite() {
            return got == want;
        }
        ((got - want) / want).abs() < 1e-9
    }

    fn quantile_of(q: f64, pairs: &[(f64, f64)]) -> f64 {
        bucket_quantile(q, &mut buckets(pairs)).0
    }

    const INF: f64 = f64::INFINITY;

    // testhistogram at 50m in histograms.test (counts ×10).
    const POSITIVE: [(f64, f64); 4] = [(0.1, 50.0), (0.2, 70.0), (1.0, 110.0), (INF, 120.0)];
    const NEGATIVE: [(f64, f64); 4] = [(-0.2, 10.0), (-0.1, 20.0), (0.3, 20.0), (INF, 30.0)];

    #[test]
    fn quantiles_of_testhistogram() {
        let cases = [
            (0.0, 0.0, -0.2),
            (1.0, 1.0, 0.3),
            (0.2, 0.048, -0.2),
            (0.5, 0.15, -0.15),
            (0.8, 0.72, 0.3),
        ];
        for (q, want_pos, want_neg) in cases {
            assert!(close(quantile_of(q, &POSITIVE), want_pos), "positive q={q}");
            assert!(close(quantile_of(q, &NEGATIVE), want_neg), "negative q={q}");
        }
    }

    #[test]
    fn quantiles_of_testhistogram3_in_any_order() {
        let positive = [(INF, 110.0), (0.0, 0.0), (1.0, 110.0), (0.1, 50.0), (0.2, 70.0)];
        let negative = [(-0.25, 0.0), (-0.2, 10.0), (-0.1, 20.0), (0.3, 20.0), (INF, 20.0)];
        let cases = [
            (0.0, 0.0, -0.25),
            (0.25, 0.055, -0.225),
            (0.5, 0.125, -0.2),
            (0.75, 0.45, -0.15),
            (1.0, 1.0, -0.1),
        ];
        for (q, want_pos, want_neg) in cases {
            assert!(
                close(quantile_of(q, &positive), want_pos),
                "positive q={q}: {}",
                quantile_of(q, &positive)
            );
            assert!(
                close(quantile_of(q, &negative), want_neg),
                "negative q={q}: {}",
                quantile_of(q, &negative)
            );
        }
    }

    #[test]
    fn quantile_in_middle_of_buckets() {
        let h = [(0.0, 0.0), (2.0, 1.0), (4.0, 2.0), (6.0, 3.0), (INF, 3.0)];
        assert!(close(quantile_of(1.0 / 6.0, &h), 1.0));
        assert!(close(quantile_of(0.5, &h), 3.0));
        assert!(close(quantile_of(5.0 / 6.0, &h), 5.0));
    }

    #[test]
    fn quantile_special_values() {
        assert_eq!(quantile_of(-0.1, &POSITIVE), f64::NEG_INFINITY);
        assert_eq!(quantile_of(1.01, &POSITIVE), f64::INFINITY);
        assert!(quantile_of(f64::NAN, &POSITIVE).is_nan());
        assert!(quantile_of(0.5, &[(0.1, 1.0), (1.0, 2.0)]).is_nan(), "no +Inf bucket");
        assert!(quantile_of(0.5, &[(INF, 5.0)]).is_nan(), "single bucket");
        assert!(quantile_of(0.5, &[]).is_nan(), "no buckets");
        assert!(
            quantile_of(0.2, &[(0.1, 0.0), (0.2, 0.0), (INF, 0.0)]).is_nan(),
            "no observations"
        );
        // -Inf/+Inf wins over a missing +Inf bucket: q is checked first.
        assert_eq!(quantile_of(-1.0, &[(1.0, 1.0)]), f64::NEG_INFINITY);
    }

    #[test]
    fn duplicate_bounds_are_merged() {
        // mixed_bucket{instance="ins1"}: rate over 10m of 0.1:1, 0.2:1, 2e-1:1, 2.0e-1:1, +Inf:4.
        let h = [(0.1, 1.0), (0.2, 1.0), (0.2, 1.0), (0.2, 1.0), (INF, 4.0)];
        assert!(close(quantile_of(0.5, &h), 0.15));
        assert!(close(quantile_of(0.75, &h), 0.2));
        assert!(close(quantile_of(1.0, &h), 0.2));
        // ins2: +inf and +Inf merged into one bucket → fewer than two buckets.
        assert!(quantile_of(0.5, &[(INF, 0.0), (INF, 0.0)]).is_nan());
    }

    #[test]
    fn non_monotonic_counts_are_forced_and_reported() {
        let h = [
            (0.1, 20.0),
            (1.0, 10.0),
            (10.0, 50.0),
            (100.0, 40.0),
            (1000.0, 90.0),
            (INF, 80.0),
        ];
        let mut b = buckets(&h);
        let (v, notes) = bucket_quantile(0.01, &mut b);
        assert!(close(v, 0.0045), "{v}");
        assert!(notes.forced_monotonicity);
        assert!(close(quantile_of(0.5, &h), 8.5));
        assert!(close(quantile_of(0.99, &h), 979.75));

        let (_, details) = bucket_quantile_with_details(0.5, &mut buckets(&h));
        assert_eq!(details.min_bucket, 1.0);
        assert_eq!(details.max_bucket, INF);
        assert_eq!(details.max_diff, 10.0);

        let (_, clean) = bucket_quantile(0.5, &mut buckets(&POSITIVE));
        assert!(!clean.forced_monotonicity);
    }

    #[test]
    fn float_noise_is_ignored_silently() {
        let h = [(1.0, 10.0), (2.0, 10.0 * (1.0 - 1e-14)), (INF, 10.0)];
        let (v, details) = bucket_quantile_with_details(0.5, &mut buckets(&h));
        assert!(!details.forced_monotonicity);
        assert!(details.fixed_precision);
        assert!(close(v, 0.5));
    }

    #[test]
    fn aggregated_rates() {
        // sum(rate(request_duration_seconds_bucket[10m])) by (le) at 50m, per second.
        let s = 1.0 / 60.0;
        let h = [(0.1, 10.0 * s), (0.2, 19.0 * s), (INF, 25.0 * s)];
        assert!(close(quantile_of(0.3, &h), 0.075));
        assert!(close(quantile_of(0.5, &h), 0.1277777777777778));
    }

    fn fraction_of(lower: f64, upper: f64, pairs: &[(f64, f64)]) -> f64 {
        bucket_fraction(lower, upper, &mut buckets(pairs))
    }

    const POS: [(f64, f64); 4] = [(1.0, 1.0), (2.0, 3.0), (3.0, 6.0), (INF, 100.0)];
    const NEG: [(f64, f64); 4] = [(-3.0, 10.0), (-2.0, 12.0), (-1.0, 15.0), (INF, 100.0)];

    #[test]
    fn fractions_from_histograms_test() {
        type Case<'a> = (f64, f64, &'a [(f64, f64)], f64);
        let cases: [Case; 14] = [
            (0.0, 1.5, &POS, 0.02),
            (-4.0, -2.0, &NEG, 0.02),
            (f64::NEG_INFINITY, -1.5, &NEG, 0.135),
            (f64::NEG_INFINITY, INF, &POS, 1.0),
            (f64::NEG_INFINITY, INF, &NEG, 1.0),
            (4.0, 5.0, &POS, 0.0),
            (0.0, 1.0, &NEG, 0.0),
            (2.0, 5.0, &POS, 0.03),
            (400.0, INF, &POS, 0.94),
            (2.0, 2.0, &POS, 0.0),
            (3.0, 2.0, &POS, 0.0),
            (2.0, 3.5, &POS, 0.03),
            (0.5, 2.0, &POS, 0.025),
            (1.0, 3.0, &POS, 0.05),
        ];
        for (lower, upper, h, want) in cases {
            let got = fraction_of(lower, upper, h);
            assert!(close(got, want), "fraction({lower}, {upper}) = {got}, want {want}");
        }
    }

    #[test]
    fn fraction_edge_cases() {
        assert!(close(fraction_of(0.0, 1.0, &[(INF, 100.0)]), 0.0));
        assert!(fraction_of(0.0, 5.0, &[(1.0, 0.0), (2.0, 0.0), (INF, 0.0)]).is_nan());
        assert!(close(
            fraction_of(0.1, 0.75, &[(0.5, 2.5), (1.0, 7.5), (INF, 100.0)]),
            0.045
        ));
        let crosses_zero = [(-2.0, 5.0), (-1.0, 10.0), (0.0, 15.0), (1.0, 20.0), (INF, 100.0)];
        assert!(close(fraction_of(-1.0, 1.0, &crosses_zero), 0.1));
        assert!(fraction_of(f64::NAN, 1.0, &[(1.0, 1.0), (INF, 100.0)]).is_nan());
        assert!(fraction_of(0.0, f64::NAN, &[(1.0, 1.0), (INF, 100.0)]).is_nan());
        let small = [(1.0, 1.0), (2.0, 3.0), (INF, 10.0)];
        assert!(close(fraction_of(-10.0, -5.0, &small), 0.0));
        assert!(close(fraction_of(5.0, 10.0, &small), 0.0));
        assert!(fraction_of(0.0, 1.0, &[(1.0, 1.0)]).is_nan(), "no +Inf bucket");
        assert!(fraction_of(0.0, 1.0, &[]).is_nan());
        // testhistogram2 at 50m: 0:0, 2:10, 4:20, 6:30, +Inf:30.
        let h2 = [(0.0, 0.0), (2.0, 10.0), (4.0, 20.0), (6.0, 30.0), (INF, 30.0)];
        assert!(close(fraction_of(0.0, 4.0, &h2), 2.0 / 3.0));
        assert!(close(fraction_of(0.0, 6.0, &h2), 1.0));
        assert!(close(fraction_of(0.0, 3.5, &h2), 0.5833333333333334));
        // testhistogram3 at 50m.
        let positive = [(0.0, 0.0), (0.1, 50.0), (0.2, 70.0), (1.0, 110.0), (INF, 110.0)];
        let negative = [(-0.25, 0.0), (-0.2, 10.0), (-0.1, 20.0), (0.3, 20.0), (INF, 20.0)];
        assert!(close(fraction_of(0.0, 0.2, &positive), 0.6363636363636364));
        assert!(close(fraction_of(0.0, 0.2, &negative), 0.0));
    }

    #[test]
    fn almost_equal_rules() {
        assert!(almost_equal(f64::NAN, f64::NAN, 1e-12));
        assert!(!almost_equal(f64::from_bits(0x7ff0_0000_0000_0002), f64::NAN, 1e-12));
        assert!(almost_equal(1.0, 1.0 + 1e-14, 1e-12));
        assert!(!almost_equal(1.0, 1.0 + 1e-10, 1e-12));
        assert!(!almost_equal(0.0, 1e-300, 1e-12));
    }
}

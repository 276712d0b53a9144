//! The `*_over_time` aggregations and `changes`/`resets`: one value from all float points
//! of a window, with Prometheus' NaN and overflow behaviour.

use super::start_time;
use super::stats::{Mean, kahan_sum_inc, quantile};

/// Number of times the value changed; NaN followed by NaN is no change.
pub(super) fn changes(points: &[(i64, f64)]) -> f64 {
    let count = points
        .windows(2)
        .filter(|pair| {
            let (prev, curr) = (pair[0].1, pair[1].1);
            curr != prev && !(curr.is_nan() && prev.is_nan())
        })
        .count();
    count as f64
}

/// Number of counter resets: decreases between consecutive points.
pub(super) fn resets(points: &[(i64, f64)], start_timestamps: &[i64]) -> f64 {
    let mut count = 0;
    for i in 1..points.len() {
        let (Some(&(prev_t, prev_v)), Some(&(t, v))) = (points.get(i - 1), points.get(i)) else {
            continue;
        };
        let (prev_st, st) = (
            start_time::at(start_timestamps, i - 1),
            start_time::at(start_timestamps, i),
        );
        if v < prev_v || start_time::is_reset(prev_st, prev_t, st, t) {
            count += 1;
        }
    }
    count as f64
}

/// Kahan-compensated sum; an infinite sum is returned as is (adding the compensation could
/// only turn it into NaN).
pub(super) fn sum_over_time(points: &[(i64, f64)]) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for &(_, v) in points {
        (sum, c) = kahan_sum_inc(v, sum, c);
    }
    if sum.is_infinite() { sum } else { sum + c }
}

/// Same running mean as the `avg` aggregation (see [`Mean`]).
pub(super) fn avg_over_time(points: &[(i64, f64)]) -> f64 {
    let mut mean = Mean::new();
    for &(_, v) in points {
        mean.add(v);
    }
    mean.value()
}

/// The point chosen by `better(current, best)` scanning left to right, as (timestamp,
/// value). A NaN best is replaced by whatever comes next, so NaN wins only when every value
/// is NaN. With `<=`/`>=` ties go to the latest point (what `ts_of_*` report).
pub(super) fn extreme_over_time(points: &[(i64, f64)], better: impl Fn(f64, f64) -> bool) -> (i64, f64) {
    let Some(&(mut best_t, mut best)) = points.first() else {
        return (0, f64::NAN);
    };
    for &(t, v) in points {
        if better(v, best) || best.is_nan() {
            best = v;
            best_t = t;
        }
    }
    (best_t, best)
}

/// Median absolute deviation from the median. Any NaN makes it NaN: the median, and so the
/// deviation, is undefined then.
pub(super) fn mad_over_time(points: &[(i64, f64)]) -> f64 {
    if points.iter().any(|p| p.1.is_nan()) {
        return f64::NAN;
    }
    let mut values: Vec<f64> = points.iter().map(|p| p.1).collect();
    let median = quantile(0.5, &mut values);
    for v in values.iter_mut() {
        *v = (*v - median).abs();
    }
    quantile(0.5, &mut values)
}

#[cfg(test)]
mod tests {
    use super::super::range::test_support::{at, close, load, seq, window};
    use super::super::range::{RangeWindow, call};

    const M: i64 = 60_000;
    const NAN: f64 = f64::NAN;
    const INF: f64 = f64::INFINITY;
    /// Spelled as in functions.test, where it is chosen so that two of them overflow.
    #[allow(clippy::excessive_precision)]
    const BIG: f64 = 9.988465674311579e307;

    #[test]
    fn resets_and_changes_from_functions_test() {
        let foo = load(5 * M, &[1.0, 2.0, 3.0, 0.0, 1.0, 0.0, 0.0, 1.0, 2.0, 0.0]);
        let bar = load(5 * M, &[1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let biz = load(5 * M, &[0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!(call("resets", window(&foo, 50 * M, 5 * M), &[]), Ok(None));
        let resets = [
            (10, [0.0, 0.0, 0.0]),
            (20, [1.0, 0.0, 0.0]),
            (30, [1.0, 0.0, 0.0]),
            (32, [2.0, 1.0, 0.0]),
            (50, [3.0, 1.0, 0.0]),
        ];
        for (minutes, want) in resets {
            for (series, want) in [&foo, &bar, &biz].into_iter().zip(want) {
                assert_eq!(
                    at("resets", series, 50 * M, minutes * M, &[]),
                    want,
                    "resets[{minutes}m]"
                );
            }
        }
        let changes = [
            (6, [0.0, 0.0, 0.0]),
            (20, [2.0, 2.0, 0.0]),
            (30, [3.0, 4.0, 0.0]),
            (50, [7.0, 8.0, 1.0]),
        ];
        for (minutes, want) in changes {
            for (series, want) in [&foo, &bar, &biz].into_iter().zip(want) {
                assert_eq!(
                    at("changes", series, 50 * M, minutes * M, &[]),
                    want,
                    "changes[{minutes}m]"
                );
            }
        }
        let all_nan = load(5 * M, &[NAN, NAN, NAN]);
        let some_nan = load(5 * M, &[0.0, NAN, 0.0]);
        assert_eq!(at("changes", &all_nan, 15 * M, 20 * M, &[]), 0.0);
        assert_eq!(at("changes", &some_nan, 15 * M, 20 * M, &[]), 2.0);
    }

    #[test]
    fn avg_and_sum_with_infinities_and_nan() {
        let cases: [(&[f64], f64); 13] = [
            (&[1.0, 2.0, 3.0, 4.0, 5.0], 3.0),
            (&[1.0, 2.0, 3.0, 4.0, INF], INF),
            (&[1.0, 2.0, 3.0, 4.0, -INF], -INF),
            (&[1.0, 2.0, 3.0, INF, -INF], NAN),
            (&[INF, 0.0, INF], INF),
            (&[INF, INF, INF, -INF], NAN),
            (&[1.0, 2.0, 3.0, -INF, -INF], -INF),
            (&[-INF, 0.0, -INF], -INF),
            (&[-INF, -INF, -INF, INF], NAN),
            (&[1.0, 2.0, -INF, -INF, INF], NAN),
            (&[BIG, BIG], BIG),
            (&[-BIG, -BIG, -BIG], -BIG),
            (&[-BIG, BIG], 0.0),
        ];
        for (values, want) in cases {
            let s = load(10_000, values);
            let got = at("avg_over_time", &s, 55_000, M, &[]);
            assert!(close(got, want), "avg_over_time({values:?}) = {got}, want {want}");
        }
        let huge = load(10_000, &[BIG, BIG]);
        assert_eq!(at("sum_over_time", &huge, 55_000, M, &[]), INF);

        let with_nan = load(10_000, &[1.0, 2.0, 3.0, NAN, NAN]);
        assert_eq!(at("avg_over_time", &with_nan, 20_000, M, &[]), 2.0);
        assert!(at("avg_over_time", &with_nan, 30_000, M, &[]).is_nan());
        assert!(at("sum_over_time", &with_nan, 55_000, M, &[]).is_nan());
        assert_eq!(call("avg_over_time", window(&with_nan, 55_000, 10_000), &[]), Ok(None));
        assert!(at("avg_over_time", &with_nan, 55_000, 20_000, &[]).is_nan());
    }

    #[test]
    fn kahan_keeps_small_values_between_huge_ones() {
        let s = load(10_000, &[1.0, 1e100, 1.0, -1e100]);
        assert_eq!(at("sum_over_time", &s, M, 2 * M, &[]), 2.0);
        assert_eq!(at("avg_over_time", &s, M, 2 * M, &[]), 0.5);
        let foo = load(10_000, &seq(52.0, 0.0, 100));
        for range_s in [100, 110, 120, 130] {
            assert_eq!(at("avg_over_time", &foo, 10 * M, range_s * 1000, &[]), 52.0);
        }
    }

    #[test]
    fn avg_of_extreme_magnitudes_from_functions_test() {
        let cases: [(&[f64], f64); 7] = [
            (&[1e10, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6], 1.6666666666666675e9),
            (
                &[
                    5.30921651659898,
                    0.961118537914768,
                    1.62091361305318,
                    0.865089463758091,
                    0.323055185914577,
                    0.951811357687154,
                ],
                1.67186744582113,
            ),
            (&[1.78264e50, 0.76342771, 1.9592258, 7.69805412, 458.90154], 3.56528e49),
            (
                &[1.78264e50, 0.76342771, 1.9592258, 2.258e220, 7.69805412, 458.90154],
                3.76333333333333e219,
            ),
            (
                &[
                    -1.78264e215,
                    0.76342771,
                    1.9592258,
                    2.258e220,
                    7.69805412,
                    1.78264e215,
                    -458.90154,
                ],
                3.225714285714286e219,
            ),
            (
                &[
                    -1.78264e219,
                    0.76342771,
                    1.9592258,
                    2.3757689e217,
                    -2.3757689e217,
                    2.258e220,
                    7.69805412,
                    1.78264e219,
                    -458.90154,
                ],
                2.5088888888888888e219,
            ),
            (
                &[
                    -2.258e220,
                    -1.78264e219,
                    0.76342771,
                    1.9592258,
                    2.3757689e217,
                    -2.3757689e217,
                    2.258e220,
                    7.69805412,
                    1.78264e219,
                    -458.90154,
                ],
                0.0,
            ),
        ];
        for (values, want) in cases {
            let s = load(5_000, values);
            let got = at("avg_over_time", &s, 55_000, M, &[]);
            let ok = if want == 0.0 {
                got == 0.0
            } else {
                ((got - want) / want).abs() < 1e-12
            };
            assert!(ok, "avg_over_time({values:?}) = {got}, want {want}");
        }
    }

    #[test]
    fn dense_samples_respect_left_open_window() {
        let s = load(1, &seq(1.0, 0.0, 4000));
        for range_ms in [1000, 1001, 1002, 1003, 2000, 2003, 3000, 3003] {
            assert_eq!(at("sum_over_time", &s, 4000, range_ms, &[]), range_ms as f64);
            assert_eq!(at("count_over_time", &s, 4000, range_ms, &[]), range_ms as f64);
        }
    }

    #[test]
    fn variance_family() {
        let s = load(10_000, &[0.0, 8.0, 8.0, 2.0, 3.0]);
        assert!(close(at("stdvar_over_time", &s, M, 2 * M, &[]), 10.56));
        assert!((at("stddev_over_time", &s, M, 2 * M, &[]) - 3.249615).abs() < 1e-6);
        let v = 1.5990505637277868;
        let flat = load(10_000, &[v, v, v]);
        assert_eq!(at("stdvar_over_time", &flat, 55_000, M, &[]), 0.0);
        assert_eq!(at("stddev_over_time", &flat, 55_000, M, &[]), 0.0);
    }

    #[test]
    fn mad_over_time_cases() {
        let s = load(10_000, &[4.0, 6.0, 2.0, 1.0, 999.0, 1.0, 2.0]);
        assert_eq!(at("mad_over_time", &s, 70_000, 70_000, &[]), 1.0);
        let odd = load(10_000, &[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(at("mad_over_time", &odd, 40_000, 50_000, &[]), 1.0);
        let equal = load(10_000, &[7.0; 5]);
        assert_eq!(at("mad_over_time", &equal, 40_000, 50_000, &[]), 0.0);
        let single = load(10_000, &[5.0]);
        assert_eq!(at("mad_over_time", &single, 0, 10_000, &[]), 0.0);
        let nan = load(10_000, &[1.0, 2.0, NAN, 4.0]);
        assert!(at("mad_over_time", &nan, 30_000, 40_000, &[]).is_nan());
    }

    #[test]
    fn timestamps_of_extremes_and_ends() {
        let s = load(10_053, &[1.0, 2.0, 3.0, 0.0, 5.0, 6.0, 2.0, 1.0, 4.0]);
        assert_eq!(at("ts_of_min_over_time", &s, 90_000, 90_000, &[]), 30.159);
        assert_eq!(at("ts_of_max_over_time", &s, 90_000, 90_000, &[]), 50.265);
        let head = load(10_053, &[1.0, 2.0, 3.0]);
        assert_eq!(at("ts_of_last_over_time", &head, 90_000, 90_000, &[]), 20.106);
        assert_eq!(at("ts_of_last_over_time", &head, 95_000, 90_000, &[]), 20.106);
        let tail: Vec<(i64, f64)> = load(10_053, &[0.0, 0.0, 1.0, 2.0, 3.0]).into_iter().skip(2).collect();
        assert_eq!(at("ts_of_first_over_time", &tail, 90_000, 90_000, &[]), 20.106);
        assert_eq!(
            call("ts_of_first_over_time", window(&tail, 15_000, 90_000), &[]),
            Ok(None)
        );
        // Ties: the latest point wins for ts_of_*, the value is the same anyway.
        let ties = load(1000, &[3.0, 1.0, 3.0, 1.0]);
        assert_eq!(at("ts_of_max_over_time", &ties, 3000, 5000, &[]), 2.0);
        assert_eq!(at("ts_of_min_over_time", &ties, 3000, 5000, &[]), 3.0);
    }

    #[test]
    fn min_max_first_last_with_nan() {
        // data{type=…} at 1m over [2m]: numbers, some_nan, some_nan2, some_nan3, only_nan.
        let series: [[f64; 3]; 5] = [
            [2.0, 0.0, 3.0],
            [2.0, 0.0, NAN],
            [2.0, NAN, 1.0],
            [NAN, 0.0, 1.0],
            [NAN, NAN, NAN],
        ];
        let min = [0.0, 0.0, 1.0, 0.0, NAN];
        let max = [3.0, 2.0, 2.0, 1.0, NAN];
        let last = [3.0, NAN, 1.0, 1.0, NAN];
        let first = [2.0, 2.0, 2.0, NAN, NAN];
        for (i, values) in series.iter().enumerate() {
            let s = load(10_000, values);
            assert!(close(at("min_over_time", &s, M, 2 * M, &[]), min[i]), "min {values:?}");
            assert!(close(at("max_over_time", &s, M, 2 * M, &[]), max[i]), "max {values:?}");
            assert!(
                close(at("last_over_time", &s, M, 2 * M, &[]), last[i]),
                "last {values:?}"
            );
            assert!(
                close(at("first_over_time", &s, M, 2 * M, &[]), first[i]),
                "first {values:?}"
            );
            assert_eq!(at("count_over_time", &s, M, 2 * M, &[]), 3.0);
            assert_eq!(at("present_over_time", &s, M, 2 * M, &[]), 1.0);
        }
        let sparse = [(10_000, 5.0), (20_000, 2.0), (40_000, 4.0)];
        assert_eq!(at("min_over_time", &sparse, M, 2 * M, &[]), 2.0);
        assert_eq!(at("max_over_time", &sparse, M, 2 * M, &[]), 5.0);
    }

    #[test]
    fn quantile_over_time_cases() {
        let two = load(10_000, &[0.0, 1.0]);
        let three = load(10_000, &[0.0, 1.0, 2.0]);
        let uneven = load(10_000, &[0.0, 1.0, 4.0]);
        let cases = [
            (0.0, [0.0, 0.0, 0.0]),
            (0.5, [0.5, 1.0, 1.0]),
            (0.75, [0.75, 1.5, 2.5]),
            (0.8, [0.8, 1.6, 2.8]),
            (1.0, [1.0, 2.0, 4.0]),
            (-1.0, [-INF, -INF, -INF]),
            (2.0, [INF, INF, INF]),
        ];
        for (q, want) in cases {
            for (series, want) in [&two, &three, &uneven].into_iter().zip(want) {
                assert!(close(at("quantile_over_time", series, M, 2 * M, &[q]), want), "q={q}");
            }
        }
        assert!(at("quantile_over_time", &two, M, 2 * M, &[NAN]).is_nan());
    }

    #[test]
    fn dispatch_contract() {
        let s = load(10_000, &[1.0, 2.0]);
        let empty = RangeWindow {
            points: &[],
            start_timestamps: &[],
            range_start: 0,
            range_end: 1000,
        };
        assert_eq!(call("sum_over_time", empty, &[]), Ok(None));
        assert!(call("no_such_function", window(&s, 10_000, M), &[]).is_err());
        assert!(
            call("quantile_over_time", window(&s, 10_000, M), &[]).is_err(),
            "missing q"
        );
        assert!(call("predict_linear", window(&s, 10_000, M), &[]).is_err(), "missing t");
        assert!(super::super::range::is_range_function("mad_over_time"));
        assert!(!super::super::range::is_range_function("absent_over_time"));
        assert!(!super::super::range::is_range_function("abs"));
    }
}

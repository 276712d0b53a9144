//! The slope-like range functions: `rate`, `increase`, `delta` (extrapolated), `irate`,
//! `idelta` (last two points), `deriv`, `predict_linear` (least squares) and
//! `double_exponential_smoothing`.
//!
//! These only see float points; native histograms are outside this module. Start
//! ("created") timestamps, where the window has them, reveal counter resets to `rate`,
//! `increase` and `irate`, and let `rate`/`increase` start from a known zero instead of
//! extrapolating (see `start_time.rs`).

use super::range::RangeWindow;
use super::start_time;
use super::stats::linear_regression;

/// `rate`, `increase` and `delta` in Prometheus 3: the change between the first and last
/// point (with counter resets added back when `is_counter`), extrapolated toward the window
/// edges, optionally per second.
///
/// Extrapolation goes all the way to an edge when the gap to it is below 1.1 average sample
/// intervals, else only half an average interval (the series probably started or ended
/// there). For counters the start side is further capped where the extrapolated line would
/// cross zero, because counters cannot be negative. Fewer than two points: no result.
pub(super) fn extrapolated_rate(window: RangeWindow<'_>, is_counter: bool, is_rate: bool) -> Option<f64> {
    let points = window.points;
    let (&(first_t, first_v), &(last_t, last_v)) = (points.first()?, points.last()?);
    // Start timestamps only ever matter for counters.
    let sts = if is_counter { window.start_timestamps } else { &[] };

    let mut result = last_v - first_v;
    if is_counter {
        for i in 1..points.len() {
            let (Some(&(prev_t, prev)), Some(&(t, curr))) = (points.get(i - 1), points.get(i)) else {
                continue;
            };
            if curr < prev || start_time::is_reset(start_time::at(sts, i - 1), prev_t, start_time::at(sts, i), t) {
                result += prev;
            }
        }
    }

    let mut duration_to_start = (first_t - window.range_start) as f64 / 1000.0;
    let mut duration_to_end = (window.range_end - last_t) as f64 / 1000.0;
    let mut sampled_interval = (last_t - first_t) as f64 / 1000.0;
    let intervals = points.len() - 1;
    let average_duration_between_samples = if intervals > 0 {
        sampled_interval / intervals as f64
    } else {
        0.0
    };
    let extrapolation_threshold = average_duration_between_samples * 1.1;

    let first_st = start_time::at(sts, 0);
    if first_st != 0 && first_st > window.range_start && first_st < first_t {
        // The first point's counter started inside the window: count from a zero there
        // instead of extrapolating to the left. This works with a single point too (whose
        // right side then is not extrapolated: with no interval there is no threshold).
        duration_to_start = 0.0;
        sampled_interval = (last_t - first_st) as f64 / 1000.0;
        result += first_v;
    } else if intervals == 0 {
        return None;
    } else {
        if duration_to_start >= extrapolation_threshold {
            duration_to_start = average_duration_between_samples / 2.0;
        }
        if is_counter && result > 0.0 && first_v >= 0.0 {
            let duration_to_zero = sampled_interval * (first_v / result);
            if duration_to_zero < duration_to_start {
                duration_to_start = duration_to_zero;
            }
        }
    }
    if duration_to_end >= extrapolation_threshold {
        duration_to_end = average_duration_between_samples / 2.0;
    }

    let mut factor = 1.0;
    if sampled_interval != 0.0 {
        factor = (sampled_interval + duration_to_start + duration_to_end) / sampled_interval;
    }
    if is_rate {
        factor /= go_duration_seconds(window.range_end - window.range_start);
    }
    Some(result * factor)
}

/// `irate` (`is_rate`) and `idelta`: the difference of the last two points, per second for
/// `irate`. A drop counts as a counter reset for `irate`, which then uses the last value
/// alone. No result with fewer than two points or two points at the same instant.
pub(super) fn instant_value(points: &[(i64, f64)], start_timestamps: &[i64], is_rate: bool) -> Option<f64> {
    let [.., (prev_t, prev_v), (last_t, last_v)] = points else {
        return None;
    };
    let sampled_interval_ms = last_t - prev_t;
    if sampled_interval_ms == 0 {
        return None;
    }
    let last = points.len() - 1;
    let st_reset = start_time::is_reset(
        start_time::at(start_timestamps, last - 1),
        *prev_t,
        start_time::at(start_timestamps, last),
        *last_t,
    );
    // A NaN on either side is no reset: the difference (NaN) is reported.
    let counter_reset = is_rate && (last_v < prev_v || st_reset);
    let mut result = if counter_reset { *last_v } else { last_v - prev_v };
    if is_rate {
        result /= sampled_interval_ms as f64 / 1000.0;
    }
    Some(result)
}

/// `deriv`: least-squares slope per second. The regression is anchored at the first point
/// to keep the x values small (Prometheus issue 2674).
pub(super) fn deriv(points: &[(i64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (slope, _) = linear_regression(points, points[0].0);
    Some(slope)
}

/// `predict_linear(v, duration)`: the least-squares line evaluated `duration` seconds after
/// `eval_time_ms` — the query's evaluation time, which differs from the window's end when
/// the selector has `offset` or `@`.
pub(super) fn predict_linear(points: &[(i64, f64)], eval_time_ms: i64, duration_s: f64) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (slope, intercept) = linear_regression(points, eval_time_ms);
    Some(slope * duration_s + intercept)
}

/// `double_exponential_smoothing(v, sf, tf)` (formerly `holt_winters`): Holt's linear
/// smoothing, returning the last smoothed value. Both factors must lie strictly inside
/// (0, 1); otherwise the query fails with Prometheus' message. NaN factors pass the check,
/// as in Prometheus. Fewer than two points: no result.
pub(super) fn double_exponential_smoothing(points: &[(i64, f64)], sf: f64, tf: f64) -> Result<Option<f64>, String> {
    if sf <= 0.0 || sf >= 1.0 {
        return Err(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
            go_format_f(sf)
        ));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {}",
            go_format_f(tf)
        ));
    }
    let [(_, first), (_, second), ..] = points else {
        return Ok(None);
    };
    let mut s0 = 0.0;
    let mut s1 = *first;
    let mut trend = second - first;
    for (i, &(_, v)) in points.iter().enumerate().skip(1) {
        let x = sf * v;
        // The first step keeps the initial trend; later ones blend in the latest change.
        if i > 1 {
            trend = tf * (s1 - s0) + (1.0 - tf) * trend;
        }
        let y = (1.0 - sf) * (s1 + trend);
        s0 = s1;
        s1 = x + y;
    }
    Ok(Some(s1))
}

/// Go's `time.Duration.Seconds()` for a duration in ms: whole seconds plus the fraction
/// computed separately, which can differ in the last bit from a plain `ms / 1000`.
pub(super) fn go_duration_seconds(ms: i64) -> f64 {
    let whole = ms / 1000;
    let nanos = (ms % 1000) * 1_000_000;
    whole as f64 + nanos as f64 / 1e9
}

/// Go's `%f`: six decimals, with Go's spelling of the special values.
fn go_format_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{v:.6}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::range::test_support::{at, close, load, seq};
    use super::super::range::{RangeWindow, call, call_at};
    use super::*;

    const M: i64 = 60_000;

    #[test]
    fn increase_extrapolates_to_zero_point_and_edges() {
        let foo = load(5 * M, &seq(0.0, 10.0, 10));
        let bar = load(5 * M, &[seq(0.0, 18.0, 5), seq(0.0, 18.0, 5)].concat());
        let dings = load(5 * M, &seq(10.0, 10.0, 10));
        let bumms = load(5 * M, &seq(1.0, 10.0, 10));
        for (series, want50, want100) in [
            (&foo, 100.0, 100.0),
            (&bar, 160.0, 162.0),
            (&dings, 100.0, 105.0),
            (&bumms, 100.0, 101.0),
        ] {
            assert!(close(at("increase", series, 50 * M, 50 * M, &[]), want50));
            assert!(close(at("increase", series, 50 * M, 100 * M, &[]), want100));
        }
    }

    #[test]
    fn increase_counts_reset_as_restart_from_zero() {
        let s = load(5 * M, &[0.0, 1.0, 2.0, 3.0, 2.0, 3.0, 4.0]);
        assert!(close(at("increase", &s, 30 * M, 30 * M, &[]), 7.0));
    }

    #[test]
    fn rate_with_resets_and_offsets() {
        let middle = load(5 * M, &[seq(0.0, 27.0, 4), seq(0.0, 27.0, 5)].concat());
        assert!(close(at("rate", &middle, 50 * M, 50 * M, &[]), 0.08));
        let end = load(5 * M, &[seq(0.0, 10.0, 9), vec![0.0, 10.0]].concat());
        assert_eq!(call("rate", window(&end, 50 * M, 5 * M), &[]), Ok(None));
        assert!(close(at("rate", &end, 50 * M, 6 * M, &[]), 0.0));
        let w = load(5 * M, &seq(0.0, 80.0, 10));
        assert!(close(at("rate", &w, 50 * M, 50 * M, &[]), 0.26666666666666666));
        // rate(x[10m] offset 5m) at 50m is rate over (35m, 45m].
        let a = load(5 * M, &seq(0.0, 10.0, 10));
        let b = load(5 * M, &seq(0.0, 20.0, 10));
        assert!(close(at("rate", &a, 45 * M, 10 * M, &[]), 0.03333333333333333));
        assert!(close(at("rate", &b, 45 * M, 10 * M, &[]), 0.06666666666666667));
    }

    #[test]
    fn rate_zero_cutoff() {
        let want_at_10m = [0.5, 0.55, 0.6, 0.6, 0.6, 0.6];
        for (start_minutes, want) in want_at_10m.iter().enumerate() {
            let s = load(4 * M, &seq(start_minutes as f64 * 60.0, 240.0, 10));
            assert!(
                close(at("rate", &s, 10 * M, 20 * M, &[]), *want),
                "start={start_minutes}m"
            );
            assert!(close(at("rate", &s, 50 * M, 20 * M, &[]), 0.6));
        }
    }

    #[test]
    fn delta_has_no_counter_semantics() {
        let up = load(5 * M, &[0.0, 50.0, 100.0, 150.0, 200.0]);
        let down = load(5 * M, &[200.0, 150.0, 100.0, 50.0, 0.0]);
        assert!(close(at("delta", &up, 20 * M, 20 * M, &[]), 200.0));
        assert!(close(at("delta", &down, 20 * M, 20 * M, &[]), -200.0));
    }

    #[test]
    fn single_point_gives_no_rate() {
        let s = load(5 * M, &[1.0]);
        for name in ["rate", "increase", "delta", "irate", "idelta", "deriv"] {
            assert_eq!(call(name, window(&s, 0, 5 * M), &[]), Ok(None), "{name}");
        }
        assert_eq!(call("predict_linear", window(&s, 0, 5 * M), &[60.0]), Ok(None));
    }

    #[test]
    fn irate_and_idelta() {
        let foo = load(5 * M, &seq(0.0, 10.0, 10));
        let bar = load(5 * M, &[seq(0.0, 10.0, 5), seq(0.0, 10.0, 5)].concat());
        assert!(close(at("irate", &foo, 50 * M, 50 * M, &[]), 0.03333333333333333));
        assert!(close(at("irate", &bar, 50 * M, 50 * M, &[]), 0.03333333333333333));
        assert!(close(at("irate", &bar, 30 * M, 50 * M, &[]), 0.0));

        let nan = load(5 * M, &[1.0, f64::NAN, f64::NAN, 5.0, 11.0]);
        let range = 15 * M + 1000;
        assert_eq!(call("irate", window(&nan, 0, range), &[]), Ok(None));
        for t in [5, 10, 15] {
            assert!(at("irate", &nan, t * M, range, &[]).is_nan());
            assert!(at("idelta", &nan, t * M, range, &[]).is_nan());
        }
        assert!(close(at("irate", &nan, 20 * M, range, &[]), 0.02));
        assert!(close(at("idelta", &nan, 20 * M, range, &[]), 6.0));

        let up = load(5 * M, &[0.0, 50.0, 100.0, 150.0]);
        let down = load(5 * M, &[0.0, 50.0, 100.0, 50.0]);
        assert!(close(at("idelta", &up, 20 * M, 20 * M, &[]), 50.0));
        assert!(close(at("idelta", &down, 20 * M, 20 * M, &[]), -50.0));
        assert_eq!(instant_value(&[(1000, 1.0), (1000, 2.0)], &[], true), None);
    }

    #[test]
    fn deriv_and_predict_linear() {
        let total = load(5 * M, &seq(0.0, 80.0, 10));
        assert!(close(at("deriv", &total, 50 * M, 50 * M, &[]), 0.26666666666666666));
        let middle = load(5 * M, &[seq(0.0, 10.0, 4), seq(0.0, 10.0, 5)].concat());
        assert!(close(at("deriv", &middle, 50 * M, 100 * M, &[]), 0.010606060606060607));
        assert!(close(at("predict_linear", &middle, 50 * M, 50 * M, &[3600.0]), 70.0));

        // predict_linear(x[55m] @ 3000, 3600) evaluated at 50m, 10m and 70m: the window is
        // fixed by @, the intercept moves with the evaluation time.
        let pts: Vec<(i64, f64)> = middle
            .iter()
            .copied()
            .filter(|&(t, _)| t > 3_000_000 - 55 * M && t <= 3_000_000)
            .collect();
        let fixed = RangeWindow {
            points: &pts,
            start_timestamps: &[],
            range_start: 3_000_000 - 55 * M,
            range_end: 3_000_000,
        };
        for (eval_min, want) in [
            (50, 76.81818181818181),
            (10, 51.36363636363637),
            (70, 89.54545454545455),
        ] {
            let got = call_at("predict_linear", fixed, &[3600.0], eval_min * M)
                .unwrap()
                .unwrap();
            assert!(close(got, want), "at {eval_min}m: {got}");
        }

        let mut with_inf = vec![f64::NEG_INFINITY];
        with_inf.extend(seq(0.0, 80.0, 10));
        with_inf.push(f64::INFINITY);
        let inf = load(5 * M, &with_inf);
        assert!(at("deriv", &inf, 100 * M, 100 * M, &[]).is_nan());
        assert!(at("predict_linear", &inf, 100 * M, 100 * M, &[6000.0]).is_nan());
    }

    #[test]
    fn double_exponential_smoothing_follows_trends() {
        let ten_s = 10_000;
        let t = 8000 * 1000;
        let cases = [
            ([seq(0.0, 10.0, 1000), seq(100.0, 30.0, 1000)].concat(), 8000.0),
            (seq(0.0, 40.0, 2000), 32000.0),
            (seq(8000.0, -10.0, 1000), 0.0),
            (seq(0.0, -20.0, 1000), -16000.0),
            ([seq(0.0, -40.0, 1000), seq(0.0, 40.0, 1000)].concat(), -32000.0),
        ];
        for (values, want) in cases {
            let s = load(ten_s, &values);
            let got = at("double_exponential_smoothing", &s, t, M, &[0.01, 0.1]);
            assert!(close(got, want), "got {got}, want {want}");
        }
    }

    #[test]
    fn double_exponential_smoothing_rejects_bad_factors() {
        let s = load(10_000, &seq(0.0, 1.0, 5));
        let w = window(&s, 50_000, M);
        assert_eq!(
            call("double_exponential_smoothing", w, &[1.5, 0.1]),
            Err("invalid smoothing factor. Expected: 0 < sf < 1, got: 1.500000".to_string())
        );
        assert_eq!(
            call("double_exponential_smoothing", w, &[0.5, 0.0]),
            Err("invalid trend factor. Expected: 0 < tf < 1, got: 0.000000".to_string())
        );
        assert_eq!(
            call("double_exponential_smoothing", w, &[f64::INFINITY, 0.5]),
            Err("invalid smoothing factor. Expected: 0 < sf < 1, got: +Inf".to_string())
        );
        assert!(
            call("double_exponential_smoothing", w, &[f64::NAN, 0.5])
                .unwrap()
                .unwrap()
                .is_nan()
        );
        assert_eq!(double_exponential_smoothing(&[(0, 1.0)], 0.5, 0.5), Ok(None));
    }

    #[test]
    fn go_duration_seconds_splits_like_go() {
        assert_eq!(go_duration_seconds(3_000_000), 3000.0);
        assert_eq!(go_duration_seconds(90_500), 90.5);
        assert_eq!(go_duration_seconds(-1_500), -1.5);
    }

    fn window(points: &[(i64, f64)], at_ms: i64, range_ms: i64) -> RangeWindow<'_> {
        super::super::range::test_support::window(points, at_ms, range_ms)
    }
}

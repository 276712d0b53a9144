//! Functions over a range-vector window of one series (`rate`, `*_over_time`, …).
//!
//! The rate family lives in `rate.rs`, the `*_over_time` aggregations in `over_time.rs`;
//! this file holds the window type and the dispatch by name. Everything follows Prometheus 3's float
//! semantics, NaN handling included.

use super::over_time::{avg_over_time, changes, extreme_over_time, mad_over_time, resets, sum_over_time};
use super::rate;
use super::stats::{quantile, variance};

/// The float points of one series inside one evaluation window, ascending by time.
/// The window is left-open, right-closed: `(range_start, range_end]` in ms
/// (Prometheus 3 semantics). `points` holds only points inside it; stale markers are removed.
#[derive(Clone, Copy, Debug)]
pub struct RangeWindow<'a> {
    pub points: &'a [(i64, f64)],
    /// The start timestamp of each point (0: unknown), or empty when none has one.
    pub start_timestamps: &'a [i64],
    pub range_start: i64,
    pub range_end: i64,
}

/// Evaluates one range function over `window`. `name` is the PromQL function name;
/// `scalar_args` are the scalar parameters in call order, excluding the range vector itself
/// (`quantile_over_time(q, …)` → `[q]`, `predict_linear(…, t)` → `[t]`,
/// `double_exponential_smoothing(…, sf, tf)` → `[sf, tf]`).
/// Returns `None` when the function yields no sample for this series (e.g. `rate` with
/// fewer than two points). Returns `Err` with Prometheus' error text for invalid
/// arguments (e.g. a smoothing factor outside (0, 1)).
///
/// `predict_linear` anchors its intercept at `window.range_end` here; with `offset` or `@`
/// the evaluation time differs from that, so the evaluator should use [`call_at`].
pub fn call(name: &str, window: RangeWindow<'_>, scalar_args: &[f64]) -> Result<Option<f64>, String> {
    call_at(name, window, scalar_args, window.range_end)
}

/// [`call`] with the query's evaluation timestamp (ms) made explicit. Only `predict_linear`
/// reads it: Prometheus predicts `t` seconds after the evaluation time, not after the end of
/// the (possibly offset or `@`-pinned) window.
pub fn call_at(
    name: &str,
    window: RangeWindow<'_>,
    scalar_args: &[f64],
    eval_time_ms: i64,
) -> Result<Option<f64>, String> {
    if !is_range_function(name) {
        return Err(format!("unknown range function {name:?}"));
    }
    let points = window.points;
    // Prometheus never calls a range function for a series without points in the window.
    if points.is_empty() {
        return Ok(None);
    }
    let value = match name {
        "rate" => rate::extrapolated_rate(window, true, true),
        "increase" => rate::extrapolated_rate(window, true, false),
        "delta" => rate::extrapolated_rate(window, false, false),
        "irate" => rate::instant_value(points, window.start_timestamps, true),
        "idelta" => rate::instant_value(points, &[], false),
        "deriv" => rate::deriv(points),
        "predict_linear" => rate::predict_linear(points, eval_time_ms, scalar_arg(name, scalar_args, 0)?),
        "double_exponential_smoothing" => {
            let sf = scalar_arg(name, scalar_args, 0)?;
            let tf = scalar_arg(name, scalar_args, 1)?;
            return rate::double_exponential_smoothing(points, sf, tf);
        }
        "changes" => Some(changes(points)),
        "resets" => Some(resets(points, window.start_timestamps)),
        "avg_over_time" => Some(avg_over_time(points)),
        "sum_over_time" => Some(sum_over_time(points)),
        "count_over_time" => Some(points.len() as f64),
        "min_over_time" => Some(extreme_over_time(points, |cur, best| cur < best).1),
        "max_over_time" => Some(extreme_over_time(points, |cur, best| cur > best).1),
        "ts_of_min_over_time" => Some(ms_to_seconds(extreme_over_time(points, |cur, best| cur <= best).0)),
        "ts_of_max_over_time" => Some(ms_to_seconds(extreme_over_time(points, |cur, best| cur >= best).0)),
        "stddev_over_time" => Some(variance(points.iter().map(|p| p.1)).sqrt()),
        "stdvar_over_time" => Some(variance(points.iter().map(|p| p.1))),
        "last_over_time" => points.last().map(|p| p.1),
        "first_over_time" => points.first().map(|p| p.1),
        "ts_of_last_over_time" => points.last().map(|p| ms_to_seconds(p.0)),
        "ts_of_first_over_time" => points.first().map(|p| ms_to_seconds(p.0)),
        "present_over_time" => Some(1.0),
        "quantile_over_time" => {
            let q = scalar_arg(name, scalar_args, 0)?;
            let mut values: Vec<f64> = points.iter().map(|p| p.1).collect();
            Some(quantile(q, &mut values))
        }
        "mad_over_time" => Some(mad_over_time(points)),
        _ => return Err(format!("unknown range function {name:?}")),
    };
    Ok(value)
}

/// Whether `name` is a range function handled by [`call`].
///
/// `absent_over_time` is not: its answer depends on whether any series matched at all and
/// on the selector's labels, which only the evaluator knows.
pub fn is_range_function(name: &str) -> bool {
    matches!(
        name,
        "rate"
            | "increase"
            | "delta"
            | "irate"
            | "idelta"
            | "deriv"
            | "predict_linear"
            | "double_exponential_smoothing"
            | "changes"
            | "resets"
            | "avg_over_time"
            | "sum_over_time"
            | "count_over_time"
            | "min_over_time"
            | "max_over_time"
            | "ts_of_min_over_time"
            | "ts_of_max_over_time"
            | "stddev_over_time"
            | "stdvar_over_time"
            | "last_over_time"
            | "first_over_time"
            | "ts_of_last_over_time"
            | "ts_of_first_over_time"
            | "present_over_time"
            | "quantile_over_time"
            | "mad_over_time"
    )
}

fn scalar_arg(name: &str, scalar_args: &[f64], index: usize) -> Result<f64, String> {
    scalar_args
        .get(index)
        .copied()
        .ok_or_else(|| format!("{name}: missing scalar argument {}", index + 1))
}

fn ms_to_seconds(t: i64) -> f64 {
    t as f64 / 1000.0
}

/// Builders for tests that replay Prometheus' `load`/`eval` scripts by hand.
#[cfg(test)]
pub(super) mod test_support {
    use super::{RangeWindow, call};

    /// `a+bxn` of the script syntax: n+1 values a, a+b, …, a+n·b.
    pub fn seq(start: f64, step: f64, n: usize) -> Vec<f64> {
        (0..=n).map(|i| start + step * i as f64).collect()
    }

    /// Points at 0, interval, 2·interval, … as a `load <interval>` block places them.
    pub fn load(interval_ms: i64, values: &[f64]) -> Vec<(i64, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as i64 * interval_ms, v))
            .collect()
    }

    /// The window `x[range]` sees when evaluated at `at_ms`: (at − range, at].
    pub fn window(points: &[(i64, f64)], at_ms: i64, range_ms: i64) -> RangeWindow<'_> {
        let range_start = at_ms - range_ms;
        let from = points.partition_point(|&(t, _)| t <= range_start);
        let to = points.partition_point(|&(t, _)| t <= at_ms);
        RangeWindow {
            points: &points[from..to.max(from)],
            start_timestamps: &[],
            range_start,
            range_end: at_ms,
        }
    }

    /// `name(x[range])` at `at_ms`; panics when there is no result, so tests read plainly.
    pub fn at(name: &str, points: &[(i64, f64)], at_ms: i64, range_ms: i64, args: &[f64]) -> f64 {
        match call(name, window(points, at_ms, range_ms), args) {
            Ok(Some(v)) => v,
            other => panic!("{name} at {at_ms} over {range_ms}: {other:?}"),
        }
    }

    /// Relative 1e-9 equality, NaN equal to NaN, infinities exact.
    pub fn close(got: f64, want: f64) -> bool {
        if want.is_nan() {
            return got.is_nan();
        }
        if want == 0.0 || want.is_infinite() {
            return got == want;
        }
        ((got - want) / want).abs() < 1e-9
    }
}

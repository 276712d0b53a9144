//! Instant selectors and range functions over all steps: per series, one forward walk over
//! its samples, the labels cloned once.

use super::{Budget, StepSeries, Steps, Stop, number_literal, unwrap_parens};
use crate::promql::eval::{Evaluator, aligned_start_timestamps};
use crate::promql::functions::range::{self, RangeWindow};
use crate::promql::functions::start_time;
use crate::promql::histograms;
use crate::promql::plan::{RawSeries, duration_ms, selector_key};
use crate::storage::model::is_stale_nan;
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{Call, Expr, MatrixSelector, VectorSelector};
use std::borrow::Cow;

/// Series between deadline checks.
const DEADLINE_EVERY: usize = 256;

/// The per-step evaluator refuses a step whose selection holds more than `max_samples`
/// points; this path must give up where it would.
fn check_step_counts(counts: &[usize], max_samples: usize) -> Result<(), Stop> {
    if counts.iter().any(|&c| c > max_samples) {
        return Err(Stop::Fallback);
    }
    Ok(())
}

/// `vs` at every step: the newest sample in `(t − lookback, t]` unless it is a stale marker.
pub(super) fn instant_selector(
    ev: &mut Evaluator<'_>,
    vs: &VectorSelector,
    steps: &Steps,
    budget: &mut Budget,
) -> Result<Vec<StepSeries>, Stop> {
    let Some(list) = ev.data.get(&selector_key(vs)) else {
        return Ok(Vec::new());
    };
    let lookback = ev.times.lookback;
    let times: Vec<i64> = (0..steps.count).map(|i| ev.reference_time(vs, steps.at(i))).collect();
    let mut counts = vec![0usize; steps.count];
    let mut out = Vec::new();
    for (n, series) in list.iter().enumerate() {
        if n % DEADLINE_EVERY == 0 {
            ev.check_deadline()?;
        }
        let samples = &series.samples;
        // Samples with t ≤ the reference time; reference times never decrease over the steps.
        let mut upto = 0usize;
        let mut points = Vec::new();
        for (i, &rt) in times.iter().enumerate() {
            while samples.get(upto).is_some_and(|&(t, _)| t <= rt) {
                upto += 1;
            }
            let Some(&(t, v)) = upto.checked_sub(1).and_then(|last| samples.get(last)) else {
                continue;
            };
            if t <= rt.saturating_sub(lookback) || is_stale_nan(v) {
                continue;
            }
            points.push((step_index(i)?, v));
            if let Some(c) = counts.get_mut(i) {
                *c += 1;
            }
        }
        if points.is_empty() {
            continue;
        }
        budget.spend(points.len())?;
        out.push(StepSeries {
            metric: series.labels.clone(),
            drop_name: false,
            points,
        });
    }
    check_step_counts(&counts, ev.max_samples)?;
    Ok(out)
}

fn step_index(i: usize) -> Result<u32, Stop> {
    u32::try_from(i).map_err(|_| Stop::Fallback)
}

/// A range function (`rate`, `*_over_time`, …) of a plain range selector at every step.
pub(super) fn range_function(
    ev: &mut Evaluator<'_>,
    call: &Call,
    steps: &Steps,
    budget: &mut Budget,
) -> Result<Vec<StepSeries>, Stop> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
    let mut scalars = Vec::new();
    let mut range_arg = None;
    for arg in &args {
        if arg.value_type() == ValueType::Matrix && range_arg.is_none() {
            range_arg = Some(*arg);
        } else {
            scalars.push(number_literal(arg).ok_or(Stop::Fallback)?);
        }
    }
    let Some(range_expr) = range_arg else {
        return Err(Stop::Fallback);
    };
    let Expr::MatrixSelector(ms) = unwrap_parens(range_expr) else {
        return Err(Stop::Fallback);
    };
    // The per-step evaluator warns at every step; the warnings are deduplicated.
    if name == "quantile_over_time"
        && steps.count > 0
        && let Some(&q) = scalars.first()
    {
        histograms::warn_quantile(ev, q, args.first().copied());
    }
    let keeps_name = matches!(name, "last_over_time" | "first_over_time");
    // As in the per-step evaluator: only a selector written directly as the argument.
    let check_counter = matches!(name, "rate" | "increase") && matches!(range_expr, Expr::MatrixSelector(_));
    let Some(list) = ev.data.get(&selector_key(&ms.vs)) else {
        return Ok(Vec::new());
    };
    let windows = Windows::new(ev, ms, steps);
    let mut counts = vec![0usize; steps.count];
    let mut not_counters: Vec<(usize, usize, String)> = Vec::new();
    let mut out = Vec::new();
    for (n, series) in list.iter().enumerate() {
        if n % DEADLINE_EVERY == 0 {
            ev.check_deadline()?;
        }
        let points = windows.evaluate(series, name, &scalars, &mut counts)?;
        let Some(&(first_step, _)) = points.first() else {
            continue;
        };
        if check_counter
            && let Some(metric_name) = series.labels.metric_name()
            && !["_total", "_sum", "_count", "_bucket"]
                .iter()
                .any(|sfx| metric_name.ends_with(sfx))
        {
            not_counters.push((first_step as usize, n, metric_name.to_string()));
        }
        budget.spend(points.len())?;
        out.push(StepSeries {
            metric: series.labels.clone(),
            drop_name: !keeps_name,
            points,
        });
    }
    check_step_counts(&counts, ev.max_samples)?;
    // In the order the per-step evaluator meets them: by step, then by series.
    not_counters.sort();
    for (_, _, metric_name) in not_counters {
        ev.info_at(
            format!(
                "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric_name:?}"
            ),
            range_expr,
        );
    }
    Ok(out)
}

/// The windows `(t − range, t]` of a range selector at every step.
struct Windows {
    /// (window start, window end, evaluation time) per step; both ends never decrease.
    bounds: Vec<(i64, i64, i64)>,
}

impl Windows {
    fn new(ev: &Evaluator<'_>, ms: &MatrixSelector, steps: &Steps) -> Self {
        let range = duration_ms(&ms.range);
        let bounds = (0..steps.count)
            .map(|i| {
                let ts = steps.at(i);
                let rt = ev.reference_time(&ms.vs, ts);
                (rt.saturating_sub(range), rt, ts)
            })
            .collect();
        Windows { bounds }
    }

    /// The function's value at every step where the window holds points. `counts` collects
    /// the points selected per step (for the sample limit).
    fn evaluate(
        &self,
        series: &RawSeries,
        name: &str,
        scalars: &[f64],
        counts: &mut [usize],
    ) -> Result<Vec<(u32, f64)>, Stop> {
        // Stale markers never enter a window; dropping them first keeps the windows plain slices.
        let points: Cow<'_, [(i64, f64)]> = if series.samples.iter().any(|&(_, v)| is_stale_nan(v)) {
            Cow::Owned(
                series
                    .samples
                    .iter()
                    .copied()
                    .filter(|&(_, v)| !is_stale_nan(v))
                    .collect(),
            )
        } else {
            Cow::Borrowed(&series.samples)
        };
        let mut out = Vec::new();
        let (mut lo, mut hi) = (0usize, 0usize);
        for (i, &(start, end, ts)) in self.bounds.iter().enumerate() {
            while points.get(hi).is_some_and(|&(t, _)| t <= end) {
                hi += 1;
            }
            while points.get(lo).is_some_and(|&(t, _)| t <= start) {
                lo += 1;
            }
            let window = points.get(lo..hi).unwrap_or(&[]);
            if window.is_empty() {
                continue;
            }
            if let Some(c) = counts.get_mut(i) {
                *c += window.len();
            }
            // Empty for almost every series: start timestamps are sparse.
            let start_timestamps = if series.start_timestamps.is_empty() {
                Vec::new()
            } else {
                aligned_start_timestamps(window, &series.start_timestamps)
            };
            // The per-step evaluator warns about overlapping start times series by series,
            // interleaved with other nodes' warnings; rare enough to leave to it.
            if matches!(name, "rate" | "increase") && start_time::any_overlap(window, &start_timestamps) {
                return Err(Stop::Fallback);
            }
            let w = RangeWindow {
                points: window,
                start_timestamps: &start_timestamps,
                range_start: start,
                range_end: end,
            };
            match range::call_at(name, w, scalars, ts) {
                Ok(Some(v)) => out.push((step_index(i)?, v)),
                Ok(None) => {}
                Err(_) => return Err(Stop::Fallback),
            }
        }
        Ok(out)
    }
}

//! The evaluator: evaluates one AST node at one evaluation time over prefetched data.
//! Range queries call it once per step; subqueries call it once per inner step.

use crate::promql::extended_range::{self, ExtendedSelection, ExtendedSelectors};
use crate::promql::functions::extended::{self as extended_fns, ExtendedWindow, Extension};
use crate::promql::plan::{Fetched, QueryTimes, at_ms, duration_ms, offset_ms, selector_key};
use crate::promql::types::{Sample, Series, Val};
use crate::promql::{PromqlError, TOO_MANY_SAMPLES, aggregate, binary, call};
use crate::storage::model::{StartTimestamp, is_stale_nan};
use promql_parser::parser::{Expr, MatrixSelector, SubqueryExpr, VectorSelector};
use std::time::Instant;

/// Default subquery step when none is given (Prometheus uses the global evaluation
/// interval, 1m by default).
pub const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// Annotations collected while evaluating, deduplicated in insertion order.
#[derive(Clone, Debug, Default)]
pub struct Annotations {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl Annotations {
    pub fn warn(&mut self, msg: String) {
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }

    pub fn info(&mut self, msg: String) {
        if !self.infos.contains(&msg) {
            self.infos.push(msg);
        }
    }
}

pub struct Evaluator<'a> {
    pub data: &'a Fetched,
    /// Selectors carrying an `anchored` / `smoothed` modifier.
    pub extended: &'a ExtendedSelectors,
    pub positions: &'a crate::promql::position::Positions,
    pub times: QueryTimes,
    pub deadline: Option<Instant>,
    pub max_samples: usize,
    pub annotations: Annotations,
    /// Inner results of subqueries by (node, time): subquery steps are aligned to absolute
    /// multiples of their step, so consecutive outer steps share most of them.
    pub subquery_cache: std::collections::HashMap<(usize, i64), Val>,
    /// Samples held in `subquery_cache`, counted against `max_samples`.
    pub cached_samples: usize,
}

impl<'a> Evaluator<'a> {
    /// An evaluator with no annotations and an empty subquery cache.
    pub fn new(
        data: &'a Fetched,
        extended: &'a ExtendedSelectors,
        positions: &'a crate::promql::position::Positions,
        times: QueryTimes,
        deadline: Option<Instant>,
        max_samples: usize,
    ) -> Self {
        Self {
            data,
            extended,
            positions,
            times,
            deadline,
            max_samples,
            annotations: Annotations::default(),
            subquery_cache: std::collections::HashMap::new(),
            cached_samples: 0,
        }
    }
}

impl<'a> Evaluator<'a> {
    /// Records a warning about `node`, with its position as Prometheus renders it.
    pub fn warn_at<T>(&mut self, msg: String, node: &T) {
        let msg = self.positions.annotate(msg, node);
        self.annotations.warn(msg);
    }

    /// Records an info annotation about `node`.
    pub fn info_at<T>(&mut self, msg: String, node: &T) {
        let msg = self.positions.annotate(msg, node);
        self.annotations.info(msg);
    }

    pub fn eval(&mut self, expr: &Expr, ts: i64) -> Result<Val, PromqlError> {
        self.check_deadline()?;
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, ts),
            Expr::Unary(u) => match self.eval(&u.expr, ts)? {
                Val::Scalar(v) => Ok(Val::Scalar(-v)),
                Val::Vector(mut vec) => {
                    for s in &mut vec {
                        s.f = -s.f;
                        s.drop_name = true;
                    }
                    Ok(Val::Vector(vec))
                }
                other => Err(PromqlError::Execution(format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                    other.type_name()
                ))),
            },
            Expr::Binary(b) => binary::eval(self, b, ts),
            Expr::Aggregate(a) => aggregate::eval(self, a, ts),
            Expr::Call(c) => call::eval(self, c, ts),
            Expr::VectorSelector(vs) => Ok(Val::Vector(self.select_vector(vs, ts)?)),
            Expr::MatrixSelector(ms) => match self.select_extended(ms, ts)? {
                Some(sel) => Ok(Val::Matrix(extend_series(sel.modifier, sel.window, sel.series))),
                None => Ok(Val::Matrix(self.select_matrix(ms, ts)?)),
            },
            Expr::Subquery(sq) => Ok(Val::Matrix(self.eval_subquery(sq, ts)?)),
            Expr::Extension(_) => Err(PromqlError::Execution("unsupported expression".into())),
        }
    }

    pub fn check_deadline(&self) -> Result<(), PromqlError> {
        if let Some(d) = self.deadline
            && Instant::now() > d
        {
            return Err(PromqlError::Timeout("query timed out in expression evaluation".into()));
        }
        Ok(())
    }

    pub fn check_samples(&self, count: usize) -> Result<(), PromqlError> {
        if count > self.max_samples {
            return Err(PromqlError::Execution(TOO_MANY_SAMPLES.into()));
        }
        Ok(())
    }

    /// The time a selector reads at: the `@` time (or the evaluation time) minus the offset.
    pub(super) fn reference_time(&self, vs: &VectorSelector, ts: i64) -> i64 {
        at_ms(&vs.at, &self.times)
            .unwrap_or(ts)
            .saturating_sub(offset_ms(&vs.offset))
    }

    /// Instant vector selection: the newest sample in `(t - lookback, t]`, unless it is a
    /// staleness marker.
    pub fn select_vector(&self, vs: &VectorSelector, ts: i64) -> Result<Vec<Sample>, PromqlError> {
        let rt = self.reference_time(vs, ts);
        let Some(list) = self.data.get(&selector_key(vs)) else {
            return Ok(Vec::new());
        };
        if self.extended.get(&selector_key(vs)) == Some(&Extension::Smoothed) {
            let at = at_ms(&vs.at, &self.times).unwrap_or(ts);
            let out = extended_range::smoothed_vector(list, rt, at, self.times.lookback);
            self.check_samples(out.len())?;
            return Ok(out);
        }
        let mut out = Vec::new();
        for series in list {
            let idx = series.samples.partition_point(|(t, _)| *t <= rt);
            if idx == 0 {
                continue;
            }
            let Some(&(t, v)) = series.samples.get(idx - 1) else {
                continue;
            };
            if t <= rt.saturating_sub(self.times.lookback) || is_stale_nan(v) {
                continue;
            }
            out.push(Sample {
                metric: series.labels.clone(),
                t,
                f: v,
                drop_name: false,
            });
        }
        self.check_samples(out.len())?;
        Ok(out)
    }

    /// Instant selection for `start_timestamp()`: each selected sample with its start
    /// timestamp (0 when it has none).
    pub fn select_vector_start_timestamps(
        &self,
        vs: &VectorSelector,
        ts: i64,
    ) -> Result<Vec<(Sample, i64)>, PromqlError> {
        let rt = self.reference_time(vs, ts);
        let Some(list) = self.data.get(&selector_key(vs)) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for series in list {
            let idx = series.samples.partition_point(|(t, _)| *t <= rt);
            let Some(&(t, v)) = idx.checked_sub(1).and_then(|i| series.samples.get(i)) else {
                continue;
            };
            if t <= rt.saturating_sub(self.times.lookback) || is_stale_nan(v) {
                continue;
            }
            let st = series
                .start_timestamps
                .binary_search_by_key(&t, |s| s.t)
                .ok()
                .and_then(|i| series.start_timestamps.get(i))
                .map_or(0, |s| s.st);
            let sample = Sample {
                metric: series.labels.clone(),
                t,
                f: v,
                drop_name: false,
            };
            out.push((sample, st));
        }
        self.check_samples(out.len())?;
        Ok(out)
    }

    /// Range vector selection: the points in `(t - range, t]` without staleness markers.
    pub fn select_matrix(&self, ms: &MatrixSelector, ts: i64) -> Result<Vec<Series>, PromqlError> {
        let rt = self.reference_time(&ms.vs, ts);
        let mint = rt.saturating_sub(duration_ms(&ms.range));
        let Some(list) = self.data.get(&selector_key(&ms.vs)) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut total = 0usize;
        for series in list {
            let points = series.points_in(mint, rt);
            if points.is_empty() {
                continue;
            }
            total += points.len();
            self.check_samples(total)?;
            let start_timestamps = aligned_start_timestamps(&points, &series.start_timestamps);
            out.push(Series {
                metric: series.labels.clone(),
                points,
                start_timestamps,
                drop_name: false,
            });
        }
        Ok(out)
    }

    /// For a range selector with an `anchored` / `smoothed` modifier: the modifier, the nominal
    /// window `(start, end]` and every series' points of the widened span around it.
    pub fn select_extended(&self, ms: &MatrixSelector, ts: i64) -> Result<Option<ExtendedSelection>, PromqlError> {
        let Some(&modifier) = self.extended.get(&selector_key(&ms.vs)) else {
            return Ok(None);
        };
        let rt = self.reference_time(&ms.vs, ts);
        let start = rt.saturating_sub(duration_ms(&ms.range));
        let (mint, maxt) = extended_range::fetch_span(modifier, start, rt, self.times.lookback);
        let series = match self.data.get(&selector_key(&ms.vs)) {
            Some(list) => extended_range::select_points(list, mint, maxt),
            None => Vec::new(),
        };
        self.check_samples(series.iter().map(|s| s.points.len()).sum())?;
        Ok(Some(ExtendedSelection {
            modifier,
            window: (start, rt),
            series,
        }))
    }

    /// The window `(start, end]` a range argument covers when evaluated at `ts`.
    pub fn range_window(&self, expr: &Expr, ts: i64) -> (i64, i64) {
        match expr {
            Expr::MatrixSelector(ms) => {
                let rt = self.reference_time(&ms.vs, ts);
                (rt.saturating_sub(duration_ms(&ms.range)), rt)
            }
            Expr::Subquery(sq) => {
                let rt = at_ms(&sq.at, &self.times)
                    .unwrap_or(ts)
                    .saturating_sub(offset_ms(&sq.offset));
                (rt.saturating_sub(duration_ms(&sq.range)), rt)
            }
            Expr::Paren(p) => self.range_window(&p.expr, ts),
            _ => (ts, ts),
        }
    }

    /// The inner value of a subquery at one of its steps, from the cache when an earlier
    /// outer step already computed it.
    fn eval_subquery_step(&mut self, sq: &SubqueryExpr, t: i64) -> Result<Val, PromqlError> {
        let key = (sq as *const SubqueryExpr as usize, t);
        if let Some(v) = self.subquery_cache.get(&key) {
            return Ok(v.clone());
        }
        let v = self.eval(&sq.expr, t)?;
        // Only range queries revisit the same inner steps.
        if self.times.start != self.times.end {
            let size = match &v {
                Val::Vector(vec) => vec.len(),
                _ => 1,
            };
            self.cached_samples += size;
            self.check_samples(self.cached_samples)?;
            self.subquery_cache.insert(key, v.clone());
        }
        Ok(v)
    }

    /// Evaluates the inner expression at every subquery step in `(t - range, t]`.
    pub fn eval_subquery(&mut self, sq: &SubqueryExpr, ts: i64) -> Result<Vec<Series>, PromqlError> {
        let rt = at_ms(&sq.at, &self.times)
            .unwrap_or(ts)
            .saturating_sub(offset_ms(&sq.offset));
        let range = duration_ms(&sq.range);
        let step = match &sq.step {
            Some(s) if !s.is_zero() => duration_ms(s),
            _ => DEFAULT_SUBQUERY_STEP_MS,
        }
        .max(1);
        let window_start = rt.saturating_sub(range);
        let mut start = step * (window_start / step);
        if start <= window_start {
            start = start.saturating_add(step);
        }
        let mut out: Vec<Series> = Vec::new();
        let mut index: std::collections::HashMap<crate::storage::Labels, usize> = std::collections::HashMap::new();
        let mut total = 0usize;
        let mut t = start;
        while t <= rt {
            match self.eval_subquery_step(sq, t)? {
                Val::Scalar(v) => {
                    push_point(&mut out, &mut index, crate::storage::Labels::empty(), false, (t, v));
                    total += 1;
                }
                Val::Vector(vec) => {
                    total += vec.len();
                    for s in vec {
                        push_point(&mut out, &mut index, s.metric, s.drop_name, (t, s.f));
                    }
                }
                other => {
                    return Err(PromqlError::Execution(format!(
                        "subquery only allowed on instant vector, got {}",
                        other.type_name()
                    )));
                }
            }
            self.check_samples(total)?;
            t = match t.checked_add(step) {
                Some(next) => next,
                None => break,
            };
        }
        Ok(out)
    }
}

/// A bare extended range selector's value: each series cut to its window, with boundary
/// values standing at the window's ends.
fn extend_series(modifier: Extension, window: (i64, i64), series: Vec<Series>) -> Vec<Series> {
    series
        .into_iter()
        .filter_map(|mut s| {
            let w = ExtendedWindow {
                points: &s.points,
                start_timestamps: &[],
                range_start: window.0,
                range_end: window.1,
            };
            s.points = extended_fns::extend_points(w, modifier == Extension::Smoothed);
            // The points are new ones; Prometheus uses no start timestamps with these modifiers.
            s.start_timestamps.clear();
            (!s.points.is_empty()).then_some(s)
        })
        .collect()
}

fn push_point(
    out: &mut Vec<Series>,
    index: &mut std::collections::HashMap<crate::storage::Labels, usize>,
    metric: crate::storage::Labels,
    drop_name: bool,
    point: (i64, f64),
) {
    if let Some(&i) = index.get(&metric)
        && let Some(series) = out.get_mut(i)
    {
        series.points.push(point);
        series.drop_name |= drop_name;
        return;
    }
    index.insert(metric.clone(), out.len());
    out.push(Series {
        metric,
        points: vec![point],
        start_timestamps: Vec::new(),
        drop_name,
    });
}

/// The start timestamp of each point (0 where it has none), or nothing when no point has one.
pub(super) fn aligned_start_timestamps(points: &[(i64, f64)], sparse: &[StartTimestamp]) -> Vec<i64> {
    let (Some(&(first_t, _)), Some(&(last_t, _))) = (points.first(), points.last()) else {
        return Vec::new();
    };
    let from = sparse.partition_point(|s| s.t < first_t);
    if sparse.get(from).is_none_or(|s| s.t > last_t) {
        return Vec::new();
    }
    let mut next = from;
    points
        .iter()
        .map(|&(t, _)| {
            while sparse.get(next).is_some_and(|s| s.t < t) {
                next += 1;
            }
            match sparse.get(next) {
                Some(s) if s.t == t => s.st,
                _ => 0,
            }
        })
        .collect()
}

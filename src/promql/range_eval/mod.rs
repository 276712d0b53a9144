//! Whole-range evaluation of the query shapes dashboards send most: instant selectors, range
//! functions over a selector, reducing aggregations (`sum`, `avg`, …) and arithmetic or
//! comparisons with a number, nested in any order.
//!
//! The per-step evaluator re-selects every series at every step: it clones each label set,
//! binary-searches and copies each window, and hashes label sets into groups, once per
//! series *per step*. Over 10,000 series and a few hundred steps that is millions of label
//! clones. Here each node is evaluated over all steps at once, as Prometheus' own engine
//! does: a series' labels and its group are worked out once, and a range function walks the
//! series' samples with a window that only moves forward.
//!
//! The numbers come from the same code as the per-step path (`range::call_at`, the
//! aggregation `Group`), in the same order, so results are identical. Whenever per-step
//! evaluation would fail (too many samples, a function argument error, a duplicate label
//! set) this path gives up and the caller runs the per-step evaluator, which produces the
//! error exactly as before; that also bounds what this path holds in memory.

mod aggregate;
mod select;

use crate::promql::aggregate::Reducer;
use crate::promql::eval::Evaluator;
use crate::promql::extended_range::ExtendedSelectors;
use crate::promql::functions::range::is_range_function;
use crate::promql::plan::selector_key;
use crate::promql::value::RangeSeries;
use crate::promql::{PromqlError, binary};
use crate::storage::Labels;
use promql_parser::parser::Expr;
use promql_parser::parser::value::ValueType;
use std::collections::BTreeMap;

/// Most steps evaluated this way; longer ranges (the API allows 11,000 points per series)
/// fit easily, this only keeps the per-step counters of a hostile request small.
const MAX_STEPS: usize = 100_000;

/// The evaluation times of a range query: `start + i·step` for `i < count`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Steps {
    pub start: i64,
    pub step: i64,
    pub count: usize,
}

impl Steps {
    /// The steps the per-step loop visits (`ts ≤ end`, stopping where `ts + step` overflows).
    fn new(start: i64, end: i64, step: i64) -> Option<Self> {
        if step <= 0 {
            return None;
        }
        let count = if end < start {
            0
        } else {
            usize::try_from(end.checked_sub(start)? / step).ok()?.checked_add(1)?
        };
        (count <= MAX_STEPS).then_some(Steps { start, step, count })
    }

    /// The evaluation time of step `i` (no overflow: the last step is at most `end`).
    pub fn at(&self, i: usize) -> i64 {
        self.start + self.step * i as i64
    }
}

/// One series of a node's value over all steps: labels worked out once, a value at each step
/// where the series has one.
pub(super) struct StepSeries {
    pub metric: Labels,
    /// Prometheus' delayed name removal flag (see `types::Sample`).
    pub drop_name: bool,
    /// (step index, value), ascending by step.
    pub points: Vec<(u32, f64)>,
}

/// Why whole-range evaluation stopped: the per-step evaluator must answer instead, or the
/// query ran out of time (which the per-step evaluator could not change).
pub(super) enum Stop {
    Fallback,
    Failed(PromqlError),
}

impl From<PromqlError> for Stop {
    fn from(error: PromqlError) -> Self {
        Stop::Failed(error)
    }
}

/// Whether every node of `expr` is one this module evaluates.
pub(super) fn supported(expr: &Expr, extended: &ExtendedSelectors) -> bool {
    match expr {
        Expr::Paren(p) => supported(&p.expr, extended),
        Expr::VectorSelector(vs) => !extended.contains_key(&selector_key(vs)),
        Expr::Call(call) => {
            if !is_range_function(call.func.name) || !call.func.arg_types.contains(&ValueType::Matrix) {
                return false;
            }
            let mut matrices = 0;
            for arg in &call.args.args {
                if arg.value_type() == ValueType::Matrix && matrices == 0 {
                    matrices += 1;
                    match unwrap_parens(arg) {
                        Expr::MatrixSelector(ms) if !extended.contains_key(&selector_key(&ms.vs)) => {}
                        _ => return false,
                    }
                } else if number_literal(arg).is_none() {
                    return false;
                }
            }
            matrices == 1
        }
        Expr::Aggregate(agg) => {
            let op = agg.op.to_string().to_lowercase();
            let Some(reducer) = Reducer::from_name(&op) else {
                return false;
            };
            let param_ok = match &agg.param {
                None => reducer != Reducer::Quantile,
                Some(p) => reducer == Reducer::Quantile && number_literal(p).is_some(),
            };
            param_ok && supported(&agg.expr, extended)
        }
        Expr::Unary(u) => supported(&u.expr, extended),
        // `vector op number` / `number op vector`, the form of unit conversions and thresholds.
        Expr::Binary(b) => {
            let op = b.op.to_string().to_lowercase();
            if binary::is_set_op(&op) {
                return false;
            }
            match (number_literal(&b.lhs), number_literal(&b.rhs)) {
                (Some(_), None) => supported(&b.rhs, extended),
                (None, Some(_)) => supported(&b.lhs, extended),
                _ => false,
            }
        }
        _ => false,
    }
}

/// The value of a number literal argument (possibly parenthesised or negated).
pub(super) fn number_literal(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::NumberLiteral(n) => Some(n.val),
        Expr::Paren(p) => number_literal(&p.expr),
        Expr::Unary(u) => number_literal(&u.expr).map(|v| -v),
        _ => None,
    }
}

pub(super) fn unwrap_parens(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    expr
}

/// Evaluates a range query over all steps at once. `Ok(None)`: this path does not handle
/// the query (or gave up, see the module comment) and the per-step evaluator must run.
pub(super) fn evaluate(
    ev: &mut Evaluator<'_>,
    expr: &Expr,
    start: i64,
    end: i64,
    step: i64,
) -> Result<Option<Vec<RangeSeries>>, PromqlError> {
    if !supported(expr, ev.extended) {
        return Ok(None);
    }
    let Some(steps) = Steps::new(start, end, step) else {
        return Ok(None);
    };
    let mut budget = Budget { left: ev.max_samples };
    let series = match eval_node(ev, expr, &steps, &mut budget) {
        Ok(series) => series,
        Err(Stop::Fallback) => return Ok(None),
        Err(Stop::Failed(error)) => return Err(error),
    };
    Ok(finish(series, &steps, ev.max_samples))
}

/// Points this path may materialise (intermediate and final), the query's sample limit: past
/// it the per-step evaluator, which holds one step at a time, takes over.
pub(super) struct Budget {
    left: usize,
}

impl Budget {
    pub fn spend(&mut self, points: usize) -> Result<(), Stop> {
        self.left = self.left.checked_sub(points).ok_or(Stop::Fallback)?;
        Ok(())
    }
}

fn eval_node(ev: &mut Evaluator<'_>, expr: &Expr, steps: &Steps, budget: &mut Budget) -> Result<Vec<StepSeries>, Stop> {
    ev.check_deadline()?;
    match expr {
        Expr::Paren(p) => eval_node(ev, &p.expr, steps, budget),
        Expr::VectorSelector(vs) => select::instant_selector(ev, vs, steps, budget),
        Expr::Call(call) => select::range_function(ev, call, steps, budget),
        Expr::Aggregate(agg) => {
            let input = eval_node(ev, &agg.expr, steps, budget)?;
            aggregate::reduce(ev, agg, input, steps, budget)
        }
        Expr::Unary(u) => {
            let mut input = eval_node(ev, &u.expr, steps, budget)?;
            for series in &mut input {
                for point in &mut series.points {
                    point.1 = -point.1;
                }
                series.drop_name = true;
            }
            Ok(input)
        }
        Expr::Binary(b) => {
            let op = b.op.to_string().to_lowercase();
            let (vector, scalar, swap) = match (number_literal(&b.lhs), number_literal(&b.rhs)) {
                (None, Some(r)) => (&b.lhs, r, false),
                (Some(l), None) => (&b.rhs, l, true),
                _ => return Err(Stop::Fallback),
            };
            let input = eval_node(ev, vector, steps, budget)?;
            Ok(with_scalar(&op, input, scalar, swap, binary::return_bool(b)))
        }
        _ => Err(Stop::Fallback),
    }
}

/// `input op scalar` (`scalar op input` when `swap`) at every step, as `binary` computes it
/// for one step.
fn with_scalar(op: &str, input: Vec<StepSeries>, scalar: f64, swap: bool, return_bool: bool) -> Vec<StepSeries> {
    let drops_name = binary::vector_scalar_drops_name(op, return_bool);
    input
        .into_iter()
        .filter_map(|mut series| {
            series.points = series
                .points
                .into_iter()
                .filter_map(|(step, f)| {
                    binary::vector_scalar_value(op, f, scalar, swap, return_bool).map(|value| (step, value))
                })
                .collect();
            series.drop_name |= drops_name;
            (!series.points.is_empty()).then_some(series)
        })
        .collect()
}

/// The range query's matrix: delayed name removal applied, series merged by their final label
/// sets. `None` when two series end up with the same labels at one step (the per-step
/// evaluator reports that error) or the result exceeds the sample limit.
fn finish(series: Vec<StepSeries>, steps: &Steps, max_samples: usize) -> Option<Vec<RangeSeries>> {
    let total: usize = series.iter().map(|s| s.points.len()).sum();
    if total > max_samples {
        return None;
    }
    let mut merged: BTreeMap<Labels, Vec<(u32, f64)>> = BTreeMap::new();
    for s in series {
        if s.points.is_empty() {
            continue;
        }
        let metric = if s.drop_name {
            crate::promql::drop_metadata(s.metric)
        } else {
            s.metric
        };
        match merged.get_mut(&metric) {
            None => {
                merged.insert(metric, s.points);
            }
            Some(existing) => {
                existing.extend(s.points);
                existing.sort_by_key(|p| p.0);
                if existing.windows(2).any(|w| w[0].0 == w[1].0) {
                    return None;
                }
            }
        }
    }
    Some(
        merged
            .into_iter()
            .map(|(metric, points)| RangeSeries {
                metric,
                floats: points.into_iter().map(|(i, f)| (steps.at(i as usize), f)).collect(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests;

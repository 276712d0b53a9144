//! Reducing aggregations over all steps. Each input series' group is found once; then, step by
//! step, the inputs present at that step are folded in input order, exactly as the per-step
//! `reduce` folds one step's vector.

use super::{Budget, StepSeries, Steps, Stop, number_literal};
use crate::promql::aggregate::{Group, Reducer, grouping_labels, warn_quantile_param};
use crate::promql::eval::Evaluator;
use crate::storage::Labels;
use promql_parser::parser::AggregateExpr;
use std::collections::HashMap;

/// Steps between deadline checks.
const DEADLINE_EVERY: usize = 64;

pub(super) fn reduce(
    ev: &mut Evaluator<'_>,
    agg: &AggregateExpr,
    input: Vec<StepSeries>,
    steps: &Steps,
    budget: &mut Budget,
) -> Result<Vec<StepSeries>, Stop> {
    let op = agg.op.to_string().to_lowercase();
    let reducer = Reducer::from_name(&op).ok_or(Stop::Fallback)?;
    let param = match &agg.param {
        Some(p) => number_literal(p).ok_or(Stop::Fallback)?,
        None => f64::NAN,
    };
    if reducer == Reducer::Quantile && steps.count > 0 {
        warn_quantile_param(ev, param, agg);
    }

    // Output labels and group of every input, computed once.
    let mut group_labels: Vec<Labels> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut group_of: Vec<usize> = Vec::with_capacity(input.len());
    for series in &input {
        let key = grouping_labels(&series.metric, &agg.modifier);
        let g = match index.get(&key) {
            Some(&g) => g,
            None => {
                let g = group_labels.len();
                index.insert(key.clone(), g);
                group_labels.push(key);
                g
            }
        };
        group_of.push(g);
    }
    drop(index);

    // Per group, the points of its output with and without the name-dropping flag: the flag
    // is per step (any member present at that step carrying it), so a group can have both.
    let mut kept: Vec<Vec<(u32, f64)>> = vec![Vec::new(); group_labels.len()];
    let mut dropped: Vec<Vec<(u32, f64)>> = vec![Vec::new(); group_labels.len()];
    let mut state: Vec<Option<Group>> = vec![None; group_labels.len()];
    let mut touched: Vec<usize> = Vec::new();
    let mut cursors = vec![0usize; input.len()];
    let mut produced = 0usize;
    for step in 0..steps.count {
        if step % DEADLINE_EVERY == 0 {
            ev.check_deadline()?;
        }
        let step_u32 = u32::try_from(step).map_err(|_| Stop::Fallback)?;
        for ((series, cursor), &g) in input.iter().zip(cursors.iter_mut()).zip(&group_of) {
            let Some(&(at, f)) = series.points.get(*cursor) else {
                continue;
            };
            if at != step_u32 {
                continue;
            }
            *cursor += 1;
            let Some(slot) = state.get_mut(g) else {
                continue;
            };
            match slot {
                Some(group) => group.add(reducer, f, series.drop_name),
                None => {
                    *slot = Some(Group::first(reducer, f, series.drop_name));
                    touched.push(g);
                }
            }
        }
        for g in touched.drain(..) {
            let Some(mut group) = state.get_mut(g).and_then(Option::take) else {
                continue;
            };
            let value = group.finish(reducer, param);
            let target = if group.drop_name { &mut dropped } else { &mut kept };
            if let Some(points) = target.get_mut(g) {
                points.push((step_u32, value));
                produced += 1;
            }
        }
    }
    budget.spend(produced)?;

    let mut out = Vec::with_capacity(group_labels.len());
    for ((labels, kept), dropped) in group_labels.into_iter().zip(kept).zip(dropped) {
        match (kept.is_empty(), dropped.is_empty()) {
            (false, false) => {
                out.push(StepSeries {
                    metric: labels.clone(),
                    drop_name: false,
                    points: kept,
                });
                out.push(StepSeries {
                    metric: labels,
                    drop_name: true,
                    points: dropped,
                });
            }
            (false, true) => out.push(StepSeries {
                metric: labels,
                drop_name: false,
                points: kept,
            }),
            (true, false) => out.push(StepSeries {
                metric: labels,
                drop_name: true,
                points: dropped,
            }),
            (true, true) => {}
        }
    }
    Ok(out)
}

//! Aggregation operators (`sum`, `avg`, `topk`, `count_values`, …) with `by` / `without`.

use crate::promql::PromqlError;
use crate::promql::eval::Evaluator;
use crate::promql::functions::stats;
use crate::promql::types::{Sample, Val};
use crate::storage::{Label, Labels, METRIC_NAME};
use promql_parser::parser::{AggregateExpr, LabelModifier};
use std::collections::HashMap;

/// The reducing aggregation operators, parsed once per node instead of compared as text
/// for every sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reducer {
    Sum,
    Avg,
    Max,
    Min,
    Count,
    Group,
    Stddev,
    Stdvar,
    Quantile,
}

impl Reducer {
    /// The reducer for a lower-case operator name; `None` for the selecting ones (`topk`…)
    /// and `count_values`.
    pub(super) fn from_name(op: &str) -> Option<Self> {
        Some(match op {
            "sum" => Reducer::Sum,
            "avg" => Reducer::Avg,
            "max" => Reducer::Max,
            "min" => Reducer::Min,
            "count" => Reducer::Count,
            "group" => Reducer::Group,
            "stddev" => Reducer::Stddev,
            "stdvar" => Reducer::Stdvar,
            "quantile" => Reducer::Quantile,
            _ => return None,
        })
    }
}

/// The running state of one output group at one evaluation time. Shared by the per-step
/// evaluator and the whole-range one, so both fold samples in exactly the same way.
#[derive(Clone, Debug, Default)]
pub(super) struct Group {
    value: f64,
    kahan_c: f64,
    mean: f64,
    count: f64,
    incremental_mean: bool,
    pub(super) drop_name: bool,
    values: Vec<f64>,
}

impl Group {
    /// A group holding its first sample.
    pub(super) fn first(op: Reducer, f: f64, drop_name: bool) -> Self {
        let mut g = Group {
            value: f,
            count: 1.0,
            mean: f,
            drop_name,
            ..Default::default()
        };
        match op {
            Reducer::Stddev | Reducer::Stdvar => g.value = if f.is_nan() || f.is_infinite() { f64::NAN } else { 0.0 },
            Reducer::Group | Reducer::Count => g.value = 1.0,
            Reducer::Quantile => g.values.push(f),
            _ => {}
        }
        g
    }

    /// Folds one more sample into the group.
    pub(super) fn add(&mut self, op: Reducer, f: f64, drop_name: bool) {
        if drop_name {
            self.drop_name = true;
        }
        match op {
            Reducer::Sum => {
                let (v, c) = stats::kahan_sum_inc(f, self.value, self.kahan_c);
                self.value = v;
                self.kahan_c = c;
            }
            Reducer::Avg => {
                self.count += 1.0;
                if !self.incremental_mean {
                    let (v, c) = stats::kahan_sum_inc(f, self.value, self.kahan_c);
                    if !v.is_infinite() {
                        self.value = v;
                        self.kahan_c = c;
                        return;
                    }
                    self.incremental_mean = true;
                    self.mean = self.value / (self.count - 1.0);
                    self.kahan_c /= self.count - 1.0;
                }
                let q = (self.count - 1.0) / self.count;
                let (m, c) = stats::kahan_sum_inc(f / self.count, q * self.mean, q * self.kahan_c);
                self.mean = m;
                self.kahan_c = c;
            }
            Reducer::Max => {
                if self.value < f || self.value.is_nan() {
                    self.value = f;
                }
            }
            Reducer::Min => {
                if self.value > f || self.value.is_nan() {
                    self.value = f;
                }
            }
            Reducer::Count => self.value += 1.0,
            Reducer::Group => {}
            Reducer::Stddev | Reducer::Stdvar => {
                if f.is_nan() || f.is_infinite() {
                    self.value = f64::NAN;
                } else if !self.value.is_nan() {
                    self.count += 1.0;
                    let delta = f - self.mean;
                    self.mean += delta / self.count;
                    self.value += delta * (f - self.mean);
                }
            }
            Reducer::Quantile => self.values.push(f),
        }
    }

    /// The group's value; `param` is the `quantile` parameter.
    pub(super) fn finish(&mut self, op: Reducer, param: f64) -> f64 {
        match op {
            Reducer::Sum => self.value + self.kahan_c,
            Reducer::Avg => {
                if self.incremental_mean {
                    self.mean + self.kahan_c
                } else {
                    self.value / self.count + self.kahan_c / self.count
                }
            }
            Reducer::Stdvar => self.value / self.count,
            Reducer::Stddev => (self.value / self.count).sqrt(),
            Reducer::Quantile => stats::quantile(param, &mut self.values),
            Reducer::Max | Reducer::Min | Reducer::Count | Reducer::Group => self.value,
        }
    }
}

pub(super) fn grouping_labels(metric: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    match modifier {
        Some(LabelModifier::Include(ls)) => {
            let kept: Vec<Label> = metric
                .iter()
                .filter(|l| ls.labels.iter().any(|n| n == &l.name))
                .cloned()
                .collect();
            Labels::from_sorted(kept)
        }
        Some(LabelModifier::Exclude(ls)) => {
            let kept: Vec<Label> = metric
                .iter()
                .filter(|l| l.name != METRIC_NAME && !ls.labels.iter().any(|n| n == &l.name))
                .cloned()
                .collect();
            Labels::from_sorted(kept)
        }
        None => Labels::empty(),
    }
}

fn scalar_param(ev: &mut Evaluator<'_>, agg: &AggregateExpr, ts: i64) -> Result<f64, PromqlError> {
    match &agg.param {
        Some(p) => match ev.eval(p, ts)? {
            Val::Scalar(v) => Ok(v),
            other => Err(PromqlError::Execution(format!(
                "expected scalar parameter, got {}",
                other.type_name()
            ))),
        },
        None => Ok(f64::NAN),
    }
}

pub fn eval(ev: &mut Evaluator<'_>, agg: &AggregateExpr, ts: i64) -> Result<Val, PromqlError> {
    let op = agg.op.to_string().to_lowercase();
    if op == "count_values" {
        let label = match &agg.param {
            Some(p) => match ev.eval(p, ts)? {
                Val::Str(s) => s,
                _ => return Err(PromqlError::Execution("count_values needs a string parameter".into())),
            },
            None => return Err(PromqlError::Execution("count_values needs a string parameter".into())),
        };
        let input = eval_vector(ev, agg, ts)?;
        return count_values(&label, input, &agg.modifier);
    }
    let param = if agg.param.is_some() {
        scalar_param(ev, agg, ts)?
    } else {
        f64::NAN
    };
    let input = eval_vector(ev, agg, ts)?;
    match op.as_str() {
        "topk" | "bottomk" | "limitk" | "limit_ratio" => select_k(ev, &op, param, input, agg),
        _ => reduce(ev, &op, param, input, agg),
    }
}

fn eval_vector(ev: &mut Evaluator<'_>, agg: &AggregateExpr, ts: i64) -> Result<Vec<Sample>, PromqlError> {
    match ev.eval(&agg.expr, ts)? {
        Val::Vector(v) => Ok(v),
        other => Err(PromqlError::Execution(format!(
            "expected instant vector in aggregation, got {}",
            other.type_name()
        ))),
    }
}

/// Prometheus' `strconv.FormatFloat(f, 'f', -1, 64)`.
pub fn format_float_plain(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

fn count_values(label: &str, input: Vec<Sample>, modifier: &Option<LabelModifier>) -> Result<Val, PromqlError> {
    if !is_valid_label_name(label) {
        return Err(PromqlError::Execution(format!("invalid label name {label:?}")));
    }
    let mut order: Vec<Labels> = Vec::new();
    let mut counts: HashMap<Labels, f64> = HashMap::new();
    for s in input {
        let mut metric = s.metric.clone();
        metric.set(label, &format_float_plain(s.f));
        let mut key = grouping_labels(&metric, modifier);
        if matches!(modifier, Some(LabelModifier::Include(_))) || modifier.is_none() {
            // The value label is always part of the output.
            key.set(label, &format_float_plain(s.f));
        }
        let entry = counts.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            0.0
        });
        *entry += 1.0;
    }
    let out = order
        .into_iter()
        .map(|labels| {
            let f = counts.get(&labels).copied().unwrap_or(0.0);
            Sample {
                metric: labels,
                t: 0,
                f,
                drop_name: false,
            }
        })
        .collect();
    Ok(Val::Vector(out))
}

pub fn is_valid_label_name(name: &str) -> bool {
    // Prometheus 3 accepts any non-empty UTF-8 label name.
    !name.is_empty()
}

fn reduce(
    ev: &mut Evaluator<'_>,
    op: &str,
    param: f64,
    input: Vec<Sample>,
    agg: &AggregateExpr,
) -> Result<Val, PromqlError> {
    let Some(reducer) = Reducer::from_name(op) else {
        return Err(PromqlError::Execution(format!("unknown aggregation {op}")));
    };
    if reducer == Reducer::Quantile {
        warn_quantile_param(ev, param, agg);
    }
    let mut order: Vec<(Labels, Group)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for s in input {
        let key = grouping_labels(&s.metric, &agg.modifier);
        match index.get(&key).and_then(|&i| order.get_mut(i)) {
            Some((_, group)) => group.add(reducer, s.f, s.drop_name),
            None => {
                index.insert(key.clone(), order.len());
                order.push((key, Group::first(reducer, s.f, s.drop_name)));
            }
        }
    }
    let out = order
        .into_iter()
        .map(|(labels, mut g)| Sample {
            metric: labels,
            t: 0,
            f: g.finish(reducer, param),
            drop_name: g.drop_name,
        })
        .collect();
    Ok(Val::Vector(out))
}

/// Prometheus' warning for a `quantile` parameter outside [0, 1].
pub(super) fn warn_quantile_param(ev: &mut Evaluator<'_>, param: f64, agg: &AggregateExpr) {
    if (param.is_nan() || !(0.0..=1.0).contains(&param))
        && let Some(p) = &agg.param
    {
        ev.warn_at(
            format!(
                "PromQL warning: quantile value should be between 0 and 1, got {}",
                crate::promql::format_go_float(param)
            ),
            p.as_ref(),
        );
    }
}

/// Orders by value with NaN as the smallest, as Prometheus' `vectorByValueHeap` does.
fn less_nan_low(a: f64, b: f64) -> bool {
    if a.is_nan() {
        return !b.is_nan();
    }
    a < b
}

/// Orders with NaN as the largest (`vectorByReverseValueHeap`).
fn greater_nan_low(a: f64, b: f64) -> bool {
    if a.is_nan() {
        return !b.is_nan();
    }
    a > b
}

fn select_k(
    ev: &mut Evaluator<'_>,
    op: &str,
    param: f64,
    input: Vec<Sample>,
    agg: &AggregateExpr,
) -> Result<Val, PromqlError> {
    let mut ratio = 0.0;
    let mut k: i64 = 0;
    if op == "limit_ratio" {
        if param.is_nan() {
            return Err(PromqlError::Execution("Ratio value is NaN".into()));
        }
        if param == 0.0 {
            return Ok(Val::Vector(Vec::new()));
        }
        if !(-1.0..=1.0).contains(&param)
            && let Some(p) = &agg.param
        {
            ev.warn_at(
                format!(
                    "PromQL warning: ratio value should be between -1 and 1, got {}, capping to {}",
                    crate::promql::format_go_float(param),
                    if param > 1.0 { "1" } else { "-1" }
                ),
                p.as_ref(),
            );
        }
        ratio = param.clamp(-1.0, 1.0);
    } else {
        if param.is_nan() {
            return Err(PromqlError::Execution("Parameter value is NaN".into()));
        }
        if param <= -9.223_372_036_854_776e18 {
            return Err(PromqlError::Execution(format!(
                "Scalar value {} underflows int64",
                crate::promql::format_go_float(param)
            )));
        }
        if param >= 9.223_372_036_854_776e18 {
            return Err(PromqlError::Execution(format!(
                "Scalar value {} overflows int64",
                crate::promql::format_go_float(param)
            )));
        }
        k = (param as i64).min(input.len() as i64);
        if k < 1 {
            return Ok(Val::Vector(Vec::new()));
        }
    }
    let k = usize::try_from(k).unwrap_or(0);
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: HashMap<Labels, Vec<Sample>> = HashMap::new();
    for s in input {
        let key = grouping_labels(&s.metric, &agg.modifier);
        let members = groups.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            Vec::new()
        });
        match op {
            "limitk" => {
                if members.len() < k {
                    members.push(s);
                }
            }
            "limit_ratio" => {
                if ratio_sample(ratio, &s.metric) {
                    members.push(s);
                }
            }
            _ => members.push(s),
        }
    }
    let mut out = Vec::new();
    for key in order {
        let Some(mut members) = groups.remove(&key) else {
            continue;
        };
        match op {
            "topk" => {
                members.sort_by(|a, b| {
                    if less_nan_low(b.f, a.f) {
                        std::cmp::Ordering::Less
                    } else if less_nan_low(a.f, b.f) {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Equal
                    }
                });
                members.truncate(k);
            }
            "bottomk" => {
                members.sort_by(|a, b| {
                    if greater_nan_low(b.f, a.f) {
                        std::cmp::Ordering::Less
                    } else if greater_nan_low(a.f, b.f) {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Equal
                    }
                });
                members.truncate(k);
            }
            _ => {}
        }
        out.extend(members);
    }
    Ok(Val::Vector(out))
}

/// Prometheus' hash-based ratio sampler: a series is kept when its label hash, as a
/// fraction of the u64 range, falls inside the ratio.
fn ratio_sample(ratio: f64, metric: &Labels) -> bool {
    let mut buf = Vec::new();
    for l in metric {
        buf.extend_from_slice(l.name.as_bytes());
        buf.push(0xff);
        buf.extend_from_slice(l.value.as_bytes());
        buf.push(0xff);
    }
    let offset = xxhash_rust::xxh64::xxh64(&buf, 0) as f64 / u64::MAX as f64;
    if ratio >= 0.0 {
        offset < ratio
    } else {
        offset >= 1.0 + ratio
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_values_labels_use_go_float_text() {
        assert_eq!(format_float_plain(1.0), "1");
        assert_eq!(format_float_plain(0.5), "0.5");
        assert_eq!(format_float_plain(f64::INFINITY), "+Inf");
        assert_eq!(format_float_plain(1e21), "1000000000000000000000");
    }
}

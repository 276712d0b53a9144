//! Aggregation operators (`sum`, `avg`, `topk`, `count_values`, …) with `by` / `without`.

use crate::promql::PromqlError;
use crate::promql::eval::Evaluator;
use crate::promql::functions::stats;
use crate::promql::types::{Sample, Val};
use crate::storage::{Label, Labels, METRIC_NAME};
use promql_parser::parser::{AggregateExpr, LabelModifier};
use std::collections::HashMap;

/// The running state of one output group.
#[derive(Default)]
struct Group {
    labels: Labels,
    value: f64,
    kahan_c: f64,
    mean: f64,
    count: f64,
    incremental_mean: bool,
    drop_name: bool,
    values: Vec<f64>,
}

fn grouping_labels(metric: &Labels, modifier: &Option<LabelModifier>) -> Labels {
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
    if op == "quantile"
        && (param.is_nan() || !(0.0..=1.0).contains(&param))
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
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: HashMap<Labels, Group> = HashMap::new();
    for s in input {
        let key = grouping_labels(&s.metric, &agg.modifier);
        let f = s.f;
        let group = match groups.get_mut(&key) {
            Some(g) => g,
            None => {
                order.push(key.clone());
                let mut g = Group {
                    labels: key.clone(),
                    value: f,
                    count: 1.0,
                    mean: f,
                    drop_name: s.drop_name,
                    ..Default::default()
                };
                match op {
                    "stddev" | "stdvar" => g.value = if f.is_nan() || f.is_infinite() { f64::NAN } else { 0.0 },
                    "group" => g.value = 1.0,
                    "quantile" => g.values.push(f),
                    "count" => g.value = 1.0,
                    _ => {}
                }
                groups.insert(key, g);
                continue;
            }
        };
        if s.drop_name {
            group.drop_name = true;
        }
        match op {
            "sum" => {
                let (v, c) = stats::kahan_sum_inc(f, group.value, group.kahan_c);
                group.value = v;
                group.kahan_c = c;
            }
            "avg" => {
                group.count += 1.0;
                if !group.incremental_mean {
                    let (v, c) = stats::kahan_sum_inc(f, group.value, group.kahan_c);
                    if !v.is_infinite() {
                        group.value = v;
                        group.kahan_c = c;
                        continue;
                    }
                    group.incremental_mean = true;
                    group.mean = group.value / (group.count - 1.0);
                    group.kahan_c /= group.count - 1.0;
                }
                let q = (group.count - 1.0) / group.count;
                let (m, c) = stats::kahan_sum_inc(f / group.count, q * group.mean, q * group.kahan_c);
                group.mean = m;
                group.kahan_c = c;
            }
            "max" => {
                if group.value < f || group.value.is_nan() {
                    group.value = f;
                }
            }
            "min" => {
                if group.value > f || group.value.is_nan() {
                    group.value = f;
                }
            }
            "count" => group.value += 1.0,
            "group" => {}
            "stddev" | "stdvar" => {
                if f.is_nan() || f.is_infinite() {
                    group.value = f64::NAN;
                } else if !group.value.is_nan() {
                    group.count += 1.0;
                    let delta = f - group.mean;
                    group.mean += delta / group.count;
                    group.value += delta * (f - group.mean);
                }
            }
            "quantile" => group.values.push(f),
            _ => return Err(PromqlError::Execution(format!("unknown aggregation {op}"))),
        }
    }
    let mut out = Vec::with_capacity(order.len());
    for key in order {
        let Some(mut g) = groups.remove(&key) else {
            continue;
        };
        let value = match op {
            "sum" => g.value + g.kahan_c,
            "avg" => {
                if g.incremental_mean {
                    g.mean + g.kahan_c
                } else {
                    g.value / g.count + g.kahan_c / g.count
                }
            }
            "stdvar" => g.value / g.count,
            "stddev" => (g.value / g.count).sqrt(),
            "quantile" => stats::quantile(param, &mut g.values),
            _ => g.value,
        };
        out.push(Sample {
            metric: g.labels,
            t: 0,
            f: value,
            drop_name: g.drop_name,
        });
    }
    Ok(Val::Vector(out))
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

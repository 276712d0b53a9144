//! Function calls: picks the arguments (vectors, windows, scalars, strings) and hands the
//! numbers to `functions::*`; the functions that work on labels or whole vectors live here.

use crate::promql::eval::Evaluator;
use crate::promql::functions::{math, range, start_time};
use crate::promql::plan::matcher_sets;
use crate::promql::types::{Sample, Series, Val};
use crate::promql::{PromqlError, extended_range, histograms, labels_fns};
use crate::storage::{Labels, MatchOp};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{Call, Expr};

pub fn eval(ev: &mut Evaluator<'_>, call: &Call, ts: i64) -> Result<Val, PromqlError> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
    extended_range::check_call(ev.extended, name, &args)?;
    match name {
        "time" => return Ok(Val::Scalar(ts as f64 / 1000.0)),
        "pi" => return Ok(Val::Scalar(std::f64::consts::PI)),
        "start" => return Ok(Val::Scalar(ev.times.start as f64 / 1000.0)),
        "end" => return Ok(Val::Scalar(ev.times.end as f64 / 1000.0)),
        "step" => return Ok(Val::Scalar(ev.times.step as f64 / 1000.0)),
        "range" => return Ok(Val::Scalar((ev.times.end - ev.times.start) as f64 / 1000.0)),
        "min_of" | "max_of" => {
            let a = scalar_arg(ev, &args, 0, ts)?;
            let b = scalar_arg(ev, &args, 1, ts)?;
            // Go's math.Min/Max: NaN wins.
            let v = if a.is_nan() || b.is_nan() {
                f64::NAN
            } else if name == "min_of" {
                a.min(b)
            } else {
                a.max(b)
            };
            return Ok(Val::Scalar(v));
        }
        "vector" => {
            let v = scalar_arg(ev, &args, 0, ts)?;
            return Ok(Val::Vector(vec![Sample {
                metric: Labels::empty(),
                t: ts,
                f: v,
                drop_name: false,
            }]));
        }
        "scalar" => {
            let vec = vector_arg(ev, &args, 0, ts)?;
            return Ok(Val::Scalar(match vec.as_slice() {
                [only] => only.f,
                _ => f64::NAN,
            }));
        }
        "timestamp" => return timestamp(ev, &args, ts),
        "absent" => return absent(ev, &args, ts),
        "absent_over_time" => return absent_over_time(ev, &args, ts),
        "label_replace" => return labels_fns::label_replace(ev, &args, ts),
        "label_join" => return labels_fns::label_join(ev, &args, ts),
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" if ev.times.start != ev.times.end => {
            ev.warn_at(
                "PromQL warning: sort is ineffective for range queries since results are always ordered by labels"
                    .into(),
                call,
            );
        }
        _ => {}
    }
    match name {
        "sort" | "sort_desc" => return labels_fns::sort_by_value(ev, name, &args, ts),
        "sort_by_label" | "sort_by_label_desc" => return labels_fns::sort_by_label(ev, name, &args, ts),
        "histogram_quantile" => return histograms::histogram_quantile(ev, &args, ts),
        "info" => return crate::promql::info::eval(ev, call, &args, ts),
        "histogram_quantiles" => return histograms::histogram_quantiles(ev, &args, ts),
        "histogram_fraction" => return histograms::histogram_fraction(ev, &args, ts),
        "start_timestamp" => return start_timestamp(ev, &args, ts),
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev" | "histogram_stdvar" => {
            // Native-histogram functions: float samples yield nothing.
            for (i, a) in args.iter().enumerate() {
                if a.value_type() == ValueType::Vector {
                    let _ = vector_arg(ev, &args, i, ts)?;
                }
            }
            return Ok(Val::Vector(Vec::new()));
        }
        _ => {}
    }
    if call.func.arg_types.contains(&ValueType::Matrix) {
        return range_call(ev, name, &args, ts);
    }
    elementwise_call(ev, name, &args, ts)
}

pub fn scalar_arg(ev: &mut Evaluator<'_>, args: &[&Expr], i: usize, ts: i64) -> Result<f64, PromqlError> {
    let Some(expr) = args.get(i) else {
        return Err(PromqlError::Execution("missing scalar argument".into()));
    };
    match ev.eval(expr, ts)? {
        Val::Scalar(v) => Ok(v),
        other => Err(PromqlError::Execution(format!(
            "expected scalar argument, got {}",
            other.type_name()
        ))),
    }
}

pub fn vector_arg(ev: &mut Evaluator<'_>, args: &[&Expr], i: usize, ts: i64) -> Result<Vec<Sample>, PromqlError> {
    let Some(expr) = args.get(i) else {
        return Err(PromqlError::Execution("missing vector argument".into()));
    };
    match ev.eval(expr, ts)? {
        Val::Vector(v) => Ok(v),
        other => Err(PromqlError::Execution(format!(
            "expected instant vector argument, got {}",
            other.type_name()
        ))),
    }
}

pub fn string_arg(args: &[&Expr], i: usize) -> Result<String, PromqlError> {
    let mut expr = args.get(i).copied();
    while let Some(Expr::Paren(p)) = expr {
        expr = Some(&p.expr);
    }
    match expr {
        Some(Expr::StringLiteral(s)) => Ok(s.val.clone()),
        _ => Err(PromqlError::Execution("expected string literal argument".into())),
    }
}

fn matrix_arg(ev: &mut Evaluator<'_>, args: &[&Expr], i: usize, ts: i64) -> Result<Vec<Series>, PromqlError> {
    let Some(expr) = args.get(i) else {
        return Err(PromqlError::Execution("missing range vector argument".into()));
    };
    match ev.eval(expr, ts)? {
        Val::Matrix(m) => Ok(m),
        other => Err(PromqlError::Execution(format!(
            "expected range vector argument, got {}",
            other.type_name()
        ))),
    }
}

fn unwrap_parens(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    expr
}

fn timestamp(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Val, PromqlError> {
    let vec = match args.first().map(|a| unwrap_parens(a)) {
        Some(Expr::VectorSelector(vs)) => ev.select_vector(vs, ts)?,
        _ => vector_arg(ev, args, 0, ts)?
            .into_iter()
            .map(|mut s| {
                s.t = ts;
                s
            })
            .collect(),
    };
    Ok(Val::Vector(
        vec.into_iter()
            .map(|s| Sample {
                metric: s.metric,
                t: ts,
                f: s.t as f64 / 1000.0,
                drop_name: true,
            })
            .collect(),
    ))
}

/// The labels `absent()` gives its output: the selector's equality matchers, except names
/// matched twice.
fn absent_labels(expr: &Expr) -> Labels {
    let vs = match unwrap_parens(expr) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Labels::empty(),
    };
    let Ok(sets) = matcher_sets(vs) else {
        return Labels::empty();
    };
    let mut labels = Labels::empty();
    let mut seen: Vec<String> = Vec::new();
    if let Some(set) = sets.first() {
        for m in set {
            if m.name == crate::storage::METRIC_NAME {
                continue;
            }
            if m.op == MatchOp::Equal && !seen.contains(&m.name) {
                labels.set(&m.name, &m.value);
                seen.push(m.name.clone());
            } else {
                labels.remove(&m.name);
            }
        }
    }
    labels
}

/// `start_timestamp(v)`: the start timestamp (s) of each sample a plain selector picks, 0
/// where it has none. Only a selector carries them: for any other expression the result is
/// empty, as in Prometheus.
fn start_timestamp(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Val, PromqlError> {
    let Some(arg) = args.first() else {
        return Err(PromqlError::Execution("start_timestamp needs a vector argument".into()));
    };
    let Expr::VectorSelector(vs) = unwrap_parens(arg) else {
        let _ = vector_arg(ev, args, 0, ts)?;
        return Ok(Val::Vector(Vec::new()));
    };
    let out = ev
        .select_vector_start_timestamps(vs, ts)?
        .into_iter()
        .map(|(sample, st)| Sample {
            metric: sample.metric,
            t: ts,
            f: st as f64 / 1000.0,
            drop_name: true,
        })
        .collect();
    Ok(Val::Vector(out))
}

fn absent(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Val, PromqlError> {
    let vec = vector_arg(ev, args, 0, ts)?;
    if !vec.is_empty() {
        return Ok(Val::Vector(Vec::new()));
    }
    let metric = args.first().map(|a| absent_labels(a)).unwrap_or_default();
    Ok(Val::Vector(vec![Sample {
        metric,
        t: ts,
        f: 1.0,
        drop_name: true,
    }]))
}

fn absent_over_time(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Val, PromqlError> {
    let m = matrix_arg(ev, args, 0, ts)?;
    if m.iter().any(|s| !s.points.is_empty()) {
        return Ok(Val::Vector(Vec::new()));
    }
    let metric = args.first().map(|a| absent_labels(a)).unwrap_or_default();
    Ok(Val::Vector(vec![Sample {
        metric,
        t: ts,
        f: 1.0,
        drop_name: true,
    }]))
}

fn range_call(ev: &mut Evaluator<'_>, name: &str, args: &[&Expr], ts: i64) -> Result<Val, PromqlError> {
    let mut scalars = Vec::new();
    let mut matrix_index = None;
    for (i, a) in args.iter().enumerate() {
        if a.value_type() == ValueType::Matrix && matrix_index.is_none() {
            matrix_index = Some(i);
        } else {
            scalars.push(scalar_arg(ev, args, i, ts)?);
        }
    }
    let Some(mi) = matrix_index else {
        return Err(PromqlError::Execution(format!("{name} needs a range vector argument")));
    };
    let Some(range_expr) = args.get(mi) else {
        return Err(PromqlError::Execution(format!("{name} needs a range vector argument")));
    };
    let extended = match unwrap_parens(range_expr) {
        Expr::MatrixSelector(ms) => ev.select_extended(ms, ts)?,
        _ => None,
    };
    let (range_start, range_end) = ev.range_window(range_expr, ts);
    if name == "quantile_over_time"
        && let Some(&q) = scalars.first()
    {
        histograms::warn_quantile(ev, q, args.first().copied());
    }
    let (modifier, matrix) = match extended {
        Some(sel) => (Some(sel.modifier), sel.series),
        None => (None, matrix_arg(ev, args, mi, ts)?),
    };
    let keeps_name = matches!(name, "last_over_time" | "first_over_time");
    let check_counter = matches!(name, "rate" | "increase") && matches!(range_expr, Expr::MatrixSelector(_));
    let mut out = Vec::with_capacity(matrix.len());
    for series in matrix {
        let window = range::RangeWindow {
            points: &series.points,
            // Prometheus reads start timestamps only for plain range selectors.
            start_timestamps: if modifier.is_none() {
                &series.start_timestamps
            } else {
                &[]
            },
            range_start,
            range_end,
        };
        if modifier.is_none()
            && matches!(name, "rate" | "increase")
            && start_time::any_overlap(&series.points, &series.start_timestamps)
        {
            let metric_name = series.metric.metric_name().unwrap_or_default();
            ev.warn_at(
                format!(
                    "PromQL warning: sample has start time that overlaps with previous sample timestamp for metric {metric_name:?}"
                ),
                *range_expr,
            );
        }
        let value = match modifier {
            Some(m) => extended_range::call(name, m, window),
            None => range::call_at(name, window, &scalars, ts).map_err(PromqlError::Execution)?,
        };
        if let Some(f) = value {
            if check_counter
                && let Some(metric_name) = series.metric.metric_name()
                && !["_total", "_sum", "_count", "_bucket"]
                    .iter()
                    .any(|sfx| metric_name.ends_with(sfx))
            {
                ev.info_at(
                    format!(
                        "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric_name:?}"
                    ),
                    *range_expr,
                );
            }
            out.push(Sample {
                metric: series.metric,
                t: ts,
                f,
                drop_name: series.drop_name || !keeps_name,
            });
        }
    }
    Ok(Val::Vector(out))
}

fn elementwise_call(ev: &mut Evaluator<'_>, name: &str, args: &[&Expr], ts: i64) -> Result<Val, PromqlError> {
    let mut vector: Option<Vec<Sample>> = None;
    let mut scalars = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if a.value_type() == ValueType::Vector && vector.is_none() {
            vector = Some(vector_arg(ev, args, i, ts)?);
        } else {
            scalars.push(scalar_arg(ev, args, i, ts)?);
        }
    }
    let vector = match vector {
        Some(v) => v,
        // Calendar functions without an argument read `vector(time())`.
        None => vec![Sample {
            metric: Labels::empty(),
            t: ts,
            f: ts as f64 / 1000.0,
            drop_name: false,
        }],
    };
    let mut out = Vec::with_capacity(vector.len());
    for s in vector {
        if let Some(f) = math::call(name, s.f, &scalars) {
            out.push(Sample {
                metric: s.metric,
                t: ts,
                f,
                drop_name: true,
            });
        }
    }
    Ok(Val::Vector(out))
}

/// Go's `strconv.ParseFloat` for the forms bucket bounds use (`+Inf`, `1e3`, `0x10`…).
pub fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "+inf" | "inf" | "+infinity" | "infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if t.is_empty() || t != s {
        return None;
    }
    t.replace('_', "").parse::<f64>().ok()
}

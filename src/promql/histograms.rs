//! Classic-histogram functions over `le` bucket series: grouping, annotations and the calls
//! into `functions::histogram`.

use crate::promql::PromqlError;
use crate::promql::call::{parse_go_float, scalar_arg, string_arg, vector_arg};
use crate::promql::eval::Evaluator;
use crate::promql::functions::histogram;
use crate::promql::types::{Sample, Val};
use crate::storage::Labels;
use promql_parser::parser::Expr;

/// Groups classic bucket series (`le` label) into histograms, warning about bad `le` values.
fn group_buckets(
    ev: &mut Evaluator<'_>,
    input: Vec<Sample>,
    node: Option<&Expr>,
) -> Vec<(Labels, Vec<histogram::Bucket>)> {
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: std::collections::HashMap<Labels, Vec<histogram::Bucket>> = std::collections::HashMap::new();
    for s in input {
        let le = s.metric.get("le").unwrap_or("");
        let Some(upper_bound) = parse_go_float(le) else {
            let mut msg = format!("PromQL warning: bucket label \"le\" is missing or has a malformed value of {le:?}");
            if let Some(name) = s.metric.metric_name() {
                msg.push_str(&format!(" for metric name {name:?}"));
            }
            annotate_warn(ev, msg, node);
            continue;
        };
        let mut key = s.metric.clone();
        key.remove("le");
        let entry = groups.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            Vec::new()
        });
        entry.push(histogram::Bucket {
            upper_bound,
            count: s.f,
        });
    }
    order
        .into_iter()
        .filter_map(|key| groups.remove(&key).map(|b| (key, b)))
        .collect()
}

pub fn warn_quantile(ev: &mut Evaluator<'_>, q: f64, node: Option<&Expr>) {
    if q.is_nan() || !(0.0..=1.0).contains(&q) {
        let msg = format!(
            "PromQL warning: quantile value should be between 0 and 1, got {}",
            crate::promql::format_go_float(q)
        );
        annotate_warn(ev, msg, node);
    }
}

fn quantile_of(
    ev: &mut Evaluator<'_>,
    q: f64,
    metric: &Labels,
    buckets: &mut Vec<histogram::Bucket>,
    node: Option<&Expr>,
) -> f64 {
    let (f, notes) = histogram::bucket_quantile(q, buckets);
    if notes.forced_monotonicity {
        let mut msg = "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".to_string();
        if let Some(name) = metric.metric_name() {
            msg.push_str(&format!(" for metric name {name:?}"));
        }
        match node {
            Some(n) => ev.info_at(msg, n),
            None => ev.annotations.info(msg),
        }
    }
    f
}

pub fn histogram_quantile(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Val, PromqlError> {
    let q = scalar_arg(ev, args, 0, ts)?;
    let input = vector_arg(ev, args, 1, ts)?;
    warn_quantile(ev, q, args.first().copied());
    let mut out = Vec::new();
    for (metric, mut buckets) in group_buckets(ev, input, args.get(1).copied()) {
        let f = quantile_of(ev, q, &metric, &mut buckets, args.get(1).copied());
        out.push(Sample {
            metric,
            t: ts,
            f,
            drop_name: true,
        });
    }
    Ok(Val::Vector(out))
}

pub fn histogram_quantiles(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Val, PromqlError> {
    let input = vector_arg(ev, args, 0, ts)?;
    let label = string_arg(args, 1)?;
    let mut qs = Vec::new();
    for i in 2..args.len() {
        let q = scalar_arg(ev, args, i, ts)?;
        warn_quantile(ev, q, args.get(i).copied());
        qs.push(q);
    }
    let groups = group_buckets(ev, input, args.first().copied());
    let mut out = Vec::new();
    for q in qs {
        for (metric, buckets) in &groups {
            let mut buckets = buckets.clone();
            let f = quantile_of(ev, q, metric, &mut buckets, args.first().copied());
            let mut metric = metric.clone();
            metric.set(&label, &format_open_metrics_float(q));
            out.push(Sample {
                metric,
                t: ts,
                f,
                drop_name: true,
            });
        }
    }
    Ok(Val::Vector(out))
}

pub fn histogram_fraction(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Val, PromqlError> {
    let lower = scalar_arg(ev, args, 0, ts)?;
    let upper = scalar_arg(ev, args, 1, ts)?;
    let input = vector_arg(ev, args, 2, ts)?;
    let mut out = Vec::new();
    for (metric, mut buckets) in group_buckets(ev, input, args.get(2).copied()) {
        let f = histogram::bucket_fraction(lower, upper, &mut buckets);
        out.push(Sample {
            metric,
            t: ts,
            f,
            drop_name: true,
        });
    }
    Ok(Val::Vector(out))
}

/// Prometheus' `FormatOpenMetricsFloat`: Go formatting with `.0` added to integers.
fn format_open_metrics_float(f: f64) -> String {
    let s = crate::promql::format_go_float(f);
    if s.contains('.') || s.contains('e') || s.contains("Inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

fn annotate_warn(ev: &mut Evaluator<'_>, msg: String, node: Option<&Expr>) {
    match node {
        Some(n) => ev.warn_at(msg, n),
        None => ev.annotations.warn(msg),
    }
}

//! Binary operators: scalar/scalar, vector/scalar and vector/vector with Prometheus' vector
//! matching (`on`, `ignoring`, `group_left`, `group_right`, `fill*`) and set operators.

use crate::promql::PromqlError;
use crate::promql::eval::Evaluator;
use crate::promql::types::{Sample, Val};
use crate::storage::{Label, Labels, METRIC_NAME};
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};
use std::collections::{HashMap, HashSet};

/// How two vectors are matched, resolved from the parser's modifier.
struct Matching {
    card: Card,
    on: bool,
    names: Vec<String>,
    include: Vec<String>,
    fill_lhs: Option<f64>,
    fill_rhs: Option<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Card {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

pub(super) fn is_set_op(op: &str) -> bool {
    matches!(op, "and" | "or" | "unless")
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

/// Arithmetic operators change what a value means, so they drop the metric name.
fn changes_metric_schema(op: &str) -> bool {
    matches!(op, "+" | "-" | "*" | "/" | "^" | "%" | "atan2")
}

fn matching_of(b: &BinaryExpr, op: &str) -> Matching {
    let mut m = Matching {
        card: if is_set_op(op) {
            Card::ManyToMany
        } else {
            Card::OneToOne
        },
        on: false,
        names: Vec::new(),
        include: Vec::new(),
        fill_lhs: None,
        fill_rhs: None,
    };
    if let Some(modifier) = &b.modifier {
        m.card = match &modifier.card {
            VectorMatchCardinality::OneToOne => m.card,
            VectorMatchCardinality::ManyToOne(ls) => {
                m.include = ls.labels.clone();
                Card::ManyToOne
            }
            VectorMatchCardinality::OneToMany(ls) => {
                m.include = ls.labels.clone();
                Card::OneToMany
            }
            VectorMatchCardinality::ManyToMany => Card::ManyToMany,
        };
        match &modifier.matching {
            Some(LabelModifier::Include(ls)) => {
                m.on = true;
                m.names = ls.labels.clone();
            }
            Some(LabelModifier::Exclude(ls)) => m.names = ls.labels.clone(),
            None => {}
        }
        m.fill_lhs = modifier.fill_values.lhs;
        m.fill_rhs = modifier.fill_values.rhs;
    }
    m
}

pub(super) fn return_bool(b: &BinaryExpr) -> bool {
    b.modifier.as_ref().is_some_and(|m| m.return_bool)
}

pub fn eval(ev: &mut Evaluator<'_>, b: &BinaryExpr, ts: i64) -> Result<Val, PromqlError> {
    let op = b.op.to_string().to_lowercase();
    let lhs = ev.eval(&b.lhs, ts)?;
    let rhs = ev.eval(&b.rhs, ts)?;
    let rb = return_bool(b);
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(scalar_binop(&op, l, r))),
        (Val::Vector(l), Val::Scalar(r)) => Ok(Val::Vector(vector_scalar(&op, l, r, false, rb))),
        (Val::Scalar(l), Val::Vector(r)) => Ok(Val::Vector(vector_scalar(&op, r, l, true, rb))),
        (Val::Vector(l), Val::Vector(r)) => {
            let matching = matching_of(b, &op);
            match op.as_str() {
                "and" => Ok(Val::Vector(vector_and(l, r, &matching))),
                "or" => Ok(Val::Vector(vector_or(l, r, &matching))),
                "unless" => Ok(Val::Vector(vector_unless(l, r, &matching))),
                _ => Ok(Val::Vector(vector_binop(&op, l, r, &matching, rb)?)),
            }
        }
        (l, r) => Err(PromqlError::Execution(format!(
            "binary expression must contain only scalar and instant vector types, got {} and {}",
            l.type_name(),
            r.type_name()
        ))),
    }
}

fn btos(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

pub fn scalar_binop(op: &str, l: f64, r: f64) -> f64 {
    match op {
        "+" => l + r,
        "-" => l - r,
        "*" => l * r,
        "/" => l / r,
        "^" => l.powf(r),
        "%" => l % r,
        "atan2" => l.atan2(r),
        "==" => btos(l == r),
        "!=" => btos(l != r),
        ">" => btos(l > r),
        "<" => btos(l < r),
        ">=" => btos(l >= r),
        "<=" => btos(l <= r),
        _ => f64::NAN,
    }
}

/// The element operation: the value and whether a comparison keeps the element.
fn elem_binop(op: &str, l: f64, r: f64) -> (f64, bool) {
    match op {
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        _ => (scalar_binop(op, l, r), true),
    }
}

fn vector_scalar(op: &str, vec: Vec<Sample>, scalar: f64, swap: bool, rb: bool) -> Vec<Sample> {
    let mut out = Vec::with_capacity(vec.len());
    let drops_name = vector_scalar_drops_name(op, rb);
    for mut s in vec {
        if let Some(value) = vector_scalar_value(op, s.f, scalar, swap, rb) {
            s.f = value;
            s.drop_name |= drops_name;
            out.push(s);
        }
    }
    out
}

/// One sample of `vector op scalar` (`scalar op vector` when `swap`): its new value, or
/// `None` when a comparison filters it out.
pub(super) fn vector_scalar_value(op: &str, f: f64, scalar: f64, swap: bool, rb: bool) -> Option<f64> {
    let (l, r) = if swap { (scalar, f) } else { (f, scalar) };
    let (mut value, keep) = elem_binop(op, l, r);
    if is_comparison(op) && swap {
        value = r;
    }
    if rb {
        value = btos(keep);
    }
    (keep || rb).then_some(value)
}

/// Whether `vector op scalar` marks its samples for name removal.
pub(super) fn vector_scalar_drops_name(op: &str, rb: bool) -> bool {
    changes_metric_schema(op) || rb
}

/// The label subset two sides are matched on.
fn signature(metric: &Labels, m: &Matching) -> Labels {
    let kept: Vec<Label> = metric
        .iter()
        .filter(|l| {
            if m.on {
                m.names.iter().any(|n| n == &l.name)
            } else {
                l.name != METRIC_NAME && !m.names.iter().any(|n| n == &l.name)
            }
        })
        .cloned()
        .collect();
    Labels::from_sorted(kept)
}

fn vector_and(lhs: Vec<Sample>, rhs: Vec<Sample>, m: &Matching) -> Vec<Sample> {
    if lhs.is_empty() || rhs.is_empty() {
        return Vec::new();
    }
    let right: HashSet<Labels> = rhs.iter().map(|s| signature(&s.metric, m)).collect();
    lhs.into_iter()
        .filter(|s| right.contains(&signature(&s.metric, m)))
        .collect()
}

fn vector_or(lhs: Vec<Sample>, rhs: Vec<Sample>, m: &Matching) -> Vec<Sample> {
    if lhs.is_empty() {
        return rhs;
    }
    if rhs.is_empty() {
        return lhs;
    }
    let left: HashSet<Labels> = lhs.iter().map(|s| signature(&s.metric, m)).collect();
    let mut out = lhs;
    out.extend(rhs.into_iter().filter(|s| !left.contains(&signature(&s.metric, m))));
    out
}

fn vector_unless(lhs: Vec<Sample>, rhs: Vec<Sample>, m: &Matching) -> Vec<Sample> {
    if lhs.is_empty() || rhs.is_empty() {
        return lhs;
    }
    let right: HashSet<Labels> = rhs.iter().map(|s| signature(&s.metric, m)).collect();
    lhs.into_iter()
        .filter(|s| !right.contains(&signature(&s.metric, m)))
        .collect()
}

/// `MatchLabels` of Prometheus: the matched subset, used in error texts and fill samples.
fn match_labels(metric: &Labels, m: &Matching) -> Labels {
    signature(metric, m)
}

fn result_metric(ls: &Labels, rs: &Labels, op: &str, m: &Matching) -> Labels {
    let mut labels = ls.clone();
    if changes_metric_schema(op) {
        labels.remove(METRIC_NAME);
        labels.remove("__type__");
        labels.remove("__unit__");
    }
    if m.card == Card::OneToOne {
        if m.on {
            let kept: Vec<Label> = labels
                .iter()
                .filter(|l| m.names.iter().any(|n| n == &l.name))
                .cloned()
                .collect();
            labels = Labels::from_sorted(kept);
        } else {
            for n in &m.names {
                labels.remove(n);
            }
        }
    }
    for name in &m.include {
        match rs.get(name) {
            Some(v) if !v.is_empty() => {
                let v = v.to_string();
                labels.set(name, &v);
            }
            _ => labels.remove(name),
        }
    }
    labels
}

/// Match signatures already used, to detect ambiguous matches.
#[derive(Default)]
struct Matched {
    one: HashSet<Labels>,
    many: HashMap<Labels, HashSet<Labels>>,
}

fn vector_binop(
    op: &str,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    m: &Matching,
    rb: bool,
) -> Result<Vec<Sample>, PromqlError> {
    if (lhs.is_empty() && rhs.is_empty())
        || ((lhs.is_empty() || rhs.is_empty()) && m.fill_lhs.is_none() && m.fill_rhs.is_none())
    {
        return Ok(Vec::new());
    }
    let swapped = m.card == Card::OneToMany;
    let (lhs, rhs) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    // Prometheus applies the fill values to the sides as swapped for `group_right`.
    let (fill_for_missing_rhs, fill_for_missing_lhs) = (m.fill_rhs, m.fill_lhs);

    let mut right: HashMap<Labels, Sample> = HashMap::new();
    for rs in &rhs {
        let sig = signature(&rs.metric, m);
        if let Some(dup) = right.get(&sig) {
            let side = if swapped { "left" } else { "right" };
            let (mut d1, mut d2) = (rs.metric.to_string(), dup.metric.to_string());
            if d1 > d2 {
                std::mem::swap(&mut d1, &mut d2);
            }
            return Err(PromqlError::Execution(format!(
                "found duplicate series for the match group {} on the {side} hand-side of the operation: [{d1}, {d2}];many-to-many matching not allowed: matching labels must be unique on one side",
                match_labels(&rs.metric, m)
            )));
        }
        right.insert(sig, rs.clone());
    }

    let mut out = Vec::new();
    let mut matched = Matched::default();

    let do_op = |ls: &Sample,
                 rs: &Sample,
                 sig: &Labels,
                 out: &mut Vec<Sample>,
                 matched: &mut Matched|
     -> Result<(), PromqlError> {
        let (fl, fr) = if swapped { (rs.f, ls.f) } else { (ls.f, rs.f) };
        let (mut value, keep) = elem_binop(op, fl, fr);
        if rb {
            value = btos(keep);
        }
        let metric = result_metric(&ls.metric, &rs.metric, op, m);
        if m.card == Card::OneToOne {
            if !matched.one.insert(sig.clone()) {
                return Err(PromqlError::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                        .into(),
                ));
            }
        } else if !matched.many.entry(sig.clone()).or_default().insert(metric.clone()) {
            return Err(PromqlError::Execution(
                "multiple matches for labels: grouping labels must ensure unique matches".into(),
            ));
        }
        if !keep && !rb {
            return Ok(());
        }
        out.push(Sample {
            metric,
            t: ls.t,
            f: value,
            drop_name: rb,
        });
        Ok(())
    };

    for ls in &lhs {
        let sig = signature(&ls.metric, m);
        let rs = match right.get(&sig) {
            Some(rs) => rs.clone(),
            None => match fill_for_missing_rhs {
                Some(fill) => Sample {
                    metric: match_labels(&ls.metric, m),
                    t: ls.t,
                    f: fill,
                    drop_name: false,
                },
                None => continue,
            },
        };
        do_op(ls, &rs, &sig, &mut out, &mut matched)?;
    }
    if let Some(fill) = fill_for_missing_lhs {
        for rs in &rhs {
            let sig = signature(&rs.metric, m);
            let already = if m.card == Card::OneToOne {
                matched.one.contains(&sig)
            } else {
                matched.many.get(&sig).is_some_and(|s| !s.is_empty())
            };
            if already {
                continue;
            }
            let ls = Sample {
                metric: match_labels(&rs.metric, m),
                t: rs.t,
                f: fill,
                drop_name: false,
            };
            do_op(&ls, rs, &sig, &mut out, &mut matched)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_filter_and_arithmetic_follows_ieee() {
        assert_eq!(elem_binop(">", 2.0, 1.0), (2.0, true));
        assert_eq!(elem_binop("<", 2.0, 1.0), (2.0, false));
        assert_eq!(scalar_binop("%", -7.0, 3.0), -1.0);
        assert!(scalar_binop("/", 0.0, 0.0).is_nan());
        assert_eq!(scalar_binop("^", 2.0, 10.0), 1024.0);
    }
}

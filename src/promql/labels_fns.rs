//! Functions over labels and whole vectors: `label_replace`, `label_join`, `sort*`.

use crate::promql::PromqlError;
use crate::promql::call::{string_arg, vector_arg};
use crate::promql::eval::Evaluator;
use crate::promql::types::{Sample, Val};
use crate::storage::{Labels, METRIC_NAME};
use promql_parser::parser::Expr;
use std::cmp::Ordering;
use std::collections::HashSet;

pub const DUPLICATE_LABELSET: &str = "vector cannot contain metrics with the same labelset";

fn check_unique(vec: &[Sample]) -> Result<(), PromqlError> {
    let mut seen: HashSet<&Labels> = HashSet::with_capacity(vec.len());
    for s in vec {
        if !seen.insert(&s.metric) {
            return Err(PromqlError::Execution(DUPLICATE_LABELSET.into()));
        }
    }
    Ok(())
}

pub fn label_replace(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Val, PromqlError> {
    let dst = string_arg(args, 1)?;
    let repl = string_arg(args, 2)?;
    let src = string_arg(args, 3)?;
    let pattern = string_arg(args, 4)?;
    let regex = regex::Regex::new(&format!("^(?s:{pattern})$"))
        .map_err(|_| PromqlError::Execution(format!("invalid regular expression in label_replace(): {pattern}")))?;
    if dst.is_empty() {
        return Err(PromqlError::Execution(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let mut vec = vector_arg(ev, args, 0, ts)?;
    for s in &mut vec {
        let value = s.metric.get(&src).unwrap_or("").to_string();
        if let Some(caps) = regex.captures(&value) {
            let mut expanded = String::new();
            caps.expand(&repl, &mut expanded);
            s.metric.set(&dst, &expanded);
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
    }
    check_unique(&vec)?;
    Ok(Val::Vector(vec))
}

pub fn label_join(ev: &mut Evaluator<'_>, args: &[&Expr], ts: i64) -> Result<Val, PromqlError> {
    let dst = string_arg(args, 1)?;
    let sep = string_arg(args, 2)?;
    let mut srcs = Vec::new();
    for i in 3..args.len() {
        let src = string_arg(args, i)?;
        if src.is_empty() {
            return Err(PromqlError::Execution(format!(
                "invalid source label name in label_join(): {src}"
            )));
        }
        srcs.push(src);
    }
    if dst.is_empty() {
        return Err(PromqlError::Execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let mut vec = vector_arg(ev, args, 0, ts)?;
    for s in &mut vec {
        let joined: Vec<&str> = srcs.iter().map(|n| s.metric.get(n).unwrap_or("")).collect();
        let value = joined.join(&sep);
        s.metric.set(&dst, &value);
        if dst == METRIC_NAME {
            s.drop_name = false;
        }
    }
    check_unique(&vec)?;
    Ok(Val::Vector(vec))
}

pub fn sort_by_value(ev: &mut Evaluator<'_>, name: &str, args: &[&Expr], ts: i64) -> Result<Val, PromqlError> {
    let mut vec = vector_arg(ev, args, 0, ts)?;
    let descending = name == "sort_desc";
    vec.sort_by(|a, b| match (a.f.is_nan(), b.f.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => {
            let o = a.f.partial_cmp(&b.f).unwrap_or(Ordering::Equal);
            if descending { o.reverse() } else { o }
        }
    });
    Ok(Val::Vector(vec))
}

pub fn sort_by_label(ev: &mut Evaluator<'_>, name: &str, args: &[&Expr], ts: i64) -> Result<Val, PromqlError> {
    let mut names = Vec::new();
    for i in 1..args.len() {
        names.push(string_arg(args, i)?);
    }
    let descending = name == "sort_by_label_desc";
    let mut vec = vector_arg(ev, args, 0, ts)?;
    vec.sort_by(|a, b| {
        for n in &names {
            let la = a.metric.get(n).unwrap_or("");
            let lb = b.metric.get(n).unwrap_or("");
            if la == lb {
                continue;
            }
            let o = natural_cmp(la, lb);
            return if descending { o.reverse() } else { o };
        }
        let o = a.metric.cmp(&b.metric);
        if descending { o.reverse() } else { o }
    });
    Ok(Val::Vector(vec))
}

/// Splits into runs of digits and non-digits.
fn chunks(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev_digit: Option<bool> = None;
    for (i, c) in s.char_indices() {
        let d = c.is_ascii_digit();
        if let Some(p) = prev_digit
            && p != d
        {
            out.push(&s[start..i]);
            start = i;
        }
        prev_digit = Some(d);
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// Natural ordering: digit runs compare as numbers, other runs as strings.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let ca = chunks(a);
    let cb = chunks(b);
    for (x, y) in ca.iter().zip(cb.iter()) {
        if x == y {
            continue;
        }
        let xd = x.chars().all(|c| c.is_ascii_digit());
        let yd = y.chars().all(|c| c.is_ascii_digit());
        if xd && yd {
            let xt = x.trim_start_matches('0');
            let yt = y.trim_start_matches('0');
            let o = xt.len().cmp(&yt.len()).then_with(|| xt.cmp(yt));
            if o != Ordering::Equal {
                return o;
            }
            continue;
        }
        return x.cmp(y);
    }
    ca.len().cmp(&cb.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_digit_runs_as_numbers() {
        assert_eq!(natural_cmp("a2", "a10"), Ordering::Less);
        assert_eq!(natural_cmp("b1", "a10"), Ordering::Greater);
        assert_eq!(natural_cmp("x", "x1"), Ordering::Less);
    }
}

//! `info(v, [selector])`: enriches series with the data labels of info metrics
//! (`target_info` by default) that share their identifying labels (`instance`, `job`).

use crate::promql::PromqlError;
use crate::promql::call::vector_arg;
use crate::promql::eval::Evaluator;
use crate::promql::plan::{QueryTimes, at_ms, convert_matcher, offset_ms};
use crate::promql::types::{Sample, Val};
use crate::storage::model::is_stale_nan;
use crate::storage::{LabelMatcher, Labels, METRIC_NAME, MatchOp};
use promql_parser::parser::{Call, Expr};
use std::collections::{BTreeMap, HashMap};

const TARGET_INFO: &str = "target_info";

/// A matcher added to `info()`'s label selector before parsing when all its matchers accept
/// the empty value (`{data=~".*"}`), which Prometheus allows there but `promql-parser`
/// refuses for any selector. It is dropped again when the selector is read.
pub const PLACEHOLDER_LABEL: &str = "__heimsight_info_placeholder__";

/// Inserts [`PLACEHOLDER_LABEL`] into the label selector argument of every `info(` call.
pub fn rewrite_selector_argument(query: &str) -> Option<String> {
    let mut out = String::with_capacity(query.len() + 64);
    let mut rest = query;
    let mut changed = false;
    while let Some(pos) = rest.find("info(") {
        let boundary_ok = rest[..pos]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'));
        let (head, tail) = rest.split_at(pos + "info(".len());
        out.push_str(head);
        rest = tail;
        if !boundary_ok {
            continue;
        }
        // Find the top-level comma of this call, then a `{` right after it.
        let mut depth = 0i32;
        let mut quote: Option<char> = None;
        let mut comma = None;
        for (i, c) in rest.char_indices() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '"' | '\'' | '`' => quote = Some(c),
                    '(' | '[' | '{' => depth += 1,
                    ')' | ']' | '}' if depth == 0 => break,
                    ')' | ']' | '}' => depth -= 1,
                    ',' if depth == 0 => {
                        comma = Some(i);
                        break;
                    }
                    _ => {}
                },
            }
        }
        let Some(comma) = comma else { continue };
        let after = &rest[comma + 1..];
        let trimmed = after.trim_start();
        if !trimmed.starts_with('{') {
            continue;
        }
        let brace = comma + 1 + (after.len() - trimmed.len());
        out.push_str(&rest[..=brace]);
        let inside = rest[brace + 1..].trim_start();
        out.push_str(PLACEHOLDER_LABEL);
        out.push_str("=~\".+\"");
        if !inside.starts_with('}') {
            out.push_str(", ");
        }
        rest = &rest[brace + 1..];
        changed = true;
    }
    out.push_str(rest);
    changed.then_some(out)
}
const IDENTIFYING_LABELS: [&str; 2] = ["instance", "job"];

pub fn call_key(call: &Call) -> usize {
    call as *const Call as usize
}

/// The `@` time and total offset of the first selector in the base expression, which the
/// info series are read at.
pub fn base_pin(call: &Call, times: &QueryTimes) -> (Option<i64>, i64) {
    fn walk(expr: &Expr, times: &QueryTimes, outer_offset: i64, outer_at: Option<i64>) -> Option<(Option<i64>, i64)> {
        match expr {
            Expr::VectorSelector(vs) => {
                let at = at_ms(&vs.at, times);
                let (at, offset) = match at {
                    Some(t) => (Some(t), offset_ms(&vs.offset)),
                    None => (outer_at, offset_ms(&vs.offset) + outer_offset),
                };
                Some((at, offset))
            }
            Expr::MatrixSelector(ms) => walk(&Expr::VectorSelector(ms.vs.clone()), times, outer_offset, outer_at),
            Expr::Subquery(sq) => walk(
                &sq.expr,
                times,
                outer_offset + offset_ms(&sq.offset),
                outer_at.or_else(|| at_ms(&sq.at, times)),
            ),
            Expr::Aggregate(a) => a
                .param
                .as_ref()
                .and_then(|p| walk(p, times, outer_offset, outer_at))
                .or_else(|| walk(&a.expr, times, outer_offset, outer_at)),
            Expr::Unary(u) => walk(&u.expr, times, outer_offset, outer_at),
            Expr::Binary(b) => {
                walk(&b.lhs, times, outer_offset, outer_at).or_else(|| walk(&b.rhs, times, outer_offset, outer_at))
            }
            Expr::Paren(p) => walk(&p.expr, times, outer_offset, outer_at),
            Expr::Call(c) => c.args.args.iter().find_map(|a| walk(a, times, outer_offset, outer_at)),
            _ => None,
        }
    }
    call.args
        .args
        .first()
        .and_then(|base| walk(base, times, 0, None))
        .unwrap_or((None, 0))
}

/// All matchers of the optional label selector argument.
fn data_matchers(call: &Call) -> Result<Vec<LabelMatcher>, PromqlError> {
    let Some(Expr::VectorSelector(vs)) = call.args.args.get(1).map(|a| a.as_ref()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    if let Some(name) = &vs.name {
        out.push(LabelMatcher::equal(METRIC_NAME, name.clone()));
    }
    for m in vs.matchers.matchers.iter().filter(|m| m.name != PLACEHOLDER_LABEL) {
        out.push(convert_matcher(m)?);
    }
    Ok(out)
}

/// Prometheus' `effectiveInfoNameMatchers`.
fn effective_name_matchers(name_matchers: Vec<LabelMatcher>) -> Result<Vec<LabelMatcher>, PromqlError> {
    if name_matchers
        .iter()
        .any(|m| matches!(m.op, MatchOp::Equal | MatchOp::RegexMatch))
    {
        return Ok(name_matchers);
    }
    if !name_matchers.is_empty() {
        let mut out = vec![
            LabelMatcher::new(METRIC_NAME, MatchOp::RegexMatch, ".+_info")
                .map_err(|e| PromqlError::Execution(e.to_string()))?,
        ];
        out.extend(name_matchers);
        return Ok(out);
    }
    Ok(vec![LabelMatcher::equal(METRIC_NAME, TARGET_INFO)])
}

/// The matchers the info series are fetched with (identifying labels are joined later).
pub fn fetch_matchers(call: &Call) -> Result<Vec<LabelMatcher>, PromqlError> {
    let (names, others): (Vec<LabelMatcher>, Vec<LabelMatcher>) =
        data_matchers(call)?.into_iter().partition(|m| m.name == METRIC_NAME);
    let mut out = others;
    out.extend(effective_name_matchers(names)?);
    Ok(out)
}

fn signature(info_name: &str, labels: &Labels) -> Labels {
    let mut sig = Labels::from_pairs(IDENTIFYING_LABELS.iter().filter_map(|n| labels.get(n).map(|v| (*n, v))));
    sig.set(METRIC_NAME, info_name);
    sig
}

pub fn eval(ev: &mut Evaluator<'_>, call: &Call, args: &[&Expr], ts: i64) -> Result<Val, PromqlError> {
    let base = vector_arg(ev, args, 0, ts)?;
    let all_data = data_matchers(call)?;
    let name_matchers = effective_name_matchers(all_data.iter().filter(|m| m.name == METRIC_NAME).cloned().collect())?;
    let data: Vec<LabelMatcher> = all_data.into_iter().filter(|m| m.name != METRIC_NAME).collect();
    let mut data_by_name: BTreeMap<String, Vec<LabelMatcher>> = BTreeMap::new();
    for m in &data {
        data_by_name.entry(m.name.clone()).or_default().push(m.clone());
    }

    let is_ignored = |s: &Sample| {
        let name = s.metric.metric_name().unwrap_or("");
        name_matchers.iter().all(|m| m.matches(name))
    };

    // Info samples at this time; the value kept is the sample's own timestamp.
    let (at, offset) = base_pin(call, &ev.times);
    let rt = at.unwrap_or(ts).saturating_sub(offset);
    let mut info_names: Vec<String> = Vec::new();
    let mut by_sig: HashMap<Labels, (Labels, i64)> = HashMap::new();
    for series in ev.data.get(&call_key(call)).map(|v| v.as_slice()).unwrap_or(&[]) {
        let name = series.labels.metric_name().unwrap_or("").to_string();
        if !info_names.contains(&name) {
            info_names.push(name.clone());
        }
        let idx = series.samples.partition_point(|(t, _)| *t <= rt);
        let Some(&(t, v)) = idx.checked_sub(1).and_then(|i| series.samples.get(i)) else {
            continue;
        };
        if t <= rt.saturating_sub(ev.times.lookback) || is_stale_nan(v) {
            continue;
        }
        let sig = signature(&name, &series.labels);
        match by_sig.get(&sig) {
            Some((existing, existing_t)) if *existing_t == t => {
                return Err(PromqlError::Execution(format!(
                    "found duplicate series for info metric: existing {existing} @ {existing_t}, new {} @ {t}",
                    series.labels
                )));
            }
            Some((_, existing_t)) if *existing_t > t => {}
            _ => {
                by_sig.insert(sig, (series.labels.clone(), t));
            }
        }
    }

    let mut out = Vec::with_capacity(base.len());
    for s in base {
        if is_ignored(&s) {
            out.push(s);
            continue;
        }
        let mut added = Labels::empty();
        let mut seen_any = false;
        for info_name in &info_names {
            let Some((info_labels, _)) = by_sig.get(&signature(info_name, &s.metric)) else {
                continue;
            };
            for l in info_labels {
                if l.name == METRIC_NAME || (!data_by_name.is_empty() && !data_by_name.contains_key(&l.name)) {
                    continue;
                }
                if let Some(v) = added.get(&l.name)
                    && v != l.value
                {
                    return Err(PromqlError::Execution(format!("conflicting label: {}", l.name)));
                }
                if s.metric.get(&l.name).is_some() {
                    continue;
                }
                added.set(&l.name, &l.value);
            }
            seen_any = true;
        }
        if !seen_any && !data.iter().all(|m| m.matches("")) {
            continue;
        }
        let mut metric = s.metric.clone();
        for l in &added {
            metric.set(&l.name, &l.value);
        }
        out.push(Sample { metric, ..s });
    }
    Ok(Val::Vector(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_goes_into_the_label_selector_argument_only() {
        assert_eq!(
            rewrite_selector_argument(r#"info(rate(m{a="b"}[5m]), {data=~".*"})"#).as_deref(),
            Some(r#"info(rate(m{a="b"}[5m]), {__heimsight_info_placeholder__=~".+", data=~".*"})"#)
        );
        assert_eq!(rewrite_selector_argument("info(metric)"), None);
        assert_eq!(rewrite_selector_argument("build_info(x, {a=\"\"})"), None);
    }
}

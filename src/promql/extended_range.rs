//! Prometheus 3's experimental `anchored` and `smoothed` selector modifiers
//! (`rate(x[5m] anchored)`, `increase(x[5m] smoothed)`, `x smoothed`).
//!
//! `promql-parser` lexes the keywords but its grammar refuses them. When a query fails to
//! parse, [`strip`] blanks each modifier out (keeping every other byte where it was, so
//! positions in annotations stay right) and the query is parsed again; [`detect`] then finds,
//! for each keyword, the selector it follows, by the selectors' source offsets. The result is
//! a side table keyed by selector address that the prefetch and the evaluator consult.

use crate::promql::PromqlError;
use crate::promql::functions::extended::{self, ExtendedWindow, Extension};
use crate::promql::plan::{RawSeries, selector_key};
use crate::promql::position::{self, Positions};
use crate::promql::types::{Sample, Series};
use promql_parser::parser::{Expr, VectorSelector};
use std::collections::HashMap;

/// The modifier of each modified selector, keyed by [`selector_key`].
pub type ExtendedSelectors = HashMap<usize, Extension>;

/// What a modified range selector read at one evaluation time.
pub struct ExtendedSelection {
    pub modifier: Extension,
    /// The nominal window `(start, end]` in ms.
    pub window: (i64, i64),
    /// Every series' points of the widened span around the window.
    pub series: Vec<Series>,
}

/// Functions an anchored range may feed (Prometheus' `AnchoredSafeFunctions`), sorted as
/// its error text lists them.
const ANCHORED_SAFE: [&str; 5] = ["changes", "delta", "increase", "rate", "resets"];
/// Functions a smoothed range may feed (`SmoothedSafeFunctions`).
const SMOOTHED_SAFE: [&str; 3] = ["delta", "increase", "rate"];

/// `query` with its modifier keywords blanked out; `None` when it has none.
pub fn strip(query: &str) -> Option<String> {
    let words = position::modifier_words(query);
    if words.is_empty() {
        return None;
    }
    let mut bytes = query.as_bytes().to_vec();
    for w in &words {
        for b in bytes.get_mut(w.start..w.start + w.len)? {
            *b = b' ';
        }
    }
    String::from_utf8(bytes).ok()
}

/// Matches each modifier keyword of `query` to the selector of `expr` it follows. Refuses,
/// as Prometheus' parser does, two modifiers on one selector and a modifier on a subquery.
pub fn detect(query: &str, expr: &Expr) -> Result<ExtendedSelectors, PromqlError> {
    let words = position::modifier_words(query);
    if words.is_empty() {
        return Ok(ExtendedSelectors::new());
    }
    let positions = position::locate(query, expr);
    let mut selectors: Vec<(usize, &VectorSelector)> = Vec::new();
    collect_selectors(expr, &positions, &mut selectors);
    selectors.sort_by_key(|(offset, _)| *offset);
    let mut out = ExtendedSelectors::new();
    for w in words {
        let Some(&(offset, vs)) = selectors.iter().rev().find(|(offset, _)| *offset < w.start) else {
            continue;
        };
        let at = position::line_col(query, offset);
        if w.after_subquery {
            return Err(parse_error(
                &at,
                &format!("{} modifier is not supported for subqueries", w.word),
            ));
        }
        let modifier = if w.word == "anchored" {
            Extension::Anchored
        } else {
            Extension::Smoothed
        };
        match out.insert(selector_key(vs), modifier) {
            Some(previous) if previous != modifier => {
                return Err(parse_error(
                    &at,
                    "anchored and smoothed modifiers cannot be used together",
                ));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn parse_error(at: &str, msg: &str) -> PromqlError {
    PromqlError::BadData(format!("{at}: parse error: {msg}"))
}

/// Every selector of `expr` with the source offset of its first token.
fn collect_selectors<'e>(expr: &'e Expr, positions: &Positions, out: &mut Vec<(usize, &'e VectorSelector)>) {
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match e {
            Expr::VectorSelector(vs) => {
                if let Some(off) = positions.offset_of(vs) {
                    out.push((off, vs));
                }
            }
            Expr::MatrixSelector(ms) => {
                if let Some(off) = positions.offset_of(&ms.vs) {
                    out.push((off, &ms.vs));
                }
            }
            Expr::Aggregate(a) => {
                stack.push(&a.expr);
                if let Some(p) = &a.param {
                    stack.push(p);
                }
            }
            Expr::Unary(u) => stack.push(&u.expr),
            Expr::Binary(b) => {
                stack.push(&b.lhs);
                stack.push(&b.rhs);
            }
            Expr::Paren(p) => stack.push(&p.expr),
            Expr::Subquery(s) => stack.push(&s.expr),
            Expr::Call(c) => stack.extend(c.args.args.iter().map(|a| a.as_ref())),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
    }
}

/// Prometheus' refusal of a range function the modifier's extra points would mislead.
pub fn check_function(name: &str, modifier: Extension) -> Result<(), PromqlError> {
    let (word, safe): (&str, &[&str]) = match modifier {
        Extension::Anchored => ("anchored", &ANCHORED_SAFE),
        Extension::Smoothed => ("smoothed", &SMOOTHED_SAFE),
    };
    if safe.contains(&name) {
        return Ok(());
    }
    Err(PromqlError::Execution(format!(
        "{word} modifier can only be used with: {} - not with {name}",
        safe.join(", ")
    )))
}

/// [`check_function`] for a call whose range argument is a modified selector.
pub fn check_call(extended: &ExtendedSelectors, name: &str, args: &[&Expr]) -> Result<(), PromqlError> {
    for arg in args {
        let mut expr = *arg;
        while let Expr::Paren(p) = expr {
            expr = &p.expr;
        }
        if let Expr::MatrixSelector(ms) = expr
            && let Some(modifier) = extended.get(&selector_key(&ms.vs))
        {
            check_function(name, *modifier)?;
        }
    }
    Ok(())
}

/// The time span `(mint, maxt]` of raw points a selector with `modifier` reads for the
/// window `(start, end]`: the lookback period before, and for smoothed also after.
pub fn fetch_span(modifier: Extension, start: i64, end: i64, lookback: i64) -> (i64, i64) {
    match modifier {
        Extension::Anchored => (start.saturating_sub(lookback), end),
        Extension::Smoothed => (start.saturating_sub(lookback), end.saturating_add(lookback)),
    }
}

/// Each series' non-stale points in `(mint, maxt]`, series without any left out.
pub fn select_points(list: &[RawSeries], mint: i64, maxt: i64) -> Vec<Series> {
    let mut out = Vec::new();
    for series in list {
        let points = series.points_in(mint, maxt);
        if !points.is_empty() {
            out.push(Series {
                metric: series.labels.clone(),
                points,
                start_timestamps: Vec::new(),
                drop_name: false,
            });
        }
    }
    out
}

/// A smoothed instant selector at reference time `rt`, reported at evaluation time `ts`.
pub fn smoothed_vector(list: &[RawSeries], rt: i64, ts: i64, lookback: i64) -> Vec<Sample> {
    let (mint, maxt) = fetch_span(Extension::Smoothed, rt, rt, lookback);
    select_points(list, mint, maxt)
        .into_iter()
        .filter_map(|s| {
            extended::smoothed_value(&s.points, rt).map(|f| Sample {
                metric: s.metric,
                t: ts,
                f,
                drop_name: false,
            })
        })
        .collect()
}

/// A range function over one series' extended window. `None`: no output for the series.
pub fn call(name: &str, modifier: Extension, window: ExtendedWindow<'_>) -> Option<f64> {
    let smoothed = modifier == Extension::Smoothed;
    match name {
        "rate" => extended::extended_rate(window, smoothed, true, true),
        "increase" => extended::extended_rate(window, smoothed, true, false),
        "delta" => extended::extended_rate(window, smoothed, false, false),
        "changes" | "resets" => {
            let points = extended::anchored_points(window)?;
            let inner = ExtendedWindow {
                points,
                start_timestamps: &[],
                ..window
            };
            crate::promql::functions::range::call(name, inner, &[]).ok().flatten()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modifiers(q: &str) -> Result<Vec<Extension>, PromqlError> {
        let stripped = strip(q).unwrap_or_else(|| q.to_string());
        let expr = promql_parser::parser::parse(&stripped).map_err(PromqlError::BadData)?;
        let found = detect(q, &expr)?;
        let mut v: Vec<Extension> = found.into_values().collect();
        v.sort_by_key(|m| *m == Extension::Smoothed);
        Ok(v)
    }

    #[test]
    fn strips_modifiers_after_selectors_only() {
        assert_eq!(strip("rate(x[5m] anchored)").as_deref(), Some("rate(x[5m]         )"));
        assert_eq!(
            strip("x offset -100 smoothed + 0").as_deref(),
            Some("x offset -100          + 0")
        );
        assert_eq!(strip("x @ start() smoothed").as_deref(), Some("x @ start()         "));
        assert_eq!(strip("foo + anchored"), None);
        assert_eq!(strip("x{a=\"anchored\"}"), None);
    }

    #[test]
    fn matches_modifiers_to_their_selectors() {
        assert_eq!(
            modifiers("rate(a[1m] anchored) + increase(b[1m] smoothed)").unwrap(),
            vec![Extension::Anchored, Extension::Smoothed]
        );
        assert_eq!(modifiers("metric smoothed").unwrap(), vec![Extension::Smoothed]);
        assert!(modifiers("rate(a[1m])").unwrap().is_empty());
    }

    #[test]
    fn refuses_functions_outside_the_safe_lists() {
        let err = check_function("deriv", Extension::Smoothed).unwrap_err().to_string();
        assert_eq!(
            err,
            "smoothed modifier can only be used with: delta, increase, rate - not with deriv"
        );
        assert!(check_function("resets", Extension::Anchored).is_ok());
        assert!(check_function("resets", Extension::Smoothed).is_err());
    }

    /// Series `m`: 0, 1, 2, … every minute from t=0 to 10m.
    fn run(q: &str, t: i64) -> Result<Vec<f64>, PromqlError> {
        use crate::promql::{Engine, EngineOptions, QueryOptions, Value};
        use crate::storage::Labels;
        use crate::storage::memory::MemorySeriesSet;
        use crate::storage::model::Sample as StoredSample;
        let mut store = MemorySeriesSet::new();
        store.add_samples(
            Labels::from_pairs([("__name__", "m")]),
            (0..=10).map(|i| StoredSample {
                t: i * 60_000,
                v: i as f64,
            }),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| PromqlError::Execution(e.to_string()))?;
        let engine = Engine::new(EngineOptions::default());
        let result = rt.block_on(engine.instant_query(&store, q, t, &QueryOptions::default()))?;
        match result.value {
            Value::Vector(v) => Ok(v.into_iter().map(|s| s.f).collect()),
            other => Err(PromqlError::Execution(format!("unexpected {other:?}"))),
        }
    }

    #[test]
    fn engine_evaluates_modified_selectors() {
        // Anchored: from the point at 0s (before the window (30s, 90s]) to the one at 60s.
        assert_eq!(run("increase(m[1m] anchored)", 90_000).unwrap(), vec![1.0]);
        // Smoothed: interpolated at 30s (0.5) and 90s (1.5); the latter needs the point at
        // 120s, after the evaluation time, so the prefetch must have read past it.
        assert_eq!(run("increase(m[1m] smoothed)", 90_000).unwrap(), vec![1.0]);
        assert_eq!(run("m smoothed", 90_000).unwrap(), vec![1.5]);
        assert_eq!(run("m offset 1m smoothed", 90_000).unwrap(), vec![0.5]);
        assert!(run("absent_over_time(m[1m] anchored)", 90_000).is_err());
        let err = run("deriv(m[1m] smoothed)", 90_000).unwrap_err().to_string();
        assert_eq!(
            err,
            "smoothed modifier can only be used with: delta, increase, rate - not with deriv"
        );
        let err = run("m[1m] anchored smoothed", 90_000).unwrap_err().to_string();
        assert_eq!(
            err,
            "1:1: parse error: anchored and smoothed modifiers cannot be used together"
        );
    }
}

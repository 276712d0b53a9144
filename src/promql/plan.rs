//! Walks the AST before evaluation, works out which time range every selector needs (offset,
//! `@`, lookback, subquery ranges, the query's own span) and fetches all of it from storage.
//! Evaluation afterwards is synchronous over the fetched data.

use crate::promql::PromqlError;
use crate::promql::extended_range::{ExtendedSelectors, fetch_span};
use crate::promql::functions::extended::Extension;
use crate::storage::{LabelMatcher, Labels, MatchOp, SeriesQuerier, StartTimestamp};
use promql_parser::label::{MatchOp as ParserOp, Matcher};
use promql_parser::parser::{AtModifier, Expr, Offset, VectorSelector};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

/// The raw points of one selected series, stale markers included (they end a series).
#[derive(Clone, Debug)]
pub struct RawSeries {
    pub labels: Labels,
    pub samples: Vec<(i64, f64)>,
    /// Start timestamps of some samples, ascending by `t`; empty for most series.
    pub start_timestamps: Vec<StartTimestamp>,
}

impl RawSeries {
    /// The non-stale points in `(mint, maxt]`: what a range selector sees.
    pub fn points_in(&self, mint: i64, maxt: i64) -> Vec<(i64, f64)> {
        let lo = self.samples.partition_point(|(t, _)| *t <= mint);
        let hi = self.samples.partition_point(|(t, _)| *t <= maxt);
        self.samples
            .get(lo..hi)
            .unwrap_or(&[])
            .iter()
            .filter(|(_, v)| !crate::storage::model::is_stale_nan(*v))
            .copied()
            .collect()
    }
}

/// Fetched series per selector, keyed by the selector's address in the AST.
pub type Fetched = HashMap<usize, Vec<RawSeries>>;

/// The query-wide times that `@ start()` / `@ end()` refer to.
#[derive(Clone, Copy, Debug)]
pub struct QueryTimes {
    pub start: i64,
    pub end: i64,
    /// The range query's step (0 for an instant query), for `step()`.
    pub step: i64,
    pub lookback: i64,
}

pub fn selector_key(vs: &VectorSelector) -> usize {
    vs as *const VectorSelector as usize
}

pub fn duration_ms(d: &Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub fn offset_ms(offset: &Option<Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(d),
        Some(Offset::Neg(d)) => -duration_ms(d),
    }
}

fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => duration_ms(&d),
        Err(e) => -duration_ms(&e.duration()),
    }
}

/// The fixed evaluation time an `@` modifier pins a node to, if any.
pub fn at_ms(at: &Option<AtModifier>, times: &QueryTimes) -> Option<i64> {
    match at {
        None => None,
        Some(AtModifier::Start) => Some(times.start),
        Some(AtModifier::End) => Some(times.end),
        Some(AtModifier::At(t)) => Some(system_time_ms(t)),
    }
}

/// Converts a parser matcher into the store's matcher.
pub fn convert_matcher(m: &Matcher) -> Result<LabelMatcher, PromqlError> {
    let op = match m.op {
        ParserOp::Equal => MatchOp::Equal,
        ParserOp::NotEqual => MatchOp::NotEqual,
        ParserOp::Re(_) => MatchOp::RegexMatch,
        ParserOp::NotRe(_) => MatchOp::RegexNoMatch,
    };
    LabelMatcher::new(m.name.clone(), op, m.value.clone()).map_err(|e| PromqlError::BadData(e.to_string()))
}

/// The matcher sets of a selector: one set normally, one per `or` alternative otherwise.
pub fn matcher_sets(vs: &VectorSelector) -> Result<Vec<Vec<LabelMatcher>>, PromqlError> {
    let name_matcher = vs
        .name
        .as_ref()
        .map(|n| LabelMatcher::equal(crate::storage::METRIC_NAME, n.clone()));
    let mut groups: Vec<Vec<&Matcher>> = Vec::new();
    if vs.matchers.or_matchers.is_empty() {
        groups.push(vs.matchers.matchers.iter().collect());
    } else {
        for alt in &vs.matchers.or_matchers {
            groups.push(alt.iter().chain(vs.matchers.matchers.iter()).collect());
        }
    }
    let mut sets = Vec::with_capacity(groups.len());
    for group in groups {
        let mut set = Vec::with_capacity(group.len() + 1);
        if let Some(n) = &name_matcher {
            set.push(n.clone());
        }
        for m in group {
            set.push(convert_matcher(m)?);
        }
        sets.push(set);
    }
    Ok(sets)
}

/// Series a node needs: matcher sets (one per `or` alternative), keyed by node address.
struct Need {
    key: usize,
    sets: Vec<Vec<LabelMatcher>>,
    mint: i64,
    maxt: i64,
}

/// Records the time range every selector of `expr` needs when `expr` is evaluated at times
/// in `[start, end]`.
fn collect(
    expr: &Expr,
    start: i64,
    end: i64,
    times: &QueryTimes,
    extended: &ExtendedSelectors,
    needs: &mut Vec<Need>,
) -> Result<(), PromqlError> {
    match expr {
        Expr::VectorSelector(vs) => {
            let (s, e) = pinned(&vs.at, &vs.offset, start, end, times);
            // A smoothed selector also interpolates towards the next point after `e`.
            let maxt = match extended.get(&selector_key(vs)) {
                Some(Extension::Smoothed) => e.saturating_add(times.lookback),
                _ => e,
            };
            needs.push(Need {
                key: selector_key(vs),
                sets: matcher_sets(vs)?,
                mint: s.saturating_sub(times.lookback),
                maxt,
            });
        }
        Expr::MatrixSelector(ms) => {
            let (s, e) = pinned(&ms.vs.at, &ms.vs.offset, start, end, times);
            let s = s.saturating_sub(duration_ms(&ms.range));
            let (mint, maxt) = match extended.get(&selector_key(&ms.vs)) {
                Some(m) => fetch_span(*m, s, e, times.lookback),
                None => (s, e),
            };
            needs.push(Need {
                key: selector_key(&ms.vs),
                sets: matcher_sets(&ms.vs)?,
                mint,
                maxt,
            });
        }
        Expr::Subquery(sq) => {
            let (s, e) = pinned(&sq.at, &sq.offset, start, end, times);
            collect(
                &sq.expr,
                s.saturating_sub(duration_ms(&sq.range)),
                e,
                times,
                extended,
                needs,
            )?;
        }
        Expr::Aggregate(agg) => {
            if let Some(p) = &agg.param {
                collect(p, start, end, times, extended, needs)?;
            }
            collect(&agg.expr, start, end, times, extended, needs)?;
        }
        Expr::Unary(u) => collect(&u.expr, start, end, times, extended, needs)?,
        Expr::Binary(b) => {
            collect(&b.lhs, start, end, times, extended, needs)?;
            collect(&b.rhs, start, end, times, extended, needs)?;
        }
        Expr::Paren(p) => collect(&p.expr, start, end, times, extended, needs)?,
        Expr::Call(c) => {
            if c.func.name == "info" {
                if let Some(base) = c.args.args.first() {
                    collect(base, start, end, times, extended, needs)?;
                }
                let (at, offset) = crate::promql::info::base_pin(c, times);
                let (s, e) = match at {
                    Some(t) => (t.saturating_sub(offset), t.saturating_sub(offset)),
                    None => (start.saturating_sub(offset), end.saturating_sub(offset)),
                };
                needs.push(Need {
                    key: crate::promql::info::call_key(c),
                    sets: vec![crate::promql::info::fetch_matchers(c)?],
                    mint: s.saturating_sub(times.lookback),
                    maxt: e,
                });
                return Ok(());
            }
            for a in &c.args.args {
                collect(a, start, end, times, extended, needs)?;
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
    Ok(())
}

fn pinned(at: &Option<AtModifier>, offset: &Option<Offset>, start: i64, end: i64, times: &QueryTimes) -> (i64, i64) {
    let off = offset_ms(offset);
    match at_ms(at, times) {
        Some(t) => (t.saturating_sub(off), t.saturating_sub(off)),
        None => (start.saturating_sub(off), end.saturating_sub(off)),
    }
}

/// Fetches every selector's series for a query evaluated over `[start, end]`.
pub async fn prefetch<Q: SeriesQuerier>(
    querier: &Q,
    expr: &Expr,
    times: &QueryTimes,
    extended: &ExtendedSelectors,
    max_samples: usize,
) -> Result<Fetched, PromqlError> {
    let mut needs = Vec::new();
    collect(expr, times.start, times.end, times, extended, &mut needs)?;
    let mut fetched = Fetched::new();
    let mut total: usize = 0;
    for need in needs {
        let mut list: Vec<RawSeries> = Vec::new();
        for set in need.sets {
            for series in querier.select(&set, need.mint, need.maxt).await? {
                // By value, so the conversion can reuse the allocation (same size and alignment).
                let samples: Vec<(i64, f64)> = series.samples.into_iter().map(|s| (s.t, s.v)).collect();
                total = total.saturating_add(samples.len());
                // Everything fetched is held until evaluation ends, so the raw points count
                // against the query's sample limit as they arrive.
                if total > max_samples {
                    return Err(PromqlError::Execution(crate::promql::TOO_MANY_SAMPLES.to_string()));
                }
                list.push(RawSeries {
                    labels: series.labels,
                    samples,
                    start_timestamps: series.start_timestamps,
                });
            }
        }
        // One matcher set comes back sorted and distinct; `or` alternatives are put in order,
        // a series matched twice keeping the later alternative's copy.
        if !list.is_sorted_by(|a, b| a.labels < b.labels) {
            let mut by_labels: BTreeMap<Labels, RawSeries> = BTreeMap::new();
            for series in list {
                by_labels.insert(series.labels.clone(), series);
            }
            list = by_labels.into_values().collect();
        }
        // The same selector node is reached once; merge defensively if it is not.
        fetched.entry(need.key).or_default().extend(list);
    }
    Ok(fetched)
}

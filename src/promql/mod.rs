//! The PromQL engine: a pure function of a storage reader. Parsing is `promql-parser`'s;
//! evaluation is ours. No HTTP here: `prom_api` turns results into Prometheus JSON.
//!
//! CONTRACT (skeleton): `prom_api` and the test-script runner code against this API.

mod aggregate;
mod binary;
mod call;
mod duration_expr;
mod eval;
mod extended_range;
pub mod functions;
mod histograms;
mod info;
mod labels_fns;
pub mod parse_error;
mod plan;
mod position;
mod range_eval;
mod types;

#[cfg(test)]
mod tests;
pub mod value;

pub use value::{InstantSample, QueryResult, RangeSeries, Value};

use crate::storage::{Labels, SeriesQuerier, StorageError};
use eval::Evaluator;
use plan::QueryTimes;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use types::Val;

/// Prometheus' error text when a query exceeds `--query.max-samples`.
pub const TOO_MANY_SAMPLES: &str = "query processing would load too many samples into memory in query execution";

/// Engine-wide limits and defaults (Prometheus' `--query.*` flags).
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Default lookback delta in ms (5m).
    pub lookback_delta_ms: i64,
    /// Maximum samples a query may hold in memory at once (`--query.max-samples`).
    pub max_samples: usize,
    /// Default evaluation timeout in ms (`--query.timeout`, 2m).
    pub timeout_ms: i64,
    /// Queries evaluated at once; later ones wait (`--query.max-concurrency`, 20). Each holds
    /// its fetched data and an evaluation thread, so this bounds memory and threads.
    pub max_concurrency: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            lookback_delta_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            timeout_ms: 2 * 60 * 1000,
            max_concurrency: 20,
        }
    }
}

/// Per-query overrides from the HTTP parameters.
#[derive(Clone, Debug, Default)]
pub struct QueryOptions {
    pub lookback_delta_ms: Option<i64>,
    pub timeout_ms: Option<i64>,
}

/// Errors as Prometheus classifies them; `prom_api` maps each to its `errorType` and status.
#[derive(Debug, thiserror::Error)]
pub enum PromqlError {
    /// Parse errors and bad arguments: `bad_data`, 400. The text is Prometheus' wording
    /// (e.g. `1:5: parse error: unclosed left parenthesis`).
    #[error("{0}")]
    BadData(String),
    /// Runtime errors (many-to-many matching, duplicate series, too many samples): `execution`, 422.
    #[error("{0}")]
    Execution(String),
    /// `query timed out in <stage>`: `timeout`, 503.
    #[error("{0}")]
    Timeout(String),
    #[error("query was canceled in {0}")]
    Canceled(String),
    /// Storage failures: `internal`, 500.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub struct Engine {
    options: EngineOptions,
    /// One permit per query being fetched or evaluated.
    active_queries: Arc<tokio::sync::Semaphore>,
}

impl Engine {
    pub fn new(options: EngineOptions) -> Self {
        let permits = options.max_concurrency.clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        Self {
            options,
            active_queries: Arc::new(tokio::sync::Semaphore::new(permits)),
        }
    }

    /// Waits for a free query slot; the permit is held until evaluation ends (also when the
    /// caller gives up, since the evaluation thread owns it).
    async fn query_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, PromqlError> {
        Arc::clone(&self.active_queries)
            .acquire_owned()
            .await
            .map_err(|_| PromqlError::Canceled("query queue".into()))
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Evaluates `query` at one instant (`ts_ms`).
    pub async fn instant_query<Q: SeriesQuerier>(
        &self,
        querier: &Q,
        query: &str,
        ts_ms: i64,
        opts: &QueryOptions,
    ) -> Result<QueryResult, PromqlError> {
        // Boxed before planning: plans and caches key AST nodes by address, and the box keeps
        // those addresses stable when the tree moves to the evaluation thread.
        let expr = Box::new(parse(
            query,
            duration_expr::DurationContext {
                step_s: 0.0,
                range_s: 0.0,
            },
        )?);
        let times = self.times(ts_ms, ts_ms, 0, opts);
        let deadline = self.deadline(opts);
        let extended = extended_range::detect(query, &expr)?;
        let slot = self.query_slot().await?;
        let data = plan::prefetch(querier, &expr, &times, &extended, self.options.max_samples).await?;
        let max_samples = self.options.max_samples;
        let query = query.to_string();
        evaluate_off_runtime(move || {
            let _slot = slot;
            let positions = position::locate(&query, &expr);
            let mut ev = Evaluator::new(&data, &extended, &positions, times, deadline, max_samples);
            let value = match ev.eval(&expr, ts_ms)? {
                Val::Scalar(v) => Value::Scalar { t: ts_ms, v },
                Val::Str(v) => Value::String { t: ts_ms, v },
                Val::Vector(vec) => Value::Vector(finish_vector(vec, ts_ms)?),
                Val::Matrix(mat) => Value::Matrix(finish_matrix(mat)?),
            };
            Ok(QueryResult {
                value,
                warnings: ev.annotations.warnings,
                infos: ev.annotations.infos,
            })
        })
        .await
    }

    /// Evaluates `query` at `start, start+step, … ≤ end`; the result is always a matrix.
    /// A range-vector or string expression is refused as Prometheus does.
    pub async fn range_query<Q: SeriesQuerier>(
        &self,
        querier: &Q,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        opts: &QueryOptions,
    ) -> Result<QueryResult, PromqlError> {
        self.range_query_with(querier, query, (start_ms, end_ms, step_ms), opts, true)
            .await
    }

    /// [`Engine::range_query`]; `whole_range` false forces step-by-step evaluation (tests
    /// compare the two).
    pub(crate) async fn range_query_with<Q: SeriesQuerier>(
        &self,
        querier: &Q,
        query: &str,
        (start_ms, end_ms, step_ms): (i64, i64, i64),
        opts: &QueryOptions,
        whole_range: bool,
    ) -> Result<QueryResult, PromqlError> {
        // Boxed before planning, as in `instant_query`.
        let expr = Box::new(parse(
            query,
            duration_expr::DurationContext {
                step_s: step_ms as f64 / 1000.0,
                range_s: end_ms.saturating_sub(start_ms) as f64 / 1000.0,
            },
        )?);
        match expr.value_type() {
            promql_parser::parser::value::ValueType::Matrix => {
                return Err(PromqlError::BadData(
                    "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector".into(),
                ));
            }
            promql_parser::parser::value::ValueType::String => {
                return Err(PromqlError::BadData(
                    "invalid expression type \"string\" for range query, must be Scalar or instant Vector".into(),
                ));
            }
            _ => {}
        }
        if step_ms <= 0 {
            return Err(PromqlError::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        let times = self.times(start_ms, end_ms, step_ms, opts);
        let deadline = self.deadline(opts);
        let extended = extended_range::detect(query, &expr)?;
        let slot = self.query_slot().await?;
        let data = plan::prefetch(querier, &expr, &times, &extended, self.options.max_samples).await?;
        let max_samples = self.options.max_samples;
        let query = query.to_string();
        evaluate_off_runtime(move || {
            let _slot = slot;
            let positions = position::locate(&query, &expr);
            let mut ev = Evaluator::new(&data, &extended, &positions, times, deadline, max_samples);
            if whole_range && let Some(matrix) = range_eval::evaluate(&mut ev, &expr, start_ms, end_ms, step_ms)? {
                return Ok(QueryResult {
                    value: Value::Matrix(matrix),
                    warnings: ev.annotations.warnings,
                    infos: ev.annotations.infos,
                });
            }
            // Step by step, with annotations from a fresh start.
            let mut ev = Evaluator::new(&data, &extended, &positions, times, deadline, max_samples);
            let mut series: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
            let mut total = 0usize;
            let mut ts = start_ms;
            while ts <= end_ms {
                match ev.eval(&expr, ts)? {
                    Val::Scalar(v) => {
                        series.entry(Labels::empty()).or_default().push((ts, v));
                        total += 1;
                    }
                    Val::Vector(vec) => {
                        let vec = finish_vector(vec, ts)?;
                        total += vec.len();
                        for s in vec {
                            series.entry(s.metric).or_default().push((ts, s.f));
                        }
                    }
                    other => {
                        return Err(PromqlError::Execution(format!(
                            "invalid expression type {:?} for range query",
                            other.type_name()
                        )));
                    }
                }
                if total > max_samples {
                    return Err(PromqlError::Execution(TOO_MANY_SAMPLES.into()));
                }
                ts = match ts.checked_add(step_ms) {
                    Some(t) => t,
                    None => break,
                };
            }
            let matrix = series
                .into_iter()
                .map(|(metric, floats)| RangeSeries { metric, floats })
                .collect();
            Ok(QueryResult {
                value: Value::Matrix(matrix),
                warnings: ev.annotations.warnings,
                infos: ev.annotations.infos,
            })
        })
        .await
    }

    fn times(&self, start: i64, end: i64, step: i64, opts: &QueryOptions) -> QueryTimes {
        QueryTimes {
            start,
            end,
            step,
            lookback: opts
                .lookback_delta_ms
                .filter(|l| *l > 0)
                .unwrap_or(self.options.lookback_delta_ms),
        }
    }

    fn deadline(&self, opts: &QueryOptions) -> Option<Instant> {
        let ms = opts.timeout_ms.unwrap_or(self.options.timeout_ms);
        if ms <= 0 {
            return None;
        }
        Instant::now().checked_add(Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX)))
    }
}

/// Stack for the evaluation thread: evaluation recurses once per AST level.
const EVAL_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Runs the evaluation on its own thread with a stack large enough for
/// [`MAX_EXPRESSION_DEPTH`] levels, and awaits it without blocking the async worker: a long
/// query must not stall ingestion or other requests on the same runtime.
async fn evaluate_off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PromqlError> + Send + 'static,
) -> Result<T, PromqlError> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("promql-eval".into())
        .stack_size(EVAL_STACK_BYTES)
        .spawn(move || {
            let _ = done.send(f());
        })
        .map_err(|e| PromqlError::Execution(format!("cannot start query evaluation: {e}")))?;
    result
        .await
        .map_err(|_| PromqlError::Execution("query evaluation failed unexpectedly".into()))?
}

/// Runs the synchronous evaluation on a thread with a stack large enough for
/// [`MAX_EXPRESSION_DEPTH`] levels, independent of the caller's (e.g. a tokio worker's) stack.
fn with_eval_stack<T: Send>(f: impl FnOnce() -> Result<T, PromqlError> + Send) -> Result<T, PromqlError> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("promql-eval".into())
            .stack_size(EVAL_STACK_BYTES)
            .spawn_scoped(scope, f)
            .map_err(|e| PromqlError::Execution(format!("cannot start query evaluation: {e}")))?;
        handle
            .join()
            .map_err(|_| PromqlError::Execution("query evaluation failed unexpectedly".into()))?
    })
}

/// Deepest expression nesting evaluated. Evaluation recurses per AST level, so a hostile
/// query (`((((…))))`, `1+1+…+1`) must not be able to exhaust the stack.
pub const MAX_EXPRESSION_DEPTH: usize = 512;

/// Longest query accepted. `promql-parser` takes time quadratic in the length of operator
/// chains (8000 `+` terms: ~2 s unoptimised) and parsing is not under the query timeout, so
/// the length is capped; it also bounds the AST depth parsed and dropped on the eval stack.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

/// Parses on the large evaluation stack: the parser and the AST's destructor recurse per
/// nesting level, so a too-deep AST is also dropped there.
fn parse(query: &str, ctx: duration_expr::DurationContext) -> Result<promql_parser::parser::Expr, PromqlError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(PromqlError::BadData(format!(
            "parse error: query is longer than the maximum of {MAX_QUERY_BYTES} bytes"
        )));
    }
    with_eval_stack(|| {
        let expr = match parse_without_panic(query)? {
            Ok(expr) => expr,
            Err(original) => {
                let durations = duration_expr::rewrite(query, ctx);
                let base = durations.as_deref().unwrap_or(query);
                let candidates = [
                    durations.clone(),
                    info::rewrite_selector_argument(base),
                    extended_range::strip(base),
                ];
                candidates
                    .into_iter()
                    .flatten()
                    .find_map(|rewritten| parse_without_panic(&rewritten).ok()?.ok())
                    .ok_or_else(|| PromqlError::BadData(parse_error::diagnose(query, &original)))?
            }
        };
        if expression_depth(&expr) > MAX_EXPRESSION_DEPTH {
            drop(expr);
            return Err(PromqlError::BadData(format!(
                "parse error: expression nesting exceeds the maximum depth of {MAX_EXPRESSION_DEPTH}"
            )));
        }
        if let Some(message) = parse_error::invalid_destination_label(query, &expr) {
            return Err(PromqlError::Execution(message));
        }
        Ok(expr)
    })
}

/// `promql-parser`, with its panics (e.g. `Duration::from_secs_f64` on a number duration
/// such as `x[1e300]`) turned into a parse error instead of a failed evaluation.
fn parse_without_panic(query: &str) -> Result<Result<promql_parser::parser::Expr, String>, PromqlError> {
    std::panic::catch_unwind(|| promql_parser::parser::parse(query))
        .map_err(|_| PromqlError::BadData(parse_error::diagnose(query, "invalid number or duration in query")))
}

/// The AST's depth, computed without recursion.
fn expression_depth(expr: &promql_parser::parser::Expr) -> usize {
    use promql_parser::parser::Expr;
    let mut max = 0;
    let mut stack = vec![(expr, 1usize)];
    while let Some((e, depth)) = stack.pop() {
        max = max.max(depth);
        match e {
            Expr::Aggregate(a) => {
                stack.push((&a.expr, depth + 1));
                if let Some(p) = &a.param {
                    stack.push((p, depth + 1));
                }
            }
            Expr::Unary(u) => stack.push((&u.expr, depth + 1)),
            Expr::Binary(b) => {
                stack.push((&b.lhs, depth + 1));
                stack.push((&b.rhs, depth + 1));
            }
            Expr::Paren(p) => stack.push((&p.expr, depth + 1)),
            Expr::Subquery(s) => stack.push((&s.expr, depth + 1)),
            Expr::Call(c) => stack.extend(c.args.args.iter().map(|a| (a.as_ref(), depth + 1))),
            _ => {}
        }
    }
    max
}

/// Applies delayed name removal and refuses duplicate label sets, as Prometheus does at the
/// end of evaluation.
fn finish_vector(vec: Vec<types::Sample>, ts: i64) -> Result<Vec<InstantSample>, PromqlError> {
    let mut out = Vec::with_capacity(vec.len());
    let mut seen = std::collections::HashSet::with_capacity(vec.len());
    for s in vec {
        let metric = if s.drop_name { drop_metadata(s.metric) } else { s.metric };
        if !seen.insert(metric.clone()) {
            return Err(PromqlError::Execution(labels_fns::DUPLICATE_LABELSET.into()));
        }
        out.push(InstantSample { metric, t: ts, f: s.f });
    }
    Ok(out)
}

fn finish_matrix(mat: Vec<types::Series>) -> Result<Vec<RangeSeries>, PromqlError> {
    let mut merged: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for s in mat {
        let metric = if s.drop_name { drop_metadata(s.metric) } else { s.metric };
        let entry = merged.entry(metric).or_default();
        if !entry.is_empty() {
            let mut times: std::collections::HashSet<i64> = entry.iter().map(|p| p.0).collect();
            if s.points.iter().any(|p| !times.insert(p.0)) {
                return Err(PromqlError::Execution(labels_fns::DUPLICATE_LABELSET.into()));
            }
        }
        entry.extend(s.points);
        entry.sort_by_key(|p| p.0);
    }
    Ok(merged
        .into_iter()
        .map(|(metric, floats)| RangeSeries { metric, floats })
        .collect())
}

/// Removes the metric name and the metadata labels that travel with it.
fn drop_metadata(mut labels: Labels) -> Labels {
    labels.remove(crate::storage::METRIC_NAME);
    labels.remove("__type__");
    labels.remove("__unit__");
    labels
}

/// Go's `%g`-style rendering of a float for annotation texts.
pub fn format_go_float(f: f64) -> String {
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

//! The PromQL engine: a pure function of a storage reader. Parsing is `promql-parser`'s;
//! evaluation is ours. No HTTP here: `prom_api` turns results into Prometheus JSON.
//!
//! CONTRACT (skeleton): `prom_api` and the test-script runner code against this API.

pub mod functions;
pub mod value;

pub use value::{InstantSample, QueryResult, RangeSeries, Value};

use crate::storage::{SeriesQuerier, StorageError};

/// Engine-wide limits and defaults (Prometheus' `--query.*` flags).
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Default lookback delta in ms (5m).
    pub lookback_delta_ms: i64,
    /// Maximum samples a query may hold in memory at once (`--query.max-samples`).
    pub max_samples: usize,
    /// Default evaluation timeout in ms (`--query.timeout`, 2m).
    pub timeout_ms: i64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            lookback_delta_ms: 5 * 60 * 1000,
            max_samples: 50_000_000,
            timeout_ms: 2 * 60 * 1000,
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
}

impl Engine {
    pub fn new(options: EngineOptions) -> Self {
        Self { options }
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Evaluates `query` at one instant (`ts_ms`).
    pub async fn instant_query<Q: SeriesQuerier>(
        &self,
        _querier: &Q,
        _query: &str,
        _ts_ms: i64,
        _opts: &QueryOptions,
    ) -> Result<QueryResult, PromqlError> {
        Err(PromqlError::Execution("not yet built".into()))
    }

    /// Evaluates `query` at `start, start+step, … ≤ end`; the result is always a matrix.
    /// A range-vector or string expression is refused as Prometheus does.
    pub async fn range_query<Q: SeriesQuerier>(
        &self,
        _querier: &Q,
        _query: &str,
        _start_ms: i64,
        _end_ms: i64,
        _step_ms: i64,
        _opts: &QueryOptions,
    ) -> Result<QueryResult, PromqlError> {
        Err(PromqlError::Execution("not yet built".into()))
    }
}

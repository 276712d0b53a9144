//! The storage facade: appends go to the WAL (durable before returning) and the head; reads
//! merge head and blocks; a background task cuts the head into blocks and truncates the WAL.
//!
//! CONTRACT (skeleton): the signatures below are what adapters and engines code against.

use crate::storage::config::StorageConfig;
use crate::storage::error::StorageError;
use crate::storage::labels::Labels;
use crate::storage::matcher::LabelMatcher;
use crate::storage::model::{AppendBatch, AppendStats, Exemplar, MetricMetadata, Series};
use crate::storage::querier::SeriesQuerier;
use std::sync::Arc;

/// Counters for self-monitoring (`/metrics`) and `/api/v1/status/tsdb`.
#[derive(Clone, Debug, Default)]
pub struct StorageStats {
    pub head_series: u64,
    pub head_samples_appended_total: u64,
    pub head_min_time: i64,
    pub head_max_time: i64,
    pub wal_fsyncs_total: u64,
    pub wal_bytes_total: u64,
    pub blocks: u64,
    pub blocks_bytes: u64,
    pub out_of_order_samples_total: u64,
}

pub struct Storage {
    _config: StorageConfig,
}

impl Storage {
    /// Opens (or creates) the store: replays the WAL into the head, loads the block catalog.
    pub async fn open(config: StorageConfig) -> Result<Arc<Self>, StorageError> {
        Ok(Arc::new(Self { _config: config }))
    }

    /// Appends one batch for a tenant. Returns only once the batch is durable in the WAL.
    pub async fn append(&self, _tenant: &str, _batch: AppendBatch) -> Result<AppendStats, StorageError> {
        Err(StorageError::Other("not yet built".into()))
    }

    /// A read view of one tenant's data (head and blocks merged).
    pub fn querier(self: &Arc<Self>, tenant: &str) -> StorageQuerier {
        StorageQuerier {
            _storage: Arc::clone(self),
            _tenant: tenant.to_string(),
        }
    }

    /// Exemplars of series matching any of the matcher sets, in `[mint, maxt]`.
    pub async fn exemplars(
        &self,
        _tenant: &str,
        _matcher_sets: &[Vec<LabelMatcher>],
        _mint: i64,
        _maxt: i64,
    ) -> Result<Vec<(Labels, Vec<Exemplar>)>, StorageError> {
        Ok(Vec::new())
    }

    /// Metric metadata, by family name; `metric` filters to one family.
    pub fn metadata(&self, _tenant: &str, _metric: Option<&str>) -> Vec<MetricMetadata> {
        Vec::new()
    }

    /// Cuts every full head range into blocks now (tests and shutdown use it).
    pub async fn flush_head(&self) -> Result<(), StorageError> {
        Ok(())
    }

    pub fn stats(&self) -> StorageStats {
        StorageStats::default()
    }

    /// Flushes and stops background work.
    pub async fn close(&self) -> Result<(), StorageError> {
        Ok(())
    }
}

/// One tenant's read view.
#[derive(Clone)]
pub struct StorageQuerier {
    _storage: Arc<Storage>,
    _tenant: String,
}

impl SeriesQuerier for StorageQuerier {
    async fn select(&self, _matchers: &[LabelMatcher], _mint: i64, _maxt: i64) -> Result<Vec<Series>, StorageError> {
        Ok(Vec::new())
    }

    async fn series(&self, _matchers: &[LabelMatcher], _mint: i64, _maxt: i64) -> Result<Vec<Labels>, StorageError> {
        Ok(Vec::new())
    }

    async fn label_names(
        &self,
        _matchers: &[LabelMatcher],
        _mint: i64,
        _maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }

    async fn label_values(
        &self,
        _name: &str,
        _matchers: &[LabelMatcher],
        _mint: i64,
        _maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        Ok(Vec::new())
    }
}

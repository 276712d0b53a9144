//! Immutable Parquet blocks on object storage, the block catalog beside them, and the local
//! redb cache of what is hot.
//!
//! CONTRACT (skeleton): the facade in `storage::store` calls exactly these.

use crate::storage::config::ObjectStoreConfig;
use crate::storage::error::StorageError;
use crate::storage::labels::Labels;
use crate::storage::matcher::LabelMatcher;
use crate::storage::model::Series;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What the catalog knows of one block.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockMeta {
    /// Unique, time-sortable id (ULID-like string).
    pub id: String,
    pub tenant: String,
    /// "metrics" now; "logs" and "traces" later share the catalog.
    pub signal: String,
    pub min_time: i64,
    pub max_time: i64,
    pub series: u64,
    pub samples: u64,
    pub bytes: u64,
    /// Compaction level: 1 for blocks cut from the head.
    pub level: u32,
}

pub struct BlockStore {}

impl BlockStore {
    /// Connects to the object store and loads the catalog; `cache_dir` holds the redb cache.
    pub async fn open(_object_store: &ObjectStoreConfig, _cache_dir: &Path) -> Result<Self, StorageError> {
        Ok(Self {})
    }

    /// Writes one immutable block of metric series (samples sorted, no duplicates) covering
    /// `[min_time, max_time]` and records it in the catalog. Durable in the object store on return.
    pub async fn write_metrics_block(
        &self,
        _tenant: &str,
        _series: Vec<Series>,
        _min_time: i64,
        _max_time: i64,
    ) -> Result<BlockMeta, StorageError> {
        Err(StorageError::Other("not yet built".into()))
    }

    /// Series from the blocks overlapping `[mint, maxt]` that match, samples restricted to the
    /// range, merged across blocks, sorted by labels.
    pub async fn select(
        &self,
        _tenant: &str,
        _matchers: &[LabelMatcher],
        _mint: i64,
        _maxt: i64,
    ) -> Result<Vec<Series>, StorageError> {
        Ok(Vec::new())
    }

    /// Label sets of matching series, answered from the block index without reading samples.
    pub async fn series(
        &self,
        _tenant: &str,
        _matchers: &[LabelMatcher],
        _mint: i64,
        _maxt: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        Ok(Vec::new())
    }

    /// Blocks in the catalog for a tenant, ordered by min_time.
    pub fn blocks(&self, _tenant: &str) -> Vec<BlockMeta> {
        Vec::new()
    }

    /// Highest max_time over the tenant's blocks (the head may drop data up to here).
    pub fn max_time(&self, _tenant: &str) -> Option<i64> {
        None
    }

    /// Deletes blocks entirely older than `before` (retention).
    pub async fn apply_retention(&self, _before: i64) -> Result<u64, StorageError> {
        Ok(0)
    }

    /// Merges small adjacent blocks of a tenant into larger ones.
    pub async fn compact(&self, _tenant: &str) -> Result<u64, StorageError> {
        Ok(0)
    }
}

//! Immutable Parquet blocks on object storage, the block catalog beside them, and the local
//! redb cache of what is hot.
//!
//! CONTRACT (skeleton): the facade in `storage::store` calls exactly these.
//!
//! # Layout in the bucket
//!
//! ```text
//! <tenant>/metrics/<block_id>/series.parquet      one row per series: the block's index
//!                             samples.parquet     (series_id, t, v) encoded, by series then t
//!                             histograms.parquet  (series_id, t, h) native histograms, if any
//!                             meta.json           BlockMeta + files + sources; written LAST
//! ```
//!
//! * `series.parquet` answers label and time-range questions without touching samples:
//!   labels (a `Map<Utf8,Utf8>`, so SQL can later say `labels['job']`), `metric_name`,
//!   min/max time, the row offset and count of the series in the samples and histogram
//!   files, and how its values are scaled to integers. Series are sorted by labels and the
//!   series id is the row number, so results come out in Prometheus' order for free.
//! * `samples.parquet` is sorted by series then time so one series is one contiguous row
//!   range: a query turns matching series into a row selection and, with the offset index,
//!   fetches only the pages holding them (range GETs, not the whole file). Bytes per sample
//!   decide what a bucket costs, so values are not raw f64 bits but per-series scaled
//!   integers (exact decimals become small integers) plus a correction in ulps that keeps
//!   every bit, NaN payloads and the stale marker included; timestamps are a delta-of-delta.
//!   Both are stored as per-series differences, byte-stream-split and ZSTD-compressed (see
//!   `sample_codec` and `samples_file`). A series' rows are therefore decoded from its first
//!   row: reads take whole series and cut them to the time range afterwards.
//! * `histograms.parquet` keeps native histograms in a bit-exact binary form (see
//!   `histogram_codec`) so nothing acknowledged is dropped.
//! * `meta.json` is written last with create-only semantics: a block without it is
//!   incomplete and invisible. Deleting removes meta.json first, so readers stop seeing a
//!   block before any of its data goes.
//!
//! # Catalog
//!
//! The catalog is the set of meta.json objects: any process listing `<tenant>/metrics/`
//! finds every complete block, and there is no catalog object for writers and compactors to
//! race on. Compaction writes the merged block's meta.json (naming its `sources`) before it
//! deletes the sources; readers hide any block named as a source, so at every instant a
//! reader sees either the sources or the merged block, never both and never neither. The
//! redb cache under `cache_dir` keeps every known meta.json and the `series.parquet` of
//! blocks written or read here; on open only the listing and unseen meta.json files are
//! fetched. In memory, decoded indexes and Parquet footers of recently used blocks are kept
//! in small LRU maps.
//!
//! # Using it
//!
//! * One `BlockStore` per `cache_dir` (redb locks its file); other processes sharing the
//!   bucket use their own cache and call [`BlockStore::refresh`] to see new blocks. Reads
//!   that hit a block another process just compacted or expired refresh and retry once.
//! * `write_metrics_block` accepts series in any order, merges duplicates and sorts samples;
//!   the recorded `[min_time, max_time]` is the caller's, widened to the data if needed.
//!   On a local-filesystem bucket the files and directories are fsynced before returning.
//! * `compact` merges, per compaction range (see [`BlockStore::with_compaction_ranges`]),
//!   the blocks of one aligned window once a later block exists (time has left the
//!   window), so a window is not rewritten for every block cut into it.

mod bucket;
mod cache;
mod catalog;
mod format;
mod hot;
mod id;
mod layout;
mod maintenance;
mod merge;
mod query;
mod reader;
mod sample_codec;
mod samples_file;
mod start_times;
mod write;

#[cfg(test)]
mod tests;

pub use bucket::build_object_store;
pub use id::new_block_id;

use crate::storage::config::ObjectStoreConfig;
use crate::storage::error::StorageError;
use crate::storage::labels::Labels;
use crate::storage::matcher::LabelMatcher;
use crate::storage::model::Series;
use cache::BlockCache;
use catalog::Catalog;
use format::{BlockFile, SeriesIndex};
use hot::HotMap;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

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

/// Compaction windows for the default 2h block duration: level-1 blocks merge into 6h
/// level-2 blocks, those into 24h level-3 blocks.
const DEFAULT_COMPACTION_RANGES_MS: [i64; 2] = [6 * 3_600_000, 24 * 3_600_000];

/// Decoded series indexes kept in memory (a day of 2h blocks for a few tenants).
const HOT_INDEXES: usize = 128;
/// Parquet footers kept in memory (samples and histogram files).
const HOT_FOOTERS: usize = 256;

pub struct BlockStore {
    store: Arc<dyn ObjectStore>,
    cache: BlockCache,
    catalog: RwLock<Catalog>,
    /// Decoded series indexes of recently used blocks, by block directory.
    indexes: Mutex<HotMap<Arc<SeriesIndex>>>,
    /// Footers (with offset indexes) of recently read samples and histogram files, by path.
    footers: Mutex<HotMap<ArrowReaderMetadata>>,
    /// Serialises compaction and retention within this process.
    maintenance: tokio::sync::Mutex<()>,
    compaction_ranges: Vec<i64>,
    /// Bytes fetched from the bucket by reads (indexes, footers, pages).
    bytes_read: Arc<AtomicU64>,
    /// Set when the bucket is a local directory: written files are fsynced there.
    local: Option<Arc<LocalFileSystem>>,
}

impl BlockStore {
    /// Connects to the object store and loads the catalog; `cache_dir` holds the redb cache.
    pub async fn open(object_store: &ObjectStoreConfig, cache_dir: &Path) -> Result<Self, StorageError> {
        match object_store {
            ObjectStoreConfig::Filesystem { path } => {
                let local = bucket::build_local(path)?;
                let mut blocks = Self::open_with_store(Arc::clone(&local) as Arc<dyn ObjectStore>, cache_dir).await?;
                blocks.local = Some(local);
                Ok(blocks)
            }
            ObjectStoreConfig::S3 { .. } => Self::open_with_store(build_object_store(object_store)?, cache_dir).await,
        }
    }

    /// Opens over an already built object store (tests, or a store shared with DataFusion).
    pub async fn open_with_store(store: Arc<dyn ObjectStore>, cache_dir: &Path) -> Result<Self, StorageError> {
        let cache_dir = cache_dir.to_path_buf();
        let (cache, cached) = tokio::task::spawn_blocking(move || {
            let cache = BlockCache::open(&cache_dir)?;
            let cached = cache.catalog()?;
            Ok::<_, StorageError>((cache, cached))
        })
        .await
        .map_err(join_error)??;
        let mut catalog = Catalog::default();
        for (dir, bytes) in cached {
            match catalog::parse_meta(&dir, &bytes) {
                Ok(file) => catalog.insert(Arc::new(file)),
                Err(reason) => tracing::warn!(block = %dir, %reason, "ignoring unusable cached meta.json"),
            }
        }
        let blocks = Self {
            store,
            cache,
            catalog: RwLock::new(catalog),
            indexes: Mutex::new(HotMap::new(HOT_INDEXES)),
            footers: Mutex::new(HotMap::new(HOT_FOOTERS)),
            maintenance: tokio::sync::Mutex::new(()),
            compaction_ranges: DEFAULT_COMPACTION_RANGES_MS.to_vec(),
            bytes_read: Arc::new(AtomicU64::new(0)),
            local: None,
        };
        blocks.refresh().await?;
        Ok(blocks)
    }

    /// Compaction windows (ms), one per level above 1: blocks of a lower level inside one
    /// aligned window of `ranges[n]` merge into a block of level `n + 2`. A good choice for a
    /// block duration `d` is `[3d, 12d]`.
    pub fn with_compaction_ranges(mut self, ranges: Vec<i64>) -> Self {
        self.compaction_ranges = ranges.into_iter().filter(|r| *r > 0).collect();
        self
    }

    /// Writes one immutable block of metric series (samples sorted, no duplicates) covering
    /// `[min_time, max_time]` and records it in the catalog. Durable in the object store on return.
    pub async fn write_metrics_block(
        &self,
        tenant: &str,
        series: Vec<Series>,
        min_time: i64,
        max_time: i64,
    ) -> Result<BlockMeta, StorageError> {
        self.write_block(tenant, series, min_time, max_time, 1, Vec::new())
            .await
    }

    /// Series from the blocks overlapping `[mint, maxt]` that match, samples restricted to the
    /// range, merged across blocks, sorted by labels.
    pub async fn select(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, StorageError> {
        self.select_series(tenant, matchers, mint, maxt).await
    }

    /// Label sets of matching series, answered from the block index without reading samples.
    pub async fn series(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        self.series_labels(tenant, matchers, mint, maxt).await
    }

    /// Blocks in the catalog for a tenant, ordered by min_time.
    pub fn blocks(&self, tenant: &str) -> Vec<BlockMeta> {
        self.read_catalog()
            .visible(tenant)
            .iter()
            .map(|b| b.meta.clone())
            .collect()
    }

    /// Highest max_time over the tenant's blocks (the head may drop data up to here).
    pub fn max_time(&self, tenant: &str) -> Option<i64> {
        self.read_catalog()
            .visible(tenant)
            .iter()
            .map(|b| b.meta.max_time)
            .max()
    }

    /// Deletes blocks entirely older than `before` (retention). Returns how many were deleted.
    pub async fn apply_retention(&self, before: i64) -> Result<u64, StorageError> {
        self.delete_expired(before).await
    }

    /// Merges small adjacent blocks of a tenant into larger ones. Returns how many merged
    /// blocks were written.
    pub async fn compact(&self, tenant: &str) -> Result<u64, StorageError> {
        self.compact_tenant(tenant).await
    }

    /// Reconciles the catalog with the bucket: picks up blocks other processes wrote, forgets
    /// blocks they deleted. Query-only processes call this periodically.
    pub async fn refresh(&self) -> Result<(), StorageError> {
        // Snapshot before listing: a block this process writes meanwhile is then either
        // listed or not yet known, never "known but not listed" (which would drop it).
        let known: HashMap<String, Arc<BlockFile>> = self
            .read_catalog()
            .every_block()
            .into_iter()
            .map(|b| (catalog::block_key(&b), b))
            .collect();
        let listed = catalog::list_block_dirs(&self.store).await?;
        let unseen: Vec<String> = listed.iter().filter(|d| !known.contains_key(*d)).cloned().collect();
        let fetched = catalog::fetch_metas(&self.store, unseen).await;
        let listed_set: std::collections::HashSet<&String> = listed.iter().collect();
        let gone: Vec<String> = known.keys().filter(|d| !listed_set.contains(d)).cloned().collect();

        let cache_entries: Vec<cache::CachedBlock> = fetched
            .iter()
            .map(|(file, bytes)| cache::CachedBlock {
                dir: catalog::block_key(file),
                meta: bytes.clone(),
                series_index: None,
            })
            .collect();
        let cache = self.cache.clone();
        let gone_for_cache = gone.clone();
        tokio::task::spawn_blocking(move || {
            cache.insert(&cache_entries)?;
            cache.remove(&gone_for_cache)
        })
        .await
        .map_err(join_error)??;

        let mut catalog = self.write_catalog();
        for dir in &gone {
            if let Some(file) = known.get(dir) {
                catalog.remove(&file.meta.tenant, &file.meta.id);
            }
        }
        for (file, _) in fetched {
            catalog.insert(Arc::new(file));
        }
        drop(catalog);
        self.forget_in_memory(&gone);
        Ok(())
    }

    /// Bytes read from the bucket by queries and compaction so far (self-monitoring; also
    /// shows that a narrow query reads a small part of a block).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    fn read_catalog(&self) -> std::sync::RwLockReadGuard<'_, Catalog> {
        self.catalog.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write_catalog(&self) -> std::sync::RwLockWriteGuard<'_, Catalog> {
        self.catalog.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Drops decoded indexes and footers of blocks that no longer exist.
    fn forget_in_memory(&self, block_dirs: &[String]) {
        if block_dirs.is_empty() {
            return;
        }
        let mut indexes = self.indexes.lock().unwrap_or_else(|p| p.into_inner());
        for dir in block_dirs {
            indexes.remove(dir);
        }
        drop(indexes);
        let mut footers = self.footers.lock().unwrap_or_else(|p| p.into_inner());
        footers.retain(|path| !block_dirs.iter().any(|dir| path.starts_with(&format!("{dir}/"))));
    }
}

fn join_error(error: tokio::task::JoinError) -> StorageError {
    StorageError::Other(format!("block store task failed: {error}"))
}

//! The storage facade: appends go to the WAL (durable before returning) and the head; reads
//! merge head and blocks; a background task cuts the head into blocks and truncates the WAL.
//!
//! CONTRACT (skeleton): the signatures below are what adapters and engines code against.
//!
//! Crash safety rests on three orderings: a batch is applied to the head and queued to the
//! WAL under the tenant head's lock (so WAL order is apply order); `append` returns only once
//! the WAL group holding it is fsynced; WAL segments are folded into a checkpoint (dropping
//! what blocks hold) only after every block write of that cut returned.

mod cutter;
#[cfg(test)]
mod tests;

use crate::storage::blocks::BlockStore;
use crate::storage::config::StorageConfig;
use crate::storage::error::StorageError;
pub use crate::storage::head::series::Reject;
pub use crate::storage::head::{AppendMode, AppendReport, Rejection};
use crate::storage::head::{HeadOptions, TenantHead};
use crate::storage::labels::Labels;
use crate::storage::matcher::LabelMatcher;
use crate::storage::model::{
    AppendBatch, AppendStats, Exemplar, FloatBatch, HistogramSample, MetricMetadata, Series, merge_start_timestamps,
};
use crate::storage::querier::SeriesQuerier;
use crate::storage::wal::Wal;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// How often the background task looks for head ranges to cut (Prometheus: every minute).
const CUT_INTERVAL: Duration = Duration::from_secs(60);

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
    config: StorageConfig,
    wal: Arc<Wal>,
    blocks: BlockStore,
    heads: RwLock<BTreeMap<String, Arc<TenantHead>>>,
    next_ref: AtomicU64,
    /// WAL refs that replay folded into another ref of the same label set, per tenant;
    /// checkpoints rewrite records through it so they agree with the head's refs.
    ref_aliases: HashMap<String, HashMap<u64, u64>>,
    samples_appended: AtomicU64,
    out_of_order_accepted: AtomicU64,
    /// One cut (block write + WAL checkpoint) at a time.
    cut_lock: tokio::sync::Mutex<()>,
    closed: AtomicBool,
    shutdown: Arc<tokio::sync::Notify>,
    background: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// What replay rebuilt from the WAL.
struct Replayed {
    wal: Wal,
    heads: BTreeMap<String, Arc<TenantHead>>,
    ref_aliases: HashMap<String, HashMap<u64, u64>>,
    max_ref: u64,
}

impl Storage {
    /// Opens (or creates) the store: replays the WAL into the head, loads the block catalog.
    pub async fn open(config: StorageConfig) -> Result<Arc<Self>, StorageError> {
        tokio::fs::create_dir_all(&config.data_dir).await?;
        let blocks = BlockStore::open(&config.object_store, &config.data_dir.join("cache")).await?;
        let replay_config = config.clone();
        let replayed = tokio::task::spawn_blocking(move || replay(&replay_config))
            .await
            .map_err(|e| StorageError::Other(format!("wal replay task failed: {e}")))??;
        for (tenant, head) in &replayed.heads {
            if let Some(max) = blocks.max_time(tenant) {
                head.raise_min_valid_time(max.saturating_add(1));
            }
        }
        let storage = Arc::new(Self {
            config,
            wal: Arc::new(replayed.wal),
            blocks,
            heads: RwLock::new(replayed.heads),
            next_ref: AtomicU64::new(replayed.max_ref + 1),
            ref_aliases: replayed.ref_aliases,
            samples_appended: AtomicU64::new(0),
            out_of_order_accepted: AtomicU64::new(0),
            cut_lock: tokio::sync::Mutex::new(()),
            closed: AtomicBool::new(false),
            shutdown: Arc::new(tokio::sync::Notify::new()),
            background: Mutex::new(None),
        });
        let task = tokio::spawn(cutter::background_loop(
            Arc::downgrade(&storage),
            Arc::clone(&storage.shutdown),
            CUT_INTERVAL,
        ));
        *storage.background.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        Ok(storage)
    }

    /// Appends one batch for a tenant. Returns only once the batch is durable in the WAL.
    /// Refused samples (out of order, out of bounds, too old, conflicting duplicates) are
    /// counted in `rejected_out_of_order`; the rest is stored.
    pub async fn append(&self, tenant: &str, batch: AppendBatch) -> Result<AppendStats, StorageError> {
        Ok(self.append_with_mode(tenant, batch, AppendMode::Partial).await?.stats)
    }

    /// [`Storage::append`] with the details adapters need to answer like Prometheus: the
    /// first refused sample and, in [`AppendMode::AllOrNothing`], a batch stored entirely
    /// or not at all.
    pub async fn append_with_mode(
        &self,
        tenant: &str,
        batch: AppendBatch,
        mode: AppendMode,
    ) -> Result<AppendReport, StorageError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StorageError::ShuttingDown);
        }
        let head = self.head_or_create(tenant);
        // Always submitted, even with no records (every sample a duplicate of one already in
        // the head): then it is a barrier, so the duplicate is not acknowledged before the
        // earlier request that wrote it is durable.
        let (report, ack) = head.append(batch, mode, &self.next_ref, |records| {
            self.wal.submit(&records).map(Some)
        });
        if let Some(ack) = ack? {
            ack.wait().await?;
        }
        self.samples_appended
            .fetch_add(report.stats.samples + report.stats.histograms, Ordering::Relaxed);
        self.out_of_order_accepted
            .fetch_add(report.out_of_order_accepted, Ordering::Relaxed);
        Ok(report)
    }

    /// [`Storage::append`] for float samples with borrowed labels (remote write's common
    /// case): series the head already has are found without building their labels. Same
    /// durability: returns only once the batch is fsynced in the WAL.
    pub async fn append_floats(&self, tenant: &str, batch: &FloatBatch<'_>) -> Result<AppendStats, StorageError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StorageError::ShuttingDown);
        }
        let head = self.head_or_create(tenant);
        // Submitted even when empty, as a barrier (see `append_with_mode`).
        let (report, ack) = head.append_floats(batch, &self.next_ref, |records| self.wal.submit(&records));
        ack?.wait().await?;
        self.samples_appended.fetch_add(report.stats.samples, Ordering::Relaxed);
        self.out_of_order_accepted
            .fetch_add(report.out_of_order_accepted, Ordering::Relaxed);
        Ok(report.stats)
    }

    /// A read view of one tenant's data (head and blocks merged).
    pub fn querier(self: &Arc<Self>, tenant: &str) -> StorageQuerier {
        StorageQuerier {
            storage: Arc::clone(self),
            tenant: tenant.to_string(),
        }
    }

    /// Exemplars of series matching any of the matcher sets, in `[mint, maxt]`.
    pub async fn exemplars(
        &self,
        tenant: &str,
        matcher_sets: &[Vec<LabelMatcher>],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<Exemplar>)>, StorageError> {
        Ok(self
            .head(tenant)
            .map(|h| h.exemplars(matcher_sets, mint, maxt))
            .unwrap_or_default())
    }

    /// Metric metadata, by family name; `metric` filters to one family.
    pub fn metadata(&self, tenant: &str, metric: Option<&str>) -> Vec<MetricMetadata> {
        self.head(tenant).map(|h| h.metadata(metric)).unwrap_or_default()
    }

    /// Cuts every full head range into blocks now (tests and shutdown use it).
    pub async fn flush_head(&self) -> Result<(), StorageError> {
        self.cut_head().await
    }

    /// Deletes blocks older than the retention period; returns how many went.
    pub async fn apply_retention(&self) -> Result<u64, StorageError> {
        if self.config.retention_ms <= 0 {
            return Ok(0);
        }
        let now = chrono::Utc::now().timestamp_millis();
        self.blocks
            .apply_retention(now.saturating_sub(self.config.retention_ms))
            .await
    }

    pub fn stats(&self) -> StorageStats {
        let heads = self.all_heads();
        let mut stats = StorageStats {
            head_samples_appended_total: self.samples_appended.load(Ordering::Relaxed),
            wal_fsyncs_total: self.wal.fsyncs(),
            wal_bytes_total: self.wal.bytes_written(),
            out_of_order_samples_total: self.out_of_order_accepted.load(Ordering::Relaxed),
            ..StorageStats::default()
        };
        let mut range: Option<(i64, i64)> = None;
        for head in &heads {
            stats.head_series += head.num_series();
            if let Some((lo, hi)) = head.time_range() {
                range = Some(range.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
            }
            for block in self.blocks.blocks(head.tenant()) {
                stats.blocks += 1;
                stats.blocks_bytes += block.bytes;
            }
        }
        if let Some((lo, hi)) = range {
            stats.head_min_time = lo;
            stats.head_max_time = hi;
        }
        stats
    }

    /// Flushes and stops background work. The head stays in the WAL for the next open.
    pub async fn close(&self) -> Result<(), StorageError> {
        self.closed.store(true, Ordering::Release);
        // A stored permit, so the loop sees it even if it is mid-cut right now.
        self.shutdown.notify_one();
        let task = self.background.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        // Wait for a cut in progress, then stop the WAL writer (it fsyncs on the way out).
        let _cut = self.cut_lock.lock().await;
        self.wal.close().await
    }

    fn head(&self, tenant: &str) -> Option<Arc<TenantHead>> {
        self.heads
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
            .cloned()
    }

    fn head_or_create(&self, tenant: &str) -> Arc<TenantHead> {
        if let Some(head) = self.head(tenant) {
            return head;
        }
        let mut heads = self.heads.write().unwrap_or_else(|e| e.into_inner());
        let options = head_options(&self.config);
        let blocks_max = self.blocks.max_time(tenant);
        Arc::clone(heads.entry(tenant.to_string()).or_insert_with(|| {
            let head = TenantHead::new(tenant, options);
            if let Some(max) = blocks_max {
                head.raise_min_valid_time(max.saturating_add(1));
            }
            Arc::new(head)
        }))
    }

    fn all_heads(&self) -> Vec<Arc<TenantHead>> {
        self.heads
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

fn head_options(config: &StorageConfig) -> HeadOptions {
    HeadOptions {
        block_duration_ms: config.block_duration_ms.max(1),
        out_of_order_window_ms: config.out_of_order_window_ms.max(0),
    }
}

/// Rebuilds the heads from the WAL (blocking file reads).
fn replay(config: &StorageConfig) -> Result<Replayed, StorageError> {
    let options = head_options(config);
    let mut heads: BTreeMap<String, Arc<TenantHead>> = BTreeMap::new();
    let mut refs: HashMap<String, HashMap<u64, u64>> = HashMap::new();
    let mut max_ref = 0u64;
    let mut records = 0u64;
    let wal = Wal::open(&config.data_dir.join("wal"), config.wal_segment_bytes, |record| {
        records += 1;
        if let Some(highest) = record.max_series_ref() {
            max_ref = max_ref.max(highest);
        }
        let tenant = record.tenant().to_string();
        let head = heads
            .entry(tenant.clone())
            .or_insert_with(|| Arc::new(TenantHead::new(&tenant, options)));
        head.replay(record, refs.entry(tenant).or_default());
    })?;
    tracing::info!(records, tenants = heads.len(), "wal replayed");
    let ref_aliases = refs
        .into_iter()
        .map(|(tenant, map)| {
            (
                tenant,
                map.into_iter()
                    .filter(|(wal_ref, head_ref)| wal_ref != head_ref)
                    .collect(),
            )
        })
        .collect();
    Ok(Replayed {
        wal,
        heads,
        ref_aliases,
        max_ref,
    })
}

/// One tenant's read view.
#[derive(Clone)]
pub struct StorageQuerier {
    storage: Arc<Storage>,
    tenant: String,
}

impl StorageQuerier {
    fn head(&self) -> Option<Arc<TenantHead>> {
        self.storage.head(&self.tenant)
    }

    /// Label sets of matching series from head and blocks, sorted and distinct.
    async fn all_series(&self, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Result<Vec<Labels>, StorageError> {
        // Head before blocks, for the reason given in `select`.
        let mut set: BTreeSet<Labels> = match self.head() {
            Some(head) => head.series(matchers, mint, maxt).into_iter().collect(),
            None => BTreeSet::new(),
        };
        set.extend(self.storage.blocks.series(&self.tenant, matchers, mint, maxt).await?);
        Ok(set.into_iter().collect())
    }
}

impl SeriesQuerier for StorageQuerier {
    async fn select(&self, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Result<Vec<Series>, StorageError> {
        // The head is read before the blocks: the cutter writes a block before it drops those
        // samples from the head, so a cut running between the two reads is seen in one or the
        // other. Reading blocks first could miss a block written after that read whose samples
        // left the head before the head read.
        let from_head = self.head().map(|h| h.select(matchers, mint, maxt)).unwrap_or_default();
        let from_blocks = self.storage.blocks.select(&self.tenant, matchers, mint, maxt).await?;
        Ok(merge_series(from_head, from_blocks))
    }

    async fn series(&self, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Result<Vec<Labels>, StorageError> {
        self.all_series(matchers, mint, maxt).await
    }

    async fn label_names(&self, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Result<Vec<String>, StorageError> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        if let Some(head) = self.head() {
            names.extend(head.label_names(matchers, mint, maxt));
        }
        for labels in self.storage.blocks.series(&self.tenant, matchers, mint, maxt).await? {
            names.extend(labels.iter().map(|l| l.name.clone()));
        }
        Ok(names.into_iter().collect())
    }

    async fn label_values(
        &self,
        name: &str,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let mut values: BTreeSet<String> = BTreeSet::new();
        if let Some(head) = self.head() {
            values.extend(head.label_values(name, matchers, mint, maxt));
        }
        for labels in self.storage.blocks.series(&self.tenant, matchers, mint, maxt).await? {
            if let Some(v) = labels.get(name) {
                values.insert(v.to_string());
            }
        }
        Ok(values.into_iter().collect())
    }
}

/// Merges two label-sorted series lists; samples at the same timestamp come from `head`.
pub fn merge_series(head: Vec<Series>, blocks: Vec<Series>) -> Vec<Series> {
    if blocks.is_empty() {
        return head;
    }
    join_by_labels(head, blocks, |newer, older| Series {
        labels: newer.labels,
        samples: crate::storage::head::series::merge_sorted(newer.samples, older.samples),
        histograms: merge_histograms(newer.histograms, older.histograms),
        start_timestamps: merge_start_timestamps(newer.start_timestamps, older.start_timestamps),
    })
}

/// Merges two series lists sorted by labels in one pass, without cloning label sets; a
/// series in both is made by `combine(from_first, from_second)`. A list that is not sorted
/// (never the case for the store's own readers) is sorted first, so the result stays right.
pub(crate) fn join_by_labels(
    mut first: Vec<Series>,
    mut second: Vec<Series>,
    mut combine: impl FnMut(Series, Series) -> Series,
) -> Vec<Series> {
    for list in [&mut first, &mut second] {
        if !list.is_sorted_by(|a, b| a.labels <= b.labels) {
            list.sort_by(|a, b| a.labels.cmp(&b.labels));
        }
    }
    let mut out = Vec::with_capacity(first.len().max(second.len()));
    let mut first = first.into_iter().peekable();
    let mut second = second.into_iter().peekable();
    loop {
        let order = match (first.peek(), second.peek()) {
            (Some(a), Some(b)) => a.labels.cmp(&b.labels),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => break,
        };
        match order {
            std::cmp::Ordering::Less => out.extend(first.next()),
            std::cmp::Ordering::Greater => out.extend(second.next()),
            std::cmp::Ordering::Equal => {
                if let (Some(a), Some(b)) = (first.next(), second.next()) {
                    out.push(combine(a, b));
                }
            }
        }
    }
    out
}

fn merge_histograms(first: Vec<HistogramSample>, second: Vec<HistogramSample>) -> Vec<HistogramSample> {
    if second.is_empty() {
        return first;
    }
    let mut all: BTreeMap<i64, HistogramSample> = second.into_iter().map(|h| (h.t, h)).collect();
    for h in first {
        all.insert(h.t, h);
    }
    all.into_values().collect()
}

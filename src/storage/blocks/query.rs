//! Reads: prune blocks by time, match series in each block's index, range-read only the
//! matching series' rows, merge the same series across blocks.

use super::bucket::object_store_error;
use super::format::{BlockFile, SeriesEntry, SeriesIndex, decode_series_index};
use super::layout::{self, HISTOGRAMS_FILE, SAMPLES_FILE, SERIES_FILE, START_TIMESTAMPS_FILE};
pub(super) use super::merge::merge_series;
use super::reader::{for_each_row_batch, load_metadata};
use super::samples_file::SamplesDecoder;
use super::start_times;
use super::{BlockStore, catalog, join_error};
use crate::storage::error::StorageError;
use crate::storage::histogram_codec::decode_histogram;
use crate::storage::labels::Labels;
use crate::storage::matcher::{LabelMatcher, matches_all};
use crate::storage::model::{HistogramSample, Sample, Series};
use arrow::array::{Array, BinaryArray, Int64Array, UInt32Array};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Blocks read at the same time by one query.
const BLOCK_READ_CONCURRENCY: usize = 4;

impl BlockStore {
    pub(super) async fn select_series(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, StorageError> {
        self.read_with_catalog_retry(tenant, mint, maxt, |blocks| async move {
            self.select_from(&blocks, matchers, mint, maxt).await
        })
        .await
    }

    pub(super) async fn series_labels(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        self.read_with_catalog_retry(tenant, mint, maxt, |blocks| async move {
            self.labels_from(&blocks, matchers, mint, maxt).await
        })
        .await
    }

    /// Runs `read` over the blocks overlapping `[mint, maxt]`. A block may have been compacted
    /// or expired while it was read (here or by another process); then the data is in another
    /// block, so after a read error the catalog is refreshed and, if the block list changed,
    /// the read runs once more.
    async fn read_with_catalog_retry<T, F, Fut>(
        &self,
        tenant: &str,
        mint: i64,
        maxt: i64,
        read: F,
    ) -> Result<T, StorageError>
    where
        F: Fn(Vec<Arc<BlockFile>>) -> Fut,
        Fut: std::future::Future<Output = Result<T, StorageError>>,
    {
        let blocks = self.blocks_in_range(tenant, mint, maxt);
        let error = match read(blocks.clone()).await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if matches!(error, StorageError::ObjectStore(_)) {
            self.refresh().await?;
        }
        let current = self.blocks_in_range(tenant, mint, maxt);
        if same_blocks(&blocks, &current) {
            return Err(error);
        }
        read(current).await
    }

    async fn labels_from(
        &self,
        blocks: &[Arc<BlockFile>],
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        // Owned block handles: a closure over borrowed ones makes the future non-Send
        // (a higher-ranked lifetime the compiler cannot prove).
        let indexes: Vec<Arc<SeriesIndex>> = futures::stream::iter(blocks.iter().cloned())
            .map(|block| async move { self.series_index(&block).await })
            .buffered(BLOCK_READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut labels = BTreeSet::new();
        for index in &indexes {
            for (_, entry) in matching(index, matchers, mint, maxt) {
                labels.insert(entry.labels.clone());
            }
        }
        Ok(labels.into_iter().collect())
    }

    fn blocks_in_range(&self, tenant: &str, mint: i64, maxt: i64) -> Vec<Arc<BlockFile>> {
        self.read_catalog()
            .visible(tenant)
            .into_iter()
            .filter(|b| b.meta.min_time <= maxt && b.meta.max_time >= mint)
            .collect()
    }

    async fn select_from(
        &self,
        blocks: &[Arc<BlockFile>],
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, StorageError> {
        let per_block: Vec<Vec<Series>> = futures::stream::iter(blocks.iter().cloned())
            .map(|block| async move { self.read_block(&block, matchers, mint, maxt).await })
            .buffered(BLOCK_READ_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(merge_series(per_block))
    }

    /// The matching series of one block with their samples in `[mint, maxt]`, sorted by labels.
    pub(super) async fn read_block(
        &self,
        block: &BlockFile,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, StorageError> {
        let index = self.series_index(block).await?;
        let matched = matching(&index, matchers, mint, maxt);
        if matched.is_empty() {
            return Ok(Vec::new());
        }
        let mut out: Vec<Series> = matched
            .iter()
            .map(|(_, entry)| Series {
                labels: entry.labels.clone(),
                ..Series::default()
            })
            .collect();
        let ids: Vec<u32> = matched.iter().map(|(id, _)| *id).collect();

        let sample_ranges = row_ranges(&matched, |e| (e.sample_offset, e.sample_count));
        if !sample_ranges.is_empty() {
            let samples = self
                .read_samples(block, Arc::clone(&index), ids.clone(), sample_ranges, (mint, maxt))
                .await?;
            for (series, samples) in out.iter_mut().zip(samples) {
                series.samples = samples;
            }
        }
        let histogram_ranges = row_ranges(&matched, |e| (e.histogram_offset, e.histogram_count));
        if !histogram_ranges.is_empty() {
            let path = layout::block_file(&block.meta.tenant, &block.meta.id, HISTOGRAMS_FILE);
            let batches = self.read_rows(block, HISTOGRAMS_FILE, &histogram_ranges).await?;
            distribute_histograms(path.as_ref(), &batches, &ids, &mut out, mint, maxt)?;
        }
        let start_ranges = row_ranges(&matched, |e| (e.start_timestamp_offset, e.start_timestamp_count));
        if !start_ranges.is_empty() {
            let path = layout::block_file(&block.meta.tenant, &block.meta.id, START_TIMESTAMPS_FILE);
            let batches = self.read_rows(block, START_TIMESTAMPS_FILE, &start_ranges).await?;
            start_times::distribute(path.as_ref(), &batches, &ids, &mut out, mint, maxt)?;
        }
        out.retain(|s| !s.samples.is_empty() || !s.histograms.is_empty());
        Ok(out)
    }

    async fn read_rows(
        &self,
        block: &BlockFile,
        file: &str,
        ranges: &[Range<u64>],
    ) -> Result<Vec<RecordBatch>, StorageError> {
        let mut batches = Vec::new();
        self.for_each_batch(block, file, ranges, |batch| {
            batches.push(batch);
            Ok(())
        })
        .await?;
        Ok(batches)
    }

    /// Decodes the sample rows of `ranges` for the series `ids` (ascending) of `index`, each
    /// series cut to `[mint, maxt]`, in the order of `ids`. Decoding pages is most of a large
    /// read's CPU time, so it runs as its own task, streaming batch by batch: the blocks a
    /// query reads at once (at most `BLOCK_READ_CONCURRENCY`) decode on several worker
    /// threads instead of taking turns in the query's task, and only one decoded batch per
    /// block is held at a time. The task is aborted if the query is dropped.
    async fn read_samples(
        &self,
        block: &BlockFile,
        index: Arc<SeriesIndex>,
        ids: Vec<u32>,
        ranges: Vec<Range<u64>>,
        (mint, maxt): (i64, i64),
    ) -> Result<Vec<Vec<Sample>>, StorageError> {
        let path = layout::block_file(&block.meta.tenant, &block.meta.id, SAMPLES_FILE);
        let Some(size) = block.file_size(SAMPLES_FILE) else {
            return Err(corrupt(path.as_ref(), "meta.json does not list this file"));
        };
        let footer = self.footer(&path, size).await?;
        let store = Arc::clone(&self.store);
        let bytes_read = Arc::clone(&self.bytes_read);
        let task = tokio::spawn(async move {
            let what: &str = path.as_ref();
            let matched: Vec<(u32, &SeriesEntry)> = ids
                .iter()
                .filter_map(|&id| index.entries.get(usize::try_from(id).ok()?).map(|e| (id, e)))
                .collect();
            let mut decoder = SamplesDecoder::new(&matched, mint, maxt);
            for_each_row_batch(store, &path, size, &footer, &ranges, bytes_read, |batch| {
                decoder.push(&batch).map_err(|reason| corrupt(what, &reason))
            })
            .await?;
            decoder.finish().map_err(|reason| corrupt(what, &reason))
        });
        let mut task = AbortOnDrop(task);
        (&mut task.0).await.map_err(join_error)?
    }

    /// Streams the rows of `ranges` of one block file to `each`, batch by batch.
    async fn for_each_batch(
        &self,
        block: &BlockFile,
        file: &str,
        ranges: &[Range<u64>],
        each: impl FnMut(RecordBatch) -> Result<(), StorageError>,
    ) -> Result<(), StorageError> {
        let path = layout::block_file(&block.meta.tenant, &block.meta.id, file);
        let Some(size) = block.file_size(file) else {
            return Err(StorageError::Corrupt {
                what: path.to_string(),
                reason: "meta.json does not list this file".into(),
            });
        };
        let footer = self.footer(&path, size).await?;
        let bytes_read = Arc::clone(&self.bytes_read);
        for_each_row_batch(Arc::clone(&self.store), &path, size, &footer, ranges, bytes_read, each).await
    }

    /// The footer of a data file, read once and then kept in memory.
    async fn footer(&self, path: &object_store::path::Path, size: u64) -> Result<ArrowReaderMetadata, StorageError> {
        let key = path.to_string();
        if let Some(footer) = self.footers.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(footer);
        }
        let footer = load_metadata(Arc::clone(&self.store), path, size, Arc::clone(&self.bytes_read)).await?;
        self.footers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, footer.clone());
        Ok(footer)
    }

    /// A block's decoded series index: from memory, else the redb cache, else the bucket.
    pub(super) async fn series_index(&self, block: &BlockFile) -> Result<Arc<SeriesIndex>, StorageError> {
        let key = catalog::block_key(block);
        if let Some(index) = self.indexes.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(index);
        }
        let cache = self.cache.clone();
        let cache_key = key.clone();
        let cached = tokio::task::spawn_blocking(move || cache.series_index(&cache_key))
            .await
            .map_err(join_error)?
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "block cache read failed");
                None
            });
        let from_cache = cached.is_some();
        let bytes = match cached {
            Some(bytes) => Bytes::from(bytes),
            None => {
                let path = layout::block_file(&block.meta.tenant, &block.meta.id, SERIES_FILE);
                let result = self.store.get(&path).await.map_err(object_store_error)?;
                let bytes = result.bytes().await.map_err(object_store_error)?;
                self.bytes_read.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                bytes
            }
        };
        let what = format!("{key}/{SERIES_FILE}");
        let decode_bytes = bytes.clone();
        let index = tokio::task::spawn_blocking(move || decode_series_index(decode_bytes))
            .await
            .map_err(join_error)?
            .map_err(|reason| StorageError::Corrupt { what, reason })?;
        if !from_cache {
            let cache = self.cache.clone();
            let cache_key = key.clone();
            let stored = tokio::task::spawn_blocking(move || cache.insert_series_index(&cache_key, &bytes)).await;
            if let Ok(Err(error)) = stored {
                tracing::warn!(%error, "could not cache series index");
            }
        }
        let index = Arc::new(index);
        self.indexes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, Arc::clone(&index));
        Ok(index)
    }
}

/// Series of the index that match and have data overlapping `[mint, maxt]`, with their ids.
fn matching<'a>(
    index: &'a SeriesIndex,
    matchers: &[LabelMatcher],
    mint: i64,
    maxt: i64,
) -> Vec<(u32, &'a SeriesEntry)> {
    index
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.overlaps(mint, maxt) && matches_all(matchers, &e.labels))
        .filter_map(|(i, e)| u32::try_from(i).ok().map(|id| (id, e)))
        .collect()
}

/// The row ranges of the matched series, adjacent ones joined: series are stored one after
/// the other, so a selector matching most of a block reads a few long runs rather than one
/// run per series (each run boundary costs the Parquet reader a skip/select switch).
fn row_ranges(matched: &[(u32, &SeriesEntry)], span: impl Fn(&SeriesEntry) -> (u64, u64)) -> Vec<Range<u64>> {
    let mut ranges: Vec<Range<u64>> = Vec::new();
    for (offset, count) in matched.iter().map(|(_, e)| span(e)).filter(|(_, count)| *count > 0) {
        let range = offset..offset.saturating_add(count);
        match ranges.last_mut() {
            Some(last) if last.end == range.start => last.end = range.end,
            _ => ranges.push(range),
        }
    }
    ranges
}

pub(super) fn corrupt(what: &str, reason: &str) -> StorageError {
    StorageError::Corrupt {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

pub(super) fn typed_column<'a, T: 'static>(
    batch: &'a RecordBatch,
    name: &str,
    what: &str,
) -> Result<&'a T, StorageError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| corrupt(what, &format!("column {name} missing or of the wrong type")))
}

/// Walks rows (which come in series order) and hands each to its series. A row whose series
/// was not asked for means offsets and rows disagree: the file is corrupt.
pub(super) struct RowRouter<'a> {
    ids: &'a [u32],
    position: usize,
}

impl<'a> RowRouter<'a> {
    pub(super) fn new(ids: &'a [u32]) -> Self {
        Self { ids, position: 0 }
    }

    pub(super) fn route(&mut self, id: u32, what: &str) -> Result<usize, StorageError> {
        while let Some(&current) = self.ids.get(self.position) {
            if current == id {
                return Ok(self.position);
            }
            if current > id {
                break;
            }
            self.position += 1;
        }
        Err(corrupt(what, "row of a series outside its offsets"))
    }
}

/// Aborts a spawned task when its handle is dropped (the awaiting query went away).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn distribute_histograms(
    what: &str,
    batches: &[RecordBatch],
    ids: &[u32],
    out: &mut [Series],
    mint: i64,
    maxt: i64,
) -> Result<(), StorageError> {
    let mut router = RowRouter { ids, position: 0 };
    for batch in batches {
        let series_ids = typed_column::<UInt32Array>(batch, "series_id", what)?;
        let ts = typed_column::<Int64Array>(batch, "t", what)?;
        let hs = typed_column::<BinaryArray>(batch, "h", what)?;
        for row in 0..batch.num_rows() {
            let slot = router.route(series_ids.value(row), what)?;
            let t = ts.value(row);
            if t < mint || t > maxt || hs.is_null(row) {
                continue;
            }
            let h = decode_histogram(hs.value(row)).map_err(|e| corrupt(what, &e.to_string()))?;
            if let Some(series) = out.get_mut(slot) {
                series.histograms.push(HistogramSample { t, h });
            }
        }
    }
    Ok(())
}

fn same_blocks(a: &[Arc<BlockFile>], b: &[Arc<BlockFile>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.meta.id == y.meta.id)
}

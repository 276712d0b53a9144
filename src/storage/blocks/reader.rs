//! Range reads of Parquet files on object storage: the footer and offset index once per
//! block (then kept in memory), and afterwards only the pages holding the rows asked for.
//!
//! Our own `AsyncFileReader` because parquet 59 deprecates `ParquetObjectReader`.

use crate::storage::error::StorageError;
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, RowSelection, RowSelector};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Rows decoded per batch when reading samples.
const READ_BATCH_ROWS: usize = 8 * 1024;

pub struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
    /// Bytes fetched from the bucket, for self-monitoring.
    bytes_read: Arc<AtomicU64>,
}

impl ObjectReader {
    pub fn new(store: Arc<dyn ObjectStore>, path: Path, size: u64, bytes_read: Arc<AtomicU64>) -> Self {
        Self {
            store,
            path,
            size,
            bytes_read,
        }
    }
}

fn external(error: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(error))
}

impl AsyncFileReader for ObjectReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            let bytes = self.store.get_range(&self.path, range).await.map_err(external)?;
            self.bytes_read.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            Ok(bytes)
        }
        .boxed()
    }

    fn get_byte_ranges(&mut self, ranges: Vec<Range<u64>>) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            let parts = self.store.get_ranges(&self.path, &ranges).await.map_err(external)?;
            let fetched: u64 = parts.iter().map(|b| b.len() as u64).sum();
            self.bytes_read.fetch_add(fetched, Ordering::Relaxed);
            Ok(parts)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            // The offset index tells where each page starts, which is what lets a row
            // selection fetch single pages instead of whole column chunks.
            let metadata = ParquetMetaDataReader::new()
                .with_offset_index_policy(PageIndexPolicy::Optional)
                .with_column_index_policy(PageIndexPolicy::Skip)
                .with_prefetch_hint(Some(64 * 1024))
                .load_and_finish(&mut *self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// Maps a Parquet error to ours: failures of the bucket stay object-store errors (retryable,
/// a 5xx for the client), everything else means the file is corrupt.
pub fn parquet_error(path: &Path, error: ParquetError) -> StorageError {
    if let ParquetError::External(inner) = &error
        && let Some(store_error) = inner.downcast_ref::<object_store::Error>()
    {
        return StorageError::ObjectStore(store_error.to_string());
    }
    StorageError::Corrupt {
        what: path.to_string(),
        reason: error.to_string(),
    }
}

/// Reads the footer (and offset index) of one Parquet file.
pub async fn load_metadata(
    store: Arc<dyn ObjectStore>,
    path: &Path,
    size: u64,
    bytes_read: Arc<AtomicU64>,
) -> Result<ArrowReaderMetadata, StorageError> {
    let mut reader = ObjectReader::new(store, path.clone(), size, bytes_read);
    let metadata = reader.get_metadata(None).await.map_err(|e| parquet_error(path, e))?;
    ArrowReaderMetadata::try_new(metadata, ArrowReaderOptions::new()).map_err(|e| parquet_error(path, e))
}

/// Reads the rows of `ranges` (start row, row count; sorted, disjoint), touching only the row
/// groups and pages that hold them, and hands each decoded batch to `each` as it comes: a caller that
/// copies the rows out holds one batch at a time instead of the whole selection twice
/// (10,000 series of a 2 h block are ~100 MB of decoded columns), and copies them while they
/// are still in the CPU cache.
pub async fn for_each_row_batch(
    store: Arc<dyn ObjectStore>,
    path: &Path,
    size: u64,
    metadata: &ArrowReaderMetadata,
    ranges: &[Range<u64>],
    bytes_read: Arc<AtomicU64>,
    mut each: impl FnMut(RecordBatch) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    if ranges.is_empty() {
        return Ok(());
    }
    let group_rows: Vec<u64> = metadata
        .metadata()
        .row_groups()
        .iter()
        .map(|g| u64::try_from(g.num_rows()).unwrap_or(0))
        .collect();
    let (row_groups, selection) = plan_selection(&group_rows, ranges).map_err(|reason| StorageError::Corrupt {
        what: path.to_string(),
        reason,
    })?;
    let reader = ObjectReader::new(store, path.clone(), size, bytes_read);
    let mut stream = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata.clone())
        .with_row_groups(row_groups)
        .with_row_selection(selection)
        .with_batch_size(READ_BATCH_ROWS)
        .build()
        .map_err(|e| parquet_error(path, e))?;
    while let Some(batch) = stream.try_next().await.map_err(|e| parquet_error(path, e))? {
        each(batch)?;
    }
    Ok(())
}

/// Which row groups to read and the row selection within them (relative to the selected
/// groups laid end to end, as the Parquet reader wants it).
fn plan_selection(group_rows: &[u64], ranges: &[Range<u64>]) -> Result<(Vec<usize>, RowSelection), String> {
    let total: u64 = group_rows.iter().sum();
    let mut previous_end = 0;
    for range in ranges {
        if range.start < previous_end || range.end < range.start || range.end > total {
            return Err(format!(
                "row range {range:?} outside the file's {total} rows or out of order"
            ));
        }
        previous_end = range.end;
    }
    let mut row_groups = Vec::new();
    let mut selectors = Vec::new();
    let mut group_start = 0u64;
    let mut next_range = 0usize;
    for (group, &rows) in group_rows.iter().enumerate() {
        let group_end = group_start + rows;
        let mut cursor = group_start;
        let mut touched = false;
        let mut group_selectors = Vec::new();
        let mut i = next_range;
        while let Some(range) = ranges.get(i) {
            if range.start >= group_end {
                break;
            }
            let start = range.start.max(group_start);
            let end = range.end.min(group_end);
            if start < end {
                touched = true;
                if start > cursor {
                    group_selectors.push(RowSelector::skip(to_usize(start - cursor)));
                }
                group_selectors.push(RowSelector::select(to_usize(end - start)));
                cursor = end;
            }
            if range.end <= group_end {
                i += 1;
            } else {
                break;
            }
        }
        next_range = i;
        if touched {
            if group_end > cursor {
                group_selectors.push(RowSelector::skip(to_usize(group_end - cursor)));
            }
            row_groups.push(group);
            selectors.extend(group_selectors);
        }
        group_start = group_end;
    }
    Ok((row_groups, RowSelection::from(selectors)))
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_skips_untouched_row_groups() {
        let groups = [10, 10, 10];
        let (picked, selection) = plan_selection(&groups, &[2..4, 25..27]).unwrap();
        assert_eq!(picked, vec![0, 2]);
        assert_eq!(selection.row_count(), 4);
        // Selection covers only the picked groups laid end to end: 20 rows.
        assert_eq!(selection.row_count() + selection.skipped_row_count(), 20);
    }

    #[test]
    fn selection_spanning_groups_and_bad_ranges() {
        let (picked, selection) = plan_selection(&[10, 10], &[Range { start: 8, end: 13 }]).unwrap();
        assert_eq!(picked, vec![0, 1]);
        assert_eq!(selection.row_count(), 5);
        assert!(plan_selection(&[10], &[Range { start: 5, end: 11 }]).is_err());
        assert!(plan_selection(&[10], &[5..6, 2..3]).is_err());
    }
}

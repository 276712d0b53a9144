//! `start_timestamps.parquet`: the start ("created") timestamps of a block's samples, for the
//! series that have any. A separate file because most blocks have none and then it does not
//! exist; rows are `(series_id, t, st)` in series order, and `series.parquet` gives each
//! series' row offset and count, as it does for samples and histograms.
//!
//! `st` is stored as `t - st`: that difference is constant for delta series and grows
//! slowly for cumulative ones, so delta encoding turns it into a few bits per row.

use super::format::series_id;
use super::query::{RowRouter, corrupt, typed_column};
use crate::storage::error::StorageError;
use crate::storage::model::{Series, StartTimestamp};
use arrow::array::{ArrayRef, Int64Array, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Encoding;
use parquet::file::properties::WriterPropertiesBuilder;
use parquet::schema::types::ColumnPath;
use std::sync::Arc;

/// Rows per record batch handed to the writer.
const BATCH_ROWS: usize = 64 * 1024;
/// Rows per data page: the unit a read of one series' rows fetches.
const PAGE_ROWS: usize = 8 * 1024;

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt32, false),
        Field::new("t", DataType::Int64, false),
        Field::new("t_minus_st", DataType::Int64, false),
    ]))
}

/// Encodes the start timestamps of `series` (normalised: sorted by labels, each list
/// ascending by `t`). The row order matches the offsets `series.parquet` records.
pub fn encode(series: &[Series], properties: WriterPropertiesBuilder) -> Result<Vec<u8>, String> {
    let properties = properties
        .set_dictionary_enabled(false)
        .set_encoding(Encoding::DELTA_BINARY_PACKED)
        .set_column_encoding(ColumnPath::from("series_id"), Encoding::DELTA_BINARY_PACKED)
        .set_data_page_row_count_limit(PAGE_ROWS)
        .build();
    let schema = schema();
    let mut writer =
        ArrowWriter::try_new(Vec::new(), Arc::clone(&schema), Some(properties)).map_err(|e| e.to_string())?;
    let (mut ids, mut ts, mut gaps) = (Vec::new(), Vec::new(), Vec::new());
    let mut flush = |ids: &mut Vec<u32>, ts: &mut Vec<i64>, gaps: &mut Vec<i64>| -> Result<(), String> {
        if ids.is_empty() {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(std::mem::take(ids))),
            Arc::new(Int64Array::from(std::mem::take(ts))),
            Arc::new(Int64Array::from(std::mem::take(gaps))),
        ];
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns).map_err(|e| e.to_string())?;
        writer.write(&batch).map_err(|e| e.to_string())
    };
    for (position, s) in series.iter().enumerate() {
        let id = series_id(position)?;
        for entry in &s.start_timestamps {
            ids.push(id);
            ts.push(entry.t);
            gaps.push(entry.t.wrapping_sub(entry.st));
            if ids.len() == BATCH_ROWS {
                flush(&mut ids, &mut ts, &mut gaps)?;
            }
        }
    }
    flush(&mut ids, &mut ts, &mut gaps)?;
    writer.into_inner().map_err(|e| e.to_string())
}

/// Hands the rows read for the series `ids` (ascending) to `out` (same order), keeping those
/// in `[mint, maxt]`.
pub fn distribute(
    what: &str,
    batches: &[RecordBatch],
    ids: &[u32],
    out: &mut [Series],
    mint: i64,
    maxt: i64,
) -> Result<(), StorageError> {
    let mut router = RowRouter::new(ids);
    for batch in batches {
        let series_ids = typed_column::<UInt32Array>(batch, "series_id", what)?;
        let ts = typed_column::<Int64Array>(batch, "t", what)?;
        let gaps = typed_column::<Int64Array>(batch, "t_minus_st", what)?;
        for row in 0..batch.num_rows() {
            let slot = router.route(series_ids.value(row), what)?;
            let t = ts.value(row);
            if t < mint || t > maxt {
                continue;
            }
            let st = t.wrapping_sub(gaps.value(row));
            if st == 0 {
                return Err(corrupt(what, "a start timestamp of 0 is never stored"));
            }
            if let Some(series) = out.get_mut(slot) {
                series.start_timestamps.push(StartTimestamp { t, st });
            }
        }
    }
    Ok(())
}

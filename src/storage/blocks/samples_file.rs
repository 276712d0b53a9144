//! `samples.parquet`: one row per float sample, series after series (in index order), each
//! series' rows in time order. The columns are the integers of `sample_codec`, so a series'
//! rows are decoded from its first row on: read whole series, then cut to the time range.

use super::format::{
    BATCH_ROWS, EncodeResult, PAGE_ROWS, SeriesEntry, base_properties, column, series_id, series_min_t,
};
use super::sample_codec::{SampleColumns, SeriesDecoder, ValueScale, encode_series};
use crate::storage::model::{Sample, Series};
use arrow::array::{ArrayRef, Int64Array, UInt8Array, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Encoding;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::sync::Arc;

/// Rows per row group: a query reads whole pages, and pages are bounded by `PAGE_ROWS`, so
/// row groups only need to be small enough to bound a writer's memory.
const ROW_GROUP_ROWS: usize = 256 * 1024;

/// Per-series timestamp delta-of-delta, zigzagged.
const T_COLUMN: &str = "t_dod";
/// Per-series delta of the scaled integer value, zigzagged, split into its low byte and the
/// rest: ZSTD codes all literals of a page with one Huffman table, so a column mixing a
/// random low byte with a skewed second byte pays for both at the rate of the flatter.
const V_LOW_COLUMN: &str = "v_delta_low";
const V_HIGH_COLUMN: &str = "v_delta_high";
/// Per-series delta of the ulps correcting the scaled value, zigzagged.
const ULPS_COLUMN: &str = "v_ulps_delta";

fn samples_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt32, false),
        Field::new(T_COLUMN, DataType::Int64, false),
        Field::new(V_LOW_COLUMN, DataType::UInt8, false),
        Field::new(V_HIGH_COLUMN, DataType::Int64, false),
        Field::new(ULPS_COLUMN, DataType::Int64, false),
    ]))
}

/// Sorted series ids delta-encode to a few bits per row. The other columns hold small
/// zigzagged differences (see `sample_codec`): byte-stream-split puts their low bytes
/// together for ZSTD to entropy-code and their zero high bytes together to vanish.
fn samples_properties() -> WriterProperties {
    let mut properties = base_properties()
        .set_dictionary_enabled(false)
        .set_column_encoding(ColumnPath::from("series_id"), Encoding::DELTA_BINARY_PACKED)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS);
    // Min/max of zigzagged differences mean nothing; leaving them out shrinks every page
    // header and the footer.
    for name in [T_COLUMN, V_LOW_COLUMN, V_HIGH_COLUMN, ULPS_COLUMN] {
        properties = properties
            .set_column_encoding(ColumnPath::from(name), Encoding::BYTE_STREAM_SPLIT)
            .set_column_statistics_enabled(ColumnPath::from(name), EnabledStatistics::None);
    }
    properties.build()
}

/// Writes the rows of every series (in index order), choosing nothing: the scales were
/// chosen with the index.
pub fn encode_samples(series: &[Series], scales: &[ValueScale]) -> EncodeResult<Vec<u8>> {
    let schema = samples_schema();
    let mut writer =
        ArrowWriter::try_new(Vec::new(), Arc::clone(&schema), Some(samples_properties())).map_err(|e| e.to_string())?;
    let mut ids = Vec::with_capacity(BATCH_ROWS);
    let mut columns = SampleColumns::default();
    for (position, (s, scale)) in series.iter().zip(scales).enumerate() {
        let id = series_id(position)?;
        ids.resize(ids.len() + s.samples.len(), id);
        encode_series(&s.samples, series_min_t(s).unwrap_or(0), *scale, &mut columns);
        if ids.len() >= BATCH_ROWS {
            write_samples_batch(&mut writer, &schema, &mut ids, &mut columns)?;
        }
    }
    write_samples_batch(&mut writer, &schema, &mut ids, &mut columns)?;
    writer.into_inner().map_err(|e| e.to_string())
}

fn write_samples_batch(
    writer: &mut ArrowWriter<Vec<u8>>,
    schema: &Arc<Schema>,
    ids: &mut Vec<u32>,
    columns: &mut SampleColumns,
) -> EncodeResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from(std::mem::take(ids))),
        Arc::new(Int64Array::from(std::mem::take(&mut columns.t))),
        Arc::new(UInt8Array::from_iter_values(columns.n.iter().map(|&n| n as u8))),
        Arc::new(Int64Array::from_iter_values(
            columns.n.drain(..).map(|n| ((n as u64) >> 8) as i64),
        )),
        Arc::new(Int64Array::from(std::mem::take(&mut columns.ulps))),
    ];
    let batch = RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| e.to_string())?;
    writer.write(&batch).map_err(|e| e.to_string())
}

/// Decodes the rows of whole series, read in the order of `series` (id and index entry, those
/// without samples skipped), into each series' samples within `[mint, maxt]`. Rows of another
/// series, or too few or too many rows, mean the file and its index disagree: an error.
/// (Queries stream through [`SamplesDecoder`]; this whole-batch form serves the tests.)
#[cfg(test)]
pub fn decode_samples(
    batches: &[RecordBatch],
    series: &[(u32, &SeriesEntry)],
    mint: i64,
    maxt: i64,
) -> Result<Vec<Vec<Sample>>, String> {
    let mut decoder = SamplesDecoder::new(series, mint, maxt);
    for batch in batches {
        decoder.push(batch)?;
    }
    decoder.finish()
}

/// [`decode_samples`] batch by batch, for a reader that streams: rows may split anywhere
/// between batches, series are still decoded from their first row on.
pub struct SamplesDecoder<'a> {
    series: &'a [(u32, &'a SeriesEntry)],
    mint: i64,
    maxt: i64,
    out: Vec<Vec<Sample>>,
    /// Position in `series` of the series being decoded (== len when done).
    position: usize,
    /// Rows of that series still to come.
    left: u64,
    values: SeriesDecoder,
}

impl<'a> SamplesDecoder<'a> {
    pub fn new(series: &'a [(u32, &'a SeriesEntry)], mint: i64, maxt: i64) -> Self {
        let mut decoder = Self {
            series,
            mint,
            maxt,
            out: series.iter().map(|_| Vec::new()).collect(),
            position: 0,
            left: 0,
            values: SeriesDecoder::new(0, ValueScale::RAW),
        };
        decoder.start_series(0);
        decoder
    }

    /// Moves to the first series at or after `position` that has samples.
    fn start_series(&mut self, position: usize) {
        self.position = position;
        while let Some((_, entry)) = self.series.get(self.position) {
            if entry.sample_count > 0 {
                self.left = entry.sample_count;
                self.values = SeriesDecoder::new(entry.min_t, entry.value_scale);
                return;
            }
            self.position += 1;
        }
    }

    pub fn push(&mut self, batch: &RecordBatch) -> Result<(), String> {
        let ids = column::<UInt32Array>(batch, "series_id")?.values();
        let ts = column::<Int64Array>(batch, T_COLUMN)?.values();
        let lows = column::<UInt8Array>(batch, V_LOW_COLUMN)?.values();
        let highs = column::<Int64Array>(batch, V_HIGH_COLUMN)?.values();
        let ulps = column::<Int64Array>(batch, ULPS_COLUMN)?.values();
        let rows = ids.iter().zip(ts).zip(lows).zip(highs).zip(ulps);
        for ((((&id, &t), &low), &high), &u) in rows {
            let (Some((expected, _)), Some(samples)) =
                (self.series.get(self.position), self.out.get_mut(self.position))
            else {
                return Err("more sample rows than the index lists".into());
            };
            if id != *expected {
                return Err(format!("row of series {id} where series {expected} was expected"));
            }
            let sample = self.values.next(t, (high << 8) | i64::from(low), u);
            if sample.t >= self.mint && sample.t <= self.maxt {
                samples.push(sample);
            }
            self.left -= 1;
            if self.left == 0 {
                self.start_series(self.position + 1);
            }
        }
        Ok(())
    }

    /// Each series' samples, in the order of `series`.
    pub fn finish(self) -> Result<Vec<Vec<Sample>>, String> {
        if self.position < self.series.len() {
            return Err("fewer sample rows than the index lists".into());
        }
        Ok(self.out)
    }
}

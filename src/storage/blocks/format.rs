//! The on-bucket format of one metrics block: `meta.json`, `series.parquet`,
//! `samples.parquet` and (only when there are any) `histograms.parquet`. Encoding runs on
//! in-memory series; see `mod.rs` for why the layout is what it is.

use super::BlockMeta;
use super::sample_codec::{ValueScale, choose_scale};
use super::samples_file::encode_samples;
use crate::storage::histogram_codec::encode_histogram;
use crate::storage::labels::{Label, Labels};
use crate::storage::model::Series;
use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Int64Array, MapBuilder, PrimitiveArray, StringBuilder, UInt8Array,
    UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, UInt8Type, UInt32Type, UInt64Type};
use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{WriterProperties, WriterPropertiesBuilder};
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Version of the block format; readers skip blocks with a version they do not know.
pub const FORMAT_VERSION: u32 = 2;

/// Rows per data page: the unit a range read fetches for one series (with the offset index).
pub(super) const PAGE_ROWS: usize = 16 * 1024;
/// Rows per record batch handed to the writer.
pub(super) const BATCH_ROWS: usize = 64 * 1024;

/// `meta.json`: the block's catalog entry. Written last, so its presence means the block is
/// complete.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BlockFile {
    pub format: u32,
    #[serde(flatten)]
    pub meta: BlockMeta,
    /// Native histogram samples (not counted in `samples`).
    #[serde(default)]
    pub histograms: u64,
    /// Ids of the blocks this one replaces (compaction). Readers hide those as soon as this
    /// meta.json exists, so a reader never sees the same data twice or half of it.
    #[serde(default)]
    pub sources: Vec<String>,
    pub files: Vec<FileEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
}

impl BlockFile {
    pub fn file_size(&self, name: &str) -> Option<u64> {
        self.files.iter().find(|f| f.name == name).map(|f| f.bytes)
    }
}

/// One row of `series.parquet`: a series' labels, time range and where its rows are.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesEntry {
    pub labels: Labels,
    pub min_t: i64,
    pub max_t: i64,
    pub sample_offset: u64,
    pub sample_count: u64,
    pub histogram_offset: u64,
    pub histogram_count: u64,
    /// How the series' values map to the integer columns of `samples.parquet`.
    pub value_scale: ValueScale,
    /// Rows of `start_timestamps.parquet` (0 when the series has none).
    pub start_timestamp_offset: u64,
    pub start_timestamp_count: u64,
}

impl SeriesEntry {
    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.min_t <= maxt && self.max_t >= mint
    }
}

/// The decoded `series.parquet`; the series id is the position, series are sorted by labels.
#[derive(Debug, Default)]
pub struct SeriesIndex {
    pub entries: Vec<SeriesEntry>,
}

/// The encoded files of one block plus what meta.json records about them.
pub struct EncodedBlock {
    pub series: Vec<u8>,
    pub samples: Vec<u8>,
    pub histograms: Option<Vec<u8>>,
    pub start_timestamps: Option<Vec<u8>>,
    pub series_count: u64,
    pub sample_count: u64,
    pub histogram_count: u64,
    pub min_t: Option<i64>,
    pub max_t: Option<i64>,
}

pub(super) fn base_properties() -> WriterPropertiesBuilder {
    let level = ZstdLevel::try_new(3).unwrap_or_default();
    WriterProperties::builder().set_compression(Compression::ZSTD(level))
}

fn histograms_properties() -> WriterProperties {
    base_properties()
        .set_column_dictionary_enabled(ColumnPath::from("series_id"), false)
        .set_column_dictionary_enabled(ColumnPath::from("t"), false)
        .set_column_encoding(ColumnPath::from("series_id"), Encoding::DELTA_BINARY_PACKED)
        .set_column_encoding(ColumnPath::from("t"), Encoding::DELTA_BINARY_PACKED)
        .set_data_page_row_count_limit(PAGE_ROWS)
        .build()
}

fn histograms_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt32, false),
        Field::new("t", DataType::Int64, false),
        Field::new("h", DataType::Binary, false),
    ]))
}

pub(super) type EncodeResult<T> = Result<T, String>;

/// Encodes series that are already sorted by labels, unique, non-empty, with samples sorted
/// by time and without duplicate timestamps (the caller normalises).
pub fn encode_block(series: &[Series]) -> EncodeResult<EncodedBlock> {
    let scales: Vec<ValueScale> = series.iter().map(|s| choose_scale(&s.samples)).collect();
    let samples = encode_samples(series, &scales)?;
    let has_histograms = series.iter().any(|s| !s.histograms.is_empty());
    let histograms = if has_histograms {
        Some(encode_histograms(series)?)
    } else {
        None
    };
    let has_start_timestamps = series.iter().any(|s| !s.start_timestamps.is_empty());
    let start_timestamps = if has_start_timestamps {
        Some(super::start_times::encode(series, base_properties())?)
    } else {
        None
    };
    let index = encode_series_index(series, &scales)?;
    let min_t = series.iter().filter_map(series_min_t).min();
    let max_t = series.iter().filter_map(series_max_t).max();
    Ok(EncodedBlock {
        series: index,
        samples,
        histograms,
        start_timestamps,
        series_count: series.len() as u64,
        sample_count: series.iter().map(|s| s.samples.len() as u64).sum(),
        histogram_count: series.iter().map(|s| s.histograms.len() as u64).sum(),
        min_t,
        max_t,
    })
}

pub(super) fn series_min_t(s: &Series) -> Option<i64> {
    let sample = s.samples.first().map(|x| x.t);
    let histogram = s.histograms.first().map(|x| x.t);
    sample.into_iter().chain(histogram).min()
}

fn series_max_t(s: &Series) -> Option<i64> {
    let sample = s.samples.last().map(|x| x.t);
    let histogram = s.histograms.last().map(|x| x.t);
    sample.into_iter().chain(histogram).max()
}

pub(super) fn series_id(position: usize) -> EncodeResult<u32> {
    u32::try_from(position).map_err(|_| "more than 2^32 series in one block".to_string())
}

fn encode_histograms(series: &[Series]) -> EncodeResult<Vec<u8>> {
    let schema = histograms_schema();
    let mut writer = ArrowWriter::try_new(Vec::new(), Arc::clone(&schema), Some(histograms_properties()))
        .map_err(|e| e.to_string())?;
    let mut ids = Vec::new();
    let mut ts = Vec::new();
    let mut hs: Vec<Vec<u8>> = Vec::new();
    let mut flush = |ids: &mut Vec<u32>, ts: &mut Vec<i64>, hs: &mut Vec<Vec<u8>>| -> EncodeResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::from(std::mem::take(ids))),
            Arc::new(Int64Array::from(std::mem::take(ts))),
            Arc::new(BinaryArray::from_iter_values(std::mem::take(hs))),
        ];
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns).map_err(|e| e.to_string())?;
        writer.write(&batch).map_err(|e| e.to_string())
    };
    for (position, s) in series.iter().enumerate() {
        let id = series_id(position)?;
        for sample in &s.histograms {
            ids.push(id);
            ts.push(sample.t);
            hs.push(encode_histogram(&sample.h));
            if ids.len() == BATCH_ROWS / 8 {
                flush(&mut ids, &mut ts, &mut hs)?;
            }
        }
    }
    flush(&mut ids, &mut ts, &mut hs)?;
    writer.into_inner().map_err(|e| e.to_string())
}

/// `series.parquet`. Labels are a `Map<Utf8, Utf8>` so SQL can later say `labels['job']`;
/// `metric_name` repeats `__name__` as a plain column for cheap filtering.
fn encode_series_index(series: &[Series], scales: &[ValueScale]) -> EncodeResult<Vec<u8>> {
    let mut labels = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    let mut names = StringBuilder::new();
    let mut min_ts = Vec::with_capacity(series.len());
    let mut max_ts = Vec::with_capacity(series.len());
    let mut sample_offsets = Vec::with_capacity(series.len());
    let mut sample_counts = Vec::with_capacity(series.len());
    let mut histogram_offsets = Vec::with_capacity(series.len());
    let mut histogram_counts = Vec::with_capacity(series.len());
    let mut start_offsets = Vec::with_capacity(series.len());
    let mut start_counts = Vec::with_capacity(series.len());
    let mut start_offset = 0u64;
    let mut ids = Vec::with_capacity(series.len());
    let decimals: Vec<u8> = scales.iter().map(|s| s.decimals).collect();
    let quanta: Vec<i64> = scales.iter().map(|s| s.quantum).collect();
    let (mut sample_offset, mut histogram_offset) = (0u64, 0u64);
    for (position, s) in series.iter().enumerate() {
        ids.push(series_id(position)?);
        for label in &s.labels {
            labels.keys().append_value(&label.name);
            labels.values().append_value(&label.value);
        }
        labels.append(true).map_err(|e| e.to_string())?;
        names.append_option(s.labels.metric_name());
        min_ts.push(series_min_t(s).unwrap_or(i64::MAX));
        max_ts.push(series_max_t(s).unwrap_or(i64::MIN));
        sample_offsets.push(sample_offset);
        sample_counts.push(s.samples.len() as u64);
        histogram_offsets.push(histogram_offset);
        histogram_counts.push(s.histograms.len() as u64);
        sample_offset += s.samples.len() as u64;
        histogram_offset += s.histograms.len() as u64;
        start_offsets.push(start_offset);
        start_counts.push(s.start_timestamps.len() as u64);
        start_offset += s.start_timestamps.len() as u64;
    }
    let labels = labels.finish();
    let schema = Arc::new(Schema::new(vec![
        Field::new("series_id", DataType::UInt32, false),
        Field::new("labels", labels.data_type().clone(), false),
        Field::new("metric_name", DataType::Utf8, true),
        Field::new("min_t", DataType::Int64, false),
        Field::new("max_t", DataType::Int64, false),
        Field::new("sample_offset", DataType::UInt64, false),
        Field::new("sample_count", DataType::UInt64, false),
        Field::new("histogram_offset", DataType::UInt64, false),
        Field::new("histogram_count", DataType::UInt64, false),
        Field::new("v_decimals", DataType::UInt8, false),
        Field::new("v_quantum", DataType::Int64, false),
        Field::new("start_timestamp_offset", DataType::UInt64, false),
        Field::new("start_timestamp_count", DataType::UInt64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from(ids)),
        Arc::new(labels),
        Arc::new(names.finish()),
        Arc::new(Int64Array::from(min_ts)),
        Arc::new(Int64Array::from(max_ts)),
        Arc::new(UInt64Array::from(sample_offsets)),
        Arc::new(UInt64Array::from(sample_counts)),
        Arc::new(UInt64Array::from(histogram_offsets)),
        Arc::new(UInt64Array::from(histogram_counts)),
        Arc::new(UInt8Array::from(decimals)),
        Arc::new(Int64Array::from(quanta)),
        Arc::new(UInt64Array::from(start_offsets)),
        Arc::new(UInt64Array::from(start_counts)),
    ];
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns).map_err(|e| e.to_string())?;
    let mut props = base_properties().set_max_row_group_row_count(Some(BATCH_ROWS));
    // Ids and offsets rise steadily, times and counts repeat: deltas cost a few bits a row.
    for name in [
        "series_id",
        "min_t",
        "max_t",
        "sample_offset",
        "sample_count",
        "histogram_offset",
        "start_timestamp_offset",
    ] {
        props = props
            .set_column_dictionary_enabled(ColumnPath::from(name), false)
            .set_column_encoding(ColumnPath::from(name), Encoding::DELTA_BINARY_PACKED);
    }
    let props = props.build();
    let mut writer = ArrowWriter::try_new(Vec::new(), schema, Some(props)).map_err(|e| e.to_string())?;
    writer.write(&batch).map_err(|e| e.to_string())?;
    writer.into_inner().map_err(|e| e.to_string())
}

/// Decodes `series.parquet`. Everything is checked: a corrupt file is an error, never a
/// panic, and labels are re-normalised rather than trusted to be sorted.
pub fn decode_series_index(bytes: Bytes) -> Result<SeriesIndex, String> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| b.with_batch_size(BATCH_ROWS).build())
        .map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        decode_series_batch(&batch, &mut entries)?;
    }
    Ok(SeriesIndex { entries })
}

pub(super) fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T, String> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| format!("column {name} missing or of the wrong type"))
}

fn decode_series_batch(batch: &RecordBatch, entries: &mut Vec<SeriesEntry>) -> Result<(), String> {
    let ids = column::<PrimitiveArray<UInt32Type>>(batch, "series_id")?;
    let labels = batch
        .column_by_name("labels")
        .and_then(|c| c.as_map_opt())
        .ok_or("column labels missing or not a map")?;
    let keys = labels
        .keys()
        .as_string_opt::<i32>()
        .ok_or("label names are not strings")?;
    let values = labels
        .values()
        .as_string_opt::<i32>()
        .ok_or("label values are not strings")?;
    let min_ts = column::<PrimitiveArray<Int64Type>>(batch, "min_t")?;
    let max_ts = column::<PrimitiveArray<Int64Type>>(batch, "max_t")?;
    let sample_offsets = column::<PrimitiveArray<UInt64Type>>(batch, "sample_offset")?;
    let sample_counts = column::<PrimitiveArray<UInt64Type>>(batch, "sample_count")?;
    let histogram_offsets = column::<PrimitiveArray<UInt64Type>>(batch, "histogram_offset")?;
    let histogram_counts = column::<PrimitiveArray<UInt64Type>>(batch, "histogram_count")?;
    let decimals = column::<PrimitiveArray<UInt8Type>>(batch, "v_decimals")?;
    let quanta = column::<PrimitiveArray<Int64Type>>(batch, "v_quantum")?;
    let start_offsets = column::<PrimitiveArray<UInt64Type>>(batch, "start_timestamp_offset")?;
    let start_counts = column::<PrimitiveArray<UInt64Type>>(batch, "start_timestamp_count")?;
    let offsets = labels.value_offsets();
    for row in 0..batch.num_rows() {
        if ids.is_null(row) || ids.value(row) as usize != entries.len() {
            return Err(format!("series ids are not consecutive at row {row}"));
        }
        let (Some(&start), Some(&end)) = (offsets.get(row), offsets.get(row + 1)) else {
            return Err("label offsets out of range".into());
        };
        let (start, end) = (usize::try_from(start).unwrap_or(0), usize::try_from(end).unwrap_or(0));
        if start > end || end > keys.len() || end > values.len() {
            return Err("label offsets out of range".into());
        }
        let pairs: Vec<Label> = (start..end)
            .filter(|&i| !keys.is_null(i) && !values.is_null(i))
            .map(|i| Label::new(keys.value(i), values.value(i)))
            .collect();
        let labels = Labels::from_pairs(pairs.into_iter().map(|l| (l.name, l.value)));
        entries.push(SeriesEntry {
            labels,
            min_t: min_ts.value(row),
            max_t: max_ts.value(row),
            sample_offset: sample_offsets.value(row),
            sample_count: sample_counts.value(row),
            histogram_offset: histogram_offsets.value(row),
            histogram_count: histogram_counts.value(row),
            value_scale: ValueScale::validated(decimals.value(row), quanta.value(row))?,
            start_timestamp_offset: start_offsets.value(row),
            start_timestamp_count: start_counts.value(row),
        });
    }
    Ok(())
}

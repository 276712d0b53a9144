//! The store's own records. Protocol types (prost messages, JSON bodies) are converted to
//! these at the adapter edge and never cross into storage.

use crate::storage::labels::Labels;
use serde::{Deserialize, Serialize};

/// Prometheus' staleness marker: a NaN with a specific bit pattern, kept bit-exact.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Whether a float is the staleness marker (as opposed to an ordinary NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// The staleness marker value.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// One float sample: milliseconds since the epoch and a value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub t: i64,
    pub v: f64,
}

/// The start ("created") timestamp of the sample at `t`: when the counter behind it last
/// started from zero (cumulative) or when the interval it covers began (delta). Remote write
/// 2.0 and OTLP carry one per sample; PromQL's `rate`, `increase`, `irate` and `resets` use it
/// to see resets the values alone cannot show.
///
/// Kept sparse, beside the samples rather than in them: most series never carry one, so a
/// series pays nothing until it does, and the same list covers float and histogram samples
/// (a series has one sample per timestamp, of either kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartTimestamp {
    /// The timestamp of the sample this belongs to (ms).
    pub t: i64,
    /// Its start timestamp (ms); never 0, which means "unknown" and is not stored.
    pub st: i64,
}

/// A bucket span of a native histogram (offset from the previous span's end, length).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketSpan {
    pub offset: i32,
    pub length: u32,
}

/// Counts of a native histogram: integer histograms carry deltas, float histograms absolute
/// counts, exactly as remote write sends them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum HistogramCounts {
    Int {
        count: u64,
        zero_count: u64,
        negative_deltas: Vec<i64>,
        positive_deltas: Vec<i64>,
    },
    Float {
        count: f64,
        zero_count: f64,
        negative_counts: Vec<f64>,
        positive_counts: Vec<f64>,
    },
}

/// A native histogram sample as remote write carries it. Stored as received; querying
/// native histograms is a later issue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NativeHistogram {
    pub counts: HistogramCounts,
    pub sum: f64,
    pub schema: i32,
    pub zero_threshold: f64,
    pub negative_spans: Vec<BucketSpan>,
    pub positive_spans: Vec<BucketSpan>,
    /// 0 unknown, 1 yes, 2 no, 3 gauge (prompb.Histogram.ResetHint).
    pub reset_hint: i32,
    /// Bucket bounds of custom-bucket histograms (schema -53).
    pub custom_values: Vec<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistogramSample {
    pub t: i64,
    pub h: NativeHistogram,
}

/// An exemplar attached to a series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exemplar {
    pub labels: Labels,
    pub value: f64,
    pub t: i64,
}

/// The metric type of a metric family, as remote write metadata names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetricType {
    Unknown,
    Counter,
    Gauge,
    Histogram,
    GaugeHistogram,
    Summary,
    Info,
    StateSet,
}

impl MetricType {
    /// The lowercase name Prometheus' metadata API prints.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Unknown => "unknown",
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
        }
    }
}

/// Metadata of one metric family.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricMetadata {
    pub metric_family: String,
    pub metric_type: MetricType,
    pub help: String,
    pub unit: String,
}

/// Everything one write request appends for one series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeriesAppend {
    pub labels: Labels,
    pub samples: Vec<Sample>,
    pub histograms: Vec<HistogramSample>,
    pub exemplars: Vec<Exemplar>,
    /// Start timestamps of some of `samples`/`histograms`, ascending by `t`, none zero.
    pub start_timestamps: Vec<StartTimestamp>,
}

/// One write request, already validated by the adapter. Appended atomically to the WAL.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppendBatch {
    pub series: Vec<SeriesAppend>,
    pub metadata: Vec<MetricMetadata>,
}

/// What an append stored, for the remote-write 2.0 `X-Prometheus-Remote-Write-*-Written`
/// headers and self-monitoring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppendStats {
    pub samples: u64,
    pub histograms: u64,
    pub exemplars: u64,
    /// Samples dropped as out of order beyond the window or as duplicates with another value.
    pub rejected_out_of_order: u64,
}

/// A series as a query reads it: labels plus samples in time order, without duplicates.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub samples: Vec<Sample>,
    pub histograms: Vec<HistogramSample>,
    /// Start timestamps of those samples that have one, ascending by `t`; empty for most series.
    pub start_timestamps: Vec<StartTimestamp>,
}

/// Unites two start-timestamp lists (each ascending by `t`); at equal `t` the entry of
/// `first` wins, as the sample of the first source wins wherever series are merged.
pub fn merge_start_timestamps(first: Vec<StartTimestamp>, second: Vec<StartTimestamp>) -> Vec<StartTimestamp> {
    if second.is_empty() {
        return first;
    }
    if first.is_empty() {
        return second;
    }
    let mut all = first;
    all.extend(second);
    // Stable: for equal `t` the entries of `first` stay ahead and survive the dedup.
    all.sort_by_key(|s| s.t);
    all.dedup_by_key(|s| s.t);
    all
}

/// Sorts a start-timestamp list by `t` and keeps the first entry of each timestamp; drops
/// zeros (unknown).
pub fn normalize_start_timestamps(list: &mut Vec<StartTimestamp>) {
    list.retain(|s| s.st != 0);
    if !list.is_sorted_by_key(|s| s.t) {
        list.sort_by_key(|s| s.t);
    }
    list.dedup_by_key(|s| s.t);
}

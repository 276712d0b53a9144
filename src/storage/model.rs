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

/// A label's name and value as UTF-8 bytes borrowed from a request.
pub type LabelBytes<'a> = (&'a [u8], &'a [u8]);

/// Float samples of many series whose labels borrow from a decoded request: remote write's
/// common case. The head recognises series it already has from these borrowed labels, so a
/// request for known series allocates no label strings at all; only a new series gets an
/// owned [`Labels`]. Everything sits in three flat vectors, one allocation each per batch
/// instead of several per series.
///
/// Names and values are bytes the caller has checked to be UTF-8: the hot path never needs
/// them as `&str` (series are matched by bytes), and converting each one would mean
/// validating it a second time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FloatBatch<'a> {
    labels: Vec<LabelBytes<'a>>,
    samples: Vec<Sample>,
    /// Per series, the end of its run in `labels` and in `samples`.
    ends: Vec<(usize, usize)>,
}

impl<'a> FloatBatch<'a> {
    /// Adds one series. `labels` must be UTF-8, sorted by name with unique names and no
    /// empty values (what `Labels` holds); a series without samples is left out.
    pub fn push_series(&mut self, labels: impl IntoIterator<Item = LabelBytes<'a>>, samples: &[Sample]) {
        if samples.is_empty() {
            return;
        }
        let start = self.labels.len();
        self.labels.extend(labels);
        debug_assert!(self.labels[start..].windows(2).all(|w| w[0].0 < w[1].0));
        debug_assert!(self.labels[start..].iter().all(|(_, v)| !v.is_empty()));
        self.samples.extend_from_slice(samples);
        self.ends.push((self.labels.len(), self.samples.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn num_series(&self) -> usize {
        self.ends.len()
    }

    /// Each series' labels and samples, in the order they were pushed.
    pub fn iter(&self) -> impl Iterator<Item = (&[LabelBytes<'a>], &[Sample])> + '_ {
        let mut starts = (0usize, 0usize);
        self.ends.iter().map(move |&(label_end, sample_end)| {
            let labels = self.labels.get(starts.0..label_end).unwrap_or_default();
            let samples = self.samples.get(starts.1..sample_end).unwrap_or_default();
            starts = (label_end, sample_end);
            (labels, samples)
        })
    }

    /// Series `i`'s labels and samples.
    pub fn get(&self, i: usize) -> Option<(&[LabelBytes<'a>], &[Sample])> {
        let (label_end, sample_end) = *self.ends.get(i)?;
        let (label_start, sample_start) = match i.checked_sub(1) {
            Some(previous) => self.ends.get(previous).copied().unwrap_or_default(),
            None => (0, 0),
        };
        Some((
            self.labels.get(label_start..label_end)?,
            self.samples.get(sample_start..sample_end)?,
        ))
    }

    /// The same content as an owned batch (for sinks that keep what they receive).
    pub fn to_append_batch(&self) -> AppendBatch {
        AppendBatch {
            series: self
                .iter()
                .map(|(labels, samples)| SeriesAppend {
                    labels: labels_from_bytes(labels),
                    samples: samples.to_vec(),
                    ..SeriesAppend::default()
                })
                .collect(),
            ..AppendBatch::default()
        }
    }
}

/// An owned label set from the UTF-8 bytes a [`FloatBatch`] holds (lossless for UTF-8;
/// anything else would show as U+FFFD rather than fail).
pub fn labels_from_bytes(pairs: &[LabelBytes<'_>]) -> Labels {
    Labels::from_pairs(pairs.iter().map(|(n, v)| {
        (
            String::from_utf8_lossy(n).into_owned(),
            String::from_utf8_lossy(v).into_owned(),
        )
    }))
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

impl Series {
    /// Puts samples, histograms and start timestamps back in time order after parts were
    /// appended, keeping the first of each timestamp (sorts are stable: the part appended
    /// first wins, for a start timestamp as for its sample).
    pub fn sort_dedup_by_time(&mut self) {
        if !self.samples.is_sorted_by_key(|s| s.t) {
            self.samples.sort_by_key(|s| s.t);
        }
        self.samples.dedup_by_key(|s| s.t);
        if !self.histograms.is_sorted_by_key(|h| h.t) {
            self.histograms.sort_by_key(|h| h.t);
        }
        self.histograms.dedup_by_key(|h| h.t);
        normalize_start_timestamps(&mut self.start_timestamps);
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_batch_keeps_series_apart_and_skips_empty_ones() {
        let mut batch = FloatBatch::default();
        let a: [(&[u8], &[u8]); 2] = [(b"__name__", b"a"), (b"job", b"x")];
        batch.push_series(a, &[Sample { t: 1, v: 1.0 }]);
        batch.push_series([(&b"__name__"[..], &b"empty"[..])], &[]);
        batch.push_series(
            [(&b"__name__"[..], &b"b"[..])],
            &[Sample { t: 2, v: 2.0 }, Sample { t: 3, v: 3.0 }],
        );
        assert_eq!(batch.num_series(), 2);
        let seen: Vec<(usize, usize)> = batch.iter().map(|(l, s)| (l.len(), s.len())).collect();
        assert_eq!(seen, vec![(2, 1), (1, 2)]);
        let owned = batch.to_append_batch();
        assert_eq!(owned.series[0].labels.to_string(), r#"{__name__="a", job="x"}"#);
        assert_eq!(
            owned.series[1].samples,
            vec![Sample { t: 2, v: 2.0 }, Sample { t: 3, v: 3.0 }]
        );
    }
}

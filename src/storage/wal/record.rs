//! WAL record payloads in a compact binary form of our own (varints, raw little-endian
//! floats). Every record names its tenant so replay needs no other context than the series
//! records that introduced the refs it mentions.

use crate::storage::histogram_codec::{decode_histogram, encode_histogram};
use crate::storage::labels::Labels;
use crate::storage::model::{Exemplar, HistogramSample, MetricMetadata, MetricType, NativeHistogram, StartTimestamp};

/// Type byte of each record kind. Log entries and spans are reserved so that every signal
/// shares this WAL; a reader that does not know a type skips the record.
pub mod kind {
    pub const SERIES: u8 = 1;
    pub const SAMPLES: u8 = 2;
    pub const HISTOGRAMS: u8 = 3;
    pub const EXEMPLARS: u8 = 4;
    pub const METADATA: u8 = 5;
    pub const START_TIMESTAMPS: u8 = 6;
    pub const LOG_ENTRIES: u8 = 16;
    pub const SPANS: u8 = 17;
}

/// A float sample of a series known by its ref.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefSample {
    pub series_ref: u64,
    pub t: i64,
    pub v: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum WalRecord {
    /// Introduces series refs: later records name series only by ref.
    Series {
        tenant: String,
        series: Vec<(u64, Labels)>,
    },
    Samples {
        tenant: String,
        samples: Vec<RefSample>,
    },
    Histograms {
        tenant: String,
        histograms: Vec<(u64, HistogramSample)>,
    },
    Exemplars {
        tenant: String,
        exemplars: Vec<(u64, Exemplar)>,
    },
    Metadata {
        tenant: String,
        metadata: Vec<MetricMetadata>,
    },
    /// Start timestamps of samples or histograms logged in the same batch, after them.
    StartTimestamps {
        tenant: String,
        start_timestamps: Vec<(u64, StartTimestamp)>,
    },
}

impl WalRecord {
    /// The highest series ref the record names, if any. Replay takes the maximum over every
    /// record, not only `Series` ones: a checkpoint may drop the `Series` record of a series
    /// that a later segment still has samples of, and its ref must not be handed out again.
    pub fn max_series_ref(&self) -> Option<u64> {
        match self {
            WalRecord::Series { series, .. } => series.iter().map(|(r, _)| *r).max(),
            WalRecord::Samples { samples, .. } => samples.iter().map(|s| s.series_ref).max(),
            WalRecord::Histograms { histograms, .. } => histograms.iter().map(|(r, _)| *r).max(),
            WalRecord::Exemplars { exemplars, .. } => exemplars.iter().map(|(r, _)| *r).max(),
            WalRecord::StartTimestamps { start_timestamps, .. } => start_timestamps.iter().map(|(r, _)| *r).max(),
            WalRecord::Metadata { .. } => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("record is truncated")]
    Truncated,
    #[error("record has invalid {0}")]
    Invalid(&'static str),
    #[error("unknown record type {0}")]
    UnknownType(u8),
}

impl WalRecord {
    pub fn kind(&self) -> u8 {
        match self {
            WalRecord::Series { .. } => kind::SERIES,
            WalRecord::Samples { .. } => kind::SAMPLES,
            WalRecord::Histograms { .. } => kind::HISTOGRAMS,
            WalRecord::Exemplars { .. } => kind::EXEMPLARS,
            WalRecord::Metadata { .. } => kind::METADATA,
            WalRecord::StartTimestamps { .. } => kind::START_TIMESTAMPS,
        }
    }

    pub fn tenant(&self) -> &str {
        match self {
            WalRecord::Series { tenant, .. }
            | WalRecord::Samples { tenant, .. }
            | WalRecord::Histograms { tenant, .. }
            | WalRecord::Exemplars { tenant, .. }
            | WalRecord::Metadata { tenant, .. }
            | WalRecord::StartTimestamps { tenant, .. } => tenant,
        }
    }

    /// The payload (without the type byte).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Appends the payload to `out`, so a frame can be built in place without a copy.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut w = Writer {
            buf: std::mem::take(out),
        };
        w.str(self.tenant());
        match self {
            WalRecord::Series { series, .. } => {
                w.uvarint(series.len() as u64);
                for (series_ref, labels) in series {
                    w.uvarint(*series_ref);
                    w.labels(labels);
                }
            }
            WalRecord::Samples { samples, .. } => {
                w.uvarint(samples.len() as u64);
                for s in samples {
                    w.uvarint(s.series_ref);
                    w.varint(s.t);
                    w.f64(s.v);
                }
            }
            WalRecord::Histograms { histograms, .. } => {
                w.uvarint(histograms.len() as u64);
                for (series_ref, h) in histograms {
                    w.uvarint(*series_ref);
                    w.varint(h.t);
                    w.histogram(&h.h);
                }
            }
            WalRecord::Exemplars { exemplars, .. } => {
                w.uvarint(exemplars.len() as u64);
                for (series_ref, e) in exemplars {
                    w.uvarint(*series_ref);
                    w.labels(&e.labels);
                    w.f64(e.value);
                    w.varint(e.t);
                }
            }
            WalRecord::StartTimestamps { start_timestamps, .. } => {
                w.uvarint(start_timestamps.len() as u64);
                for (series_ref, s) in start_timestamps {
                    w.uvarint(*series_ref);
                    w.varint(s.t);
                    w.varint(s.st);
                }
            }
            WalRecord::Metadata { metadata, .. } => {
                w.uvarint(metadata.len() as u64);
                for m in metadata {
                    w.str(&m.metric_family);
                    w.buf.push(metric_type_code(m.metric_type));
                    w.str(&m.help);
                    w.str(&m.unit);
                }
            }
        }
        *out = w.buf;
    }

    /// Decodes a payload of a known type; reserved and unknown types are an error the
    /// caller may choose to skip.
    pub fn decode(kind: u8, payload: &[u8]) -> Result<WalRecord, RecordError> {
        let mut r = Reader { data: payload, pos: 0 };
        let tenant = r.str()?;
        let record = match kind {
            kind::SERIES => {
                let n = r.count()?;
                let mut series = Vec::with_capacity(n);
                for _ in 0..n {
                    series.push((r.uvarint()?, r.labels()?));
                }
                WalRecord::Series { tenant, series }
            }
            kind::SAMPLES => {
                let n = r.count()?;
                let mut samples = Vec::with_capacity(n);
                for _ in 0..n {
                    samples.push(RefSample {
                        series_ref: r.uvarint()?,
                        t: r.varint()?,
                        v: r.f64()?,
                    });
                }
                WalRecord::Samples { tenant, samples }
            }
            kind::HISTOGRAMS => {
                let n = r.count()?;
                let mut histograms = Vec::with_capacity(n);
                for _ in 0..n {
                    let series_ref = r.uvarint()?;
                    let t = r.varint()?;
                    histograms.push((series_ref, HistogramSample { t, h: r.histogram()? }));
                }
                WalRecord::Histograms { tenant, histograms }
            }
            kind::EXEMPLARS => {
                let n = r.count()?;
                let mut exemplars = Vec::with_capacity(n);
                for _ in 0..n {
                    let series_ref = r.uvarint()?;
                    let labels = r.labels()?;
                    let value = r.f64()?;
                    let t = r.varint()?;
                    exemplars.push((series_ref, Exemplar { labels, value, t }));
                }
                WalRecord::Exemplars { tenant, exemplars }
            }
            kind::METADATA => {
                let n = r.count()?;
                let mut metadata = Vec::with_capacity(n);
                for _ in 0..n {
                    let metric_family = r.str()?;
                    let metric_type = metric_type_from_code(r.byte()?)?;
                    let help = r.str()?;
                    let unit = r.str()?;
                    metadata.push(MetricMetadata {
                        metric_family,
                        metric_type,
                        help,
                        unit,
                    });
                }
                WalRecord::Metadata { tenant, metadata }
            }
            kind::START_TIMESTAMPS => {
                let n = r.count()?;
                let mut start_timestamps = Vec::with_capacity(n);
                for _ in 0..n {
                    let series_ref = r.uvarint()?;
                    let t = r.varint()?;
                    let st = r.varint()?;
                    start_timestamps.push((series_ref, StartTimestamp { t, st }));
                }
                WalRecord::StartTimestamps {
                    tenant,
                    start_timestamps,
                }
            }
            other => return Err(RecordError::UnknownType(other)),
        };
        if r.pos != payload.len() {
            return Err(RecordError::Invalid("trailing bytes"));
        }
        Ok(record)
    }
}

fn metric_type_code(t: MetricType) -> u8 {
    match t {
        MetricType::Unknown => 0,
        MetricType::Counter => 1,
        MetricType::Gauge => 2,
        MetricType::Histogram => 3,
        MetricType::GaugeHistogram => 4,
        MetricType::Summary => 5,
        MetricType::Info => 6,
        MetricType::StateSet => 7,
    }
}

fn metric_type_from_code(code: u8) -> Result<MetricType, RecordError> {
    Ok(match code {
        0 => MetricType::Unknown,
        1 => MetricType::Counter,
        2 => MetricType::Gauge,
        3 => MetricType::Histogram,
        4 => MetricType::GaugeHistogram,
        5 => MetricType::Summary,
        6 => MetricType::Info,
        7 => MetricType::StateSet,
        _ => return Err(RecordError::Invalid("metric type")),
    })
}

#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn uvarint(&mut self, mut x: u64) {
        while x >= 0x80 {
            self.buf.push((x as u8) | 0x80);
            x >>= 7;
        }
        self.buf.push(x as u8);
    }

    fn varint(&mut self, x: i64) {
        self.uvarint(((x << 1) ^ (x >> 63)) as u64);
    }

    fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.uvarint(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }

    fn labels(&mut self, labels: &Labels) {
        self.uvarint(labels.len() as u64);
        for label in labels {
            self.str(&label.name);
            self.str(&label.value);
        }
    }

    fn histogram(&mut self, h: &NativeHistogram) {
        let bytes = encode_histogram(h);
        self.uvarint(bytes.len() as u64);
        self.buf.extend_from_slice(&bytes);
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, RecordError> {
        let b = *self.data.get(self.pos).ok_or(RecordError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn uvarint(&mut self) -> Result<u64, RecordError> {
        let mut x = 0u64;
        for i in 0..10 {
            let b = self.byte()?;
            if i == 9 && b > 1 {
                return Err(RecordError::Invalid("varint"));
            }
            x |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(x);
            }
        }
        Err(RecordError::Invalid("varint"))
    }

    fn varint(&mut self) -> Result<i64, RecordError> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// An element count, bounded by the bytes left (each element takes at least one byte)
    /// so a corrupt count cannot make us allocate without bound.
    fn count(&mut self) -> Result<usize, RecordError> {
        let n = self.uvarint()?;
        let left = (self.data.len() - self.pos) as u64;
        if n > left {
            return Err(RecordError::Truncated);
        }
        Ok(n as usize)
    }

    fn bytes(&mut self, n: usize) -> Result<&[u8], RecordError> {
        let end = self.pos.checked_add(n).ok_or(RecordError::Truncated)?;
        let slice = self.data.get(self.pos..end).ok_or(RecordError::Truncated)?;
        self.pos = end;
        Ok(slice)
    }

    fn f64(&mut self) -> Result<f64, RecordError> {
        let raw: [u8; 8] = self.bytes(8)?.try_into().map_err(|_| RecordError::Truncated)?;
        Ok(f64::from_bits(u64::from_le_bytes(raw)))
    }

    fn str(&mut self) -> Result<String, RecordError> {
        let n = self.count()?;
        let raw = self.bytes(n)?;
        String::from_utf8(raw.to_vec()).map_err(|_| RecordError::Invalid("utf-8"))
    }

    fn labels(&mut self) -> Result<Labels, RecordError> {
        let n = self.count()?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            pairs.push((self.str()?, self.str()?));
        }
        Ok(Labels::from_pairs(pairs))
    }

    fn histogram(&mut self) -> Result<NativeHistogram, RecordError> {
        let n = self.count()?;
        decode_histogram(self.bytes(n)?).map_err(|_| RecordError::Invalid("histogram"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::model::{BucketSpan, HistogramCounts, STALE_NAN_BITS};

    fn sample_records() -> Vec<WalRecord> {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let h = NativeHistogram {
            counts: HistogramCounts::Int {
                count: 5,
                zero_count: 1,
                negative_deltas: vec![1, -1],
                positive_deltas: vec![2, 0, -1],
            },
            sum: 12.5,
            schema: -53,
            zero_threshold: 1e-128,
            negative_spans: vec![BucketSpan { offset: -2, length: 2 }],
            positive_spans: vec![BucketSpan { offset: 0, length: 3 }],
            reset_hint: 3,
            custom_values: vec![0.5, 1.0],
        };
        let mut fh = h.clone();
        fh.counts = HistogramCounts::Float {
            count: 5.5,
            zero_count: 0.0,
            negative_counts: vec![],
            positive_counts: vec![f64::INFINITY],
        };
        vec![
            WalRecord::Series {
                tenant: "t1".into(),
                series: vec![(7, labels.clone()), (u64::MAX, Labels::empty())],
            },
            WalRecord::Samples {
                tenant: "t1".into(),
                samples: vec![
                    RefSample {
                        series_ref: 7,
                        t: -1,
                        v: f64::from_bits(STALE_NAN_BITS),
                    },
                    RefSample {
                        series_ref: 8,
                        t: i64::MAX,
                        v: -0.0,
                    },
                ],
            },
            WalRecord::Histograms {
                tenant: String::new(),
                histograms: vec![(7, HistogramSample { t: 10, h }), (7, HistogramSample { t: 11, h: fh })],
            },
            WalRecord::Exemplars {
                tenant: "t".into(),
                exemplars: vec![(
                    7,
                    Exemplar {
                        labels: Labels::from_pairs([("trace_id", "abc")]),
                        value: 1.5,
                        t: 99,
                    },
                )],
            },
            WalRecord::StartTimestamps {
                tenant: "t1".into(),
                start_timestamps: vec![
                    (7, StartTimestamp { t: 60_000, st: 1 }),
                    (
                        u64::MAX,
                        StartTimestamp {
                            t: i64::MIN,
                            st: i64::MAX,
                        },
                    ),
                ],
            },
            WalRecord::Metadata {
                tenant: "t".into(),
                metadata: vec![MetricMetadata {
                    metric_family: "up".into(),
                    metric_type: MetricType::GaugeHistogram,
                    help: "ü help".into(),
                    unit: "seconds".into(),
                }],
            },
        ]
    }

    #[test]
    fn records_roundtrip_bit_exact() {
        for record in sample_records() {
            let payload = record.encode();
            let decoded = WalRecord::decode(record.kind(), &payload).unwrap();
            if let (WalRecord::Samples { samples: a, .. }, WalRecord::Samples { samples: b, .. }) = (&record, &decoded)
            {
                assert_eq!(a[0].v.to_bits(), b[0].v.to_bits());
                assert_eq!(a[1].v.to_bits(), b[1].v.to_bits());
            }
            assert_eq!(format!("{decoded:?}"), format!("{record:?}"));
        }
    }

    #[test]
    fn truncated_or_unknown_payloads_error() {
        for record in sample_records() {
            let payload = record.encode();
            for cut in 0..payload.len() {
                assert!(WalRecord::decode(record.kind(), &payload[..cut]).is_err());
            }
            let mut longer = payload.clone();
            longer.push(0);
            assert!(WalRecord::decode(record.kind(), &longer).is_err());
        }
        assert_eq!(
            WalRecord::decode(kind::SPANS, &[0]).unwrap_err(),
            RecordError::UnknownType(kind::SPANS)
        );
        // A huge declared count must not allocate.
        assert_eq!(
            WalRecord::decode(kind::SAMPLES, &[0, 0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap_err(),
            RecordError::Truncated
        );
    }
}

//! `io.prometheus.write.v2` messages (remote write 2.0), field numbers as in
//! prometheus/prometheus `prompb/io/prometheus/write/v2/types.proto` (Apache-2.0).
//!
//! Symbols stay raw bytes for the same reason as v1 labels (see `prompb`).

pub use super::prompb::{BucketSpan, Histogram, histogram};

/// `io.prometheus.write.v2.Request` (fields 1–3 reserved upstream).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub symbols: Vec<Vec<u8>>,
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// name, value, name, value … references into `Request.symbols`.
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub histograms: Vec<Histogram>,
    #[prost(message, repeated, tag = "4")]
    pub exemplars: Vec<Exemplar>,
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<Metadata>,
    /// `created_timestamp`, sent by Prometheus up to 3.8; 3.9 moved it to the per-sample
    /// `start_timestamp` and reserved field 6, so it is still read from older senders.
    #[prost(int64, tag = "6")]
    pub created_timestamp: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    #[prost(double, tag = "2")]
    pub value: f64,
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
    #[prost(int64, tag = "3")]
    pub start_timestamp: i64,
}

/// `Metadata`; `type` is METRIC_TYPE_UNSPECIFIED 0 … METRIC_TYPE_STATESET 7 (same numbering
/// as v1's `MetricMetadata.MetricType`).
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Metadata {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}

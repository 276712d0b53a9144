//! What every handler shares.

use crate::promql::Engine;
use crate::storage::Storage;
use std::sync::Arc;

/// Input limits, enforced by the adapters and reported the way the peers report them.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest accepted request body after decompression (bytes).
    pub max_request_body_bytes: usize,
    /// Largest accepted compressed body (bytes).
    pub max_compressed_body_bytes: usize,
    pub max_label_name_length: usize,
    pub max_label_value_length: usize,
    pub max_labels_per_series: usize,
    /// Samples further in the future than this (ms) are refused as out of bounds.
    pub max_future_ms: i64,
    /// Whether `X-Scope-OrgID` is required (multi-tenancy on).
    pub multi_tenant: bool,
    /// Remote read (SAMPLES): most samples one request may return
    /// (Prometheus' `--storage.remote.read-sample-limit`, 0 = no limit).
    pub remote_read_sample_limit: usize,
    /// Remote read (STREAMED_XOR_CHUNKS): target frame size before marshalling
    /// (Prometheus' `--storage.remote.read-max-bytes-in-frame`).
    pub remote_read_max_bytes_in_frame: usize,
    /// Remote write 2.0: append a zero sample at each series' start (created) timestamp,
    /// as Prometheus' `created-timestamp-zero-ingestion` feature (off by default there too).
    pub ingest_start_timestamp_zero: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_body_bytes: 64 * 1024 * 1024,
            max_compressed_body_bytes: 32 * 1024 * 1024,
            max_label_name_length: 1024,
            max_label_value_length: 2048,
            max_labels_per_series: 128,
            max_future_ms: 10 * 60 * 1000,
            multi_tenant: false,
            remote_read_sample_limit: 50_000_000,
            remote_read_max_bytes_in_frame: 1024 * 1024,
            ingest_start_timestamp_zero: false,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub storage: Arc<Storage>,
    pub engine: Arc<Engine>,
    pub limits: Arc<Limits>,
}

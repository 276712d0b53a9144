//! Storage settings. The server's config module fills this from YAML, env and flags.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where immutable blocks and the block catalog live.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ObjectStoreConfig {
    /// A directory on the local filesystem (the embedded default: `<data_dir>/blocks`).
    Filesystem { path: PathBuf },
    /// An S3-compatible bucket.
    S3 {
        bucket: String,
        /// e.g. `http://127.0.0.1:9000`; empty for AWS itself.
        #[serde(default)]
        endpoint: String,
        #[serde(default = "default_region")]
        region: String,
        #[serde(default)]
        access_key_id: String,
        #[serde(default)]
        secret_access_key: String,
        /// Path-style requests and plain HTTP, as MinIO-like servers want.
        #[serde(default)]
        force_path_style: bool,
        #[serde(default)]
        allow_http: bool,
    },
}

fn default_region() -> String {
    "us-east-1".to_string()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StorageConfig {
    /// Local state: WAL segments and the redb cache.
    pub data_dir: PathBuf,
    pub object_store: ObjectStoreConfig,
    /// A block covers at most this span of time (ms). Prometheus' default is 2h.
    pub block_duration_ms: i64,
    /// Samples older than the newest sample of their series by at most this much (ms) are
    /// still accepted, as Prometheus' `out_of_order_time_window`. 0 refuses out-of-order.
    pub out_of_order_window_ms: i64,
    /// Data older than this (ms) is deleted; 0 keeps everything.
    pub retention_ms: i64,
    /// WAL segment files roll over at this size (bytes).
    pub wal_segment_bytes: u64,
}

impl StorageConfig {
    /// The embedded default: everything under `data_dir`, blocks on the local filesystem.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        Self {
            object_store: ObjectStoreConfig::Filesystem {
                path: data_dir.join("blocks"),
            },
            data_dir,
            block_duration_ms: 2 * 60 * 60 * 1000,
            out_of_order_window_ms: 0,
            retention_ms: 15 * 24 * 60 * 60 * 1000,
            wal_segment_bytes: 128 * 1024 * 1024,
        }
    }
}

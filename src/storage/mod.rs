//! The shared chunked store: WAL → in-memory head → immutable Parquet blocks on object
//! storage, with a catalog beside the blocks and a local redb cache. It knows no protocol.
//!
//! Metrics are its first user; the WAL record types and the block catalog leave room for log
//! streams and spans, so those signals will not need a second WAL or catalog.

pub mod blocks;
pub mod chunk;
pub mod config;
pub mod error;
pub mod head;
pub mod histogram_codec;
pub mod labels;
pub mod matcher;
pub mod memory;
pub mod model;
pub mod querier;
pub mod store;
pub mod wal;

pub use config::{ObjectStoreConfig, StorageConfig};
pub use error::StorageError;
pub use labels::{Label, Labels, METRIC_NAME};
pub use matcher::{LabelMatcher, MatchOp};
pub use model::{AppendBatch, AppendStats, FloatBatch, Sample, Series, SeriesAppend, StartTimestamp};
pub use querier::SeriesQuerier;
pub use store::{Storage, StorageQuerier, StorageStats};

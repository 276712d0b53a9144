//! The Prometheus wire protocols: remote write/read and the HTTP API v1, at the service root.
//! Decode, call the engine or the store, encode; no query logic here.

pub mod proto;
pub mod remote_read;
pub mod remote_write;

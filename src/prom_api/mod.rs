//! The Prometheus wire protocols: remote write/read and the HTTP API v1, at the service root.
//! Decode, call the engine or the store, encode; no query logic here.

#[cfg(test)]
mod api_tests;
pub mod errors;
pub mod json;
pub mod labels;
pub mod metadata;
pub mod params;
pub mod parse_query;
pub mod proto;
pub mod query;
pub mod remote_read;
pub mod remote_write;
pub mod router;
pub mod status;

pub use router::routes;

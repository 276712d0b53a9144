//! Heimsight: one service for logs, metrics and traces behind the Loki, Prometheus and
//! Tempo wire protocols. Dependencies point one way: adapters (`prom_api`) → engines
//! (`promql`) → `storage`; `server` wires them to listeners.

pub mod config;
pub mod prom_api;
pub mod promql;
pub mod server;
pub mod storage;

//! What the status endpoints report about the running server: its start time, the effective
//! configuration and flag values. Filled once at start-up by `main`.

use std::collections::BTreeMap;
use std::time::SystemTime;

#[derive(Clone, Debug)]
pub struct ServerInfo {
    pub start_time: SystemTime,
    /// When the configuration was (last) loaded.
    pub config_loaded_at: SystemTime,
    /// The effective configuration as YAML, secrets redacted (`/api/v1/status/config`).
    pub config_yaml: String,
    /// Every flag by name with its effective value (`/api/v1/status/flags`).
    pub flags: BTreeMap<String, String>,
    /// Retention as Prometheus prints it (`15d`, or `0s` for forever).
    pub storage_retention: String,
}

impl Default for ServerInfo {
    fn default() -> Self {
        let now = SystemTime::now();
        Self {
            start_time: now,
            config_loaded_at: now,
            config_yaml: String::new(),
            flags: BTreeMap::new(),
            storage_retention: "15d".to_string(),
        }
    }
}

/// The version Grafana reads from buildinfo; Cargo's version is valid semver.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Build metadata a release build may set through the environment of `cargo build`.
pub const REVISION: &str = match option_env!("HEIMSIGHT_REVISION") {
    Some(value) => value,
    None => "unknown",
};
pub const BRANCH: &str = match option_env!("HEIMSIGHT_BRANCH") {
    Some(value) => value,
    None => "unknown",
};
pub const BUILD_USER: &str = match option_env!("HEIMSIGHT_BUILD_USER") {
    Some(value) => value,
    None => "unknown",
};
pub const BUILD_DATE: &str = match option_env!("HEIMSIGHT_BUILD_DATE") {
    Some(value) => value,
    None => "unknown",
};

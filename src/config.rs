//! One configuration from three sources: flags > environment (`HEIMSIGHT_*`) > YAML file
//! (`--config.file`) > built-in defaults. Flag names and YAML keys follow Prometheus and
//! Loki (`--storage.path` ↔ `storage: {path: …}`), so a user of either guesses them right.

use crate::promql::EngineOptions;
use crate::server::Limits;
use crate::server::duration::{DurationError, format_prom_duration, parse_prom_duration};
use crate::storage::{ObjectStoreConfig, StorageConfig};
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, ValueEnum};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The listen address when nothing says otherwise. 9090 is Prometheus' port: this first
/// slice speaks Prometheus, so `http://localhost:9090` — what Grafana's Prometheus data
/// source and remote-write examples suggest — works unchanged. Loki and Tempo APIs will
/// share this one port under their own paths.
pub const DEFAULT_LISTEN_ADDRESS: &str = "0.0.0.0:9090";

/// Largest configuration file read (bytes): it is operator input, but still bounded.
const MAX_CONFIG_FILE_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable `key=value` text.
    Logfmt,
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Logfmt => "logfmt",
            LogFormat::Json => "json",
        }
    }
}

fn duration_arg(text: &str) -> Result<i64, String> {
    parse_prom_duration(text).map_err(|e| e.to_string())
}

/// Heimsight: logs, metrics and traces behind the Loki, Prometheus and Tempo APIs.
///
/// With no arguments it serves every API on one port with data under ./data.
#[derive(Parser, Debug, Clone)]
#[command(name = "heimsight", version)]
pub struct Cli {
    /// YAML configuration file (Prometheus-style snake_case keys); flags and environment override it.
    #[arg(long = "config.file", env = "HEIMSIGHT_CONFIG_FILE", value_name = "PATH")]
    pub config_file: Option<PathBuf>,

    /// Address the HTTP APIs listen on; port 0 picks a free port (logged at start).
    #[arg(long = "web.listen-address", env = "HEIMSIGHT_WEB_LISTEN_ADDRESS", value_name = "ADDRESS", default_value = DEFAULT_LISTEN_ADDRESS)]
    pub web_listen_address: String,

    /// Directory of local state (WAL, cache) and, by default, of the blocks.
    #[arg(
        long = "storage.path",
        env = "HEIMSIGHT_STORAGE_PATH",
        value_name = "DIR",
        default_value = "./data"
    )]
    pub storage_path: PathBuf,

    /// How far behind the newest sample of a series a sample may still be accepted (0s: in order only).
    #[arg(long = "storage.out-of-order-window", env = "HEIMSIGHT_STORAGE_OUT_OF_ORDER_WINDOW", value_name = "DURATION", default_value = "0s", value_parser = duration_arg)]
    pub storage_out_of_order_window: i64,

    /// How long data is kept (0s: forever).
    #[arg(long = "storage.retention", env = "HEIMSIGHT_STORAGE_RETENTION", value_name = "DURATION", default_value = "15d", value_parser = duration_arg)]
    pub storage_retention: i64,

    /// Longest a query may run before it is aborted.
    #[arg(long = "query.timeout", env = "HEIMSIGHT_QUERY_TIMEOUT", value_name = "DURATION", default_value = "2m", value_parser = duration_arg)]
    pub query_timeout: i64,

    /// Most samples a single query may hold in memory.
    #[arg(
        long = "query.max-samples",
        env = "HEIMSIGHT_QUERY_MAX_SAMPLES",
        value_name = "N",
        default_value_t = 50_000_000
    )]
    pub query_max_samples: usize,

    /// How far back an instant selector looks for the latest sample.
    #[arg(long = "query.lookback-delta", env = "HEIMSIGHT_QUERY_LOOKBACK_DELTA", value_name = "DURATION", default_value = "5m", value_parser = duration_arg)]
    pub query_lookback_delta: i64,

    /// Require the X-Scope-OrgID header and keep tenants apart.
    #[arg(long = "auth.multi-tenant", env = "HEIMSIGHT_AUTH_MULTI_TENANT", value_name = "BOOL", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub auth_multi_tenant: bool,

    /// Lowest level of log messages written.
    #[arg(long = "log.level", env = "HEIMSIGHT_LOG_LEVEL", value_name = "LEVEL", value_enum, default_value_t = LogLevel::Info)]
    pub log_level: LogLevel,

    /// Log line format.
    #[arg(long = "log.format", env = "HEIMSIGHT_LOG_FORMAT", value_name = "FORMAT", value_enum, default_value_t = LogFormat::Logfmt)]
    pub log_format: LogFormat,
}

/// The YAML file. Every key is optional; unknown keys are refused so typos do not go unseen.
#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub web: WebSection,
    #[serde(default)]
    pub storage: StorageSection,
    #[serde(default)]
    pub query: QuerySection,
    #[serde(default)]
    pub auth: AuthSection,
    #[serde(default)]
    pub log: LogSection,
}

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WebSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen_address: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_order_window: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_duration: Option<String>,
    /// `type: filesystem` with `path`, or `type: s3` with `bucket`, `endpoint`, … .
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_store: Option<ObjectStoreConfig>,
}

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QuerySection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_samples: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lookback_delta: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_tenant: Option<bool>,
}

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<LogLevel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<LogFormat>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Cli(#[from] clap::Error),
    #[error("cannot read config file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("cannot parse config file {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("invalid duration for {key}: {source}")]
    Duration { key: String, source: DurationError },
}

/// The effective configuration of one process.
#[derive(Clone, Debug)]
pub struct Config {
    pub config_file: Option<PathBuf>,
    pub listen_address: String,
    pub storage: StorageConfig,
    pub engine: EngineOptions,
    pub limits: Limits,
    pub log_level: LogLevel,
    pub log_format: LogFormat,
}

/// The flag's value unless it was left at its default, then the file's, then the default.
fn pick<T>(matches: &ArgMatches, id: &str, flag_value: T, file_value: Option<T>) -> T {
    let explicit = matches
        .value_source(id)
        .is_some_and(|source| source != ValueSource::DefaultValue);
    if explicit {
        return flag_value;
    }
    file_value.unwrap_or(flag_value)
}

fn file_duration(key: &str, value: &Option<String>) -> Result<Option<i64>, ConfigError> {
    match value {
        None => Ok(None),
        Some(text) => parse_prom_duration(text)
            .map(Some)
            .map_err(|source| ConfigError::Duration {
                key: key.to_string(),
                source,
            }),
    }
}

/// Reads and parses the YAML file.
pub fn read_file_config(path: &Path) -> Result<FileConfig, ConfigError> {
    let read_error = |reason: String| ConfigError::Read {
        path: path.to_path_buf(),
        reason,
    };
    let size = std::fs::metadata(path).map_err(|e| read_error(e.to_string()))?.len();
    if size > MAX_CONFIG_FILE_BYTES {
        return Err(read_error(format!("larger than {MAX_CONFIG_FILE_BYTES} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
    parse_file_config(&text).map_err(|reason| ConfigError::Parse {
        path: path.to_path_buf(),
        reason,
    })
}

pub fn parse_file_config(text: &str) -> Result<FileConfig, String> {
    if text.trim().is_empty() {
        return Ok(FileConfig::default());
    }
    serde_saphyr::from_str(text).map_err(|e| e.to_string())
}

impl Config {
    /// Parses the process arguments (and environment, and the file they name).
    pub fn load() -> Result<Self, ConfigError> {
        Self::load_from(std::env::args_os())
    }

    pub fn load_from<I, T>(args: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args)?;
        let cli = Cli::from_arg_matches(&matches)?;
        let file = match &cli.config_file {
            Some(path) => read_file_config(path)?,
            None => FileConfig::default(),
        };
        Self::resolve(&matches, cli, file)
    }

    fn resolve(matches: &ArgMatches, cli: Cli, file: FileConfig) -> Result<Self, ConfigError> {
        let listen_address = pick(
            matches,
            "web_listen_address",
            cli.web_listen_address,
            file.web.listen_address,
        );
        let data_dir = pick(matches, "storage_path", cli.storage_path, file.storage.path);
        let out_of_order = pick(
            matches,
            "storage_out_of_order_window",
            cli.storage_out_of_order_window,
            file_duration("storage.out_of_order_window", &file.storage.out_of_order_window)?,
        );
        let retention = pick(
            matches,
            "storage_retention",
            cli.storage_retention,
            file_duration("storage.retention", &file.storage.retention)?,
        );
        let mut storage = StorageConfig::with_data_dir(data_dir);
        storage.out_of_order_window_ms = out_of_order;
        storage.retention_ms = retention;
        if let Some(block_duration) = file_duration("storage.block_duration", &file.storage.block_duration)? {
            storage.block_duration_ms = block_duration;
        }
        if let Some(object_store) = file.storage.object_store {
            storage.object_store = object_store;
        }
        let engine = EngineOptions {
            lookback_delta_ms: pick(
                matches,
                "query_lookback_delta",
                cli.query_lookback_delta,
                file_duration("query.lookback_delta", &file.query.lookback_delta)?,
            ),
            max_samples: pick(
                matches,
                "query_max_samples",
                cli.query_max_samples,
                file.query.max_samples,
            ),
            timeout_ms: pick(
                matches,
                "query_timeout",
                cli.query_timeout,
                file_duration("query.timeout", &file.query.timeout)?,
            ),
            ..EngineOptions::default()
        };
        let limits = Limits {
            multi_tenant: pick(
                matches,
                "auth_multi_tenant",
                cli.auth_multi_tenant,
                file.auth.multi_tenant,
            ),
            ..Limits::default()
        };
        Ok(Self {
            config_file: cli.config_file,
            listen_address,
            storage,
            engine,
            limits,
            log_level: pick(matches, "log_level", cli.log_level, file.log.level),
            log_format: pick(matches, "log_format", cli.log_format, file.log.format),
        })
    }

    /// Every flag with its effective value, as `/api/v1/status/flags` lists them.
    pub fn flags(&self) -> BTreeMap<String, String> {
        let config_file = self
            .config_file
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        BTreeMap::from([
            ("config.file".to_string(), config_file),
            ("web.listen-address".to_string(), self.listen_address.clone()),
            ("storage.path".to_string(), self.storage.data_dir.display().to_string()),
            (
                "storage.out-of-order-window".to_string(),
                format_prom_duration(self.storage.out_of_order_window_ms),
            ),
            (
                "storage.retention".to_string(),
                format_prom_duration(self.storage.retention_ms),
            ),
            (
                "query.timeout".to_string(),
                format_prom_duration(self.engine.timeout_ms),
            ),
            ("query.max-samples".to_string(), self.engine.max_samples.to_string()),
            (
                "query.lookback-delta".to_string(),
                format_prom_duration(self.engine.lookback_delta_ms),
            ),
            ("auth.multi-tenant".to_string(), self.limits.multi_tenant.to_string()),
            ("log.level".to_string(), self.log_level.as_str().to_string()),
            ("log.format".to_string(), self.log_format.as_str().to_string()),
        ])
    }

    /// The effective configuration in the file's own YAML form, secrets replaced by
    /// `<secret>` as Prometheus does (`/api/v1/status/config`).
    pub fn to_yaml(&self) -> String {
        let mut object_store = self.storage.object_store.clone();
        if let ObjectStoreConfig::S3 { secret_access_key, .. } = &mut object_store
            && !secret_access_key.is_empty()
        {
            *secret_access_key = "<secret>".to_string();
        }
        let effective = FileConfig {
            web: WebSection {
                listen_address: Some(self.listen_address.clone()),
            },
            storage: StorageSection {
                path: Some(self.storage.data_dir.clone()),
                out_of_order_window: Some(format_prom_duration(self.storage.out_of_order_window_ms)),
                retention: Some(format_prom_duration(self.storage.retention_ms)),
                block_duration: Some(format_prom_duration(self.storage.block_duration_ms)),
                object_store: Some(object_store),
            },
            query: QuerySection {
                timeout: Some(format_prom_duration(self.engine.timeout_ms)),
                max_samples: Some(self.engine.max_samples),
                lookback_delta: Some(format_prom_duration(self.engine.lookback_delta_ms)),
            },
            auth: AuthSection {
                multi_tenant: Some(self.limits.multi_tenant),
            },
            log: LogSection {
                level: Some(self.log_level),
                format: Some(self.log_format),
            },
        };
        serde_saphyr::to_string(&effective).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn no_arguments_gives_the_embedded_default() {
        let config = Config::load_from(["heimsight"]).unwrap();
        assert_eq!(config.listen_address, DEFAULT_LISTEN_ADDRESS);
        assert_eq!(config.storage, StorageConfig::with_data_dir("./data"));
        assert_eq!(config.engine.timeout_ms, 120_000);
        assert_eq!(config.engine.lookback_delta_ms, 300_000);
        assert_eq!(config.engine.max_samples, 50_000_000);
        assert!(!config.limits.multi_tenant);
        assert_eq!(config.log_level, LogLevel::Info);
        assert_eq!(config.log_format, LogFormat::Logfmt);
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "web:\n  listen_address: 127.0.0.1:1234\nstorage:\n  path: /tmp/from-file\n  retention: 30d\n  object_store:\n    type: s3\n    bucket: metrics\n    endpoint: http://127.0.0.1:9000\n    secret_access_key: hunter2\nquery:\n  timeout: 1m\nauth:\n  multi_tenant: true\nlog:\n  format: json\n"
        )
        .unwrap();
        let path = file.path().display().to_string();
        let config = Config::load_from([
            "heimsight",
            "--config.file",
            &path,
            "--web.listen-address=127.0.0.1:0",
            "--query.timeout",
            "30s",
        ])
        .unwrap();
        assert_eq!(config.listen_address, "127.0.0.1:0");
        assert_eq!(config.storage.data_dir, PathBuf::from("/tmp/from-file"));
        assert_eq!(config.storage.retention_ms, 30 * 24 * 3_600_000);
        assert_eq!(config.engine.timeout_ms, 30_000);
        assert!(config.limits.multi_tenant);
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(matches!(&config.storage.object_store, ObjectStoreConfig::S3 { bucket, .. } if bucket == "metrics"));
        let yaml = config.to_yaml();
        assert!(yaml.contains("<secret>"), "{yaml}");
        assert!(!yaml.contains("hunter2"));
        // The printed YAML reads back as a file.
        assert!(parse_file_config(&yaml).is_ok(), "{yaml}");
        assert_eq!(config.flags()["query.timeout"], "30s");
        assert_eq!(config.flags()["storage.retention"], "30d");
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(Config::load_from(["heimsight", "--query.timeout", "1.5m"]).is_err());
        assert!(Config::load_from(["heimsight", "--log.level", "loud"]).is_err());
        assert!(parse_file_config("storage:\n  pathh: x\n").is_err());
        assert!(Config::load_from(["heimsight", "--config.file", "/nonexistent/heimsight.yml"]).is_err());
    }

    #[test]
    fn multi_tenant_flag_works_bare_and_with_value() {
        assert!(
            Config::load_from(["heimsight", "--auth.multi-tenant"])
                .unwrap()
                .limits
                .multi_tenant
        );
        assert!(
            !Config::load_from(["heimsight", "--auth.multi-tenant=false"])
                .unwrap()
                .limits
                .multi_tenant
        );
    }

    #[test]
    fn help_prints_defaults() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("--web.listen-address"));
        assert!(help.contains("[default: 0.0.0.0:9090]"));
        assert!(help.contains("[default: 15d]"));
        assert!(help.contains("HEIMSIGHT_STORAGE_PATH"));
    }
}

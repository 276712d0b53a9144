//! `/api/v1/status/*`, `/targets`, `/rules` and `/alerts`: what Grafana probes to detect the
//! flavour and features of a "Prometheus", answered about Heimsight itself.

use crate::prom_api::errors::ApiError;
use crate::prom_api::json::{self, success_envelope};
use crate::prom_api::params::{Params, go_atoi};
use crate::prom_api::router::json_response;
use crate::server::AppState;
use crate::server::extract::Tenant;
use crate::server::info::{self, ServerInfo};
use crate::storage::{LabelMatcher, Labels, METRIC_NAME, MatchOp, SeriesQuerier};
use axum::extract::{Extension, State};
use axum::response::Response;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

fn ok(data: &str) -> Response {
    json_response(success_envelope(Some(data), &[], &[]))
}

/// Go's `time.Time` JSON form (RFC3339 with nanoseconds, trailing zeros trimmed).
pub fn format_go_time(time: SystemTime) -> String {
    let datetime: chrono::DateTime<chrono::Utc> = time.into();
    let mut out = datetime.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = datetime.timestamp_subsec_nanos();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Prometheus' build info plus Mimir's `application` and `features`: a non-empty `features`
/// makes Grafana treat the source as Mimir-like, so the alerting UI reads `/api/v1/rules`
/// in the Mimir form. The ruler config API is not served yet, hence `"false"`.
pub async fn buildinfo() -> Response {
    let mut data = String::from("{\"application\":\"Heimsight\",\"version\":");
    json::write_string(&mut data, info::VERSION);
    data.push_str(",\"revision\":");
    json::write_string(&mut data, info::REVISION);
    data.push_str(",\"branch\":");
    json::write_string(&mut data, info::BRANCH);
    data.push_str(",\"buildUser\":");
    json::write_string(&mut data, info::BUILD_USER);
    data.push_str(",\"buildDate\":");
    json::write_string(&mut data, info::BUILD_DATE);
    data.push_str(
        ",\"goVersion\":\"n/a\",\"features\":{\"ruler_config_api\":\"false\",\"alertmanager_config_api\":\"false\",\"query_sharding\":\"false\",\"federated_rules\":\"false\"}}",
    );
    ok(&data)
}

pub async fn config(Extension(server): Extension<Arc<ServerInfo>>) -> Response {
    let mut data = String::from("{\"yaml\":");
    json::write_string(&mut data, &server.config_yaml);
    data.push('}');
    ok(&data)
}

pub async fn flags(Extension(server): Extension<Arc<ServerInfo>>) -> Response {
    let mut data = String::from("{");
    for (i, (name, value)) in server.flags.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        json::write_string(&mut data, name);
        data.push(':');
        json::write_string(&mut data, value);
    }
    data.push('}');
    ok(&data)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

/// Prometheus' runtime info; the Go-runtime fields carry the nearest tokio equivalents
/// (alive tasks for goroutines, worker threads for GOMAXPROCS).
pub async fn runtimeinfo(Extension(server): Extension<Arc<ServerInfo>>) -> Response {
    let metrics = tokio::runtime::Handle::current().metrics();
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut data = String::from("{\"startTime\":");
    json::write_string(&mut data, &format_go_time(server.start_time));
    data.push_str(",\"CWD\":");
    json::write_string(&mut data, &cwd);
    data.push_str(",\"hostname\":");
    json::write_string(&mut data, &hostname());
    data.push_str(",\"serverTime\":");
    json::write_string(&mut data, &format_go_time(SystemTime::now()));
    data.push_str(",\"reloadConfigSuccess\":true,\"lastConfigTime\":");
    json::write_string(&mut data, &format_go_time(server.config_loaded_at));
    let _ = write!(
        data,
        ",\"corruptionCount\":0,\"goroutineCount\":{},\"GOMAXPROCS\":{},\"GOMEMLIMIT\":{},\"GOGC\":\"\",\"GODEBUG\":\"\",\"storageRetention\":",
        metrics.num_alive_tasks(),
        metrics.num_workers(),
        i64::MAX
    );
    json::write_string(&mut data, &server.storage_retention);
    data.push('}');
    ok(&data)
}

/// Head cardinality as `/status/tsdb` reports it.
#[derive(Debug, Default, PartialEq)]
pub struct Cardinality {
    pub num_label_pairs: usize,
    pub series_count_by_metric_name: Vec<(String, u64)>,
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    pub memory_in_bytes_by_label_name: Vec<(String, u64)>,
    pub series_count_by_label_value_pair: Vec<(String, u64)>,
}

/// Largest first, then by name, cut to `limit`.
fn top(counts: BTreeMap<String, u64>, limit: usize) -> Vec<(String, u64)> {
    let mut list: Vec<(String, u64)> = counts.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    list.truncate(limit);
    list
}

pub fn cardinality(series: &[Labels], limit: usize) -> Cardinality {
    let mut by_metric: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_pair: BTreeMap<String, u64> = BTreeMap::new();
    let mut values_by_name: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for labels in series {
        for label in labels {
            if label.name == METRIC_NAME {
                *by_metric.entry(label.value.clone()).or_default() += 1;
            }
            *by_pair.entry(format!("{}={}", label.name, label.value)).or_default() += 1;
            values_by_name
                .entry(label.name.clone())
                .or_default()
                .insert(label.value.clone());
        }
    }
    let num_label_pairs = by_pair.len();
    let value_counts = values_by_name
        .iter()
        .map(|(name, values)| (name.clone(), values.len() as u64))
        .collect();
    let value_bytes = values_by_name
        .iter()
        .map(|(name, values)| (name.clone(), values.iter().map(|v| v.len() as u64).sum()))
        .collect();
    Cardinality {
        num_label_pairs,
        series_count_by_metric_name: top(by_metric, limit),
        label_value_count_by_label_name: top(value_counts, limit),
        memory_in_bytes_by_label_name: top(value_bytes, limit),
        series_count_by_label_value_pair: top(by_pair, limit),
    }
}

fn write_stats(out: &mut String, key: &str, stats: &[(String, u64)]) {
    let _ = write!(out, ",\"{key}\":[");
    for (i, (name, value)) in stats.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        json::write_string(out, name);
        let _ = write!(out, ",\"value\":{value}}}");
    }
    out.push(']');
}

const MAX_TSDB_LIMIT: i64 = 10_000;

pub async fn tsdb(State(state): State<AppState>, Tenant(tenant): Tenant, params: Params) -> Result<Response, ApiError> {
    let mut limit: i64 = 10;
    let text = params.get("limit");
    if !text.is_empty() {
        limit = match go_atoi(text) {
            Ok(value) if value >= 1 => value,
            _ => return Err(ApiError::bad_data("limit must be a positive number")),
        };
        if limit > MAX_TSDB_LIMIT {
            return Err(ApiError::bad_data(format!("limit must not exceed {MAX_TSDB_LIMIT}")));
        }
    }
    let stats = state.storage.stats();
    let series = if stats.head_series > 0 && stats.head_min_time <= stats.head_max_time {
        let any_name =
            LabelMatcher::new(METRIC_NAME, MatchOp::NotEqual, "").map_err(|e| ApiError::internal(e.to_string()))?;
        state
            .storage
            .querier(&tenant)
            .series(&[any_name], stats.head_min_time, stats.head_max_time)
            .await?
    } else {
        Vec::new()
    };
    let card = cardinality(&series, usize::try_from(limit).unwrap_or(10));
    let mut data = String::new();
    let _ = write!(
        data,
        "{{\"headStats\":{{\"numSeries\":{},\"numLabelPairs\":{},\"chunkCount\":0,\"minTime\":{},\"maxTime\":{}}}",
        stats.head_series, card.num_label_pairs, stats.head_min_time, stats.head_max_time
    );
    write_stats(&mut data, "seriesCountByMetricName", &card.series_count_by_metric_name);
    write_stats(
        &mut data,
        "labelValueCountByLabelName",
        &card.label_value_count_by_label_name,
    );
    write_stats(
        &mut data,
        "memoryInBytesByLabelName",
        &card.memory_in_bytes_by_label_name,
    );
    write_stats(
        &mut data,
        "seriesCountByLabelValuePair",
        &card.series_count_by_label_value_pair,
    );
    data.push('}');
    Ok(ok(&data))
}

/// Heimsight scrapes nothing: no active or dropped targets.
pub async fn targets() -> Response {
    ok("{\"activeTargets\":[],\"droppedTargets\":[],\"droppedTargetCounts\":{}}")
}

/// No rule groups are configured (rule evaluation is not built yet); this is Prometheus'
/// answer in that state, which Grafana's data-source init and alerting pages expect.
pub async fn rules() -> Response {
    ok("{\"groups\":[]}")
}

/// No alerting rules, hence no alerts.
pub async fn alerts() -> Response {
    ok("{\"alerts\":[]}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn go_time_trims_fraction() {
        let t = UNIX_EPOCH + Duration::new(1_795_294_337, 8_009_216);
        assert_eq!(format_go_time(t), "2026-11-21T20:52:17.008009216Z");
        let t = UNIX_EPOCH + Duration::new(1_795_294_337, 500_000_000);
        assert_eq!(format_go_time(t), "2026-11-21T20:52:17.5Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_294_337);
        assert_eq!(format_go_time(t), "2026-11-21T20:52:17Z");
    }

    #[test]
    fn cardinality_counts_and_orders() {
        let series = vec![
            Labels::from_pairs([("__name__", "up"), ("job", "a")]),
            Labels::from_pairs([("__name__", "up"), ("job", "b")]),
            Labels::from_pairs([("__name__", "go"), ("job", "a")]),
        ];
        let card = cardinality(&series, 10);
        assert_eq!(card.num_label_pairs, 4);
        assert_eq!(
            card.series_count_by_metric_name,
            vec![("up".to_string(), 2), ("go".to_string(), 1)]
        );
        assert_eq!(
            card.label_value_count_by_label_name,
            vec![("__name__".to_string(), 2), ("job".to_string(), 2)]
        );
        assert_eq!(
            card.memory_in_bytes_by_label_name,
            vec![("__name__".to_string(), 4), ("job".to_string(), 2)]
        );
        assert_eq!(card.series_count_by_label_value_pair[0], ("__name__=up".to_string(), 2));
        assert_eq!(cardinality(&series, 1).series_count_by_label_value_pair.len(), 1);
    }
}

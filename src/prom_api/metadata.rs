//! `/api/v1/metadata`: metric metadata received through remote write, keyed by family.
//! The answer is an object (never an array), `{}` when nothing is known.

use crate::prom_api::errors::ApiError;
use crate::prom_api::json::{self, success_envelope};
use crate::prom_api::params::{Params, go_atoi};
use crate::prom_api::router::json_response;
use crate::server::AppState;
use crate::server::extract::Tenant;
use crate::storage::model::MetricMetadata;
use axum::extract::State;
use axum::response::Response;
use std::collections::BTreeMap;

/// `limit` and `limit_per_metric`: absent means unlimited (-1), as in Prometheus.
fn number_param(params: &Params, name: &str) -> Result<i64, ApiError> {
    let value = params.get(name);
    if value.is_empty() {
        return Ok(-1);
    }
    go_atoi(value).map_err(|_| ApiError::bad_data(format!("{name} must be a number")))
}

/// Groups metadata by family, de-duplicated, honouring both limits. Families come out in
/// name order, which is also how Go's JSON encoder orders map keys.
pub fn group_metadata(
    entries: Vec<MetricMetadata>,
    limit: i64,
    limit_per_metric: i64,
) -> BTreeMap<String, Vec<MetricMetadata>> {
    let mut grouped: BTreeMap<String, Vec<MetricMetadata>> = BTreeMap::new();
    for entry in entries {
        let family = grouped.entry(entry.metric_family.clone()).or_default();
        if family.contains(&entry) {
            continue;
        }
        if limit_per_metric > 0 && family.len() as i64 >= limit_per_metric {
            continue;
        }
        family.push(entry);
    }
    if limit >= 0 {
        let keep = usize::try_from(limit).unwrap_or(usize::MAX);
        grouped = grouped.into_iter().take(keep).collect();
    }
    grouped
}

pub async fn metadata(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    params: Params,
) -> Result<Response, ApiError> {
    let limit = number_param(&params, "limit")?;
    let limit_per_metric = number_param(&params, "limit_per_metric")?;
    let metric = params.get("metric");
    let filter = if metric.is_empty() { None } else { Some(metric) };
    let grouped = group_metadata(state.storage.metadata(&tenant, filter), limit, limit_per_metric);
    let mut data = String::from("{");
    for (i, (family, entries)) in grouped.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        json::write_string(&mut data, family);
        data.push_str(":[");
        for (j, entry) in entries.iter().enumerate() {
            if j > 0 {
                data.push(',');
            }
            data.push_str("{\"type\":");
            json::write_string(&mut data, entry.metric_type.as_str());
            data.push_str(",\"help\":");
            json::write_string(&mut data, &entry.help);
            data.push_str(",\"unit\":");
            json::write_string(&mut data, &entry.unit);
            data.push('}');
        }
        data.push(']');
    }
    data.push('}');
    Ok(json_response(success_envelope(Some(&data), &[], &[])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::model::MetricType;

    fn entry(family: &str, help: &str) -> MetricMetadata {
        MetricMetadata {
            metric_family: family.into(),
            metric_type: MetricType::Gauge,
            help: help.into(),
            unit: String::new(),
        }
    }

    #[test]
    fn groups_dedups_and_limits() {
        let entries = vec![entry("b", "x"), entry("a", "1"), entry("a", "1"), entry("a", "2")];
        let all = group_metadata(entries.clone(), -1, -1);
        assert_eq!(all.keys().collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(all["a"].len(), 2);
        assert_eq!(group_metadata(entries.clone(), -1, 1)["a"].len(), 1);
        assert_eq!(group_metadata(entries.clone(), 1, -1).len(), 1);
        assert!(group_metadata(entries, 0, -1).is_empty());
    }
}

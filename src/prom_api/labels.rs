//! `/api/v1/series`, `/labels` and `/label/<name>/values`: Grafana's metric and label
//! browsers. Several `match[]` are ORed and the union is de-duplicated and sorted.

use crate::prom_api::errors::{ApiError, ErrorType};
use crate::prom_api::json::{self, success_envelope};
use crate::prom_api::params::{
    MAX_TIME_MS, MIN_TIME_MS, Params, limit_param, parse_match_sets, time_param, unescape_label_name,
};
use crate::prom_api::router::json_response;
use crate::server::AppState;
use crate::server::extract::Tenant;
use crate::storage::{LabelMatcher, Labels, SeriesQuerier};
use axum::extract::{Path, State};
use axum::response::Response;
use std::collections::BTreeSet;

const TRUNCATED_WARNING: &str = "results truncated due to limit";

/// Applies `limit` to a sorted list; the warning says whether anything was cut.
fn apply_limit<T>(items: &mut Vec<T>, limit: usize) -> Vec<String> {
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        return vec![TRUNCATED_WARNING.to_string()];
    }
    Vec::new()
}

fn string_list_response(items: &[String], warnings: &[String]) -> Response {
    let mut data = String::new();
    json::write_string_array(&mut data, items);
    json_response(success_envelope(Some(&data), warnings, &[]))
}

pub async fn series(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    params: Params,
) -> Result<Response, ApiError> {
    let selectors = params.all("match[]");
    if selectors.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let limit = limit_param(&params)?;
    let start = time_param(&params, "start", MIN_TIME_MS)?;
    let end = time_param(&params, "end", MAX_TIME_MS)?;
    let sets = parse_match_sets(&selectors).map_err(|reason| ApiError::invalid_param("match[]", reason))?;
    let querier = state.storage.querier(&tenant);
    let mut found: BTreeSet<Labels> = BTreeSet::new();
    for set in &sets {
        found.extend(querier.series(set, start, end).await?);
    }
    let mut series: Vec<Labels> = found.into_iter().collect();
    let warnings = apply_limit(&mut series, limit);
    let mut data = String::from("[");
    for (i, labels) in series.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        json::write_labels(&mut data, labels);
    }
    data.push(']');
    Ok(json_response(success_envelope(Some(&data), &warnings, &[])))
}

/// `match[]` of `/labels` and `/label/…/values`: optional, errors without a parameter prefix.
fn optional_match_sets(params: &Params) -> Result<Vec<Vec<LabelMatcher>>, ApiError> {
    parse_match_sets(&params.all("match[]")).map_err(ApiError::bad_data)
}

pub async fn names(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    params: Params,
) -> Result<Response, ApiError> {
    let limit = limit_param(&params)?;
    let start = time_param(&params, "start", MIN_TIME_MS)?;
    let end = time_param(&params, "end", MAX_TIME_MS)?;
    let sets = optional_match_sets(&params)?;
    let querier = state.storage.querier(&tenant);
    let mut names: BTreeSet<String> = BTreeSet::new();
    if sets.is_empty() {
        names.extend(querier.label_names(&[], start, end).await?);
    }
    for set in &sets {
        names.extend(querier.label_names(set, start, end).await?);
    }
    let mut names: Vec<String> = names.into_iter().collect();
    let warnings = apply_limit(&mut names, limit);
    Ok(string_list_response(&names, &warnings))
}

pub async fn values(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    Path(raw_name): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    let name = unescape_label_name(&raw_name);
    if name.is_empty() {
        return Err(ApiError::bad_data(format!(
            "invalid label name: {}",
            crate::prom_api::params::go_quote(&name)
        )));
    }
    let limit = limit_param(&params)?;
    let start = time_param(&params, "start", MIN_TIME_MS)?;
    let end = time_param(&params, "end", MAX_TIME_MS)?;
    let sets = optional_match_sets(&params)?;
    let querier = state.storage.querier(&tenant);
    let mut values: BTreeSet<String> = BTreeSet::new();
    // Prometheus reports storage failures of this endpoint as `execution`.
    let exec = |err: crate::storage::StorageError| ApiError::new(ErrorType::Execution, err.to_string());
    if sets.is_empty() {
        values.extend(querier.label_values(&name, &[], start, end).await.map_err(exec)?);
    }
    for set in &sets {
        values.extend(querier.label_values(&name, set, start, end).await.map_err(exec)?);
    }
    let mut values: Vec<String> = values.into_iter().collect();
    let warnings = apply_limit(&mut values, limit);
    Ok(string_list_response(&values, &warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_cuts_and_warns() {
        let mut items = vec![1, 2, 3];
        assert!(apply_limit(&mut items, 0).is_empty());
        assert!(apply_limit(&mut items, 3).is_empty());
        assert_eq!(apply_limit(&mut items, 2), vec![TRUNCATED_WARNING.to_string()]);
        assert_eq!(items, vec![1, 2]);
    }
}

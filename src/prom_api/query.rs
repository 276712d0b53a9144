//! `/api/v1/query`, `/query_range`, `/query_exemplars` and `/format_query`: parameters are
//! checked in Prometheus' order with its texts, the engine evaluates, the result is encoded.

use crate::prom_api::errors::{ApiError, ErrorType};
use crate::prom_api::json::{self, query_envelope, success_envelope};
use crate::prom_api::params::{
    MAX_TIME_MS, MIN_TIME_MS, Params, duration_param_ms, limit_param, parse_duration_ns, parse_promql, parse_time,
    selector_matcher_sets, time_param,
};
use crate::prom_api::router::{json_response, no_content};
use crate::promql::{PromqlError, QueryOptions, QueryResult, Value};
use crate::server::AppState;
use crate::server::extract::Tenant;
use crate::storage::LabelMatcher;
use axum::extract::State;
use axum::response::Response;
use std::future::Future;
use std::time::Duration;

/// Prometheus' cap on points per series of a range query.
const MAX_POINTS_PER_SERIES: i128 = 11_000;
const TRUNCATED_WARNING: &str = "results truncated due to limit";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `lookback_delta`, with the wording of Prometheus' `extractQueryOpts`.
fn query_options(params: &Params, timeout_ms: Option<i64>) -> Result<QueryOptions, ApiError> {
    let lookback = params.get("lookback_delta");
    let lookback_delta_ms = if lookback.is_empty() {
        None
    } else {
        let ns = parse_duration_ns(lookback)
            .map_err(|reason| ApiError::bad_data(format!("error parsing lookback delta duration: {reason}")))?;
        Some(ns / 1_000_000)
    };
    Ok(QueryOptions {
        lookback_delta_ms,
        timeout_ms,
    })
}

/// Deprecation warning for `stats` values other than `true`/`all`, as Prometheus 3 gives.
fn stats_warning(params: &Params) -> Option<String> {
    match params.get("stats") {
        "" | "true" | "all" => None,
        other => Some(format!(
            "value \"{other}\" for parameter \"stats\" is deprecated and will be rejected in the next major release, use \"true\" or \"all\""
        )),
    }
}

/// Runs an engine call under the request's timeout (or the engine default), so that a
/// runaway evaluation answers 503 as Prometheus does instead of holding the connection.
async fn with_timeout(
    state: &AppState,
    timeout_ms: Option<i64>,
    evaluation: impl Future<Output = Result<QueryResult, PromqlError>>,
) -> Result<QueryResult, ApiError> {
    let limit_ms = timeout_ms.unwrap_or(state.engine.options().timeout_ms).max(0);
    let limit = Duration::from_millis(u64::try_from(limit_ms).unwrap_or(0));
    match tokio::time::timeout(limit, evaluation).await {
        Ok(result) => result.map_err(ApiError::from_query_error),
        Err(_) => Err(ApiError::new(
            ErrorType::Timeout,
            "query timed out in expression evaluation",
        )),
    }
}

/// Cuts vectors and matrices to `limit` elements; scalars and strings are left alone.
fn truncate(result: &mut QueryResult, limit: usize) -> bool {
    if limit == 0 {
        return false;
    }
    match &mut result.value {
        Value::Vector(samples) if samples.len() > limit => {
            samples.truncate(limit);
            true
        }
        Value::Matrix(series) if series.len() > limit => {
            series.truncate(limit);
            true
        }
        _ => false,
    }
}

fn encode(mut result: QueryResult, limit: usize, params: &Params) -> Response {
    let mut extra = Vec::new();
    if truncate(&mut result, limit) {
        extra.push(TRUNCATED_WARNING.to_string());
    }
    extra.extend(stats_warning(params));
    json_response(query_envelope(&result, &extra))
}

pub async fn instant(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    params: Params,
) -> Result<Response, ApiError> {
    let limit = limit_param(&params)?;
    let ts = time_param(&params, "time", now_ms())?;
    let timeout_ms = duration_param_ms(&params, "timeout")?;
    let options = query_options(&params, timeout_ms)?;
    let querier = state.storage.querier(&tenant);
    let evaluation = state.engine.instant_query(&querier, params.get("query"), ts, &options);
    let result = with_timeout(&state, timeout_ms, evaluation).await?;
    Ok(encode(result, limit, &params))
}

/// The checks of `query_range` before evaluation, in Prometheus' order:
/// returns (start, end, step) in milliseconds.
pub fn range_bounds(params: &Params) -> Result<(i64, i64, i64), ApiError> {
    let start = parse_time(params.get("start")).map_err(|reason| ApiError::invalid_param("start", reason))?;
    let end = parse_time(params.get("end")).map_err(|reason| ApiError::invalid_param("end", reason))?;
    if end < start {
        return Err(ApiError::invalid_param(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step_ns = parse_duration_ns(params.get("step")).map_err(|reason| ApiError::invalid_param("step", reason))?;
    // Steps under a millisecond cannot be evaluated on a millisecond grid; Prometheus would
    // accept them and then loop, so they get the same answer as a zero step.
    let step_ms = step_ns / 1_000_000;
    if step_ms <= 0 {
        return Err(ApiError::invalid_param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    let span_ns = (i128::from(end) - i128::from(start)) * 1_000_000;
    if span_ns / i128::from(step_ns) > MAX_POINTS_PER_SERIES {
        return Err(ApiError::bad_data(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    Ok((start, end, step_ms))
}

pub async fn range(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    params: Params,
) -> Result<Response, ApiError> {
    let limit = limit_param(&params)?;
    let (start, end, step) = range_bounds(&params)?;
    let timeout_ms = duration_param_ms(&params, "timeout")?;
    let options = query_options(&params, timeout_ms)?;
    let querier = state.storage.querier(&tenant);
    let evaluation = state
        .engine
        .range_query(&querier, params.get("query"), start, end, step, &options);
    let result = with_timeout(&state, timeout_ms, evaluation).await?;
    Ok(encode(result, limit, &params))
}

/// Every series selector in an expression, as matcher sets (`parser.ExtractSelectors`).
fn extract_selectors(expr: &promql_parser::parser::Expr, out: &mut Vec<Vec<LabelMatcher>>) -> Result<(), String> {
    use promql_parser::parser::Expr;
    match expr {
        Expr::VectorSelector(selector) => out.extend(selector_matcher_sets(selector)?),
        Expr::MatrixSelector(matrix) => out.extend(selector_matcher_sets(&matrix.vs)?),
        Expr::Aggregate(aggregate) => {
            extract_selectors(&aggregate.expr, out)?;
            if let Some(param) = &aggregate.param {
                extract_selectors(param, out)?;
            }
        }
        Expr::Unary(unary) => extract_selectors(&unary.expr, out)?,
        Expr::Binary(binary) => {
            extract_selectors(&binary.lhs, out)?;
            extract_selectors(&binary.rhs, out)?;
        }
        Expr::Paren(paren) => extract_selectors(&paren.expr, out)?,
        Expr::Subquery(subquery) => extract_selectors(&subquery.expr, out)?,
        Expr::Call(call) => {
            for arg in &call.args.args {
                extract_selectors(arg, out)?;
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
    Ok(())
}

pub async fn exemplars(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    params: Params,
) -> Result<Response, ApiError> {
    let start = time_param(&params, "start", MIN_TIME_MS)?;
    let end = time_param(&params, "end", MAX_TIME_MS)?;
    if end < start {
        return Err(ApiError::bad_data("end timestamp must not be before start timestamp"));
    }
    let expr = parse_promql(params.get("query")).map_err(ApiError::bad_data)?;
    let mut selectors = Vec::new();
    extract_selectors(&expr, &mut selectors).map_err(ApiError::bad_data)?;
    if selectors.is_empty() {
        return Ok(no_content());
    }
    let found = state.storage.exemplars(&tenant, &selectors, start, end).await?;
    let mut data = String::from("[");
    for (i, (series, exemplars)) in found.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        data.push_str("{\"seriesLabels\":");
        json::write_labels(&mut data, series);
        data.push_str(",\"exemplars\":[");
        for (j, exemplar) in exemplars.iter().enumerate() {
            if j > 0 {
                data.push(',');
            }
            data.push_str("{\"labels\":");
            json::write_labels(&mut data, &exemplar.labels);
            data.push_str(",\"value\":");
            json::write_string(&mut data, &json::format_float(exemplar.value));
            data.push_str(",\"timestamp\":");
            json::write_timestamp(&mut data, exemplar.t);
            data.push('}');
        }
        data.push_str("]}");
    }
    data.push(']');
    Ok(json_response(success_envelope(Some(&data), &[], &[])))
}

pub async fn format(params: Params) -> Result<Response, ApiError> {
    let expr = parse_promql(params.get("query")).map_err(|reason| ApiError::invalid_param("query", reason))?;
    let mut data = String::new();
    json::write_string(&mut data, &expr.prettify());
    Ok(json_response(success_envelope(Some(&data), &[], &[])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn range_checks_follow_prometheus_order_and_texts() {
        let err = range_bounds(&params(&[("start", "x")])).unwrap_err();
        assert_eq!(
            err.message,
            "invalid parameter \"start\": cannot parse \"x\" to a valid timestamp"
        );
        let err = range_bounds(&params(&[("start", "10"), ("end", "5"), ("step", "x")])).unwrap_err();
        assert_eq!(
            err.message,
            "invalid parameter \"end\": end timestamp must not be before start time"
        );
        let err = range_bounds(&params(&[("start", "1"), ("end", "5"), ("step", "0")])).unwrap_err();
        assert_eq!(
            err.message,
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer"
        );
        let err = range_bounds(&params(&[("start", "0"), ("end", "11001"), ("step", "1")])).unwrap_err();
        assert_eq!(
            err.message,
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
        );
        assert_eq!(
            range_bounds(&params(&[("start", "0"), ("end", "11000"), ("step", "1")])).unwrap(),
            (0, 11_000_000, 1000)
        );
        assert_eq!(
            range_bounds(&params(&[("start", "1.5"), ("end", "2"), ("step", "500ms")])).unwrap(),
            (1500, 2000, 500)
        );
    }

    #[test]
    fn truncation_only_touches_vectors_and_matrices() {
        let mut scalar = QueryResult {
            value: Value::Scalar { t: 0, v: 1.0 },
            warnings: vec![],
            infos: vec![],
        };
        assert!(!truncate(&mut scalar, 1));
        let sample = crate::promql::InstantSample {
            metric: crate::storage::Labels::empty(),
            t: 0,
            f: 1.0,
        };
        let mut vector = QueryResult {
            value: Value::Vector(vec![sample.clone(), sample]),
            warnings: vec![],
            infos: vec![],
        };
        assert!(truncate(&mut vector, 1));
        assert!(matches!(&vector.value, Value::Vector(v) if v.len() == 1));
        assert!(!truncate(&mut vector, 0));
    }

    #[test]
    fn selectors_are_extracted_from_whole_expressions() {
        let expr = parse_promql(r#"sum(rate(a[5m])) / on(job) b{job="x"} + 1"#).unwrap();
        let mut sets = Vec::new();
        extract_selectors(&expr, &mut sets).unwrap();
        assert_eq!(sets.len(), 2);
        let expr = parse_promql("1 + 2").unwrap();
        let mut sets = Vec::new();
        extract_selectors(&expr, &mut sets).unwrap();
        assert!(sets.is_empty());
    }
}

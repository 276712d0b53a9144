//! The Prometheus HTTP API v1 routes, at the service root as Prometheus serves them. Methods
//! follow Prometheus: GET and POST where it accepts a form, GET only elsewhere.

use crate::prom_api::{labels, metadata, parse_query, query, status};
use crate::server::AppState;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// A 200 answer with a JSON body already encoded.
pub fn json_response(body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Prometheus answers 204 when a handler succeeds with nothing to say.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/query", get(query::instant).post(query::instant))
        .route("/api/v1/query_range", get(query::range).post(query::range))
        .route("/api/v1/query_exemplars", get(query::exemplars).post(query::exemplars))
        .route("/api/v1/format_query", get(query::format).post(query::format))
        .route(
            "/api/v1/parse_query",
            get(parse_query::parse_query).post(parse_query::parse_query),
        )
        .route("/api/v1/series", get(labels::series).post(labels::series))
        .route("/api/v1/labels", get(labels::names).post(labels::names))
        .route("/api/v1/label/{name}/values", get(labels::values))
        .route("/api/v1/metadata", get(metadata::metadata))
        .route("/api/v1/status/buildinfo", get(status::buildinfo))
        .route("/api/v1/status/config", get(status::config))
        .route("/api/v1/status/flags", get(status::flags))
        .route("/api/v1/status/runtimeinfo", get(status::runtimeinfo))
        .route("/api/v1/status/tsdb", get(status::tsdb))
        .route("/api/v1/targets", get(status::targets))
        .route("/api/v1/rules", get(status::rules))
        .route("/api/v1/alerts", get(status::alerts))
}

//! The root router: every protocol's routes at their native paths, plus `/ready` and
//! `/metrics`, with the cross-cutting layers (CORS like Prometheus, body limit, request
//! accounting, plain-text 404/405 like Go's net/http).

use crate::prom_api;
use crate::server::AppState;
use crate::server::info::ServerInfo;
use crate::server::selfmon::SelfMetrics;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Extension, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use std::time::Instant;
use tower_http::compression::CompressionLayer;

/// Builds the whole HTTP surface of one Heimsight process.
pub fn build(state: AppState, info: Arc<ServerInfo>, metrics: Arc<SelfMetrics>) -> Router {
    let body_limit = state.limits.max_request_body_bytes;
    Router::new()
        .route("/ready", get(ready))
        .route("/-/ready", get(prometheus_ready))
        .route("/-/healthy", get(prometheus_healthy))
        .route("/metrics", get(self_metrics))
        // JSON answers are gzipped when asked, as Prometheus' API does; the remote
        // protocols carry their own (snappy) encodings and are left alone.
        .merge(prom_api::routes().layer(CompressionLayer::new()))
        .merge(prom_api::remote_write::routes())
        .merge(prom_api::remote_read::routes())
        .route_layer(middleware::from_fn_with_state(Arc::clone(&metrics), track_requests))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(info))
        .layer(Extension(metrics))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(middleware::from_fn(cors))
        .with_state(state)
}

/// The store is open once the router exists, so answering at all means ready.
async fn ready() -> &'static str {
    "ready\n"
}

/// Prometheus' own readiness and health paths, which container health checks and
/// Prometheus-aware tooling probe.
async fn prometheus_ready() -> &'static str {
    "Heimsight is Ready.\n"
}

async fn prometheus_healthy() -> &'static str {
    "Heimsight is Healthy.\n"
}

async fn self_metrics(State(state): State<AppState>, Extension(metrics): Extension<Arc<SelfMetrics>>) -> Response {
    let body = metrics.render(&state.storage.stats());
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn go_text_error(status: StatusCode, body: &'static str) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// Go's `http.NotFound`, which is what Prometheus answers for unknown paths.
async fn not_found() -> Response {
    go_text_error(StatusCode::NOT_FOUND, "404 page not found\n")
}

/// httprouter's answer when the path exists but not for this method.
async fn method_not_allowed() -> Response {
    go_text_error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n")
}

/// Prometheus' `SetCORS` with its default origin `.*`: `Vary: Origin` always, the CORS
/// headers when the request names an origin, and 204 for every preflight `OPTIONS`.
async fn cors(request: Request, next: Next) -> Response {
    let has_origin = request.headers().contains_key(header::ORIGIN);
    let mut response = if request.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if has_origin {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Accept, Authorization, Content-Type, Origin"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("Date"));
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    response
}

/// Counts and times every routed request by its route pattern.
async fn track_requests(State(metrics): State<Arc<SelfMetrics>>, request: Request, next: Next) -> Response {
    let handler = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "other".to_string());
    let method = request.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.observe_request(&handler, &method, response.status().as_u16(), started.elapsed());
    response
}

//! Prometheus remote write 1.0 and 2.0 receiver (`/api/v1/write`, `/api/v1/push`).
//!
//! CONTRACT (skeleton): the server's router merges [`routes`].
//!
//! The order of checks is Prometheus': Content-Encoding, body size and snappy first (its
//! decode middleware runs before the handler), then Content-Type, protobuf, validation and
//! the append. Decoding and validation are pure (`body`, `convert`); the handler only adds
//! the store and the HTTP response.

mod body;
mod convert;
mod fast_v1;
mod histogram;
mod series_labels;
mod sink;

#[cfg(test)]
mod http_tests;
#[cfg(test)]
mod tests;

use crate::prom_api::proto::{decode_message, prompb, write_v2};
use crate::server::{AppState, Limits, TenantError, tenant_from_headers};
use crate::storage::{AppendStats, StorageError};
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use body::{HttpFailure, MessageType};
use convert::ErrorLog;
use convert::{ConvertContext, Converted};
use futures::StreamExt;
pub use sink::BatchSink;

pub const SAMPLES_WRITTEN_HEADER: &str = "X-Prometheus-Remote-Write-Samples-Written";
pub const HISTOGRAMS_WRITTEN_HEADER: &str = "X-Prometheus-Remote-Write-Histograms-Written";
pub const EXEMPLARS_WRITTEN_HEADER: &str = "X-Prometheus-Remote-Write-Exemplars-Written";

/// The remote-write routes, merged into the root router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/write", post(write))
        .route("/api/v1/push", post(write))
        // The body limit is ours (`Limits::max_compressed_body_bytes`), with Prometheus' 413.
        .layer(DefaultBodyLimit::disable())
}

async fn write(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let tenant = match tenant_from_headers(&headers, state.limits.multi_tenant) {
        Ok(tenant) => tenant,
        Err(e) => return tenant_failure(e),
    };
    let decoded = match read_and_decompress(&headers, body, &state.limits).await {
        Ok(decoded) => decoded,
        Err(failure) => return plain_text(failure.status, &failure.text, None),
    };
    let msg_type = match body::parse_content_type(header_text(&headers, header::CONTENT_TYPE).as_deref()) {
        Ok(t) => t,
        Err(failure) => return plain_text(failure.status, &failure.text, None),
    };
    let ctx = ConvertContext {
        now_ms: now_ms(),
        limits: &state.limits,
    };
    let outcome = process(state.storage.as_ref(), &tenant, msg_type, &decoded, &ctx).await;
    outcome.into_response()
}

/// Content-Encoding, the compressed size limit and snappy, in Prometheus' order.
async fn read_and_decompress(headers: &HeaderMap, body: Body, limits: &Limits) -> Result<Vec<u8>, HttpFailure> {
    body::check_content_encoding(header_text(headers, header::CONTENT_ENCODING).as_deref())?;
    let compressed = read_limited(body, limits.max_compressed_body_bytes).await?;
    body::snappy_decode(&compressed, limits.max_request_body_bytes)
}

/// How much of a too-large body is still read (and discarded) before answering 413. A sender
/// that is still writing when the connection closes sees a reset instead of the answer;
/// reading a bounded tail lets a body somewhat over the limit get its 413, at no memory cost.
const OVERSIZED_BODY_DRAIN_BYTES: usize = 8 * 1024 * 1024;

/// Reads at most `limit` bytes, refusing (413) a longer body without buffering the rest.
pub(crate) async fn read_limited(body: Body, limit: usize) -> Result<Vec<u8>, HttpFailure> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| HttpFailure::new(StatusCode::BAD_REQUEST, e.to_string()))?;
        if out.len() + chunk.len() > limit {
            let mut drained = chunk.len();
            while drained < OVERSIZED_BODY_DRAIN_BYTES {
                match stream.next().await {
                    Some(Ok(more)) => drained += more.len(),
                    _ => break,
                }
            }
            return Err(body::body_too_large(limit));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The result of one write, ready to become a response.
#[derive(Debug, PartialEq)]
pub struct WriteOutcome {
    pub msg_type: MessageType,
    pub status: StatusCode,
    /// Empty on success.
    pub body: String,
    pub stats: AppendStats,
}

impl IntoResponse for WriteOutcome {
    fn into_response(self) -> Response {
        let stats = (self.msg_type == MessageType::V2).then_some(self.stats);
        if self.status == StatusCode::NO_CONTENT {
            let mut response = StatusCode::NO_CONTENT.into_response();
            add_stats_headers(&mut response, stats);
            return response;
        }
        plain_text(self.status, &self.body, stats)
    }
}

/// Decodes, validates and appends one decompressed request body.
pub async fn process<S: BatchSink>(
    sink: &S,
    tenant: &str,
    msg_type: MessageType,
    decoded: &[u8],
    ctx: &ConvertContext<'_>,
) -> WriteOutcome {
    let failed = |status: StatusCode, body: String| WriteOutcome {
        msg_type,
        status,
        body,
        stats: AppendStats::default(),
    };
    let converted: Converted = match msg_type {
        MessageType::V1 => {
            if let Some(fast) = fast_v1::convert(decoded, ctx) {
                let appended = if fast.batch.is_empty() {
                    None
                } else {
                    Some(sink.append_floats(tenant, &fast.batch).await)
                };
                return finish(msg_type, fast.errors, appended);
            }
            match decode_message::<prompb::WriteRequest>(decoded) {
                Ok(req) => convert::convert_v1(&req, ctx),
                Err(e) => return failed(StatusCode::BAD_REQUEST, e),
            }
        }
        MessageType::V2 => match decode_message::<write_v2::Request>(decoded) {
            Ok(req) => match convert::convert_v2(&req, ctx, ctx.limits.ingest_start_timestamp_zero) {
                Ok(converted) => converted,
                Err(e) => return failed(StatusCode::BAD_REQUEST, e),
            },
            Err(e) => return failed(StatusCode::BAD_REQUEST, e),
        },
    };

    if !converted.start_zero.series.is_empty()
        && let Err(e) = sink.append(tenant, converted.start_zero).await
    {
        // Prometheus ignores failed start-timestamp zero samples (usually out of order).
        tracing::debug!(error = %e, "start timestamp zero samples not appended");
    }

    let appended = if !converted.batch.series.is_empty() || !converted.batch.metadata.is_empty() {
        Some(sink.append(tenant, converted.batch).await)
    } else {
        None
    };
    finish(msg_type, converted.errors, appended)
}

/// The answer to a write, from the conversion's error lines and the append's result (None
/// when there was nothing to append).
fn finish(
    msg_type: MessageType,
    mut errors: ErrorLog,
    appended: Option<Result<AppendStats, StorageError>>,
) -> WriteOutcome {
    let mut stats = AppendStats::default();
    match appended {
        None => {}
        Some(Ok(appended)) => {
            stats = appended;
            if appended.rejected_out_of_order > 0 {
                errors.add(|| StorageError::OutOfOrder.to_string());
            }
        }
        Some(Err(e @ (StorageError::OutOfOrder | StorageError::OutOfBounds | StorageError::DuplicateSample))) => {
            errors.add(|| e.to_string());
        }
        Some(Err(e)) => {
            // Retryable: nothing of this request is reported as written.
            tracing::error!(error = %e, "remote write append failed");
            return WriteOutcome {
                msg_type,
                status: StatusCode::INTERNAL_SERVER_ERROR,
                body: e.to_string(),
                stats: AppendStats::default(),
            };
        }
    }

    if errors.is_empty() {
        return WriteOutcome {
            msg_type,
            status: StatusCode::NO_CONTENT,
            body: String::new(),
            stats,
        };
    }
    let total = errors.lines.len() + errors.omitted;
    tracing::warn!(errors = total, first = %errors.lines[0], "remote write partially refused");
    let body = match msg_type {
        // Prometheus' 1.0 handler stops at the first error and answers with it alone.
        MessageType::V1 => errors.lines.swap_remove(0),
        // Its 2.0 handler joins every error (Go's errors.Join: one per line).
        MessageType::V2 => join_errors(&errors),
    };
    WriteOutcome {
        msg_type,
        status: StatusCode::BAD_REQUEST,
        body,
        stats,
    }
}

/// Joins the kept lines; beyond the cap, a last line says how many were left out.
fn join_errors(errors: &convert::ErrorLog) -> String {
    let mut body = errors.lines.join("\n");
    if errors.omitted > 0 {
        body.push_str(&format!("\n({} more errors omitted)", errors.omitted));
    }
    body
}

/// Go's `http.Error`: text plus newline, plain-text content type, `nosniff`.
pub(crate) fn plain_text(status: StatusCode, text: &str, stats: Option<AppendStats>) -> Response {
    let mut response = (status, format!("{text}\n")).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    add_stats_headers(&mut response, stats);
    response
}

/// Remote write 2.0 answers always carry what was written, on errors too.
fn add_stats_headers(response: &mut Response, stats: Option<AppendStats>) {
    let Some(stats) = stats else { return };
    let headers = response.headers_mut();
    headers.insert(SAMPLES_WRITTEN_HEADER, HeaderValue::from(stats.samples));
    headers.insert(HISTOGRAMS_WRITTEN_HEADER, HeaderValue::from(stats.histograms));
    headers.insert(EXEMPLARS_WRITTEN_HEADER, HeaderValue::from(stats.exemplars));
}

/// Mimir's answers for tenancy: 401 without a tenant, 400 for a malformed one.
pub(crate) fn tenant_failure(e: TenantError) -> Response {
    let status = match e {
        TenantError::Missing => StatusCode::UNAUTHORIZED,
        TenantError::TooLong | TenantError::BadCharacter(_) => StatusCode::BAD_REQUEST,
    };
    plain_text(status, &e.to_string(), None)
}

/// A header's value as Go's `Header.Get` sees it (first value, bytes as text).
pub(crate) fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Exposes histogram validation to the remote-read tests (round trip of the wire form).
#[cfg(test)]
pub(crate) fn convert_histogram_for_tests(
    h: &crate::prom_api::proto::prompb::Histogram,
) -> Result<crate::storage::model::NativeHistogram, String> {
    histogram::convert_histogram(h)
}

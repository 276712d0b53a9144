//! Prometheus remote read (`/api/v1/read`): SAMPLES and STREAMED_XOR_CHUNKS responses.
//!
//! CONTRACT (skeleton): the server's router merges [`routes`].
//!
//! Follows `storage/remote/read_handler.go`: no Content-Type or Content-Encoding checks, the
//! body is always a snappy block; decode and negotiation errors are 400, store errors 500,
//! the sample limit 400. Divergences: an invalid matcher (unknown type, bad regex) is 400
//! here, 500 in Prometheus; a compressed body over the size limit is refused with 413 rather
//! than truncated into a snappy error; a streamed response is built completely before it is
//! sent, so a store error part-way gives a clean 500 instead of an error text appended to a
//! 200 stream, and the sample limit applies to streamed answers too (they are
//! buffered here). External labels are not applied (Heimsight has none).

mod request;
mod response;

use crate::prom_api::remote_write::{plain_text, read_limited, tenant_failure};
use crate::server::{AppState, tenant_from_headers};
use crate::storage::SeriesQuerier;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
pub use request::ResponseType;

pub const STREAMED_CONTENT_TYPE: &str = "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

/// The remote-read route, merged into the root router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/read", post(read))
        .layer(DefaultBodyLimit::disable())
}

async fn read(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let tenant = match tenant_from_headers(&headers, state.limits.multi_tenant) {
        Ok(tenant) => tenant,
        Err(e) => return tenant_failure(e),
    };
    let compressed = match read_limited(body, state.limits.max_compressed_body_bytes).await {
        Ok(bytes) => bytes,
        Err(failure) => return plain_text(failure.status, &failure.text, None),
    };
    let querier = state.storage.querier(&tenant);
    let limits = ReadLimits {
        max_decoded_bytes: state.limits.max_request_body_bytes,
        sample_limit: state.limits.remote_read_sample_limit,
        max_bytes_in_frame: state.limits.remote_read_max_bytes_in_frame,
    };
    match answer(&querier, &compressed, &limits).await {
        Ok(answer) => answer.into_response(),
        Err((status, text)) => plain_text(status, &text, None),
    }
}

/// The limits one read runs under.
#[derive(Clone, Copy, Debug)]
pub struct ReadLimits {
    pub max_decoded_bytes: usize,
    pub sample_limit: usize,
    pub max_bytes_in_frame: usize,
}

/// A complete remote-read answer body.
#[derive(Debug, PartialEq)]
pub struct ReadAnswer {
    pub response_type: ResponseType,
    pub body: Vec<u8>,
}

impl IntoResponse for ReadAnswer {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::OK, self.body).into_response();
        let headers = response.headers_mut();
        match self.response_type {
            ResponseType::Samples => {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("snappy"));
            }
            ResponseType::StreamedXorChunks => {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(STREAMED_CONTENT_TYPE));
            }
        }
        response
    }
}

/// Decodes the request, runs every query against `querier` and encodes the answer.
pub async fn answer<Q: SeriesQuerier>(
    querier: &Q,
    compressed: &[u8],
    limits: &ReadLimits,
) -> Result<ReadAnswer, (StatusCode, String)> {
    let bad = |text: String| (StatusCode::BAD_REQUEST, text);
    let req = request::decode_read_request(compressed, limits.max_decoded_bytes).map_err(bad)?;
    let response_type = request::negotiate_response_type(&req.accepted_response_types).map_err(bad)?;

    let mut results = Vec::with_capacity(req.queries.len());
    let mut frames = Vec::new();
    for (index, query) in req.queries.iter().enumerate() {
        let matchers = request::convert_matchers(&query.matchers).map_err(bad)?;
        // Prometheus' TSDB selects nothing for a query without matchers.
        let series = if matchers.is_empty() {
            Vec::new()
        } else {
            querier
                .select(&matchers, query.start_timestamp_ms, query.end_timestamp_ms)
                .await
                .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        };
        match response_type {
            ResponseType::Samples => {
                results.push(response::to_query_result(&series, limits.sample_limit).map_err(bad)?);
            }
            ResponseType::StreamedXorChunks => {
                // Prometheus streams without a sample limit; this answer is buffered whole,
                // so the same limit bounds its memory.
                response::check_sample_limit(&series, limits.sample_limit).map_err(bad)?;
                response::write_chunked_frames(&mut frames, index as i64, &series, limits.max_bytes_in_frame);
            }
        }
    }
    let body = match response_type {
        ResponseType::Samples => response::encode_read_response(results),
        ResponseType::StreamedXorChunks => frames,
    };
    Ok(ReadAnswer { response_type, body })
}

#[cfg(test)]
mod tests;

//! The HTTP edge of remote write, through the router with `oneshot`. Only paths that end
//! before the store are exercised here; the store-facing logic is tested in `tests`.

use super::tests::v1_series;
use super::*;
use crate::prom_api::proto::prompb;
use crate::promql::{Engine, EngineOptions};
use crate::storage::{Storage, StorageConfig};
use axum::http::Request;
use prost::Message;
use std::sync::Arc;
use tower::ServiceExt;

async fn app(limits: Limits, dir: &tempfile::TempDir) -> Router {
    let storage = Storage::open(StorageConfig::with_data_dir(dir.path())).await.unwrap();
    let state = AppState {
        storage,
        engine: Arc::new(Engine::new(EngineOptions::default())),
        limits: Arc::new(limits),
    };
    routes().with_state(state)
}

async fn send(app: Router, content_type: Option<&str>, encoding: Option<&str>, body: Vec<u8>) -> (StatusCode, String) {
    let mut req = Request::post("/api/v1/write");
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    if let Some(enc) = encoding {
        req = req.header("Content-Encoding", enc);
    }
    let response = app.oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn snappy(bytes: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(bytes).unwrap()
}

#[tokio::test]
async fn empty_body_is_snappy_corrupt_input() {
    let dir = tempfile::tempdir().unwrap();
    let got = send(
        app(Limits::default(), &dir).await,
        Some("application/x-protobuf"),
        Some("snappy"),
        vec![],
    )
    .await;
    assert_eq!(got, (StatusCode::BAD_REQUEST, "snappy: corrupt input\n".to_string()));
}

#[tokio::test]
async fn wrong_encoding_and_content_type_are_415() {
    let dir = tempfile::tempdir().unwrap();
    let body = snappy(b"");
    let got = send(app(Limits::default(), &dir).await, None, Some("gzip"), body.clone()).await;
    assert_eq!(got.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let got = send(
        app(Limits::default(), &dir).await,
        Some("text/plain"),
        Some("snappy"),
        body,
    )
    .await;
    assert_eq!(
        got,
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected application/x-protobuf as the first (media) part, got text/plain content-type\n".to_string()
        )
    );
}

#[tokio::test]
async fn oversized_bodies_are_413_then_400() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_compressed_body_bytes: 16,
        ..Limits::default()
    };
    let got = send(app(limits, &dir).await, None, None, vec![0; 17]).await;
    assert_eq!(
        got,
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body exceeds the 16 bytes limit\n".to_string()
        )
    );

    let limits = Limits {
        max_request_body_bytes: 8,
        ..Limits::default()
    };
    let got = send(app(limits, &dir).await, None, None, snappy(&[1; 9])).await;
    assert_eq!(
        got,
        (
            StatusCode::BAD_REQUEST,
            "decoded size exceeds the 8 bytes limit\n".to_string()
        )
    );
}

#[tokio::test]
async fn invalid_only_request_never_reaches_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let req = prompb::WriteRequest {
        timeseries: vec![v1_series(&[("__name__", "up"), ("a", "1"), ("a", "2")], &[(1, 1.0)])],
        metadata: vec![],
    };
    let got = send(
        app(Limits::default(), &dir).await,
        None,
        Some("snappy"),
        snappy(&req.encode_to_vec()),
    )
    .await;
    assert_eq!(
        got,
        (
            StatusCode::BAD_REQUEST,
            "invalid labels for series, labels {__name__=\"up\", a=\"1\", a=\"2\"}, duplicated label a\n".to_string()
        )
    );
}

#[tokio::test]
async fn v2_error_carries_written_headers() {
    let dir = tempfile::tempdir().unwrap();
    let response = app(Limits::default(), &dir)
        .await
        .oneshot(
            Request::post("/api/v1/push")
                .header(
                    "Content-Type",
                    "application/x-protobuf;proto=io.prometheus.write.v2.Request",
                )
                .header("Content-Encoding", "snappy")
                .body(Body::from(snappy(&[0x22, 0x05])))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()[SAMPLES_WRITTEN_HEADER], "0");
    assert_eq!(response.headers()["X-Content-Type-Options"], "nosniff");
    assert_eq!(response.headers()["Content-Type"], "text/plain; charset=utf-8");
}

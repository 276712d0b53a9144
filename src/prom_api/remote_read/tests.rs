use super::*;
use crate::prom_api::proto::prompb;
use crate::storage::Labels;
use crate::storage::memory::MemorySeriesSet;
use crate::storage::model::Sample;
use prost::Message;

fn store() -> MemorySeriesSet {
    let mut set = MemorySeriesSet::new();
    set.add_samples(
        Labels::from_pairs([("__name__", "up"), ("job", "a")]),
        (0..200).map(|i| Sample { t: i * 1000, v: 1.0 }),
    );
    set.add_samples(
        Labels::from_pairs([("__name__", "up"), ("job", "b")]),
        [Sample { t: 5000, v: f64::NAN }],
    );
    set
}

fn request(accepted: Vec<i32>, matchers: Vec<prompb::LabelMatcher>) -> Vec<u8> {
    let req = prompb::ReadRequest {
        queries: vec![prompb::Query {
            start_timestamp_ms: 0,
            end_timestamp_ms: 10_000,
            matchers,
            hints: None,
        }],
        accepted_response_types: accepted,
    };
    snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap()
}

fn up() -> Vec<prompb::LabelMatcher> {
    vec![prompb::LabelMatcher {
        r#type: prompb::MATCHER_EQ,
        name: "__name__".into(),
        value: "up".into(),
    }]
}

const LIMITS: ReadLimits = ReadLimits {
    max_decoded_bytes: 1 << 20,
    sample_limit: 0,
    max_bytes_in_frame: 1 << 20,
};

#[tokio::test]
async fn samples_response_is_snappy_read_response() {
    let answer = answer(&store(), &request(vec![], up()), &LIMITS).await.unwrap();
    assert_eq!(answer.response_type, ResponseType::Samples);
    let raw = snap::raw::Decoder::new().decompress_vec(&answer.body).unwrap();
    let resp = prompb::ReadResponse::decode(raw.as_slice()).unwrap();
    assert_eq!(resp.results.len(), 1);
    let ts = &resp.results[0].timeseries;
    assert_eq!(ts.len(), 2);
    assert_eq!(ts[0].samples.len(), 11, "inclusive time range 0..=10s");
    assert!(ts[1].samples[0].value.is_nan());

    let response = answer.into_response();
    assert_eq!(response.headers()["Content-Type"], "application/x-protobuf");
    assert_eq!(response.headers()["Content-Encoding"], "snappy");
}

#[tokio::test]
async fn streamed_response_when_listed_first() {
    let answer = answer(&store(), &request(vec![1, 0], up()), &LIMITS).await.unwrap();
    assert_eq!(answer.response_type, ResponseType::StreamedXorChunks);
    let frames = super::response::tests::read_frames(&answer.body);
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].chunked_series[0].chunks[0].max_time_ms, 10_000);
    let response = answer.into_response();
    assert_eq!(response.headers()["Content-Type"], STREAMED_CONTENT_TYPE);
    assert!(response.headers().get("Content-Encoding").is_none());
}

#[tokio::test]
async fn query_without_matchers_selects_nothing() {
    let answer = answer(&store(), &request(vec![], vec![]), &LIMITS).await.unwrap();
    let raw = snap::raw::Decoder::new().decompress_vec(&answer.body).unwrap();
    let resp = prompb::ReadResponse::decode(raw.as_slice()).unwrap();
    assert_eq!(resp.results.len(), 1);
    assert!(resp.results[0].timeseries.is_empty());
}

#[tokio::test]
async fn errors_are_400_with_prometheus_texts() {
    let err = answer(&store(), b"", &LIMITS).await.unwrap_err();
    assert_eq!(err, (StatusCode::BAD_REQUEST, "snappy: corrupt input".to_string()));
    let err = answer(&store(), &request(vec![4], up()), &LIMITS).await.unwrap_err();
    assert_eq!(err.0, StatusCode::BAD_REQUEST);
    let limited = ReadLimits {
        sample_limit: 5,
        ..LIMITS
    };
    let err = answer(&store(), &request(vec![], up()), &limited).await.unwrap_err();
    assert_eq!(err, (StatusCode::BAD_REQUEST, "exceeded sample limit (5)".to_string()));
    let err = answer(&store(), &request(vec![1], up()), &limited).await.unwrap_err();
    assert_eq!(err, (StatusCode::BAD_REQUEST, "exceeded sample limit (5)".to_string()));
    let bad_regex = vec![prompb::LabelMatcher {
        r#type: prompb::MATCHER_RE,
        name: "job".into(),
        value: "(".into(),
    }];
    let err = answer(&store(), &request(vec![], bad_regex), &LIMITS)
        .await
        .unwrap_err();
    assert_eq!(err.0, StatusCode::BAD_REQUEST);
}

mod http {
    use super::*;
    use crate::promql::{Engine, EngineOptions};
    use crate::server::Limits;
    use crate::storage::{Storage, StorageConfig};
    use axum::http::Request;
    use std::sync::Arc;
    use tower::ServiceExt;

    #[tokio::test]
    async fn garbage_body_is_400_plain_text() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState {
            storage: Storage::open(StorageConfig::with_data_dir(dir.path())).await.unwrap(),
            engine: Arc::new(Engine::new(EngineOptions::default())),
            limits: Arc::new(Limits::default()),
        };
        let response = routes()
            .with_state(state)
            .oneshot(
                Request::post("/api/v1/read")
                    .body(Body::from(vec![0xff, 0xff]))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"snappy: corrupt input\n");
    }
}

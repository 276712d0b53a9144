//! Handler tests through the whole router, compared with responses captured from a real
//! Prometheus (`/work/shared/reference/prometheus-samples/`) where the data allows.

use crate::promql::{Engine, EngineOptions};
use crate::server::info::ServerInfo;
use crate::server::selfmon::SelfMetrics;
use crate::server::{AppState, Limits, router};
use crate::storage::{Storage, StorageConfig};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use std::sync::Arc;
use tower::ServiceExt;

struct TestServer {
    app: Router,
    _dir: tempfile::TempDir,
}

async fn server_with(limits: Limits) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(StorageConfig::with_data_dir(dir.path())).await.unwrap();
    let state = AppState {
        storage,
        engine: Arc::new(Engine::new(EngineOptions::default())),
        limits: Arc::new(limits),
    };
    let mut info = ServerInfo::default();
    info.flags.insert("query.timeout".into(), "2m".into());
    let app = router::build(state, Arc::new(info), Arc::new(SelfMetrics::default()));
    TestServer { app, _dir: dir }
}

async fn server() -> TestServer {
    server_with(Limits::default()).await
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(server: &TestServer, request: Request<Body>) -> Reply {
    let response = server.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await.unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

async fn get(server: &TestServer, uri: &str) -> Reply {
    send(server, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post_form(server: &TestServer, uri: &str, form: &str) -> Reply {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .unwrap();
    send(server, request).await
}

fn assert_json(reply: &Reply, status: StatusCode, body: &str) {
    assert_eq!(reply.status, status, "body: {}", reply.body);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(reply.body, body);
}

#[tokio::test]
async fn parameter_errors_match_prometheus_bytes() {
    let server = server().await;
    assert_json(
        &get(&server, "/api/v1/query?query=up&time=abc").await,
        StatusCode::BAD_REQUEST,
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"time\": invalid time value for 'time': cannot parse \"abc\" to a valid timestamp"}"#,
    );
    // prom242-error-step0.txt
    assert_json(
        &get(&server, "/api/v1/query_range?query=up&start=1&end=2&step=0").await,
        StatusCode::BAD_REQUEST,
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer"}"#,
    );
    // prom242-error-11000points.txt
    assert_json(
        &get(&server, "/api/v1/query_range?query=up&start=0&end=100000&step=1").await,
        StatusCode::BAD_REQUEST,
        r#"{"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"}"#,
    );
    // prom242-series-nomatch.txt
    assert_json(
        &get(&server, "/api/v1/series").await,
        StatusCode::BAD_REQUEST,
        r#"{"status":"error","errorType":"bad_data","error":"no match[] parameter provided"}"#,
    );
    assert_json(
        &get(&server, "/api/v1/labels?match[]=%7Bjob%3D~%22.*%22%7D").await,
        StatusCode::BAD_REQUEST,
        r#"{"status":"error","errorType":"bad_data","error":"match[] must contain at least one non-empty matcher"}"#,
    );
    assert_json(
        &get(&server, "/api/v1/query?query=up&limit=-1").await,
        StatusCode::BAD_REQUEST,
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"limit\": limit must be non-negative"}"#,
    );
}

#[tokio::test]
async fn empty_store_answers_empty_lists() {
    let server = server().await;
    // prom242-exemplars.txt
    assert_json(
        &get(
            &server,
            "/api/v1/query_exemplars?query=test&start=1795294365123&end=1795294365999",
        )
        .await,
        StatusCode::OK,
        r#"{"status":"success","data":[]}"#,
    );
    assert_json(
        &get(&server, "/api/v1/labels").await,
        StatusCode::OK,
        r#"{"status":"success","data":[]}"#,
    );
    assert_json(
        &get(&server, "/api/v1/label/__name__/values?limit=40000").await,
        StatusCode::OK,
        r#"{"status":"success","data":[]}"#,
    );
    assert_json(
        &post_form(
            &server,
            "/api/v1/series",
            "match%5B%5D=%7B__name__%21%3D%22%22%7D&limit=40000",
        )
        .await,
        StatusCode::OK,
        r#"{"status":"success","data":[]}"#,
    );
    assert_json(
        &get(&server, "/api/v1/metadata").await,
        StatusCode::OK,
        r#"{"status":"success","data":{}}"#,
    );
    // prom242-rules.json and prom242-alerts.json
    assert_json(
        &get(&server, "/api/v1/rules").await,
        StatusCode::OK,
        r#"{"status":"success","data":{"groups":[]}}"#,
    );
    assert_json(
        &get(&server, "/api/v1/alerts").await,
        StatusCode::OK,
        r#"{"status":"success","data":{"alerts":[]}}"#,
    );
    assert_json(
        &get(&server, "/api/v1/targets").await,
        StatusCode::OK,
        r#"{"status":"success","data":{"activeTargets":[],"droppedTargets":[],"droppedTargetCounts":{}}}"#,
    );
}

#[tokio::test]
async fn exemplars_without_selectors_are_no_content() {
    let server = server().await;
    let reply = get(&server, "/api/v1/query_exemplars?query=1%2B1").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.body.is_empty());
}

#[tokio::test]
async fn format_query_matches_prometheus() {
    let server = server().await;
    // prom242-format-query.txt, sent as a POST form like Grafana does.
    assert_json(
        &post_form(
            &server,
            "/api/v1/format_query",
            "query=sum%20by(job)(up)%20%23%20comment",
        )
        .await,
        StatusCode::OK,
        r#"{"status":"success","data":"sum by (job) (up)"}"#,
    );
    let reply = get(&server, "/api/v1/format_query?query=sum(").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply
            .body
            .starts_with(r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": "#)
    );
}

#[tokio::test]
async fn parse_query_returns_the_tree() {
    let server = server().await;
    let reply = get(&server, "/api/v1/parse_query?query=up").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["data"]["type"], "vectorSelector");
    assert_eq!(body["data"]["name"], "up");
}

#[tokio::test]
async fn form_body_comes_before_query_string() {
    let server = server().await;
    let reply = post_form(&server, "/api/v1/format_query?query=b", "query=a").await;
    assert_json(&reply, StatusCode::OK, r#"{"status":"success","data":"a"}"#);
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_like_go() {
    let server = server().await;
    let reply = get(&server, "/api/v1/nope").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.body, "404 page not found\n");
    assert_eq!(reply.headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    let reply = post_form(&server, "/api/v1/label/job/values", "").await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.body, "Method Not Allowed\n");
}

#[tokio::test]
async fn cors_preflight_on_every_path() {
    let server = server().await;
    let request = Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/v1/query")
        .header(header::ORIGIN, "http://grafana.local")
        .body(Body::empty())
        .unwrap();
    let reply = send(&server, request).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert_eq!(
        reply.headers[header::ACCESS_CONTROL_ALLOW_METHODS],
        "GET, POST, OPTIONS"
    );
    assert_eq!(reply.headers[header::VARY], "Origin");
    let reply = get(&server, "/api/v1/labels").await;
    assert_eq!(reply.headers[header::VARY], "Origin");
    assert!(!reply.headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

#[tokio::test]
async fn buildinfo_is_discoverable_by_grafana() {
    let server = server().await;
    let reply = get(&server, "/api/v1/status/buildinfo").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    let version = body["data"]["version"].as_str().unwrap();
    let parts: Vec<&str> = version.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert!(
        parts.iter().all(|p| p.parse::<u64>().is_ok()),
        "{version} is not semver"
    );
    assert_eq!(body["data"]["application"], "Heimsight");
    assert!(body["data"]["features"].as_object().is_some_and(|f| !f.is_empty()));
}

#[tokio::test]
async fn status_endpoints_have_prometheus_shapes() {
    let server = server().await;
    assert_json(
        &get(&server, "/api/v1/status/flags").await,
        StatusCode::OK,
        r#"{"status":"success","data":{"query.timeout":"2m"}}"#,
    );
    assert_json(
        &get(&server, "/api/v1/status/config").await,
        StatusCode::OK,
        r#"{"status":"success","data":{"yaml":""}}"#,
    );
    let reply = get(&server, "/api/v1/status/runtimeinfo").await;
    let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["data"]["storageRetention"], "15d");
    assert_eq!(body["data"]["reloadConfigSuccess"], true);
    let reply = get(&server, "/api/v1/status/tsdb").await;
    assert!(
        reply
            .body
            .starts_with(r#"{"status":"success","data":{"headStats":{"numSeries":0,"numLabelPairs":0,"chunkCount":0,"#),
        "{}",
        reply.body
    );
    assert!(reply.body.ends_with(r#""seriesCountByMetricName":[],"labelValueCountByLabelName":[],"memoryInBytesByLabelName":[],"seriesCountByLabelValuePair":[]}}"#));
    assert_json(
        &get(&server, "/api/v1/status/tsdb?limit=0").await,
        StatusCode::BAD_REQUEST,
        r#"{"status":"error","errorType":"bad_data","error":"limit must be a positive number"}"#,
    );
}

#[tokio::test]
async fn ready_and_self_metrics() {
    let server = server().await;
    let reply = get(&server, "/ready").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "ready\n");
    get(&server, "/api/v1/labels").await;
    let reply = get(&server, "/metrics").await;
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(
        reply
            .body
            .contains("heimsight_http_requests_total{code=\"200\",handler=\"/api/v1/labels\",method=\"GET\"} 1\n"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("heimsight_head_series 0\n"));
}

#[tokio::test]
async fn multi_tenant_requires_org_id() {
    let server = server_with(Limits {
        multi_tenant: true,
        ..Limits::default()
    })
    .await;
    let reply = get(&server, "/api/v1/labels").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.body, "no org id\n");
    let request = Request::get("/api/v1/labels")
        .header("X-Scope-OrgID", "team-a")
        .body(Body::empty())
        .unwrap();
    assert_json(
        &send(&server, request).await,
        StatusCode::OK,
        r#"{"status":"success","data":[]}"#,
    );
    // Operational endpoints need no tenant.
    assert_eq!(get(&server, "/ready").await.status, StatusCode::OK);
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let server = server_with(Limits {
        max_request_body_bytes: 64,
        ..Limits::default()
    })
    .await;
    let form = format!("query={}", "a".repeat(200));
    let reply = post_form(&server, "/api/v1/format_query", &form).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn json_answers_are_gzipped_on_request() {
    let server = server().await;
    let request = Request::get("/api/v1/status/buildinfo")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let response = server.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    let reply = get(&server, "/-/healthy").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "Heimsight is Healthy.\n");
}

/// `prom242-error-parse.txt`: status, content type and body byte for byte, on `/query`,
/// `/query_range`, `/parse_query` and `/format_query`.
#[tokio::test]
async fn parse_errors_match_prometheus_bytes() {
    let shared = std::env::var("HEIMSIGHT_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            let crate_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let near = crate_dir.join("../shared");
            if near.is_dir() {
                near
            } else {
                crate_dir.join("../../shared")
            }
        });
    let sample = std::fs::read_to_string(shared.join("reference/prometheus-samples/prom242-error-parse.txt"))
        .expect("the shared reference samples (set HEIMSIGHT_SHARED_DIR)");
    let Some((_, expected_body)) = sample.split_once("\r\n\r\n").or_else(|| sample.split_once("\n\n")) else {
        panic!("sample has no body");
    };
    let expected_body = expected_body.trim_end_matches(['\r', '\n']);
    let server = server().await;
    for uri in [
        "/api/v1/query?query=sum(",
        "/api/v1/query_range?query=sum(&start=0&end=60&step=15",
        "/api/v1/parse_query?query=sum(",
        "/api/v1/format_query?query=sum(",
    ] {
        assert_json(&get(&server, uri).await, StatusCode::BAD_REQUEST, expected_body);
    }
    // `match[]` selectors, captured from Prometheus 2.42.
    assert_json(
        &get(&server, "/api/v1/series?match[]=sum(up)").await,
        StatusCode::BAD_REQUEST,
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"match[]\": 1:4: parse error: unexpected \"(\""}"#,
    );
    assert_json(
        &get(&server, "/api/v1/labels?match[]=up)").await,
        StatusCode::BAD_REQUEST,
        r#"{"status":"error","errorType":"bad_data","error":"1:4: parse error: unexpected right parenthesis ')'"}"#,
    );
    assert_json(
        &get(&server, "/api/v1/query?query=foo%20%2B%20*%20bar").await,
        StatusCode::BAD_REQUEST,
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:7: parse error: unexpected \u003cop:*\u003e"}"#,
    );
}

//! The write driver against a local receiver that decodes what it gets: every sample
//! arrives once, each series in timestamp order, and the data does not depend on how
//! many connections carried it.

use crate::series::SeriesSpec;
use crate::write::{WritePlan, run};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use heimsight::prom_api::proto::prompb::WriteRequest;
use prost::Message;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Received = Arc<Mutex<BTreeMap<Vec<(Vec<u8>, Vec<u8>)>, Vec<(i64, f64)>>>>;

/// Starts a receiver on 127.0.0.1; `refuse_every` > 0 answers every n-th request with 503.
async fn receiver(refuse_every: usize) -> (String, Received, tokio::task::JoinHandle<()>) {
    let received: Received = Arc::default();
    let calls = Arc::new(Mutex::new(0usize));
    let state = (Arc::clone(&received), calls);
    let app = axum::Router::new()
        .route(
            "/api/v1/write",
            axum::routing::post(
                move |State((received, calls)): State<(Received, Arc<Mutex<usize>>)>,
                      headers: HeaderMap,
                      body: Bytes| async move {
                    let call = {
                        let mut calls = calls.lock().expect("lock");
                        *calls += 1;
                        *calls
                    };
                    if refuse_every > 0 && call % refuse_every == 0 {
                        return (StatusCode::SERVICE_UNAVAILABLE, "busy");
                    }
                    if headers.get("content-encoding").and_then(|v| v.to_str().ok()) != Some("snappy") {
                        return (StatusCode::BAD_REQUEST, "not snappy");
                    }
                    let Ok(raw) = snap::raw::Decoder::new().decompress_vec(&body) else {
                        return (StatusCode::BAD_REQUEST, "bad snappy");
                    };
                    let Ok(request) = WriteRequest::decode(raw.as_slice()) else {
                        return (StatusCode::BAD_REQUEST, "bad protobuf");
                    };
                    let mut received = received.lock().expect("lock");
                    for series in request.timeseries {
                        let key = series.labels.into_iter().map(|l| (l.name, l.value)).collect();
                        let samples = received.entry(key).or_default();
                        samples.extend(series.samples.iter().map(|s| (s.timestamp, s.value)));
                    }
                    (StatusCode::NO_CONTENT, "")
                },
            ),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/api/v1/write"), received, server)
}

fn backfill_plan(url: String, concurrency: usize, batch: usize) -> WritePlan {
    WritePlan {
        mode: "backfill",
        url,
        spec: SeriesSpec {
            series: 37,
            labels: 5,
            metrics: 10,
            counter_percent: 50,
            seed: 9,
            job: "bench".into(),
        },
        start_ms: 1_000_000,
        interval_ms: 15_000,
        ticks: Some(11),
        duration: None,
        rate: None,
        concurrency,
        batch,
        not_after_now: false,
        timeout: Duration::from_secs(10),
        progress_every: None,
    }
}

#[tokio::test]
async fn backfill_delivers_every_sample_in_order_whatever_the_concurrency() {
    let (url, one_connection, server) = receiver(0).await;
    let report = run(backfill_plan(url, 1, 0)).await.expect("runs");
    server.abort();
    assert_eq!(report.samples_ok, 37 * 11);
    assert_eq!(
        report.requests_ok, 11,
        "batch 0 sends one timestamp of all series per request"
    );
    assert!(report.errors.is_empty());
    assert_eq!(report.last_timestamp_ms, 1_000_000 + 10 * 15_000);

    let (url, three_connections, server) = receiver(0).await;
    let report = run(backfill_plan(url, 3, 7)).await.expect("runs");
    server.abort();
    assert_eq!(report.samples_ok, 37 * 11);
    assert_eq!(report.latency.count as u64, report.requests_ok);

    let one = one_connection.lock().expect("lock").clone();
    let three = three_connections.lock().expect("lock").clone();
    assert_eq!(one.len(), 37);
    for samples in one.values() {
        let timestamps: Vec<i64> = samples.iter().map(|s| s.0).collect();
        let expected: Vec<i64> = (0..11).map(|k| 1_000_000 + k * 15_000).collect();
        assert_eq!(timestamps, expected);
    }
    assert_eq!(one, three, "identical data however it is split");
}

#[tokio::test]
async fn refused_requests_are_counted_by_status_not_as_acknowledged() {
    let (url, received, server) = receiver(2).await;
    let report = run(backfill_plan(url, 1, 0)).await.expect("runs");
    server.abort();
    // Requests 2, 4, … 10 of 11 are refused: 5 × 37 samples lost, 6 × 37 acknowledged.
    assert_eq!(report.errors.get("503"), Some(&5));
    assert_eq!(report.first_error["503"], "busy");
    assert_eq!(report.samples_ok, 6 * 37);
    assert_eq!(report.samples_failed, 5 * 37);
    let stored: usize = received.lock().expect("lock").values().map(Vec::len).sum();
    assert_eq!(stored as u64, report.samples_ok);
}

#[tokio::test]
async fn timed_write_stops_at_its_duration_and_never_passes_now() {
    let (url, received, server) = receiver(0).await;
    let mut plan = backfill_plan(url, 2, 50);
    plan.mode = "write";
    plan.ticks = None;
    plan.duration = Some(Duration::from_millis(600));
    plan.rate = Some(2000.0);
    plan.not_after_now = true;
    plan.interval_ms = 1000;
    plan.start_ms = crate::write::now_ms() - 5_000;
    let report = run(plan).await.expect("runs");
    server.abort();
    assert!(
        report.elapsed_s < 5.0,
        "stopped near its duration: {}",
        report.elapsed_s
    );
    assert!(report.samples_ok > 0);
    // Paced at 2000/s for 0.6 s: well under what an unpaced loop would send.
    assert!(report.samples_ok <= 2000, "paced: {}", report.samples_ok);
    let newest = received
        .lock()
        .expect("lock")
        .values()
        .flat_map(|s| s.iter().map(|x| x.0))
        .max()
        .unwrap_or_default();
    assert!(newest <= crate::write::now_ms());
}

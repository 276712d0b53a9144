//! Remote read, end to end.
//!
//! 1. Known samples go into a receiver by remote write and come back by remote read, both as
//!    SAMPLES and as STREAMED_XOR_CHUNKS, bit for bit. The same checks run first against a real
//!    Prometheus (`--web.enable-remote-write-receiver`), which proves this test's own decoder,
//!    then against Heimsight.
//! 2. A real Prometheus with `remote_read` pointed at Heimsight and no local data answers
//!    PromQL with Heimsight's samples. Prometheus 2.42's remote-read client sends no
//!    `accepted_response_types` (observed on the wire), so Heimsight serves it SAMPLES; the
//!    streamed path is covered by (1).

mod support;

use support::api::{self, labels};
use support::heimsight::Heimsight;
use support::prometheus::Prometheus;
use support::prompb::{RESPONSE_TYPE_SAMPLES, RESPONSE_TYPE_STREAMED_XOR_CHUNKS, WriteRequest};
use support::remote_read::{self, ReadSeries, matcher_eq, matcher_re};
use support::remote_write::{self, series};

const METRIC: &str = "e2e_remote_read_metric";

/// Sorted labels and `(timestamp_ms, value)` samples.
type OwnedSeries = (Vec<(String, String)>, Vec<(i64, f64)>);

/// Sample values and spacing that exercise every branch of the XOR encoding: equal values,
/// small and large deltas-of-delta, a NaN, both infinities, tiny and huge floats. (Not -0.0:
/// proto3 does not put a double equal to 0 on the wire, so it arrives as +0 in any receiver.)
fn known_series(base_ms: i64) -> Vec<OwnedSeries> {
    let offsets = [
        0i64, 1000, 2000, 3000, 5500, 5501, 9000, 30_000, 30_001, 100_000, 100_250, 200_000,
    ];
    let values_a = [
        1.0,
        1.0,
        2.0,
        2.5,
        1e300,
        -1.5,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e-300,
        42.0,
        0.1,
    ];
    let values_b = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0];
    let to_samples = |values: &[f64; 12]| -> Vec<(i64, f64)> {
        offsets
            .iter()
            .zip(values.iter())
            .map(|(offset, value)| (base_ms + offset, *value))
            .collect()
    };
    vec![
        (
            owned(&[("__name__", METRIC), ("job", "e2e"), ("series", "a")]),
            to_samples(&values_a),
        ),
        (
            owned(&[("__name__", METRIC), ("job", "e2e"), ("series", "b")]),
            to_samples(&values_b),
        ),
        // A second metric that the matchers below must leave out.
        (
            owned(&[("__name__", "e2e_remote_read_other"), ("job", "e2e")]),
            to_samples(&values_b),
        ),
    ]
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn push_known(base_url: &str, data: &[OwnedSeries]) {
    let request = WriteRequest {
        timeseries: data
            .iter()
            .map(|(pairs, samples)| {
                let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                series(support::prompb::labels(&refs), samples)
            })
            .collect(),
        metadata: Vec::new(),
    };
    let response = remote_write::push_v1(&remote_write::client(), base_url, &request);
    assert!(response.is_success(), "remote write to {base_url} failed: {response:?}");
}

fn assert_same_samples(context: &str, got: &ReadSeries, expected: &[(i64, f64)]) {
    let got_bits: Vec<(i64, u64)> = got.samples.iter().map(|(t, v)| (*t, v.to_bits())).collect();
    let expected_bits: Vec<(i64, u64)> = expected.iter().map(|(t, v)| (*t, v.to_bits())).collect();
    assert_eq!(
        got_bits, expected_bits,
        "{context}: samples of {:?} differ (timestamp, value bits)",
        got.labels
    );
}

/// Writes the known series to `base_url` and reads them back every way remote read allows.
fn check_write_then_read(name: &str, base_url: &str) {
    let base_ms = support::now_ms() - 300_000;
    let data = known_series(base_ms);
    push_known(base_url, &data);
    let client = remote_write::client();
    let start = base_ms - 1000;
    let end = base_ms + 300_000;

    for response_type in [RESPONSE_TYPE_SAMPLES, RESPONSE_TYPE_STREAMED_XOR_CHUNKS] {
        let context = format!("{name}, response type {response_type}");
        let outcome = remote_read::read(
            &client,
            base_url,
            vec![
                (start, end, vec![matcher_eq("__name__", METRIC)]),
                (
                    start,
                    end,
                    vec![matcher_eq("__name__", METRIC), matcher_re("series", "b|c")],
                ),
                // A window that holds only the first three samples.
                (
                    base_ms,
                    base_ms + 2000,
                    vec![matcher_eq("__name__", METRIC), matcher_eq("series", "a")],
                ),
            ],
            vec![response_type],
        );
        assert_eq!(outcome.status, 200, "{context}: {}", outcome.error_body);
        if response_type == RESPONSE_TYPE_SAMPLES {
            assert_eq!(outcome.content_type, "application/x-protobuf", "{context}");
            assert_eq!(outcome.content_encoding, "snappy", "{context}");
        } else {
            assert_eq!(
                outcome.content_type, "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse",
                "{context}"
            );
        }
        assert_eq!(outcome.results.len(), 3, "{context}: one result per query");

        let all = &outcome.results[0];
        assert_eq!(
            all.len(),
            2,
            "{context}: both series of {METRIC}, nothing else: {all:?}"
        );
        assert_eq!(all[0].labels, data[0].0, "{context}: series are sorted by labels");
        assert_same_samples(&context, &all[0], &data[0].1);
        assert_eq!(all[1].labels, data[1].0, "{context}");
        assert_same_samples(&context, &all[1], &data[1].1);

        let only_b = &outcome.results[1];
        assert_eq!(only_b.len(), 1, "{context}: regex matcher series=~\"b|c\": {only_b:?}");
        assert_eq!(only_b[0].labels, data[1].0, "{context}");
        assert_same_samples(&context, &only_b[0], &data[1].1);

        let window = &outcome.results[2];
        assert_eq!(window.len(), 1, "{context}: {window:?}");
        // SAMPLES answers exactly the window; chunks may carry samples outside it (Prometheus
        // sends whole chunks), so only the samples inside the window are compared.
        let inside: Vec<(i64, f64)> = window[0]
            .samples
            .iter()
            .copied()
            .filter(|(t, _)| *t >= base_ms && *t <= base_ms + 2000)
            .collect();
        let trimmed = ReadSeries {
            labels: window[0].labels.clone(),
            samples: inside,
        };
        assert_same_samples(&context, &trimmed, &data[0].1[..3]);
    }
}

#[test]
fn reference_prometheus_round_trips_through_remote_read() {
    let Some(prometheus) = Prometheus::start(
        |_| "global:\n  scrape_interval: 1m\n".to_string(),
        &["--web.enable-remote-write-receiver"],
    ) else {
        return;
    };
    check_write_then_read("prometheus 2.42", &prometheus.base_url());
}

#[test]
fn heimsight_round_trips_through_remote_read() {
    let heimsight = Heimsight::start();
    check_write_then_read("heimsight", &heimsight.base_url());
}

#[test]
fn prometheus_reads_heimsight_samples_through_remote_read() {
    let heimsight = Heimsight::start();
    let base_ms = (support::now_ms() / 1000) * 1000 - 120_000;
    // A counter sampled every 10 s for two minutes, and a gauge with two series.
    let counter: Vec<(i64, f64)> = (0..12).map(|i| (base_ms + i * 10_000, (i * 10) as f64)).collect();
    let gauge_a: Vec<(i64, f64)> = (0..12).map(|i| (base_ms + i * 10_000, 0.5 + i as f64)).collect();
    let gauge_b: Vec<(i64, f64)> = (0..12).map(|i| (base_ms + i * 10_000, -3.25)).collect();
    let request = WriteRequest {
        timeseries: vec![
            series(
                support::prompb::labels(&[("__name__", "e2e_rr_requests_total"), ("job", "e2e")]),
                &counter,
            ),
            series(
                support::prompb::labels(&[("__name__", "e2e_rr_gauge"), ("job", "e2e"), ("side", "a")]),
                &gauge_a,
            ),
            series(
                support::prompb::labels(&[("__name__", "e2e_rr_gauge"), ("job", "e2e"), ("side", "b")]),
                &gauge_b,
            ),
        ],
        metadata: Vec::new(),
    };
    let pushed = remote_write::push_v1(&remote_write::client(), &heimsight.base_url(), &request);
    assert!(pushed.is_success(), "remote write failed: {pushed:?}");

    let heimsight_port = heimsight.port();
    let Some(prometheus) = Prometheus::start(
        |_| {
            format!(
                "global:\n  scrape_interval: 1m\nremote_read:\n  - url: http://127.0.0.1:{heimsight_port}/api/v1/read\n    read_recent: true\n"
            )
        },
        &[],
    ) else {
        return;
    };
    let client = remote_write::client();
    let last_ms = base_ms + 110_000;

    let response = api::instant_query(&client, &prometheus.base_url(), "e2e_rr_gauge", last_ms + 500);
    assert!(response.is_success(), "{}", response.text);
    assert!(
        response.json["warnings"].is_null(),
        "remote read reported a problem: {}",
        response.text
    );
    let mut got = api::result_series(&response);
    got.sort_by(|a, b| a.labels.cmp(&b.labels));
    assert_eq!(got.len(), 2, "{}", response.text);
    assert_eq!(
        got[0].labels,
        labels(&[("__name__", "e2e_rr_gauge"), ("job", "e2e"), ("side", "a")])
    );
    assert_eq!(got[0].points, vec![(last_ms + 500, "11.5".to_string())]);
    assert_eq!(
        got[1].labels,
        labels(&[("__name__", "e2e_rr_gauge"), ("job", "e2e"), ("side", "b")])
    );
    assert_eq!(got[1].points, vec![(last_ms + 500, "-3.25".to_string())]);

    // Matchers on other labels travel in the read request.
    let response = api::instant_query(&client, &prometheus.base_url(), "e2e_rr_gauge{side=\"b\"}", last_ms);
    let got = api::result_series(&response);
    assert_eq!(got.len(), 1, "{}", response.text);
    assert_eq!(got[0].points, vec![(last_ms, "-3.25".to_string())]);

    // A range query evaluated by Prometheus over Heimsight's raw samples.
    let response = api::range_query(
        &client,
        &prometheus.base_url(),
        "e2e_rr_requests_total",
        base_ms,
        base_ms + 110_000,
        "10s",
    );
    assert!(response.is_success(), "{}", response.text);
    let got = api::result_series(&response);
    assert_eq!(got.len(), 1, "{}", response.text);
    let expected: Vec<(i64, String)> = counter.iter().map(|(t, v)| (*t, format!("{v}"))).collect();
    assert_eq!(got[0].points, expected);

    // rate() over a counter that rises 10 per 10 s is exactly 1/s.
    let response = api::instant_query(
        &client,
        &prometheus.base_url(),
        "rate(e2e_rr_requests_total[1m])",
        last_ms,
    );
    let got = api::result_series(&response);
    assert_eq!(got.len(), 1, "{}", response.text);
    assert_eq!(got[0].points, vec![(last_ms, "1".to_string())]);
}

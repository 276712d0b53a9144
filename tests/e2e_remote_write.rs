//! Remote write 1.0 and 2.0 into the real binary, read back through the query API.

mod support;

use support::api::{self, labels};
use support::heimsight::Heimsight;
use support::prompb::{self, WriteRequest};
use support::remote_write::{self, CONTENT_TYPE_V2, series};

#[test]
fn remote_write_1_0_is_acknowledged_with_204_and_queryable() {
    let server = Heimsight::start();
    let base_ms = (support::now_ms() / 1000) * 1000 - 60_000;
    let request = WriteRequest {
        timeseries: vec![
            series(
                prompb::labels(&[("__name__", "e2e_rw1_total"), ("job", "e2e"), ("shard", "1")]),
                &[(base_ms, 1.0), (base_ms + 15_000, 2.0), (base_ms + 30_000, 4.0)],
            ),
            series(
                prompb::labels(&[("__name__", "e2e_rw1_total"), ("job", "e2e"), ("shard", "2")]),
                &[(base_ms, 10.0), (base_ms + 15_000, 20.0), (base_ms + 30_000, 40.0)],
            ),
        ],
        metadata: Vec::new(),
    };
    let client = remote_write::client();
    let response = remote_write::push_v1(&client, &server.base_url(), &request);
    assert_eq!(response.status, 204, "{response:?}");
    assert!(response.body.is_empty(), "a success has no body: {:?}", response.body);

    let result = api::instant_query(&client, &server.base_url(), "sum(e2e_rw1_total)", base_ms + 30_000);
    assert_eq!(
        api::result_series(&result)[0].points,
        vec![(base_ms + 30_000, "44".to_string())]
    );
    let result = api::range_query(
        &client,
        &server.base_url(),
        "e2e_rw1_total{shard=\"2\"}",
        base_ms,
        base_ms + 30_000,
        "15s",
    );
    let got = api::result_series(&result);
    assert_eq!(got.len(), 1, "{}", result.text);
    assert_eq!(
        got[0].labels,
        labels(&[("__name__", "e2e_rw1_total"), ("job", "e2e"), ("shard", "2")])
    );
    assert_eq!(
        got[0].points,
        vec![
            (base_ms, "10".into()),
            (base_ms + 15_000, "20".into()),
            (base_ms + 30_000, "40".into())
        ]
    );
}

#[test]
fn remote_write_2_0_reports_written_counts_and_is_queryable() {
    let server = Heimsight::start();
    let base_ms = (support::now_ms() / 1000) * 1000 - 60_000;
    let body = remote_write::encode_v2(&[
        (
            vec![("__name__", "e2e_rw2_gauge"), ("job", "e2e"), ("zone", "a")],
            vec![(base_ms, 0.25), (base_ms + 10_000, 0.5)],
        ),
        (
            vec![("__name__", "e2e_rw2_gauge"), ("job", "e2e"), ("zone", "b")],
            vec![(base_ms, 3.0)],
        ),
    ]);
    let client = remote_write::client();
    let response = remote_write::post_raw(
        &client,
        &server.base_url(),
        body,
        &[
            ("Content-Type", CONTENT_TYPE_V2),
            ("Content-Encoding", "snappy"),
            ("X-Prometheus-Remote-Write-Version", "2.0.0"),
        ],
    );
    assert_eq!(response.status, 204, "{response:?}");
    // A 2.0 sender treats missing counts as "nothing written" and drops the data.
    assert_eq!(
        response.header("X-Prometheus-Remote-Write-Samples-Written").as_deref(),
        Some("3")
    );
    assert_eq!(
        response
            .header("X-Prometheus-Remote-Write-Histograms-Written")
            .as_deref(),
        Some("0")
    );
    assert_eq!(
        response
            .header("X-Prometheus-Remote-Write-Exemplars-Written")
            .as_deref(),
        Some("0")
    );

    let result = api::instant_query(&client, &server.base_url(), "e2e_rw2_gauge", base_ms + 10_000);
    let mut got = api::result_series(&result);
    got.sort_by(|a, b| a.labels.cmp(&b.labels));
    assert_eq!(got.len(), 2, "{}", result.text);
    assert_eq!(got[0].points, vec![(base_ms + 10_000, "0.5".to_string())]);
    assert_eq!(got[1].points, vec![(base_ms + 10_000, "3".to_string())]);
}

#[test]
fn mimir_push_path_is_an_alias_of_write() {
    let server = Heimsight::start();
    let now = support::now_ms();
    let body = remote_write::encode_v1(&WriteRequest {
        timeseries: vec![series(prompb::labels(&[("__name__", "e2e_push_alias")]), &[(now, 5.0)])],
        metadata: Vec::new(),
    });
    let client = remote_write::client();
    let response = client
        .post(format!("{}/api/v1/push", server.base_url()))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .body(body)
        .send()
        .unwrap_or_else(|err| panic!("POST /api/v1/push: {err}"));
    assert!(response.status().is_success(), "{}", response.status());
    let result = api::instant_query(&client, &server.base_url(), "e2e_push_alias", now);
    assert_eq!(api::result_series(&result)[0].points, vec![(now, "5".to_string())]);
}

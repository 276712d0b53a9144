//! Write-path tests: the pure decode/convert functions through `process` with a recording
//! sink, and the HTTP edge through the router with `oneshot`.

use super::body::MessageType;
use super::convert::{ConvertContext, TOO_FAR_IN_FUTURE, convert_v1, convert_v2};
use super::*;
use crate::prom_api::proto::prompb::{self, Label};
use crate::prom_api::proto::write_v2;
use crate::storage::model::{AppendBatch, MetricType, is_stale_nan, stale_nan};
use prost::Message;
use std::sync::Mutex;

const NOW: i64 = 1_700_000_000_000;

#[derive(Default)]
struct RecordingSink {
    batches: Mutex<Vec<AppendBatch>>,
    fail_with: Option<fn() -> StorageError>,
    rejected_out_of_order: u64,
}

impl BatchSink for RecordingSink {
    async fn append(&self, _tenant: &str, batch: AppendBatch) -> Result<AppendStats, StorageError> {
        if let Some(make) = self.fail_with {
            return Err(make());
        }
        let samples = batch.series.iter().map(|s| s.samples.len() as u64).sum::<u64>() - self.rejected_out_of_order;
        let stats = AppendStats {
            samples,
            histograms: batch.series.iter().map(|s| s.histograms.len() as u64).sum(),
            exemplars: batch.series.iter().map(|s| s.exemplars.len() as u64).sum(),
            rejected_out_of_order: self.rejected_out_of_order,
        };
        self.batches.lock().unwrap().push(batch);
        Ok(stats)
    }
}

fn ctx(limits: &Limits) -> ConvertContext<'_> {
    ConvertContext { now_ms: NOW, limits }
}

pub(super) fn v1_series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> prompb::TimeSeries {
    prompb::TimeSeries {
        labels: labels.iter().map(|(n, v)| Label::new(n, v)).collect(),
        samples: samples
            .iter()
            .map(|(t, v)| prompb::Sample {
                timestamp: *t,
                value: *v,
            })
            .collect(),
        ..Default::default()
    }
}

/// One test series: label pairs and (timestamp, value) samples.
type TestSeries<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

/// Builds a v2 request from label sets, interning symbols with "" first.
fn v2_request(series: &[TestSeries<'_>]) -> write_v2::Request {
    let mut symbols: Vec<String> = vec![String::new()];
    let mut intern = |s: &str| -> u32 {
        if let Some(i) = symbols.iter().position(|x| x == s) {
            return i as u32;
        }
        symbols.push(s.to_string());
        (symbols.len() - 1) as u32
    };
    let mut timeseries = Vec::new();
    for (labels, samples) in series {
        let mut refs = Vec::new();
        for (n, v) in labels.iter() {
            refs.push(intern(n));
            refs.push(intern(v));
        }
        timeseries.push(write_v2::TimeSeries {
            labels_refs: refs,
            samples: samples
                .iter()
                .map(|(t, v)| write_v2::Sample {
                    value: *v,
                    timestamp: *t,
                    start_timestamp: 0,
                })
                .collect(),
            ..Default::default()
        });
    }
    write_v2::Request {
        symbols: symbols.into_iter().map(String::into_bytes).collect(),
        timeseries,
    }
}

#[test]
fn v1_converts_samples_and_preserves_special_values_bit_exact() {
    let req = prompb::WriteRequest {
        timeseries: vec![v1_series(
            &[("job", "a"), ("__name__", "up")],
            &[
                (1, f64::NAN),
                (2, f64::INFINITY),
                (3, f64::NEG_INFINITY),
                (4, stale_nan()),
            ],
        )],
        metadata: vec![prompb::MetricMetadata {
            r#type: prompb::METRIC_TYPE_COUNTER,
            metric_family_name: b"up".to_vec(),
            help: b"Up.".to_vec(),
            unit: b"".to_vec(),
        }],
    };
    let limits = Limits::default();
    let out = convert_v1(&req, &ctx(&limits));
    assert!(out.errors.is_empty());
    let series = &out.batch.series[0];
    assert_eq!(series.labels.to_string(), r#"{__name__="up", job="a"}"#);
    assert!(series.samples[0].v.is_nan() && !is_stale_nan(series.samples[0].v));
    assert_eq!(series.samples[1].v, f64::INFINITY);
    assert_eq!(series.samples[2].v, f64::NEG_INFINITY);
    assert!(is_stale_nan(series.samples[3].v));
    assert_eq!(out.batch.metadata[0].metric_type, MetricType::Counter);
    assert_eq!(out.batch.metadata[0].help, "Up.");
}

#[test]
fn v1_far_future_sample_is_refused_but_others_kept() {
    let req = prompb::WriteRequest {
        timeseries: vec![v1_series(
            &[("__name__", "up")],
            &[(NOW, 1.0), (NOW + 11 * 60 * 1000, 2.0)],
        )],
        metadata: vec![],
    };
    let limits = Limits::default();
    let out = convert_v1(&req, &ctx(&limits));
    assert_eq!(out.errors.lines, vec![TOO_FAR_IN_FUTURE.to_string()]);
    assert_eq!(out.batch.series[0].samples.len(), 1);
}

#[test]
fn v2_resolves_symbols_metadata_and_reports_far_future_with_series() {
    let mut req = v2_request(&[(
        &[("__name__", "http_requests_total"), ("code", "200")],
        &[(NOW, 5.0), (NOW + 3_600_000, 6.0)],
    )]);
    req.symbols.push(b"Requests.".to_vec());
    let help_ref = (req.symbols.len() - 1) as u32;
    req.timeseries[0].metadata = Some(write_v2::Metadata {
        r#type: 1,
        help_ref,
        unit_ref: 0,
    });
    let limits = Limits::default();
    let out = convert_v2(&req, &ctx(&limits), false).unwrap();
    assert_eq!(
        out.errors.lines,
        vec![format!(
            "{TOO_FAR_IN_FUTURE} for series {{__name__=\"http_requests_total\", code=\"200\"}}"
        )]
    );
    assert_eq!(out.batch.series[0].samples.len(), 1);
    assert_eq!(out.batch.metadata[0].metric_family, "http_requests_total");
    assert_eq!(out.batch.metadata[0].help, "Requests.");
    assert!(out.start_zero.series.is_empty());
}

#[test]
fn v2_symbol_errors_use_prometheus_texts() {
    let mut req = v2_request(&[(&[("__name__", "up")], &[(NOW, 1.0)])]);
    req.timeseries[0].labels_refs = vec![1, 2, 3];
    let limits = Limits::default();
    let out = convert_v2(&req, &ctx(&limits), false).unwrap();
    assert_eq!(
        out.errors.lines,
        vec!["parsing labels for series [1 2 3]: invalid labelRefs length 3".to_string()]
    );

    req.timeseries[0].labels_refs = vec![1, 9];
    let out = convert_v2(&req, &ctx(&limits), false).unwrap();
    assert_eq!(
        out.errors.lines,
        vec![
            "parsing labels for series [1 9]: labelRefs 1 (name) = 9 (value) outside of symbols table (size 3)"
                .to_string()
        ]
    );

    req.timeseries[0].labels_refs = vec![1, 2];
    req.timeseries[0].metadata = Some(write_v2::Metadata {
        r#type: 2,
        help_ref: 0,
        unit_ref: 7,
    });
    let out = convert_v2(&req, &ctx(&limits), false).unwrap();
    assert_eq!(
        out.errors.lines,
        vec!["parsing metadata for series [1 2]: metadata unit_ref 7 outside of symbols table (size 3)".to_string()]
    );
    assert!(out.batch.series.is_empty());

    req.timeseries[0].metadata = None;
    req.timeseries[0].exemplars = vec![write_v2::Exemplar {
        labels_refs: vec![0, 40],
        value: 1.0,
        timestamp: NOW,
    }];
    let out = convert_v2(&req, &ctx(&limits), false).unwrap();
    assert_eq!(
        out.errors.lines,
        vec![
            "parsing exemplar for series {__name__=\"up\"}: labelRefs 0 (name) = 40 (value) outside of symbols table (size 3)"
                .to_string()
        ]
    );
    assert_eq!(
        out.batch.series[0].samples.len(),
        1,
        "the series' samples are still written"
    );
}

#[test]
fn v2_series_without_samples_is_refused() {
    let req = v2_request(&[(&[("__name__", "up")], &[])]);
    let limits = Limits::default();
    let out = convert_v2(&req, &ctx(&limits), false).unwrap();
    assert_eq!(
        out.errors.lines,
        vec!["TimeSeries must contain at least one sample or histogram for series {__name__=\"up\"}".to_string()]
    );
}

#[test]
fn v2_start_timestamp_zero_samples_only_when_enabled() {
    let mut req = v2_request(&[(&[("__name__", "c_total")], &[(NOW - 1000, 3.0), (NOW, 4.0)])]);
    for s in &mut req.timeseries[0].samples {
        s.start_timestamp = NOW - 5000;
    }
    let limits = Limits::default();
    assert!(
        convert_v2(&req, &ctx(&limits), false)
            .unwrap()
            .start_zero
            .series
            .is_empty()
    );
    let out = convert_v2(&req, &ctx(&limits), true).unwrap();
    assert_eq!(
        out.start_zero.series[0].samples,
        vec![crate::storage::Sample { t: NOW - 5000, v: 0.0 }]
    );
    // The older `created_timestamp` field of senders up to Prometheus 3.8 works the same way.
    for s in &mut req.timeseries[0].samples {
        s.start_timestamp = 0;
    }
    req.timeseries[0].created_timestamp = NOW - 7000;
    let out = convert_v2(&req, &ctx(&limits), true).unwrap();
    assert_eq!(out.start_zero.series[0].samples[0].t, NOW - 7000);
}

#[test]
fn v2_histograms_and_exemplars_convert() {
    let mut req = v2_request(&[(&[("__name__", "lat"), ("trace_id", "abc")], &[])]);
    let series = &mut req.timeseries[0];
    // Labels: __name__=lat, trace_id=abc; reuse the trace_id pair for the exemplar.
    series.exemplars = vec![write_v2::Exemplar {
        labels_refs: vec![series.labels_refs[2], series.labels_refs[3]],
        value: 0.3,
        timestamp: NOW,
    }];
    series.labels_refs.truncate(2);
    series.histograms = vec![prompb::Histogram {
        count: Some(prompb::histogram::Count::CountFloat(2.0)),
        sum: 0.5,
        positive_spans: vec![prompb::BucketSpan { offset: 0, length: 1 }],
        positive_counts: vec![2.0],
        timestamp: NOW,
        ..Default::default()
    }];
    let limits = Limits::default();
    let out = convert_v2(&req, &ctx(&limits), false).unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors.lines);
    let s = &out.batch.series[0];
    assert_eq!(s.histograms.len(), 1);
    assert_eq!(s.exemplars[0].labels.get("trace_id"), Some("abc"));

    req.timeseries[0].histograms[0].positive_counts = vec![];
    let out = convert_v2(&req, &ctx(&limits), false).unwrap();
    assert_eq!(
        out.errors.lines,
        vec![
            "positive side: spans need 1 buckets, have 0 buckets: histogram spans specify different number of buckets \
             than provided for series {__name__=\"lat\"}"
                .to_string()
        ]
    );
}

#[tokio::test]
async fn process_v1_success_is_204_without_stats_headers() {
    let req = prompb::WriteRequest {
        timeseries: vec![v1_series(&[("__name__", "up")], &[(NOW, 1.0)])],
        metadata: vec![],
    };
    let sink = RecordingSink::default();
    let limits = Limits::default();
    let outcome = process(&sink, "fake", MessageType::V1, &req.encode_to_vec(), &ctx(&limits)).await;
    assert_eq!(outcome.status, StatusCode::NO_CONTENT);
    let response = outcome.into_response();
    assert!(response.headers().get(SAMPLES_WRITTEN_HEADER).is_none());
    assert_eq!(sink.batches.lock().unwrap()[0].series[0].samples.len(), 1);
}

#[tokio::test]
async fn process_v1_invalid_series_is_400_and_valid_ones_are_stored() {
    let req = prompb::WriteRequest {
        timeseries: vec![
            v1_series(&[("job", "no-name")], &[(NOW, 1.0)]),
            v1_series(&[("__name__", "up"), ("a", "1"), ("a", "2")], &[(NOW, 1.0)]),
            v1_series(&[("__name__", "up")], &[(NOW, 1.0)]),
        ],
        metadata: vec![],
    };
    let sink = RecordingSink::default();
    let limits = Limits::default();
    let outcome = process(&sink, "fake", MessageType::V1, &req.encode_to_vec(), &ctx(&limits)).await;
    assert_eq!(outcome.status, StatusCode::BAD_REQUEST);
    assert_eq!(outcome.body, r#"invalid metric name or labels, got {job="no-name"}"#);
    assert_eq!(sink.batches.lock().unwrap()[0].series.len(), 1);
}

#[tokio::test]
async fn process_v2_partial_write_reports_all_errors_and_stats() {
    let req = v2_request(&[
        (&[("__name__", "ok")], &[(NOW, 1.0), (NOW + 1, 2.0)]),
        (&[("job", "x")], &[(NOW, 1.0)]),
        (&[("__name__", "up"), ("", "v")], &[(NOW, 1.0)]),
    ]);
    let sink = RecordingSink::default();
    let limits = Limits::default();
    let outcome = process(&sink, "fake", MessageType::V2, &req.encode_to_vec(), &ctx(&limits)).await;
    assert_eq!(outcome.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        outcome.body,
        "invalid metric name or labels, got {job=\"x\"}\ninvalid metric name or labels, got {\"\"=\"v\", __name__=\"up\"}"
    );
    assert_eq!(outcome.stats.samples, 2);
    let response = outcome.into_response();
    assert_eq!(response.headers()[SAMPLES_WRITTEN_HEADER], "2");
    assert_eq!(response.headers()[HISTOGRAMS_WRITTEN_HEADER], "0");
    assert_eq!(response.headers()[EXEMPLARS_WRITTEN_HEADER], "0");
}

#[tokio::test]
async fn process_reports_out_of_order_from_the_store_as_400() {
    let req = v2_request(&[(&[("__name__", "ok")], &[(NOW, 1.0), (NOW - 10, 2.0)])]);
    let sink = RecordingSink {
        rejected_out_of_order: 1,
        ..Default::default()
    };
    let limits = Limits::default();
    let outcome = process(&sink, "fake", MessageType::V2, &req.encode_to_vec(), &ctx(&limits)).await;
    assert_eq!(outcome.status, StatusCode::BAD_REQUEST);
    assert_eq!(outcome.body, "out of order sample");
    assert_eq!(outcome.stats.samples, 1);
}

#[tokio::test]
async fn process_storage_failure_is_500_with_zero_stats() {
    let req = v2_request(&[(&[("__name__", "ok")], &[(NOW, 1.0)])]);
    let sink = RecordingSink {
        fail_with: Some(|| StorageError::Other("disk full".into())),
        ..Default::default()
    };
    let limits = Limits::default();
    let outcome = process(&sink, "fake", MessageType::V2, &req.encode_to_vec(), &ctx(&limits)).await;
    assert_eq!(outcome.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(outcome.body, "disk full");
    let response = outcome.into_response();
    assert_eq!(response.headers()[SAMPLES_WRITTEN_HEADER], "0");
}

#[tokio::test]
async fn process_garbage_protobuf_is_400() {
    let sink = RecordingSink::default();
    let limits = Limits::default();
    let outcome = process(&sink, "fake", MessageType::V1, &[0x0a, 0x05, 0x01], &ctx(&limits)).await;
    assert_eq!(
        (outcome.status, outcome.body.as_str()),
        (StatusCode::BAD_REQUEST, "unexpected EOF")
    );
    let outcome = process(&sink, "fake", MessageType::V2, &[0xff, 0xff, 0xff], &ctx(&limits)).await;
    assert_eq!(outcome.status, StatusCode::BAD_REQUEST);
    assert!(sink.batches.lock().unwrap().is_empty());
}

#[tokio::test]
async fn v2_decoded_as_v1_content_type_is_refused_not_misread() {
    // A v2 body sent with the 1.0 content type: field 4 (symbols) has no meaning in v1 and is
    // skipped, field 5 is not a v1 field either, so nothing is written and nothing panics.
    let req = v2_request(&[(&[("__name__", "ok")], &[(NOW, 1.0)])]);
    let sink = RecordingSink::default();
    let limits = Limits::default();
    let outcome = process(&sink, "fake", MessageType::V1, &req.encode_to_vec(), &ctx(&limits)).await;
    assert_eq!(outcome.status, StatusCode::NO_CONTENT);
    assert!(sink.batches.lock().unwrap().is_empty());
}

#[test]
fn v2_symbol_amplification_is_refused_whole() {
    // One 1 KiB symbol named 1000 times by a few bytes of references.
    let mut req = v2_request(&[(&[("__name__", "up")], &[(NOW, 1.0)])]);
    req.symbols.push(vec![b'x'; 1024]);
    let big = (req.symbols.len() - 1) as u32;
    req.timeseries[0]
        .labels_refs
        .extend(std::iter::repeat_n([big, big], 1000).flatten());
    let limits = Limits {
        max_request_body_bytes: 64 * 1024,
        ..Limits::default()
    };
    assert_eq!(
        convert_v2(&req, &ctx(&limits), false).unwrap_err(),
        "decoded size exceeds the 65536 bytes limit"
    );
}

#[test]
fn error_lines_are_capped() {
    let bad: Vec<prompb::TimeSeries> = (0..150).map(|_| v1_series(&[("job", "x")], &[(NOW, 1.0)])).collect();
    let req = prompb::WriteRequest {
        timeseries: bad,
        metadata: vec![],
    };
    let limits = Limits::default();
    let out = convert_v1(&req, &ctx(&limits));
    assert_eq!(out.errors.lines.len(), super::convert::MAX_ERROR_LINES);
    assert_eq!(out.errors.omitted, 50);
}

#[tokio::test]
async fn v2_body_names_omitted_errors() {
    let series: Vec<TestSeries<'_>> = (0..101).map(|_| (&[("job", "x")][..], &[(NOW, 1.0)][..])).collect();
    let req = v2_request(&series);
    let sink = RecordingSink::default();
    let limits = Limits::default();
    let outcome = process(&sink, "fake", MessageType::V2, &req.encode_to_vec(), &ctx(&limits)).await;
    assert_eq!(outcome.status, StatusCode::BAD_REQUEST);
    assert!(outcome.body.ends_with("\n(1 more errors omitted)"), "{}", outcome.body);
    assert_eq!(outcome.body.lines().count(), 101);
}

#[test]
fn v1_exemplars_are_kept_or_dropped_like_prometheus_storage() {
    let mut ts = v1_series(&[("__name__", "lat")], &[(NOW, 1.0)]);
    let long = "x".repeat(130);
    ts.exemplars = vec![
        prompb::Exemplar {
            labels: vec![Label::new("trace_id", "abc")],
            value: 0.5,
            timestamp: NOW,
        },
        // Over the 128-character label-set limit: dropped without failing the request.
        prompb::Exemplar {
            labels: vec![Label::new("trace_id", &long)],
            value: 0.5,
            timestamp: NOW,
        },
        // Too far in the future: dropped too.
        prompb::Exemplar {
            labels: vec![Label::new("trace_id", "def")],
            value: 0.5,
            timestamp: NOW + 3_600_000,
        },
    ];
    let req = prompb::WriteRequest {
        timeseries: vec![ts],
        metadata: vec![],
    };
    let limits = Limits::default();
    let out = convert_v1(&req, &ctx(&limits));
    assert!(out.errors.is_empty());
    let exemplars = &out.batch.series[0].exemplars;
    assert_eq!(exemplars.len(), 1);
    assert_eq!(exemplars[0].labels.get("trace_id"), Some("abc"));
}

#[test]
fn v2_duplicate_label_names_via_refs_are_refused() {
    let req = v2_request(&[(&[("__name__", "up"), ("a", "1"), ("a", "2")], &[(NOW, 1.0)])]);
    let limits = Limits::default();
    let out = convert_v2(&req, &ctx(&limits), false).unwrap();
    assert_eq!(
        out.errors.lines,
        vec!["invalid labels for series, labels {__name__=\"up\", a=\"1\", a=\"2\"}, duplicated label a".to_string()]
    );
    assert!(out.batch.series.is_empty());
}

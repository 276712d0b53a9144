//! End-to-end checks of the engine over an in-memory series set.

use super::*;
use crate::storage::memory::MemorySeriesSet;
use crate::storage::model::{Sample, stale_nan};

fn store() -> MemorySeriesSet {
    let mut s = MemorySeriesSet::new();
    for (job, step) in [("a", 1.0), ("b", 2.0)] {
        s.add_samples(
            Labels::from_pairs([("__name__", "req_total"), ("job", job)]),
            (0..=10).map(|i| Sample {
                t: i * 60_000,
                v: i as f64 * step,
            }),
        );
    }
    s
}

fn engine() -> Engine {
    Engine::new(EngineOptions::default())
}

fn instant(q: &str, t: i64) -> Result<QueryResult, PromqlError> {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(engine().instant_query(&store(), q, t, &QueryOptions::default()))
}

fn vector(q: &str, t: i64) -> Vec<(String, f64)> {
    match instant(q, t).unwrap().value {
        Value::Vector(v) => v.into_iter().map(|s| (s.metric.to_string(), s.f)).collect(),
        other => panic!("expected vector, got {other:?}"),
    }
}

#[test]
fn selector_reads_newest_sample_within_lookback() {
    assert_eq!(
        vector("req_total{job=\"b\"}", 150_000),
        vec![(r#"{__name__="req_total", job="b"}"#.to_string(), 4.0)]
    );
    // Lookback is left-open: 5m after the last sample nothing is returned.
    assert!(vector("req_total", 600_000 + 300_000).is_empty());
}

#[test]
fn staleness_marker_ends_a_series() {
    let mut s = MemorySeriesSet::new();
    let labels = Labels::from_pairs([("__name__", "m")]);
    s.add_samples(
        labels,
        [
            Sample { t: 0, v: 1.0 },
            Sample {
                t: 60_000,
                v: stale_nan(),
            },
        ],
    );
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let res = rt
        .block_on(engine().instant_query(&s, "m", 90_000, &QueryOptions::default()))
        .unwrap();
    assert_eq!(res.value, Value::Vector(vec![]));
}

#[test]
fn arithmetic_drops_name_and_sum_groups() {
    assert_eq!(
        vector("req_total * 2", 60_000),
        vec![(r#"{job="a"}"#.to_string(), 2.0), (r#"{job="b"}"#.to_string(), 4.0)]
    );
    assert_eq!(vector("sum(req_total)", 120_000), vec![("{}".to_string(), 6.0)]);
}

#[test]
fn one_to_one_matching_refuses_duplicates_on_the_one_side() {
    let err = instant("req_total + on() req_total", 60_000).unwrap_err();
    assert!(err.to_string().contains("many-to-many matching not allowed"), "{err}");
}

#[test]
fn duplicate_label_sets_after_name_removal_fail() {
    let mut s = store();
    s.add_samples(
        Labels::from_pairs([("__name__", "other_total"), ("job", "a")]),
        [Sample { t: 0, v: 1.0 }],
    );
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let err = rt
        .block_on(engine().instant_query(&s, "-{job=\"a\"}", 0, &QueryOptions::default()))
        .unwrap_err();
    assert_eq!(err.to_string(), "vector cannot contain metrics with the same labelset");
}

#[test]
fn range_query_refuses_range_vectors_and_collects_steps() {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let err = rt
        .block_on(engine().range_query(&store(), "req_total[5m]", 0, 60_000, 60_000, &QueryOptions::default()))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"invalid expression type "range vector" for range query, must be Scalar or instant Vector"#
    );
    let res = rt
        .block_on(engine().range_query(
            &store(),
            "req_total{job=\"a\"}",
            0,
            120_000,
            60_000,
            &QueryOptions::default(),
        ))
        .unwrap();
    let Value::Matrix(m) = res.value else {
        panic!("matrix expected")
    };
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].floats, vec![(0, 0.0), (60_000, 1.0), (120_000, 2.0)]);
}

#[test]
fn subquery_steps_are_aligned_to_the_step() {
    let res = instant("req_total{job=\"a\"}[3m:1m]", 200_000).unwrap();
    let Value::Matrix(m) = res.value else {
        panic!("matrix expected")
    };
    assert_eq!(m[0].floats, vec![(60_000, 1.0), (120_000, 2.0), (180_000, 3.0)]);
}

#[test]
fn at_modifier_pins_the_selector() {
    assert_eq!(
        vector("req_total{job=\"a\"} @ 120", 600_000),
        vec![(r#"{__name__="req_total", job="a"}"#.to_string(), 2.0)]
    );
}

#[test]
fn too_many_samples_is_an_execution_error() {
    let small = Engine::new(EngineOptions {
        max_samples: 3,
        ..EngineOptions::default()
    });
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let err = rt
        .block_on(small.instant_query(&store(), "req_total[10m]", 600_000, &QueryOptions::default()))
        .unwrap_err();
    assert_eq!(err.to_string(), TOO_MANY_SAMPLES);
}

#[test]
fn parse_errors_are_bad_data() {
    assert!(matches!(instant("sum(", 0), Err(PromqlError::BadData(_))));
}

#[test]
fn label_replace_and_topk() {
    assert_eq!(
        vector(
            r#"label_replace(req_total{job="a"}, "x", "$1-y", "job", "(.*)")"#,
            60_000
        ),
        vec![(r#"{__name__="req_total", job="a", x="a-y"}"#.to_string(), 1.0)]
    );
    assert_eq!(
        vector("topk(1, req_total)", 60_000),
        vec![(r#"{__name__="req_total", job="b"}"#.to_string(), 2.0)]
    );
}

#[test]
fn deeply_nested_queries_are_refused_not_crashing() {
    let at_limit = MAX_EXPRESSION_DEPTH - 2;
    for (q, ok) in [
        (format!("{}1{}", "(".repeat(3_000), ")".repeat(3_000)), false),
        (vec!["1"; 3_000].join("+"), false),
        (format!("{}up", "-".repeat(3_000)), false),
        ("1+".repeat(MAX_QUERY_BYTES / 2 + 1) + "1", false),
        (format!("{}1{}", "(".repeat(at_limit), ")".repeat(at_limit)), true),
        (vec!["1"; at_limit].join("+"), true),
        (
            format!("{}vector(1){}", "sum(".repeat(at_limit / 2), ")".repeat(at_limit / 2)),
            true,
        ),
        (format!("{}up", "-".repeat(at_limit)), true),
    ] {
        let res = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(move || instant(&q, 0).is_ok())
            .unwrap()
            .join();
        assert_eq!(res.ok(), Some(ok));
    }
}

#[test]
fn parser_panics_on_huge_number_durations_become_bad_data() {
    for query in ["x[1e300]", "rate(x[1e300])"] {
        match instant(query, 0) {
            Err(PromqlError::BadData(message)) => assert!(message.contains("parse error"), "{query}: {message}"),
            other => panic!("{query}: expected bad_data, got {other:?}"),
        }
    }
}

#[test]
fn queries_beyond_max_concurrency_wait_for_a_slot() {
    let single = Engine::new(EngineOptions {
        max_concurrency: 1,
        ..EngineOptions::default()
    });
    let data = store();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let opts = QueryOptions::default();
    let (a, b) = rt.block_on(async {
        tokio::join!(
            single.instant_query(&data, "req_total", 600_000, &opts),
            single.instant_query(&data, "sum(req_total)", 600_000, &opts),
        )
    });
    let (a, b) = (a.unwrap().value, b.unwrap().value);
    assert!(matches!(&a, Value::Vector(v) if !v.is_empty()), "{a:?}");
    assert!(matches!(&b, Value::Vector(v) if v.len() == 1), "{b:?}");
}

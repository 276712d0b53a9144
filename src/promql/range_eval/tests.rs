//! Whole-range evaluation must give exactly what step-by-step evaluation gives: the same
//! series, bit-identical values, the same annotations and the same errors.

use super::Steps;
use crate::promql::{Engine, EngineOptions, QueryOptions, QueryResult, Value};
use crate::storage::Labels;
use crate::storage::memory::MemorySeriesSet;
use crate::storage::model::{Sample, StartTimestamp, stale_nan};

const M: i64 = 60_000;

/// Series with gaps, stale markers, NaN, resets, several names and jobs.
fn store() -> MemorySeriesSet {
    let mut s = MemorySeriesSet::new();
    for (i, (name, job, instance)) in [
        ("c_total", "api", "a"),
        ("c_total", "api", "b"),
        ("c_total", "db", "a"),
        ("gauge", "api", "a"),
        ("gauge", "db", "b"),
        ("gauge", "db", "c"),
    ]
    .into_iter()
    .enumerate()
    {
        let labels = Labels::from_pairs([("__name__", name), ("job", job), ("instance", instance)]);
        let k = i as i64;
        let samples = (0..120i64).filter_map(move |n| {
            let t = n * 15_000 + k * 1_000;
            // A gap of a few minutes in some series, a stale marker in another.
            if k % 3 == 1 && (40..60).contains(&n) {
                return None;
            }
            let v = if k == 4 && n == 70 {
                stale_nan()
            } else if k == 5 && n == 30 {
                f64::NAN
            } else if name == "c_total" {
                // A counter with a reset halfway.
                ((n % 70) * (k + 1)) as f64 + 0.1 * k as f64
            } else {
                ((n * 7 + k * 13) % 23) as f64 - 5.5
            };
            Some(Sample { t, v })
        });
        s.add_samples(labels, samples);
    }
    // Same labels as a gauge series apart from the name: `rate` over both collides.
    s.add_samples(
        Labels::from_pairs([("__name__", "other"), ("job", "api"), ("instance", "a")]),
        (0..20).map(|n| Sample {
            t: n * 30_000,
            v: n as f64,
        }),
    );
    // A cumulative counter whose start timestamps announce resets the values do not show,
    // and one whose start timestamps overlap (a warning the per-step evaluator gives).
    let st_labels = Labels::from_pairs([("__name__", "st_total"), ("job", "st"), ("kind", "reset")]);
    s.add_samples(
        st_labels.clone(),
        (0..120).map(|n| Sample {
            t: n * 15_000,
            v: (n % 30) as f64 * 10.0 + 100.0,
        }),
    );
    s.add_start_timestamps(
        st_labels,
        (0..120).step_by(30).map(|n| StartTimestamp {
            t: n * 15_000,
            st: n * 15_000 - 1_000,
        }),
    );
    let overlap_labels = Labels::from_pairs([("__name__", "overlap_total"), ("job", "st"), ("kind", "overlap")]);
    s.add_samples(
        overlap_labels.clone(),
        (0..120).map(|n| Sample {
            t: n * 15_000,
            v: n as f64,
        }),
    );
    s.add_start_timestamps(
        overlap_labels,
        [60, 61].map(|n| StartTimestamp {
            t: n * 15_000,
            st: 50 * 15_000,
        }),
    );
    s
}

fn run(engine: &Engine, q: &str, range: (i64, i64, i64), whole_range: bool) -> Result<QueryResult, String> {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(engine.range_query_with(&store(), q, range, &QueryOptions::default(), whole_range))
        .map_err(|e| e.to_string())
}

/// Series (labels, (t, value bits)), warnings, infos.
type Exact = (Vec<(String, Vec<(i64, u64)>)>, Vec<String>, Vec<String>);

/// The result with values as bits, so NaN compares equal to NaN and nothing is rounded.
fn exact(result: &Result<QueryResult, String>) -> Result<Exact, String> {
    let r = result.clone()?;
    let Value::Matrix(m) = r.value else {
        return Err(format!("not a matrix: {:?}", r.value));
    };
    let series = m
        .into_iter()
        .map(|s| {
            let points = s.floats.iter().map(|&(t, f)| (t, f.to_bits())).collect();
            (s.metric.to_string(), points)
        })
        .collect();
    Ok((series, r.warnings, r.infos))
}

fn assert_same(engine: &Engine, q: &str, range: (i64, i64, i64)) {
    let whole = run(engine, q, range, true);
    let stepwise = run(engine, q, range, false);
    assert_eq!(exact(&whole), exact(&stepwise), "{q} over {range:?}");
}

#[test]
fn whole_range_matches_step_by_step() {
    let engine = Engine::new(EngineOptions::default());
    let queries = [
        "gauge",
        "gauge offset 2m",
        "c_total @ 600",
        "last_over_time(gauge[5m])",
        "last_over_time({job=\"api\"}[1m])",
        "rate(c_total[3m])",
        "increase(c_total[2m])",
        "rate(gauge[3m])",
        "irate(c_total[1m])",
        "delta(gauge[4m])",
        "deriv(gauge[4m])",
        "predict_linear(gauge[5m], 60)",
        "predict_linear(gauge[5m] offset 1m, -(30))",
        "quantile_over_time(0.9, gauge[5m])",
        "quantile_over_time(1.5, gauge[5m])",
        "stddev_over_time(gauge[3m])",
        "count_over_time({__name__=~\".+\"}[1m])",
        "sum_over_time(gauge[2m] @ 900)",
        "changes(gauge[10m])",
        "resets(c_total[10m])",
        "sum by (job) (rate(c_total[2m]))",
        "sum(rate(gauge[2m]))",
        "sum by (__name__) (last_over_time({job=~\".+\"}[5m]))",
        "sum by (__name__, job) (last_over_time({job=\"api\"}[5m]))",
        "avg without (instance) (gauge)",
        "max(gauge)",
        "min by (job) (gauge)",
        "count by (job) ({__name__=~\".+\"})",
        "group by (instance) (gauge)",
        "stddev(gauge)",
        "stdvar by (job) (gauge)",
        "quantile(0.5, gauge)",
        "quantile(2, gauge)",
        "sum(sum by (job) (gauge))",
        "avg(max by (instance) (rate(c_total[5m])))",
        // Duplicate label sets once the name is dropped: an error in both.
        "rate({job=\"api\", instance=\"a\"}[5m])",
        "rate({job=\"st\"}[5m])",
        "increase(st_total[2m])",
        "irate(st_total[1m])",
        "resets(st_total[10m])",
        "sum by (job) (increase({job=\"st\"}[3m]))",
        "gauge * 2",
        "100 * sum by (job) (rate(c_total[2m]))",
        "gauge > 3",
        "3 < gauge",
        "gauge >= bool 0",
        "-gauge / -(4)",
        "max(gauge ^ 2) - 1",
        "last_over_time(gauge[5m]) == 1.5",
        // Not handled whole-range: must still answer through the fallback.
        "topk(1, gauge)",
        "gauge * on (job) group_left c_total",
        "-gauge",
    ];
    for q in queries {
        assert_same(&engine, q, (0, 30 * M, 60_000));
        assert_same(&engine, q, (90_000, 20 * M, 45_000));
    }
}

#[test]
fn limits_and_errors_match_step_by_step() {
    // Past what the fetch holds, but below what the results hold over 361 steps.
    for max_samples in [10, 350, 400, 1000] {
        let engine = Engine::new(EngineOptions {
            max_samples,
            ..EngineOptions::default()
        });
        for q in [
            "gauge",
            "last_over_time(gauge[5m])",
            "sum by (job) (gauge)",
            "rate(c_total[5m])",
        ] {
            assert_same(&engine, q, (0, 30 * M, 5_000));
        }
    }
}

#[test]
fn steps_follow_the_per_step_loop() {
    let s = Steps::new(0, 100, 30).unwrap();
    assert_eq!((s.count, s.at(3)), (4, 90));
    assert_eq!(Steps::new(10, 5, 1).unwrap().count, 0);
    assert!(Steps::new(0, 10, 0).is_none());
    assert!(Steps::new(0, i64::MAX, 1).is_none());
}

#[test]
fn start_timestamps_reach_the_range_functions() {
    let engine = Engine::new(EngineOptions::default());
    let result = run(&engine, "rate({job=\"st\"}[5m])", (0, 30 * M, 60_000), true).unwrap();
    assert!(
        result
            .warnings
            .iter()
            .any(|w| w.contains("overlaps with previous sample")),
        "{:?}",
        result.warnings
    );
    // Resets announced only by start timestamps: the values fall every 30 samples, and the
    // start timestamps say so too, so `resets` counts each exactly once.
    let Value::Matrix(m) = run(&engine, "resets(st_total[10m])", (0, 30 * M, 60_000), true)
        .unwrap()
        .value
    else {
        panic!("not a matrix");
    };
    assert!(m.iter().flat_map(|s| &s.floats).any(|&(_, v)| v >= 1.0), "{m:?}");
}

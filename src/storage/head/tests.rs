use super::*;
use crate::storage::chunk::MAX_SAMPLES_PER_CHUNK;
use crate::storage::head::series::Reject;
use crate::storage::matcher::MatchOp;
use crate::storage::model::{MetricType, STALE_NAN_BITS, Sample, SeriesAppend};

const HOUR: i64 = 3_600_000;

fn head(ooo_window: i64) -> TenantHead {
    TenantHead::new(
        "t",
        HeadOptions {
            block_duration_ms: 2 * HOUR,
            out_of_order_window_ms: ooo_window,
        },
    )
}

fn labels(name: &str, job: &str) -> Labels {
    Labels::from_pairs([("__name__", name), ("job", job)])
}

fn batch(l: Labels, samples: &[(i64, f64)]) -> AppendBatch {
    AppendBatch {
        series: vec![SeriesAppend {
            labels: l,
            samples: samples.iter().map(|(t, v)| Sample { t: *t, v: *v }).collect(),
            ..SeriesAppend::default()
        }],
        metadata: Vec::new(),
    }
}

fn append(head: &TenantHead, next: &AtomicU64, b: AppendBatch) -> (AppendStats, AppendReport, Vec<WalRecord>) {
    let (report, records) = head.append(b, AppendMode::Partial, next, |records| records);
    (report.stats, report, records)
}

fn times(head: &TenantHead, l: &Labels) -> Vec<i64> {
    let matchers: Vec<LabelMatcher> = l.iter().map(|x| LabelMatcher::equal(&x.name, &x.value)).collect();
    head.select(&matchers, i64::MIN, i64::MAX)
        .first()
        .map(|s| s.samples.iter().map(|x| x.t).collect())
        .unwrap_or_default()
}

#[test]
fn select_with_matchers() {
    let h = head(0);
    let next = AtomicU64::new(1);
    append(&h, &next, batch(labels("up", "a"), &[(1000, 1.0), (2000, 2.0)]));
    append(&h, &next, batch(labels("up", "b"), &[(1000, 0.0)]));
    append(&h, &next, batch(labels("down", "a"), &[(1000, 5.0)]));

    let up = LabelMatcher::equal("__name__", "up");
    let got = h.select(std::slice::from_ref(&up), 0, 5000);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].labels, labels("up", "a"));
    assert_eq!(
        got[0].samples,
        vec![Sample { t: 1000, v: 1.0 }, Sample { t: 2000, v: 2.0 }]
    );

    let not_a = LabelMatcher::new("job", MatchOp::NotEqual, "a").unwrap();
    assert_eq!(h.series(&[up.clone(), not_a], 0, 5000), vec![labels("up", "b")]);
    let re = LabelMatcher::new("__name__", MatchOp::RegexMatch, "d.*|up").unwrap();
    let job_a = LabelMatcher::equal("job", "a");
    assert_eq!(
        h.series(&[re, job_a], 0, 5000),
        vec![labels("down", "a"), labels("up", "a")]
    );
    // Time range restricts samples and drops series without any.
    let got = h.select(&[up], 1500, 5000);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].samples, vec![Sample { t: 2000, v: 2.0 }]);
    assert!(h.select(&[], 3000, 5000).is_empty());

    assert_eq!(h.label_names(&[], 0, 5000), vec!["__name__", "job"]);
    assert!(h.label_names(&[], 10_000, 20_000).is_empty());
    assert_eq!(h.label_values("job", &[], 0, 5000), vec!["a", "b"]);
    assert_eq!(
        h.label_values("__name__", &[LabelMatcher::equal("job", "b")], 0, 5000),
        vec!["up"]
    );
}

#[test]
fn in_order_rules_match_prometheus() {
    let h = head(0);
    let next = AtomicU64::new(1);
    let l = labels("up", "a");
    let (stats, _, records) = append(&h, &next, batch(l.clone(), &[(1000, 1.0), (2000, 2.0)]));
    assert_eq!(stats.samples, 2);
    assert_eq!(records.len(), 2, "series and samples records");
    // Identical duplicate is accepted silently and not re-logged; another value is refused.
    let (stats, _, records) = append(&h, &next, batch(l.clone(), &[(2000, 2.0)]));
    assert_eq!((stats.samples, stats.rejected_out_of_order), (1, 0));
    assert!(records.is_empty());
    let (stats, _, _) = append(&h, &next, batch(l.clone(), &[(2000, 3.0), (1500, 1.0)]));
    assert_eq!((stats.samples, stats.rejected_out_of_order), (0, 2));
    assert_eq!(times(&h, &l), vec![1000, 2000]);
    // Older than head max - block/2 is out of bounds even for a new series.
    append(&h, &next, batch(labels("x", "y"), &[(10 * HOUR, 1.0)]));
    let (stats, _, _) = append(&h, &next, batch(labels("new", "z"), &[(8 * HOUR, 1.0)]));
    assert_eq!(stats.rejected_out_of_order, 1);
}

#[test]
fn out_of_order_window() {
    let h = head(10_000);
    let next = AtomicU64::new(1);
    let l = labels("up", "a");
    append(&h, &next, batch(l.clone(), &[(100_000, 1.0), (110_000, 2.0)]));
    let (stats, detail, records) = append(&h, &next, batch(l.clone(), &[(105_000, 9.0), (101_000, 8.0)]));
    assert_eq!((stats.samples, stats.rejected_out_of_order), (2, 0));
    assert_eq!(detail.out_of_order_accepted, 2);
    assert_eq!(records.len(), 1);
    // Beyond the window (head max 110s - 10s = 100s) is refused.
    let (stats, _, _) = append(&h, &next, batch(l.clone(), &[(99_999, 1.0)]));
    assert_eq!(stats.rejected_out_of_order, 1);
    // Duplicates inside the in-order chunks and the out-of-order buffer.
    let (stats, _, _) = append(&h, &next, batch(l.clone(), &[(100_000, 1.0), (105_000, 9.0)]));
    assert_eq!((stats.samples, stats.rejected_out_of_order), (2, 0));
    let (stats, _, _) = append(&h, &next, batch(l.clone(), &[(100_000, 5.0), (105_000, 5.0)]));
    assert_eq!(stats.rejected_out_of_order, 2);
    assert_eq!(times(&h, &l), vec![100_000, 101_000, 105_000, 110_000]);
}

#[test]
fn chunks_cut_at_120_and_stale_markers_survive() {
    let h = head(0);
    let next = AtomicU64::new(1);
    let l = labels("up", "a");
    let mut samples: Vec<(i64, f64)> = (0..300).map(|i| (i * 1000, i as f64)).collect();
    samples[150].1 = f64::from_bits(STALE_NAN_BITS);
    append(&h, &next, batch(l.clone(), &samples));
    let got = h.select(&[], i64::MIN, i64::MAX);
    assert_eq!(got[0].samples.len(), 300);
    assert_eq!(got[0].samples[150].v.to_bits(), STALE_NAN_BITS);
    let inner = h.read();
    let series = super::lock_series(inner.series.values().next().unwrap());
    assert_eq!(series.samples_in(0, 119_000).len(), MAX_SAMPLES_PER_CHUNK);
}

#[test]
fn chunks_never_straddle_blocks_and_remove_written_keeps_the_rest() {
    let h = head(HOUR);
    let next = AtomicU64::new(1);
    let l = labels("up", "a");
    let samples: Vec<(i64, f64)> = (0..10).map(|i| (2 * HOUR - 5000 + i * 1000, i as f64)).collect();
    append(&h, &next, batch(l.clone(), &samples));
    let block = h.collect_range(0, 2 * HOUR - 1);
    assert_eq!(block[0].samples.len(), 5);
    // A late sample of the cut range arrives while the block is written: it must stay.
    append(&h, &next, batch(l.clone(), &[(2 * HOUR - 4500, 7.5)]));
    h.remove_written(&block, 2 * HOUR);
    assert_eq!(
        times(&h, &l),
        vec![
            2 * HOUR - 4500,
            2 * HOUR,
            2 * HOUR + 1000,
            2 * HOUR + 2000,
            2 * HOUR + 3000,
            2 * HOUR + 4000
        ]
    );
    // Everything gone: the series is forgotten.
    let rest = h.collect_range(i64::MIN, i64::MAX);
    h.remove_written(&rest, 4 * HOUR);
    assert_eq!(h.num_series(), 0);
    assert!(h.label_names(&[], i64::MIN, i64::MAX).is_empty());
}

#[test]
fn exemplars_and_metadata() {
    let h = head(0);
    let next = AtomicU64::new(1);
    let l = labels("req", "a");
    let ex = |t: i64| Exemplar {
        labels: Labels::from_pairs([("trace_id", format!("id{t}"))]),
        value: 1.0,
        t,
    };
    let mut b = batch(l.clone(), &[(1000, 1.0)]);
    b.series[0].exemplars = vec![ex(1000), ex(1000), ex(900), ex(2000)];
    b.metadata = vec![MetricMetadata {
        metric_family: "req".into(),
        metric_type: MetricType::Counter,
        help: "requests".into(),
        unit: String::new(),
    }];
    let (stats, _, records) = append(&h, &next, b);
    assert_eq!(stats.exemplars, 2);
    assert_eq!(records.len(), 4);
    let got = h.exemplars(&[vec![LabelMatcher::equal("job", "a")]], 0, 1500);
    assert_eq!(got, vec![(l, vec![ex(1000)])]);
    assert_eq!(h.metadata(Some("req")).len(), 1);
    assert!(h.metadata(Some("other")).is_empty());
}

#[test]
fn replay_reapplies_records_leniently() {
    let h = head(0);
    let next = AtomicU64::new(1);
    let l = labels("up", "a");
    let (_, _, mut records) = append(&h, &next, batch(l.clone(), &[(5000, 1.0)]));
    // A sample accepted out of order elsewhere replays even without a window.
    records.push(WalRecord::Samples {
        tenant: "t".into(),
        samples: vec![RefSample {
            series_ref: 1,
            t: 1000,
            v: 2.0,
        }],
    });
    // Unknown refs are skipped.
    records.push(WalRecord::Samples {
        tenant: "t".into(),
        samples: vec![RefSample {
            series_ref: 99,
            t: 1000,
            v: 2.0,
        }],
    });
    let fresh = head(0);
    let mut refs = HashMap::new();
    for r in records {
        fresh.replay(r, &mut refs);
    }
    assert_eq!(times(&fresh, &l), vec![1000, 5000]);
    assert_eq!(fresh.max_time(), Some(5000));
}

#[test]
fn rejection_reasons_follow_prometheus_appendable() {
    let next = AtomicU64::new(1);
    let l = labels("up", "a");
    let first = |h: &TenantHead, samples: &[(i64, f64)]| {
        let (report, _) = h.append(batch(l.clone(), samples), AppendMode::Partial, &next, |_| ());
        report.first_rejection.map(|r| (r.reason, r.t))
    };
    let h = head(0);
    assert_eq!(first(&h, &[(10 * HOUR, 1.0)]), None);
    assert_eq!(
        first(&h, &[(10 * HOUR - 1, 1.0)]),
        Some((Reject::OutOfOrder, 10 * HOUR - 1))
    );
    assert_eq!(first(&h, &[(8 * HOUR, 1.0)]), Some((Reject::OutOfBounds, 8 * HOUR)));
    assert_eq!(
        first(&h, &[(10 * HOUR, 2.0)]),
        Some((Reject::Duplicate { existing: Some(1.0) }, 10 * HOUR))
    );
    let h = head(HOUR);
    assert_eq!(first(&h, &[(10 * HOUR, 1.0)]), None);
    assert_eq!(first(&h, &[(9 * HOUR, 1.0)]), None);
    assert_eq!(first(&h, &[(9 * HOUR - 1, 1.0)]), Some((Reject::TooOld, 9 * HOUR - 1)));
    assert_eq!(Reject::TooOld.prometheus_text(), "too old sample");
}

#[test]
fn all_or_nothing_undoes_the_whole_batch() {
    let h = head(0);
    let next = AtomicU64::new(1);
    let a = labels("up", "a");
    append(&h, &next, batch(a.clone(), &[(1000, 1.0), (2000, 2.0)]));
    let mut b = batch(a.clone(), &[(3000, 3.0), (4000, 4.0)]);
    b.series.push(series_append(labels("new", "x"), &[(3000, 1.0)]));
    b.series.push(series_append(a.clone(), &[(1500, 9.0)]));
    b.series[0].exemplars = vec![Exemplar {
        labels: Labels::from_pairs([("trace_id", "x")]),
        value: 1.0,
        t: 3000,
    }];
    let (report, records) = h.append(b, AppendMode::AllOrNothing, &next, |records| records);
    assert!(records.is_empty());
    assert_eq!(report.stats.samples, 0);
    assert_eq!(report.stats.rejected_out_of_order, 1);
    let rejection = report.first_rejection.unwrap();
    assert_eq!(
        (rejection.reason, rejection.t, rejection.labels),
        (Reject::OutOfOrder, 1500, a.clone())
    );
    assert_eq!(times(&h, &a), vec![1000, 2000]);
    assert_eq!(h.num_series(), 1);
    assert!(h.exemplars(&[vec![]], i64::MIN, i64::MAX).is_empty());
    // The series accepts its next in-order sample as if nothing happened.
    let (stats, _, _) = append(&h, &next, batch(a.clone(), &[(3000, 3.0)]));
    assert_eq!((stats.samples, stats.rejected_out_of_order), (1, 0));
    assert_eq!(times(&h, &a), vec![1000, 2000, 3000]);
}

fn series_append(l: Labels, samples: &[(i64, f64)]) -> SeriesAppend {
    batch(l, samples).series.remove(0)
}

#[test]
fn start_timestamps_follow_admitted_samples_into_records_replay_and_undo() {
    use crate::storage::model::StartTimestamp;
    let st = |t: i64, st: i64| StartTimestamp { t, st };
    let h = head(0);
    let next = AtomicU64::new(1);
    let l = labels("delta_total", "a");
    let mut b = batch(l.clone(), &[(1000, 1.0), (2000, 1.0), (3000, 1.0)]);
    b.series[0].start_timestamps = vec![st(1000, 500), st(3000, 2000)];
    let (_, _, records) = append(&h, &next, b);
    let logged: Vec<&WalRecord> = records
        .iter()
        .filter(|r| matches!(r, WalRecord::StartTimestamps { .. }))
        .collect();
    assert_eq!(logged.len(), 1, "{records:?}");
    let all = |head: &TenantHead| head.select(&[], i64::MIN, i64::MAX)[0].start_timestamps.clone();
    assert_eq!(all(&h), vec![st(1000, 500), st(3000, 2000)]);
    assert_eq!(h.select(&[], 2000, 5000)[0].start_timestamps, vec![st(3000, 2000)]);

    // A duplicate sample keeps the start timestamp it was stored with; a refused one adds none.
    let mut again = batch(l.clone(), &[(3000, 1.0), (500, 1.0)]);
    again.series[0].start_timestamps = vec![st(500, 1), st(3000, 2999)];
    append(&h, &next, again);
    assert_eq!(all(&h), vec![st(1000, 500), st(3000, 2000)]);

    // Replaying the records rebuilds the same state.
    let replayed = head(0);
    let mut refs = HashMap::new();
    for record in records {
        replayed.replay(record, &mut refs);
    }
    assert_eq!(all(&replayed), all(&h));

    // An all-or-nothing batch that fails takes its start timestamps back with its samples.
    let mut doomed = batch(l.clone(), &[(4000, 1.0), (3500, 1.0)]);
    doomed.series[0].start_timestamps = vec![st(3500, 3000), st(4000, 3500)];
    let (report, _) = h.append(doomed, AppendMode::AllOrNothing, &next, |records| records);
    assert!(report.first_rejection.is_some());
    assert_eq!(all(&h), vec![st(1000, 500), st(3000, 2000)]);
}

/// One series for `float_batch`: its label pairs and (t, v) samples.
type FloatSeriesSpec<'a, 'b> = (&'a [(&'a str, &'a str)], &'b [(i64, f64)]);

fn float_batch<'a>(series: &[FloatSeriesSpec<'a, '_>]) -> FloatBatch<'a> {
    let mut batch = FloatBatch::default();
    for (labels, samples) in series {
        let samples: Vec<Sample> = samples.iter().map(|&(t, v)| Sample { t, v }).collect();
        batch.push_series(labels.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())), &samples);
    }
    batch
}

#[test]
fn append_floats_finds_creates_and_refuses_like_append() {
    let h = head(0);
    let next = AtomicU64::new(1);
    let up_a: &[(&str, &str)] = &[("__name__", "up"), ("job", "a")];
    let up_b: &[(&str, &str)] = &[("__name__", "up"), ("job", "b")];
    let first = float_batch(&[(up_a, &[(1000, 1.0), (2000, 2.0)]), (up_b, &[(1000, 5.0)])]);
    let (report, records) = h.append_floats(&first, &next, |records| records);
    assert_eq!(report.stats.samples, 3);
    assert_eq!(report.created_series, 2);
    assert_eq!(
        records.iter().map(WalRecord::kind).collect::<Vec<_>>(),
        vec![
            crate::storage::wal::record::kind::SERIES,
            crate::storage::wal::record::kind::SAMPLES
        ]
    );
    let WalRecord::Series { series, .. } = &records[0] else {
        panic!("series record first")
    };
    assert_eq!(series, &vec![(1, labels("up", "a")), (2, labels("up", "b"))]);

    // Known series: no new refs, same rules as `append` (duplicate, out of order, conflict).
    let second = float_batch(&[(up_a, &[(2000, 2.0), (1500, 9.0), (3000, 3.0)]), (up_b, &[(1000, 6.0)])]);
    let (report, records) = h.append_floats(&second, &next, |records| records);
    assert_eq!(report.created_series, 0);
    assert_eq!(report.stats.samples, 2);
    assert_eq!(report.stats.rejected_out_of_order, 2);
    assert_eq!(
        report.first_rejection.map(|r| (r.reason, r.labels, r.t)),
        Some((Reject::OutOfOrder, labels("up", "a"), 1500))
    );
    assert_eq!(
        records,
        vec![WalRecord::Samples {
            tenant: "t".into(),
            samples: vec![RefSample {
                series_ref: 1,
                t: 3000,
                v: 3.0
            }],
        }]
    );
    assert_eq!(times(&h, &labels("up", "a")), vec![1000, 2000, 3000]);
    assert_eq!(times(&h, &labels("up", "b")), vec![1000]);
    assert_eq!(next.load(Ordering::Relaxed), 3);

    // The owned path sees the same series.
    let (stats, _, records) = append(&h, &next, batch(labels("up", "b"), &[(4000, 1.0)]));
    assert_eq!(stats.samples, 1);
    assert!(
        records
            .iter()
            .all(|r| r.kind() != crate::storage::wal::record::kind::SERIES)
    );
}

#[test]
fn append_floats_recreates_a_series_dropped_after_a_cut() {
    let h = head(0);
    let next = AtomicU64::new(1);
    let up: &[(&str, &str)] = &[("__name__", "up")];
    h.append_floats(&float_batch(&[(up, &[(1000, 1.0)])]), &next, |_| ());
    let written = h.collect_range(i64::MIN, i64::MAX);
    h.remove_written(&written, 2 * HOUR);
    assert_eq!(h.num_series(), 0);
    let (report, records) = h.append_floats(&float_batch(&[(up, &[(3 * HOUR, 2.0)])]), &next, |r| r);
    assert_eq!((report.created_series, report.stats.samples), (1, 1));
    let WalRecord::Series { series, .. } = &records[0] else {
        panic!("series record first")
    };
    assert_eq!(series[0].0, 2, "a fresh ref, never the dropped one");
}

/// Four threads write the same 40 series at once (each thread its own timestamps, half the
/// series new to the head): every sample lands once, no label set gets two refs, and the
/// WAL records in the order they were handed over replay to the same head, although two
/// threads may log one series in the other order than they applied it.
#[test]
fn concurrent_append_floats_keep_every_sample_and_replay_to_the_same_head() {
    let h = head(24 * HOUR);
    let next = AtomicU64::new(1);
    let names: Vec<String> = (0..40).map(|i| format!("s{i}")).collect();
    let wal: Mutex<Vec<WalRecord>> = Mutex::new(Vec::new());
    // The first 20 series exist before the threads start.
    for name in &names[..20] {
        let labels: Vec<(&str, &str)> = vec![("__name__", "m"), ("id", name)];
        let b = float_batch(&[(&labels, &[(0, 0.0)])]);
        h.append_floats(&b, &next, |records| wal.lock().unwrap().extend(records));
    }
    std::thread::scope(|scope| {
        for thread in 0..4i64 {
            let (h, next, wal, names) = (&h, &next, &wal, &names);
            scope.spawn(move || {
                for round in 0..50i64 {
                    let t = 1 + round * 4 + thread;
                    let label_sets: Vec<Vec<(&str, &str)>> = names
                        .iter()
                        .map(|n| vec![("__name__", "m"), ("id", n.as_str())])
                        .collect();
                    let samples = [(t, t as f64)];
                    let specs: Vec<FloatSeriesSpec<'_, '_>> =
                        label_sets.iter().map(|l| (l.as_slice(), &samples[..])).collect();
                    let b = float_batch(&specs);
                    let (report, ()) = h.append_floats(&b, next, |records| wal.lock().unwrap().extend(records));
                    assert_eq!(report.stats.rejected_out_of_order, 0);
                }
            });
        }
    });
    let got = h.select(&[], i64::MIN, i64::MAX);
    assert_eq!(got.len(), 40, "one series per label set");
    for series in &got {
        let first = if series
            .labels
            .get("id")
            .is_some_and(|id| names[..20].iter().any(|n| n == id))
        {
            0
        } else {
            1
        };
        let want: Vec<i64> = (first..=200).collect();
        assert_eq!(series.samples.iter().map(|s| s.t).collect::<Vec<_>>(), want);
    }
    let replayed = head(0);
    let mut refs = HashMap::new();
    for record in wal.into_inner().unwrap() {
        replayed.replay(record, &mut refs);
    }
    assert_eq!(replayed.select(&[], i64::MIN, i64::MAX), got);
}

/// The first refusal reported is the first in batch order, also when a new series (appended
/// under the write lock, after the known ones) is refused before a known one in the batch.
#[test]
fn append_floats_reports_the_first_refusal_in_batch_order() {
    let h = head(0);
    let next = AtomicU64::new(1);
    let known: &[(&str, &str)] = &[("__name__", "known")];
    let fresh: &[(&str, &str)] = &[("__name__", "fresh")];
    h.append_floats(&float_batch(&[(known, &[(5 * HOUR, 1.0)])]), &next, |_| ());
    // `fresh` at 1h is out of bounds (head max 5h − 1h), `known` at 4h is out of order.
    let b = float_batch(&[(fresh, &[(HOUR, 1.0)]), (known, &[(4 * HOUR, 1.0)])]);
    let (report, _) = h.append_floats(&b, &next, |r| r);
    assert_eq!(report.stats.rejected_out_of_order, 2);
    let first = report.first_rejection.map(|r| (r.reason, r.labels));
    assert_eq!(
        first,
        Some((Reject::OutOfBounds, Labels::from_pairs([("__name__", "fresh")])))
    );
}

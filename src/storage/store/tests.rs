use super::*;
use crate::storage::config::ObjectStoreConfig;
use crate::storage::model::{MetricType, STALE_NAN_BITS, Sample, SeriesAppend};
use std::path::Path;

const HOUR: i64 = 3_600_000;

fn config(dir: &Path) -> StorageConfig {
    let mut config = StorageConfig::with_data_dir(dir);
    config.wal_segment_bytes = 4096;
    // The samples here sit near the epoch: the background loop, which applies retention right
    // after it opens, would delete their blocks at once.
    config.retention_ms = 0;
    config
}

fn series(name: &str, job: &str, samples: &[(i64, f64)]) -> SeriesAppend {
    SeriesAppend {
        labels: Labels::from_pairs([("__name__", name), ("job", job)]),
        samples: samples.iter().map(|(t, v)| Sample { t: *t, v: *v }).collect(),
        ..SeriesAppend::default()
    }
}

fn batch(series: Vec<SeriesAppend>) -> AppendBatch {
    AppendBatch {
        series,
        metadata: Vec::new(),
    }
}

async fn all(storage: &Arc<Storage>, tenant: &str) -> Vec<Series> {
    storage.querier(tenant).select(&[], i64::MIN, i64::MAX).await.unwrap()
}

fn sample_bits(series: &[Series]) -> Vec<(String, Vec<(i64, u64)>)> {
    series
        .iter()
        .map(|s| {
            (
                s.labels.to_string(),
                s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect(),
            )
        })
        .collect()
}

#[tokio::test]
async fn append_select_reopen_select() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::open(config(tmp.path())).await.unwrap();
    let stale = f64::from_bits(STALE_NAN_BITS);
    let stats = storage
        .append(
            "t1",
            batch(vec![
                series("up", "a", &[(1000, 1.0), (2000, stale)]),
                series("up", "b", &[(1000, f64::NAN)]),
            ]),
        )
        .await
        .unwrap();
    assert_eq!(stats.samples, 3);
    storage
        .append("t2", batch(vec![series("other", "x", &[(5, 5.0)])]))
        .await
        .unwrap();
    let before = sample_bits(&all(&storage, "t1").await);
    assert_eq!(before.len(), 2);
    assert_eq!(before[0].1, vec![(1000, 1.0f64.to_bits()), (2000, STALE_NAN_BITS)]);
    assert_eq!(all(&storage, "t2").await.len(), 1);
    assert!(all(&storage, "nobody").await.is_empty());
    let q = storage.querier("t1");
    assert_eq!(q.label_values("job", &[], 0, 3000).await.unwrap(), vec!["a", "b"]);
    assert_eq!(q.label_names(&[], 0, 3000).await.unwrap(), vec!["__name__", "job"]);
    assert_eq!(
        q.series(&[LabelMatcher::equal("job", "b")], 0, 3000).await.unwrap(),
        vec![Labels::from_pairs([("__name__", "up"), ("job", "b")])]
    );

    // Crash: no close, the process just goes away.
    drop(q);
    drop(storage);
    let storage = Storage::open(config(tmp.path())).await.unwrap();
    assert_eq!(sample_bits(&all(&storage, "t1").await), before);
    assert_eq!(all(&storage, "t2").await.len(), 1);
    // New series refs do not collide with replayed ones.
    storage
        .append("t1", batch(vec![series("new", "c", &[(3000, 3.0)])]))
        .await
        .unwrap();
    storage.close().await.unwrap();
    assert!(matches!(
        storage
            .append("t1", batch(vec![series("up", "a", &[(4000, 1.0)])]))
            .await,
        Err(StorageError::ShuttingDown)
    ));
    // A closed store still holds the block cache's lock until it is dropped.
    drop(storage);
    let storage = Storage::open(config(tmp.path())).await.unwrap();
    let after = sample_bits(&all(&storage, "t1").await);
    assert_eq!(after.len(), 3);
    assert_eq!(&after[1..], &before[..]);
    storage.close().await.unwrap();
}

#[tokio::test]
async fn rejected_samples_are_reported_and_not_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::open(config(tmp.path())).await.unwrap();
    storage
        .append("t", batch(vec![series("up", "a", &[(1000, 1.0), (2000, 2.0)])]))
        .await
        .unwrap();
    let stats = storage
        .append(
            "t",
            batch(vec![series("up", "a", &[(1500, 9.0), (2000, 3.0), (3000, 3.0)])]),
        )
        .await
        .unwrap();
    assert_eq!((stats.samples, stats.rejected_out_of_order), (1, 2));
    drop(storage);
    let storage = Storage::open(config(tmp.path())).await.unwrap();
    let got = all(&storage, "t").await;
    let ts: Vec<i64> = got[0].samples.iter().map(|s| s.t).collect();
    assert_eq!(ts, vec![1000, 2000, 3000]);
    assert_eq!(got[0].samples[1].v, 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_are_all_durable() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::open(config(tmp.path())).await.unwrap();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let storage = Arc::clone(&storage);
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let job = format!("w{worker}");
                storage
                    .append("t", batch(vec![series("up", &job, &[(i * 1000, i as f64)])]))
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let stats = storage.stats();
    assert_eq!(stats.head_series, 8);
    assert_eq!(stats.head_samples_appended_total, 160);
    assert!(stats.wal_fsyncs_total >= 1 && stats.wal_fsyncs_total <= 160);
    assert!(stats.wal_bytes_total > 0);
    assert_eq!((stats.head_min_time, stats.head_max_time), (0, 19_000));
    drop(storage);
    let storage = Storage::open(config(tmp.path())).await.unwrap();
    let got = all(&storage, "t").await;
    assert_eq!(got.len(), 8);
    assert!(got.iter().all(|s| s.samples.len() == 20));
}

#[tokio::test]
async fn exemplars_and_metadata_survive_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::open(config(tmp.path())).await.unwrap();
    let mut s = series("req", "a", &[(1000, 1.0)]);
    s.exemplars = vec![Exemplar {
        labels: Labels::from_pairs([("trace_id", "abc")]),
        value: 0.5,
        t: 1000,
    }];
    let meta = MetricMetadata {
        metric_family: "req".into(),
        metric_type: MetricType::Counter,
        help: "Requests.".into(),
        unit: String::new(),
    };
    let stats = storage
        .append(
            "t",
            AppendBatch {
                series: vec![s],
                metadata: vec![meta.clone()],
            },
        )
        .await
        .unwrap();
    assert_eq!(stats.exemplars, 1);
    drop(storage);
    let storage = Storage::open(config(tmp.path())).await.unwrap();
    let ex = storage
        .exemplars("t", &[vec![LabelMatcher::equal("__name__", "req")]], 0, 2000)
        .await
        .unwrap();
    assert_eq!(ex.len(), 1);
    assert_eq!(ex[0].1[0].labels.get("trace_id"), Some("abc"));
    assert_eq!(storage.metadata("t", None), vec![meta]);
    assert!(storage.metadata("other", None).is_empty());
}

/// Whether or not the block store accepts the block, flushing and reopening must return
/// every acknowledged sample: on success from blocks (and a truncated WAL), on failure from
/// the head and the WAL that were kept for a retry.
#[tokio::test]
async fn flush_then_reopen_keeps_every_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::open(config(tmp.path())).await.unwrap();
    // Four hours of data: the first block range [0, 2h) is cut (head max − 1h = 3h).
    let samples: Vec<(i64, f64)> = (0..240).map(|i| (i * 60_000, i as f64)).collect();
    storage
        .append("t", batch(vec![series("up", "a", &samples)]))
        .await
        .unwrap();
    let before = sample_bits(&all(&storage, "t").await);
    let flushed = storage.flush_head().await;
    match &flushed {
        Ok(()) => {
            assert!(storage.stats().blocks >= 1);
            let head = storage.head("t").unwrap();
            assert_eq!(head.time_range().map(|r| r.0), Some(2 * HOUR));
            // Below the cut, in-order appends are now out of bounds.
            let stats = storage
                .append("t", batch(vec![series("late", "z", &[(HOUR, 1.0)])]))
                .await
                .unwrap();
            assert_eq!(stats.rejected_out_of_order, 1);
        }
        Err(_) => {
            assert_eq!(storage.head("t").unwrap().time_range(), Some((0, 239 * 60_000)));
        }
    }
    assert_eq!(sample_bits(&all(&storage, "t").await), before);
    drop(storage);
    let storage = Storage::open(config(tmp.path())).await.unwrap();
    assert_eq!(sample_bits(&all(&storage, "t").await), before);
    if flushed.is_ok() {
        // The WAL was folded into a checkpoint without the blocked range: replay brought
        // back only the part still in the head.
        assert_eq!(storage.head("t").unwrap().time_range().map(|r| r.0), Some(2 * HOUR));
        let names: Vec<String> = std::fs::read_dir(tmp.path().join("wal"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().any(|n| n.starts_with("checkpoint.")), "{names:?}");
        // Out-of-order data below the cut is refused after a restart too.
        let stats = storage
            .append("t", batch(vec![series("up", "a", &[(HOUR, 1.0)])]))
            .await
            .unwrap();
        assert_eq!(stats.rejected_out_of_order, 1);
        // More data: a second cut folds the first checkpoint.
        let more: Vec<(i64, f64)> = (240..480).map(|i| (i * 60_000, i as f64)).collect();
        storage
            .append("t", batch(vec![series("up", "a", &more)]))
            .await
            .unwrap();
        storage.flush_head().await.unwrap();
        drop(storage);
        let storage = Storage::open(config(tmp.path())).await.unwrap();
        let got = all(&storage, "t").await;
        assert_eq!(got[0].samples.len(), 480);
        assert_eq!(storage.head("t").unwrap().time_range().map(|r| r.0), Some(6 * HOUR));
        storage.close().await.unwrap();
        return;
    }
    storage.close().await.unwrap();
}

/// A block store that cannot write (its directory replaced by a file) must not cost data:
/// the cut fails, is retried later, and head and WAL keep everything.
#[tokio::test]
async fn failed_block_write_keeps_head_and_wal() {
    let tmp = tempfile::tempdir().unwrap();
    let blocks_dir = tmp.path().join("bucket");
    let mut cfg = config(&tmp.path().join("data"));
    cfg.object_store = ObjectStoreConfig::Filesystem {
        path: blocks_dir.clone(),
    };
    std::fs::create_dir_all(&blocks_dir).unwrap();
    let storage = Storage::open(cfg.clone()).await.unwrap();
    std::fs::remove_dir_all(&blocks_dir).unwrap();
    std::fs::write(&blocks_dir, b"not a directory").unwrap();

    let samples: Vec<(i64, f64)> = (0..300).map(|i| (i * 60_000, i as f64)).collect();
    storage
        .append("t", batch(vec![series("up", "a", &samples)]))
        .await
        .unwrap();
    assert!(storage.flush_head().await.is_err());
    assert!(storage.flush_head().await.is_err(), "a retry fails the same way");
    assert_eq!(all(&storage, "t").await[0].samples.len(), 300);
    let wal_segments = std::fs::read_dir(cfg.data_dir.join("wal")).unwrap().count();
    assert!(wal_segments >= 2, "nothing was checkpointed away");
    drop(storage);

    std::fs::remove_file(&blocks_dir).unwrap();
    std::fs::create_dir_all(&blocks_dir).unwrap();
    let storage = Storage::open(cfg).await.unwrap();
    assert_eq!(all(&storage, "t").await[0].samples.len(), 300);
}

#[test]
fn merge_prefers_head_samples() {
    let l = Labels::from_pairs([("a", "1")]);
    let head = vec![Series {
        labels: l.clone(),
        samples: vec![Sample { t: 2, v: 20.0 }, Sample { t: 3, v: 30.0 }],
        histograms: Vec::new(),
        start_timestamps: Vec::new(),
    }];
    let other = Labels::from_pairs([("a", "0")]);
    let blocks = vec![
        Series {
            labels: other.clone(),
            samples: vec![Sample { t: 1, v: 0.0 }],
            histograms: Vec::new(),
            start_timestamps: Vec::new(),
        },
        Series {
            labels: l.clone(),
            samples: vec![Sample { t: 1, v: 1.0 }, Sample { t: 2, v: 2.0 }],
            histograms: Vec::new(),
            start_timestamps: Vec::new(),
        },
    ];
    let merged = merge_series(head, blocks);
    assert_eq!(merged.len(), 2);
    assert_eq!(merged[0].labels, other);
    assert_eq!(
        merged[1].samples,
        vec![
            Sample { t: 1, v: 1.0 },
            Sample { t: 2, v: 20.0 },
            Sample { t: 3, v: 30.0 }
        ]
    );
}

#[tokio::test]
async fn all_or_nothing_batch_is_neither_applied_nor_logged() {
    let tmp = tempfile::tempdir().unwrap();
    let storage = Storage::open(config(tmp.path())).await.unwrap();
    storage
        .append("t", batch(vec![series("up", "a", &[(2000, 2.0)])]))
        .await
        .unwrap();
    let report = storage
        .append_with_mode(
            "t",
            batch(vec![
                series("other", "b", &[(5000, 1.0)]),
                series("up", "a", &[(2000, 7.0)]),
            ]),
            AppendMode::AllOrNothing,
        )
        .await
        .unwrap();
    let rejection = report.first_rejection.unwrap();
    assert_eq!(rejection.reason, Reject::Duplicate { existing: Some(2.0) });
    assert_eq!(rejection.value, Some(7.0));
    assert_eq!(report.stats.samples, 0);
    assert_eq!(all(&storage, "t").await.len(), 1);
    drop(storage);
    let storage = Storage::open(config(tmp.path())).await.unwrap();
    let got = all(&storage, "t").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].samples, vec![Sample { t: 2000, v: 2.0 }]);
}

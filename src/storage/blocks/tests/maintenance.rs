//! Retention, compaction and the garbage they leave behind.

use super::*;

#[tokio::test]
async fn compaction_collects_blocks_that_were_never_completed_after_a_grace_period() {
    let fx = Fixture::new();
    let store = fx.open("cache").await;
    let data = vec![series(&[("__name__", "x")], &[(1, 1.0)])];
    let old = store.write_metrics_block("t", data.clone(), 0, 9).await.unwrap();
    let young = store.write_metrics_block("t", data.clone(), 10, 19).await.unwrap();
    let complete = store.write_metrics_block("t", data, 20, 29).await.unwrap();
    // Two writers "died" before meta.json; one of them long ago.
    std::fs::remove_file(fx.block_file("t", &old.id, META_FILE)).unwrap();
    std::fs::remove_file(fx.block_file("t", &young.id, META_FILE)).unwrap();
    let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 3600);
    for file in [SAMPLES_FILE, SERIES_FILE] {
        let handle = std::fs::File::options()
            .write(true)
            .open(fx.block_file("t", &old.id, file))
            .unwrap();
        handle.set_modified(long_ago).unwrap();
    }
    let fresh = fx.open("fresh").await;
    fresh.compact("t").await.unwrap();
    assert!(!fx.block_file("t", &old.id, SAMPLES_FILE).exists());
    assert!(fx.block_file("t", &young.id, SAMPLES_FILE).exists());
    assert!(fx.block_file("t", &complete.id, SAMPLES_FILE).exists());
}

#[tokio::test]
async fn retention_deletes_whole_old_blocks_meta_first() {
    let fx = Fixture::new();
    let store = fx.open("cache").await;
    let mut ids = Vec::new();
    for hour in 0..3 {
        let t = hour * HOUR;
        let meta = store
            .write_metrics_block("t", vec![series(&[("__name__", "x")], &[(t, 1.0)])], t, t + HOUR - 1)
            .await
            .unwrap();
        ids.push(meta.id);
    }
    store
        .write_metrics_block("u", vec![series(&[("__name__", "x")], &[(0, 1.0)])], 0, HOUR - 1)
        .await
        .unwrap();
    // Only blocks entirely before the cutoff go; the block containing it stays.
    assert_eq!(store.apply_retention(2 * HOUR - 1).await.unwrap(), 2);
    assert_eq!(
        store.blocks("t").iter().map(|b| b.id.clone()).collect::<Vec<_>>(),
        vec![ids[1].clone(), ids[2].clone()]
    );
    assert!(store.blocks("u").is_empty());
    assert!(!fx.block_file("t", &ids[0], SAMPLES_FILE).exists());
    assert!(!fx.bucket.join(layout::block_dir("t", &ids[0]).as_ref()).exists());
    let fresh = fx.open("fresh").await;
    assert_eq!(fresh.blocks("t").len(), 2);
}

#[tokio::test]
async fn compaction_merges_a_window_without_losing_or_duplicating_data() {
    let fx = Fixture::new();
    let store = fx.open("cache").await;
    let mut sources = Vec::new();
    // Three 2h blocks in the first 6h window, one in the next.
    for block in 0..4 {
        let start = block * 2 * HOUR;
        let mut data = Vec::new();
        for s in 0..5 {
            let job = format!("j{s}");
            let samples: Vec<(i64, f64)> = (0..10).map(|i| (start + i * 60_000, (block * 10 + i) as f64)).collect();
            data.push(series(&[("__name__", "m"), ("job", &job)], &samples));
        }
        if block == 1 {
            data[0].samples.push(Sample {
                t: start + 11 * 60_000,
                v: stale_nan(),
            });
        }
        sources.push(
            store
                .write_metrics_block("t", data, start, start + 2 * HOUR - 1)
                .await
                .unwrap(),
        );
    }
    let before = store
        .select("t", &[eq("__name__", "m")], i64::MIN, i64::MAX)
        .await
        .unwrap();

    assert_eq!(store.compact("t").await.unwrap(), 1);
    let blocks = store.blocks("t");
    assert_eq!(blocks.iter().map(|b| b.level).collect::<Vec<_>>(), vec![2, 1]);
    assert_eq!((blocks[0].min_time, blocks[0].max_time), (0, 6 * HOUR - 1));
    assert_eq!(blocks[0].samples, 5 * 30 + 1);
    assert_eq!(blocks[1].id, sources[3].id);
    for source in &sources[..3] {
        assert!(!fx.block_file("t", &source.id, META_FILE).exists());
    }
    let after = store
        .select("t", &[eq("__name__", "m")], i64::MIN, i64::MAX)
        .await
        .unwrap();
    assert_eq!(format!("{after:?}"), format!("{before:?}"));
    assert_eq!(after[0].samples.len(), 41);

    // Nothing left to merge; a fresh process sees the same.
    assert_eq!(store.compact("t").await.unwrap(), 0);
    let fresh = fx.open("fresh").await;
    assert_eq!(fresh.blocks("t"), blocks);
}

#[tokio::test]
async fn a_merged_block_hides_its_sources_even_before_they_are_deleted() {
    let fx = Fixture::new();
    let store = fx.open("cache").await;
    let data = vec![series(&[("__name__", "x")], &[(1, 1.0), (2, 2.0)])];
    let source = store.write_metrics_block("t", data.clone(), 0, 9).await.unwrap();
    // As if a compactor died after writing the merged block.
    let merged = store
        .write_block("t", data, 0, 9, 2, vec![source.id.clone()])
        .await
        .unwrap();
    let fresh = fx.open("fresh").await;
    assert_eq!(
        fresh.blocks("t").iter().map(|b| b.id.clone()).collect::<Vec<_>>(),
        vec![merged.id.clone()]
    );
    assert_eq!(
        fresh.select("t", &[eq("__name__", "x")], 0, 9).await.unwrap()[0]
            .samples
            .len(),
        2
    );
    // The next compaction finishes the job.
    fresh.compact("t").await.unwrap();
    assert!(!fx.block_file("t", &source.id, META_FILE).exists());
}

#[tokio::test]
async fn start_timestamps_round_trip_through_blocks_and_compaction() {
    use crate::storage::model::StartTimestamp;
    let fx = Fixture::new();
    let store = fx.open("cache").await;
    // Three blocks in the first 6 h window (compacted), one in the next (so the window is
    // complete).
    for block in 0..4 {
        let start = block * 2 * HOUR;
        let samples: Vec<(i64, f64)> = (0..10).map(|i| (start + i * 60_000, 1.0)).collect();
        let mut delta = series(&[("__name__", "d"), ("job", "a")], &samples);
        // Every sample but the fourth has a start timestamp, half an interval back (never 0,
        // which would mean "none").
        delta.start_timestamps = samples
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3)
            .map(|(_, &(t, _))| StartTimestamp { t, st: t - 30_000 })
            .collect();
        let plain = series(&[("__name__", "p"), ("job", "a")], &samples);
        store
            .write_metrics_block("t", vec![delta, plain], start, start + 2 * HOUR - 1)
            .await
            .unwrap();
    }
    let check = |result: &[Series], what: &str| {
        let d = result.iter().find(|s| s.labels.metric_name() == Some("d")).unwrap();
        let p = result.iter().find(|s| s.labels.metric_name() == Some("p")).unwrap();
        assert!(p.start_timestamps.is_empty(), "{what}");
        assert_eq!(d.start_timestamps.len(), 4 * 9, "{what}");
        assert!(d.start_timestamps.iter().all(|s| s.st == s.t - 30_000), "{what}");
        assert!(
            !d.start_timestamps.iter().any(|s| s.t % (2 * HOUR) == 3 * 60_000),
            "{what}"
        );
    };
    let before = store.select("t", &[], i64::MIN, i64::MAX).await.unwrap();
    check(&before, "before compaction");
    // A time range cuts start timestamps like samples.
    let part = store
        .select("t", &[eq("__name__", "d")], 2 * HOUR, 2 * HOUR + 2 * 60_000)
        .await
        .unwrap();
    assert_eq!(
        part[0].start_timestamps,
        vec![
            StartTimestamp {
                t: 2 * HOUR,
                st: 2 * HOUR - 30_000
            },
            StartTimestamp {
                t: 2 * HOUR + 60_000,
                st: 2 * HOUR + 30_000
            },
            StartTimestamp {
                t: 2 * HOUR + 2 * 60_000,
                st: 2 * HOUR + 90_000
            },
        ]
    );

    assert_eq!(store.compact("t").await.unwrap(), 1);
    let fresh = fx.open("fresh").await;
    let after = fresh.select("t", &[], i64::MIN, i64::MAX).await.unwrap();
    check(&after, "after compaction");
    assert_eq!(format!("{after:?}"), format!("{before:?}"));
}

//! Writing, reading, reopening, and what corrupt or half-written blocks do.

use super::*;

#[tokio::test]
async fn write_then_select_with_matchers_ranges_and_exact_nan_bits() {
    let fx = Fixture::new();
    let store = fx.open("cache").await;
    let meta = store
        .write_metrics_block("team-a", first_block(), 0, 3_999)
        .await
        .unwrap();
    assert_eq!((meta.series, meta.samples, meta.level), (3, 6, 1));
    assert_eq!((meta.min_time, meta.max_time), (0, 3_999));
    assert!(fx.block_file("team-a", &meta.id, META_FILE).exists());

    let all = store
        .select("team-a", &[re("__name__", ".+")], 0, 10_000)
        .await
        .unwrap();
    assert_eq!(
        names(&all),
        vec![
            r#"{__name__="rpc_seconds", job="api"}"#,
            r#"{__name__="up", instance="a", job="api"}"#,
            r#"{__name__="up", instance="b", job="node"}"#,
        ]
    );
    let node = &all[2];
    assert_eq!(node.samples[1].v.to_bits(), STALE_NAN_BITS);
    assert!(node.samples[2].v.is_nan() && node.samples[2].v.to_bits() != STALE_NAN_BITS);
    assert_eq!(all[0].histograms.len(), 2);
    assert_eq!(all[0].histograms[0].h, histogram(3.5));
    assert_eq!(all[0].histograms[1].h.sum.to_bits(), STALE_NAN_BITS);

    let api = store
        .select("team-a", &[eq("__name__", "up"), eq("job", "api")], 1_500, 3_000)
        .await
        .unwrap();
    assert_eq!(names(&api), vec![r#"{__name__="up", instance="a", job="api"}"#]);
    assert_eq!(times(&api[0]), vec![2_000, 3_000]);

    let not_api = LabelMatcher::new("job", MatchOp::NotEqual, "api").unwrap();
    let others = store.select("team-a", &[not_api], 0, 10_000).await.unwrap();
    assert_eq!(names(&others), vec![r#"{__name__="up", instance="b", job="node"}"#]);

    assert!(
        store
            .select("team-b", &[re("__name__", ".+")], 0, 10_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .select("team-a", &[eq("__name__", "nope")], 0, 10_000)
            .await
            .unwrap()
            .is_empty()
    );

    let labels = store
        .series("team-a", &[eq("__name__", "up")], 0, 10_000)
        .await
        .unwrap();
    assert_eq!(labels.len(), 2);
    assert_eq!(store.max_time("team-a"), Some(3_999));
    assert_eq!(store.max_time("team-b"), None);
}

#[tokio::test]
async fn merges_one_series_across_blocks_and_prunes_blocks_by_time() {
    let fx = Fixture::new();
    let store = fx.open("cache").await;
    let labels = [("__name__", "x"), ("job", "a")];
    let early = store
        .write_metrics_block("t", vec![series(&labels, &[(10, 1.0), (20, 2.0)])], 0, 99)
        .await
        .unwrap();
    // Overlaps the first block at t=20: deduplicated, the earlier block wins.
    let late = store
        .write_metrics_block(
            "t",
            vec![
                series(&labels, &[(20, 9.0), (120, 3.0)]),
                series(&[("__name__", "x"), ("job", "b")], &[(150, 5.0)]),
            ],
            100,
            199,
        )
        .await
        .unwrap();
    let blocks = store.blocks("t");
    assert_eq!(
        blocks.iter().map(|b| b.id.clone()).collect::<Vec<_>>(),
        vec![early.id.clone(), late.id.clone()]
    );
    // late's min_time widened to its data (20).
    assert_eq!(late.min_time, 20);

    let result = store.select("t", &[eq("__name__", "x")], 0, 1_000).await.unwrap();
    assert_eq!(
        names(&result),
        vec![r#"{__name__="x", job="a"}"#, r#"{__name__="x", job="b"}"#]
    );
    assert_eq!(times(&result[0]), vec![10, 20, 120]);
    assert_eq!(result[0].samples[1].v, 2.0);

    // Break the early block's samples: a query after it must not read them at all.
    std::fs::write(fx.block_file("t", &early.id, SAMPLES_FILE), b"garbage").unwrap();
    let pruned = store.select("t", &[eq("__name__", "x")], 100, 1_000).await.unwrap();
    assert_eq!(times(&pruned[0]), vec![120]);
    assert!(store.select("t", &[eq("__name__", "x")], 0, 1_000).await.is_err());
}

#[tokio::test]
async fn reopens_from_the_bucket_with_a_fresh_or_warm_cache() {
    let fx = Fixture::new();
    let expected = {
        let store = fx.open("cache").await;
        store.write_metrics_block("t", first_block(), 0, 3_999).await.unwrap();
        store.write_metrics_block("u", first_block(), 0, 3_999).await.unwrap();
        store.select("t", &[re("job", ".+")], 0, 10_000).await.unwrap()
    };
    // Another process with an empty cache finds everything by listing the bucket.
    let fresh = fx.open("other-cache").await;
    assert_eq!(fresh.blocks("t").len(), 1);
    assert_eq!(fresh.blocks("u").len(), 1);
    let got = fresh.select("t", &[re("job", ".+")], 0, 10_000).await.unwrap();
    assert_eq!(format!("{got:?}"), format!("{expected:?}"));
    drop(fresh);

    // The warm cache answers the index even when series.parquet is gone from the bucket...
    let id = fx.open("cache").await.blocks("t")[0].id.clone();
    let series_path = fx.block_file("t", &id, SERIES_FILE);
    let series_bytes = std::fs::read(&series_path).unwrap();
    std::fs::remove_file(&series_path).unwrap();
    let warm = fx.open("cache").await;
    assert_eq!(warm.series("t", &[re("job", ".+")], 0, 10_000).await.unwrap().len(), 3);
    drop(warm);
    // ...while a fresh cache has to read it, and says so when it cannot.
    let cold = fx.open("cold-cache").await;
    assert!(matches!(
        cold.series("t", &[re("job", ".+")], 0, 10_000).await,
        Err(StorageError::ObjectStore(_))
    ));
    std::fs::write(&series_path, series_bytes).unwrap();
}

#[tokio::test]
async fn refresh_picks_up_blocks_other_processes_write_and_delete() {
    let fx = Fixture::new();
    let reader = fx.open("reader").await;
    let writer = fx.open("writer").await;
    writer
        .write_metrics_block("t", vec![series(&[("__name__", "x")], &[(1, 1.0)])], 0, 9)
        .await
        .unwrap();
    assert!(reader.blocks("t").is_empty());
    reader.refresh().await.unwrap();
    assert_eq!(reader.blocks("t").len(), 1);
    writer.apply_retention(100).await.unwrap();
    reader.refresh().await.unwrap();
    assert!(reader.blocks("t").is_empty());
}

#[tokio::test]
async fn half_written_blocks_are_invisible() {
    let fx = Fixture::new();
    let store = fx.open("cache").await;
    let meta = store
        .write_metrics_block("t", vec![series(&[("__name__", "x")], &[(1, 1.0)])], 0, 9)
        .await
        .unwrap();
    std::fs::remove_file(fx.block_file("t", &meta.id, META_FILE)).unwrap();
    let fresh = fx.open("fresh").await;
    assert!(fresh.blocks("t").is_empty());
    assert!(
        fresh
            .select("t", &[eq("__name__", "x")], 0, 9)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn corrupt_files_are_errors_not_panics() {
    let fx = Fixture::new();
    let store = fx.open("cache").await;
    let meta = store.write_metrics_block("t", first_block(), 0, 3_999).await.unwrap();
    let samples = fx.block_file("t", &meta.id, SAMPLES_FILE);
    let series_file = fx.block_file("t", &meta.id, SERIES_FILE);
    let valid_series = std::fs::read(&series_file).unwrap();

    // Garbage of the same size, then a valid Parquet file of the wrong schema.
    let size = std::fs::metadata(&samples).unwrap().len() as usize;
    std::fs::write(&samples, vec![0x5a; size]).unwrap();
    let fresh = fx.open("fresh-1").await;
    let error = fresh.select("t", &[eq("__name__", "up")], 0, 9_999).await.unwrap_err();
    assert!(matches!(error, StorageError::Corrupt { .. }), "{error}");

    std::fs::write(&samples, &valid_series).unwrap();
    let fresh = fx.open("fresh-2").await;
    assert!(fresh.select("t", &[eq("__name__", "up")], 0, 9_999).await.is_err());

    std::fs::write(&series_file, b"PAR1 not really PAR1").unwrap();
    let fresh = fx.open("fresh-3").await;
    let error = fresh.series("t", &[eq("__name__", "up")], 0, 9_999).await.unwrap_err();
    assert!(matches!(error, StorageError::Corrupt { .. }), "{error}");

    // A meta.json that is not JSON hides the block instead of failing the open.
    std::fs::write(fx.block_file("t", &meta.id, META_FILE), b"{").unwrap();
    let fresh = fx.open("fresh-4").await;
    assert!(fresh.blocks("t").is_empty());
}

#[tokio::test]
async fn a_reader_with_a_stale_catalog_recovers_after_another_process_compacts() {
    let fx = Fixture::new();
    let compactor = fx.open("compactor").await;
    for block in 0..4 {
        let start = block * 2 * HOUR;
        let data = vec![series(&[("__name__", "x")], &[(start, block as f64)])];
        compactor
            .write_metrics_block("t", data, start, start + 2 * HOUR - 1)
            .await
            .unwrap();
    }
    let reader = fx.open("reader").await;
    assert_eq!(reader.blocks("t").len(), 4);
    assert_eq!(compactor.compact("t").await.unwrap(), 1);

    // The reader still lists the deleted sources; its reads fail, it refreshes and retries.
    let got = reader.select("t", &[eq("__name__", "x")], 0, 8 * HOUR).await.unwrap();
    assert_eq!(times(&got[0]), vec![0, 2 * HOUR, 4 * HOUR, 6 * HOUR]);
    assert_eq!(reader.blocks("t").len(), 2);
    let fresh_reader = fx.open("reader-2").await;
    assert_eq!(
        fresh_reader
            .series("t", &[eq("__name__", "x")], 0, 8 * HOUR)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Compile-time check: the facade shares the store and spawns these futures on a
/// multi-threaded runtime.
#[allow(dead_code)]
fn block_store_futures_are_send(store: &BlockStore) {
    fn send<T: Send>(_: T) {}
    fn shared<T: Send + Sync>() {}
    shared::<BlockStore>();
    send(store.write_metrics_block("t", Vec::new(), 0, 1));
    send(store.select("t", &[], 0, 1));
    send(store.series("t", &[], 0, 1));
    send(store.apply_retention(0));
    send(store.compact("t"));
    send(store.refresh());
}

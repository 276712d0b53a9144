//! Behaviour of the block store on a local-filesystem bucket.

use super::BlockStore;
use super::layout::{self, META_FILE, SAMPLES_FILE, SERIES_FILE};
use crate::storage::config::ObjectStoreConfig;
use crate::storage::error::StorageError;
use crate::storage::labels::Labels;
use crate::storage::matcher::{LabelMatcher, MatchOp};
use crate::storage::model::{
    BucketSpan, HistogramCounts, HistogramSample, NativeHistogram, STALE_NAN_BITS, Sample, Series, stale_nan,
};
use std::path::PathBuf;

const HOUR: i64 = 3_600_000;

struct Fixture {
    _dir: tempfile::TempDir,
    bucket: PathBuf,
    root: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("bucket");
        let root = dir.path().to_path_buf();
        Self {
            _dir: dir,
            bucket,
            root,
        }
    }

    fn config(&self) -> ObjectStoreConfig {
        ObjectStoreConfig::Filesystem {
            path: self.bucket.clone(),
        }
    }

    /// Opens a store with its own cache directory (a fresh cache unless `cache` was used).
    async fn open(&self, cache: &str) -> BlockStore {
        BlockStore::open(&self.config(), &self.root.join(cache)).await.unwrap()
    }

    fn block_file(&self, tenant: &str, id: &str, file: &str) -> PathBuf {
        self.bucket.join(layout::block_file(tenant, id, file).as_ref())
    }
}

fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> Series {
    Series {
        labels: Labels::from_pairs(pairs.iter().copied()),
        samples: samples.iter().map(|&(t, v)| Sample { t, v }).collect(),
        histograms: Vec::new(),
    }
}

fn histogram(sum: f64) -> NativeHistogram {
    NativeHistogram {
        counts: HistogramCounts::Int {
            count: 4,
            zero_count: 1,
            negative_deltas: vec![],
            positive_deltas: vec![2, -1],
        },
        sum,
        schema: 0,
        zero_threshold: 0.001,
        negative_spans: vec![],
        positive_spans: vec![BucketSpan { offset: 0, length: 2 }],
        reset_hint: 0,
        custom_values: vec![],
    }
}

fn eq(name: &str, value: &str) -> LabelMatcher {
    LabelMatcher::equal(name, value)
}

fn re(name: &str, value: &str) -> LabelMatcher {
    LabelMatcher::new(name, MatchOp::RegexMatch, value).unwrap()
}

fn names(result: &[Series]) -> Vec<String> {
    result.iter().map(|s| s.labels.to_string()).collect()
}

fn times(series: &Series) -> Vec<i64> {
    series.samples.iter().map(|s| s.t).collect()
}

fn first_block() -> Vec<Series> {
    let mut with_histograms = series(&[("__name__", "rpc_seconds"), ("job", "api")], &[]);
    with_histograms.histograms = vec![
        HistogramSample {
            t: 1_000,
            h: histogram(3.5),
        },
        HistogramSample {
            t: 2_000,
            h: histogram(stale_nan()),
        },
    ];
    vec![
        // Deliberately unsorted by labels: the store sorts.
        series(
            &[("__name__", "up"), ("job", "node"), ("instance", "b")],
            &[(1_000, 1.0), (2_000, stale_nan()), (3_000, f64::NAN)],
        ),
        series(
            &[("__name__", "up"), ("job", "api"), ("instance", "a")],
            &[(1_000, 1.0), (2_000, 0.0), (3_000, 1.0)],
        ),
        with_histograms,
        series(&[("__name__", "empty")], &[]),
    ]
}

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

/// Deterministic noise for the size measurement.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// 1000 series × 720 samples at a 10s interval with a few ms of scrape jitter: half slowly
/// rising counters, half noisy gauges. Prints bytes per sample for BENCHMARKS.md.
#[tokio::test]
async fn bytes_per_sample_of_a_realistic_block() {
    let fx = Fixture::new();
    let store = fx.open("cache").await;
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let build = |rng: &mut XorShift, gauge: bool| -> Vec<Series> {
        (0..500)
            .map(|i| {
                let mut value = if gauge { 0.0 } else { (rng.next() % 10_000) as f64 };
                let samples = (0..720)
                    .map(|k| {
                        let t = 1_700_000_000_000 + k * 10_000 + (rng.next() % 5) as i64;
                        value = if gauge {
                            50.0 + 10.0 * rng.unit()
                        } else {
                            value + (rng.next() % 20) as f64
                        };
                        Sample { t, v: value }
                    })
                    .collect();
                let name = if gauge { "node_load" } else { "http_requests_total" };
                Series {
                    labels: Labels::from_pairs([
                        ("__name__", name.to_string()),
                        ("instance", format!("host-{i}:9100")),
                        ("job", "node".to_string()),
                    ]),
                    samples,
                    histograms: Vec::new(),
                }
            })
            .collect()
    };
    let counters = build(&mut rng, false);
    let gauges = build(&mut rng, true);
    let (start, end) = (1_700_000_000_000, 1_700_000_000_000 + 7_200_000);
    let counter_meta = store.write_metrics_block("c", counters, start, end).await.unwrap();
    let gauge_meta = store.write_metrics_block("g", gauges, start, end).await.unwrap();
    let both: Vec<Series> = [
        store.select("c", &[], start, end).await.unwrap(),
        store.select("g", &[], start, end).await.unwrap(),
    ]
    .concat();
    assert_eq!(both.iter().map(|s| s.samples.len()).sum::<usize>(), 720_000);
    let mixed_meta = store.write_metrics_block("m", both, start, end).await.unwrap();
    let per_sample = |m: &super::BlockMeta| m.bytes as f64 / m.samples as f64;
    let samples_only = |m: &super::BlockMeta, fx: &Fixture, tenant: &str| {
        std::fs::metadata(fx.block_file(tenant, &m.id, SAMPLES_FILE))
            .unwrap()
            .len() as f64
            / m.samples as f64
    };
    println!(
        "bytes/sample: counters {:.3} (samples file {:.3}), gauges {:.3} ({:.3}), mixed {:.3} ({:.3})",
        per_sample(&counter_meta),
        samples_only(&counter_meta, &fx, "c"),
        per_sample(&gauge_meta),
        samples_only(&gauge_meta, &fx, "g"),
        per_sample(&mixed_meta),
        samples_only(&mixed_meta, &fx, "m"),
    );
    for (tenant, meta) in [("c", &counter_meta), ("g", &gauge_meta)] {
        let bytes = bytes::Bytes::from(std::fs::read(fx.block_file(tenant, &meta.id, SAMPLES_FILE)).unwrap());
        let footer = parquet::file::metadata::ParquetMetaDataReader::new()
            .parse_and_finish(&bytes)
            .unwrap();
        let mut per_column = [0i64; 3];
        for group in footer.row_groups() {
            for (column, total) in per_column.iter_mut().enumerate() {
                *total += group.column(column).compressed_size();
            }
        }
        let samples = meta.samples as f64;
        println!(
            "{tenant}: series_id {:.3}, t {:.3}, v {:.3} bytes/sample",
            per_column[0] as f64 / samples,
            per_column[1] as f64 / samples,
            per_column[2] as f64 / samples
        );
    }
    assert!(per_sample(&counter_meta) < 4.0);

    // One series out of a thousand, from a fresh process (cold cache): the index, the footer
    // and a few pages, not the samples file.
    let cold = fx.open("cold").await;
    let one = cold
        .select(
            "m",
            &[eq("instance", "host-7:9100"), eq("__name__", "node_load")],
            start,
            end,
        )
        .await
        .unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].samples.len(), 720);
    let samples_file = std::fs::metadata(fx.block_file("m", &mixed_meta.id, SAMPLES_FILE))
        .unwrap()
        .len();
    let series_file = std::fs::metadata(fx.block_file("m", &mixed_meta.id, SERIES_FILE))
        .unwrap()
        .len();
    println!(
        "one-series query read {} bytes (series.parquet {series_file}, samples.parquet {samples_file})",
        cold.bytes_read()
    );
    assert!(cold.bytes_read() < series_file + samples_file / 10);
    assert!(per_sample(&mixed_meta) < 8.0);
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

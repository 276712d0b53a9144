//! Behaviour of the block store on a local-filesystem bucket: shared fixture and helpers.

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
        start_timestamps: Vec::new(),
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

mod encoding;
mod maintenance;
mod reads;
mod size;

//! Bytes per sample of Parquet blocks on the benchmark's data, without a server: generates
//! the same deterministic series `heimsight-loadgen backfill` sends (scripts/bench.sh phase
//! B), writes them as the cutter would (aligned 2h blocks), compacts like the running store,
//! then prints `du`-style bytes per sample and where the bytes are, per file and per column.
//!
//! ```text
//! cargo run --example block_sizes -- [series] [hours] [kind]
//! ```
//! `kind` keeps only one metric family of the mix (0–9, see `metric_mix`), to see what each
//! value shape costs.

#[allow(dead_code)]
#[path = "../src/bin/heimsight-loadgen/series.rs"]
mod series;

use heimsight::storage::blocks::BlockStore;
use heimsight::storage::{LabelMatcher, Labels, MatchOp, ObjectStoreConfig, Sample, Series};
use parquet::file::reader::{FileReader, SerializedFileReader};
use series::{SeriesSpec, SeriesState, metric_mix, series_labels};
use std::collections::BTreeMap;
use std::path::Path;

const INTERVAL_MS: i64 = 15_000;
const BLOCK_MS: i64 = 2 * 3_600_000;
/// A fixed end (15s-aligned, like the bench's "now − 3h05m"), so runs are comparable.
const END_MS: i64 = 1_763_700_015_000;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let series_count: usize = args.get(1).map_or(Ok(10_000), |a| a.parse())?;
    let hours: i64 = args.get(2).map_or(Ok(6), |a| a.parse())?;
    let only_kind: Option<usize> = args.get(3).map(|a| a.parse()).transpose()?;
    let spec = SeriesSpec {
        series: series_count,
        labels: 8,
        metrics: 10,
        counter_percent: 50,
        seed: 1,
        job: "bench".to_string(),
    };
    let mix = metric_mix(spec.metrics, spec.counter_percent);
    let start_ms = END_MS - hours * 3_600_000;
    let ticks = ((END_MS - start_ms) / INTERVAL_MS + 1) as usize;

    let dir = tempfile::tempdir()?;
    let bucket = dir.path().join("blocks");
    std::fs::create_dir_all(&bucket)?;
    let config = ObjectStoreConfig::Filesystem { path: bucket.clone() };
    let store = BlockStore::open(&config, &dir.path().join("cache")).await?;

    let indexes: Vec<usize> = (0..spec.series)
        .filter(|i| only_kind.is_none_or(|k| i % mix.len() == k))
        .collect();
    let mut all: Vec<(Labels, Vec<Sample>)> = indexes
        .iter()
        .map(|&i| {
            let mut state = SeriesState::new(&spec, &mix, i);
            let samples = (0..ticks)
                .map(|tick| Sample {
                    t: start_ms + tick as i64 * INTERVAL_MS,
                    v: state.advance(),
                })
                .collect();
            (Labels::from_pairs(series_labels(&spec, &mix, i)), samples)
        })
        .collect();
    let total: usize = all.iter().map(|(_, s)| s.len()).sum();

    let started = std::time::Instant::now();
    let mut window = start_ms.div_euclid(BLOCK_MS) * BLOCK_MS;
    while window <= END_MS {
        let end = window + BLOCK_MS;
        let series: Vec<Series> = all
            .iter_mut()
            .map(|(labels, samples)| {
                let split = samples.partition_point(|s| s.t < end);
                let rest = samples.split_off(split);
                let cut = std::mem::replace(samples, rest);
                Series {
                    labels: labels.clone(),
                    samples: cut,
                    ..Default::default()
                }
            })
            .filter(|s| !s.samples.is_empty())
            .collect();
        if !series.is_empty() {
            store.write_metrics_block("anonymous", series, window, end - 1).await?;
        }
        window = end;
    }
    let written = started.elapsed();
    let compacted = store.compact("anonymous").await?;

    let bytes = du(&bucket)?;
    println!(
        "{} series, {total} samples, {} blocks after {compacted} compactions (encode {:.1}s): {bytes} bytes, {:.3} B/sample",
        indexes.len(),
        store.blocks("anonymous").len(),
        written.as_secs_f64(),
        bytes as f64 / total as f64
    );
    let read_started = std::time::Instant::now();
    let everything = LabelMatcher::new("__name__", MatchOp::RegexMatch, ".+")?;
    let read = store.select("anonymous", &[everything], start_ms, END_MS).await?;
    let read_samples: usize = read.iter().map(|s| s.samples.len()).sum();
    println!(
        "read back {} series, {read_samples} samples in {:.1}s",
        read.len(),
        read_started.elapsed().as_secs_f64()
    );
    let mut by_column: BTreeMap<String, u64> = BTreeMap::new();
    collect_columns(&bucket, &mut by_column)?;
    for (column, bytes) in &by_column {
        println!(
            "  {column:<40} {bytes:>10}  {:.3} B/sample",
            *bytes as f64 / total as f64
        );
    }
    Ok(())
}

fn du(path: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { du(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}

/// Sums, over every block, each file's column chunks (compressed, page headers included) and
/// what is left of the file (footer, offset index, magic).
fn collect_columns(path: &Path, out: &mut BTreeMap<String, u64>) -> Result<(), Box<dyn std::error::Error>> {
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let path = entry.path();
        if path.is_dir() {
            collect_columns(&path, out)?;
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        let size = entry.metadata()?.len();
        if !name.ends_with(".parquet") {
            *out.entry(name).or_default() += size;
            continue;
        }
        let reader = SerializedFileReader::new(std::fs::File::open(&path)?)?;
        let mut in_chunks = 0;
        for group in reader.metadata().row_groups() {
            for column in group.columns() {
                let key = format!("{name}:{}", column.column_path().string());
                *out.entry(key).or_default() += column.compressed_size() as u64;
                in_chunks += column.compressed_size() as u64;
            }
        }
        *out.entry(format!("{name}:(footer, indexes)")).or_default() += size - in_chunks;
    }
    Ok(())
}

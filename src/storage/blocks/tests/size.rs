//! Bytes per sample of a realistic block, and how little of it a narrow query reads.

use super::*;

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
                    start_timestamps: Vec::new(),
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
    let per_sample = |m: &crate::storage::blocks::BlockMeta| m.bytes as f64 / m.samples as f64;
    let samples_only = |m: &crate::storage::blocks::BlockMeta, fx: &Fixture, tenant: &str| {
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
        let mut per_column: Vec<(String, i64)> = Vec::new();
        for group in footer.row_groups() {
            for (index, column) in group.columns().iter().enumerate() {
                match per_column.get_mut(index) {
                    Some((_, total)) => *total += column.compressed_size(),
                    None => per_column.push((column.column_path().string(), column.compressed_size())),
                }
            }
        }
        let samples = meta.samples as f64;
        let columns: Vec<String> = per_column
            .iter()
            .map(|(name, bytes)| format!("{name} {:.3}", *bytes as f64 / samples))
            .collect();
        println!("{tenant}: {} bytes/sample", columns.join(", "));
    }
    // Integer counters scale to small integer deltas (1.09 B/sample measured; 1.97 as raw f64).
    assert!(per_sample(&counter_meta) < 1.3);

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

//! Head append throughput without HTTP, decoding or the WAL: the benchmark's series (the
//! ones `heimsight-loadgen write` sends) appended through `TenantHead::append_floats` in the
//! batches a connection of the load generator would send, by one thread and by two at once.
//! It isolates the part of ingest that the head's locking and series lookup decide.
//!
//! ```text
//! cargo run --release --example head_append -- [series] [connections] [ticks]
//! ```

#[allow(dead_code)]
#[path = "../src/bin/heimsight-loadgen/series.rs"]
mod series;

use heimsight::storage::FloatBatch;
use heimsight::storage::Sample;
use heimsight::storage::head::{HeadOptions, TenantHead};
use series::{SeriesSpec, SeriesState, metric_mix, series_labels};
use std::sync::atomic::AtomicU64;
use std::time::Instant;

const INTERVAL_MS: i64 = 15_000;

/// One connection's series: label pairs as owned strings, and their values.
struct Connection {
    labels: Vec<Vec<(String, String)>>,
    states: Vec<SeriesState>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let series_count: usize = args.get(1).map_or(Ok(50_000), |a| a.parse())?;
    let connections: usize = args.get(2).map_or(Ok(32), |a| a.parse())?;
    let ticks: i64 = args.get(3).map_or(Ok(20), |a| a.parse())?;
    let spec = SeriesSpec {
        series: series_count,
        labels: 8,
        metrics: 10,
        counter_percent: 50,
        seed: 1,
        job: "bench".to_string(),
    };
    let mix = metric_mix(spec.metrics, spec.counter_percent);
    let mut conns: Vec<Connection> = (0..connections)
        .map(|c| {
            let owned: Vec<usize> = (c..series_count).step_by(connections).collect();
            Connection {
                labels: owned.iter().map(|&i| series_labels(&spec, &mix, i)).collect(),
                states: owned.iter().map(|&i| SeriesState::new(&spec, &mix, i)).collect(),
            }
        })
        .collect();

    for threads in [1usize, 2] {
        let head = TenantHead::new(
            "bench",
            HeadOptions {
                block_duration_ms: 2 * 3_600_000,
                out_of_order_window_ms: 0,
            },
        );
        let next_ref = AtomicU64::new(1);
        // The first tick creates every series; it is not timed.
        let mut timed_samples = 0u64;
        let mut elapsed = std::time::Duration::ZERO;
        for tick in 0..=ticks {
            let t = 1_763_700_000_000 + tick * INTERVAL_MS;
            let batches: Vec<FloatBatch<'_>> = conns.iter_mut().map(|conn| build(conn, t)).collect();
            let started = Instant::now();
            std::thread::scope(|scope| {
                for part in 0..threads {
                    let (head, next_ref, batches) = (&head, &next_ref, &batches);
                    scope.spawn(move || {
                        for batch in batches.iter().skip(part).step_by(threads) {
                            head.append_floats(batch, next_ref, |_| ());
                        }
                    });
                }
            });
            if tick > 0 {
                elapsed += started.elapsed();
                timed_samples += series_count as u64;
            }
        }
        let rate = timed_samples as f64 / elapsed.as_secs_f64();
        println!(
            "{threads} thread(s): {timed_samples} samples into {series_count} known series in {:.3} s: {:.0} samples/s, {:.0} ns/sample",
            elapsed.as_secs_f64(),
            rate,
            1e9 / rate
        );
    }
    Ok(())
}

/// One request's worth: every series of the connection with its next value at `t`.
fn build<'a>(conn: &'a mut Connection, t: i64) -> FloatBatch<'a> {
    let mut batch = FloatBatch::default();
    for (labels, state) in conn.labels.iter().zip(conn.states.iter_mut()) {
        let sample = Sample { t, v: state.advance() };
        batch.push_series(
            labels.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
            std::slice::from_ref(&sample),
        );
    }
    batch
}

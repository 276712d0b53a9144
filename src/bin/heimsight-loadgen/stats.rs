//! What a run reports: acknowledged samples, errors by cause and latency percentiles.

use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// One connection's tally; merged at the end so workers never share a lock on the hot path.
#[derive(Debug, Default)]
pub struct Tally {
    pub requests_ok: u64,
    pub samples_ok: u64,
    pub samples_failed: u64,
    /// Keyed by HTTP status ("400", "503") or "transport" for connection failures.
    pub errors: BTreeMap<String, u64>,
    /// The first error body seen per key, so a refusal explains itself in the report.
    pub first_error: BTreeMap<String, String>,
    pub latencies_us: Vec<u64>,
}

impl Tally {
    pub fn record_error(&mut self, key: String, detail: String, samples: u64) {
        self.samples_failed += samples;
        self.first_error.entry(key.clone()).or_insert(detail);
        *self.errors.entry(key).or_default() += 1;
    }

    pub fn merge(&mut self, other: Tally) {
        self.requests_ok += other.requests_ok;
        self.samples_ok += other.samples_ok;
        self.samples_failed += other.samples_failed;
        for (key, count) in other.errors {
            *self.errors.entry(key).or_default() += count;
        }
        for (key, detail) in other.first_error {
            self.first_error.entry(key).or_insert(detail);
        }
        self.latencies_us.extend(other.latencies_us);
    }
}

/// Latency summary in milliseconds.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Percentiles {
    pub count: usize,
    pub min_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// Nearest-rank percentiles (no interpolation: each figure is a latency that happened).
pub fn percentiles(latencies_us: &mut [u64]) -> Percentiles {
    if latencies_us.is_empty() {
        return Percentiles::default();
    }
    latencies_us.sort_unstable();
    let n = latencies_us.len();
    let rank = |p: f64| {
        let index = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
        latencies_us.get(index).copied().unwrap_or_default() as f64 / 1000.0
    };
    let sum: u64 = latencies_us.iter().sum();
    Percentiles {
        count: n,
        min_ms: rank(0.0),
        p50_ms: rank(0.50),
        p90_ms: rank(0.90),
        p99_ms: rank(0.99),
        max_ms: rank(1.0),
        mean_ms: sum as f64 / n as f64 / 1000.0,
    }
}

/// The write report, printed as one JSON line on stdout.
#[derive(Debug, Serialize)]
pub struct WriteReport {
    pub mode: &'static str,
    pub url: String,
    pub series: usize,
    pub concurrency: usize,
    pub batch: usize,
    pub elapsed_s: f64,
    pub requests_ok: u64,
    pub samples_ok: u64,
    pub samples_failed: u64,
    pub samples_per_s: f64,
    /// True when the generator had to wait for the wall clock (it never sends future
    /// samples): the figure is then a ceiling set by the data, not by the target.
    pub caught_up_with_now: bool,
    pub first_timestamp_ms: i64,
    pub last_timestamp_ms: i64,
    pub errors: BTreeMap<String, u64>,
    pub first_error: BTreeMap<String, String>,
    pub latency: Percentiles,
}

pub fn rate(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 { 0.0 } else { count as f64 / secs }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut values: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        let p = percentiles(&mut values);
        assert_eq!(p.count, 100);
        assert_eq!(p.min_ms, 1.0);
        assert_eq!(p.p50_ms, 50.0);
        assert_eq!(p.p90_ms, 90.0);
        assert_eq!(p.p99_ms, 99.0);
        assert_eq!(p.max_ms, 100.0);
        assert_eq!(p.mean_ms, 50.5);
        let mut single = vec![7000];
        assert_eq!(percentiles(&mut single).p99_ms, 7.0);
        assert_eq!(percentiles(&mut []), Percentiles::default());
    }

    #[test]
    fn merge_adds_counts_and_keeps_first_error() {
        let mut a = Tally::default();
        a.record_error("400".into(), "first".into(), 10);
        let mut b = Tally {
            requests_ok: 2,
            samples_ok: 20,
            latencies_us: vec![5],
            ..Tally::default()
        };
        b.record_error("400".into(), "second".into(), 5);
        b.record_error("transport".into(), "refused".into(), 1);
        a.merge(b);
        assert_eq!(a.requests_ok, 2);
        assert_eq!(a.samples_ok, 20);
        assert_eq!(a.samples_failed, 16);
        assert_eq!(a.errors["400"], 2);
        assert_eq!(a.errors["transport"], 1);
        assert_eq!(a.first_error["400"], "first");
        assert_eq!(a.latencies_us, vec![5]);
        assert_eq!(rate(10, Duration::from_secs(2)), 5.0);
        assert_eq!(rate(10, Duration::ZERO), 0.0);
    }
}

//! Self-monitoring: `/metrics` in the Prometheus text exposition format 0.0.4, written by
//! hand (a handful of counters and histograms do not justify a metrics crate).

use crate::prom_api::json::format_float;
use crate::server::info;
use crate::storage::StorageStats;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Latency buckets (seconds): Prometheus client libraries' defaults, good for queries.
const LATENCY_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Clone, Debug, Default)]
struct Histogram {
    /// Cumulative counts are computed at render time; these are per bucket.
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(index) = LATENCY_BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[index] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

#[derive(Default)]
struct Requests {
    /// (handler, method, code) → count.
    counts: BTreeMap<(String, String, u16), u64>,
    /// handler → latency.
    latency: BTreeMap<String, Histogram>,
}

/// Process-wide counters the HTTP layer feeds.
pub struct SelfMetrics {
    start_time: SystemTime,
    requests: Mutex<Requests>,
}

impl Default for SelfMetrics {
    fn default() -> Self {
        Self {
            start_time: SystemTime::now(),
            requests: Mutex::new(Requests::default()),
        }
    }
}

/// `\`, `"` and newlines escaped, as the text format requires in label values.
fn escape_label_value(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    header(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

impl SelfMetrics {
    /// Records one answered request. `handler` is the route pattern, never the raw path, so
    /// the number of series stays bounded whatever clients send.
    pub fn observe_request(&self, handler: &str, method: &str, code: u16, elapsed: Duration) {
        let Ok(mut requests) = self.requests.lock() else {
            return;
        };
        *requests
            .counts
            .entry((handler.to_string(), method.to_string(), code))
            .or_default() += 1;
        requests
            .latency
            .entry(handler.to_string())
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// The exposition text, storage counters included.
    pub fn render(&self, storage: &StorageStats) -> String {
        let mut out = String::with_capacity(4096);
        header(
            &mut out,
            "heimsight_build_info",
            "gauge",
            "A metric with a constant '1' value labeled by version and revision.",
        );
        let _ = writeln!(
            out,
            "heimsight_build_info{{revision=\"{}\",version=\"{}\"}} 1",
            escape_label_value(info::REVISION),
            escape_label_value(info::VERSION)
        );
        let start = self.start_time.duration_since(UNIX_EPOCH).unwrap_or_default();
        single(
            &mut out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            format_float(start.as_secs_f64()),
        );

        single(
            &mut out,
            "heimsight_ingested_samples_total",
            "counter",
            "Samples appended to the head.",
            storage.head_samples_appended_total,
        );
        single(
            &mut out,
            "heimsight_out_of_order_samples_total",
            "counter",
            "Samples accepted or refused as out of order.",
            storage.out_of_order_samples_total,
        );
        single(
            &mut out,
            "heimsight_wal_fsyncs_total",
            "counter",
            "Fsyncs of the write-ahead log.",
            storage.wal_fsyncs_total,
        );
        single(
            &mut out,
            "heimsight_wal_bytes_total",
            "counter",
            "Bytes written to the write-ahead log.",
            storage.wal_bytes_total,
        );
        single(
            &mut out,
            "heimsight_head_series",
            "gauge",
            "Series in the in-memory head.",
            storage.head_series,
        );
        single(
            &mut out,
            "heimsight_head_min_time_ms",
            "gauge",
            "Lowest sample timestamp in the head (ms).",
            storage.head_min_time,
        );
        single(
            &mut out,
            "heimsight_head_max_time_ms",
            "gauge",
            "Highest sample timestamp in the head (ms).",
            storage.head_max_time,
        );
        single(
            &mut out,
            "heimsight_blocks",
            "gauge",
            "Blocks in object storage.",
            storage.blocks,
        );
        single(
            &mut out,
            "heimsight_blocks_bytes",
            "gauge",
            "Bytes of blocks in object storage.",
            storage.blocks_bytes,
        );

        let Ok(requests) = self.requests.lock() else {
            return out;
        };
        header(
            &mut out,
            "heimsight_http_requests_total",
            "counter",
            "HTTP requests by handler, method and status code.",
        );
        for ((handler, method, code), count) in &requests.counts {
            let _ = writeln!(
                out,
                "heimsight_http_requests_total{{code=\"{code}\",handler=\"{}\",method=\"{}\"}} {count}",
                escape_label_value(handler),
                escape_label_value(method)
            );
        }
        let name = "heimsight_http_request_duration_seconds";
        header(
            &mut out,
            name,
            "histogram",
            "Latency of HTTP requests by handler (query endpoints included).",
        );
        for (handler, histogram) in &requests.latency {
            let handler = escape_label_value(handler);
            let mut cumulative = 0;
            for (bound, count) in LATENCY_BUCKETS.iter().zip(histogram.buckets.iter()) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "{name}_bucket{{handler=\"{handler}\",le=\"{}\"}} {cumulative}",
                    format_float(*bound)
                );
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{handler=\"{handler}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "{name}_sum{{handler=\"{handler}\"}} {}",
                format_float(histogram.sum)
            );
            let _ = writeln!(out, "{name}_count{{handler=\"{handler}\"}} {}", histogram.count);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_histograms() {
        let metrics = SelfMetrics::default();
        metrics.observe_request("/api/v1/query", "GET", 200, Duration::from_millis(3));
        metrics.observe_request("/api/v1/query", "GET", 200, Duration::from_millis(30));
        metrics.observe_request("/api/v1/query", "POST", 400, Duration::from_secs(20));
        let stats = StorageStats {
            head_series: 7,
            head_samples_appended_total: 42,
            ..StorageStats::default()
        };
        let text = metrics.render(&stats);
        assert!(text.contains("heimsight_ingested_samples_total 42\n"));
        assert!(text.contains("heimsight_head_series 7\n"));
        assert!(
            text.contains("heimsight_http_requests_total{code=\"200\",handler=\"/api/v1/query\",method=\"GET\"} 2\n")
        );
        assert!(
            text.contains("heimsight_http_request_duration_seconds_bucket{handler=\"/api/v1/query\",le=\"0.005\"} 1\n")
        );
        assert!(
            text.contains("heimsight_http_request_duration_seconds_bucket{handler=\"/api/v1/query\",le=\"0.05\"} 2\n")
        );
        assert!(
            text.contains("heimsight_http_request_duration_seconds_bucket{handler=\"/api/v1/query\",le=\"+Inf\"} 3\n")
        );
        assert!(text.contains("heimsight_http_request_duration_seconds_count{handler=\"/api/v1/query\"} 3\n"));
        // Every sample line belongs to a family announced by a TYPE line.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or("");
            let family = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(text.contains(&format!("# TYPE {family} ")), "no TYPE for {name}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}

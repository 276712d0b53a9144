//! The PromQL expressions `prometheus_diff` sends to both servers.
//!
//! The data is a Prometheus scraping itself under two job names (`prom_a`, `prom_b`) every
//! second, so every metric of Prometheus 2.42's own `/metrics` is available twice, with distinct
//! values per job (the two scrapes happen at different moments).
//!
//! Left out on purpose, where Prometheus 2.42 (the reference here) differs from Prometheus 3
//! (what Heimsight implements):
//! - samples exactly on a range boundary (2.x windows are closed `[t-r, t]`, 3.x left-open
//!   `(t-r, t]`): evaluation times are chosen away from every scrape timestamp instead;
//! - regexes matching `\n` with `.` (3.x only) — no label value here holds a newline;
//! - `holt_winters` (renamed `double_exponential_smoothing` in 3.x);
//! - `atan2` (2.x keeps `__name__`, 3.x drops it like the other arithmetic operators);
//! - selectors of several metric names under a function that drops `__name__`
//!   (2.x fails with "vector cannot contain metrics with the same labelset", 3.x with delayed
//!   name removal may not);
//! - `topk`/`bottomk`/`sort` over tied values, whose order neither version defines.

/// The farthest any query reaches back from its evaluation time (range 40 s + offset 20 s).
pub const MAX_REACH_MS: i64 = 60_000;

/// One expression; `ordered` when Prometheus defines the order of an instant result.
pub struct DiffQuery {
    pub expr: String,
    pub ordered: bool,
    /// Range vectors and strings are only valid as instant queries.
    pub instant_only: bool,
    /// Subqueries evaluate at multiples of their step: skipped if scrapes land on whole seconds.
    pub subquery: bool,
}

fn q(expr: &str) -> DiffQuery {
    DiffQuery {
        expr: expr.to_string(),
        ordered: false,
        instant_only: false,
        subquery: false,
    }
}

fn ordered(expr: &str) -> DiffQuery {
    DiffQuery {
        ordered: true,
        ..q(expr)
    }
}

fn instant_only(expr: &str) -> DiffQuery {
    DiffQuery {
        instant_only: true,
        ..q(expr)
    }
}

fn subquery(expr: &str) -> DiffQuery {
    DiffQuery {
        subquery: true,
        ..q(expr)
    }
}

/// `at_seconds` is an evaluation time for `@` modifiers (float seconds, non-aligned like the rest).
pub fn queries(at_seconds: &str) -> Vec<DiffQuery> {
    vec![
        // Selectors and raw data.
        q("up"),
        q("up{job=\"prom_a\"}"),
        q("prometheus_http_requests_total{handler=~\"/api/v1/.*\", code!=\"500\"}"),
        q("{__name__=~\"go_memstats_.*_bytes\", job=\"prom_b\"}"),
        instant_only("go_goroutines[10s]"),
        instant_only("prometheus_tsdb_head_samples_appended_total[7s]"),
        q("prometheus_build_info"),
        // Counters.
        q("rate(prometheus_http_requests_total[30s])"),
        q("irate(prometheus_http_requests_total[30s])"),
        q("increase(prometheus_tsdb_head_samples_appended_total[30s])"),
        q("rate(process_cpu_seconds_total[20s])"),
        q("resets(prometheus_http_requests_total[40s])"),
        q("sum by (job) (rate(prometheus_tsdb_head_samples_appended_total[20s]))"),
        q("sum without (instance) (rate(process_cpu_seconds_total[30s]))"),
        q("sum by (code) (increase(prometheus_http_requests_total[40s]))"),
        q("avg by (job) (irate(go_memstats_alloc_bytes_total[10s]))"),
        // Classic histograms.
        q("histogram_quantile(0.9, sum by (le) (rate(prometheus_http_request_duration_seconds_bucket[30s])))"),
        q("histogram_quantile(0.5, rate(prometheus_http_request_duration_seconds_bucket[30s]))"),
        q("histogram_quantile(0.99, sum by (job, le) (rate(prometheus_http_response_size_bytes_bucket[30s])))"),
        q("histogram_quantile(0.75, sum by (le, handler) (rate(prometheus_http_response_size_bytes_bucket[40s])))"),
        q("histogram_quantile(0.5, sum by (le) (prometheus_tsdb_compaction_chunk_range_seconds_bucket))"),
        q("count by (le) (prometheus_http_request_duration_seconds_bucket)"),
        q(
            "rate(prometheus_http_request_duration_seconds_sum[30s]) / rate(prometheus_http_request_duration_seconds_count[30s])",
        ),
        // Gauges over time.
        q("delta(go_goroutines[30s])"),
        q("idelta(go_memstats_heap_alloc_bytes[20s])"),
        q("deriv(process_resident_memory_bytes[30s])"),
        q("predict_linear(go_memstats_heap_alloc_bytes[30s], 60)"),
        q("changes(go_memstats_heap_alloc_bytes[40s])"),
        q("avg_over_time(go_memstats_heap_alloc_bytes[30s])"),
        q("min_over_time(go_goroutines[40s])"),
        q("max_over_time(go_memstats_heap_alloc_bytes[25s])"),
        q("sum_over_time(up[30s])"),
        q("count_over_time(up[30s])"),
        q("last_over_time(go_goroutines[10s])"),
        q("quantile_over_time(0.9, go_memstats_heap_alloc_bytes[40s])"),
        q("stddev_over_time(go_memstats_heap_alloc_bytes[30s])"),
        q("stdvar_over_time(process_resident_memory_bytes[30s])"),
        q("present_over_time(up[20s])"),
        // Aggregations.
        q("sum(up)"),
        q("count by (job) (up)"),
        q("max without (code, handler) (prometheus_http_requests_total)"),
        q("sum by (handler) (prometheus_http_requests_total)"),
        q("avg(go_memstats_heap_alloc_bytes)"),
        q("min by (job) (go_memstats_heap_alloc_bytes)"),
        q("stddev by (job) (go_gc_duration_seconds)"),
        q("stdvar(go_memstats_heap_alloc_bytes)"),
        q("quantile(0.3, go_memstats_heap_alloc_bytes)"),
        q("count_values(\"value\", up)"),
        q("group by (job) (prometheus_http_requests_total)"),
        q("max(go_gc_duration_seconds) by (quantile)"),
        q("count(count by (__name__) ({job=\"prom_a\", __name__=~\"go_.*\"}))"),
        ordered("topk(1, go_memstats_heap_alloc_bytes)"),
        ordered("bottomk(1, go_memstats_heap_alloc_bytes)"),
        ordered(
            "topk(3, {__name__=~\"go_memstats_(heap_alloc|heap_sys|sys|heap_idle|next_gc)_bytes\", job=\"prom_a\"})",
        ),
        ordered("sort(go_memstats_heap_alloc_bytes)"),
        ordered("sort_desc(process_resident_memory_bytes)"),
        // Binary operators and vector matching.
        q("prometheus_http_requests_total * on(job, instance) group_left(version) prometheus_build_info"),
        q(
            "rate(prometheus_http_requests_total[30s]) / ignoring(code) group_left sum without (code) (rate(prometheus_http_requests_total[30s]))",
        ),
        q("up{job=\"prom_a\"} + on(instance) up{job=\"prom_b\"}"),
        q("go_memstats_heap_alloc_bytes{job=\"prom_a\"} - ignoring(job) group_right go_memstats_heap_alloc_bytes"),
        q("up and on(job) go_goroutines > 0"),
        q("up or vector(0)"),
        q("up unless up{job=\"prom_a\"}"),
        q("go_goroutines > bool 5"),
        q("go_memstats_heap_alloc_bytes > 1000"),
        q("1 - up"),
        q("up * 2 - 1"),
        q("-go_goroutines"),
        q("go_goroutines % 7"),
        q("go_goroutines ^ 2"),
        q("2 ^ 3 ^ 2"),
        q("up / 0"),
        q("(up - 1) / 0"),
        q("-up / 0"),
        // Functions.
        q("abs(deriv(go_goroutines[30s]))"),
        q("ceil(go_memstats_heap_alloc_bytes / 1e6)"),
        q("floor(go_memstats_heap_alloc_bytes / 1e6)"),
        q("round(go_memstats_heap_alloc_bytes / 1e6, 0.5)"),
        q("sqrt(go_goroutines)"),
        q("ln(go_memstats_heap_alloc_bytes)"),
        q("log2(go_goroutines)"),
        q("log10(go_memstats_heap_alloc_bytes)"),
        q("exp(up)"),
        q("sgn(delta(go_goroutines[30s]))"),
        q("clamp(go_goroutines, 5, 20)"),
        q("clamp_min(go_goroutines, 30)"),
        q("clamp_max(go_goroutines, 10)"),
        q("label_replace(up, \"host\", \"$1\", \"instance\", \"(.*):.*\")"),
        q("label_join(up, \"joined\", \"-\", \"job\", \"instance\")"),
        q("timestamp(up)"),
        q("scalar(sum(up))"),
        q("vector(1)"),
        q("time()"),
        q("minute()"),
        q("hour(vector(time()))"),
        q("day_of_week()"),
        q("days_in_month()"),
        q("absent(nonexistent_metric{job=\"x\"})"),
        q("absent(up)"),
        q("absent_over_time(nonexistent_metric[1m])"),
        // Offsets, @ and subqueries.
        q("go_goroutines offset 10s"),
        q("rate(process_cpu_seconds_total[20s] offset 15s)"),
        q("sum by (job) (up offset 20s)"),
        q(&format!("go_memstats_heap_alloc_bytes @ {at_seconds}")),
        q(&format!("rate(go_memstats_alloc_bytes_total[20s] @ {at_seconds})")),
        subquery("max_over_time(go_memstats_heap_alloc_bytes[30s:5s])"),
        subquery("rate(prometheus_tsdb_head_samples_appended_total[20s:2s])"),
        subquery("avg_over_time(rate(go_memstats_alloc_bytes_total[10s])[30s:3s])"),
        subquery("deriv(go_memstats_heap_alloc_bytes[30s:1s] offset 5s)"),
        // Errors must be the same class of error.
        instant_only("\"a string\""),
        q("up + on() up"),
        q("rate(up)"),
        q("sum(up"),
    ]
}

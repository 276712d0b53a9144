//! Prometheus checked by difference.
//!
//! A real Prometheus (Debian's 2.42) scrapes itself every second under two job names and
//! remote-writes everything to Heimsight. Then the same instant and range queries go to both,
//! at evaluation times both hold complete data for, and the answers are compared: same status
//! and error class, same result type, same label sets, values within 1e-9 relative (NaN equals
//! NaN), same order where Prometheus defines one (range results; `sort`, `topk`… in instant ones).
//!
//! Evaluation times sit halfway between scrape timestamps, so no sample lies on a window
//! boundary, where Prometheus 2 (closed windows) and 3 (left-open) differ; see
//! `prometheus_diff_queries.rs` for the other cases left out.
//!
//! Prints `prometheus diff: N passed, M failed` and fails if any query differs.

#[path = "../support/mod.rs"]
mod support;

mod prometheus_diff_queries;

use prometheus_diff_queries::{DiffQuery, MAX_REACH_MS, queries};
use std::time::Duration;
use support::api::{self, ApiResponse, ResultSeries};
use support::heimsight::Heimsight;
use support::prometheus::Prometheus;

/// How long Prometheus scrapes at least before the queries.
const SCRAPE_SECONDS: u64 = 60;
const RANGE_SECONDS: i64 = 30;
const RANGE_STEP: &str = "5s";
const RELATIVE_TOLERANCE: f64 = 1e-9;

fn prometheus_config(own_port: u16, heimsight_port: u16) -> String {
    format!(
        r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: prom_a
    static_configs:
      - targets: ['127.0.0.1:{own_port}']
  - job_name: prom_b
    static_configs:
      - targets: ['127.0.0.1:{own_port}']
remote_write:
  - url: http://127.0.0.1:{heimsight_port}/api/v1/write
    remote_timeout: 10s
    queue_config:
      batch_send_deadline: 1s
      max_samples_per_send: 2000
      min_backoff: 100ms
      max_backoff: 1s
    metadata_config:
      send_interval: 10s
"#
    )
}

fn main() {
    if support::require_binary("prometheus").is_none() {
        println!("prometheus diff: skipped, no prometheus binary");
        return;
    }
    let heimsight = Heimsight::start();
    let heimsight_port = heimsight.port();
    let Some(prometheus) = Prometheus::start(|own| prometheus_config(own, heimsight_port), &[]) else {
        return;
    };
    let client = support::remote_write::client();
    println!("prometheus diff: scraping for {SCRAPE_SECONDS} s");
    generate_api_traffic(&client, &prometheus.base_url(), Duration::from_secs(SCRAPE_SECONDS));

    // Prometheus 2.42 starts sending only samples appended after its remote-write queue
    // started, so Heimsight's data begins a few seconds later than Prometheus' own: every
    // window the queries read must lie after Heimsight's first sample.
    let first_ms = first_sample_in_heimsight(&client, &heimsight);
    let earliest_eval = first_ms + 2_000 + MAX_REACH_MS + RANGE_SECONDS * 1000;
    while support::now_ms() - 3_000 < earliest_eval + 1_000 {
        generate_api_traffic(&client, &prometheus.base_url(), Duration::from_secs(1));
    }
    let fractions = scrape_fractions(&client, &prometheus.base_url());
    let fraction = farthest_fraction(&fractions);
    let last_complete_ms = support::now_ms() - 3_000;
    let eval_ms = (last_complete_ms / 1000 - 1) * 1000 + fraction;
    wait_for_heimsight(&client, &heimsight, eval_ms);
    let aligned_scrapes = fractions.iter().any(|f| circular_distance(*f, 0) < 5);
    println!(
        "prometheus diff: scrape timestamps at ms fractions {fractions:?}, evaluating at {} (fraction {fraction})",
        support::ms_to_param(eval_ms)
    );

    let at_seconds = support::ms_to_param(eval_ms - 10_000);
    let mut passed = 0;
    let mut failures = Vec::new();
    let mut skipped = 0;
    // Cases where Prometheus itself answered nothing compare little: list them, to keep the
    // query set honest.
    let mut empty_in_reference = Vec::new();
    for query in queries(&at_seconds) {
        if query.subquery && aligned_scrapes {
            skipped += 1;
            continue;
        }
        let mut outcomes = vec![(
            "instant",
            compare_instant(&client, &prometheus, &heimsight, &query, eval_ms),
        )];
        if !query.instant_only {
            outcomes.push((
                "range",
                compare_range(&client, &prometheus, &heimsight, &query, eval_ms),
            ));
        }
        for (mode, (outcome, reference_empty)) in outcomes {
            if reference_empty {
                empty_in_reference.push(format!("[{mode}] {}", query.expr));
            }
            match outcome {
                Ok(()) => passed += 1,
                Err(difference) => failures.push(format!("[{mode}] {}\n    {difference}", query.expr)),
            }
        }
    }
    for failure in &failures {
        println!("MISMATCH {failure}");
    }
    if !empty_in_reference.is_empty() {
        println!(
            "prometheus diff: {} cases where Prometheus returned no series or an error: {}",
            empty_in_reference.len(),
            empty_in_reference.join(", ")
        );
    }
    if skipped > 0 {
        println!("prometheus diff: {skipped} subqueries skipped (scrapes on whole seconds)");
    }
    println!("prometheus diff: {passed} passed, {} failed", failures.len());
    drop(prometheus);
    drop(heimsight);
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

/// Calls a few API endpoints of Prometheus while it scrapes itself, so that its HTTP request
/// counters and duration histograms have varied, non-zero data to query.
fn generate_api_traffic(client: &reqwest::blocking::Client, base_url: &str, duration: Duration) {
    let started = std::time::Instant::now();
    let mut round = 0u64;
    while started.elapsed() < duration {
        let now = support::ms_to_param(support::now_ms());
        let query = format!("{base_url}/api/v1/query");
        match round % 4 {
            0 => api::get(client, &query, &[("query", "up"), ("time", &now)]),
            1 => api::get(
                client,
                &query,
                &[("query", "sum(rate(prometheus_http_requests_total[10s]))")],
            ),
            2 => api::get(client, &format!("{base_url}/api/v1/labels"), &[]),
            _ => api::get(client, &format!("{base_url}/api/v1/series"), &[("match[]", "up")]),
        };
        round += 1;
        std::thread::sleep(Duration::from_millis(150 + (round % 7) * 40));
    }
}

/// The newest first sample of the `up` series in Heimsight, read by remote read.
fn first_sample_in_heimsight(client: &reqwest::blocking::Client, heimsight: &Heimsight) -> i64 {
    let now = support::now_ms();
    let found = support::wait_for(Duration::from_secs(30), Duration::from_millis(500), || {
        let series = support::remote_read::read_samples(
            client,
            &heimsight.base_url(),
            now - 600_000,
            now,
            vec![support::remote_read::matcher_eq("__name__", "up")],
        );
        let firsts: Vec<i64> = series
            .iter()
            .filter_map(|s| s.samples.first().map(|(t, _)| *t))
            .collect();
        (firsts.len() == 2).then(|| firsts.into_iter().max().unwrap_or(now))
    });
    found.unwrap_or_else(|| panic!("Heimsight received no `up` samples from Prometheus' remote write"))
}

/// The millisecond fractions of the scrape timestamps, from Prometheus' own raw samples.
fn scrape_fractions(client: &reqwest::blocking::Client, base_url: &str) -> Vec<i64> {
    let response = api::instant_query(client, base_url, "up[20s]", support::now_ms());
    let mut fractions: Vec<i64> = api::result_series(&response)
        .iter()
        .flat_map(|series| series.points.iter().map(|(t, _)| t.rem_euclid(1000)))
        .collect();
    fractions.sort();
    fractions.dedup();
    assert!(
        !fractions.is_empty(),
        "Prometheus has not scraped itself: {}",
        response.text
    );
    fractions
}

fn circular_distance(a: i64, b: i64) -> i64 {
    let d = (a - b).rem_euclid(1000);
    d.min(1000 - d)
}

/// The fraction of a second farthest from every scrape and from whole seconds (subquery steps).
fn farthest_fraction(fractions: &[i64]) -> i64 {
    (0..1000)
        .step_by(5)
        .max_by_key(|candidate| {
            fractions
                .iter()
                .chain(std::iter::once(&0))
                .map(|f| circular_distance(*candidate, *f))
                .min()
                .unwrap_or(0)
        })
        .unwrap_or(500)
}

/// Remote write lags scrapes by a batch deadline or two: wait until Heimsight holds samples
/// newer than the evaluation time for every `up` series Prometheus has.
fn wait_for_heimsight(client: &reqwest::blocking::Client, heimsight: &Heimsight, eval_ms: i64) {
    let needed = eval_ms + 2_000;
    let caught_up = support::wait_for(Duration::from_secs(60), Duration::from_millis(500), || {
        let response = api::instant_query(client, &heimsight.base_url(), "timestamp(up)", support::now_ms());
        let series = api::result_series(&response);
        let all_recent = series.len() == 2
            && series.iter().all(|s| {
                s.points
                    .first()
                    .and_then(|(_, v)| api::parse_value(v))
                    .is_some_and(|seconds| seconds * 1000.0 >= needed as f64)
            });
        all_recent.then_some(())
    });
    if caught_up.is_none() {
        println!("prometheus diff: WARNING: Heimsight did not catch up with the scrapes within 60 s");
    }
    // Series are spread over remote-write shards that flush independently.
    std::thread::sleep(Duration::from_secs(2));
}

fn compare_instant(
    client: &reqwest::blocking::Client,
    prometheus: &Prometheus,
    heimsight: &Heimsight,
    query: &DiffQuery,
    eval_ms: i64,
) -> (Result<(), String>, bool) {
    let reference = api::try_instant_query(client, &prometheus.base_url(), &query.expr, eval_ms);
    let ours = api::try_instant_query(client, &heimsight.base_url(), &query.expr, eval_ms);
    let (reference, ours) = match (reference, ours) {
        (Ok(reference), Ok(ours)) => (reference, ours),
        (reference, ours) => return (Err(transport_failure(reference, ours)), false),
    };
    let order = if query.ordered {
        Order::ByValue
    } else {
        Order::Unordered
    };
    (
        compare(&reference, &ours, order),
        api::result_series(&reference).is_empty(),
    )
}

fn compare_range(
    client: &reqwest::blocking::Client,
    prometheus: &Prometheus,
    heimsight: &Heimsight,
    query: &DiffQuery,
    eval_ms: i64,
) -> (Result<(), String>, bool) {
    let start = eval_ms - RANGE_SECONDS * 1000;
    let reference = api::try_range_query(client, &prometheus.base_url(), &query.expr, start, eval_ms, RANGE_STEP);
    let ours = api::try_range_query(client, &heimsight.base_url(), &query.expr, start, eval_ms, RANGE_STEP);
    let (reference, ours) = match (reference, ours) {
        (Ok(reference), Ok(ours)) => (reference, ours),
        (reference, ours) => return (Err(transport_failure(reference, ours)), false),
    };
    // Range results are always sorted by labels in Prometheus.
    (
        compare(&reference, &ours, Order::ByLabels),
        api::result_series(&reference).is_empty(),
    )
}

/// A request that got no HTTP answer at all counts as a difference, not as the end of the run.
fn transport_failure(reference: Result<ApiResponse, String>, ours: Result<ApiResponse, String>) -> String {
    let describe = |side: Result<ApiResponse, String>| match side {
        Ok(response) => format!("{} {}", response.status, short(&response.text)),
        Err(err) => err,
    };
    format!("Prometheus: {}; Heimsight: {}", describe(reference), describe(ours))
}

fn short(text: &str) -> String {
    if text.len() <= 400 {
        return text.to_string();
    }
    let mut end = 400;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Which order of the result series Prometheus defines.
#[derive(Clone, Copy, PartialEq)]
enum Order {
    Unordered,
    /// `sort`, `topk`… in an instant query: by value, ties in any order.
    ByValue,
    /// Range queries: by label set.
    ByLabels,
}

fn compare(reference: &ApiResponse, ours: &ApiResponse, order: Order) -> Result<(), String> {
    if !reference.is_success() {
        if ours.status == reference.status && ours.error_type() == reference.error_type() {
            return Ok(());
        }
        return Err(format!(
            "Prometheus: {} {}; Heimsight: {} {}",
            reference.status,
            short(&reference.text),
            ours.status,
            short(&ours.text)
        ));
    }
    if !ours.is_success() {
        return Err(format!(
            "Prometheus succeeded, Heimsight: {} {}",
            ours.status,
            short(&ours.text)
        ));
    }
    if reference.result_type() != ours.result_type() {
        return Err(format!(
            "result type {} vs {}",
            reference.result_type(),
            ours.result_type()
        ));
    }
    let expected = api::result_series(reference);
    let got = api::result_series(ours);
    if expected.len() != got.len() {
        return Err(format!(
            "{} series vs {}: Prometheus {}; Heimsight {}",
            expected.len(),
            got.len(),
            short(&reference.text),
            short(&ours.text)
        ));
    }
    if order == Order::ByLabels {
        let labels = |series: &[ResultSeries]| series.iter().map(|s| s.labels.clone()).collect::<Vec<_>>();
        if labels(&expected) != labels(&got) {
            return Err(format!(
                "series order differs: Prometheus {:?}; Heimsight {:?}",
                labels(&expected),
                labels(&got)
            ));
        }
    }
    if order == Order::ByValue {
        // The order must match, except among equal values, whose order Prometheus leaves open.
        let values = |series: &[ResultSeries]| -> Vec<Option<f64>> {
            series
                .iter()
                .map(|s| s.points.first().and_then(|(_, v)| api::parse_value(v)))
                .collect()
        };
        let (expected_values, got_values) = (values(&expected), values(&got));
        for (index, (e, g)) in expected_values.iter().zip(&got_values).enumerate() {
            let same = match (e, g) {
                (Some(e), Some(g)) => values_equal(*e, *g),
                _ => e.is_none() && g.is_none(),
            };
            let labels_match = expected[index].labels == got[index].labels;
            if !same || (!labels_match && !has_tie(&expected_values, index)) {
                return Err(format!(
                    "order differs at position {index}: Prometheus {:?}, Heimsight {:?}",
                    expected[index], got[index]
                ));
            }
        }
    }
    let sorted = |mut series: Vec<ResultSeries>| {
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        series
    };
    for (e, g) in sorted(expected).iter().zip(sorted(got).iter()) {
        if e.labels != g.labels {
            return Err(format!("labels {:?} vs {:?}", e.labels, g.labels));
        }
        if e.points.len() != g.points.len() {
            return Err(format!(
                "{:?}: {} points vs {}: Prometheus {:?}; Heimsight {:?}",
                e.labels,
                e.points.len(),
                g.points.len(),
                e.points,
                g.points
            ));
        }
        for ((et, ev), (gt, gv)) in e.points.iter().zip(&g.points) {
            let values_match = match (api::parse_value(ev), api::parse_value(gv)) {
                (Some(a), Some(b)) => values_equal(a, b),
                _ => ev == gv,
            };
            if et != gt || !values_match {
                return Err(format!("{:?}: point ({et}, {ev}) vs ({gt}, {gv})", e.labels));
            }
        }
    }
    Ok(())
}

fn has_tie(values: &[Option<f64>], index: usize) -> bool {
    let Some(Some(value)) = values.get(index) else {
        return false;
    };
    values
        .iter()
        .enumerate()
        .any(|(other, v)| other != index && v.is_some_and(|v| values_equal(v, *value)))
}

fn values_equal(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    (a - b).abs() <= RELATIVE_TOLERANCE * a.abs().max(b.abs())
}

//! `promtool query …` (Debian's Prometheus 2.42 package) against Heimsight.
//!
//! The same samples go by remote write into Heimsight and into a reference Prometheus (a
//! remote-write receiver with nothing else in it); promtool's output must name the expected
//! series and values, and be identical for both servers.

mod support;

use std::process::Command;
use support::heimsight::Heimsight;
use support::prometheus::Prometheus;
use support::prompb::{WriteRequest, labels};
use support::remote_write::{self, series};

struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

fn promtool(binary: &std::path::Path, args: &[&str]) -> Output {
    let output = Command::new(binary)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run promtool {args:?}: {err}"));
    Output {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Timestamps as promtool prints them (Go `FormatFloat(seconds, 'f', -1)`); the test only uses whole seconds.
fn seconds(ms: i64) -> String {
    assert_eq!(ms % 1000, 0, "the promtool test keeps to whole seconds");
    (ms / 1000).to_string()
}

fn known_data(base_ms: i64) -> WriteRequest {
    let up_a: Vec<(i64, f64)> = (0..10).map(|i| (base_ms + i * 15_000, 1.0)).collect();
    let up_b: Vec<(i64, f64)> = (0..10)
        .map(|i| (base_ms + i * 15_000, if i < 5 { 1.0 } else { 0.0 }))
        .collect();
    let temperature: Vec<(i64, f64)> = (0..10)
        .map(|i| (base_ms + i * 15_000, 20.5 + i as f64 * 0.25))
        .collect();
    WriteRequest {
        timeseries: vec![
            series(
                labels(&[("__name__", "up"), ("instance", "host-a:9100"), ("job", "node")]),
                &up_a,
            ),
            series(
                labels(&[("__name__", "up"), ("instance", "host-b:9100"), ("job", "node")]),
                &up_b,
            ),
            series(
                labels(&[
                    ("__name__", "e2e_promtool_temperature_celsius"),
                    ("job", "node"),
                    ("room", "lab"),
                ]),
                &temperature,
            ),
        ],
        metadata: Vec::new(),
    }
}

#[test]
fn promtool_queries_heimsight_like_prometheus() {
    let Some(binary) = support::require_binary("promtool") else {
        return;
    };
    let Some(prometheus) = Prometheus::start(
        |_| "global:\n  scrape_interval: 1m\n".to_string(),
        &["--web.enable-remote-write-receiver"],
    ) else {
        return;
    };
    let heimsight = Heimsight::start();
    let base_ms = (support::now_ms() / 1000) * 1000 - 200_000;
    let data = known_data(base_ms);
    let client = remote_write::client();
    for server in [heimsight.base_url(), prometheus.base_url()] {
        let response = remote_write::push_v1(&client, &server, &data);
        assert!(response.is_success(), "remote write to {server}: {response:?}");
    }
    let last_ms = base_ms + 9 * 15_000;
    let at = seconds(last_ms + 1_000);
    let start = seconds(base_ms + 60_000);
    let end = seconds(last_ms);
    let time_flag = format!("--time={at}");
    let start_flag = format!("--start={start}");
    let end_flag = format!("--end={end}");

    let run_both = |args: &[&str]| -> (Output, Output) {
        let mut heimsight_args = args.to_vec();
        let heimsight_url = heimsight.base_url();
        heimsight_args.push(&heimsight_url);
        let mut prometheus_args = args.to_vec();
        let prometheus_url = prometheus.base_url();
        prometheus_args.push(&prometheus_url);
        (promtool(&binary, &heimsight_args), promtool(&binary, &prometheus_args))
    };
    let check = |args: &[&str], expr: Option<&str>, expected_lines: &[String]| {
        let (ours, reference) = match expr {
            Some(expr) => {
                let (heimsight_url, prometheus_url) = (heimsight.base_url(), prometheus.base_url());
                let mut with_ours = args.to_vec();
                with_ours.extend([heimsight_url.as_str(), expr]);
                let mut with_reference = args.to_vec();
                with_reference.extend([prometheus_url.as_str(), expr]);
                (promtool(&binary, &with_ours), promtool(&binary, &with_reference))
            }
            None => run_both(args),
        };
        assert!(
            reference.success,
            "promtool {args:?} failed against Prometheus: {}",
            reference.stderr
        );
        assert!(
            ours.success,
            "promtool {args:?} failed against Heimsight: {}",
            ours.stderr
        );
        for line in expected_lines {
            assert!(
                ours.stdout.lines().any(|l| l == line),
                "promtool {args:?} {expr:?}: expected the line {line:?} in:\n{}",
                ours.stdout
            );
        }
        assert_eq!(
            ours.stdout, reference.stdout,
            "promtool {args:?} {expr:?}: Heimsight vs Prometheus output"
        );
    };

    let up_time = seconds(last_ms + 1_000);
    check(
        &["query", "instant", &time_flag],
        Some("up"),
        &[
            format!("up{{instance=\"host-a:9100\", job=\"node\"}} => 1 @[{up_time}]"),
            format!("up{{instance=\"host-b:9100\", job=\"node\"}} => 0 @[{up_time}]"),
        ],
    );
    check(
        &["query", "instant", &time_flag],
        Some("sum by (job) (up)"),
        &[format!("{{job=\"node\"}} => 1 @[{up_time}]")],
    );
    check(
        &["query", "instant", &time_flag],
        Some("max_over_time(e2e_promtool_temperature_celsius[10m])"),
        &[format!("{{job=\"node\", room=\"lab\"}} => 22.75 @[{up_time}]")],
    );
    check(
        &["query", "range", &start_flag, &end_flag, "--step=15s"],
        Some("up{instance=\"host-b:9100\"}"),
        &[
            "up{instance=\"host-b:9100\", job=\"node\"} =>".to_string(),
            format!("1 @[{}]", seconds(base_ms + 60_000)),
            format!("0 @[{}]", seconds(base_ms + 75_000)),
            format!("0 @[{end}]"),
        ],
    );
    check(
        &["query", "range", &start_flag, &end_flag, "--step=30s"],
        Some("e2e_promtool_temperature_celsius * 2"),
        &[
            "{job=\"node\", room=\"lab\"} =>".to_string(),
            format!("43 @[{}]", seconds(base_ms + 60_000)),
        ],
    );
    check(
        &["query", "series", "--match=up"],
        None,
        &[
            "{__name__=\"up\", instance=\"host-a:9100\", job=\"node\"}".to_string(),
            "{__name__=\"up\", instance=\"host-b:9100\", job=\"node\"}".to_string(),
        ],
    );
    check(&["query", "labels"], Some("job"), &["node".to_string()]);
}

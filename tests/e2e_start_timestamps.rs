//! Start ("created") timestamps sent by remote write 2.0 reach PromQL through every layer of
//! the store: the head, the WAL (a SIGKILL and replay) and Parquet blocks.
//!
//! Two series make the start timestamps observable, because their values alone tell a
//! different story:
//! - a delta counter (OTel style): every sample is 60, its start is the previous sample's
//!   time. Without start timestamps `increase` sees a flat line (0); with them every sample
//!   is a reset and the increase over a minute is 4 × 60.
//! - a cumulative counter restarted between two samples without its value dropping: only
//!   the start timestamp shows the reset to `resets`.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};
use support::api;
use support::heimsight::Heimsight;
use support::remote_write;

const STEP_MS: i64 = 15_000;
const SAMPLES: i64 = 48;
/// The cumulative counter restarts just before this sample (5 s before it).
const RESTART_AT: i64 = 30;

struct Data {
    /// Time of sample 0.
    start: i64,
}

impl Data {
    fn t(&self, i: i64) -> i64 {
        self.start + i * STEP_MS
    }

    fn cumulative_start(&self, i: i64) -> i64 {
        if i < RESTART_AT {
            self.start - 1000
        } else {
            self.t(RESTART_AT) - 5000
        }
    }
}

fn write(server: &Heimsight, data: &Data) {
    let client = remote_write::client();
    // Oldest first, a few samples per request: the head takes samples down to half a block
    // below its newest.
    for first in (0..SAMPLES).step_by(4) {
        let range = first..(first + 4).min(SAMPLES);
        let delta: Vec<(i64, f64, i64)> = range.clone().map(|i| (data.t(i), 60.0, data.t(i) - STEP_MS)).collect();
        let cumulative: Vec<(i64, f64, i64)> = range
            .map(|i| (data.t(i), (10 * i + 5) as f64, data.cumulative_start(i)))
            .collect();
        let body = remote_write::encode_v2_with_start(&[
            (vec![("__name__", "st_delta_total"), ("job", "e2e")], delta),
            (vec![("__name__", "st_cumulative_total"), ("job", "e2e")], cumulative),
        ]);
        let response = remote_write::post_v2(&client, &server.base_url(), body);
        assert_eq!(response.status, 204, "{response:?}");
    }
}

fn single_value(server: &Heimsight, query: &str, time_ms: i64) -> f64 {
    let client = remote_write::client();
    let response = api::instant_query(&client, &server.base_url(), query, time_ms);
    assert!(response.is_success(), "{query}: {}", response.text);
    let series = api::result_series(&response);
    assert_eq!(series.len(), 1, "{query} at {time_ms}: {}", response.text);
    let Some((_, text)) = series[0].points.first() else {
        panic!("{query}: no point in {}", response.text);
    };
    api::parse_value(text).unwrap_or_else(|| panic!("{query}: not a number: {text}"))
}

fn assert_close(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: got {got}, want {want}"
    );
}

/// Every query whose answer depends on the stored start timestamps.
fn check_queries(server: &Heimsight, data: &Data, context: &str) {
    let at = data.t(40);
    // Four delta samples of 60 in (at-1m, at], each a reset after the previous one; the
    // first starts exactly at the window's (open) left edge, so it extrapolates 15 s.
    let increase = single_value(server, "increase(st_delta_total[1m])", at);
    assert_close(increase, 240.0, &format!("{context}: increase of the delta counter"));
    let irate = single_value(server, "irate(st_delta_total[1m])", at);
    assert_close(irate, 4.0, &format!("{context}: irate of the delta counter"));
    let start = single_value(server, "start_timestamp(st_delta_total)", at);
    assert_close(
        start,
        (at - STEP_MS) as f64 / 1000.0,
        &format!("{context}: start_timestamp"),
    );

    // The restart between samples 29 and 30 only shows in the start timestamps.
    let over_restart = data.t(RESTART_AT + 1);
    let resets = single_value(server, "resets(st_cumulative_total[1m])", over_restart);
    assert_close(resets, 1.0, &format!("{context}: resets across the restart"));
    let resets_later = single_value(server, "resets(st_cumulative_total[1m])", at);
    assert_close(resets_later, 0.0, &format!("{context}: resets after the restart"));
    // Samples 28..=31 (285, 295, 305, 315): 30 of change plus 295 counted before the reset,
    // extrapolated by 15 s over 45 s.
    let increase = single_value(server, "increase(st_cumulative_total[1m])", over_restart);
    assert_close(
        increase,
        325.0 * (60.0 / 45.0),
        &format!("{context}: increase across the restart"),
    );
    let start = single_value(server, "start_timestamp(st_cumulative_total)", at);
    assert_close(
        start,
        data.cumulative_start(40) as f64 / 1000.0,
        &format!("{context}: start_timestamp after the restart"),
    );
}

fn find_file(dir: &Path, name: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() {
            find_file(&path, name)
        } else {
            path.file_name().is_some_and(|n| n == name)
        }
    })
}

/// Advances a clock series so the head's newest time passes the data, until a block with
/// start timestamps reaches object storage.
fn wait_for_blocks(server: &Heimsight) {
    let client = remote_write::client();
    let blocks = server.data_dir().join("blocks");
    let deadline = Instant::now() + Duration::from_secs(150);
    while !find_file(&blocks, "start_timestamps.parquet") {
        assert!(
            Instant::now() < deadline,
            "no block with start timestamps within 150 s; log:\n{}",
            server.log_tail()
        );
        let body = remote_write::encode_v2_with_start(&[(
            vec![("__name__", "st_clock"), ("job", "e2e")],
            vec![(support::now_ms(), 1.0, 0)],
        )]);
        let response = remote_write::post_v2(&client, &server.base_url(), body);
        assert_eq!(response.status, 204, "{response:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn start_timestamps_survive_wal_replay_and_blocks() {
    let config_dir = tempfile::tempdir().unwrap_or_else(|err| panic!("temp dir: {err}"));
    let config = config_dir.path().join("heimsight.yml");
    std::fs::write(&config, "storage:\n  block_duration: 1m\n").unwrap_or_else(|err| panic!("config: {err}"));
    let config_flag = format!("--config.file={}", config.display());
    let mut server = Heimsight::start_with_args(&[&config_flag]);

    let now = (support::now_ms() / STEP_MS) * STEP_MS;
    let data = Data {
        start: now - SAMPLES * STEP_MS,
    };
    write(&server, &data);
    check_queries(&server, &data, "in the head");

    server.kill();
    server.restart();
    check_queries(&server, &data, "after SIGKILL and WAL replay");

    wait_for_blocks(&server);
    check_queries(&server, &data, "with blocks cut");

    server.kill();
    server.restart();
    check_queries(&server, &data, "with blocks cut, after SIGKILL");
}

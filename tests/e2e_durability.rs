//! Acknowledged data survives: `kill -9` mid-stream, a clean SIGTERM restart, blocks cut to
//! object storage (local filesystem, and S3 through an in-process S3-compatible server).
//!
//! The rule under test (DESIGN.md): a remote-write request is answered 2xx only after its samples
//! are durable, so every sample of every 2xx request must be readable after any restart. Samples
//! of requests that got no answer (cut by the kill) may or may not be there.
//!
//! Blocks are made small with the config file (`storage: {block_duration: 1m}`), so they are cut
//! within seconds instead of hours. Blocks on the default object store land under
//! `<storage.path>/blocks`. The head accepts samples down to `newest - block_duration/2` (as
//! Prometheus does), so history is written oldest first, all series together.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::heimsight::Heimsight;
use support::prompb::{self, WriteRequest};
use support::remote_read;
use support::remote_write::{self, series};

const METRIC: &str = "e2e_durability_samples";
const WRITERS: usize = 4;
const SAMPLES_PER_REQUEST: i64 = 20;
const BLOCK_DURATION: &str = "1m";

/// Acknowledged samples per writer label value.
type Acked = BTreeMap<String, Vec<(i64, f64)>>;

/// Streams requests from several writers at once until `stop` is set or the server goes away.
/// Each writer owns one series and sends strictly increasing timestamps, so no sample is ever
/// refused as out of order; the value is the sample's sequence number. A refusal is a failure,
/// except once `interrupting` is set: a server shutting down may answer 503.
fn stream_writes(
    base_url: &str,
    phase: &str,
    first_ms: i64,
    stop: Arc<AtomicBool>,
    interrupting: Arc<AtomicBool>,
) -> Acked {
    let acked = Arc::new(Mutex::new(Acked::new()));
    let mut handles = Vec::new();
    for writer in 0..WRITERS {
        let base_url = base_url.to_string();
        let stop = stop.clone();
        let interrupting = interrupting.clone();
        let acked = acked.clone();
        let name = format!("{phase}-{writer}");
        handles.push(std::thread::spawn(move || {
            let client = remote_write::client();
            let mut sequence = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let samples: Vec<(i64, f64)> = (0..SAMPLES_PER_REQUEST)
                    .map(|i| {
                        let n = sequence + i;
                        (first_ms + n, n as f64)
                    })
                    .collect();
                sequence += SAMPLES_PER_REQUEST;
                let request = WriteRequest {
                    timeseries: vec![series(
                        prompb::labels(&[("__name__", METRIC), ("job", "e2e"), ("writer", &name)]),
                        &samples,
                    )],
                    metadata: Vec::new(),
                };
                let headers = [
                    ("Content-Type", remote_write::CONTENT_TYPE_V1),
                    ("Content-Encoding", "snappy"),
                ];
                match remote_write::try_post_raw(&client, &base_url, remote_write::encode_v1(&request), &headers) {
                    Ok(response) if response.is_success() => {
                        if let Ok(mut acked) = acked.lock() {
                            acked.entry(name.clone()).or_default().extend(samples);
                        }
                    }
                    Ok(_) if interrupting.load(Ordering::Relaxed) => break,
                    Ok(response) => panic!("writer {name}: a healthy server refused a valid request: {response:?}"),
                    // The server was killed under us: the request is unanswered, stop writing.
                    Err(_) => break,
                }
            }
        }));
    }
    for handle in handles {
        if let Err(panic) = handle.join() {
            std::panic::resume_unwind(panic);
        }
    }
    Arc::try_unwrap(acked)
        .ok()
        .and_then(|mutex| mutex.into_inner().ok())
        .unwrap_or_default()
}

/// Streams for `duration`, then runs `interrupt` (kill or terminate) while writers are mid-flight.
fn stream_then(
    server: &mut Heimsight,
    phase: &str,
    first_ms: i64,
    duration: Duration,
    interrupt: impl FnOnce(&mut Heimsight),
) -> Acked {
    let stop = Arc::new(AtomicBool::new(false));
    let interrupting = Arc::new(AtomicBool::new(false));
    let base_url = server.base_url();
    let phase_name = phase.to_string();
    let (writer_stop, writer_interrupting) = (stop.clone(), interrupting.clone());
    let streaming =
        std::thread::spawn(move || stream_writes(&base_url, &phase_name, first_ms, writer_stop, writer_interrupting));
    std::thread::sleep(duration);
    interrupting.store(true, Ordering::Relaxed);
    interrupt(server);
    stop.store(true, Ordering::Relaxed);
    match streaming.join() {
        Ok(acked) => acked,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Every acknowledged sample is readable (exact timestamps and values, by remote read).
fn assert_all_acked_readable(server: &Heimsight, acked: &Acked, context: &str) {
    let client = remote_write::client();
    let total: usize = acked.values().map(Vec::len).sum();
    assert!(total > 0, "{context}: no request was acknowledged at all");
    for (writer, samples) in acked {
        let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
            continue;
        };
        let read = remote_read::read_samples(
            &client,
            &server.base_url(),
            first.0,
            last.0,
            vec![
                remote_read::matcher_eq("__name__", METRIC),
                remote_read::matcher_eq("writer", writer),
            ],
        );
        assert_eq!(
            read.len(),
            1,
            "{context}: writer {writer}: expected one series, got {read:?}"
        );
        let stored: std::collections::HashMap<i64, f64> = read[0].samples.iter().copied().collect();
        let missing: Vec<&(i64, f64)> = samples
            .iter()
            .filter(|(t, v)| stored.get(t).map(|s| s.to_bits()) != Some(v.to_bits()))
            .collect();
        assert!(
            missing.is_empty(),
            "{context}: writer {writer}: {} of {} acknowledged samples lost, first: {:?}",
            missing.len(),
            samples.len(),
            &missing[..missing.len().min(5)]
        );
    }
    // The same data is visible to PromQL: one series per writer with the right sample count.
    let selector = format!("count_over_time({METRIC}[1h])");
    let response = support::api::instant_query(&client, &server.base_url(), &selector, support::now_ms());
    let counts: BTreeMap<String, f64> = support::api::result_series(&response)
        .into_iter()
        .filter_map(|s| {
            let writer = s.labels.get("writer")?.clone();
            let value = support::api::parse_value(&s.points.first()?.1)?;
            Some((writer, value))
        })
        .collect();
    for (writer, samples) in acked {
        let count = counts.get(writer).copied().unwrap_or(0.0);
        assert!(
            count >= samples.len() as f64,
            "{context}: count_over_time for {writer} is {count}, below the {} acknowledged: {}",
            samples.len(),
            response.text
        );
    }
}

fn merge(into: &mut Acked, more: Acked) {
    for (writer, samples) in more {
        into.entry(writer).or_default().extend(samples);
    }
}

#[test]
fn acknowledged_writes_survive_sigkill_and_sigterm() {
    let mut server = Heimsight::start();
    // A few minutes in the past: each writer sends 1 ms-spaced samples, far fewer than that.
    let first_ms = support::now_ms() - 5 * 60 * 1000;

    // kill -9 while four writers are streaming.
    let mut acked = stream_then(&mut server, "kill", first_ms, Duration::from_secs(3), |server| {
        server.kill()
    });
    server.restart();
    assert_all_acked_readable(&server, &acked, "after SIGKILL");

    // A clean shutdown in the middle of traffic, then a restart.
    let term = stream_then(&mut server, "term", first_ms, Duration::from_secs(2), |server| {
        let status = server.terminate();
        assert!(status.success(), "SIGTERM should shut down cleanly, got {status}");
    });
    merge(&mut acked, term);
    server.restart();
    assert_all_acked_readable(&server, &acked, "after SIGTERM");

    // And the data survives a second kill after WAL replay.
    server.kill();
    server.restart();
    assert_all_acked_readable(&server, &acked, "after a second SIGKILL");
}

/// Writes 12 minutes of history (twelve one-minute blocks' worth) to a fresh server, oldest
/// first and both series in each request (the head refuses samples more than half a block
/// older than its newest), then keeps a clock series advancing until `blocks_written` sees
/// blocks in object storage.
fn write_history_until_blocks_cut(server: &Heimsight, blocks_written: impl Fn() -> bool) -> Acked {
    let client = remote_write::client();
    let now = (support::now_ms() / 1000) * 1000;
    let start = now - 12 * 60 * 1000;
    let writers = ["history-0", "history-1"];
    let mut acked = Acked::new();
    let history: Vec<(i64, f64)> = (0..144).map(|i| (start + i * 5000, (i * i) as f64 + 0.5)).collect();
    for chunk in history.chunks(5) {
        let request = WriteRequest {
            timeseries: writers
                .iter()
                .map(|writer| {
                    series(
                        prompb::labels(&[("__name__", METRIC), ("job", "e2e"), ("writer", writer)]),
                        chunk,
                    )
                })
                .collect(),
            metadata: Vec::new(),
        };
        let response = remote_write::push_v1(&client, &server.base_url(), &request);
        assert!(
            response.is_success(),
            "history written oldest first must be accepted: {response:?}"
        );
        for writer in writers {
            acked.entry(writer.to_string()).or_default().extend_from_slice(chunk);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut tick = 0i64;
    while !blocks_written() {
        assert!(
            Instant::now() < deadline,
            "no block reached object storage within 120 s (block_duration {BLOCK_DURATION}); log:\n{}",
            server.log_tail()
        );
        let sample = (support::now_ms(), tick as f64);
        let request = WriteRequest {
            timeseries: vec![series(
                prompb::labels(&[("__name__", METRIC), ("job", "e2e"), ("writer", "clock")]),
                &[sample],
            )],
            metadata: Vec::new(),
        };
        let response = remote_write::push_v1(&client, &server.base_url(), &request);
        assert!(response.is_success(), "clock write: {response:?}");
        acked.entry("clock".to_string()).or_default().push(sample);
        tick += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    acked
}

fn has_files(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let path = entry.path();
        if path.is_dir() { has_files(&path) } else { true }
    })
}

/// A config file in a directory that lives as long as the returned guard; returns the flag.
fn config_file(yaml: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("temp dir: {err}"));
    let path = dir.path().join("heimsight.yml");
    std::fs::write(&path, yaml).unwrap_or_else(|err| panic!("write {}: {err}", path.display()));
    let flag = format!("--config.file={}", path.display());
    (dir, flag)
}

#[test]
fn data_cut_into_filesystem_blocks_survives_sigkill() {
    let (_config_dir, config_flag) = config_file(&format!("storage:\n  block_duration: {BLOCK_DURATION}\n"));
    let mut server = Heimsight::start_with_args(&[&config_flag]);
    let blocks_dir = server.data_dir().join("blocks");
    let acked = write_history_until_blocks_cut(&server, || has_files(&blocks_dir));
    assert_all_acked_readable(&server, &acked, "with blocks cut, before the kill");
    server.kill();
    server.restart();
    assert_all_acked_readable(&server, &acked, "with blocks cut, after SIGKILL");
    let status = server.terminate();
    assert!(status.success(), "SIGTERM: {status}");
    server.restart();
    assert_all_acked_readable(&server, &acked, "with blocks cut, after SIGTERM");
}

/// Where an S3-backed server puts its blocks.
pub struct S3Target {
    pub endpoint: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// The config file of an S3-backed server (`storage.object_store` holds the keys of
/// `storage::config::ObjectStoreConfig::S3`).
fn s3_config_yaml(target: &S3Target) -> String {
    format!(
        "storage:\n  block_duration: {BLOCK_DURATION}\n  object_store:\n    type: s3\n    bucket: {}\n    endpoint: {}\n    region: us-east-1\n    access_key_id: {}\n    secret_access_key: {}\n    force_path_style: true\n    allow_http: true\n",
        target.bucket, target.endpoint, target.access_key_id, target.secret_access_key
    )
}

/// Lists the bucket with the same object_store client the server uses.
fn s3_object_count(target: &S3Target) -> usize {
    use futures::StreamExt;
    use object_store::ObjectStore;
    let store = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&target.endpoint)
        .with_bucket_name(&target.bucket)
        .with_region("us-east-1")
        .with_access_key_id(&target.access_key_id)
        .with_secret_access_key(&target.secret_access_key)
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .build()
        .unwrap_or_else(|err| panic!("cannot build an S3 client for {}: {err}", target.endpoint));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("cannot build a tokio runtime: {err}"));
    runtime.block_on(async {
        store
            .list(None)
            .filter(|item| std::future::ready(item.is_ok()))
            .count()
            .await
    })
}

/// The S3 variant, against a real S3-compatible server (s3s-fs, in this process on 127.0.0.1).
#[test]
fn data_cut_into_s3_blocks_survives_sigkill() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("tokio runtime: {err}"));
    let bucket = "heimsight-e2e";
    let s3 = runtime.block_on(support::s3::TestS3::start(bucket));
    data_cut_into_s3_blocks_survives_sigkill_with(&S3Target {
        endpoint: s3.endpoint(),
        bucket: bucket.to_string(),
        access_key_id: support::s3::ACCESS_KEY.to_string(),
        secret_access_key: support::s3::SECRET_KEY.to_string(),
    });
    drop(s3);
}

fn data_cut_into_s3_blocks_survives_sigkill_with(target: &S3Target) {
    let (_config_dir, config_flag) = config_file(&s3_config_yaml(target));
    let mut server = Heimsight::start_with_args(&[&config_flag]);
    let acked = write_history_until_blocks_cut(&server, || s3_object_count(target) > 0);
    server.kill();
    server.restart();
    assert_all_acked_readable(&server, &acked, "S3 blocks, after SIGKILL");
    // Blocks are self-describing in the bucket: a server with an empty data directory on the same
    // bucket finds them. Only the oldest three minutes of history are checked: they are over
    // nine block durations old, so they belong in blocks whatever part of the recent past the
    // server keeps in its head. The kill may have cut the first cut short (it came as soon as
    // one object was in the bucket); the restarted server finishes it, and the head's minimum
    // time moving past those samples is the sign that it has.
    let oldest: Acked = acked
        .iter()
        .filter(|(writer, _)| writer.starts_with("history"))
        .map(|(writer, samples)| (writer.clone(), samples[..36.min(samples.len())].to_vec()))
        .collect();
    let newest_checked = oldest.values().filter_map(|s| s.last()).map(|s| s.0).max().unwrap_or(0);
    wait_until_head_starts_after(&server, newest_checked);
    let status = server.terminate();
    assert!(status.success(), "SIGTERM: {status}");
    let reader = Heimsight::start_with_args(&[&config_flag]);
    assert_all_acked_readable(
        &reader,
        &oldest,
        "S3 blocks, read by a second server with an empty data dir",
    );
}

/// Polls `/api/v1/status/tsdb` until the head's minimum time is above `t_ms`: everything at or
/// before it has been cut into blocks.
fn wait_until_head_starts_after(server: &Heimsight, t_ms: i64) {
    let client = remote_write::client();
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let response = support::api::get(&client, &format!("{}/api/v1/status/tsdb", server.base_url()), &[]);
        let min_time = response.json["data"]["headStats"]["minTime"]
            .as_i64()
            .unwrap_or(i64::MIN);
        if min_time > t_ms {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the head still starts at {min_time}, not after {t_ms}, 150 s after the restart: {}\nlog:\n{}",
            response.text,
            server.log_tail()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

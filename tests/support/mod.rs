//! Shared helpers of the end-to-end tests: the real `heimsight` binary and a real Prometheus as
//! child processes, and small clients for remote write, remote read and the query API.
//!
//! Every test crate includes this module and uses a different part of it, hence the allowance.
#![allow(dead_code)]

pub mod api;
pub mod heimsight;
pub mod process;
pub mod prometheus;
pub mod prompb;
pub mod remote_read;
pub mod remote_write;
pub mod s3;

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Whether we run in CI, where a missing external tool must fail the run instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| !v.is_empty() && v != "false" && v != "0")
        .unwrap_or(false)
}

/// Finds an external program on `PATH`. Missing in CI: the test fails loudly. Missing locally:
/// the caller skips, after a message saying how to get it.
pub fn require_binary(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        let message = format!(
            "`{name}` is not on PATH; install Debian's `prometheus` package (scripts/test.sh does: \
             apt-get install -y --no-install-recommends prometheus)"
        );
        if in_ci() {
            panic!("{message}");
        }
        eprintln!("SKIPPED: {message}");
    }
    found
}

/// A TCP port that was free a moment ago (for programs that cannot report the port they bound).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|err| panic!("cannot bind 127.0.0.1:0: {err}"));
    listener
        .local_addr()
        .unwrap_or_else(|err| panic!("bound socket has no address: {err}"))
        .port()
}

pub fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_else(|err| panic!("clock before 1970: {err}"));
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// Milliseconds as the float-seconds string the Prometheus API takes (`1700000000.123`).
pub fn ms_to_param(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
}

/// Polls `check` until it returns `Some`, or gives up after `timeout`.
pub fn wait_for<T>(timeout: Duration, interval: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(interval);
    }
}

/// Removes ANSI colour sequences, which log formatters add around fields.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

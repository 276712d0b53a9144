//! The real `heimsight` binary as a child process on 127.0.0.1 and a private data directory.
//!
//! Contract with the binary: `--web.listen-address=127.0.0.1:0 --storage.path=<dir>` (plus any
//! extra flags), a log line containing `listening on 127.0.0.1:<port>` once it serves, and
//! `GET /ready` answering 200 once it accepts traffic.

use super::process::LoggedChild;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;
use tempfile::TempDir;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);

pub struct Heimsight {
    process: Option<LoggedChild>,
    port: u16,
    data_dir: PathBuf,
    extra_args: Vec<String>,
    /// Held so the directory lives as long as the server (and across restarts).
    _temp: TempDir,
}

impl Heimsight {
    /// A server on a fresh, empty data directory.
    pub fn start() -> Self {
        Self::start_with_args(&[])
    }

    /// A server on a fresh data directory with extra command-line flags.
    pub fn start_with_args(extra_args: &[&str]) -> Self {
        let temp = tempfile::Builder::new()
            .prefix("heimsight-e2e-")
            .tempdir()
            .unwrap_or_else(|err| panic!("cannot create a temp dir: {err}"));
        let data_dir = temp.path().join("data");
        let mut server = Self {
            process: None,
            port: 0,
            data_dir,
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
            _temp: temp,
        };
        server.spawn();
        server
    }

    /// A scratch directory that lives as long as this server (for config files and the like).
    pub fn scratch_dir(&self) -> &Path {
        self._temp.path()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn spawn(&mut self) {
        let mut command = Command::new(binary());
        command
            .arg("--web.listen-address=127.0.0.1:0")
            .arg(format!("--storage.path={}", self.data_dir.display()))
            .args(&self.extra_args)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "info");
        let mut process = LoggedChild::spawn("heimsight", command);
        let port = process.wait_for_line(STARTUP_TIMEOUT, parse_listening_port);
        self.port = port;
        self.process = Some(process);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let client = super::remote_write::client();
        let url = format!("{}/ready", self.base_url());
        let ready = super::wait_for(STARTUP_TIMEOUT, Duration::from_millis(100), || {
            if let Some(process) = self.process.as_mut()
                && let Some(status) = process.try_wait()
            {
                panic!(
                    "heimsight exited before /ready ({status}); log:\n{}",
                    process.log_tail()
                );
            }
            let response = client.get(&url).send().ok()?;
            (response.status().as_u16() == 200).then_some(())
        });
        if ready.is_none() {
            panic!(
                "heimsight {url} not 200 within {STARTUP_TIMEOUT:?}; log:\n{}",
                self.log_tail()
            );
        }
    }

    /// `kill -9`: no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// `kill -TERM` and wait for a clean exit; returns the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let Some(mut process) = self.process.take() else {
            panic!("heimsight is not running");
        };
        match process.terminate(Duration::from_secs(60)) {
            Some(status) => status,
            None => panic!(
                "heimsight did not exit within 60 s of SIGTERM; log:\n{}",
                process.log_tail()
            ),
        }
    }

    /// Starts the binary again on the same data directory (after [`Self::kill`] or [`Self::terminate`]).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn log_tail(&self) -> String {
        self.process.as_ref().map(LoggedChild::log_tail).unwrap_or_default()
    }
}

/// The binary under test: `HEIMSIGHT_BIN` if set (e.g. a release build), else the one cargo built.
pub fn binary() -> PathBuf {
    std::env::var_os("HEIMSIGHT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_heimsight")))
}

/// Finds the port in a line such as `... listening on 127.0.0.1:41234` (any log format).
pub fn parse_listening_port(line: &str) -> Option<u16> {
    let lower = line.to_ascii_lowercase();
    let start = lower.find("listening on")?;
    let rest = &line[start..];
    let host = rest.find("127.0.0.1:")?;
    let digits: String = rest[host + "127.0.0.1:".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().filter(|port| *port != 0)
}

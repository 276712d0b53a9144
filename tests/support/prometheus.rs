//! A real Prometheus (Debian's `prometheus` package, 2.42) as a child process with a generated
//! config and its own TSDB in a temporary directory, on 127.0.0.1.

use super::process::LoggedChild;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Prometheus {
    process: LoggedChild,
    port: u16,
    _temp: TempDir,
}

impl Prometheus {
    /// Starts Prometheus with the config `config(port)` (the port is its own, for self-scrapes)
    /// and extra flags. `None` when the binary is missing outside CI (the test then skips).
    pub fn start(config: impl Fn(u16) -> String, extra_args: &[&str]) -> Option<Self> {
        let binary = super::require_binary("prometheus")?;
        // The port is chosen before Prometheus binds it, so another process may take it first:
        // try a few times.
        let mut last_log = String::new();
        for _ in 0..3 {
            match Self::try_start(&binary, &config, extra_args) {
                Ok(prometheus) => return Some(prometheus),
                Err(log) => last_log = log,
            }
        }
        panic!("Prometheus did not start; last log:\n{last_log}");
    }

    fn try_start(binary: &PathBuf, config: &impl Fn(u16) -> String, extra_args: &[&str]) -> Result<Self, String> {
        let temp = tempfile::Builder::new()
            .prefix("prometheus-e2e-")
            .tempdir()
            .unwrap_or_else(|err| panic!("cannot create a temp dir: {err}"));
        let port = super::free_port();
        let config_path = temp.path().join("prometheus.yml");
        std::fs::write(&config_path, config(port)).unwrap_or_else(|err| panic!("cannot write the config: {err}"));
        let mut command = Command::new(binary);
        command
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--storage.tsdb.path={}", temp.path().join("tsdb").display()))
            .arg("--log.level=info")
            .args(extra_args)
            .current_dir(temp.path());
        let mut process = LoggedChild::spawn("prometheus", command);
        let client = super::remote_write::client();
        let ready_url = format!("http://127.0.0.1:{port}/-/ready");
        let ready = super::wait_for(STARTUP_TIMEOUT, Duration::from_millis(100), || {
            if process.try_wait().is_some() {
                return Some(false);
            }
            let response = client.get(&ready_url).send().ok()?;
            (response.status().as_u16() == 200).then_some(true)
        });
        if ready != Some(true) {
            let log = process.log_tail();
            process.kill();
            return Err(log);
        }
        Ok(Self {
            process,
            port,
            _temp: temp,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_tail(&self) -> String {
        self.process.log_tail()
    }

    pub fn log_contains(&self, needle: &str) -> bool {
        self.process.log_contains(needle)
    }
}

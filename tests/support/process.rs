//! A child process whose stdout and stderr are collected line by line, so a test can wait for a
//! log line and print the tail of the log when it fails.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEPT_LINES: usize = 400;

pub struct LoggedChild {
    pub name: String,
    child: Child,
    lines: Arc<Mutex<VecDeque<String>>>,
    incoming: Receiver<String>,
}

impl LoggedChild {
    pub fn spawn(name: &str, mut command: Command) -> Self {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {name} ({command:?}): {err}"));
        let lines = Arc::new(Mutex::new(VecDeque::new()));
        let (sender, incoming) = channel();
        if let Some(stdout) = child.stdout.take() {
            collect(stdout, lines.clone(), sender.clone());
        }
        if let Some(stderr) = child.stderr.take() {
            collect(stderr, lines.clone(), sender);
        }
        Self {
            name: name.to_string(),
            child,
            lines,
            incoming,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a log line for which `find` returns something; fails if the process exits.
    pub fn wait_for_line<T>(&mut self, timeout: Duration, mut find: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok(line) => {
                    if let Some(found) = find(&super::strip_ansi(&line)) {
                        return found;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => std::thread::sleep(Duration::from_millis(50)),
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited early ({status}); log:\n{}", self.name, self.log_tail());
            }
            if Instant::now() >= deadline {
                panic!(
                    "{} did not log the expected line in {timeout:?}; log:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
        }
    }

    /// Whether the process has exited (and with what).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait up to `timeout` for the process to exit by itself.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn log_tail(&self) -> String {
        let lines = self.lines.lock().map(|l| l.clone()).unwrap_or_default();
        lines.into_iter().collect::<Vec<_>>().join("\n")
    }

    pub fn log_contains(&self, needle: &str) -> bool {
        self.lines
            .lock()
            .map(|lines| lines.iter().any(|line| line.contains(needle)))
            .unwrap_or(false)
    }
}

impl Drop for LoggedChild {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("---- last log lines of {} ----\n{}", self.name, self.log_tail());
        }
    }
}

fn collect(
    stream: impl Read + Send + 'static,
    lines: Arc<Mutex<VecDeque<String>>>,
    sender: std::sync::mpsc::Sender<String>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Ok(mut kept) = lines.lock() {
                if kept.len() == KEPT_LINES {
                    kept.pop_front();
                }
                kept.push_back(line.clone());
            }
            let _ = sender.send(line);
        }
    });
}

//! The WAL's single writer thread. Appenders send framed bytes over a channel; the thread
//! drains whatever is queued, writes it in one go, calls `sync_data` once for the whole
//! group and only then answers every appender (group commit).

use crate::storage::wal::segment::{segment_path, sync_dir};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use tokio::sync::oneshot;

/// A group stops growing at this many bytes so one huge burst cannot starve fsync latency.
const MAX_GROUP_BYTES: usize = 64 << 20;

pub enum Command {
    Append {
        frames: Vec<u8>,
        reply: oneshot::Sender<io::Result<()>>,
    },
    /// Closes the current segment and starts a new one; answers the new segment's number.
    Roll {
        reply: oneshot::Sender<io::Result<u64>>,
    },
    Shutdown {
        reply: oneshot::Sender<io::Result<()>>,
    },
}

#[derive(Debug, Default)]
pub struct Counters {
    pub fsyncs: AtomicU64,
    pub bytes: AtomicU64,
    /// Set after a failed write or fsync. The head applies a batch before its WAL write, so
    /// after a failure the head may hold samples the WAL lacks; a retry of them would look
    /// like a duplicate and be acknowledged without a WAL record. Refusing every later append
    /// until a restart (which rebuilds the head from the WAL alone) rules that out.
    pub failed: AtomicBool,
}

pub struct WriterThread {
    pub dir: PathBuf,
    pub segment_bytes: u64,
    pub segment_number: u64,
    pub file: File,
    pub segment_len: u64,
    pub counters: Arc<Counters>,
}

impl WriterThread {
    /// Creates (or truncates) segment `number` and makes its directory entry durable.
    pub fn create_segment(dir: &std::path::Path, number: u64) -> io::Result<File> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(segment_path(dir, number))?;
        sync_dir(dir)?;
        Ok(file)
    }

    pub fn run(mut self, rx: Receiver<Command>) {
        while let Ok(first) = rx.recv() {
            let mut group = vec![first];
            let mut group_bytes = 0usize;
            loop {
                if group_bytes >= MAX_GROUP_BYTES {
                    break;
                }
                match rx.try_recv() {
                    Ok(command) => {
                        if let Command::Append { frames, .. } = &command {
                            group_bytes += frames.len();
                        }
                        group.push(command);
                    }
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            if self.handle_group(group) {
                return;
            }
        }
        let _ = self.file.sync_data();
    }

    /// Returns true when asked to shut down.
    fn handle_group(&mut self, group: Vec<Command>) -> bool {
        let mut pending: Vec<oneshot::Sender<io::Result<()>>> = Vec::new();
        let mut failed: Option<io::Error> = None;
        for command in group {
            match command {
                Command::Append { frames, reply } => {
                    if let Some(err) = &failed {
                        let _ = reply.send(Err(io::Error::new(err.kind(), err.to_string())));
                        continue;
                    }
                    match self.write_frames(&frames) {
                        Ok(()) => pending.push(reply),
                        Err(err) => {
                            let _ = reply.send(Err(io::Error::new(err.kind(), err.to_string())));
                            failed = Some(err);
                        }
                    }
                }
                Command::Roll { reply } => {
                    let result = self.sync(&mut pending).and_then(|()| self.roll());
                    if result.is_err() {
                        self.counters.failed.store(true, Ordering::Release);
                    }
                    let _ = reply.send(result.map(|()| self.segment_number));
                }
                Command::Shutdown { reply } => {
                    let result = self.sync(&mut pending);
                    let _ = reply.send(result);
                    return true;
                }
            }
        }
        let result = self.sync(&mut pending);
        if result.is_err() || failed.is_some() {
            self.counters.failed.store(true, Ordering::Release);
            // The file may end in a partial or unsynced frame; continue in a fresh segment so
            // later acknowledged frames never sit behind damage.
            if let Err(err) = self.roll() {
                tracing::error!(error = %err, "wal: cannot start a new segment after a write error");
            }
        }
        false
    }

    /// Syncs the segment and answers everyone waiting on it.
    fn sync(&mut self, pending: &mut Vec<oneshot::Sender<io::Result<()>>>) -> io::Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let result = self.file.sync_data();
        self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        for reply in pending.drain(..) {
            let answer = match &result {
                Ok(()) => Ok(()),
                Err(err) => Err(io::Error::new(err.kind(), err.to_string())),
            };
            let _ = reply.send(answer);
        }
        result
    }

    fn write_frames(&mut self, frames: &[u8]) -> io::Result<()> {
        if self.segment_len > 0 && self.segment_len + frames.len() as u64 > self.segment_bytes {
            self.file.sync_data()?;
            self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
            self.roll()?;
        }
        let result = self.file.write_all(frames);
        if result.is_ok() {
            self.segment_len += frames.len() as u64;
            self.counters.bytes.fetch_add(frames.len() as u64, Ordering::Relaxed);
        }
        result
    }

    fn roll(&mut self) -> io::Result<()> {
        let next = self.segment_number + 1;
        self.file = Self::create_segment(&self.dir, next)?;
        self.segment_number = next;
        self.segment_len = 0;
        Ok(())
    }
}

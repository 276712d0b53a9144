//! Write-ahead log: checksummed records in segment files, group commit with fsync.
//!
//! One WAL serves every tenant and signal. Appends are durable when `append` returns. On
//! open the log is replayed (latest checkpoint, then the segments after it); a torn or
//! corrupt tail is cut off with a warning, never a panic. Once the head's older data is in
//! blocks, [`Wal::checkpoint`] folds closed segments into a checkpoint that keeps only what
//! the head still needs, and deletes them.

pub mod record;
pub mod segment;
mod writer;

pub use record::{RecordError, RefSample, WalRecord};

use crate::storage::error::StorageError;
use segment::{
    FrameDamage, checkpoint_path, encode_frame, encode_frame_in_place, list_dir, read_frames, segment_path, sync_dir,
};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use tokio::sync::oneshot;
use writer::{Command, Counters, WriterThread};

pub struct Wal {
    dir: PathBuf,
    sender: Mutex<Option<mpsc::Sender<Command>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    counters: Arc<Counters>,
    /// Serialises checkpoints (they read and delete closed files).
    checkpoint_lock: Mutex<()>,
}

impl Wal {
    /// Opens the WAL in `dir`, replaying every intact record through `on_record` in write
    /// order, then starts a fresh segment for new appends.
    pub fn open(dir: &Path, segment_bytes: u64, mut on_record: impl FnMut(WalRecord)) -> Result<Wal, StorageError> {
        fs::create_dir_all(dir)?;
        let listing = list_dir(dir)?;
        for tmp in &listing.temporary {
            fs::remove_file(tmp)?;
        }
        let checkpoint = listing.checkpoints.last().copied();
        if let Some(number) = checkpoint {
            replay_file(&checkpoint_path(dir, number), &mut on_record)?;
        }
        let mut last_segment = checkpoint.unwrap_or(0);
        for &number in &listing.segments {
            if checkpoint.is_some_and(|c| number <= c) {
                // Folded into the checkpoint; a crash came between its rename and this delete.
                fs::remove_file(segment_path(dir, number))?;
                continue;
            }
            replay_file(&segment_path(dir, number), &mut on_record)?;
            last_segment = last_segment.max(number);
        }
        for &number in listing.checkpoints.iter().rev().skip(1) {
            fs::remove_file(checkpoint_path(dir, number))?;
        }

        let segment_number = last_segment + 1;
        let file = WriterThread::create_segment(dir, segment_number)?;
        let counters = Arc::new(Counters::default());
        let writer = WriterThread {
            dir: dir.to_path_buf(),
            segment_bytes: segment_bytes.max(1),
            segment_number,
            file,
            segment_len: 0,
            counters: Arc::clone(&counters),
        };
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("heimsight-wal".into())
            .spawn(move || writer.run(rx))?;
        Ok(Wal {
            dir: dir.to_path_buf(),
            sender: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            counters,
            checkpoint_lock: Mutex::new(()),
        })
    }

    /// Appends records; returns once they are fsynced. Concurrent calls share one fsync.
    pub async fn append(&self, records: &[WalRecord]) -> Result<(), StorageError> {
        self.submit(records)?.wait().await
    }

    /// Queues records for the next group write without waiting. Records submitted earlier
    /// are written earlier, so a caller holding a lock while submitting fixes the WAL order.
    /// An empty `records` is a barrier: its ack comes once everything queued before it is
    /// durable.
    pub fn submit(&self, records: &[WalRecord]) -> Result<WalAck, StorageError> {
        if self.counters.failed.load(Ordering::Acquire) {
            return Err(StorageError::Other(
                "write-ahead log failed earlier (write or fsync error); refusing writes until restart".into(),
            ));
        }
        let mut frames = Vec::new();
        for record in records {
            let payload_len = encode_frame_in_place(&mut frames, record.kind(), |out| record.encode_into(out));
            if payload_len + 1 > segment::MAX_FRAME_BYTES {
                return Err(StorageError::Other("wal record too large".into()));
            }
        }
        let (reply, answer) = oneshot::channel();
        self.send(Command::Append { frames, reply })?;
        Ok(WalAck { answer })
    }

    /// Starts a new segment; every record acknowledged before the call is in a segment with
    /// a lower number than the one returned.
    pub async fn roll(&self) -> Result<u64, StorageError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Roll { reply })?;
        Ok(answer.await.map_err(|_| StorageError::ShuttingDown)??)
    }

    /// Folds the previous checkpoint and every segment below `first_kept` into a new
    /// checkpoint that holds `base` followed by what `keep` returns for each old record, then
    /// deletes them. Blocking file work: call it from `spawn_blocking`.
    pub fn checkpoint(
        &self,
        first_kept: u64,
        base: &[WalRecord],
        mut keep: impl FnMut(WalRecord) -> Option<WalRecord>,
    ) -> Result<(), StorageError> {
        let _guard = self.checkpoint_lock.lock().unwrap_or_else(|e| e.into_inner());
        let listing = list_dir(&self.dir)?;
        let old_checkpoint = listing.checkpoints.last().copied();
        let folded: Vec<u64> = listing.segments.iter().copied().filter(|n| *n < first_kept).collect();
        let Some(&last_folded) = folded.last() else {
            return Ok(());
        };
        let mut out = Vec::new();
        for record in base {
            encode_frame(&mut out, record.kind(), &record.encode());
        }
        let mut on_record = |record: WalRecord| {
            if let Some(kept) = keep(record) {
                encode_frame(&mut out, kept.kind(), &kept.encode());
            }
        };
        if let Some(number) = old_checkpoint {
            replay_file(&checkpoint_path(&self.dir, number), &mut on_record)?;
        }
        for &number in &folded {
            replay_file(&segment_path(&self.dir, number), &mut on_record)?;
        }
        let final_path = checkpoint_path(&self.dir, last_folded);
        let tmp_path = self.dir.join(format!("checkpoint.{last_folded:08}.tmp"));
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&tmp_path)?;
        file.write_all(&out)?;
        file.sync_all()?;
        self.counters.fsyncs.fetch_add(1, Ordering::Relaxed);
        drop(file);
        fs::rename(&tmp_path, &final_path)?;
        sync_dir(&self.dir)?;
        for number in folded {
            fs::remove_file(segment_path(&self.dir, number))?;
        }
        if let Some(number) = old_checkpoint
            && number != last_folded
        {
            fs::remove_file(checkpoint_path(&self.dir, number))?;
        }
        sync_dir(&self.dir)?;
        Ok(())
    }

    pub fn fsyncs(&self) -> u64 {
        self.counters.fsyncs.load(Ordering::Relaxed)
    }

    pub fn bytes_written(&self) -> u64 {
        self.counters.bytes.load(Ordering::Relaxed)
    }

    /// Syncs and stops the writer thread; later appends fail with `ShuttingDown`.
    pub async fn close(&self) -> Result<(), StorageError> {
        let sender = self.sender.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(sender) = sender else {
            return Ok(());
        };
        let (reply, answer) = oneshot::channel();
        let sent = sender.send(Command::Shutdown { reply }).is_ok();
        drop(sender);
        let result = if sent {
            answer.await.map_err(|_| StorageError::ShuttingDown)?
        } else {
            Ok(())
        };
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        Ok(result?)
    }

    fn send(&self, command: Command) -> Result<(), StorageError> {
        let guard = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        let sender = guard.as_ref().ok_or(StorageError::ShuttingDown)?;
        sender.send(command).map_err(|_| StorageError::ShuttingDown)
    }
}

/// Resolves when the submitted records are durable.
pub struct WalAck {
    answer: oneshot::Receiver<io::Result<()>>,
}

impl WalAck {
    pub async fn wait(self) -> Result<(), StorageError> {
        self.answer.await.map_err(|_| StorageError::ShuttingDown)??;
        Ok(())
    }
}

/// Replays one file; a damaged tail is cut off (the file truncated to its intact prefix) so
/// the next open does not trip on it again.
fn replay_file(path: &Path, on_record: &mut impl FnMut(WalRecord)) -> Result<(), StorageError> {
    let data = match fs::read(path) {
        Ok(data) => data,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    let (intact, damage) = read_frames(&data, |kind, payload| match WalRecord::decode(kind, payload) {
        Ok(record) => on_record(record),
        Err(RecordError::UnknownType(kind)) => {
            tracing::debug!(kind, path = %path.display(), "wal: skipping record of a type this build does not replay");
        }
        Err(err) => {
            tracing::warn!(error = %err, path = %path.display(), "wal: skipping undecodable record");
        }
    });
    if let Some(damage) = damage {
        tracing::warn!(
            path = %path.display(),
            offset = intact,
            dropped_bytes = data.len() - intact,
            damage = ?damage,
            "wal: damaged tail, truncating"
        );
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(intact as u64)?;
        file.sync_all()?;
        if matches!(damage, FrameDamage::Corrupt(_)) {
            tracing::warn!(path = %path.display(), "wal: checksum or length corruption (not just a torn write)");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;

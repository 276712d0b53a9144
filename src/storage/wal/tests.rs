use super::*;
use crate::storage::labels::Labels;
use std::sync::Arc;

fn samples(tenant: &str, t: i64, n: usize) -> WalRecord {
    WalRecord::Samples {
        tenant: tenant.into(),
        samples: (0..n)
            .map(|i| RefSample {
                series_ref: i as u64,
                t: t + i as i64,
                v: i as f64,
            })
            .collect(),
    }
}

fn replay(dir: &Path, segment_bytes: u64) -> (Wal, Vec<WalRecord>) {
    let mut records = Vec::new();
    let wal = Wal::open(dir, segment_bytes, |r| records.push(r)).unwrap();
    (wal, records)
}

fn segment_files(dir: &Path) -> Vec<u64> {
    list_dir(dir).unwrap().segments
}

#[tokio::test]
async fn replays_after_drop_without_close() {
    let tmp = tempfile::tempdir().unwrap();
    let (wal, records) = replay(tmp.path(), 1 << 20);
    assert!(records.is_empty());
    let series = WalRecord::Series {
        tenant: "a".into(),
        series: vec![(1, Labels::from_pairs([("job", "x")]))],
    };
    wal.append(&[series.clone(), samples("a", 10, 3)]).await.unwrap();
    wal.append(&[samples("b", 20, 1)]).await.unwrap();
    assert!(wal.fsyncs() >= 1);
    assert!(wal.bytes_written() > 0);
    drop(wal);
    let (_wal, records) = replay(tmp.path(), 1 << 20);
    assert_eq!(records, vec![series, samples("a", 10, 3), samples("b", 20, 1)]);
}

#[tokio::test]
async fn torn_tail_is_truncated_and_later_appends_survive() {
    let tmp = tempfile::tempdir().unwrap();
    let (wal, _) = replay(tmp.path(), 1 << 20);
    wal.append(&[samples("a", 1, 2)]).await.unwrap();
    wal.close().await.unwrap();
    let last = *segment_files(tmp.path()).last().unwrap();
    let path = segment_path(tmp.path(), last);
    let mut frame = Vec::new();
    encode_frame(&mut frame, record::kind::SAMPLES, &samples("a", 5, 2).encode());
    let intact_len = fs::metadata(&path).unwrap().len();
    let mut data = fs::read(&path).unwrap();
    data.extend_from_slice(&frame[..frame.len() - 3]);
    fs::write(&path, &data).unwrap();

    let (wal, records) = replay(tmp.path(), 1 << 20);
    assert_eq!(records, vec![samples("a", 1, 2)]);
    assert_eq!(fs::metadata(&path).unwrap().len(), intact_len);
    wal.append(&[samples("a", 9, 1)]).await.unwrap();
    drop(wal);
    let (_wal, records) = replay(tmp.path(), 1 << 20);
    assert_eq!(records, vec![samples("a", 1, 2), samples("a", 9, 1)]);
}

#[tokio::test]
async fn crc_corruption_stops_that_segment_but_not_later_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let (wal, _) = replay(tmp.path(), 1 << 20);
    wal.append(&[samples("a", 1, 1)]).await.unwrap();
    wal.append(&[samples("a", 2, 1)]).await.unwrap();
    wal.append(&[samples("a", 3, 1)]).await.unwrap();
    let first = *segment_files(tmp.path()).last().unwrap();
    wal.roll().await.unwrap();
    wal.append(&[samples("a", 4, 1)]).await.unwrap();
    drop(wal);

    let path = segment_path(tmp.path(), first);
    let mut data = fs::read(&path).unwrap();
    let frame_len = data.len() / 3;
    data[frame_len + segment::FRAME_HEADER_BYTES + 3] ^= 0xff;
    fs::write(&path, &data).unwrap();

    let (_wal, records) = replay(tmp.path(), 1 << 20);
    assert_eq!(records, vec![samples("a", 1, 1), samples("a", 4, 1)]);
    assert_eq!(fs::metadata(&path).unwrap().len(), frame_len as u64);
}

#[tokio::test]
async fn segments_roll_at_size_and_replay_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let (wal, _) = replay(tmp.path(), 200);
    let mut want = Vec::new();
    for i in 0..20 {
        let record = samples("t", i * 100, 5);
        wal.append(std::slice::from_ref(&record)).await.unwrap();
        want.push(record);
    }
    drop(wal);
    assert!(segment_files(tmp.path()).len() >= 10);
    let (_wal, records) = replay(tmp.path(), 200);
    assert_eq!(records, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_fsyncs_and_all_survive() {
    let tmp = tempfile::tempdir().unwrap();
    let (wal, _) = replay(tmp.path(), 1 << 20);
    let wal = Arc::new(wal);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let wal = Arc::clone(&wal);
        tasks.push(tokio::spawn(async move { wal.append(&[samples("t", i, 1)]).await }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let fsyncs = wal.fsyncs();
    assert!((1..=64).contains(&fsyncs), "fsyncs = {fsyncs}");
    wal.close().await.unwrap();
    assert!(matches!(
        wal.append(&[samples("t", 0, 1)]).await,
        Err(StorageError::ShuttingDown)
    ));
    let (_wal, mut records) = replay(tmp.path(), 1 << 20);
    let mut times: Vec<i64> = records
        .drain(..)
        .map(|r| match r {
            WalRecord::Samples { samples, .. } => samples[0].t,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    times.sort_unstable();
    assert_eq!(times, (0..64).collect::<Vec<_>>());
}

#[tokio::test]
async fn checkpoint_keeps_filtered_records_and_deletes_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let (wal, _) = replay(tmp.path(), 1 << 20);
    let series = WalRecord::Series {
        tenant: "a".into(),
        series: vec![(1, Labels::from_pairs([("job", "x")]))],
    };
    wal.append(&[series.clone(), samples("a", 0, 1), samples("a", 100, 1)])
        .await
        .unwrap();
    let first_kept = wal.roll().await.unwrap();
    wal.append(&[samples("a", 200, 1)]).await.unwrap();
    let keep_recent = |r: WalRecord| match r {
        WalRecord::Samples { samples, tenant } => {
            let samples: Vec<RefSample> = samples.into_iter().filter(|s| s.t >= 50).collect();
            (!samples.is_empty()).then_some(WalRecord::Samples { tenant, samples })
        }
        other => Some(other),
    };
    wal.checkpoint(first_kept, &[], keep_recent).unwrap();
    assert!(segment_files(tmp.path()).iter().all(|n| *n >= first_kept));
    // A second checkpoint folds the first one.
    let first_kept = wal.roll().await.unwrap();
    wal.checkpoint(first_kept, &[], Some).unwrap();
    assert_eq!(list_dir(tmp.path()).unwrap().checkpoints.len(), 1);
    drop(wal);
    let (_wal, records) = replay(tmp.path(), 1 << 20);
    assert_eq!(records, vec![series, samples("a", 100, 1), samples("a", 200, 1)]);
}

#[tokio::test]
async fn empty_submit_is_a_barrier_after_earlier_records() {
    let tmp = tempfile::tempdir().unwrap();
    let (wal, _) = replay(tmp.path(), 1 << 20);
    let first = wal.submit(&[samples("a", 10, 3)]).unwrap();
    let barrier = wal.submit(&[]).unwrap();
    barrier.wait().await.unwrap();
    // The barrier's ack implies the earlier record is durable: a fresh replay sees it.
    first.wait().await.unwrap();
    drop(wal);
    let (_wal, records) = replay(tmp.path(), 1 << 20);
    assert_eq!(records, vec![samples("a", 10, 3)]);
}

#[tokio::test]
async fn a_failed_wal_refuses_later_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let (wal, _) = replay(tmp.path(), 1 << 20);
    wal.append(&[samples("a", 10, 1)]).await.unwrap();
    // What the writer thread records after a failed write or fsync.
    wal.counters.failed.store(true, std::sync::atomic::Ordering::Release);
    assert!(wal.submit(&[samples("a", 20, 1)]).is_err());
    assert!(wal.submit(&[]).is_err());
}

#[test]
fn max_series_ref_covers_every_record_kind() {
    assert_eq!(samples("a", 0, 3).max_series_ref(), Some(2));
    let series = WalRecord::Series {
        tenant: "a".into(),
        series: vec![(7, Labels::from_pairs([("job", "x")])), (4, Labels::empty())],
    };
    assert_eq!(series.max_series_ref(), Some(7));
    let metadata = WalRecord::Metadata {
        tenant: "a".into(),
        metadata: Vec::new(),
    };
    assert_eq!(metadata.max_series_ref(), None);
}

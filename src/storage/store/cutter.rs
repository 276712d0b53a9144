//! Cutting the head into blocks: every aligned block range that lies wholly below
//! `head max − block_duration/2` (as Prometheus chooses what to compact) is written as a
//! block, dropped from the head, and then the WAL is folded into a checkpoint that keeps only
//! what the head still needs. A failed block write leaves head and WAL untouched; the next
//! tick retries.

use super::Storage;
use crate::storage::error::StorageError;
use crate::storage::head::TenantHead;
use crate::storage::head::series::block_start;
use crate::storage::model::Series;
use crate::storage::wal::WalRecord;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Cuts once right away, then every `interval`. The first cut finishes what a crash
/// interrupted: after a kill mid-cut the replayed head still holds ranges that belong in
/// blocks, and without it they would wait a whole interval (and a shutdown inside that
/// interval would leave them out of object storage for one more start).
pub(super) async fn background_loop(storage: Weak<Storage>, shutdown: Arc<tokio::sync::Notify>, interval: Duration) {
    let mut first = true;
    loop {
        if !first {
            tokio::select! {
                _ = shutdown.notified() => return,
                _ = tokio::time::sleep(interval) => {}
            }
        }
        first = false;
        let Some(storage) = storage.upgrade() else { return };
        if let Err(err) = storage.cut_head().await {
            tracing::warn!(error = %err, "cutting the head into blocks failed; data stays in head and WAL, will retry");
        }
        if let Err(err) = storage.apply_retention().await {
            tracing::warn!(error = %err, "applying retention failed");
        }
    }
}

impl Storage {
    pub(super) async fn cut_head(&self) -> Result<(), StorageError> {
        let _cut = self.cut_lock.lock().await;
        let block_duration = self.config.block_duration_ms.max(1);
        let plan: Vec<(Arc<TenantHead>, i64)> = self
            .all_heads()
            .into_iter()
            .filter_map(|head| {
                let (min, max) = head.time_range()?;
                let cut_before = block_start(max.saturating_sub(block_duration / 2), block_duration);
                (min < cut_before).then_some((head, cut_before))
            })
            .collect();
        if plan.is_empty() {
            return Ok(());
        }
        // Everything acknowledged so far sits in segments below `first_kept`, and is in the
        // head (applied before it was queued), so the snapshots below cover it.
        let first_kept = self.wal.roll().await?;
        let mut cut_times: HashMap<String, i64> = HashMap::new();
        for (head, cut_before) in plan {
            let data = head.collect_range(i64::MIN, cut_before - 1);
            for (range_start, series) in split_by_range(data, block_duration) {
                let range_end = range_start.saturating_add(block_duration - 1);
                self.blocks
                    .write_metrics_block(head.tenant(), series.clone(), range_start, range_end)
                    .await?;
                head.remove_written(&series, range_end.saturating_add(1).min(cut_before));
            }
            head.raise_min_valid_time(cut_before);
            cut_times.insert(head.tenant().to_string(), cut_before);
        }
        self.checkpoint_wal(first_kept, cut_times).await
    }

    /// Folds segments below `first_kept` into a checkpoint: the heads' series, metadata and
    /// exemplars, plus the samples of live series not yet in blocks.
    async fn checkpoint_wal(&self, first_kept: u64, cut_times: HashMap<String, i64>) -> Result<(), StorageError> {
        let heads = self.all_heads();
        let mut base = Vec::new();
        let mut live: HashMap<String, HashSet<u64>> = HashMap::new();
        for head in &heads {
            base.extend(head.checkpoint_records());
            live.insert(head.tenant().to_string(), head.live_refs());
        }
        let aliases = self.ref_aliases.clone();
        let keep = move |record: WalRecord| -> Option<WalRecord> {
            let tenant = record.tenant().to_string();
            let cut_before = cut_times.get(&tenant).copied().unwrap_or(i64::MIN);
            let live = live.get(&tenant)?;
            let no_aliases = HashMap::new();
            let aliases = aliases.get(&tenant).unwrap_or(&no_aliases);
            let resolve = |r: u64| aliases.get(&r).copied().unwrap_or(r);
            match record {
                WalRecord::Samples { tenant, samples } => {
                    let samples: Vec<_> = samples
                        .into_iter()
                        .map(|mut s| {
                            s.series_ref = resolve(s.series_ref);
                            s
                        })
                        .filter(|s| s.t >= cut_before && live.contains(&s.series_ref))
                        .collect();
                    (!samples.is_empty()).then_some(WalRecord::Samples { tenant, samples })
                }
                WalRecord::Histograms { tenant, histograms } => {
                    let histograms: Vec<_> = histograms
                        .into_iter()
                        .map(|(r, h)| (resolve(r), h))
                        .filter(|(r, h)| h.t >= cut_before && live.contains(r))
                        .collect();
                    (!histograms.is_empty()).then_some(WalRecord::Histograms { tenant, histograms })
                }
                WalRecord::StartTimestamps {
                    tenant,
                    start_timestamps,
                } => {
                    let start_timestamps: Vec<_> = start_timestamps
                        .into_iter()
                        .map(|(r, s)| (resolve(r), s))
                        .filter(|(r, s)| s.t >= cut_before && live.contains(r))
                        .collect();
                    (!start_timestamps.is_empty()).then_some(WalRecord::StartTimestamps {
                        tenant,
                        start_timestamps,
                    })
                }
                // Rebuilt from the heads in `base`.
                WalRecord::Series { .. } | WalRecord::Metadata { .. } | WalRecord::Exemplars { .. } => None,
            }
        };
        let wal = Arc::clone(&self.wal);
        tokio::task::spawn_blocking(move || wal.checkpoint(first_kept, &base, keep))
            .await
            .map_err(|e| StorageError::Other(format!("wal checkpoint task failed: {e}")))?
    }
}

/// Splits label-sorted series into aligned block ranges, each list still label-sorted.
fn split_by_range(data: Vec<Series>, block_duration: i64) -> BTreeMap<i64, Vec<Series>> {
    let mut ranges: BTreeMap<i64, Vec<Series>> = BTreeMap::new();
    for series in data {
        let mut parts: BTreeMap<i64, Series> = BTreeMap::new();
        for sample in series.samples {
            parts
                .entry(block_start(sample.t, block_duration))
                .or_insert_with(|| Series {
                    labels: series.labels.clone(),
                    ..Series::default()
                })
                .samples
                .push(sample);
        }
        for h in series.histograms {
            parts
                .entry(block_start(h.t, block_duration))
                .or_insert_with(|| Series {
                    labels: series.labels.clone(),
                    ..Series::default()
                })
                .histograms
                .push(h);
        }
        // Every start timestamp belongs to a sample above, so its part exists.
        for st in series.start_timestamps {
            if let Some(part) = parts.get_mut(&block_start(st.t, block_duration)) {
                part.start_timestamps.push(st);
            }
        }
        for (start, part) in parts {
            ranges.entry(start).or_default().push(part);
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::labels::Labels;
    use crate::storage::model::{Sample, StartTimestamp};

    #[test]
    fn split_by_range_aligns_to_block_boundaries() {
        let series = |name: &str, ts: &[i64]| Series {
            labels: Labels::from_pairs([("__name__", name)]),
            samples: ts.iter().map(|t| Sample { t: *t, v: 1.0 }).collect(),
            start_timestamps: ts.iter().map(|t| StartTimestamp { t: *t, st: t - 1 }).collect(),
            ..Series::default()
        };
        let ranges = split_by_range(vec![series("a", &[-1, 0, 99, 100]), series("b", &[150])], 100);
        let keys: Vec<i64> = ranges.keys().copied().collect();
        assert_eq!(keys, vec![-100, 0, 100]);
        assert_eq!(ranges[&0][0].samples.len(), 2);
        assert_eq!(
            ranges[&0][0].start_timestamps,
            vec![StartTimestamp { t: 0, st: -1 }, StartTimestamp { t: 99, st: 98 }]
        );
        let names: Vec<&str> = ranges[&100].iter().filter_map(|s| s.labels.metric_name()).collect();
        assert_eq!(names, vec!["a", "b"]);
    }
}

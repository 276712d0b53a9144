//! In-memory head: series index with label postings and compressed sample chunks.
//!
//! One [`TenantHead`] per tenant. Appends are checked the way Prometheus' head appender
//! checks them (in order, out-of-order window, out of bounds, duplicates).
//!
//! Locking: the head's `RwLock` guards the index and the series map; each series has its own
//! mutex for its samples. Remote write's float path appends to known series under the *read*
//! lock, so concurrent requests look up and append in parallel; creating series, cutting,
//! and the general path (histograms, exemplars, metadata, all-or-nothing) take the write lock.
//!
//! WAL order: a new series' record is handed to the WAL while the write lock that created it
//! is still held, so no sample of that series can be logged before it. Two concurrent
//! requests writing the *same* series may log in the other order than they applied; replay
//! is lenient (out-of-order samples are placed, nothing is refused as too old) and so lands
//! on the same samples either way.

pub mod index;
mod query;
pub mod series;
mod start_times;

#[cfg(test)]
mod tests;

use crate::storage::labels::Labels;
use crate::storage::labels::{hash_label_key, write_label_key};
use crate::storage::matcher::{LabelMatcher, matches_all};
use crate::storage::model::{
    AppendBatch, AppendStats, Exemplar, FloatBatch, MetricMetadata, Sample, Series, StartTimestamp, labels_from_bytes,
};
use crate::storage::wal::{RefSample, WalRecord};
use index::{SeriesIndex, U64Map};
use series::{Admission, AppendBounds, MemSeries, Reject};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Exemplars kept per tenant (Prometheus' default `max_exemplars` is 100000 in total).
pub const MAX_EXEMPLARS_PER_TENANT: usize = 100_000;

#[derive(Clone, Copy, Debug)]
pub struct HeadOptions {
    pub block_duration_ms: i64,
    pub out_of_order_window_ms: i64,
}

/// How a batch with refused samples is handled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AppendMode {
    /// Store what is acceptable, count the rest (remote write 2.0).
    #[default]
    Partial,
    /// Store nothing if any sample is refused (remote write 1.0 rolls back its appender).
    AllOrNothing,
}

/// One refused sample, enough for the adapter to build Prometheus' error text.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    pub reason: Reject,
    pub labels: Labels,
    pub t: i64,
    /// The refused float value (None for a histogram).
    pub value: Option<f64>,
}

/// What one append did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppendReport {
    pub stats: AppendStats,
    pub out_of_order_accepted: u64,
    pub created_series: u64,
    /// The first refused sample in batch order. In all-or-nothing mode, its presence means
    /// nothing of the batch was stored.
    pub first_rejection: Option<Rejection>,
}

impl AppendReport {
    fn note_rejection(&mut self, reason: Reject, labels: &Labels, t: i64, value: Option<f64>) {
        if self.first_rejection.is_none() {
            self.first_rejection = Some(Rejection {
                reason,
                labels: labels.clone(),
                t,
                value,
            });
        }
    }
}

pub struct TenantHead {
    tenant: String,
    options: HeadOptions,
    inner: RwLock<HeadInner>,
}

/// One series behind its own lock (see the module doc).
type SeriesCell = Mutex<MemSeries>;

/// Locks one series; a panic elsewhere never leaves a series half-written (appends do not
/// unwind mid-chunk), so a poisoned lock is taken as is.
fn lock_series(cell: &SeriesCell) -> MutexGuard<'_, MemSeries> {
    cell.lock().unwrap_or_else(|e| e.into_inner())
}

/// A series under the head's write lock: no other thread can hold its mutex.
fn series_mut(cell: &mut SeriesCell) -> &mut MemSeries {
    cell.get_mut().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct HeadInner {
    index: SeriesIndex,
    series: U64Map<SeriesCell>,
    exemplars: VecDeque<(u64, Exemplar)>,
    metadata: BTreeMap<String, MetricMetadata>,
    /// Newest sample time accepted (i64::MIN while empty). Atomic so appends under the read
    /// lock can raise it.
    max_time: AtomicI64,
    /// Everything below was cut into blocks; in-order appends below it are out of bounds.
    min_valid_time: i64,
}

impl TenantHead {
    pub fn new(tenant: &str, options: HeadOptions) -> Self {
        Self {
            tenant: tenant.to_string(),
            options,
            inner: RwLock::new(HeadInner {
                max_time: AtomicI64::new(i64::MIN),
                min_valid_time: i64::MIN,
                ..HeadInner::default()
            }),
        }
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    fn read(&self) -> RwLockReadGuard<'_, HeadInner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HeadInner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks and applies a batch, then calls `submit` with the WAL records of what was
    /// accepted (possibly none) before releasing the lock. In all-or-nothing mode the first
    /// refused sample undoes the whole batch, as Prometheus' remote write 1.0 handler does by
    /// rolling back its appender.
    pub fn append<R>(
        &self,
        batch: AppendBatch,
        mode: AppendMode,
        next_ref: &AtomicU64,
        submit: impl FnOnce(Vec<WalRecord>) -> R,
    ) -> (AppendReport, R) {
        let mut inner = self.write();
        let bounds = self.bounds(&inner);
        let block_duration = self.options.block_duration_ms;
        let mut report = AppendReport::default();
        let mut new_series = Vec::new();
        let mut admitted = Admitted::with_capacity(0);
        let mut histograms = Vec::new();
        let mut pending_exemplars = Vec::new();
        // Iterated by reference: the batch is dropped (its label strings freed) only after the
        // lock is released.
        'series: for series_append in &batch.series {
            let series_ref = match inner.index.get(&series_append.labels) {
                Some(r) => r,
                None => {
                    let r = next_ref.fetch_add(1, Ordering::Relaxed);
                    inner.insert_series(r, series_append.labels.clone());
                    new_series.push((r, series_append.labels.clone()));
                    r
                }
            };
            let Some(series) = inner.series.get_mut(&series_ref).map(series_mut) else {
                continue;
            };
            let floats = FloatTarget {
                bounds: &bounds,
                block_duration,
                stop_at_rejection: mode == AppendMode::AllOrNothing,
            };
            let input = FloatInput {
                series_ref,
                samples: &series_append.samples,
                start_timestamps: &series_append.start_timestamps,
            };
            if !floats.admit(series, &input, &mut report, &mut admitted) {
                break 'series;
            }
            for h in &series_append.histograms {
                match series.append_histogram(h.clone(), &bounds) {
                    admission @ (Admission::InOrder | Admission::OutOfOrder) => {
                        if admission == Admission::OutOfOrder {
                            report.out_of_order_accepted += 1;
                        }
                        histograms.push((series_ref, h.clone()));
                        if let Some(st) = start_timestamp_at(&series_append.start_timestamps, h.t) {
                            series.set_start_timestamp(h.t, st);
                            admitted
                                .start_timestamps
                                .push((series_ref, StartTimestamp { t: h.t, st }));
                        }
                        report.stats.histograms += 1;
                        admitted.max_t = admitted.max_t.max(h.t);
                    }
                    Admission::Duplicate => report.stats.histograms += 1,
                    Admission::Rejected(reason) => {
                        report.stats.rejected_out_of_order += 1;
                        report.note_rejection(reason, &series_append.labels, h.t, None);
                        if mode == AppendMode::AllOrNothing {
                            break 'series;
                        }
                    }
                }
            }
            if !series_append.exemplars.is_empty() {
                pending_exemplars.push((series_ref, &series_append.exemplars));
            }
        }

        if mode == AppendMode::AllOrNothing && report.first_rejection.is_some() {
            inner.undo(&admitted.samples, &histograms, &new_series, block_duration);
            let rejected = AppendReport {
                stats: AppendStats {
                    rejected_out_of_order: report.stats.rejected_out_of_order,
                    ..AppendStats::default()
                },
                first_rejection: report.first_rejection,
                ..AppendReport::default()
            };
            let submitted = submit(Vec::new());
            return (rejected, submitted);
        }

        let mut exemplars = Vec::new();
        for (series_ref, list) in pending_exemplars {
            let Some(series) = inner.series.get_mut(&series_ref).map(series_mut) else {
                continue;
            };
            for e in list {
                // Prometheus refuses out-of-order exemplars and drops repeats of the last one.
                if series.last_exemplar_t.is_some_and(|last| e.t <= last) {
                    continue;
                }
                series.last_exemplar_t = Some(e.t);
                exemplars.push((series_ref, e.clone()));
            }
        }
        report.stats.exemplars = exemplars.len() as u64;
        for (series_ref, e) in &exemplars {
            inner.push_exemplar(*series_ref, e.clone());
        }
        for m in &batch.metadata {
            inner.metadata.insert(m.metric_family.clone(), m.clone());
        }
        inner.raise_max_time(admitted.max_t);
        report.created_series = new_series.len() as u64;

        let tenant = self.tenant.clone();
        let mut records = Vec::new();
        if !new_series.is_empty() {
            records.push(WalRecord::Series {
                tenant: tenant.clone(),
                series: new_series,
            });
        }
        if !admitted.samples.is_empty() {
            records.push(WalRecord::Samples {
                tenant: tenant.clone(),
                samples: admitted.samples,
            });
        }
        if !histograms.is_empty() {
            records.push(WalRecord::Histograms {
                tenant: tenant.clone(),
                histograms,
            });
        }
        // After the samples they belong to, so replay finds the samples in place.
        if !admitted.start_timestamps.is_empty() {
            records.push(WalRecord::StartTimestamps {
                tenant: tenant.clone(),
                start_timestamps: admitted.start_timestamps,
            });
        }
        if !exemplars.is_empty() {
            records.push(WalRecord::Exemplars {
                tenant: tenant.clone(),
                exemplars,
            });
        }
        if !batch.metadata.is_empty() {
            records.push(WalRecord::Metadata {
                tenant,
                metadata: batch.metadata.clone(),
            });
        }
        let submitted = submit(records);
        drop(inner);
        (report, submitted)
    }

    /// [`TenantHead::append`] for float samples with borrowed labels, always in
    /// [`AppendMode::Partial`] (remote write's mode). Known series are looked up and appended
    /// to under the read lock (each under its own mutex), so concurrent requests do that in
    /// parallel; only a batch that brings new series takes the write lock, to create them,
    /// append their samples and hand the WAL records over before anyone else can see them.
    pub fn append_floats<R>(
        &self,
        batch: &FloatBatch<'_>,
        next_ref: &AtomicU64,
        submit: impl FnOnce(Vec<WalRecord>) -> R,
    ) -> (AppendReport, R) {
        // Every series' key bytes, back to back, and their hashes: built before any lock.
        let mut keys: Vec<u8> = Vec::new();
        let mut key_ends: Vec<usize> = Vec::with_capacity(batch.num_series());
        for (labels, _) in batch.iter() {
            write_label_key(&mut keys, labels.iter().copied());
            key_ends.push(keys.len());
        }
        let key_of = |i: usize| {
            let start = if i == 0 { 0 } else { key_ends[i - 1] };
            &keys[start..key_ends[i]]
        };
        let hashes: Vec<u64> = (0..key_ends.len()).map(|i| hash_label_key(key_of(i))).collect();

        let mut report = AppendReport::default();
        let mut admitted = Admitted::with_capacity(batch.iter().map(|(_, s)| s.len()).sum());
        // Batch positions of series the head does not have yet.
        let mut missing: Vec<usize> = Vec::new();
        // Batch position of `report.first_rejection`, to keep the first in batch order.
        let mut first_rejection_at = usize::MAX;
        {
            let inner = self.read();
            let bounds = self.bounds(&inner);
            let floats = FloatTarget {
                bounds: &bounds,
                block_duration: self.options.block_duration_ms,
                stop_at_rejection: false,
            };
            // Lookups in passes (table slots, then keys, then series), each pass a run of
            // independent loads: the misses of many series overlap instead of queueing.
            let probes: Vec<Option<(u64, &[u8])>> = hashes.iter().map(|&hash| inner.index.probe(hash)).collect();
            let cells: Vec<Option<(u64, &SeriesCell)>> = probes
                .into_iter()
                .enumerate()
                .map(|(i, probed)| inner.index.confirm(probed, hashes[i], key_of(i)))
                .collect::<Vec<Option<u64>>>()
                .into_iter()
                .map(|r| r.and_then(|r| inner.series.get(&r).map(|cell| (r, cell))))
                .collect();
            for (i, ((_, series_samples), found)) in batch.iter().zip(cells).enumerate() {
                let Some((series_ref, cell)) = found else {
                    missing.push(i);
                    continue;
                };
                let input = FloatInput {
                    series_ref,
                    samples: series_samples,
                    start_timestamps: &[],
                };
                floats.admit_at(
                    i,
                    &mut lock_series(cell),
                    &input,
                    &mut report,
                    &mut admitted,
                    &mut first_rejection_at,
                );
            }
            inner.raise_max_time(admitted.max_t);
            if missing.is_empty() {
                let records = if admitted.samples.is_empty() {
                    Vec::new()
                } else {
                    vec![WalRecord::Samples {
                        tenant: self.tenant.clone(),
                        samples: admitted.samples,
                    }]
                };
                return (report, submit(records));
            }
        }

        let mut inner = self.write();
        let bounds = self.bounds(&inner);
        let floats = FloatTarget {
            bounds: &bounds,
            block_duration: self.options.block_duration_ms,
            stop_at_rejection: false,
        };
        let mut new_series = Vec::new();
        for i in missing {
            let Some((labels, series_samples)) = batch.get(i) else {
                continue;
            };
            // Another request may have created it since the read lock was let go.
            let series_ref = match inner.index.get_by_key(hashes[i], key_of(i)) {
                Some(r) => r,
                None => {
                    let r = next_ref.fetch_add(1, Ordering::Relaxed);
                    let owned = labels_from_bytes(labels);
                    inner.insert_series(r, owned.clone());
                    new_series.push((r, owned));
                    r
                }
            };
            let Some(series) = inner.series.get_mut(&series_ref).map(series_mut) else {
                continue;
            };
            let input = FloatInput {
                series_ref,
                samples: series_samples,
                start_timestamps: &[],
            };
            floats.admit_at(i, series, &input, &mut report, &mut admitted, &mut first_rejection_at);
        }
        inner.raise_max_time(admitted.max_t);
        report.created_series = new_series.len() as u64;

        let mut records = Vec::with_capacity(2);
        if !new_series.is_empty() {
            records.push(WalRecord::Series {
                tenant: self.tenant.clone(),
                series: new_series,
            });
        }
        if !admitted.samples.is_empty() {
            records.push(WalRecord::Samples {
                tenant: self.tenant.clone(),
                samples: admitted.samples,
            });
        }
        let submitted = submit(records);
        drop(inner);
        (report, submitted)
    }

    /// The bounds of one batch, taken once as Prometheus' appender does.
    fn bounds(&self, inner: &HeadInner) -> AppendBounds {
        let max_time = inner.max_time();
        AppendBounds {
            min_valid_time: if max_time == i64::MIN {
                inner.min_valid_time
            } else {
                inner
                    .min_valid_time
                    .max(max_time.saturating_sub(self.options.block_duration_ms / 2))
            },
            head_max_time: max_time,
            ooo_window: self.options.out_of_order_window_ms,
            lenient: false,
        }
    }

    /// Re-applies one replayed record. `refs` maps WAL refs to head refs (a label set seen
    /// twice keeps its first ref). Nothing is refused as too old: it was accepted once.
    pub fn replay(&self, record: WalRecord, refs: &mut HashMap<u64, u64>) {
        let mut inner = self.write();
        let bounds = AppendBounds {
            min_valid_time: i64::MIN,
            head_max_time: inner.max_time(),
            ooo_window: 0,
            lenient: true,
        };
        let block_duration = self.options.block_duration_ms;
        match record {
            WalRecord::Series { series, .. } => {
                for (wal_ref, labels) in series {
                    let head_ref = match inner.index.get(&labels) {
                        Some(existing) => existing,
                        None => {
                            inner.insert_series(wal_ref, labels);
                            wal_ref
                        }
                    };
                    refs.insert(wal_ref, head_ref);
                }
            }
            WalRecord::Samples { samples, .. } => {
                let mut max_t = i64::MIN;
                for s in samples {
                    let Some(series) = refs.get(&s.series_ref).and_then(|r| inner.series.get_mut(r)) else {
                        continue;
                    };
                    series_mut(series).append_float(s.t, s.v, &bounds, block_duration);
                    max_t = max_t.max(s.t);
                }
                inner.raise_max_time(max_t);
            }
            WalRecord::Histograms { histograms, .. } => {
                let mut max_t = i64::MIN;
                for (wal_ref, h) in histograms {
                    let Some(series) = refs.get(&wal_ref).and_then(|r| inner.series.get_mut(r)) else {
                        continue;
                    };
                    max_t = max_t.max(h.t);
                    series_mut(series).append_histogram(h, &bounds);
                }
                inner.raise_max_time(max_t);
            }
            WalRecord::Exemplars { exemplars, .. } => {
                for (wal_ref, e) in exemplars {
                    let Some(&head_ref) = refs.get(&wal_ref) else { continue };
                    let Some(series) = inner.series.get_mut(&head_ref).map(series_mut) else {
                        continue;
                    };
                    if series.last_exemplar_t.is_some_and(|last| e.t <= last) {
                        continue;
                    }
                    series.last_exemplar_t = Some(e.t);
                    inner.push_exemplar(head_ref, e);
                }
            }
            WalRecord::StartTimestamps { start_timestamps, .. } => {
                for (wal_ref, s) in start_timestamps {
                    let Some(series) = refs.get(&wal_ref).and_then(|r| inner.series.get_mut(r)) else {
                        continue;
                    };
                    series_mut(series).set_start_timestamp(s.t, s.st);
                }
            }
            WalRecord::Metadata { metadata, .. } => {
                for m in metadata {
                    inner.metadata.insert(m.metric_family.clone(), m);
                }
            }
        }
    }

    pub fn num_series(&self) -> u64 {
        self.read().series.len() as u64
    }

    /// Earliest and latest sample times held, if any.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        self.read().time_range()
    }

    pub fn max_time(&self) -> Option<i64> {
        let max_time = self.read().max_time();
        (max_time != i64::MIN).then_some(max_time)
    }

    /// Series with float samples or histograms in `[mint, maxt]`: the content of a block.
    pub fn collect_range(&self, mint: i64, maxt: i64) -> Vec<Series> {
        self.select(&[], mint, maxt)
    }

    /// Drops what a block now holds (exact timestamps per series), forgets series left
    /// empty, and refuses later in-order appends below `min_valid_time`.
    pub fn remove_written(&self, written: &[Series], min_valid_time: i64) {
        let mut inner = self.write();
        inner.min_valid_time = inner.min_valid_time.max(min_valid_time);
        let block_duration = self.options.block_duration_ms;
        for s in written {
            let Some(series_ref) = inner.index.get(&s.labels) else {
                continue;
            };
            let Some(series) = inner.series.get_mut(&series_ref).map(series_mut) else {
                continue;
            };
            let float_ts: Vec<i64> = s.samples.iter().map(|x| x.t).collect();
            let histogram_ts: Vec<i64> = s.histograms.iter().map(|x| x.t).collect();
            series.remove_written(&float_ts, &histogram_ts, block_duration);
            if series.is_empty() {
                let labels = series.labels.clone();
                inner.series.remove(&series_ref);
                inner.index.remove(series_ref, &labels);
            }
        }
        let live: HashSet<u64> = inner.series.keys().copied().collect();
        inner.exemplars.retain(|(r, _)| live.contains(r));
    }

    /// Refuses later in-order appends below `t` (blocks already cover that time).
    pub fn raise_min_valid_time(&self, t: i64) {
        let mut inner = self.write();
        inner.min_valid_time = inner.min_valid_time.max(t);
    }

    /// The head's series, metadata and exemplars as WAL records: the base of a checkpoint.
    pub fn checkpoint_records(&self) -> Vec<WalRecord> {
        let inner = self.read();
        let mut series: Vec<(u64, Labels)> = inner
            .series
            .iter()
            .map(|(r, cell)| (*r, lock_series(cell).labels.clone()))
            .collect();
        series.sort_by_key(|(r, _)| *r);
        let mut records = Vec::new();
        if !series.is_empty() {
            records.push(WalRecord::Series {
                tenant: self.tenant.clone(),
                series,
            });
        }
        if !inner.metadata.is_empty() {
            records.push(WalRecord::Metadata {
                tenant: self.tenant.clone(),
                metadata: inner.metadata.values().cloned().collect(),
            });
        }
        if !inner.exemplars.is_empty() {
            records.push(WalRecord::Exemplars {
                tenant: self.tenant.clone(),
                exemplars: inner.exemplars.iter().cloned().collect(),
            });
        }
        records
    }

    pub fn live_refs(&self) -> HashSet<u64> {
        self.read().series.keys().copied().collect()
    }

    pub fn has_series(&self, series_ref: u64) -> bool {
        self.read().series.contains_key(&series_ref)
    }

    /// Histogram samples held, over all series.
    pub fn histogram_count(&self) -> usize {
        self.read()
            .series
            .values()
            .map(|cell| lock_series(cell).histograms_in(i64::MIN, i64::MAX).len())
            .sum()
    }
}

/// How one batch admits float samples into a series.
struct FloatTarget<'b> {
    bounds: &'b AppendBounds,
    block_duration: i64,
    /// All-or-nothing: stop at the first refused sample.
    stop_at_rejection: bool,
}

/// One series' float samples and their start timestamps (sparse, ascending by `t`).
struct FloatInput<'b> {
    series_ref: u64,
    samples: &'b [Sample],
    start_timestamps: &'b [StartTimestamp],
}

/// What a batch accepted so far: the WAL's samples and start timestamps, newest time.
struct Admitted {
    samples: Vec<RefSample>,
    start_timestamps: Vec<(u64, StartTimestamp)>,
    max_t: i64,
}

impl Admitted {
    fn with_capacity(samples: usize) -> Self {
        Self {
            samples: Vec::with_capacity(samples),
            start_timestamps: Vec::new(),
            max_t: i64::MIN,
        }
    }
}

impl FloatTarget<'_> {
    /// Appends the input's samples to `series`, recording accepted ones (and their start
    /// timestamps) for the WAL and counting the rest. Returns false when a refusal must stop
    /// the batch.
    fn admit(
        &self,
        series: &mut MemSeries,
        input: &FloatInput<'_>,
        report: &mut AppendReport,
        out: &mut Admitted,
    ) -> bool {
        let series_ref = input.series_ref;
        for s in input.samples {
            match series.append_float(s.t, s.v, self.bounds, self.block_duration) {
                admission @ (Admission::InOrder | Admission::OutOfOrder) => {
                    out.samples.push(RefSample {
                        series_ref,
                        t: s.t,
                        v: s.v,
                    });
                    if let Some(st) = start_timestamp_at(input.start_timestamps, s.t) {
                        series.set_start_timestamp(s.t, st);
                        out.start_timestamps.push((series_ref, StartTimestamp { t: s.t, st }));
                    }
                    report.stats.samples += 1;
                    out.max_t = out.max_t.max(s.t);
                    if admission == Admission::OutOfOrder {
                        report.out_of_order_accepted += 1;
                    }
                }
                Admission::Duplicate => report.stats.samples += 1,
                Admission::Rejected(reason) => {
                    report.stats.rejected_out_of_order += 1;
                    report.note_rejection(reason, &series.labels, s.t, Some(s.v));
                    if self.stop_at_rejection {
                        return false;
                    }
                }
            }
        }
        true
    }

    /// [`FloatTarget::admit`] for series `i` of a batch whose series are not admitted in
    /// batch order (known ones first, new ones after): keeps as `report.first_rejection` the
    /// refusal of the lowest batch position, `first_at` being that position so far.
    fn admit_at(
        &self,
        i: usize,
        series: &mut MemSeries,
        input: &FloatInput<'_>,
        report: &mut AppendReport,
        out: &mut Admitted,
        first_at: &mut usize,
    ) {
        let earlier = report.first_rejection.take();
        self.admit(series, input, report, out);
        let this = report.first_rejection.take();
        report.first_rejection = match (earlier, this) {
            // `first_at` is usize::MAX while there is no refusal yet.
            (_, Some(this)) if i < *first_at => {
                *first_at = i;
                Some(this)
            }
            (earlier, _) => earlier,
        };
    }
}

/// The start timestamp given for the sample at `t`, if any (`list` ascending by `t`).
fn start_timestamp_at(list: &[StartTimestamp], t: i64) -> Option<i64> {
    if list.is_empty() {
        return None;
    }
    let i = list.binary_search_by_key(&t, |s| s.t).ok()?;
    list.get(i).map(|s| s.st).filter(|&st| st != 0)
}

impl HeadInner {
    fn insert_series(&mut self, series_ref: u64, labels: Labels) {
        self.index.insert(series_ref, &labels);
        self.series.insert(series_ref, Mutex::new(MemSeries::new(labels)));
    }

    /// Takes back what a refused all-or-nothing batch applied: the samples it added (their
    /// timestamps were new, so removing them restores the series) and the series it created.
    fn undo(
        &mut self,
        samples: &[RefSample],
        histograms: &[(u64, crate::storage::model::HistogramSample)],
        new_series: &[(u64, Labels)],
        block_duration: i64,
    ) {
        let mut applied: HashMap<u64, (Vec<i64>, Vec<i64>)> = HashMap::new();
        for s in samples {
            applied.entry(s.series_ref).or_default().0.push(s.t);
        }
        for (series_ref, h) in histograms {
            applied.entry(*series_ref).or_default().1.push(h.t);
        }
        for (series_ref, (mut float_ts, mut histogram_ts)) in applied {
            float_ts.sort_unstable();
            histogram_ts.sort_unstable();
            if let Some(series) = self.series.get_mut(&series_ref).map(series_mut) {
                series.remove_written(&float_ts, &histogram_ts, block_duration);
            }
        }
        for (series_ref, labels) in new_series {
            self.series.remove(series_ref);
            self.index.remove(*series_ref, labels);
        }
    }

    fn push_exemplar(&mut self, series_ref: u64, e: Exemplar) {
        if self.exemplars.len() >= MAX_EXEMPLARS_PER_TENANT {
            self.exemplars.pop_front();
        }
        self.exemplars.push_back((series_ref, e));
    }

    fn max_time(&self) -> i64 {
        self.max_time.load(Ordering::Acquire)
    }

    fn raise_max_time(&self, t: i64) {
        self.max_time.fetch_max(t, Ordering::AcqRel);
    }

    /// Matching series, each locked while `f` looks at it.
    fn for_each_matching(&self, matchers: &[LabelMatcher], mut f: impl FnMut(u64, &MemSeries)) {
        let mut check = |r: u64| {
            if let Some(cell) = self.series.get(&r) {
                let series = lock_series(cell);
                if matches_all(matchers, &series.labels) {
                    f(r, &series);
                }
            }
        };
        match self.index.candidates(matchers) {
            Some(refs) => refs.into_iter().for_each(&mut check),
            None => self.series.keys().copied().for_each(&mut check),
        }
    }

    fn time_range(&self) -> Option<(i64, i64)> {
        self.series
            .values()
            .filter_map(|cell| lock_series(cell).time_range())
            .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
    }

    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.time_range().is_some_and(|(lo, hi)| lo <= maxt && hi >= mint)
    }
}

//! One series in the head: in-order float samples in XOR chunks of at most 120 samples that
//! never straddle a block boundary (so cutting blocks drops whole chunks), out-of-order
//! samples in a sorted side buffer, and native histograms as a sorted Vec.

use super::start_times::StartTimes;
use crate::storage::chunk::{MAX_SAMPLES_PER_CHUNK, XorChunk};
use crate::storage::labels::Labels;
use crate::storage::model::{HistogramSample, Sample, StartTimestamp};

/// What became of one appended sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Admission {
    InOrder,
    OutOfOrder,
    /// Same timestamp and bit-identical value as a stored sample: nothing to do.
    Duplicate,
    Rejected(Reject),
}

/// Why a sample was refused, as Prometheus' head appender tells them apart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reject {
    /// Older than the series' newest sample, out-of-order ingestion disabled.
    OutOfOrder,
    /// Below the head's valid range (already cut into blocks, or older than head max −
    /// block_duration/2), out-of-order ingestion disabled.
    OutOfBounds,
    /// Out-of-order ingestion enabled, but older than head max − window.
    TooOld,
    /// Same timestamp, another value. `existing` is None when the stored sample is a
    /// histogram (or the new one is).
    Duplicate { existing: Option<f64> },
}

impl Reject {
    /// Prometheus' error text (`storage.Err…`); a duplicate's text also carries the
    /// timestamp and values, which the adapter formats as Go's `%g` does.
    pub fn prometheus_text(&self) -> &'static str {
        match self {
            Reject::OutOfOrder => "out of order sample",
            Reject::OutOfBounds => "out of bounds",
            Reject::TooOld => "too old sample",
            Reject::Duplicate { .. } => "duplicate sample for timestamp",
        }
    }
}

/// Bounds an append is checked against, taken once per batch as Prometheus' appender does.
#[derive(Clone, Copy, Debug)]
pub struct AppendBounds {
    pub min_valid_time: i64,
    pub head_max_time: i64,
    pub ooo_window: i64,
    /// Replay re-applies what was already accepted: nothing is refused as too old.
    pub lenient: bool,
}

impl AppendBounds {
    /// The verdict for a sample that cannot go in order (Prometheus' `appendable`).
    fn out_of_order_verdict(&self, t: i64) -> Result<(), Reject> {
        if self.lenient || (self.ooo_window > 0 && t >= self.head_max_time.saturating_sub(self.ooo_window)) {
            return Ok(());
        }
        if self.ooo_window > 0 {
            return Err(Reject::TooOld);
        }
        if t < self.min_valid_time {
            return Err(Reject::OutOfBounds);
        }
        Err(Reject::OutOfOrder)
    }
}

#[derive(Debug)]
pub struct MemSeries {
    pub labels: Labels,
    chunks: Vec<XorChunk>,
    /// Value bits of the newest in-order sample, for the duplicate check without decoding.
    last_value_bits: u64,
    ooo: Vec<Sample>,
    histograms: Vec<HistogramSample>,
    /// Boxed: most series never carry a start timestamp and should not pay for the field.
    start_times: Option<Box<StartTimes>>,
    pub last_exemplar_t: Option<i64>,
}

impl MemSeries {
    pub fn new(labels: Labels) -> Self {
        Self {
            labels,
            chunks: Vec::new(),
            last_value_bits: 0,
            ooo: Vec::new(),
            histograms: Vec::new(),
            start_times: None,
            last_exemplar_t: None,
        }
    }

    fn in_order_max(&self) -> Option<i64> {
        self.chunks.last().map(XorChunk::last_time)
    }

    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.ooo.is_empty() && self.histograms.is_empty()
    }

    /// Earliest and latest timestamps held, floats and histograms together.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let mut range: Option<(i64, i64)> = None;
        let mut widen = |lo: i64, hi: i64| {
            range = Some(match range {
                Some((a, b)) => (a.min(lo), b.max(hi)),
                None => (lo, hi),
            });
        };
        if let (Some(first), Some(last)) = (self.chunks.first(), self.chunks.last()) {
            widen(first.first_time(), last.last_time());
        }
        if let (Some(first), Some(last)) = (self.ooo.first(), self.ooo.last()) {
            widen(first.t, last.t);
        }
        if let (Some(first), Some(last)) = (self.histograms.first(), self.histograms.last()) {
            widen(first.t, last.t);
        }
        range
    }

    pub fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.time_range().is_some_and(|(lo, hi)| lo <= maxt && hi >= mint)
    }

    pub fn append_float(&mut self, t: i64, v: f64, bounds: &AppendBounds, block_duration: i64) -> Admission {
        let max = self.in_order_max();
        let in_ooo_range = self.ooo.last().is_some_and(|last| t <= last.t);
        if (t >= bounds.min_valid_time || bounds.lenient) && !in_ooo_range {
            match max {
                None => {
                    self.push_in_order(t, v, block_duration);
                    return Admission::InOrder;
                }
                Some(max) if t > max => {
                    self.push_in_order(t, v, block_duration);
                    return Admission::InOrder;
                }
                Some(max) if t == max => {
                    return if self.last_value_bits == v.to_bits() {
                        Admission::Duplicate
                    } else {
                        Admission::Rejected(Reject::Duplicate {
                            existing: Some(f64::from_bits(self.last_value_bits)),
                        })
                    };
                }
                Some(_) => {}
            }
        }
        if let Err(reject) = bounds.out_of_order_verdict(t) {
            return Admission::Rejected(reject);
        }
        if let Some(existing) = self.find_in_chunks(t) {
            return if existing.to_bits() == v.to_bits() {
                Admission::Duplicate
            } else {
                Admission::Rejected(Reject::Duplicate {
                    existing: Some(existing),
                })
            };
        }
        match self.ooo.binary_search_by_key(&t, |s| s.t) {
            Ok(i) if self.ooo[i].v.to_bits() == v.to_bits() => Admission::Duplicate,
            Ok(i) => Admission::Rejected(Reject::Duplicate {
                existing: Some(self.ooo[i].v),
            }),
            Err(i) => {
                self.ooo.insert(i, Sample { t, v });
                Admission::OutOfOrder
            }
        }
    }

    pub fn append_histogram(&mut self, sample: HistogramSample, bounds: &AppendBounds) -> Admission {
        let t = sample.t;
        let in_order = self.histograms.last().is_none_or(|last| t > last.t);
        if in_order && (t >= bounds.min_valid_time || bounds.lenient) {
            self.histograms.push(sample);
            return Admission::InOrder;
        }
        if let Ok(i) = self.histograms.binary_search_by_key(&t, |h| h.t) {
            return if self.histograms[i].h == sample.h {
                Admission::Duplicate
            } else {
                Admission::Rejected(Reject::Duplicate { existing: None })
            };
        }
        if let Err(reject) = bounds.out_of_order_verdict(t) {
            return Admission::Rejected(reject);
        }
        let i = self.histograms.partition_point(|h| h.t < t);
        self.histograms.insert(i, sample);
        Admission::OutOfOrder
    }

    fn push_in_order(&mut self, t: i64, v: f64, block_duration: i64) {
        let needs_new = match self.chunks.last() {
            None => true,
            Some(chunk) => {
                chunk.num_samples() >= MAX_SAMPLES_PER_CHUNK
                    || block_start(chunk.first_time(), block_duration) != block_start(t, block_duration)
            }
        };
        if needs_new {
            self.chunks.push(XorChunk::new());
        }
        if let Some(chunk) = self.chunks.last_mut() {
            chunk.append(t, v);
        }
        self.last_value_bits = v.to_bits();
    }

    fn find_in_chunks(&self, t: i64) -> Option<f64> {
        let chunk = self.chunks.iter().find(|c| c.first_time() <= t && t <= c.last_time())?;
        let samples = chunk.samples().ok()?;
        samples.iter().find(|(st, _)| *st == t).map(|(_, v)| *v)
    }

    /// Float samples in `[mint, maxt]`, in-order chunks and out-of-order buffer merged.
    pub fn samples_in(&self, mint: i64, maxt: i64) -> Vec<Sample> {
        let mut in_order = Vec::new();
        for chunk in &self.chunks {
            if chunk.last_time() < mint || chunk.first_time() > maxt {
                continue;
            }
            match chunk.samples() {
                Ok(samples) => in_order.extend(
                    samples
                        .into_iter()
                        .filter(|(t, _)| *t >= mint && *t <= maxt)
                        .map(|(t, v)| Sample { t, v }),
                ),
                Err(err) => tracing::error!(error = %err, series = %self.labels, "head chunk failed to decode"),
            }
        }
        let ooo: Vec<Sample> = self
            .ooo
            .iter()
            .filter(|s| s.t >= mint && s.t <= maxt)
            .copied()
            .collect();
        merge_sorted(in_order, ooo)
    }

    pub fn histograms_in(&self, mint: i64, maxt: i64) -> Vec<HistogramSample> {
        let start = self.histograms.partition_point(|h| h.t < mint);
        self.histograms[start..]
            .iter()
            .take_while(|h| h.t <= maxt)
            .cloned()
            .collect()
    }

    /// Records the start timestamp of the sample just admitted at `t` (0: unknown, ignored).
    pub fn set_start_timestamp(&mut self, t: i64, st: i64) {
        if st == 0 {
            return;
        }
        self.start_times.get_or_insert_with(Box::default).insert(t, st);
    }

    pub fn start_timestamps_in(&self, mint: i64, maxt: i64) -> Vec<StartTimestamp> {
        match &self.start_times {
            Some(list) => list.range(mint, maxt),
            None => Vec::new(),
        }
    }

    /// Removes the float samples and histograms at exactly the given timestamps (those a
    /// block now holds). Anything that arrived since the block was read stays.
    pub fn remove_written(&mut self, float_ts: &[i64], histogram_ts: &[i64], block_duration: i64) {
        if let (Some(&lo), Some(&hi)) = (float_ts.first(), float_ts.last()) {
            let written = |t: i64| float_ts.binary_search(&t).is_ok();
            self.ooo.retain(|s| !written(s.t));
            let old_chunks = std::mem::take(&mut self.chunks);
            let mut kept_samples: Vec<(i64, f64)> = Vec::new();
            let mut rebuilt: Vec<XorChunk> = Vec::new();
            for chunk in old_chunks {
                if chunk.last_time() < lo || chunk.first_time() > hi {
                    flush_kept(&mut kept_samples, &mut rebuilt, block_duration);
                    rebuilt.push(chunk);
                    continue;
                }
                match chunk.samples() {
                    Ok(samples) => kept_samples.extend(samples.into_iter().filter(|(t, _)| !written(*t))),
                    Err(_) => rebuilt.push(chunk),
                }
            }
            flush_kept(&mut kept_samples, &mut rebuilt, block_duration);
            self.chunks = rebuilt;
            self.last_value_bits = self
                .chunks
                .last()
                .and_then(|c| c.samples().ok())
                .and_then(|s| s.last().map(|(_, v)| v.to_bits()))
                .unwrap_or(0);
        }
        if !histogram_ts.is_empty() {
            self.histograms.retain(|h| histogram_ts.binary_search(&h.t).is_err());
        }
        if let Some(list) = self.start_times.as_mut() {
            list.remove(float_ts);
            list.remove(histogram_ts);
            if list.is_empty() {
                self.start_times = None;
            }
        }
    }
}

/// Re-chunks samples kept from rewritten chunks (in order, they precede what follows).
fn flush_kept(kept: &mut Vec<(i64, f64)>, out: &mut Vec<XorChunk>, block_duration: i64) {
    let mut current: Option<XorChunk> = None;
    for (t, v) in kept.drain(..) {
        let cut = current.as_ref().is_some_and(|c| {
            c.num_samples() >= MAX_SAMPLES_PER_CHUNK
                || block_start(c.first_time(), block_duration) != block_start(t, block_duration)
        });
        if cut && let Some(done) = current.take() {
            out.push(done);
        }
        current.get_or_insert_with(XorChunk::new).append(t, v);
    }
    if let Some(done) = current {
        out.push(done);
    }
}

/// Start of the aligned block range holding `t` (Prometheus aligns ranges to multiples of
/// the block duration since the epoch).
pub fn block_start(t: i64, block_duration: i64) -> i64 {
    if block_duration <= 0 {
        return i64::MIN;
    }
    t.div_euclid(block_duration).saturating_mul(block_duration)
}

/// Merges two time-sorted runs; on equal timestamps the first run wins.
pub fn merge_sorted(a: Vec<Sample>, b: Vec<Sample>) -> Vec<Sample> {
    if b.is_empty() {
        return a;
    }
    if a.is_empty() {
        return b;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => {
                if x.t < y.t {
                    out.extend(a.next());
                } else if y.t < x.t {
                    out.extend(b.next());
                } else {
                    out.extend(a.next());
                    b.next();
                }
            }
            (Some(_), None) => out.extend(a.by_ref()),
            (None, Some(_)) => out.extend(b.by_ref()),
            (None, None) => break,
        }
    }
    out
}

//! Remote-write messages → one validated `AppendBatch`, as pure functions.
//!
//! Partial writes: a series or sample Prometheus would refuse is left out and its error line
//! recorded; everything valid is still appended (the remote-write 2.0 "partial write" rule,
//! which Prometheus' v2 handler follows). For 1.0 Prometheus instead drops invalid series
//! silently and rolls the whole request back on the first bad sample; we apply the 2.0 rule
//! to both, so a 1.0 sender is told (400) instead of silently losing series, and valid data
//! from the same request is not lost either.

use crate::prom_api::proto::{prompb, write_v2};
use crate::prom_api::remote_write::histogram::convert_histogram;
use crate::prom_api::remote_write::series_labels::{RawLabel, format_labels, validate_series_labels};
use crate::server::Limits;
use crate::storage::Labels;
use crate::storage::model::{
    AppendBatch, Exemplar, HistogramSample, MetricMetadata, MetricType, Sample, SeriesAppend, StartTimestamp,
    normalize_start_timestamps,
};
use std::collections::BTreeMap;

/// Prometheus' `storage.ErrOutOfBounds` wrapped by its remote-write appender.
pub const TOO_FAR_IN_FUTURE: &str = "out of bounds: timestamp is too far in the future";

/// Exemplar label sets longer than this (in characters, names and values) are dropped, as
/// Prometheus' exemplar storage does (`exemplar.ExemplarMaxLabelSetLength`).
const EXEMPLAR_MAX_LABEL_SET_LENGTH: usize = 128;

/// What a request turned into.
#[derive(Debug, Default, PartialEq)]
pub struct Converted {
    pub batch: AppendBatch,
    /// Zero samples at the series' start (created) timestamps; appended separately and
    /// best-effort, because a start timestamp older than stored data is normal.
    pub start_zero: AppendBatch,
    /// Error lines for everything left out, in request order.
    pub errors: ErrorLog,
}

/// At most this many error lines are kept (and formatted); a request with thousands of bad
/// series would otherwise echo all of them back.
pub const MAX_ERROR_LINES: usize = 100;

/// The error lines of one request, capped at [`MAX_ERROR_LINES`].
#[derive(Debug, Default, PartialEq)]
pub struct ErrorLog {
    pub lines: Vec<String>,
    /// Errors beyond the cap, counted but not formatted.
    pub omitted: usize,
}

impl ErrorLog {
    /// Records one error, building its text only if it will be kept.
    pub fn add(&mut self, line: impl FnOnce() -> String) {
        if self.lines.len() < MAX_ERROR_LINES {
            self.lines.push(line());
        } else {
            self.omitted += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Per-request context: the clock and the tenant's limits.
pub struct ConvertContext<'a> {
    pub now_ms: i64,
    pub limits: &'a Limits,
}

impl ConvertContext<'_> {
    fn max_time(&self) -> i64 {
        self.now_ms.saturating_add(self.limits.max_future_ms)
    }
}

/// Remote write 1.0. Error lines use Prometheus' 1.0 texts (the bare append error).
pub fn convert_v1(req: &prompb::WriteRequest, ctx: &ConvertContext<'_>) -> Converted {
    let mut out = Converted::default();
    let max_time = ctx.max_time();
    for ts in &req.timeseries {
        let raw: Vec<RawLabel<'_>> = ts
            .labels
            .iter()
            .map(|l| (l.name.as_slice(), l.value.as_slice()))
            .collect();
        let labels = match validate_series_labels(&raw, ctx.limits) {
            Ok(labels) => labels,
            Err(e) => {
                out.errors.add(|| e.0);
                continue;
            }
        };
        let mut series = SeriesAppend {
            labels,
            ..SeriesAppend::default()
        };
        for s in &ts.samples {
            if s.timestamp > max_time {
                out.errors.add(|| TOO_FAR_IN_FUTURE.to_string());
                continue;
            }
            series.samples.push(Sample {
                t: s.timestamp,
                v: s.value,
            });
        }
        for h in &ts.histograms {
            match accept_histogram(h, max_time) {
                Ok(sample) => series.histograms.push(sample),
                Err(e) => out.errors.add(|| e),
            }
        }
        for e in &ts.exemplars {
            let raw: Vec<RawLabel<'_>> = e
                .labels
                .iter()
                .map(|l| (l.name.as_slice(), l.value.as_slice()))
                .collect();
            if let Some(exemplar) = accept_exemplar(&raw, e.value, e.timestamp, max_time) {
                series.exemplars.push(exemplar);
            }
        }
        push_series(&mut out.batch, series);
    }
    let mut metadata: BTreeMap<String, MetricMetadata> = BTreeMap::new();
    for m in &req.metadata {
        if m.metric_family_name.is_empty() {
            continue;
        }
        let family = String::from_utf8_lossy(&m.metric_family_name).into_owned();
        metadata.insert(
            family.clone(),
            MetricMetadata {
                metric_family: family,
                metric_type: metric_type(m.r#type),
                help: String::from_utf8_lossy(&m.help).into_owned(),
                unit: String::from_utf8_lossy(&m.unit).into_owned(),
            },
        );
    }
    out.batch.metadata = metadata.into_values().collect();
    out
}

/// Remote write 2.0, with Prometheus' 2.0 error lines (`storage/remote/write_handler.go`
/// `appendV2`). `ingest_start_zero` mirrors `--enable-feature=created-timestamp-zero-ingestion`
/// (off by default in Prometheus and here).
///
/// Symbols are shared, so a small request can name a large symbol many times; the strings
/// it resolves to are budgeted at the decoded-body limit, and a request over it is refused
/// whole (`Err`, a 400 with the decoded-size text) before anything is built from them.
pub fn convert_v2(
    req: &write_v2::Request,
    ctx: &ConvertContext<'_>,
    ingest_start_zero: bool,
) -> Result<Converted, String> {
    let mut out = Converted::default();
    let max_time = ctx.max_time();
    let symbols = &req.symbols;
    let mut metadata: BTreeMap<String, MetricMetadata> = BTreeMap::new();
    let mut budget = SymbolBudget::new(ctx.limits.max_request_body_bytes);
    for ts in &req.timeseries {
        budget.spend_refs(&ts.labels_refs, symbols)?;
        if let Some(meta) = &ts.metadata {
            budget.spend_refs(&[meta.help_ref, meta.unit_ref], symbols)?;
        }
        for e in &ts.exemplars {
            budget.spend_refs(&e.labels_refs, symbols)?;
        }
        let raw = match desymbolize(&ts.labels_refs, symbols) {
            Ok(raw) => raw,
            Err(e) => {
                out.errors
                    .add(|| format!("parsing labels for series {}: {e}", go_uint_slice(&ts.labels_refs)));
                continue;
            }
        };
        let meta = ts.metadata.unwrap_or_default();
        let (help, unit) = match resolve_metadata(&meta, symbols) {
            Ok(pair) => pair,
            Err(e) => {
                out.errors
                    .add(|| format!("parsing metadata for series {}: {e}", go_uint_slice(&ts.labels_refs)));
                continue;
            }
        };
        let labels = match validate_series_labels(&raw, ctx.limits) {
            Ok(labels) => labels,
            Err(e) => {
                out.errors.add(|| e.0);
                continue;
            }
        };
        // Prometheus prints the sorted label list as received, empty values included.
        let shown = || format_labels(&sorted(&raw));
        if ts.samples.is_empty() && ts.histograms.is_empty() {
            out.errors.add(|| {
                format!(
                    "TimeSeries must contain at least one sample or histogram for series {}",
                    shown()
                )
            });
            continue;
        }
        let mut series = SeriesAppend {
            labels: labels.clone(),
            ..SeriesAppend::default()
        };
        let mut zero = SeriesAppend {
            labels: labels.clone(),
            ..SeriesAppend::default()
        };
        for s in &ts.samples {
            let start = if s.start_timestamp != 0 {
                s.start_timestamp
            } else {
                ts.created_timestamp
            };
            if ingest_start_zero && start != 0 && s.timestamp != 0 && start < s.timestamp {
                let already = zero.samples.last().is_some_and(|z| z.t >= start);
                if !already && start <= max_time {
                    zero.samples.push(Sample { t: start, v: 0.0 });
                }
            }
            if s.timestamp > max_time {
                out.errors.add(|| format!("{TOO_FAR_IN_FUTURE} for series {}", shown()));
                continue;
            }
            series.samples.push(Sample {
                t: s.timestamp,
                v: s.value,
            });
            if start != 0 {
                series.start_timestamps.push(StartTimestamp {
                    t: s.timestamp,
                    st: start,
                });
            }
        }
        for h in &ts.histograms {
            match accept_histogram(h, max_time) {
                Ok(sample) => {
                    let start = if h.start_timestamp != 0 {
                        h.start_timestamp
                    } else {
                        ts.created_timestamp
                    };
                    if start != 0 {
                        series.start_timestamps.push(StartTimestamp { t: sample.t, st: start });
                    }
                    series.histograms.push(sample);
                }
                Err(e) => out.errors.add(|| format!("{e} for series {}", shown())),
            }
        }
        normalize_start_timestamps(&mut series.start_timestamps);
        for e in &ts.exemplars {
            let raw = match desymbolize(&e.labels_refs, symbols) {
                Ok(raw) => raw,
                Err(err) => {
                    out.errors
                        .add(|| format!("parsing exemplar for series {}: {err}", shown()));
                    continue;
                }
            };
            if let Some(exemplar) = accept_exemplar(&raw, e.value, e.timestamp, max_time) {
                series.exemplars.push(exemplar);
            }
        }
        if (meta.r#type != 0 || !help.is_empty() || !unit.is_empty())
            && let Some(family) = labels.metric_name()
        {
            metadata.insert(
                family.to_string(),
                MetricMetadata {
                    metric_family: family.to_string(),
                    metric_type: metric_type(meta.r#type),
                    help,
                    unit,
                },
            );
        }
        push_series(&mut out.batch, series);
        push_series(&mut out.start_zero, zero);
    }
    out.batch.metadata = metadata.into_values().collect();
    Ok(out)
}

/// Bytes of symbol text a request may resolve to.
struct SymbolBudget {
    left: usize,
    limit: usize,
}

impl SymbolBudget {
    fn new(limit: usize) -> Self {
        Self { left: limit, limit }
    }

    /// Charges the symbols `refs` name (out-of-range refs cost nothing; they fail later).
    fn spend_refs(&mut self, refs: &[u32], symbols: &[Vec<u8>]) -> Result<(), String> {
        for r in refs {
            let cost = symbols.get(*r as usize).map_or(0, Vec::len);
            self.left = self
                .left
                .checked_sub(cost)
                .ok_or_else(|| format!("decoded size exceeds the {} bytes limit", self.limit))?;
        }
        Ok(())
    }
}

fn push_series(batch: &mut AppendBatch, series: SeriesAppend) {
    if !series.samples.is_empty() || !series.histograms.is_empty() || !series.exemplars.is_empty() {
        batch.series.push(series);
    }
}

fn accept_histogram(h: &prompb::Histogram, max_time: i64) -> Result<HistogramSample, String> {
    if h.timestamp > max_time {
        return Err(TOO_FAR_IN_FUTURE.to_string());
    }
    let converted = convert_histogram(h)?;
    Ok(HistogramSample {
        t: h.timestamp,
        h: converted,
    })
}

/// Exemplar problems never fail a Prometheus write (exemplar storage is best-effort), so a
/// bad exemplar is just dropped.
fn accept_exemplar(raw: &[RawLabel<'_>], value: f64, t: i64, max_time: i64) -> Option<Exemplar> {
    if t > max_time {
        return None;
    }
    let length: usize = raw
        .iter()
        .map(|(n, v)| String::from_utf8_lossy(n).chars().count() + String::from_utf8_lossy(v).chars().count())
        .sum();
    if length > EXEMPLAR_MAX_LABEL_SET_LENGTH {
        return None;
    }
    let pairs = raw.iter().map(|(n, v)| {
        (
            String::from_utf8_lossy(n).into_owned(),
            String::from_utf8_lossy(v).into_owned(),
        )
    });
    Some(Exemplar {
        labels: Labels::from_pairs(pairs),
        value,
        t,
    })
}

/// Resolves name/value reference pairs against the symbol table, with Prometheus' texts.
fn desymbolize<'a>(refs: &[u32], symbols: &'a [Vec<u8>]) -> Result<Vec<RawLabel<'a>>, String> {
    if !refs.len().is_multiple_of(2) {
        return Err(format!("invalid labelRefs length {}", refs.len()));
    }
    let mut out = Vec::with_capacity(refs.len() / 2);
    for pair in refs.chunks_exact(2) {
        let (name_ref, value_ref) = (pair[0], pair[1]);
        match (symbols.get(name_ref as usize), symbols.get(value_ref as usize)) {
            (Some(name), Some(value)) => out.push((name.as_slice(), value.as_slice())),
            _ => {
                return Err(format!(
                    "labelRefs {name_ref} (name) = {value_ref} (value) outside of symbols table (size {})",
                    symbols.len()
                ));
            }
        }
    }
    Ok(out)
}

fn resolve_metadata(meta: &write_v2::Metadata, symbols: &[Vec<u8>]) -> Result<(String, String), String> {
    let Some(unit) = symbols.get(meta.unit_ref as usize) else {
        return Err(format!(
            "metadata unit_ref {} outside of symbols table (size {})",
            meta.unit_ref,
            symbols.len()
        ));
    };
    let Some(help) = symbols.get(meta.help_ref as usize) else {
        return Err(format!(
            "metadata help_ref {} outside of symbols table (size {})",
            meta.help_ref,
            symbols.len()
        ));
    };
    Ok((
        String::from_utf8_lossy(help).into_owned(),
        String::from_utf8_lossy(unit).into_owned(),
    ))
}

fn sorted<'a>(raw: &[RawLabel<'a>]) -> Vec<RawLabel<'a>> {
    let mut v = raw.to_vec();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

/// Go's `%v` of a `[]uint32`: `[1 2 3]`.
fn go_uint_slice(v: &[u32]) -> String {
    let items: Vec<String> = v.iter().map(u32::to_string).collect();
    format!("[{}]", items.join(" "))
}

/// v1 `MetricMetadata.MetricType` and v2 `Metadata.MetricType` share numbering.
fn metric_type(value: i32) -> MetricType {
    match value {
        prompb::METRIC_TYPE_COUNTER => MetricType::Counter,
        prompb::METRIC_TYPE_GAUGE => MetricType::Gauge,
        prompb::METRIC_TYPE_HISTOGRAM => MetricType::Histogram,
        prompb::METRIC_TYPE_GAUGEHISTOGRAM => MetricType::GaugeHistogram,
        prompb::METRIC_TYPE_SUMMARY => MetricType::Summary,
        prompb::METRIC_TYPE_INFO => MetricType::Info,
        prompb::METRIC_TYPE_STATESET => MetricType::StateSet,
        prompb::METRIC_TYPE_UNKNOWN => MetricType::Unknown,
        _ => MetricType::Unknown,
    }
}

//! The head's read side: series selection through the postings, label names and values,
//! exemplars and metadata.

use super::TenantHead;
use crate::storage::labels::Labels;
use crate::storage::matcher::LabelMatcher;
use crate::storage::model::{Exemplar, MetricMetadata, Series};
use std::collections::{BTreeMap, HashSet};

impl TenantHead {
    /// Series matching all matchers with data in `[mint, maxt]`, sorted by labels.
    pub fn select(&self, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Vec<Series> {
        let inner = self.read();
        let mut out: Vec<Series> = Vec::new();
        inner.for_each_matching(matchers, |_, series| {
            if !series.overlaps(mint, maxt) {
                return;
            }
            let samples = series.samples_in(mint, maxt);
            let histograms = series.histograms_in(mint, maxt);
            if samples.is_empty() && histograms.is_empty() {
                return;
            }
            out.push(Series {
                labels: series.labels.clone(),
                samples,
                histograms,
                start_timestamps: series.start_timestamps_in(mint, maxt),
            });
        });
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// Label sets of matching series whose data overlaps `[mint, maxt]`, sorted.
    pub fn series(&self, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Vec<Labels> {
        let inner = self.read();
        let mut out: Vec<Labels> = Vec::new();
        inner.for_each_matching(matchers, |_, series| {
            if series.overlaps(mint, maxt) {
                out.push(series.labels.clone());
            }
        });
        out.sort();
        out
    }

    /// Sorted label names. Without matchers they come straight from the postings when the
    /// head overlaps the range, as Prometheus' head index reader answers.
    pub fn label_names(&self, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Vec<String> {
        if matchers.is_empty() {
            let inner = self.read();
            return if inner.overlaps(mint, maxt) {
                inner.index.label_names()
            } else {
                Vec::new()
            };
        }
        let mut names: Vec<String> = self
            .series(matchers, mint, maxt)
            .iter()
            .flat_map(|l| l.iter().map(|label| label.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    pub fn label_values(&self, name: &str, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Vec<String> {
        if matchers.is_empty() {
            let inner = self.read();
            return if inner.overlaps(mint, maxt) {
                inner.index.label_values(name)
            } else {
                Vec::new()
            };
        }
        let mut values: Vec<String> = self
            .series(matchers, mint, maxt)
            .iter()
            .filter_map(|l| l.get(name).map(str::to_string))
            .collect();
        values.sort();
        values.dedup();
        values
    }

    /// Exemplars in `[mint, maxt]` of series matching any matcher set, grouped by series.
    pub fn exemplars(&self, matcher_sets: &[Vec<LabelMatcher>], mint: i64, maxt: i64) -> Vec<(Labels, Vec<Exemplar>)> {
        let inner = self.read();
        let mut wanted: HashSet<u64> = HashSet::new();
        for matchers in matcher_sets {
            inner.for_each_matching(matchers, |series_ref, _| {
                wanted.insert(series_ref);
            });
        }
        let mut grouped: BTreeMap<Labels, Vec<Exemplar>> = BTreeMap::new();
        for (series_ref, e) in &inner.exemplars {
            if e.t < mint || e.t > maxt || !wanted.contains(series_ref) {
                continue;
            }
            if let Some(cell) = inner.series.get(series_ref) {
                let labels = super::lock_series(cell).labels.clone();
                grouped.entry(labels).or_default().push(e.clone());
            }
        }
        grouped.into_iter().collect()
    }

    pub fn metadata(&self, metric: Option<&str>) -> Vec<MetricMetadata> {
        let inner = self.read();
        match metric {
            Some(name) => inner.metadata.get(name).cloned().into_iter().collect(),
            None => inner.metadata.values().cloned().collect(),
        }
    }
}

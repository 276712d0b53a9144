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
        let mut out: Vec<Series> = inner
            .matching(matchers)
            .into_iter()
            .filter_map(|series| {
                if !series.overlaps(mint, maxt) {
                    return None;
                }
                let samples = series.samples_in(mint, maxt);
                let histograms = series.histograms_in(mint, maxt);
                if samples.is_empty() && histograms.is_empty() {
                    return None;
                }
                Some(Series {
                    labels: series.labels.clone(),
                    samples,
                    histograms,
                    start_timestamps: series.start_timestamps_in(mint, maxt),
                })
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// Label sets of matching series whose data overlaps `[mint, maxt]`, sorted.
    pub fn series(&self, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Vec<Labels> {
        let inner = self.read();
        let mut out: Vec<Labels> = inner
            .matching(matchers)
            .into_iter()
            .filter(|s| s.overlaps(mint, maxt))
            .map(|s| s.labels.clone())
            .collect();
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
            for (series_ref, _) in inner.matching_refs(matchers) {
                wanted.insert(series_ref);
            }
        }
        let mut grouped: BTreeMap<Labels, Vec<Exemplar>> = BTreeMap::new();
        for (series_ref, e) in &inner.exemplars {
            if e.t < mint || e.t > maxt || !wanted.contains(series_ref) {
                continue;
            }
            if let Some(series) = inner.series.get(series_ref) {
                grouped.entry(series.labels.clone()).or_default().push(e.clone());
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

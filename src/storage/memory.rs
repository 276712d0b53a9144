//! A plain in-memory series set that implements [`SeriesQuerier`]. It is what the PromQL
//! test-script runner loads its `load` blocks into, and a reference the store's own reader
//! is checked against.

use crate::storage::error::StorageError;
use crate::storage::labels::Labels;
use crate::storage::matcher::{LabelMatcher, matches_all};
use crate::storage::model::{HistogramSample, Sample, Series, StartTimestamp};
use crate::storage::querier::SeriesQuerier;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Default)]
pub struct MemorySeriesSet {
    series: BTreeMap<Labels, Stored>,
}

/// One series' data, each list ascending by time.
#[derive(Clone, Debug, Default)]
struct Stored {
    samples: Vec<Sample>,
    histograms: Vec<HistogramSample>,
    start_timestamps: Vec<StartTimestamp>,
}

impl MemorySeriesSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds float samples; a sample at an existing timestamp replaces the old one.
    pub fn add_samples(&mut self, labels: Labels, samples: impl IntoIterator<Item = Sample>) {
        let entry = self.series.entry(labels).or_default();
        for sample in samples {
            match entry.samples.binary_search_by_key(&sample.t, |s| s.t) {
                Ok(i) => entry.samples[i] = sample,
                Err(i) => entry.samples.insert(i, sample),
            }
        }
    }

    /// Adds native histogram samples; a sample at an existing timestamp replaces the old one.
    pub fn add_histograms(&mut self, labels: Labels, samples: impl IntoIterator<Item = HistogramSample>) {
        let entry = self.series.entry(labels).or_default();
        for sample in samples {
            match entry.histograms.binary_search_by_key(&sample.t, |s| s.t) {
                Ok(i) => entry.histograms[i] = sample,
                Err(i) => entry.histograms.insert(i, sample),
            }
        }
    }

    /// Adds start timestamps; one at an existing timestamp replaces the old one, a zero
    /// (unknown) is ignored.
    pub fn add_start_timestamps(&mut self, labels: Labels, list: impl IntoIterator<Item = StartTimestamp>) {
        let entry = self.series.entry(labels).or_default();
        for st in list {
            if st.st == 0 {
                continue;
            }
            match entry.start_timestamps.binary_search_by_key(&st.t, |s| s.t) {
                Ok(i) => entry.start_timestamps[i] = st,
                Err(i) => entry.start_timestamps.insert(i, st),
            }
        }
    }

    pub fn clear(&mut self) {
        self.series.clear();
    }

    fn select_sync(&self, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Vec<Series> {
        let mut out = Vec::new();
        for (labels, stored) in &self.series {
            let Stored {
                samples,
                histograms,
                start_timestamps,
            } = stored;
            if !matches_all(matchers, labels) {
                continue;
            }
            let samples: Vec<Sample> = samples.iter().filter(|s| s.t >= mint && s.t <= maxt).copied().collect();
            let histograms: Vec<HistogramSample> = histograms
                .iter()
                .filter(|s| s.t >= mint && s.t <= maxt)
                .cloned()
                .collect();
            if samples.is_empty() && histograms.is_empty() {
                continue;
            }
            let start_timestamps = start_timestamps
                .iter()
                .filter(|s| s.t >= mint && s.t <= maxt)
                .copied()
                .collect();
            out.push(Series {
                labels: labels.clone(),
                samples,
                histograms,
                start_timestamps,
            });
        }
        out
    }
}

impl SeriesQuerier for MemorySeriesSet {
    async fn select(&self, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Result<Vec<Series>, StorageError> {
        Ok(self.select_sync(matchers, mint, maxt))
    }

    async fn series(&self, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Result<Vec<Labels>, StorageError> {
        Ok(self
            .select_sync(matchers, mint, maxt)
            .into_iter()
            .map(|s| s.labels)
            .collect())
    }

    async fn label_names(&self, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Result<Vec<String>, StorageError> {
        let names: BTreeSet<String> = self
            .select_sync(matchers, mint, maxt)
            .iter()
            .flat_map(|s| s.labels.iter().map(|l| l.name.clone()))
            .collect();
        Ok(names.into_iter().collect())
    }

    async fn label_values(
        &self,
        name: &str,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let values: BTreeSet<String> = self
            .select_sync(matchers, mint, maxt)
            .iter()
            .filter_map(|s| s.labels.get(name).map(str::to_string))
            .collect();
        Ok(values.into_iter().collect())
    }
}

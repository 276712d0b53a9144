//! The one read interface every query engine uses. It answers from whatever the store
//! holds (head and blocks merged) and pushes down time range and label matchers.

use crate::storage::error::StorageError;
use crate::storage::labels::Labels;
use crate::storage::matcher::LabelMatcher;
use crate::storage::model::Series;
use std::future::Future;

/// A read view of one tenant's series. Time bounds are inclusive milliseconds.
pub trait SeriesQuerier: Send + Sync {
    /// Series matching all `matchers` with their samples in `[mint, maxt]`, sorted by labels.
    /// Series with no sample in the range are left out.
    fn select(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> impl Future<Output = Result<Vec<Series>, StorageError>> + Send;

    /// Label sets of series matching `matchers` with data in `[mint, maxt]`, sorted.
    fn series(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> impl Future<Output = Result<Vec<Labels>, StorageError>> + Send;

    /// Sorted label names of series matching `matchers` (all series when empty).
    fn label_names(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> impl Future<Output = Result<Vec<String>, StorageError>> + Send;

    /// Sorted distinct values of label `name` over series matching `matchers`.
    fn label_values(
        &self,
        name: &str,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> impl Future<Output = Result<Vec<String>, StorageError>> + Send;
}

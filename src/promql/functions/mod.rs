//! PromQL's numeric function library: pure functions over windows of points and over single
//! values, with no knowledge of the AST or of labels. The evaluator picks the arguments
//! (windows, scalars) and calls these.
//!
//! CONTRACT (skeleton): the evaluator codes against these signatures.
//!
//! Map for the evaluator:
//! - range-vector functions: [`range::call`] / [`range::call_at`] (the latter takes the
//!   evaluation time, which `predict_linear` needs under `offset`/`@`);
//!   `absent_over_time` stays with the evaluator.
//! - element-wise functions of one sample: [`math::call`]; `min_of`/`max_of` are
//!   [`math::go_min`]/[`math::go_max`]; `pi()`, `time()` and the no-argument calendar
//!   forms (`year()` reads the evaluation time) stay with the evaluator.
//! - classic histograms: [`histogram::bucket_quantile`] (+ `_with_details` for the
//!   forced-monotonicity annotation), [`histogram::bucket_fraction`].
//! - aggregation helpers: [`stats::kahan_sum_inc`], [`stats::Mean`] (`avg`),
//!   [`stats::AggregationVariance`] (`stddev`/`stdvar`), [`stats::quantile`].

pub mod calendar;
pub mod extended;
pub mod histogram;
pub mod math;
mod over_time;
pub mod range;
mod rate;
pub mod start_time;
pub mod stats;

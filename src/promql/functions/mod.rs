//! PromQL's numeric function library: pure functions over windows of points and over single
//! values, with no knowledge of the AST or of labels. The evaluator picks the arguments
//! (windows, scalars) and calls these.
//!
//! CONTRACT (skeleton): the evaluator codes against these signatures.

pub mod calendar;
pub mod histogram;
pub mod math;
mod over_time;
pub mod range;
mod rate;
pub mod stats;

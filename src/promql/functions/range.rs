//! Functions over a range-vector window of one series (`rate`, `*_over_time`, …).

/// The float points of one series inside one evaluation window, ascending by time.
/// The window is left-open, right-closed: `(range_start, range_end]` in ms
/// (Prometheus 3 semantics). `points` holds only points inside it; stale markers are removed.
#[derive(Clone, Copy, Debug)]
pub struct RangeWindow<'a> {
    pub points: &'a [(i64, f64)],
    pub range_start: i64,
    pub range_end: i64,
}

/// Evaluates one range function over `window`. `name` is the PromQL function name;
/// `scalar_args` are the scalar parameters in call order, excluding the range vector itself
/// (`quantile_over_time(q, …)` → `[q]`, `predict_linear(…, t)` → `[t]`,
/// `double_exponential_smoothing(…, sf, tf)` → `[sf, tf]`).
/// Returns `None` when the function yields no sample for this series (e.g. `rate` with
/// fewer than two points). Returns `Err` with Prometheus' error text for invalid
/// arguments (e.g. a smoothing factor outside (0, 1)).
pub fn call(name: &str, window: RangeWindow<'_>, scalar_args: &[f64]) -> Result<Option<f64>, String> {
    let _ = (name, window, scalar_args);
    Err(format!("range function {name} is not built yet"))
}

/// Whether `name` is a range function handled by [`call`].
pub fn is_range_function(name: &str) -> bool {
    let _ = name;
    false
}

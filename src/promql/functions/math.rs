//! Element-wise functions of one float (`abs`, `ceil`, `ln`, `sin`, `round`, `clamp`, the
//! calendar functions …).

/// Applies an element-wise function. `scalar_args` are the extra scalar parameters in call
/// order (`round(v, to)` → `[to]`, `clamp(v, min, max)` → `[min, max]`). For the calendar
/// functions (`day_of_month`, `hour`, …) `v` is a Unix time in seconds.
/// Returns `None` when the sample is dropped (as `clamp` with min > max does for all samples).
pub fn call(name: &str, v: f64, scalar_args: &[f64]) -> Option<f64> {
    let _ = (name, v, scalar_args);
    None
}

/// Whether `name` is an element-wise function handled by [`call`].
pub fn is_elementwise_function(name: &str) -> bool {
    let _ = name;
    false
}

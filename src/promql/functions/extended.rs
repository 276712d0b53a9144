//! Range functions over `anchored` and `smoothed` windows (Prometheus 3's experimental
//! extended range selectors).
//!
//! Such a window reaches past its own `(range_start, range_end]`: an anchored window also
//! holds the points of the lookback period before `range_start`, a smoothed one those of the
//! lookback period after `range_end` too. The functions here pick the value at each boundary
//! from those points instead of extrapolating: an anchored window takes the newest point at or
//! before the start, a smoothed window interpolates linearly at both boundaries.

/// Which boundary treatment a window gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extension {
    Anchored,
    Smoothed,
}

/// An extended window: `points` (ascending, stale markers removed) reach past the nominal
/// window `(range_start, range_end]` they were fetched around.
pub type ExtendedWindow<'a> = super::range::RangeWindow<'a>;

/// Index of the last point at or before `t` among the first `limit` points, or 0.
fn last_at_or_before(points: &[(i64, f64)], limit: usize, t: i64) -> usize {
    let head = points.get(..limit).unwrap_or(points);
    head.partition_point(|p| p.0 <= t).saturating_sub(1)
}

/// Linear interpolation between two points at `t`. A counter that dropped between them is
/// taken to have restarted from zero.
fn interpolate(p1: (i64, f64), p2: (i64, f64), t: i64, is_counter: bool) -> f64 {
    let y1 = if is_counter && p2.1 < p1.1 { 0.0 } else { p1.1 };
    let span = (p2.0 - p1.0) as f64;
    y1 + (p2.1 - y1) * (t - p1.0) as f64 / span
}

/// The sum of the values lost at each counter reset, walking from `left` through `inner`
/// to `right`.
fn reset_correction(left: f64, right: f64, inner: &[(i64, f64)]) -> f64 {
    let mut correction = 0.0;
    let mut prev = left;
    for p in inner {
        if p.1 < prev {
            correction += prev;
        }
        prev = p.1;
    }
    if right < prev {
        correction += prev;
    }
    correction
}

/// `rate` / `increase` / `delta` over an extended window: the difference between the
/// boundary values, corrected for counter resets when `is_counter`, per second of the range
/// when `is_rate`. `None` when the window holds no point after its start (or, smoothed, none
/// at or before its end).
pub fn extended_rate(window: ExtendedWindow<'_>, smoothed: bool, is_counter: bool, is_rate: bool) -> Option<f64> {
    let f = window.points;
    let (range_start, range_end) = (window.range_start, window.range_end);
    let mut last = f.len().checked_sub(1)?;
    let mut first = last_at_or_before(f, last, range_start);
    if smoothed {
        last = f.get(..last).unwrap_or(&[]).partition_point(|p| p.0 < range_end);
    }
    let first_point = *f.get(first)?;
    let last_point = *f.get(last)?;
    if last_point.0 <= range_start || (smoothed && first_point.0 > range_end) {
        return None;
    }
    let left = match f.get(first + 1) {
        Some(&next) if smoothed && first_point.0 < range_start => {
            interpolate(first_point, next, range_start, is_counter)
        }
        _ => first_point.1,
    };
    let right = match last.checked_sub(1).and_then(|i| f.get(i)) {
        Some(&prev) if smoothed && last_point.0 > range_end => interpolate(prev, last_point, range_end, is_counter),
        _ => last_point.1,
    };
    let mut result = right - left;
    if is_counter {
        // The boundary values already account for resets at or beyond the boundaries.
        if first_point.0 <= range_start {
            first += 1;
        }
        let inner = if last_point.0 >= range_end {
            last.checked_sub(1).and_then(|end| f.get(first..=end))
        } else {
            f.get(first..=last)
        };
        result += reset_correction(left, right, inner.unwrap_or(&[]));
    }
    if is_rate {
        result /= (range_end - range_start) as f64 / 1000.0;
    }
    Some(result)
}

/// The points `changes` / `resets` read from an anchored window: from the newest point at
/// or before `range_start` (the anchor) on. `None` when no point lies after `range_start`.
pub fn anchored_points<'a>(window: ExtendedWindow<'a>) -> Option<&'a [(i64, f64)]> {
    let after = window.points.partition_point(|p| p.0 <= window.range_start);
    if after >= window.points.len() {
        return None;
    }
    window.points.get(after.saturating_sub(1)..)
}

/// A bare extended range selector's points: the boundary values at `range_start` and
/// `range_end` with the points strictly inside the window between them.
pub fn extend_points(window: ExtendedWindow<'_>, smoothed: bool) -> Vec<(i64, f64)> {
    let f = window.points;
    let (range_start, range_end) = (window.range_start, window.range_end);
    let Some(mut last) = f.len().checked_sub(1) else {
        return Vec::new();
    };
    let mut first = last_at_or_before(f, last, range_start);
    if smoothed {
        last = f.get(..last).unwrap_or(&[]).partition_point(|p| p.0 < range_end);
    }
    let (Some(&first_point), Some(&last_point)) = (f.get(first), f.get(last)) else {
        return Vec::new();
    };
    if last_point.0 <= range_start {
        return Vec::new();
    }
    let left = match f.get(first + 1) {
        Some(&next) if smoothed && first_point.0 < range_start => interpolate(first_point, next, range_start, false),
        _ => first_point.1,
    };
    let right = match last.checked_sub(1).and_then(|i| f.get(i)) {
        Some(&prev) if smoothed && last_point.0 > range_end => interpolate(prev, last_point, range_end, false),
        _ => last_point.1,
    };
    if first_point.0 <= range_start {
        first += 1;
    }
    let inner = if last_point.0 >= range_end {
        last.checked_sub(1).and_then(|end| f.get(first..=end))
    } else {
        f.get(first..=last)
    };
    let inner = inner.unwrap_or(&[]);
    let mut out = Vec::with_capacity(inner.len() + 2);
    out.push((range_start, left));
    out.extend_from_slice(inner);
    out.push((range_end, right));
    out
}

/// The value a smoothed instant selector reads at `t` from the points of `(t - lookback,
/// t + lookback]`: the point at `t`, else the interpolation between its neighbours, else the
/// newest earlier point. `None` when no point precedes `t`.
pub fn smoothed_value(points: &[(i64, f64)], t: i64) -> Option<f64> {
    let i = points.partition_point(|p| p.0 < t);
    match (i.checked_sub(1).and_then(|p| points.get(p)), points.get(i)) {
        (_, Some(&next)) if next.0 == t => Some(next.1),
        (Some(&prev), Some(&next)) => Some(interpolate(prev, next, t, false)),
        (Some(&prev), None) => Some(prev.1),
        (None, _) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(points: &[(i64, f64)], range_start: i64, range_end: i64) -> ExtendedWindow<'_> {
        ExtendedWindow {
            points,
            start_timestamps: &[],
            range_start,
            range_end,
        }
    }

    #[test]
    fn anchored_increase_starts_at_the_newest_point_before_the_window() {
        // Samples every 15s: 1 2 3 4; window (-10s, 50s].
        let pts = [(0, 1.0), (15_000, 2.0), (30_000, 3.0), (45_000, 4.0)];
        assert_eq!(
            extended_rate(window(&pts, -10_000, 50_000), false, true, false),
            Some(3.0)
        );
        // Only a point at the window start: nothing after it.
        assert_eq!(extended_rate(window(&pts[..1], 0, 60_000), false, true, false), None);
    }

    #[test]
    fn smoothed_increase_interpolates_both_boundaries() {
        let pts = [(0, 1.0), (60_000, 2.0), (180_000, 4.0), (240_000, 5.0)];
        // Window (60s, 120s]: left 2 (exact), right interpolated to 3.
        assert_eq!(
            extended_rate(window(&pts, 60_000, 120_000), true, true, false),
            Some(1.0)
        );
    }

    #[test]
    fn smoothed_rate_interpolates_across_a_counter_reset() {
        let pts = [(0, 100.0), (15_000, 10.0)];
        let r = extended_rate(window(&pts, 2_000, 12_000), true, true, true).unwrap();
        assert!((r - 0.666_666_666_666_667).abs() < 1e-12);
    }

    #[test]
    fn anchored_points_keep_the_anchor() {
        let pts = [(0, 2.0), (30_000, 3.0), (120_000, 1.0)];
        assert_eq!(anchored_points(window(&pts, 60_000, 120_000)), Some(&pts[1..]));
        assert_eq!(anchored_points(window(&pts, 120_000, 180_000)), None);
    }

    #[test]
    fn smoothed_value_carries_forward_and_interpolates() {
        let pts = [(0, 1.0), (10_000, 2.0)];
        assert_eq!(smoothed_value(&pts, 5_000), Some(1.5));
        assert_eq!(smoothed_value(&pts, 10_000), Some(2.0));
        assert_eq!(smoothed_value(&pts, 20_000), Some(2.0));
        assert_eq!(smoothed_value(&pts, -1), None);
    }

    #[test]
    fn extended_points_replace_the_boundaries() {
        let pts = [(0, 1.0), (60_000, 2.0), (180_000, 4.0)];
        assert_eq!(
            extend_points(window(&pts, 30_000, 120_000), true),
            vec![(30_000, 1.5), (60_000, 2.0), (120_000, 3.0)]
        );
    }
}

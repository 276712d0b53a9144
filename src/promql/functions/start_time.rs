//! Reading counter resets off start ("created") timestamps, as Prometheus 3 does when
//! `rate`, `increase`, `irate` and `resets` are given them. A start timestamp says when the
//! counter behind a sample last started from zero (cumulative) or when the interval it
//! counts began (delta); 0 means unknown.

/// Whether the start timestamp of the current point shows a reset since the previous one.
///
/// - Unknown (0), invalid (`st > t`) or OTel's "unknown start" (`st == t`): no reset.
/// - `st` before the previous point: the counter ran through it, no reset.
/// - `st` after the previous point: it restarted in between, a reset.
/// - `st` exactly at the previous point: a delta point (reset) if the previous point had a
///   valid start of its own, but a cumulative series with an unknown start (previous start
///   unknown, equal to its timestamp, or invalid) otherwise.
pub fn is_reset(prev_st: i64, prev_t: i64, curr_st: i64, curr_t: i64) -> bool {
    if curr_st == 0 || curr_st >= curr_t {
        return false;
    }
    if curr_st < prev_t {
        return false;
    }
    if curr_st > prev_t {
        return true;
    }
    if prev_st > prev_t {
        return false;
    }
    prev_st != 0 && prev_st != prev_t
}

/// Whether the current point's start reaches back before the previous point without being
/// the same start (a cumulative series keeps its start, a delta series starts at the
/// previous point): the two points count part of the same interval twice.
pub fn overlaps(prev_st: i64, prev_t: i64, curr_st: i64) -> bool {
    curr_st != 0 && curr_st < prev_t && curr_st != prev_st
}

/// The start timestamp of point `i`, 0 when unknown (also when there are none at all).
pub fn at(start_timestamps: &[i64], i: usize) -> i64 {
    start_timestamps.get(i).copied().unwrap_or(0)
}

/// Whether any two consecutive points overlap (see [`overlaps`]).
pub fn any_overlap(points: &[(i64, f64)], start_timestamps: &[i64]) -> bool {
    if start_timestamps.is_empty() {
        return false;
    }
    (1..points.len()).any(|i| {
        let prev_t = points.get(i - 1).map_or(0, |p| p.0);
        overlaps(at(start_timestamps, i - 1), prev_t, at(start_timestamps, i))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_follow_the_start_timestamp_cases() {
        // Unknown, invalid and "unknown start" (st == t).
        assert!(!is_reset(0, 60, 0, 120));
        assert!(!is_reset(0, 60, 130, 120));
        assert!(!is_reset(0, 60, 120, 120));
        // Cumulative running through the previous point.
        assert!(!is_reset(10, 60, 10, 120));
        // Restarted after the previous point.
        assert!(is_reset(10, 60, 90, 120));
        // Pointing at the previous point: delta when that one had a real start.
        assert!(is_reset(1, 60, 60, 120));
        assert!(!is_reset(0, 60, 60, 120));
        assert!(!is_reset(60, 60, 60, 120));
        assert!(!is_reset(120, 60, 60, 120));
    }

    #[test]
    fn overlaps_only_when_the_start_moves_back_before_the_previous_point() {
        assert!(!overlaps(0, 60, 60), "delta");
        assert!(!overlaps(30, 60, 30), "cumulative");
        assert!(overlaps(0, 60, 30));
        assert!(!overlaps(30, 60, 0), "unknown");
        assert!(!any_overlap(&[(60, 1.0), (120, 2.0), (180, 3.0)], &[-60, 0, 0]));
        assert!(!any_overlap(&[(60, 1.0), (120, 2.0), (180, 3.0)], &[-60, -60, 0]));
        assert!(any_overlap(&[(60, 1.0), (120, 2.0), (180, 3.0)], &[-60, -60, 30]));
    }
}

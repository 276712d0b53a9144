//! UTC calendar fields of a Unix time, for `year()`, `month()`, `day_of_week()` … .
//!
//! Prometheus converts the sample value with Go's `time.Unix(int64(v), 0).UTC()`: the value
//! is truncated toward zero to whole seconds and read in the proleptic Gregorian calendar.
//! We do the same arithmetic on days since the epoch (Howard Hinnant's `civil_from_days`),
//! which is exact for every second an i64 can hold.

/// The calendar fields Prometheus exposes, for one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CivilTime {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
    /// 0 = Sunday … 6 = Saturday (Go's `time.Weekday`).
    pub weekday: u32,
    /// 1..=366
    pub day_of_year: u32,
    pub hour: u32,
    pub minute: u32,
}

/// Splits Unix seconds into UTC calendar fields. `None` for NaN, ±Inf and values beyond the
/// i64 range, where Go's float-to-int conversion has no defined result to imitate. (NaN and
/// the infinities fall outside the half-open range check.)
pub fn civil_from_unix_seconds(v: f64) -> Option<CivilTime> {
    // 2^63 as f64; anything at or beyond it does not fit i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if !(-LIMIT..LIMIT).contains(&v) {
        return None;
    }
    let secs = v.trunc() as i64;
    let days = secs.div_euclid(86_400);
    let secs_of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday (4).
    let weekday = (days + 4).rem_euclid(7) as u32;
    let day_of_year = (days - days_from_civil(year, 1, 1) + 1) as u32;
    Some(CivilTime {
        year,
        month,
        day,
        weekday,
        day_of_year,
        hour: (secs_of_day / 3600) as u32,
        minute: (secs_of_day % 3600 / 60) as u32,
    })
}

/// Number of days in `month` (1..=12) of `year`, leap years included.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap_year(year) => 29,
        _ => 28,
    }
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // March = 0
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 1970-01-01, proleptic Gregorian.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_thursday_first_of_january_1970() {
        let t = civil_from_unix_seconds(0.0).unwrap();
        assert_eq!(
            t,
            CivilTime {
                year: 1970,
                month: 1,
                day: 1,
                weekday: 4,
                day_of_year: 1,
                hour: 0,
                minute: 0
            }
        );
    }

    #[test]
    fn prometheus_reference_instants() {
        // 2006-01-02 22:04:05 UTC, a Monday (functions.test).
        let t = civil_from_unix_seconds(1_136_239_445.0).unwrap();
        assert_eq!((t.year, t.month, t.day, t.weekday, t.day_of_year), (2006, 1, 2, 1, 2));
        assert_eq!((t.hour, t.minute), (22, 4));
        assert_eq!(civil_from_unix_seconds(1_230_767_999.0).unwrap().year, 2008);
        assert_eq!(civil_from_unix_seconds(1_230_768_000.0).unwrap().year, 2009);
        let feb29 = civil_from_unix_seconds(1_456_790_399.0).unwrap();
        assert_eq!((feb29.month, feb29.day), (2, 29));
        let mar1 = civil_from_unix_seconds(1_456_790_400.0).unwrap();
        assert_eq!((mar1.month, mar1.day), (3, 1));
        assert_eq!(civil_from_unix_seconds(1_483_191_420.0).unwrap().day_of_year, 366);
        assert_eq!(civil_from_unix_seconds(1_672_493_820.0).unwrap().day_of_year, 365);
    }

    #[test]
    fn negative_values_truncate_toward_zero_like_go() {
        // int64(-0.5) == 0 in Go, so this is still the epoch.
        assert_eq!(civil_from_unix_seconds(-0.5).unwrap().year, 1970);
        let t = civil_from_unix_seconds(-1.0).unwrap();
        assert_eq!(
            (t.year, t.month, t.day, t.hour, t.minute, t.weekday),
            (1969, 12, 31, 23, 59, 3)
        );
        assert_eq!(t.day_of_year, 365);
    }

    #[test]
    fn month_lengths() {
        assert_eq!(days_in_month(2016, 2), 29);
        assert_eq!(days_in_month(2017, 2), 28);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(2017, 4), 30);
        assert_eq!(days_in_month(2017, 12), 31);
    }

    #[test]
    fn non_finite_and_out_of_range_have_no_date() {
        assert!(civil_from_unix_seconds(f64::NAN).is_none());
        assert!(civil_from_unix_seconds(f64::INFINITY).is_none());
        assert!(civil_from_unix_seconds(1e19).is_none());
        assert!(civil_from_unix_seconds(-1e19).is_none());
        // Far but representable instants still resolve without overflow.
        assert!(civil_from_unix_seconds(9.2e18).is_some());
        assert!(civil_from_unix_seconds(-9.2e18).is_some());
    }

    #[test]
    fn round_trip_over_four_centuries_of_days() {
        let start = days_from_civil(1800, 1, 1);
        let end = days_from_civil(2200, 1, 1);
        for days in (start..end).step_by(17) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            assert!(d >= 1 && d <= days_in_month(y, m));
        }
    }
}

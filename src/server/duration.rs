//! Prometheus' duration syntax (`1h30m`, `15d`, `500ms`), used by flags, the config file and
//! the HTTP API alike, so that every place a user types a duration accepts the same spelling.

const MS_PER_SECOND: i64 = 1000;
const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;
const MS_PER_WEEK: i64 = 7 * MS_PER_DAY;
const MS_PER_YEAR: i64 = 365 * MS_PER_DAY;

/// Units in the only order Prometheus accepts them, largest first.
const UNITS: [(&str, i64); 7] = [
    ("y", MS_PER_YEAR),
    ("w", MS_PER_WEEK),
    ("d", MS_PER_DAY),
    ("h", MS_PER_HOUR),
    ("m", MS_PER_MINUTE),
    ("s", MS_PER_SECOND),
    ("ms", 1),
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DurationError {
    #[error("empty duration string")]
    Empty,
    #[error("not a valid duration string: {0:?}")]
    Invalid(String),
    #[error("duration out of range")]
    OutOfRange,
}

/// Parses `model.ParseDuration` syntax into milliseconds: integer amounts with units
/// `y w d h m s ms`, each at most once and largest first (`1h30m`, not `30m1h`; no `1.5h`).
/// A bare `0` is accepted, as Prometheus does.
pub fn parse_prom_duration(text: &str) -> Result<i64, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text == "0" {
        return Ok(0);
    }
    let invalid = || DurationError::Invalid(text.to_string());
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while pos < bytes.len() {
        let digits_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == digits_start {
            return Err(invalid());
        }
        let amount: i64 = text[digits_start..pos].parse().map_err(|_| DurationError::OutOfRange)?;
        let unit_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
            pos += 1;
        }
        let unit = &text[unit_start..pos];
        let Some(offset) = UNITS[next_unit..].iter().position(|(name, _)| *name == unit) else {
            return Err(invalid());
        };
        let index = next_unit + offset;
        next_unit = index + 1;
        let part = amount.checked_mul(UNITS[index].1).ok_or(DurationError::OutOfRange)?;
        total = total.checked_add(part).ok_or(DurationError::OutOfRange)?;
    }
    // Prometheus keeps durations as nanoseconds in an int64.
    if total > i64::MAX / 1_000_000 {
        return Err(DurationError::OutOfRange);
    }
    Ok(total)
}

/// Formats milliseconds the way `model.Duration.String` does (`15d`, `1h30m`, `0s`), so that
/// `/status/flags` and `/status/config` print what a Prometheus user expects.
pub fn format_prom_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    let mut rest = ms;
    if rest < 0 {
        out.push('-');
        rest = rest.checked_neg().unwrap_or(i64::MAX);
    }
    for (name, unit) in UNITS {
        // Weeks are only used when they divide the duration exactly, as Prometheus does.
        if name == "w" && rest % unit != 0 {
            continue;
        }
        let amount = rest / unit;
        if amount > 0 {
            out.push_str(&amount.to_string());
            out.push_str(name);
            rest -= amount * unit;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        assert_eq!(parse_prom_duration("5m"), Ok(5 * MS_PER_MINUTE));
        assert_eq!(parse_prom_duration("1h30m"), Ok(90 * MS_PER_MINUTE));
        assert_eq!(
            parse_prom_duration("1d2h3m4s5ms"),
            Ok(MS_PER_DAY + 2 * MS_PER_HOUR + 3 * 60_000 + 4005)
        );
        assert_eq!(parse_prom_duration("2w"), Ok(14 * MS_PER_DAY));
        assert_eq!(parse_prom_duration("1y"), Ok(365 * MS_PER_DAY));
        assert_eq!(parse_prom_duration("0"), Ok(0));
        assert_eq!(parse_prom_duration("0s"), Ok(0));
        assert_eq!(parse_prom_duration("100ms"), Ok(100));
    }

    #[test]
    fn refuses_what_prometheus_refuses() {
        assert_eq!(parse_prom_duration(""), Err(DurationError::Empty));
        for bad in ["1.5h", "30m1h", "5", "m", "1hh", "1h1h", "-5m", "5 m", "1x"] {
            assert!(parse_prom_duration(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(
            parse_prom_duration("99999999999999999999y"),
            Err(DurationError::OutOfRange)
        );
        assert_eq!(parse_prom_duration("300y"), Err(DurationError::OutOfRange));
    }

    #[test]
    fn formats_like_model_duration() {
        assert_eq!(format_prom_duration(0), "0s");
        assert_eq!(format_prom_duration(15 * MS_PER_DAY), "15d");
        assert_eq!(format_prom_duration(14 * MS_PER_DAY), "2w");
        assert_eq!(format_prom_duration(2 * MS_PER_MINUTE), "2m");
        assert_eq!(format_prom_duration(90 * MS_PER_MINUTE), "1h30m");
        assert_eq!(format_prom_duration(1500), "1s500ms");
        assert_eq!(format_prom_duration(MS_PER_YEAR + MS_PER_DAY), "1y1d");
    }
}

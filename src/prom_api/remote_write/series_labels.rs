//! Turning a received label list into the store's `Labels`, with Prometheus' write-handler
//! checks (`storage/remote/write_handler.go`): the list is sorted by name (senders need not
//! sort), must carry `__name__`, every name must be non-empty UTF-8 and every value UTF-8
//! (Prometheus 3's UTF-8 validation scheme), and no name may repeat. Empty values pass the
//! check and are dropped afterwards, as the TSDB head does (`WithoutEmpty`).
//!
//! The per-series limits (name/value length, label count) are Mimir's, with Mimir's texts:
//! Prometheus has none, and a multi-tenant store needs them.

use crate::server::Limits;
use crate::storage::{Labels, METRIC_NAME};
use std::fmt::Write as _;

/// A label pair as received: raw bytes, possibly invalid UTF-8.
pub type RawLabel<'a> = (&'a [u8], &'a [u8]);

/// Why a series was refused; the text is the error line Prometheus (or Mimir for limits)
/// would send back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSeries(pub String);

/// Validates and converts one series' labels. `raw` may be in any order.
pub fn validate_series_labels(raw: &[RawLabel<'_>], limits: &Limits) -> Result<Labels, InvalidSeries> {
    let mut sorted: Vec<RawLabel<'_>> = raw.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));

    let has_name = sorted.iter().any(|(n, _)| *n == METRIC_NAME.as_bytes());
    if !has_name || !sorted.iter().all(is_valid_label) {
        return Err(InvalidSeries(format!(
            "invalid metric name or labels, got {}",
            format_labels(&sorted)
        )));
    }
    if let Some(dup) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(InvalidSeries(format!(
            "invalid labels for series, labels {}, duplicated label {}",
            format_labels(&sorted),
            String::from_utf8_lossy(dup[0].0)
        )));
    }
    check_limits(&sorted, limits)?;

    // Every byte string is valid UTF-8 here (checked above).
    let pairs = sorted.iter().filter(|(_, v)| !v.is_empty()).map(|(n, v)| {
        (
            String::from_utf8_lossy(n).into_owned(),
            String::from_utf8_lossy(v).into_owned(),
        )
    });
    Ok(Labels::from_pairs(pairs))
}

fn is_valid_label((name, value): &RawLabel<'_>) -> bool {
    let name_ok = !name.is_empty() && std::str::from_utf8(name).is_ok();
    let value_ok = std::str::from_utf8(value).is_ok();
    let metric_name_ok = *name != METRIC_NAME.as_bytes() || !value.is_empty();
    name_ok && value_ok && metric_name_ok
}

fn check_limits(sorted: &[RawLabel<'_>], limits: &Limits) -> Result<(), InvalidSeries> {
    let non_empty = sorted.iter().filter(|(_, v)| !v.is_empty()).count();
    if non_empty > limits.max_labels_per_series {
        return Err(InvalidSeries(format!(
            "received a series whose number of labels exceeds the limit (actual: {non_empty}, limit: {}) series: '{}' \
             (err-mimir-max-label-names-per-series). To adjust the related per-tenant limit, configure \
             -validation.max-label-names-per-series, or contact your service administrator.",
            limits.max_labels_per_series,
            truncate_chars(&format_labels(sorted), 200)
        )));
    }
    for (name, value) in sorted {
        let name = String::from_utf8_lossy(name);
        let value = String::from_utf8_lossy(value);
        if name.len() > limits.max_label_name_length {
            return Err(InvalidSeries(format!(
                "received a series whose label name length exceeds the limit, label: '{}' series: '{}' \
                 (err-mimir-label-name-too-long). To adjust the related per-tenant limit, configure \
                 -validation.max-length-label-name, or contact your service administrator.",
                truncate_chars(&name, 200),
                truncate_chars(&format_labels(sorted), 200)
            )));
        }
        if value.len() > limits.max_label_value_length {
            return Err(InvalidSeries(format!(
                "received a series whose label value length of {} exceeds the limit of {}, label: '{}', value: '{}' \
                 (truncated) series: '{}' (err-mimir-label-value-too-long). To adjust the related per-tenant limit, \
                 configure -validation.max-length-label-value, or contact your service administrator.",
                value.len(),
                limits.max_label_value_length,
                name,
                truncate_chars(&value, 200),
                truncate_chars(&format_labels(sorted), 200)
            )));
        }
    }
    Ok(())
}

/// Go's `%.Ns`: at most `n` characters.
fn truncate_chars(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Prometheus' `labels.Labels.String()`: `{a="1", "odd.name"="2"}` — names quoted only when
/// they are not legacy-valid, values always quoted the way Go's `strconv.Quote` does.
pub fn format_labels(labels: &[RawLabel<'_>]) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if is_legacy_label_name(name) {
            out.push_str(&String::from_utf8_lossy(name));
        } else {
            out.push_str(&go_quote(name));
        }
        out.push('=');
        out.push_str(&go_quote(value));
    }
    out.push('}');
    out
}

fn is_legacy_label_name(name: &[u8]) -> bool {
    match name.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        }
        None => false,
    }
}

/// Go's `strconv.Quote`: invalid UTF-8 bytes become `\xNN`, control characters are escaped,
/// printable characters (including non-ASCII) are kept.
pub fn go_quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{7}' => out.push_str("\\a"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{b}' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if c.is_control() => {
                    if (c as u32) <= 0xffff {
                        let _ = write!(out, "\\u{:04x}", c as u32);
                    } else {
                        let _ = write!(out, "\\U{:08x}", c as u32);
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw<'a>(pairs: &'a [(&'a str, &'a str)]) -> Vec<RawLabel<'a>> {
        pairs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect()
    }

    #[test]
    fn unsorted_labels_are_sorted_and_empty_values_dropped() {
        let labels = validate_series_labels(
            &raw(&[("job", "a"), ("__name__", "up"), ("env", "")]),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(labels.to_string(), r#"{__name__="up", job="a"}"#);
    }

    #[test]
    fn missing_metric_name_is_refused() {
        let err = validate_series_labels(&raw(&[("job", "a")]), &Limits::default()).unwrap_err();
        assert_eq!(err.0, r#"invalid metric name or labels, got {job="a"}"#);
        let err = validate_series_labels(&raw(&[("__name__", ""), ("job", "a")]), &Limits::default()).unwrap_err();
        assert_eq!(err.0, r#"invalid metric name or labels, got {__name__="", job="a"}"#);
    }

    #[test]
    fn utf8_names_are_valid_but_empty_names_and_bad_bytes_are_not() {
        let ok = validate_series_labels(
            &raw(&[("__name__", "my.metric"), ("service.name", "api")]),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(ok.get("service.name"), Some("api"));
        let err = validate_series_labels(&raw(&[("__name__", "up"), ("", "x")]), &Limits::default()).unwrap_err();
        assert_eq!(err.0, r#"invalid metric name or labels, got {""="x", __name__="up"}"#);
        let bad: Vec<RawLabel<'_>> = vec![(b"__name__", b"up"), (b"a", b"\xff")];
        let err = validate_series_labels(&bad, &Limits::default()).unwrap_err();
        assert_eq!(err.0, r#"invalid metric name or labels, got {__name__="up", a="\xff"}"#);
    }

    #[test]
    fn duplicate_names_are_refused_even_with_empty_value() {
        let err =
            validate_series_labels(&raw(&[("__name__", "up"), ("a", "1"), ("a", "")]), &Limits::default()).unwrap_err();
        assert_eq!(
            err.0,
            r#"invalid labels for series, labels {__name__="up", a="1", a=""}, duplicated label a"#
        );
    }

    #[test]
    fn limits_use_mimir_texts() {
        let limits = Limits {
            max_labels_per_series: 1,
            ..Limits::default()
        };
        let err = validate_series_labels(&raw(&[("__name__", "up"), ("a", "1")]), &limits).unwrap_err();
        assert!(err.0.starts_with(
            r#"received a series whose number of labels exceeds the limit (actual: 2, limit: 1) series: '{__name__="up", a="1"}'"#
        ));
        let limits = Limits {
            max_label_value_length: 3,
            ..Limits::default()
        };
        let err = validate_series_labels(&raw(&[("__name__", "up"), ("a", "long")]), &limits).unwrap_err();
        assert!(
            err.0
                .starts_with("received a series whose label value length of 4 exceeds the limit of 3, label: 'a'")
        );
    }

    #[test]
    fn quoting_follows_go() {
        assert_eq!(go_quote("a\"b\\\n\u{1}é".as_bytes()), r#""a\"b\\\n\x01é""#);
    }
}

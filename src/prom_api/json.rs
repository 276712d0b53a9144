//! Prometheus' JSON, written by hand: clients and golden tests compare bytes, and Go's
//! number, timestamp and string encodings differ from serde_json's in small ways.

use crate::promql::{QueryResult, Value};
use crate::storage::Labels;
use std::fmt::Write as _;

/// At most this many warnings and infos are rendered; the rest are counted.
pub const MAX_ANNOTATIONS: usize = 10;

/// A sample value as Go's `strconv.FormatFloat(f, fmt, -1, 64)` writes it, with `fmt` = 'e'
/// for magnitudes below 1e-6 or from 1e21 up and 'f' otherwise.
pub fn format_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let magnitude = value.abs();
    if value != 0.0 && !(1e-6..1e21).contains(&magnitude) {
        return format_float_exponent(value);
    }
    // Rust's Display prints the shortest round-trip digits without an exponent, as Go's 'f'.
    format!("{value}")
}

/// Go's 'e' format with shortest digits: a signed exponent of at least two digits
/// (`1e-07`, `1.5e+21`), where Rust writes `1e-7` and `1.5e21`.
pub fn format_float_exponent(value: f64) -> String {
    let rust = format!("{value:e}");
    let Some((mantissa, exponent)) = rust.split_once('e') else {
        return rust;
    };
    let (sign, digits) = match exponent.strip_prefix('-') {
        Some(digits) => ('-', digits),
        None => ('+', exponent),
    };
    let padding = if digits.len() < 2 { "0" } else { "" };
    format!("{mantissa}e{sign}{padding}{digits}")
}

/// A millisecond timestamp as seconds with the fraction zero-padded to three digits and not
/// trimmed (`1435781451.781`, `1795294360.500`, `1795294365`).
pub fn write_timestamp(out: &mut String, ms: i64) {
    if ms < 0 {
        out.push('-');
    }
    let abs = ms.unsigned_abs();
    let _ = write!(out, "{}", abs / 1000);
    let fraction = abs % 1000;
    if fraction != 0 {
        let _ = write!(out, ".{fraction:03}");
    }
}

/// A JSON string escaped as Go's `encoding/json` does: HTML-sensitive characters and the
/// two JavaScript line separators become `\u` escapes.
pub fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A label set as a JSON object, in sorted name order (the order `Labels` keeps).
pub fn write_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, &label.name);
        out.push(':');
        write_string(out, &label.value);
    }
    out.push('}');
}

/// A JSON array of strings.
pub fn write_string_array(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, item);
    }
    out.push(']');
}

/// `[t,"v"]`: one point of a result.
fn write_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    write_timestamp(out, t);
    out.push(',');
    write_string(out, &format_float(v));
    out.push(']');
}

/// The `data` object of `/query` and `/query_range`.
pub fn write_query_data(out: &mut String, value: &Value) {
    out.push_str("{\"resultType\":");
    write_string(out, value.type_name());
    out.push_str(",\"result\":");
    match value {
        Value::Scalar { t, v } => write_point(out, *t, *v),
        Value::String { t, v } => {
            out.push('[');
            write_timestamp(out, *t);
            out.push(',');
            write_string(out, v);
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push('[');
            for (i, sample) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(out, &sample.metric);
                out.push_str(",\"value\":");
                write_point(out, sample.t, sample.f);
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push('[');
            for (i, one) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(out, &one.metric);
                out.push_str(",\"values\":[");
                for (j, (t, v)) in one.floats.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    write_point(out, *t, *v);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push('}');
}

/// Caps a list of annotations at [`MAX_ANNOTATIONS`], de-duplicated (Prometheus keeps them in
/// a set), with a final line counting what was left out.
pub fn cap_annotations(items: &[String], kind: &str) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    let mut skipped = 0usize;
    for item in items {
        if kept.contains(item) {
            continue;
        }
        if kept.len() < MAX_ANNOTATIONS {
            kept.push(item.clone());
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 {
        kept.push(format!("{skipped} more {kind} annotations omitted"));
    }
    kept
}

/// The success envelope around already-encoded `data` (`None` leaves `data` out, as Go's
/// `omitempty` does for nil). Warnings and infos are left out when empty, never `[]`.
pub fn success_envelope(data: Option<&str>, warnings: &[String], infos: &[String]) -> String {
    let mut out = String::with_capacity(data.map_or(0, str::len) + 32);
    out.push_str("{\"status\":\"success\"");
    if let Some(data) = data {
        out.push_str(",\"data\":");
        out.push_str(data);
    }
    let warnings = cap_annotations(warnings, "warning");
    if !warnings.is_empty() {
        out.push_str(",\"warnings\":");
        write_string_array(&mut out, &warnings);
    }
    let infos = cap_annotations(infos, "info");
    if !infos.is_empty() {
        out.push_str(",\"infos\":");
        write_string_array(&mut out, &infos);
    }
    out.push('}');
    out
}

/// The error envelope: `status`, `errorType`, `error`, and nothing else.
pub fn error_envelope(error_type: &str, message: &str) -> String {
    let mut out = String::with_capacity(message.len() + 48);
    out.push_str("{\"status\":\"error\",\"errorType\":");
    write_string(&mut out, error_type);
    out.push_str(",\"error\":");
    write_string(&mut out, message);
    out.push('}');
    out
}

/// The success envelope of a query result, annotations included.
pub fn query_envelope(result: &QueryResult, extra_warnings: &[String]) -> String {
    let mut data = String::new();
    write_query_data(&mut data, &result.value);
    let mut warnings = result.warnings.clone();
    warnings.extend(extra_warnings.iter().cloned());
    success_envelope(Some(&data), &warnings, &result.infos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::{InstantSample, RangeSeries};

    #[test]
    fn floats_follow_go_strconv() {
        let cases: [(f64, &str); 16] = [
            (1.0, "1"),
            (0.1, "0.1"),
            (0.07275666666666666, "0.07275666666666666"),
            (1e-7, "1e-07"),
            (1e-6, "0.000001"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e300, "1.5e+300"),
            (-2.5e-10, "-2.5e-10"),
            (-0.0, "-0"),
            (0.0, "0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (123456789.125, "123456789.125"),
            (5e-324, "5e-324"),
        ];
        for (value, expected) in cases {
            assert_eq!(format_float(value), expected, "formatting {value:?}");
        }
    }

    #[test]
    fn timestamps_keep_three_digit_fractions() {
        let cases: [(i64, &str); 6] = [
            (1435781451781, "1435781451.781"),
            (1795294360500, "1795294360.500"),
            (1795294365000, "1795294365"),
            (4000, "4"),
            (5, "0.005"),
            (-1500, "-1.500"),
        ];
        for (ms, expected) in cases {
            let mut out = String::new();
            write_timestamp(&mut out, ms);
            assert_eq!(out, expected);
        }
        let mut out = String::new();
        write_timestamp(&mut out, i64::MIN);
        assert_eq!(out, "-9223372036854775.808");
    }

    #[test]
    fn strings_escape_like_go() {
        let mut out = String::new();
        write_string(&mut out, "a\"b\\c\n<&>\u{1}\u{2028}é");
        assert_eq!(out, r#""a\"b\\c\n\u003c\u0026\u003e\u0001\u2028é""#);
    }

    #[test]
    fn envelope_omits_empty_fields() {
        assert_eq!(
            success_envelope(Some("[]"), &[], &[]),
            r#"{"status":"success","data":[]}"#
        );
        assert_eq!(
            success_envelope(Some("1"), &["w".into()], &["i".into()]),
            r#"{"status":"success","data":1,"warnings":["w"],"infos":["i"]}"#
        );
        assert_eq!(
            error_envelope("bad_data", "no match[] parameter provided"),
            r#"{"status":"error","errorType":"bad_data","error":"no match[] parameter provided"}"#
        );
    }

    #[test]
    fn annotations_are_capped() {
        let many: Vec<String> = (0..13).map(|i| format!("w{i}")).collect();
        let capped = cap_annotations(&many, "warning");
        assert_eq!(capped.len(), 11);
        assert_eq!(capped[10], "3 more warning annotations omitted");
    }

    #[test]
    fn query_data_matches_captured_samples() {
        let labels = Labels::from_pairs([
            ("job", "prometheus"),
            ("__name__", "up"),
            ("instance", "127.0.0.1:9090"),
        ]);
        let vector = Value::Vector(vec![InstantSample {
            metric: labels.clone(),
            t: 1795294368394,
            f: 1.0,
        }]);
        let result = QueryResult {
            value: vector,
            warnings: vec![],
            infos: vec![],
        };
        assert_eq!(
            query_envelope(&result, &[]),
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","instance":"127.0.0.1:9090","job":"prometheus"},"value":[1795294368.394,"1"]}]}}"#
        );

        let matrix = Value::Matrix(vec![RangeSeries {
            metric: Labels::from_pairs([
                ("code", "200"),
                ("handler", "/metrics"),
                ("instance", "127.0.0.1:9090"),
                ("job", "prometheus"),
            ]),
            floats: vec![
                (1795294365000, 0.07275666666666666),
                (1795294380000, 0.10833333333333334),
            ],
        }]);
        let mut out = String::new();
        write_query_data(&mut out, &matrix);
        assert_eq!(
            out,
            r#"{"resultType":"matrix","result":[{"metric":{"code":"200","handler":"/metrics","instance":"127.0.0.1:9090","job":"prometheus"},"values":[[1795294365,"0.07275666666666666"],[1795294380,"0.10833333333333334"]]}]}"#
        );

        let mut out = String::new();
        write_query_data(
            &mut out,
            &Value::Scalar {
                t: 1795294368402,
                v: f64::INFINITY,
            },
        );
        assert_eq!(out, r#"{"resultType":"scalar","result":[1795294368.402,"+Inf"]}"#);
        let mut out = String::new();
        write_query_data(
            &mut out,
            &Value::String {
                t: 1795294368461,
                v: "foo".into(),
            },
        );
        assert_eq!(out, r#"{"resultType":"string","result":[1795294368.461,"foo"]}"#);
        // Grafana's health check: `1+1` at time=4.
        let health = QueryResult {
            value: Value::Scalar { t: 4000, v: 2.0 },
            warnings: vec![],
            infos: vec![],
        };
        assert_eq!(
            query_envelope(&health, &[]),
            r#"{"status":"success","data":{"resultType":"scalar","result":[4,"2"]}}"#
        );
        let mut out = String::new();
        write_query_data(&mut out, &Value::Vector(vec![]));
        assert_eq!(out, r#"{"resultType":"vector","result":[]}"#);
    }
}

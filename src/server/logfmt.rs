//! Log lines in logfmt (`time=… level=info target=… msg="…" key=value`), the default text
//! format of Prometheus and Loki, so the same log pipelines parse Heimsight's logs.

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

pub struct Logfmt;

/// Appends `value`, quoted and escaped when logfmt needs it (spaces, `=`, quotes, empty).
pub fn write_value(out: &mut String, value: &str) {
    let needs_quotes = value.is_empty()
        || value
            .chars()
            .any(|c| c == ' ' || c == '=' || c == '"' || c.is_control());
    if !needs_quotes {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Collects the message and the other fields of an event.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Fields {
    fn push(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
            return;
        }
        self.rest.push(' ');
        self.rest.push_str(field.name());
        self.rest.push('=');
        write_value(&mut self.rest, value);
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, &format!("{value:?}"));
    }
}

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let metadata = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut line = String::with_capacity(128);
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
        let _ = write!(
            line,
            "time={now} level={}",
            metadata.level().as_str().to_ascii_lowercase()
        );
        line.push_str(" target=");
        write_value(&mut line, metadata.target());
        line.push_str(" msg=");
        write_value(&mut line, &fields.message);
        line.push_str(&fields.rest);
        writeln!(writer, "{line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_only_when_needed() {
        let mut out = String::new();
        write_value(&mut out, "127.0.0.1:9090");
        out.push(' ');
        write_value(&mut out, "listening on 127.0.0.1:9090");
        out.push(' ');
        write_value(&mut out, "");
        out.push(' ');
        write_value(&mut out, "a\"b\nc");
        assert_eq!(out, r#"127.0.0.1:9090 "listening on 127.0.0.1:9090" "" "a\"b\nc""#);
    }
}

//! Prometheus' wording and position for a query promql-parser refused.
//!
//! promql-parser words its errors its own way and reports no positions, while clients (and
//! the conformance tests) see Prometheus' `<line>:<col>: parse error: <message>`. This module
//! runs only after promql-parser failed: it re-reads the query with a lexer, a grammar reader
//! and type checks that mirror Prometheus' own, and reports the first error Prometheus would.
//! Anything it does not model falls back to promql-parser's message at `1:1`.

mod check;
mod functions;
mod label_names;
mod lexer;
mod literals;
mod postfix;
mod regex_error;
mod syntax;
mod tree;

pub use label_names::invalid_destination_label;
use tree::{Problem, Stop};

/// The full `L:C: parse error: …` text for a query promql-parser failed to parse with
/// `original` as its message.
pub fn diagnose(query: &str, original: &str) -> String {
    match find(query) {
        Some(problem) => format_problem(query, &problem),
        None => {
            let message = original.strip_prefix("parse error: ").unwrap_or(original);
            format!("1:1: parse error: {message}")
        }
    }
}

/// Prometheus' `L:C: parse error: …` for a `match[]` selector it would refuse, if this
/// module can tell. Emptiness of the matchers is left to the caller, as in Prometheus' API.
pub fn diagnose_selector(text: &str) -> Option<String> {
    let tokens = lexer::tokenize(text);
    let mut parser = syntax::Parser::new(&tokens);
    let parsed = parser.metric_selector();
    let first_action = parser.action_errors.first().cloned();
    let problem = match parsed {
        Err(Stop::Found(syntax_error)) => match first_action {
            Some(action) if action.pos <= syntax_error.pos => action,
            _ => syntax_error,
        },
        Err(Stop::Unknown) | Ok(()) => first_action?,
    };
    Some(format_problem(text, &problem))
}

/// The first error Prometheus would report, if this module can tell.
fn find(query: &str) -> Option<Problem> {
    let tokens = lexer::tokenize(query);
    let mut parser = syntax::Parser::new(&tokens);
    let parsed = parser.query();
    let first_action = parser.action_errors.first().cloned();
    match parsed {
        Err(Stop::Found(syntax_error)) => match first_action {
            Some(action) if action.pos <= syntax_error.pos => Some(action),
            _ => Some(syntax_error),
        },
        Err(Stop::Unknown) => first_action,
        Ok(node) => {
            if first_action.is_some() {
                return first_action;
            }
            match check::check(&node) {
                Err(Stop::Found(problem)) => Some(problem),
                _ => None,
            }
        }
    }
}

/// Prometheus' `ParseErr.Error()`: 1-based line, and the column as bytes since the last
/// line break.
fn format_problem(query: &str, problem: &Problem) -> String {
    let pos = problem.pos.min(query.len());
    let before = query.as_bytes().get(..pos).unwrap_or_default();
    let line = 1 + before.iter().filter(|b| **b == b'\n').count();
    let last_break = before.iter().rposition(|b| *b == b'\n');
    let column = match last_break {
        Some(index) => pos - index,
        None => pos + 1,
    };
    format!("{line}:{column}: parse error: {}", problem.message)
}

/// Go's `%q` for a string: double quotes, Go escapes for quotes, backslashes and
/// non-printable characters.
pub(crate) fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `%q` for a rune: `'x'`.
pub(crate) fn go_quote_rune(c: char) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\u{b}' => out.push_str("\\v"),
        _ if c == quote => {
            out.push('\\');
            out.push(c);
        }
        _ if c.is_control() => {
            let code = c as u32;
            if code < 0x100 {
                out.push_str(&format!("\\x{code:02x}"));
            } else {
                out.push_str(&format!("\\u{code:04x}"));
            }
        }
        _ => out.push(c),
    }
}

#[cfg(test)]
mod tests;

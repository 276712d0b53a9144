//! Destination label names that Prometheus refuses but promql-parser lets through.
//!
//! Prometheus decodes `"\xff"` to the single byte 0xFF, an invalid UTF-8 label name, and
//! `label_replace`/`label_join` refuse it; promql-parser decodes the same escape to the
//! character U+00FF, a valid name. The decoded strings no longer tell the two apart, so the
//! query's string tokens are decoded both ways to find the literals Prometheus would refuse.

use super::lexer::{Kind, tokenize};
use promql_parser::parser::Expr;
use std::collections::HashSet;

/// Prometheus' execution error for a `label_replace`/`label_join` destination that is not
/// valid UTF-8 once decoded Go's way, if the query has one.
pub fn invalid_destination_label(query: &str, expr: &Expr) -> Option<String> {
    if !query.contains('\\') {
        return None;
    }
    let invalid = invalid_utf8_literals(query);
    if invalid.is_empty() {
        return None;
    }
    let mut stack = vec![expr];
    while let Some(node) = stack.pop() {
        match node {
            Expr::Call(call) => {
                let name = call.func.name;
                if (name == "label_replace" || name == "label_join")
                    && let Some(arg) = call.args.args.get(1)
                    && let Expr::StringLiteral(literal) = arg.as_ref()
                    && let Some(go_bytes) = invalid
                        .iter()
                        .find(|(parsed, _)| *parsed == literal.val)
                        .map(|(_, b)| b)
                {
                    let shown = String::from_utf8_lossy(go_bytes);
                    return Some(format!("invalid destination label name in {name}(): {shown}"));
                }
                stack.extend(call.args.args.iter().map(|a| a.as_ref()));
            }
            Expr::Aggregate(a) => {
                stack.push(&a.expr);
                if let Some(p) = &a.param {
                    stack.push(p);
                }
            }
            Expr::Unary(u) => stack.push(&u.expr),
            Expr::Binary(b) => {
                stack.push(&b.lhs);
                stack.push(&b.rhs);
            }
            Expr::Paren(p) => stack.push(&p.expr),
            Expr::Subquery(s) => stack.push(&s.expr),
            _ => {}
        }
    }
    None
}

/// (promql-parser's decoding, Go's bytes) of every quoted string whose Go decoding is not
/// valid UTF-8.
fn invalid_utf8_literals(query: &str) -> Vec<(String, Vec<u8>)> {
    let mut seen = HashSet::new();
    tokenize(query)
        .into_iter()
        .filter(|t| t.kind == Kind::Str && !t.text.starts_with('`'))
        .filter_map(|t| decode_both(&t.text))
        .filter(|(_, bytes)| std::str::from_utf8(bytes).is_err())
        .filter(|(parsed, _)| seen.insert(parsed.clone()))
        .collect()
}

/// Decodes a quoted string token: Go's bytes, and promql-parser's string (which maps each
/// byte escape to the character of the same number). `None` for anything unexpected.
pub(super) fn decode_both(token: &str) -> Option<(String, Vec<u8>)> {
    let inner = token.get(1..token.len().checked_sub(1)?)?;
    let mut parsed = String::new();
    let mut bytes = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            parsed.push(c);
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let escape = chars.next()?;
        let simple = match escape {
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            '\\' | '"' | '\'' => Some(escape),
            _ => None,
        };
        if let Some(s) = simple {
            parsed.push(s);
            bytes.push(u8::try_from(s as u32).ok()?);
            continue;
        }
        let (count, radix, first) = match escape {
            '0'..='7' => (2, 8, Some(escape)),
            'x' => (2, 16, None),
            'u' => (4, 16, None),
            'U' => (8, 16, None),
            _ => return None,
        };
        let mut digits: String = first.into_iter().collect();
        for _ in 0..count {
            digits.push(chars.next()?);
        }
        let value = u32::from_str_radix(&digits, radix).ok()?;
        if matches!(escape, 'u' | 'U') {
            let c = char::from_u32(value)?;
            parsed.push(c);
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        } else {
            let byte = u8::try_from(value).ok()?;
            parsed.push(char::from(byte));
            bytes.push(byte);
        }
    }
    Some((parsed, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(query: &str) -> Option<String> {
        let expr = promql_parser::parser::parse(query).ok()?;
        invalid_destination_label(query, &expr)
    }

    #[test]
    fn refuses_byte_escapes_that_are_not_utf8() {
        assert_eq!(
            check(r#"label_replace(testmetric, "\xff", "", "src", "(.*)")"#).as_deref(),
            Some("invalid destination label name in label_replace(): \u{fffd}")
        );
        assert_eq!(
            check(r#"sum(label_join(up, "\377", ",", "a"))"#).as_deref(),
            Some("invalid destination label name in label_join(): \u{fffd}")
        );
    }

    #[test]
    fn accepts_valid_names_and_other_arguments() {
        assert_eq!(check(r#"label_replace(up, "dst", "\xff", "src", "(.*)")"#), None);
        assert_eq!(check(r#"label_replace(up, "ÿ", "", "src", "(.*)")"#), None);
        assert_eq!(check(r#"label_replace(up, "\u00ff", "", "src", "(.*)")"#), None);
    }
}

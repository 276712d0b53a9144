//! Source positions of AST nodes. `promql-parser` keeps none, but Prometheus ends every
//! annotation with the `line:col` of the expression it is about, so positions are recovered
//! by matching each node's first token against the query's tokens in source order.

use promql_parser::parser::Expr;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ident,
    Number,
    Str,
    Punct,
}

struct Token<'q> {
    kind: Kind,
    text: &'q str,
    start: usize,
    /// Inside a label matcher list or a label list (`by (…)`, `on (…)`), where no
    /// expression starts.
    in_labels: bool,
}

fn tokenize(q: &str) -> Vec<Token<'_>> {
    let bytes = q.as_bytes();
    let mut out: Vec<Token<'_>> = Vec::new();
    let mut i = 0;
    let mut brace_depth = 0usize;
    let mut bracket_depth = 0usize;
    // Paren depth at which a label list (after by/without/on/ignoring/group_*) is open.
    let mut label_list_at: Option<usize> = None;
    let mut paren_depth = 0usize;
    let mut after_label_keyword = false;
    let mut after_at_or_offset = false;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let in_labels = brace_depth > 0 || label_list_at.is_some();
        if c == b'"' || c == b'\'' || c == b'`' {
            i += 1;
            while i < bytes.len() && bytes[i] != c {
                if bytes[i] == b'\\' && c != b'`' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(bytes.len());
            out.push(Token {
                kind: Kind::Str,
                text: q.get(start..i).unwrap_or(""),
                start,
                in_labels,
            });
            after_at_or_offset = false;
            continue;
        }
        if c.is_ascii_alphanumeric() || c == b'_' || c == b':' || c == b'.' {
            while i < bytes.len() {
                let d = bytes[i];
                let exponent_sign = (d == b'+' || d == b'-')
                    && i > start
                    && matches!(bytes[i - 1], b'e' | b'E')
                    && bytes[start].is_ascii_digit();
                if d.is_ascii_alphanumeric() || d == b'_' || d == b':' || d == b'.' || exponent_sign {
                    i += 1;
                } else {
                    break;
                }
            }
            let text = q.get(start..i).unwrap_or("");
            let lower = text.to_ascii_lowercase();
            let numeric_word = matches!(lower.as_str(), "inf" | "nan");
            let kind = if c.is_ascii_digit() || c == b'.' || numeric_word {
                Kind::Number
            } else {
                Kind::Ident
            };
            let hidden = in_labels || bracket_depth > 0 || (kind == Kind::Number && after_at_or_offset);
            after_at_or_offset = matches!(lower.as_str(), "offset");
            after_label_keyword = matches!(
                lower.as_str(),
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            ) && brace_depth == 0;
            out.push(Token {
                kind,
                text,
                start,
                in_labels: hidden,
            });
            continue;
        }
        i += 1;
        match c {
            b'{' => brace_depth += 1,
            b'}' => brace_depth = brace_depth.saturating_sub(1),
            b'[' => bracket_depth += 1,
            b']' => bracket_depth = bracket_depth.saturating_sub(1),
            b'(' => {
                paren_depth += 1;
                if after_label_keyword && label_list_at.is_none() {
                    label_list_at = Some(paren_depth);
                }
            }
            b')' => {
                if label_list_at == Some(paren_depth) {
                    label_list_at = None;
                }
                paren_depth = paren_depth.saturating_sub(1);
            }
            _ => {}
        }
        after_label_keyword = false;
        after_at_or_offset = c == b'@';
        out.push(Token {
            kind: Kind::Punct,
            text: q.get(start..i).unwrap_or(""),
            start,
            in_labels,
        });
    }
    out
}

/// `line:col` of each located node, keyed by node address (the `Expr` and its inner struct).
#[derive(Debug, Default)]
pub struct Positions {
    by_node: HashMap<usize, String>,
    /// Byte offset of each located node's first token, by the same keys as `by_node`.
    offsets: HashMap<usize, usize>,
}

impl Positions {
    pub fn of<T>(&self, node: &T) -> Option<&str> {
        self.by_node.get(&(node as *const T as usize)).map(String::as_str)
    }

    /// Byte offset in the query of the node's first token.
    pub fn offset_of<T>(&self, node: &T) -> Option<usize> {
        self.offsets.get(&(node as *const T as usize)).copied()
    }

    /// `msg` with the node's position appended, as Prometheus renders annotations.
    pub fn annotate<T>(&self, msg: String, node: &T) -> String {
        match self.of(node) {
            Some(pos) => format!("{msg} ({pos})"),
            None => msg,
        }
    }
}

pub(crate) fn line_col(q: &str, pos: usize) -> String {
    let prefix = q.get(..pos).unwrap_or(q);
    let line = 1 + prefix.matches('\n').count();
    let col = pos - prefix.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{col}")
}

struct Locator<'q, 't> {
    query: &'q str,
    tokens: &'t [Token<'q>],
    next: usize,
    positions: Positions,
}

impl Locator<'_, '_> {
    /// Finds the next visible token accepted by `want` and returns its offset.
    fn take(&mut self, want: impl Fn(&Token<'_>) -> bool) -> Option<usize> {
        let found =
            (self.next..self.tokens.len()).find(|&i| self.tokens.get(i).is_some_and(|t| !t.in_labels && want(t)))?;
        self.next = found + 1;
        self.tokens.get(found).map(|t| t.start)
    }

    fn record(&mut self, keys: &[usize], offset: Option<usize>) -> Option<usize> {
        if let Some(off) = offset {
            let pos = line_col(self.query, off);
            for k in keys {
                self.positions.by_node.insert(*k, pos.clone());
                self.positions.offsets.insert(*k, off);
            }
        }
        offset
    }

    fn visit(&mut self, expr: &Expr) -> Option<usize> {
        let key = expr as *const Expr as usize;
        match expr {
            Expr::VectorSelector(vs) => {
                let off = match &vs.name {
                    Some(name) => self.take(|t| t.kind == Kind::Ident && t.text == name),
                    None => self.take(|t| t.text == "{"),
                };
                self.record(&[key, vs as *const _ as usize], off)
            }
            Expr::MatrixSelector(ms) => {
                let off = match &ms.vs.name {
                    Some(name) => self.take(|t| t.kind == Kind::Ident && t.text == name),
                    None => self.take(|t| t.text == "{"),
                };
                self.record(&[key, ms as *const _ as usize, &ms.vs as *const _ as usize], off)
            }
            Expr::Call(c) => {
                let off = self.take(|t| t.kind == Kind::Ident && t.text == c.func.name);
                self.record(&[key, c as *const _ as usize], off);
                for a in &c.args.args {
                    self.visit(a);
                }
                off
            }
            Expr::Aggregate(a) => {
                let op = a.op.to_string();
                let off = self.take(|t| t.kind == Kind::Ident && t.text.eq_ignore_ascii_case(&op));
                self.record(&[key, a as *const _ as usize], off);
                if let Some(p) = &a.param {
                    self.visit(p);
                }
                self.visit(&a.expr);
                off
            }
            Expr::NumberLiteral(n) => {
                let off = self.take(|t| t.kind == Kind::Number || t.text == "-" || t.text == "+");
                // A signed literal starts at its sign; skip the digits after it.
                if let Some(o) = off
                    && self
                        .tokens
                        .get(self.next.saturating_sub(1))
                        .is_some_and(|t| t.kind == Kind::Punct)
                {
                    let _ = self.take(|t| t.kind == Kind::Number);
                    return self.record(&[key, n as *const _ as usize], Some(o));
                }
                self.record(&[key, n as *const _ as usize], off)
            }
            Expr::StringLiteral(s) => {
                let off = self.take(|t| t.kind == Kind::Str);
                self.record(&[key, s as *const _ as usize], off)
            }
            Expr::Paren(p) => {
                let off = self.take(|t| t.text == "(");
                self.record(&[key, p as *const _ as usize], off);
                self.visit(&p.expr);
                off
            }
            Expr::Unary(u) => {
                let off = self.take(|t| t.text == "-" || t.text == "+");
                self.record(&[key, u as *const _ as usize], off);
                self.visit(&u.expr);
                off
            }
            Expr::Binary(b) => {
                let off = self.visit(&b.lhs);
                self.record(&[key, b as *const _ as usize], off);
                self.visit(&b.rhs);
                off
            }
            Expr::Subquery(s) => {
                let off = self.visit(&s.expr);
                self.record(&[key, s as *const _ as usize], off)
            }
            Expr::Extension(_) => None,
        }
    }
}

/// A range-selector modifier keyword (`anchored` / `smoothed`) found in the query text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ModifierWord {
    pub start: usize,
    pub len: usize,
    /// The keyword, lowercased (the lexer matches keywords case-insensitively).
    pub word: String,
    /// It follows a subquery's `[range:step]` rather than a selector.
    pub after_subquery: bool,
}

/// The `anchored` / `smoothed` keywords that stand where a selector modifier goes: after a
/// `]`, a `}`, a metric name, an offset/`@` value or `@ start()` / `@ end()`. A metric that
/// happens to be named `anchored` starts an operand instead, after an operator or `(`.
pub(crate) fn modifier_words(q: &str) -> Vec<ModifierWord> {
    let tokens = tokenize(q);
    let mut out = Vec::new();
    for (i, tok) in tokens.iter().enumerate() {
        let lower = tok.text.to_ascii_lowercase();
        if tok.kind != Kind::Ident || tok.in_labels || !(lower == "anchored" || lower == "smoothed") {
            continue;
        }
        let Some(prev) = i.checked_sub(1).and_then(|p| tokens.get(p)) else {
            continue;
        };
        let follows_selector = match prev.kind {
            Kind::Number => true,
            Kind::Str => false,
            Kind::Ident => !matches!(
                prev.text.to_ascii_lowercase().as_str(),
                "and" | "or" | "unless" | "bool" | "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            ),
            Kind::Punct => match prev.text {
                "]" | "}" => true,
                ")" => i >= 3 && tokens.get(i - 2).is_some_and(|t| t.text == "("),
                _ => false,
            },
        };
        if !follows_selector {
            continue;
        }
        let after_subquery = prev.text == "]"
            && tokens
                .get(..i)
                .unwrap_or(&[])
                .iter()
                .rev()
                .skip(1)
                .take_while(|t| t.text != "[")
                .any(|t| t.text.contains(':'));
        out.push(ModifierWord {
            start: tok.start,
            len: tok.text.len(),
            word: lower,
            after_subquery,
        });
    }
    out
}

/// Locates every node of `expr` in `query`.
pub fn locate(query: &str, expr: &Expr) -> Positions {
    let tokens = tokenize(query);
    let mut locator = Locator {
        query,
        tokens: &tokens,
        next: 0,
        positions: Positions::default(),
    };
    locator.visit(expr);
    locator.positions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos_of_first_arg(q: &str) -> Option<String> {
        let expr = promql_parser::parser::parse(q).unwrap();
        let positions = locate(q, &expr);
        let Expr::Call(c) = &expr else { return None };
        positions.of(c.args.args[0].as_ref()).map(str::to_string)
    }

    #[test]
    fn finds_selector_and_call_argument_positions() {
        assert_eq!(pos_of_first_arg("rate(foo[5m])").as_deref(), Some("1:6"));
        assert_eq!(pos_of_first_arg("histogram_quantile(0.5, x)").as_deref(), Some("1:20"));
        assert_eq!(pos_of_first_arg("rate(\n  {job=\"a\"}[5m])").as_deref(), Some("2:3"));
    }

    #[test]
    fn label_lists_do_not_hide_selectors() {
        let q = "sum by (foo) (rate(foo[5m]))";
        let expr = promql_parser::parser::parse(q).unwrap();
        let positions = locate(q, &expr);
        let Expr::Aggregate(a) = &expr else { panic!() };
        let Expr::Paren(p) = a.expr.as_ref() else {
            assert_eq!(positions.of(a.expr.as_ref()), Some("1:15"));
            return;
        };
        assert_eq!(positions.of(p.expr.as_ref()), Some("1:15"));
    }
}

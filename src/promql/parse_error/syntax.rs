//! A recursive-descent reading of PromQL's grammar over our tokens, reporting the first
//! syntax error the way Prometheus' yacc parser words and places it, and building a small
//! tree for the type checks Prometheus runs after a successful parse.

use super::lexer::{Kind, Token};
use super::tree::{Binary, Card, Matcher, Node, Problem, Read, Stop};

/// Nesting beyond this is left to promql-parser's own diagnosis.
const MAX_DEPTH: usize = 200;

pub struct Parser<'a> {
    tokens: &'a [Token],
    pub(super) index: usize,
    depth: usize,
    /// Constructs with an error rule in Prometheus' grammar that enclose the current token:
    /// a syntax error deep inside an aggregation is reported `in aggregation`.
    contexts: Vec<&'static str>,
    /// Errors Prometheus raises in grammar actions: they do not stop parsing, and the first
    /// one recorded wins over a later syntax error.
    pub action_errors: Vec<Problem>,
}

pub(super) fn unexpected(token: &Token, context: &str, expected: &str) -> Stop {
    if token.kind == Kind::Error {
        return Stop::Found(Problem {
            pos: token.pos,
            message: token.text.clone(),
        });
    }
    let mut message = format!("unexpected {}", token.describe());
    if !context.is_empty() {
        message.push_str(" in ");
        message.push_str(context);
    }
    if !expected.is_empty() {
        message.push_str(", expected ");
        message.push_str(expected);
    }
    Stop::Found(Problem {
        pos: token.pos,
        message,
    })
}

/// Binding strength of a binary operator token, higher binds tighter; `None` if the token
/// is not a binary operator.
fn precedence(token: &Token) -> Option<u8> {
    if token.kind != Kind::Operator {
        return None;
    }
    match token.text.to_ascii_lowercase().as_str() {
        "or" => Some(1),
        "and" | "unless" => Some(2),
        "==" | "!=" | "<=" | "<" | ">=" | ">" => Some(3),
        "+" | "-" => Some(4),
        "*" | "/" | "%" | "atan2" => Some(5),
        "^" => Some(6),
        _ => None,
    }
}

/// A sign binds looser than `^` only: `-a ^ b` is `-(a ^ b)`.
const UNARY_OPERAND_PRECEDENCE: u8 = 6;

impl<'a> Parser<'a> {
    pub fn new(tokens: &'a [Token]) -> Self {
        Parser {
            tokens,
            index: 0,
            depth: 0,
            contexts: Vec::new(),
            action_errors: Vec::new(),
        }
    }

    pub(super) fn peek(&self) -> Read<&'a Token> {
        self.tokens.get(self.index).ok_or(Stop::Unknown)
    }

    pub(super) fn advance(&mut self) -> Read<&'a Token> {
        let token = self.peek()?;
        self.index += 1;
        Ok(token)
    }

    pub(super) fn action(&mut self, pos: usize, message: impl Into<String>) {
        self.action_errors.push(Problem {
            pos,
            message: message.into(),
        });
    }

    /// The whole query: one expression, then end of input.
    pub fn query(&mut self) -> Read<Node> {
        let first = self.peek()?;
        if first.kind == Kind::Eof {
            return Err(Stop::Found(Problem {
                pos: 0,
                message: "no expression found in input".into(),
            }));
        }
        let node = self.expr(0)?;
        let next = self.peek()?;
        if next.kind != Kind::Eof {
            return Err(unexpected(next, "", ""));
        }
        Ok(node)
    }

    /// A `match[]` selector alone (Prometheus' `ParseMetricSelector`): a metric name and/or
    /// label matchers, then end of input.
    pub fn metric_selector(&mut self) -> Read<()> {
        let token = self.advance()?;
        let is_name = is_metric_identifier(token);
        if is_name {
            if self.peek()?.kind == Kind::LeftBrace {
                self.index += 1;
                self.selector(token.pos, Some(token.text.clone()))?;
            }
        } else if token.kind == Kind::LeftBrace {
            self.selector(token.pos, None)?;
        } else if token.kind == Kind::Eof {
            return Err(Stop::Unknown);
        } else {
            return Err(unexpected(token, "", ""));
        }
        let next = self.advance()?;
        if next.kind != Kind::Eof {
            return Err(unexpected(next, "", ""));
        }
        Ok(())
    }

    fn expr(&mut self, min_precedence: u8) -> Read<Node> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Stop::Unknown);
        }
        let result = self.expr_inner(min_precedence);
        self.depth -= 1;
        result
    }

    fn expr_inner(&mut self, min_precedence: u8) -> Read<Node> {
        let mut lhs = self.unary()?;
        loop {
            let token = self.peek()?;
            let Some(prec) = precedence(token) else {
                return Ok(lhs);
            };
            if prec < min_precedence {
                return Ok(lhs);
            }
            self.index += 1;
            let op = token.text.to_ascii_lowercase();
            let (return_bool, has_matching_labels, card) = self.bin_modifiers()?;
            // `^` is right-associative, everything else left-associative.
            let next_min = if op == "^" { prec } else { prec + 1 };
            let rhs = self.expr(next_min)?;
            lhs = Node::Binary(Box::new(Binary {
                op,
                op_pos: token.pos,
                return_bool,
                has_matching_labels,
                card,
                lhs,
                rhs,
            }));
        }
    }

    fn bin_modifiers(&mut self) -> Read<(bool, bool, Card)> {
        let mut return_bool = false;
        let mut has_labels = false;
        let mut card = Card::OneToOne;
        if self.is_keyword("bool")? {
            self.index += 1;
            return_bool = true;
        }
        if self.is_keyword("on")? || self.is_keyword("ignoring")? {
            self.index += 1;
            has_labels = self.grouping()? > 0;
            if self.is_keyword("group_left")? || self.is_keyword("group_right")? {
                let token = self.advance()?;
                card = if token.text.eq_ignore_ascii_case("group_left") {
                    Card::ManyToOne
                } else {
                    Card::OneToMany
                };
                if self.peek()?.kind == Kind::LeftParen {
                    self.grouping()?;
                }
            }
        }
        let next = self.peek()?;
        if next.kind == Kind::Keyword && next.text.to_ascii_lowercase().starts_with("fill") {
            return Err(Stop::Unknown);
        }
        Ok((return_bool, has_labels, card))
    }

    pub(super) fn is_keyword(&self, word: &str) -> Read<bool> {
        let token = self.peek()?;
        Ok(token.kind == Kind::Keyword && token.text.eq_ignore_ascii_case(word))
    }

    /// `( label, … )` of by/without/on/ignoring/group_x; returns the number of labels.
    fn grouping(&mut self) -> Read<usize> {
        let open = self.advance()?;
        if open.kind != Kind::LeftParen {
            return Err(unexpected(open, "grouping opts", "\"(\""));
        }
        let mut count = 0;
        loop {
            let token = self.advance()?;
            match token.kind {
                Kind::RightParen => return Ok(count),
                Kind::Identifier | Kind::Keyword | Kind::Aggregator | Kind::Preprocessor | Kind::Str => {}
                Kind::Operator if token.text.chars().all(|c| c.is_ascii_alphanumeric()) => {}
                _ => return Err(unexpected(token, "grouping opts", "label")),
            }
            count += 1;
            let after = self.advance()?;
            match after.kind {
                Kind::RightParen => return Ok(count),
                Kind::Comma => {}
                _ => return Err(unexpected(after, "grouping opts", "\",\" or \")\"")),
            }
        }
    }

    fn unary(&mut self) -> Read<Node> {
        let token = self.peek()?;
        if token.kind == Kind::Operator && (token.text == "+" || token.text == "-") {
            self.index += 1;
            // Prometheus folds a sign into a number literal, so it never becomes a unary node.
            let next = self.peek()?;
            let inner = self.expr(UNARY_OPERAND_PRECEDENCE)?;
            if next.kind == Kind::Number && matches!(inner, Node::Number { .. }) {
                return Ok(Node::Number { pos: token.pos });
            }
            return Ok(Node::Unary {
                pos: token.pos,
                inner: Box::new(inner),
            });
        }
        let primary = self.primary()?;
        self.postfix(primary)
    }

    fn primary(&mut self) -> Read<Node> {
        let token = self.advance()?;
        match token.kind {
            Kind::Number => {
                if !number_parses(&token.text) {
                    self.action(
                        token.pos,
                        format!(
                            "error parsing number: strconv.ParseFloat: parsing {}: invalid syntax",
                            super::go_quote(&token.text)
                        ),
                    );
                }
                Ok(Node::Number { pos: token.pos })
            }
            Kind::Str => Ok(Node::Str { pos: token.pos }),
            Kind::LeftParen => {
                let inner = self.expr(0)?;
                let close = self.advance()?;
                if close.kind != Kind::RightParen {
                    return Err(self.plain_unexpected(close));
                }
                Ok(Node::Paren {
                    pos: token.pos,
                    inner: Box::new(inner),
                })
            }
            Kind::LeftBrace => self.selector(token.pos, None),
            Kind::Aggregator if self.peek()?.kind == Kind::LeftParen || self.is_grouping_keyword()? => {
                self.aggregate(token)
            }
            Kind::Identifier if self.peek()?.kind == Kind::LeftParen => self.call(token),
            _ if is_metric_identifier(token) => {
                if self.peek()?.kind == Kind::LeftBrace {
                    self.index += 1;
                    return self.selector(token.pos, Some(token.text.clone()));
                }
                Ok(Node::Selector {
                    pos: token.pos,
                    name: Some(token.text.clone()),
                    matchers: Vec::new(),
                    offset: false,
                    at: false,
                })
            }
            _ => Err(self.plain_unexpected(token)),
        }
    }

    /// An unexpected token outside any construct with its own wording.
    pub(super) fn plain_unexpected(&self, token: &Token) -> Stop {
        unexpected(token, self.contexts.last().copied().unwrap_or_default(), "")
    }

    fn is_grouping_keyword(&self) -> Read<bool> {
        Ok(self.is_keyword("by")? || self.is_keyword("without")?)
    }

    fn call(&mut self, name: &Token) -> Read<Node> {
        self.index += 1; // the `(`
        let mut args = Vec::new();
        if self.peek()?.kind == Kind::RightParen {
            self.index += 1;
        } else {
            loop {
                args.push(self.expr(0)?);
                let token = self.advance()?;
                match token.kind {
                    Kind::RightParen => break,
                    Kind::Comma if self.trailing_comma(token)? => {
                        self.index += 1;
                        break;
                    }
                    Kind::Comma => {}
                    _ => return Err(self.plain_unexpected(token)),
                }
            }
        }
        if super::functions::lookup(&name.text).is_none() {
            self.action(
                name.pos,
                format!("unknown function with name {}", super::go_quote(&name.text)),
            );
        }
        Ok(Node::Call {
            pos: name.pos,
            name: name.text.clone(),
            args,
        })
    }

    fn aggregate(&mut self, op: &Token) -> Read<Node> {
        self.contexts.push("aggregation");
        let args = self.aggregate_body();
        self.contexts.pop();
        let (args, leading_modifier) = args?;
        if !leading_modifier && self.is_grouping_keyword()? {
            self.index += 1;
            self.grouping()?;
        }
        let op_name = op.text.to_ascii_lowercase();
        let with_param = matches!(
            op_name.as_str(),
            "topk" | "bottomk" | "count_values" | "quantile" | "limitk" | "limit_ratio"
        );
        let wanted = if with_param { 2 } else { 1 };
        // Prometheus reads the token after the arguments before it reduces the aggregation;
        // a lexer error there is reported first.
        if self.peek()?.kind == Kind::Error {
            return Ok(Node::Aggregate {
                pos: op.pos,
                op: op_name,
                args,
            });
        }
        if args.is_empty() {
            self.action(op.pos, "no arguments for aggregate expression provided");
        } else if args.len() != wanted {
            self.action(
                op.pos,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {wanted}, got {}",
                    args.len()
                ),
            );
        }
        Ok(Node::Aggregate {
            pos: op.pos,
            op: op_name,
            args,
        })
    }

    /// Whether the comma just read ends the argument list. Prometheus' grammar reduces a
    /// comma not followed by an expression as a trailing comma (an error recorded at the
    /// comma) before it complains about the token after it.
    fn trailing_comma(&mut self, comma: &Token) -> Read<bool> {
        let next = self.peek()?;
        if next.kind == Kind::Error || starts_expression(next) {
            return Ok(false);
        }
        self.action(comma.pos, "trailing commas not allowed in function call args");
        if next.kind == Kind::RightParen {
            return Ok(true);
        }
        Err(self.plain_unexpected(next))
    }

    /// An aggregation's optional leading modifier and parenthesized arguments.
    fn aggregate_body(&mut self) -> Read<(Vec<Node>, bool)> {
        let leading_modifier = self.is_grouping_keyword()?;
        if leading_modifier {
            self.index += 1;
            self.grouping()?;
        }
        let open = self.advance()?;
        if open.kind != Kind::LeftParen {
            return Err(self.plain_unexpected(open));
        }
        let mut args = Vec::new();
        if self.peek()?.kind == Kind::RightParen {
            self.index += 1;
            return Ok((args, leading_modifier));
        }
        loop {
            args.push(self.expr(0)?);
            let token = self.advance()?;
            match token.kind {
                Kind::RightParen => return Ok((args, leading_modifier)),
                Kind::Comma if self.trailing_comma(token)? => {
                    self.index += 1;
                    return Ok((args, leading_modifier));
                }
                Kind::Comma => {}
                _ => return Err(self.plain_unexpected(token)),
            }
        }
    }

    fn selector(&mut self, pos: usize, name: Option<String>) -> Read<Node> {
        let mut matchers = Vec::new();
        loop {
            let token = self.advance()?;
            match token.kind {
                Kind::RightBrace => break,
                Kind::Identifier => {}
                // Prometheus 3: a quoted label name, or a bare quoted metric name.
                Kind::Str => match self.peek()?.kind {
                    Kind::Eql | Kind::Operator => {}
                    Kind::Comma | Kind::RightBrace => {
                        if self.advance()?.kind == Kind::RightBrace {
                            break;
                        }
                        continue;
                    }
                    Kind::Error => return Err(unexpected(self.peek()?, "", "")),
                    _ => return Err(Stop::Unknown),
                },
                _ => return Err(unexpected(token, "label matching", "identifier or \"}\"")),
            }
            let op = self.advance()?;
            let is_match_op =
                op.kind == Kind::Eql || (op.kind == Kind::Operator && matches!(op.text.as_str(), "!=" | "=~" | "!~"));
            if !is_match_op {
                return Err(unexpected(op, "label matching", "label matching operator"));
            }
            let value = self.advance()?;
            if value.kind != Kind::Str {
                return Err(unexpected(value, "label matching", "string"));
            }
            let decoded = plain_value(&value.text);
            if op.text.ends_with('~')
                && let Some(pattern) = &decoded
                && let Some(message) = super::regex_error::describe(pattern)
            {
                self.action(token.pos, message);
            }
            matchers.push(Matcher {
                name: token.text.clone(),
                op: op.text.clone(),
                value: decoded,
            });
            let after = self.advance()?;
            match after.kind {
                Kind::RightBrace => break,
                Kind::Comma => {}
                _ => return Err(unexpected(after, "label matching", "\",\" or \"}\"")),
            }
        }
        Ok(Node::Selector {
            pos,
            name,
            matchers,
            offset: false,
            at: false,
        })
    }
}

/// Whether Go's number parsing accepts a token the lexer took for a number. Only the shapes
/// the lexer lets through and Go refuses are caught: a dangling exponent (`1e`, `1.5e-`) and
/// a bare hex prefix (`0x`).
fn number_parses(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    if lower == "0x" {
        return false;
    }
    if lower.starts_with("0x") {
        return true;
    }
    !lower.ends_with(['e', '+', '-'])
}

fn starts_expression(token: &Token) -> bool {
    match token.kind {
        Kind::Number | Kind::Str | Kind::LeftParen | Kind::LeftBrace => true,
        Kind::Operator if token.text == "+" || token.text == "-" => true,
        _ => is_metric_identifier(token),
    }
}

/// Tokens Prometheus' grammar accepts as a metric name (`metric_identifier`): identifiers,
/// aggregators and some keywords, but not `on`, `ignoring`, `group_x`, `bool`, `atan2`.
fn is_metric_identifier(token: &Token) -> bool {
    let lower = token.text.to_ascii_lowercase();
    match token.kind {
        Kind::Identifier | Kind::MetricIdentifier | Kind::Aggregator | Kind::Preprocessor => true,
        Kind::Operator => matches!(lower.as_str(), "and" | "or" | "unless"),
        Kind::Keyword => matches!(lower.as_str(), "by" | "without" | "offset" | "anchored" | "smoothed"),
        _ => false,
    }
}

/// A quoted label value decoded as Prometheus decodes it; `None` when that is not valid
/// UTF-8 or the token is malformed.
fn plain_value(quoted: &str) -> Option<String> {
    if quoted.starts_with('`') {
        return Some(quoted.get(1..quoted.len().checked_sub(1)?)?.to_string());
    }
    let (_, bytes) = super::label_names::decode_both(quoted)?;
    String::from_utf8(bytes).ok()
}

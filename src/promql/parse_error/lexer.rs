//! A PromQL tokenizer that behaves like Prometheus' own lexer (state machine, error texts and
//! error positions), so a query promql-parser refused can be re-read token by token and the
//! failure reported where Prometheus would report it.

use super::go_quote_rune;

/// What a token is, in the categories Prometheus uses to describe unexpected items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Eof,
    /// A lexer error; the token's `text` is the message.
    Error,
    Comma,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    LeftBracket,
    RightBracket,
    Colon,
    DoubleColon,
    /// `=` (label matching only).
    Eql,
    /// Binary operators, `=~`, `!~`, `@` and the set/`atan2` keywords.
    Operator,
    Aggregator,
    Keyword,
    /// `start`, `end`, `step`, `range`.
    Preprocessor,
    Number,
    Duration,
    Str,
    Identifier,
    MetricIdentifier,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: Kind,
    /// Byte offset of the token's start in the query.
    pub pos: usize,
    pub text: String,
}

impl Token {
    /// Prometheus' `Item.desc()`, the wording of `unexpected …` errors.
    pub fn describe(&self) -> String {
        let text = &self.text;
        match self.kind {
            Kind::Eof => "end of input".into(),
            Kind::Error => self.text.clone(),
            Kind::Keyword => format!("<{text}>"),
            Kind::Operator => format!("<op:{text}>"),
            Kind::Aggregator => format!("<aggr:{text}>"),
            Kind::Comma
            | Kind::LeftParen
            | Kind::RightParen
            | Kind::LeftBrace
            | Kind::RightBrace
            | Kind::LeftBracket
            | Kind::RightBracket
            | Kind::Colon
            | Kind::DoubleColon
            | Kind::Eql
            | Kind::Preprocessor => short_quote(&self.text),
            Kind::Number => format!("number {}", short_quote(&self.text)),
            Kind::Duration => format!("duration {}", short_quote(&self.text)),
            Kind::Str => format!("string {}", short_quote(&self.text)),
            Kind::Identifier => format!("identifier {}", super::go_quote(&self.text)),
            Kind::MetricIdentifier => format!("metric identifier {}", super::go_quote(&self.text)),
        }
    }
}

/// Go's `%q`, or `%.10q...` for values longer than ten bytes.
fn short_quote(text: &str) -> String {
    if text.len() > 10 {
        let head: String = text.chars().take(10).collect();
        return format!("{}...", super::go_quote(&head));
    }
    super::go_quote(text)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Statements,
    InsideBraces,
    DurationExpr,
}

/// Refuses to tokenize absurdly long inputs twice over; the caller already caps query length.
const MAX_TOKENS: usize = 100_000;

pub(super) struct Lexer<'a> {
    pub(super) input: &'a str,
    pub(super) pos: usize,
    pub(super) start: usize,
    pub(super) state: State,
    paren_depth: i64,
    bracket_open: bool,
    got_colon: bool,
    pub(super) got_duration: bool,
    /// Width of the rune read past a duration, stepped back over once it is known to end it.
    pub(super) last_width: usize,
    pub(super) tokens: Vec<Token>,
}

/// All tokens up to and including the first `Eof` or `Error` token (comments dropped).
pub fn tokenize(input: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        input,
        pos: 0,
        start: 0,
        state: State::Statements,
        paren_depth: 0,
        bracket_open: false,
        got_colon: false,
        got_duration: false,
        last_width: 0,
        tokens: Vec::new(),
    };
    loop {
        if lexer.tokens.len() > MAX_TOKENS {
            lexer.error("query has too many tokens".into());
        }
        if let Some(last) = lexer.tokens.last()
            && matches!(last.kind, Kind::Eof | Kind::Error)
        {
            return lexer.tokens;
        }
        match lexer.state {
            State::Statements => lexer.statements(),
            State::InsideBraces => lexer.inside_braces(),
            State::DurationExpr => lexer.duration_expr(),
        }
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

pub(super) fn is_alnum(c: char) -> bool {
    is_alpha(c) || c.is_ascii_digit()
}

impl Lexer<'_> {
    pub(super) fn peek(&self) -> Option<char> {
        self.input.get(self.pos..).and_then(|rest| rest.chars().next())
    }

    pub(super) fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    pub(super) fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    pub(super) fn is(&self, valid: &str) -> bool {
        self.peek().is_some_and(|c| valid.contains(c))
    }

    pub(super) fn emit(&mut self, kind: Kind) {
        let text = self.input.get(self.start..self.pos).unwrap_or_default().to_string();
        self.tokens.push(Token {
            kind,
            pos: self.start,
            text,
        });
        self.start = self.pos;
    }

    /// An error replaces any token emitted by the same step, as in Prometheus (the error
    /// overwrites the pending item), and sits at the pending token's start.
    pub(super) fn error(&mut self, message: String) {
        self.tokens.push(Token {
            kind: Kind::Error,
            pos: self.start,
            text: message,
        });
    }

    fn error_after_emit(&mut self, message: String) {
        self.tokens.pop();
        self.error(message);
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
        self.start = self.pos;
    }

    fn line_comment(&mut self) {
        while let Some(c) = self.peek() {
            if c == '\n' || c == '\r' {
                break;
            }
            self.pos += c.len_utf8();
        }
        self.start = self.pos;
    }

    fn statements(&mut self) {
        if self.input.get(self.pos..).is_some_and(|rest| rest.starts_with('#')) {
            return self.line_comment();
        }
        let Some(c) = self.next() else {
            if self.paren_depth != 0 {
                return self.error("unclosed left parenthesis".into());
            }
            if self.bracket_open {
                return self.error("unclosed left bracket".into());
            }
            return self.emit(Kind::Eof);
        };
        match c {
            ',' => self.emit(Kind::Comma),
            _ if is_space(c) => self.skip_spaces(),
            '*' | '/' | '%' | '+' | '-' | '^' | '@' => self.emit(Kind::Operator),
            '=' => match self.peek() {
                Some('=') => {
                    self.pos += 1;
                    self.emit(Kind::Operator)
                }
                Some('~') => self.error("unexpected character after '=': '~'".into()),
                _ => self.emit(Kind::Eql),
            },
            '!' => match self.next() {
                Some('=') => self.emit(Kind::Operator),
                other => self.error(format!("unexpected character after '!': {}", quote_opt_rune(other))),
            },
            '<' | '>' => {
                self.accept("=");
                self.emit(Kind::Operator)
            }
            _ if c.is_ascii_digit() || (c == '.' && self.peek().is_some_and(|n| n.is_ascii_digit())) => {
                self.pos -= 1;
                self.number_or_duration()
            }
            '"' | '\'' => self.string(c),
            '`' => self.raw_string(),
            _ if is_alpha(c) || c == ':' => self.word_or_bracket_item(c),
            '(' => {
                self.emit(Kind::LeftParen);
                self.paren_depth += 1;
            }
            ')' => {
                self.emit(Kind::RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    self.error_after_emit("unexpected right parenthesis ')'".into());
                }
            }
            '{' => {
                self.emit(Kind::LeftBrace);
                self.state = State::InsideBraces;
            }
            '[' => {
                if self.bracket_open {
                    return self.error("unexpected left bracket '['".into());
                }
                self.got_colon = false;
                self.emit(Kind::LeftBracket);
                self.skip_spaces();
                self.bracket_open = true;
                self.state = State::DurationExpr;
            }
            ']' => {
                if !self.bracket_open {
                    return self.error("unexpected right bracket ']'".into());
                }
                self.emit(Kind::RightBracket);
                self.bracket_open = false;
            }
            _ => self.error(format!("unexpected character: {}", go_quote_rune(c))),
        }
    }

    fn word_or_bracket_item(&mut self, c: char) {
        if !self.bracket_open {
            self.pos -= 1;
            return self.keyword_or_identifier();
        }
        if c == ':' {
            if self.got_colon {
                return self.error("unexpected colon ':'".into());
            }
            if self.accept(":") {
                self.emit(Kind::DoubleColon);
            } else {
                self.emit(Kind::Colon);
            }
            self.got_colon = true;
            return;
        }
        if matches!(c, 's' | 'S' | 'm' | 'M') && self.duration_keyword() {
            return;
        }
        self.error(format!("unexpected character: {}, expected ':'", go_quote_rune(c)));
    }

    /// `step`, `range`, `min`, `max` inside duration expressions.
    fn duration_keyword(&mut self) -> bool {
        while self.peek().is_some_and(is_alpha) {
            self.pos += 1;
        }
        let word = self
            .input
            .get(self.start..self.pos)
            .unwrap_or_default()
            .to_ascii_lowercase();
        match word.as_str() {
            "step" | "range" => self.emit(Kind::Preprocessor),
            "min" | "max" => self.emit(Kind::Aggregator),
            _ => return false,
        }
        true
    }

    fn keyword_or_identifier(&mut self) {
        while self.peek().is_some_and(|c| is_alnum(c) || c == ':') {
            self.pos += 1;
        }
        let word = self.input.get(self.start..self.pos).unwrap_or_default();
        let lower = word.to_ascii_lowercase();
        let kind = match lower.as_str() {
            "and" | "or" | "unless" | "atan2" => Kind::Operator,
            "sum" | "avg" | "count" | "min" | "max" | "group" | "stddev" | "stdvar" | "topk" | "bottomk"
            | "count_values" | "quantile" | "limitk" | "limit_ratio" => Kind::Aggregator,
            "fill" | "fill_left" | "fill_right" if !self.followed_by_left_paren() => Kind::Identifier,
            "offset" | "smoothed" | "anchored" | "by" | "without" | "on" | "ignoring" | "group_left"
            | "group_right" | "fill" | "fill_left" | "fill_right" | "bool" => Kind::Keyword,
            "start" | "end" | "step" | "range" => Kind::Preprocessor,
            "inf" | "nan" => Kind::Number,
            _ if word.contains(':') => Kind::MetricIdentifier,
            _ => Kind::Identifier,
        };
        self.emit(kind);
    }

    fn followed_by_left_paren(&self) -> bool {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        rest.trim_start_matches(is_space).starts_with('(')
    }

    fn inside_braces(&mut self) {
        if self.input.get(self.pos..).is_some_and(|rest| rest.starts_with('#')) {
            return self.line_comment();
        }
        let Some(c) = self.next() else {
            return self.error("unexpected end of input inside braces".into());
        };
        match c {
            _ if is_space(c) => self.skip_spaces(),
            _ if is_alpha(c) => {
                while self.peek().is_some_and(is_alnum) {
                    self.pos += 1;
                }
                self.emit(Kind::Identifier)
            }
            ',' => self.emit(Kind::Comma),
            '"' | '\'' => self.string(c),
            '`' => self.raw_string(),
            '=' => {
                if self.accept("~") {
                    self.emit(Kind::Operator)
                } else {
                    self.emit(Kind::Eql)
                }
            }
            '!' => match self.next() {
                Some('~') | Some('=') => self.emit(Kind::Operator),
                other => self.error(format!(
                    "unexpected character after '!' inside braces: {}",
                    quote_opt_rune(other)
                )),
            },
            '{' => self.error("unexpected left brace '{'".into()),
            '}' => {
                self.emit(Kind::RightBrace);
                self.state = State::Statements;
            }
            _ => self.error(format!("unexpected character inside braces: {}", go_quote_rune(c))),
        }
    }

    fn duration_expr(&mut self) {
        let Some(c) = self.next() else {
            return self.error("unexpected end of input in duration expression".into());
        };
        match c {
            ']' => {
                self.emit(Kind::RightBracket);
                self.bracket_open = false;
                self.got_colon = false;
                self.state = State::Statements;
            }
            ':' => {
                self.emit(Kind::Colon);
                if !self.got_duration {
                    return self.error_after_emit("unexpected colon before duration in duration expression".into());
                }
                if self.got_colon {
                    return self.error_after_emit("unexpected repeated colon in duration expression".into());
                }
                self.got_colon = true;
            }
            '(' => {
                self.emit(Kind::LeftParen);
                self.paren_depth += 1;
            }
            ')' => {
                self.emit(Kind::RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    self.error_after_emit("unexpected right parenthesis ')'".into());
                }
            }
            _ if is_space(c) => self.skip_spaces(),
            '+' | '-' | '*' | '/' | '%' | '^' => self.emit(Kind::Operator),
            ',' => self.emit(Kind::Comma),
            's' | 'S' | 'm' | 'M' | 'r' | 'R' => {
                if !self.duration_keyword() {
                    self.error(format!(
                        "unexpected character in duration expression: {}",
                        go_quote_rune(c)
                    ));
                }
            }
            _ if c.is_ascii_digit() || (c == '.' && self.peek().is_some_and(|n| n.is_ascii_digit())) => {
                self.pos -= 1;
                self.got_duration = true;
                self.number_or_duration();
                // Prometheus returns to the statement state after a number or duration.
                if self.state == State::DurationExpr {
                    self.state = State::Statements;
                }
            }
            _ => self.error(format!(
                "unexpected character in duration expression: {}",
                go_quote_rune(c)
            )),
        }
    }
}

fn quote_opt_rune(c: Option<char>) -> String {
    match c {
        Some(c) => go_quote_rune(c),
        // Go prints the EOF rune (-1) as the replacement character.
        None => "'\u{fffd}'".into(),
    }
}

//! What may follow an operand: ranges, subqueries, `offset` and `@`, with the checks
//! Prometheus' grammar actions make on them.

use super::lexer::{Kind, Token};
use super::syntax::{Parser, unexpected};
use super::tree::{Node, Read, Stop};

impl Parser<'_> {
    /// Ranges, subqueries, `offset` and `@` after an operand.
    pub(super) fn postfix(&mut self, mut node: Node) -> Read<Node> {
        loop {
            let token = self.peek()?;
            match token.kind {
                Kind::LeftBracket => {
                    self.index += 1;
                    node = self.range_or_subquery(node, token.pos)?;
                }
                Kind::Keyword if token.text.eq_ignore_ascii_case("offset") => {
                    self.index += 1;
                    self.offset_value()?;
                    node = self.modifier(node, "offset")?;
                }
                Kind::Operator if token.text == "@" => {
                    self.index += 1;
                    self.at_value()?;
                    node = self.modifier(node, "@")?;
                }
                Kind::Keyword
                    if token.text.eq_ignore_ascii_case("smoothed") || token.text.eq_ignore_ascii_case("anchored") =>
                {
                    return Err(Stop::Unknown);
                }
                _ => return Ok(node),
            }
        }
    }

    fn range_or_subquery(&mut self, node: Node, bracket_pos: usize) -> Read<Node> {
        let first = self.advance()?;
        if !matches!(first.kind, Kind::Duration | Kind::Number) {
            return Err(if first.kind == Kind::Error {
                unexpected(first, "", "")
            } else {
                Stop::Unknown
            });
        }
        let after = self.advance()?;
        match after.kind {
            Kind::RightBracket => {
                match &node {
                    Node::Selector {
                        offset: false,
                        at: false,
                        ..
                    } => {}
                    Node::Selector { offset: true, .. } => {
                        self.action(bracket_pos, "no offset modifiers allowed before range")
                    }
                    Node::Selector { .. } => self.action(bracket_pos, "no @ modifiers allowed before range"),
                    _ => self.action(bracket_pos, "ranges only allowed for vector selectors"),
                }
                Ok(Node::Matrix {
                    pos: node.pos(),
                    offset: false,
                    at: false,
                })
            }
            Kind::Colon => {
                let step = self.advance()?;
                let close = match step.kind {
                    Kind::Duration | Kind::Number => self.advance()?,
                    Kind::RightBracket => step,
                    _ if is_duration_arithmetic(step) => return Err(Stop::Unknown),
                    _ => return Err(unexpected(step, "subquery selector", "duration or \"]\"")),
                };
                match close.kind {
                    Kind::RightBracket => Ok(Node::Subquery {
                        pos: node.pos(),
                        inner: Box::new(node),
                        offset: false,
                        at: false,
                    }),
                    _ if is_duration_arithmetic(close) => Err(Stop::Unknown),
                    _ => Err(unexpected(close, "subquery selector", "\"]\"")),
                }
            }
            Kind::DoubleColon => Err(Stop::Unknown),
            _ if is_duration_arithmetic(after) => Err(Stop::Unknown),
            _ => Err(unexpected(after, "subquery or range", "\":\" or \"]\"")),
        }
    }

    fn offset_value(&mut self) -> Read<()> {
        let mut token = self.advance()?;
        if token.kind == Kind::Operator && (token.text == "-" || token.text == "+") {
            token = self.advance()?;
        }
        match token.kind {
            Kind::Duration | Kind::Number => Ok(()),
            Kind::Error => Err(unexpected(token, "", "")),
            _ => Err(unexpected(token, "offset", "duration")),
        }
    }

    fn at_value(&mut self) -> Read<()> {
        let mut token = self.advance()?;
        if token.kind == Kind::Operator && (token.text == "-" || token.text == "+") {
            token = self.advance()?;
        }
        match token.kind {
            Kind::Number => Ok(()),
            Kind::Preprocessor
                if token.text.eq_ignore_ascii_case("start") || token.text.eq_ignore_ascii_case("end") =>
            {
                for wanted in [Kind::LeftParen, Kind::RightParen] {
                    let next = self.advance()?;
                    if next.kind != wanted {
                        return Err(unexpected(next, "@", "timestamp"));
                    }
                }
                Ok(())
            }
            _ => Err(unexpected(token, "@", "timestamp")),
        }
    }

    /// Prometheus' addOffset/setTimestamp checks, raised at the operand's start.
    fn modifier(&mut self, node: Node, which: &str) -> Read<Node> {
        let pos = node.pos();
        match node {
            Node::Selector {
                pos,
                name,
                matchers,
                offset,
                at,
            } => {
                let (offset, at) = self.set_modifier(pos, which, offset, at);
                Ok(Node::Selector {
                    pos,
                    name,
                    matchers,
                    offset,
                    at,
                })
            }
            Node::Matrix { pos, offset, at } => {
                let (offset, at) = self.set_modifier(pos, which, offset, at);
                Ok(Node::Matrix { pos, offset, at })
            }
            Node::Subquery { pos, inner, offset, at } => {
                let (offset, at) = self.set_modifier(pos, which, offset, at);
                Ok(Node::Subquery { pos, inner, offset, at })
            }
            other => {
                let message = if which == "offset" {
                    "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"
                } else {
                    "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery"
                };
                self.action(pos, message);
                Ok(other)
            }
        }
    }

    /// Records a modifier on an operand that takes it; a second one of a kind is an error.
    fn set_modifier(&mut self, pos: usize, which: &str, offset: bool, at: bool) -> (bool, bool) {
        match which {
            "offset" if offset => self.action(pos, "offset may not be set multiple times"),
            "@" if at => self.action(pos, "@ <timestamp> may not be set multiple times"),
            _ => {}
        }
        if which == "offset" { (true, at) } else { (offset, true) }
    }
}

/// Tokens of Prometheus 3's duration expressions (`[5m * 2]`, `[step()]`), which this
/// reader leaves to the rewrite in `duration_expr`.
fn is_duration_arithmetic(token: &Token) -> bool {
    matches!(
        token.kind,
        Kind::Operator | Kind::LeftParen | Kind::Preprocessor | Kind::Aggregator
    ) && token.text != "@"
}

//! Numbers, durations and quoted strings, scanned as Prometheus' lexer scans them (its
//! error texts and the exact text it quotes in them).

use super::lexer::{Kind, Lexer, is_alnum};

impl Lexer<'_> {
    pub(super) fn number_or_duration(&mut self) {
        if self.scan_number() {
            return self.emit(Kind::Number);
        }
        if self.remaining_duration() {
            self.pos = self.pos.saturating_sub(self.last_width);
            return self.emit(Kind::Duration);
        }
        let text = self.input.get(self.start..self.pos).unwrap_or_default();
        self.error(format!("bad number or duration syntax: {}", super::go_quote(text)));
    }

    /// Prometheus' `scanNumber`; leaves `pos` where scanning stopped, even on failure.
    fn scan_number(&mut self) -> bool {
        let initial = self.pos;
        let mut digits = "0123456789";
        if self.accept("0") && self.accept("xX") {
            self.accept("_");
            digits = "0123456789abcdefABCDEF";
        }
        self.accept(".");
        self.accept(digits);
        let mut dot = false;
        let mut exponent = false;
        while self.is(digits) || self.is("._eE") {
            if self.is(".") && dot {
                self.accept(".");
                return false;
            }
            if self.is("eE") && exponent {
                self.accept("eE");
                return false;
            }
            if self.accept(".") {
                dot = true;
                if self.accept("_.") || digits.len() > 10 {
                    return false;
                }
                continue;
            }
            if self.accept("eE") {
                exponent = true;
                self.accept("+-");
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            if self.accept("_") {
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            while self.accept(digits) {}
        }
        if self.pos == initial {
            return false;
        }
        !self.peek().is_some_and(is_alnum)
    }

    fn remaining_duration(&mut self) -> bool {
        if !self.accept("smhdwy") {
            return false;
        }
        self.accept("s");
        while self.accept("0123456789") {
            while self.accept("0123456789") {}
            if !self.accept("smhdw") {
                return false;
            }
            self.accept("s");
        }
        // Prometheus consumes one more rune and backs up over it.
        match self.next() {
            Some(c) if is_alnum(c) => false,
            Some(c) => {
                self.last_width = c.len_utf8();
                true
            }
            None => {
                self.last_width = 0;
                true
            }
        }
    }

    pub(super) fn string(&mut self, quote: char) {
        loop {
            match self.next() {
                None | Some('\n') => return self.error("unterminated quoted string".into()),
                Some('\\') => {
                    if let Some(message) = self.escape(quote) {
                        return self.error(message);
                    }
                }
                Some(c) if c == quote => return self.emit(Kind::Str),
                Some(_) => {}
            }
        }
    }

    /// Checks one escape sequence; `Some(message)` when Prometheus refuses it.
    fn escape(&mut self, quote: char) -> Option<String> {
        let Some(c) = self.next() else {
            return Some("escape sequence not terminated".into());
        };
        let (count, base, max): (usize, u32, u32) = match c {
            'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\' => return None,
            _ if c == quote => return None,
            '0'..='7' => {
                self.pos -= 1;
                (3, 8, 255)
            }
            'x' => (2, 16, 255),
            'u' => (4, 16, 0x10FFFF),
            'U' => (8, 16, 0x10FFFF),
            _ => return Some(format!("unknown escape sequence {}", go_unicode_format(c))),
        };
        let mut value: u32 = 0;
        for _ in 0..count {
            let Some(d) = self.next() else {
                return Some("escape sequence not terminated".into());
            };
            let Some(digit) = d.to_digit(16).filter(|v| *v < base) else {
                return Some(format!("illegal character {} in escape sequence", go_unicode_format(d)));
            };
            value = value.saturating_mul(base).saturating_add(digit);
        }
        if value > max || (0xD800..0xE000).contains(&value) {
            return Some("escape sequence is an invalid Unicode code point".into());
        }
        None
    }

    pub(super) fn raw_string(&mut self) {
        loop {
            match self.next() {
                None => return self.error("unterminated raw string".into()),
                Some('`') => return self.emit(Kind::Str),
                Some(_) => {}
            }
        }
    }
}

/// Go's `%#U`: `U+0071 'q'`.
fn go_unicode_format(c: char) -> String {
    format!("U+{:04X} '{c}'", c as u32)
}

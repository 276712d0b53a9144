//! Duration expressions (`foo[5m+30s]`, `foo[1h:step()*2]`, `foo offset (2m*3)`), on by
//! default in Prometheus 3 but unknown to `promql-parser`: when a query fails to parse,
//! each bracket or `offset` argument that is arithmetic is evaluated here and replaced by a
//! plain millisecond duration, then the query is parsed again.

/// Values `step()` and `range()` take inside a duration expression, in seconds.
#[derive(Clone, Copy, Debug)]
pub struct DurationContext {
    pub step_s: f64,
    pub range_s: f64,
}

/// Rewrites the duration expressions of `query`; `None` when there are none to rewrite or
/// one of them is invalid (the caller then reports the original parse error).
pub fn rewrite(query: &str, ctx: DurationContext) -> Option<String> {
    let b = query.as_bytes();
    let mut out = String::with_capacity(query.len());
    let mut i = 0;
    let mut changed = false;
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' || c == b'`' {
            let end = skip_string(b, i);
            out.push_str(query.get(i..end)?);
            i = end;
            continue;
        }
        if c == b'[' {
            let close = find_close(b, i + 1, b'[', b']')?;
            let inner = query.get(i + 1..close)?;
            let mut parts = Vec::new();
            for part in split_top_level_colon(inner) {
                let trimmed = part.trim();
                if trimmed.is_empty() || is_plain_duration(trimmed) {
                    parts.push(part.to_string());
                } else {
                    parts.push(format_ms(evaluate(trimmed, ctx)?)?);
                    changed = true;
                }
            }
            out.push('[');
            out.push_str(&parts.join(":"));
            out.push(']');
            i = close + 1;
            continue;
        }
        if is_word_at(b, i, b"offset") {
            out.push_str("offset");
            i += 6;
            let ws_end = skip_ws(b, i);
            let mut j = ws_end;
            let mut sign = 1.0;
            if j < b.len() && (b[j] == b'-' || b[j] == b'+') {
                if b[j] == b'-' {
                    sign = -1.0;
                }
                j = skip_ws(b, j + 1);
            }
            let atom_end = atom_end(b, j)?;
            let atom = query.get(j..atom_end)?;
            if is_plain_duration(atom) {
                out.push_str(query.get(i..atom_end)?);
            } else {
                let secs = sign * evaluate(atom, ctx)?;
                out.push(' ');
                out.push_str(&format_ms(secs)?);
                changed = true;
            }
            i = atom_end;
            continue;
        }
        let ch = query.get(i..)?.chars().next()?;
        out.push(ch);
        i += ch.len_utf8();
    }
    changed.then_some(out)
}

fn skip_string(b: &[u8], start: usize) -> usize {
    let quote = b[start];
    let mut i = start + 1;
    while i < b.len() && b[i] != quote {
        if b[i] == b'\\' && quote != b'`' {
            i += 1;
        }
        i += 1;
    }
    (i + 1).min(b.len())
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn is_word_at(b: &[u8], i: usize, word: &[u8]) -> bool {
    let end = i + word.len();
    let Some(slice) = b.get(i..end) else { return false };
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    slice.eq_ignore_ascii_case(word) && (i == 0 || !ident(b[i - 1])) && b.get(end).is_none_or(|c| !ident(*c))
}

/// Index of the bracket closing the one opened just before `from`.
fn find_close(b: &[u8], from: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 1usize;
    let mut i = from;
    while i < b.len() {
        if b[i] == open {
            depth += 1;
        } else if b[i] == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// End of the `offset` argument: a parenthesised expression, a call, or one word.
fn atom_end(b: &[u8], start: usize) -> Option<usize> {
    if b.get(start) == Some(&b'(') {
        return find_close(b, start + 1, b'(', b')').map(|c| c + 1);
    }
    let mut i = start;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
        i += 1;
    }
    if i == start {
        return None;
    }
    let after = skip_ws(b, i);
    if b.get(after) == Some(&b'(') {
        return find_close(b, after + 1, b'(', b')').map(|c| c + 1);
    }
    Some(i)
}

fn split_top_level_colon(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ':' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn is_plain_duration(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'.')
        && s.as_bytes()[0].is_ascii_digit()
        && parse_duration_s(s).is_some()
}

fn format_ms(secs: f64) -> Option<String> {
    if !secs.is_finite() {
        return None;
    }
    let ms = (secs * 1000.0).round();
    if ms.abs() > 9.0e15 {
        return None;
    }
    // `promql-parser` refuses `0ms`/`0s` but accepts a bare `0`.
    if ms == 0.0 {
        return Some("0".to_string());
    }
    Some(format!("{}ms", ms as i64))
}

/// `1h30m`, `500ms`, `90` (seconds), `1.5`.
fn parse_duration_s(s: &str) -> Option<f64> {
    if let Ok(v) = s.parse::<f64>() {
        return Some(v);
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let n: f64 = rest.get(..digits)?.parse().ok()?;
        rest = rest.get(digits..)?;
        let (unit, len) = if rest.starts_with("ms") {
            (0.001, 2)
        } else {
            match rest.bytes().next()? {
                b's' => (1.0, 1),
                b'm' => (60.0, 1),
                b'h' => (3600.0, 1),
                b'd' => (86_400.0, 1),
                b'w' => (604_800.0, 1),
                b'y' => (31_536_000.0, 1),
                _ => return None,
            }
        };
        total += n * unit;
        rest = rest.get(len..)?;
    }
    Some(total)
}

/// Evaluates an arithmetic duration expression to seconds.
pub fn evaluate(s: &str, ctx: DurationContext) -> Option<f64> {
    let mut p = Parser {
        s: s.as_bytes(),
        i: 0,
        ctx,
        depth: 0,
    };
    let v = p.sum()?;
    p.ws();
    (p.i == p.s.len()).then_some(v)
}

struct Parser<'s> {
    s: &'s [u8],
    i: usize,
    ctx: DurationContext,
    depth: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        self.i = skip_ws(self.s, self.i);
    }

    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.s.get(self.i).copied()
    }

    fn sum(&mut self) -> Option<f64> {
        let mut v = self.product()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.i += 1;
            let r = self.product()?;
            v = if op == b'+' { v + r } else { v - r };
        }
        Some(v)
    }

    fn product(&mut self) -> Option<f64> {
        let mut v = self.unary()?;
        while let Some(op @ (b'*' | b'/' | b'%')) = self.peek() {
            self.i += 1;
            let r = self.unary()?;
            v = match op {
                b'*' => v * r,
                b'/' => v / r,
                _ => v % r,
            };
        }
        Some(v)
    }

    fn unary(&mut self) -> Option<f64> {
        match self.peek() {
            Some(b'-') => {
                self.i += 1;
                Some(-self.unary()?)
            }
            Some(b'+') => {
                self.i += 1;
                self.unary()
            }
            _ => self.power(),
        }
    }

    fn power(&mut self) -> Option<f64> {
        let base = self.atom()?;
        if self.peek() == Some(b'^') {
            self.i += 1;
            let exp = self.unary()?;
            return Some(base.powf(exp));
        }
        Some(base)
    }

    fn atom(&mut self) -> Option<f64> {
        self.depth += 1;
        if self.depth > 64 {
            return None;
        }
        let result = self.atom_inner();
        self.depth -= 1;
        result
    }

    fn atom_inner(&mut self) -> Option<f64> {
        match self.peek()? {
            b'(' => {
                self.i += 1;
                let v = self.sum()?;
                if self.peek() != Some(b')') {
                    return None;
                }
                self.i += 1;
                Some(v)
            }
            c if c.is_ascii_digit() || c == b'.' => {
                let start = self.i;
                while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'.') {
                    self.i += 1;
                }
                parse_duration_s(std::str::from_utf8(self.s.get(start..self.i)?).ok()?)
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = self.i;
                while self.i < self.s.len() && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_') {
                    self.i += 1;
                }
                let name = std::str::from_utf8(self.s.get(start..self.i)?)
                    .ok()?
                    .to_ascii_lowercase();
                if self.peek() != Some(b'(') {
                    return None;
                }
                self.i += 1;
                let mut args = Vec::new();
                if self.peek() != Some(b')') {
                    loop {
                        args.push(self.sum()?);
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b')') => break,
                            _ => return None,
                        }
                    }
                }
                self.i += 1;
                match (name.as_str(), args.as_slice()) {
                    ("step", []) => Some(self.ctx.step_s),
                    ("range", []) => Some(self.ctx.range_s),
                    ("min_of", [a, b]) => Some(a.min(*b)),
                    ("max_of", [a, b]) => Some(a.max(*b)),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: DurationContext = DurationContext {
        step_s: 5.0,
        range_s: 10.0,
    };

    #[test]
    fn brackets_and_offsets_become_plain_durations() {
        assert_eq!(
            rewrite("changes(x[26m+4m])", CTX).as_deref(),
            Some("changes(x[1800000ms])")
        );
        assert_eq!(
            rewrite("x[29s+1s:20*500ms]", CTX).as_deref(),
            Some("x[30000ms:10000ms]")
        );
        assert_eq!(
            rewrite("x offset -step()*2", CTX).as_deref(),
            Some("x offset -5000ms*2")
        );
        assert_eq!(rewrite("x offset (2 ^ 2)", CTX).as_deref(), Some("x offset 4000ms"));
        assert_eq!(rewrite("x[5m] offset 1m", CTX), None);
    }

    #[test]
    fn unary_minus_binds_looser_than_power() {
        assert_eq!(evaluate("-2 ^ 2", CTX), Some(-4.0));
        assert_eq!(evaluate("1h30m % 1h", CTX), Some(1800.0));
    }
}

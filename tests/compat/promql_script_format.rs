//! Parser for Prometheus' PromQL test-script format (`promql/promqltest`): commands, series
//! notation with expanding values, and expectations.

use heimsight::storage::Labels;
use regex::Regex;

/// One expanded value of a series line; `None` is `_` (no sample).
pub type Point = Option<f64>;

#[derive(Debug)]
pub struct SeriesLine {
    pub labels: Labels,
    pub values: Vec<Point>,
    /// The line used `{{…}}` native-histogram notation.
    pub native: bool,
    /// From a preceding `metric@st <offsets>` line: per position, the start timestamp as an
    /// offset from the sample's own timestamp (`None`: no start timestamp).
    pub start_offsets: Vec<Option<i64>>,
}

#[derive(Debug)]
pub struct Expect {
    pub kind: String,
    pub msg: Option<String>,
    pub regex: Option<String>,
}

#[derive(Debug)]
pub enum Expected {
    Scalar(f64),
    Series(Vec<SeriesLine>),
    Str(String),
}

#[derive(Debug)]
pub struct Eval {
    pub line: usize,
    pub query: String,
    /// Instant at `start`; range from `start` to `end` by `step`.
    pub range: Option<(i64, i64, i64)>,
    pub start: i64,
    pub expects: Vec<Expect>,
    pub expected: Expected,
    pub range_vector: Option<(i64, i64, i64)>,
    pub native: bool,
}

#[derive(Debug)]
pub enum Command {
    Load {
        interval: i64,
        series: Vec<SeriesLine>,
        with_nhcb: bool,
    },
    Clear,
    Eval(Eval),
}

/// Prometheus' `model.ParseDuration` (units y w d h m s ms), with an optional sign.
pub fn parse_duration(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if body == "0" {
        return Some(0);
    }
    let mut total: i64 = 0;
    let mut rest = body;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let n: i64 = rest.get(..digits)?.parse().ok()?;
        rest = rest.get(digits..)?;
        let (unit_ms, len) = if rest.starts_with("ms") {
            (1, 2)
        } else {
            match rest.chars().next()? {
                'y' => (365 * 24 * 3_600_000, 1),
                'w' => (7 * 24 * 3_600_000, 1),
                'd' => (24 * 3_600_000, 1),
                'h' => (3_600_000, 1),
                'm' => (60_000, 1),
                's' => (1000, 1),
                _ => return None,
            }
        };
        total = total.checked_add(n.checked_mul(unit_ms)?)?;
        rest = rest.get(len..)?;
    }
    Some(if neg { -total } else { total })
}

/// Go's `strconv.ParseFloat` as far as the scripts use it.
pub fn parse_number(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "+inf" => return Some(f64::INFINITY),
        "-inf" => return Some(f64::NEG_INFINITY),
        "nan" | "+nan" | "-nan" => return Some(f64::NAN),
        _ => {}
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Reads a Go-style quoted string starting at `chars[*i]` (`"` or `'` or backquote).
fn read_quoted(chars: &[char], i: &mut usize) -> Option<String> {
    let quote = *chars.get(*i)?;
    *i += 1;
    let mut out = String::new();
    while let Some(&c) = chars.get(*i) {
        *i += 1;
        if c == quote {
            return Some(out);
        }
        if c == '\\' && quote != '`' {
            let e = *chars.get(*i)?;
            *i += 1;
            match e {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                'x' => {
                    let h: String = chars.get(*i..*i + 2)?.iter().collect();
                    *i += 2;
                    out.push(char::from(u8::from_str_radix(&h, 16).ok()?));
                }
                'u' => {
                    let h: String = chars.get(*i..*i + 4)?.iter().collect();
                    *i += 4;
                    out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        } else {
            out.push(c);
        }
    }
    None
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// Splits a series line into its labels and the rest (the values).
pub fn parse_metric(line: &str) -> Option<(Labels, String)> {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let name: String = chars.iter().take_while(|c| is_name_char(**c)).collect();
    i += name.chars().count();
    if !name.is_empty() {
        pairs.push(("__name__".into(), name));
    }
    if chars.get(i) == Some(&'{') {
        i += 1;
        loop {
            while chars.get(i).is_some_and(|c| c.is_whitespace() || *c == ',') {
                i += 1;
            }
            match chars.get(i) {
                Some('}') => {
                    i += 1;
                    break;
                }
                None => return None,
                _ => {}
            }
            let label_name = if matches!(chars.get(i), Some('"') | Some('\'')) {
                read_quoted(&chars, &mut i)?
            } else {
                let n: String = chars[i..].iter().take_while(|c| is_name_char(**c)).collect();
                i += n.chars().count();
                n
            };
            while chars.get(i).is_some_and(|c| c.is_whitespace()) {
                i += 1;
            }
            if chars.get(i) == Some(&'=') {
                i += 1;
                while chars.get(i).is_some_and(|c| c.is_whitespace()) {
                    i += 1;
                }
                let value = read_quoted(&chars, &mut i)?;
                pairs.push((label_name, value));
            } else {
                // A lone quoted string is the metric name.
                pairs.push(("__name__".into(), label_name));
            }
        }
    }
    if name_is_empty_and_no_braces(&pairs, &chars) {
        return None;
    }
    let rest: String = chars.get(i..).unwrap_or(&[]).iter().collect();
    Some((Labels::from_pairs(pairs), rest.trim().to_string()))
}

fn name_is_empty_and_no_braces(pairs: &[(String, String)], chars: &[char]) -> bool {
    pairs.is_empty() && chars.first() != Some(&'{')
}

/// Expands the value notation: `1 2 _ stale 1+2x3 5-1x2 _x3 3x2`.
pub fn parse_values(s: &str) -> Option<(Vec<Point>, bool)> {
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    let mut out = Vec::new();
    let mut native = false;
    let mut rest = s.trim();
    while !rest.is_empty() {
        if rest.starts_with("{{") {
            // A native histogram, possibly with an expansion (`{{…}}+{{…}}x3`): skip the
            // whole token, whitespace inside braces included.
            native = true;
            let mut depth = 0i32;
            let mut end = rest.len();
            for (i, c) in rest.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    c if c.is_whitespace() && depth == 0 => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            rest = rest.get(end..)?.trim_start();
            continue;
        }
        let token_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let token = rest.get(..token_end)?;
        rest = rest.get(token_end..)?.trim_start();
        if token == "_" {
            out.push(None);
            continue;
        }
        if token == "stale" {
            out.push(Some(stale));
            continue;
        }
        if let Some(n) = token.strip_prefix("_x") {
            let n: usize = n.parse().ok()?;
            out.extend(std::iter::repeat_n(None, n));
            continue;
        }
        if let Some(v) = parse_number(token) {
            out.push(Some(v));
            continue;
        }
        // a+bxN, a-bxN, axN
        let x = token.rfind('x')?;
        let n: i64 = token.get(x + 1..)?.parse().ok()?;
        let head = token.get(..x)?;
        let (a, b) = split_increment(head)?;
        if a.is_nan() && head == "stale" {
            out.extend(std::iter::repeat_n(Some(stale), usize::try_from(n).ok()? + 1));
            continue;
        }
        let mut v = a;
        for _ in 0..=n {
            out.push(Some(v));
            v += b;
        }
    }
    Some((out, native))
}

/// Splits `a+b` / `a-b` / `a` into start and increment.
fn split_increment(head: &str) -> Option<(f64, f64)> {
    if head == "stale" {
        return Some((f64::NAN, 0.0));
    }
    let bytes: Vec<char> = head.chars().collect();
    for (i, c) in bytes.iter().enumerate().skip(1) {
        if (*c == '+' || *c == '-') && !matches!(bytes.get(i - 1), Some('e') | Some('E')) {
            let a = parse_number(head.get(..i)?)?;
            let b = parse_number(head.get(i + 1..)?)?;
            return Some((a, if *c == '-' { -b } else { b }));
        }
    }
    Some((parse_number(head)?, 0.0))
}

pub fn parse_series_line(line: &str) -> Option<SeriesLine> {
    let (labels, rest) = parse_metric(line)?;
    let (values, native) = parse_values(&rest)?;
    Some(SeriesLine {
        labels,
        values,
        native,
        start_offsets: Vec::new(),
    })
}

/// A `metric{…}@st <offsets>` line: the metric and its start-timestamp offsets.
pub fn parse_start_timestamp_line(line: &str) -> Option<(Labels, Vec<Option<i64>>)> {
    let space = line.find(char::is_whitespace)?;
    let brace_end = line.find('}').map_or(0, |i| i + 1);
    // The metric may contain spaces inside its braces; `@st` follows the metric directly.
    let at = line.get(brace_end.min(space)..)?.find("@st")? + brace_end.min(space);
    let (labels, rest) = parse_metric(line.get(..at)?)?;
    if !rest.trim().is_empty() {
        return None;
    }
    let mut offsets = Vec::new();
    for item in line.get(at + 3..)?.split_whitespace() {
        offsets.extend(parse_start_timestamp_item(item)?);
    }
    Some((labels, offsets))
}

/// One item of an `@st` sequence: `_`, `_xN`, `<dur>`, `<dur>xN`, `<dur>+<dur>xN`,
/// `<dur>-<dur>xN` (durations with an optional sign).
fn parse_start_timestamp_item(item: &str) -> Option<Vec<Option<i64>>> {
    if item == "_" {
        return Some(vec![None]);
    }
    if let Some(n) = item.strip_prefix("_x") {
        return Some(vec![None; n.parse().ok()?]);
    }
    let (base, rest) = duration_prefix(item)?;
    if rest.is_empty() {
        return Some(vec![Some(base)]);
    }
    if let Some(n) = rest.strip_prefix('x') {
        let n: usize = n.parse().ok()?;
        return Some(vec![Some(base); n + 1]);
    }
    let negative = rest.starts_with('-');
    let (delta, rest) = duration_prefix(rest.get(1..)?)?;
    let delta = if negative { -delta } else { delta };
    let n: usize = rest.strip_prefix('x')?.parse().ok()?;
    Some((0..=n as i64).map(|i| Some(base + i * delta)).collect())
}

/// A signed duration at the start of `s` (the unit ends before an `x`, `+` or `-`).
fn duration_prefix(s: &str) -> Option<(i64, &str)> {
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, s.get(1..)?),
        b'+' => (false, s.get(1..)?),
        _ => (false, s),
    };
    let digits = body.chars().take_while(|c| c.is_ascii_digit()).count();
    let unit = body
        .get(digits..)?
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() && *c != 'x')
        .count();
    if digits == 0 {
        return None;
    }
    let ms = parse_duration(body.get(..digits + unit)?)?;
    Some((if negative { -ms } else { ms }, body.get(digits + unit..)?))
}

fn unquote(s: &str) -> Option<String> {
    let chars: Vec<char> = s.trim().chars().collect();
    let mut i = 0;
    let v = read_quoted(&chars, &mut i)?;
    if i != chars.len() {
        return None;
    }
    Some(v)
}

pub fn parse_script(text: &str) -> Result<Vec<Command>, String> {
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let t = l.trim();
            if t.starts_with('#') {
                String::new()
            } else {
                t.to_string()
            }
        })
        .collect();
    let pat_load = Regex::new(r"^load(?:_(with_nhcb))?\s+(.+?)$").map_err(|e| e.to_string())?;
    let pat_instant = Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
        .map_err(|e| e.to_string())?;
    let pat_range = Regex::new(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$")
        .map_err(|e| e.to_string())?;
    let pat_expect = Regex::new(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
        .map_err(|e| e.to_string())?;
    let pat_range_vec =
        Regex::new(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$").map_err(|e| e.to_string())?;

    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let first = l.split_whitespace().next().unwrap_or("").to_lowercase();
        if first == "clear" {
            cmds.push(Command::Clear);
            i += 1;
        } else if first.starts_with("load") {
            let caps = pat_load.captures(l).ok_or(format!("line {}: bad load", i + 1))?;
            let with_nhcb = caps.get(1).is_some();
            let interval = parse_duration(caps.get(2).map_or("", |m| m.as_str()))
                .ok_or(format!("line {}: bad load interval", i + 1))?;
            let mut series = Vec::new();
            i += 1;
            let mut pending_starts: Option<(Labels, Vec<Option<i64>>)> = None;
            while i < lines.len() && !lines[i].is_empty() {
                if lines[i].contains("@st ") {
                    let parsed = parse_start_timestamp_line(&lines[i]).ok_or(format!(
                        "line {}: bad @st line {}",
                        i + 1,
                        lines[i]
                    ))?;
                    pending_starts = Some(parsed);
                    i += 1;
                    continue;
                }
                let mut s = parse_series_line(&lines[i]).ok_or(format!("line {}: bad series {}", i + 1, lines[i]))?;
                if let Some((labels, offsets)) = pending_starts.take() {
                    if labels != s.labels {
                        return Err(format!("line {}: @st metric differs from the sample line's", i));
                    }
                    s.start_offsets = offsets;
                }
                series.push(s);
                i += 1;
            }
            cmds.push(Command::Load {
                interval,
                series,
                with_nhcb,
            });
        } else if first.starts_with("eval") {
            let line_no = i + 1;
            let mut eval = if let Some(c) = pat_instant.captures(l) {
                let at = c.get(2).map_or("0s", |m| m.as_str());
                let start = parse_duration(at).ok_or(format!("line {line_no}: bad time {at}"))?;
                let mut e = Eval {
                    line: line_no,
                    query: c.get(3).map_or("", |m| m.as_str()).to_string(),
                    range: None,
                    start,
                    expects: Vec::new(),
                    expected: Expected::Series(Vec::new()),
                    range_vector: None,
                    native: false,
                };
                legacy_expect(c.get(1).map(|m| m.as_str()), &mut e);
                e
            } else if let Some(c) = pat_range.captures(l) {
                let get = |k: usize| c.get(k).map_or("", |m| m.as_str());
                let start = parse_duration(get(2)).ok_or(format!("line {line_no}: bad start"))?;
                let end = parse_duration(get(3)).ok_or(format!("line {line_no}: bad end"))?;
                let step = parse_duration(get(4)).ok_or(format!("line {line_no}: bad step"))?;
                let mut e = Eval {
                    line: line_no,
                    query: get(5).to_string(),
                    range: Some((start, end, step)),
                    start,
                    expects: Vec::new(),
                    expected: Expected::Series(Vec::new()),
                    range_vector: None,
                    native: false,
                };
                legacy_expect(c.get(1).map(|m| m.as_str()), &mut e);
                e
            } else {
                return Err(format!("line {line_no}: bad eval {l}"));
            };
            let mut series = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].is_empty() {
                let d = &lines[i];
                i += 1;
                if d.starts_with("expected_fail_message") || d.starts_with("expected_fail_regexp") {
                    let (kind, rest) = d.split_at(d.find(char::is_whitespace).unwrap_or(d.len()));
                    let rest = rest.trim().to_string();
                    eval.expects.retain(|x| x.kind != "fail");
                    eval.expects.push(Expect {
                        kind: "fail".into(),
                        msg: (kind == "expected_fail_message").then(|| rest.clone()),
                        regex: (kind == "expected_fail_regexp").then_some(rest),
                    });
                    break;
                }
                if let Some(c) = pat_range_vec.captures(d) {
                    let get = |k: usize| c.get(k).map_or("", |m| m.as_str());
                    let s = parse_duration(get(1)).ok_or(format!("line {i}: bad range vector start"))?;
                    let e = parse_duration(get(2)).ok_or(format!("line {i}: bad range vector end"))?;
                    let st = parse_duration(get(3)).ok_or(format!("line {i}: bad range vector step"))?;
                    eval.range_vector = Some((s, e, st));
                    continue;
                }
                if let Some(rest) = d.strip_prefix("expect string") {
                    eval.expected = Expected::Str(unquote(rest).ok_or(format!("line {i}: bad expect string"))?);
                    continue;
                }
                if d.split(' ').next() == Some("expect") {
                    let c = pat_expect.captures(d).ok_or(format!("line {i}: bad expect {d}"))?;
                    let kind = c.get(1).map_or("", |m| m.as_str()).to_string();
                    let text = c.get(3).map(|m| m.as_str().trim().to_string());
                    let mode = c.get(2).map(|m| m.as_str());
                    eval.expects.push(Expect {
                        kind,
                        msg: if mode == Some("msg") { text.clone() } else { None },
                        regex: if mode == Some("regex") { text } else { None },
                    });
                    continue;
                }
                if let Some(v) = parse_number(d) {
                    eval.expected = Expected::Scalar(v);
                    break;
                }
                let s = parse_series_line(d).ok_or(format!("line {i}: bad expected series {d}"))?;
                if s.native {
                    eval.native = true;
                }
                series.push(s);
            }
            if matches!(eval.expected, Expected::Series(_)) {
                eval.expected = Expected::Series(series);
            }
            cmds.push(Command::Eval(eval));
        } else {
            return Err(format!("line {}: invalid command {l}", i + 1));
        }
    }
    Ok(cmds)
}

fn legacy_expect(variant: Option<&str>, e: &mut Eval) {
    if let Some(kind) = variant {
        e.expects.push(Expect {
            kind: kind.to_string(),
            msg: None,
            regex: None,
        });
    }
}

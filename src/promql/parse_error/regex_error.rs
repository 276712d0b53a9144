//! Go's wording for the regular-expression errors a label matcher can raise
//! (`error parsing regexp: missing closing ): `…``).
//!
//! Validity is decided by the `regex` crate (RE2 syntax, like Go's); the wording and the
//! quoted fragment are found by a small scan that follows Go's `regexp/syntax` parser for
//! the common mistakes. Anything else is left undiagnosed.

/// `Some(message)` when Prometheus would refuse `pattern` as a matcher regex; `None` when
/// it is valid or the mistake is not one this scan words.
pub fn describe(pattern: &str) -> Option<String> {
    if regex::Regex::new(&format!("^(?s:{pattern})$")).is_ok() {
        return None;
    }
    let (code, fragment) = scan(pattern)?;
    Some(format!("error parsing regexp: {code}: `{fragment}`"))
}

fn scan(pattern: &str) -> Option<(&'static str, &str)> {
    let bytes = pattern.as_bytes();
    let mut depth: usize = 0;
    // Whether the previous item can take a repetition operator.
    let mut has_operand = false;
    let mut previous_was_repeat = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = *bytes.get(i)?;
        match b {
            b'\\' => {
                if i + 1 >= bytes.len() {
                    return Some(("trailing backslash at end of expression", ""));
                }
                i += 2;
                has_operand = true;
                previous_was_repeat = false;
                continue;
            }
            b'[' => {
                let end = class_end(bytes, i)?;
                let Some(end) = end else {
                    return Some(("missing closing ]", pattern.get(i..)?));
                };
                i = end + 1;
                has_operand = true;
                previous_was_repeat = false;
                continue;
            }
            b'(' => {
                depth += 1;
                has_operand = false;
                previous_was_repeat = false;
                // Skip a flag group's header such as `(?i)` or `(?:`.
                if bytes.get(i + 1) == Some(&b'?') {
                    let close = pattern.get(i..)?.find([':', ')'])?;
                    if bytes.get(i + close) == Some(&b')') {
                        depth -= 1;
                    }
                    i += close + 1;
                    continue;
                }
            }
            b')' => {
                if depth == 0 {
                    return Some(("unexpected )", pattern));
                }
                depth -= 1;
                has_operand = true;
                previous_was_repeat = false;
            }
            b'|' => {
                has_operand = false;
                previous_was_repeat = false;
            }
            b'*' | b'+' | b'?' => {
                let lazy = bytes.get(i + 1) == Some(&b'?');
                let width = if lazy { 2 } else { 1 };
                if previous_was_repeat {
                    // Go quotes the operators from the first repetition on.
                    let start = repeat_start(bytes, i);
                    return Some(("invalid nested repetition operator", pattern.get(start..i + width)?));
                }
                if !has_operand {
                    return Some(("missing argument to repetition operator", pattern.get(i..i + width)?));
                }
                previous_was_repeat = true;
                i += width;
                continue;
            }
            b'{' => return None,
            _ => {
                has_operand = true;
                previous_was_repeat = false;
            }
        }
        i += 1;
    }
    if depth > 0 {
        return Some(("missing closing )", pattern));
    }
    None
}

/// Where the repetition operator run that ends just before `i` starts.
fn repeat_start(bytes: &[u8], i: usize) -> usize {
    let mut start = i;
    while start > 0 && matches!(bytes.get(start - 1), Some(b'*' | b'+' | b'?')) {
        start -= 1;
    }
    start
}

/// The index of the `]` closing the class opened at `open`; `Some(None)` when unclosed.
fn class_end(bytes: &[u8], open: usize) -> Option<Option<usize>> {
    let mut i = open + 1;
    if bytes.get(i) == Some(&b'^') {
        i += 1;
    }
    // A `]` right after the opening is a literal.
    if bytes.get(i) == Some(&b']') {
        i += 1;
    }
    while i < bytes.len() {
        match bytes.get(i)? {
            b'\\' => i += 2,
            b'[' if bytes.get(i + 1) == Some(&b':') => {
                let rest = bytes.get(i + 2..)?;
                match rest.windows(2).position(|w| w == b":]") {
                    Some(p) => i += p + 4,
                    None => i += 1,
                }
            }
            b']' => return Some(Some(i)),
            _ => i += 1,
        }
    }
    Some(None)
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn words_common_mistakes_as_go_does() {
        assert_eq!(
            describe("exp_root_log(_h?").as_deref(),
            Some("error parsing regexp: missing closing ): `exp_root_log(_h?`")
        );
        assert_eq!(
            describe(r"request_dura[tion_seconds\d*").as_deref(),
            Some(r"error parsing regexp: missing closing ]: `[tion_seconds\d*`")
        );
        assert_eq!(
            describe("+a").as_deref(),
            Some("error parsing regexp: missing argument to repetition operator: `+`")
        );
        assert_eq!(
            describe("a)").as_deref(),
            Some("error parsing regexp: unexpected ): `a)`")
        );
    }

    #[test]
    fn valid_patterns_have_no_error() {
        for pattern in ["", "a|b", "(?i)x.*", "[]a]", "[[:alpha:]]+", r"\d{2,3}", "((a))"] {
            assert_eq!(describe(pattern), None, "{pattern}");
        }
    }
}

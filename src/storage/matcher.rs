//! Label matchers, shared by every query language (PromQL and LogQL selectors use the same
//! four operators). Regexes are fully anchored, as in Prometheus.

use crate::storage::labels::Labels;
use regex::Regex;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    RegexMatch,
    RegexNoMatch,
}

#[derive(Clone, Debug)]
pub struct LabelMatcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
    /// Compiled, anchored form of `value` for the regex operators.
    regex: Option<Regex>,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid regular expression {pattern:?}: {reason}")]
pub struct InvalidMatcher {
    pub pattern: String,
    pub reason: String,
}

impl LabelMatcher {
    pub fn new(name: impl Into<String>, op: MatchOp, value: impl Into<String>) -> Result<Self, InvalidMatcher> {
        let value = value.into();
        let regex = match op {
            MatchOp::RegexMatch | MatchOp::RegexNoMatch => {
                // `(?s)` so that `.` matches newlines, as Prometheus 3 does.
                let anchored = format!("^(?s:{value})$");
                let compiled = Regex::new(&anchored).map_err(|e| InvalidMatcher {
                    pattern: value.clone(),
                    reason: e.to_string(),
                })?;
                Some(compiled)
            }
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Self {
            name: name.into(),
            op,
            value,
            regex,
        })
    }

    /// Shorthand for an equality matcher, which cannot fail.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            op: MatchOp::Equal,
            value: value.into(),
            regex: None,
        }
    }

    /// Whether a label value (empty when the label is absent) matches.
    pub fn matches(&self, value: &str) -> bool {
        match self.op {
            MatchOp::Equal => self.value == value,
            MatchOp::NotEqual => self.value != value,
            MatchOp::RegexMatch => self.regex.as_ref().is_some_and(|r| r.is_match(value)),
            MatchOp::RegexNoMatch => !self.regex.as_ref().is_some_and(|r| r.is_match(value)),
        }
    }

    /// Whether a series lacking the label would match; a selector made only of such matchers
    /// would select everything, which Prometheus refuses.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// Whether a whole label set matches this matcher.
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }
}

/// Whether every matcher accepts the label set.
pub fn matches_all(matchers: &[LabelMatcher], labels: &Labels) -> bool {
    matchers.iter().all(|m| m.matches_labels(labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_anchored_and_dot_matches_newline() {
        let m = LabelMatcher::new("a", MatchOp::RegexMatch, "fo.").unwrap();
        assert!(m.matches("foo"));
        assert!(!m.matches("xfoo"));
        assert!(m.matches("fo\n"));
    }

    #[test]
    fn absent_label_is_empty_value() {
        let labels = Labels::from_pairs([("job", "x")]);
        assert!(LabelMatcher::equal("env", "").matches_labels(&labels));
        assert!(
            !LabelMatcher::new("env", MatchOp::RegexMatch, ".+")
                .unwrap()
                .matches_labels(&labels)
        );
    }
}

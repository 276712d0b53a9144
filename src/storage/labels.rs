//! Label sets: the identity of a series (and, later, of a log stream).
//!
//! A `Labels` value is always sorted by name and has unique names, so equality, ordering and
//! the stable hash are cheap and do not depend on the order a client sent them in.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The label that holds a metric's name.
pub const METRIC_NAME: &str = "__name__";

/// One name/value pair.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Label {
    pub name: String,
    pub value: String,
}

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A sorted set of labels with unique names.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// The empty label set.
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// Builds a label set from pairs in any order. Later duplicates of a name win, labels
    /// with an empty value are dropped (an empty value means "no such label" everywhere in
    /// the Prometheus data model).
    pub fn from_pairs<N: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (N, V)>) -> Self {
        let mut labels: Vec<Label> = pairs
            .into_iter()
            .map(|(n, v)| Label::new(n, v))
            .filter(|l| !l.value.is_empty())
            .collect();
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        let mut deduped: Vec<Label> = Vec::with_capacity(labels.len());
        for label in labels {
            match deduped.last_mut() {
                Some(last) if last.name == label.name => *last = label,
                _ => deduped.push(label),
            }
        }
        Self(deduped)
    }

    /// Wraps labels the caller already sorted by name with unique names (e.g. read back from
    /// the store). Debug builds check the invariant.
    pub fn from_sorted(labels: Vec<Label>) -> Self {
        debug_assert!(labels.windows(2).all(|w| w[0].name < w[1].name));
        Self(labels)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    /// The value of `name`, if the set has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_str())
    }

    /// The metric name (`__name__`), if any.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Sets (or with an empty value removes) one label, keeping the set sorted.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.binary_search_by(|l| l.name.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].value = value.to_string(),
            Err(_) if value.is_empty() => {}
            Err(i) => self.0.insert(i, Label::new(name, value)),
        }
    }

    /// Removes one label if present.
    pub fn remove(&mut self, name: &str) {
        if let Ok(i) = self.0.binary_search_by(|l| l.name.as_str().cmp(name)) {
            self.0.remove(i);
        }
    }

    /// A copy without the metric name.
    pub fn without_metric_name(&self) -> Self {
        Self(self.0.iter().filter(|l| l.name != METRIC_NAME).cloned().collect())
    }

    /// A stable 64-bit hash (xxh3 over names and values with separators). Stable across
    /// versions and processes, so it may be persisted (series ids in the WAL and blocks).
    pub fn stable_hash(&self) -> u64 {
        hash_label_key(&self.key())
    }

    /// The identity bytes of this set (see [`write_label_key`]).
    pub fn key(&self) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.0.iter().map(|l| l.name.len() + l.value.len() + 2).sum());
        write_label_key(&mut key, self.0.iter().map(|l| (l.name.as_bytes(), l.value.as_bytes())));
        key
    }
}

/// [`Labels::stable_hash`] of the label set made of `pairs` (sorted by name, unique, no empty
/// values).
pub fn hash_label_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut key = Vec::new();
    write_label_key(&mut key, pairs.into_iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
    xxhash_rust::xxh3::xxh3_64(&key)
}

/// Appends the identity bytes of the label set made of `pairs` (UTF-8 names and values,
/// sorted by name, unique, no empty values): every name and value followed by 0xff. No UTF-8
/// text contains 0xff, so two label sets have the same key exactly when they are equal; the
/// stable hash is xxh3 of it.
pub fn write_label_key<'a>(out: &mut Vec<u8>, pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) {
    for (name, value) in pairs {
        out.extend_from_slice(name);
        out.push(0xff);
        out.extend_from_slice(value);
        out.push(0xff);
    }
}

/// The stable hash of a key built by [`write_label_key`].
pub fn hash_label_key(key: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key)
}

impl fmt::Display for Labels {
    /// Prometheus' text form: `{a="1", b="2"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, label) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", label.name, label.value)?;
        }
        f.write_str("}")
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_sorts_dedups_and_drops_empty() {
        let labels = Labels::from_pairs([("b", "2"), ("a", "1"), ("c", ""), ("b", "3")]);
        assert_eq!(labels.to_string(), r#"{a="1", b="3"}"#);
        assert_eq!(labels.get("b"), Some("3"));
        assert_eq!(labels.get("c"), None);
    }

    #[test]
    fn stable_hash_separates_names_from_values() {
        let a = Labels::from_pairs([("ab", "c")]);
        let b = Labels::from_pairs([("a", "bc")]);
        assert_ne!(a.stable_hash(), b.stable_hash());
    }

    #[test]
    fn stable_hash_is_xxh3_of_the_separated_bytes() {
        // The value is persisted: it must not change with how it is computed.
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "node")]);
        let flat = b"__name__\xffup\xffjob\xffnode\xff";
        assert_eq!(labels.stable_hash(), xxhash_rust::xxh3::xxh3_64(flat));
        assert_eq!(
            hash_label_pairs([("__name__", "up"), ("job", "node")]),
            labels.stable_hash()
        );
    }

    #[test]
    fn keys_tell_label_sets_apart() {
        let a = Labels::from_pairs([("a", "1"), ("b", "2")]);
        let b = Labels::from_pairs([("a", "1b"), ("", "2")]);
        assert_ne!(a.key(), b.key());
        assert_eq!(a.key(), b"a\xff1\xffb\xff2\xff");
        assert_eq!(hash_label_key(&a.key()), a.stable_hash());
    }

    #[test]
    fn set_and_remove_keep_order() {
        let mut labels = Labels::from_pairs([("b", "2")]);
        labels.set("a", "1");
        labels.set("c", "3");
        labels.set("b", "");
        assert_eq!(labels.to_string(), r#"{a="1", c="3"}"#);
        labels.remove("a");
        assert_eq!(labels.to_string(), r#"{c="3"}"#);
    }
}

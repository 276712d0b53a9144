//! The head's series index: label set → series ref by stable hash (with a collision list,
//! since two label sets may share a 64-bit hash), and postings name → value → sorted refs.

use crate::storage::labels::Labels;
use crate::storage::matcher::{LabelMatcher, MatchOp};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes a `u64` key with one multiplication (the Fx constant). The head's maps are keyed
/// by series refs (sequential) and by xxh3 label hashes (already uniform), so std's SipHash,
/// built to resist chosen keys, only costs time here: neither key is chosen by a client.
#[derive(Default)]
pub struct U64Hasher(u64);

impl Hasher for U64Hasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

/// A map keyed by series ref or label hash.
pub type U64Map<V> = HashMap<u64, V, BuildHasherDefault<U64Hasher>>;

#[derive(Debug, Default)]
pub struct SeriesIndex {
    by_hash: U64Map<Vec<(u64, Labels)>>,
    postings: BTreeMap<String, BTreeMap<String, Vec<u64>>>,
}

impl SeriesIndex {
    pub fn get(&self, labels: &Labels) -> Option<u64> {
        let candidates = self.by_hash.get(&labels.stable_hash())?;
        candidates.iter().find(|(_, l)| l == labels).map(|(r, _)| *r)
    }

    /// The ref of the series whose labels are `pairs` (sorted, unique, no empty values),
    /// `hash` being their [`crate::storage::labels::hash_label_pairs`].
    pub fn get_by_pairs(&self, hash: u64, pairs: &[(&str, &str)]) -> Option<u64> {
        let candidates = self.by_hash.get(&hash)?;
        candidates.iter().find(|(_, l)| l.equals_pairs(pairs)).map(|(r, _)| *r)
    }

    pub fn insert(&mut self, series_ref: u64, labels: &Labels) {
        self.by_hash
            .entry(labels.stable_hash())
            .or_default()
            .push((series_ref, labels.clone()));
        for label in labels {
            let refs = self
                .postings
                .entry(label.name.clone())
                .or_default()
                .entry(label.value.clone())
                .or_default();
            if let Err(i) = refs.binary_search(&series_ref) {
                refs.insert(i, series_ref);
            }
        }
    }

    pub fn remove(&mut self, series_ref: u64, labels: &Labels) {
        let hash = labels.stable_hash();
        if let Some(list) = self.by_hash.get_mut(&hash) {
            list.retain(|(r, _)| *r != series_ref);
            if list.is_empty() {
                self.by_hash.remove(&hash);
            }
        }
        for label in labels {
            let Some(values) = self.postings.get_mut(&label.name) else {
                continue;
            };
            if let Some(refs) = values.get_mut(&label.value) {
                if let Ok(i) = refs.binary_search(&series_ref) {
                    refs.remove(i);
                }
                if refs.is_empty() {
                    values.remove(&label.value);
                }
            }
            if values.is_empty() {
                self.postings.remove(&label.name);
            }
        }
    }

    /// Refs that may match: the intersection of the postings of every equality matcher with
    /// a non-empty value; `None` when no matcher narrows the set (the caller scans all).
    /// The caller still applies every matcher to each candidate's labels.
    pub fn candidates(&self, matchers: &[LabelMatcher]) -> Option<Vec<u64>> {
        let mut lists: Vec<&Vec<u64>> = Vec::new();
        for m in matchers {
            if m.op != MatchOp::Equal || m.value.is_empty() {
                continue;
            }
            match self.postings.get(&m.name).and_then(|values| values.get(&m.value)) {
                Some(refs) => lists.push(refs),
                None => return Some(Vec::new()),
            }
        }
        lists.sort_by_key(|l| l.len());
        let (first, rest) = lists.split_first()?;
        let mut out: Vec<u64> = (*first).clone();
        for list in rest {
            out.retain(|r| list.binary_search(r).is_ok());
        }
        Some(out)
    }

    pub fn label_names(&self) -> Vec<String> {
        self.postings.keys().cloned().collect()
    }

    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.postings
            .get(name)
            .map(|values| values.keys().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postings_intersect_and_shrink_on_remove() {
        let mut index = SeriesIndex::default();
        let a = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let b = Labels::from_pairs([("__name__", "up"), ("job", "b")]);
        index.insert(1, &a);
        index.insert(2, &b);
        assert_eq!(index.get(&b), Some(2));
        let pairs = [("__name__", "up"), ("job", "b")];
        let hash = crate::storage::labels::hash_label_pairs(pairs);
        assert_eq!(index.get_by_pairs(hash, &pairs), Some(2));
        assert_eq!(index.get_by_pairs(hash, &[("__name__", "up")]), None);
        let up = LabelMatcher::equal("__name__", "up");
        let job_b = LabelMatcher::equal("job", "b");
        assert_eq!(index.candidates(std::slice::from_ref(&up)), Some(vec![1, 2]));
        assert_eq!(index.candidates(&[up.clone(), job_b.clone()]), Some(vec![2]));
        assert_eq!(index.candidates(&[LabelMatcher::equal("job", "zzz")]), Some(vec![]));
        assert_eq!(index.candidates(&[LabelMatcher::equal("job", "")]), None);
        index.remove(2, &b);
        assert_eq!(index.get(&b), None);
        assert_eq!(index.candidates(&[up, job_b]), Some(vec![]));
        assert_eq!(index.label_values("job"), vec!["a".to_string()]);
        assert_eq!(index.label_names(), vec!["__name__".to_string(), "job".to_string()]);
    }
}

//! The head's series index: label set → series ref by stable hash (with a collision list,
//! since two label sets may share a 64-bit hash), and postings name → value → sorted refs.

use crate::storage::labels::{Labels, hash_label_key};
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

/// Label-set lookup: key bytes (see [`crate::storage::labels::write_label_key`]) by stable
/// hash. Each series' key is one contiguous allocation, so recognising a known series costs
/// one hash-map probe and one `memcmp` instead of walking a `Labels` (a pointer per name and
/// value). Distinct sets sharing a 64-bit hash are rare and go to `collisions`.
#[derive(Debug, Default)]
pub struct SeriesIndex {
    by_hash: U64Map<(u64, Box<[u8]>)>,
    collisions: U64Map<Vec<(u64, Box<[u8]>)>>,
    postings: BTreeMap<String, BTreeMap<String, Vec<u64>>>,
}

impl SeriesIndex {
    pub fn get(&self, labels: &Labels) -> Option<u64> {
        let key = labels.key();
        self.get_by_key(hash_label_key(&key), &key)
    }

    /// The ref of the series whose key (see [`crate::storage::labels::write_label_key`]) is
    /// `key`, `hash` being its [`hash_label_key`].
    pub fn get_by_key(&self, hash: u64, key: &[u8]) -> Option<u64> {
        self.confirm(self.probe(hash), hash, key)
    }

    /// The series stored first under `hash` and its key, unconfirmed: the first half of
    /// [`SeriesIndex::get_by_key`]. Probing a whole batch before comparing any key lets the
    /// CPU overlap the cache misses of many lookups; [`SeriesIndex::confirm`] is the rest.
    pub fn probe(&self, hash: u64) -> Option<(u64, &[u8])> {
        self.by_hash.get(&hash).map(|(r, key)| (*r, &**key))
    }

    /// The second half of [`SeriesIndex::get_by_key`] given what [`SeriesIndex::probe`]
    /// found for `hash`.
    pub fn confirm(&self, probed: Option<(u64, &[u8])>, hash: u64, key: &[u8]) -> Option<u64> {
        let (series_ref, stored) = probed?;
        if stored == key {
            return Some(series_ref);
        }
        self.collisions
            .get(&hash)?
            .iter()
            .find(|(_, stored)| **stored == *key)
            .map(|(r, _)| *r)
    }

    pub fn insert(&mut self, series_ref: u64, labels: &Labels) {
        let key = labels.key().into_boxed_slice();
        let hash = hash_label_key(&key);
        match self.by_hash.get(&hash) {
            None => {
                self.by_hash.insert(hash, (series_ref, key));
            }
            Some(_) => self.collisions.entry(hash).or_default().push((series_ref, key)),
        }
        for label in labels {
            // Names and values are copied only the first time they are seen.
            if !self.postings.contains_key(&label.name) {
                self.postings.insert(label.name.clone(), BTreeMap::new());
            }
            let Some(values) = self.postings.get_mut(&label.name) else {
                continue;
            };
            if !values.contains_key(&label.value) {
                values.insert(label.value.clone(), Vec::new());
            }
            let Some(refs) = values.get_mut(&label.value) else {
                continue;
            };
            // Refs grow, so a new series almost always goes at the end.
            if refs.last().is_none_or(|last| *last < series_ref) {
                refs.push(series_ref);
            } else if let Err(i) = refs.binary_search(&series_ref) {
                refs.insert(i, series_ref);
            }
        }
    }

    pub fn remove(&mut self, series_ref: u64, labels: &Labels) {
        let hash = labels.stable_hash();
        if self.by_hash.get(&hash).is_some_and(|(r, _)| *r == series_ref) {
            self.by_hash.remove(&hash);
            // Promote a colliding set, so `by_hash` holds every hash that is present.
            if let Some(list) = self.collisions.get_mut(&hash) {
                if let Some(promoted) = list.pop() {
                    self.by_hash.insert(hash, promoted);
                }
                if list.is_empty() {
                    self.collisions.remove(&hash);
                }
            }
        } else if let Some(list) = self.collisions.get_mut(&hash) {
            list.retain(|(r, _)| *r != series_ref);
            if list.is_empty() {
                self.collisions.remove(&hash);
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
        let key = b.key();
        assert_eq!(index.get_by_key(hash_label_key(&key), &key), Some(2));
        assert_eq!(index.get_by_key(hash_label_key(&key), &a.key()), None);
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

    #[test]
    fn colliding_hashes_keep_every_series_findable() {
        // Forge a collision: store `b` under `a`'s hash through the collision list.
        let mut index = SeriesIndex::default();
        let a = Labels::from_pairs([("__name__", "a")]);
        let b = Labels::from_pairs([("__name__", "b")]);
        let hash = a.stable_hash();
        index.by_hash.insert(hash, (1, a.key().into_boxed_slice()));
        index
            .collisions
            .entry(hash)
            .or_default()
            .push((2, b.key().into_boxed_slice()));
        assert_eq!(index.get_by_key(hash, &a.key()), Some(1));
        assert_eq!(index.get_by_key(hash, &b.key()), Some(2));
        // Removing the primary promotes the colliding one.
        index.remove(1, &a);
        assert_eq!(index.get_by_key(hash, &a.key()), None);
        assert_eq!(index.get_by_key(hash, &b.key()), Some(2));
        assert!(index.collisions.is_empty());
    }
}

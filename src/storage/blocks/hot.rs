//! A small least-recently-used map for what is decoded in memory (series indexes, Parquet
//! footers), so memory follows the blocks queries touch rather than every block ever read.
//! Evicted entries come back from the redb cache or the bucket.

use std::collections::HashMap;

pub struct HotMap<V> {
    capacity: usize,
    clock: u64,
    entries: HashMap<String, (V, u64)>,
}

impl<V: Clone> HotMap<V> {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            clock: 0,
            entries: HashMap::new(),
        }
    }

    pub fn get(&mut self, key: &str) -> Option<V> {
        self.clock += 1;
        let clock = self.clock;
        self.entries.get_mut(key).map(|(value, used)| {
            *used = clock;
            value.clone()
        })
    }

    pub fn insert(&mut self, key: String, value: V) {
        self.clock += 1;
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            // Linear scan: capacities are small, and this runs once per decoded block.
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries.insert(key, (value, self.clock));
    }

    pub fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.entries.retain(|k, _| keep(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut map = HotMap::new(2);
        map.insert("a".into(), 1);
        map.insert("b".into(), 2);
        assert_eq!(map.get("a"), Some(1));
        map.insert("c".into(), 3);
        assert_eq!(map.get("b"), None);
        assert_eq!(map.get("a"), Some(1));
        assert_eq!(map.get("c"), Some(3));
        map.remove("a");
        map.retain(|k| k != "c");
        assert_eq!(map.get("a"), None);
        assert_eq!(map.get("c"), None);
    }
}

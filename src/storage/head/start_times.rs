//! A series' start timestamps in the head, varint-packed.
//!
//! Where a sender gives them at all, it gives one per sample, so an uncompressed `(t, st)`
//! pair (16 bytes) would cost ten times the sample itself. Both numbers are regular in
//! practice: `t` advances by the scrape or export interval, and `st` either stays put
//! (cumulative series) or advances with `t` (delta series, where `st` is the previous `t`).
//! So each entry is two varints: the delta-of-delta of `t`, and — whichever is smaller — the
//! change of `st` or the change of `t - st`, tagged in the low bit. Two bytes per sample for
//! the usual shapes.
//!
//! Appends in time order are O(1); anything else (out-of-order samples, removal after a block
//! cut) re-encodes the list, which is rare.

use crate::storage::model::StartTimestamp;

#[derive(Debug, Default)]
pub struct StartTimes {
    bytes: Vec<u8>,
    len: usize,
    last_t: i64,
    last_dt: i64,
    last_st: i64,
}

impl StartTimes {
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Records the start timestamp of the sample at `t`, replacing an earlier one at `t`.
    /// A zero `st` means "unknown" and removes nothing and adds nothing.
    pub fn insert(&mut self, t: i64, st: i64) {
        if st == 0 {
            return;
        }
        if self.len == 0 || t > self.last_t {
            self.push(t, st);
            return;
        }
        let mut all = self.decode();
        match all.binary_search_by_key(&t, |s| s.t) {
            Ok(i) => all[i].st = st,
            Err(i) => all.insert(i, StartTimestamp { t, st }),
        }
        self.rebuild(&all);
    }

    /// Entries with `mint <= t <= maxt`, ascending.
    pub fn range(&self, mint: i64, maxt: i64) -> Vec<StartTimestamp> {
        if self.len == 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        self.for_each(|entry| {
            if entry.t >= mint && entry.t <= maxt {
                out.push(entry);
            }
        });
        out
    }

    /// Forgets the entries at the given timestamps (sorted ascending): their samples left the
    /// head.
    pub fn remove(&mut self, sorted_ts: &[i64]) {
        if self.len == 0 || sorted_ts.is_empty() {
            return;
        }
        let mut all = self.decode();
        let before = all.len();
        all.retain(|s| sorted_ts.binary_search(&s.t).is_err());
        if all.len() != before {
            self.rebuild(&all);
        }
    }

    fn push(&mut self, t: i64, st: i64) {
        let dt = t.wrapping_sub(self.last_t);
        let dst = st.wrapping_sub(self.last_st);
        let dgap = dt.wrapping_sub(dst);
        put_varint(&mut self.bytes, u128::from(zigzag(dt.wrapping_sub(self.last_dt))));
        let tagged = if zigzag(dst) <= zigzag(dgap) {
            u128::from(zigzag(dst)) << 1
        } else {
            (u128::from(zigzag(dgap)) << 1) | 1
        };
        put_varint(&mut self.bytes, tagged);
        self.last_t = t;
        self.last_dt = dt;
        self.last_st = st;
        self.len += 1;
    }

    fn decode(&self) -> Vec<StartTimestamp> {
        let mut out = Vec::with_capacity(self.len);
        self.for_each(|entry| out.push(entry));
        out
    }

    fn rebuild(&mut self, sorted: &[StartTimestamp]) {
        *self = StartTimes::default();
        for s in sorted {
            self.push(s.t, s.st);
        }
        self.bytes.shrink_to_fit();
    }

    /// Walks the entries in order. The bytes are only ever written by `push`, so a varint
    /// cannot be cut short; should one be, the walk stops there.
    fn for_each(&self, mut f: impl FnMut(StartTimestamp)) {
        let mut pos = 0;
        let (mut t, mut dt, mut st) = (0i64, 0i64, 0i64);
        for _ in 0..self.len {
            let (Some(dod), Some(tagged)) = (get_varint(&self.bytes, &mut pos), get_varint(&self.bytes, &mut pos))
            else {
                return;
            };
            dt = dt.wrapping_add(unzigzag(dod as u64));
            t = t.wrapping_add(dt);
            let change = unzigzag((tagged >> 1) as u64);
            st = if tagged & 1 == 0 {
                st.wrapping_add(change)
            } else {
                // `change` is the change of `t - st`, so `st` moved by `dt - change`.
                st.wrapping_add(dt.wrapping_sub(change))
            };
            f(StartTimestamp { t, st });
        }
    }
}

fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

fn put_varint(buf: &mut Vec<u8>, mut u: u128) {
    while u >= 0x80 {
        buf.push((u as u8) | 0x80);
        u >>= 7;
    }
    buf.push(u as u8);
}

/// At most 10 bytes (70 bits) are read: `put_varint` never writes more than 65 bits.
fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u128> {
    let mut u: u128 = 0;
    for shift in (0..70).step_by(7) {
        let byte = *buf.get(*pos)?;
        *pos += 1;
        u |= u128::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(u);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(t: i64, st: i64) -> StartTimestamp {
        StartTimestamp { t, st }
    }

    #[test]
    fn in_order_appends_cost_two_bytes_for_regular_shapes() {
        let mut delta = StartTimes::default();
        let mut cumulative = StartTimes::default();
        for i in 1..=1000i64 {
            let t = 1_700_000_000_000 + i * 15_000;
            delta.insert(t, t - 15_000);
            cumulative.insert(t, 1_700_000_000_000);
        }
        // The first entry carries the absolute numbers.
        assert!(delta.bytes.len() <= 2 * 1000 + 24, "{}", delta.bytes.len());
        assert!(cumulative.bytes.len() <= 2 * 1000 + 24, "{}", cumulative.bytes.len());
        let all = cumulative.range(i64::MIN, i64::MAX);
        assert_eq!(all.len(), 1000);
        assert!(all.iter().all(|s| s.st == 1_700_000_000_000));
        assert_eq!(
            delta.range(1_700_000_015_000, 1_700_000_030_000),
            vec![
                st(1_700_000_015_000, 1_700_000_000_000),
                st(1_700_000_030_000, 1_700_000_015_000)
            ]
        );
    }

    #[test]
    fn out_of_order_inserts_replace_and_removal_keep_order() {
        let mut list = StartTimes::default();
        list.insert(100, 50);
        list.insert(300, 250);
        list.insert(200, 150);
        list.insert(300, 280);
        list.insert(400, 0);
        assert_eq!(
            list.range(i64::MIN, i64::MAX),
            vec![st(100, 50), st(200, 150), st(300, 280)]
        );
        list.remove(&[100, 300, 999]);
        assert_eq!(list.range(i64::MIN, i64::MAX), vec![st(200, 150)]);
        list.insert(250, 240);
        assert_eq!(list.range(i64::MIN, i64::MAX).len(), 2);
        assert_eq!(list.range(201, 300), vec![st(250, 240)]);
    }

    #[test]
    fn extreme_values_round_trip() {
        let mut list = StartTimes::default();
        let cases = [(i64::MIN + 1, i64::MAX), (-5, 7), (0, -1), (i64::MAX, i64::MIN)];
        for (t, s) in cases {
            list.insert(t, s);
        }
        let expected: Vec<StartTimestamp> = cases.iter().map(|&(t, s)| st(t, s)).collect();
        assert_eq!(list.range(i64::MIN, i64::MAX), expected);
    }
}

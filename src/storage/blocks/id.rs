//! Block ids: 12 hex digits of the creation time in milliseconds, then 16 hex digits that make
//! the id unique. Sorting ids as strings sorts blocks by creation time, which keeps listings
//! and logs readable without reading any meta.json.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of every id we create; ids read back from a bucket are checked against it.
pub const BLOCK_ID_LEN: usize = 28;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new time-sortable id. The suffix hashes the nanosecond clock, the process id and a
/// process-wide counter, so two processes writing to one bucket in the same millisecond do not
/// collide (and meta.json is written with create-only semantics as a last guard).
pub fn new_block_id() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let millis = u64::try_from(now.as_millis()).unwrap_or(u64::MAX) & 0xffff_ffff_ffff;
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut seed = Vec::with_capacity(32);
    seed.extend_from_slice(&now.as_nanos().to_le_bytes());
    seed.extend_from_slice(&std::process::id().to_le_bytes());
    seed.extend_from_slice(&count.to_le_bytes());
    let suffix = xxhash_rust::xxh3::xxh3_64(&seed);
    format!("{millis:012x}{suffix:016x}")
}

/// Whether a string read from the bucket has the shape of one of our ids (so a stray
/// directory is never mistaken for a block, and ids are safe path parts).
pub fn is_block_id(id: &str) -> bool {
    id.len() == BLOCK_ID_LEN && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_well_formed_and_time_sorted() {
        let first = new_block_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_block_id();
        let third = new_block_id();
        assert!(is_block_id(&first) && is_block_id(&second) && is_block_id(&third));
        assert!(first < second);
        assert_ne!(second, third);
        assert!(!is_block_id("../../etc"));
        assert!(!is_block_id("0123456789abcdef0123456789AB"));
    }
}

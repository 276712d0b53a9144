//! Frames and files. A frame is `len: u32 LE | crc32c: u32 LE | type: u8 | payload`, where
//! `len` counts the type byte and payload and the CRC covers the same bytes. Segments are
//! files named by an 8-digit sequence number; a checkpoint is one file of frames named
//! `checkpoint.<last segment it replaces>`.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

pub const FRAME_HEADER_BYTES: usize = 8;
/// Larger frames are refused on write and treated as corruption on read.
pub const MAX_FRAME_BYTES: usize = 1 << 30;

/// Appends one frame for `kind` + `payload` to `out`.
pub fn encode_frame(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    let len = (payload.len() + 1) as u32;
    let mut crc = crc32c::crc32c(&[kind]);
    crc = crc32c::crc32c_append(crc, payload);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.push(kind);
    out.extend_from_slice(payload);
}

/// Appends one frame whose payload `write_payload` appends to `out` in place (no copy of
/// the payload); returns the payload's length.
pub fn encode_frame_in_place(out: &mut Vec<u8>, kind: u8, write_payload: impl FnOnce(&mut Vec<u8>)) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER_BYTES]);
    out.push(kind);
    write_payload(out);
    let body = &out[start + FRAME_HEADER_BYTES..];
    let body_len = body.len();
    let crc = crc32c::crc32c(body);
    // A body over `MAX_FRAME_BYTES` (checked by the caller) is never written, so the
    // truncation of an oversized length cannot reach a file.
    out[start..start + 4].copy_from_slice(&(body_len as u32).to_le_bytes());
    out[start + 4..start + FRAME_HEADER_BYTES].copy_from_slice(&crc.to_le_bytes());
    body_len - 1
}

/// Why a frame stream stopped before its end.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameDamage {
    /// The last frame is incomplete: a write torn by a crash.
    Torn,
    /// A complete frame whose checksum or length is wrong.
    Corrupt(&'static str),
}

/// Calls `on_frame(type, payload)` for each intact frame; returns the byte length of the
/// intact prefix and, if the stream did not end cleanly there, why.
pub fn read_frames(data: &[u8], mut on_frame: impl FnMut(u8, &[u8])) -> (usize, Option<FrameDamage>) {
    let mut pos = 0;
    while pos < data.len() {
        let Some(header) = data.get(pos..pos + FRAME_HEADER_BYTES) else {
            return (pos, Some(FrameDamage::Torn));
        };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if len == 0 || len > MAX_FRAME_BYTES {
            return (pos, Some(FrameDamage::Corrupt("frame length")));
        }
        let body_start = pos + FRAME_HEADER_BYTES;
        let Some(body) = data.get(body_start..body_start + len) else {
            return (pos, Some(FrameDamage::Torn));
        };
        if crc32c::crc32c(body) != crc {
            return (pos, Some(FrameDamage::Corrupt("checksum")));
        }
        on_frame(body[0], &body[1..]);
        pos = body_start + len;
    }
    (pos, None)
}

pub fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:08}"))
}

pub fn checkpoint_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("checkpoint.{number:08}"))
}

/// What the WAL directory holds, sorted by number.
#[derive(Debug, Default)]
pub struct DirListing {
    pub segments: Vec<u64>,
    pub checkpoints: Vec<u64>,
    /// Leftovers of an interrupted checkpoint write.
    pub temporary: Vec<PathBuf>,
}

pub fn list_dir(dir: &Path) -> io::Result<DirListing> {
    let mut listing = DirListing::default();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(".tmp") {
            listing.temporary.push(entry.path());
        } else if let Some(number) = name.strip_prefix("checkpoint.") {
            if let Ok(n) = number.parse() {
                listing.checkpoints.push(n);
            }
        } else if name.len() == 8
            && let Ok(n) = name.parse()
        {
            listing.segments.push(n);
        }
    }
    listing.segments.sort_unstable();
    listing.checkpoints.sort_unstable();
    Ok(listing)
}

/// Makes a directory entry change (create, rename, delete) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_built_in_place_equal_copied_ones() {
        let mut copied = Vec::new();
        encode_frame(&mut copied, 3, b"payload");
        let mut in_place = b"xy".to_vec();
        let len = encode_frame_in_place(&mut in_place, 3, |out| out.extend_from_slice(b"payload"));
        assert_eq!(len, 7);
        assert_eq!(&in_place[2..], copied.as_slice());
    }

    #[test]
    fn frames_roundtrip_and_damage_is_classified() {
        let mut data = Vec::new();
        encode_frame(&mut data, 1, b"hello");
        encode_frame(&mut data, 2, b"");
        let mut seen = Vec::new();
        let (len, damage) = read_frames(&data, |k, p| seen.push((k, p.to_vec())));
        assert_eq!((len, damage), (data.len(), None));
        assert_eq!(seen, vec![(1, b"hello".to_vec()), (2, Vec::new())]);

        let first_len = FRAME_HEADER_BYTES + 6;
        for cut in first_len + 1..data.len() {
            let (len, damage) = read_frames(&data[..cut], |_, _| {});
            assert_eq!((len, damage), (first_len, Some(FrameDamage::Torn)));
        }
        let mut corrupt = data.clone();
        corrupt[FRAME_HEADER_BYTES + 2] ^= 0x10;
        assert_eq!(
            read_frames(&corrupt, |_, _| {}),
            (0, Some(FrameDamage::Corrupt("checksum")))
        );
        let zeros = vec![0u8; 64];
        assert_eq!(
            read_frames(&zeros, |_, _| {}),
            (0, Some(FrameDamage::Corrupt("frame length")))
        );
    }
}

//! Gorilla-style XOR float chunks, bit-compatible with Prometheus' `chunkenc.XORChunk`, so the
//! head's chunks can be streamed as-is in remote read's STREAMED_XOR_CHUNKS responses.
//!
//! Layout (as Prometheus): a 2-byte big-endian sample count, then a bit stream written most
//! significant bit first: the first timestamp as a zig-zag varint and the first value as raw
//! 64 bits; the second timestamp as an unsigned varint delta; every later timestamp as a
//! delta-of-delta in a 1/14/17/20/64-bit bucket; every value after the first XOR'd with the
//! previous one, reusing the previous leading/trailing zero window when it fits.
//!
//! CONTRACT (skeleton): the head and remote read code against these signatures.

/// Prometheus' head cuts a new chunk after this many samples; so do we.
pub const MAX_SAMPLES_PER_CHUNK: usize = 120;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XorChunkError {
    #[error("chunk is truncated")]
    Truncated,
    #[error("chunk header is invalid")]
    InvalidHeader,
    #[error("chunk varint overflows 64 bits")]
    VarintOverflow,
    #[error("chunk value encoding is invalid")]
    InvalidValueEncoding,
}

/// An append-only XOR chunk. Byte layout as Prometheus: 2-byte big-endian sample count, then
/// the bit stream (first timestamp varint, first value raw 64 bits, then delta-of-delta
/// timestamps and XOR'd values).
#[derive(Clone, Debug)]
pub struct XorChunk {
    /// Header and bit stream, exactly what Prometheus would serialise.
    bytes: Vec<u8>,
    /// Unused low bits of the last byte (0 when the next bit starts a new byte).
    free_bits: u8,
    num: u16,
    first_t: i64,
    last_t: i64,
    last_v_bits: u64,
    t_delta: u64,
    /// 0xff until the first XOR'd value chose a window, as Prometheus' appender.
    leading: u8,
    trailing: u8,
}

impl Default for XorChunk {
    fn default() -> Self {
        Self {
            bytes: vec![0, 0],
            free_bits: 0,
            num: 0,
            first_t: 0,
            last_t: 0,
            last_v_bits: 0,
            t_delta: 0,
            leading: 0xff,
            trailing: 0,
        }
    }
}

impl XorChunk {
    pub fn new() -> Self {
        Self::default()
    }

    /// Wraps bytes produced by [`XorChunk::bytes`] (or by Prometheus); validates the header
    /// and the whole stream, and positions the appender right after the last sample.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, XorChunkError> {
        if bytes.len() < 2 {
            return Err(XorChunkError::InvalidHeader);
        }
        let mut decoder = Decoder::new(&bytes)?;
        let mut first_t = 0;
        while let Some((t, _)) = decoder.next_sample()? {
            if decoder.num_read == 1 {
                first_t = t;
            }
        }
        let end_bit = decoder.reader.pos;
        let num = decoder.num_total;
        let state = (
            decoder.t,
            decoder.v_bits,
            decoder.t_delta,
            decoder.leading,
            decoder.trailing,
        );
        let mut chunk = Self {
            bytes,
            ..Self::default()
        };
        // Drop bytes past the last sample so appends continue the stream seamlessly.
        let used_bytes = 2 + end_bit.div_ceil(8);
        chunk.bytes.truncate(used_bytes);
        chunk.free_bits = ((8 - end_bit % 8) % 8) as u8;
        if chunk.free_bits > 0 {
            // Padding bits must be zero for later bit-ors to be correct.
            if let Some(last) = chunk.bytes.last_mut() {
                *last &= !((1u8 << chunk.free_bits) - 1);
            }
        }
        chunk.num = num;
        chunk.first_t = first_t;
        (
            chunk.last_t,
            chunk.last_v_bits,
            chunk.t_delta,
            chunk.leading,
            chunk.trailing,
        ) = state;
        if num == 0 {
            chunk.leading = 0xff;
        }
        Ok(chunk)
    }

    /// Appends one sample; timestamps must be strictly increasing (the head enforces it).
    /// A chunk holds at most `u16::MAX` samples; the head cuts far earlier.
    pub fn append(&mut self, t: i64, v: f64) {
        let v_bits = v.to_bits();
        let mut t_delta = 0u64;
        match self.num {
            0 => {
                let mut buf = [0u8; 10];
                let n = put_uvarint(&mut buf, zigzag(t));
                for b in &buf[..n] {
                    self.write_bits(u64::from(*b), 8);
                }
                self.write_bits(v_bits, 64);
                self.first_t = t;
            }
            1 => {
                t_delta = t.wrapping_sub(self.last_t) as u64;
                let mut buf = [0u8; 10];
                let n = put_uvarint(&mut buf, t_delta);
                for b in &buf[..n] {
                    self.write_bits(u64::from(*b), 8);
                }
                self.write_value(v_bits);
            }
            _ => {
                t_delta = t.wrapping_sub(self.last_t) as u64;
                let dod = t_delta.wrapping_sub(self.t_delta) as i64;
                if dod == 0 {
                    self.write_bit(false);
                } else if bit_range(dod, 14) {
                    self.write_bits(0b10, 2);
                    self.write_bits(dod as u64, 14);
                } else if bit_range(dod, 17) {
                    self.write_bits(0b110, 3);
                    self.write_bits(dod as u64, 17);
                } else if bit_range(dod, 20) {
                    self.write_bits(0b1110, 4);
                    self.write_bits(dod as u64, 20);
                } else {
                    self.write_bits(0b1111, 4);
                    self.write_bits(dod as u64, 64);
                }
                self.write_value(v_bits);
            }
        }
        self.last_t = t;
        self.last_v_bits = v_bits;
        self.t_delta = t_delta;
        self.num = self.num.saturating_add(1);
        let header = self.num.to_be_bytes();
        self.bytes[0] = header[0];
        self.bytes[1] = header[1];
    }

    pub fn num_samples(&self) -> usize {
        usize::from(self.num)
    }

    /// Timestamp of the first sample (meaningless for an empty chunk).
    pub fn first_time(&self) -> i64 {
        self.first_t
    }

    /// Timestamp of the last sample (meaningless for an empty chunk).
    pub fn last_time(&self) -> i64 {
        self.last_t
    }

    /// The encoded chunk, as Prometheus would serialise it.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Decodes all samples. A corrupt stream yields an error rather than garbage.
    pub fn samples(&self) -> Result<Vec<(i64, f64)>, XorChunkError> {
        decode(&self.bytes)
    }

    fn write_value(&mut self, v_bits: u64) {
        let delta = v_bits ^ self.last_v_bits;
        if delta == 0 {
            self.write_bit(false);
            return;
        }
        self.write_bit(true);
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.write_bit(false);
            let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
            self.write_bits(delta >> self.trailing, sig);
        } else {
            self.leading = leading;
            self.trailing = trailing;
            self.write_bit(true);
            self.write_bits(u64::from(leading), 5);
            let sig = 64 - u32::from(leading) - u32::from(trailing);
            // 64 significant bits do not fit 6 bits; they are written as 0, as Prometheus does.
            self.write_bits(u64::from(sig), 6);
            self.write_bits(delta >> trailing, sig);
        }
    }

    fn write_bit(&mut self, bit: bool) {
        if self.free_bits == 0 {
            self.bytes.push(0);
            self.free_bits = 8;
        }
        if bit && let Some(last) = self.bytes.last_mut() {
            *last |= 1 << (self.free_bits - 1);
        }
        self.free_bits -= 1;
    }

    /// Writes the low `nbits` (at most 64) bits of `value`, most significant first: first
    /// into the free low bits of the last byte, then whole bytes, then the rest into a new
    /// byte.
    fn write_bits(&mut self, value: u64, nbits: u32) {
        let mut left = nbits.min(64);
        if left == 0 {
            return;
        }
        if self.free_bits > 0 {
            let take = left.min(u32::from(self.free_bits));
            let part = ((value >> (left - take)) & ((1u64 << take) - 1)) as u8;
            let shift = u32::from(self.free_bits) - take;
            if let Some(last) = self.bytes.last_mut() {
                *last |= part << shift;
            }
            self.free_bits -= take as u8;
            left -= take;
        }
        while left >= 8 {
            left -= 8;
            self.bytes.push((value >> left) as u8);
        }
        if left > 0 {
            let part = (value & ((1u64 << left) - 1)) as u8;
            self.bytes.push(part << (8 - left));
            self.free_bits = (8 - left) as u8;
        }
    }
}

/// Whether `x` fits the `nbits` bucket; the range is asymmetric exactly as Prometheus'.
fn bit_range(x: i64, nbits: u32) -> bool {
    let half = 1i64 << (nbits - 1);
    -(half - 1) <= x && x <= half
}

fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

fn put_uvarint(buf: &mut [u8; 10], mut x: u64) -> usize {
    let mut i = 0;
    while x >= 0x80 && i < 9 {
        buf[i] = (x as u8) | 0x80;
        x >>= 7;
        i += 1;
    }
    buf[i] = x as u8;
    i + 1
}

/// Decodes every sample of a serialised chunk.
pub fn decode(bytes: &[u8]) -> Result<Vec<(i64, f64)>, XorChunkError> {
    let mut decoder = Decoder::new(bytes)?;
    // Every sample after the first takes at least two bits: bound the allocation by the input.
    let cap = usize::from(decoder.num_total).min(bytes.len().saturating_mul(4) + 1);
    let mut out = Vec::with_capacity(cap);
    while let Some((t, v)) = decoder.next_sample()? {
        out.push((t, v));
    }
    Ok(out)
}

struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn read_bit(&mut self) -> Result<bool, XorChunkError> {
        let byte = self.data.get(self.pos / 8).ok_or(XorChunkError::Truncated)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1 == 1;
        self.pos += 1;
        Ok(bit)
    }

    fn read_bits(&mut self, mut nbits: u32) -> Result<u64, XorChunkError> {
        let mut value = 0u64;
        while nbits > 0 {
            let byte = *self.data.get(self.pos / 8).ok_or(XorChunkError::Truncated)?;
            let available = 8 - (self.pos % 8) as u32;
            let take = nbits.min(available);
            let part = (u32::from(byte) >> (available - take)) & ((1u32 << take) - 1);
            value = (value << take) | u64::from(part);
            self.pos += take as usize;
            nbits -= take;
        }
        Ok(value)
    }

    fn read_uvarint(&mut self) -> Result<u64, XorChunkError> {
        let mut x = 0u64;
        let mut shift = 0u32;
        for i in 0..10 {
            let b = self.read_bits(8)?;
            if b < 0x80 {
                if i == 9 && b > 1 {
                    return Err(XorChunkError::VarintOverflow);
                }
                return Ok(x | (b << shift));
            }
            x |= (b & 0x7f) << shift;
            shift += 7;
        }
        Err(XorChunkError::VarintOverflow)
    }
}

struct Decoder<'a> {
    reader: BitReader<'a>,
    num_total: u16,
    num_read: u16,
    t: i64,
    v_bits: u64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
}

impl<'a> Decoder<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, XorChunkError> {
        let (header, stream) = bytes.split_at_checked(2).ok_or(XorChunkError::InvalidHeader)?;
        Ok(Self {
            reader: BitReader { data: stream, pos: 0 },
            num_total: u16::from_be_bytes([header[0], header[1]]),
            num_read: 0,
            t: 0,
            v_bits: 0,
            t_delta: 0,
            leading: 0,
            trailing: 0,
        })
    }

    fn next_sample(&mut self) -> Result<Option<(i64, f64)>, XorChunkError> {
        if self.num_read == self.num_total {
            return Ok(None);
        }
        match self.num_read {
            0 => {
                self.t = unzigzag(self.reader.read_uvarint()?);
                self.v_bits = self.reader.read_bits(64)?;
            }
            1 => {
                self.t_delta = self.reader.read_uvarint()?;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()?;
            }
            _ => {
                let dod = self.read_dod()?;
                self.t_delta = (self.t_delta as i64).wrapping_add(dod) as u64;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value()?;
            }
        }
        self.num_read += 1;
        Ok(Some((self.t, f64::from_bits(self.v_bits))))
    }

    fn read_dod(&mut self) -> Result<i64, XorChunkError> {
        let mut prefix_ones = 0;
        while prefix_ones < 4 && self.reader.read_bit()? {
            prefix_ones += 1;
        }
        let size = match prefix_ones {
            0 => return Ok(0),
            1 => 14,
            2 => 17,
            3 => 20,
            _ => return Ok(self.reader.read_bits(64)? as i64),
        };
        let bits = self.reader.read_bits(size)?;
        // Values above half the bucket are negative, as in Prometheus' bstream notes.
        if bits > (1u64 << (size - 1)) {
            return Ok(bits as i64 - (1i64 << size));
        }
        Ok(bits as i64)
    }

    fn read_value(&mut self) -> Result<(), XorChunkError> {
        if !self.reader.read_bit()? {
            return Ok(());
        }
        if self.reader.read_bit()? {
            let leading = self.reader.read_bits(5)? as u32;
            let mut sig = self.reader.read_bits(6)? as u32;
            if sig == 0 {
                sig = 64;
            }
            if leading + sig > 64 {
                return Err(XorChunkError::InvalidValueEncoding);
            }
            self.leading = leading as u8;
            self.trailing = (64 - leading - sig) as u8;
        }
        let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
        let bits = self.reader.read_bits(sig)?;
        self.v_bits ^= bits << self.trailing;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::model::STALE_NAN_BITS;

    fn roundtrip(samples: &[(i64, f64)]) -> XorChunk {
        let mut chunk = XorChunk::new();
        for (t, v) in samples {
            chunk.append(*t, *v);
        }
        let decoded = chunk.samples().unwrap();
        assert_eq!(decoded.len(), samples.len());
        for (got, want) in decoded.iter().zip(samples) {
            assert_eq!(got.0, want.0);
            assert_eq!(got.1.to_bits(), want.1.to_bits(), "value bits differ at t={}", want.0);
        }
        chunk
    }

    #[test]
    fn hand_derived_bytes_match() {
        let mut chunk = XorChunk::new();
        chunk.append(1000, 1.0);
        chunk.append(2000, 1.0);
        chunk.append(3000, 2.0);
        let want: &[u8] = &[
            0x00, 0x03, // count
            0xD0, 0x0F, // zig-zag varint 1000
            0x3F, 0xF0, 0, 0, 0, 0, 0, 0, // 1.0
            0xE8, 0x07, // uvarint delta 1000
            // value unchanged (0), dod 0 (0), xor 1, new window 1, leading 00001,
            // sigbits 001011, 11 ones, padding
            0x30, 0x97, 0xFF, 0xC0,
        ];
        assert_eq!(chunk.bytes(), want);
        // dod -500 in the 14-bit bucket ("10" + 0b11111000001100), value unchanged.
        chunk.append(3500, 2.0);
        let want4: &[u8] = &[
            0x00, 0x04, 0xD0, 0x0F, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0, 0xE8, 0x07, 0x30, 0x97, 0xFF, 0xEF, 0x83, 0x00,
        ];
        assert_eq!(chunk.bytes(), want4);
        assert_eq!(
            chunk.samples().unwrap(),
            vec![(1000, 1.0), (2000, 1.0), (3000, 2.0), (3500, 2.0)]
        );
    }

    #[test]
    fn roundtrip_special_values() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        roundtrip(&[
            (-5000, f64::NAN),
            (-4000, stale),
            (-3000, f64::INFINITY),
            (0, f64::NEG_INFINITY),
            (1, -0.0),
            (2, 0.0),
            (3, f64::MIN_POSITIVE),
            (4, f64::MAX),
            (5, stale),
            (6, 1.5),
        ]);
    }

    #[test]
    fn roundtrip_all_dod_buckets_and_extremes() {
        let deltas = [
            1i64,
            1,
            8192,
            -8000,
            8193,
            65536,
            65537,
            524288,
            524289,
            10_000_000,
            1,
            0x7fff_ffff_ffff,
        ];
        let mut t = i64::MIN / 4;
        let mut samples = Vec::new();
        for (i, d) in deltas.iter().enumerate() {
            t += d.abs().max(1);
            samples.push((t, i as f64 * 1.1));
        }
        roundtrip(&samples);
        roundtrip(&[(i64::MIN + 1, 1.0), (i64::MAX - 1, 2.0), (i64::MAX, 3.0)]);
    }

    #[test]
    fn roundtrip_full_chunk_of_varied_values() {
        let samples: Vec<(i64, f64)> = (0..MAX_SAMPLES_PER_CHUNK as i64)
            .map(|i| (1_700_000_000_000 + i * 15_000 + (i % 7) * 13, (i as f64).sin() * 1e6))
            .collect();
        let chunk = roundtrip(&samples);
        assert_eq!(chunk.num_samples(), MAX_SAMPLES_PER_CHUNK);
        assert_eq!(chunk.first_time(), samples[0].0);
        assert_eq!(chunk.last_time(), samples[MAX_SAMPLES_PER_CHUNK - 1].0);
    }

    #[test]
    fn from_bytes_continues_appending() {
        let mut chunk = XorChunk::new();
        for i in 0..10 {
            chunk.append(i * 1000, i as f64 * 0.5);
        }
        let mut reopened = XorChunk::from_bytes(chunk.bytes().to_vec()).unwrap();
        reopened.append(10_000, 42.0);
        chunk.append(10_000, 42.0);
        assert_eq!(reopened.bytes(), chunk.bytes());
        assert_eq!(reopened.samples().unwrap().len(), 11);
        assert!(XorChunk::from_bytes(vec![0, 0]).unwrap().samples().unwrap().is_empty());
    }

    #[test]
    fn corrupt_input_errors_without_panicking() {
        assert_eq!(XorChunk::from_bytes(vec![1]).unwrap_err(), XorChunkError::InvalidHeader);
        assert_eq!(decode(&[0, 5, 0x02]).unwrap_err(), XorChunkError::Truncated);
        assert_eq!(
            decode(&[0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).unwrap_err(),
            XorChunkError::VarintOverflow
        );
        let mut chunk = XorChunk::new();
        for i in 0..50 {
            chunk.append(i * 1000 + (i * i) % 17, (i as f64).sqrt());
        }
        let bytes = chunk.bytes().to_vec();
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "truncated at {cut} decoded");
        }
        // Flip every bit in turn: decoding must return (anything) without panicking.
        for i in 2..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[i / 8] ^= 1 << (i % 8);
            let _ = decode(&flipped);
        }
        // Huge declared count with a short body.
        assert_eq!(decode(&[0xff, 0xff, 0x00]).unwrap_err(), XorChunkError::Truncated);
    }
}

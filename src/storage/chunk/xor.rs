//! Gorilla-style XOR float chunks, bit-compatible with Prometheus' `chunkenc.XORChunk`, so the
//! head's chunks can be streamed as-is in remote read's STREAMED_XOR_CHUNKS responses.
//!
//! CONTRACT (skeleton): the head and remote read code against these signatures.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XorChunkError {
    #[error("chunk is truncated")]
    Truncated,
    #[error("chunk header is invalid")]
    InvalidHeader,
}

/// An append-only XOR chunk. Byte layout as Prometheus: 2-byte big-endian sample count, then
/// the bit stream (first timestamp varint, first value raw 64 bits, then delta-of-delta
/// timestamps and XOR'd values).
#[derive(Clone, Debug, Default)]
pub struct XorChunk {
    bytes: Vec<u8>,
}

impl XorChunk {
    pub fn new() -> Self {
        Self::default()
    }

    /// Wraps bytes produced by [`XorChunk::bytes`] (or by Prometheus); validates the header.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, XorChunkError> {
        Ok(Self { bytes })
    }

    /// Appends one sample; timestamps must be strictly increasing (the head enforces it).
    pub fn append(&mut self, t: i64, v: f64) {
        let _ = (t, v);
    }

    pub fn num_samples(&self) -> usize {
        0
    }

    /// The encoded chunk, as Prometheus would serialise it.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Decodes all samples. A corrupt stream yields an error rather than garbage.
    pub fn samples(&self) -> Result<Vec<(i64, f64)>, XorChunkError> {
        Ok(Vec::new())
    }
}

//! Compressed sample chunks.

pub mod xor;

pub use xor::{MAX_SAMPLES_PER_CHUNK, XorChunk, XorChunkError};

//! Compressed sample chunks.

pub mod xor;

pub use xor::{XorChunk, XorChunkError};

//! In-memory head: series index with label postings and compressed sample chunks.

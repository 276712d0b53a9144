//! Storage errors. Adapters map them to each protocol's error at the edge.

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    #[error("object store error: {0}")]
    ObjectStore(String),
    #[error("corrupt data in {what}: {reason}")]
    Corrupt { what: String, reason: String },
    #[error("out of order sample")]
    OutOfOrder,
    #[error("out of bounds")]
    OutOfBounds,
    #[error("duplicate sample for timestamp")]
    DuplicateSample,
    #[error("storage is shutting down")]
    ShuttingDown,
    #[error("{0}")]
    Other(String),
}

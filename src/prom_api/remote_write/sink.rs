//! Where a validated batch goes. The store in production; tests record batches instead, so
//! the whole write path runs without a WAL.

use crate::storage::{AppendBatch, AppendStats, Storage, StorageError};
use std::future::Future;

pub trait BatchSink: Send + Sync {
    fn append(
        &self,
        tenant: &str,
        batch: AppendBatch,
    ) -> impl Future<Output = Result<AppendStats, StorageError>> + Send;
}

impl BatchSink for Storage {
    async fn append(&self, tenant: &str, batch: AppendBatch) -> Result<AppendStats, StorageError> {
        Storage::append(self, tenant, batch).await
    }
}

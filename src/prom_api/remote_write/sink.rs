//! Where a validated batch goes. The store in production; tests record batches instead, so
//! the whole write path runs without a WAL.

use crate::storage::{AppendBatch, AppendStats, FloatBatch, Storage, StorageError};
use std::future::Future;

pub trait BatchSink: Send + Sync {
    fn append(
        &self,
        tenant: &str,
        batch: AppendBatch,
    ) -> impl Future<Output = Result<AppendStats, StorageError>> + Send;

    /// Float samples with borrowed labels (remote write 1.0's common request). By default
    /// the same as appending the owned equivalent.
    fn append_floats(
        &self,
        tenant: &str,
        batch: &FloatBatch<'_>,
    ) -> impl Future<Output = Result<AppendStats, StorageError>> + Send {
        self.append(tenant, batch.to_append_batch())
    }
}

impl BatchSink for Storage {
    async fn append(&self, tenant: &str, batch: AppendBatch) -> Result<AppendStats, StorageError> {
        Storage::append(self, tenant, batch).await
    }

    async fn append_floats(&self, tenant: &str, batch: &FloatBatch<'_>) -> Result<AppendStats, StorageError> {
        Storage::append_floats(self, tenant, batch).await
    }
}

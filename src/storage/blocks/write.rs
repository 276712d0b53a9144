//! Writing one block: normalise, encode off the async threads, upload the data files, then
//! meta.json (create-only), then record it in the cache and the in-memory catalog.

use super::bucket::object_store_error;
use super::cache::CachedBlock;
use super::format::{self, BlockFile, FORMAT_VERSION, FileEntry};
use super::layout::{
    self, HISTOGRAMS_FILE, META_FILE, METRICS_SIGNAL, SAMPLES_FILE, SERIES_FILE, START_TIMESTAMPS_FILE,
};
use super::{BlockMeta, BlockStore, catalog, join_error};
use crate::storage::error::StorageError;
use crate::storage::model::Series;
use bytes::Bytes;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Files larger than this are uploaded in parts.
const SINGLE_PUT_MAX_BYTES: usize = 32 * 1024 * 1024;

impl BlockStore {
    pub(super) async fn write_block(
        &self,
        tenant: &str,
        series: Vec<Series>,
        min_time: i64,
        max_time: i64,
        level: u32,
        sources: Vec<String>,
    ) -> Result<BlockMeta, StorageError> {
        let (encoded, index) = tokio::task::spawn_blocking(move || {
            let series = normalize(series);
            let encoded = format::encode_block(&series).map_err(StorageError::Other)?;
            // Decoding what we just wrote both checks it and gives the in-memory index.
            let index = format::decode_series_index(Bytes::from(encoded.series.clone())).map_err(|reason| {
                StorageError::Corrupt {
                    what: "new series index".into(),
                    reason,
                }
            })?;
            Ok::<_, StorageError>((encoded, index))
        })
        .await
        .map_err(join_error)??;

        let id = super::new_block_id();
        let mut files = vec![
            (SAMPLES_FILE, Bytes::from(encoded.samples)),
            (SERIES_FILE, Bytes::from(encoded.series)),
        ];
        if let Some(histograms) = encoded.histograms {
            files.push((HISTOGRAMS_FILE, Bytes::from(histograms)));
        }
        if let Some(start_timestamps) = encoded.start_timestamps {
            files.push((START_TIMESTAMPS_FILE, Bytes::from(start_timestamps)));
        }
        let mut uploaded = Vec::new();
        for (name, bytes) in &files {
            let path = layout::block_file(tenant, &id, name);
            if let Err(error) = self.upload(&path, bytes.clone()).await {
                self.remove_objects(&uploaded).await;
                return Err(error);
            }
            uploaded.push(path);
        }

        let file = BlockFile {
            format: FORMAT_VERSION,
            meta: BlockMeta {
                id: id.clone(),
                tenant: tenant.to_string(),
                signal: METRICS_SIGNAL.to_string(),
                // Never claim less than the data holds, whatever range the caller named.
                min_time: encoded.min_t.map_or(min_time, |t| t.min(min_time)),
                max_time: encoded.max_t.map_or(max_time, |t| t.max(max_time)),
                series: encoded.series_count,
                samples: encoded.sample_count,
                bytes: files.iter().map(|(_, b)| b.len() as u64).sum(),
                level,
            },
            histograms: encoded.histogram_count,
            sources,
            files: files
                .iter()
                .map(|(name, bytes)| FileEntry {
                    name: (*name).to_string(),
                    bytes: bytes.len() as u64,
                })
                .collect(),
        };
        if let Err(error) = self.sync_if_local(uploaded.clone()).await {
            self.remove_objects(&uploaded).await;
            return Err(error);
        }
        let meta_bytes = serde_json::to_vec_pretty(&file).map_err(|e| StorageError::Other(e.to_string()))?;
        let meta_path = layout::block_file(tenant, &id, META_FILE);
        let create = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        if let Err(error) = self
            .store
            .put_opts(&meta_path, PutPayload::from(meta_bytes.clone()), create)
            .await
        {
            self.remove_objects(&uploaded).await;
            return Err(object_store_error(error));
        }
        if let Err(error) = self.sync_if_local(vec![meta_path.clone()]).await {
            uploaded.push(meta_path);
            self.remove_objects(&uploaded).await;
            return Err(error);
        }

        let key = catalog::block_key(&file);
        let series_bytes = files
            .iter()
            .find(|(name, _)| *name == SERIES_FILE)
            .map(|(_, b)| b.to_vec());
        let cache = self.cache.clone();
        let cache_key = key.clone();
        let entry = CachedBlock {
            dir: cache_key,
            meta: meta_bytes,
            series_index: series_bytes,
        };
        let cached = tokio::task::spawn_blocking(move || cache.insert(&[entry]))
            .await
            .map_err(join_error)
            .and_then(|r| r);
        if let Err(error) = cached {
            // The block is durable in the bucket; a stale cache only costs a refetch.
            tracing::warn!(%error, block = %key, "could not cache new block");
        }
        let meta = file.meta.clone();
        self.indexes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, Arc::new(index));
        self.write_catalog().insert(Arc::new(file));
        Ok(meta)
    }

    async fn sync_if_local(&self, paths: Vec<Path>) -> Result<(), StorageError> {
        let Some(local) = self.local.clone() else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || super::bucket::sync_local(&local, &paths))
            .await
            .map_err(join_error)?
    }

    async fn upload(&self, path: &Path, bytes: Bytes) -> Result<(), StorageError> {
        if bytes.len() <= SINGLE_PUT_MAX_BYTES {
            self.store
                .put(path, PutPayload::from(bytes))
                .await
                .map_err(object_store_error)?;
            return Ok(());
        }
        let mut writer = BufWriter::with_capacity(Arc::clone(&self.store), path.clone(), SINGLE_PUT_MAX_BYTES);
        let written = async {
            writer.write_all(&bytes).await?;
            writer.shutdown().await
        }
        .await;
        if let Err(error) = written {
            if let Err(abort_error) = writer.abort().await {
                tracing::warn!(%abort_error, %path, "could not abort multipart upload");
            }
            return Err(StorageError::ObjectStore(error.to_string()));
        }
        Ok(())
    }

    /// Best-effort removal of objects of a block that will never get its meta.json.
    pub(super) async fn remove_objects(&self, paths: &[Path]) {
        for path in paths {
            match self.store.delete(path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => tracing::warn!(%error, %path, "could not delete object"),
            }
        }
    }
}

/// Sorts series by labels, merges duplicates, sorts samples by time (keeping the first of
/// equal timestamps) and drops series without data, so the encoder's invariants hold
/// whatever the caller passed.
pub(super) fn normalize(mut series: Vec<Series>) -> Vec<Series> {
    series.retain(|s| !s.samples.is_empty() || !s.histograms.is_empty());
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    let mut merged: Vec<Series> = Vec::with_capacity(series.len());
    for s in series {
        match merged.last_mut() {
            Some(last) if last.labels == s.labels => {
                last.samples.extend(s.samples);
                last.histograms.extend(s.histograms);
                last.start_timestamps.extend(s.start_timestamps);
            }
            _ => merged.push(s),
        }
    }
    for s in &mut merged {
        s.sort_dedup_by_time();
        // A start timestamp without its sample would have no meaning (and no row).
        if !s.start_timestamps.is_empty() {
            let (samples, histograms) = (&s.samples, &s.histograms);
            s.start_timestamps.retain(|st| {
                samples.binary_search_by_key(&st.t, |x| x.t).is_ok()
                    || histograms.binary_search_by_key(&st.t, |x| x.t).is_ok()
            });
        }
    }
    merged
}

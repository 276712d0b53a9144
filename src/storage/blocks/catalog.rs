//! The block catalog: which complete blocks exist, per tenant.
//!
//! The bucket is the catalog: a block exists exactly when its `meta.json` does, so listing
//! `<tenant>/metrics/` answers "which blocks" for any process, with no shared catalog object
//! to contend on (no conditional-put retry loop, no lost update when a writer and a
//! compactor race). What one listing costs is saved by the redb cache: only meta.json files
//! not seen before are fetched.

use super::format::{BlockFile, FORMAT_VERSION};
use super::id::is_block_id;
use super::layout::{self, META_FILE, METRICS_SIGNAL};
use crate::storage::error::StorageError;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// Concurrent meta.json fetches while reconciling with the bucket.
const META_FETCH_CONCURRENCY: usize = 16;

/// What the store knows of the bucket, kept in memory.
#[derive(Default)]
pub struct Catalog {
    /// tenant → block id → meta.
    tenants: BTreeMap<String, BTreeMap<String, Arc<BlockFile>>>,
}

impl Catalog {
    pub fn insert(&mut self, file: Arc<BlockFile>) {
        self.tenants
            .entry(file.meta.tenant.clone())
            .or_default()
            .insert(file.meta.id.clone(), file);
    }

    pub fn remove(&mut self, tenant: &str, id: &str) {
        if let Some(blocks) = self.tenants.get_mut(tenant) {
            blocks.remove(id);
            if blocks.is_empty() {
                self.tenants.remove(tenant);
            }
        }
    }

    /// Every block of the tenant, including ones a compacted block replaces.
    pub fn all(&self, tenant: &str) -> Vec<Arc<BlockFile>> {
        self.tenants
            .get(tenant)
            .map(|blocks| blocks.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn every_block(&self) -> Vec<Arc<BlockFile>> {
        self.tenants.values().flat_map(|b| b.values().cloned()).collect()
    }

    /// Ids replaced by some compacted block of the tenant (still in the bucket only because
    /// their deletion has not happened yet).
    pub fn replaced(&self, tenant: &str) -> HashSet<String> {
        self.tenants
            .get(tenant)
            .map(|blocks| blocks.values().flat_map(|b| b.sources.iter().cloned()).collect())
            .unwrap_or_default()
    }

    /// The blocks readers use: not replaced, ordered by min_time (then id).
    pub fn visible(&self, tenant: &str) -> Vec<Arc<BlockFile>> {
        let replaced = self.replaced(tenant);
        let mut blocks: Vec<Arc<BlockFile>> = self
            .all(tenant)
            .into_iter()
            .filter(|b| !replaced.contains(&b.meta.id))
            .collect();
        blocks.sort_by(|a, b| (a.meta.min_time, &a.meta.id).cmp(&(b.meta.min_time, &b.meta.id)));
        blocks
    }
}

/// The bucket directory of a block, the key of the cache.
pub fn block_key(file: &BlockFile) -> String {
    layout::block_dir(&file.meta.tenant, &file.meta.id).to_string()
}

/// Parses and checks a meta.json read from `dir`; a file that does not describe the block
/// at that place is refused (a copied or hostile meta.json cannot alias another block).
pub fn parse_meta(dir: &str, bytes: &[u8]) -> Result<BlockFile, String> {
    let file: BlockFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    if file.format != FORMAT_VERSION {
        return Err(format!("unknown block format {}", file.format));
    }
    if file.meta.signal != METRICS_SIGNAL || !is_block_id(&file.meta.id) {
        return Err("not a metrics block".into());
    }
    if block_key(&file) != dir {
        return Err(format!("meta.json describes {} but lives in {dir}", block_key(&file)));
    }
    Ok(file)
}

/// Directories (`<tenant>/metrics/<id>`) of every block with a meta.json in the bucket.
pub async fn list_block_dirs(store: &Arc<dyn ObjectStore>) -> Result<Vec<String>, StorageError> {
    let top = store
        .list_with_delimiter(None)
        .await
        .map_err(super::bucket::object_store_error)?;
    let mut dirs = Vec::new();
    for tenant_dir in top.common_prefixes {
        let prefix = tenant_dir.clone().join(METRICS_SIGNAL);
        let objects: Vec<_> = store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(super::bucket::object_store_error)?;
        for object in objects {
            let parts: Vec<_> = object.location.parts().collect();
            if parts.len() == 4 && parts[3].as_ref() == META_FILE && is_block_id(parts[2].as_ref()) {
                dirs.push(Path::from_iter(parts.into_iter().take(3)).to_string());
            }
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Fetches the meta.json of blocks not known yet; unreadable ones are skipped with a warning
/// so one bad object cannot keep the store from opening.
pub async fn fetch_metas(store: &Arc<dyn ObjectStore>, dirs: Vec<String>) -> Vec<(BlockFile, Vec<u8>)> {
    futures::stream::iter(dirs)
        .map(|dir| async move {
            let path = Path::from(dir.as_str()).join(META_FILE);
            let bytes = match store.get(&path).await {
                Ok(result) => result.bytes().await,
                Err(error) => Err(error),
            };
            match bytes {
                Ok(bytes) => match parse_meta(&dir, &bytes) {
                    Ok(file) => Some((file, bytes.to_vec())),
                    Err(reason) => {
                        tracing::warn!(block = %dir, %reason, "skipping block with unusable meta.json");
                        None
                    }
                },
                Err(object_store::Error::NotFound { .. }) => None,
                Err(error) => {
                    tracing::warn!(block = %dir, %error, "could not read meta.json");
                    None
                }
            }
        })
        .buffer_unordered(META_FETCH_CONCURRENCY)
        .filter_map(|found| async move { found })
        .collect()
        .await
}

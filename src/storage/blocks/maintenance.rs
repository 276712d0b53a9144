//! Retention and compaction. Both only ever delete a block after readers can no longer see
//! it (retention: meta.json goes first) or after its replacement is visible (compaction:
//! the merged block's meta.json names its sources and is written before they are deleted).

use super::bucket::object_store_error;
use super::format::BlockFile;
use super::id::is_block_id;
use super::layout::{self, META_FILE};
use super::query::merge_series;
use super::{BlockStore, catalog, join_error};
use crate::storage::error::StorageError;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use std::collections::BTreeMap;
use std::sync::Arc;

/// How long a block directory without meta.json must sit untouched before it is garbage.
const ORPHAN_GRACE: chrono::TimeDelta = chrono::TimeDelta::hours(1);

impl BlockStore {
    pub(super) async fn delete_expired(&self, before: i64) -> Result<u64, StorageError> {
        let _guard = self.maintenance.lock().await;
        let expired: Vec<Arc<BlockFile>> = self
            .read_catalog()
            .every_block()
            .into_iter()
            .filter(|b| b.meta.max_time < before)
            .collect();
        let mut deleted = 0;
        for block in expired {
            self.delete_block(&block).await?;
            deleted += 1;
        }
        Ok(deleted)
    }

    pub(super) async fn compact_tenant(&self, tenant: &str) -> Result<u64, StorageError> {
        let _guard = self.maintenance.lock().await;
        self.delete_replaced(tenant).await?;
        self.delete_orphans(tenant).await?;
        let mut written = 0;
        for (position, &range) in self.compaction_ranges.iter().enumerate() {
            let target_level = u32::try_from(position).unwrap_or(u32::MAX).saturating_add(2);
            let visible = self.read_catalog().visible(tenant);
            for group in plan_groups(&visible, range, target_level) {
                self.merge_group(tenant, &group, target_level).await?;
                written += 1;
            }
        }
        Ok(written)
    }

    async fn merge_group(&self, tenant: &str, group: &[Arc<BlockFile>], level: u32) -> Result<(), StorageError> {
        let mut per_block = Vec::with_capacity(group.len());
        for block in group {
            per_block.push(self.read_block(block, &[], i64::MIN, i64::MAX).await?);
        }
        let merged = merge_series(per_block);
        let min_time = group.iter().map(|b| b.meta.min_time).min().unwrap_or(0);
        let max_time = group.iter().map(|b| b.meta.max_time).max().unwrap_or(0);
        let sources = group.iter().map(|b| b.meta.id.clone()).collect();
        // Once this returns, the merged block is visible and hides its sources.
        let meta = self
            .write_block(tenant, merged, min_time, max_time, level, sources)
            .await?;
        tracing::info!(tenant, block = %meta.id, level, sources = group.len(), "compacted blocks");
        for block in group {
            self.delete_block(block).await?;
        }
        Ok(())
    }

    /// Finishes compactions interrupted between writing the merged block and deleting its
    /// sources.
    async fn delete_replaced(&self, tenant: &str) -> Result<(), StorageError> {
        let (replaced_ids, all) = {
            let catalog = self.read_catalog();
            (catalog.replaced(tenant), catalog.all(tenant))
        };
        for block in all.iter().filter(|b| replaced_ids.contains(&b.meta.id)) {
            self.delete_block(block).await?;
        }
        Ok(())
    }

    /// Deletes the files of blocks that never got their meta.json (a writer died mid-block).
    /// Only directories untouched for `ORPHAN_GRACE` qualify, so a block another process is
    /// writing right now is left alone.
    async fn delete_orphans(&self, tenant: &str) -> Result<(), StorageError> {
        let tenant_prefix = layout::tenant_prefix(tenant);
        let objects: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&tenant_prefix))
            .try_collect()
            .await
            .map_err(object_store_error)?;
        let cutoff = chrono::Utc::now() - ORPHAN_GRACE;
        let mut dirs: BTreeMap<String, BlockDirState> = BTreeMap::new();
        for object in objects {
            let parts: Vec<_> = object.location.parts().collect();
            if parts.len() != 4 || !is_block_id(parts[2].as_ref()) {
                continue;
            }
            let dir = object_store::path::Path::from_iter(parts.iter().take(3).cloned()).to_string();
            let state = dirs.entry(dir).or_default();
            state.has_meta |= parts[3].as_ref() == META_FILE;
            state.recent |= object.last_modified > cutoff;
            state.paths.push(object.location.clone());
        }
        for (dir, state) in dirs {
            if state.has_meta || state.recent {
                continue;
            }
            tracing::warn!(block = %dir, files = state.paths.len(), "deleting files of a block that was never completed");
            for path in &state.paths {
                delete_if_present(self, path).await?;
            }
        }
        Ok(())
    }

    /// Removes a block: from this process' view first, then meta.json (other readers stop
    /// seeing it), then its data files.
    async fn delete_block(&self, block: &BlockFile) -> Result<(), StorageError> {
        let key = catalog::block_key(block);
        self.write_catalog().remove(&block.meta.tenant, &block.meta.id);
        self.forget_in_memory(std::slice::from_ref(&key));
        let cache = self.cache.clone();
        let cache_key = key.clone();
        tokio::task::spawn_blocking(move || cache.remove(&[cache_key]))
            .await
            .map_err(join_error)??;

        let meta_path = layout::block_file(&block.meta.tenant, &block.meta.id, META_FILE);
        delete_if_present(self, &meta_path).await?;
        for file in &block.files {
            let path = layout::block_file(&block.meta.tenant, &block.meta.id, &file.name);
            delete_if_present(self, &path).await?;
        }
        Ok(())
    }
}

/// What a listing says about one block directory.
#[derive(Default)]
struct BlockDirState {
    has_meta: bool,
    /// Some file was written within the grace period.
    recent: bool,
    paths: Vec<object_store::path::Path>,
}

async fn delete_if_present(blocks: &BlockStore, path: &object_store::path::Path) -> Result<(), StorageError> {
    match blocks.store.delete(path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(error) => Err(object_store_error(error)),
    }
}

/// Groups of blocks to merge into one block of `target_level`: blocks of at most that level
/// lying inside one `range`-aligned window, at least two of them and at least one of a lower
/// level (so a window already merged is left alone, but a late block is folded into it).
/// Only windows that time has left behind (some block starts at or after the window's end)
/// are merged, so a window is not rewritten each time the head cuts a block into it. A block
/// that crosses a window boundary is never merged at this level.
fn plan_groups(visible: &[Arc<BlockFile>], range: i64, target_level: u32) -> Vec<Vec<Arc<BlockFile>>> {
    let Some(newest_start) = visible.iter().map(|b| b.meta.min_time).max() else {
        return Vec::new();
    };
    let mut windows: BTreeMap<i64, Vec<Arc<BlockFile>>> = BTreeMap::new();
    for block in visible {
        if block.meta.level > target_level {
            continue;
        }
        let window_start = block.meta.min_time.div_euclid(range).saturating_mul(range);
        // `<=` accepts blocks whose max_time is the exclusive end of their range.
        let window_end = window_start.saturating_add(range);
        if block.meta.max_time <= window_end && newest_start >= window_end {
            windows.entry(window_start).or_default().push(Arc::clone(block));
        }
    }
    windows
        .into_values()
        .filter(|group| group.len() >= 2 && group.iter().any(|b| b.meta.level < target_level))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::blocks::BlockMeta;
    use crate::storage::blocks::format::FORMAT_VERSION;

    fn block(id: &str, min_time: i64, max_time: i64, level: u32) -> Arc<BlockFile> {
        Arc::new(BlockFile {
            format: FORMAT_VERSION,
            meta: BlockMeta {
                id: id.into(),
                tenant: "t".into(),
                signal: "metrics".into(),
                min_time,
                max_time,
                series: 1,
                samples: 1,
                bytes: 1,
                level,
            },
            histograms: 0,
            sources: vec![],
            files: vec![],
        })
    }

    #[test]
    fn groups_blocks_inside_aligned_windows() {
        let blocks = [
            block("a", 0, 99, 1),
            block("b", 100, 199, 1),
            block("c", 200, 299, 1),
            block("d", 300, 399, 1),
            block("e", 250, 350, 1),
            block("f", 600, 699, 2),
        ];
        let groups = plan_groups(&blocks, 300, 2);
        let ids: Vec<Vec<&str>> = groups
            .iter()
            .map(|g| g.iter().map(|b| b.meta.id.as_str()).collect())
            .collect();
        // d is alone in its window, e crosses the boundary, f is already level 2.
        assert_eq!(ids, vec![vec!["a", "b", "c"]]);
        assert!(
            plan_groups(
                &[block("x", 0, 99, 2), block("y", 100, 199, 2), block("z", 300, 399, 1)],
                300,
                2
            )
            .is_empty()
        );
        // The newest window is still being filled: left alone.
        assert!(plan_groups(&[block("x", 0, 99, 1), block("y", 100, 199, 1)], 300, 2).is_empty());
        // A late level-1 block is folded into the window's level-2 block.
        let late = plan_groups(
            &[block("x", 0, 299, 2), block("y", 100, 199, 1), block("z", 300, 399, 1)],
            300,
            2,
        );
        assert_eq!(late.len(), 1);
    }
}

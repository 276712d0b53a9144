//! The local redb cache: the catalog (every known block's meta.json) and the `series.parquet`
//! of blocks that were written or read here, so a restart neither re-reads every meta.json
//! nor re-downloads every series index. The bucket stays the source of truth: the cache is
//! reconciled with a listing on open, and a cache that cannot be opened is thrown away.

use crate::storage::error::StorageError;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Keyed by the block's directory in the bucket (`<tenant>/metrics/<id>`).
const CATALOG: TableDefinition<&str, &[u8]> = TableDefinition::new("catalog");
const SERIES_INDEX: TableDefinition<&str, &[u8]> = TableDefinition::new("series_index");
const INFO: TableDefinition<&str, u32> = TableDefinition::new("info");
/// Bumped when what the tables hold changes meaning; an old cache is then cleared.
const CACHE_VERSION: u32 = 1;

const FILE_NAME: &str = "blocks-cache.redb";

/// One block to record: its directory, its meta.json and, when known, its series.parquet.
pub struct CachedBlock {
    pub dir: String,
    pub meta: Vec<u8>,
    pub series_index: Option<Vec<u8>>,
}

#[derive(Clone)]
pub struct BlockCache {
    db: Arc<Database>,
}

fn cache_error(error: impl std::fmt::Display) -> StorageError {
    StorageError::Other(format!("block cache: {error}"))
}

impl BlockCache {
    /// Opens the cache in `dir`, recreating it when it is unreadable or of another version.
    pub fn open(dir: &Path) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let db = match Database::create(&path) {
            Ok(db) => db,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(cache_error(format!("{} is in use by another store", path.display())));
            }
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "block cache unreadable, recreating it");
                recreate(&path)?
            }
        };
        let cache = Self { db: Arc::new(db) };
        cache.check_version()?;
        Ok(cache)
    }

    fn check_version(&self) -> Result<(), StorageError> {
        let txn = self.db.begin_write().map_err(cache_error)?;
        {
            let mut info = txn.open_table(INFO).map_err(cache_error)?;
            let version = info.get("version").map_err(cache_error)?.map(|v| v.value());
            if version != Some(CACHE_VERSION) {
                txn.delete_table(CATALOG).map_err(cache_error)?;
                txn.delete_table(SERIES_INDEX).map_err(cache_error)?;
                info.insert("version", CACHE_VERSION).map_err(cache_error)?;
            }
        }
        txn.commit().map_err(cache_error)
    }

    /// Every cached catalog entry: (block directory, meta.json bytes).
    pub fn catalog(&self) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let txn = self.db.begin_read().map_err(cache_error)?;
        let table = match txn.open_table(CATALOG) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(error) => return Err(cache_error(error)),
        };
        let mut entries = Vec::new();
        for entry in table.iter().map_err(cache_error)? {
            let (key, value) = entry.map_err(cache_error)?;
            entries.push((key.value().to_string(), value.value().to_vec()));
        }
        Ok(entries)
    }

    pub fn series_index(&self, block_dir: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let txn = self.db.begin_read().map_err(cache_error)?;
        let table = match txn.open_table(SERIES_INDEX) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(error) => return Err(cache_error(error)),
        };
        Ok(table.get(block_dir).map_err(cache_error)?.map(|v| v.value().to_vec()))
    }

    /// Records blocks (meta.json bytes, and series index bytes when known) in one commit.
    pub fn insert(&self, blocks: &[CachedBlock]) -> Result<(), StorageError> {
        if blocks.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(cache_error)?;
        {
            let mut catalog = txn.open_table(CATALOG).map_err(cache_error)?;
            let mut indexes = txn.open_table(SERIES_INDEX).map_err(cache_error)?;
            for block in blocks {
                catalog
                    .insert(block.dir.as_str(), block.meta.as_slice())
                    .map_err(cache_error)?;
                if let Some(index) = &block.series_index {
                    indexes
                        .insert(block.dir.as_str(), index.as_slice())
                        .map_err(cache_error)?;
                }
            }
        }
        txn.commit().map_err(cache_error)
    }

    pub fn insert_series_index(&self, block_dir: &str, index: &[u8]) -> Result<(), StorageError> {
        let txn = self.db.begin_write().map_err(cache_error)?;
        {
            let mut indexes = txn.open_table(SERIES_INDEX).map_err(cache_error)?;
            indexes.insert(block_dir, index).map_err(cache_error)?;
        }
        txn.commit().map_err(cache_error)
    }

    pub fn remove(&self, block_dirs: &[String]) -> Result<(), StorageError> {
        if block_dirs.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(cache_error)?;
        {
            let mut catalog = txn.open_table(CATALOG).map_err(cache_error)?;
            let mut indexes = txn.open_table(SERIES_INDEX).map_err(cache_error)?;
            for dir in block_dirs {
                catalog.remove(dir.as_str()).map_err(cache_error)?;
                indexes.remove(dir.as_str()).map_err(cache_error)?;
            }
        }
        txn.commit().map_err(cache_error)
    }
}

fn recreate(path: &PathBuf) -> Result<Database, StorageError> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(error.into()),
    }
    Database::create(path).map_err(cache_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen_and_replaces_garbage_files() {
        let dir = tempfile::tempdir().unwrap();
        {
            let cache = BlockCache::open(dir.path()).unwrap();
            cache
                .insert(&[CachedBlock {
                    dir: "t/metrics/a".into(),
                    meta: b"{}".to_vec(),
                    series_index: Some(b"idx".to_vec()),
                }])
                .unwrap();
        }
        let cache = BlockCache::open(dir.path()).unwrap();
        assert_eq!(
            cache.catalog().unwrap(),
            vec![("t/metrics/a".to_string(), b"{}".to_vec())]
        );
        assert_eq!(cache.series_index("t/metrics/a").unwrap(), Some(b"idx".to_vec()));
        cache.remove(&["t/metrics/a".into()]).unwrap();
        assert!(cache.catalog().unwrap().is_empty());
        drop(cache);

        std::fs::write(dir.path().join(FILE_NAME), b"not a redb file at all").unwrap();
        let cache = BlockCache::open(dir.path()).unwrap();
        assert!(cache.catalog().unwrap().is_empty());
    }
}

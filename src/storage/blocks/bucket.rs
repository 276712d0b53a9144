//! Builds the object store client from configuration.

use crate::storage::config::ObjectStoreConfig;
use crate::storage::error::StorageError;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use std::sync::Arc;

/// The configured bucket. The local directory is created if missing, because the embedded
/// default must work on a fresh machine.
pub fn build_object_store(config: &ObjectStoreConfig) -> Result<Arc<dyn ObjectStore>, StorageError> {
    match config {
        ObjectStoreConfig::Filesystem { path } => Ok(build_local(path)?),
        ObjectStoreConfig::S3 { .. } => build_s3(config),
    }
}

/// The local-filesystem bucket, typed, so writers can fsync what it wrote.
pub fn build_local(path: &std::path::Path) -> Result<Arc<LocalFileSystem>, StorageError> {
    std::fs::create_dir_all(path)?;
    // Automatic cleanup removes the empty block directory once its files are deleted.
    let store = LocalFileSystem::new_with_prefix(path)
        .map_err(object_store_error)?
        .with_automatic_cleanup(true);
    Ok(Arc::new(store))
}

/// `object_store` renames local files into place without fsync; a block must survive power
/// loss once the WAL behind it is truncated, so its files and every directory up to the
/// bucket root are synced.
pub fn sync_local(local: &LocalFileSystem, paths: &[object_store::path::Path]) -> Result<(), StorageError> {
    let mut dirs = std::collections::BTreeSet::new();
    for path in paths {
        let file = local.path_to_filesystem(path).map_err(object_store_error)?;
        std::fs::File::open(&file)?.sync_all()?;
        // A path of n parts has its n-th ancestor at the bucket root.
        let depth = path.parts().count();
        dirs.extend(file.ancestors().skip(1).take(depth).map(|d| d.to_path_buf()));
    }
    for dir in dirs {
        std::fs::File::open(&dir)?.sync_all()?;
    }
    Ok(())
}

fn build_s3(config: &ObjectStoreConfig) -> Result<Arc<dyn ObjectStore>, StorageError> {
    match config {
        ObjectStoreConfig::Filesystem { path } => Ok(build_local(path)?),
        ObjectStoreConfig::S3 {
            bucket,
            endpoint,
            region,
            access_key_id,
            secret_access_key,
            force_path_style,
            allow_http,
        } => {
            // Start from the environment so instance roles and AWS_* variables work when the
            // config leaves credentials empty; explicit settings override.
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_region(region)
                .with_allow_http(*allow_http);
            if !endpoint.is_empty() {
                builder = builder.with_endpoint(endpoint);
            }
            if !access_key_id.is_empty() {
                builder = builder
                    .with_access_key_id(access_key_id)
                    .with_secret_access_key(secret_access_key);
            }
            if *force_path_style {
                builder = builder.with_virtual_hosted_style_request(false);
            }
            Ok(Arc::new(builder.build().map_err(object_store_error)?))
        }
    }
}

pub fn object_store_error(error: object_store::Error) -> StorageError {
    StorageError::ObjectStore(error.to_string())
}

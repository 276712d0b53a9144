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
        ObjectStoreConfig::Filesystem { path } => {
            std::fs::create_dir_all(path)?;
            // Automatic cleanup removes the empty block directory once its files are deleted.
            let store = LocalFileSystem::new_with_prefix(path)
                .map_err(object_store_error)?
                .with_automatic_cleanup(true);
            Ok(Arc::new(store))
        }
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

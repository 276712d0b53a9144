//! An S3-compatible server in the test process: s3s + s3s-fs behind hyper on 127.0.0.1:0,
//! serving a temporary directory. Each bucket is a directory under it. The server stops when
//! the `TestS3` is dropped (and at the latest with the test's runtime).

use heimsight::storage::ObjectStoreConfig;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use std::net::SocketAddr;
use std::path::PathBuf;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const ACCESS_KEY: &str = "heimsight-test";
pub const SECRET_KEY: &str = "heimsight-test-secret";

pub struct TestS3 {
    pub addr: SocketAddr,
    root: tempfile::TempDir,
    accept_loop: JoinHandle<()>,
}

impl TestS3 {
    /// Starts the server with one empty bucket named `bucket`.
    pub async fn start(bucket: &str) -> Self {
        let root = tempfile::tempdir().expect("temp dir for the S3 root");
        let server = Self::start_in(root).await;
        server.create_bucket(bucket);
        server
    }

    async fn start_in(root: tempfile::TempDir) -> Self {
        let fs = s3s_fs::FileSystem::new(root.path())
            .unwrap_or_else(|error| panic!("s3s-fs over {}: {error:?}", root.path().display()));
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let accept_loop = tokio::spawn(async move {
            let http = ConnBuilder::new(TokioExecutor::new());
            while let Ok((socket, _)) = listener.accept().await {
                let connection = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
        });
        Self {
            addr,
            root,
            accept_loop,
        }
    }

    /// A bucket is a directory of the server's root.
    pub fn create_bucket(&self, bucket: &str) {
        std::fs::create_dir_all(self.root.path().join(bucket)).expect("create bucket directory");
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where the server keeps a bucket's objects (to inspect or damage them in tests).
    pub fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.path().join(bucket)
    }

    /// The store configuration a Heimsight process would use for this server.
    pub fn object_store_config(&self, bucket: &str) -> ObjectStoreConfig {
        ObjectStoreConfig::S3 {
            bucket: bucket.to_string(),
            endpoint: self.endpoint(),
            region: "us-east-1".to_string(),
            access_key_id: ACCESS_KEY.to_string(),
            secret_access_key: SECRET_KEY.to_string(),
            force_path_style: true,
            allow_http: true,
        }
    }
}

impl Drop for TestS3 {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

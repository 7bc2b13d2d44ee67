//! An S3-compatible store on loopback (s3s-fs over a folder): the bucket of `zipcoord localnet`, of
//! `zipcoord serve --dev` when no store is configured, and of the tests. It checks SigV4 signatures, presigned URLs and POST policies as AWS does, so grants are exercised for
//! real.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio::task::JoinHandle;

use crate::s3::{Addressing, S3Secret, S3Settings};
use crate::settings::s3_store;

/// A running store with one bucket.
pub struct LocalStore {
    pub addr: SocketAddr,
    pub root: PathBuf,
    pub bucket: String,
    pub access_key_id: String,
    secret_access_key: String,
    task: JoinHandle<()>,
}

impl LocalStore {
    /// Serves `root` (created if missing) on 127.0.0.1 with bucket `bucket` and one key pair.
    pub async fn start(
        root: &Path,
        bucket: &str,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> std::io::Result<Self> {
        std::fs::create_dir_all(root.join(bucket))?;
        let fs = s3s_fs::FileSystem::new(root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        let mut builder = s3s::service::S3ServiceBuilder::new(fs);
        builder.set_auth(s3s::auth::SimpleAuth::from_single(access_key_id, secret_access_key));
        let service = builder.build();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let http = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else { break };
                let connection =
                    http.serve_connection(hyper_util::rt::TokioIo::new(socket), service.clone()).into_owned();
                tokio::spawn(async move {
                    // A client that hangs up mid-request is its own problem.
                    let _ = connection.await;
                });
            }
        });
        Ok(LocalStore {
            addr,
            root: root.to_path_buf(),
            bucket: bucket.to_string(),
            access_key_id: access_key_id.to_string(),
            secret_access_key: secret_access_key.to_string(),
            task,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Settings that point zipcoord at this store (path-style addressing, the defaults otherwise).
    pub fn s3_settings(&self) -> S3Settings {
        let secret = S3Secret::new(self.secret_access_key.clone());
        let store =
            s3_store(&self.endpoint(), &self.bucket, &self.access_key_id, secret).expect("a loopback endpoint parses");
        S3Settings { addressing: Addressing::Path, ..store }
    }

    /// Where object `key` lies on disk.
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.root.join(&self.bucket).join(key)
    }
}

impl Drop for LocalStore {
    fn drop(&mut self) {
        self.task.abort();
    }
}

//! An S3-compatible store on loopback (s3s-fs over a folder): the bucket of `zipcoord localnet`, of
//! `zipcoord serve --dev` when no store is configured, and of the tests. It checks SigV4 signatures, presigned
//! URLs and POST policies as AWS does, so grants are exercised for real; and it refuses keys that S3 keeps
//! literally but a folder would resolve, so no grant reaches past its folder here either.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::PutObjectInput;
use s3s::path::S3Path;
use s3s::{s3_error, S3Request, S3Result};
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
        builder.set_access(LiteralKeys);
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

/// S3 keeps `a/../b` as those very bytes; a folder on disk resolves it to `b`. A POST policy that allows
/// `miners/A/` would then write into `miners/B/`, so keys with `.`, `..` or empty segments are refused before
/// anything is read or written (as is any request without a signature, s3s's default).
struct LiteralKeys;

fn literal_key(key: &str) -> S3Result<()> {
    if key.split('/').any(|segment| segment.is_empty() || segment == "." || segment == "..") {
        return Err(s3_error!(InvalidArgument, "object keys with '.', '..' or empty segments are not stored here"));
    }
    Ok(())
}

#[async_trait::async_trait]
impl S3Access for LiteralKeys {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_none() {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        }
        match cx.s3_path() {
            S3Path::Object { key, .. } => literal_key(key),
            _ => Ok(()),
        }
    }

    /// POST uploads name their key in the form, after the path was checked.
    async fn put_object(&self, req: &mut S3Request<PutObjectInput>) -> S3Result<()> {
        literal_key(&req.input.key)
    }
}

impl Drop for LocalStore {
    fn drop(&mut self) {
        self.task.abort();
    }
}

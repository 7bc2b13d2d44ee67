//! Where the metagraph comes from, and the shared handle that holds the latest good snapshot.
//!
//! A [`MetagraphSource`] produces whole snapshots; [`MetagraphHandle`] swaps them in atomically so requests
//! always see one consistent snapshot. Sources: [`file`] (a JSON file), [`dev`] (the well-known dev keys) and
//! [`subtensor`] (the chain over JSON-RPC).

pub mod dev;
pub mod file;
pub mod subtensor;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use crate::domain::metagraph::MetagraphSnapshot;

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("cannot read metagraph file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("invalid metagraph data: {0}")]
    Invalid(String),
    #[error("no subtensor endpoint answered: {0}")]
    Unreachable(String),
}

pub type SourceFuture<'a> = Pin<Box<dyn Future<Output = Result<MetagraphSnapshot, ChainError>> + Send + 'a>>;

/// Something that can produce the subnet's current metagraph.
pub trait MetagraphSource: Send + Sync {
    /// Short description for logs and `/healthcheck` (never contains credentials).
    fn describe(&self) -> String;
    /// Fetches a complete snapshot; `now_unix` stamps it.
    fn fetch(&self, now_unix: i64) -> SourceFuture<'_>;
}

/// The latest good snapshot, shared by every request, and what went wrong with the last refresh, if anything.
pub struct MetagraphHandle {
    source: Arc<dyn MetagraphSource>,
    current: RwLock<Option<Arc<MetagraphSnapshot>>>,
    last_failure: RwLock<Option<RefreshFailure>>,
}

/// A refresh that failed since the last successful one.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshFailure {
    pub at_unix: i64,
    pub reason: String,
}

impl MetagraphHandle {
    pub fn new(source: Arc<dyn MetagraphSource>) -> Self {
        MetagraphHandle { source, current: RwLock::new(None), last_failure: RwLock::new(None) }
    }

    pub fn describe(&self) -> String {
        self.source.describe()
    }

    /// The snapshot requests should use, if one was ever loaded.
    pub fn snapshot(&self) -> Option<Arc<MetagraphSnapshot>> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The failed refresh since the last good one, if any.
    pub fn last_failure(&self) -> Option<RefreshFailure> {
        self.last_failure.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Fetches a new snapshot and swaps it in; on failure the previous snapshot stays.
    pub async fn refresh(&self, now_unix: i64) -> Result<Arc<MetagraphSnapshot>, ChainError> {
        let fetched = self.source.fetch(now_unix).await;
        let mut last_failure = self.last_failure.write().unwrap_or_else(|e| e.into_inner());
        match fetched {
            Ok(snapshot) => {
                let snapshot = Arc::new(snapshot);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(snapshot.clone());
                *last_failure = None;
                Ok(snapshot)
            }
            Err(error) => {
                *last_failure = Some(RefreshFailure { at_unix: now_unix, reason: error.to_string() });
                Err(error)
            }
        }
    }
}

//! Where the metagraph comes from, and the shared handle that holds the latest good snapshot.
//!
//! A [`MetagraphSource`] produces whole snapshots; [`MetagraphHandle`] swaps them in atomically so requests
//! always see one consistent snapshot. Sources: [`file`] (a JSON file), [`dev`] (the well-known dev keys) and
//! [`subtensor`] (the chain over JSON-RPC).

pub mod dev;
pub mod file;
pub mod subtensor;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;

use crate::domain::access::metagraph::MetagraphSnapshot;
use subtensor::rpc::RpcEndpoint;

/// Where the metagraph comes from, as an operator names it: `dev`, `file:PATH`, `subtensor` or
/// `subtensor:URL[,URL...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetagraphSpec {
    /// The well-known dev keys (local networks only).
    Dev,
    /// A JSON file of neurons, re-read on every refresh.
    File(PathBuf),
    /// The chain, over these JSON-RPC endpoints tried in order.
    Subtensor(Vec<RpcEndpoint>),
}

impl FromStr for MetagraphSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "dev" {
            Ok(MetagraphSpec::Dev)
        } else if let Some(path) = s.strip_prefix("file:").filter(|p| !p.is_empty()) {
            Ok(MetagraphSpec::File(PathBuf::from(path)))
        } else if s == "subtensor" {
            Ok(MetagraphSpec::Subtensor(vec![subtensor::FINNEY_ENDPOINT.parse()?]))
        } else if let Some(list) = s.strip_prefix("subtensor:") {
            let endpoints = list.split(',').map(str::parse).collect::<Result<Vec<RpcEndpoint>, _>>()?;
            Ok(MetagraphSpec::Subtensor(endpoints))
        } else {
            // Never echo the value: a subtensor URL may carry an API key.
            Err("unsupported metagraph source: use 'dev', 'file:PATH', 'subtensor' (the public finney \
                 entrypoint) or 'subtensor:URL[,URL...]'"
                .to_string())
        }
    }
}

impl MetagraphSpec {
    /// The source this spec names, for subnet `netuid` (the server's and the validator client's).
    pub fn open(&self, netuid: u16, chain_timeout: Duration) -> Arc<dyn MetagraphSource> {
        match self {
            MetagraphSpec::Dev => Arc::new(dev::DevSource::new()),
            MetagraphSpec::File(path) => Arc::new(file::FileSource::new(path.clone())),
            MetagraphSpec::Subtensor(endpoints) => {
                Arc::new(subtensor::SubtensorSource::new(endpoints.clone(), netuid, chain_timeout))
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("cannot read metagraph file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("invalid metagraph data: {0}")]
    Invalid(String),
    #[error("no subtensor endpoint answered: {0}")]
    Unreachable(String),
    /// One step of reading the metagraph from one endpoint failed (the endpoint is named by the caller).
    #[error("{step}: {reason}")]
    Step { step: &'static str, reason: String },
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
        self.current.read().clone()
    }

    /// The failed refresh since the last good one, if any.
    pub fn last_failure(&self) -> Option<RefreshFailure> {
        self.last_failure.read().clone()
    }

    /// Fetches a new snapshot and swaps it in; on failure the previous snapshot stays.
    pub async fn refresh(&self, now_unix: i64) -> Result<Arc<MetagraphSnapshot>, ChainError> {
        let fetched = self.source.fetch(now_unix).await;
        let mut last_failure = self.last_failure.write();
        match fetched {
            Ok(snapshot) => {
                let snapshot = Arc::new(snapshot);
                *self.current.write() = Some(snapshot.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metagraph_specs() {
        assert_eq!("dev".parse::<MetagraphSpec>(), Ok(MetagraphSpec::Dev));
        assert_eq!("file:/tmp/m.json".parse::<MetagraphSpec>(), Ok(MetagraphSpec::File("/tmp/m.json".into())));
        assert!("file:".parse::<MetagraphSpec>().is_err());
        assert!("chain".parse::<MetagraphSpec>().is_err());
        let Ok(MetagraphSpec::Subtensor(finney)) = "subtensor".parse::<MetagraphSpec>() else { panic!() };
        assert_eq!(finney[0].to_string(), "https://entrypoint-finney.opentensor.ai");
        let Ok(MetagraphSpec::Subtensor(two)) = "subtensor:http://127.0.0.1:9944,wss://b.example:443".parse() else {
            panic!()
        };
        assert_eq!(two.len(), 2);
        assert!("subtensor:".parse::<MetagraphSpec>().is_err());
        let error = "subtensor:ftp://x?key=hunter2".parse::<MetagraphSpec>().unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
    }
}

//! Puts a validator's weights on chain: reads the subnet's state from the first node that answers, plans the
//! call (`weight_plan`), signs it, submits it with `author_submitExtrinsic`, and confirms it by reading the state
//! it changes (the validator's `LastUpdate`, or its timelocked commits). A node that fails or refuses is retried
//! with backoff, the next endpoint first; a refusal the chain's state explains (not registered, no permit, rate
//! limited) or a runtime that no longer fits is final, and nothing is sent.

use std::time::Duration;

use serde_json::json;

use super::calls::WeightCall;
use super::chain_state::{
    commit_epoch, read_chain, read_commits, read_last_update, ChainView, ReadError, RuntimeCache,
};
use super::extrinsic::{sign_extrinsic, SignedExtrinsic};
use super::rpc::{node_client, RpcCaller, RpcEndpoint, RpcError};
use super::runtime::RuntimeError;
use super::weight_plan::{plan_weights, CommitTarget, PlannedWeights, WeightRefusal, WeightRequest};
use crate::domain::access::keys::Keypair;

/// How weights are set.
#[derive(Debug, Clone)]
pub struct SetterSettings {
    pub netuid: u16,
    /// The beacon whose rounds open commits: quicknet's key on a real chain.
    pub beacon_public_key: [u8; 96],
    /// Seconds per block, for the reveal round and the confirmation's patience (12 on finney).
    pub block_time: Duration,
    /// Blocks to wait for the chain's state to show a submission.
    pub confirm_blocks: u64,
    /// Submissions tried before giving up, and the pause after the first failure (doubled each time).
    pub attempts: u32,
    pub backoff: Duration,
    /// Bounds each JSON-RPC call.
    pub timeout: Duration,
}

impl SetterSettings {
    /// Three submissions from two seconds apart, each confirmed within three blocks: what a validator uses.
    pub fn standard(netuid: u16, beacon_public_key: [u8; 96], block_time: Duration, timeout: Duration) -> Self {
        SetterSettings {
            netuid,
            beacon_public_key,
            block_time,
            confirm_blocks: 3,
            attempts: 3,
            backoff: Duration::from_secs(2),
            timeout,
        }
    }
}

/// What was put on chain.
#[derive(Debug, Clone)]
pub struct WeightsSet {
    pub planned: PlannedWeights,
    pub extrinsic: SignedExtrinsic,
    /// The transaction hash the node answered.
    pub transaction: String,
    pub endpoint: String,
    /// The block the chain's state showed it at, and the attempt that got it there (1-based).
    pub block: u64,
    pub attempt: u32,
}

/// A planned and signed call that is not sent (`--dry-run`).
#[derive(Debug, Clone)]
pub struct PreparedWeights {
    pub view: ChainViewSummary,
    pub planned: PlannedWeights,
    pub extrinsic: SignedExtrinsic,
}

/// The parts of the chain's state a person checks a dry run against.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainViewSummary {
    pub block: u64,
    pub spec_version: u32,
    pub nonce: u32,
    pub commit_reveal: bool,
    pub endpoint: String,
}

/// Why weights were not set.
#[derive(Debug, thiserror::Error)]
pub enum SetWeightsError {
    /// The chain's state says this validator cannot set weights now: nothing was sent.
    #[error("nothing sent: {0}")]
    Refused(#[from] WeightRefusal),
    /// The runtime no longer has the call, or has an extension this validator cannot fill: nothing was sent.
    #[error("nothing sent: {0}")]
    Runtime(RuntimeError),
    #[error("no node could be read: {0}")]
    Unreadable(String),
    #[error("not set after {attempts} attempts: {last}")]
    Failed { attempts: u32, last: String },
}

/// Why one attempt failed, and whether another may succeed.
enum AttemptError {
    Final(SetWeightsError),
    Retry(String),
}

impl From<ReadError> for AttemptError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Runtime(runtime) => AttemptError::Final(SetWeightsError::Runtime(runtime)),
            ReadError::Rpc { .. } => AttemptError::Retry(error.to_string()),
        }
    }
}

/// Sets weights through a list of subtensor endpoints.
pub struct WeightSetter {
    endpoints: Vec<RpcEndpoint>,
    settings: SetterSettings,
    http: reqwest::Client,
    runtime: RuntimeCache,
}

impl WeightSetter {
    pub fn new(endpoints: Vec<RpcEndpoint>, settings: SetterSettings) -> Self {
        let http = node_client(settings.timeout);
        WeightSetter { endpoints, settings, http, runtime: RuntimeCache::default() }
    }

    fn has_endpoints(&self) -> Result<(), SetWeightsError> {
        if self.endpoints.is_empty() {
            return Err(SetWeightsError::Unreadable("no subtensor endpoint is configured".to_string()));
        }
        Ok(())
    }

    fn rpc<'a>(&'a self, endpoint: &'a RpcEndpoint) -> RpcCaller<'a> {
        RpcCaller { http: &self.http, endpoint, timeout: self.settings.timeout }
    }

    fn target(&self) -> CommitTarget<'_> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        CommitTarget {
            beacon_public_key: &self.settings.beacon_public_key,
            block_time_secs: self.settings.block_time.as_secs_f64(),
            now_secs: now.as_secs_f64(),
        }
    }

    /// The subnet's state and this validator's standing, from the first endpoint that answers.
    pub async fn read_state(&self, signer: &Keypair) -> Result<super::weight_plan::SubnetWeightState, SetWeightsError> {
        let mut failures = Vec::new();
        for endpoint in &self.endpoints {
            match read_chain(&self.rpc(endpoint), &self.runtime, self.settings.netuid, &signer.hotkey()).await {
                Ok(view) => return Ok(view.state),
                Err(ReadError::Runtime(error)) => return Err(SetWeightsError::Runtime(error)),
                Err(error) => failures.push(format!("{endpoint}: {error}")),
            }
        }
        Err(SetWeightsError::Unreadable(failures.join("; ")))
    }

    /// Reads the chain from the first endpoint that answers, plans and signs, and sends nothing.
    pub async fn prepare(&self, signer: &Keypair, request: &WeightRequest) -> Result<PreparedWeights, SetWeightsError> {
        self.has_endpoints()?;
        let mut failures = Vec::new();
        for endpoint in &self.endpoints {
            match self.prepare_on(endpoint, signer, request).await {
                Ok((prepared, _)) => return Ok(prepared),
                Err(AttemptError::Final(error)) => return Err(error),
                Err(AttemptError::Retry(why)) => failures.push(format!("{endpoint}: {why}")),
            }
        }
        Err(SetWeightsError::Unreadable(failures.join("; ")))
    }

    async fn prepare_on(
        &self,
        endpoint: &RpcEndpoint,
        signer: &Keypair,
        request: &WeightRequest,
    ) -> Result<(PreparedWeights, ChainView), AttemptError> {
        let view = read_chain(&self.rpc(endpoint), &self.runtime, self.settings.netuid, &signer.hotkey()).await?;
        let final_error = |e: SetWeightsError| AttemptError::Final(e);
        let planned = plan_weights(&view.state, request, *signer.hotkey().public_bytes(), self.target())
            .map_err(|refusal| final_error(refusal.into()))?;
        let call = planned.call.encode(&view.runtime).map_err(|e| final_error(SetWeightsError::Runtime(e)))?;
        let extrinsic = sign_extrinsic(&view.runtime, &call, &view.signing, signer)
            .map_err(|e| final_error(SetWeightsError::Runtime(e)))?;
        let summary = ChainViewSummary {
            block: view.state.block,
            spec_version: view.signing.spec_version,
            nonce: view.signing.nonce,
            commit_reveal: view.state.commit_reveal,
            endpoint: endpoint.to_string(),
        };
        Ok((PreparedWeights { view: summary, planned, extrinsic }, view))
    }

    /// Sets `request`'s weights: each attempt reads the chain afresh (state, nonce, era), submits, and waits for
    /// the chain's state to show the submission; failures are retried with backoff, endpoints in turn. A
    /// submission that lands after its attempt gave up is found by the next attempt before it sends again.
    pub async fn set(&self, signer: &Keypair, request: &WeightRequest) -> Result<WeightsSet, SetWeightsError> {
        let mut pause = self.settings.backoff;
        let mut last = String::from("no endpoint");
        let mut sent: Vec<Submitted> = Vec::new();
        let attempts = self.settings.attempts.max(1);
        self.has_endpoints()?;
        for attempt in 1..=attempts {
            let endpoint = &self.endpoints[(attempt as usize - 1) % self.endpoints.len()];
            match self.attempt(endpoint, signer, request, &mut sent).await {
                Ok(mut set) => {
                    set.attempt = attempt;
                    return Ok(set);
                }
                Err(AttemptError::Final(error)) => return Err(error),
                Err(AttemptError::Retry(why)) => {
                    tracing::warn!(%endpoint, attempt, reason = %why, "setting weights failed; retrying");
                    last = format!("{endpoint}: {why}");
                }
            }
            if attempt < attempts {
                tokio::time::sleep(pause).await;
                pause = pause.saturating_mul(2);
            }
        }
        Err(SetWeightsError::Failed { attempts, last })
    }

    async fn attempt(
        &self,
        endpoint: &RpcEndpoint,
        signer: &Keypair,
        request: &WeightRequest,
        sent: &mut Vec<Submitted>,
    ) -> Result<WeightsSet, AttemptError> {
        let rpc = self.rpc(endpoint);
        for earlier in sent.iter() {
            if let Some(block) = earlier.seen(&rpc, signer).await? {
                return Ok(earlier.clone().landed(endpoint, block));
            }
        }
        let (prepared, view) = self.prepare_on(endpoint, signer, request).await?;
        let hex = format!("0x{}", hex::encode(&prepared.extrinsic.bytes));
        let transaction = rpc.call("author_submitExtrinsic", json!([hex])).await.map_err(|e| match e {
            RpcError::Node { code, message } => AttemptError::Retry(format!("the node refused it ({code}): {message}")),
            other => AttemptError::Retry(format!("submission: {other}")),
        })?;
        let state = &view.state;
        let uid = prepared.planned.uid;
        // A commit lands in the epoch of the block that includes it: this one or, across a boundary, the next
        // (under the stateful counter, the look-ahead may add one more).
        let epochs = match (&prepared.planned.call, &state.epoch_schedule) {
            (WeightCall::CommitTimelockedWeights { .. }, Some(schedule)) => {
                let now = schedule.subnet_epoch_index;
                vec![now, now + 1, now + 2]
            }
            (WeightCall::CommitTimelockedWeights { .. }, None) => {
                let now = commit_epoch(state.block, state.netuid, state.tempo);
                vec![now, now + 1]
            }
            (WeightCall::SetWeights { .. }, _) => Vec::new(),
        };
        let submitted = Submitted {
            prepared,
            runtime: view.runtime.clone(),
            transaction: transaction.as_str().unwrap_or_default().to_string(),
            netuid: state.netuid,
            uid,
            last_update_before: state.last_update.get(usize::from(uid)).copied().unwrap_or(0),
            epochs,
        };
        sent.push(submitted.clone());
        let patience = self.settings.block_time.saturating_mul(self.settings.confirm_blocks.max(1) as u32 + 1);
        let poll = (self.settings.block_time / 4).max(Duration::from_millis(50));
        let started = tokio::time::Instant::now();
        loop {
            if let Some(block) = submitted.seen(&rpc, signer).await? {
                return Ok(submitted.landed(endpoint, block));
            }
            if started.elapsed() >= patience {
                return Err(AttemptError::Retry(format!(
                    "submitted as {} but the chain's state did not show it within {} blocks",
                    submitted.transaction, self.settings.confirm_blocks
                )));
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// A submission, and how to see it in the chain's state.
#[derive(Clone)]
struct Submitted {
    prepared: PreparedWeights,
    runtime: std::sync::Arc<super::runtime::RuntimeLayout>,
    transaction: String,
    netuid: u16,
    uid: u16,
    last_update_before: u64,
    /// The epochs a commit may be filed under (none for `set_weights`).
    epochs: Vec<u64>,
}

impl Submitted {
    /// The block the chain's state shows this submission at, if it does: the validator's `LastUpdate` moved
    /// (`set_weights`), or its commit is filed with this ciphertext and round.
    async fn seen(&self, rpc: &RpcCaller<'_>, signer: &Keypair) -> Result<Option<u64>, AttemptError> {
        let planned = &self.prepared.planned;
        let WeightCall::CommitTimelockedWeights { commit, reveal_round, .. } = &planned.call else {
            let last_update = read_last_update(rpc, &self.runtime, self.netuid, self.uid).await?;
            return Ok((last_update > self.last_update_before).then_some(last_update));
        };
        for &epoch in &self.epochs {
            let commits = read_commits(rpc, &self.runtime, self.netuid, epoch).await?;
            let ours = commits.iter().find(|(who, _, ciphertext, round)| {
                who == signer.hotkey().public_bytes() && round == reveal_round && ciphertext == commit
            });
            if let Some((_, block, _, _)) = ours {
                return Ok(Some(*block));
            }
        }
        Ok(None)
    }

    fn landed(self, endpoint: &RpcEndpoint, block: u64) -> WeightsSet {
        WeightsSet {
            planned: self.prepared.planned,
            extrinsic: self.prepared.extrinsic,
            transaction: self.transaction,
            endpoint: endpoint.to_string(),
            block,
            attempt: 0,
        }
    }
}

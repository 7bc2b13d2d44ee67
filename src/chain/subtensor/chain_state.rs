//! The chain state a weight setter reads from one node at one block: the finalized head, the runtime (its
//! versions and metadata, kept per spec version), the genesis hash, the subnet's weight hyperparameters and the
//! validator's standing, each storage item addressed and checked through the metadata, and the signer's next
//! nonce. Reads only; nothing here is sent.

use std::sync::Arc;

use parity_scale_codec::{Decode, Encode};
use parking_lot::Mutex;
use serde_json::json;

use super::epoch_schedule::EpochScheduleState;
use super::extrinsic::SigningContext;
use super::rpc::{hex_bytes, hex_number, RpcCaller, RpcError};
use super::runtime::{RuntimeError, RuntimeLayout, Shape, SUBTENSOR_PALLET};
use super::weight_plan::SubnetWeightState;
use crate::domain::hotkey::Hotkey;
use crate::domain::judging::weights::WeightLimits;

/// Why the chain could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{step}: {source}")]
    Rpc { step: &'static str, source: RpcError },
    #[error("{0}")]
    Runtime(#[from] RuntimeError),
}

fn at(step: &'static str) -> impl Fn(RpcError) -> ReadError {
    move |source| ReadError::Rpc { step, source }
}

/// The runtime's metadata, read again only when the spec version changes.
#[derive(Default)]
pub struct RuntimeCache(Mutex<Option<(u32, Arc<RuntimeLayout>)>>);

/// One read of the chain: its state, its runtime, and what a transaction made now commits to.
pub struct ChainView {
    pub state: SubnetWeightState,
    pub runtime: Arc<RuntimeLayout>,
    pub signing: SigningContext,
}

/// The finalized head and its number.
async fn finalized_head(rpc: &RpcCaller<'_>) -> Result<(String, u64), ReadError> {
    let head = rpc.call("chain_getFinalizedHead", json!([])).await.map_err(at("finalized head"))?;
    let head = head
        .as_str()
        .ok_or_else(|| ReadError::Rpc { step: "finalized head", source: RpcError::Malformed("not a hash".into()) })?
        .to_string();
    let header = rpc.call("chain_getHeader", json!([head])).await.map_err(at("block header"))?;
    Ok((head, hex_number(&header["number"]).map_err(at("block header"))?))
}

fn hash32(value: &serde_json::Value, step: &'static str) -> Result<[u8; 32], ReadError> {
    let bytes = hex_bytes(value).map_err(at(step))?;
    bytes.try_into().map_err(|_| ReadError::Rpc { step, source: RpcError::Malformed("not a 32-byte hash".into()) })
}

impl RuntimeCache {
    async fn layout(&self, rpc: &RpcCaller<'_>, spec: u32, head: &str) -> Result<Arc<RuntimeLayout>, ReadError> {
        if let Some((cached, layout)) = &*self.0.lock() {
            if *cached == spec {
                return Ok(layout.clone());
            }
        }
        let bytes =
            rpc.state_call("Metadata_metadata_at_version", &15u32.encode(), head).await.map_err(at("metadata"))?;
        let layout = Arc::new(RuntimeLayout::from_metadata(&bytes)?);
        tracing::info!(spec_version = spec, "loaded the runtime's metadata for weight setting");
        *self.0.lock() = Some((spec, layout.clone()));
        Ok(layout)
    }
}

/// Reads storage through the metadata at one block.
struct StorageReader<'a> {
    rpc: &'a RpcCaller<'a>,
    runtime: &'a RuntimeLayout,
    /// The block read at; the best block when none.
    block: Option<&'a str>,
}

impl StorageReader<'_> {
    async fn read<T: Decode>(&self, item: &str, keys: &[(Shape, Vec<u8>)], value: Shape) -> Result<T, ReadError> {
        let layout = self.runtime.storage(SUBTENSOR_PALLET, item)?;
        let shapes: Vec<Shape> = keys.iter().map(|(shape, _)| shape.clone()).collect();
        layout.expect(&shapes, &value)?;
        let encoded: Vec<&[u8]> = keys.iter().map(|(_, bytes)| bytes.as_slice()).collect();
        let bytes = self.raw(layout.key(&encoded)?).await?;
        Ok(layout.decode(bytes.as_deref())?)
    }

    /// The bytes under `key`, or `None` when the node holds nothing there.
    async fn raw(&self, key: Vec<u8>) -> Result<Option<Vec<u8>>, ReadError> {
        let key = format!("0x{}", hex::encode(key));
        let params = match self.block {
            Some(block) => json!([key, block]),
            None => json!([key]),
        };
        let answer = self.rpc.call("state_getStorage", params).await.map_err(at("storage"))?;
        if answer.is_null() {
            return Ok(None);
        }
        Ok(Some(hex_bytes(&answer).map_err(at("storage"))?))
    }
}

fn vec_of(shape: Shape) -> Shape {
    Shape::Sequence(Box::new(shape))
}

/// The hotkey's uid on `netuid`, if registered (`Uids` holds nothing for an unregistered hotkey).
async fn uid_of(storage: &StorageReader<'_>, netuid: u16, hotkey: &Hotkey) -> Result<Option<u16>, ReadError> {
    let layout = storage.runtime.storage(SUBTENSOR_PALLET, "Uids")?;
    layout.expect(&[Shape::U16, Shape::Array(32, Box::new(Shape::U8))], &Shape::U16)?;
    match storage.raw(layout.key(&[&netuid.encode(), hotkey.public_bytes()])?).await? {
        None => Ok(None),
        Some(bytes) => Ok(Some(layout.decode(Some(&bytes))?)),
    }
}

/// Reads everything a weight setting of `hotkey` on `netuid` depends on, from one node.
pub async fn read_chain(
    rpc: &RpcCaller<'_>,
    cache: &RuntimeCache,
    netuid: u16,
    hotkey: &Hotkey,
) -> Result<ChainView, ReadError> {
    let (head, block) = finalized_head(rpc).await?;
    let version = rpc.call("state_getRuntimeVersion", json!([head])).await.map_err(at("runtime version"))?;
    let number = |field: &str| {
        version[field].as_u64().and_then(|v| u32::try_from(v).ok()).ok_or_else(|| ReadError::Rpc {
            step: "runtime version",
            source: RpcError::Malformed(format!("no {field}")),
        })
    };
    let (spec_version, transaction_version) = (number("specVersion")?, number("transactionVersion")?);
    let runtime = cache.layout(rpc, spec_version, &head).await?;
    let genesis = rpc.call("chain_getBlockHash", json!([0])).await.map_err(at("genesis hash"))?;
    let genesis_hash = hash32(&genesis, "genesis hash")?;
    let birth_hash = hash32(&json!(head), "finalized head")?;
    let nonce = rpc.call("system_accountNextIndex", json!([hotkey.as_str()])).await.map_err(at("account nonce"))?;
    let nonce = nonce
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| ReadError::Rpc { step: "account nonce", source: RpcError::Malformed("not a u32".into()) })?;

    let storage = StorageReader { rpc, runtime: &runtime, block: Some(&head) };
    let subnet = || vec![(Shape::U16, netuid.encode())];
    let state = SubnetWeightState {
        netuid,
        block,
        commit_reveal: storage.read("CommitRevealWeightsEnabled", &subnet(), Shape::Bool).await?,
        commit_reveal_version: storage.read("CommitRevealWeightsVersion", &[], Shape::U16).await?,
        limits: WeightLimits {
            min_allowed_weights: storage.read("MinAllowedWeights", &subnet(), Shape::U16).await?,
            max_weights_limit: storage.read("MaxWeightsLimit", &subnet(), Shape::U16).await?,
        },
        version_key: storage.read("WeightsVersionKey", &subnet(), Shape::U64).await?,
        rate_limit: storage.read("WeightsSetRateLimit", &subnet(), Shape::U64).await?,
        tempo: storage.read("Tempo", &subnet(), Shape::U16).await?,
        reveal_period_epochs: storage.read("RevealPeriodEpochs", &subnet(), Shape::U64).await?,
        epoch_schedule: read_epoch_schedule(&storage, netuid, block).await?,
        activity_cutoff: storage.read("ActivityCutoff", &subnet(), Shape::U16).await?,
        last_update: storage.read("LastUpdate", &subnet(), vec_of(Shape::U64)).await?,
        permits: storage.read("ValidatorPermit", &subnet(), vec_of(Shape::Bool)).await?,
        uid: uid_of(&storage, netuid, hotkey).await?,
    };
    let signing =
        SigningContext { spec_version, transaction_version, genesis_hash, birth_block: block, birth_hash, nonce };
    Ok(ChainView { state, runtime, signing })
}

/// The stateful epoch schedule at the head, when the runtime keeps `SubnetEpochIndex` (older runtimes do not:
/// their reveal round comes from the tempo and the netuid).
async fn read_epoch_schedule(
    storage: &StorageReader<'_>,
    netuid: u16,
    block: u64,
) -> Result<Option<EpochScheduleState>, ReadError> {
    if storage.runtime.storage(SUBTENSOR_PALLET, "SubnetEpochIndex").is_err() {
        return Ok(None);
    }
    let subnet = || vec![(Shape::U16, netuid.encode())];
    Ok(Some(EpochScheduleState {
        last_epoch_block: storage.read("LastEpochBlock", &subnet(), Shape::U64).await?,
        pending_epoch_at: storage.read("PendingEpochAt", &subnet(), Shape::U64).await?,
        subnet_epoch_index: storage.read("SubnetEpochIndex", &subnet(), Shape::U64).await?,
        tempo: storage.read("Tempo", &subnet(), Shape::U16).await?,
        blocks_since_last_step: storage.read("BlocksSinceLastStep", &subnet(), Shape::U64).await?,
        current_block: block,
    }))
}

/// The epoch index subtensor files a commit under at `block` (`(block + netuid + 1) / (tempo + 1)`).
pub fn commit_epoch(block: u64, netuid: u16, tempo: u16) -> u64 {
    (block + u64::from(netuid) + 1) / (u64::from(tempo) + 1)
}

/// A timelocked commit as subtensor keeps it: (who, the block it was made at, the ciphertext, its round).
pub type StoredCommit = ([u8; 32], u64, Vec<u8>, u64);

/// The validator's `LastUpdate`, read at the best block (a submission shows there first): what confirms a
/// `set_weights`.
pub async fn read_last_update(
    rpc: &RpcCaller<'_>,
    runtime: &RuntimeLayout,
    netuid: u16,
    uid: u16,
) -> Result<u64, ReadError> {
    let storage = StorageReader { rpc, runtime, block: None };
    let last_update: Vec<u64> =
        storage.read("LastUpdate", &[(Shape::U16, netuid.encode())], vec_of(Shape::U64)).await?;
    Ok(last_update.get(usize::from(uid)).copied().unwrap_or(0))
}

/// The timelocked commits filed under `epoch`, read at the best block: what confirms a commit.
pub async fn read_commits(
    rpc: &RpcCaller<'_>,
    runtime: &RuntimeLayout,
    netuid: u16,
    epoch: u64,
) -> Result<Vec<StoredCommit>, ReadError> {
    let storage = StorageReader { rpc, runtime, block: None };
    let commit = Shape::Fields(vec![Shape::Array(32, Box::new(Shape::U8)), Shape::U64, vec_of(Shape::U8), Shape::U64]);
    let keys = [(Shape::U16, netuid.encode()), (Shape::U64, epoch.encode())];
    storage.read("TimelockedWeightCommits", &keys, vec_of(commit)).await
}

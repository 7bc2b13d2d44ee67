//! The metagraph read from the Bittensor chain over subtensor's JSON-RPC: the finalized head, then
//! `NeuronInfoRuntimeApi_get_neurons_lite(netuid)` at that block, decoded with the runtime's own metadata
//! (fetched again only when the runtime's spec version changes). Endpoints are tried in order; the first that
//! answers completely wins.

pub mod calls;
pub mod chain_state;
pub mod commit;
pub mod decode;
pub mod epoch_schedule;
pub mod extrinsic;
pub mod rpc;
pub mod runtime;
pub mod setter;
pub mod storage;
pub mod weight_plan;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use parity_scale_codec::Encode;
use serde_json::json;

use self::decode::{ChainNeuron, NeuronLayout};
use self::rpc::{hex_number, RpcCaller, RpcEndpoint, RpcError};
use super::{ChainError, MetagraphSource, SourceFuture};
use crate::domain::access::metagraph::{MetagraphSnapshot, Neuron};
use crate::domain::hotkey::Hotkey;

/// The public finney (mainnet) entrypoint.
pub const FINNEY_ENDPOINT: &str = "wss://entrypoint-finney.opentensor.ai:443";

/// Rao per whole alpha unit.
const RAO_PER_UNIT: f64 = 1e9;

pub struct SubtensorSource {
    endpoints: Vec<RpcEndpoint>,
    netuid: u16,
    timeout: Duration,
    http: reqwest::Client,
    /// The decoding layout of the last runtime seen, by spec version.
    layout: Mutex<Option<(u64, Arc<NeuronLayout>)>>,
}

impl SubtensorSource {
    /// `timeout` bounds each JSON-RPC call, so a whole refresh on one endpoint takes at most five of them.
    pub fn new(endpoints: Vec<RpcEndpoint>, netuid: u16, timeout: Duration) -> Self {
        let http = rpc::node_client(timeout);
        SubtensorSource { endpoints, netuid, timeout, http, layout: Mutex::new(None) }
    }

    async fn fetch_from(&self, endpoint: &RpcEndpoint, now_unix: i64) -> Result<MetagraphSnapshot, ChainError> {
        let rpc = RpcCaller { http: &self.http, endpoint, timeout: self.timeout };
        let step = |step: &'static str| move |e: RpcError| ChainError::Step { step, reason: e.to_string() };
        let missing = |step: &'static str, reason: &str| ChainError::Step { step, reason: reason.to_string() };
        let head = rpc.call("chain_getFinalizedHead", json!([])).await.map_err(step("finalized head"))?;
        let head = head.as_str().ok_or_else(|| missing("finalized head", "not a block hash"))?.to_string();
        let header = rpc.call("chain_getHeader", json!([head])).await.map_err(step("block header"))?;
        let block = hex_number(&header["number"]).map_err(step("block header"))?;
        let version = rpc.call("state_getRuntimeVersion", json!([head])).await.map_err(step("runtime version"))?;
        let spec_version =
            version["specVersion"].as_u64().ok_or_else(|| missing("runtime version", "no specVersion"))?;
        let layout = self.layout_for(&rpc, spec_version, &head).await?;
        let answer = rpc
            .state_call("NeuronInfoRuntimeApi_get_neurons_lite", &self.netuid.encode(), &head)
            .await
            .map_err(step("neurons"))?;
        let neurons = layout.decode_neurons(&answer)?;
        if neurons.is_empty() {
            return Err(ChainError::Invalid(format!(
                "subnet {} has no neurons at block {block}; is the netuid right?",
                self.netuid
            )));
        }
        snapshot(neurons, block, now_unix)
    }

    async fn layout_for(
        &self,
        rpc: &RpcCaller<'_>,
        spec_version: u64,
        head: &str,
    ) -> Result<Arc<NeuronLayout>, ChainError> {
        if let Some((cached_version, layout)) = &*self.layout.lock() {
            if *cached_version == spec_version {
                return Ok(layout.clone());
            }
        }
        let metadata = rpc
            .state_call("Metadata_metadata_at_version", &15u32.encode(), head)
            .await
            .map_err(|e| ChainError::Step { step: "metadata", reason: e.to_string() })?;
        let layout = Arc::new(NeuronLayout::from_metadata_at_version(&metadata)?);
        tracing::info!(spec_version, "loaded the runtime's metadata");
        *self.layout.lock() = Some((spec_version, layout.clone()));
        Ok(layout)
    }
}

/// Turns decoded neurons into a snapshot; stake is summed and converted to whole alpha units.
fn snapshot(neurons: Vec<ChainNeuron>, block: u64, now_unix: i64) -> Result<MetagraphSnapshot, ChainError> {
    let mut by_hotkey = HashMap::with_capacity(neurons.len());
    for neuron in neurons {
        let hotkey = Hotkey::from_public(neuron.hotkey);
        let entry = Neuron {
            uid: neuron.uid,
            coldkey: Hotkey::from_public(neuron.coldkey).to_string(),
            validator_permit: neuron.validator_permit,
            stake: neuron.stake_rao as f64 / RAO_PER_UNIT,
        };
        if by_hotkey.insert(hotkey.clone(), entry).is_some() {
            return Err(ChainError::Invalid(format!("hotkey {hotkey} holds two uids")));
        }
    }
    Ok(MetagraphSnapshot { block: Some(block), fetched_at_unix: now_unix, neurons: by_hotkey })
}

impl MetagraphSource for SubtensorSource {
    fn describe(&self) -> String {
        let endpoints: Vec<String> = self.endpoints.iter().map(ToString::to_string).collect();
        format!("subtensor:{}", endpoints.join(","))
    }

    fn fetch(&self, now_unix: i64) -> SourceFuture<'_> {
        Box::pin(async move {
            let mut failures = Vec::new();
            for endpoint in &self.endpoints {
                match self.fetch_from(endpoint, now_unix).await {
                    Ok(snapshot) => return Ok(snapshot),
                    Err(reason) => {
                        tracing::warn!(%endpoint, %reason, "subtensor endpoint failed");
                        failures.push(format!("{endpoint}: {reason}"));
                    }
                }
            }
            Err(ChainError::Unreachable(failures.join("; ")))
        })
    }
}

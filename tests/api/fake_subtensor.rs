//! A local subtensor JSON-RPC node for the tests: answers the calls the metagraph source makes with SCALE data
//! encoded from subtensor's published type layout (`NeuronInfoLite` and friends), and metadata v15 describing
//! it. It can switch to a newer runtime whose `NeuronInfoLite` has an extra trailing field, answer errors,
//! answer slowly, answer garbage, or be unavailable.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use frame_metadata::v15::{
    CustomMetadata, ExtrinsicMetadata, OuterEnums, RuntimeApiMetadata, RuntimeApiMethodMetadata,
    RuntimeApiMethodParamMetadata, RuntimeMetadataV15,
};
use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed, META_RESERVED};
use parity_scale_codec::{Compact, CompactAs, Decode, Encode};
use scale_info::{meta_type, TypeInfo};
use serde_json::{json, Value};

// ---- subtensor's published layout (pallets/subtensor/src/rpc_info/neuron_info.rs and friends) ----

#[derive(Encode, Decode, TypeInfo, Clone, Copy, CompactAs, Default)]
pub struct NetUid(u16);

#[derive(Encode, Decode, TypeInfo, Clone, Copy, CompactAs, Default)]
pub struct AlphaCurrency(u64);

#[derive(Encode, Decode, TypeInfo, Clone, Copy, Default)]
pub struct AccountId32([u8; 32]);

#[derive(Encode, TypeInfo, Clone, Default)]
pub struct AxonInfo {
    block: u64,
    version: u32,
    ip: u128,
    port: u16,
    ip_type: u8,
    protocol: u8,
    placeholder1: u8,
    placeholder2: u8,
}

#[derive(Encode, TypeInfo, Clone, Default)]
pub struct PrometheusInfo {
    block: u64,
    version: u32,
    ip: u128,
    port: u16,
    ip_type: u8,
}

/// `NeuronInfoLite<AccountId32>` as published.
#[derive(Encode, TypeInfo)]
pub struct NeuronInfoLite {
    hotkey: AccountId32,
    coldkey: AccountId32,
    uid: Compact<u16>,
    netuid: Compact<NetUid>,
    active: bool,
    axon_info: AxonInfo,
    prometheus_info: PrometheusInfo,
    stake: Vec<(AccountId32, Compact<AlphaCurrency>)>,
    rank: Compact<u16>,
    emission: Compact<AlphaCurrency>,
    incentive: Compact<u16>,
    consensus: Compact<u16>,
    trust: Compact<u16>,
    validator_trust: Compact<u16>,
    dividends: Compact<u16>,
    last_update: Compact<u64>,
    validator_permit: bool,
    pruning_score: Compact<u16>,
}

/// A later runtime's `NeuronInfoLite`: the published fields plus a new trailing one.
#[derive(Encode, TypeInfo)]
pub struct NeuronInfoLiteV2 {
    hotkey: AccountId32,
    coldkey: AccountId32,
    uid: Compact<u16>,
    netuid: Compact<NetUid>,
    active: bool,
    axon_info: AxonInfo,
    prometheus_info: PrometheusInfo,
    stake: Vec<(AccountId32, Compact<AlphaCurrency>)>,
    rank: Compact<u16>,
    emission: Compact<AlphaCurrency>,
    incentive: Compact<u16>,
    consensus: Compact<u16>,
    trust: Compact<u16>,
    validator_trust: Compact<u16>,
    dividends: Compact<u16>,
    last_update: Compact<u64>,
    validator_permit: bool,
    pruning_score: Compact<u16>,
    /// Added by the "upgrade".
    alpha_dividends: Vec<(AccountId32, Compact<AlphaCurrency>)>,
}

impl NeuronInfoLite {
    fn upgraded(self) -> NeuronInfoLiteV2 {
        NeuronInfoLiteV2 {
            alpha_dividends: vec![(self.coldkey, Compact(AlphaCurrency(7)))],
            hotkey: self.hotkey,
            coldkey: self.coldkey,
            uid: self.uid,
            netuid: self.netuid,
            active: self.active,
            axon_info: self.axon_info,
            prometheus_info: self.prometheus_info,
            stake: self.stake,
            rank: self.rank,
            emission: self.emission,
            incentive: self.incentive,
            consensus: self.consensus,
            trust: self.trust,
            validator_trust: self.validator_trust,
            dividends: self.dividends,
            last_update: self.last_update,
            validator_permit: self.validator_permit,
            pruning_score: self.pruning_score,
        }
    }
}

// ---- the node ----

/// One registered neuron, as the tests describe it.
#[derive(Clone, Debug)]
pub struct FakeNeuron {
    pub uid: u16,
    pub hotkey: [u8; 32],
    pub coldkey: [u8; 32],
    pub validator_permit: bool,
    /// Per-coldkey stake in rao; the metagraph sums them.
    pub stake_rao: Vec<u64>,
}

impl FakeNeuron {
    fn encoded_layout(&self, netuid: u16) -> NeuronInfoLite {
        NeuronInfoLite {
            hotkey: AccountId32(self.hotkey),
            coldkey: AccountId32(self.coldkey),
            uid: Compact(self.uid),
            netuid: Compact(NetUid(netuid)),
            active: true,
            axon_info: AxonInfo {
                block: 100,
                version: 1,
                ip: 0x7f00_0001,
                port: 8091,
                ip_type: 4,
                ..Default::default()
            },
            prometheus_info: PrometheusInfo::default(),
            stake: self.stake_rao.iter().map(|&rao| (AccountId32(self.coldkey), Compact(AlphaCurrency(rao)))).collect(),
            rank: Compact(10),
            emission: Compact(AlphaCurrency(1_000)),
            incentive: Compact(20),
            consensus: Compact(30),
            trust: Compact(40),
            validator_trust: Compact(50),
            dividends: Compact(60),
            last_update: Compact(4_000_000),
            validator_permit: self.validator_permit,
            pruning_score: Compact(u16::MAX),
        }
    }
}

/// Which runtime the node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// The published `NeuronInfoLite`.
    Published,
    /// `NeuronInfoLite` with an extra trailing field.
    Upgraded,
}

impl Runtime {
    fn spec_version(self) -> u64 {
        match self {
            Runtime::Published => 300,
            Runtime::Upgraded => 301,
        }
    }
}

/// How the node behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    Healthy,
    /// Every call answers a JSON-RPC error.
    RpcError,
    /// Every call answers after this delay.
    Slow(Duration),
    /// The neuron list is cut short (undecodable SCALE).
    Truncated,
    /// The answer is not JSON.
    Garbage,
    /// HTTP 503 from a proxy in front of the node.
    Unavailable,
}

struct NodeState {
    netuid: u16,
    block: Mutex<u64>,
    neurons: Mutex<Vec<FakeNeuron>>,
    runtime: Mutex<Runtime>,
    behaviour: Mutex<Behaviour>,
    calls: Mutex<Vec<String>>,
    metadata_fetches: AtomicUsize,
    /// The drand pallet's `Pulses` map, by storage key (hex with 0x).
    pulses: Mutex<std::collections::HashMap<String, Vec<u8>>>,
}

/// subtensor's `pallet_drand::types::Pulse` as published (SCALE).
#[derive(Encode)]
pub struct StoredPulse {
    pub round: u64,
    pub randomness: Vec<u8>,
    pub signature: Vec<u8>,
}

/// A running node on 127.0.0.1.
#[derive(Clone)]
pub struct FakeSubtensor {
    pub addr: SocketAddr,
    state: Arc<NodeState>,
}

impl FakeSubtensor {
    pub async fn start(netuid: u16, neurons: Vec<FakeNeuron>) -> Self {
        let state = Arc::new(NodeState {
            netuid,
            block: Mutex::new(4_200_000),
            neurons: Mutex::new(neurons),
            runtime: Mutex::new(Runtime::Published),
            behaviour: Mutex::new(Behaviour::Healthy),
            calls: Mutex::new(Vec::new()),
            metadata_fetches: AtomicUsize::new(0),
            pulses: Mutex::new(std::collections::HashMap::new()),
        });
        let router = Router::new().route("/", post(answer)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        FakeSubtensor { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.state.behaviour.lock().unwrap() = behaviour;
    }

    pub fn set_runtime(&self, runtime: Runtime) {
        *self.state.runtime.lock().unwrap() = runtime;
    }

    pub fn set_neurons(&self, neurons: Vec<FakeNeuron>) {
        *self.state.neurons.lock().unwrap() = neurons;
    }

    pub fn advance_block(&self, blocks: u64) -> u64 {
        let mut block = self.state.block.lock().unwrap();
        *block += blocks;
        *block
    }

    pub fn block(&self) -> u64 {
        *self.state.block.lock().unwrap()
    }

    /// The JSON-RPC methods called so far.
    pub fn calls(&self) -> Vec<String> {
        self.state.calls.lock().unwrap().clone()
    }

    pub fn metadata_fetches(&self) -> usize {
        self.state.metadata_fetches.load(Ordering::SeqCst)
    }

    /// Stores `pulse` in the drand pallet's map as the chain does, under the key of `round`.
    pub fn store_pulse(&self, round: u64, pulse: &StoredPulse) {
        let key = format!("0x{}", ::hex::encode(zipcoord::beacon::subtensor::pulse_key(round)));
        self.state.pulses.lock().unwrap().insert(key, pulse.encode());
    }
}

/// An address on which nothing listens.
pub async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

const HEAD_HASH: &str = "0x8f0c3a9e5b6d7e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091";

fn metadata(runtime: Runtime) -> Vec<u8> {
    let output = match runtime {
        Runtime::Published => meta_type::<Vec<NeuronInfoLite>>(),
        Runtime::Upgraded => meta_type::<Vec<NeuronInfoLiteV2>>(),
    };
    let neuron_api = RuntimeApiMetadata {
        name: "NeuronInfoRuntimeApi",
        methods: vec![RuntimeApiMethodMetadata {
            name: "get_neurons_lite",
            inputs: vec![RuntimeApiMethodParamMetadata { name: "netuid", ty: meta_type::<NetUid>() }],
            output,
            docs: vec![],
        }],
        docs: vec![],
    };
    let other_api = RuntimeApiMetadata {
        name: "DelegateInfoRuntimeApi",
        methods: vec![RuntimeApiMethodMetadata {
            name: "get_delegates",
            inputs: vec![],
            output: meta_type::<Vec<AccountId32>>(),
            docs: vec![],
        }],
        docs: vec![],
    };
    let extrinsic = ExtrinsicMetadata {
        version: 4,
        address_ty: meta_type::<AccountId32>(),
        call_ty: meta_type::<()>(),
        signature_ty: meta_type::<[u8; 64]>(),
        extra_ty: meta_type::<()>(),
        signed_extensions: vec![],
    };
    let outer = OuterEnums {
        call_enum_ty: meta_type::<()>(),
        event_enum_ty: meta_type::<()>(),
        error_enum_ty: meta_type::<()>(),
    };
    let v15 = RuntimeMetadataV15::new(
        vec![],
        extrinsic,
        meta_type::<()>(),
        vec![other_api, neuron_api],
        outer,
        CustomMetadata { map: Default::default() },
    );
    RuntimeMetadataPrefixed(META_RESERVED, RuntimeMetadata::V15(v15)).encode()
}

fn rpc_result(id: &Value, result: Value) -> Response {
    Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}

fn rpc_error(id: &Value, code: i64, message: &str) -> Response {
    Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})).into_response()
}

fn hex(bytes: &[u8]) -> Value {
    Value::String(format!("0x{}", ::hex::encode(bytes)))
}

async fn answer(State(node): State<Arc<NodeState>>, Json(request): Json<Value>) -> Response {
    let id = request["id"].clone();
    let method = request["method"].as_str().unwrap_or_default().to_string();
    let params = request["params"].as_array().cloned().unwrap_or_default();
    node.calls.lock().unwrap().push(method.clone());
    let behaviour = *node.behaviour.lock().unwrap();
    match behaviour {
        Behaviour::Healthy | Behaviour::Truncated => {}
        Behaviour::RpcError => return rpc_error(&id, -32000, "Client error: Execution failed: Runtime panicked"),
        Behaviour::Slow(delay) => tokio::time::sleep(delay).await,
        Behaviour::Garbage => return (StatusCode::OK, "<html>bad gateway</html>").into_response(),
        Behaviour::Unavailable => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
    let runtime = *node.runtime.lock().unwrap();
    let block = *node.block.lock().unwrap();
    let at_head = |index: usize| params.get(index).and_then(Value::as_str) == Some(HEAD_HASH);
    match method.as_str() {
        "chain_getFinalizedHead" => rpc_result(&id, json!(HEAD_HASH)),
        "chain_getHeader" if at_head(0) => rpc_result(
            &id,
            json!({"parentHash": HEAD_HASH, "number": format!("0x{block:x}"), "stateRoot": HEAD_HASH,
                   "extrinsicsRoot": HEAD_HASH, "digest": {"logs": []}}),
        ),
        "state_getRuntimeVersion" if at_head(0) => rpc_result(
            &id,
            json!({"specName": "node-subtensor", "implName": "node-subtensor", "authoringVersion": 1,
                   "specVersion": runtime.spec_version(), "implVersion": 1, "apis": [], "transactionVersion": 1,
                   "stateVersion": 1}),
        ),
        "state_call" if at_head(2) => {
            let function = params[0].as_str().unwrap_or_default();
            let args =
                ::hex::decode(params[1].as_str().unwrap_or_default().trim_start_matches("0x")).unwrap_or_default();
            match function {
                "Metadata_metadata_at_version" if args == 15u32.encode() => {
                    node.metadata_fetches.fetch_add(1, Ordering::SeqCst);
                    rpc_result(&id, hex(&Some(metadata(runtime)).encode()))
                }
                "Metadata_metadata_at_version" => rpc_result(&id, hex(&None::<Vec<u8>>.encode())),
                "NeuronInfoRuntimeApi_get_neurons_lite" => {
                    let netuid = u16::decode(&mut args.as_slice()).unwrap_or(u16::MAX);
                    let neurons = if netuid == node.netuid { node.neurons.lock().unwrap().clone() } else { Vec::new() };
                    let infos: Vec<NeuronInfoLite> = neurons.iter().map(|n| n.encoded_layout(netuid)).collect();
                    let mut bytes = match runtime {
                        Runtime::Published => infos.encode(),
                        Runtime::Upgraded => {
                            infos.into_iter().map(NeuronInfoLite::upgraded).collect::<Vec<_>>().encode()
                        }
                    };
                    if behaviour == Behaviour::Truncated {
                        bytes.truncate(bytes.len() / 2);
                    }
                    rpc_result(&id, hex(&bytes))
                }
                other => rpc_error(&id, -32000, &format!("Client error: Exported method {other} is not found")),
            }
        }
        "state_getStorage" => {
            let key = params.first().and_then(Value::as_str).unwrap_or_default();
            match node.pulses.lock().unwrap().get(key) {
                Some(bytes) => rpc_result(&id, hex(bytes)),
                None => rpc_result(&id, Value::Null),
            }
        }
        _ => rpc_error(&id, -32601, "Method not found"),
    }
}

//! A subtensor node of our own on loopback, for `localnet --chain` and the tests: no real node can run here, so
//! this one answers the JSON-RPC calls a validator's weight setter makes from the recorded finney runtime (spec
//! 343, transaction version 1: its metadata as `state_getMetadata` answers it, v14, and as
//! `Metadata_metadata_at_version(15)` answers it) and a synthesized subnet ([`ledger`]), makes a block every
//! block time (each one final at once), and keeps every transaction submitted with what became of it. It also
//! answers `NeuronInfoRuntimeApi_get_neurons_lite` ([`neurons`]), so a metagraph can be read from it, and with
//! [`ChainNode::record_to`] it keeps its blocks, transactions and pulses on disk ([`record`]).

pub mod ledger;
pub mod neurons;
pub mod record;

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use parity_scale_codec::Decode;
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::chain::subtensor::decode::NeuronLayout;
use crate::chain::subtensor::runtime::{RuntimeError, RuntimeLayout};
use crate::chain::ChainError;
use crate::domain::hotkey::Hotkey;
use crate::domain::instant::iso8601_millis;
pub use ledger::{ChainEvent, Ledger, NodeNeuron, Reveal, Submission, SubnetParameters};
use neurons::{encode_neurons, FieldValue};
use record::ChainRecord;

/// The recorded finney runtime the node serves: spec 343, as `state_getMetadata` (v14) and
/// `Metadata_metadata_at_version(15)` (v15) answer it.
const FINNEY_343_V14: &[u8] = include_bytes!("../../../tests/vectors/finney/spec343.metadata-v14.scale.gz");
const FINNEY_343_V15: &[u8] = include_bytes!("../../../tests/vectors/finney/spec343.metadata-v15.scale.gz");

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).expect("the embedded metadata is gzip");
    out
}

/// A runtime's metadata in both forms a node answers it.
#[derive(Clone)]
pub struct NodeMetadata {
    pub v14: Vec<u8>,
    /// `Option<Vec<u8>>` around the prefixed v15 metadata, as the runtime API answers.
    pub v15: Vec<u8>,
}

impl NodeMetadata {
    /// The recorded finney runtime, spec 343.
    pub fn finney_343() -> NodeMetadata {
        NodeMetadata { v14: gunzip(FINNEY_343_V14), v15: gunzip(FINNEY_343_V15) }
    }
}

/// A node on loopback, until its cancellation token fires.
#[derive(Clone)]
pub struct ChainNode {
    pub url: String,
    ledger: Arc<Mutex<Ledger>>,
}

struct Served {
    ledger: Arc<Mutex<Ledger>>,
    metadata: NodeMetadata,
    neurons: NeuronLayout,
}

impl ChainNode {
    /// Starts a node serving `metadata` for one subnet, making a block every `block_time`.
    pub async fn start(
        metadata: NodeMetadata,
        parameters: SubnetParameters,
        neurons: Vec<NodeNeuron>,
        block_time: Duration,
        cancel: CancellationToken,
    ) -> Result<ChainNode, NodeError> {
        let runtime = Arc::new(RuntimeLayout::from_metadata(&metadata.v15)?);
        let neuron_layout = NeuronLayout::from_metadata_at_version(&metadata.v15)?;
        let ledger = Arc::new(Mutex::new(Ledger::new(runtime, parameters, neurons)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let served = Arc::new(Served { ledger: ledger.clone(), metadata, neurons: neuron_layout });
        let router = Router::new().route("/", post(rpc)).with_state(served);
        let stop = cancel.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned()).await;
        });
        let producer = ledger.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(block_time);
            ticks.tick().await;
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = ticks.tick() => { producer.lock().produce_block(chrono::Utc::now().timestamp()); }
                }
            }
        });
        Ok(ChainNode { url, ledger })
    }

    /// Keeps the chain's blocks, transactions and pulses in `folder` (`blocks.jsonl`, `extrinsics.jsonl`,
    /// `pulses.jsonl`) from now on.
    pub fn record_to(&self, folder: &Path) -> std::io::Result<()> {
        let record = ChainRecord::create(folder)?;
        self.with(|ledger| ledger.record_to(record));
        Ok(())
    }

    /// Reads or changes the node's chain.
    pub fn with<T>(&self, f: impl FnOnce(&mut Ledger) -> T) -> T {
        f(&mut self.ledger.lock())
    }
}

/// Why a node cannot start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("{0}")]
    Runtime(#[from] RuntimeError),
    #[error("{0}")]
    Neurons(#[from] ChainError),
    #[error("cannot listen: {0}")]
    Listen(#[from] std::io::Error),
}

fn hex0x(bytes: impl AsRef<[u8]>) -> Value {
    json!(format!("0x{}", hex::encode(bytes)))
}

fn param_bytes(value: &Value) -> Option<Vec<u8>> {
    hex::decode(value.as_str()?.strip_prefix("0x")?).ok()
}

/// One JSON-RPC call: its result, or an error's code and message.
fn answer(served: &Served, method: &str, params: &[Value]) -> Result<Value, (i64, String)> {
    let mut ledger = served.ledger.lock();
    let invalid = |what: &str| (-32602, format!("invalid params: {what}"));
    let hash_param = |at: usize| -> Result<Option<u64>, (i64, String)> {
        match params.get(at) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => {
                let hash: [u8; 32] =
                    param_bytes(value).and_then(|b| b.try_into().ok()).ok_or_else(|| invalid("a block hash"))?;
                ledger.number_of(&hash).map(Some).ok_or_else(|| (4003, "unknown block".to_string()))
            }
        }
    };
    match method {
        "chain_getFinalizedHead" => Ok(hex0x(ledger.hash_of(ledger.best()).expect("best"))),
        "chain_getBlockHash" => {
            let number = match params.first() {
                None | Some(Value::Null) => ledger.best(),
                Some(n) => n.as_u64().ok_or_else(|| invalid("a block number"))?,
            };
            Ok(ledger.hash_of(number).map_or(Value::Null, hex0x))
        }
        "chain_getHeader" => {
            let number = hash_param(0)?.unwrap_or_else(|| ledger.best());
            Ok(
                json!({"number": format!("0x{number:x}"), "parentHash": hex0x(ledger.hash_of(number.saturating_sub(1)).expect("parent"))}),
            )
        }
        "state_getRuntimeVersion" => Ok(json!({
            "specName": "node-subtensor", "implName": "zipcoord-loopback",
            "specVersion": ledger.spec_version, "transactionVersion": ledger.transaction_version,
        })),
        "state_getMetadata" => Ok(hex0x(&served.metadata.v14)),
        "state_call" => {
            let function = params.first().and_then(Value::as_str).ok_or_else(|| invalid("a function"))?;
            let args = params.get(1).and_then(param_bytes).ok_or_else(|| invalid("hex arguments"))?;
            match function {
                "Metadata_metadata_at_version" if u32::decode(&mut args.as_slice()) == Ok(15) => {
                    Ok(hex0x(&served.metadata.v15))
                }
                "Metadata_metadata_at_version" => Ok(hex0x([0u8])),
                "NeuronInfoRuntimeApi_get_neurons_lite" => {
                    let netuid = u16::decode(&mut args.as_slice()).map_err(|_| invalid("a netuid"))?;
                    let bytes = encode_neurons(&served.neurons, &neuron_fields(&ledger, netuid))
                        .map_err(|e| (-32000, e.to_string()))?;
                    Ok(hex0x(bytes))
                }
                other => Err((-32000, format!("runtime API {other} is not served by this node"))),
            }
        }
        "state_getStorage" => {
            let key = params.first().and_then(param_bytes).ok_or_else(|| invalid("a storage key"))?;
            hash_param(1)?;
            Ok(ledger.storage(&key).map_or(Value::Null, hex0x))
        }
        "system_accountNextIndex" => {
            let account: Hotkey = params
                .first()
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| invalid("an SS58 account"))?;
            Ok(json!(ledger.next_nonce(account.public_bytes())))
        }
        "author_submitExtrinsic" => {
            let bytes = params.first().and_then(param_bytes).ok_or_else(|| invalid("a hex transaction"))?;
            let now = iso8601_millis(chrono::Utc::now().timestamp_millis());
            ledger.submit(&bytes, now).map(Value::String).map_err(|why| (1010, why))
        }
        other => Err((-32601, format!("method {other} not found"))),
    }
}

/// The subnet's neurons as `get_neurons_lite` reports them (none for another subnet, as on chain).
fn neuron_fields(ledger: &Ledger, netuid: u16) -> Vec<Vec<(&'static str, FieldValue)>> {
    if netuid != ledger.parameters.netuid {
        return Vec::new();
    }
    let account = |key: &Hotkey| FieldValue::Account(*key.public_bytes());
    ledger
        .neurons
        .iter()
        .enumerate()
        .map(|(uid, neuron)| {
            vec![
                ("hotkey", account(&neuron.hotkey)),
                ("coldkey", account(&neuron.coldkey)),
                ("uid", FieldValue::Number(uid as u128)),
                ("netuid", FieldValue::Number(netuid.into())),
                ("active", FieldValue::Bool(true)),
                ("stake", FieldValue::Entries(vec![(*neuron.coldkey.public_bytes(), neuron.stake_rao.into())])),
                ("last_update", FieldValue::Number(ledger.last_update[uid].into())),
                ("validator_permit", FieldValue::Bool(neuron.validator_permit)),
            ]
        })
        .collect()
}

async fn rpc(State(served): State<Arc<Served>>, Json(request): Json<Value>) -> Json<Value> {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let method = request.get("method").and_then(Value::as_str).unwrap_or_default();
    let params = request.get("params").and_then(Value::as_array).cloned().unwrap_or_default();
    Json(match answer(&served, method, &params) {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err((code, message)) => json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
    })
}

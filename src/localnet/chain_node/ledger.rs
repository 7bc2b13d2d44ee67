//! The loopback node's chain: blocks, one subnet's weight state (its hyperparameters, neurons, `LastUpdate`,
//! weights and timelocked commits), account nonces, and every transaction submitted with what became of it.
//! A transaction is opened as subtensor opens it (the runtime's extensions in order, the sr25519 signature over
//! the payload, hashed past 256 bytes, the nonce and the era's birth block) and applied in the next block:
//! `set_weights` as the pallet checks it (permit, rate limit, version key), `commit_timelocked_weights` filed
//! under its epoch and revealed by the chain itself ([`reveal`]) once its reveal epoch has come and its round's
//! pulse is in the node's drand pallet. Storage answers are the SCALE bytes under the keys the runtime's metadata
//! gives.

mod reveal;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use parity_scale_codec::{Compact, Decode, Encode};

use super::record::ChainRecord;
use crate::chain::subtensor::chain_state::{commit_epoch, StoredCommit};
use crate::chain::subtensor::runtime::{RuntimeLayout, SUBTENSOR_PALLET};
use crate::domain::access::auth::{verify_hotkey_signature, HotkeySignature};
use crate::domain::epoch::beacon::{DevBeacon, Pulse};
use crate::domain::hotkey::Hotkey;
pub use reveal::Reveal;

/// The subnet's weight hyperparameters as the node holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetParameters {
    pub netuid: u16,
    pub commit_reveal: bool,
    pub commit_reveal_version: u16,
    pub min_allowed_weights: u16,
    pub max_weights_limit: u16,
    pub version_key: u64,
    pub rate_limit: u64,
    pub tempo: u16,
    pub reveal_period_epochs: u64,
    pub activity_cutoff: u16,
}

/// One neuron of the subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeNeuron {
    pub hotkey: Hotkey,
    pub coldkey: Hotkey,
    pub validator_permit: bool,
    /// Its stake, all from its coldkey, in rao.
    pub stake_rao: u64,
}

impl NodeNeuron {
    /// A neuron that is its own operator (coldkey and hotkey alike), staking `stake_rao`.
    pub fn own(hotkey: Hotkey, validator_permit: bool, stake_rao: u64) -> NodeNeuron {
        NodeNeuron { coldkey: hotkey.clone(), hotkey, validator_permit, stake_rao }
    }
}

/// A transaction the node received, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Submission {
    pub hex: String,
    pub submitted_at: String,
    pub block: u64,
    /// `applied`, `pending`, or `refused: why`.
    pub result: String,
}

/// What happened on the chain, for whoever watches it (localnet prints these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainEvent {
    WeightsSet { block: u64, uid: u16, weights: Vec<(u16, u16)> },
    Committed { block: u64, uid: u16, reveal_round: u64 },
    Revealed { block: u64, uid: u16, commit_block: u64, weights: Vec<(u16, u16)> },
    RevealFailed { block: u64, uid: u16, commit_block: u64, why: String },
    Refused { block: u64, why: String },
}

/// Events kept for a watcher that has not taken them (the oldest go first).
const EVENTS_KEPT: usize = 1024;

/// A weight call as applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppliedCall {
    SetWeights { netuid: u16, dests: Vec<u16>, weights: Vec<u16>, version_key: u64 },
    Commit { netuid: u16, commit: Vec<u8>, reveal_round: u64, commit_reveal_version: u16 },
}

struct Pending {
    /// The block it may be included in, at the earliest.
    due: u64,
    signer: [u8; 32],
    call: AppliedCall,
    submission: usize,
}

pub struct Ledger {
    runtime: Arc<RuntimeLayout>,
    pub spec_version: u32,
    pub transaction_version: u32,
    pub parameters: SubnetParameters,
    pub neurons: Vec<NodeNeuron>,
    pub last_update: Vec<u64>,
    /// The weights each uid last set.
    pub weights: BTreeMap<u16, Vec<(u16, u16)>>,
    /// Timelocked commits by epoch.
    pub commits: BTreeMap<u64, Vec<StoredCommit>>,
    blocks: Vec<[u8; 32]>,
    nonces: HashMap<[u8; 32], u32>,
    pending: Vec<Pending>,
    pub submissions: Vec<Submission>,
    /// Refuse this many submissions more, as a node that is out of sync would.
    pub refusals: u32,
    /// Blocks a submission waits before it is included, as on a congested chain.
    pub inclusion_delay: u64,
    /// The node's drand pallet: the pulses it holds, by round, and the beacon they come from.
    pub pulses: BTreeMap<u64, Pulse>,
    beacon: DevBeacon,
    /// Every reveal the chain made, in order.
    pub reveals: Vec<Reveal>,
    events: VecDeque<ChainEvent>,
    record: Option<ChainRecord>,
}

fn block_hash(number: u64, parent: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Blake2b::<U32>::new();
    hasher.update(b"zipcoord loopback block");
    hasher.update(number.to_le_bytes());
    hasher.update(parent);
    hasher.finalize().into()
}

impl Ledger {
    pub fn new(runtime: Arc<RuntimeLayout>, parameters: SubnetParameters, neurons: Vec<NodeNeuron>) -> Self {
        let genesis = block_hash(0, &[0; 32]);
        Ledger {
            runtime,
            spec_version: 343,
            transaction_version: 1,
            last_update: vec![0; neurons.len()],
            parameters,
            neurons,
            weights: BTreeMap::new(),
            commits: BTreeMap::new(),
            blocks: vec![genesis],
            nonces: HashMap::new(),
            pending: Vec::new(),
            submissions: Vec::new(),
            refusals: 0,
            inclusion_delay: 0,
            pulses: BTreeMap::new(),
            beacon: DevBeacon::new(),
            reveals: Vec::new(),
            events: VecDeque::new(),
            record: None,
        }
    }

    /// Keeps blocks, transactions and pulses in `record`'s files from now on (the genesis first).
    pub fn record_to(&mut self, mut record: ChainRecord) {
        for (number, hash) in self.blocks.iter().enumerate() {
            record.block(number as u64, hash);
        }
        self.record = Some(record);
    }

    /// What happened since the last call.
    pub fn take_events(&mut self) -> Vec<ChainEvent> {
        self.events.drain(..).collect()
    }

    fn event(&mut self, event: ChainEvent) {
        if self.events.len() == EVENTS_KEPT {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    fn settle(&mut self, submission: usize, block: u64, result: String) {
        if let Some(why) = result.strip_prefix("refused: ") {
            self.event(ChainEvent::Refused { block, why: why.to_string() });
        }
        let record = &mut self.submissions[submission];
        record.block = block;
        record.result = result;
        if let Some(file) = &mut self.record {
            file.extrinsic(record);
        }
    }

    pub fn runtime(&self) -> &RuntimeLayout {
        &self.runtime
    }

    pub fn best(&self) -> u64 {
        self.blocks.len() as u64 - 1
    }

    pub fn hash_of(&self, number: u64) -> Option<[u8; 32]> {
        self.blocks.get(usize::try_from(number).ok()?).copied()
    }

    pub fn number_of(&self, hash: &[u8; 32]) -> Option<u64> {
        self.blocks.iter().position(|h| h == hash).map(|n| n as u64)
    }

    pub fn next_nonce(&self, account: &[u8; 32]) -> u32 {
        self.nonces.get(account).copied().unwrap_or(0)
    }

    /// Makes the next block at `now_unix`, applying what was submitted since the last one and revealing the
    /// commits whose time has come; returns its number.
    pub fn produce_block(&mut self, now_unix: i64) -> u64 {
        let parent = *self.blocks.last().expect("genesis");
        let number = self.blocks.len() as u64;
        let hash = block_hash(number, &parent);
        self.blocks.push(hash);
        if let Some(file) = &mut self.record {
            file.block(number, &hash);
        }
        let (due, later) = std::mem::take(&mut self.pending).into_iter().partition(|p| p.due <= number);
        self.pending = later;
        for pending in due {
            let result = match self.apply(pending.signer, pending.call, number) {
                Ok(()) => "applied".to_string(),
                Err(why) => format!("refused: {why}"),
            };
            self.settle(pending.submission, number, result);
        }
        self.reveal_due(number, now_unix);
        number
    }

    fn uid_of(&self, account: &[u8; 32]) -> Option<u16> {
        self.neurons.iter().position(|n| n.hotkey.public_bytes() == account).map(|uid| uid as u16)
    }

    fn apply(&mut self, signer: [u8; 32], call: AppliedCall, block: u64) -> Result<(), String> {
        let p = self.parameters.clone();
        let uid = self.uid_of(&signer).ok_or("HotKeyNotRegisteredInSubNet")?;
        if !self.neurons[usize::from(uid)].validator_permit {
            return Err("NeuronNoValidatorPermit".into());
        }
        let last = self.last_update[usize::from(uid)];
        if last > 0 && block.saturating_sub(last) < p.rate_limit {
            return Err("SettingWeightsTooFast".into());
        }
        match call {
            AppliedCall::SetWeights { netuid, dests, weights, version_key } => {
                if netuid != p.netuid {
                    return Err("SubNetworkDoesNotExist".into());
                }
                if p.commit_reveal {
                    return Err("CommitRevealEnabled".into());
                }
                if version_key < p.version_key {
                    return Err("IncorrectWeightVersionKey".into());
                }
                let weights = self.weight_pairs(dests, weights)?;
                self.weights.insert(uid, weights.clone());
                self.last_update[usize::from(uid)] = block;
                self.event(ChainEvent::WeightsSet { block, uid, weights });
            }
            AppliedCall::Commit { netuid, commit, reveal_round, commit_reveal_version } => {
                if netuid != p.netuid {
                    return Err("SubNetworkDoesNotExist".into());
                }
                if !p.commit_reveal {
                    return Err("CommitRevealDisabled".into());
                }
                if commit_reveal_version != p.commit_reveal_version {
                    return Err("IncorrectCommitRevealVersion".into());
                }
                let epoch = commit_epoch(block, netuid, p.tempo);
                self.commits.entry(epoch).or_default().push((signer, block, commit, reveal_round));
                self.last_update[usize::from(uid)] = block;
                self.event(ChainEvent::Committed { block, uid, reveal_round });
            }
        }
        Ok(())
    }

    /// The `(uid, weight)` pairs of a vector, when every uid is registered.
    fn weight_pairs(&self, dests: Vec<u16>, weights: Vec<u16>) -> Result<Vec<(u16, u16)>, String> {
        if dests.len() != weights.len() || dests.iter().any(|&d| usize::from(d) >= self.neurons.len()) {
            return Err("UidVecContainInvalidOne".into());
        }
        Ok(dests.into_iter().zip(weights).collect())
    }

    /// Opens and checks a submitted transaction; it is applied in the next block. The transaction hash, or why
    /// it is refused (a JSON-RPC error for the submitter).
    pub fn submit(&mut self, bytes: &[u8], submitted_at: String) -> Result<String, String> {
        let hex = format!("0x{}", hex::encode(bytes));
        let mut record = Submission { hex, submitted_at, block: self.best(), result: "pending".into() };
        if self.refusals > 0 {
            self.refusals -= 1;
            record.result = "refused: the node is busy (a refusal the test asked for)".into();
            self.submissions.push(record);
            self.settle(
                self.submissions.len() - 1,
                self.best(),
                self.submissions.last().expect("pushed").result.clone(),
            );
            return Err("Transaction pool is full".into());
        }
        match self.open(bytes) {
            Ok((signer, nonce, call)) => {
                self.nonces.insert(signer, nonce + 1);
                let due = self.best() + 1 + self.inclusion_delay;
                self.pending.push(Pending { due, signer, call, submission: self.submissions.len() });
                self.submissions.push(record);
                Ok(format!("0x{}", hex::encode(Blake2b::<U32>::digest(bytes))))
            }
            Err(why) => {
                self.submissions.push(record);
                self.settle(self.submissions.len() - 1, self.best(), format!("refused: {why}"));
                Err(why)
            }
        }
    }

    fn open(&self, bytes: &[u8]) -> Result<([u8; 32], u32, AppliedCall), String> {
        let mut input = bytes;
        let length = Compact::<u32>::decode(&mut input).map_err(|e| format!("Invalid Transaction: length: {e}"))?;
        if input.len() != length.0 as usize {
            return Err("Invalid Transaction: length does not match".into());
        }
        let header: [u8; 2] = take(&mut input)?;
        if header != [0x84, 0x00] {
            return Err("Invalid Transaction: not a signed version-4 transaction from an account id".into());
        }
        let signer: [u8; 32] = take(&mut input)?;
        let kind: [u8; 1] = take(&mut input)?;
        let signature: [u8; 64] = take(&mut input)?;
        if kind != [1] {
            return Err("Invalid Transaction: only sr25519 signatures".into());
        }
        let (mut explicit, mut implicit, mut nonce) = (Vec::new(), Vec::new(), None);
        let extensions = self.runtime.extensions().map_err(|e| e.to_string())?;
        for extension in extensions {
            let before = input;
            match extension.identifier.as_str() {
                "CheckMortality" | "CheckEra" => {
                    let birth = self.era_birth(&mut input)?;
                    implicit.extend_from_slice(&self.hash_of(birth).ok_or("Invalid Transaction: AncientBirthBlock")?);
                }
                "CheckNonce" => {
                    let found = Compact::<u32>::decode(&mut input).map_err(|_| "Invalid Transaction: nonce")?.0;
                    let expected = self.next_nonce(&signer);
                    if found != expected {
                        let why = if found < expected { "Stale" } else { "Future" };
                        return Err(format!("Invalid Transaction: {why} (nonce {found}, expected {expected})"));
                    }
                    nonce = Some(found);
                }
                "ChargeTransactionPayment" => {
                    Compact::<u64>::decode(&mut input).map_err(|_| "Invalid Transaction: tip")?;
                }
                "CheckMetadataHash" => {
                    let mode: [u8; 1] = take(&mut input)?;
                    if mode != [0] {
                        return Err("Invalid Transaction: metadata hash mode".into());
                    }
                    implicit.push(0);
                }
                "CheckSpecVersion" => self.spec_version.encode_to(&mut implicit),
                "CheckTxVersion" => self.transaction_version.encode_to(&mut implicit),
                "CheckGenesis" => implicit.extend_from_slice(&self.blocks[0]),
                _ if extension.explicit.is_empty() && extension.implicit.is_empty() => {}
                other => return Err(format!("Invalid Transaction: extension {other} is not known here")),
            }
            explicit.extend_from_slice(&before[..before.len() - input.len()]);
        }
        let call = input;
        let mut payload = [call, &explicit, &implicit].concat();
        if payload.len() > 256 {
            payload = Blake2b::<U32>::digest(&payload).to_vec();
        }
        let signature: HotkeySignature = hex::encode(signature).parse().map_err(|_| "BadProof")?;
        if !verify_hotkey_signature(&Hotkey::from_public(signer), &payload, &signature) {
            return Err("Invalid Transaction: BadProof".into());
        }
        let call = self.decode_call(call)?;
        Ok((signer, nonce.ok_or("Invalid Transaction: no nonce")?, call))
    }

    /// The birth block of a mortal era at the best block (immortal transactions are born at genesis).
    fn era_birth(&self, input: &mut &[u8]) -> Result<u64, String> {
        let first: [u8; 1] = take(input)?;
        if first == [0] {
            return Ok(0);
        }
        let second: [u8; 1] = take(input)?;
        let encoded = u16::from_le_bytes([first[0], second[0]]);
        let period = 2u64 << (encoded % (1 << 4));
        let quantize = (period >> 12).max(1);
        let phase = u64::from(encoded >> 4) * quantize;
        let current = self.best();
        let birth = (current.max(phase) - phase) / period * period + phase;
        if birth > current || current >= birth + period {
            return Err("Invalid Transaction: Stale (the era has passed)".into());
        }
        Ok(birth)
    }

    fn decode_call(&self, call: &[u8]) -> Result<AppliedCall, String> {
        let index = |name: &str| self.runtime.call(SUBTENSOR_PALLET, name).map(|c| [c.pallet_index, c.call_index]);
        let (head, mut args) = call.split_at(2.min(call.len()));
        let bad = |e: parity_scale_codec::Error| format!("Invalid Transaction: call: {e}");
        let decoded = if Ok(head) == index("set_weights").as_ref().map(|i| &i[..]) {
            AppliedCall::SetWeights {
                netuid: u16::decode(&mut args).map_err(bad)?,
                dests: Vec::decode(&mut args).map_err(bad)?,
                weights: Vec::decode(&mut args).map_err(bad)?,
                version_key: u64::decode(&mut args).map_err(bad)?,
            }
        } else if Ok(head) == index("commit_timelocked_weights").as_ref().map(|i| &i[..]) {
            AppliedCall::Commit {
                netuid: u16::decode(&mut args).map_err(bad)?,
                commit: Vec::decode(&mut args).map_err(bad)?,
                reveal_round: u64::decode(&mut args).map_err(bad)?,
                commit_reveal_version: u16::decode(&mut args).map_err(bad)?,
            }
        } else {
            return Err(format!("Invalid Transaction: call {} is not a weight call", hex::encode(head)));
        };
        if !args.is_empty() {
            return Err("Invalid Transaction: bytes after the call".into());
        }
        Ok(decoded)
    }

    /// The SCALE bytes the chain holds under `key`, if any.
    pub fn storage(&self, key: &[u8]) -> Option<Vec<u8>> {
        let p = &self.parameters;
        let netuid = p.netuid.encode();
        let item = |name: &str, keys: &[&[u8]]| -> Option<Vec<u8>> {
            self.runtime.storage(SUBTENSOR_PALLET, name).ok()?.key(keys).ok()
        };
        let by_netuid: [(&str, Vec<u8>); 11] = [
            ("CommitRevealWeightsEnabled", p.commit_reveal.encode()),
            ("MinAllowedWeights", p.min_allowed_weights.encode()),
            ("MaxWeightsLimit", p.max_weights_limit.encode()),
            ("WeightsVersionKey", p.version_key.encode()),
            ("WeightsSetRateLimit", p.rate_limit.encode()),
            ("Tempo", p.tempo.encode()),
            ("RevealPeriodEpochs", p.reveal_period_epochs.encode()),
            ("ActivityCutoff", p.activity_cutoff.encode()),
            ("LastUpdate", self.last_update.encode()),
            ("ValidatorPermit", self.neurons.iter().map(|n| n.validator_permit).collect::<Vec<bool>>().encode()),
            ("SubnetworkN", (self.neurons.len() as u16).encode()),
        ];
        for (name, value) in by_netuid {
            if item(name, &[&netuid]).as_deref() == Some(key) {
                return Some(value);
            }
        }
        if item("CommitRevealWeightsVersion", &[]).as_deref() == Some(key) {
            return Some(p.commit_reveal_version.encode());
        }
        for (uid, neuron) in self.neurons.iter().enumerate() {
            if item("Uids", &[&netuid, neuron.hotkey.public_bytes()]).as_deref() == Some(key) {
                return Some((uid as u16).encode());
            }
        }
        for (epoch, commits) in &self.commits {
            if item("TimelockedWeightCommits", &[&netuid, &epoch.encode()]).as_deref() == Some(key) {
                return Some(commits.encode());
            }
        }
        None
    }
}

fn take<const N: usize>(input: &mut &[u8]) -> Result<[u8; N], String> {
    if input.len() < N {
        return Err("Invalid Transaction: truncated".into());
    }
    let (head, rest) = input.split_at(N);
    *input = rest;
    Ok(head.try_into().expect("N bytes"))
}

//! `localnet --chain`: the local subnet on the loopback subtensor node ([`super::chain_node`]) instead of a
//! metagraph file. The coordinator and the validators read the metagraph from the node, the validators put
//! their weights on it after every judged epoch (`set_weights`, or timelocked commits to the dev beacon that
//! the node reveals an epoch later with the dev beacon's pulses), and a person watches each weight reach the
//! chain. The node serves the recorded finney runtime (spec 343), so what localnet submits is what finney would
//! receive, and it keeps its blocks, transactions and pulses under `data_dir/chain/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::chain_node::{ChainEvent, ChainNode, NodeMetadata, NodeNeuron, SubnetParameters};
use crate::chain::subtensor::rpc::RpcEndpoint;
use crate::chain::subtensor::setter::{SetterSettings, WeightSetter};
use crate::chain::MetagraphSpec;
use crate::client::validator::on_chain::OnChainWeights;
use crate::domain::epoch::beacon::DevBeacon;
use crate::domain::hotkey::Hotkey;
use crate::domain::judging::weights::WeightPolicy;

/// The subnet's number on the local chain: the coordinator's default, so the published inputs name the same
/// subnet with and without a chain.
pub const LOCALNET_NETUID: u16 = crate::settings::defaults::NETUID;

/// How the local chain runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainOptions {
    /// Weights as timelocked commits revealed an epoch later, rather than `set_weights`.
    pub commit_reveal: bool,
}

/// The running node and how it was set up.
pub struct LocalChain {
    pub node: ChainNode,
    pub parameters: SubnetParameters,
    pub block_time: Duration,
    pub record: PathBuf,
}

/// A tenth of an epoch per block, between one second and finney's twelve.
fn block_time(epoch_seconds: u32) -> Duration {
    Duration::from_secs_f64((f64::from(epoch_seconds) / 10.0).clamp(1.0, 12.0))
}

/// The subnet's weight hyperparameters for `epoch_seconds`-long coordinator epochs: a subnet epoch (tempo) of
/// half a coordinator epoch, so a commit is revealed within the next one; a rate limit that lets each validator
/// set weights once per coordinator epoch; commits revealed one subnet epoch later.
pub fn chain_parameters(options: ChainOptions, epoch_seconds: u32) -> SubnetParameters {
    let epoch_blocks = (f64::from(epoch_seconds) / block_time(epoch_seconds).as_secs_f64()).floor() as u64;
    SubnetParameters {
        netuid: LOCALNET_NETUID,
        commit_reveal: options.commit_reveal,
        commit_reveal_version: 4,
        min_allowed_weights: 1,
        max_weights_limit: u16::MAX,
        version_key: 0,
        rate_limit: (epoch_blocks / 2).max(1),
        tempo: u16::try_from((epoch_blocks / 2).max(5) - 1).unwrap_or(u16::MAX),
        reveal_period_epochs: 1,
        activity_cutoff: 5000,
    }
}

impl LocalChain {
    /// Starts the node with `neurons` (uid order), recording under `data_dir/chain/`.
    pub async fn start(
        options: ChainOptions,
        epoch_seconds: u32,
        neurons: Vec<NodeNeuron>,
        data_dir: &Path,
        cancel: CancellationToken,
    ) -> anyhow::Result<LocalChain> {
        let parameters = chain_parameters(options, epoch_seconds);
        let block_time = block_time(epoch_seconds);
        let node =
            ChainNode::start(NodeMetadata::finney_343(), parameters.clone(), neurons, block_time, cancel).await?;
        let record = data_dir.join("chain");
        node.record_to(&record)?;
        Ok(LocalChain { node, parameters, block_time, record })
    }

    fn endpoints(&self) -> Vec<RpcEndpoint> {
        vec![self.node.url.parse().expect("the node's URL is an endpoint")]
    }

    /// The metagraph, read from the node.
    pub fn metagraph(&self) -> MetagraphSpec {
        MetagraphSpec::Subtensor(self.endpoints())
    }

    /// How a validator puts its weights on this chain: commits are encrypted to the dev beacon, whose pulses
    /// the node's drand pallet holds; no burn.
    pub fn on_chain_weights(&self) -> OnChainWeights {
        let settings = SetterSettings::standard(
            LOCALNET_NETUID,
            DevBeacon::new().chain().public_key,
            self.block_time,
            Duration::from_secs(5),
        );
        OnChainWeights {
            setter: WeightSetter::new(self.endpoints(), settings),
            policy: WeightPolicy::default(),
            version_key: None,
        }
    }

    /// The line localnet's header shows.
    pub fn describe(&self) -> String {
        let p = &self.parameters;
        format!(
            "{} (finney runtime spec 343, netuid {}, a block every {:.1}s, tempo {}, commit-reveal {})",
            self.node.url,
            p.netuid,
            self.block_time.as_secs_f64(),
            p.tempo,
            if p.commit_reveal { "on: commits to the dev beacon, revealed an epoch later" } else { "off" },
        )
    }

    pub fn print_events(&self) {
        print_events(&self.node);
    }

    /// Commits the chain has not revealed yet.
    pub fn unrevealed(&self) -> usize {
        self.node.with(|ledger| ledger.commits.values().map(Vec::len).sum())
    }

    /// Waits until every commit is revealed (or, past the reveal period and a margin, gives up).
    pub async fn await_reveals(&self, shutdown: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>) {
        if self.unrevealed() == 0 {
            return;
        }
        println!("Waiting for the chain to reveal {} commits (an epoch of the subnet later).", self.unrevealed());
        let blocks = (self.parameters.reveal_period_epochs + 2) * (u64::from(self.parameters.tempo) + 1);
        let deadline = tokio::time::Instant::now() + self.block_time * blocks as u32 + Duration::from_secs(10);
        while self.unrevealed() > 0 && tokio::time::Instant::now() < deadline {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => self.print_events(),
                _ = shutdown.as_mut() => return,
            }
        }
        self.print_events();
        if self.unrevealed() > 0 {
            println!("{} commits were not revealed in time.", self.unrevealed());
        }
    }

    /// What the chain holds at the end: each neuron's last weights, and how many transactions and reveals.
    pub fn print_summary(&self, names: &[String]) {
        self.node.with(|ledger| {
            println!("The chain at block {} (files under {}):", ledger.best(), self.record.display());
            for (uid, weights) in &ledger.weights {
                let name = names.get(usize::from(*uid)).map_or("?", String::as_str);
                let (uids, values): (Vec<u16>, Vec<u16>) = weights.iter().copied().unzip();
                println!(
                    "    uid {uid} ({name}) weights set at block {}: uids {uids:?} values {values:?}",
                    ledger.last_update[usize::from(*uid)]
                );
            }
            let applied = ledger.submissions.iter().filter(|s| s.result == "applied").count();
            let refused = ledger.submissions.iter().filter(|s| s.result.starts_with("refused")).count();
            let revealed = ledger.reveals.iter().filter(|r| r.result == "applied").count();
            print!("    {applied} transactions applied, {refused} refused");
            if self.parameters.commit_reveal {
                print!("; {revealed} commits revealed, {} failed", ledger.reveals.len() - revealed);
            }
            println!();
        });
    }
}

/// The node's neurons for localnet's keys: `(hotkey, coldkey, permit, stake in alpha)` in uid order.
pub fn node_neurons(neurons: &[(Hotkey, Hotkey, bool, f64)]) -> Vec<NodeNeuron> {
    neurons
        .iter()
        .map(|(hotkey, coldkey, permit, stake)| NodeNeuron {
            hotkey: hotkey.clone(),
            coldkey: coldkey.clone(),
            validator_permit: *permit,
            stake_rao: (stake * 1e9) as u64,
        })
        .collect()
}

/// Prints what happened on the node's chain since the last call, one `[chain]` line each.
pub fn print_events(node: &ChainNode) {
    for event in node.with(|ledger| ledger.take_events()) {
        println!("[chain] {}", describe_event(&event));
    }
}

fn describe_event(event: &ChainEvent) -> String {
    let vector = |weights: &[(u16, u16)]| {
        let (uids, values): (Vec<u16>, Vec<u16>) = weights.iter().copied().unzip();
        format!("uids {uids:?} values {values:?}")
    };
    match event {
        ChainEvent::WeightsSet { block, uid, weights } => {
            format!("block {block}: uid {uid} set weights: {}", vector(weights))
        }
        ChainEvent::Committed { block, uid, reveal_round } => {
            format!("block {block}: uid {uid} committed its weights (timelocked to beacon round {reveal_round})")
        }
        ChainEvent::Revealed { block, uid, commit_block, weights } => {
            format!("block {block}: revealed uid {uid}'s commit of block {commit_block}: {}", vector(weights))
        }
        ChainEvent::RevealFailed { block, uid, commit_block, why } => {
            format!("block {block}: uid {uid}'s commit of block {commit_block} did not reveal: {why}")
        }
        ChainEvent::Refused { block, why } => format!("block {block}: a transaction was refused: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_is_revealed_within_the_next_coordinator_epoch_and_weights_fit_once_an_epoch() {
        for (epoch_seconds, block_ms) in [(15, 1500u64), (60, 6000), (14_400, 12_000), (10, 1000)] {
            let p = chain_parameters(ChainOptions { commit_reveal: true }, epoch_seconds);
            let block = block_time(epoch_seconds);
            assert_eq!(block.as_millis(), u128::from(block_ms));
            let epoch_blocks = u64::from(epoch_seconds) * 1000 / block_ms;
            // Reveal: at most two subnet epochs after the commit, within a coordinator epoch and a bit.
            assert!((p.reveal_period_epochs + 1) * (u64::from(p.tempo) + 1) <= epoch_blocks + 2, "{epoch_seconds}");
            assert!(p.rate_limit <= epoch_blocks / 2 + 1 && p.rate_limit >= 1);
        }
    }
}

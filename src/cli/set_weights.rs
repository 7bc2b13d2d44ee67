//! `zipcoord validator set-weights`: one weight setting by hand (a burn, a fix), as `validator run` makes them:
//! the subnet's state read from subtensor, the SDK's vector, `set_weights` or a timelocked commit, signed by
//! the hotkey. `--dry-run` prints what would be sent and sends nothing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgGroup, Args, ValueEnum};

use super::keys::KeyArgs;
use super::secret_text::SecretText;
use crate::api::EpochJudgement;
use crate::chain::subtensor::calls::WeightCall;
use crate::chain::subtensor::setter::{PreparedWeights, SetterSettings, WeightSetter, WeightsSet};
use crate::chain::subtensor::weight_plan::WeightRequest;
use crate::chain::MetagraphSpec;
use crate::domain::epoch::beacon::{DevBeacon, QUICKNET};
use crate::domain::judging::weights::{Burn, WeightPolicy};
use crate::settings::defaults;

/// The beacon whose rounds open a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CommitBeacon {
    /// drand's quicknet, which subtensor reads.
    Quicknet,
    /// zipcoord's dev beacon (a `localnet --chain` node reads it).
    Dev,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("scores").required(true).args(["uids", "results"])))]
pub struct SetWeightsArgs {
    #[command(flatten)]
    pub key: KeyArgs,
    /// The chain: `subtensor` (finney) or `subtensor:URL[,URL...]`.
    #[arg(long, env = "ZIPCOORD_METAGRAPH", hide_env_values = true)]
    pub metagraph: SecretText,
    #[arg(long, env = "ZIPCOORD_NETUID", default_value_t = defaults::NETUID)]
    pub netuid: u16,
    /// The uids to weigh, with `--weights` (any non-negative scale; the SDK's normalization applies).
    #[arg(long, value_delimiter = ',', requires = "weights")]
    pub uids: Vec<u16>,
    /// The weights of `--uids`, in the same order.
    #[arg(long, value_delimiter = ',', requires = "uids")]
    pub weights: Vec<f64>,
    /// A judged epoch's results file (`weights-EPOCH.json` from `validator run`): its split is submitted.
    #[arg(long, conflicts_with = "uids")]
    pub results: Option<PathBuf>,
    #[command(flatten)]
    pub on_chain: OnChainArgs,
    /// Print the call, the vector, the reveal round and the signed transaction; send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How weights go on chain: the owner's burn, the version key, and what a commit is encrypted with
/// (`validator set-weights` and `validator run`).
#[derive(Debug, Args)]
pub struct OnChainArgs {
    /// The subnet owner's uid, which receives `--burn-share` of the vector.
    #[arg(long, env = "ZIPCOORD_BURN_UID", requires = "burn_share")]
    pub burn_uid: Option<u16>,
    /// The share (0..1) that goes to `--burn-uid`; the split shares the rest.
    #[arg(long, env = "ZIPCOORD_BURN_SHARE", requires = "burn_uid", value_parser = super::flags::unit_share)]
    pub burn_share: Option<f64>,
    /// The version key (default: the subnet's `WeightsVersionKey`; never below it).
    #[arg(long, env = "ZIPCOORD_VERSION_KEY")]
    pub version_key: Option<u64>,
    /// The beacon commits are encrypted to when commit-reveal is on.
    #[arg(long, value_enum, default_value = "quicknet")]
    pub commit_beacon: CommitBeacon,
    /// Seconds per block (the reveal round is computed with it, as the SDK does).
    #[arg(long, default_value_t = 12.0)]
    pub block_time_seconds: f64,
}

impl OnChainArgs {
    pub fn policy(&self) -> WeightPolicy {
        WeightPolicy { burn: self.burn_uid.zip(self.burn_share).map(|(uid, share)| Burn { uid, share }) }
    }

    /// The setter for `netuid` on the chain `metagraph` names (only a subtensor metagraph is a chain).
    pub fn setter(&self, metagraph: &MetagraphSpec, netuid: u16) -> anyhow::Result<WeightSetter> {
        let MetagraphSpec::Subtensor(endpoints) = metagraph else {
            anyhow::bail!("--metagraph: weights are set on a chain; give subtensor or subtensor:URL[,URL...]")
        };
        if !(self.block_time_seconds.is_finite() && self.block_time_seconds > 0.0) {
            anyhow::bail!("--block-time-seconds must be a positive number");
        }
        let beacon_public_key = match self.commit_beacon {
            CommitBeacon::Quicknet => QUICKNET.public_key,
            CommitBeacon::Dev => DevBeacon::new().chain().public_key,
        };
        let settings = SetterSettings::standard(
            netuid,
            beacon_public_key,
            Duration::from_secs_f64(self.block_time_seconds),
            Duration::from_secs(defaults::CHAIN_TIMEOUT_SECONDS),
        );
        Ok(WeightSetter::new(endpoints.clone(), settings))
    }
}

impl SetWeightsArgs {
    fn request(&self) -> anyhow::Result<WeightRequest> {
        let split: BTreeMap<u16, f64> = match &self.results {
            Some(path) => {
                let bytes = std::fs::read(path).with_context(|| format!("--results {}", path.display()))?;
                let judgement: EpochJudgement = serde_json::from_slice(&bytes)
                    .with_context(|| format!("--results {} is not a results file", path.display()))?;
                judgement
                    .weights
                    .iter()
                    .map(|(uid, w)| Ok((uid.parse::<u16>().with_context(|| format!("uid '{uid}'"))?, *w)))
                    .collect::<anyhow::Result<_>>()?
            }
            None => {
                if self.uids.len() != self.weights.len() {
                    anyhow::bail!(
                        "--uids names {} uids but --weights gives {} weights",
                        self.uids.len(),
                        self.weights.len()
                    );
                }
                if let Some(bad) = self.weights.iter().find(|w| !w.is_finite() || **w < 0.0) {
                    anyhow::bail!("--weights: {bad} is not a non-negative number");
                }
                self.uids.iter().copied().zip(self.weights.iter().copied()).collect()
            }
        };
        Ok(WeightRequest { split, policy: self.on_chain.policy(), version_key: self.on_chain.version_key })
    }
}

/// The call as a person reads it.
fn describe_call(call: &WeightCall) -> String {
    match call {
        WeightCall::SetWeights { netuid, dests, weights, version_key } => {
            format!("SubtensorModule.set_weights(netuid: {netuid}, dests: {dests:?}, weights: {weights:?}, version_key: {version_key})")
        }
        WeightCall::CommitTimelockedWeights { netuid, commit, reveal_round, commit_reveal_version } => format!(
            "SubtensorModule.commit_timelocked_weights(netuid: {netuid}, commit: <{} encrypted bytes>, reveal_round: {reveal_round}, commit_reveal_version: {commit_reveal_version})",
            commit.len()
        ),
    }
}

/// What a dry run prints.
pub fn dry_run_report(prepared: &PreparedWeights, hotkey: &str) -> String {
    let (view, planned) = (&prepared.view, &prepared.planned);
    let mut out = String::new();
    let _ = writeln!(out, "chain      {} at block {} (runtime spec {})", view.endpoint, view.block, view.spec_version);
    let _ = writeln!(out, "validator  uid {} ({hotkey}), nonce {}", planned.uid, view.nonce);
    let mode = if view.commit_reveal { "on: a timelocked commit" } else { "off: set_weights" };
    let _ = writeln!(out, "commit-reveal {mode}; version key {}", planned.version_key);
    let pairs: Vec<String> = planned.emitted.pairs().map(|(uid, value)| format!("{uid}:{value}")).collect();
    let _ = writeln!(out, "vector     {} weights (uid:u16) {}", pairs.len(), pairs.join(" "));
    if let Some(round) = planned.reveal_round {
        let _ = writeln!(out, "reveal     drand round {round}");
    }
    let _ = writeln!(out, "call       {}", describe_call(&planned.call));
    let _ = writeln!(out, "extrinsic  0x{}", hex::encode(&prepared.extrinsic.bytes));
    let _ = writeln!(out, "nothing sent (--dry-run)");
    out
}

fn set_report(set: &WeightsSet) -> String {
    let what = match set.planned.reveal_round {
        Some(round) => format!("committed (revealed at drand round {round})"),
        None => "set".to_string(),
    };
    format!(
        "weights of uid {} {what}: {} weights, in block {} via {} (transaction {}, attempt {})\n",
        set.planned.uid,
        set.planned.emitted.uids.len(),
        set.block,
        set.endpoint,
        set.transaction,
        set.attempt
    )
}

pub async fn run(args: SetWeightsArgs) -> anyhow::Result<()> {
    let request = args.request()?;
    let metagraph: MetagraphSpec =
        args.metagraph.expose().parse().map_err(anyhow::Error::msg).context("--metagraph")?;
    let setter = args.on_chain.setter(&metagraph, args.netuid)?;
    let key = args.key.keypair()?;
    if args.dry_run {
        let prepared = setter.prepare(&key, &request).await?;
        print!("{}", dry_run_report(&prepared, key.hotkey().as_str()));
    } else {
        let set = setter.set(&key, &request).await?;
        print!("{}", set_report(&set));
    }
    Ok(())
}

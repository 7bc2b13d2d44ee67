//! `zipcoord localnet`: its flags, and the local network they make ([`crate::localnet`]).

use std::path::PathBuf;

use clap::Args;

use crate::client::synthetic::MarketSizes;
use crate::client::validator::group_judging::ValidationMode;
use crate::domain::epoch::batches::AssignmentMode;
use crate::domain::epoch::groups::GroupPlan;
use crate::localnet::{ChainOptions, LiarSpec, LocalnetOptions, MarketOptions};
use crate::s3::UploadMode;

#[derive(Debug, Args)]
pub struct LocalnetArgs {
    #[arg(long, default_value_t = 4)]
    pub miners: usize,
    #[arg(long, default_value_t = 2)]
    pub validators: usize,
    /// Which of the miners lie (the last ones): a count of inventors, or kinds: `inventor`, `shader`, `copier`,
    /// `exact-copier` (keeps the copied scrape times), `sybil` (a pair under one coldkey), e.g.
    /// `--liars inventor,shader,copier,sybil`.
    #[arg(long, default_value = "1", value_parser = clap::value_parser!(LiarSpec))]
    pub liars: LiarSpec,
    /// `shared`, or `groups`: each group of miners gets a batch of its own.
    #[arg(long, default_value = "shared", value_parser = ["shared", "groups"])]
    pub assignment_mode: String,
    /// Miners per group in `groups` mode.
    #[arg(long, default_value_t = crate::settings::defaults::GROUP_SIZE, value_parser = super::flags::group_count)]
    pub group_size: usize,
    /// How validators check `groups` epochs: `consensus`, `spot-checks` or `both`.
    #[arg(long, default_value = "both", value_parser = clap::value_parser!(ValidationMode))]
    pub validation: ValidationMode,
    /// Epoch length; at least 10 and dividing 86400.
    #[arg(long, default_value_t = 60)]
    pub epoch_seconds: u32,
    #[arg(long, default_value_t = 1_000)]
    pub target_listings: u32,
    /// Stop once every validator has judged this many whole epochs (the one the network starts in is
    /// partial and does not count; 0: run until interrupted).
    #[arg(long, default_value_t = 0)]
    pub epochs: usize,
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Keeps the database, metagraph, bucket and each neuron's state (a temporary folder, removed at exit, by
    /// default).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Stops the coordinator for this many whole epochs from the second whole epoch on, then starts it again:
    /// miners compute their assignments or take them from the validators' relays meanwhile.
    #[arg(long, default_value_t = 0)]
    pub outage: usize,
    /// Runs a loopback subtensor node (the recorded finney runtime): the metagraph is read from it and the
    /// validators put their weights on it; it keeps its blocks, transactions and pulses under DATA_DIR/chain/.
    #[arg(long)]
    pub chain: bool,
    /// With `--chain`: `on` sends timelocked commits (to the dev beacon) that the node reveals an epoch later;
    /// `off` sends `set_weights`.
    #[arg(long, default_value = "off", value_parser = ["on", "off"], requires = "chain")]
    pub commit_reveal: String,
    /// The synthetic market: `as-expected` (every zipcode holds what the coordinator expects) or `varied` (each
    /// holds 10, 150 or 600 listings of its own, so recalibration has something to find; with `--epochs`, a
    /// report at the end sets the listings delivered against the target, epoch by epoch).
    #[arg(long, default_value = "as-expected", value_parser = clap::value_parser!(MarketSizes))]
    pub market: MarketSizes,
    /// A universe of this many built-in zipcodes spread over the country, each resting two epochs after it is
    /// assigned (so zipcodes come back while their evidence counts); the whole built-in universe by default.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub universe: Option<u64>,
    /// Recalibration's bounded step, in percent (`ZIPCOORD_RECALIBRATION_STEP_PERCENT` of the server).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub recalibration_step_percent: u32,
}

pub async fn localnet(args: LocalnetArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.miners >= 1 && args.validators >= 1, "a network needs at least one miner and one validator");
    args.liars.roles(args.miners).map_err(|e| anyhow::anyhow!("--liars: {e}"))?;
    let shutdown = crate::shutdown::shutdown_signal();
    let temporary = match &args.data_dir {
        Some(_) => None,
        None => Some(tempfile_dir()?),
    };
    let data_dir = args.data_dir.clone().or_else(|| temporary.clone()).expect("one of them is set");
    let options = LocalnetOptions {
        miners: args.miners,
        validators: args.validators,
        epoch_seconds: args.epoch_seconds,
        target_listings: args.target_listings,
        listen: args.listen,
        database_url: None,
        data_dir,
        upload_mode: UploadMode::Post,
        assignment: match args.assignment_mode.as_str() {
            "groups" => AssignmentMode::Groups(GroupPlan { size: args.group_size, overlap: 1 }),
            _ => AssignmentMode::Shared,
        },
        validation: args.validation,
        liars: args.liars.clone(),
        chain: args.chain.then(|| ChainOptions { commit_reveal: args.commit_reveal == "on" }),
        market: MarketOptions {
            sizes: args.market,
            universe: args.universe.map(|n| n as usize),
            recalibration_step_percent: args.recalibration_step_percent,
        },
    };
    let outcome = crate::localnet::run(options, args.epochs, args.outage, shutdown).await;
    if let Some(dir) = temporary {
        let _ = std::fs::remove_dir_all(dir);
    }
    outcome
}

/// A fresh folder under the system's temporary directory.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("zipcoord-localnet-{}", hex::encode(rand::random::<[u8; 6]>())));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

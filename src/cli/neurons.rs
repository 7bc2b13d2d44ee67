//! The neurons' commands: `miner run|current` (and `history|export-accepted`, in [`super::history`]),
//! `validator run|score` (`localnet` is [`super::localnet`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{ArgGroup, Args, Subcommand};

use crate::beacon::{BeaconSettings, BeaconSpec};
use crate::chain::MetagraphSpec;
use crate::client::epochs::Epochs;
use crate::client::miner::scraper::{CommandScraper, Scraper, SyntheticScraper};
use crate::client::miner::Miner;
use crate::client::state::{default_state_dir, StateDir};
use crate::client::trust::signing_api_client;
use crate::client::validator::group_judging::ValidationMode;
use crate::client::validator::on_chain::OnChainWeights;
use crate::client::validator::verifier::{CommandVerifier, ListingVerifier, SyntheticVerifier};
use crate::client::validator::{EpochJudgement, Validator, ValidatorSettings};
use crate::client::{RetryPolicy, ZipcoordClient};
use crate::settings::defaults;

use super::flags::unit_share;
use super::keys::KeyArgs;
use super::secret_text::SecretText;
use crate::client::synthetic::MarketSizes;
use crate::domain::access::keys::Keypair;
use crate::domain::epoch::EpochId;
use crate::domain::hotkey::Hotkey;
use crate::domain::judging::consensus::ConsensusSettings;
use crate::domain::judging::scoring::RewardSplit;

/// Where zipcoord is.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The zipcoord service.
    #[arg(long, env = "ZIPCOORD_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The service address (SS58) Epistula requests are signed for. Default: the one the API advertised the
    /// first time it was reached, kept in the state directory; never taken afresh from whoever answers.
    #[arg(long, env = "ZIPCOORD_SERVICE_ADDRESS", value_parser = service_address)]
    pub service_address: Option<Hotkey>,
}

fn service_address(raw: &str) -> Result<Hotkey, String> {
    raw.trim().parse().map_err(|e: crate::domain::hotkey::MalformedHotkey| e.to_string())
}

/// What a miner or validator needs to keep working while the coordinator is down.
#[derive(Debug, Args)]
pub struct OutageArgs {
    /// Where the client keeps epoch inputs, assignments, its upload grant and undelivered reports (default:
    /// `$XDG_DATA_HOME/zipcoord/{miner|validator}-{hotkey}`, else under `~/.local/share`).
    #[arg(long, env = "ZIPCOORD_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Validators' relays (`validator run --relay-listen`), asked in order when neither the API nor the beacon
    /// gives the assignment; what they serve is recomputed before use.
    #[arg(long = "relay", env = "ZIPCOORD_RELAYS", value_delimiter = ',')]
    pub relays: Vec<String>,
    /// Where beacon pulses come from when the client computes an epoch itself: `drand` (quicknet from drand's
    /// relays), `drand:URL[,URL...]`, `subtensor[:URL,...]` or `dev`; the server's sources, verified alike.
    #[arg(long, env = "ZIPCOORD_BEACON", default_value = "drand")]
    pub beacon: String,
}

impl OutageArgs {
    /// The client's epochs over `api`, with its state directory for `role` and `key`.
    async fn epochs(
        &self,
        server: &ServerArgs,
        role: &str,
        key: &Keypair,
        metagraph: &MetagraphSpec,
    ) -> anyhow::Result<Arc<Epochs>> {
        let spec = BeaconSpec::parse(&self.beacon, metagraph).map_err(anyhow::Error::msg).context("--beacon")?;
        let beacon = Arc::from(crate::beacon::open(&BeaconSettings::new(spec)));
        let hotkey = key.hotkey().to_string();
        let root = self.state_dir.clone().unwrap_or_else(|| default_state_dir(role, &hotkey));
        let state = StateDir::open(&root, hotkey).with_context(|| format!("state directory {}", root.display()))?;
        tracing::info!(state_dir = %root.display(), relays = self.relays.len(), "client state");
        let api = ZipcoordClient::new(server.url.clone()).with_retries(RetryPolicy::default());
        let api = signing_api_client(api, server.service_address.clone(), &state).await?;
        let relays = self.relays.iter().map(|url| ZipcoordClient::checked(url.clone())).collect();
        Ok(Arc::new(Epochs::new(api, relays, beacon, state)))
    }
}

#[derive(Debug, Subcommand)]
pub enum MinerCommand {
    /// Mine every epoch: fetch the assignment, scrape, upload, report; until interrupted.
    Run(MinerRunArgs),
    /// The miner's history: one line per epoch with the validators' verdicts, or `--summary`, `--failures`.
    History(super::history::HistoryArgs),
    /// Write the listings of epochs the validators accepted as JSON Lines (a data set of verified listings).
    ExportAccepted(super::history::ExportAcceptedArgs),
    /// Print the current assignment as JSON (and, on stderr, where it came from).
    Current {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        key: KeyArgs,
        #[command(flatten)]
        outage: OutageArgs,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("scraper").required(true).args(["scraper_command", "synthetic"])))]
pub struct MinerRunArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    #[command(flatten)]
    pub outage: OutageArgs,
    /// Shell command run per zipcode; gets ZIPCOORD_ZIPCODE, ZIPCOORD_EXPECTED_LISTINGS, ZIPCOORD_EPOCH_ID,
    /// ZIPCOORD_CITY, ZIPCOORD_STATE and prints a JSON array of listings.
    #[arg(long, env = "ZIPCOORD_SCRAPER_COMMAND")]
    pub scraper_command: Option<String>,
    /// Scrape the synthetic market instead (local networks only).
    #[arg(long)]
    pub synthetic: bool,
    /// Seconds a scraper command may take per zipcode.
    #[arg(long, env = "ZIPCOORD_SCRAPER_TIMEOUT_SECONDS", default_value_t = 600)]
    pub scraper_timeout_seconds: u64,
    /// Coldkey named in the folder-access signature (default: the hotkey's address).
    #[arg(long, env = "ZIPCOORD_COLDKEY")]
    pub coldkey: Option<String>,
    /// Seconds between polls of the public stats (default 300; the older shared `ZIPCOORD_POLL_SECONDS` is
    /// read when neither is given).
    #[arg(long, env = "ZIPCOORD_MINER_POLL_SECONDS")]
    pub poll_seconds: Option<u64>,
    /// Epochs whose delivered listings are kept in the state directory for `miner export-accepted` (the
    /// newest; a week of 4-hour epochs by default).
    #[arg(long, env = "ZIPCOORD_KEEP_LISTING_EPOCHS", default_value_t = crate::client::miner::DEFAULT_KEPT_LISTING_EPOCHS)]
    pub keep_listing_epochs: usize,
}

#[derive(Debug, Subcommand)]
pub enum ValidatorCommand {
    /// Judge each epoch during the next one and write its weights; until interrupted.
    Run(ValidatorRunArgs),
    /// Put weights on chain once, by hand: `--uids`/`--weights` or a judged epoch's `--results`, with the
    /// owner's burn; `--dry-run` prints the call and the signed transaction and sends nothing.
    SetWeights(super::set_weights::SetWeightsArgs),
    /// Judge one epoch now and print its weights as JSON.
    Score {
        /// The epoch, e.g. 2025-10-01T16-00-00.
        #[arg(long)]
        epoch: EpochId,
        #[command(flatten)]
        judging: JudgingArgs,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("verifier").required(true).args(["verifier_command", "synthetic"])))]
pub struct JudgingArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Where miners' uids come from: `subtensor`, `subtensor:URL[,URL...]`, `file:PATH` or `dev`.
    #[arg(long, env = "ZIPCOORD_METAGRAPH", hide_env_values = true)]
    pub metagraph: SecretText,
    #[arg(long, env = "ZIPCOORD_NETUID", default_value_t = defaults::NETUID)]
    pub netuid: u16,
    /// Listings spot-checked per miner and epoch (sampled; in `groups` epochs with `--validation both`, among
    /// the listings no other operator corroborated, plus the disputed ones).
    #[arg(long, env = "ZIPCOORD_SPOT_CHECKS", default_value_t = 10)]
    pub spot_checks: usize,
    /// How `groups` epochs are checked: `consensus` (compare each group's reports only), `spot-checks` (a
    /// sample of every miner's listings at the source, as in `shared` epochs) or `both`.
    #[arg(long, env = "ZIPCOORD_VALIDATION", default_value = "both", value_parser = clap::value_parser!(ValidationMode))]
    pub validation: ValidationMode,
    /// The share of a listing's voting weight (credibility, one voice per coldkey) its majority needs.
    #[arg(long, env = "ZIPCOORD_CONSENSUS_THRESHOLD", default_value_t = 0.6, value_parser = unit_share)]
    pub consensus_threshold: f64,
    /// Operators (coldkeys) that must report a listing before anyone can be contradicted on it.
    #[arg(long, env = "ZIPCOORD_CONSENSUS_MIN_VOTERS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(2..=100))]
    pub min_voters: u32,
    /// Shell command that checks one listing (its JSON on stdin): exit 0 confirms, 1 refutes.
    #[arg(long, env = "ZIPCOORD_VERIFIER_COMMAND")]
    pub verifier_command: Option<String>,
    /// Check against the synthetic market instead (local networks only).
    #[arg(long)]
    pub synthetic: bool,
    /// Shares of the best honest miners by rank.
    #[arg(long, env = "ZIPCOORD_TOP_SHARES", value_delimiter = ',', default_value = "0.5,0.3,0.15")]
    pub top_shares: Vec<f64>,
    /// At most this much for the other honest miners together.
    #[arg(long, env = "ZIPCOORD_REST_SHARE", default_value_t = 0.05)]
    pub rest_share: f64,
    /// Do not upload the results to the bucket.
    #[arg(long)]
    pub no_upload: bool,
    #[command(flatten)]
    pub outage: OutageArgs,
}

#[derive(Debug, Args)]
pub struct ValidatorRunArgs {
    #[command(flatten)]
    pub judging: JudgingArgs,
    /// Also write each epoch's weights to `DIR/weights-{epoch}.json`.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// Seconds between polls of the public stats (default 60; the older shared `ZIPCOORD_POLL_SECONDS` is read
    /// when neither is given).
    #[arg(long, env = "ZIPCOORD_VALIDATOR_POLL_SECONDS")]
    pub poll_seconds: Option<u64>,
    /// Seconds into epoch N+1 before N is judged, so uploads in flight at the deadline land.
    #[arg(long, env = "ZIPCOORD_JUDGE_DELAY_SECONDS", default_value_t = 60)]
    pub judge_delay_seconds: u64,
    /// Also serve, unsigned, the assignments, inputs and stats this validator holds at this address (a relay
    /// miners can fall back on while the coordinator is down).
    #[arg(long, env = "ZIPCOORD_RELAY_LISTEN")]
    pub relay_listen: Option<std::net::SocketAddr>,
    /// With a `subtensor` metagraph, do not put each judged epoch's weights on chain (other metagraphs never do).
    #[arg(long, env = "ZIPCOORD_NO_SET_WEIGHTS")]
    pub no_set_weights: bool,
    #[command(flatten)]
    pub on_chain: super::set_weights::OnChainArgs,
}

/// The poll interval: the neuron's own setting, else the older `ZIPCOORD_POLL_SECONDS` that both neurons
/// shared (with different defaults), else `default_seconds`.
fn poll_interval(own: Option<u64>, default_seconds: u64) -> Duration {
    let shared = || std::env::var("ZIPCOORD_POLL_SECONDS").ok().and_then(|v| v.trim().parse::<u64>().ok());
    let seconds = own.or_else(|| {
        let value = shared()?;
        tracing::warn!(
            "ZIPCOORD_POLL_SECONDS is deprecated: use ZIPCOORD_MINER_POLL_SECONDS or ZIPCOORD_VALIDATOR_POLL_SECONDS"
        );
        Some(value)
    });
    Duration::from_secs(seconds.unwrap_or(default_seconds).max(1))
}

pub async fn miner(command: MinerCommand) -> anyhow::Result<()> {
    match command {
        MinerCommand::History(args) => super::history::history(args),
        MinerCommand::ExportAccepted(args) => super::history::export_accepted(args),
        MinerCommand::Current { server, key, outage } => {
            let key = key.keypair()?;
            let epochs = outage.epochs(&server, "miner", &key, &MetagraphSpec::Dev).await?;
            epochs.current_epoch_id().await;
            let sourced = epochs.current(&key).await?;
            println!("{}", serde_json::to_string_pretty(&sourced.assignment)?);
            eprintln!(
                "epoch {}: {} zipcodes, {} expected listings, from {}",
                sourced.assignment.epoch_id,
                sourced.assignment.zipcodes.len(),
                sourced.assignment.metadata.total_expected_listings,
                sourced.source
            );
            Ok(())
        }
        MinerCommand::Run(args) => {
            let shutdown = crate::shutdown::shutdown_signal();
            let scraper: Arc<dyn Scraper> = match &args.scraper_command {
                Some(command) => Arc::new(CommandScraper {
                    command: command.clone(),
                    timeout: Duration::from_secs(args.scraper_timeout_seconds),
                }),
                None => Arc::new(SyntheticScraper { delay: Duration::ZERO, sizes: Default::default() }),
            };
            let key = args.key.keypair()?;
            let epochs = args.outage.epochs(&args.server, "miner", &key, &MetagraphSpec::Dev).await?;
            let miner = Miner::new(epochs, key, args.coldkey.clone(), scraper.clone())
                .with_kept_listing_epochs(args.keep_listing_epochs);
            tracing::info!(hotkey = %miner.hotkey(), scraper = %scraper.describe(), url = %args.server.url, "miner started");
            miner
                .run(
                    poll_interval(args.poll_seconds, defaults::MINER_POLL_SECONDS),
                    shutdown,
                    |outcome| match outcome {
                        Ok(work) => tracing::info!(
                            epoch = %work.epoch_id, source = %work.source, status = work.status.as_str(),
                            uploaded = work.uploaded, zipcodes = work.zipcodes, listings = work.listings,
                            failures = work.failures.len(),
                            kept_for_later = work.kept_for_later.as_ref().map(|(n, _)| *n),
                            "epoch mined"
                        ),
                        Err(error) => tracing::warn!(%error, "epoch not mined; retrying at the next poll"),
                    },
                )
                .await;
            Ok(())
        }
    }
}

impl JudgingArgs {
    async fn validator(&self, run: Option<&ValidatorRunArgs>) -> anyhow::Result<Validator> {
        let spec: MetagraphSpec = self.metagraph.expose().parse().map_err(anyhow::Error::msg)?;
        let metagraph = spec.open(self.netuid, Duration::from_secs(defaults::CHAIN_TIMEOUT_SECONDS));
        let verifier: Arc<dyn ListingVerifier> = match &self.verifier_command {
            Some(command) => Arc::new(CommandVerifier { command: command.clone(), timeout: Duration::from_secs(60) }),
            None => Arc::new(SyntheticVerifier(MarketSizes::AsExpected)),
        };
        let split = RewardSplit::new(self.top_shares.clone(), self.rest_share).context("reward split")?;
        let consensus = ConsensusSettings {
            threshold: self.consensus_threshold,
            min_voters: self.min_voters as usize,
            ..ConsensusSettings::default()
        };
        let mut settings = ValidatorSettings {
            spot_checks: self.spot_checks,
            validation: self.validation,
            consensus,
            split,
            publish: !self.no_upload,
            ..Default::default()
        };
        if let Some(run) = run {
            settings.judge_delay = Duration::from_secs(run.judge_delay_seconds);
        }
        let key = self.key.keypair()?;
        let epochs = self.outage.epochs(&self.server, "validator", &key, &spec).await?;
        let validator = Validator::new(epochs, key, metagraph, verifier, settings);
        match run {
            Some(run) if !run.no_set_weights && matches!(spec, MetagraphSpec::Subtensor(_)) => {
                let on_chain = OnChainWeights {
                    setter: run.on_chain.setter(&spec, self.netuid)?,
                    policy: run.on_chain.policy(),
                    version_key: run.on_chain.version_key,
                };
                tracing::info!(netuid = self.netuid, "each judged epoch's weights go on chain");
                Ok(validator.with_on_chain(on_chain))
            }
            _ => Ok(validator),
        }
    }
}

fn write_weights(dir: &std::path::Path, judgement: &EpochJudgement) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("weights-{}.json", judgement.epoch_id));
    std::fs::write(&path, serde_json::to_vec_pretty(judgement)?)?;
    Ok(path)
}

pub async fn validator(command: ValidatorCommand) -> anyhow::Result<()> {
    match command {
        ValidatorCommand::SetWeights(args) => super::set_weights::run(args).await,
        ValidatorCommand::Score { epoch, judging } => {
            let judgement = judging.validator(None).await?.judge(epoch).await?;
            println!("{}", serde_json::to_string_pretty(&judgement)?);
            Ok(())
        }
        ValidatorCommand::Run(args) => {
            let shutdown = crate::shutdown::shutdown_signal();
            let validator = args.judging.validator(Some(&args)).await?;
            tracing::info!(hotkey = %validator.hotkey(), url = %args.judging.server.url, "validator started");
            if let Some(addr) = args.relay_listen {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("relay: cannot listen on {addr}"))?;
                tracing::info!(addr = %listener.local_addr()?, "relay serving what this validator holds");
                let relay = crate::client::relay::serve(
                    listener,
                    validator.epochs().clone(),
                    crate::client::relay::RelayLimits::default(),
                    crate::shutdown::shutdown_signal(),
                );
                tokio::spawn(async move {
                    if let Err(error) = relay.await {
                        tracing::error!(%error, "relay stopped");
                    }
                });
            }
            validator
                .run(poll_interval(args.poll_seconds, defaults::VALIDATOR_POLL_SECONDS), shutdown, |epoch, outcome| {
                    match outcome {
                        Ok(judgement) => {
                            println!("{}", serde_json::to_string(&judgement).expect("judgements serialize"));
                            if let Some(dir) = &args.output_dir {
                                match write_weights(dir, &judgement) {
                                    Ok(path) => tracing::info!(%epoch, path = %path.display(), "weights written"),
                                    Err(error) => tracing::warn!(%epoch, %error, "cannot write weights"),
                                }
                            }
                        }
                        Err(error) => tracing::warn!(%epoch, %error, "epoch not judged"),
                    }
                })
                .await;
            Ok(())
        }
    }
}

//! `zipcoord localnet`: a whole subnet on one machine, so a subnet owner can watch the incentive mechanism work
//! before touching testnet. The real server (real HTTP on loopback, a SQLite file, short epochs), a metagraph
//! file of generated keys, an S3-compatible store that checks signatures and policies, N miners on the synthetic
//! market (some of them liars, if asked) and M validators judging each epoch during the next one, each serving
//! a relay. Pulses come from a local relay of the dev beacon, over HTTP like drand's. With `--outage N`, the
//! coordinator stops for N whole epochs mid-run and the network carries on without it. With `--chain`, the
//! metagraph is a loopback subtensor node's and the validators put their weights on it ([`chain`]).

pub mod beacon_relay;
pub mod chain;
pub mod chain_node;
pub mod liars;
pub mod market;
mod report;
pub mod store;
mod wrap_up;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use chain::{ChainOptions, LocalChain};
use report::{print_judgement, print_work};
pub use store::LocalStore;

use crate::app::SystemClock;
use crate::beacon::{BeaconSettings, BeaconSpec};
use crate::boot::RunningServer;
use crate::chain::MetagraphSpec;
use crate::client::epochs::Epochs;
use crate::client::miner::scraper::{Scraper, SyntheticScraper};
use crate::client::miner::{EpochWork, Miner, MinerError};
use crate::client::state::StateDir;
use crate::client::synthetic::MarketSizes;
use crate::client::validator::group_judging::ValidationMode;
use crate::client::validator::verifier::SyntheticVerifier;
use crate::client::validator::{EpochJudgement, Validator, ValidatorError, ValidatorSettings};
use crate::client::ZipcoordClient;
use crate::domain::access::keys::Keypair;
use crate::domain::epoch::batches::AssignmentMode;
use crate::domain::epoch::{EpochClock, EpochId};
use crate::domain::hotkey::Hotkey;
use crate::s3::{S3Settings, UploadMode};
use crate::settings::{EpochSettings, RateLimitSettings, Settings};
pub use liars::{CopyingScraper, InventingScraper, LiarKind, LiarSpec, ShadingScraper};
pub use market::MarketOptions;

/// What a local network is made of.
#[derive(Debug, Clone)]
pub struct LocalnetOptions {
    pub miners: usize,
    pub validators: usize,
    pub epoch_seconds: u32,
    pub target_listings: u32,
    pub listen: SocketAddr,
    /// The database; a SQLite file in `data_dir` when `None`.
    pub database_url: Option<String>,
    /// Holds the database, the metagraph file and the bucket.
    pub data_dir: PathBuf,
    /// How miners upload: POST policies or presigned PUTs.
    pub upload_mode: UploadMode,
    /// `shared`, or groups of miners with batches of their own.
    pub assignment: AssignmentMode,
    /// How the validators check `groups` epochs.
    pub validation: ValidationMode,
    /// Which miners lie, and how (the last ones); a sybil pair shares a coldkey.
    pub liars: LiarSpec,
    /// The metagraph and the weights on a loopback subtensor node, rather than a metagraph file.
    pub chain: Option<ChainOptions>,
    /// The synthetic market's sizes, and the universe and recalibration the coordinator meets it with.
    pub market: MarketOptions,
}

/// A running local network's infrastructure: the store, the server, the dev beacon's relay, the validators'
/// relay addresses, and the keys it registered.
pub struct Localnet {
    pub store: LocalStore,
    server: Option<RunningServer>,
    settings: Settings,
    pub url: String,
    pub metagraph_path: PathBuf,
    pub miners: Vec<Keypair>,
    pub validators: Vec<Keypair>,
    data_dir: PathBuf,
    /// The dev beacon's drand-style relay.
    pub beacon_url: String,
    /// Each validator's relay address, and its listener until the validator is made.
    pub relay_urls: Vec<String>,
    relay_listeners: parking_lot::Mutex<Vec<Option<tokio::net::TcpListener>>>,
    /// The loopback chain, with `--chain`.
    pub chain: Option<LocalChain>,
    market: MarketOptions,
    /// Stops the relays and the chain.
    cancel: CancellationToken,
}

/// `//Miner1`, `//Miner2`...: derivable by anyone, like the dev accounts, so never for real funds.
pub fn miner_uri(index: usize) -> String {
    format!("//Miner{}", index + 1)
}

pub fn validator_uri(index: usize) -> String {
    format!("//Validator{}", index + 1)
}

impl Localnet {
    /// Starts the store and the server; validators get uids `0..M` with permits and stake, miners follow.
    pub async fn start(options: &LocalnetOptions) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&options.data_dir)
            .with_context(|| format!("cannot create {}", options.data_dir.display()))?;
        let key = |uri: String| Keypair::from_uri(&uri).expect("generated URIs are valid");
        let validators: Vec<Keypair> = (0..options.validators).map(|i| key(validator_uri(i))).collect();
        let miners: Vec<Keypair> = (0..options.miners).map(|i| key(miner_uri(i))).collect();
        let roles = options.liars.roles(options.miners)?;
        // Every neuron is its own operator, but a sybil pair shares the first sybil's key as coldkey.
        let first_sybil = roles.iter().position(|role| *role == Some(LiarKind::Sybil));
        let coldkey_of = |index: usize, key: &Keypair| match (roles[index], first_sybil) {
            (Some(LiarKind::Sybil), Some(first)) => miners[first].hotkey(),
            _ => key.hotkey(),
        };
        let registered: Vec<(Hotkey, Hotkey, bool, f64)> = validators
            .iter()
            .map(|k| (k.hotkey(), k.hotkey(), true, 1_000_000.0))
            .chain(miners.iter().enumerate().map(|(i, k)| (k.hotkey(), coldkey_of(i, k), false, 100.0)))
            .collect();
        let neurons: Vec<serde_json::Value> = registered
            .iter()
            .enumerate()
            .map(|(uid, (hotkey, coldkey, permit, stake))| {
                serde_json::json!({"uid": uid, "hotkey": hotkey.to_string(), "coldkey": coldkey.to_string(),
                                   "validator_permit": permit, "stake": stake})
            })
            .collect();
        let metagraph_path = options.data_dir.join("metagraph.json");
        std::fs::write(&metagraph_path, serde_json::to_vec_pretty(&neurons)?)?;

        let secret = hex::encode(rand::random::<[u8; 24]>());
        let store = LocalStore::start(&options.data_dir.join("s3"), "localnet", "localnet", &secret).await?;
        let cancel = CancellationToken::new();
        let beacon_url = beacon_relay::start(cancel.clone()).await?;
        let chain = match options.chain {
            Some(chain) => Some(
                LocalChain::start(
                    chain,
                    options.epoch_seconds,
                    chain::node_neurons(&registered),
                    &options.data_dir,
                    cancel.clone(),
                )
                .await?,
            ),
            None => None,
        };
        let database_url = options
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", options.data_dir.join("localnet.db").display()));
        let metagraph =
            chain.as_ref().map_or_else(|| MetagraphSpec::File(metagraph_path.clone()), LocalChain::metagraph);
        if let Some(count) = options.market.universe {
            let db = crate::storage::Store::connect(&database_url).await?;
            db.migrate().await?;
            let universe = market::small_universe(count, crate::settings::defaults::PRIOR_LISTINGS);
            let now_ms = chrono::Utc::now().timestamp_millis();
            db.seed_zipcodes_if_empty(&universe, crate::universe::SOURCE, now_ms).await?;
            db.close().await;
        }
        let mut settings = Settings::new(database_url, metagraph);
        settings.chain.netuid = chain::LOCALNET_NETUID;
        settings.listen = options.listen;
        let clock = EpochClock::from_seconds(options.epoch_seconds).map_err(anyhow::Error::msg)?;
        settings.epochs = EpochSettings { clock, ..settings.epochs };
        settings.epochs.policy.target_listings = options.target_listings;
        if options.market.universe.is_some() {
            settings.epochs.policy.cooldown_seconds =
                market::SMALL_UNIVERSE_COOLDOWN_EPOCHS * i64::from(options.epoch_seconds);
        }
        if let Some(recalibration) = settings.epochs.recalibration.as_mut() {
            recalibration.rule.max_step_permille = options.market.recalibration_step_percent * 10;
        }
        settings.epochs.assignment = options.assignment;
        // Short epochs multiply every client's request rate; the limits are sized for 4-hour epochs.
        settings.rate_limits = RateLimitSettings::off();
        settings.beacon = BeaconSettings::new(dev_beacon_spec(&beacon_url));
        settings.epistula.service_hotkey = Some(crate::chain::dev::dev_service_hotkey());
        settings.s3 = Ok(S3Settings { upload_mode: options.upload_mode, ..store.s3_settings() });
        let server = crate::boot::start(settings.clone(), Arc::new(SystemClock)).await?;
        // A restart after an outage comes back on the same address, where the clients look for it.
        settings.listen = server.addr;
        let url = format!("http://{}", server.addr);
        let mut relay_urls = Vec::new();
        let mut relay_listeners = Vec::new();
        for _ in 0..validators.len() {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            relay_urls.push(format!("http://{}", listener.local_addr()?));
            relay_listeners.push(Some(listener));
        }
        Ok(Localnet {
            store,
            server: Some(server),
            settings,
            url,
            metagraph_path,
            miners,
            validators,
            data_dir: options.data_dir.clone(),
            beacon_url,
            relay_urls,
            relay_listeners: parking_lot::Mutex::new(relay_listeners),
            chain,
            market: options.market,
            cancel,
        })
    }

    /// The running server.
    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("the coordinator is running")
    }

    /// Stops the coordinator (an outage).
    pub async fn stop_server(&mut self) -> anyhow::Result<()> {
        match self.server.take() {
            Some(server) => server.shutdown().await,
            None => Ok(()),
        }
    }

    /// Starts the coordinator again on its address, database and store.
    pub async fn start_server(&mut self) -> anyhow::Result<()> {
        if self.server.is_none() {
            self.server = Some(crate::boot::start(self.settings.clone(), Arc::new(SystemClock)).await?);
        }
        Ok(())
    }

    /// Stops everything.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.cancel.cancel();
        self.stop_server().await
    }

    /// A client's epochs: the API, the dev beacon's relay, the validators' relays (for miners), state under
    /// `data_dir/{folder}`.
    fn epochs(&self, folder: &str, key: &Keypair, relays: &[String]) -> Arc<Epochs> {
        let beacon = Arc::from(crate::beacon::open(&BeaconSettings::new(dev_beacon_spec(&self.beacon_url))));
        let state = StateDir::open(self.data_dir.join(folder), key.hotkey().to_string())
            .expect("the local network's data directory is writable");
        let relays = relays.iter().map(|url| ZipcoordClient::checked(url.clone())).collect();
        Arc::new(Epochs::new(self.client(), relays, beacon, state))
    }

    pub fn client(&self) -> ZipcoordClient {
        ZipcoordClient::new(self.url.clone())
            .with_retries(Default::default())
            .with_epistula(crate::chain::dev::dev_service_hotkey().to_string())
    }

    /// Miner `index` scraping with `scraper`, its state under `data_dir/miners/miner{index + 1}`, falling back
    /// on the validators' relays.
    pub fn miner(&self, index: usize, scraper: Arc<dyn Scraper>) -> Miner {
        let key = &self.miners[index];
        let epochs = self.epochs(&format!("miners/miner{}", index + 1), key, &self.relay_urls);
        Miner::new(epochs, key.clone(), None, scraper)
    }

    /// Validator `index`, reading the network's metagraph (file or chain) and checking against the synthetic
    /// market, its state under `data_dir/validators/validator{index + 1}`; the first one made for an index serves
    /// its relay. On a chain, it puts its weights there.
    pub fn validator(&self, index: usize, settings: ValidatorSettings) -> Validator {
        let metagraph = self.settings.metagraph.open(chain::LOCALNET_NETUID, Duration::from_secs(5));
        let key = &self.validators[index];
        let epochs = self.epochs(&format!("validators/validator{}", index + 1), key, &[]);
        if let Some(listener) = self.relay_listeners.lock()[index].take() {
            let relay = crate::client::relay::serve(
                listener,
                epochs.clone(),
                crate::client::relay::RelayLimits::one_machine(),
                self.cancel.clone().cancelled_owned(),
            );
            tokio::spawn(async move {
                if let Err(error) = relay.await {
                    tracing::warn!(%error, "validator relay stopped");
                }
            });
        }
        let verifier = Arc::new(SyntheticVerifier(self.market.sizes));
        let validator = Validator::new(epochs, key.clone(), metagraph, verifier, settings);
        match &self.chain {
            Some(chain) => validator.with_on_chain(chain.on_chain_weights()),
            None => validator,
        }
    }
}

/// The dev beacon's chain, from the local relay.
fn dev_beacon_spec(relay: &str) -> BeaconSpec {
    BeaconSpec::Drand {
        chain: crate::domain::epoch::beacon::DevBeacon::new().chain().clone(),
        relays: vec![relay.to_string()],
    }
}

enum Event {
    Mined(usize, Result<EpochWork, MinerError>),
    Judged(usize, EpochId, Result<EpochJudgement, ValidatorError>),
}

/// What `zipcoord localnet` runs: the network, `liars` of the miners inventing listings, until every
/// validator has judged `epochs` whole epochs (0: until `shutdown`); with `outage` > 0 the coordinator is down
/// for that many whole epochs from the second whole epoch on.
pub async fn run(
    options: LocalnetOptions,
    epochs: usize,
    outage: usize,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let mut net = Localnet::start(&options).await?;
    let epoch = Duration::from_secs(u64::from(options.epoch_seconds));
    let roles = options.liars.roles(options.miners)?;
    report::print_network(&net, &options, &roles);

    let cancel = CancellationToken::new();
    let (events, mut received) = mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    let poll = (epoch / 5).max(Duration::from_secs(1));
    for (index, role) in roles.iter().enumerate() {
        let scraper: Arc<dyn Scraper> = match role {
            Some(LiarKind::Inventor | LiarKind::Sybil) => Arc::new(InventingScraper),
            Some(LiarKind::Shader) => Arc::new(ShadingScraper),
            Some(kind @ (LiarKind::Copier | LiarKind::ExactCopier)) => {
                let copier =
                    CopyingScraper::new(net.store.object_path("data"), net.miners[index].hotkey().to_string(), epoch);
                Arc::new(if *kind == LiarKind::ExactCopier { copier.keeping_times() } else { copier })
            }
            // Later miners are slower, so the ranking by speed shows.
            None => Arc::new(SyntheticScraper {
                delay: Duration::from_millis(150 * index as u64),
                sizes: options.market.sizes,
            }),
        };
        // A copier watches for each epoch closely, to have its groupmates' files the moment they appear.
        let poll = if matches!(role, Some(LiarKind::Copier | LiarKind::ExactCopier)) {
            Duration::from_millis(250)
        } else {
            poll
        };
        let miner = net.miner(index, scraper);
        let (cancel, events) = (cancel.clone(), events.clone());
        // Operators do not start in step: miners polling in lockstep would scrape at the same millisecond, and
        // identical scrape times are what copy detection looks for.
        let phase = poll.mul_f64(rand::random::<f64>());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(phase).await;
            miner.run(poll, cancel.cancelled_owned(), |work| drop(events.send(Event::Mined(index, work)))).await
        }));
    }
    for index in 0..net.validators.len() {
        let settings = ValidatorSettings {
            judge_delay: (epoch / 10).max(Duration::from_secs(1)),
            validation: options.validation,
            ..Default::default()
        };
        let validator = net.validator(index, settings);
        let (cancel, events) = (cancel.clone(), events.clone());
        tasks.push(tokio::spawn(async move {
            validator
                .run(poll, cancel.cancelled_owned(), |epoch, outcome| {
                    drop(events.send(Event::Judged(index, epoch, outcome)))
                })
                .await
        }));
    }
    drop(events);
    if let Some(chain) = &net.chain {
        // The chain's news, between the neurons' own lines.
        let (node, cancel) = (chain.node.clone(), cancel.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => chain::print_events(&node),
                    _ = cancel.cancelled() => break,
                }
            }
        }));
    }

    tokio::pin!(shutdown);
    // The network starts part-way into an epoch; only the epochs after that one count towards `epochs`.
    let clock = net.settings.epochs.clock;
    let length = clock.length_seconds();
    let first_full = clock.next(clock.epoch_at(chrono::Utc::now().timestamp()));
    // The coordinator stops a second before the second whole epoch starts and comes back a second after the
    // last outage epoch ends.
    let outage_start = first_full.start_unix() + length;
    let mut transitions: Vec<(i64, bool)> = if outage > 0 {
        let end = outage_start + outage as i64 * length;
        println!(
            "The coordinator will be down from {} to {} ({outage} whole epochs).",
            EpochId::from_start_unix(outage_start),
            EpochId::from_start_unix(end)
        );
        vec![(outage_start * 1000 - 1000, false), (end * 1000 + 1000, true)]
    } else {
        Vec::new()
    };
    transitions.reverse();
    let mut judged = vec![0usize; net.validators.len()];
    let mut last_judged: Option<EpochId> = None;
    loop {
        let until_transition = transitions
            .last()
            .map(|(at_ms, _)| Duration::from_millis((at_ms - chrono::Utc::now().timestamp_millis()).max(0) as u64));
        let event = tokio::select! {
            event = received.recv() => event,
            _ = tokio::time::sleep(until_transition.unwrap_or(Duration::MAX)), if until_transition.is_some() => {
                let (_, up) = transitions.pop().expect("a transition was due");
                if up {
                    net.start_server().await?;
                    println!("== coordinator back at {} ==", net.url);
                } else {
                    net.stop_server().await?;
                    println!("== coordinator stopped: miners compute their assignments, validators relay them ==");
                }
                continue;
            }
            _ = &mut shutdown => None,
        };
        match event {
            Some(Event::Mined(index, outcome)) => print_work(index, &outcome),
            Some(Event::Judged(index, epoch, outcome)) => {
                if print_judgement(index, epoch, &outcome) && epoch >= first_full {
                    judged[index] += 1;
                    last_judged = last_judged.max(Some(epoch));
                }
                if epochs > 0 && judged.iter().all(|&n| n >= epochs) {
                    if let Some(last) = last_judged {
                        wrap_up::await_histories(&net, clock, last, &mut shutdown).await;
                        if options.market.sizes == MarketSizes::Varied {
                            let client = net.client();
                            let report = market::measure(&client, &net.validators[0], clock, first_full, last).await;
                            println!("\n{}", report.render());
                        }
                    }
                    break;
                }
            }
            None => break,
        }
    }
    cancel.cancel();
    for task in tasks {
        let _ = task.await;
    }
    if let Some(chain) = &net.chain {
        chain.await_reveals(&mut shutdown).await;
        chain.print_events();
        let names: Vec<String> = (0..net.validators.len())
            .map(|i| format!("validator {}", i + 1))
            .chain((0..net.miners.len()).map(|i| format!("miner {}", i + 1)))
            .collect();
        chain.print_summary(&names);
    }
    net.shutdown().await
}

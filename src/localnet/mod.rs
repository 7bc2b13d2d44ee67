//! `zipcoord localnet`: a whole subnet on one machine, so a subnet owner can watch the incentive mechanism work
//! before touching testnet. The real server (real HTTP on loopback, a SQLite file, short epochs), a metagraph
//! file of generated keys, an S3-compatible store that checks signatures and policies, N miners on the synthetic
//! market (some of them liars, if asked) and M validators judging each epoch during the next one.

pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use store::LocalStore;

use crate::app::SystemClock;
use crate::boot::RunningServer;
use crate::chain::file::FileSource;
use crate::chain::MetagraphSpec;
use crate::client::miner::{EpochWork, Miner, MinerError};
use crate::client::scraper::{ScrapeFuture, ScrapeJob, Scraper, SyntheticScraper};
use crate::client::validator::{EpochJudgement, Validator, ValidatorError, ValidatorSettings};
use crate::client::verifier::SyntheticVerifier;
use crate::client::{synthetic, ZipcoordClient};
use crate::domain::epoch::{EpochClock, EpochId};
use crate::domain::keys::Keypair;
use crate::domain::listing::Listing;
use crate::s3::{S3Settings, UploadMode};
use crate::settings::{EpochSettings, RateLimitSettings, Settings};

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
}

/// A running local network's infrastructure: the store, the server, and the keys it registered.
pub struct Localnet {
    pub store: LocalStore,
    pub server: RunningServer,
    pub url: String,
    pub metagraph_path: PathBuf,
    pub miners: Vec<Keypair>,
    pub validators: Vec<Keypair>,
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
        let neurons: Vec<serde_json::Value> = validators
            .iter()
            .map(|k| (k, true, 1_000_000.0))
            .chain(miners.iter().map(|k| (k, false, 100.0)))
            .enumerate()
            .map(|(uid, (k, permit, stake))| {
                serde_json::json!({"uid": uid, "hotkey": k.hotkey().to_string(), "coldkey": k.hotkey().to_string(),
                                   "validator_permit": permit, "stake": stake})
            })
            .collect();
        let metagraph_path = options.data_dir.join("metagraph.json");
        std::fs::write(&metagraph_path, serde_json::to_vec_pretty(&neurons)?)?;

        let secret = hex::encode(rand::random::<[u8; 24]>());
        let store = LocalStore::start(&options.data_dir.join("s3"), "localnet", "localnet", &secret).await?;
        let database_url = options
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", options.data_dir.join("localnet.db").display()));
        let mut settings = Settings::new(database_url, MetagraphSpec::File(metagraph_path.clone()));
        settings.listen = options.listen;
        let clock = EpochClock::from_seconds(options.epoch_seconds).map_err(anyhow::Error::msg)?;
        settings.epochs = EpochSettings { clock, ..settings.epochs };
        settings.epochs.policy.target_listings = options.target_listings;
        // Short epochs multiply every client's request rate; the limits are sized for 4-hour epochs.
        settings.rate_limits = RateLimitSettings::off();
        // A local network needs no network: the dev beacon signs every round.
        settings.beacon = crate::beacon::BeaconSettings::new(crate::beacon::BeaconSpec::Dev);
        settings.epistula.service_hotkey = Some(crate::chain::dev::dev_service_hotkey());
        settings.s3 = Ok(S3Settings { upload_mode: options.upload_mode, ..store.s3_settings() });
        let server = crate::boot::start(settings, Arc::new(SystemClock)).await?;
        let url = format!("http://{}", server.addr);
        Ok(Localnet { store, server, url, metagraph_path, miners, validators })
    }

    pub fn client(&self) -> ZipcoordClient {
        ZipcoordClient::new(self.url.clone())
            .with_retries(Default::default())
            .with_epistula(crate::chain::dev::dev_service_hotkey().to_string())
    }

    /// Miner `index` scraping with `scraper`.
    pub fn miner(&self, index: usize, scraper: Arc<dyn Scraper>) -> Miner {
        Miner::new(self.client(), self.miners[index].clone(), None, scraper)
    }

    /// Validator `index`, reading the network's metagraph file and checking against the synthetic market.
    pub fn validator(&self, index: usize, settings: ValidatorSettings) -> Validator {
        let metagraph = Arc::new(FileSource::new(self.metagraph_path.clone()));
        Validator::new(self.client(), self.validators[index].clone(), metagraph, Arc::new(SyntheticVerifier), settings)
    }
}

/// Plays a dishonest miner: reports as many listings as expected, all invented.
pub struct InventingScraper;

impl Scraper for InventingScraper {
    fn describe(&self) -> String {
        "invented listings (a liar)".to_string()
    }

    fn scrape<'a>(&'a self, job: &'a ScrapeJob) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let scraped_at = crate::api::iso8601_millis(chrono::Utc::now().timestamp_millis());
            let real = synthetic::market(&job.zipcode, &job.city, &job.state, job.expected_listings, &scraped_at);
            Ok(real
                .into_iter()
                .enumerate()
                .map(|(n, listing)| Listing { listing_id: format!("made-up-{}-{n}", job.zipcode), ..listing })
                .collect())
        })
    }
}

enum Event {
    Mined(usize, Result<EpochWork, MinerError>),
    Judged(usize, EpochId, Result<EpochJudgement, ValidatorError>),
}

/// What `zipcoord localnet` runs: the network, `liars` of the miners inventing listings, until every
/// validator has judged `epochs` whole epochs (0: until `shutdown`).
pub async fn run(
    options: LocalnetOptions,
    liars: usize,
    epochs: usize,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let net = Localnet::start(&options).await?;
    let epoch = Duration::from_secs(u64::from(options.epoch_seconds));
    println!(
        "zipcoord localnet: {} ({}s epochs, {} listings per epoch)",
        net.url, options.epoch_seconds, options.target_listings
    );
    println!("  API docs      {}/docs", net.url);
    println!("  bucket        {} (files under {})", net.store.endpoint(), net.store.object_path("").display());
    println!("  metagraph     {}", net.metagraph_path.display());
    for (i, key) in net.validators.iter().enumerate() {
        println!("  validator     uid {i}  {}  {}", key.hotkey(), validator_uri(i));
    }
    for (i, key) in net.miners.iter().enumerate() {
        let role = if i >= net.miners.len().saturating_sub(liars) { "liar: invents listings" } else { "honest" };
        println!("  miner         uid {}  {}  {}  ({role})", net.validators.len() + i, key.hotkey(), miner_uri(i));
    }
    println!("Epoch N is mined during N and judged during N+1; weights appear one epoch after the work.\n");

    let cancel = CancellationToken::new();
    let (events, mut received) = mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    let poll = (epoch / 5).max(Duration::from_secs(1));
    for index in 0..net.miners.len() {
        let scraper: Arc<dyn Scraper> = if index >= net.miners.len().saturating_sub(liars) {
            Arc::new(InventingScraper)
        } else {
            // Later miners are slower, so the ranking by speed shows.
            Arc::new(SyntheticScraper { delay: Duration::from_millis(150 * index as u64) })
        };
        let miner = net.miner(index, scraper);
        let (cancel, events) = (cancel.clone(), events.clone());
        tasks.push(tokio::spawn(async move {
            miner.run(poll, cancel.cancelled_owned(), |work| drop(events.send(Event::Mined(index, work)))).await
        }));
    }
    for index in 0..net.validators.len() {
        let settings =
            ValidatorSettings { judge_delay: (epoch / 10).max(Duration::from_secs(1)), ..Default::default() };
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

    tokio::pin!(shutdown);
    // The network starts part-way into an epoch; only the epochs after that one count towards `epochs`.
    let length = i64::from(options.epoch_seconds);
    let first_full = EpochId::from_start_unix((chrono::Utc::now().timestamp() / length + 1) * length);
    let mut judged = vec![0usize; net.validators.len()];
    loop {
        let event = tokio::select! {
            event = received.recv() => event,
            _ = &mut shutdown => None,
        };
        match event {
            Some(Event::Mined(index, outcome)) => print_work(index, &outcome),
            Some(Event::Judged(index, epoch, outcome)) => {
                if print_judgement(index, epoch, &outcome) && epoch >= first_full {
                    judged[index] += 1;
                }
                if epochs > 0 && judged.iter().all(|&n| n >= epochs) {
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
    net.server.shutdown().await
}

fn print_work(index: usize, outcome: &Result<EpochWork, MinerError>) {
    match outcome {
        Ok(work) => println!(
            "[miner {}] epoch {}: {} - {} of {} zipcodes uploaded, {} listings",
            index + 1,
            work.epoch_id,
            work.status.as_str(),
            work.uploaded,
            work.zipcodes,
            work.listings
        ),
        Err(error) => println!("[miner {}] {error}", index + 1),
    }
}

/// Prints a judgement; whether it was one (rather than an error or an epoch from before the network).
fn print_judgement(index: usize, epoch: EpochId, outcome: &Result<EpochJudgement, ValidatorError>) -> bool {
    match outcome {
        Ok(judgement) => {
            println!("[validator {}] epoch {epoch} judged at {}:", index + 1, judgement.judged_at);
            for miner in &judgement.miners {
                let why = miner.reasons.first().map(|r| format!("  ({})", r.chars().take(90).collect::<String>()));
                println!(
                    "    uid {:>3}  {:<7} quality {:.3}  weight {:.4}{}",
                    miner.uid,
                    miner.verdict,
                    miner.quality,
                    miner.weight,
                    why.unwrap_or_default()
                );
            }
            println!(
                "    chain weights (u16): uids {:?} weights {:?}",
                judgement.chain_weights.uids, judgement.chain_weights.weights
            );
            true
        }
        Err(error) if error.is_unknown_epoch() => false,
        Err(error) => {
            println!("[validator {}] epoch {epoch}: {error}", index + 1);
            false
        }
    }
}

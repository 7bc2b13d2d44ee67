//! The command line: `migrate`, `zipcodes import|list|stats`, `epoch show`, `grants`, `export`, `bucket prune`,
//! `probe`, `openapi`; `serve` is in [`serve`] (its `--dev` examples in [`dev_examples`]), the neurons' commands
//! (`miner`, `validator`) in [`neurons`] and `localnet` in [`localnet`], the server's flags in [`flags`] (what is wrong with them in
//! [`flag_error`], the S3 ones in [`s3_flags`],
//! the hotkey ones in [`keys`], secrets read from flags or files in [`secret_text`]), the history export in
//! [`export`].

pub mod bucket;
pub mod dev_examples;
pub mod export;
pub mod flag_error;
pub mod flags;
pub mod history;
pub mod keys;
pub mod localnet;
pub mod neurons;
pub mod s3_flags;
pub mod secret_text;
pub mod serve;
pub mod set_weights;
pub mod simulate;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::app::{Clock, SystemClock};
use crate::domain::epoch::EpochId;
use crate::settings::defaults;
use crate::storage::{ImportMode, Store};
use crate::universe::csv::{parse_csv, ImportDefaults};
use flags::{DatabaseArgs, EpochArgs, LogFormat, ServeArgs};

#[derive(Debug, Parser)]
#[command(name = "zipcoord", version, about = "Zipcode-assignment coordinator for a Bittensor real-estate subnet")]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, env = "ZIPCOORD_LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API.
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Manage the zipcode universe.
    #[command(subcommand)]
    Zipcodes(ZipcodesCommand),
    /// Inspect epochs.
    #[command(subcommand)]
    Epoch(EpochCommand),
    /// Audit the S3 access grants handed out, newest first.
    Grants(GrantsArgs),
    /// Maintain the S3 bucket with the server's credentials.
    #[command(subcommand)]
    Bucket(bucket::BucketCommand),
    /// Write epochs, their assignments and every status report as JSON Lines (for analysis).
    Export(ExportArgs),
    /// Exit 0 when URL answers 200 within 5 s, 1 otherwise: the container's HEALTHCHECK, with no curl needed.
    Probe {
        /// What to ask; default: `/livez` at the address `serve` listens on (`ZIPCOORD_LISTEN`, else
        /// 127.0.0.1:8080; an unspecified address is asked on loopback).
        url: Option<String>,
        /// The address `serve` listens on, when no URL is given.
        #[arg(long, env = "ZIPCOORD_LISTEN", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
    /// Print the OpenAPI description (the same JSON the server serves at /openapi.json).
    Openapi,
    /// Recompute a started epoch from its published inputs and the beacon's pulse, and compare with what the
    /// server serves: prints `verified` or the first difference (exit status 0 or 1).
    VerifyEpoch {
        /// The epoch id (`2025-10-01T16-00-00`).
        epoch: String,
        /// The server (or a validator's relay) to ask.
        #[arg(long, env = "ZIPCOORD_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Any registered hotkey, to read the validators' verdicts the epoch's expected listings were
        /// recalibrated from and recompute them (without one, the calibration is not rechecked).
        #[command(flatten)]
        key: keys::KeyArgs,
    },
    /// The reference miner.
    #[command(subcommand)]
    Miner(neurons::MinerCommand),
    /// The reference validator.
    #[command(subcommand)]
    Validator(neurons::ValidatorCommand),
    /// A whole subnet on this machine: server, S3-compatible store, miners and validators, short epochs.
    Localnet(localnet::LocalnetArgs),
    /// Simulations that need no network: many epochs in seconds.
    #[command(subcommand)]
    Simulate(simulate::SimulateCommand),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Only epochs that started within this many days (all stored epochs when omitted).
    #[arg(long)]
    pub days: Option<u32>,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct GrantsArgs {
    /// Only grants to this hotkey.
    #[arg(long)]
    pub hotkey: Option<String>,
    /// At most this many rows.
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum ZipcodesCommand {
    /// Import a CSV file (Zillow regions, recently_sold_listings, or zipcode,expected_listings[,state,city,county,tier]).
    Import(ImportArgs),
    /// List stored zipcodes.
    List(ListArgs),
    /// Counts by state and market tier.
    Stats(DatabaseArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    pub file: PathBuf,
    /// Deactivate stored zipcodes that the file does not list.
    #[arg(long)]
    pub replace: bool,
    /// Expected listings of a STANDARD zipcode when the file has no counts (Zillow format).
    #[arg(long, env = "ZIPCOORD_PRIOR_LISTINGS", default_value_t = defaults::PRIOR_LISTINGS)]
    pub prior_listings: u32,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this state (two-letter code).
    #[arg(long)]
    pub state: Option<String>,
    /// Include inactive zipcodes.
    #[arg(long)]
    pub all: bool,
    /// At most this many rows.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum EpochCommand {
    /// Print an epoch's stored assignment and the latest status of each miner, as JSON.
    Show(ShowEpochArgs),
    /// Print an epoch's stored assignment as a dynamic-desirability job list (what `…/desirability` serves).
    Desirability(DesirabilityArgs),
}

#[derive(Debug, Args)]
pub struct DesirabilityArgs {
    #[command(flatten)]
    pub epoch: ShowEpochArgs,
    /// The platform the jobs name.
    #[arg(long, env = "ZIPCOORD_DESIRABILITY_PLATFORM", default_value = crate::api::DEFAULT_PLATFORM, value_parser = flags::parse_platform)]
    pub platform: String,
}

#[derive(Debug, Args)]
pub struct ShowEpochArgs {
    /// Epoch id (`YYYY-MM-DDTHH-MM-SS`); the current epoch when omitted.
    pub id: Option<EpochId>,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub epochs: EpochArgs,
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::serve(*args).await,
        Command::Migrate(db) => {
            open_store(&db).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Zipcodes(ZipcodesCommand::Import(args)) => import(args).await,
        Command::Zipcodes(ZipcodesCommand::List(args)) => list(args).await,
        Command::Zipcodes(ZipcodesCommand::Stats(db)) => zipcode_stats(db).await,
        Command::Epoch(EpochCommand::Show(args)) => show_epoch(args).await,
        Command::Epoch(EpochCommand::Desirability(args)) => {
            let (_, assignment) = stored_epoch(&args.epoch).await?;
            let jobs = crate::api::DesirabilityJob::list(&assignment, None, &args.platform);
            println!("{}", serde_json::to_string_pretty(&jobs)?);
            Ok(())
        }
        Command::Grants(args) => grants(args).await,
        Command::Export(args) => export(args).await,
        Command::Bucket(command) => bucket::run(command).await,
        Command::Probe { url, listen } => probe(&url.unwrap_or_else(|| liveness_url(listen))).await,
        Command::VerifyEpoch { epoch, url, key } => verify_epoch(&epoch, &url, &key).await,
        Command::Openapi => {
            println!("{}", crate::openapi().to_pretty_json()?);
            Ok(())
        }
        Command::Miner(command) => neurons::miner(command).await,
        Command::Validator(command) => neurons::validator(command).await,
        Command::Localnet(args) => localnet::localnet(args).await,
        Command::Simulate(command) => simulate::run(command),
    }
}

async fn open_store(db: &DatabaseArgs) -> anyhow::Result<Store> {
    let store = Store::connect(&db.url()?).await.context("cannot open the database")?;
    store.migrate().await.context("cannot migrate the database")?;
    Ok(store)
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let locations = crate::universe::BuiltinLocations::load();
    let locate = |z| locations.locate(z);
    let parsed = parse_csv(&text, &ImportDefaults { prior_listings: args.prior_listings, locate: &locate })
        .with_context(|| format!("{} was not imported (nothing changed)", args.file.display()))?;
    let store = open_store(&args.database).await?;
    let mode = if args.replace { ImportMode::Replace } else { ImportMode::Merge };
    let source = format!("import:{}", args.file.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
    let report = store.import_zipcodes(&parsed.records, &source, mode, SystemClock.now_ms()).await?;
    println!(
        "imported {} rows ({} format): {} inserted, {} updated, {} unchanged, {} deactivated",
        parsed.records.len(),
        parsed.format.name(),
        report.inserted,
        report.updated,
        report.unchanged,
        report.deactivated
    );
    // Published inputs never change: say which epochs the import reaches, so nobody waits for the wrong one.
    match store.latest_published_inputs().await? {
        Some(latest) => println!(
            "epochs up to {latest} keep the inputs already published for them; the epochs after it select from \
             this universe"
        ),
        None => println!("the next epoch created selects from this universe"),
    }
    Ok(())
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let store = open_store(&args.database).await?;
    let wanted_state = args.state.map(|s| s.to_ascii_uppercase());
    let sources = store.zipcode_sources().await?;
    println!("zipcode\tstate\tcity\tcounty\texpected_listings\ttier\tweight\tactive\tsource\tchanged");
    for z in store
        .load_zipcodes()
        .await?
        .into_iter()
        .filter(|z| args.all || z.active)
        .filter(|z| wanted_state.as_ref().is_none_or(|s| &z.state == s))
        .take(args.limit)
    {
        let (source, changed) = match sources.get(&z.zipcode) {
            Some((source, changed_ms)) => (source.as_str(), crate::api::iso8601_millis(*changed_ms)),
            None => ("", String::new()),
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{source}\t{changed}",
            z.zipcode,
            z.state,
            z.city,
            z.county.unwrap_or_default(),
            z.expected_listings,
            z.tier,
            z.weight,
            z.active
        );
    }
    Ok(())
}

async fn zipcode_stats(db: DatabaseArgs) -> anyhow::Result<()> {
    let store = open_store(&db).await?;
    let stats = store.zipcode_stats().await?;
    println!("{} zipcodes, {} active, {} inactive", stats.total, stats.active, stats.total - stats.active);
    println!("\ntier\tcount\tavg_expected_listings");
    for (tier, count, avg) in &stats.by_tier {
        println!("{tier}\t{count}\t{avg}");
    }
    println!("\nstate\tcount\tavg_expected_listings");
    for (state, count, avg) in &stats.by_state {
        println!("{state}\t{count}\t{avg}");
    }
    Ok(())
}

/// The database and the stored assignment of the epoch `args` names (the current one by default).
async fn stored_epoch(
    args: &ShowEpochArgs,
) -> anyhow::Result<(Store, crate::domain::epoch::assignment::EpochAssignment)> {
    let store = open_store(&args.database).await?;
    let epoch = args.id.unwrap_or_else(|| args.epochs.clock().epoch_at(SystemClock.now_ms().div_euclid(1000)));
    let assignment = store.load_epoch(epoch).await?.with_context(|| {
        format!("epoch {epoch} has not been created (it is created when it starts or is first requested)")
    })?;
    Ok((store, assignment))
}

async fn show_epoch(args: ShowEpochArgs) -> anyhow::Result<()> {
    let (store, assignment) = stored_epoch(&args).await?;
    let epoch = assignment.epoch;
    let miners: Vec<serde_json::Value> = store
        .miner_states(epoch)
        .await?
        .into_iter()
        .map(|s| {
            serde_json::json!({
                "hotkey": s.latest.hotkey.to_string(),
                "status": s.latest.status.as_str(),
                "s3UploadComplete": s.latest.s3_upload_complete,
                "listingsScraped": s.latest.listings_scraped,
                "zipcodesCompleted": s.latest.zipcodes_completed.len(),
                "reports": s.report_count,
                "firstReportedAt": crate::api::iso8601_millis(s.first_reported_at_ms),
                "lastReportedAt": crate::api::iso8601_millis(s.latest.received_at_ms),
            })
        })
        .collect();
    let mut output = export::epoch_json(&assignment);
    output["miners"] = serde_json::Value::Array(miners);
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(())
}

async fn verify_epoch(epoch: &str, url: &str, key: &keys::KeyArgs) -> anyhow::Result<()> {
    use crate::client::epoch_check::{self, CheckError};
    let epoch: EpochId = epoch.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    // Whatever answers (the API, a relay) is checked here, not trusted.
    let client = crate::client::ZipcoordClient::checked(url.trim_end_matches('/'));
    let failed = |error: CheckError| match error {
        CheckError::Fetch(error) => Err(anyhow::anyhow!("cannot fetch epoch {epoch} from {url}: {error}")),
        difference => {
            println!("not verified: epoch {epoch}: {difference}");
            anyhow::bail!("epoch {epoch} did not verify")
        }
    };
    match epoch_check::verify_epoch(&client, epoch).await {
        Ok(verified) => println!("{}", epoch_check::describe(epoch, &verified)),
        Err(error) => return failed(error),
    }
    let keypair = match (&key.key_uri, &key.wallet_name) {
        (None, None) => {
            println!(
                "calibration: not rechecked (pass --key-uri or --wallet-name: any registered hotkey reads the \
                 validators' verdicts it recomputes from)"
            );
            return Ok(());
        }
        _ => key.keypair()?,
    };
    let now = crate::app::SystemClock.now_ms() / 1000;
    match epoch_check::verify_calibration(&client, &keypair, epoch, now).await {
        Ok(None) => println!("calibration: none (the expected listings were not recalibrated for this epoch)"),
        Ok(Some(checked)) => {
            println!(
                "calibration verified: {} expected listings moved, recomputed from {} results files of {} judged \
                 epochs",
                checked.moves, checked.files, checked.epochs
            );
            for unnamed in &checked.unnamed {
                println!("  also published now, not in the calibration: {unnamed}");
            }
        }
        Err(error) => return failed(error),
    }
    Ok(())
}

/// `/livez` of a server listening on `listen`, asked on loopback when it listens on every address.
fn liveness_url(listen: std::net::SocketAddr) -> String {
    let ip = match listen.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}/livez", std::net::SocketAddr::new(ip, listen.port()))
}

async fn probe(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build()?;
    // The error's causes name what failed (a refused connection, a certificate no trusted root signed).
    let status = client
        .get(url)
        .send()
        .await
        .map_err(|e| anyhow::Error::new(e.without_url()).context(url.to_string()))?
        .status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    Ok(())
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let store = open_store(&args.database).await?;
    let now_unix = SystemClock.now_ms().div_euclid(1000);
    let from_unix = args.days.map_or(i64::MIN, |days| now_unix - i64::from(days) * 86_400);
    let counts = match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            export::export_history(&store, from_unix, i64::MAX, &mut std::io::BufWriter::new(file)).await?
        }
        None => {
            export::export_history(&store, from_unix, i64::MAX, &mut std::io::BufWriter::new(std::io::stdout().lock()))
                .await?
        }
    };
    eprintln!("exported {} epochs and {} status reports", counts.epochs, counts.status_reports);
    Ok(())
}

async fn grants(args: GrantsArgs) -> anyhow::Result<()> {
    let store = open_store(&args.database).await?;
    println!("granted_at\texpires_at\tkind\thotkey\tprefix");
    for grant in store.recent_grants(args.hotkey.as_deref(), args.limit.max(0)).await? {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            crate::api::iso8601_millis(grant.granted_at_ms),
            crate::api::iso8601_millis(grant.expires_at_ms),
            grant.kind,
            grant.hotkey,
            grant.prefix
        );
    }
    Ok(())
}

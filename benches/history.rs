//! The history benchmark (`scripts/history-bench.sh`): a database holding `--days` of a busy subnet (4-hour
//! epochs; `--miners` miners sending 10 status reports an epoch with growing zipcode lists, `--validators`
//! validators asking 256 grants an epoch), built through the application and storage layers, then measured:
//! its size, the server's start-up on it, p50/p99 of the busy endpoints (`POST /status` while other miners
//! write), the dashboard's overview (composed afresh, and served) and page weight, `export --days 7` and `grants` lookups, and the longest a write waits while a 28-day backlog is
//! pruned (after which the size is measured again).
//!
//! Usage: cargo bench --bench history -- [--days N] [--miners M] [--validators V] [--backend sqlite|postgres]
//! [--reuse FILE] (SQLite: measure a copy of the database kept in FILE by an earlier run with the same options,
//! building and keeping it there when FILE is missing). The plan of every statement run is written to
//! `target/query-plans-{backend}.md`.
//! (postgres: `ZIPCOORD_BENCH_POSTGRES_URL` names a server on which a fresh database is made).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;
use zipcoord::app::{App, Clock, ManualClock, StatusSubmission, SystemClock};
use zipcoord::boot;
use zipcoord::chain::MetagraphSpec;
use zipcoord::client::{status_request, ZipcoordClient};
use zipcoord::domain::access::auth::HotkeySignature;
use zipcoord::domain::access::grant::{AccessGrant, GrantKind};
use zipcoord::domain::access::keys::Keypair;
use zipcoord::domain::epoch::assignment::EpochAssignment;
use zipcoord::domain::epoch::proof::Nonce;
use zipcoord::domain::epoch::status::{MinerStatus, ZipcodeProgress};
use zipcoord::domain::epoch::EpochId;
use zipcoord::settings::{days, RateLimitSettings, Settings};
use zipcoord::storage::plans::{full_scans, is_explainable, StatementLog};
use zipcoord::storage::Store;

const EPOCH_MS: i64 = 4 * 3_600_000;
const REPORTS_PER_EPOCH: usize = 10;
const GRANTS_PER_VALIDATOR: usize = 256;

struct Options {
    days: i64,
    miners: usize,
    validators: usize,
    postgres: bool,
    /// SQLite: a database built before, measured again (a copy); built and kept there when missing.
    reuse: Option<std::path::PathBuf>,
}

fn options() -> Options {
    let mut options = Options { days: 30, miners: 256, validators: 64, postgres: false, reuse: None };
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{flag} needs a value")).clone();
        match flag.as_str() {
            "--days" => options.days = value().parse().expect("--days N"),
            "--miners" => options.miners = value().parse().expect("--miners M"),
            "--validators" => options.validators = value().parse().expect("--validators V"),
            "--backend" => options.postgres = value() == "postgres",
            "--reuse" => options.reuse = Some(value().into()),
            other => panic!("unknown argument {other}"),
        }
    }
    options
}

fn key(n: u32) -> Keypair {
    let mut seed = [7u8; 32];
    seed[..4].copy_from_slice(&n.to_le_bytes());
    Keypair::from_seed(&seed)
}

async fn database_url(dir: &std::path::Path, postgres: bool) -> String {
    if !postgres {
        return format!("sqlite://{}", dir.join("history.db").display());
    }
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let server = std::env::var("ZIPCOORD_BENCH_POSTGRES_URL").expect("ZIPCOORD_BENCH_POSTGRES_URL");
    let name = format!("zipcoord_history_{:08x}", rand::random::<u32>());
    let mut admin = sqlx::AnyConnection::connect(&server).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
    let (base, _) = server.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

async fn database_bytes(url: &str) -> u64 {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let size = |p: String| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        return size(path.to_string()) + size(format!("{path}-wal"));
    }
    let store = Store::connect(url).await.unwrap();
    let size = store.database_bytes().await.unwrap();
    store.close().await;
    size
}

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    format!("p50 {:.2} ms, p99 {:.2} ms", at(0.5), at(0.99))
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / 1_048_576.0)
}

/// What a miner reports for each of `assignment`'s zipcodes once it is done.
fn progress(assignment: &EpochAssignment, completed_at_ms: Option<i64>) -> Vec<ZipcodeProgress> {
    assignment
        .zipcodes
        .iter()
        .map(|z| ZipcodeProgress { zipcode: z.zipcode, listings_scraped: 40, completed_at_ms })
        .collect()
}

/// One miner's report `n` of an epoch: the first part of the assignment done, growing report by report.
fn submission(
    miner: &Keypair,
    epoch: EpochId,
    nonce: Nonce,
    zipcodes: &[ZipcodeProgress],
    n: usize,
) -> StatusSubmission {
    let done = zipcodes.len() * n / (REPORTS_PER_EPOCH - 1);
    StatusSubmission {
        hotkey: miner.hotkey(),
        signature: HotkeySignature::from_bytes([0; 64].map(|_: u8| rand::random())),
        epoch,
        nonce,
        status: if n + 1 == REPORTS_PER_EPOCH { MinerStatus::Completed } else { MinerStatus::InProgress },
        s3_upload_complete: n + 1 == REPORTS_PER_EPOCH,
        listings_scraped: Some(done as u64 * 40),
        zipcodes_completed: zipcodes[..done].to_vec(),
        s3_upload_at_ms: None,
    }
}

/// Builds the history: every epoch of the last `days` up to the current one.
async fn build(app: &Arc<App>, clock: &ManualClock, miners: &[Keypair], validators: &[Keypair], epochs: &[EpochId]) {
    for (index, &epoch) in epochs.iter().enumerate() {
        clock.set_ms(epoch.start_unix() * 1000 + 60_000);
        let assignment = app.ensure_epoch(epoch).await.unwrap();
        let zipcodes = progress(&assignment, Some(clock.now_ms()));
        for n in 0..REPORTS_PER_EPOCH {
            clock.set_ms(epoch.start_unix() * 1000 + 60_000 + n as i64 * EPOCH_MS / 12);
            let mut writers = tokio::task::JoinSet::new();
            for chunk in miners.chunks(miners.len().div_ceil(8)) {
                let (app, chunk, zipcodes, nonce) = (app.clone(), chunk.to_vec(), zipcodes.clone(), assignment.nonce);
                writers.spawn(async move {
                    for miner in &chunk {
                        app.record_status(submission(miner, epoch, nonce, &zipcodes, n)).await.unwrap();
                    }
                });
            }
            writers.join_all().await;
        }
        let granted_at_ms = clock.now_ms();
        let grants: Vec<AccessGrant> = validators
            .iter()
            .flat_map(|validator| {
                (0..GRANTS_PER_VALIDATOR).map(move |n| AccessGrant {
                    hotkey: validator.hotkey(),
                    kind: GrantKind::MinerRead,
                    prefix: format!("data/hotkey={}/epoch={epoch}/", miners[n % miners.len()].hotkey()),
                    granted_at_ms: granted_at_ms + n as i64,
                    expires_at_ms: granted_at_ms + 3 * 3_600_000,
                })
            })
            .collect();
        app.store().record_grants(&grants).await.unwrap();
        // What the server's hourly retention task does (nothing is past the retention age here; status
        // signatures are past their use an hour after they arrived).
        app.prune_history().await.unwrap();
        if index % 6 == 5 {
            eprintln!("  built day {} of {}", index / 6 + 1, epochs.len() / 6);
        }
    }
}

async fn timed<T>(samples: usize, mut call: impl AsyncFnMut(usize) -> T) -> Vec<Duration> {
    let mut times = Vec::with_capacity(samples);
    for n in 0..samples {
        let started = Instant::now();
        call(n).await;
        times.push(started.elapsed());
    }
    times
}

/// What the dashboard costs on this history.
struct DashboardFigures {
    composed: Vec<Duration>,
    served: Vec<Duration>,
    weight: usize,
    rows: usize,
    epochs: usize,
}

async fn measure_dashboard(app: &Arc<App>, base: &str) -> DashboardFigures {
    let composed = timed(20, async |_| app.compose_dashboard_overview().await.unwrap()).await;
    let http = reqwest::Client::new();
    let get = async |path: &str| {
        let response = http.get(format!("{base}{path}")).header("Accept-Encoding", "gzip").send().await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.bytes().await.unwrap()
    };
    let served = timed(300, async |_| get("/api/v1/dashboard/overview").await).await;
    let overview = app.dashboard_overview().await.unwrap();
    let epoch_map = format!("/api/v1/dashboard/epoch/{}/map", overview.epoch);
    let mut weight = 0;
    for path in ["/dashboard", "/dashboard/dashboard.js", "/dashboard/dashboard.css", "/api/v1/dashboard/overview"]
        .into_iter()
        .chain(["/api/v1/dashboard/map", epoch_map.as_str()])
    {
        weight += get(path).await.len();
    }
    DashboardFigures { composed, served, weight, rows: overview.miners.len(), epochs: overview.history.len() }
}

fn main() {
    let options = options();
    let statements = StatementLog::default();
    let only_statements = Targets::new().with_target("sqlx::query", tracing::Level::TRACE);
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(statements.clone().with_filter(only_statements)),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run(options, statements));
}

async fn run(options: Options, statements: StatementLog) {
    let dir = tempfile::tempdir().unwrap();
    let miners: Vec<Keypair> = (0..options.miners as u32).map(key).collect();
    let validators: Vec<Keypair> = (0..options.validators as u32).map(|n| key(1_000_000 + n)).collect();
    let neuron = |uid: usize, key: &Keypair, validator: bool| {
        serde_json::json!({"uid": uid, "hotkey": key.hotkey().to_string(), "coldkey": "5cold",
            "validator_permit": validator, "stake": if validator { 1e6 } else { 10.0 }})
    };
    let neurons: Vec<_> = validators
        .iter()
        .map(|k| (k, true))
        .chain(miners.iter().map(|k| (k, false)))
        .enumerate()
        .map(|(uid, (key, validator))| neuron(uid, key, validator))
        .collect();
    let metagraph = dir.path().join("metagraph.json");
    std::fs::write(&metagraph, serde_json::to_vec(&neurons).unwrap()).unwrap();
    let url = database_url(dir.path(), options.postgres).await;
    let mut settings = Settings::new(url.clone(), MetagraphSpec::File(metagraph));
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.background_tasks = false;
    settings.rate_limits = RateLimitSettings::off();
    settings.beacon = zipcoord::beacon::BeaconSettings::new(zipcoord::beacon::BeaconSpec::Dev);
    settings.retention = days(options.days as u32 + 2);

    let now_ms = SystemClock.now_ms();
    let current = EpochId::from_start_unix((now_ms / EPOCH_MS) * EPOCH_MS / 1000);
    let count = options.days * 6 + 1;
    let epochs: Vec<EpochId> =
        (0..count).rev().map(|back| EpochId::from_start_unix(current.start_unix() - back * EPOCH_MS / 1000)).collect();
    let backend = if options.postgres { "PostgreSQL" } else { "SQLite" };
    eprintln!(
        "history benchmark: {} days, {} miners, {} validators, {backend}",
        options.days, options.miners, options.validators
    );

    let clock = Arc::new(ManualClock::new(epochs[0].start_unix() * 1000));
    let started = Instant::now();
    let build_time = match options.reuse.as_deref() {
        Some(kept) if kept.exists() => {
            assert!(!options.postgres, "--reuse is for SQLite");
            std::fs::copy(kept, dir.path().join("history.db")).unwrap();
            eprintln!("  measuring a copy of {}", kept.display());
            None
        }
        kept => {
            let builder = boot::start(settings.clone(), clock.clone()).await.unwrap();
            build(&builder.app, &clock, &miners, &validators, &epochs).await;
            builder.shutdown().await.unwrap();
            if let Some(kept) = kept {
                std::fs::copy(dir.path().join("history.db"), kept).unwrap();
            }
            Some(started.elapsed())
        }
    };
    let reports = epochs.len() * options.miners * REPORTS_PER_EPOCH;
    let grants = epochs.len() * options.validators * GRANTS_PER_VALIDATOR;
    let size = database_bytes(&url).await;

    // The server on this history, on the wall clock.
    let started = Instant::now();
    let server = boot::start(settings.clone(), Arc::new(SystemClock)).await.unwrap();
    let client = ZipcoordClient::new(format!("http://{}", server.addr));
    client.health().await.unwrap();
    let startup = started.elapsed();
    let now = || SystemClock.now_unix();
    let miner = &miners[0];
    let validator = &validators[0];
    let past = epochs[epochs.len() / 2];
    let stats = timed(300, async |_| client.stats().await.unwrap()).await;
    let current_times = timed(300, async |_| client.current(miner, now()).await.unwrap()).await;
    let epoch_times = timed(300, async |_| client.epoch(validator, past, now()).await.unwrap()).await;
    let dashboard = measure_dashboard(&server.app, &format!("http://{}", server.addr)).await;
    let assignment = client.current(miner, now()).await.unwrap();
    let writers: Vec<_> = miners[1..9.min(miners.len())]
        .iter()
        .map(|key| {
            let (client, key, nonce) = (client.clone(), key.clone(), assignment.nonce.clone());
            tokio::spawn(async move {
                for _ in 0..200 {
                    let report = status_request(&key, current, &nonce, MinerStatus::InProgress, now());
                    client.report_status(&key, &report).await.unwrap();
                }
            })
        })
        .collect();
    let status_times = timed(300, async |_| {
        let report = status_request(miner, current, &assignment.nonce, MinerStatus::InProgress, now());
        client.report_status(miner, &report).await.unwrap()
    })
    .await;
    for writer in writers {
        writer.await.unwrap();
    }
    let store = server.app.store();
    let started = Instant::now();
    let export =
        zipcoord::cli::export::export_history(store, now() - 7 * 86_400, i64::MAX, &mut std::io::sink()).await.unwrap();
    let export_time = started.elapsed();
    let unknown = key(99_999_999).hotkey().to_string();
    let lookup = |hotkey: Option<String>| async move {
        let started = Instant::now();
        store.recent_grants(hotkey.as_deref(), 100).await.unwrap();
        started.elapsed()
    };
    let grants_unknown = lookup(Some(unknown)).await;
    let grants_known = lookup(Some(validator.hotkey().to_string())).await;
    let grants_all = lookup(None).await;
    server.shutdown().await.unwrap();

    // Plans on the whole month (PostgreSQL plans by its statistics); those of statements the prune below runs
    // for the first time are taken after it.
    let mut plans = Plans::default();
    plans.explain(&url, &statements.statements()).await;

    // A 28-day backlog (retention shortened to 2 days) pruned while a miner keeps reporting.
    let mut pruning = settings.clone();
    pruning.retention = days(2);
    let server = boot::start(pruning, Arc::new(SystemClock)).await.unwrap();
    let app = server.app.clone();
    let zipcodes = progress(&app.ensure_epoch(current).await.unwrap(), None);
    let pruned_flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (app, miner, nonce) =
            (app.clone(), miners[miners.len() - 1].clone(), assignment.nonce.parse::<Nonce>().unwrap());
        let done = pruned_flag.clone();
        tokio::spawn(async move {
            let mut waits = Vec::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let started = Instant::now();
                app.record_status(submission(&miner, current, nonce, &zipcodes, waits.len() % REPORTS_PER_EPOCH))
                    .await
                    .unwrap();
                waits.push(started.elapsed());
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            waits
        })
    };
    let started = Instant::now();
    let pruned = app.prune_history().await.unwrap();
    let prune_time = started.elapsed();
    let reclaim = app.last_reclaim().unwrap_or_default();
    pruned_flag.store(true, std::sync::atomic::Ordering::SeqCst);
    let waits = writer.await.unwrap();
    server.shutdown().await.unwrap();
    let size_after = database_bytes(&url).await;

    println!(
        "| {backend}, {} days, {} miners, {} validators ({reports} reports, {grants} grant records) | figure |",
        options.days, options.miners, options.validators
    );
    println!("|---|---|");
    if let Some(build_time) = build_time {
        println!("| built through the application layer in | {:.0} s |", build_time.as_secs_f64());
    }
    println!("| database size | {} |", mib(size));
    println!("| start-up on it, to the first answer | {:.0} ms |", startup.as_secs_f64() * 1000.0);
    println!("| `GET /stats` | {} |", percentiles(stats));
    println!("| `GET /current` (client signing included) | {} |", percentiles(current_times));
    println!("| `GET /epoch/{{id}}` of a past epoch | {} |", percentiles(epoch_times));
    println!("| `POST /status` while 8 other miners write | {} |", percentiles(status_times));
    println!(
        "| dashboard overview composed afresh ({} miner rows, {} epochs) | {} |",
        dashboard.rows,
        dashboard.epochs,
        percentiles(dashboard.composed)
    );
    println!("| `GET /api/v1/dashboard/overview` (served from its 5 s cache) | {} |", percentiles(dashboard.served));
    println!(
        "| dashboard page weight, gzip (page, script, style, overview, map, epoch map) | {:.0} KB |",
        dashboard.weight as f64 / 1024.0
    );
    println!(
        "| `export` of 7 days ({} epochs, {} reports) | {:.2} s |",
        export.epochs,
        export.status_reports,
        export_time.as_secs_f64()
    );
    println!(
        "| `grants --hotkey` unknown / a validator / all, 100 newest | {:.1} / {:.1} / {:.1} ms |",
        grants_unknown.as_secs_f64() * 1000.0,
        grants_known.as_secs_f64() * 1000.0,
        grants_all.as_secs_f64() * 1000.0
    );
    println!(
        "| pruning a 28-day backlog ({} epochs, {} reports, {} grant records) | {:.1} s |",
        pruned.epochs,
        pruned.status_events,
        pruned.grants,
        prune_time.as_secs_f64()
    );
    println!(
        "| longest write wait during the prune ({} writes) | {:.1} ms |",
        waits.len(),
        waits.iter().max().unwrap().as_secs_f64() * 1000.0
    );
    println!(
        "| free pages given back by that run (8 MiB an hour promised) | {} in {} steps of up to {} pages: {:.0} ms of work, {:.1} s with the pauses |",
        mib(reclaim.pages as u64 * 4096),
        reclaim.steps,
        reclaim.largest_step,
        reclaim.working.as_secs_f64() * 1000.0,
        reclaim.elapsed.as_secs_f64()
    );
    println!("| database size after the prune | {} |", mib(size_after));

    plans.explain(&url, &statements.statements()).await;
    let path = std::path::PathBuf::from(format!("target/query-plans-{}.md", backend.to_lowercase()));
    std::fs::write(&path, plans.markdown(backend)).unwrap();
    println!("\nThe plan of every statement run ({} full scans of growing tables): {}", plans.scans, path.display());
}

/// The plan of every statement, as Markdown, with full scans of growing tables flagged.
#[derive(Default)]
struct Plans {
    explained: std::collections::BTreeSet<String>,
    text: String,
    scans: usize,
}

impl Plans {
    /// Adds the plans of the statements in `statements` not explained yet, on the database at `url`.
    async fn explain(&mut self, url: &str, statements: &[String]) {
        use std::fmt::Write;
        let store = Store::connect(url).await.unwrap();
        for sql in statements.iter().filter(|sql| is_explainable(sql)) {
            if !self.explained.insert(sql.clone()) {
                continue;
            }
            let plan = store.explain(sql).await.unwrap_or_else(|e| vec![format!("(no plan: {e})")]);
            let shown =
                if sql.len() > 400 { format!("{} …", &sql[..sql.floor_char_boundary(400)]) } else { sql.clone() };
            let _ = writeln!(self.text, "```sql\n{shown}\n```\n```\n{}\n```\n", plan.join("\n"));
            for step in full_scans(&plan) {
                self.scans += 1;
                let _ = writeln!(self.text, "**full scan**: `{step}`\n");
            }
        }
        store.close().await;
    }

    fn markdown(&self, backend: &str) -> String {
        format!(
            "# Query plans on {backend}: {} statements, {} full scans of growing tables\n\n{}",
            self.explained.len(),
            self.scans,
            self.text
        )
    }
}

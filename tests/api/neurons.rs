//! End to end: the real server with 20-second epochs and background tasks, the loopback S3 store that checks
//! signatures and policies, four miners (fast and honest, slow and honest, one that uploads nothing, one that
//! lies a different way each epoch) and two validators, all through the crate's own clients over real HTTP.
//! Also `zipcoord localnet` as a process.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zipcoord::api::parse_iso8601;
use zipcoord::client::miner::scraper::{ScrapeError, ScrapeFuture, ScrapeJob, Scraper, SyntheticScraper};
use zipcoord::client::synthetic;
use zipcoord::client::validator::group_judging::ValidationMode;
use zipcoord::client::validator::{EpochJudgement, MinerResult, ValidatorSettings};
use zipcoord::domain::epoch::batches::AssignmentMode;
use zipcoord::domain::epoch::EpochId;
use zipcoord::domain::judging::listing::ListingFile;
use zipcoord::localnet::{InventingScraper, LiarSpec, Localnet, LocalnetOptions};
use zipcoord::s3::UploadMode;

use crate::helpers::fresh_database_url;
use crate::process::zipcoord;

const EPOCH_SECONDS: u32 = 20;
const FAST: usize = 0;
const SLOW: usize = 1;
const IDLE: usize = 2;
const LIAR: usize = 3;

/// Scrapes nothing: registered, reports, uploads no listing.
struct IdleScraper;

impl Scraper for IdleScraper {
    fn describe(&self) -> String {
        "nothing".into()
    }

    fn scrape<'a>(&'a self, _job: &'a ScrapeJob) -> ScrapeFuture<'a> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// Lies a different way in each epoch it works: invents listings; then copies the fast miner's files out of
/// the bucket with another zipcode's listing slipped in; then copies them again, which makes a habit of it.
struct RotatingLiar {
    epochs_seen: Mutex<Vec<String>>,
    bucket_root: PathBuf,
    victim: String,
}

impl RotatingLiar {
    fn lie_for(&self, epoch: &str) -> usize {
        let mut seen = self.epochs_seen.lock().unwrap();
        if !seen.iter().any(|e| e == epoch) {
            seen.push(epoch.to_string());
        }
        seen.iter().position(|e| e == epoch).unwrap() % 3
    }

    /// Waits for the victim's file of this zipcode and takes its listings as they are.
    async fn copy(&self, job: &ScrapeJob) -> Result<Vec<zipcoord::domain::judging::listing::Listing>, ScrapeError> {
        let folder = self
            .bucket_root
            .join(format!("data/hotkey={}/epoch={}/zipcode={}", self.victim, job.epoch_id, job.zipcode));
        for _ in 0..150 {
            let file = std::fs::read_dir(&folder).ok().and_then(|mut entries| entries.next()).and_then(|e| e.ok());
            if let Some(parsed) = file
                .and_then(|e| std::fs::read(e.path()).ok())
                .and_then(|bytes| serde_json::from_slice::<ListingFile>(&bytes).ok())
            {
                // Object times have to differ for anyone to tell who was first.
                tokio::time::sleep(Duration::from_millis(1_100)).await;
                return Ok(parsed.listings);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(ScrapeError::Output("nothing to copy".into()))
    }
}

impl Scraper for RotatingLiar {
    fn describe(&self) -> String {
        "a liar".into()
    }

    fn scrape<'a>(&'a self, job: &'a ScrapeJob) -> ScrapeFuture<'a> {
        Box::pin(async move {
            match self.lie_for(&job.epoch_id) {
                0 => InventingScraper.scrape(job).await,
                1 => {
                    let now = zipcoord::api::iso8601_millis(chrono::Utc::now().timestamp_millis());
                    let mut listings = self.copy(job).await?;
                    listings.push(synthetic::listing("99501", "Anchorage", "AK", 0, &now));
                    Ok(listings)
                }
                _ => self.copy(job).await,
            }
        })
    }
}

fn miner_result(judgement: &EpochJudgement, uid: u16) -> &MinerResult {
    judgement.miners.iter().find(|m| m.uid == uid).unwrap_or_else(|| panic!("uid {uid} not judged"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn honest_miners_are_ranked_liars_get_nothing_and_validators_agree() {
    let dir = tempfile::tempdir().unwrap();
    let options = LocalnetOptions {
        miners: 4,
        validators: 2,
        epoch_seconds: EPOCH_SECONDS,
        target_listings: 450,
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(fresh_database_url(dir.path()).await),
        data_dir: dir.path().join("net"),
        upload_mode: UploadMode::Post,
        assignment: AssignmentMode::Shared,
        validation: ValidationMode::Both,
        liars: LiarSpec(Vec::new()),
        chain: None,
        market: Default::default(),
    };
    let net = Localnet::start(&options).await.unwrap();
    let uid_of_miner = |index: usize| (net.validators.len() + index) as u16;
    let cancel = CancellationToken::new();
    let poll = Duration::from_millis(500);

    let liar = RotatingLiar {
        epochs_seen: Mutex::new(Vec::new()),
        bucket_root: net.store.object_path(""),
        victim: net.miners[FAST].hotkey().to_string(),
    };
    let scrapers: [Arc<dyn Scraper>; 4] = [
        Arc::new(SyntheticScraper { delay: Duration::ZERO, sizes: Default::default() }),
        Arc::new(SyntheticScraper { delay: Duration::from_millis(1_500), sizes: Default::default() }),
        Arc::new(IdleScraper),
        Arc::new(liar),
    ];
    // Start on an epoch boundary, so every epoch judged below was a whole one for every miner.
    let length_ms = i64::from(EPOCH_SECONDS) * 1000;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let first_epoch = EpochId::from_start_unix((now_ms / length_ms + 1) * i64::from(EPOCH_SECONDS));
    tokio::time::sleep(Duration::from_millis((length_ms - now_ms % length_ms + 200) as u64)).await;
    let mut tasks = Vec::new();
    for (index, scraper) in scrapers.into_iter().enumerate() {
        let miner = net.miner(index, scraper);
        let cancel = cancel.clone();
        tasks.push(tokio::spawn(async move {
            miner.run(poll, cancel.cancelled_owned(), |work| eprintln!("miner {index}: {work:?}")).await;
        }));
    }
    let (sender, mut judgements) = mpsc::unbounded_channel();
    for index in 0..2 {
        let settings = ValidatorSettings { spot_checks: 5, judge_delay: Duration::from_secs(2), ..Default::default() };
        let validator = net.validator(index, settings);
        let (cancel, sender) = (cancel.clone(), sender.clone());
        tasks.push(tokio::spawn(async move {
            validator
                .run(poll, cancel.cancelled_owned(), |epoch, outcome| {
                    if let Ok(judgement) = outcome {
                        sender.send((index, epoch, judgement)).unwrap();
                    }
                })
                .await;
        }));
    }

    // Three epochs judged by both validators: the liar invented, copied with a borrowed listing (caught for the
    // listing, flagged for following), then copied again (a habit: caught for copying).
    let mut by_epoch: BTreeMap<EpochId, BTreeMap<usize, EpochJudgement>> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(EPOCH_SECONDS) * 6);
    while by_epoch.values().filter(|v| v.len() == 2).count() < 3 {
        let (index, epoch, judgement) = tokio::time::timeout_at(deadline, judgements.recv())
            .await
            .expect("three epochs judged by both validators in time")
            .unwrap();
        // The epoch before the miners started was empty; it is judged too, and left out here.
        if epoch >= first_epoch {
            by_epoch.entry(epoch).or_default().insert(index, judgement);
        }
    }
    cancel.cancel();
    for task in tasks {
        task.await.unwrap();
    }

    let epochs: Vec<(&EpochId, &BTreeMap<usize, EpochJudgement>)> = by_epoch.iter().take(3).collect();
    let lies = ["no listing made-up", "filed under", "copies its groupmates"];
    for (n, (epoch, judged)) in epochs.iter().enumerate() {
        let (first, second) = (&judged[&0], &judged[&1]);
        assert_eq!(first.weights, second.weights, "validators disagree on {epoch}");
        assert_eq!(first.chain_weights, second.chain_weights);
        for judgement in [first, second] {
            let end_ms = (epoch.start_unix() + i64::from(EPOCH_SECONDS)) * 1000;
            let judged_at = parse_iso8601(&judgement.judged_at).unwrap();
            assert!(
                (end_ms..end_ms + i64::from(EPOCH_SECONDS) * 1000).contains(&judged_at),
                "weights for {epoch} produced at {} (not during the next epoch)",
                judgement.judged_at
            );
            let liar = miner_result(judgement, uid_of_miner(LIAR));
            assert_eq!((liar.verdict.as_str(), liar.weight), ("liar", 0.0), "{epoch}: {liar:?}");
            assert!(liar.reasons.iter().any(|r| r.contains(lies[n])), "{epoch}: {:?}", liar.reasons);
            let idle = miner_result(judgement, uid_of_miner(IDLE));
            assert_eq!((idle.verdict.as_str(), idle.weight, idle.files), ("absent", 0.0, 0));
            assert_eq!(idle.reasons, ["nothing uploaded in its folder for this epoch"], "the verdict says why");
            for validator_uid in 0..2 {
                assert_eq!(miner_result(judgement, validator_uid).weight, 0.0);
            }
        }
        let fast = miner_result(first, uid_of_miner(FAST));
        let slow = miner_result(first, uid_of_miner(SLOW));
        assert_eq!(fast.verdict.as_str(), "honest", "{epoch}: {fast:?}");
        let total: f64 = first.weights.values().sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        // Both honest miners did everything; the faster one ranks first: 50/30 of the 80 % handed out.
        assert_eq!(slow.verdict.as_str(), "honest", "{epoch}: {slow:?}");
        assert_eq!((fast.listings, slow.listings), (450, 450));
        assert!(fast.quality > slow.quality, "{epoch}: {} vs {}", fast.quality, slow.quality);
        assert!((fast.weight - 0.625).abs() < 1e-9 && (slow.weight - 0.375).abs() < 1e-9, "{:?}", first.weights);
        let max = *first.chain_weights.weights.iter().max().unwrap();
        assert_eq!(max, u16::MAX);
    }

    // Each validator's results landed in the bucket.
    for key in &net.validators {
        let (epoch, _) = epochs[0];
        let folder = net.store.object_path(&format!("validators/{}/{epoch}", key.hotkey()));
        let files: Vec<_> = std::fs::read_dir(&folder).unwrap().collect();
        assert_eq!(files.len(), 1, "{}", folder.display());
    }
    net.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_miner_uploads_with_presigned_puts_and_the_cli_judges_its_work() {
    let dir = tempfile::tempdir().unwrap();
    let options = LocalnetOptions {
        miners: 1,
        validators: 1,
        epoch_seconds: 3_600,
        target_listings: 450,
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(fresh_database_url(dir.path()).await),
        data_dir: dir.path().join("net"),
        upload_mode: UploadMode::Put,
        assignment: AssignmentMode::Shared,
        validation: ValidationMode::Both,
        liars: LiarSpec(Vec::new()),
        chain: None,
        market: Default::default(),
    };
    let net = Localnet::start(&options).await.unwrap();
    let miner = net.miner(0, Arc::new(SyntheticScraper { delay: Duration::ZERO, sizes: Default::default() }));
    let sourced = miner.current().await.unwrap();
    let work = miner.mine(&sourced).await.unwrap();
    let assignment = &sourced.assignment;
    assert_eq!(work.status, zipcoord::domain::epoch::status::MinerStatus::Completed);
    assert_eq!(
        (work.uploaded, work.zipcodes, work.listings),
        (assignment.zipcodes.len(), assignment.zipcodes.len(), 450)
    );
    for zipcode in &assignment.zipcodes {
        let folder = net.store.object_path(&format!(
            "data/hotkey={}/epoch={}/zipcode={}",
            miner.hotkey(),
            assignment.epoch_id,
            zipcode.zipcode
        ));
        let file = std::fs::read_dir(&folder).unwrap().next().unwrap().unwrap();
        let parsed: ListingFile = serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap();
        assert_eq!(
            (parsed.nonce.as_str(), parsed.listings.len()),
            (assignment.nonce.as_str(), zipcode.expected_listings as usize)
        );
    }
    // The reports reached the server: the last one says COMPLETED with every zipcode's count.
    let epoch: EpochId = assignment.epoch_id.parse().unwrap();
    let reports = net.server().app.store().status_events(epoch).await.unwrap();
    let statuses: Vec<&str> = reports.iter().map(|r| r.status.as_str()).collect();
    let zipcodes = assignment.zipcodes.len();
    assert_eq!(statuses.len(), zipcodes + 2, "IN_PROGRESS, one per zipcode, COMPLETED: {statuses:?}");
    assert_eq!((statuses[0], statuses[zipcodes + 1]), ("IN_PROGRESS", "COMPLETED"));
    let last = reports.last().unwrap();
    assert!(last.s3_upload_complete);
    assert_eq!((last.listings_scraped, last.zipcodes_completed.len()), (Some(450), zipcodes));

    // The CLI over the same network: the assignment as a miner sees it, and a validator's verdict on the work.
    let run = |args: Vec<String>| {
        let mut command = tokio::process::Command::from(zipcoord());
        // Clients keep their state under the user's data directory unless told otherwise: here, the test's.
        command.args(args).env("RUST_LOG", "warn").env("XDG_DATA_HOME", dir.path().join("data")).kill_on_drop(true);
        async move {
            let output = tokio::time::timeout(Duration::from_secs(60), command.output()).await.unwrap().unwrap();
            (
                output.status.code(),
                String::from_utf8_lossy(&output.stdout).to_string(),
                String::from_utf8_lossy(&output.stderr).to_string(),
            )
        }
    };
    let url = net.url.clone();
    let state_dir = dir.path().join("cli-miner").display().to_string();
    let (code, stdout, stderr) =
        run(["miner", "current", "--url", &url, "--key-uri", "//Miner1", "--state-dir", &state_dir]
            .iter()
            .map(|s| s.to_string())
            .collect())
        .await;
    assert_eq!(code, Some(0), "{stderr}");
    let current: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(current["epochId"], assignment.epoch_id.as_str());
    let said = format!("epoch {}: {} zipcodes", assignment.epoch_id, assignment.zipcodes.len());
    assert!(stderr.contains(&said) && stderr.contains("from the API"), "{stderr}");
    assert!(std::path::Path::new(&state_dir).join(format!("assignments/{}.json", assignment.epoch_id)).exists());
    let metagraph = format!("file:{}", net.metagraph_path.display());
    let score = |extra: &[&str]| {
        let mut args: Vec<String> = ["validator", "score", "--epoch", &assignment.epoch_id, "--url", &url]
            .iter()
            .chain(["--metagraph", &metagraph, "--spot-checks", "3", "--no-upload"].iter())
            .chain(extra.iter())
            .map(|s| s.to_string())
            .collect();
        args.retain(|a| !a.is_empty());
        run(args)
    };
    let (code, stdout, stderr) = score(&["--key-uri", "//Validator1", "--synthetic"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    let judgement: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(judgement["weights"], serde_json::json!({"0": 0.0, "1": 1.0}), "{judgement}");
    assert_eq!(judgement["chainWeights"], serde_json::json!({"uids": [1], "weights": [65535]}));
    assert_eq!(judgement["miners"][1]["listings"], 450);

    // An operator's verifier that refutes everything makes the miner a liar.
    let (_, stdout, _) = score(&["--key-uri", "//Validator1", "--verifier-command", "echo gone; exit 1"]).await;
    let judgement: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(judgement["miners"][1]["verdict"], "liar");
    assert!(judgement["miners"][1]["reasons"][0].as_str().unwrap().ends_with("gone"), "{judgement}");

    // Mistakes get a clear message and never echo a secret.
    let (code, _, stderr) = score(&["--key-uri", "//Validator1"]).await;
    assert_eq!(code, Some(2), "no verifier chosen: {stderr}");
    let (code, _, stderr) = score(&["--key-uri", "not a valid secret phrase at all", "--synthetic"]).await;
    assert_eq!(code, Some(1));
    assert!(stderr.contains("invalid secret URI") && !stderr.contains("valid secret phrase at all"), "{stderr}");
    let (code, _, stderr) = score(&["--key-uri", "//Miner1", "--synthetic"]).await;
    assert_eq!(code, Some(1));
    assert!(stderr.contains("403"), "a miner's key cannot judge: {stderr}");
    net.shutdown().await.unwrap();
}

/// A miner folder of 2,500 objects over many epochs, the judged epoch sorting last with 1,500 of them: the
/// validator lists that epoch alone, follows every page, and judges it as it judged the same work in 10 files.
#[tokio::test]
async fn a_miner_with_thousands_of_objects_is_judged_on_every_one_of_the_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let net = hour_long_network(&dir, 1, 1_500).await;
    let miner = net.miner(0, Arc::new(SyntheticScraper { delay: Duration::ZERO, sizes: Default::default() }));
    let sourced = miner.current().await.unwrap();
    miner.mine(&sourced).await.unwrap();
    let assignment = &sourced.assignment;
    let epoch: EpochId = assignment.epoch_id.parse().unwrap();
    let settings = ValidatorSettings { spot_checks: 3, publish: false, ..ValidatorSettings::default() };
    let validator = net.validator(0, settings);
    let judge_miner = || async {
        let judgement = validator.judge(epoch).await.unwrap();
        judgement.miners.into_iter().find(|m| m.hotkey == miner.hotkey()).unwrap()
    };
    let small = judge_miner().await;
    assert_eq!((small.verdict.as_str(), small.listings, small.files), ("honest", 1_500, assignment.zipcodes.len()));

    // The same listings, one file each (1,500 objects), after 1,000 objects of earlier epochs.
    let folder = net.store.object_path(&format!("data/hotkey={}", miner.hotkey()));
    let epoch_folder = folder.join(format!("epoch={epoch}"));
    for zipcode in std::fs::read_dir(&epoch_folder).unwrap() {
        let zipcode = zipcode.unwrap().path();
        for file in std::fs::read_dir(&zipcode).unwrap() {
            let path = file.unwrap().path();
            let whole: ListingFile = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            std::fs::remove_file(&path).unwrap();
            for (n, listing) in whole.listings.iter().enumerate() {
                let single = ListingFile { listings: vec![listing.clone()], ..whole.clone() };
                std::fs::write(zipcode.join(format!("data_{n:04}.json")), serde_json::to_vec(&single).unwrap())
                    .unwrap();
            }
        }
    }
    for n in 0..1_000 {
        let old = folder.join(format!("epoch=2025-{:02}-01T00-00-00/zipcode=02134", 1 + n % 9));
        std::fs::create_dir_all(&old).unwrap();
        std::fs::write(old.join(format!("data_{n:04}.json")), b"{}").unwrap();
    }
    let count = |dir: &std::path::Path| walk(dir).len();
    assert_eq!((count(&folder), count(&epoch_folder)), (2_500, 1_500));
    let epoch_key = format!("data/hotkey={}/epoch={epoch}/", miner.hotkey());
    assert!(walk(&folder).iter().all(|key| !key.contains("epoch=") || key.contains(&epoch_key) || key < &epoch_key));

    let big = judge_miner().await;
    assert_eq!((big.verdict.as_str(), big.listings, big.files), ("honest", 1_500, 1_500), "{big:?}");
    assert!(big.notes.is_empty() && big.reasons.is_empty(), "{big:?}");
    assert!((big.quality - small.quality).abs() < 0.01, "{} vs {}", big.quality, small.quality);
    assert_eq!(big.weight, small.weight);
}

/// Every file below `dir`, as paths relative to the bucket (`data/hotkey=…`).
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let text = path.to_string_lossy().to_string();
                files.push(text[text.find("data/hotkey=").unwrap()..].to_string());
            }
        }
    }
    files
}

/// One miner's odd keys (one longer than a grant can name, 500 long names that overflow one request's body)
/// cost that miner what cannot be read, said in its notes; every miner is still judged.
#[tokio::test]
async fn a_miners_odd_keys_never_stop_the_judgement_of_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let net = hour_long_network(&dir, 2, 450).await;
    let scraper = Arc::new(SyntheticScraper { delay: Duration::ZERO, sizes: Default::default() });
    let (honest, odd) = (net.miner(0, scraper.clone()), net.miner(1, scraper));
    let sourced = honest.current().await.unwrap();
    honest.mine(&sourced).await.unwrap();
    odd.mine(&sourced).await.unwrap();
    let assignment = &sourced.assignment;
    let assigned = &assignment.zipcodes[0].zipcode;
    let epoch_folder = net.store.object_path(&format!(
        "data/hotkey={}/epoch={}/zipcode={assigned}",
        odd.hotkey(),
        assignment.epoch_id
    ));
    let too_long = epoch_folder.join("a".repeat(200)).join("b".repeat(200)).join("c".repeat(200));
    std::fs::create_dir_all(too_long.parent().unwrap()).unwrap();
    std::fs::write(&too_long, b"{}").unwrap();
    std::fs::create_dir_all(&epoch_folder).unwrap();
    for n in 0..500 {
        std::fs::write(epoch_folder.join(format!("{n:04}{}.json", "x".repeat(150))), b"{}").unwrap();
    }

    let settings = ValidatorSettings { spot_checks: 3, publish: false, ..ValidatorSettings::default() };
    let judgement = net.validator(0, settings).judge(assignment.epoch_id.parse().unwrap()).await.unwrap();
    let result = |hotkey: String| judgement.miners.iter().find(|m| m.hotkey == hotkey).unwrap().clone();
    let (honest, odd) = (result(honest.hotkey()), result(odd.hotkey()));
    assert_eq!((honest.verdict.as_str(), honest.listings), ("honest", 450), "{honest:?}");
    assert!(honest.notes.is_empty(), "{honest:?}");
    assert_eq!(
        (odd.verdict.as_str(), odd.listings),
        ("honest", 450),
        "its real work still counts: {:?}",
        odd.reasons.first()
    );
    assert!(odd.notes.iter().any(|n| n.contains("1 objects have keys no grant can name")), "{:?}", odd.notes);
    assert_eq!(odd.files, assignment.zipcodes.len() + 500, "every nameable object was fetched");
    assert!(judgement.weights.values().sum::<f64>() > 0.99);
}

/// A network of `miners` and one validator with hour-long epochs, started where the test can finish inside the
/// current epoch (its last two minutes are waited out).
pub async fn hour_long_network(dir: &tempfile::TempDir, miners: usize, target_listings: u32) -> Localnet {
    let into_hour = zipcoord::client::unix_now().rem_euclid(3_600);
    if into_hour > 3_480 {
        tokio::time::sleep(Duration::from_secs((3_605 - into_hour) as u64)).await;
    }
    let options = LocalnetOptions {
        miners,
        validators: 1,
        epoch_seconds: 3_600,
        target_listings,
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(fresh_database_url(dir.path()).await),
        data_dir: dir.path().join("net"),
        upload_mode: UploadMode::Post,
        assignment: AssignmentMode::Shared,
        validation: ValidationMode::Both,
        liars: LiarSpec(Vec::new()),
        chain: None,
        market: Default::default(),
    };
    Localnet::start(&options).await.unwrap()
}

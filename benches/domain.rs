//! Benchmarks of the pure parts and of epoch creation (design.md section 5): signature verification (the bound
//! of every signed endpoint), selection over 40,000 candidates (target < 10 ms), publishing and reading epoch
//! inputs, recalibrating them from validators' verdicts, pulse verification, and creating an epoch at its start end
//! to end on SQLite (target < 50 ms). Run with `cargo bench --bench domain`.

use std::collections::HashMap;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use zipcoord::app::{App, Clock, ManualClock};
use zipcoord::beacon::{BeaconSettings, BeaconSpec};
use zipcoord::chain::MetagraphSpec;
use zipcoord::domain::access::auth::verify_hotkey_signature;
use zipcoord::domain::access::endpoint::{self, SignedValues};
use zipcoord::domain::access::keys::Keypair;
use zipcoord::domain::epoch::assignment::{plan_epoch, PublishedInputs};
use zipcoord::domain::epoch::batches::plan_batches;
use zipcoord::domain::epoch::beacon::DevBeacon;
use zipcoord::domain::epoch::calibration::{CalibrationRule, EvidenceFile, PublishedEvidence};
use zipcoord::domain::epoch::groups::GroupedInputs;
use zipcoord::domain::epoch::groups::{GroupPlan, RosterMiner};
use zipcoord::domain::epoch::inputs::{inputs_hash_hex, EpochInputs, InputSources};
use zipcoord::domain::epoch::nonce::ServerSecret;
use zipcoord::domain::epoch::proof::SeedSource;
use zipcoord::domain::epoch::selection::SelectionPolicy;
use zipcoord::domain::epoch::selection_v2::select_v2;
use zipcoord::domain::epoch::zipcode::{MarketTier, Zipcode, ZipcodeRecord};
use zipcoord::domain::epoch::{EpochClock, EpochId};
use zipcoord::settings::Settings;
use zipcoord::storage::{ImportMode, Store};

fn universe(count: usize) -> Vec<ZipcodeRecord> {
    (0..count)
        .map(|n| ZipcodeRecord {
            zipcode: format!("{:05}", n * 99_999 / count).parse().unwrap(),
            state: "NY".into(),
            city: "Somewhere".into(),
            county: Some("Some County".into()),
            expected_listings: 20 + ((n as u32).wrapping_mul(7_919) % 480),
            tier: MarketTier::ALL[n % 4],
            weight: 1.0,
            active: true,
        })
        .collect()
}

fn policy() -> SelectionPolicy {
    SelectionPolicy {
        target_listings: 10_000,
        tolerance_percent: 10,
        min_listings: 10,
        max_listings: 3_000,
        cooldown_seconds: 24 * 3600,
        max_count: None,
    }
}

fn signature_verification(c: &mut Criterion) {
    let key = Keypair::from_uri("//Charlie").unwrap();
    let message = endpoint::CURRENT.commitment(&SignedValues::at(1_759_334_400));
    let signature = key.sign(message.as_bytes());
    let hotkey = key.hotkey();
    c.bench_function("verify_hotkey_signature (raw)", |b| {
        b.iter(|| assert!(verify_hotkey_signature(&hotkey, message.as_bytes(), &signature)))
    });
}

fn selection(c: &mut Criterion) {
    let records = universe(40_000);
    let now = 1_759_334_400;
    // A realistic history: a quarter of the universe assigned within the last two cooldowns.
    let last_assigned: HashMap<Zipcode, i64> = records
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 4 == 0)
        .map(|(i, z)| (z.zipcode, now - (i as i64 % 48) * 3600))
        .collect();
    let beacon = DevBeacon::new();
    let epoch = EpochId::from_start_unix(now);
    let sources = InputSources {
        universe: &records,
        last_assigned: &last_assigned,
        policy: policy(),
        netuid: 46,
        beacon_chain_hash: beacon.chain().hash,
        beacon_round: beacon.chain().round_at(now),
        groups: None,
    };
    let inputs = EpochInputs::compose(epoch, &sources);
    let mut seed = 0u64;
    c.bench_function("select_v2 (40,000 candidates, integers only)", |b| {
        b.iter(|| {
            seed += 1;
            let mut s = [0u8; 32];
            s[..8].copy_from_slice(&seed.to_le_bytes());
            select_v2(&inputs.candidates, &policy(), now, s).unwrap()
        })
    });
    // `groups` mode at 256 miners: 52 groups of at most 5, each with a batch of its own.
    let roster: Vec<RosterMiner> = (0..256u32)
        .map(|n| {
            let mut seed = [7u8; 32];
            seed[..4].copy_from_slice(&n.to_be_bytes());
            RosterMiner { hotkey: Keypair::from_seed(&seed).hotkey(), coldkey: format!("cold{}", n % 200) }
        })
        .collect();
    let grouped = GroupedInputs::new(GroupPlan { size: 5, overlap: 1 }, &roster);
    c.bench_function("select a groups epoch (256 miners, 52 batches, 40,000 candidates)", |b| {
        b.iter(|| {
            seed += 1;
            let mut s = [0u8; 32];
            s[..8].copy_from_slice(&seed.to_le_bytes());
            plan_batches(&inputs.candidates, &policy(), &grouped, now, s).unwrap()
        })
    });
    c.bench_function("compose and hash epoch inputs (40,000 zipcodes)", |b| {
        b.iter(|| {
            let inputs = EpochInputs::compose(epoch, &sources);
            inputs_hash_hex(&inputs.canonical_json())
        })
    });
    let canonical = inputs.canonical_json();
    c.bench_function("read published epoch inputs (40,000 candidates)", |b| {
        b.iter(|| EpochInputs::from_canonical_json(&canonical).unwrap())
    });
    let pulse = beacon.pulse(inputs.beacon_round);
    c.bench_function("verify a beacon pulse (BLS12-381)", |b| b.iter(|| beacon.chain().verify(&pulse).unwrap()));
    let clock = EpochClock::new(240).unwrap();
    let secret = ServerSecret::from_hex(&"ab".repeat(32)).unwrap();
    let places: HashMap<Zipcode, &ZipcodeRecord> = records.iter().map(|z| (z.zipcode, z)).collect();
    let hash = inputs_hash_hex(&canonical);
    let published = PublishedInputs { inputs: &inputs, hash: &hash, published_at_ms: 0 };
    let randomness = beacon.chain().verify(&pulse).unwrap();
    c.bench_function("plan_epoch (40,000 zipcodes)", |b| {
        b.iter(|| {
            let source = SeedSource::Beacon { pulse, randomness };
            plan_epoch(clock, &published, "zipcoord-dev", source, &secret, &places, 0).unwrap()
        })
    });
}

fn epoch_creation(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let records = universe(40_000);
    let first = EpochId::from_start_unix(1_759_334_400);
    let clock = Arc::new(ManualClock::new(first.start_unix() * 1000));
    let app = runtime.block_on(async {
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        store.import_zipcodes(&records, "bench", ImportMode::Merge, 0).await.unwrap();
        let metagraph = dir.path().join("metagraph.json");
        std::fs::write(&metagraph, "[]").unwrap();
        let mut settings = Settings::new(url.clone(), MetagraphSpec::File(metagraph));
        settings.beacon = BeaconSettings::new(BeaconSpec::Dev);
        settings.epochs.policy = policy();
        let app = App::start(store, settings, clock.clone()).await.unwrap();
        app.ensure_epoch(first).await.unwrap();
        app
    });
    let length = app.settings().epochs.clock.length_seconds();
    // What the service does at an epoch's start, its inputs published an epoch before: verify the round's pulse,
    // plan, store the assignment, and publish the next epoch's inputs (cooldown history, canonical JSON, gzip).
    c.bench_function("create epoch at its start on SQLite (40,000 zipcodes, dev beacon)", |b| {
        b.to_async(&runtime).iter_batched(
            || {
                let epoch = EpochId::from_start_unix(clock.now_unix() + length);
                clock.set_ms(epoch.start_unix() * 1000);
                epoch
            },
            |epoch| {
                let app = app.clone();
                async move { app.ensure_epoch(epoch).await.unwrap() }
            },
            BatchSize::SmallInput,
        )
    });
}

/// Recalibrating the inputs of 40,000 candidates from six judged epochs' verdicts: 16 permitted validators, each
/// reporting 70 zipcodes an epoch with 64 honest miners of 64 coldkeys behind each (then checked, as a verifier
/// would).
fn calibration(c: &mut Criterion) {
    let clock = EpochClock::new(240).unwrap();
    let epoch: EpochId = "2025-12-01T04-00-00".parse().unwrap();
    let universe = universe(40_000);
    let last_assigned = HashMap::new();
    let sources = InputSources {
        universe: &universe,
        last_assigned: &last_assigned,
        policy: policy(),
        netuid: 46,
        beacon_chain_hash: [1; 32],
        beacon_round: 1,
        groups: None,
    };
    let inputs = EpochInputs::compose(epoch, &sources);
    let miners: Vec<String> = (0..64).map(|n| format!("miner-{n}")).collect();
    let mut evidence = Vec::new();
    let mut judged = epoch;
    for e in 0..6usize {
        judged = clock.previous(judged);
        for v in 0..16usize {
            let zipcodes = (0..70usize)
                .map(|z| {
                    let candidate = &inputs.candidates[(e * 70 + z) * 97 % inputs.candidates.len()];
                    let by_miner =
                        miners.iter().enumerate().map(|(m, h)| (h.clone(), 100 + (m + v) as u64 % 40)).collect();
                    (candidate.zipcode, by_miner)
                })
                .collect();
            let file = EvidenceFile {
                epoch: judged,
                validator: format!("validator-{v}"),
                file: format!("results-{e}-{v}"),
                sha256: "00".repeat(32),
            };
            evidence.push(PublishedEvidence { file, zipcodes });
        }
    }
    let coldkey_of = |hotkey: &str| Some(format!("cold-{hotkey}"));
    let rule = CalibrationRule::standard(10, 3_000);
    c.bench_function("recalibrate epoch inputs (40,000 candidates, 96 results files)", |b| {
        b.iter(|| inputs.clone().calibrated(rule, &evidence, &HashMap::new(), &coldkey_of))
    });
    let calibrated = inputs.clone().calibrated(rule, &evidence, &HashMap::new(), &coldkey_of);
    let section = calibrated.calibration.clone().unwrap();
    assert!(section.moves.len() > 300, "{} moves", section.moves.len());
    c.bench_function("recheck a calibration (40,000 candidates, 96 results files)", |b| {
        b.iter(|| section.recheck(&calibrated.candidates, &evidence, 10, 3_000).unwrap())
    });
}

criterion_group!(benches, signature_verification, selection, calibration, epoch_creation);
criterion_main!(benches);

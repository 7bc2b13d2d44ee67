//! Benchmarks of the pure parts and of epoch creation (design.md section 5): signature verification (the bound
//! of every signed endpoint), selection over 40,000 candidates (target < 10 ms), and creating an epoch's
//! assignment end to end on SQLite (target < 50 ms). Run with `cargo bench --bench domain`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use zipcoord::domain::assignment::{plan_epoch, PlanInputs};
use zipcoord::domain::auth::verify_hotkey_signature;
use zipcoord::domain::endpoint::{self, SignedValues};
use zipcoord::domain::epoch::{EpochClock, EpochId};
use zipcoord::domain::keys::Keypair;
use zipcoord::domain::nonce::ServerSecret;
use zipcoord::domain::selection::{select_zipcodes, Candidate, SelectionPolicy};
use zipcoord::domain::selection_v2::{select_v2, InputCandidate};
use zipcoord::domain::zipcode::{MarketTier, ZipcodeRecord};
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
    let candidates: Vec<Candidate> = records
        .iter()
        .enumerate()
        .map(|(i, z)| Candidate {
            zipcode: z.zipcode,
            expected_listings: z.expected_listings,
            tier: z.tier,
            operator_weight: z.weight,
            active: z.active,
            last_assigned_unix: (i % 4 == 0).then_some(now - (i as i64 % 48) * 3600),
        })
        .collect();
    let mut seed = 0u64;
    c.bench_function("select_zipcodes (40,000 candidates)", |b| {
        b.iter(|| {
            seed += 1;
            let mut s = [0u8; 32];
            s[..8].copy_from_slice(&seed.to_le_bytes());
            select_zipcodes(&candidates, &policy(), now, s).unwrap()
        })
    });
    // Version 2 reads the published inputs: the same universe with integer weights, in zipcode order.
    let mut inputs_v2: Vec<InputCandidate> = candidates
        .iter()
        .map(|c| InputCandidate {
            zipcode: c.zipcode,
            expected_listings: c.expected_listings,
            tier: c.tier,
            weight_millis: (c.operator_weight * 1000.0).round() as u32,
            last_assigned_unix: c.last_assigned_unix,
        })
        .collect();
    inputs_v2.sort_by_key(|c| c.zipcode);
    c.bench_function("select_v2 (40,000 candidates, integers only)", |b| {
        b.iter(|| {
            seed += 1;
            let mut s = [0u8; 32];
            s[..8].copy_from_slice(&seed.to_le_bytes());
            select_v2(&inputs_v2, &policy(), now, s).unwrap()
        })
    });
    let clock = EpochClock::new(240).unwrap();
    let secret = ServerSecret::from_hex(&"ab".repeat(32)).unwrap();
    let last = HashMap::new();
    let inputs = PlanInputs { universe: &records, last_assigned: &last, policy: policy() };
    let epoch: EpochId = "2025-10-01T16-00-00".parse().unwrap();
    c.bench_function("plan_epoch (40,000 zipcodes)", |b| {
        b.iter(|| plan_epoch(epoch, clock, &secret, &inputs, 0).unwrap())
    });
}

fn epoch_creation(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let records = universe(40_000);
    let store = runtime.block_on(async {
        let store = Store::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        store.import_zipcodes(&records, "bench", ImportMode::Merge, 0).await.unwrap();
        store
    });
    let clock = EpochClock::new(240).unwrap();
    let secret = ServerSecret::from_hex(&"ab".repeat(32)).unwrap();
    let next_start = AtomicI64::new(1_759_334_400);
    // What the service does for a new epoch once the universe is cached: read the cooldown history, plan, insert.
    c.bench_function("create epoch on SQLite (40,000 zipcodes, cached universe)", |b| {
        b.to_async(&runtime).iter_batched(
            || EpochId::from_start_unix(next_start.fetch_add(clock.length_seconds(), Ordering::SeqCst)),
            |epoch| {
                let store = store.clone();
                let records = &records;
                let secret = &secret;
                async move {
                    let last =
                        store.last_assignments(epoch.start_unix() - 48 * 3600, epoch.start_unix()).await.unwrap();
                    let inputs = PlanInputs { universe: records, last_assigned: &last, policy: policy() };
                    let (assignment, _) = plan_epoch(epoch, clock, secret, &inputs, 0).unwrap();
                    assert!(store.insert_epoch(&assignment).await.unwrap().1);
                }
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, signature_verification, selection, epoch_creation);
criterion_main!(benches);

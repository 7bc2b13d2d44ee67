//! The `groups` assignment mode over HTTP: each group's batch to its miners through `/current` (in the contract's
//! shape, plus `minerGroups`), every group to validators through `/epoch/{id}`, coldkeys kept apart, miners
//! registered after the roster placed by the published rule, the groups recomputed from the published inputs in
//! Rust and in Python, and the groups read back after a restart.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;
use zipcoord::api::{AssignmentResponse, ZipcodeCompletion};
use zipcoord::client::epoch_check::verify_epoch;
use zipcoord::client::status_request;
use zipcoord::domain::access::endpoint::{self, SignedValues};
use zipcoord::domain::access::keys::Keypair;
use zipcoord::domain::epoch::batches::{late_joiner_groups, AssignmentMode};
use zipcoord::domain::epoch::groups::GroupPlan;
use zipcoord::domain::epoch::status::MinerStatus;
use zipcoord::settings::Settings;

use crate::helpers::{TestApp, TestKeys, TestOptions};

const HOUR_MS: i64 = 3_600_000;

/// The validator, then twelve miners: miners 0, 10 and 11 share a coldkey, the others have one each.
fn metagraph(keys: &TestKeys, miners: &[Keypair]) -> String {
    let mut neurons = vec![serde_json::json!({"uid": 0, "hotkey": keys.validator.hotkey().to_string(),
        "coldkey": "5validatorcold", "validator_permit": true, "stake": 50_000.0})];
    for (n, miner) in miners.iter().enumerate() {
        let coldkey = if n >= 10 { "5cold0".to_string() } else { format!("5cold{n}") };
        neurons.push(serde_json::json!({"uid": n + 1, "hotkey": miner.hotkey().to_string(), "coldkey": coldkey,
            "validator_permit": false, "stake": 10.0}));
    }
    serde_json::to_string(&neurons).unwrap()
}

fn zipcodes_of(answer: &AssignmentResponse) -> Vec<String> {
    answer.zipcodes.iter().map(|z| z.zipcode.clone()).collect()
}

#[tokio::test]
async fn each_group_works_its_own_batch_and_validators_see_every_group() {
    let dir = tempfile::tempdir().unwrap();
    let keys = TestKeys::generate();
    let mut miners: Vec<Keypair> = (0..12).map(|_| Keypair::from_seed(&rand::random::<[u8; 32]>())).collect();
    let path = dir.path().join("metagraph.json");
    std::fs::write(&path, metagraph(&keys, &miners)).unwrap();
    let mut app = TestApp::spawn_with(TestOptions {
        metagraph: Some(format!("file:{}", path.display())),
        keys: Some(keys),
        settings: Some(Box::new(|s: &mut Settings| {
            s.epochs.assignment = AssignmentMode::Groups(GroupPlan { size: 5, overlap: 1 });
            s.rate_limits = zipcoord::settings::RateLimitSettings::off();
        })),
        ..TestOptions::default()
    })
    .await;
    let epoch = app.current_epoch();
    let validator = &app.keys.validator;

    // Validators: three groups of four, coldkeys apart, batches disjoint and each within the window.
    let whole = app.client.epoch(validator, epoch, app.now()).await.unwrap();
    let groups = whole.groups.clone().expect("a groups epoch lists its groups");
    assert_eq!((groups.group_size, groups.overlap, groups.groups.len()), (5, 1, 3));
    assert!(groups.shared_coldkeys.is_empty() && groups.refilled_batches == 0);
    assert!(groups.late_joiners.contains("zipcoord-late-joiner-v1"));
    let coldkey_of: HashMap<String, usize> =
        miners.iter().enumerate().map(|(n, m)| (m.hotkey().to_string(), if n >= 10 { 0 } else { n })).collect();
    let mut members = BTreeSet::new();
    let mut union = Vec::new();
    for group in &groups.groups {
        assert_eq!(group.members.len(), 4, "{group:?}");
        let coldkeys: BTreeSet<usize> = group.members.iter().map(|m| coldkey_of[m]).collect();
        assert_eq!(coldkeys.len(), 4, "one miner per coldkey in group {}", group.id);
        members.extend(group.members.iter().cloned());
        assert!((9_000..=11_000).contains(&group.expected_listings), "group {}: {}", group.id, group.expected_listings);
        union.extend(group.zipcodes.iter().cloned());
    }
    assert_eq!(
        members,
        coldkey_of.keys().cloned().collect::<BTreeSet<_>>(),
        "the roster is the miners, not the validator"
    );
    assert_eq!(union.iter().collect::<BTreeSet<_>>().len(), union.len(), "batches are disjoint");
    assert_eq!(zipcodes_of(&whole), union, "/epoch's zipcodes are the batches' union");
    assert_eq!(whole.metadata.zipcode_count, union.len());
    assert_eq!(whole.target_listings, 10_000);

    // Miners: their group's batch, in the contract's shape plus `minerGroups`.
    for miner in &miners {
        let mine = app.client.current(miner, app.now()).await.unwrap();
        let named = mine.miner_groups.as_ref().expect("a groups epoch names the miner's groups");
        assert_eq!((named.membership.as_str(), named.group_count, named.note.is_none()), ("roster", 3, true));
        let group = &groups.groups[named.group_ids[0]];
        assert!(group.members.contains(&miner.hotkey().to_string()));
        assert_eq!(zipcodes_of(&mine), group.zipcodes);
        assert_eq!(mine.metadata.total_expected_listings, group.expected_listings);
        assert_eq!((mine.nonce.as_str(), mine.target_listings), (whole.nonce.as_str(), 10_000));
        assert!(mine.groups.is_none());
    }
    let ts = app.now();
    let signature = miners[0].sign(endpoint::CURRENT.commitment(&SignedValues::at(ts)).as_bytes()).to_hex();
    let hotkey = miners[0].hotkey().to_string();
    let (status, raw) =
        app.get_signed("/api/v1/zipcode-assignments/current", &hotkey, &signature, &ts.to_string()).await;
    assert_eq!(status, 200, "{raw}");
    let mut keys: Vec<&str> = raw.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "assignments",
            "epochEnd",
            "epochId",
            "epochStart",
            "metadata",
            "minerGroups",
            "nonce",
            "proof",
            "submissionDeadline",
            "success",
            "targetListings",
            "tolerancePercent",
            "zipcodes"
        ]
    );
    assert_eq!(raw["minerGroups"]["membership"], "roster");

    // The desirability job list is the miner's batch too; a validator's is every batch.
    let jobs_of = |body: &Value| -> Vec<String> {
        body.as_array().unwrap().iter().map(|j| j["params"]["label"].as_str().unwrap()[4..].to_string()).collect()
    };
    let signature = miners[0].sign(endpoint::DESIRABILITY.commitment(&SignedValues::at(ts)).as_bytes()).to_hex();
    let jobs_path =
        format!("/api/v1/zipcode-assignments/desirability?hotkey={hotkey}&signature={signature}&timestamp={ts}");
    let (status, body) = app.get(&jobs_path).await;
    assert_eq!(status, 200, "{body}");
    let own = app.client.current(&miners[0], app.now()).await.unwrap();
    assert_eq!(jobs_of(&body), zipcodes_of(&own));
    let epoch_id = epoch.to_string();
    let values = SignedValues::at(ts).epoch(&epoch_id);
    let signature = validator.sign(endpoint::EPOCH_DESIRABILITY.commitment(&values).as_bytes()).to_hex();
    let jobs_path = format!(
        "{}?hotkey={}&signature={signature}&timestamp={ts}",
        endpoint::EPOCH_DESIRABILITY.path_for(&values),
        validator.hotkey()
    );
    let (status, body) = app.get(&jobs_path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(jobs_of(&body), union);

    // Status reports name the miner's own batch; another group's zipcode is refused and nothing is stored.
    let mine = app.client.current(&miners[0], app.now()).await.unwrap();
    let own = mine.miner_groups.as_ref().unwrap().group_ids[0];
    let other = &groups.groups[(own + 1) % 3].zipcodes[0];
    let report = |zipcode: &str| {
        let mut request = status_request(&miners[0], epoch, &mine.nonce, MinerStatus::InProgress, app.now());
        request.zipcodes_completed =
            vec![ZipcodeCompletion { zipcode: zipcode.to_string(), listings_scraped: 10, completed_at: None }];
        request
    };
    let refused = app.client.report_status(&miners[0], &report(other)).await.unwrap_err().to_string();
    assert!(refused.contains(&format!("Zipcode {other} is not assigned to your groups")), "{refused}");
    app.client.report_status(&miners[0], &report(&mine.zipcodes[0].zipcode)).await.unwrap();

    let verified = verify_epoch(&app.client, epoch).await.unwrap();
    assert_eq!((verified.groups, verified.zipcodes), (3, union.len()));
    let saved = tempfile::tempdir().unwrap();
    let proof = app.client.epoch_proof(epoch).await.unwrap();
    assert_eq!(proof.groups.as_ref().map(Vec::len), Some(3));
    std::fs::write(saved.path().join(format!("{epoch}.proof.json")), serde_json::to_vec(&proof).unwrap()).unwrap();
    let inputs = app.client.epoch_inputs(epoch).await.unwrap();
    let document: Value = serde_json::from_slice(&inputs).unwrap();
    assert_eq!(document["groups"]["roster"].as_array().unwrap().len(), 12);
    std::fs::write(saved.path().join(format!("{epoch}.inputs.json")), &inputs).unwrap();

    // A miner registered now is outside this epoch's roster and the next one's (published at this epoch's
    // creation): it is placed by the published rule, and named in the roster from the epoch after.
    let late = Keypair::from_seed(&rand::random::<[u8; 32]>());
    miners.push(late.clone());
    std::fs::write(&path, metagraph(&app.keys, &miners)).unwrap();
    app.pass_time(0).await;
    let mine = app.client.current(&late, app.now()).await.unwrap();
    let named = mine.miner_groups.clone().unwrap();
    assert_eq!(named.membership, "lateJoiner");
    assert!(named.note.as_deref().unwrap().contains("registered after this epoch's roster was published"));
    let seed: [u8; 32] = hex::decode(&whole.metadata.selection_seed).unwrap().try_into().unwrap();
    let placed = late_joiner_groups(seed, &late.hotkey(), 3, 1);
    assert_eq!(named.group_ids, placed);
    assert_eq!(zipcodes_of(&mine), groups.groups[placed[0]].zipcodes);

    app.pass_time(4 * HOUR_MS).await;
    let next = app.client.current(&late, app.now()).await.unwrap();
    assert_eq!(next.miner_groups.unwrap().membership, "lateJoiner");
    let next_epoch = app.current_epoch();
    verify_epoch(&app.client, next_epoch).await.unwrap();
    let proof = app.client.epoch_proof(next_epoch).await.unwrap();
    std::fs::write(saved.path().join(format!("{next_epoch}.proof.json")), serde_json::to_vec(&proof).unwrap()).unwrap();
    let inputs = app.client.epoch_inputs(next_epoch).await.unwrap();
    std::fs::write(saved.path().join(format!("{next_epoch}.inputs.json")), &inputs).unwrap();
    app.pass_time(4 * HOUR_MS).await;
    let after = app.client.current(&late, app.now()).await.unwrap();
    assert_eq!(after.miner_groups.unwrap().membership, "roster");
    let third = app.client.epoch(&app.keys.validator, app.current_epoch(), app.now()).await.unwrap();
    assert_eq!(third.groups.unwrap().groups.len(), 3, "thirteen miners make three groups of at most five");

    // The Python verifier recomputes the groups too, and catches a member moved between groups.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/verify_epoch.py");
    let run = |args: &[&std::ffi::OsStr]| {
        let output = std::process::Command::new("python3").arg(script).args(args).output().expect("python3 runs");
        (output.status.success(), String::from_utf8_lossy(&output.stdout).to_string())
    };
    let (ok, stdout) = run(&["--skip-pulse-verification".as_ref(), "--dir".as_ref(), saved.path().as_os_str()]);
    assert!(ok, "{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("verified: epoch ") && l.contains(" in 3 groups")).count(), 2);
    let proof_path = saved.path().join(format!("{epoch}.proof.json"));
    let mut tampered: Value = serde_json::from_slice(&std::fs::read(&proof_path).unwrap()).unwrap();
    let moved = tampered["groups"][0]["members"].as_array_mut().unwrap().pop().unwrap();
    tampered["groups"][1]["members"].as_array_mut().unwrap().push(moved);
    std::fs::write(&proof_path, serde_json::to_vec(&tampered).unwrap()).unwrap();
    let inputs_path = saved.path().join(format!("{epoch}.inputs.json"));
    let (ok, stdout) = run(&[
        "--skip-pulse-verification".as_ref(),
        "--proof".as_ref(),
        proof_path.as_os_str(),
        "--inputs".as_ref(),
        inputs_path.as_os_str(),
    ]);
    assert!(!ok && stdout.contains("group 0 is the first that differs"), "{stdout}");

    // The groups are stored with the epoch: a restarted server serves the same.
    app.restart().await;
    let again = app.client.epoch(&app.keys.validator, epoch, app.now()).await.unwrap();
    assert_eq!(again.groups, whole.groups);
    assert_eq!(zipcodes_of(&again), zipcodes_of(&whole));
}

/// #34: when the universe cannot fill every batch apart, a batch is refilled over all candidates and repeats
/// earlier batches' zipcodes. Such an epoch could not be stored (one row per epoch and zipcode), so none was ever
/// created: the server retried every half second and `/current` answered 503 until the epoch left the catch-up
/// window. Now it is stored and served as the documented algorithm computes it, and it recomputes.
#[tokio::test]
async fn an_epoch_whose_batches_were_refilled_is_stored_served_and_recomputes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = TestKeys::generate();
    let miners: Vec<Keypair> = (0..12).map(|_| Keypair::from_seed(&rand::random::<[u8; 32]>())).collect();
    let path = dir.path().join("metagraph.json");
    std::fs::write(&path, metagraph(&keys, &miners)).unwrap();
    // 30 zipcodes of about 6,000 listings, and six batches of 1,500 each to fill apart: some must be refilled.
    let mut app = TestApp::spawn_with(TestOptions {
        universe: crate::helpers::Universe::Synthetic(30),
        metagraph: Some(format!("file:{}", path.display())),
        keys: Some(keys),
        settings: Some(Box::new(|s: &mut Settings| {
            s.epochs.assignment = AssignmentMode::Groups(GroupPlan { size: 2, overlap: 1 });
            s.epochs.policy.target_listings = 1_500;
            s.rate_limits = zipcoord::settings::RateLimitSettings::off();
        })),
        ..TestOptions::default()
    })
    .await;
    let epoch = app.current_epoch();
    let validator = app.keys.validator.clone();
    let whole = app.client.epoch(&validator, epoch, app.now()).await.expect("the refilled epoch is served");
    let groups = whole.groups.clone().unwrap();
    assert!(groups.refilled_batches > 0, "the reproduction refills: {groups:?}");
    let batched: Vec<&String> = groups.groups.iter().flat_map(|g| &g.zipcodes).collect();
    assert!(batched.iter().collect::<BTreeSet<_>>().len() < batched.len(), "a zipcode stands twice");
    for group in &groups.groups {
        assert!((1_350..=1_650).contains(&group.expected_listings), "group {}: {group:?}", group.id);
    }
    verify_epoch(&app.client, epoch).await.expect("recomputes from the published inputs and the pulse");
    // And in Python, from the document alone.
    let saved = tempfile::tempdir().unwrap();
    let proof = app.client.epoch_proof(epoch).await.unwrap();
    let (proof_path, inputs_path) = (saved.path().join("proof.json"), saved.path().join("inputs.json"));
    std::fs::write(&proof_path, serde_json::to_vec(&proof).unwrap()).unwrap();
    std::fs::write(&inputs_path, app.client.epoch_inputs(epoch).await.unwrap()).unwrap();
    let output = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/verify_epoch.py"))
        .arg("--skip-pulse-verification")
        .arg("--proof")
        .arg(&proof_path)
        .arg("--inputs")
        .arg(&inputs_path)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success() && stdout.contains("verified: epoch "), "{stdout}");
    let (status, stats) = app.get("/api/v1/zipcode-assignments/stats").await;
    assert_eq!((status, &stats["epochStatus"]["currentEpoch"]["id"]), (200, &Value::from(epoch.to_string())));
    let mine = app.client.current(&miners[0], app.now()).await.unwrap();
    assert!(!mine.zipcodes.is_empty() && mine.miner_groups.is_some());

    app.stop().await;
    app.start().await;
    let again = app.client.epoch(&validator, epoch, app.now()).await.unwrap();
    assert_eq!(again.groups, whole.groups, "read back from the store as served");
    assert_eq!((&again.nonce, zipcodes_of(&again)), (&whole.nonce, zipcodes_of(&whole)));
}

/// Every epoch the selection plans, in either mode and however tight the universe, is one the store accepts and
/// reads back as planned (the refilled batches above were the exception the unique key made).
mod every_planned_epoch_is_stored {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::OnceLock;

    use proptest::prelude::*;
    use zipcoord::domain::access::keys::Keypair;
    use zipcoord::domain::epoch::assignment::{plan_epoch, PublishedInputs};
    use zipcoord::domain::epoch::groups::{GroupPlan, GroupedInputs, RosterMiner};
    use zipcoord::domain::epoch::inputs::{inputs_hash_hex, EpochInputs, InputSources};
    use zipcoord::domain::epoch::nonce::ServerSecret;
    use zipcoord::domain::epoch::proof::SeedSource;
    use zipcoord::domain::epoch::selection::SelectionPolicy;
    use zipcoord::domain::epoch::{EpochClock, EpochId};
    use zipcoord::storage::Store;

    struct Harness {
        runtime: tokio::runtime::Runtime,
        store: Store,
        _dir: tempfile::TempDir,
    }

    fn harness() -> &'static Harness {
        static HARNESS: OnceLock<Harness> = OnceLock::new();
        HARNESS.get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("planned.db").display());
            let store = runtime.block_on(Store::connect(&url)).unwrap();
            runtime.block_on(store.migrate()).unwrap();
            Harness { runtime, store, _dir: dir }
        })
    }

    /// A fresh epoch per case: the store is shared.
    fn next_epoch() -> EpochId {
        static NEXT: AtomicI64 = AtomicI64::new(0);
        EpochId::from_start_unix(1_759_334_400 + NEXT.fetch_add(1, Ordering::Relaxed) * 14_400)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn the_store_accepts_what_the_selection_plans(
            listings in prop::collection::vec(1u32..500, 1..60),
            target in 100u32..5_000,
            tolerance in 0u32..30,
            groups in prop::option::of((1usize..6, 1usize..4, 1usize..40)),
            seed in any::<[u8; 32]>(),
        ) {
            let universe: Vec<_> = crate::helpers::synthetic_universe(listings.len())
                .into_iter()
                .zip(&listings)
                .map(|(record, &expected)| zipcoord::domain::epoch::zipcode::ZipcodeRecord {
                    expected_listings: expected,
                    ..record
                })
                .collect();
            let roster = groups.map(|(size, overlap, miners)| {
                let miners: Vec<RosterMiner> = (0..miners)
                    .map(|n| RosterMiner { hotkey: Keypair::from_seed(&[n as u8 + 1; 32]).hotkey(), coldkey: format!("cold{}", n % 7) })
                    .collect();
                GroupedInputs::new(GroupPlan { size, overlap }, &miners)
            });
            let epoch = next_epoch();
            let policy = SelectionPolicy {
                target_listings: target,
                tolerance_percent: tolerance,
                min_listings: 1,
                max_listings: 1_000,
                cooldown_seconds: 0,
                max_count: None,
            };
            let no_history = HashMap::new();
            let inputs = EpochInputs::compose(epoch, &InputSources {
                universe: &universe,
                last_assigned: &no_history,
                policy,
                netuid: 46,
                beacon_chain_hash: [7; 32],
                beacon_round: 1,
                groups: roster,
            });
            let hash = inputs_hash_hex(&inputs.canonical_json());
            let published = PublishedInputs { inputs: &inputs, hash: &hash, published_at_ms: 0 };
            let secret = ServerSecret::from_bytes(seed.to_vec()).unwrap();
            let source = SeedSource::Fallback { reason: "property test".to_string() };
            let places = universe.iter().map(|z| (z.zipcode, z)).collect();
            let clock = EpochClock::new(240).unwrap();
            let Ok((planned, _)) = plan_epoch(clock, &published, "test", source, &secret, &places, 0) else {
                return Ok(()); // nothing to store when nothing can be selected
            };
            let h = harness();
            let (stored, created) = h.runtime.block_on(h.store.insert_epoch(&planned)).expect("the store accepts it");
            prop_assert!(created);
            prop_assert_eq!(&stored, &planned);
            let read = h.runtime.block_on(h.store.load_epoch(epoch)).unwrap().unwrap();
            prop_assert_eq!(read, planned);
        }
    }
}

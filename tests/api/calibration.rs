//! Recalibration against a server that calibrates, over a real S3-compatible store: two permitted validators
//! publish what three miners of three coldkeys delivered on an epoch's zipcodes; three epochs later the inputs
//! carry the moved values and a calibration section that `verify_calibration` recomputes from the results
//! endpoint; an import wins over the evidence from before it; a results file changed after the fact no longer
//! rechecks.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use zipcoord::api::{ChainWeights, EpochJudgement, ZipcodeListings};
use zipcoord::client::epoch_check::{verify_calibration, CheckError};
use zipcoord::domain::access::keys::Keypair;
use zipcoord::domain::epoch::calibration::section::CalibrationDiffers;
use zipcoord::domain::epoch::inputs::EpochInputs;
use zipcoord::domain::epoch::zipcode::{Zipcode, ZipcodeRecord};
use zipcoord::domain::epoch::{EpochClock, EpochId};
use zipcoord::localnet::LocalStore;
use zipcoord::settings::Settings;
use zipcoord::storage::{ImportMode, Store};

use crate::browser;
use crate::dashboard::mapped_universe;
use crate::helpers::{TestApp, TestKeys, TestOptions, Universe};

const EPOCH_SECONDS: u32 = 60;

/// Two permitted validators (`validator`, `poor_validator`, both staked here) and three miners of three coldkeys.
fn metagraph(keys: &TestKeys) -> String {
    let neuron = |uid: u16, key: &Keypair, permit: bool, cold: &str| serde_json::json!({"uid": uid, "hotkey": key.hotkey().to_string(), "coldkey": cold, "validator_permit": permit, "stake": if permit { 50_000.0 } else { 10.0 }});
    serde_json::to_string(&vec![
        neuron(0, &keys.validator, true, "5cold-v1"),
        neuron(1, &keys.poor_validator, true, "5cold-v2"),
        neuron(2, &keys.miner, false, "5cold-m1"),
        neuron(3, &keys.other_miner, false, "5cold-m2"),
        neuron(4, &keys.charlie, false, "5cold-m3"),
    ])
    .unwrap()
}

fn miners(keys: &TestKeys) -> [&Keypair; 3] {
    [&keys.miner, &keys.other_miner, &keys.charlie]
}

/// `validator`'s results file: every miner delivered `counts[zipcode]` listings (less one per miner after the
/// first, as honest miners differ a little).
fn results_file(keys: &TestKeys, validator: &Keypair, epoch: EpochId, counts: &[(Zipcode, u64)]) -> Vec<u8> {
    let zipcode_listings = counts
        .iter()
        .map(|(zipcode, n)| {
            let by_miner: BTreeMap<String, u64> =
                miners(keys).iter().enumerate().map(|(i, m)| (m.hotkey().to_string(), n - i as u64)).collect();
            (zipcode.to_string(), ZipcodeListings { total: *n, by_miner })
        })
        .collect();
    let judgement = EpochJudgement {
        epoch_id: epoch.to_string(),
        validator: validator.hotkey().to_string(),
        judged_at: "2026-12-07T00:01:00.000Z".to_string(),
        spot_checks_per_miner: 10,
        weights: BTreeMap::new(),
        chain_weights: ChainWeights { uids: vec![], weights: vec![] },
        miners: vec![],
        zipcode_listings,
    };
    serde_json::to_vec(&judgement).unwrap()
}

/// Writes a results file into the validator's folder of the store, as its upload would; returns its key and
/// SHA-256.
fn publish(store: &LocalStore, validator: &Keypair, epoch: EpochId, bytes: &[u8]) -> (String, String) {
    let key = format!("validators/{}/{epoch}/results_20261207_000100.json", validator.hotkey());
    let path = store.object_path(&key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    (key, hex::encode(Sha256::digest(bytes)))
}

async fn inputs(app: &TestApp, epoch: EpochId) -> EpochInputs {
    EpochInputs::from_canonical_json(&app.client.epoch_inputs(epoch).await.unwrap()).unwrap()
}

fn value(inputs: &EpochInputs, zipcode: Zipcode) -> u32 {
    inputs.candidates.iter().find(|c| c.zipcode == zipcode).unwrap().expected_listings
}

/// A calibrating server (60 s epochs, on the real time S3 checks) over a real S3-compatible store, with the
/// metagraph of [`metagraph`].
async fn calibrating_app(universe: Universe) -> (tempfile::TempDir, LocalStore, TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::start(&dir.path().join("s3"), "calibration", "key-id", "store-secret-5e6f").await.unwrap();
    let keys = TestKeys::generate();
    let metagraph_path = dir.path().join("metagraph.json");
    std::fs::write(&metagraph_path, metagraph(&keys)).unwrap();
    let s3 = store.s3_settings();
    let app = TestApp::spawn_with(TestOptions {
        universe,
        real_time: true,
        keys: Some(keys),
        metagraph: Some(format!("file:{}", metagraph_path.display())),
        settings: Some(Box::new(move |settings: &mut Settings| {
            settings.s3 = Ok(s3);
            settings.epochs.clock = EpochClock::from_seconds(EPOCH_SECONDS).unwrap();
        })),
        ..TestOptions::default()
    })
    .await;
    (dir, store, app)
}

/// The next epoch comes: the clock moves on and the epoch task runs (creating it, publishing the next inputs).
async fn next_epoch(app: &TestApp) {
    app.pass_time(i64::from(EPOCH_SECONDS) * 1000).await;
    zipcoord::tasks::epoch_tick(app.app()).await;
}

#[tokio::test]
async fn a_calibrating_server_moves_expected_listings_on_quorate_evidence_and_verifiers_recompute_it() {
    let (_dir, store, app) = calibrating_app(Universe::Synthetic(600)).await;
    let keys = &app.keys;
    let clock = app.epoch_clock();
    let judged = app.current_epoch();
    let assignment = app.client.epoch(&keys.validator, judged, app.now()).await.unwrap();
    let big: Zipcode = assignment.zipcodes[0].zipcode.parse().unwrap();
    let small: Zipcode = assignment.zipcodes[1].zipcode.parse().unwrap();
    let (big_prior, small_prior) = (assignment.zipcodes[0].expected_listings, assignment.zipcodes[1].expected_listings);

    // Both validators saw the first zipcode four times larger than expected and the second nearly empty; a third
    // zipcode only one validator reports on.
    let lonely: Zipcode = assignment.zipcodes[2].zipcode.parse().unwrap();
    let counts = [(big, u64::from(big_prior) * 4), (small, 12)];
    let mut named = Vec::new();
    for (validator, extra) in [(&keys.validator, Some((lonely, 2_000))), (&keys.poor_validator, None)] {
        let mut counts = counts.to_vec();
        counts.extend(extra);
        named.push(publish(&store, validator, judged, &results_file(keys, validator, judged, &counts)));
    }

    // The epoch after next publishes its successor's inputs once the judged epoch's window has closed.
    next_epoch(&app).await;
    let early = clock.next(clock.next(judged));
    assert!(inputs(&app, early).await.calibration.is_none(), "no judged epoch yet when {early} was published");
    next_epoch(&app).await;
    let calibrated_epoch = clock.next(early);
    let calibrated = inputs(&app, calibrated_epoch).await;
    let section = calibrated.calibration.as_ref().expect("the inputs were recalibrated");
    let files: Vec<(String, String)> = section.evidence.iter().map(|f| (f.file.clone(), f.sha256.clone())).collect();
    named.sort();
    assert_eq!(files, named, "the two results files, with their hashes");
    assert!(section.evidence.iter().all(|f| f.epoch == judged));
    assert_eq!(section.coldkeys.len(), 3, "{:?}", section.coldkeys);
    let step_up = big_prior * 5 / 4;
    let step_down = (small_prior * 3).div_ceil(4).max(10);
    assert_eq!(value(&calibrated, big), step_up, "one step of 25 % towards four times the prior");
    assert_eq!(value(&calibrated, small), step_down, "one step down towards 12");
    assert_eq!(value(&calibrated, lonely), assignment.zipcodes[2].expected_listings, "one validator moves nothing");
    assert_eq!(section.moves.len(), 2, "{:?}", section.moves);

    // The universe keeps the calibrated values, and says where they came from.
    let db = Store::connect(&app.db_url).await.unwrap();
    let sources = db.zipcode_sources().await.unwrap();
    assert_eq!(sources[&big].0, "calibration");
    assert_eq!(sources[&lonely].0, "test", "the test's import");

    // An import of the large zipcode wins over the evidence from before it.
    let record: ZipcodeRecord = db.load_zipcodes().await.unwrap().into_iter().find(|z| z.zipcode == big).unwrap();
    db.import_zipcodes(
        &[ZipcodeRecord { expected_listings: 77, ..record }],
        "import:fix.csv",
        ImportMode::Merge,
        app.now() * 1000,
    )
    .await
    .unwrap();
    next_epoch(&app).await;
    let verified = verify_calibration(&app.client, &keys.miner, calibrated_epoch, app.now()).await.unwrap().unwrap();
    assert_eq!((verified.moves, verified.files, verified.epochs), (2, 2, 1));
    assert!(verified.unnamed.is_empty(), "{:?}", verified.unnamed);
    // The standard-library Python verifier recomputes the same from the saved answers.
    let saved = tempfile::tempdir().unwrap();
    let proof = app.client.epoch_proof(calibrated_epoch).await.unwrap();
    std::fs::write(saved.path().join(format!("{calibrated_epoch}.proof.json")), serde_json::to_vec(&proof).unwrap())
        .unwrap();
    let document = app.client.epoch_inputs(calibrated_epoch).await.unwrap();
    std::fs::write(saved.path().join(format!("{calibrated_epoch}.inputs.json")), document).unwrap();
    let results = app.client.epoch_results(&keys.miner, judged, app.now()).await.unwrap();
    let results_path = saved.path().join(format!("{judged}.results.json"));
    std::fs::write(&results_path, serde_json::to_vec(&results).unwrap()).unwrap();
    let python = |dir: &std::path::Path| {
        let output = std::process::Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/verify_epoch.py"))
            .args(["--skip-pulse-verification", "--dir"])
            .arg(dir)
            .arg("--results")
            .arg(dir)
            .output()
            .expect("python3 runs");
        (output.status.success(), String::from_utf8_lossy(&output.stdout).to_string())
    };
    let (ok, stdout) = python(saved.path());
    assert!(ok, "{stdout}");
    assert!(
        stdout.contains(
            "calibration verified: 2 expected listings moved, recomputed from 2 results files of 1 judged epochs"
        ),
        "{stdout}"
    );
    // A count changed in a saved answer, and the moves no longer follow.
    let mut tampered = results.clone();
    let listings = tampered.validators[0].zipcode_listings.get_mut(&big.to_string()).unwrap();
    listings.by_miner.values_mut().for_each(|n| *n /= 4);
    std::fs::write(&results_path, serde_json::to_vec(&tampered).unwrap()).unwrap();
    let (ok, stdout) = python(saved.path());
    assert!(!ok && stdout.contains("calibration: the evidence moves"), "{stdout}");
    let after_import = inputs(&app, clock.next(calibrated_epoch)).await;
    let section = after_import.calibration.as_ref().unwrap();
    assert_eq!(value(&after_import, big), 77, "the import's value stands");
    assert!(section.holds.contains_key(&big), "{:?}", section.holds);
    assert_eq!(value(&after_import, small), (step_down * 3).div_ceil(4).max(10), "the same evidence, one more step");
    assert_eq!(db.zipcode_sources().await.unwrap()[&big].0, "import:fix.csv");

    // A results file changed after the calibration read it no longer rechecks (once the endpoint's cache has
    // let the change through).
    let (key, _) = &named[0];
    let validator =
        if key.contains(&keys.validator.hotkey().to_string()) { &keys.validator } else { &keys.poor_validator };
    publish(&store, validator, judged, &results_file(keys, validator, judged, &[(big, 5_000), (small, 5_000)]));
    app.pass_time(6 * 60 * 1000).await;
    let changed = verify_calibration(&app.client, &keys.miner, calibrated_epoch, app.now()).await.unwrap_err();
    assert!(matches!(changed, CheckError::Calibration(CalibrationDiffers::Evidence { .. })), "{changed}");
    assert!(changed.to_string().contains(&validator.hotkey().to_string()), "{changed}");
    db.close().await;
}

/// The dashboard's map colours the zipcodes its epoch's calibration moved, raised or lowered, and says how many;
/// the epoch map's JSON carries each move as the inputs publish it.
#[tokio::test]
async fn the_map_colours_the_zipcodes_the_epochs_calibration_moved() {
    // Spread over the country, so the screenshot shows the colours apart.
    let mapped = mapped_universe();
    let universe: Vec<ZipcodeRecord> = mapped.iter().step_by(mapped.len() / 240).take(240).cloned().collect();
    let (_dir, store, app) = calibrating_app(Universe::Records(universe.clone())).await;
    let keys = &app.keys;
    let judged = app.current_epoch();
    app.client.epoch(&keys.validator, judged, app.now()).await.unwrap();
    // Both validators counted every zipcode: the first half four times its prior, the second half nearly empty.
    let counts: Vec<(Zipcode, u64)> = universe
        .iter()
        .enumerate()
        .map(|(n, z)| (z.zipcode, if n < universe.len() / 2 { u64::from(z.expected_listings) * 4 } else { 12 }))
        .collect();
    for validator in [&keys.validator, &keys.poor_validator] {
        publish(&store, validator, judged, &results_file(keys, validator, judged, &counts));
    }
    for _ in 0..3 {
        next_epoch(&app).await;
    }
    let epoch = app.current_epoch();
    let section = inputs(&app, epoch).await.calibration.expect("the current epoch's inputs were recalibrated");
    let (status, map) = app.get(&format!("/api/v1/dashboard/epoch/{epoch}/map")).await;
    assert_eq!(status, 200, "{map}");
    let (mut raised, mut lowered) = (0, 0);
    for zipcode in map["zipcodes"].as_array().unwrap() {
        let code: Zipcode = zipcode["zipcode"].as_str().unwrap().parse().unwrap();
        let moved = section.moves.iter().find(|m| m.zipcode == code).expect("every zipcode was moved");
        assert_eq!(zipcode["calibration"]["from"], moved.from, "{zipcode}");
        assert_eq!(zipcode["calibration"]["evidenceEpoch"], judged.to_string(), "{zipcode}");
        assert_eq!(zipcode["expectedListings"], moved.to, "{zipcode}");
        if moved.to > moved.from {
            raised += 1;
        } else {
            lowered += 1;
        }
    }
    assert!(raised + lowered > 0);

    let url = format!("{}/dashboard", app.base_url);
    let page = browser::load(&url).await;
    let dom = &page.dom;
    assert!(dom.contains(&format!(r#"id="epoch-id">{epoch}<"#)), "the map shows the current epoch");
    assert_eq!(dom.matches(r#"class="zip-marker raised""#).count(), raised, "raised markers");
    assert_eq!(dom.matches(r#"class="zip-marker lowered""#).count(), lowered, "lowered markers");
    assert_eq!(dom.matches(r#"class="zip-marker""#).count(), 0, "every marker was moved");
    assert!(
        dom.contains(&format!("the epoch's calibration raised {raised} and lowered {lowered} of them")),
        "the note counts the moves"
    );
    assert!(page.console.is_empty(), "no console message: {:#?}", page.console);
    let path = browser::output_dir().join("dashboard-calibration.png");
    browser::screenshot(&url, 1280, 1400, &path).await;
}

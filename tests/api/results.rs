//! `GET …/epoch/{epochId}/results`: validators' verdicts read back from a real S3-compatible store, checked, and
//! served to miners only once the epoch's judging window has passed.

use std::collections::BTreeMap;

use zipcoord::api::{ChainWeights, EpochJudgement, MinerResult, ZipcodeListings};
use zipcoord::client::bucket::Bucket;
use zipcoord::client::ClientError;
use zipcoord::domain::access::endpoint::{self, SignedValues};
use zipcoord::domain::access::keys::Keypair;
use zipcoord::domain::epoch::{EpochClock, EpochId};
use zipcoord::domain::judging::scoring::VerdictKind;
use zipcoord::localnet::LocalStore;
use zipcoord::settings::Settings;

use crate::helpers::{assert_error, TestApp, TestOptions};

/// Epochs of a minute, so the judging window passes within the presigned URLs' tolerance of the store's clock.
const EPOCH_SECONDS: u32 = 60;

async fn spawn(store: &LocalStore) -> TestApp {
    let s3 = store.s3_settings();
    TestApp::spawn_with(TestOptions {
        real_time: true,
        settings: Some(Box::new(move |settings: &mut Settings| {
            settings.s3 = Ok(s3);
            settings.epochs.clock = EpochClock::from_seconds(EPOCH_SECONDS).unwrap();
        })),
        ..TestOptions::default()
    })
    .await
}

fn judgement(
    validator: &Keypair,
    epoch: EpochId,
    miner: &Keypair,
    verdict: VerdictKind,
    weight: f64,
) -> EpochJudgement {
    EpochJudgement {
        epoch_id: epoch.to_string(),
        validator: validator.hotkey().to_string(),
        judged_at: "2026-12-03T00:01:00.000Z".to_string(),
        spot_checks_per_miner: 10,
        weights: BTreeMap::from([("2".to_string(), weight)]),
        chain_weights: ChainWeights { uids: vec![2], weights: vec![(weight * 65535.0) as u16] },
        miners: vec![MinerResult {
            uid: 2,
            hotkey: miner.hotkey().to_string(),
            verdict,
            quality: weight,
            heuristic: 1.0,
            listings: 120,
            files: 3,
            weight,
            reasons: vec!["invented listings: 4 of 10 spot checks not found".to_string()],
            notes: vec![],
            consensus: None,
        }],
        zipcode_listings: BTreeMap::from([(
            "02134".to_string(),
            ZipcodeListings { total: 130, by_miner: BTreeMap::from([(miner.hotkey().to_string(), 120)]) },
        )]),
    }
}

/// Uploads `content` as `name` into `validator`'s folder for `epoch` through the grant the server hands out.
async fn publish(app: &TestApp, validator: &Keypair, epoch: EpochId, name: &str, content: Vec<u8>) {
    let grant = app.client.validator_upload(validator, epoch, 0.1, app.now()).await.unwrap();
    Bucket::new().post_object(&grant.url, &grant.fields, name, content).await.unwrap();
}

fn results_query(key: &Keypair, epoch: &str, timestamp: i64) -> String {
    let values = SignedValues::at(timestamp).epoch(epoch);
    let commitment = endpoint::RESULTS.commitment(&SignedValues { hotkey: "", ..values });
    format!(
        "/api/v1/zipcode-assignments/epoch/{epoch}/results?hotkey={}&signature={}&timestamp={timestamp}",
        key.hotkey(),
        key.sign(commitment.as_bytes()).to_hex()
    )
}

#[tokio::test]
async fn miners_read_every_validators_checked_verdicts_once_the_judging_window_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::start(&dir.path().join("s3"), "results", "key-id", "store-secret-9a8b7c").await.unwrap();
    let app = spawn(&store).await;
    let (validator, miner) = (&app.keys.validator, &app.keys.miner);
    let epoch = app.current_epoch();
    app.client.epoch(validator, epoch, app.now()).await.unwrap();

    // The validator's real verdict, then a newer file of its that does not parse (it is skipped and the older
    // one used); a file in the other permitted validator's folder that claims to be the first one's.
    let verdict = judgement(validator, epoch, miner, VerdictKind::Liar, 0.0);
    publish(&app, validator, epoch, "results_20261203_000100.json", serde_json::to_vec(&verdict).unwrap()).await;
    publish(&app, validator, epoch, "results_20261203_000200.json", b"{\"truncated\": ".to_vec()).await;
    let forged_key = format!("validators/{}/{epoch}/results_20261203_000300.json", app.keys.poor_validator.hotkey());
    let forged = judgement(validator, epoch, miner, VerdictKind::Honest, 1.0);
    std::fs::create_dir_all(store.object_path(&forged_key).parent().unwrap()).unwrap();
    std::fs::write(store.object_path(&forged_key), serde_json::to_vec(&forged).unwrap()).unwrap();

    // Before the window has passed (this epoch, then the next), nobody reads them.
    let early = app.client.epoch_results(miner, epoch, app.now()).await.unwrap_err();
    assert!(matches!(&early, ClientError::Api { status: 409, .. }), "{early}");
    assert!(early.to_string().contains("judging window"), "{early}");
    let (status, body) = app.get(&results_query(miner, &epoch.to_string(), app.now())).await;
    assert_error(status, &body, 409, "served once its judging window has passed");
    app.pass_time(i64::from(EPOCH_SECONDS) * 1000).await;
    let (status, _) = app.get(&results_query(miner, &epoch.to_string(), app.now())).await;
    assert_eq!(status, 409, "the epoch after it is the judging window");

    app.pass_time(i64::from(EPOCH_SECONDS) * 1000).await;
    let results = app.client.epoch_results(miner, epoch, app.now()).await.unwrap();
    assert_eq!(results.epoch_id, epoch.to_string());
    assert_eq!(results.validators.len(), 1, "{results:?}");
    let published = &results.validators[0];
    assert_eq!((published.uid, published.hotkey.as_str()), (0, validator.hotkey().as_str()));
    assert!(published.file.ends_with("results_20261203_000100.json"), "{}", published.file);
    let on_miner = &published.miners[0];
    assert_eq!((on_miner.verdict.as_str(), on_miner.weight), ("liar", 0.0));
    assert_eq!(on_miner.reasons, verdict.miners[0].reasons, "the reasons the validator printed");
    assert_eq!(published.zipcode_listings, verdict.zipcode_listings, "the evidence for recalibration is served");
    assert_eq!(published.zipcode_listings["02134"].total, 130);
    assert_eq!(results.skipped_count, 2, "{:?}", results.skipped);
    let reasons: BTreeMap<&str, &str> =
        results.skipped.iter().map(|s| (s.file.rsplit('/').next().unwrap(), s.reason.as_str())).collect();
    assert!(reasons["results_20261203_000200.json"].starts_with("not a results file"), "{reasons:?}");
    assert!(reasons["results_20261203_000300.json"].contains("claims validator"), "{reasons:?}");

    // Validators read them too. The answer is kept a few minutes: a later file shows up after that.
    let later = judgement(validator, epoch, miner, VerdictKind::Honest, 1.0);
    publish(&app, validator, epoch, "results_20261203_000400.json", serde_json::to_vec(&later).unwrap()).await;
    let again = app.client.epoch_results(validator, epoch, app.now()).await.unwrap();
    assert_eq!((again.validators, again.read_at), (results.validators, results.read_at), "served from the cache");
}

#[tokio::test]
async fn the_results_endpoint_refuses_what_it_cannot_serve() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::start(&dir.path().join("s3"), "results", "key-id", "store-secret-9a8b7c").await.unwrap();
    let app = spawn(&store).await;
    let (miner, outsider) = (&app.keys.miner, &app.keys.outsider);
    let now = app.now();
    let epoch = app.current_epoch();
    let past = EpochId::from_start_unix(epoch.start_unix() - 3 * i64::from(EPOCH_SECONDS)).to_string();
    let future = EpochId::from_start_unix(epoch.start_unix() + i64::from(EPOCH_SECONDS)).to_string();
    let path = |epoch: &str| format!("/api/v1/zipcode-assignments/epoch/{epoch}/results");

    let (status, body) = app.get(&results_query(outsider, &past, now)).await;
    assert_error(status, &body, 401, "not registered");
    let (status, body) = app.get(&results_query(miner, &future, now)).await;
    assert_error(status, &body, 404, "not found");
    let (status, body) = app.get(&results_query(miner, &past, now)).await;
    assert_error(status, &body, 404, "not found");
    let (status, body) = app.get(&results_query(miner, "2026-13-01T00-00-00", now)).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = app.get(&results_query(miner, &past, now - 3_600)).await;
    assert_error(status, &body, 400, "Invalid timestamp");
    // A signature over `/epoch/{id}`'s commitment does not open the results.
    let values = SignedValues::at(now).epoch(&past);
    let other = miner.sign(endpoint::EPOCH.commitment(&values).as_bytes()).to_hex();
    let (status, body) = app.get_signed(&path(&past), &miner.hotkey().to_string(), &other, &now.to_string()).await;
    assert_error(status, &body, 401, "Invalid signature");
    let (status, body) = app.get(&path(&past)).await;
    assert_eq!(status, 400, "unsigned: {body}");

    // Without a store, the endpoint says what is missing.
    let bare = TestApp::spawn().await;
    let epoch = bare.current_epoch().to_string();
    let (status, body) = bare.get(&results_query(&bare.keys.miner, &epoch, bare.now())).await;
    assert_error(status, &body, 503, "S3 storage is not configured");
}

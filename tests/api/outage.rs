//! The coordinator goes down: clients compute the epochs it misses from the inputs they kept and the beacon, and
//! the server, back, creates exactly those epochs (same zipcodes, same nonce, same inputs hash).

use std::sync::Arc;

use zipcoord::api::AssignmentResponse;
use zipcoord::app::Clock;
use zipcoord::beacon::{BeaconSettings, BeaconSpec};
use zipcoord::client::epochs::{ClientClock, Epochs, EpochsError, Source};
use zipcoord::client::state::StateDir;
use zipcoord::client::ZipcoordClient;
use zipcoord::domain::epoch::EpochId;

use crate::helpers::TestApp;

const EPOCH_MS: i64 = 4 * 3600 * 1000;

fn epochs_client(app: &TestApp, state: &std::path::Path, relays: Vec<ZipcoordClient>) -> Epochs {
    let time = app.time.clone();
    let clock: ClientClock = Arc::new(move || time.now_ms());
    let beacon = Arc::from(zipcoord::beacon::open(&BeaconSettings::new(BeaconSpec::Dev)));
    let state = StateDir::open(state, app.keys.miner.hotkey().to_string()).unwrap();
    Epochs::new(app.client.clone(), relays, beacon, state).with_clock(clock)
}

fn picks(assignment: &AssignmentResponse) -> Vec<String> {
    assignment.zipcodes.iter().map(|z| z.zipcode.clone()).collect()
}

#[tokio::test]
async fn the_server_back_from_an_outage_serves_what_the_clients_computed() {
    let mut app = TestApp::spawn().await;
    let state = tempfile::tempdir().unwrap();
    let miner = app.keys.miner.clone();
    let first = epochs_client(&app, state.path(), Vec::new());
    let before: EpochId = first.current_epoch_id().await.expect("the API answers");
    let fetched = first.current(&miner).await.unwrap();
    assert_eq!(fetched.source, Source::Api);
    assert_eq!(fetched.assignment.epoch_id, before.to_string());

    app.stop().await;
    let mut computed = Vec::new();
    for n in 1..=2 {
        app.time.advance_ms(EPOCH_MS);
        let epochs = epochs_client(&app, state.path(), Vec::new());
        let epoch = epochs.current_epoch_id().await.expect("the remembered clock names the epoch");
        assert_eq!(epoch.start_unix(), before.start_unix() + n * EPOCH_MS / 1000);
        let sourced = epochs.current(&miner).await.expect("computed without the API");
        match &sourced.source {
            Source::Computed { rolled_forward, .. } => assert_eq!(*rolled_forward, n == 2, "epoch {epoch}"),
            other => panic!("epoch {epoch} came from {other}"),
        }
        assert_eq!(sourced.assignment.epoch_id, epoch.to_string());
        assert!(!sourced.assignment.zipcodes.is_empty());
        assert_eq!(epochs.current(&miner).await.unwrap(), sourced, "kept, not computed twice");
        computed.push(sourced.assignment);
    }
    assert_ne!(picks(&computed[0]), picks(&computed[1]));

    app.start().await;
    for assignment in &computed {
        let epoch: EpochId = assignment.epoch_id.parse().unwrap();
        let served = app.client.epoch(&app.keys.validator, epoch, app.now()).await.expect("the missed epoch exists");
        assert_eq!(picks(&served), picks(assignment), "epoch {epoch}");
        assert_eq!(served.nonce, assignment.nonce, "epoch {epoch}");
        let (served_proof, computed_proof) = (served.proof.unwrap(), assignment.proof.clone().unwrap());
        assert_eq!(served_proof.kind, "beacon");
        assert_eq!(served_proof.inputs_hash, computed_proof.inputs_hash, "epoch {epoch}: the same inputs");
        assert_eq!(served_proof.signature, computed_proof.signature);
    }
    let current = app.client.current(&miner, app.now()).await.unwrap();
    assert_eq!((picks(&current), &current.nonce), (picks(&computed[1]), &computed[1].nonce));
}

#[tokio::test]
async fn a_client_that_never_reached_the_api_says_why_it_has_no_assignment() {
    let mut app = TestApp::spawn().await;
    let state = tempfile::tempdir().unwrap();
    app.stop().await;
    let epochs = epochs_client(&app, state.path(), Vec::new());
    match epochs.current(&app.keys.miner).await {
        Err(EpochsError::Unavailable { reasons, .. }) => {
            let text = reasons.join("; ");
            assert!(text.contains("API: request failed"), "{text}");
            assert!(text.contains("never reached the API"), "{text}");
        }
        other => panic!("expected no assignment, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unregistered_client_is_refused_not_sent_to_fallbacks() {
    let app = TestApp::spawn().await;
    let state = tempfile::tempdir().unwrap();
    let epochs = epochs_client(&app, state.path(), Vec::new());
    epochs.current_epoch_id().await.unwrap();
    match epochs.current(&app.keys.outsider).await {
        Err(EpochsError::Refused(error)) => assert!(error.to_string().contains("not registered"), "{error}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A client whose beacon cannot be reached (its only drand relay is a closed port).
fn cut_off_client(app: &TestApp, state: &std::path::Path, dead: &str, relays: Vec<ZipcoordClient>) -> Epochs {
    let time = app.time.clone();
    let clock: ClientClock = Arc::new(move || time.now_ms());
    let chain = zipcoord::domain::beacon::DevBeacon::new().chain().clone();
    let spec = BeaconSpec::Drand { chain, relays: vec![dead.to_string()] };
    let beacon = Arc::from(zipcoord::beacon::open(&BeaconSettings::new(spec)));
    let state = StateDir::open(state, app.keys.miner.hotkey().to_string()).unwrap();
    Epochs::new(app.client.clone(), relays, beacon, state).with_clock(clock)
}

/// Serves `epochs` as a validator's relay; returns its base URL.
async fn start_relay(epochs: Arc<Epochs>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(zipcoord::client::relay::serve(listener, epochs, std::future::pending()));
    url
}

/// A relay that answers `forged` for every epoch.
async fn start_forging_relay(forged: AssignmentResponse) -> String {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new()
        .route("/api/v1/zipcode-assignments/epoch/{id}", get(move || async move { axum::Json(forged) }));
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

#[tokio::test]
async fn a_miner_cut_off_from_api_and_beacon_takes_a_relay_s_assignment_only_if_it_recomputes() {
    let mut app = TestApp::spawn().await;
    let (validator_state, miner_state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let dead = dead_url().await;
    let validator = Arc::new(epochs_client(&app, validator_state.path(), Vec::new()));
    let miner = cut_off_client(&app, miner_state.path(), &dead, Vec::new());
    for epochs in [&*validator, &miner] {
        epochs.current_epoch_id().await.unwrap();
        assert_eq!(epochs.current(&app.keys.miner).await.unwrap().source, Source::Api);
    }
    app.stop().await;
    app.time.advance_ms(EPOCH_MS);
    let outage_epoch = validator.current_epoch_id().await.unwrap();
    let held = validator.epoch(&app.keys.validator, outage_epoch).await.unwrap();
    assert!(matches!(held.source, Source::Computed { .. }), "{}", held.source);

    // Without relays, the miner says why it has nothing: the API and the beacon are both unreachable.
    match miner.current(&app.keys.miner).await {
        Err(EpochsError::Unavailable { reasons, .. }) => {
            let text = reasons.join("; ");
            assert!(text.contains("beacon (drand zipcoord-dev (1 relays))"), "{text}");
            assert!(text.contains("no relays configured"), "{text}");
        }
        other => panic!("expected no assignment, got {other:?}"),
    }

    let honest = start_relay(validator.clone()).await;
    let mut forged = held.assignment.clone();
    forged.zipcodes.swap(0, 1);
    let mut bad_nonce = held.assignment.clone();
    bad_nonce.nonce = "0123456789abcdef".to_string();
    let forgers = [start_forging_relay(forged).await, start_forging_relay(bad_nonce).await];
    let relays = |urls: &[&String]| urls.iter().map(|url| ZipcoordClient::new(url.as_str())).collect();

    let forged_only = cut_off_client(&app, miner_state.path(), &dead, relays(&[&forgers[0], &forgers[1]]));
    match forged_only.current(&app.keys.miner).await {
        Err(EpochsError::Unavailable { reasons, .. }) => {
            let text = reasons.join("; ");
            assert_eq!(text.matches("does not recompute").count(), 2, "{text}");
        }
        other => panic!("a forged assignment was taken: {other:?}"),
    }
    let with_honest = cut_off_client(&app, miner_state.path(), &dead, relays(&[&forgers[0], &honest]));
    let relayed = with_honest.current(&app.keys.miner).await.expect("the honest relay's assignment recomputes");
    assert_eq!(relayed.source, Source::Relay { url: honest.clone() });
    assert_eq!(
        (picks(&relayed.assignment), &relayed.assignment.nonce),
        (picks(&held.assignment), &held.assignment.nonce)
    );

    // The relay answers in the API's shapes, unsigned: stats name the epoch, inputs are the published bytes.
    let relay_client = ZipcoordClient::new(honest.as_str());
    let stats = relay_client.stats().await.unwrap();
    assert_eq!(stats.epoch_status.current_epoch.unwrap().id, outage_epoch.to_string());
    assert_eq!(stats.system_status, "relay");
    let inputs = relay_client.epoch_inputs(outage_epoch).await.unwrap();
    assert_eq!(zipcoord::domain::inputs::inputs_hash_hex(&inputs), held.assignment.proof.as_ref().unwrap().inputs_hash);
    let future = app.epoch_clock().next(outage_epoch);
    let (status, body) = get_json(&format!("{honest}/api/v1/zipcode-assignments/epoch/{future}")).await;
    assert_eq!((status, body["statusCode"].as_u64()), (404, Some(404)), "a relay never reveals a future epoch");
    let (status, body) = get_json(&format!("{honest}/api/v1/zipcode-assignments/epoch/not-an-epoch")).await;
    assert_eq!(status, 400, "{body}");
}

async fn get_json(url: &str) -> (u16, serde_json::Value) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn corrupt_state_files_are_set_aside_and_fetched_again() {
    let app = TestApp::spawn().await;
    let state = tempfile::tempdir().unwrap();
    let epochs = epochs_client(&app, state.path(), Vec::new());
    let epoch = epochs.current_epoch_id().await.unwrap();
    let first = epochs.current(&app.keys.miner).await.unwrap();
    let file = state.path().join(format!("assignments/{epoch}.json"));
    std::fs::write(&file, b"{\"format\":\"zipcoord-client-state-v1\",\"kind\":\"assign").unwrap();
    assert_eq!(epochs.kept(epoch), None, "a torn file is not trusted");
    let set_aside: Vec<_> = std::fs::read_dir(state.path().join("assignments"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".set-aside-"))
        .collect();
    assert_eq!(set_aside.len(), 1);
    assert_eq!(epochs.current(&app.keys.miner).await.unwrap(), first, "fetched again from the API");
    assert_eq!(epochs.kept(epoch).unwrap(), first);
}

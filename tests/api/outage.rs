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

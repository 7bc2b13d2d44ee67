//! Whom a reference client trusts (#33, finding 4): only the coordinator's API. A validator's relay given as the
//! API's URL is refused and never sent a signature; in `groups` mode a relay answers each miner its own batch;
//! the Epistula service address is pinned, not taken afresh from whoever answers `/stats`.

use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::response::IntoResponse;
use serde_json::Value;
use zipcoord::api::RELAY_HEADER;
use zipcoord::client::state::StateDir;
use zipcoord::client::trust::{signing_api_client, TrustError};
use zipcoord::client::{ClientError, ZipcoordClient};
use zipcoord::domain::epoch::batches::AssignmentMode;
use zipcoord::domain::epoch::groups::GroupPlan;
use zipcoord::domain::epoch::status::MinerStatus;

use crate::helpers::{TestApp, TestOptions};
use crate::outage::{epochs_client, start_relay};

const STATS: &str = "/api/v1/zipcode-assignments/stats";
const CURRENT: &str = "/api/v1/zipcode-assignments/current";

/// A server answering every request with `answer` (JSON, 200) and `extra` headers; it records each request's
/// path, query and body.
async fn recording_server(
    answer: Value,
    extra: Vec<(&'static str, &'static str)>,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let handler = move |request: Request| {
        let (answer, extra, record) = (answer.clone(), extra.clone(), record.clone());
        async move {
            let uri = request.uri().to_string();
            let body = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap();
            record.lock().unwrap().push(format!("{uri} {}", String::from_utf8_lossy(&body)));
            let mut response = axum::Json(answer).into_response();
            for (name, value) in extra {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(handler)).await });
    (url, seen)
}

fn state_of(app: &TestApp, dir: &tempfile::TempDir) -> StateDir {
    StateDir::open(dir.path(), app.keys.miner.hotkey().to_string()).unwrap()
}

#[tokio::test]
async fn a_relay_at_the_api_url_is_refused_and_is_never_sent_a_signature() {
    let app = TestApp::spawn().await;
    let (validator_dir, miner_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let validator = Arc::new(epochs_client(&app, validator_dir.path(), Vec::new()));
    let epoch = validator.current_epoch_id().await.unwrap();
    validator.epoch(&app.keys.validator, epoch).await.unwrap();
    let relay = start_relay(validator.clone()).await;

    // The real relay marks its answers; the neurons' start refuses it as the API, naming the fix.
    let response = reqwest::get(format!("{relay}{STATS}")).await.unwrap();
    assert_eq!(response.headers()[RELAY_HEADER], app.keys.miner.hotkey().as_str(), "the validator's hotkey");
    let missing = reqwest::get(format!("{relay}/nowhere")).await.unwrap();
    assert!(missing.headers().contains_key(RELAY_HEADER), "refusals are marked too");
    let refused = signing_api_client(ZipcoordClient::new(relay.as_str()), None, &state_of(&app, &miner_dir)).await;
    match refused {
        Err(error @ TrustError::RelayAsApi { .. }) => {
            let text = error.to_string();
            assert!(text.contains(&relay) && text.contains("give it with --relay"), "{text}");
        }
        other => panic!("a relay was taken as the API: {:?}", other.map(|c| c.base_url().to_string())),
    }
    // A checked client (a miner's --relay, verify-epoch) reads it as before.
    ZipcoordClient::checked(relay.as_str()).stats().await.expect("a relay is read when it is asked as one");

    // An API URL that starts answering as a relay (the proxy of the probe): every answer is refused, and no
    // signed request goes out until the API answers there again.
    let stats = app.get(STATS).await.1;
    let (proxy, seen) = recording_server(stats, vec![(RELAY_HEADER, "5Relay")]).await;
    let client = ZipcoordClient::new(proxy.as_str());
    assert!(matches!(client.stats().await, Err(ClientError::NotTheApi { .. })));
    let miner = &app.keys.miner;
    let current = client.current(miner, app.now()).await;
    assert!(matches!(current, Err(ClientError::NotTheApi { ref validator, .. }) if validator == "5Relay"));
    assert!(current.unwrap_err().is_outage(), "the client works around it as an outage, trusting nothing");
    let report = zipcoord::client::status_request(miner, epoch, "00", MinerStatus::InProgress, app.now());
    assert!(client.report_status(miner, &report).await.is_err());
    assert!(client.folder_access(miner, "coldkey", &[], None, app.now()).await.is_err());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "only the unsigned /stats was sent: {seen:?}");
    assert!(!seen[0].contains("signature"), "{seen:?}");
}

#[tokio::test]
async fn the_miner_cli_refuses_a_relay_as_its_url() {
    let app = TestApp::spawn().await;
    let (validator_dir, miner_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let validator = Arc::new(epochs_client(&app, validator_dir.path(), Vec::new()));
    validator.current_epoch_id().await.unwrap();
    let relay = start_relay(validator.clone()).await;
    let state = miner_dir.path().to_str().unwrap().to_string();
    let output = tokio::task::spawn_blocking(move || {
        crate::process::zipcoord()
            .args(["miner", "current", "--url", &relay, "--key-uri", "//Alice", "--state-dir", &state])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("answers as a validator's relay") && stderr.contains("--relay"), "{stderr}");
    assert!(output.stdout.is_empty(), "no assignment printed");
}

#[tokio::test]
async fn in_groups_mode_a_relay_answers_each_miner_its_own_batch() {
    let app = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(|s: &mut zipcoord::settings::Settings| {
            s.epochs.assignment = AssignmentMode::Groups(GroupPlan { size: 2, overlap: 1 });
        })),
        ..Default::default()
    })
    .await;
    let validator_dir = tempfile::tempdir().unwrap();
    let validator = Arc::new(epochs_client(&app, validator_dir.path(), Vec::new()));
    let epoch = validator.current_epoch_id().await.unwrap();
    validator.epoch(&app.keys.validator, epoch).await.unwrap();
    let relay = start_relay(validator).await;

    let miner = &app.keys.miner;
    let from_api = serde_json::to_value(app.client.current(miner, app.now()).await.unwrap()).unwrap();
    let hotkey = miner.hotkey().to_string();
    let by_query: Value = reqwest::get(format!("{relay}{CURRENT}?hotkey={hotkey}&signature=00&timestamp=1"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_header: Value = reqwest::Client::new()
        .get(format!("{relay}{CURRENT}"))
        .header("Epistula-Signed-By", hotkey.as_str())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for served in [&by_query, &by_header] {
        for field in ["epochId", "nonce", "zipcodes", "minerGroups", "metadata"] {
            assert_eq!(served[field], from_api[field], "{field}: {served}");
        }
        assert!(served.get("groups").is_none(), "a miner is served its own batch, not every group's");
    }
    assert!(by_query["zipcodes"].as_array().unwrap().len() < validator_zipcodes(&app, epoch).await);

    for (query, expected) in [("", "name your hotkey"), ("?hotkey=5notahotkey", "invalid hotkey")] {
        let response = reqwest::get(format!("{relay}{CURRENT}{query}")).await.unwrap();
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["statusCode"], 400);
        assert!(body["message"].as_str().unwrap().contains(expected), "{body}");
    }
}

async fn validator_zipcodes(app: &TestApp, epoch: zipcoord::domain::epoch::EpochId) -> usize {
    app.client.epoch(&app.keys.validator, epoch, app.now()).await.unwrap().zipcodes.len()
}

#[tokio::test]
async fn the_epistula_service_address_is_pinned_not_taken_from_whoever_answers() {
    let app = TestApp::spawn().await;
    let service = crate::helpers::service_key().hotkey().to_string();
    let dir = tempfile::tempdir().unwrap();
    let state = state_of(&app, &dir);
    let first = signing_api_client(app.client.clone(), None, &state).await.unwrap();
    assert_eq!(first.epistula_service(), Some(service.as_str()), "learned from the API on first contact");

    // A proxy that drops the advert does not turn the client back to replayable legacy signatures, and one that
    // advertises another address does not get signatures for it.
    let mut stripped = app.get(STATS).await.1;
    stripped.as_object_mut().unwrap().remove("epistula");
    let (stripping, _) = recording_server(stripped.clone(), Vec::new()).await;
    let client = signing_api_client(ZipcoordClient::new(stripping.as_str()), None, &state).await.unwrap();
    assert_eq!(client.epistula_service(), Some(service.as_str()));
    let other = app.keys.validator.hotkey().to_string();
    let mut redirected = app.get(STATS).await.1;
    redirected["epistula"]["signedFor"] = Value::from(other.clone());
    let (redirecting, _) = recording_server(redirected, Vec::new()).await;
    let client = signing_api_client(ZipcoordClient::new(redirecting.as_str()), None, &state).await.unwrap();
    assert_eq!(client.epistula_service(), Some(service.as_str()));
    // Nor does an API that cannot be reached.
    let unreachable = ZipcoordClient::new("http://127.0.0.1:9");
    let client = signing_api_client(unreachable, None, &state).await.unwrap();
    assert_eq!(client.epistula_service(), Some(service.as_str()));

    // --service-address changes it, and is kept.
    let given = app.keys.validator.hotkey();
    let client = signing_api_client(app.client.clone(), Some(given), &state).await.unwrap();
    assert_eq!(client.epistula_service(), Some(other.as_str()));
    let client = signing_api_client(app.client.clone(), None, &state).await.unwrap();
    assert_eq!(client.epistula_service(), Some(other.as_str()));

    // A client that never met the API and meets the stripping proxy has nothing to pin: legacy signatures.
    let fresh = tempfile::tempdir().unwrap();
    let client =
        signing_api_client(ZipcoordClient::new(stripping.as_str()), None, &state_of(&app, &fresh)).await.unwrap();
    assert_eq!(client.epistula_service(), None);
}

//! Beacon-seeded epochs: every epoch recomputes from its published inputs and its round's pulse (in Rust and in
//! the independent Python verifier), pulses come over HTTP from drand-style relays with failover and forged
//! pulses refused, a silent beacon delays the epoch and then falls back to the secret, and published inputs
//! never change.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use sha2::Digest;
use zipcoord::beacon::{BeaconSettings, BeaconSpec};
use zipcoord::client::epoch_check::{verify_epoch, CheckError};
use zipcoord::domain::epoch::beacon::DevBeacon;
use zipcoord::domain::epoch::recompute::Discrepancy;
use zipcoord::domain::epoch::EpochId;
use zipcoord::settings::Settings;
use zipcoord::storage::InputsRecord;

use crate::assignments::assert_api_error;
use crate::helpers::{TestApp, TestOptions};

const HOUR_MS: i64 = 3_600_000;

/// A drand-style relay serving the dev chain's pulses; `forge` flips a bit of every signature.
#[derive(Clone)]
struct Relay {
    beacon: Arc<DevBeacon>,
    forge: bool,
    asked: Arc<AtomicUsize>,
}

async fn serve_pulse(State(relay): State<Relay>, Path((chain, round)): Path<(String, u64)>) -> Json<serde_json::Value> {
    relay.asked.fetch_add(1, Ordering::SeqCst);
    assert_eq!(chain, hex::encode(relay.beacon.chain().hash), "relays are asked for the configured chain");
    let mut signature = relay.beacon.pulse(round).signature;
    if relay.forge {
        signature[7] ^= 0x20;
    }
    Json(serde_json::json!({ "round": round, "signature": hex::encode(signature), "randomness": "ignored" }))
}

/// Starts a relay; returns its base URL and how many pulses it was asked for.
async fn start_relay(forge: bool) -> (String, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let relay = Relay { beacon: Arc::new(DevBeacon::new()), forge, asked: asked.clone() };
    let router = Router::new().route("/{chain}/public/{round}", get(serve_pulse)).with_state(relay);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, asked)
}

/// A URL nothing listens on.
async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

fn with_relays(relays: Vec<String>) -> TestOptions {
    TestOptions {
        settings: Some(Box::new(move |s: &mut Settings| {
            s.beacon = BeaconSettings::new(BeaconSpec::Drand { chain: DevBeacon::new().chain().clone(), relays });
        })),
        ..TestOptions::default()
    }
}

#[tokio::test]
async fn fifty_epochs_recompute_in_rust_and_in_python() {
    let app = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(|s: &mut Settings| s.rate_limits = zipcoord::settings::RateLimitSettings::off())),
        ..TestOptions::default()
    })
    .await;
    let saved = tempfile::tempdir().unwrap();
    let mut epochs = Vec::new();
    for _ in 0..50 {
        let assignment = app.client.current(&app.keys.miner, app.now()).await.unwrap();
        let epoch: EpochId = assignment.epoch_id.parse().unwrap();
        let verified = verify_epoch(&app.client, epoch).await.unwrap_or_else(|e| panic!("{epoch}: {e}"));
        assert_eq!(verified.zipcodes, assignment.zipcodes.len());
        assert_eq!(verified.expected_listings, assignment.metadata.total_expected_listings);
        // The server started inside the first epoch, so its inputs came late; every later epoch's came when the
        // one before was created (here an hour into it, when the miner first asked).
        if !epochs.is_empty() {
            assert_eq!(verified.published_ahead_seconds, 3 * 3_600, "{epoch}: inputs published ahead of the round");
        }
        let proof = app.client.epoch_proof(epoch).await.unwrap();
        assert_eq!(assignment.proof.as_ref(), Some(&proof.proof), "/current and /proof agree");
        assert_eq!(proof.nonce, assignment.nonce);
        std::fs::write(saved.path().join(format!("{epoch}.proof.json")), serde_json::to_vec(&proof).unwrap()).unwrap();
        let inputs = app.client.epoch_inputs(epoch).await.unwrap();
        std::fs::write(saved.path().join(format!("{epoch}.inputs.json")), inputs).unwrap();
        epochs.push(epoch);
        app.pass_time(4 * HOUR_MS).await;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/verify_epoch.py");
    let output = std::process::Command::new("python3")
        .args([script, "--skip-pulse-verification", "--dir"])
        .arg(saved.path())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout.lines().filter(|line| line.starts_with("verified: epoch ")).count(), 50, "{stdout}");
    // `ZIPCOORD_SAVE_EPOCH_VECTORS=DIR` keeps three of them (the second has cooled-down zipcodes) as vectors.
    if let Some(dir) = std::env::var_os("ZIPCOORD_SAVE_EPOCH_VECTORS") {
        for epoch in &epochs[1..4] {
            for kind in ["proof", "inputs"] {
                let name = format!("{epoch}.{kind}.json");
                std::fs::copy(saved.path().join(&name), std::path::Path::new(&dir).join(&name)).unwrap();
            }
        }
    }

    // A tampered answer is caught by both, at its first difference.
    let first = epochs[0];
    let path = saved.path().join(format!("{first}.proof.json"));
    let mut proof: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let zipcodes = proof["zipcodes"].as_array_mut().unwrap();
    zipcodes.swap(0, 1);
    std::fs::write(&path, serde_json::to_vec(&proof).unwrap()).unwrap();
    let output = std::process::Command::new("python3")
        .args([script, "--skip-pulse-verification", "--proof"])
        .arg(&path)
        .arg("--inputs")
        .arg(saved.path().join(format!("{first}.inputs.json")))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("zipcode 1 of the selection"));
}

/// Epochs recorded from an earlier run (`tests/vectors/epochs/`): today's code must recompute them exactly, in
/// Rust and in Python, or the algorithm changed without a new version.
#[test]
fn recorded_epochs_still_recompute() {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/epochs"));
    let mut recorded = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".proof.json")) else {
            continue;
        };
        let answer: zipcoord::api::EpochProofResponse = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let inputs = std::fs::read(dir.join(format!("{name}.inputs.json"))).unwrap();
        let claim = zipcoord::client::epoch_check::claim_of(&answer).unwrap();
        zipcoord::domain::epoch::recompute::recompute(&claim, &inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
        recorded += 1;
    }
    assert_eq!(recorded, 3);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/verify_epoch.py");
    let output = std::process::Command::new("python3")
        .args([script, "--skip-pulse-verification", "--dir"])
        .arg(dir)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout.lines().filter(|line| line.starts_with("verified: epoch ")).count(), 3, "{stdout}");
}

#[tokio::test]
async fn inputs_are_served_as_published_and_never_change() {
    let app = TestApp::spawn().await;
    let current = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    let stats = app.client.stats().await.unwrap();
    let next = stats.epoch_status.next_epoch;
    let next_id: EpochId = next.id.clone().unwrap().parse().unwrap();
    let hash = next.inputs_hash.clone().expect("the next epoch's inputs are published at this one's start");
    let chain = DevBeacon::new().chain().clone();
    assert_eq!(next.beacon_round, Some(chain.round_at(next_id.start_unix())));

    // Identity and gzip encodings carry the same bytes, whose hash /stats announced.
    let url = format!("{}/api/v1/zipcode-assignments/epoch/{next_id}/inputs", app.base_url);
    let http = reqwest::Client::new();
    let plain = http.get(&url).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-encoding").is_none());
    let etag = plain.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{hash}\""));
    let plain = plain.bytes().await.unwrap();
    assert_eq!(zipcoord::domain::epoch::inputs::inputs_hash_hex(&plain), hash);
    assert_eq!(app.client.epoch_inputs(next_id).await.unwrap(), plain.to_vec(), "gzip decodes to the same bytes");
    let cached = http.get(&url).header("If-None-Match", &etag).send().await.unwrap();
    assert_eq!(cached.status(), 304);
    let document: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(document["epochId"], next_id.to_string());
    assert_eq!(document["format"], "zipcoord-epoch-inputs-v1");

    // Not yet published, malformed, or not an epoch boundary.
    let later = app.app().settings().epochs.clock.next(next_id);
    let (status, body) = app.get(&format!("/api/v1/zipcode-assignments/epoch/{later}/inputs")).await;
    assert_eq!((status, body["message"].as_str()), (404, Some(&*format!("Inputs of epoch {later} not published"))));
    let (status, _) = app.get("/api/v1/zipcode-assignments/epoch/yesterday/inputs").await;
    assert_eq!(status, 400);
    let (status, _) = app.get("/api/v1/zipcode-assignments/epoch/2025-10-01T16-00-01/inputs").await;
    assert_eq!(status, 404);
    // The proof of a future epoch is not revealed either.
    let (status, _) = app.get(&format!("/api/v1/zipcode-assignments/epoch/{next_id}/proof")).await;
    assert_eq!(status, 404);

    // Publishing again (another replica, or an import since) keeps the first publication...
    let store = app.app().store();
    let other = InputsRecord { epoch: next_id, hash: "00".repeat(32), candidate_count: 1, published_at_ms: 1 };
    let (stored, created) = store.publish_inputs(&other, b"{}", &[], 0).await.unwrap();
    assert!(!created);
    assert_eq!(stored.hash, hash);
    // ...and the database refuses any update, however it is written.
    sqlx::any::install_default_drivers();
    let mut connection = {
        use sqlx::Connection;
        sqlx::AnyConnection::connect(&app.db_url).await.unwrap()
    };
    let refused = sqlx::query("UPDATE epoch_inputs SET inputs_hash = 'x', document = document WHERE epoch_id = $1")
        .bind(next_id.to_string())
        .execute(&mut connection)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("published epoch inputs never change"), "{refused}");
    assert_eq!(store.inputs_record(next_id).await.unwrap().unwrap().hash, hash);

    // The next epoch is built from exactly those inputs.
    app.pass_time(4 * HOUR_MS).await;
    let assignment = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    assert_ne!(assignment.nonce, current.nonce);
    assert_eq!(assignment.proof.unwrap().inputs_hash, hash);
}

#[tokio::test]
async fn pulses_come_from_relays_in_order_and_forged_ones_are_refused() {
    let (forger, forger_asked) = start_relay(true).await;
    let (relay, relay_asked) = start_relay(false).await;
    let app = TestApp::spawn_with(with_relays(vec![dead_url().await, forger, relay])).await;
    let assignment = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    let epoch: EpochId = assignment.epoch_id.parse().unwrap();
    let proof = assignment.proof.clone().unwrap();
    assert_eq!(proof.kind, "beacon");
    assert_eq!(proof.beacon, "zipcoord-dev");
    let beacon = DevBeacon::new();
    assert_eq!(proof.signature.as_deref(), Some(&*beacon.pulse(proof.round).signature_hex()), "the true pulse");
    assert_eq!(forger_asked.load(Ordering::SeqCst), 1, "the forger was asked and refused");
    assert_eq!(relay_asked.load(Ordering::SeqCst), 1);
    verify_epoch(&app.client, epoch).await.unwrap();
    let health = app.client.health().await.unwrap().beacon.unwrap();
    assert_eq!((health.state.as_str(), health.last_round), ("ok", Some(proof.round)));
    assert_eq!(health.source, "drand zipcoord-dev (3 relays)");
}

#[tokio::test]
async fn pulses_can_come_from_the_chain_s_drand_pallet() {
    let node = crate::fake_subtensor::FakeSubtensor::start(46, Vec::new()).await;
    let silent = crate::fake_subtensor::FakeSubtensor::start(46, Vec::new()).await;
    let endpoints = vec![silent.url().parse().unwrap(), node.url().parse().unwrap()];
    let app = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(move |s: &mut Settings| {
            let chain = DevBeacon::new().chain().clone();
            s.beacon = BeaconSettings::new(BeaconSpec::Subtensor { chain, endpoints });
        })),
        ..TestOptions::default()
    })
    .await;
    let beacon = DevBeacon::new();
    let round = beacon.chain().round_at(app.current_epoch().start_unix());
    let pulse = beacon.pulse(round);
    let stored = crate::fake_subtensor::StoredPulse {
        round,
        randomness: sha2::Sha256::digest(pulse.signature).to_vec(),
        signature: pulse.signature.to_vec(),
    };
    node.store_pulse(round, &stored);
    let assignment = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    let proof = assignment.proof.unwrap();
    assert_eq!((proof.kind.as_str(), proof.round), ("beacon", round));
    assert_eq!(proof.signature, Some(pulse.signature_hex()));
    assert!(silent.calls().contains(&"state_getStorage".to_string()), "the first endpoint was asked first");
    verify_epoch(&app.client, app.current_epoch()).await.unwrap();
    let health = app.client.health().await.unwrap().beacon.unwrap();
    assert_eq!(health.source, "subtensor zipcoord-dev (2 endpoints)", "endpoints are never named");
}

#[tokio::test]
async fn a_silent_beacon_delays_the_epoch_then_the_secret_seeds_it() {
    let app = TestApp::spawn_with(with_relays(vec![dead_url().await])).await;
    // The server starts an hour into an epoch: clients may have computed that epoch from the beacon while no
    // server ran, so the secret never seeds it, however long the pulse takes.
    let err = app.client.current(&app.keys.miner, app.now()).await.unwrap_err();
    assert_api_error(err, 503, "beacon pulse is not available yet");
    let first_epoch = app.current_epoch();
    app.pass_time(20 * 60_000).await;
    let err = app.client.current(&app.keys.miner, app.now()).await.unwrap_err();
    assert_api_error(err, 503, "beacon pulse is not available yet");
    // The wait is not silent (#34): health names the round, since when and how it ends, and says degraded.
    let health = app.client.health().await.unwrap();
    assert_eq!(health.status, "degraded", "twenty minutes without the pulse");
    let wait = health.beacon.unwrap().waiting.expect("the wait is named");
    assert_eq!(wait.epoch, first_epoch.to_string());
    assert!(wait.fallback_at.is_none() && wait.fallback.contains("however long that takes"), "{wait:?}");
    let metrics = reqwest::get(format!("{}/metrics", app.base_url)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("zipcoord_beacon_waiting_seconds 1200"), "{metrics}");
    // At the next epoch's start, the server waits for the pulse.
    app.pass_time(3 * HOUR_MS - 20 * 60_000).await;
    let epoch = app.current_epoch();
    assert_eq!(epoch.start_unix(), app.now(), "at the epoch's start");
    let err = app.client.current(&app.keys.miner, app.now()).await.unwrap_err();
    assert_api_error(err, 503, "The epoch's beacon pulse is not available yet; its assignment follows within seconds");
    let response =
        reqwest::get(format!("{}/api/v1/zipcode-assignments/epoch/{epoch}/proof", app.base_url)).await.unwrap();
    assert_eq!(response.status(), 503);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=5).contains(&retry), "{retry}");
    // Every miner polls /stats: it answers, without a current epoch for now.
    let stats = app.client.stats().await.unwrap();
    assert!(stats.epoch_status.current_epoch.is_none());
    let health = app.client.health().await.unwrap();
    assert_eq!(health.status, "ok", "a pulse seconds late is no reason to take the service out of rotation");
    let beacon = health.beacon.unwrap();
    assert_eq!(beacon.state, "waiting");
    assert!(beacon.last_error.unwrap().contains("cannot connect"));
    let wait = beacon.waiting.expect("the wait is named");
    assert_eq!(
        (wait.epoch.clone(), wait.since.clone()),
        (epoch.to_string(), zipcoord::api::iso8601_millis(app.now() * 1000))
    );
    assert!(wait.fallback_at.is_some() && wait.fallback.starts_with("seeded from the server secret at"), "{wait:?}");
    let (_, overview) = app.get("/api/v1/dashboard/overview").await;
    assert_eq!(overview["system"]["beacon"]["waiting"]["round"], wait.round, "{overview}");
    app.pass_time(31_000).await;
    app.client.stats().await.unwrap();
    assert_eq!(app.client.health().await.unwrap().status, "degraded", "half a minute without the pulse");

    // Past the grace period (60 s after the round), the server secret seeds the epoch, and says so.
    app.pass_time(30_000).await;
    let assignment = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    let proof = assignment.proof.unwrap();
    assert_eq!(proof.kind, "fallback");
    assert!(proof.signature.is_none() && proof.randomness.is_none());
    assert!(proof.reason.unwrap().contains("no verified pulse within the grace period"));
    let refused = verify_epoch(&app.client, epoch).await.unwrap_err();
    assert!(matches!(refused, CheckError::Discrepancy(Discrepancy::Fallback(_))), "{refused}");
    let health = app.client.health().await.unwrap();
    assert_eq!(health.beacon.as_ref().unwrap().state, "fallback");
    assert!(health.beacon.unwrap().waiting.is_none(), "the wait is over");
    let metrics = reqwest::get(format!("{}/metrics", app.base_url)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("zipcoord_epochs_seeded_by_fallback_total"), "{metrics}");
}

/// A relay that answers every pulse after `delay`; returns its base URL and how many pulses it was asked for.
async fn start_slow_relay(delay: std::time::Duration) -> (String, Arc<AtomicUsize>) {
    let asked = Arc::new(AtomicUsize::new(0));
    let relay = Relay { beacon: Arc::new(DevBeacon::new()), forge: false, asked: asked.clone() };
    let slow = move |state: State<Relay>, path: Path<(String, u64)>| async move {
        let answer = serve_pulse(state, path).await; // counted as it arrives
        tokio::time::sleep(delay).await;
        answer
    };
    let router = Router::new().route("/{chain}/public/{round}", get(slow)).with_state(relay);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, asked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_relay_stalls_no_request_and_is_asked_once() {
    // Slow (the probe saw 5 to 17 s), yet within the beacon's request timeout.
    let delay = std::time::Duration::from_secs(4);
    let (relay, asked) = start_slow_relay(delay).await;
    let app = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(move |s: &mut Settings| {
            let chain = DevBeacon::new().chain().clone();
            s.beacon = BeaconSettings::new(BeaconSpec::Drand { chain, relays: vec![relay] });
            s.beacon.timeout = std::time::Duration::from_secs(10);
        })),
        ..TestOptions::default()
    })
    .await;
    // At an epoch's start, while the relay takes its seconds, stats and assignments answer at once.
    app.pass_time(4 * HOUR_MS - (app.now() * 1000).rem_euclid(4 * HOUR_MS)).await;
    let started = std::time::Instant::now();
    for _ in 0..5 {
        let stats = app.client.stats().await.unwrap();
        assert!(stats.epoch_status.current_epoch.is_none(), "no current epoch while its pulse is awaited");
        let err = app.client.current(&app.keys.miner, app.now()).await.unwrap_err();
        assert_api_error(err, 503, "beacon pulse is not available yet");
    }
    assert!(started.elapsed() < delay, "ten requests answered before the relay's first answer");
    assert_eq!(asked.load(Ordering::SeqCst), 1, "one fetch for every request");
    // The fetch goes on in the background; once it lands the epoch is served from the beacon.
    tokio::time::sleep(delay + std::time::Duration::from_millis(500)).await;
    let assignment = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    assert_eq!(assignment.proof.unwrap().kind, "beacon");
    assert_eq!(asked.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn replicas_agree_on_seeded_and_fallback_epochs() {
    let app = TestApp::spawn_with(with_relays(vec![dead_url().await])).await;
    let replica = app.spawn_replica().await;
    let other = zipcoord::client::ZipcoordClient::new(format!("http://{}", replica.addr));
    // An epoch that started after both replicas, past its grace period: each replica may decide to fall back,
    // and they agree on one assignment.
    app.pass_time(3 * HOUR_MS + 61_000).await;
    replica.app.refresh_metagraph().await.unwrap();
    let (mine, theirs) =
        tokio::join!(app.client.current(&app.keys.miner, app.now()), other.current(&app.keys.miner, app.now()));
    let (mine, theirs) = (mine.unwrap(), theirs.unwrap());
    assert_eq!(mine, theirs);
    assert_eq!(mine.proof.as_ref().unwrap().kind, "fallback");
    // Both wait for the next epoch's pulse alike, and both serve the same inputs meanwhile (a replica started
    // now: the first one's metagraph would have gone stale in three hand-moved hours).
    replica.shutdown().await.unwrap();
    app.pass_time(4 * HOUR_MS - 61_000).await;
    let replica = app.spawn_replica().await;
    let other = zipcoord::client::ZipcoordClient::new(format!("http://{}", replica.addr));
    let next = app.current_epoch();
    for client in [&app.client, &other] {
        let err = client.current(&app.keys.miner, app.now()).await.unwrap_err();
        assert_api_error(err, 503, "beacon pulse is not available yet");
        assert_eq!(client.epoch_inputs(next).await.unwrap(), app.client.epoch_inputs(next).await.unwrap());
    }
    replica.shutdown().await.unwrap();
}

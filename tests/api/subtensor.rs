//! The subtensor metagraph source over real HTTP against a local JSON-RPC node: decoding by the chain's
//! metadata (also after an upgrade adds a field), failover, timeouts, malformed answers, and staleness.

use std::time::{Duration, Instant};

use serde_json::Value;
use zipcoord::domain::access::endpoint::{self, SignedValues};
use zipcoord::domain::access::keys::Keypair;
use zipcoord::settings::{ChainSettings, Settings};

use crate::fake_subtensor::{closed_port_url, Behaviour, FakeNeuron, FakeSubtensor, Runtime};

use crate::helpers::{assert_error, TestApp, TestKeys, TestOptions};

const NETUID: u16 = 46;
const RAO: u64 = 1_000_000_000;

fn neuron(uid: u16, key: &Keypair, permit: bool, stake_rao: Vec<u64>) -> FakeNeuron {
    FakeNeuron {
        uid,
        hotkey: *key.hotkey().public_bytes(),
        coldkey: [uid as u8 + 1; 32],
        validator_permit: permit,
        stake_rao,
    }
}

/// The test keys as chain neurons: the validator's stake is split over two coldkeys (30,000 + 20,000 alpha),
/// the poor validator has 19,999.5 alpha.
fn chain_neurons(keys: &TestKeys) -> Vec<FakeNeuron> {
    vec![
        neuron(0, &keys.validator, true, vec![30_000 * RAO, 20_000 * RAO]),
        neuron(1, &keys.poor_validator, true, vec![19_999 * RAO + RAO / 2]),
        neuron(2, &keys.miner, false, vec![1_000_000 * RAO]),
        neuron(3, &keys.other_miner, false, vec![]),
        neuron(4, &keys.charlie, false, vec![10 * RAO]),
    ]
}

async fn spawn_on(
    endpoints: &[String],
    keys: TestKeys,
    adjust: impl FnOnce(&mut ChainSettings) + Send + 'static,
) -> TestApp {
    TestApp::spawn_with(TestOptions {
        metagraph: Some(format!("subtensor:{}", endpoints.join(","))),
        keys: Some(keys),
        settings: Some(Box::new(|settings: &mut Settings| {
            settings.chain.timeout = Duration::from_secs(1);
            adjust(&mut settings.chain);
        })),
        ..TestOptions::default()
    })
    .await
}

async fn current(app: &TestApp, key: &Keypair) -> (u16, Value) {
    let now = app.now();
    let signature = key.sign(endpoint::CURRENT.commitment(&SignedValues::at(now)).as_bytes()).to_hex();
    app.get_signed("/api/v1/zipcode-assignments/current", &key.hotkey().to_string(), &signature, &now.to_string()).await
}

async fn epoch_as(app: &TestApp, key: &Keypair) -> (u16, Value) {
    let now = app.now();
    let epoch = app.current_epoch();
    let signature =
        key.sign(endpoint::EPOCH.commitment(&SignedValues::at(now).epoch(&epoch.to_string())).as_bytes()).to_hex();
    let path = format!("/api/v1/zipcode-assignments/epoch/{epoch}");
    app.get_signed(&path, &key.hotkey().to_string(), &signature, &now.to_string()).await
}

/// Registered miners and validators are recognised exactly as the chain says, stake included.
async fn assert_roles_follow_the_chain(app: &TestApp) {
    assert_eq!(current(app, &app.keys.miner).await.0, 200);
    assert_eq!(current(app, &app.keys.other_miner).await.0, 200);
    let (status, body) = current(app, &app.keys.outsider).await;
    assert_error(status, &body, 401, "not registered");
    assert_eq!(epoch_as(app, &app.keys.validator).await.0, 200, "50,000 alpha over two coldkeys is enough");
    let (status, body) = epoch_as(app, &app.keys.poor_validator).await;
    assert_error(status, &body, 403, "stake below");
    let snapshot = app.app().fresh_metagraph().unwrap();
    let stake = |key: &Keypair| snapshot.neuron(&key.hotkey()).unwrap().stake;
    assert_eq!(stake(&app.keys.validator), 50_000.0, "stake over two coldkeys is summed");
    assert_eq!(stake(&app.keys.poor_validator), 19_999.5, "rao are converted to alpha");
    assert_eq!(stake(&app.keys.other_miner), 0.0);
    let (status, body) = epoch_as(app, &app.keys.miner).await;
    assert_error(status, &body, 403, "permit");
}

#[tokio::test]
async fn the_published_layout_decodes_and_grants_roles() {
    let keys = TestKeys::generate();
    let node = FakeSubtensor::start(NETUID, chain_neurons(&keys)).await;
    let app = spawn_on(&[node.url()], keys, |_| {}).await;
    assert_roles_follow_the_chain(&app).await;

    let (status, health) = app.get("/healthcheck").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["metagraph"]["block"], node.block());
    assert_eq!(health["metagraph"]["neurons"], 5);
    assert_eq!(health["metagraph"]["validators"], 1);
    assert_eq!(health["metagraph"]["fresh"], true);
    assert_eq!(health["metagraph"]["source"], format!("subtensor:{}", node.url()));
    let calls = node.calls();
    assert!(calls.contains(&"state_call".to_string()), "{calls:?}");
}

#[tokio::test]
async fn a_runtime_upgrade_that_adds_a_field_is_read_through_new_metadata() {
    let keys = TestKeys::generate();
    let node = FakeSubtensor::start(NETUID, chain_neurons(&keys)).await;
    node.set_runtime(Runtime::Upgraded);
    let app = spawn_on(&[node.url()], keys, |_| {}).await;
    assert_roles_follow_the_chain(&app).await;

    // Live upgrade: the old layout first, then the new one at a new spec version.
    node.set_runtime(Runtime::Published);
    app.app().refresh_metagraph().await.expect("published layout decodes");
    assert_eq!(node.metadata_fetches(), 2);
    // Metadata is only fetched again when the runtime changes.
    app.app().refresh_metagraph().await.unwrap();
    assert_eq!(node.metadata_fetches(), 2);
    node.set_runtime(Runtime::Upgraded);
    let block = node.advance_block(25);
    let snapshot = app.app().refresh_metagraph().await.expect("upgraded layout decodes");
    assert_eq!(node.metadata_fetches(), 3);
    assert_eq!(snapshot.block, Some(block));
    assert_roles_follow_the_chain(&app).await;
}

#[tokio::test]
async fn endpoints_are_tried_in_order_until_one_answers() {
    let keys = TestKeys::generate();
    let neurons = chain_neurons(&keys);
    let erroring = FakeSubtensor::start(NETUID, neurons.clone()).await;
    erroring.set_behaviour(Behaviour::RpcError);
    let proxy_down = FakeSubtensor::start(NETUID, neurons.clone()).await;
    proxy_down.set_behaviour(Behaviour::Unavailable);
    let garbage = FakeSubtensor::start(NETUID, neurons.clone()).await;
    garbage.set_behaviour(Behaviour::Garbage);
    let healthy = FakeSubtensor::start(NETUID, neurons).await;
    let endpoints = [closed_port_url().await, erroring.url(), proxy_down.url(), garbage.url(), healthy.url()];
    let app = spawn_on(&endpoints, keys, |_| {}).await;
    assert_roles_follow_the_chain(&app).await;
    for failing in [&erroring, &proxy_down, &garbage] {
        assert_eq!(failing.calls(), ["chain_getFinalizedHead"], "each failing endpoint is asked once per refresh");
    }

    // When every endpoint fails, the error names each endpoint's reason and the last snapshot stays.
    healthy.set_behaviour(Behaviour::RpcError);
    let error = app.app().refresh_metagraph().await.unwrap_err().to_string();
    for reason in ["Connection refused", "Runtime panicked", "HTTP status 503", "not a JSON-RPC answer"] {
        assert!(error.to_lowercase().contains(&reason.to_lowercase()), "{reason:?} missing from {error}");
    }
    assert_eq!(current(&app, &app.keys.miner).await.0, 200);
    let (_, health) = app.get("/healthcheck").await;
    assert!(health["metagraph"]["last_error"].as_str().unwrap().contains("Runtime panicked"), "{health}");
    assert_eq!(health["metagraph"]["fresh"], true);
}

#[tokio::test]
async fn a_slow_endpoint_times_out_and_the_next_one_answers() {
    let keys = TestKeys::generate();
    let slow = FakeSubtensor::start(NETUID, chain_neurons(&keys)).await;
    slow.set_behaviour(Behaviour::Slow(Duration::from_secs(30)));
    let healthy = FakeSubtensor::start(NETUID, chain_neurons(&keys)).await;
    let started = Instant::now();
    let app = spawn_on(&[slow.url(), healthy.url()], keys, |_| {}).await;
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert_roles_follow_the_chain(&app).await;

    healthy.set_behaviour(Behaviour::Slow(Duration::from_secs(30)));
    let started = Instant::now();
    let error = app.app().refresh_metagraph().await.unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(error.contains("no answer within 1s"), "{error}");
}

#[tokio::test]
async fn malformed_data_keeps_the_last_good_snapshot() {
    let keys = TestKeys::generate();
    let node = FakeSubtensor::start(NETUID, chain_neurons(&keys)).await;
    let app = spawn_on(&[node.url()], keys, |_| {}).await;
    let good_block = node.block();

    node.advance_block(10);
    node.set_behaviour(Behaviour::Truncated);
    let error = app.app().refresh_metagraph().await.unwrap_err().to_string();
    assert!(error.contains("cannot decode the neuron list"), "{error}");
    // A subnet that has no neurons (a wrong netuid, say) is refused too, rather than unregistering everyone.
    node.set_behaviour(Behaviour::Healthy);
    node.set_neurons(Vec::new());
    let error = app.app().refresh_metagraph().await.unwrap_err().to_string();
    assert!(error.contains("no neurons"), "{error}");

    assert_roles_follow_the_chain(&app).await;
    let (_, health) = app.get("/healthcheck").await;
    assert_eq!(health["metagraph"]["block"], good_block);
    assert!(health["metagraph"]["last_error"].as_str().unwrap().contains("no neurons"), "{health}");
}

#[tokio::test]
async fn a_stale_snapshot_turns_signed_endpoints_away_with_503_until_the_chain_answers() {
    let keys = TestKeys::generate();
    let node = FakeSubtensor::start(NETUID, chain_neurons(&keys)).await;
    let app = spawn_on(&[node.url()], keys, |chain| {
        chain.refresh = Duration::from_secs(300);
        chain.max_age = Duration::from_secs(900);
    })
    .await;
    assert_eq!(app.get("/readyz").await.0, 200);

    node.set_behaviour(Behaviour::Unavailable);
    app.time.advance_ms(899_000);
    assert!(app.app().refresh_metagraph().await.is_err());
    assert_eq!(current(&app, &app.keys.miner).await.0, 200, "899 s old is still within the limit");
    app.time.advance_ms(2_000);

    for key in [&app.keys.miner, &app.keys.outsider] {
        let (status, body) = current(&app, key).await;
        assert_error(status, &body, 503, "Metagraph snapshot is 901 s old (limit 900 s)");
    }
    let (status, body) = epoch_as(&app, &app.keys.validator).await;
    assert_error(status, &body, 503, "retry later");
    let (status, ready) = app.get("/readyz").await;
    assert_eq!((status, &ready["metagraph"]), (503, &Value::from("stale")), "{ready}");
    let (status, health) = app.get("/healthcheck").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["metagraph"]["fresh"], false);
    assert_eq!(health["metagraph"]["age_seconds"], 901);
    // Public endpoints keep working.
    assert_eq!(app.get("/api/v1/zipcode-assignments/stats").await.0, 200);

    node.set_behaviour(Behaviour::Healthy);
    app.app().refresh_metagraph().await.unwrap();
    assert_eq!(current(&app, &app.keys.miner).await.0, 200);
    assert_eq!(app.get("/readyz").await.0, 200);
}

#[tokio::test]
async fn a_chain_unreachable_at_start_leaves_the_service_up_but_not_ready() {
    let keys = TestKeys::generate();
    let node = FakeSubtensor::start(NETUID, chain_neurons(&keys)).await;
    node.set_behaviour(Behaviour::Unavailable);
    let app = spawn_on(&[node.url()], keys, |_| {}).await;

    assert_eq!(app.get("/api/v1/zipcode-assignments/stats").await.0, 200);
    assert_eq!(app.get("/livez").await.0, 200);
    let (status, ready) = app.get("/readyz").await;
    assert_eq!((status, &ready["metagraph"]), (503, &Value::from("not loaded")), "{ready}");
    let (status, body) = current(&app, &app.keys.miner).await;
    assert_error(status, &body, 503, "Metagraph not loaded yet");
    let (_, health) = app.get("/healthcheck").await;
    assert_eq!(health["status"], "degraded");
    assert!(health["metagraph"]["last_error"].as_str().unwrap().contains("HTTP status 503"), "{health}");

    node.set_behaviour(Behaviour::Healthy);
    app.app().refresh_metagraph().await.unwrap();
    assert_roles_follow_the_chain(&app).await;
    assert_eq!(app.get("/readyz").await.0, 200);
}

#[tokio::test]
async fn the_netuid_selects_the_subnet() {
    let keys = TestKeys::generate();
    let node = FakeSubtensor::start(428, chain_neurons(&keys)).await;
    let app = spawn_on(&[node.url()], keys, |chain| chain.netuid = 428).await;
    assert_roles_follow_the_chain(&app).await;
    let (_, health) = app.get("/healthcheck").await;
    assert_eq!(health["metagraph"]["netuid"], 428);
}

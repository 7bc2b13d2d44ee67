//! The coordinator goes down: clients compute the epochs it misses from the inputs they kept and the beacon, and
//! the server, back, creates exactly those epochs (same zipcodes, same nonce, same inputs hash).

use std::sync::Arc;

use zipcoord::api::AssignmentResponse;
use zipcoord::app::Clock;
use zipcoord::beacon::{BeaconSettings, BeaconSpec};
use zipcoord::client::epoch_check::{claim_of, claim_of_served, describe, verify_epoch};
use zipcoord::client::epochs::{ClientClock, Epochs, EpochsError, Source};
use zipcoord::client::relay::RelayLimits;
use zipcoord::client::state::StateDir;
use zipcoord::client::ZipcoordClient;
use zipcoord::domain::epoch::recompute::recompute;
use zipcoord::domain::epoch::EpochId;

use crate::helpers::TestApp;

const EPOCH_MS: i64 = 4 * 3600 * 1000;

pub(crate) fn epochs_client(app: &TestApp, state: &std::path::Path, relays: Vec<ZipcoordClient>) -> Epochs {
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
    for n in 1..=3 {
        app.time.advance_ms(EPOCH_MS);
        let epochs = epochs_client(&app, state.path(), Vec::new());
        let epoch = epochs.current_epoch_id().await.expect("the remembered clock names the epoch");
        assert_eq!(epoch.start_unix(), before.start_unix() + n * EPOCH_MS / 1000);
        let sourced = epochs.current(&miner).await.expect("computed without the API");
        match &sourced.source {
            Source::Computed { rolled_forward, .. } => assert_eq!(*rolled_forward, n > 1, "epoch {epoch}"),
            other => panic!("epoch {epoch} came from {other}"),
        }
        assert_eq!(sourced.assignment.epoch_id, epoch.to_string());
        assert!(!sourced.assignment.zipcodes.is_empty());
        assert_eq!(epochs.current(&miner).await.unwrap(), sourced, "kept, not computed twice");
        computed.push(sourced.assignment);
    }
    assert_ne!(picks(&computed[0]), picks(&computed[1]));

    // Back in the third epoch: two whole epochs were missed.
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
    assert_eq!((picks(&current), &current.nonce), (picks(&computed[2]), &computed[2].nonce));

    // Anyone can check it: the first missed epoch's inputs were published before the outage; the second's came
    // late, and verify as the roll-forward of the first's, in Rust and in Python.
    let (missed, late): (EpochId, EpochId) =
        (computed[0].epoch_id.parse().unwrap(), computed[1].epoch_id.parse().unwrap());
    let on_time = verify_epoch(&app.client, missed).await.unwrap();
    assert!(on_time.published_ahead_seconds > 0 && on_time.rolled_forward_from.is_none());
    let rolled = verify_epoch(&app.client, late).await.unwrap();
    assert!(rolled.published_ahead_seconds <= 0);
    assert_eq!(rolled.rolled_forward_from, Some(missed));
    assert!(describe(late, &rolled).contains(&format!("rolled forward from epoch {missed}'s published inputs")));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/verify_epoch.py");
    let base_url = app.base_url.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args([script, "--skip-pulse-verification", "--url", &base_url, &missed.to_string(), &late.to_string()])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(stdout.matches("verified: epoch").count(), 2, "{stdout}");
    assert!(stdout.contains(&format!("rolled forward from epoch {missed}'s published inputs")), "{stdout}");
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
    let chain = zipcoord::domain::epoch::beacon::DevBeacon::new().chain().clone();
    let spec = BeaconSpec::Drand { chain, relays: vec![dead.to_string()] };
    let beacon = Arc::from(zipcoord::beacon::open(&BeaconSettings::new(spec)));
    let state = StateDir::open(state, app.keys.miner.hotkey().to_string()).unwrap();
    Epochs::new(app.client.clone(), relays, beacon, state).with_clock(clock)
}

/// Serves `epochs` as a validator's relay; returns its base URL.
pub(crate) async fn start_relay(epochs: Arc<Epochs>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(zipcoord::client::relay::serve(listener, epochs, RelayLimits::default(), std::future::pending()));
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
    let relays = |urls: &[&String]| urls.iter().map(|url| ZipcoordClient::checked(url.as_str())).collect();

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
    let relay_client = ZipcoordClient::checked(honest.as_str());
    let stats = relay_client.stats().await.unwrap();
    assert_eq!(stats.epoch_status.current_epoch.unwrap().id, outage_epoch.to_string());
    assert_eq!(stats.system_status, "relay");
    let inputs = relay_client.epoch_inputs(outage_epoch).await.unwrap();
    assert_eq!(
        zipcoord::domain::epoch::inputs::inputs_hash_hex(&inputs),
        held.assignment.proof.as_ref().unwrap().inputs_hash
    );
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

/// The judgement blocks `localnet` printed for `epoch`: per validator, `uid -> (verdict, weight)`.
pub fn verdicts(stdout: &str, epoch: &str) -> Vec<std::collections::BTreeMap<u16, (String, f64)>> {
    let mut blocks = Vec::new();
    let mut lines = stdout.lines().peekable();
    while let Some(line) = lines.next() {
        if !(line.starts_with("[validator") && line.contains(&format!("epoch {epoch} judged at"))) {
            continue;
        }
        let mut block = std::collections::BTreeMap::new();
        while let Some(row) = lines.next_if(|l| l.starts_with("    uid")) {
            let fields: Vec<&str> = row.split_whitespace().collect();
            block.insert(fields[1].parse().unwrap(), (fields[2].to_string(), fields[6].parse().unwrap()));
        }
        blocks.push(block);
    }
    blocks
}

/// The whole subnet as one process, its coordinator down for one whole epoch: every miner still mines that
/// epoch (computing its assignment), uploads all of it, and is judged for it as for the others; the server back
/// serves what the miners computed, and no status report is lost.
#[tokio::test]
async fn a_local_network_carries_on_through_an_outage_of_the_coordinator() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = crate::process::run_localnet(dir.path(), &["--epochs", "3", "--outage", "1"]).await;
    assert!(stdout.contains("(liar (inventor): invents listings)"), "{stdout}");
    let announced = stdout.lines().find(|l| l.starts_with("The coordinator will be down from")).expect(&stdout);
    let outage = announced.split_whitespace().nth(6).unwrap().to_string();
    let outage_epoch: EpochId = outage.parse().unwrap();
    let before = EpochId::from_start_unix(outage_epoch.start_unix() - 15);
    assert!(stdout.contains("== coordinator stopped") && stdout.contains("== coordinator back"), "{stdout}");

    // Every miner mined the outage epoch in full from an assignment it computed (or had relayed), never the API.
    for miner in 1..=4 {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("[miner {miner}] epoch {outage}:")))
            .unwrap_or_else(|| panic!("miner {miner} did not mine {outage}: {stdout}"));
        assert!(line.contains("COMPLETED"), "{line}\n{stdout}");
        let counts: Vec<&str> = line.split(" - ").nth(1).unwrap().split_whitespace().collect();
        assert_eq!(counts[0], counts[2], "the whole assignment uploaded: {line}");
        assert!(
            line.contains("assignment from computed locally") || line.contains("assignment from the relay"),
            "{line}"
        );
    }
    // Both validators judged the outage epoch as they judged the one before it: the same verdict per uid, the
    // liar (uid 5) at weight 0.
    let (judged_outage, judged_before) = (verdicts(&stdout, &outage), verdicts(&stdout, &before.to_string()));
    assert_eq!((judged_outage.len(), judged_before.len()), (2, 2), "{stdout}");
    for (outage_block, before_block) in judged_outage.iter().zip(&judged_before) {
        let labels = |b: &std::collections::BTreeMap<u16, (String, f64)>| {
            b.iter().map(|(uid, (verdict, _))| (*uid, verdict.clone())).collect::<Vec<_>>()
        };
        assert_eq!(labels(outage_block), labels(before_block), "{stdout}");
        assert_eq!(outage_block[&5], ("liar".to_string(), 0.0));
        assert!((2..=4).all(|uid| outage_block[&uid].0 == "honest" && outage_block[&uid].1 > 0.0), "{stdout}");
    }

    // The server, back, created the missed epoch exactly as each miner computed it.
    let store = zipcoord::storage::Store::connect(&format!("sqlite://{}", dir.path().join("localnet.db").display()))
        .await
        .unwrap();
    let served = store.load_epoch(outage_epoch).await.unwrap().expect("the missed epoch was created");
    let served_zipcodes: Vec<String> = served.zipcodes.iter().map(|z| z.zipcode.to_string()).collect();
    for miner in 1..=4 {
        let kept = std::fs::read(dir.path().join(format!("miners/miner{miner}/assignments/{outage}.json"))).unwrap();
        let kept: serde_json::Value = serde_json::from_slice(&kept).unwrap();
        let body = &kept["body"];
        assert_ne!(body["source"]["kind"], "api", "miner {miner} got {outage} from the API");
        let zipcodes: Vec<String> = body["assignment"]["zipcodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|z| z["zipcode"].as_str().unwrap().into())
            .collect();
        assert_eq!(zipcodes, served_zipcodes, "miner {miner}");
        assert_eq!(body["assignment"]["nonce"], served.nonce.to_string(), "miner {miner}");
    }
    // Reports acknowledged before the outage are all there; those of the outage epoch arrived after it.
    for epoch in [before, outage_epoch] {
        let events = store.status_events(epoch).await.unwrap();
        let completed = events.iter().filter(|e| e.status.as_str() == "COMPLETED").count();
        assert_eq!(completed, 4, "epoch {epoch}: {events:?}");
    }
    store.close().await;
}

/// The API is down and the kept grant has expired: the miner says why, keeps its scraped files and its reports,
/// and delivers both once the API answers again.
#[tokio::test]
async fn a_miner_without_a_usable_grant_keeps_its_files_and_reports_for_later() {
    use zipcoord::client::miner::outbox::Outbox;
    use zipcoord::client::miner::scraper::SyntheticScraper;

    let dir = tempfile::tempdir().unwrap();
    let mut net = crate::neurons::hour_long_network(&dir, 1, 300).await;
    let miner =
        net.miner(0, Arc::new(SyntheticScraper { delay: std::time::Duration::ZERO, sizes: Default::default() }));
    let key = net.miners[0].clone();
    let sourced = miner.current().await.unwrap();
    let epoch: EpochId = sourced.assignment.epoch_id.parse().unwrap();
    let mut grant =
        net.client().folder_access(&key, &miner.hotkey(), &[], None, zipcoord::client::unix_now()).await.unwrap();
    grant.expiry = "2020-01-01T00:00:00.000Z".to_string();
    Outbox { state: miner.state() }.keep_grant(&grant, 0);

    net.stop_server().await.unwrap();
    let work = miner.mine(&sourced).await.unwrap();
    let zipcodes = sourced.assignment.zipcodes.len();
    assert_eq!(work.uploaded, 0);
    let (kept, why) = work.kept_for_later.clone().expect("files kept for later");
    assert_eq!(kept, zipcodes);
    assert!(why.contains("the API is unreachable") && why.contains("expired at 2020-01-01T00:00:00.000Z"), "{why}");
    assert_eq!(std::fs::read_dir(miner.state().path(&format!("pending/{epoch}"))).unwrap().count(), zipcodes);
    assert!(miner.state().path(&format!("outbox/{epoch}.json")).exists(), "the final report waits");

    net.start_server().await.unwrap();
    miner.deliver_outbox(epoch).await;
    assert!(!miner.state().path(&format!("pending/{epoch}")).exists(), "every kept file uploaded");
    assert!(!miner.state().path(&format!("outbox/{epoch}.json")).exists(), "the report delivered");
    for zipcode in &sourced.assignment.zipcodes {
        let folder =
            net.store.object_path(&format!("data/hotkey={}/epoch={epoch}/zipcode={}", miner.hotkey(), zipcode.zipcode));
        assert_eq!(std::fs::read_dir(&folder).unwrap().count(), 1, "{}", folder.display());
    }
    let events = net.server().app.store().status_events(epoch).await.unwrap();
    assert_eq!(events.last().unwrap().status.as_str(), "COMPLETED", "{events:?}");
    net.shutdown().await.unwrap();
}

/// The server is up but waits for a pulse it cannot get: a client that could compute the epoch does not, since the
/// server might seed it otherwise; it says the server asks to wait.
#[tokio::test]
async fn a_client_does_not_compute_an_epoch_the_server_asks_it_to_wait_for() {
    let dead = dead_url().await;
    let chain = zipcoord::domain::epoch::beacon::DevBeacon::new().chain().clone();
    let options = crate::helpers::TestOptions {
        settings: Some(Box::new(move |s: &mut zipcoord::settings::Settings| {
            s.beacon = BeaconSettings::new(BeaconSpec::Drand { chain, relays: vec![dead] });
        })),
        ..Default::default()
    };
    let app = TestApp::spawn_with(options).await;
    let state = tempfile::tempdir().unwrap();
    let epochs = epochs_client(&app, state.path(), Vec::new());
    epochs.current_epoch_id().await;
    match epochs.current(&app.keys.miner).await {
        Err(EpochsError::Waiting(error)) => assert!(error.to_string().contains("503"), "{error}"),
        other => panic!("expected to wait, got {other:?}"),
    }
    assert!(std::fs::read_dir(state.path().join("assignments")).map_or(true, |mut d| d.next().is_none()));
}

#[tokio::test]
async fn in_groups_mode_a_miner_computes_its_own_batch_through_an_outage() {
    use zipcoord::domain::epoch::batches::AssignmentMode;
    use zipcoord::domain::epoch::groups::GroupPlan;
    // Four roster miners (the poorly staked validator mines too) in groups of two: two batches.
    let mut app = TestApp::spawn_with(crate::helpers::TestOptions {
        settings: Some(Box::new(|s: &mut zipcoord::settings::Settings| {
            s.epochs.assignment = AssignmentMode::Groups(GroupPlan { size: 2, overlap: 1 });
        })),
        ..Default::default()
    })
    .await;
    let state = tempfile::tempdir().unwrap();
    let miner = app.keys.miner.clone();
    let fetched = epochs_client(&app, state.path(), Vec::new()).current(&miner).await.unwrap();
    assert_eq!(fetched.assignment.miner_groups.as_ref().unwrap().group_count, 2);

    app.stop().await;
    let mut computed = Vec::new();
    for n in 1..=2 {
        app.time.advance_ms(EPOCH_MS);
        let epochs = epochs_client(&app, state.path(), Vec::new());
        let sourced = epochs.current(&miner).await.expect("computed without the API");
        assert!(matches!(sourced.source, Source::Computed { .. }), "epoch {n}: {}", sourced.source);
        let named = sourced.assignment.miner_groups.clone().expect("the miner's groups, computed");
        assert_eq!((named.membership.as_str(), named.group_count), ("roster", 2));
        assert!(sourced.assignment.groups.is_none(), "a miner keeps its own batch, not every group's");
        computed.push(sourced.assignment);
    }

    app.start().await;
    for assignment in &computed {
        let epoch: EpochId = assignment.epoch_id.parse().unwrap();
        let whole = app.client.epoch(&app.keys.validator, epoch, app.now()).await.unwrap();
        let group = &whole.groups.as_ref().unwrap().groups[assignment.miner_groups.as_ref().unwrap().group_ids[0]];
        assert!(group.members.contains(&miner.hotkey().to_string()), "epoch {epoch}");
        assert_eq!(picks(assignment), group.zipcodes, "epoch {epoch}: the batch the server made");
        assert_eq!(assignment.nonce, whole.nonce);
        verify_epoch(&app.client, epoch).await.unwrap();
        // The whole epoch as a relay would serve it claims what the proof does, and recomputes; with two
        // groups' members traded, it does not.
        let claim = claim_of_served(&whole).unwrap();
        assert_eq!(claim, claim_of(&app.client.epoch_proof(epoch).await.unwrap()).unwrap(), "epoch {epoch}");
        let inputs = app.client.epoch_inputs(epoch).await.unwrap();
        recompute(&claim, &inputs).unwrap();
        let mut traded = whole.clone();
        let groups = &mut traded.groups.as_mut().unwrap().groups;
        let (first, second) = (groups[0].members[0].clone(), groups[1].members[0].clone());
        (groups[0].members[0], groups[1].members[0]) = (second, first);
        let refused = recompute(&claim_of_served(&traded).unwrap(), &inputs).unwrap_err();
        assert!(refused.to_string().contains("the groups recompute differently"), "{refused}");
    }
    let current = app.client.current(&miner, app.now()).await.unwrap();
    assert_eq!(current.miner_groups, computed[1].miner_groups);
    assert_eq!(picks(&current), picks(&computed[1]));
}

//! The validator's weight setter against the loopback subtensor node (`localnet::chain_node`), which serves the
//! recorded finney runtime (spec 343), opens every transaction as subtensor does (signature, nonce, era) and
//! applies it a block later: commit-reveal off and on, a rate-limited, an unregistered and an unpermitted
//! validator, runtimes that lost the call or gained an unknown extension, a node that refuses once, an endpoint
//! that is down, and the owner's burn.

use std::collections::BTreeMap;
use std::time::Duration;

use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
use parity_scale_codec::{Decode, Encode};
use tokio_util::sync::CancellationToken;
use zipcoord::chain::subtensor::calls::WeightCall;
use zipcoord::chain::subtensor::commit::{decrypt_with_signature, WeightsTlockPayload};
use zipcoord::chain::subtensor::runtime::{RuntimeError, SUBTENSOR_PALLET};
use zipcoord::chain::subtensor::setter::{SetWeightsError, SetterSettings, WeightSetter};
use zipcoord::chain::subtensor::weight_plan::{WeightRefusal, WeightRequest};
use zipcoord::domain::access::keys::Keypair;
use zipcoord::domain::epoch::beacon::{DevBeacon, QUICKNET};
use zipcoord::domain::judging::weights::{Burn, WeightPolicy};
use zipcoord::localnet::chain_node::{ChainEvent, ChainNode, NodeMetadata, NodeNeuron, SubnetParameters};

const BLOCK: Duration = Duration::from_millis(100);

fn parameters(commit_reveal: bool) -> SubnetParameters {
    SubnetParameters {
        netuid: 46,
        commit_reveal,
        commit_reveal_version: 4,
        min_allowed_weights: 1,
        max_weights_limit: 65535,
        version_key: 1038,
        rate_limit: 100,
        tempo: 360,
        reveal_period_epochs: 1,
        activity_cutoff: 5000,
    }
}

fn validator() -> Keypair {
    Keypair::from_uri("//Zipcoord//validator").unwrap()
}

/// uid 0 this validator, uid 1 the owner (a validator too), uid 2 an unpermitted neuron, uids 3..=5 miners.
fn neurons() -> Vec<NodeNeuron> {
    let key = |uri: &str| Keypair::from_uri(uri).unwrap().hotkey();
    let mut neurons = vec![
        NodeNeuron::own(validator().hotkey(), true, 0),
        NodeNeuron::own(key("//Owner"), true, 0),
        NodeNeuron::own(key("//Unpermitted"), false, 0),
    ];
    neurons.extend((3..6).map(|n| NodeNeuron::own(key(&format!("//Miner{n}")), false, 0)));
    neurons
}

async fn start_node(metadata: NodeMetadata, commit_reveal: bool) -> (ChainNode, CancellationToken) {
    let cancel = CancellationToken::new();
    let node = ChainNode::start(metadata, parameters(commit_reveal), neurons(), BLOCK, cancel.clone()).await.unwrap();
    // A few blocks, so eras have a past.
    tokio::time::sleep(BLOCK * 3).await;
    (node, cancel)
}

fn settings() -> SetterSettings {
    SetterSettings {
        netuid: 46,
        beacon_public_key: DevBeacon::new().chain().public_key,
        block_time: BLOCK,
        confirm_blocks: 5,
        attempts: 3,
        backoff: Duration::from_millis(50),
        timeout: Duration::from_secs(5),
    }
}

fn setter(endpoints: &[&str]) -> WeightSetter {
    WeightSetter::new(endpoints.iter().map(|e| e.parse().unwrap()).collect(), settings())
}

fn request() -> WeightRequest {
    // The validators' own uids in the split are never weighed.
    WeightRequest { split: BTreeMap::from([(0, 0.2), (1, 0.2), (3, 0.5), (4, 0.3)]), ..WeightRequest::default() }
}

#[tokio::test]
async fn with_commit_reveal_off_the_weights_are_set_and_the_chain_holds_them() {
    let (node, _cancel) = start_node(NodeMetadata::finney_343(), false).await;
    let set = setter(&[&node.url]).set(&validator(), &request()).await.unwrap();
    assert_eq!(set.attempt, 1);
    assert_eq!(set.planned.emitted.uids, vec![3, 4]);
    assert_eq!(set.planned.emitted.values, vec![65535, 39321]);
    assert!(matches!(set.planned.call, WeightCall::SetWeights { version_key: 1038, .. }));
    node.with(|chain| {
        assert_eq!(chain.weights.get(&0), Some(&vec![(3, 65535), (4, 39321)]));
        assert_eq!(chain.last_update[0], set.block);
        assert_eq!(chain.submissions.len(), 1);
        assert_eq!(chain.submissions[0].result, "applied");
        assert_eq!(chain.submissions[0].hex, format!("0x{}", hex::encode(&set.extrinsic.bytes)));
        assert_eq!(chain.next_nonce(validator().hotkey().public_bytes()), 1);
    });

    // At once again: the rate limit (100 blocks) holds it back, and nothing is sent.
    let again = setter(&[&node.url]).set(&validator(), &request()).await.unwrap_err();
    assert!(
        matches!(again, SetWeightsError::Refused(WeightRefusal::RateLimited { uid: 0, limit: 100, .. })),
        "{again}"
    );
    assert!(again.to_string().starts_with("nothing sent: uid 0 set weights"), "{again}");
    assert_eq!(node.with(|chain| chain.submissions.len()), 1);
}

#[tokio::test]
async fn with_commit_reveal_on_only_a_commit_is_sent_and_it_opens_to_the_vector_at_its_round() {
    let (node, _cancel) = start_node(NodeMetadata::finney_343(), true).await;
    let set = setter(&[&node.url]).set(&validator(), &request()).await.unwrap();
    let round = set.planned.reveal_round.expect("a commit has a reveal round");
    let WeightCall::CommitTimelockedWeights { commit, commit_reveal_version: 4, .. } = &set.planned.call else {
        panic!("not a commit: {:?}", set.planned.call)
    };
    let stored = node.with(|chain| {
        assert!(chain.weights.is_empty(), "no set_weights while commit-reveal is on");
        assert_eq!(chain.submissions[0].result, "applied");
        chain.commits.values().flatten().cloned().collect::<Vec<_>>()
    });
    assert_eq!(stored.len(), 1);
    let (who, block, ciphertext, stored_round) = &stored[0];
    assert_eq!(
        (who, *block, ciphertext, *stored_round),
        (validator().hotkey().public_bytes(), set.block, commit, round)
    );
    // What the chain decrypts when the round's pulse comes: the validator's hotkey, vector and version key.
    let opened = decrypt_with_signature(ciphertext, &DevBeacon::new().pulse(round).signature).unwrap();
    let payload = WeightsTlockPayload::decode(&opened).unwrap();
    assert_eq!(payload.hotkey, *validator().hotkey().public_bytes());
    assert_eq!(payload.weights, set.planned.emitted);
    assert_eq!(payload.version_key, 1038);
}

/// Waits (at most 20 s) until the node has revealed `count` commits.
async fn reveals(node: &ChainNode, count: usize) -> Vec<zipcoord::localnet::chain_node::Reveal> {
    for _ in 0..200 {
        let reveals = node.with(|chain| chain.reveals.clone());
        if reveals.len() >= count {
            return reveals;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the node revealed fewer than {count} commits");
}

#[tokio::test]
async fn the_node_reveals_a_commit_an_epoch_later_with_its_rounds_pulse_and_fails_one_encrypted_to_another_beacon() {
    // Short subnet epochs (5 blocks), so the reveal comes within seconds.
    let cancel = CancellationToken::new();
    let quick = SubnetParameters { tempo: 4, ..parameters(true) };
    let node = ChainNode::start(NodeMetadata::finney_343(), quick, neurons(), BLOCK, cancel.clone()).await.unwrap();
    tokio::time::sleep(BLOCK * 3).await;
    let set = setter(&[&node.url]).set(&validator(), &request()).await.unwrap();
    let round = set.planned.reveal_round.unwrap();
    let revealed = reveals(&node, 1).await;
    assert_eq!(revealed[0].result, "applied");
    assert_eq!((revealed[0].round, revealed[0].commit_block), (round, set.block));
    assert!(revealed[0].block > set.block);
    node.with(|chain| {
        let emitted = &set.planned.emitted;
        let expected: Vec<(u16, u16)> = emitted.uids.iter().copied().zip(emitted.values.iter().copied()).collect();
        assert_eq!(chain.weights.get(&0), Some(&expected), "the reveal set the committed vector");
        assert!(chain.commits.is_empty(), "a revealed commit leaves the chain's storage");
        assert_eq!(chain.pulses.get(&round), Some(&DevBeacon::new().pulse(round)));
    });

    // The owner encrypts to quicknet while the chain's pulses are the dev beacon's: the commit lands, and its
    // reveal fails (silently on a real chain; the node keeps why).
    let to_quicknet = SetterSettings { beacon_public_key: QUICKNET.public_key, ..settings() };
    let owner = Keypair::from_uri("//Owner").unwrap();
    let set = WeightSetter::new(vec![node.url.parse().unwrap()], to_quicknet).set(&owner, &request()).await.unwrap();
    let revealed = reveals(&node, 2).await;
    assert_eq!(revealed[1].commit_block, set.block);
    assert!(revealed[1].result.starts_with("failed: the signature does not open this commit"), "{:?}", revealed[1]);
    assert_eq!(node.with(|chain| chain.weights.get(&1).cloned()), None);
    let events = node.with(|chain| chain.take_events());
    assert!(events.iter().any(|e| matches!(e, ChainEvent::Revealed { uid: 0, .. })), "{events:?}");
    assert!(events.iter().any(|e| matches!(e, ChainEvent::RevealFailed { uid: 1, .. })), "{events:?}");
    cancel.cancel();
}

#[tokio::test]
async fn an_unregistered_or_unpermitted_validator_sends_nothing() {
    let (node, _cancel) = start_node(NodeMetadata::finney_343(), false).await;
    let stranger = Keypair::from_uri("//Stranger").unwrap();
    let error = setter(&[&node.url]).set(&stranger, &request()).await.unwrap_err();
    assert!(matches!(error, SetWeightsError::Refused(WeightRefusal::NotRegistered { netuid: 46 })), "{error}");
    let unpermitted = Keypair::from_uri("//Unpermitted").unwrap();
    let error = setter(&[&node.url]).set(&unpermitted, &request()).await.unwrap_err();
    assert!(matches!(error, SetWeightsError::Refused(WeightRefusal::NoPermit { uid: 2, .. })), "{error}");
    assert!(node.with(|chain| chain.submissions.is_empty()));
}

/// The recorded v15 metadata, edited.
fn edited(edit: impl FnOnce(&mut frame_metadata::v15::RuntimeMetadataV15)) -> NodeMetadata {
    let recorded = NodeMetadata::finney_343();
    let inner = Option::<Vec<u8>>::decode(&mut recorded.v15.as_slice()).unwrap().unwrap();
    let mut prefixed = RuntimeMetadataPrefixed::decode(&mut inner.as_slice()).unwrap();
    let RuntimeMetadata::V15(metadata) = &mut prefixed.1 else { panic!("v15") };
    edit(metadata);
    NodeMetadata { v14: recorded.v14, v15: Some(prefixed.encode()).encode() }
}

#[tokio::test]
async fn a_runtime_without_the_call_or_with_an_unknown_extension_is_refused_before_anything_is_sent() {
    let without_call = edited(|m| {
        let id = m.pallets.iter().find(|p| p.name == SUBTENSOR_PALLET).unwrap().calls.as_ref().unwrap().ty.id;
        let ty = m.types.types.iter_mut().find(|t| t.id == id).unwrap();
        let scale_info::TypeDef::Variant(calls) = &mut ty.ty.type_def else { panic!("calls are an enum") };
        calls.variants.retain(|v| v.name != "set_weights");
    });
    let (node, _cancel) = start_node(without_call, false).await;
    let error = setter(&[&node.url]).set(&validator(), &request()).await.unwrap_err();
    assert!(matches!(&error, SetWeightsError::Runtime(RuntimeError::NoCall { .. })), "{error}");
    assert_eq!(error.to_string(), "nothing sent: the runtime has no call SubtensorModule.set_weights");
    assert!(node.with(|chain| chain.submissions.is_empty()));

    let mystery = edited(|m| {
        let nonce = m.extrinsic.signed_extensions.iter().find(|e| e.identifier == "CheckNonce").unwrap().clone();
        let mut mystery = nonce;
        mystery.identifier = "Mystery".to_string();
        m.extrinsic.signed_extensions.insert(3, mystery);
    });
    let (node, _cancel) = start_node(mystery, false).await;
    let error = setter(&[&node.url]).set(&validator(), &request()).await.unwrap_err();
    assert!(matches!(&error, SetWeightsError::Runtime(RuntimeError::UnknownExtension { .. })), "{error}");
    assert!(node.with(|chain| chain.submissions.is_empty()));
}

#[tokio::test]
async fn a_node_that_refuses_is_retried_and_an_endpoint_that_is_down_is_passed_over() {
    let (node, _cancel) = start_node(NodeMetadata::finney_343(), false).await;
    node.with(|chain| chain.refusals = 1);
    // Nothing listens on the first endpoint (a port just bound and released).
    let down = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let set = setter(&[&down, &node.url, &node.url]).set(&validator(), &request()).await.unwrap();
    assert_eq!(set.attempt, 3, "down, refused, then set");
    node.with(|chain| {
        assert_eq!(chain.submissions.len(), 2);
        assert!(chain.submissions[0].result.starts_with("refused: "), "{:?}", chain.submissions[0]);
        assert_eq!(chain.submissions[1].result, "applied");
    });

    // With every attempt refused, the error says how many were made and why the last failed.
    node.with(|chain| {
        chain.refusals = 10;
        chain.last_update[0] = 0;
    });
    let error = setter(&[&node.url]).set(&validator(), &request()).await.unwrap_err();
    assert!(matches!(error, SetWeightsError::Failed { attempts: 3, .. }), "{error}");
    assert!(error.to_string().contains("the node refused it (1010): Transaction pool is full"), "{error}");
}

#[tokio::test]
async fn a_submission_that_lands_after_its_attempt_gave_up_is_found_not_sent_again() {
    let (node, _cancel) = start_node(NodeMetadata::finney_343(), false).await;
    node.with(|chain| chain.inclusion_delay = 8);
    // The first attempt waits 3 blocks, the second starts a second later, after the first was included.
    let patient = WeightSetter::new(
        vec![node.url.parse().unwrap()],
        SetterSettings { confirm_blocks: 2, backoff: Duration::from_secs(1), ..settings() },
    );
    let set = patient.set(&validator(), &request()).await.unwrap();
    assert_eq!(set.attempt, 2);
    node.with(|chain| {
        assert_eq!(chain.submissions.len(), 1, "sent once: {:?}", chain.submissions);
        assert_eq!(chain.last_update[0], set.block);
    });
}

#[tokio::test]
async fn the_owners_burn_takes_its_share_on_chain() {
    let (node, _cancel) = start_node(NodeMetadata::finney_343(), false).await;
    let burned = WeightRequest { policy: WeightPolicy { burn: Some(Burn { uid: 1, share: 0.9 }) }, ..request() };
    let set = setter(&[&node.url]).set(&validator(), &burned).await.unwrap();
    // 0.9 to the owner; 0.1 × 5/8 and 0.1 × 3/8 to the miners, scaled so the largest is 65535.
    let on_chain = node.with(|chain| chain.weights.get(&0).cloned().unwrap());
    assert_eq!(on_chain, vec![(1, 65535), (3, 4551), (4, 2731)]);
    assert_eq!(set.planned.emitted.pairs().collect::<Vec<_>>(), on_chain);
}

/// `zipcoord validator set-weights` against `node` with `args`: exit success, stdout, stderr.
async fn set_weights_cli(node: &ChainNode, args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::from(crate::process::zipcoord())
        .args(["validator", "set-weights", "--key-uri", "//Zipcoord//validator", "--netuid", "46"])
        .args([
            "--metagraph",
            &format!("subtensor:{}", node.url),
            "--commit-beacon",
            "dev",
            "--block-time-seconds",
            "0.1",
        ])
        .args(args)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

#[tokio::test]
async fn the_cli_dry_run_shows_what_would_be_sent_and_sends_nothing() {
    let (node, _cancel) = start_node(NodeMetadata::finney_343(), false).await;
    let (ok, out, err) = set_weights_cli(
        &node,
        &["--uids", "0,3,4", "--weights", "0.2,0.5,0.3", "--burn-uid", "1", "--burn-share", "0.75", "--dry-run"],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("validator  uid 0 (5"), "{out}");
    assert!(out.contains("commit-reveal off: set_weights; version key 1038"), "{out}");
    assert!(out.contains("vector     3 weights (uid:u16) 1:65535 3:13653 4:8192"), "{out}");
    assert!(
        out.contains("call       SubtensorModule.set_weights(netuid: 46, dests: [1, 3, 4], weights: [65535, 13653, 8192], version_key: 1038)"),
        "{out}"
    );
    assert!(out.contains("extrinsic  0x"), "{out}");
    assert!(out.trim_end().ends_with("nothing sent (--dry-run)"), "{out}");
    assert!(node.with(|chain| chain.submissions.is_empty()));

    // With commit-reveal on, the dry run names the reveal round and hides nothing but the ciphertext.
    node.with(|chain| chain.parameters.commit_reveal = true);
    let (ok, out, err) = set_weights_cli(&node, &["--uids", "3,4", "--weights", "5,3", "--dry-run"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("commit-reveal on: a timelocked commit"), "{out}");
    assert!(out.contains("reveal     drand round "), "{out}");
    assert!(out.contains("SubtensorModule.commit_timelocked_weights(netuid: 46, commit: <"), "{out}");
    assert!(node.with(|chain| chain.submissions.is_empty()));
}

#[tokio::test]
async fn the_cli_sets_weights_from_a_results_file_and_explains_a_refusal() {
    let (node, _cancel) = start_node(NodeMetadata::finney_343(), false).await;
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("weights-2026-12-07T08-00-00.json");
    let judgement = serde_json::json!({
        "epochId": "2026-12-07T08-00-00", "validator": validator().hotkey().to_string(),
        "judgedAt": "2026-12-07T12:00:00.000Z", "spotChecksPerMiner": 10,
        "weights": {"3": 0.6, "5": 0.4}, "chainWeights": {"uids": [3, 5], "weights": [65535, 43690]}, "miners": [],
    });
    std::fs::write(&results, serde_json::to_vec(&judgement).unwrap()).unwrap();
    let (ok, out, err) = set_weights_cli(&node, &["--results", results.to_str().unwrap()]).await;
    assert!(ok, "{err}");
    assert!(out.starts_with("weights of uid 0 set: 2 weights, in block "), "{out}");
    assert_eq!(node.with(|chain| chain.weights.get(&0).cloned()), Some(vec![(3, 65535), (5, 43690)]));

    // At once again: refused by the rate limit, with the block it opens at, and nothing sent.
    let (ok, out, err) = set_weights_cli(&node, &["--uids", "3", "--weights", "1"]).await;
    assert!(!ok, "{out}");
    assert!(err.contains("nothing sent: uid 0 set weights"), "{err}");
    assert!(err.contains("allows it every 100 blocks (next at block"), "{err}");
    assert_eq!(node.with(|chain| chain.submissions.len()), 1);

    // Bad input is refused before the chain is asked.
    let (ok, _, err) = set_weights_cli(&node, &["--uids", "3,4", "--weights", "1"]).await;
    assert!(!ok && err.contains("--uids names 2 uids but --weights gives 1 weights"), "{err}");
    let (ok, _, err) = set_weights_cli(&node, &["--uids", "3", "--weights", "1", "--burn-uid", "1"]).await;
    assert!(!ok && err.contains("--burn-share"), "{err}");
}

#[tokio::test]
async fn a_judged_epochs_weights_go_on_chain_and_the_validator_keeps_what_became_of_them() {
    use zipcoord::client::state::StateDir;
    use zipcoord::client::validator::on_chain::{weight_settings, OnChainWeights};

    let (node, _cancel) = start_node(NodeMetadata::finney_343(), false).await;
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::open(dir.path(), validator().hotkey().to_string()).unwrap();
    let on_chain = OnChainWeights {
        setter: setter(&[&node.url]),
        policy: WeightPolicy { burn: Some(Burn { uid: 1, share: 0.5 }) },
        version_key: None,
    };
    let judgement = |epoch: &str| judged(epoch, &[(0, 0.5), (3, 0.5)]);
    let set = on_chain.put(&validator(), &judgement("2026-12-07T04-00-00"), &state).await;
    assert_eq!(set.outcome, "set", "{set:?}");
    assert_eq!((set.uids.clone(), set.values.clone()), (vec![1, 3], vec![65535, 65535]));
    assert_eq!(node.with(|chain| chain.weights.get(&0).cloned()), Some(vec![(1, 65535), (3, 65535)]));

    // The next epoch judged within the rate limit: refused, nothing sent, and said so.
    let refused = on_chain.put(&validator(), &judgement("2026-12-07T08-00-00"), &state).await;
    assert_eq!(refused.outcome, "refused");
    assert!(refused.detail.contains("allows it every 100 blocks"), "{refused:?}");
    assert_eq!(node.with(|chain| chain.submissions.len()), 1);
    assert_eq!(weight_settings(&state), vec![set, refused]);
}

#[tokio::test]
async fn when_judging_stops_the_last_vector_is_sent_again_before_the_activity_cutoff() {
    use zipcoord::client::state::StateDir;
    use zipcoord::client::validator::on_chain::{weight_settings, OnChainWeights};

    let cancel = CancellationToken::new();
    // 20 blocks of activity cutoff (2 s), 5 of rate limit.
    let quick = SubnetParameters { activity_cutoff: 20, rate_limit: 5, ..parameters(false) };
    let node = ChainNode::start(NodeMetadata::finney_343(), quick, neurons(), BLOCK, cancel.clone()).await.unwrap();
    tokio::time::sleep(BLOCK * 3).await;
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::open(dir.path(), validator().hotkey().to_string()).unwrap();
    let on_chain = OnChainWeights { setter: setter(&[&node.url]), policy: WeightPolicy::default(), version_key: None };
    assert_eq!(on_chain.keep_alive(&validator(), &state).await, None, "nothing landed yet, nothing to send again");
    let judgement = judged("2026-12-07T04-00-00", &[(3, 0.75), (4, 0.25)]);
    let first = on_chain.put(&validator(), &judgement, &state).await;
    assert_eq!(first.outcome, "set");
    assert_eq!(on_chain.keep_alive(&validator(), &state).await, None, "just set: far from the cutoff");

    // No judgement for 16 blocks (3/4 of the cutoff is 15): the last vector goes out again.
    tokio::time::sleep(BLOCK * 17).await;
    let again = on_chain.keep_alive(&validator(), &state).await.expect("sent again");
    assert_eq!((again.outcome.as_str(), again.resent), ("set", true), "{again:?}");
    assert_eq!((again.uids.clone(), again.values.clone()), (first.uids.clone(), first.values.clone()));
    assert!(again.block > first.block);
    assert_eq!(node.with(|chain| chain.submissions.len()), 2);
    assert_eq!(weight_settings(&state).len(), 2);

    // The validator's relay serves what it counted.
    let epochs = zipcoord::client::epochs::Epochs::new(
        zipcoord::client::ZipcoordClient::new("http://127.0.0.1:9".to_string()),
        Vec::new(),
        std::sync::Arc::from(zipcoord::beacon::open(&zipcoord::beacon::BeaconSettings::new(
            zipcoord::beacon::BeaconSpec::Dev,
        ))),
        StateDir::open(dir.path().join("relay"), validator().hotkey().to_string()).unwrap(),
    );
    let relay = crate::outage::start_relay(std::sync::Arc::new(epochs)).await;
    let metrics = reqwest::get(format!("{relay}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("zipcoord_validator_weight_settings_total{outcome=\"set\"}"), "{metrics}");
    assert!(metrics.contains("zipcoord_validator_weights_block"), "{metrics}");
    cancel.cancel();
}

/// A judged epoch of this validator with `weights` (uid, weight).
fn judged(epoch: &str, weights: &[(u16, f64)]) -> zipcoord::client::validator::EpochJudgement {
    zipcoord::client::validator::EpochJudgement {
        epoch_id: epoch.to_string(),
        validator: validator().hotkey().to_string(),
        judged_at: "2026-12-07T12:00:00.000Z".to_string(),
        spot_checks_per_miner: 10,
        weights: weights.iter().map(|(uid, w)| (uid.to_string(), *w)).collect(),
        chain_weights: zipcoord::client::validator::ChainWeights { uids: Vec::new(), weights: Vec::new() },
        miners: Vec::new(),
        zipcode_listings: Default::default(),
    }
}

#[tokio::test]
async fn a_setter_without_endpoints_says_so() {
    let error = WeightSetter::new(Vec::new(), settings()).set(&validator(), &request()).await.unwrap_err();
    assert!(matches!(&error, SetWeightsError::Unreadable(why) if why.contains("no subtensor endpoint")), "{error}");
}

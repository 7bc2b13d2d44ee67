//! The bittensor SDK (9.9.0, as the subnet pins it) as the oracle for what the validator puts on chain: the
//! normalized weight vector, the call bytes under both recorded finney runtimes, the signed transaction as
//! the SDK's codec decodes and verifies it, and the timelocked commit and its reveal round as bittensor-drand
//! makes and opens them. `scripts/interop/sdk-venv.sh` installs the SDK (scripts/test.sh runs
//! it first); `scripts/interop/sdk_oracle.py` answers.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use zipcoord::chain::subtensor::calls::WeightCall;
use zipcoord::chain::subtensor::commit::{
    decrypt_with_signature, encrypt_to_round, reveal_round, reveal_round_stateful, RevealSchedule, WeightsTlockPayload,
};
use zipcoord::chain::subtensor::epoch_schedule::EpochScheduleState;
use zipcoord::chain::subtensor::extrinsic::{sign_extrinsic, SigningContext};
use zipcoord::chain::subtensor::runtime::RuntimeLayout;
use zipcoord::domain::access::keys::Keypair;
use zipcoord::domain::epoch::beacon::QUICKNET;
use zipcoord::domain::judging::weights::{sdk_weight_vector, WeightLimits};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python of one oracle venv that `scripts/interop/sdk-venv.sh` makes (`scripts/test.sh` runs it): `env` when
/// set, else `target/{venv}/bin/python`; `what` names the oracle when it is missing.
fn oracle_python(env: &str, venv: &str, what: &str) -> PathBuf {
    let python =
        std::env::var_os(env).map(PathBuf::from).unwrap_or_else(|| repo().join(format!("target/{venv}/bin/python")));
    assert!(
        python.exists(),
        "{what} is not installed at {}: run scripts/interop/sdk-venv.sh (scripts/test.sh does)",
        python.display()
    );
    python
}

/// The Python with the SDK installed.
fn sdk_python() -> PathBuf {
    oracle_python("ZIPCOORD_SDK_PYTHON", "sdk-venv", "the bittensor SDK oracle")
}

/// bittensor-drand 2.x's Python.
fn drand2_python() -> PathBuf {
    oracle_python("ZIPCOORD_DRAND2_PYTHON", "drand2-venv", "bittensor-drand 2.x")
}

/// Asks the SDK oracle; its answer, or a panic carrying what it printed.
pub fn ask_sdk(request: Value) -> Value {
    ask(&sdk_python(), "scripts/interop/sdk_oracle.py", request)
}

/// Asks one of the oracles: `script` run by `python`, the request on its stdin.
fn ask(python: &std::path::Path, script: &str, request: Value) -> Value {
    let mut child = Command::new(python)
        .arg(repo().join(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the SDK's Python starts");
    let body = serde_json::to_vec(&request).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "the oracle failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("the oracle's answer is not JSON: {e}"))
}

pub fn metadata(spec: u32, version: &str) -> PathBuf {
    repo().join(format!("tests/vectors/finney/spec{spec}.metadata-{version}.scale.gz"))
}

fn runtime(spec: u32, version: &str) -> RuntimeLayout {
    use std::io::Read;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(metadata(spec, version)).unwrap())
        .read_to_end(&mut bytes)
        .unwrap();
    RuntimeLayout::from_metadata(&bytes).unwrap()
}

/// One random score vector of the kinds that break naive normalizations.
fn random_case(rng: &mut ChaCha8Rng) -> (Vec<f64>, u16, u16) {
    let n = if rng.gen_bool(0.7) { rng.gen_range(1..=40) } else { rng.gen_range(41..=300) };
    let zero_share = rng.gen_range(0.0..0.95);
    let tie_pool: Vec<f64> = (0..3).map(|_| rng.gen::<f64>()).collect();
    let scores = (0..n)
        .map(|_| {
            if rng.gen_bool(zero_share) {
                0.0
            } else {
                match rng.gen_range(0..5) {
                    0 => tie_pool[rng.gen_range(0..tie_pool.len())],
                    1 => rng.gen_range(1e-12..1e-4),
                    2 => rng.gen::<f64>().powi(6),
                    _ => rng.gen::<f64>(),
                }
            }
        })
        .collect();
    let min_allowed_weights = match rng.gen_range(0..4) {
        0 => 0,
        1 => rng.gen_range(1..=8),
        2 => rng.gen_range(0..=n as u16 + 5),
        _ => 1,
    };
    let max_weights_limit = match rng.gen_range(0..4) {
        0 => rng.gen_range(300..65535),
        1 => rng.gen_range(3000..20000),
        _ => 65535,
    };
    (scores, min_allowed_weights, max_weights_limit)
}

#[test]
fn ten_thousand_random_vectors_normalize_as_the_sdk_normalizes_them() {
    let mut rng = ChaCha8Rng::seed_from_u64(36);
    let cases: Vec<(Vec<f64>, u16, u16)> = (0..10_000).map(|_| random_case(&mut rng)).collect();
    let request = json!({
        "command": "weights",
        "cases": cases.iter().map(|(scores, min, max)| json!({
            "scores": scores, "min_allowed_weights": min, "max_weights_limit": max,
        })).collect::<Vec<_>>(),
    });
    let answer = ask_sdk(request);
    let expected = answer["results"].as_array().unwrap();
    assert_eq!(expected.len(), cases.len());
    let mut differing = Vec::new();
    for ((scores, min_allowed_weights, max_weights_limit), sdk) in cases.iter().zip(expected) {
        let limits = WeightLimits { min_allowed_weights: *min_allowed_weights, max_weights_limit: *max_weights_limit };
        let ours = sdk_weight_vector(scores, limits);
        let theirs: (Vec<u16>, Vec<u16>) = (
            serde_json::from_value(sdk["uids"].clone()).unwrap(),
            serde_json::from_value(sdk["values"].clone()).unwrap(),
        );
        if (ours.uids.clone(), ours.values.clone()) != theirs {
            differing.push(format!(
                "{limits:?} {scores:?}: ours {:?}, the SDK's {theirs:?}",
                ours.pairs().collect::<Vec<_>>()
            ));
        }
    }
    assert!(differing.is_empty(), "{} of 10,000 differ, first: {}", differing.len(), differing[0]);
}

#[test]
fn call_bytes_equal_the_sdks_compose_call_under_both_recorded_runtimes() {
    let calls = [
        WeightCall::SetWeights { netuid: 46, dests: vec![238, 5, 7], weights: vec![65535, 1234, 1], version_key: 1038 },
        WeightCall::SetWeights {
            netuid: 1,
            dests: (0..256).collect(),
            weights: (0..256).map(|i| i * 200).collect(),
            version_key: u64::MAX,
        },
        WeightCall::CommitTimelockedWeights {
            netuid: 46,
            commit: (0..=255).cycle().take(300).collect(),
            reveal_round: 12_345_678,
            commit_reveal_version: 4,
        },
    ];
    for spec in [320, 343] {
        for call in &calls {
            let args = match call {
                WeightCall::SetWeights { netuid, dests, weights, version_key } => {
                    json!({"netuid": netuid, "dests": dests, "weights": weights, "version_key": version_key})
                }
                WeightCall::CommitTimelockedWeights { netuid, commit, reveal_round, commit_reveal_version } => json!({
                    "netuid": netuid, "commit": hex::encode(commit), "reveal_round": reveal_round,
                    "commit_reveal_version": commit_reveal_version,
                }),
            };
            let sdk = ask_sdk(json!({
                "command": "compose_call", "metadata": metadata(spec, "v14"), "spec": spec,
                "call": call.name(), "args": args,
            }));
            for version in ["v14", "v15"] {
                let ours = format!("0x{}", hex::encode(call.encode(&runtime(spec, version)).unwrap()));
                assert_eq!(ours, sdk["hex"].as_str().unwrap(), "spec {spec} {version} {}", call.name());
            }
        }
    }
}

#[test]
fn storage_keys_equal_the_sdks_for_every_item_the_weight_setter_reads() {
    use parity_scale_codec::Encode;
    let hotkey = [0xd4u8; 32];
    // (item, the SDK's parameters, ours SCALE-encoded)
    let items: Vec<(&str, Value, Vec<Vec<u8>>)> = vec![
        ("CommitRevealWeightsEnabled", json!([46]), vec![46u16.encode()]),
        ("CommitRevealWeightsVersion", json!([]), vec![]),
        ("MinAllowedWeights", json!([46]), vec![46u16.encode()]),
        ("MaxWeightsLimit", json!([46]), vec![46u16.encode()]),
        ("WeightsVersionKey", json!([46]), vec![46u16.encode()]),
        ("WeightsSetRateLimit", json!([46]), vec![46u16.encode()]),
        ("LastUpdate", json!([46]), vec![46u16.encode()]),
        ("Tempo", json!([46]), vec![46u16.encode()]),
        ("RevealPeriodEpochs", json!([46]), vec![46u16.encode()]),
        ("ActivityCutoff", json!([46]), vec![46u16.encode()]),
        ("ValidatorPermit", json!([46]), vec![46u16.encode()]),
        ("Uids", json!([46, format!("0x{}", hex::encode(hotkey))]), vec![46u16.encode(), hotkey.to_vec()]),
        ("TimelockedWeightCommits", json!([46, 4242]), vec![46u16.encode(), 4242u64.encode()]),
    ];
    for spec in [320, 343] {
        let request: Vec<Value> =
            items.iter().map(|(item, params, _)| json!({"item": item, "params": params})).collect();
        let sdk = ask_sdk(
            json!({"command": "storage_key", "metadata": metadata(spec, "v14"), "spec": spec, "items": request}),
        );
        let runtime = runtime(spec, "v15");
        assert_eq!(sdk["keys"].as_array().unwrap().len(), items.len());
        for ((item, _, keys), theirs) in items.iter().zip(sdk["keys"].as_array().unwrap()) {
            let layout = runtime.storage("SubtensorModule", item).unwrap();
            let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
            let ours = format!("0x{}", hex::encode(layout.key(&keys).unwrap()));
            assert_eq!(ours, theirs.as_str().unwrap(), "spec {spec} {item}");
        }
    }
}

#[test]
fn the_signed_transaction_decodes_with_the_sdks_codec_and_its_signature_verifies_over_the_sdks_payload() {
    let hotkey = Keypair::from_uri("//Bob//validator").unwrap();
    for (spec, call, nonce) in [
        (
            343,
            WeightCall::SetWeights {
                netuid: 46,
                dests: vec![3, 9, 250],
                weights: vec![65535, 20000, 1],
                version_key: 7,
            },
            0,
        ),
        // Long enough that the payload is signed by its hash.
        (
            320,
            WeightCall::CommitTimelockedWeights {
                netuid: 46,
                commit: vec![0x5a; 400],
                reveal_round: 21_000_000,
                commit_reveal_version: 4,
            },
            1_234_567,
        ),
    ] {
        let runtime = runtime(spec, "v15");
        let context = SigningContext {
            spec_version: spec,
            transaction_version: 1,
            genesis_hash: [0x2f; 32],
            birth_block: 6_553_607,
            birth_hash: [0x11; 32],
            nonce,
        };
        let bytes = call.encode(&runtime).unwrap();
        let signed = sign_extrinsic(&runtime, &bytes, &context, &hotkey).unwrap();
        let sdk = ask_sdk(json!({
            "command": "extrinsic", "metadata": metadata(spec, "v14"), "spec": spec,
            "hex": format!("0x{}", hex::encode(&signed.bytes)),
            "genesis": format!("0x{}", hex::encode([0x2f; 32])),
            "birth_hash": format!("0x{}", hex::encode([0x11; 32])),
            "birth_block": 6_553_607,
        }));
        assert_eq!(sdk["module"], "SubtensorModule");
        assert_eq!(sdk["function"], call.name());
        assert_eq!(sdk["call_hex"].as_str().unwrap(), format!("0x{}", hex::encode(&bytes)));
        assert_eq!(sdk["era"], json!([32, 6_553_607 % 32]));
        assert_eq!(sdk["nonce"], nonce);
        assert_eq!(sdk["tip"], 0);
        assert_eq!(sdk["signer"].as_str().unwrap(), format!("0x{}", hex::encode(hotkey.hotkey().public_bytes())));
        if signed.payload.len() <= 256 {
            assert_eq!(sdk["payload"].as_str().unwrap(), format!("0x{}", hex::encode(&signed.payload)));
        } else {
            // The SDK hands over the payload's blake2b-256 hash, as it signs it.
            assert_eq!(sdk["payload"].as_str().unwrap().len(), 2 + 64, "spec {spec}");
        }
        assert_eq!(sdk["signature_verifies"], true, "spec {spec}: {sdk}");
    }
}

/// Round 1000 of quicknet and its signature (tests/vectors/drand-quicknet.json).
const ROUND_1000_SIGNATURE: &str =
    "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

#[test]
fn a_commit_decrypts_with_bittensor_drand_and_the_sdks_own_ciphertext_decrypts_here() {
    let hotkey = Keypair::from_uri("//Bob//validator").unwrap();
    let payload = WeightsTlockPayload {
        hotkey: *hotkey.hotkey().public_bytes(),
        weights: sdk_weight_vector(&[0.0, 0.6, 0.3, 0.1, 1e-7], WeightLimits::NONE),
        version_key: 1038,
    };
    let ours = encrypt_to_round(&payload.encode(), 1000, &QUICKNET.public_key).unwrap();
    let opened = ask_sdk(json!({
        "command": "drand_decrypt", "ciphertext": hex::encode(&ours), "round": 1000, "signature": ROUND_1000_SIGNATURE,
    }));
    let plaintext = hex::decode(opened["plaintext"].as_str().unwrap()).unwrap();
    assert_eq!(WeightsTlockPayload::decode(&plaintext).unwrap(), payload);
    assert_eq!(payload.weights.uids, vec![1, 2, 3]);

    let theirs =
        ask_sdk(json!({"command": "drand_encrypt", "plaintext": hex::encode(payload.encode()), "round": 1000}));
    let ciphertext = hex::decode(theirs["ciphertext"].as_str().unwrap()).unwrap();
    let signature = hex::decode(ROUND_1000_SIGNATURE).unwrap();
    assert_eq!(
        WeightsTlockPayload::decode(&decrypt_with_signature(&ciphertext, &signature).unwrap()).unwrap(),
        payload
    );
}

#[test]
fn the_reveal_round_equals_bittensor_drands_for_the_same_chain_state_and_second() {
    for (block, netuid, tempo, reveal_period_epochs, block_time) in
        [(6_553_607u64, 46u16, 360u64, 1u64, 12.0), (100, 1, 99, 3, 12.0), (5_000_000, 300, 10, 2, 0.25)]
    {
        let sdk = ask_sdk(json!({
            "command": "reveal_round", "block": block, "netuid": netuid, "tempo": tempo,
            "reveal_period_epochs": reveal_period_epochs, "block_time": block_time,
        }));
        let schedule = RevealSchedule { block, netuid, tempo, reveal_period_epochs };
        let (before, after) = (sdk["before"].as_f64().unwrap(), sdk["after"].as_f64().unwrap());
        let round = sdk["round"].as_u64().unwrap();
        let (earliest, latest) =
            (reveal_round(schedule, before, block_time), reveal_round(schedule, after, block_time));
        assert!(earliest <= round && round <= latest, "{schedule:?}: ours {earliest}..={latest}, the SDK's {round}");
        assert!(latest - earliest <= 1, "the oracle took more than a round's time");
    }
}

#[test]
fn the_reveal_round_under_the_stateful_epoch_counter_equals_bittensor_drand_2s() {
    let schedule =
        |last_epoch_block, pending_epoch_at, subnet_epoch_index, tempo, blocks_since_last_step, current_block| {
            EpochScheduleState {
                last_epoch_block,
                pending_epoch_at,
                subnet_epoch_index,
                tempo,
                blocks_since_last_step,
                current_block,
            }
        };
    for (head, reveal_period_epochs, block_time) in [
        (schedule(10, 0, 0, 50, 0, 10), 1u64, 12.0),
        (schedule(80, 95, 3, 20, 11, 91), 1, 12.0),
        // The epoch fires in the block the commit lands in.
        (schedule(6_553_247, 0, 18_203, 360, 359, 6_553_606), 1, 12.0),
        (schedule(6_553_247, 0, 18_203, 360, 359, 6_553_606), 3, 0.25),
        // Long without a step: an epoch fires at once.
        (schedule(0, 0, 2, 99, 50_401, 70_000), 2, 12.0),
    ] {
        let answer = ask(
            &drand2_python(),
            "scripts/interop/drand2_oracle.py",
            json!({
                "command": "reveal_round_v2", "last_epoch_block": head.last_epoch_block,
                "pending_epoch_at": head.pending_epoch_at, "subnet_epoch_index": head.subnet_epoch_index,
                "tempo": head.tempo, "blocks_since_last_step": head.blocks_since_last_step,
                "current_block": head.current_block, "reveal_period_epochs": reveal_period_epochs,
                "block_time": block_time,
            }),
        );
        let (before, after) = (answer["before"].as_f64().unwrap(), answer["after"].as_f64().unwrap());
        let round = answer["round"].as_u64().unwrap();
        let ours = |now| reveal_round_stateful(&head, reveal_period_epochs, now, block_time).unwrap();
        let (earliest, latest) = (ours(before), ours(after));
        assert!(
            earliest <= round && round <= latest,
            "{head:?}: ours {earliest}..={latest}, bittensor-drand's {round}"
        );
        assert!(latest - earliest <= 1, "the oracle took more than a round's time");
    }
}

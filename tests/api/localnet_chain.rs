//! `zipcoord localnet --chain --commit-reveal on` as one process, read as a person reads it: the validators'
//! timelocked commits reach the loopback chain, the chain reveals them an epoch later with the dev beacon's
//! pulses, and the summary shows the weights it holds. Then what the node kept under `D/chain/` is checked as
//! anyone would check it: the SDK decodes every transaction and verifies its signature over the recorded
//! blocks, `bittensor-drand` decrypts every commit with the recorded pulse of its round, and every pulse verifies
//! against the dev beacon's key.

use serde_json::{json, Value};
use zipcoord::chain::subtensor::commit::WeightsTlockPayload;
use zipcoord::domain::access::keys::Keypair;
use zipcoord::domain::epoch::beacon::{DevBeacon, Pulse};

use crate::process::run_localnet;
use crate::sdk_oracle::{ask_sdk, metadata};

fn lines(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn localnet_on_a_chain_with_commit_reveal_puts_every_validators_weights_on_it_and_keeps_the_proof() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = run_localnet(
        dir.path(),
        &["--miners", "3", "--validators", "2", "--epochs", "1", "--chain", "--commit-reveal", "on"],
    )
    .await;

    // What a person watching sees: the chain's line in the header, each commit, each reveal, and the summary.
    assert!(stdout.contains("chain         http://127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("commit-reveal on: commits to the dev beacon, revealed an epoch later"), "{stdout}");
    for uid in [0, 1] {
        assert!(stdout.contains(&format!("uid {uid} committed its weights (timelocked to beacon round ")), "{stdout}");
        assert!(stdout.contains(&format!("revealed uid {uid}'s commit of block ")), "{stdout}");
        assert!(stdout.contains(&format!("    uid {uid} (validator {}) weights set at block ", uid + 1)), "{stdout}");
    }
    assert!(!stdout.contains("did not reveal"), "{stdout}");
    assert!(!stdout.contains("were not revealed in time"), "{stdout}");
    let summary = stdout.lines().find(|l| l.contains("transactions applied")).expect("a summary");
    assert!(
        summary.contains(", 0 refused;") && summary.ends_with(" failed") && summary.contains(" 0 failed"),
        "{summary}"
    );

    // The recorded chain: block 0 is the genesis and the numbers run on without a gap.
    let folder = dir.path().join("chain");
    let blocks = lines(&folder.join("blocks.jsonl"));
    assert!(blocks.len() > 10, "{}", blocks.len());
    for (number, block) in blocks.iter().enumerate() {
        assert_eq!(block["number"], number);
    }
    let hashes: Vec<&str> = blocks.iter().map(|b| b["hash"].as_str().unwrap()).collect();

    // The pulses the node holds verify against the dev beacon's key.
    let beacon = DevBeacon::new();
    let mut pulses = std::collections::HashMap::new();
    for line in lines(&folder.join("pulses.jsonl")) {
        let round = line["round"].as_u64().unwrap();
        let pulse = Pulse::from_hex(round, line["signature"].as_str().unwrap()).unwrap();
        let randomness = beacon.chain().verify(&pulse).expect("a pulse of the dev beacon");
        assert_eq!(line["randomness"], randomness.to_hex());
        pulses.insert(round, pulse.signature_hex());
    }

    // Every transaction: only commits, applied, decoded and verified by the SDK, and opened by bittensor-drand
    // to the committer's own hotkey and a vector over the miners.
    let validators: Vec<[u8; 32]> =
        (1..=2).map(|i| *Keypair::from_uri(&format!("//Validator{i}")).unwrap().hotkey().public_bytes()).collect();
    let extrinsics = lines(&folder.join("extrinsics.jsonl"));
    assert!(extrinsics.len() >= 2, "one commit per validator and judged epoch at least: {extrinsics:?}");
    for extrinsic in &extrinsics {
        assert_eq!(extrinsic["result"], "applied", "{extrinsic}");
        assert!(extrinsic["submittedAt"].as_str().unwrap().ends_with('Z'));
        let sdk = ask_sdk(json!({
            "command": "extrinsic", "metadata": metadata(343, "v14"), "spec": 343,
            "hex": extrinsic["hex"], "blocks": hashes, "block": extrinsic["block"],
        }));
        assert_eq!(sdk["signature_verifies"], true, "{sdk}");
        assert_eq!(sdk["function"], "commit_timelocked_weights", "no set_weights while commit-reveal is on");
        assert_eq!(sdk["args"]["netuid"], 46, "the coordinator's default subnet");
        let round = sdk["args"]["reveal_round"].as_u64().unwrap();
        let signature = pulses.get(&round).unwrap_or_else(|| panic!("the node holds round {round}'s pulse"));
        let commit = sdk["args"]["commit"].as_str().unwrap().trim_start_matches("0x");
        let opened =
            ask_sdk(json!({"command": "drand_decrypt", "ciphertext": commit, "round": round, "signature": signature}));
        let payload =
            WeightsTlockPayload::decode(&hex::decode(opened["plaintext"].as_str().unwrap()).unwrap()).unwrap();
        let signer: [u8; 32] =
            hex::decode(sdk["signer"].as_str().unwrap().trim_start_matches("0x")).unwrap().try_into().unwrap();
        assert_eq!(payload.hotkey, signer);
        assert!(validators.contains(&signer));
        assert!(!payload.weights.uids.is_empty() && payload.weights.uids.iter().all(|&uid| uid >= 2), "{payload:?}");
    }
}

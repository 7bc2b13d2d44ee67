//! A whole subnet in `groups` mode with consensus validation only: fifteen miners in groups of five, among them
//! an inventor, a shader and a sybil pair. Every liar is zeroed by what its group reported (once the honest have
//! earned credibility), no honest miner is, no listing is checked at its source, and the published verdicts
//! say why, with each miner's agreement and credibility.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::outage::verdicts;

#[tokio::test]
async fn consensus_alone_zeroes_every_kind_of_liar_and_no_honest_miner() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--epochs",
        "2",
        "--miners",
        "15",
        "--liars",
        "inventor,shader,sybil",
        "--assignment-mode",
        "groups",
        "--group-size",
        "5",
        "--validation",
        "consensus",
    ];
    let stdout = crate::process::run_localnet(dir.path(), &args).await;
    assert!(stdout.contains("groups of at most 5 miners, validation consensus"), "{stdout}");
    // Two validators (uids 0, 1), then the miners: uids 2-12 honest, 13 inventor, 14 shader, 15-16 the sybils.
    let judged: Vec<String> = stdout
        .lines()
        .filter(|l| l.starts_with("[validator 1] epoch ") && l.contains(" judged at "))
        .map(|l| l.split_whitespace().nth(3).unwrap().to_string())
        .collect();
    let whole = judged.last().expect("an epoch was judged");
    // Under load a miner may miss an epoch's deadline (absent); no honest miner is ever called a liar. In the
    // first epochs judged every miner has neutral credibility, and an inventor with a sybil beside it (three
    // operators against two) is no clear majority yet; once the honest have earned credibility (the last epoch,
    // after a whole one), every liar is zeroed.
    let blocks: Vec<_> = judged.iter().flat_map(|epoch| verdicts(&stdout, epoch)).collect();
    for block in &blocks {
        for uid in 2..=12u16 {
            assert_ne!(block[&uid].0, "liar", "uid {uid}: {stdout}");
        }
    }
    for block in verdicts(&stdout, whole) {
        if (2..=16u16).all(|uid| block[&uid].0 != "absent") {
            for uid in 13..=16u16 {
                assert_eq!(block[&uid].1, 0.0, "uid {uid} paid in {whole}: {stdout}");
            }
        }
    }
    for uid in 13..=16u16 {
        assert!(blocks.iter().any(|b| b[&uid].0 == "liar"), "uid {uid} never caught: {stdout}");
    }
    let paid = |uid: u16| blocks.iter().filter(|b| b[&uid].1 > 0.0).count();
    assert!((2..=12).all(|uid| paid(uid) > 0), "every honest miner paid at least once: {stdout}");
    let whole = judged
        .iter()
        .rev()
        .find(|epoch| verdicts(&stdout, epoch).iter().all(|b| (2..=16u16).all(|uid| b[&uid].0 != "absent")))
        .unwrap_or(whole);

    // The published verdicts carry the consensus findings.
    let validators = dir.path().join("s3/localnet/validators");
    let validator = std::fs::read_dir(&validators).unwrap().next().unwrap().unwrap().path();
    let results = std::fs::read_dir(validator.join(whole)).unwrap().next().unwrap().unwrap().path();
    let judgement: Value = serde_json::from_slice(&std::fs::read(results).unwrap()).unwrap();
    let by_uid: BTreeMap<u64, &Value> =
        judgement["miners"].as_array().unwrap().iter().map(|m| (m["uid"].as_u64().unwrap(), m)).collect();
    let consensus = |uid: u64| &by_uid[&uid]["consensus"];
    let present = |uid: &u64| by_uid[uid]["verdict"] != "absent";
    for uid in (2..=12).filter(present) {
        assert_eq!(consensus(uid)["agreementRate"], 1.0, "uid {uid}: {}", by_uid[&uid]);
        assert_eq!(consensus(uid)["spotChecks"]["checked"], 0, "consensus mode checks nothing at the source");
    }
    if present(&14) {
        assert!(!consensus(14)["contradicted"].as_array().unwrap().is_empty(), "{}", by_uid[&14]);
        assert!(by_uid[&14]["reasons"][0].as_str().unwrap().contains("contradicted by its group's other operators"));
    }
    for uid in [13, 15, 16].into_iter().filter(present) {
        assert_eq!(consensus(uid)["compared"], 0, "{}", by_uid[&uid]);
        assert!(by_uid[&uid]["reasons"][0].as_str().unwrap().contains("reported by enough other operators"));
    }
    // Credibility: honest miners above neutral, liars below, kept in the validator's state directory.
    let kept: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("validators/validator1/credibility.json")).unwrap())
            .unwrap();
    let hotkey = |uid: u64| by_uid[&uid]["hotkey"].as_str().unwrap().to_string();
    let credibility = |uid: u64| kept["body"]["byHotkey"][hotkey(uid)].as_f64().unwrap();
    assert!(credibility(2) > 0.5 && credibility(14) < 0.5, "{kept}");
}

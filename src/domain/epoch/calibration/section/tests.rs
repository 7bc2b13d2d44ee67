use super::*;
use crate::domain::epoch::zipcode::MarketTier;

const E1: &str = "2026-12-01T00-00-00";
const E2: &str = "2026-12-01T04-00-00";

fn candidate(zipcode: &str, expected: u32) -> InputCandidate {
    InputCandidate {
        zipcode: zipcode.parse().unwrap(),
        expected_listings: expected,
        tier: MarketTier::Standard,
        weight_millis: 1000,
        last_assigned_unix: None,
    }
}

/// `validator`'s file for `epoch`: every zipcode with the same three miners' counts.
fn file(epoch: &str, validator: &str, zipcodes: &[(&str, [u64; 3])]) -> PublishedEvidence {
    PublishedEvidence {
        file: EvidenceFile {
            epoch: epoch.parse().unwrap(),
            validator: validator.into(),
            file: format!("validators/{validator}/{epoch}/results_1.json"),
            sha256: format!("{:064x}", validator.len() + epoch.len()),
        },
        zipcodes: zipcodes
            .iter()
            .map(|(z, counts)| {
                let by_miner = ["m1", "m2", "m3"].iter().zip(counts).map(|(m, &n)| (m.to_string(), n)).collect();
                (z.parse().unwrap(), by_miner)
            })
            .collect(),
    }
}

fn own(hotkey: &str) -> Option<String> {
    Some(format!("cold-{hotkey}"))
}

fn candidates() -> Vec<InputCandidate> {
    vec![candidate("10001", 150), candidate("10002", 150), candidate("10003", 150), candidate("10004", 150)]
}

fn evidence() -> Vec<PublishedEvidence> {
    vec![
        // Epoch 1: both validators saw 10001 large and 10002 small.
        file(E1, "v1", &[("10001", [600, 580, 590]), ("10002", [10, 9, 10])]),
        file(E1, "v2", &[("10001", [600, 570, 595]), ("10002", [10, 10, 8])]),
        // Epoch 2: 10001 again (newer, smaller), 10003 by one validator only.
        file(E2, "v1", &[("10001", [300, 280, 290]), ("10003", [900, 900, 900])]),
        file(E2, "v2", &[("10001", [310, 300, 305])]),
    ]
}

#[test]
fn quorate_evidence_moves_values_one_step_and_the_newest_epoch_wins() {
    let rule = CalibrationRule::standard(5, 3000);
    let mut calibrated = candidates();
    let section = calibrate(rule, &mut calibrated, &evidence(), &HashMap::new(), &own);
    let values: Vec<u32> = calibrated.iter().map(|c| c.expected_listings).collect();
    // 10001 towards 300 (epoch 2, newer than epoch 1's 600), 10002 down one step towards 10, 10003 has one
    // validator only and 10004 no evidence: both keep their value.
    assert_eq!(values, [187, 113, 150, 150]);
    let e2: EpochId = E2.parse().unwrap();
    assert_eq!(
        section.moves[0],
        CalibrationMove { zipcode: "10001".parse().unwrap(), from: 150, to: 187, evidence_epoch: e2 }
    );
    assert_eq!(section.moves.len(), 2);
    assert_eq!(section.evidence.len(), 4);
    assert_eq!(section.coldkeys.len(), 3);
    assert!(section.holds.is_empty());
    section.recheck(&calibrated, &evidence(), 5, 3000).expect("the section rechecks");
}

#[test]
fn an_import_holds_back_the_evidence_from_before_it() {
    let rule = CalibrationRule::standard(5, 3000);
    let mut calibrated = candidates();
    // 10002 was imported after epoch 1 started: its only evidence no longer counts. 10001's import between the
    // epochs leaves epoch 2's evidence.
    let e1: EpochId = E1.parse().unwrap();
    let imports = HashMap::from([
        ("10002".parse().unwrap(), e1.start_unix() + 60),
        ("10001".parse().unwrap(), e1.start_unix() + 60),
    ]);
    let section = calibrate(rule, &mut calibrated, &evidence(), &imports, &own);
    let values: Vec<u32> = calibrated.iter().map(|c| c.expected_listings).collect();
    assert_eq!(values, [187, 150, 150, 150]);
    assert_eq!(section.holds.len(), 2);
    section.recheck(&calibrated, &evidence(), 5, 3000).unwrap();
}

#[test]
fn the_section_reads_back_canonically_and_a_recheck_catches_every_tampering() {
    let rule = CalibrationRule::standard(5, 3000);
    let mut calibrated = candidates();
    let section = calibrate(rule, &mut calibrated, &evidence(), &HashMap::new(), &own);
    let mut json = String::new();
    section.write_json(&mut json);
    assert!(json.starts_with("{\"coldkeys\":{\"m1\":\"cold-m1\""), "{json}");
    assert!(
        json.contains(
            "\"moves\":[[\"10001\",150,187,\"2026-12-01T04-00-00\"],[\"10002\",150,113,\"2026-12-01T00-00-00\"]]"
        ),
        "{json}"
    );
    assert!(json.ends_with("\"rule\":{\"agreementPermille\":200,\"maxStepPermille\":250,\"minColdkeys\":3,\"minValidators\":2,\"quantilePermille\":900,\"version\":1}}"), "{json}");
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(CalibrationSection::from_value(&value, 5, 3000).unwrap(), section);

    // A move the evidence does not support.
    let mut inflated = section.clone();
    inflated.moves[0].to = 250;
    let mut served = calibrated.clone();
    served[0].expected_listings = 250;
    assert!(matches!(inflated.recheck(&served, &evidence(), 5, 3000), Err(CalibrationDiffers::Moves { .. })));
    // A move the evidence calls for, left out.
    let mut withheld = section.clone();
    withheld.moves.retain(|m| m.zipcode.to_string() != "10002");
    let mut served = calibrated.clone();
    served[1].expected_listings = 150;
    assert!(matches!(withheld.recheck(&served, &evidence(), 5, 3000), Err(CalibrationDiffers::Moves { .. })));
    // A zipcode without quorate evidence is the operator's to set (by import): nothing to recheck there.
    let mut imported = calibrated.clone();
    imported[3].expected_listings = 900;
    assert_eq!(section.recheck(&imported, &evidence(), 5, 3000), Ok(()));
    // A move not applied to the candidates.
    assert!(matches!(section.recheck(&candidates(), &evidence(), 5, 3000), Err(CalibrationDiffers::NotApplied { .. })));
    // Verdicts read back that are not the files named.
    let mut other = evidence();
    other[0].file.sha256 = "00".repeat(32);
    assert!(matches!(section.recheck(&calibrated, &other, 5, 3000), Err(CalibrationDiffers::Evidence { .. })));
    // A hidden coldkey link: claiming the three miners are one operator removes the moves' quorum.
    let mut merged = section.clone();
    merged.coldkeys.values_mut().for_each(|c| *c = "cold-one".into());
    assert!(matches!(merged.recheck(&calibrated, &evidence(), 5, 3000), Err(CalibrationDiffers::Moves { .. })));
    let unknown = CalibrationSection { version: 2, ..section };
    assert_eq!(unknown.recheck(&calibrated, &evidence(), 5, 3000), Err(CalibrationDiffers::UnknownRule(2)));
}

#[test]
fn a_lying_validator_alone_moves_nothing() {
    let rule = CalibrationRule::standard(5, 3000);
    let mut calibrated = candidates();
    let lies = vec![file(E2, "liar", &[("10004", [3000, 3000, 3000])]), file(E2, "v1", &[("10004", [150, 140, 150])])];
    let section = calibrate(rule, &mut calibrated, &lies, &HashMap::new(), &own);
    assert!(section.moves.is_empty(), "{:?}", section.moves);
    assert_eq!(calibrated, candidates());
}

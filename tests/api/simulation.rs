//! The judging simulator as a regression test: a few hundred simulated epochs of 64 miners judged by the
//! validator's own stages, failing on any honest miner zeroed or any kind of liar caught in fewer than 99 % of
//! its epochs from its second on; and `zipcoord simulate judging` read the way its user reads it.

use zipcoord::client::liars::ALL_KINDS;
use zipcoord::client::simulation::{simulate, Report, SimulatedLiars, SimulationSettings};
use zipcoord::client::validator::group_judging::ValidationMode;

use crate::process::zipcoord;

fn run(validation: ValidationMode, epochs: u64) -> Report {
    let settings = SimulationSettings {
        miners: 64,
        coldkeys: 48,
        group_size: 5,
        epochs,
        liars: "10%".parse::<SimulatedLiars>().unwrap(),
        validation,
        spot_checks: 10,
        listings_per_batch: 600,
        seed: 7,
    };
    simulate(settings, &mut |_| {}).unwrap()
}

#[test]
fn in_both_mode_no_honest_miner_is_zeroed_and_every_liar_is_caught_from_its_second_epoch() {
    let report = run(ValidationMode::Both, 200);
    let honest = &report.verdicts["honest"];
    assert!(honest.judged > 10_000, "{honest:?}");
    assert_eq!(honest.wrong, 0, "honest miners zeroed: {:?}", honest.examples);
    for kind in ALL_KINDS {
        let tally = &report.verdicts[kind.name()];
        let caught = tally.right_share_from_second_epoch().unwrap();
        assert!(
            caught >= 0.99,
            "{}: caught in {:.2} % from its second epoch: {:?}",
            kind.name(),
            caught * 100.0,
            tally
        );
        assert_eq!(tally.top_shares, 0, "{}: {:?}", kind.name(), tally.examples);
    }
    assert!(report.spot_checks_per_epoch > 0.0);
}

#[test]
fn consensus_alone_zeroes_no_honest_miner_and_pays_no_liar_a_top_share() {
    let report = run(ValidationMode::Consensus, 100);
    let honest = &report.verdicts["honest"];
    assert_eq!(honest.wrong, 0, "honest miners zeroed: {:?}", honest.examples);
    for kind in ALL_KINDS {
        let tally = &report.verdicts[kind.name()];
        assert_eq!(tally.top_shares, 0, "{}: {:?}", kind.name(), tally.examples);
    }
    assert_eq!(report.spot_checks_per_epoch, 0.0, "consensus checks nothing at the source");
}

#[test]
fn the_simulate_command_prints_its_table_and_writes_its_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("verdicts.json");
    let run = zipcoord()
        .args(["simulate", "judging", "--miners", "24", "--epochs", "6", "--liars", "inventor,exact-copier"])
        .args(["--seed", "3", "--output"])
        .arg(&output)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.starts_with("6 epochs of 24 miners over 18 coldkeys, groups of 5"), "{stdout}");
    let row = |name: &str| stdout.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} row"));
    assert!(row("honest").split_whitespace().nth(1) == Some("22"), "{stdout}");
    assert!(row("inventor").contains("100.00 %"), "{stdout}");
    assert!(row("exact-copier").split_whitespace().nth(1) == Some("1"), "{stdout}");
    assert!(stdout.contains(&format!("verdicts written to {}", output.display())), "{stdout}");
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();
    assert_eq!(written["epochs"], 6);
    assert_eq!(written["verdicts"]["honest"]["wrong"], 0);

    let refused = zipcoord().args(["simulate", "judging", "--liars", "150%"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("a percentage from 0% to 100%"), "{stderr}");
}

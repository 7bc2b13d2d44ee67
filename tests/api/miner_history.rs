//! A miner's history as its operator reads it: `zipcoord localnet` as one process, then `zipcoord miner history`
//! and `miner export-accepted` on the miners' state directories, the output read as a person reads it.

use crate::process::{run, run_localnet};

#[tokio::test]
async fn a_liars_history_shows_its_epochs_at_weight_zero_with_the_validators_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = run_localnet(dir.path(), &["--epochs", "2"]).await;
    assert!(stdout.contains("zipcoord miner history --summary --state-dir"), "every miner recorded: {stdout}");
    let folder = |miner: usize| dir.path().join(format!("miners/miner{miner}")).display().to_string();

    // The liar (the last miner): every judged epoch at weight 0, each validator's verdict and reason shown.
    let (ok, liar, stderr) = run(&["miner", "history", "--summary", "--state-dir", &folder(4)]);
    assert!(ok, "{stderr}");
    let paid = liar.lines().find(|l| l.starts_with("paid")).expect(&liar);
    assert!(paid.starts_with("paid              0 of ") && paid.ends_with("mean weight 0.0000"), "{liar}");
    assert!(!paid.contains(" 0 of 0 "), "some epochs were judged: {liar}");
    let (caught, missed): (Vec<&str>, Vec<&str>) =
        zeroed(&liar).into_iter().partition(|l| l.contains(" liar: spot check of listing made-up-"));
    assert!(caught.len() >= 2 * 2, "two validators' verdicts on at least two epochs: {liar}");
    assert!(missed.iter().all(|l| missed_the_first_epoch(&liar, l)), "{liar}");
    assert!(liar.contains("uid 0 ") && liar.contains("uid 1 "), "per validator: {liar}");

    // An honest miner: every judged epoch paid, and its accepted listings export as a data set.
    let (ok, honest, _) = run(&["miner", "history", "--summary", "--state-dir", &folder(1)]);
    assert!(ok);
    let paid = honest.lines().find(|l| l.starts_with("paid")).expect(&honest);
    let (judged_paid, judged) =
        paid["paid".len()..].trim().split_once(" judged").unwrap().0.split_once(" of ").unwrap();
    let missed = zeroed(&honest);
    assert!(missed.iter().all(|l| missed_the_first_epoch(&honest, l)), "{honest}");
    let judged_paid: usize = judged_paid.parse().unwrap();
    assert_eq!(judged_paid + missed.len() / 2, judged.parse::<usize>().unwrap(), "{honest}");
    let (ok, lines, _) = run(&["miner", "history", "--state-dir", &folder(1)]);
    assert!(ok && lines.contains("uid 0 honest") && lines.contains("awaiting verdicts"), "{lines}");

    let exported = dir.path().join("accepted.jsonl");
    let (ok, _, stderr) = run(&[
        "miner",
        "export-accepted",
        "--min-weight",
        "0.01",
        "-o",
        exported.to_str().unwrap(),
        "--state-dir",
        &folder(1),
    ]);
    assert!(ok && stderr.starts_with("exported "), "{stderr}");
    let text = std::fs::read_to_string(&exported).unwrap();
    let listings: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!listings.is_empty() && listings.iter().all(|l| l["epochId"].is_string() && l["listingId"].is_string()));
    let (ok, _, stderr) = run(&[
        "miner",
        "export-accepted",
        "--min-weight",
        "0",
        "-o",
        exported.to_str().unwrap(),
        "--state-dir",
        &folder(4),
    ]);
    assert!(
        ok && stderr.starts_with("exported 0 listings of 0 accepted epochs"),
        "a liar's work is never accepted: {stderr}"
    );
}

/// The summary's lines under "epochs at weight 0".
fn zeroed(summary: &str) -> Vec<&str> {
    summary.lines().skip_while(|l| *l != "epochs at weight 0").skip(1).collect()
}

/// `line` is an absence in the first epoch of the history: the network starts part-way into an epoch, which a
/// miner slow to start may miss. Only then is an honest miner zeroed, and the verdict says why.
fn missed_the_first_epoch(summary: &str, line: &str) -> bool {
    // "epochs            5 (2026-12-03T04-03-15 to …), …"
    let epochs = summary.lines().find(|l| l.starts_with("epochs ")).unwrap_or_default();
    let first = epochs.split_once('(').map(|(_, rest)| rest.split(' ').next().unwrap_or_default());
    first.is_some_and(|first| line.starts_with(first))
        && line.ends_with(" absent: nothing uploaded in its folder for this epoch")
}

//! #37's measurement, short: `zipcoord localnet --market varied` on a small universe, where every zipcode holds
//! 10, 150 or 600 listings but the coordinator expects 150 of each at first. With steps of 100 % the server
//! recalibrates within a few epochs of the first evidence, and the report printed at the end shows the listings
//! honest miners delivered leaving the target far behind before calibration and meeting it after.
//! (The README's figures come from the same command with the default 25 % step over 30 epochs.)

use std::time::Duration;

/// The report's epoch rows: (off the target in percent, zipcodes the epoch's calibration moved).
fn rows(stdout: &str) -> Vec<(i64, usize)> {
    let report = stdout.split("Recalibration against the market's true sizes").nth(1).expect("the report");
    report
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with("  20"))
        .map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            let off = columns[4].trim_start_matches('+').parse().unwrap_or_else(|_| panic!("{line}"));
            (off, columns[6].parse().unwrap_or(0))
        })
        .collect()
}

#[tokio::test]
async fn localnet_recalibrates_a_varied_market_until_deliveries_meet_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        ["--epoch-seconds", "10", "--target-listings", "2000", "--market", "varied", "--universe", "24"].as_slice(),
        &["--recalibration-step-percent", "100", "--epochs", "9"],
    ]
    .concat();
    let stdout = crate::process::run_localnet_within(dir.path(), &args, Duration::from_secs(360)).await;
    assert!(stdout.contains("market        varied: each zipcode holds 10, 150 or 600 listings"), "{stdout}");

    let rows = rows(&stdout);
    assert!(rows.len() >= 9, "a row per judged epoch: {stdout}");
    let first = rows.iter().position(|(_, moves)| *moves > 0).expect("the inputs were recalibrated");
    assert!(first >= 1, "the first epochs have no evidence yet: {stdout}");
    // Before the evidence, expectations of 150 everywhere miss markets of 10 and 600.
    let before: Vec<i64> = rows[..first].iter().map(|(off, _)| off.abs()).collect();
    assert!(before.iter().sum::<i64>() / before.len() as i64 >= 15, "far from the target before: {stdout}");
    // Steps of 100 % bring every zipcode to its size within two moves of its first evidence: the last epochs
    // deliver within the ±10 % window.
    assert!(rows.len() >= first + 5, "enough calibrated epochs to judge: {stdout}");
    for (off, _) in &rows[rows.len() - 3..] {
        assert!(off.abs() <= 10, "within the window once calibrated: {stdout}");
    }
    assert!(stdout.contains("Settled "), "{stdout}");
}

use super::*;

const HOTKEY: &str = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y";

fn record(epoch_id: &str) -> EpochRecord {
    EpochRecord {
        format: HISTORY_FORMAT.to_string(),
        hotkey: HOTKEY.to_string(),
        epoch_id: epoch_id.to_string(),
        nonce: "0123456789abcdef".to_string(),
        source: "api".to_string(),
        expected_listings: 100,
        zipcodes: vec![],
        status: Some("COMPLETED".to_string()),
        reports: vec![],
        verdicts: Verdicts::default(),
        recorded_at: None,
    }
}

fn unix(text: &str) -> i64 {
    crate::api::parse_iso8601(text).unwrap() / 1000
}

fn files(state: &StateDir) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(state.path("history"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn lines_are_appended_across_restarts_and_never_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::open(dir.path(), HOTKEY).unwrap();
    let history = MinerHistory { state: &state };
    history.save_open(&record("2026-11-10T00-00-00"));
    assert_eq!(history.open_records().len(), 1);
    history.close(history.open_record("2026-11-10T00-00-00").unwrap(), unix("2026-11-10T08:00:00Z")).unwrap();
    assert!(history.open_records().is_empty(), "closing drops the open record");
    let first = fs::read(state.path("history/history-2026-11.jsonl")).unwrap();

    // Another process on the same directory (a restarted miner) appends after it.
    let state = StateDir::open(dir.path(), HOTKEY).unwrap();
    MinerHistory { state: &state }.close(record("2026-11-10T04-00-00"), unix("2026-11-10T12:00:00Z")).unwrap();
    let both = fs::read(state.path("history/history-2026-11.jsonl")).unwrap();
    assert!(both.starts_with(&first), "the first line is left as it was");
    assert_eq!(both.iter().filter(|&&b| b == b'\n').count(), 2);
    let read = read_history(dir.path());
    let epochs: Vec<&str> = read.closed.iter().map(|r| r.epoch_id.as_str()).collect();
    assert_eq!(epochs, ["2026-11-10T00-00-00", "2026-11-10T04-00-00"]);
    assert_eq!(read.closed[0].recorded_at.as_deref(), Some("2026-11-10T08:00:00.000Z"));
    assert!(read.corrupt.is_empty());
}

#[test]
fn files_rotate_at_the_month_boundary_and_older_months_are_compressed() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::open(dir.path(), HOTKEY).unwrap();
    let history = MinerHistory { state: &state };
    history.close(record("2026-11-30T16-00-00"), unix("2026-11-30T23:59:59Z")).unwrap();
    history.close(record("2026-11-30T20-00-00"), unix("2026-12-01T00:00:00Z")).unwrap();
    assert_eq!(files(&state), ["history-2026-11.jsonl", "history-2026-12.jsonl"]);
    // January: December is the previous month and stays plain; November is compressed.
    history.close(record("2027-01-05T00-00-00"), unix("2027-01-05T08:00:00Z")).unwrap();
    assert_eq!(files(&state), ["history-2026-11.jsonl.gz", "history-2026-12.jsonl", "history-2027-01.jsonl"]);
    let read = read_history(dir.path());
    assert_eq!(read.closed.len(), 3, "compressed months are read too");
    assert!(read.corrupt.is_empty(), "{:?}", read.corrupt);
}

#[test]
fn a_corrupt_line_is_reported_with_its_place_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::open(dir.path(), HOTKEY).unwrap();
    let history = MinerHistory { state: &state };
    let now = unix("2026-11-10T08:00:00Z");
    history.close(record("2026-11-10T00-00-00"), now).unwrap();
    // A crash tore the next line half way.
    let path = state.path("history/history-2026-11.jsonl");
    fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"format\":\"zipcoord-mi").unwrap();
    history.close(record("2026-11-10T04-00-00"), now).unwrap();
    // A hand-edited line whose epoch id would make a path.
    let mut forged = serde_json::to_vec(&record("../../etc")).unwrap();
    forged.push(b'\n');
    append_line(&path, &forged).unwrap();
    let read = read_history(dir.path());
    assert_eq!(read.closed.len(), 2, "the lines around it are read");
    assert_eq!(read.corrupt.len(), 2);
    assert_eq!((read.corrupt[0].file.clone(), read.corrupt[0].line), (path.clone(), 2));
    assert_eq!((read.corrupt[1].file.clone(), read.corrupt[1].line), (path, 4));
    assert!(read.corrupt[1].error.contains("is not an epoch id"), "{:?}", read.corrupt[1]);
}

#[test]
fn delivered_listings_are_kept_per_epoch_zipcode_by_zipcode() {
    let dir = tempfile::tempdir().unwrap();
    let state = StateDir::open(dir.path(), HOTKEY).unwrap();
    let history = MinerHistory { state: &state };
    let market = |zip: &str| crate::client::synthetic::market(zip, "Austin", "TX", 3, "2026-11-10T01:00:00.000Z");
    history.keep_delivered("2026-11-10T00-00-00", &market("78701")).unwrap();
    history.keep_delivered("2026-11-10T00-00-00", &market("78702")).unwrap();
    let first: EpochId = "2026-11-10T00-00-00".parse().unwrap();
    let kept = read_delivered(dir.path(), first).unwrap();
    assert_eq!(kept.len(), 6);
    assert_eq!(kept[5].zipcode, "78702");
    history.keep_delivered("2026-11-10T04-00-00", &market("78701")).unwrap();
    history.keep_delivered_epochs(1);
    assert!(read_delivered(dir.path(), first).is_none(), "only the newest epochs are kept");
}

/// #33, a Low: verdict reasons came from a validator's file raw to the miner's terminal (escape sequences, any
/// length, any count). They are bounded and made printable as the results are read.
#[test]
fn verdict_reasons_are_kept_printable_and_bounded() {
    use crate::api::{EpochResultsResponse, MinerVerdict, ValidatorVerdicts};
    let mut reasons = vec!["\u{1b}[2J\u{1b}[31mcleared your screen\r\n".to_string(), "x".repeat(10_000)];
    reasons.extend((0..50).map(|n| format!("reason {n}")));
    let verdict = MinerVerdict {
        uid: 3,
        hotkey: HOTKEY.to_string(),
        verdict: crate::domain::judging::scoring::VerdictKind::Liar,
        quality: 0.0,
        weight: 0.0,
        listings: 0,
        reasons,
    };
    let results = EpochResultsResponse {
        success: true,
        epoch_id: "2025-10-01T16-00-00".to_string(),
        judging_window_ended_at: String::new(),
        read_at: String::new(),
        validators: vec![ValidatorVerdicts {
            uid: 0,
            hotkey: "5Validator\u{7}".to_string(),
            file: String::new(),
            sha256: String::new(),
            judged_at: String::new(),
            miners: vec![verdict],
            zipcode_listings: Default::default(),
        }],
        skipped_count: 0,
        skipped: Vec::new(),
    };
    let mut epoch = record("2025-10-01T16-00-00");
    epoch.take_verdicts(&results);
    let kept = &epoch.verdicts.validators[0];
    assert_eq!(kept.validator_hotkey, "5Validator\\u{7}");
    assert_eq!(kept.reasons[0], "\\u{1b}[2J\\u{1b}[31mcleared your screen\\r\\n");
    assert_eq!(kept.reasons[1].chars().count(), MAX_REASON_CHARS + 1, "cut, with an ellipsis");
    assert_eq!(kept.reasons.len(), MAX_REASONS + 1);
    assert_eq!(kept.reasons[MAX_REASONS], "… and 44 more reasons");
    assert!(kept.reasons.iter().all(|r| !r.chars().any(char::is_control)));
}

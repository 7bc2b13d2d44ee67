//! Retention (pruning past the configured age, never below 7 days) and the JSON Lines export.

use clap::Parser;
use serde_json::Value;
use zipcoord::cli::export::export_history;
use zipcoord::cli::Cli;
use zipcoord::client::status_request;
use zipcoord::domain::epoch::status::MinerStatus;
use zipcoord::storage::PruneCounts;

use zipcoord::settings::{days, Settings};

use crate::helpers::{TestApp, TestOptions};

const DAY_MS: i64 = 86_400_000;

async fn epoch_with_reports(app: &TestApp, reports: usize) -> (zipcoord::domain::epoch::EpochId, String) {
    let assignment = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    let epoch = assignment.epoch_id.parse().unwrap();
    for n in 0..reports {
        let status = if n + 1 == reports { MinerStatus::Completed } else { MinerStatus::InProgress };
        let report = status_request(&app.keys.miner, epoch, &assignment.nonce, status, app.now());
        app.client.report_status(&app.keys.miner, &report).await.unwrap();
    }
    (epoch, assignment.nonce)
}

#[tokio::test]
async fn history_past_the_retention_age_is_pruned_and_nothing_newer() {
    let app = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(|s: &mut Settings| s.retention = days(10))),
        ..TestOptions::default()
    })
    .await;
    let (old, _) = epoch_with_reports(&app, 2).await;

    app.pass_time(9 * DAY_MS).await;
    let (recent, _) = epoch_with_reports(&app, 1).await;
    let counts = app.app().prune_history().await.unwrap();
    assert_eq!(
        counts,
        PruneCounts { status_signatures: 2, ..PruneCounts::default() },
        "nothing is 10 days old yet; only the old reports' signatures, which no replay can use any more, go"
    );

    app.pass_time(DAY_MS + 4 * 3_600_000).await;
    let (current, _) = epoch_with_reports(&app, 1).await;
    let counts = app.app().prune_history().await.unwrap();
    assert_eq!(counts.epochs, 1, "{counts:?}");
    assert_eq!(counts.status_events, 2);
    assert!(counts.assigned_zipcodes > 0);
    assert_eq!(app.app().prune_history().await.unwrap(), PruneCounts::default(), "pruning is idempotent");

    let store = app.app().store();
    assert!(store.load_epoch(old).await.unwrap().is_none());
    assert!(store.inputs_record(old).await.unwrap().is_none(), "published inputs go with their epoch");
    assert!(store.status_events(old).await.unwrap().is_empty());
    assert!(store.miner_states(old).await.unwrap().is_empty());
    for kept in [recent, current] {
        assert!(store.load_epoch(kept).await.unwrap().is_some());
        assert!(store.inputs_record(kept).await.unwrap().is_some());
        assert_eq!(store.status_events(kept).await.unwrap().len(), 1);
    }
}

#[test]
fn retention_below_seven_days_is_refused() {
    let parse = |days: &str| Cli::try_parse_from(["zipcoord", "serve", "--dev", "--retention-days", days]);
    assert!(parse("7").is_ok());
    let error = parse("6").unwrap_err().to_string();
    assert!(error.contains("7"), "{error}");
}

#[tokio::test]
async fn the_export_has_every_epoch_followed_by_its_reports() {
    let app = TestApp::spawn().await;
    let (first, first_nonce) = epoch_with_reports(&app, 3).await;
    app.pass_time(4 * 3_600_000).await;
    let (second, _) = epoch_with_reports(&app, 1).await;

    let mut out = Vec::new();
    let counts = export_history(app.app().store(), i64::MIN, i64::MAX, &mut out).await.unwrap();
    assert_eq!((counts.epochs, counts.status_reports), (2, 4));
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["epoch", "status", "status", "status", "epoch", "status"]);
    assert_eq!(lines[0]["epochId"], first.to_string());
    assert_eq!(lines[0]["nonce"], first_nonce);
    let stored = app.app().store().load_epoch(first).await.unwrap().unwrap();
    assert_eq!(lines[0]["zipcodes"].as_array().unwrap().len(), stored.zipcodes.len());
    assert_eq!(lines[3]["status"], "COMPLETED");
    assert_eq!(lines[1]["hotkey"], app.keys.miner.hotkey().to_string());
    assert_eq!(lines[4]["epochId"], second.to_string());

    let mut recent_only = Vec::new();
    let from = second.start_unix();
    let counts = export_history(app.app().store(), from, i64::MAX, &mut recent_only).await.unwrap();
    assert_eq!((counts.epochs, counts.status_reports), (1, 1));
}

/// A backlog of 30 epochs is pruned in small steps while a miner keeps reporting on the current epoch: every
/// report is accepted, the old history is gone, and (SQLite) the freed pages go back to the file system.
#[tokio::test]
async fn a_backlog_is_pruned_in_small_steps_while_reports_keep_arriving() {
    let app = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(|s: &mut Settings| {
            s.retention = days(7);
            s.rate_limits = zipcoord::settings::RateLimitSettings::off();
        })),
        ..TestOptions::default()
    })
    .await;
    let mut old = Vec::new();
    for _ in 0..30 {
        old.push(epoch_with_reports(&app, 4).await.0);
        app.pass_time(4 * 3_600_000).await;
    }
    app.pass_time(8 * DAY_MS).await;
    let (current, nonce) = epoch_with_reports(&app, 1).await;

    let writer = {
        let (client, key) = (app.client.clone(), app.keys.other_miner.clone());
        let now = app.now();
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for n in 0..200 {
                let status = if n % 2 == 0 { MinerStatus::InProgress } else { MinerStatus::Completed };
                let mut report = status_request(&key, current, &nonce, status, now);
                report.listings_scraped = Some(n);
                outcomes.push(client.report_status(&key, &report).await.map(|_| ()));
                tokio::task::yield_now().await;
            }
            outcomes
        })
    };
    let counts = app.app().prune_history().await.unwrap();
    let outcomes = writer.await.unwrap();
    assert_eq!(counts.epochs, 30, "{counts:?}");
    assert_eq!(counts.status_events, 120);
    let refused: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(refused.is_empty(), "reports refused while pruning: {refused:?}");

    let store = app.app().store();
    for epoch in old {
        assert!(store.load_epoch(epoch).await.unwrap().is_none(), "{epoch} pruned");
        assert!(store.inputs_record(epoch).await.unwrap().is_none(), "{epoch}'s inputs pruned");
    }
    assert_eq!(store.status_events(current).await.unwrap().len(), 201);
    if app.db_url.starts_with("sqlite:") {
        use sqlx::Connection;
        let mut connection = sqlx::AnyConnection::connect(&app.db_url).await.unwrap();
        let (free,): (i64,) = sqlx::query_as("PRAGMA freelist_count").fetch_one(&mut connection).await.unwrap();
        let (mode,): (i64,) = sqlx::query_as("PRAGMA auto_vacuum").fetch_one(&mut connection).await.unwrap();
        assert_eq!((mode, free), (2, 0), "incremental vacuum gave every freed page back");
    }
}

/// Free pages go back to the file system in steps sized to take about 40 ms each, so a run's 8 MiB takes a few
/// steps and a couple of seconds of pauses, not 128 steps of 16 pages and half a minute (the steps were once sized
/// from a time that included the pause after them).
#[tokio::test]
async fn free_pages_go_back_in_steps_that_grow_to_their_time() {
    use zipcoord::domain::access::grant::{AccessGrant, GrantKind};
    let app = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(|s: &mut Settings| s.retention = days(7))),
        ..TestOptions::default()
    })
    .await;
    if !app.db_url.starts_with("sqlite:") {
        // PostgreSQL keeps freed space for reuse: no pages to give back.
        app.app().prune_history().await.unwrap();
        assert_eq!(app.app().last_reclaim().map(|run| run.pages), Some(0));
        return;
    }
    // About 20 MiB of grant records older than the retention age.
    let old_ms = app.now() * 1000 - 30 * DAY_MS;
    let miners: Vec<zipcoord::domain::access::keys::Keypair> =
        (0..64).map(|_| zipcoord::domain::access::keys::Keypair::from_seed(&rand::random())).collect();
    for round in 0..40 {
        let grants: Vec<AccessGrant> = (0..2_000)
            .map(|n| {
                let key = &miners[n % miners.len()];
                AccessGrant {
                    hotkey: key.hotkey(),
                    kind: GrantKind::MinerFolder,
                    prefix: format!("data/hotkey={}/epoch={round}-{n}-{}/", key.hotkey(), "x".repeat(120)),
                    granted_at_ms: old_ms + round * 1_000 + n as i64,
                    expires_at_ms: old_ms + 3_600_000,
                }
            })
            .collect();
        app.app().store().record_grants(&grants).await.unwrap();
    }
    let counts = app.app().prune_history().await.unwrap();
    assert_eq!(counts.grants, 80_000, "{counts:?}");
    let run = app.app().last_reclaim().expect("a run");
    assert_eq!(run.pages, 2_048, "a run gives back its 8 MiB and no more: {run:?}");
    assert!(run.largest_step >= 256, "the steps grow while they stay fast: {run:?}");
    assert!(run.steps < 32, "a few steps, not 128 of 16 pages: {run:?}");
    assert!(run.working < run.elapsed, "{run:?}");
    let free = app.app().store().free_pages().await.unwrap();
    assert!(free > 0, "the rest waits for the next runs, {free} pages");
}

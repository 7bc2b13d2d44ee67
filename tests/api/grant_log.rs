//! The audit log of S3 grants: records naming their hotkey and prefix by reference, retention forgetting the
//! names no record uses any more, and records written before migration 6 reading back unchanged.

use sqlx::Connection;
use zipcoord::app::Clock;
use zipcoord::domain::access::grant::{AccessGrant, GrantKind};
use zipcoord::settings::days;
use zipcoord::storage::Store;

use crate::helpers::{fresh_database_url, TestApp, TestOptions};

const DAY_MS: i64 = 86_400_000;

fn grant(key: &zipcoord::domain::access::keys::Keypair, kind: GrantKind, prefix: &str, at_ms: i64) -> AccessGrant {
    AccessGrant {
        hotkey: key.hotkey(),
        kind,
        prefix: prefix.to_string(),
        granted_at_ms: at_ms,
        expires_at_ms: at_ms + 3_600_000,
    }
}

async fn count(url: &str, table: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(url).await.unwrap();
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    n
}

#[tokio::test]
async fn grants_name_each_hotkey_and_prefix_once_and_retention_forgets_the_unused() {
    let app = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(|s: &mut zipcoord::settings::Settings| s.retention = days(10))),
        ..TestOptions::default()
    })
    .await;
    let store = app.app().store();
    let (validator, miner) = (&app.keys.validator, &app.keys.miner);
    let shared = "data/hotkey=5Shared/epoch=2026-01-01T00-00-00/";
    let old = vec![
        grant(validator, GrantKind::MinerRead, shared, app.time.now_ms()),
        grant(validator, GrantKind::MinerRead, "data/hotkey=5Gone/", app.time.now_ms() + 1),
        grant(validator, GrantKind::ValidatorUpload, "validators/x/", app.time.now_ms() + 2),
    ];
    store.record_grants(&old).await.unwrap();
    app.pass_time(9 * DAY_MS).await;
    let recent = grant(miner, GrantKind::MinerRead, shared, app.time.now_ms());
    store.record_grant(&recent).await.unwrap();
    assert_eq!(count(&app.db_url, "grant_prefixes").await, 3, "the shared prefix is stored once");
    assert_eq!(count(&app.db_url, "grant_hotkeys").await, 2);
    let newest_first: Vec<AccessGrant> = std::iter::once(recent.clone()).chain(old.iter().rev().cloned()).collect();
    assert_eq!(store.recent_grants(None, 10).await.unwrap(), newest_first);
    assert_eq!(store.recent_grants(Some(validator.hotkey().as_str()), 2).await.unwrap(), newest_first[1..3]);

    app.pass_time(2 * DAY_MS).await;
    let counts = app.app().prune_history().await.unwrap();
    assert_eq!(counts.grants, 3, "{counts:?}");
    assert_eq!(store.recent_grants(None, 10).await.unwrap(), vec![recent.clone()]);
    assert!(store.recent_grants(Some(validator.hotkey().as_str()), 10).await.unwrap().is_empty());
    assert_eq!(count(&app.db_url, "grant_prefixes").await, 1, "the shared prefix stays: a recent grant names it");
    assert_eq!(count(&app.db_url, "grant_hotkeys").await, 1, "the validator has no grant left");

    // A name forgotten and granted again is stored afresh.
    let again = grant(validator, GrantKind::MinerRead, "data/hotkey=5Gone/", app.time.now_ms());
    store.record_grant(&again).await.unwrap();
    assert_eq!(store.recent_grants(None, 10).await.unwrap(), vec![again, recent]);
}

/// A database at migration 5 holding grant records as text rows, then migrated: `zipcoord grants` reads the
/// same records, and every kind maps back to itself.
#[tokio::test]
async fn grants_recorded_before_migration_6_read_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let backend = if url.starts_with("sqlite:") { "sqlite" } else { "postgres" };
    let earlier = dir.path().join("migrations");
    std::fs::create_dir(&earlier).unwrap();
    let all = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    let mut files: Vec<_> = std::fs::read_dir(&all).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files.iter().filter(|f| f.file_name().unwrap().to_str().unwrap() < "0006") {
        std::fs::copy(file, earlier.join(file.file_name().unwrap())).unwrap();
    }
    sqlx::any::install_default_drivers();
    let connect_url = if backend == "sqlite" { format!("{url}?mode=rwc") } else { url.clone() };
    let mut connection = sqlx::AnyConnection::connect(&connect_url).await.unwrap();
    sqlx::migrate::Migrator::new(earlier.as_path()).await.unwrap().run(&mut connection).await.unwrap();

    let keys = crate::helpers::TestKeys::generate();
    let kinds = [GrantKind::MinerFolder, GrantKind::MinerRead, GrantKind::ValidatorRead, GrantKind::ValidatorUpload];
    let before: Vec<AccessGrant> = kinds
        .iter()
        .enumerate()
        .map(|(n, kind)| {
            let key = if n % 2 == 0 { &keys.miner } else { &keys.validator };
            grant(key, *kind, &format!("data/hotkey={}/", keys.miner.hotkey()), 1_000 + n as i64)
        })
        .collect();
    for g in &before {
        sqlx::query(
            "INSERT INTO s3_grants (hotkey, kind, prefix, granted_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(g.hotkey.to_string())
        .bind(g.kind.as_str())
        .bind(g.prefix.clone())
        .bind(g.granted_at_ms)
        .bind(g.expires_at_ms)
        .execute(&mut connection)
        .await
        .unwrap();
    }
    connection.close().await.unwrap();

    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let newest_first: Vec<AccessGrant> = before.iter().rev().cloned().collect();
    assert_eq!(store.recent_grants(None, 10).await.unwrap(), newest_first);
    assert_eq!(store.recent_grants(Some(keys.validator.hotkey().as_str()), 10).await.unwrap().len(), 2);
    store.close().await;
    assert_eq!(count(&url, "grant_prefixes").await, 1);
}

//! Epoch creation across restarts, concurrency and replicas; a universe that cannot reach the target; the
//! built-in universe and the generated secret.

use zipcoord::client::{status_request, ZipcoordClient};
use zipcoord::domain::epoch::status::MinerStatus;
use zipcoord::domain::epoch::zipcode::{MarketTier, ZipcodeRecord};
use zipcoord::storage::{ImportMode, StorageError, Store};

use crate::assignments::assert_api_error;
use crate::helpers::{synthetic_universe, TestApp, TestOptions, Universe, SECRET_HEX};

#[tokio::test]
async fn a_restart_serves_the_same_epoch_and_keeps_every_report() {
    let mut app = TestApp::spawn().await;
    let before = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    let epoch = before.epoch_id.parse().unwrap();
    for key in [&app.keys.miner, &app.keys.other_miner] {
        let report = status_request(key, epoch, &before.nonce, MinerStatus::InProgress, app.now());
        app.client.report_status(key, &report).await.unwrap();
    }

    app.restart().await;

    let after = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    assert_eq!(after, before);
    let states = app.app().store().miner_states(epoch).await.unwrap();
    assert_eq!(states.len(), 2);
    assert!(states.iter().all(|s| s.latest.status == MinerStatus::InProgress));
}

#[tokio::test]
async fn concurrent_first_requests_on_two_replicas_create_one_epoch() {
    let app = TestApp::spawn().await;
    let replica = app.spawn_replica().await;
    let clients = [app.client.clone(), ZipcoordClient::new(format!("http://{}", replica.addr))];
    let mut requests = Vec::new();
    for i in 0..40 {
        let client = clients[i % 2].clone();
        let key = if i % 3 == 0 { app.keys.validator.clone() } else { app.keys.miner.clone() };
        let ts = app.now();
        requests.push(tokio::spawn(async move { client.current(&key, ts).await }));
    }
    let mut answers = Vec::new();
    for request in requests {
        answers.push(request.await.unwrap().unwrap());
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "every replica and request sees one assignment");
    let stored = app.app().store().load_epoch(app.current_epoch()).await.unwrap().unwrap();
    assert_eq!(stored.nonce.to_string(), answers[0].nonce);
    assert_eq!(stored.zipcodes.len(), answers[0].zipcodes.len());
    // Both replicas see reports received by the other.
    let epoch = app.current_epoch();
    let report = status_request(&app.keys.miner, epoch, &answers[0].nonce, MinerStatus::Completed, app.now());
    clients[1].report_status(&app.keys.miner, &report).await.unwrap();
    assert_eq!(app.app().store().miner_states(epoch).await.unwrap().len(), 1);
    replica.shutdown().await.unwrap();
}

#[tokio::test]
async fn consecutive_epochs_differ_and_respect_the_cooldown() {
    let app = TestApp::spawn().await;
    let first = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    app.pass_time(4 * 3600 * 1000).await;
    let second = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    assert_ne!(first.epoch_id, second.epoch_id);
    assert_ne!(first.nonce, second.nonce);
    let overlap = first.zipcodes.iter().filter(|z| second.zipcodes.contains(z)).count();
    assert_eq!(overlap, 0, "a zipcode mined 4 hours ago is still cooling down");
}

#[tokio::test]
async fn an_unreachable_target_keeps_the_service_up() {
    let few: Vec<ZipcodeRecord> = synthetic_universe(10);
    let app = TestApp::spawn_with(TestOptions { universe: Universe::Records(few), ..TestOptions::default() }).await;
    let err = app.client.current(&app.keys.miner, app.now()).await.unwrap_err();
    assert_api_error(err, 404, "No current epoch available");
    let stats = app.client.stats().await.unwrap();
    assert!(stats.epoch_status.current_epoch.is_none());
    // Up, and honest about it: degraded, naming the epoch and why (#34).
    let health = app.client.health().await.unwrap();
    assert_eq!(health.status, "degraded");
    let creation = health.epoch_creation.unwrap();
    assert_eq!(creation.epoch, Some(app.current_epoch().to_string()));
    assert!(creation.reason.unwrap().contains("below the window's lower bound"));

    // The operator imports enough zipcodes. Published inputs never change, and the next epoch's were published
    // when this one started, so the import reaches the epoch after it: the first whose inputs were still to come.
    let more: Vec<ZipcodeRecord> = (0..200)
        .map(|n| ZipcodeRecord {
            zipcode: format!("{:05}", 60_000 + n).parse().unwrap(),
            state: "OH".into(),
            city: "Columbus".into(),
            county: None,
            expected_listings: 120,
            tier: MarketTier::Standard,
            weight: 1.0,
            active: true,
        })
        .collect();
    app.app().store().import_zipcodes(&more, "test", ImportMode::Merge, 0).await.unwrap();
    let next = app.app().settings().epochs.clock.next(app.current_epoch());
    let published = app.app().published_inputs(next).await.unwrap().expect("published at this epoch's start");
    assert_eq!(published.inputs.candidates.len(), 10, "published before the import");
    app.pass_time(31_000).await;
    let err = app.client.current(&app.keys.miner, app.now()).await.unwrap_err();
    assert_api_error(err, 404, "No current epoch available");
    app.pass_time(4 * 3600 * 1000).await;
    let err = app.client.current(&app.keys.miner, app.now()).await.unwrap_err();
    assert_api_error(err, 404, "No current epoch available");
    app.pass_time(4 * 3600 * 1000).await;
    let assignment = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    assert!(assignment.metadata.total_expected_listings >= 9_000);
    assert_eq!(app.client.health().await.unwrap().status, "ok", "healthy again once an epoch is created");
}

#[tokio::test]
async fn first_start_seeds_the_builtin_universe_and_keeps_a_generated_secret() {
    let mut app =
        TestApp::spawn_with(TestOptions { universe: Universe::Builtin, secret: None, ..TestOptions::default() }).await;
    let stats = app.client.stats().await.unwrap();
    assert!(stats.zipcode_statistics.total_zipcodes > 25_000, "{}", stats.zipcode_statistics.total_zipcodes);
    let before = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    assert!(before.zipcodes.iter().all(|z| z.zipcode.len() == 5));

    // The generated secret is stored: a later epoch created after a restart uses it (same nonce as a
    // replica computing it), and it never appears in any response.
    app.restart().await;
    app.pass_time(4 * 3600 * 1000).await;
    let replica = app.spawn_replica().await;
    let next = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    let from_replica =
        ZipcoordClient::new(format!("http://{}", replica.addr)).current(&app.keys.miner, app.now()).await.unwrap();
    assert_eq!(next.nonce, from_replica.nonce);
    replica.shutdown().await.unwrap();
    let secret = app.app().store().setting_or_insert("server_secret", "unused").await.unwrap();
    assert_eq!(secret.len(), 64);
    assert_ne!(secret, SECRET_HEX);
    let bodies = [
        serde_json::to_string(&app.client.stats().await.unwrap()).unwrap(),
        serde_json::to_string(&app.client.health().await.unwrap()).unwrap(),
        serde_json::to_string(&next).unwrap(),
    ];
    assert!(bodies.iter().all(|b| !b.contains(&secret)));
}

#[tokio::test]
async fn healthcheck_reports_database_metagraph_and_epoch() {
    let app = TestApp::spawn().await;
    for path in ["/healthcheck", "/health"] {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["service"], "zipcoord");
        assert_eq!(body["database"], "connected");
        assert_eq!(body["current_epoch"], "2025-10-01T16-00-00");
        assert_eq!(body["metagraph"]["neurons"], 5);
        assert_eq!(body["metagraph"]["validators"], 1);
        assert_eq!(body["metagraph"]["netuid"], 46);
        assert!(body["uptime"].is_number() && body["timestamp"].is_string() && body["version"].is_string());
        assert!(body["folder_structure"].as_str().unwrap().starts_with("data/hotkey="));
    }
}

#[tokio::test]
async fn a_stored_seed_or_nonce_that_does_not_read_is_corruption_not_zeros() {
    use sqlx::Connection;
    let app = TestApp::spawn().await;
    let epoch = app.current_epoch();
    let served = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    let store = Store::connect(&app.db_url).await.unwrap();
    assert_eq!(store.load_epoch(epoch).await.unwrap().unwrap().nonce.to_string(), served.nonce);

    sqlx::any::install_default_drivers();
    let mut raw = sqlx::AnyConnection::connect(&app.db_url).await.unwrap();
    for (column, damaged) in [("selection_seed", "not a seed"), ("nonce", "9F2C4B7A1E3D5F60")] {
        let good: String =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {column} FROM epochs WHERE id = $1")))
                .bind(epoch.to_string())
                .fetch_one(&mut raw)
                .await
                .unwrap();
        let set = |value: String| {
            sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE epochs SET {column} = $1 WHERE id = $2")))
                .bind(value)
                .bind(epoch.to_string())
        };
        set(damaged.to_string()).execute(&mut raw).await.unwrap();
        let error = store.load_epoch(epoch).await.unwrap_err();
        assert!(matches!(error, StorageError::Corrupt(_)), "{column}: {error}");
        assert!(error.to_string().contains(column), "{error}");
        set(good).execute(&mut raw).await.unwrap();
        assert!(store.load_epoch(epoch).await.unwrap().is_some(), "{column} restored");
    }
}

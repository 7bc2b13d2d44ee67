//! An epoch that cannot be created (#34): a degraded state that health, readiness, the metrics and the dashboard
//! name with the epoch, since when and why; retries back off; `/stats` keeps answering 200 with
//! `currentEpoch: null`, as the contract says; everything recovers without a restart.

use serde_json::Value;
use sqlx::Connection;

use crate::helpers::TestApp;

const STATS: &str = "/api/v1/zipcode-assignments/stats";

async fn sqlite(app: &TestApp, statement: &str) {
    let mut connection = sqlx::SqliteConnection::connect(&app.db_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string())).execute(&mut connection).await.unwrap();
    connection.close().await.unwrap();
}

async fn metric(app: &TestApp, name: &str) -> String {
    let text = reqwest::get(format!("{}/metrics", app.base_url)).await.unwrap().text().await.unwrap();
    text.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_default().to_string()
}

fn attempts(health: &Value) -> u64 {
    health["epoch_creation"]["attempts"].as_u64().unwrap()
}

#[tokio::test]
async fn an_epoch_the_store_refuses_is_a_degraded_state_retried_with_back_off_until_it_is_created() {
    let app = TestApp::spawn().await;
    if !app.db_url.starts_with("sqlite") {
        return; // the refusal is a SQLite trigger; PostgreSQL's store path is the same code
    }
    let (_, health) = app.get("/healthcheck").await;
    assert_eq!((&health["status"], &health["epoch_creation"]["state"]), (&Value::from("ok"), &Value::from("ok")));
    sqlite(
        &app,
        "CREATE TRIGGER refuse_epochs BEFORE INSERT ON epochs BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    )
    .await;
    app.pass_time(app.epoch_clock().length_seconds() * 1000).await;
    let epoch = app.current_epoch().to_string();

    // The contract's /stats answers 200 with no current epoch; /current is a 503 with Retry-After.
    let (status, stats) = app.get(STATS).await;
    assert_eq!((status, &stats["epochStatus"]["currentEpoch"]), (200, &Value::Null), "{stats}");
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/zipcode-assignments/current", app.base_url))
        .query(&zipcoord::client::signed_query(
            &app.keys.miner,
            &zipcoord::domain::access::endpoint::CURRENT,
            zipcoord::domain::access::endpoint::SignedValues::at(app.now()),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains(&format!("Epoch {epoch} cannot be created now")), "{body}");

    let (_, health) = app.get("/healthcheck").await;
    assert_eq!(health["status"], "degraded", "{health}");
    let creation = &health["epoch_creation"];
    assert_eq!((&creation["state"], &creation["epoch"]), (&Value::from("failing"), &Value::from(epoch.clone())));
    assert!(creation["reason"].as_str().unwrap().contains("refused by the test"), "{health}");
    assert!(creation["failing_since"].is_string() && creation["next_attempt_at"].is_string(), "{health}");
    let (ready, readiness) = app.get("/readyz").await;
    assert_eq!(ready, 200, "every replica fails alike: detail only, {readiness}");
    assert_eq!(readiness["epoch_creation"]["state"], "failing");
    assert_eq!(metric(&app, "zipcoord_epoch_creation_failing").await, "zipcoord_epoch_creation_failing 1");
    let (_, overview) = app.get("/api/v1/dashboard/overview").await;
    assert_eq!(overview["system"]["epochCreation"]["state"], "failing", "{overview}");
    assert_eq!(overview["system"]["status"], "degraded");

    // Back-off: asking again at once does not try again; after the wait it does, and the wait doubles.
    let first = attempts(&health);
    for _ in 0..20 {
        app.get(STATS).await;
    }
    assert_eq!(attempts(&app.get("/healthcheck").await.1), first, "no attempt before the next is due");
    app.pass_time(1_000).await;
    app.get(STATS).await;
    let (_, health) = app.get("/healthcheck").await;
    assert_eq!(attempts(&health), first + 1);
    assert_eq!(health["epoch_creation"]["failing_since"], creation["failing_since"], "since the first failure");

    // The store takes epochs again: created at the next attempt, health recovers, no restart.
    sqlite(&app, "DROP TRIGGER refuse_epochs").await;
    app.pass_time(2_000).await;
    let (_, stats) = app.get(STATS).await;
    assert_eq!(stats["epochStatus"]["currentEpoch"]["id"], epoch, "{stats}");
    let (_, health) = app.get("/healthcheck").await;
    assert_eq!((&health["status"], &health["epoch_creation"]["state"]), (&Value::from("ok"), &Value::from("ok")));
    assert_eq!(metric(&app, "zipcoord_epoch_creation_failing").await, "zipcoord_epoch_creation_failing 0");
}

#[tokio::test]
async fn an_epoch_whose_zipcodes_cannot_be_selected_is_named_in_health() {
    let app = TestApp::spawn_with(crate::helpers::TestOptions {
        universe: crate::helpers::Universe::Synthetic(3),
        ..Default::default()
    })
    .await;
    let (status, stats) = app.get(STATS).await;
    assert_eq!((status, &stats["epochStatus"]["currentEpoch"]), (200, &Value::Null), "{stats}");
    let (_, health) = app.get("/healthcheck").await;
    assert_eq!(health["status"], "degraded", "{health}");
    let reason = health["epoch_creation"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("zipcode selection failed: ") && reason.contains("import more zipcodes"), "{reason}");
    // As docs/beacon-epochs.md says: 404 for the proof and to miners (the contract: like an epoch that does not
    // exist), and the inputs published so that anyone can confirm nothing can be selected.
    let epoch = app.current_epoch();
    let (status, inputs) = app.get(&format!("/api/v1/zipcode-assignments/epoch/{epoch}/inputs")).await;
    assert_eq!(status, 200, "{inputs}");
    let round = inputs["beaconRound"].as_u64().unwrap();
    // The proof's 404 publishes the pulse that seeded the attempt, and it is the dev beacon's for that round.
    let (status, body) = app.get(&format!("/api/v1/zipcode-assignments/epoch/{epoch}/proof")).await;
    crate::helpers::assert_error(status, &body, 404, "nothing can be selected from its published inputs");
    let message = body["message"].as_str().unwrap();
    let pulse = zipcoord::domain::epoch::beacon::DevBeacon::new().pulse(round);
    assert!(message.contains(&format!("zipcoord-dev round {round} (signature {}", pulse.signature_hex())), "{message}");
    assert!(message.contains("import more zipcodes"), "the selection's own reason: {message}");
    let (status, body) = app.get("/api/v1/zipcode-assignments/epoch/2020-01-01T00-00-00/proof").await;
    crate::helpers::assert_error(status, &body, 404, "not found");
    let error = app.client.current(&app.keys.miner, app.now()).await.unwrap_err().to_string();
    assert!(error.contains("404") && error.contains("No current epoch available"), "{error}");
}

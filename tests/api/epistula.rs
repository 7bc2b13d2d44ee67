//! Epistula v2 beside the legacy signatures: the same answers, a signature that covers the body, a uuid accepted
//! once (on any replica, and never at the owner's expense), the service and window checks, clear refusals of
//! malformed headers, uuids forgotten after their window, and the reference client signing with Epistula when
//! the server advertises it.

use reqwest::Method;
use serde_json::{json, Value};
use sqlx::Connection;
use zipcoord::app::Clock;
use zipcoord::domain::access::epistula::{self, header, signed_message, EpistulaHeaders, RequestUuid};
use zipcoord::domain::access::keys::Keypair;

use crate::helpers::{assert_error, send_with_headers, service_key, TestApp, TestOptions};

const CURRENT: &str = "/api/v1/zipcode-assignments/current";
const STATUS: &str = "/api/v1/zipcode-assignments/status";

type Headers = Vec<(&'static str, String)>;

/// Epistula headers by `key` over `body` for `signed_for` at `timestamp_ms`, with a fresh uuid.
fn headers_at(key: &Keypair, body: &[u8], signed_for: &str, timestamp_ms: i64) -> Headers {
    let uuid = RequestUuid::from_random(rand::random());
    EpistulaHeaders::sign(key, body, signed_for, timestamp_ms, uuid).to_headers().into()
}

/// Epistula headers by `key` over `body`, for this service, at the server's clock.
fn signed(app: &TestApp, key: &Keypair, body: &[u8]) -> Headers {
    headers_at(key, body, service_key().hotkey().as_str(), app.time.now_ms())
}

fn with_header(mut headers: Headers, name: &'static str, value: Option<&str>) -> Headers {
    headers.retain(|(n, _)| *n != name);
    if let Some(value) = value {
        headers.push((name, value.to_string()));
    }
    headers
}

async fn get(app: &TestApp, path: &str, headers: &Headers) -> (u16, Value) {
    app.send_with_headers(Method::GET, path, b"", headers).await
}

async fn post(app: &TestApp, path: &str, body: &[u8], headers: &Headers) -> (u16, Value) {
    app.send_with_headers(Method::POST, path, body, headers).await
}

/// A status report with no legacy signature fields, as an Epistula client sends it.
fn report(assignment: &Value, status: &str, listings: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "epochId": assignment["epochId"],
        "nonce": assignment["nonce"],
        "status": status,
        "listingsScraped": listings,
    }))
    .unwrap()
}

async fn request_uuid_rows(db_url: &str) -> Vec<(String, String)> {
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(db_url).await.unwrap();
    let rows = sqlx::query_as("SELECT uuid, hotkey FROM request_uuids ORDER BY uuid").fetch_all(&mut connection).await;
    connection.close().await.unwrap();
    rows.unwrap()
}

#[tokio::test]
async fn epistula_signed_requests_are_answered_like_legacy_ones() {
    let app = TestApp::spawn().await;
    let miner = &app.keys.miner;
    let (status, current) = get(&app, CURRENT, &signed(&app, miner, b"")).await;
    assert_eq!(status, 200, "{current}");
    let legacy = app.client.current(miner, app.now()).await.unwrap();
    assert_eq!(current["epochId"], legacy.epoch_id);
    assert_eq!(current["nonce"], legacy.nonce);

    let epoch_path = format!("/api/v1/zipcode-assignments/epoch/{}", legacy.epoch_id);
    let (status, epoch) = get(&app, &epoch_path, &signed(&app, &app.keys.validator, b"")).await;
    assert_eq!((status, &epoch["nonce"]), (200, &current["nonce"]), "{epoch}");

    let body = report(&current, "IN_PROGRESS", 12);
    let (status, answer) = post(&app, STATUS, &body, &signed(&app, miner, &body)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], "IN_PROGRESS");

    // The signature over the <Bytes>-wrapped message, as some wallets make it.
    let uuid = RequestUuid::from_random(rand::random());
    let service = service_key().hotkey().to_string();
    let message = signed_message(b"", &uuid, app.time.now_ms(), &service);
    let wrapped = EpistulaHeaders {
        timestamp_ms: app.time.now_ms(),
        uuid,
        signed_by: miner.hotkey(),
        signed_for: service,
        signature: miner.sign(format!("<Bytes>{message}</Bytes>").as_bytes()),
    };
    let (status, body) = get(&app, CURRENT, &wrapped.to_headers().into()).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_replayed_epistula_request_is_refused_without_spending_the_owners_budget() {
    let app = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(|s| s.rate_limits.current_per_hotkey_per_hour = 3)),
        ..Default::default()
    })
    .await;
    let miner = &app.keys.miner;
    let captured = signed(&app, miner, b"");
    assert_eq!(get(&app, CURRENT, &captured).await.0, 200);
    for _ in 0..10 {
        let (status, body) = get(&app, CURRENT, &captured).await;
        assert_error(status, &body, 401, "Epistula-Uuid was already used");
    }
    // The owner still has the two requests left of the three per hour.
    for _ in 0..2 {
        let (status, body) = get(&app, CURRENT, &signed(&app, miner, b"")).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = get(&app, CURRENT, &signed(&app, miner, b"")).await;
    assert_error(status, &body, 429, "Too many requests for this hotkey");
}

#[tokio::test]
async fn an_epistula_signature_carries_one_body_only() {
    let app = TestApp::spawn().await;
    let miner = &app.keys.miner;
    let (_, current) = get(&app, CURRENT, &signed(&app, miner, b"")).await;
    let completed = report(&current, "COMPLETED", 250);
    let headers = signed(&app, miner, &completed);

    // Someone who captured the request sends another body under its headers: refused, nothing stored, and
    // the uuid is not spent by the forgery.
    let failed = report(&current, "FAILED", 0);
    let (status, body) = post(&app, STATUS, &failed, &headers).await;
    assert_error(status, &body, 401, "Invalid signature");
    let (status, body) = post(&app, STATUS, &completed, &headers).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("COMPLETED")), "{body}");

    let epoch = current["epochId"].as_str().unwrap().parse().unwrap();
    let events = app.app().store().status_events(epoch).await.unwrap();
    assert_eq!(events.len(), 1, "only the signed body was stored");
    let states = app.app().store().miner_states(epoch).await.unwrap();
    assert_eq!(states[0].latest.status, zipcoord::domain::epoch::status::MinerStatus::Completed);
    assert_eq!(states[0].latest.listings_scraped, Some(250));
}

#[tokio::test]
async fn epistula_requests_for_another_service_or_outside_the_window_are_refused() {
    let app = TestApp::spawn().await;
    let miner = &app.keys.miner;
    let now = app.time.now_ms();
    let service = service_key().hotkey().to_string();

    let elsewhere = headers_at(miner, b"", app.keys.validator.hotkey().as_str(), now);
    let (status, body) = get(&app, CURRENT, &elsewhere).await;
    assert_error(status, &body, 401, &format!("Epistula-Signed-For must be this service's hotkey {service}"));
    let unaddressed = headers_at(miner, b"", "", now);
    let (status, body) = get(&app, CURRENT, &with_header(unaddressed, header::SIGNED_FOR, None)).await;
    assert_error(status, &body, 401, "Epistula-Signed-For must be this service's hotkey");

    for (offset_ms, expected) in [(-8_001, 401), (2_001, 401), (-8_000, 200), (2_000, 200)] {
        let (status, body) = get(&app, CURRENT, &headers_at(miner, b"", &service, now + offset_ms)).await;
        if expected == 200 {
            assert_eq!(status, 200, "{offset_ms} ms: {body}");
        } else {
            assert_error(status, &body, 401, "Epistula-Timestamp is outside the accepted window");
        }
    }
}

#[tokio::test]
async fn malformed_epistula_headers_are_named_in_a_400() {
    let app = TestApp::spawn().await;
    let miner = &app.keys.miner;
    let good = || signed(&app, miner, b"");
    let cases: Vec<(Headers, &str)> = vec![
        (with_header(good(), header::VERSION, Some("1")), "Unsupported Epistula-Version"),
        (with_header(good(), header::UUID, None), "Epistula-Uuid is required"),
        (with_header(good(), header::UUID, Some("not-a-uuid")), "Invalid Epistula-Uuid"),
        (with_header(good(), header::TIMESTAMP, Some("17e11")), "Invalid Epistula-Timestamp"),
        (with_header(good(), header::TIMESTAMP, Some("-5")), "Invalid Epistula-Timestamp"),
        (with_header(good(), header::SIGNED_BY, Some("5abc")), "Invalid Epistula-Signed-By"),
        (with_header(good(), header::SIGNED_BY, None), "Epistula-Signed-By is required"),
        (with_header(good(), header::SIGNATURE, Some(&"ab".repeat(64))), "Invalid Epistula-Request-Signature"),
        (with_header(good(), header::SIGNATURE, Some("0xzz")), "Invalid Epistula-Request-Signature"),
    ];
    for (headers, message) in cases {
        let (status, body) = get(&app, CURRENT, &headers).await;
        assert_error(status, &body, 400, message);
    }
    // A legacy hotkey naming someone else than the signer.
    let other = app.keys.other_miner.hotkey();
    let (status, body) = get(&app, &format!("{CURRENT}?hotkey={other}"), &good()).await;
    assert_error(status, &body, 400, "hotkey must be the Epistula-Signed-By address");
    let (status, body) = get(&app, &format!("{CURRENT}?hotkey={}", miner.hotkey()), &good()).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn epistula_signers_need_registration_and_their_role() {
    let app = TestApp::spawn().await;
    let (status, body) = get(&app, CURRENT, &signed(&app, &app.keys.outsider, b"")).await;
    assert_error(status, &body, 401, "not registered");
    let epoch = app.current_epoch();
    let path = format!("/api/v1/zipcode-assignments/epoch/{epoch}");
    for key in [&app.keys.miner, &app.keys.poor_validator] {
        let (status, body) = get(&app, &path, &signed(&app, key, b"")).await;
        assert_eq!(status, 403, "{body}");
    }
    // A signature by someone else than the named signer.
    let forged =
        with_header(signed(&app, &app.keys.outsider, b""), header::SIGNED_BY, Some(app.keys.miner.hotkey().as_str()));
    let (status, body) = get(&app, CURRENT, &forged).await;
    assert_error(status, &body, 401, "Invalid signature");
}

#[tokio::test]
async fn a_uuid_is_accepted_once_across_replicas() {
    let app = TestApp::spawn().await;
    let replica = app.spawn_replica().await;
    let headers = signed(&app, &app.keys.miner, b"");
    assert_eq!(get(&app, CURRENT, &headers).await.0, 200);
    let replica_url = format!("http://{}", replica.addr);
    let (status, body) = send_with_headers(&replica_url, Method::GET, CURRENT, b"", &headers).await;
    assert_error(status, &body, 401, "Epistula-Uuid was already used");
    replica.shutdown().await.unwrap();
}

/// The API client the reference neurons make on first contact (a fresh state directory, no address given).
async fn reference_client(app: &TestApp) -> zipcoord::client::ZipcoordClient {
    let dir = tempfile::tempdir().unwrap();
    let state = zipcoord::client::state::StateDir::open(dir.path(), app.keys.miner.hotkey().to_string()).unwrap();
    zipcoord::client::trust::signing_api_client(app.client.clone(), None, &state).await.unwrap()
}

#[tokio::test]
async fn a_service_without_its_own_hotkey_neither_advertises_nor_accepts_epistula() {
    let app = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(|s| s.epistula.service_hotkey = None)),
        ..Default::default()
    })
    .await;
    let (_, stats) = app.get("/api/v1/zipcode-assignments/stats").await;
    assert!(stats.get("epistula").is_none(), "{stats}");
    let (status, body) = get(&app, CURRENT, &signed(&app, &app.keys.miner, b"")).await;
    assert_error(status, &body, 401, "ZIPCOORD_SERVICE_HOTKEY");
    let client = reference_client(&app).await;
    assert_eq!(client.epistula_service(), None);
    client.current(&app.keys.miner, app.now()).await.expect("legacy signatures keep working");
}

#[tokio::test]
async fn used_uuids_are_forgotten_once_their_window_has_passed() {
    let app = TestApp::spawn().await;
    let mut sent = Vec::new();
    for _ in 0..5 {
        let headers = signed(&app, &app.keys.miner, b"");
        assert_eq!(get(&app, CURRENT, &headers).await.0, 200);
        sent.push(headers);
    }
    assert_eq!(request_uuid_rows(&app.db_url).await.len(), 5);

    zipcoord::tasks::uuid_tick(app.app()).await;
    assert_eq!(request_uuid_rows(&app.db_url).await.len(), 5, "still inside the window");
    app.pass_time(8_001).await;
    zipcoord::tasks::uuid_tick(app.app()).await;
    assert_eq!(request_uuid_rows(&app.db_url).await, vec![]);
    // Forgetting never reopens a replay: its timestamp is now outside the window.
    let (status, body) = get(&app, CURRENT, &sent[0]).await;
    assert_error(status, &body, 401, "outside the accepted window");
}

#[tokio::test]
async fn the_reference_client_signs_with_epistula_when_the_server_advertises_it() {
    let app = TestApp::spawn_with(TestOptions { real_time: true, ..Default::default() }).await;
    let (_, stats) = app.get("/api/v1/zipcode-assignments/stats").await;
    let service = service_key().hotkey().to_string();
    assert_eq!(stats["epistula"], json!({"version": "2", "signedFor": service, "maxAgeMs": 8000, "maxAheadMs": 2000}));

    let client = reference_client(&app).await;
    assert_eq!(client.epistula_service(), Some(service.as_str()));
    let miner = &app.keys.miner;
    // The legacy timestamp argument is not used under Epistula: a stale one does not matter.
    let assignment = client.current(miner, 0).await.unwrap();
    let epoch = assignment.epoch_id.parse().unwrap();
    let report = zipcoord::client::status_request(
        miner,
        epoch,
        &assignment.nonce,
        zipcoord::domain::epoch::status::MinerStatus::InProgress,
        0,
    );
    client.report_status(miner, &report).await.unwrap();
    let rows = request_uuid_rows(&app.db_url).await;
    assert_eq!(rows.len(), 2, "both requests were Epistula-signed: {rows:?}");
    assert!(rows.iter().all(|(_, hotkey)| hotkey == miner.hotkey().as_str()));
}

#[derive(serde::Deserialize)]
struct EpistulaVectors {
    service: String,
    vectors: Vec<EpistulaVector>,
}

#[derive(serde::Deserialize)]
struct EpistulaVector {
    signer: String,
    form: String,
    body: String,
    message: String,
    headers: std::collections::HashMap<String, String>,
}

/// Headers made by `bittensor-wallet` the way the reference makes them verify here, for their own body only.
#[test]
fn bittensor_wallet_epistula_vectors_verify_for_their_own_body_only() {
    let file: EpistulaVectors = serde_json::from_str(include_str!("../vectors/epistula.json")).unwrap();
    assert_eq!(file.service, zipcoord::chain::dev::dev_service_hotkey().as_str(), "the same dev service address");
    assert_eq!(file.vectors.len(), 18);
    for v in &file.vectors {
        let parsed = EpistulaHeaders::parse(|name| v.headers.get(name).map(String::as_str))
            .expect("an Epistula request")
            .unwrap_or_else(|e| panic!("{} {}: {e}", v.signer, v.form));
        assert_eq!(parsed.message(v.body.as_bytes()), v.message);
        assert_eq!(parsed.signed_by, Keypair::from_uri(&v.signer).unwrap().hotkey());
        assert!(parsed.verify(v.body.as_bytes()), "{} {} over {:?}", v.signer, v.form, v.body);
        assert!(!parsed.verify(format!("{} ", v.body).as_bytes()), "another body");
        let mut other_uuid = parsed.clone();
        other_uuid.uuid = RequestUuid::from_random([1; 16]);
        assert!(!other_uuid.verify(v.body.as_bytes()), "another uuid");
    }
    assert!(file.vectors.iter().any(|v| v.form == "wrapped") && file.vectors.iter().any(|v| v.form == "raw"));
}

/// #33, a Low: an Epistula GET signed the empty body, so a captured one (its uuid not yet spent) worked once at
/// any other GET endpoint. A GET may now sign its method and path instead, as the reference client does; that
/// signature is good at its own endpoint only. The convention's empty body stays accepted.
#[tokio::test]
async fn an_epistula_get_that_signs_its_path_is_good_at_that_endpoint_only() {
    let app = TestApp::spawn().await;
    let epoch = app.current_epoch().to_string();
    let epoch_path = format!("/api/v1/zipcode-assignments/epoch/{epoch}");
    let bound = |key: &Keypair, path: &str| signed(&app, key, &epistula::get_target(path));

    assert_eq!(get(&app, CURRENT, &bound(&app.keys.miner, CURRENT)).await.0, 200);
    assert_eq!(get(&app, &epoch_path, &bound(&app.keys.validator, &epoch_path)).await.0, 200);
    // Signed for /current, sent to /epoch/{id}: refused, and the query does not change the path signed.
    let (status, body) = get(&app, &epoch_path, &bound(&app.keys.validator, CURRENT)).await;
    assert_error(status, &body, 401, "Invalid signature");
    let with_query = format!("{CURRENT}?extra=1");
    assert_eq!(get(&app, &with_query, &bound(&app.keys.miner, CURRENT)).await.0, 200);
    // The convention's empty body keeps working for clients that sign it.
    assert_eq!(get(&app, CURRENT, &signed(&app, &app.keys.miner, b"")).await.0, 200);
}

/// #33, a Low: a request carrying Epistula headers and a legacy signature was accepted, leaving a replayable
/// legacy signature on the wire beside the single-use uuid. It is refused, naming the fix, before any work.
#[tokio::test]
async fn a_request_signed_both_ways_is_refused() {
    let app = TestApp::spawn().await;
    let miner = &app.keys.miner;
    let legacy = zipcoord::client::signed_query(
        miner,
        &zipcoord::domain::access::endpoint::CURRENT,
        zipcoord::domain::access::endpoint::SignedValues::at(app.now()),
    );
    let query = format!(
        "{CURRENT}?hotkey={}&signature={}&timestamp={}",
        legacy.hotkey.unwrap(),
        legacy.signature.unwrap(),
        legacy.timestamp.unwrap()
    );
    let (status, body) = get(&app, &query, &signed(&app, miner, b"")).await;
    assert_error(status, &body, 400, "not both");
    assert_eq!(request_uuid_rows(&app.db_url).await, vec![], "no uuid was spent");

    let (_, assignment) = get(&app, CURRENT, &signed(&app, miner, b"")).await;
    let mut both = serde_json::from_slice::<Value>(&report(&assignment, "IN_PROGRESS", 1)).unwrap();
    both["signature"] = Value::from("ab".repeat(64));
    let bytes = serde_json::to_vec(&both).unwrap();
    let (status, body) = post(&app, STATUS, &bytes, &signed(&app, miner, &bytes)).await;
    assert_error(status, &body, 400, "not both");
}

//! `POST /api/v1/zipcode-assignments/status`: accepted reports are all kept, bad ones rejected in the contract's
//! error body without touching what is stored.

use serde_json::{json, Value};
use zipcoord::api::{StatusRequest, ZipcodeCompletion};
use zipcoord::client::status_request;
use zipcoord::domain::access::endpoint::{self, SignedValues};
use zipcoord::domain::access::keys::Keypair;
use zipcoord::domain::epoch::status::MinerStatus;
use zipcoord::domain::epoch::EpochId;

use crate::helpers::{assert_error, TestApp};

const STATUS: &str = "/api/v1/zipcode-assignments/status";

async fn assignment(app: &TestApp) -> (EpochId, String, Vec<String>) {
    let a = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    (a.epoch_id.parse().unwrap(), a.nonce, a.zipcodes.into_iter().map(|z| z.zipcode).collect())
}

fn completed(key: &Keypair, epoch: EpochId, nonce: &str, zipcodes: &[String], ts: i64) -> StatusRequest {
    let mut request = status_request(key, epoch, nonce, MinerStatus::Completed, ts);
    request.s3_upload_complete = true;
    request.listings_scraped = Some(zipcodes.len() as i64 * 10);
    request.zipcodes_completed = zipcodes
        .iter()
        .map(|z| ZipcodeCompletion {
            zipcode: z.clone(),
            listings_scraped: 10,
            completed_at: Some("2025-10-01T17:00:00.123456+00:00".into()),
        })
        .collect();
    request.s3_upload_timestamp = Some("2025-10-01T17:00:00Z".into());
    request
}

#[tokio::test]
async fn a_miners_full_status_sequence_is_recorded() {
    let app = TestApp::spawn().await;
    let (epoch, nonce, zipcodes) = assignment(&app).await;
    let key = &app.keys.miner;

    let request = status_request(key, epoch, &nonce, MinerStatus::InProgress, app.now());
    let (status, body) = app.post_json(STATUS, &request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "success": true,
            "message": format!("Status IN_PROGRESS recorded for epoch {epoch}"),
            "epochId": epoch.to_string(),
            "status": "IN_PROGRESS",
            "timestamp": "2025-10-01T17:00:00.000Z",
        })
    );
    // A retry of the same signed body is accepted too, and stored once.
    assert_eq!(app.post_json(STATUS, &request).await, (200, body));

    // Per-zipcode progress, signed with the older commitment form.
    for (i, zipcode) in zipcodes.iter().enumerate() {
        app.pass_time(1_000).await;
        let ts = app.now();
        let mut request = status_request(key, epoch, &nonce, MinerStatus::InProgress, ts);
        request.signature = Some(
            key.sign(
                endpoint::STATUS
                    .accepted_commitments(&SignedValues::new(key.hotkey().as_str(), ts).epoch(&epoch.to_string()))[1]
                    .as_bytes(),
            )
            .to_hex(),
        );
        request.zipcodes_completed = zipcodes[..=i]
            .iter()
            .map(|z| ZipcodeCompletion { zipcode: z.clone(), listings_scraped: 10, completed_at: None })
            .collect();
        assert_eq!(zipcode.len(), 5);
        let (status, body) = app.post_json(STATUS, &request).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = app.post_json(STATUS, &completed(key, epoch, &nonce, &zipcodes, app.now())).await;
    assert_eq!(status, 200, "{body}");

    let events = app.app().store().status_events(epoch).await.unwrap();
    assert_eq!(events.len(), zipcodes.len() + 2);
    let states = app.app().store().miner_states(epoch).await.unwrap();
    assert_eq!(states.len(), 1);
    let state = &states[0];
    assert_eq!(state.latest.hotkey, key.hotkey());
    assert_eq!(state.latest.status, MinerStatus::Completed);
    assert!(state.latest.s3_upload_complete);
    assert_eq!(state.latest.listings_scraped, Some(zipcodes.len() as u64 * 10));
    assert_eq!(state.latest.zipcodes_completed.len(), zipcodes.len());
    assert_eq!(state.latest.zipcodes_completed[0].completed_at_ms, Some(1_759_338_000_123));
    assert_eq!(state.latest.s3_upload_at_ms, Some(1_759_338_000_000));
    assert_eq!(state.report_count, zipcodes.len() as u64 + 2);
}

#[tokio::test]
async fn bad_reports_are_rejected_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (epoch, nonce, zipcodes) = assignment(&app).await;
    let key = &app.keys.miner;
    let now = app.now();
    let good = status_request(key, epoch, &nonce, MinerStatus::InProgress, now);
    assert_eq!(app.post_json(STATUS, &good).await.0, 200);

    let with = |edit: &dyn Fn(&mut StatusRequest)| {
        let mut request = good.clone();
        edit(&mut request);
        request
    };
    let resign = |request: &mut StatusRequest, key: &Keypair| {
        let epoch: EpochId = request.epoch_id.parse().unwrap();
        let timestamp = request.timestamp.unwrap();
        request.signature = Some(
            key.sign(endpoint::STATUS.commitment(&SignedValues::at(timestamp).epoch(&epoch.to_string())).as_bytes())
                .to_hex(),
        );
    };

    let cases: Vec<(StatusRequest, u16, &str)> = vec![
        (with(&|r| r.nonce = "0000000000000000".into()), 400, "Invalid nonce for epoch"),
        (with(&|r| r.nonce = String::new()), 400, "Invalid nonce for epoch"),
        (with(&|r| r.status = "DONE".into()), 400, "invalid status"),
        (with(&|r| r.epoch_id = "yesterday".into()), 400, "invalid epoch id"),
        (
            with(&|r| {
                r.epoch_id = "2025-09-01T00-00-00".into();
                resign(r, key)
            }),
            404,
            "Epoch 2025-09-01T00-00-00 not found",
        ),
        (
            with(&|r| {
                r.epoch_id = "2025-10-01T20-00-00".into();
                resign(r, key)
            }),
            404,
            "Epoch 2025-10-01T20-00-00 not found",
        ),
        (
            with(&|r| {
                r.epoch_id = "2025-10-01T17-00-00".into();
                resign(r, key)
            }),
            404,
            "not found",
        ),
        (with(&|r| r.timestamp = Some(now + 1)), 401, "Invalid signature"),
        (
            with(&|r| {
                let done = ZipcodeCompletion { zipcode: zipcodes[0].clone(), listings_scraped: 5, completed_at: None };
                r.zipcodes_completed = vec![done; 780];
            }),
            400,
            "more than once",
        ),
        (
            with(&|r| {
                let at = Some("2016-12-31T23:59:60Z".to_string());
                r.zipcodes_completed =
                    vec![ZipcodeCompletion { zipcode: zipcodes[0].clone(), listings_scraped: 5, completed_at: at }];
            }),
            400,
            "Invalid completedAt",
        ),
        (
            with(&|r| {
                let at = Some("0000-01-01T00:00:00Z".to_string());
                r.zipcodes_completed =
                    vec![ZipcodeCompletion { zipcode: zipcodes[0].clone(), listings_scraped: 5, completed_at: at }];
            }),
            400,
            "Invalid completedAt",
        ),
        (
            with(&|r| {
                r.signature =
                    Some(app.keys.other_miner.sign(format!("zipcode:status:{epoch}:{now}").as_bytes()).to_hex())
            }),
            401,
            "Invalid signature",
        ),
        (
            with(&|r| {
                r.timestamp = Some(now - 301);
                resign(r, key)
            }),
            400,
            "Invalid timestamp",
        ),
        (
            with(&|r| {
                r.timestamp = Some(now + 301);
                resign(r, key)
            }),
            400,
            "Invalid timestamp",
        ),
        (
            with(&|r| {
                r.hotkey = Some(app.keys.outsider.hotkey().to_string());
                resign(r, &app.keys.outsider)
            }),
            401,
            "not registered",
        ),
        (with(&|r| r.hotkey = Some("5abc".into())), 400, "Invalid hotkey"),
        (with(&|r| r.signature = Some("0xzz".into())), 400, "signature"),
        (with(&|r| r.listings_scraped = Some(-1)), 400, "listingsScraped must be >= 0"),
        (with(&|r| r.s3_upload_timestamp = Some("noon".into())), 400, "s3UploadTimestamp"),
        (
            with(&|r| {
                r.zipcodes_completed =
                    vec![ZipcodeCompletion { zipcode: "1234".into(), listings_scraped: 1, completed_at: None }]
            }),
            400,
            "invalid zipcode",
        ),
        (
            with(&|r| {
                r.zipcodes_completed =
                    vec![ZipcodeCompletion { zipcode: zipcodes[0].clone(), listings_scraped: -5, completed_at: None }]
            }),
            400,
            "listingsScraped",
        ),
        (
            with(&|r| {
                r.zipcodes_completed =
                    vec![ZipcodeCompletion { zipcode: "99999".into(), listings_scraped: 1, completed_at: None }]
            }),
            400,
            "Zipcode 99999 is not assigned",
        ),
    ];
    for (request, status, message) in cases {
        let (got, body) = app.post_json(STATUS, &request).await;
        assert_error(got, &body, status, message);
    }

    let raw_cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{not json".to_vec(), 400, "Invalid JSON body"),
        (b"".to_vec(), 400, "JSON object"),
        (b"[]".to_vec(), 400, "Invalid JSON body"),
        (b"{}".to_vec(), 400, "missing field"),
        (serde_json::to_vec(&json!({"hotkey": key.hotkey().to_string(), "signature": good.signature, "timestamp": "now", "epochId": epoch.to_string(), "nonce": nonce, "status": "IN_PROGRESS"})).unwrap(), 400, "Invalid JSON body"),
        (serde_json::to_vec(&json!({"hotkey": key.hotkey().to_string(), "signature": good.signature, "timestamp": 1.5, "epochId": epoch.to_string(), "nonce": nonce, "status": "IN_PROGRESS"})).unwrap(), 400, "Invalid JSON body"),
        (vec![b' '; 70 * 1024], 413, "too large"),
        (format!("{{\"pad\": \"{}\"}}", "x".repeat(200 * 1024)).into_bytes(), 413, "too large"),
    ];
    for (body, status, message) in raw_cases {
        let (got, value): (u16, Value) = app.post(STATUS, body).await;
        assert_error(got, &value, status, message);
    }

    // Only the one good report is stored.
    assert_eq!(app.app().store().status_events(epoch).await.unwrap().len(), 1);
    let states = app.app().store().miner_states(epoch).await.unwrap();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0].latest.status, MinerStatus::InProgress);
}

#[tokio::test]
async fn late_reports_are_accepted_for_one_more_epoch_then_closed() {
    let app = TestApp::spawn().await;
    let (epoch, nonce, _) = assignment(&app).await;
    let key = &app.keys.miner;
    // Three hours into the next epoch: still accepted.
    app.pass_time(6 * 3600 * 1000).await;
    let request = status_request(key, epoch, &nonce, MinerStatus::Completed, app.now());
    let (status, body) = app.post_json(STATUS, &request).await;
    assert_eq!(status, 200, "{body}");
    // Two epochs later: closed.
    app.pass_time(2 * 3600 * 1000).await;
    let request = status_request(key, epoch, &nonce, MinerStatus::Completed, app.now());
    let (status, body) = app.post_json(STATUS, &request).await;
    assert_error(status, &body, 400, "closed for status reports");
}

#[tokio::test]
async fn one_signature_carries_one_report() {
    let app = TestApp::spawn().await;
    let (epoch, nonce, zipcodes) = assignment(&app).await;
    let key = &app.keys.miner;
    let done = completed(key, epoch, &nonce, &zipcodes, app.now());
    let (status, first) = app.post_json(STATUS, &done).await;
    assert_eq!(status, 200, "{first}");

    // The client's retry of the same report: answered as the first, stored once.
    app.pass_time(2_000).await;
    let (status, again) = app.post_json(STATUS, &done).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["timestamp"], first["timestamp"], "the original receipt");

    // A captured signature carrying another body: refused, nothing stored changes.
    let mut forged = done.clone();
    forged.status = "FAILED".into();
    forged.listings_scraped = Some(0);
    forged.zipcodes_completed.clear();
    let (status, body) = app.post_json(STATUS, &forged).await;
    assert_error(status, &body, 409, "already carried a different status report");

    assert_eq!(app.app().store().status_events(epoch).await.unwrap().len(), 1);
    let latest = &app.app().store().miner_states(epoch).await.unwrap()[0].latest;
    assert_eq!((latest.status, latest.listings_scraped), (MinerStatus::Completed, Some(zipcodes.len() as u64 * 10)));

    // A new report is a new signature.
    app.pass_time(1_000).await;
    let failed = status_request(key, epoch, &nonce, MinerStatus::Failed, app.now());
    assert_eq!(app.post_json(STATUS, &failed).await.0, 200);
    assert_eq!(app.app().store().status_events(epoch).await.unwrap().len(), 2);
}

/// Reports are stored as what changed since the miner's previous one, and read back exactly as received: every
/// list the event log and the export give is the one sent, while the stored lists stay small.
#[tokio::test]
async fn reports_are_stored_compactly_and_read_back_as_sent() {
    let app = TestApp::spawn().await;
    let (epoch, nonce, zipcodes) = assignment(&app).await;
    let n = zipcodes.len();
    assert!(n >= 8, "the assignment has {n} zipcodes");
    let progress = |zips: &[String], listings: i64| -> Vec<ZipcodeCompletion> {
        zips.iter()
            .map(|z| ZipcodeCompletion { zipcode: z.clone(), listings_scraped: listings, completed_at: None })
            .collect()
    };
    // Growing lists, a repeat, a list that is not a continuation (other counts, then a shorter one), and growth
    // again; two miners interleaved.
    let mut sent: Vec<(Keypair, Vec<ZipcodeCompletion>)> = Vec::new();
    for step in 0..n {
        sent.push((app.keys.miner.clone(), progress(&zipcodes[..=step], 10)));
        sent.push((app.keys.other_miner.clone(), progress(&zipcodes[n - 1 - step / 2..], 7)));
    }
    sent.push((app.keys.miner.clone(), progress(&zipcodes, 10)));
    sent.push((app.keys.miner.clone(), progress(&zipcodes, 11)));
    sent.push((app.keys.miner.clone(), progress(&zipcodes[..3], 11)));
    sent.push((app.keys.miner.clone(), progress(&zipcodes[..5], 11)));
    for (n, (key, list)) in sent.iter().enumerate() {
        let mut request = status_request(key, epoch, &nonce, MinerStatus::InProgress, app.now());
        request.listings_scraped = Some(n as i64);
        request.zipcodes_completed = list.clone();
        let (status, body) = app.post_json(STATUS, &request).await;
        assert_eq!(status, 200, "{body}");
    }

    let events = app.app().store().status_events(epoch).await.unwrap();
    assert_eq!(events.len(), sent.len());
    for (event, (key, list)) in events.iter().zip(&sent) {
        assert_eq!(event.hotkey, key.hotkey());
        let got: Vec<(String, u64)> =
            event.zipcodes_completed.iter().map(|p| (p.zipcode.to_string(), p.listings_scraped)).collect();
        let want: Vec<(String, u64)> = list.iter().map(|c| (c.zipcode.clone(), c.listings_scraped as u64)).collect();
        assert_eq!(got, want, "report {} as sent", event.listings_scraped.unwrap());
    }

    let mut out = Vec::new();
    zipcoord::cli::export::export_history(app.app().store(), i64::MIN, i64::MAX, &mut out).await.unwrap();
    let exported: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("zipcodesCompleted").is_some())
        .collect();
    assert_eq!(exported.len(), sent.len());
    for (line, (_, list)) in exported.iter().zip(&sent) {
        let zips: Vec<&str> =
            line["zipcodesCompleted"].as_array().unwrap().iter().map(|p| p["zipcode"].as_str().unwrap()).collect();
        assert_eq!(zips, list.iter().map(|c| c.zipcode.as_str()).collect::<Vec<_>>());
    }

    // Stored: each growth step keeps one or two entries, not the whole list again.
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&app.db_url).await.unwrap();
    let stored: Vec<(String,)> = sqlx::query_as("SELECT zipcodes_completed FROM status_events ORDER BY id")
        .fetch_all(&mut connection)
        .await
        .unwrap();
    // `ZIPCODE:LISTINGS:TIME` entries joined by commas.
    let entries = |text: &str| text.split(',').filter(|entry| !entry.is_empty()).count();
    let kept: usize = stored.iter().map(|(text,)| entries(text)).sum();
    let received: usize = sent.iter().map(|(_, list)| list.len()).sum();
    assert!(kept * 4 < received, "stored {kept} entries for {received} received");
    assert_eq!(entries(&stored[2].0), 1, "the miner's second report stores only its new zipcode");
}

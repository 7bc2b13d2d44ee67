//! The success shapes of stats, `/current` and `/epoch/{id}`, field by field, and what is never revealed.

use serde_json::Value;
use zipcoord::domain::access::endpoint::{self, SignedValues};
use zipcoord::domain::epoch::EpochId;

use crate::helpers::{assert_error, TestApp, START_MS};

fn keys_of(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    names.sort();
    names
}

fn is_iso_millis(value: &Value) -> bool {
    let text = value.as_str().unwrap_or("");
    text.len() == 24
        && text.ends_with('Z')
        && text.as_bytes()[19] == b'.'
        && zipcoord::api::parse_iso8601(text).is_some()
}

fn assert_assignment_shape(body: &Value, with_status: bool) {
    let mut expected = vec![
        "success",
        "epochId",
        "nonce",
        "submissionDeadline",
        "epochStart",
        "epochEnd",
        "targetListings",
        "tolerancePercent",
        "zipcodes",
        "metadata",
        "assignments",
        "proof",
    ];
    if with_status {
        expected.push("status");
    }
    assert_eq!(keys_of(body), sorted(&expected));
    assert_eq!(body["success"], true);
    let nonce = body["nonce"].as_str().unwrap();
    assert_eq!(nonce.len(), 16);
    assert!(nonce.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    for field in ["submissionDeadline", "epochStart", "epochEnd"] {
        assert!(is_iso_millis(&body[field]), "{field}: {}", body[field]);
    }
    assert_eq!(body["submissionDeadline"], body["epochEnd"]);
    assert_eq!(body["assignments"], serde_json::json!([]));
    let zipcodes = body["zipcodes"].as_array().unwrap();
    assert!(!zipcodes.is_empty());
    let mut sum = 0;
    for z in zipcodes {
        assert_eq!(
            keys_of(z),
            sorted(&["zipcode", "expectedListings", "state", "city", "county", "marketTier", "geographicRegion"])
        );
        let code = z["zipcode"].as_str().expect("zipcode is a string");
        assert!(code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        sum += z["expectedListings"].as_u64().expect("expectedListings is an integer");
        assert!(z["state"].is_string() && z["city"].is_string() && z["marketTier"].is_string());
        assert!(z["county"].is_string() || z["county"].is_null());
        assert!(z["geographicRegion"].is_string());
    }
    let target = body["targetListings"].as_u64().unwrap();
    let tolerance = body["tolerancePercent"].as_u64().unwrap();
    assert_eq!((target, tolerance), (10_000, 10));
    assert!(sum * 100 >= target * (100 - tolerance) && sum * 100 <= target * (100 + tolerance), "sum {sum}");
    let metadata = &body["metadata"];
    assert_eq!(
        keys_of(metadata),
        sorted(&["totalExpectedListings", "zipcodeCount", "algorithmVersion", "selectionSeed"])
    );
    assert_eq!(metadata["totalExpectedListings"], sum);
    assert_eq!(metadata["zipcodeCount"], zipcodes.len());
}

#[tokio::test]
async fn stats_has_the_contract_shape_and_agrees_with_current() {
    let app = TestApp::spawn().await;
    let (status, stats) = app.get("/api/v1/zipcode-assignments/stats").await;
    assert_eq!(status, 200);
    // The contract's keys, and `epistula` (an addition: this server accepts Epistula-signed requests).
    assert_eq!(
        keys_of(&stats),
        sorted(&[
            "success",
            "currentTime",
            "systemStatus",
            "epochStatus",
            "zipcodeStatistics",
            "recentPerformance",
            "epistula"
        ])
    );
    assert_eq!(stats["success"], true);
    assert_eq!(stats["currentTime"], START_MS / 1000);
    assert_eq!(stats["systemStatus"], "operational");
    let epoch_status = &stats["epochStatus"];
    assert_eq!(keys_of(epoch_status), sorted(&["currentEpoch", "timing", "nextEpoch"]));
    let current = &epoch_status["currentEpoch"];
    assert_eq!(
        keys_of(current),
        sorted(&[
            "id",
            "status",
            "startTime",
            "endTime",
            "nonce",
            "zipcodeCount",
            "targetListings",
            "actualExpected",
            "timeUntilEpochEnd"
        ])
    );
    assert_eq!(current["id"], "2025-10-01T16-00-00");
    assert_eq!(current["status"], "ACTIVE");
    assert_eq!(current["startTime"], "2025-10-01T16:00:00.000Z");
    assert_eq!(current["endTime"], "2025-10-01T20:00:00.000Z");
    assert_eq!(current["timeUntilEpochEnd"], 3 * 3600);
    assert_eq!(epoch_status["timing"]["timeUntilEpochEnd"], 3 * 3600);
    assert_eq!(epoch_status["timing"]["timeUntilNextEpoch"], 3 * 3600);
    assert_eq!(epoch_status["timing"]["epochDurationHours"], 4.0);
    assert_eq!(epoch_status["nextEpoch"]["startTime"], "2025-10-01T20:00:00.000Z");
    let statistics = &stats["zipcodeStatistics"];
    assert_eq!(
        keys_of(statistics),
        sorted(&[
            "totalZipcodes",
            "activeZipcodes",
            "inactiveZipcodes",
            "stateDistribution",
            "tierDistribution",
            "configuration"
        ])
    );
    assert_eq!(statistics["totalZipcodes"], 600);
    assert_eq!(statistics["activeZipcodes"], 600);
    assert_eq!(statistics["inactiveZipcodes"], 0);
    let states = statistics["stateDistribution"].as_array().unwrap();
    assert_eq!(states.len(), 7);
    assert_eq!(keys_of(&states[0]), sorted(&["state", "count", "avgListings"]));
    let tiers = statistics["tierDistribution"].as_array().unwrap();
    assert_eq!(tiers.iter().map(|t| t["count"].as_u64().unwrap()).sum::<u64>(), 600);
    assert_eq!(keys_of(&tiers[0]), sorted(&["tier", "count", "avgListings"]));
    assert_eq!(
        statistics["configuration"],
        serde_json::json!({"targetListings": 10000, "tolerancePercent": 10, "cooldownHours": 24.0, "minListings": 10, "maxListings": 3000})
    );
    let recent = stats["recentPerformance"].as_array().unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(
        keys_of(&recent[0]),
        sorted(&["epochId", "status", "zipcodesAssigned", "targetListings", "actualExpected"])
    );
    assert_eq!(recent[0]["epochId"], "2025-10-01T16-00-00");

    // The same epoch id and nonce in stats and /current: otherwise miners re-mine on every poll.
    let assignment = app.client.current(&app.keys.other_miner, app.now()).await.unwrap();
    assert_eq!(current["id"], assignment.epoch_id.as_str());
    assert_eq!(current["nonce"], assignment.nonce.as_str());
    assert_eq!(current["zipcodeCount"], assignment.zipcodes.len());
    assert_eq!(current["actualExpected"], assignment.metadata.total_expected_listings);
}

#[tokio::test]
async fn current_serves_the_assignment_in_the_contract_shape() {
    let app = TestApp::spawn().await;
    let ts = app.now();
    let key = &app.keys.miner;
    let signature = key.sign(endpoint::CURRENT.commitment(&SignedValues::at(ts)).as_bytes()).to_hex();
    let (status, body) =
        app.get_signed("/api/v1/zipcode-assignments/current", key.hotkey().as_str(), &signature, &ts.to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_assignment_shape(&body, false);
    assert_eq!(body["epochId"], "2025-10-01T16-00-00");
    assert_eq!(body["epochStart"], "2025-10-01T16:00:00.000Z");
    assert_eq!(body["epochEnd"], "2025-10-01T20:00:00.000Z");
    // Everyone gets the same assignment.
    let other = app.client.current(&app.keys.validator, ts).await.unwrap();
    assert_eq!(serde_json::to_value(&other).unwrap(), body);
}

#[tokio::test]
async fn validators_read_started_epochs_only() {
    let app = TestApp::spawn().await;
    let validator = &app.keys.validator;
    let first = app.client.current(&app.keys.miner, app.now()).await.unwrap();

    // The next epoch's inputs are published, but its assignment cannot exist before its start: the round that
    // seeds it is not emitted yet.
    let next: EpochId = "2025-10-01T20-00-00".parse().unwrap();
    app.pass_time(2 * 3600 * 1000 + 50 * 60 * 1000).await;
    zipcoord::tasks::epoch_tick(app.app()).await;
    assert!(app.app().published_inputs(next).await.unwrap().is_some(), "inputs published an epoch ahead");
    assert!(app.app().store().load_epoch(next).await.unwrap().is_none(), "19:50 is before round time");
    for hidden in [next, "2025-10-02T00-00-00".parse().unwrap()] {
        let err = app.client.epoch(validator, hidden, app.now()).await.unwrap_err();
        assert_api_error(err, 404, &format!("Epoch {hidden} not found"));
    }

    // At the switch, the epoch is created from its round's pulse; the previous one is served with its original
    // nonce and zipcodes.
    app.pass_time(10 * 60 * 1000).await;
    zipcoord::tasks::epoch_tick(app.app()).await;
    assert!(app.app().store().load_epoch(next).await.unwrap().is_some(), "created at its start");
    let previous: EpochId = first.epoch_id.parse().unwrap();
    let judged = app.client.epoch(validator, previous, app.now()).await.unwrap();
    assert_eq!(judged.status.as_deref(), Some("COMPLETED"));
    assert_eq!(judged.nonce, first.nonce);
    assert_eq!(judged.zipcodes, first.zipcodes);
    let mut value = serde_json::to_value(&judged).unwrap();
    assert_assignment_shape(&value, true);
    value.as_object_mut().unwrap().remove("status");
    assert_eq!(value, serde_json::to_value(&first).unwrap());

    let now_current = app.client.epoch(validator, next, app.now()).await.unwrap();
    assert_eq!(now_current.status.as_deref(), Some("ACTIVE"));
    assert_ne!(now_current.nonce, first.nonce);

    // An epoch before the service existed, and an id between epoch boundaries.
    for missing in ["2025-09-01T00-00-00", "2025-10-01T17-00-00"] {
        let err = app.client.epoch(validator, missing.parse().unwrap(), app.now()).await.unwrap_err();
        assert_api_error(err, 404, "not found");
    }
}

pub fn assert_api_error(err: zipcoord::client::ClientError, status: u16, message_contains: &str) {
    match err {
        zipcoord::client::ClientError::Api { status: got, body } => {
            let value = serde_json::to_value(&body).unwrap();
            assert_error(got, &value, status, message_contains);
        }
        other => panic!("expected an API error, got {other}"),
    }
}

#[tokio::test]
async fn epoch_endpoint_is_for_validators_with_stake() {
    let app = TestApp::spawn().await;
    let epoch = app.current_epoch();
    assert!(app.client.epoch(&app.keys.validator, epoch, app.now()).await.is_ok());
    let err = app.client.epoch(&app.keys.miner, epoch, app.now()).await.unwrap_err();
    assert_api_error(err, 403, "Validator permit required");
    let err = app.client.epoch(&app.keys.poor_validator, epoch, app.now()).await.unwrap_err();
    assert_api_error(err, 403, "stake");
    let err = app.client.epoch(&app.keys.outsider, epoch, app.now()).await.unwrap_err();
    assert_api_error(err, 401, "not registered");
}

#[tokio::test]
async fn malformed_epoch_ids_are_rejected() {
    let app = TestApp::spawn().await;
    let ts = app.now();
    let key = &app.keys.validator;
    for bad in ["2025-10-01", "2025-10-01T16:00:00", "latest", "2025-13-01T16-00-00", "%20", "2025-10-01T16-00-00Z"] {
        let signature = key.sign(format!("zipcode:validation:{bad}:{ts}").as_bytes()).to_hex();
        let (status, body) = app
            .get_signed(
                &format!("/api/v1/zipcode-assignments/epoch/{bad}"),
                key.hotkey().as_str(),
                &signature,
                &ts.to_string(),
            )
            .await;
        assert_error(status, &body, 400, "invalid epoch id");
    }
}

//! Signed-request checks on every signed endpoint, and interop with the signatures of `bittensor-wallet`.

use serde_json::Value;
use zipcoord::domain::access::auth::{verify_hotkey_signature, HotkeySignature};
use zipcoord::domain::access::endpoint::{self, SignedValues};
use zipcoord::domain::access::keys::Keypair;
use zipcoord::domain::hotkey::Hotkey;

use crate::helpers::{assert_error, TestApp};

const CURRENT: &str = "/api/v1/zipcode-assignments/current";

/// One signed GET endpoint: its path and the commitment for a timestamp.
struct SignedGet {
    path: String,
    commitment: Box<dyn Fn(i64) -> String>,
}

fn signed_gets(app: &TestApp) -> Vec<(SignedGet, &Keypair)> {
    let epoch = app.current_epoch();
    vec![
        (
            SignedGet {
                path: CURRENT.to_string(),
                commitment: Box::new(|ts| endpoint::CURRENT.commitment(&SignedValues::at(ts))),
            },
            &app.keys.miner,
        ),
        (
            SignedGet {
                path: format!("/api/v1/zipcode-assignments/epoch/{epoch}"),
                commitment: Box::new(move |ts| {
                    endpoint::EPOCH.commitment(&SignedValues::at(ts).epoch(&epoch.to_string()))
                }),
            },
            &app.keys.validator,
        ),
    ]
}

#[tokio::test]
async fn signed_gets_reject_every_kind_of_bad_credential() {
    let app = TestApp::spawn().await;
    let now = app.now();
    for (endpoint, key) in signed_gets(&app) {
        let path = endpoint.path.as_str();
        let hotkey = key.hotkey().to_string();
        let sign = |ts: i64| key.sign((endpoint.commitment)(ts).as_bytes()).to_hex();
        let good = sign(now);

        let (status, _) = app.get_signed(path, &hotkey, &good, &now.to_string()).await;
        assert_eq!(status, 200, "{path}");

        // Retries reuse the same signed parameters: accepted again within the window.
        let (status, _) = app.get_signed(path, &hotkey, &good, &now.to_string()).await;
        assert_eq!(status, 200, "{path}: a retried signature must be accepted");

        // 0x-prefixed and upper-case hex are accepted.
        let (status, _) = app.get_signed(path, &hotkey, &format!("0x{good}"), &now.to_string()).await;
        assert_eq!(status, 200);
        let (status, _) = app.get_signed(path, &hotkey, &good.to_uppercase(), &now.to_string()).await;
        assert_eq!(status, 200);

        // <Bytes>-wrapped signatures (polkadot-js) are accepted.
        let wrapped = key.sign(format!("<Bytes>{}</Bytes>", (endpoint.commitment)(now)).as_bytes()).to_hex();
        let (status, _) = app.get_signed(path, &hotkey, &wrapped, &now.to_string()).await;
        assert_eq!(status, 200);

        // Tampered signature.
        let mut tampered = good.clone().into_bytes();
        tampered[10] = if tampered[10] == b'0' { b'1' } else { b'0' };
        let (status, body) =
            app.get_signed(path, &hotkey, &String::from_utf8(tampered).unwrap(), &now.to_string()).await;
        assert_error(status, &body, 401, "Invalid signature");

        // Signature over a different timestamp than the one sent.
        let (status, body) = app.get_signed(path, &hotkey, &sign(now - 1), &now.to_string()).await;
        assert_error(status, &body, 401, "Invalid signature");

        // Another registered hotkey's signature.
        let other = app.keys.other_miner.sign((endpoint.commitment)(now).as_bytes()).to_hex();
        let (status, body) = app.get_signed(path, &hotkey, &other, &now.to_string()).await;
        assert_error(status, &body, 401, "Invalid signature");

        // Stale and future timestamps, each correctly signed.
        for ts in [now - 301, now + 301, now - 100_000] {
            let (status, body) = app.get_signed(path, &hotkey, &sign(ts), &ts.to_string()).await;
            assert_error(status, &body, 400, "Invalid timestamp");
        }
        // One instant, one spelling: the same instant with a sign, spaces or leading zeros is refused.
        for text in [format!(" {now}"), format!("+{now}"), format!("0{now}"), format!("{now} ")] {
            let (status, body) = app.get_signed(path, &hotkey, &good, &text).await;
            assert_error(status, &body, 400, "Invalid timestamp");
        }
        for ts in [now - 300, now + 300] {
            let (status, body) = app.get_signed(path, &hotkey, &sign(ts), &ts.to_string()).await;
            assert_eq!(status, 200, "{ts} is inside the window: {body}");
        }

        // Unregistered hotkey with a valid signature.
        let outsider = &app.keys.outsider;
        let signature = outsider.sign((endpoint.commitment)(now).as_bytes()).to_hex();
        let (status, body) = app.get_signed(path, outsider.hotkey().as_str(), &signature, &now.to_string()).await;
        assert_error(status, &body, 401, "not registered on subnet 46");

        // Malformed values.
        let (status, body) = app.get_signed(path, "5notahotkey", &good, &now.to_string()).await;
        assert_error(status, &body, 400, "Invalid hotkey");
        let polkadot_prefix = "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5";
        let (status, body) = app.get_signed(path, polkadot_prefix, &good, &now.to_string()).await;
        assert_error(status, &body, 400, "Invalid hotkey");
        for bad_signature in ["", "xyz", "0x", &good[..100]] {
            let (status, body) = app.get_signed(path, &hotkey, bad_signature, &now.to_string()).await;
            assert_eq!(status, 400, "{bad_signature:?}: {body}");
            assert_error(status, &body, 400, "signature");
        }
        for bad_timestamp in ["abc", "1.5", "", "99999999999999999999999"] {
            let (status, body) = app.get_signed(path, &hotkey, &good, bad_timestamp).await;
            assert_error(status, &body, 400, "timestamp");
        }

        // Missing parameters.
        let (status, body) = app.get(path).await;
        assert_error(status, &body, 400, "hotkey is required");
        let (status, body) = app.get(&format!("{path}?hotkey={hotkey}&timestamp={now}")).await;
        assert_error(status, &body, 400, "signature is required");
        let (status, body) = app.get(&format!("{path}?hotkey={hotkey}&signature={good}")).await;
        assert_error(status, &body, 400, "timestamp is required");
    }
}

#[tokio::test]
async fn junk_never_reaches_a_500() {
    let app = TestApp::spawn().await;
    let long = "9".repeat(10_000);
    let paths = [
        format!("{CURRENT}?hotkey=%FF%FE&signature=%00&timestamp=%00"),
        format!("{CURRENT}?hotkey={long}&signature={long}&timestamp={long}"),
        format!("{CURRENT}?hotkey=a&hotkey=b"),
        "/api/v1/zipcode-assignments/epoch/..%2F..%2Fetc".to_string(),
        format!("/api/v1/zipcode-assignments/epoch/{long}"),
        "/api/v1/zipcode-assignments/epoch/".to_string(),
    ];
    for path in &paths {
        let (status, body) = app.get(path).await;
        assert!((400..500).contains(&status), "{path}: {status} {body}");
        assert_error(status, &body, status, "");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = TestApp::spawn().await;
    let (status, body) = app.get("/api/v1/nothing-here").await;
    assert_error(status, &body, 404, "Route not found");
    let (status, body) = app.post("/api/v1/zipcode-assignments/stats", "{}").await;
    assert_error(status, &body, 405, "Method not allowed");
    let (status, body) = app.post(CURRENT, "{}").await;
    assert_error(status, &body, 405, "Method not allowed");
}

#[derive(serde::Deserialize)]
struct Vectors {
    keys: Vec<KeyVector>,
    signatures: Vec<SignatureVector>,
}

#[derive(serde::Deserialize)]
struct KeyVector {
    uri: String,
    ss58: String,
    public: String,
}

#[derive(serde::Deserialize)]
struct SignatureVector {
    ss58: String,
    message: String,
    form: String,
    signature: String,
}

fn vectors() -> Vectors {
    serde_json::from_str(include_str!("../vectors/bittensor_wallet.json")).unwrap()
}

#[test]
fn derives_the_same_keys_as_bittensor_wallet() {
    let vectors = vectors();
    assert!(vectors.keys.len() >= 10);
    for key in vectors.keys {
        let ours = Keypair::from_uri(&key.uri).unwrap_or_else(|e| panic!("{}: {e}", key.uri));
        assert_eq!(ours.hotkey().as_str(), key.ss58, "{}", key.uri);
        assert_eq!(hex::encode(ours.hotkey().public_bytes()), key.public, "{}", key.uri);
    }
}

#[test]
fn accepts_bittensor_wallet_signatures_and_rejects_tampered_ones() {
    let vectors = vectors();
    assert!(vectors.signatures.iter().any(|v| v.form == "wrapped"));
    for v in vectors.signatures {
        let hotkey: Hotkey = v.ss58.parse().unwrap();
        for form in [v.signature.clone(), format!("0x{}", v.signature), v.signature.to_uppercase()] {
            let signature: HotkeySignature = form.parse().unwrap();
            assert!(verify_hotkey_signature(&hotkey, v.message.as_bytes(), &signature), "{} ({})", v.message, v.form);
        }
        let signature: HotkeySignature = v.signature.parse().unwrap();
        let tampered_message = format!("{}0", v.message);
        assert!(!verify_hotkey_signature(&hotkey, tampered_message.as_bytes(), &signature));
        let mut bytes = hex::decode(&v.signature).unwrap();
        bytes[0] ^= 1;
        let tampered: HotkeySignature = hex::encode(bytes).parse().unwrap();
        assert!(!verify_hotkey_signature(&hotkey, v.message.as_bytes(), &tampered));
        let stranger = Keypair::from_uri("//Ferdie").unwrap().hotkey();
        assert!(!verify_hotkey_signature(&stranger, v.message.as_bytes(), &signature));
    }
}

#[tokio::test]
async fn bittensor_wallet_signatures_authenticate_over_http() {
    // The vectors sign at a fixed timestamp; with the server's clock there they are real clients' requests.
    let vectors = vectors();
    let app = TestApp::spawn().await;
    app.time.set_ms(1_759_334_400_000);
    let charlie = app.keys.charlie.hotkey();
    let signed: Vec<&SignatureVector> = vectors
        .signatures
        .iter()
        .filter(|v| v.ss58 == charlie.as_str() && v.message.starts_with("zipcode:assignment:current:"))
        .collect();
    assert_eq!(signed.len(), 2, "a raw and a wrapped vector");
    for v in signed {
        let (status, body): (u16, Value) = app.get_signed(CURRENT, &v.ss58, &v.signature, "1759334400").await;
        assert_eq!(status, 200, "{} signature: {body}", v.form);
        assert_eq!(body["epochId"], "2025-10-01T16-00-00");
    }
}

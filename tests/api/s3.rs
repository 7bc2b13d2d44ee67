//! The S3 access endpoints against a real S3-compatible server (s3s-fs, embedded) that checks SigV4
//! signatures, presigned URLs and POST policies: grants work for what they allow and fail for anything else.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use tempfile::TempDir;
use zipcoord::domain::access::endpoint::{self, SignedValues};
use zipcoord::domain::access::keys::Keypair;
use zipcoord::localnet::LocalStore;

use zipcoord::s3::{S3Secret, S3Settings, UploadMode};
use zipcoord::settings::Settings;

use crate::helpers::{assert_error, TestApp, TestOptions};

const BUCKET: &str = "resi-data";
const ACCESS_KEY: &str = "zipcoord-test-key";
const SECRET_KEY: &str = "s3-secret-never-shown-9f8e7d6c5b4a";
const XML_NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The crate's loopback S3 store (s3s-fs) with one bucket, storing under a temporary folder.
struct S3Server {
    store: LocalStore,
    _dir: TempDir,
}

impl S3Server {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::start(&dir.path().join("store"), BUCKET, ACCESS_KEY, SECRET_KEY).await.unwrap();
        S3Server { store, _dir: dir }
    }

    /// The store's settings with `secret` as the secret key (the wrong one, in some tests), size limits and
    /// `upload_mode`.
    fn settings(&self, secret: &str, upload_mode: UploadMode) -> S3Settings {
        S3Settings {
            secret_access_key: S3Secret::new(secret),
            object_size: (1024, 65_536),
            upload_mode,
            ..self.store.s3_settings()
        }
    }

    fn stored(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.store.object_path(key)).ok()
    }
}

async fn spawn_with_s3(s3: &S3Server, secret: &str, upload_mode: UploadMode) -> TestApp {
    let store = s3.settings(secret, upload_mode);
    TestApp::spawn_with(TestOptions {
        real_time: true,
        settings: Some(Box::new(|settings: &mut Settings| settings.s3 = Ok(store))),
        ..TestOptions::default()
    })
    .await
}

fn folder_request(key: &Keypair, timestamp: i64, expiry: Option<i64>) -> Value {
    let hotkey = key.hotkey();
    let message =
        endpoint::FOLDER_ACCESS.commitment(&SignedValues::new(hotkey.as_str(), timestamp).coldkey("5coldkey"));
    let mut body = json!({
        "coldkey": "5coldkey",
        "hotkey": hotkey.to_string(),
        "timestamp": timestamp,
        "signature": key.sign(message.as_bytes()).to_hex(),
    });
    if let Some(expiry) = expiry {
        body["expiry"] = json!(expiry);
    }
    body
}

fn miner_request(validator: &Keypair, miner: &str, timestamp: i64) -> Value {
    let message = endpoint::MINER_ACCESS.commitment(&SignedValues::at(timestamp).miner_hotkey(miner));
    json!({
        "hotkey": validator.hotkey().to_string(),
        "timestamp": timestamp,
        "signature": validator.sign(message.as_bytes()).to_hex(),
        "miner_hotkey": miner,
        "expiry": timestamp + 86_400,
        "coldkey": "ignored",
    })
}

fn validator_request(validator: &Keypair, timestamp: i64) -> Value {
    let message = endpoint::VALIDATOR_ACCESS.commitment(&SignedValues::at(timestamp));
    json!({"hotkey": validator.hotkey().to_string(), "timestamp": timestamp, "signature": validator.sign(message.as_bytes()).to_hex()})
}

fn upload_request(validator: &Keypair, epoch: &str, timestamp: i64) -> Value {
    let message = endpoint::VALIDATOR_UPLOAD.commitment(&SignedValues::at(timestamp));
    json!({
        "hotkey": validator.hotkey().to_string(),
        "signature": validator.sign(message.as_bytes()).to_hex(),
        "timestamp": timestamp,
        "epochId": epoch,
        "purpose": "validation_results",
        "estimatedDataSizeMb": 1.5,
        "retentionDays": 30,
    })
}

/// POSTs a browser-style upload: the grant's fields, `key` with `${filename}` substituted, then the file.
async fn post_upload(url: &str, fields: &BTreeMap<String, String>, filename: &str, content: Vec<u8>) -> (u16, String) {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        let value = if name == "key" { value.replace("${filename}", filename) } else { value.clone() };
        form = form.text(name.clone(), value);
    }
    form = form.part("file", reqwest::multipart::Part::bytes(content).file_name(filename.to_string()));
    let response = reqwest::Client::new().post(url).multipart(form).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn fields_of(body: &Value) -> BTreeMap<String, String> {
    serde_json::from_value(body["fields"].clone()).unwrap()
}

async fn get_text(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn listed_keys(xml: &str) -> Vec<String> {
    xml.split("<Key>").skip(1).filter_map(|rest| rest.split("</Key>").next()).map(str::to_string).collect()
}

#[tokio::test]
async fn a_miner_uploads_into_its_folder_and_lists_it() {
    let s3 = S3Server::start().await;
    let app = spawn_with_s3(&s3, SECRET_KEY, UploadMode::Post).await;
    let miner = &app.keys.miner;
    let now = app.now();
    let (status, grant) = app.post_json("/get-folder-access", &folder_request(miner, now, Some(now + 86_400))).await;
    assert_eq!(status, 200, "{grant}");
    let folder = format!("data/hotkey={}/", miner.hotkey());
    assert_eq!(grant["success"], true);
    assert_eq!(grant["folder"], folder.as_str());
    assert_eq!(grant["metadata"]["folderPath"], folder.as_str());
    assert_eq!(grant["url"], format!("{}/{BUCKET}", s3.store.endpoint()));
    assert_eq!(grant["uploadUrl"], grant["url"]);
    assert_eq!(grant["fields"]["key"], format!("{folder}${{filename}}"));
    assert!(grant["structure_info"]["folder_structure"].is_string());
    let expiry = zipcoord::api::parse_iso8601(grant["expiry"].as_str().unwrap()).unwrap();
    assert!((expiry / 1000 - (now + 86_400)).abs() <= 1, "24 h grant");
    assert!(!grant.to_string().contains(SECRET_KEY));

    let filename = "epoch=2025-10-01T16-00-00/zipcode=02134/data_20251001_170000.json";
    let content = vec![b'x'; 2048];
    let (status, text) =
        post_upload(grant["url"].as_str().unwrap(), &fields_of(&grant), filename, content.clone()).await;
    assert_eq!(status, 204, "{text}");
    assert_eq!(s3.stored(&format!("{folder}{filename}")).unwrap(), content);

    let (status, xml) = get_text(grant["list_url"].as_str().unwrap()).await;
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains(XML_NAMESPACE), "{xml}");
    assert_eq!(listed_keys(&xml), vec![format!("{folder}{filename}")]);

    let grants = app.app().store().recent_grants(Some(miner.hotkey().as_str()), 10).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].prefix, folder);
    assert_eq!(grants[0].kind, zipcoord::domain::access::grant::GrantKind::MinerFolder);
}

#[tokio::test]
async fn the_store_rejects_everything_a_grant_does_not_allow() {
    let s3 = S3Server::start().await;
    let app = spawn_with_s3(&s3, SECRET_KEY, UploadMode::Post).await;
    let miner = &app.keys.miner;
    let now = app.now();
    let (_, grant) = app.post_json("/get-folder-access", &folder_request(miner, now, None)).await;
    let url = grant["url"].as_str().unwrap().to_string();
    let fields = fields_of(&grant);
    let ok_size = vec![b'a'; 2048];

    // Outside the miner's folder.
    let mut outside = fields.clone();
    outside.insert("key".into(), format!("data/hotkey={}/stolen.json", app.keys.other_miner.hotkey()));
    let (status, text) = post_upload(&url, &outside, "x", ok_size.clone()).await;
    assert!(status == 400 && text.contains("InvalidPolicyDocument") && text.contains("starts-with"), "{status} {text}");
    // Above the maximum and below the minimum size.
    let (status, text) = post_upload(&url, &fields, "big.json", vec![b'b'; 70_000]).await;
    assert!(status == 400 && text.contains("EntityTooLarge"), "{status} {text}");
    let (status, text) = post_upload(&url, &fields, "small.json", vec![b'c'; 100]).await;
    assert!(status == 400 && text.contains("EntityTooSmall"), "{status} {text}");
    // A tampered policy (a wider prefix) no longer matches its signature.
    let mut tampered = fields.clone();
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let policy = String::from_utf8(engine.decode(&fields["policy"]).unwrap()).unwrap();
    let widened = policy.replace(&format!("data/hotkey={}/", miner.hotkey()), "data/");
    assert_ne!(policy, widened);
    tampered.insert("policy".into(), engine.encode(widened));
    tampered.insert("key".into(), format!("data/hotkey={}/x", app.keys.other_miner.hotkey()));
    let (status, text) = post_upload(&url, &tampered, "x", ok_size.clone()).await;
    assert!(status == 403 && text.contains("SignatureDoesNotMatch"), "{status} {text}");

    // An expired policy: the client's expiry shortens the grant to two seconds.
    let (status, short) = app.post_json("/get-folder-access", &folder_request(miner, now, Some(now + 2))).await;
    assert_eq!(status, 200, "{short}");
    tokio::time::sleep(std::time::Duration::from_millis(3_200)).await;
    let (status, text) = post_upload(&url, &fields_of(&short), "late.json", ok_size.clone()).await;
    assert!(status == 403 && text.contains("expired"), "{status} {text}");

    // A grant signed with the wrong secret.
    let misconfigured = spawn_with_s3(&s3, "not-the-real-secret", UploadMode::Post).await;
    let other = &misconfigured.keys.miner;
    let (status, wrong) =
        misconfigured.post_json("/get-folder-access", &folder_request(other, misconfigured.now(), None)).await;
    assert_eq!(status, 200, "{wrong}");
    let (status, text) = post_upload(&url, &fields_of(&wrong), "wrong.json", ok_size.clone()).await;
    assert!(status == 403 && text.contains("SignatureDoesNotMatch"), "{status} {text}");
    let (status, _) = get_text(wrong["list_url"].as_str().unwrap()).await;
    assert_eq!(status, 403);

    // Nothing of that landed; a good upload still does.
    let (status, text) = post_upload(&url, &fields, "good.json", ok_size).await;
    assert_eq!(status, 204, "{text}");
    let (_, xml) = get_text(grant["list_url"].as_str().unwrap()).await;
    assert_eq!(listed_keys(&xml), vec![format!("data/hotkey={}/good.json", miner.hotkey())]);
    assert!(std::fs::read_dir(s3.store.object_path("data")).unwrap().count() == 1, "no other folder was written");
}

#[tokio::test]
async fn validators_list_miners_and_upload_results() {
    let s3 = S3Server::start().await;
    let app = spawn_with_s3(&s3, SECRET_KEY, UploadMode::Post).await;
    let now = app.now();
    for (key, files) in [(&app.keys.miner, vec!["a.json", "b.json"]), (&app.keys.other_miner, vec!["c.json"])] {
        let (_, grant) = app.post_json("/get-folder-access", &folder_request(key, now, None)).await;
        for file in files {
            let (status, text) =
                post_upload(grant["url"].as_str().unwrap(), &fields_of(&grant), file, vec![b'z'; 1500]).await;
            assert_eq!(status, 204, "{text}");
        }
    }
    let validator = &app.keys.validator;
    let miner = app.keys.miner.hotkey().to_string();
    let (status, access) = app.post_json("/get-miner-specific-access", &miner_request(validator, &miner, now)).await;
    assert_eq!(status, 200, "{access}");
    assert_eq!(access["bucket"], BUCKET);
    assert_eq!(access["region"], "us-east-1");
    assert_eq!(access["miner_hotkey"], miner.as_str());
    assert_eq!(access["prefix"], format!("data/hotkey={miner}/"));
    let (status, xml) = get_text(access["miner_url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(xml.contains(&format!("xmlns=\"{XML_NAMESPACE}\"")), "{xml}");
    assert_eq!(listed_keys(&xml), vec![format!("data/hotkey={miner}/a.json"), format!("data/hotkey={miner}/b.json")]);
    assert!(access.get("download_urls").is_none(), "no files named, no download URLs: {access}");

    // Reading what was listed: a presigned GET per named object, good for that object only.
    let mut named = miner_request(validator, &miner, now);
    named["files"] = json!(["a.json", "b.json"]);
    let (status, access) = app.post_json("/get-miner-specific-access", &named).await;
    assert_eq!(status, 200, "{access}");
    let downloads = access["download_urls"].as_array().unwrap();
    assert_eq!(downloads.len(), 2);
    assert_eq!(downloads[0]["key"], format!("data/hotkey={miner}/a.json"));
    let (status, body) = get_text(downloads[0]["url"].as_str().unwrap()).await;
    assert_eq!((status, body.len()), (200, 1500));
    let forged = downloads[0]["url"].as_str().unwrap().replace("/a.json", "/b.json");
    let (status, _) = get_text(&forged).await;
    assert_eq!(status, 403, "a GET URL must not open another object");
    for bad in [json!(["../other/x.json"]), json!(["/abs.json"]), json!([""])] {
        let mut request = miner_request(validator, &miner, now);
        request["files"] = bad;
        let (status, body) = app.post_json("/get-miner-specific-access", &request).await;
        assert_error(status, &body, 400, "invalid file name");
    }

    let (status, all) = app.post_json("/get-validator-access", &validator_request(validator, now)).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["validator_hotkey"], validator.hotkey().to_string());
    assert_eq!(all["expiry_seconds"], 3 * 3600);
    let (_, xml) = get_text(all["urls"]["global"]["list_all_data"].as_str().unwrap()).await;
    assert_eq!(listed_keys(&xml).len(), 3);
    let (_, xml) = get_text(all["urls"]["miners"]["list_all_miners"].as_str().unwrap()).await;
    assert_eq!(xml.matches("<CommonPrefixes>").count(), 2, "{xml}");

    let epoch = app.current_epoch().to_string();
    let (status, upload) =
        app.post_json("/api/v1/s3-access/validator-upload", &upload_request(validator, &epoch, now)).await;
    assert_eq!(status, 200, "{upload}");
    let folder = format!("validators/{}/{epoch}/", validator.hotkey());
    assert_eq!(upload["success"], true);
    assert_eq!(upload["uploadUrl"], upload["url"]);
    assert_eq!(upload["fields"]["key"], format!("{folder}${{filename}}"));
    assert_eq!(upload["metadata"]["folderPath"], folder.as_str());
    assert_eq!(upload["metadata"]["maxFileSize"], 65_536);
    let (status, text) =
        post_upload(upload["url"].as_str().unwrap(), &fields_of(&upload), "results.json", b"{\"weights\":{}}".to_vec())
            .await;
    assert_eq!(status, 204, "{text}");
    assert_eq!(s3.stored(&format!("{folder}results.json")).unwrap(), b"{\"weights\":{}}");
    let kinds: Vec<String> = app
        .app()
        .store()
        .recent_grants(Some(&validator.hotkey().to_string()), 10)
        .await
        .unwrap()
        .iter()
        .map(|g| g.kind.to_string())
        .collect();
    assert_eq!(kinds, ["validator_upload", "validator_read", "miner_read", "miner_read"], "each grant recorded once");
}

#[tokio::test]
async fn access_rules_and_errors() {
    let s3 = S3Server::start().await;
    let app = spawn_with_s3(&s3, SECRET_KEY, UploadMode::Post).await;
    let now = app.now();
    let miner = &app.keys.miner;
    let validator = &app.keys.validator;
    let miner_hotkey = miner.hotkey().to_string();
    let mut bodies = Vec::new();

    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("/get-validator-access", validator_request(miner, now), 403, "Validator permit required"),
        ("/get-miner-specific-access", miner_request(miner, &miner_hotkey, now), 403, "Validator permit required"),
        (
            "/api/v1/s3-access/validator-upload",
            upload_request(miner, "2025-10-01T16-00-00", now),
            403,
            "Validator permit required",
        ),
        ("/get-validator-access", validator_request(&app.keys.poor_validator, now), 403, "stake"),
        ("/get-folder-access", folder_request(&app.keys.outsider, now, None), 401, "not registered"),
        ("/get-validator-access", validator_request(&app.keys.outsider, now), 401, "not registered"),
        ("/get-folder-access", folder_request(miner, now - 301, None), 400, "Invalid timestamp"),
        ("/get-folder-access", folder_request(miner, now + 61, None), 400, "Invalid timestamp"),
        ("/get-folder-access", folder_request(miner, now + 60, None), 200, ""),
        ("/get-folder-access", folder_request(miner, now, Some(now - 1)), 400, "Invalid timestamp"),
        ("/get-validator-access", validator_request(validator, now - 400), 400, "Invalid timestamp"),
        ("/api/v1/s3-access/validator-upload", upload_request(validator, "not-an-epoch", now), 400, "invalid epoch id"),
        (
            "/api/v1/s3-access/validator-upload",
            upload_request(validator, "2099-01-01T00-00-00", now),
            400,
            "not an epoch that has started within the retention period",
        ),
        (
            "/api/v1/s3-access/validator-upload",
            upload_request(validator, "1970-01-01T00-00-00", now),
            400,
            "not an epoch that has started within the retention period",
        ),
        (
            "/api/v1/s3-access/validator-upload",
            upload_request(validator, &app.current_epoch().to_string().replace("-00-00", "-30-00"), now),
            400,
            "not an epoch that has started within the retention period",
        ),
        (
            "/api/v1/s3-access/validator-upload",
            json!({"hotkey": validator.hotkey().to_string()}),
            400,
            "epochId is required",
        ),
        (
            "/get-miner-specific-access",
            json!({"hotkey": validator.hotkey().to_string(), "timestamp": now, "signature": "00"}),
            400,
            "miner_hotkey is required",
        ),
        ("/get-miner-specific-access", miner_request(validator, "5notakey", now), 400, "Invalid miner_hotkey"),
        (
            "/get-folder-access",
            json!({"hotkey": miner_hotkey, "timestamp": now, "signature": "00"}),
            400,
            "coldkey is required",
        ),
        (
            "/get-folder-access",
            json!({"coldkey": "c", "hotkey": miner_hotkey, "timestamp": "now", "signature": "00"}),
            400,
            "Invalid JSON body",
        ),
    ];
    for (path, body, status, message) in cases {
        let (got, answer) = app.post_json(path, &body).await;
        if status == 200 {
            assert_eq!(got, 200, "{path}: {answer}");
        } else {
            assert_error(got, &answer, status, message);
        }
        bodies.push(answer.to_string());
    }
    // Another hotkey's signature, and a tampered one.
    let mut forged = folder_request(miner, now, None);
    forged["hotkey"] = json!(app.keys.other_miner.hotkey().to_string());
    let (status, answer) = app.post_json("/get-folder-access", &forged).await;
    assert_error(status, &answer, 401, "Invalid signature");
    let mut body = miner_request(validator, &miner_hotkey, now);
    body["miner_hotkey"] = json!(app.keys.other_miner.hotkey().to_string());
    let (status, answer) = app.post_json("/get-miner-specific-access", &body).await;
    assert_error(status, &answer, 401, "Invalid signature");
    bodies.push(answer.to_string());
    assert!(bodies.iter().all(|b| !b.contains(SECRET_KEY)));

    // Without S3 settings the endpoints answer 503 and say what is missing.
    let plain = TestApp::spawn().await;
    for path in [
        "/get-folder-access",
        "/get-miner-specific-access",
        "/get-validator-access",
        "/api/v1/s3-access/validator-upload",
    ] {
        let (status, answer) = plain.post(path, "{}").await;
        assert_error(
            status,
            &answer,
            503,
            "ZIPCOORD_S3_BUCKET, ZIPCOORD_S3_ACCESS_KEY_ID, ZIPCOORD_S3_SECRET_ACCESS_KEY",
        );
    }
    assert!(!plain.client.health().await.unwrap().s3_configured);
    assert!(app.client.health().await.unwrap().s3_configured);
}

#[tokio::test]
async fn presigned_put_mode_works_against_the_same_store() {
    let s3 = S3Server::start().await;
    let app = spawn_with_s3(&s3, SECRET_KEY, UploadMode::Put).await;
    let miner = &app.keys.miner;
    let now = app.now();
    let mut request = folder_request(miner, now, None);
    request["files"] = json!([
        "epoch=2025-10-01T16-00-00/zipcode=02134/data_1.json",
        "epoch=2025-10-01T16-00-00/zipcode=10001/data_2.json"
    ]);
    let (status, grant) = app.post_json("/get-folder-access", &request).await;
    assert_eq!(status, 200, "{grant}");
    assert_eq!(grant["upload_mode"], "put");
    assert_eq!(grant["fields"], json!({}));
    let put_urls = grant["put_urls"].as_array().unwrap();
    assert_eq!(put_urls.len(), 2);
    let client = reqwest::Client::new();
    for put in put_urls {
        let response = client.put(put["url"].as_str().unwrap()).body(vec![b'p'; 1200]).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{}", response.text().await.unwrap());
    }
    // A presigned PUT is for its key only.
    let url = put_urls[0]["url"].as_str().unwrap().replace("data_1.json", "data_9.json");
    let response = client.put(url).body(vec![b'p'; 1200]).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let (_, xml) = get_text(grant["list_url"].as_str().unwrap()).await;
    assert_eq!(listed_keys(&xml).len(), 2);

    for bad in [json!(["../escape.json"]), json!(["/abs.json"]), json!(["a//b"]), json!([""])] {
        let mut request = folder_request(miner, now, None);
        request["files"] = bad;
        let (status, answer) = app.post_json("/get-folder-access", &request).await;
        assert_error(status, &answer, 400, "invalid file name");
    }
}

#[tokio::test]
async fn sized_put_urls_take_only_their_size() {
    let s3 = S3Server::start().await;
    let app = spawn_with_s3(&s3, SECRET_KEY, UploadMode::Put).await;
    let miner = &app.keys.miner;
    let now = app.now();
    let files =
        json!(["epoch=2025-10-01T16-00-00/zipcode=02134/a.json", "epoch=2025-10-01T16-00-00/zipcode=10001/b.json"]);
    let mut request = folder_request(miner, now, None);
    request["files"] = files.clone();
    request["file_sizes"] = json!([1500, 2048]);
    let (status, grant) = app.post_json("/get-folder-access", &request).await;
    assert_eq!(status, 200, "{grant}");
    let urls: Vec<&str> = grant["put_urls"].as_array().unwrap().iter().map(|p| p["url"].as_str().unwrap()).collect();
    assert!(urls.iter().all(|url| url.contains("X-Amz-SignedHeaders=content-length%3Bhost")), "{urls:?}");
    let client = reqwest::Client::new();
    let put = |url: &str, size: usize| client.put(url.to_string()).body(vec![b'p'; size]).send();
    // Another size than the one signed is refused by the store; the signed one is taken.
    for (url, wrong, right) in [(urls[0], 5_000_000, 1500), (urls[1], 2047, 2048)] {
        assert_eq!(put(url, wrong).await.unwrap().status().as_u16(), 403, "{wrong} bytes");
        let response = put(url, right).await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{}", response.text().await.unwrap());
    }
    assert_eq!(
        std::fs::metadata(s3.store.object_path(&format!(
            "{}{}",
            grant["folder"].as_str().unwrap(),
            files[1].as_str().unwrap()
        )))
        .unwrap()
        .len(),
        2048
    );

    for (sizes, message) in [
        (json!([1500]), "file_sizes has 1 entries for 2 files"),
        (json!([1500, 100]), "would be 100 bytes; objects must be 1024 to"),
        (json!([1500, 6_000_000_000u64]), "would be 6000000000 bytes"),
        (json!([1500, -1]), "file_sizes must be >= 0"),
    ] {
        let mut request = folder_request(miner, now, None);
        request["files"] = files.clone();
        request["file_sizes"] = sizes;
        let (status, answer) = app.post_json("/get-folder-access", &request).await;
        assert_error(status, &answer, 400, message);
    }
}

/// Writes `key` straight into the store's folder, as if a miner had uploaded it.
fn put_directly(s3: &S3Server, key: &str, content: &[u8]) {
    let path = s3.store.object_path(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn paged_miner_request(validator: &Keypair, miner: &str, timestamp: i64, paging: Value) -> Value {
    let mut body = miner_request(validator, miner, timestamp);
    body.as_object_mut().unwrap().extend(paging.as_object().unwrap().clone());
    body
}

#[tokio::test]
async fn listings_narrow_to_an_epoch_and_page_inside_their_grant() {
    let s3 = S3Server::start().await;
    let app = spawn_with_s3(&s3, SECRET_KEY, UploadMode::Post).await;
    let now = app.now();
    let validator = &app.keys.validator;
    let miner = app.keys.miner.hotkey().to_string();
    let folder = format!("data/hotkey={miner}/");
    let (old, judged) = ("2025-09-30T08-00-00", "2025-10-01T16-00-00");
    for epoch in [old, judged] {
        for n in 0..5 {
            put_directly(&s3, &format!("{folder}epoch={epoch}/zipcode=0213{n}/data_1.json"), b"{}");
        }
    }

    // Without paging fields the answer is exactly the old one: the whole folder, one page.
    let (status, whole) = app.post_json("/get-miner-specific-access", &miner_request(validator, &miner, now)).await;
    assert_eq!(status, 200, "{whole}");
    assert!(whole.get("list_prefix").is_none(), "{whole}");
    assert_eq!(listed_keys(&get_text(whole["miner_url"].as_str().unwrap()).await.1).len(), 10);

    // One epoch, two keys a page, every page through a new grant with the previous page's token.
    let mut paging = json!({"epoch": judged, "max_keys": 2});
    let mut seen = Vec::new();
    for page in 0.. {
        let body = paged_miner_request(validator, &miner, now, paging.clone());
        let (status, grant) = app.post_json("/get-miner-specific-access", &body).await;
        assert_eq!(status, 200, "{grant}");
        assert_eq!(grant["list_prefix"], format!("{folder}epoch={judged}/"));
        assert_eq!(grant["prefix"], folder, "files stay relative to the miner's folder");
        let (status, xml) = get_text(grant["miner_url"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{xml}");
        seen.extend(listed_keys(&xml));
        if !xml.contains("<IsTruncated>true</IsTruncated>") {
            assert_eq!(page, 2, "five keys in pages of two");
            break;
        }
        let token = xml.split("<NextContinuationToken>").nth(1).unwrap().split('<').next().unwrap().to_string();
        paging = json!({"epoch": judged, "max_keys": 2, "continuation_token": token});
    }
    let expected: Vec<String> = (0..5).map(|n| format!("{folder}epoch={judged}/zipcode=0213{n}/data_1.json")).collect();
    assert_eq!(seen, expected, "every key of the epoch once, none of the other epoch");

    // A grant's listing cannot be edited into another page or a wider listing.
    let body = paged_miner_request(validator, &miner, now, json!({"epoch": judged, "max_keys": 2}));
    let (_, grant) = app.post_json("/get-miner-specific-access", &body).await;
    let edited = grant["miner_url"].as_str().unwrap().replace("max-keys=2", "max-keys=1000");
    assert_eq!(get_text(&edited).await.0, 403, "the page size is signed");
    let widened = grant["miner_url"].as_str().unwrap().replace("epoch%3D", "epoch%3D2025-09");
    assert_eq!(get_text(&widened).await.0, 403, "the prefix is signed");

    let refused: Vec<(Value, &str)> = vec![
        (json!({"epoch": "yesterday"}), "invalid epoch id"),
        (
            json!({"epoch": judged, "start_after": format!("{folder}epoch={old}/zipcode=02130/data_1.json")}),
            "start_after must be a key under",
        ),
        (json!({"start_after": "data/hotkey=5Other/epoch=x/a.json"}), "start_after must be a key under"),
        (json!({"max_keys": 0}), "max_keys must be between 1 and 1000"),
        (json!({"max_keys": 1001}), "max_keys must be between 1 and 1000"),
        (json!({"continuation_token": "x".repeat(1_025)}), "Invalid continuation_token"),
        (json!({"continuation_token": "a b"}), "Invalid continuation_token"),
        (json!({"start_after": ""}), "Invalid start_after"),
    ];
    for (paging, message) in refused {
        let (status, body) = app
            .post_json("/get-miner-specific-access", &paged_miner_request(validator, &miner, now, paging.clone()))
            .await;
        assert_error(status, &body, 400, message);
    }

    // Every miner's data pages the same way; it has no single epoch to narrow to.
    let mut body = validator_request(validator, now);
    body["max_keys"] = json!(3);
    let (status, grant) = app.post_json("/get-validator-access", &body).await;
    assert_eq!(status, 200, "{grant}");
    assert_eq!(listed_keys(&get_text(grant["urls"]["global"]["list_all_data"].as_str().unwrap()).await.1).len(), 3);
    body["epoch"] = json!(judged);
    let (status, error) = app.post_json("/get-validator-access", &body).await;
    assert_error(status, &error, 400, "epoch narrows one miner's folder");
    let mut body = validator_request(validator, now);
    body["start_after"] = json!("validators/x");
    let (status, error) = app.post_json("/get-validator-access", &body).await;
    assert_error(status, &error, 400, "start_after must be a key under data/hotkey=");
}

/// `zipcoord bucket prune` as an operator runs it, with the server's S3 settings in its environment.
async fn prune(s3: &S3Server, extra: &[&str]) -> (bool, String, String) {
    let mut command = tokio::process::Command::from(crate::process::zipcoord());
    command
        .args(["bucket", "prune"])
        .args(extra)
        .env("ZIPCOORD_S3_ENDPOINT", s3.store.endpoint())
        .env("ZIPCOORD_S3_BUCKET", BUCKET)
        .env("ZIPCOORD_S3_ACCESS_KEY_ID", ACCESS_KEY)
        .env("ZIPCOORD_S3_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("ZIPCOORD_S3_PATH_STYLE", "true")
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output()).await.unwrap().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn bucket_prune_deletes_only_epochs_older_than_asked_and_says_what() {
    let s3 = S3Server::start().await;
    let clock = zipcoord::domain::epoch::EpochClock::new(240).unwrap();
    let epoch_days_ago = |days: i64| clock.epoch_at(zipcoord::client::unix_now() - days * 86_400).to_string();
    let (old, recent) = (epoch_days_ago(40), epoch_days_ago(2));
    let mut old_keys = Vec::new();
    // Three pages of old objects: the store answers 1,000 keys a page.
    for n in 0..2_100 {
        let key = format!("data/hotkey=5Miner{}/epoch={old}/zipcode=02134/data_{n:04}.json", n % 3);
        put_directly(&s3, &key, b"0123456789");
        old_keys.push(key);
    }
    let kept = [
        format!("data/hotkey=5Miner0/epoch={recent}/zipcode=02134/data_1.json"),
        "data/hotkey=5Miner0/job_id=7/data_1.parquet".to_string(),
        format!("validators/5Validator/{old}/results_1.json"),
    ];
    for key in &kept {
        put_directly(&s3, key, b"keep");
    }

    let (ok, stdout, stderr) = prune(&s3, &["--older-than", "30", "--dry-run"]).await;
    assert!(ok, "{stderr}");
    let listed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("would delete data/")).collect();
    assert_eq!(listed.len(), 2_100, "every old object is listed once");
    assert!(listed.iter().all(|line| line.contains(&format!("/epoch={old}/")) && line.ends_with("(10 bytes)")));
    assert!(
        stdout.contains("would delete 2100 objects (21000 bytes)")
            && stdout.contains("kept 1 objects of later epochs; left 1 objects outside"),
        "{stdout}"
    );
    assert!(old_keys.iter().all(|key| s3.stored(key).is_some()), "a dry run deletes nothing");

    let (ok, stdout, stderr) = prune(&s3, &["--older-than", "30"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("deleted 2100 objects (21000 bytes)"), "{stdout}");
    assert!(old_keys.iter().all(|key| s3.stored(key).is_none()), "the old epoch is gone");
    assert!(kept.iter().all(|key| s3.stored(key).is_some()), "newer epochs, other layouts and results stay");

    let (ok, stdout, _) = prune(&s3, &["--older-than", "30"]).await;
    assert!(ok && stdout.contains("deleted 0 objects (0 bytes)"), "a second run is a no-op: {stdout}");
    let (ok, stdout, _) = prune(&s3, &["--older-than", "1"]).await;
    assert!(ok && stdout.contains("deleted 1 objects (4 bytes)"), "{stdout}");

    let mut unconfigured = tokio::process::Command::from(crate::process::zipcoord());
    let output = unconfigured.args(["bucket", "prune", "--older-than", "30"]).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("ZIPCOORD_S3_BUCKET"), "{stderr}");
}

#[tokio::test]
async fn a_key_that_climbs_out_of_its_folder_is_refused_not_resolved() {
    let s3 = S3Server::start().await;
    let app = spawn_with_s3(&s3, SECRET_KEY, UploadMode::Post).await;
    let (miner, other) = (app.keys.miner.hotkey(), app.keys.other_miner.hotkey());
    let (_, grant) = app.post_json("/get-folder-access", &folder_request(&app.keys.miner, app.now(), None)).await;
    let url = grant["url"].as_str().unwrap().to_string();
    let ok_size = vec![b'a'; 2048];
    // Each key starts with the miner's folder, as the policy asks; a folder on disk would resolve it elsewhere.
    for key in [
        format!("data/hotkey={miner}/../hotkey={other}/stolen.json"),
        format!("data/hotkey={miner}/./x.json"),
        format!("data/hotkey={miner}//x.json"),
        format!("data/hotkey={miner}/.."),
    ] {
        let mut fields = fields_of(&grant);
        fields.insert("key".into(), key.clone());
        let (status, text) = post_upload(&url, &fields, "x.json", ok_size.clone()).await;
        assert!(status == 400 && text.contains("InvalidArgument"), "{key}: {status} {text}");
    }
    assert!(s3.stored(&format!("data/hotkey={other}/stolen.json")).is_none(), "nothing landed in another folder");
    assert_eq!(std::fs::read_dir(s3.store.object_path("data")).map_or(0, |d| d.count()), 0, "nothing landed at all");
    // The honest upload of the same grant still lands.
    let (status, text) = post_upload(&url, &fields_of(&grant), "good.json", ok_size).await;
    assert_eq!(status, 204, "{text}");
    assert!(s3.stored(&format!("data/hotkey={miner}/good.json")).is_some());
}

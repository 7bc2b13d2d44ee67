//! Spawns the real server on 127.0.0.1 with a random port, a fresh SQLite file, a metagraph file of real
//! sr25519 keys and a hand-set clock, and drives it over HTTP.

use std::sync::Arc;

use serde_json::Value;
use tempfile::TempDir;
use zipcoord::app::{App, Clock, ManualClock, SystemClock};
use zipcoord::beacon::{BeaconSettings, BeaconSpec};
use zipcoord::boot::{self, RunningServer};
use zipcoord::client::ZipcoordClient;
use zipcoord::domain::access::keys::Keypair;
use zipcoord::domain::epoch::nonce::ServerSecret;
use zipcoord::domain::epoch::zipcode::{MarketTier, ZipcodeRecord};
use zipcoord::domain::epoch::EpochId;
use zipcoord::settings::Settings;
use zipcoord::storage::{ImportMode, Store};

/// 2025-10-01T17:00:00Z: one hour into epoch 2025-10-01T16-00-00 with 4-hour epochs.
pub const START_MS: i64 = 1_759_338_000_000;
pub const SECRET_HEX: &str = "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2";

/// The hotkeys of the test metagraph, one per role.
pub struct TestKeys {
    pub validator: Keypair,
    /// Has a permit but stake below the threshold.
    pub poor_validator: Keypair,
    /// Plenty of stake but no permit.
    pub miner: Keypair,
    pub other_miner: Keypair,
    /// Valid key, not in the metagraph.
    pub outsider: Keypair,
    /// `//Charlie`, registered as a miner, so signatures made by `bittensor-wallet` can be replayed.
    pub charlie: Keypair,
}

impl TestKeys {
    pub fn generate() -> Self {
        let key = || Keypair::from_seed(&rand::random::<[u8; 32]>());
        TestKeys {
            validator: key(),
            poor_validator: key(),
            miner: key(),
            other_miner: key(),
            outsider: key(),
            charlie: Keypair::from_uri("//Charlie").unwrap(),
        }
    }

    pub fn metagraph_json(&self) -> String {
        let neuron = |uid: u16, key: &Keypair, permit: bool, stake: f64| serde_json::json!({"uid": uid, "hotkey": key.hotkey().to_string(), "coldkey": "5cold", "validator_permit": permit, "stake": stake});
        serde_json::to_string(&vec![
            neuron(0, &self.validator, true, 50_000.0),
            neuron(1, &self.poor_validator, true, 19_999.0),
            neuron(2, &self.miner, false, 1_000_000.0),
            neuron(3, &self.other_miner, false, 0.0),
            neuron(4, &self.charlie, false, 10.0),
        ])
        .unwrap()
    }
}

/// Which zipcodes the database starts with.
pub enum Universe {
    /// A small synthetic set written before start (fast, varied sizes and tiers).
    Synthetic(usize),
    /// Exactly these records.
    Records(Vec<ZipcodeRecord>),
    /// Nothing written: the server seeds its built-in universe.
    Builtin,
}

pub fn synthetic_universe(count: usize) -> Vec<ZipcodeRecord> {
    let states = ["NY", "CA", "TX", "FL", "MA", "IL", "WA"];
    (0..count)
        .map(|n| ZipcodeRecord {
            zipcode: format!("{:05}", 1_000 + n * 13).parse().unwrap(),
            state: states[n % states.len()].to_string(),
            city: format!("City {n}"),
            county: if n % 5 == 0 { None } else { Some(format!("County {}", n % 17)) },
            expected_listings: 20 + ((n as u32 * 7_919) % 380),
            tier: MarketTier::ALL[n % 4],
            weight: 1.0,
            active: true,
        })
        .collect()
}

/// A change to the server's settings, made before it starts.
pub type AdjustSettings = Box<dyn FnOnce(&mut Settings) + Send>;

pub struct TestOptions {
    pub universe: Universe,
    /// `--secret`; `None` lets the server generate and store one.
    pub secret: Option<&'static str>,
    /// Start the hand-set clock at the real time (for peers that check time themselves, like S3), instead of
    /// [`START_MS`].
    pub real_time: bool,
    /// Changes to the server's settings (limits, S3 store, chain timing...).
    pub settings: Option<AdjustSettings>,
    /// `--metagraph`; `None` writes a metagraph file of [`TestOptions::keys`].
    pub metagraph: Option<String>,
    /// The test's hotkeys; `None` generates fresh ones.
    pub keys: Option<TestKeys>,
    /// The database; `None` makes a fresh one (SQLite, or PostgreSQL when the suite runs on it).
    pub database_url: Option<String>,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            universe: Universe::Synthetic(600),
            secret: Some(SECRET_HEX),
            real_time: false,
            settings: None,
            metagraph: None,
            keys: None,
            database_url: None,
        }
    }
}

pub struct TestApp {
    pub server: Option<RunningServer>,
    pub client: ZipcoordClient,
    pub base_url: String,
    pub time: Arc<ManualClock>,
    pub keys: TestKeys,
    pub db_url: String,
    /// Holds the database and metagraph files for the life of the test.
    _dir: TempDir,
    settings: Settings,
    http: reqwest::Client,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(TestOptions::default()).await
    }

    pub async fn spawn_with(options: TestOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keys = options.keys.unwrap_or_else(TestKeys::generate);
        let metagraph = options.metagraph.unwrap_or_else(|| {
            let path = dir.path().join("metagraph.json");
            std::fs::write(&path, keys.metagraph_json()).unwrap();
            format!("file:{}", path.display())
        });
        let db_url = match options.database_url {
            Some(url) => url,
            None => fresh_database_url(dir.path()).await,
        };
        let records = match options.universe {
            Universe::Synthetic(n) => Some(synthetic_universe(n)),
            Universe::Records(records) => Some(records),
            Universe::Builtin => None,
        };
        if let Some(records) = records {
            let store = Store::connect(&db_url).await.unwrap();
            store.migrate().await.unwrap();
            store.import_zipcodes(&records, "test", ImportMode::Merge, START_MS).await.unwrap();
            store.close().await;
        }
        let mut settings = test_settings(db_url.clone(), &metagraph);
        settings.secret = options.secret.map(|hex| ServerSecret::from_hex(hex).unwrap());
        if let Some(adjust) = options.settings {
            adjust(&mut settings);
        }
        let start_ms = if options.real_time { SystemClock.now_ms() } else { START_MS };
        let time = Arc::new(ManualClock::new(start_ms));
        let server = boot::start(settings.clone(), time.clone()).await.expect("server starts");
        let base_url = format!("http://{}", server.addr);
        TestApp {
            client: ZipcoordClient::new(base_url.clone()),
            base_url,
            server: Some(server),
            time,
            keys,
            db_url,
            _dir: dir,
            settings,
            http: reqwest::Client::new(),
        }
    }

    pub fn app(&self) -> &Arc<App> {
        &self.server.as_ref().expect("running").app
    }

    /// Stops the server gracefully and starts a new one on the same database, metagraph and clock.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.start().await;
    }

    /// Stops the server gracefully (an outage); [`TestApp::start`] brings it back on a new port.
    pub async fn stop(&mut self) {
        self.server.take().expect("running").shutdown().await.unwrap();
    }

    /// Starts the server again on the same database, metagraph and clock.
    pub async fn start(&mut self) {
        let server = boot::start(self.settings.clone(), self.time.clone()).await.expect("server restarts");
        self.base_url = format!("http://{}", server.addr);
        self.client = ZipcoordClient::new(self.base_url.clone());
        self.server = Some(server);
    }

    /// Another server process-equivalent on the same database and clock: a replica.
    pub async fn spawn_replica(&self) -> RunningServer {
        boot::start(self.settings.clone(), self.time.clone()).await.expect("replica starts")
    }

    /// Moves the clock on and refreshes the metagraph, as the background task would have meanwhile.
    pub async fn pass_time(&self, delta_ms: i64) {
        self.time.advance_ms(delta_ms);
        self.app().refresh_metagraph().await.expect("the test metagraph reloads");
    }

    /// The server's epoch clock, readable while the server is down.
    pub fn epoch_clock(&self) -> zipcoord::domain::epoch::EpochClock {
        self.settings.epochs.clock
    }

    pub fn now(&self) -> i64 {
        self.time.now_ms() / 1000
    }

    pub fn current_epoch(&self) -> EpochId {
        self.app().current_epoch_id()
    }

    pub async fn get(&self, path_and_query: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path_and_query}", self.base_url))
            .header("Content-Type", "application/json")
            .send()
            .await
            .unwrap();
        decode(response).await
    }

    pub async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        decode(response).await
    }

    pub async fn post_json(&self, path: &str, body: &impl serde::Serialize) -> (u16, Value) {
        self.post(path, serde_json::to_vec(body).unwrap()).await
    }

    /// `GET` a signed endpoint with explicit query values.
    pub async fn get_signed(&self, path: &str, hotkey: &str, signature: &str, timestamp: &str) -> (u16, Value) {
        let query = serde_urlencoded_pairs(&[("hotkey", hotkey), ("signature", signature), ("timestamp", timestamp)]);
        self.get(&format!("{path}?{query}")).await
    }
}

/// The key of the service itself, which Epistula requests are signed for (the server never signs with it).
pub fn service_key() -> Keypair {
    Keypair::from_uri(zipcoord::chain::dev::DEV_SERVICE).unwrap()
}

impl TestApp {
    /// Sends `method path` with `body` and these (Epistula) headers.
    pub async fn send_with_headers(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &[u8],
        headers: &[(&str, String)],
    ) -> (u16, Value) {
        send_with_headers(&self.base_url, method, path, body, headers).await
    }
}

/// Sends `method path` to the server at `base_url` (a replica, say) with `body` and these headers.
pub async fn send_with_headers(
    base_url: &str,
    method: reqwest::Method,
    path: &str,
    body: &[u8],
    headers: &[(&str, String)],
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{base_url}{path}"))
        .header("Content-Type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    decode(request.send().await.unwrap()).await
}

/// The settings every test server starts from: loopback on a random port, no background tasks, the dev beacon,
/// the test service hotkey, the metagraph of `metagraph` (a `--metagraph` spec).
pub fn test_settings(db_url: String, metagraph: &str) -> Settings {
    let mut settings = Settings::new(db_url, metagraph.parse().expect("a valid metagraph spec"));
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.secret = Some(ServerSecret::from_hex(SECRET_HEX).unwrap());
    settings.background_tasks = false;
    settings.beacon = BeaconSettings::new(BeaconSpec::Dev);
    settings.epistula.service_hotkey = Some(service_key().hotkey());
    settings
}

/// A fresh database for one test: a new PostgreSQL database when `ZIPCOORD_TEST_DATABASE_URL` names a server,
/// else a SQLite file in `dir`.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    match std::env::var("ZIPCOORD_TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => fresh_postgres_database(&server).await,
        _ => format!("sqlite://{}", dir.join("zipcoord.db").display()),
    }
}

/// Creates an empty database on the PostgreSQL server at `server_url` and returns its URL.
async fn fresh_postgres_database(server_url: &str) -> String {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let name = format!("zipcoord_test_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::AnyConnection::connect(server_url).await.expect("the test PostgreSQL server answers");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
    let (base, _) = server_url.rsplit_once('/').expect("a URL with a database name");
    format!("{base}/{name}")
}

async fn decode(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON response {status}: {text}"));
    (status, value)
}

fn serde_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.bytes()
                    .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    })
                    .collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Asserts the contract's error body: exactly `statusCode`, `message`, `error`, `detail`.
pub fn assert_error(status: u16, body: &Value, expected_status: u16, message_contains: &str) {
    assert_eq!(status, expected_status, "body: {body}");
    let object = body.as_object().unwrap_or_else(|| panic!("error body is not an object: {body}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["detail", "error", "message", "statusCode"], "body: {body}");
    assert_eq!(body["statusCode"], expected_status, "body: {body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(message_contains), "message {message:?} should contain {message_contains:?}");
    assert_eq!(body["detail"], body["message"]);
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
}

//! One typed `Settings` for a server: what it listens on, its database, where the metagraph comes from, the
//! epoch rules, the S3 store, HTTP bounds, rate limits and Epistula. Every default is stated once, in [`defaults`]; the
//! command line (`cli::flags`) builds a `Settings` from flags and `ZIPCOORD_*` variables, and tests and
//! `localnet` start from [`Settings::new`] and adjust fields. Nothing here knows HTTP or the database driver.

use std::net::SocketAddr;
use std::time::Duration;

use crate::beacon::{BeaconSettings, BeaconSpec};
use crate::chain::MetagraphSpec;
use crate::domain::access::epistula::EpistulaWindow;
use crate::domain::epoch::batches::AssignmentMode;
use crate::domain::epoch::calibration::CalibrationRule;
use crate::domain::epoch::nonce::ServerSecret;
use crate::domain::epoch::selection::SelectionPolicy;
use crate::domain::epoch::EpochClock;
use crate::domain::hotkey::Hotkey;
use crate::s3::{parse_endpoint, Addressing, BadEndpoint, S3Secret, S3Settings, UploadMode};

/// Every default value, once. The flags' defaults and [`Settings::new`] both read them.
pub mod defaults {
    pub const LISTEN: &str = "127.0.0.1:8080";
    pub const DATABASE_URL: &str = "sqlite://zipcoord.db";
    pub const NETUID: u16 = 46;
    pub const VALIDATOR_MIN_STAKE: f64 = 20_000.0;
    pub const METAGRAPH_REFRESH_SECONDS: u64 = 300;
    pub const METAGRAPH_MAX_AGE_SECONDS: u64 = 1_800;
    pub const CHAIN_TIMEOUT_SECONDS: u64 = 10;
    pub const RETENTION_DAYS: u32 = 30;

    pub const EPOCH_MINUTES: u32 = 240;
    pub const TARGET_LISTINGS: u32 = 10_000;
    pub const TOLERANCE_PERCENT: u32 = 10;
    pub const MIN_LISTINGS: u32 = 10;
    pub const MAX_LISTINGS: u32 = 3_000;
    pub const COOLDOWN_HOURS: u32 = 24;
    /// Miners per group and groups per miner in the `groups` assignment mode.
    pub const GROUP_SIZE: usize = 5;
    pub const GROUP_OVERLAP: usize = 1;
    /// Expected listings of a STANDARD zipcode with no imported figure.
    pub const PRIOR_LISTINGS: u32 = 150;
    /// Judged epochs whose verdicts recalibration reads.
    pub const RECALIBRATION_EPOCHS: u32 = 6;

    pub const MAX_BODY_BYTES: usize = 64 * 1024;
    pub const MAX_HEADER_BYTES: usize = 16 * 1024;
    pub const HEADER_READ_TIMEOUT_SECONDS: u64 = 10;
    pub const REQUEST_TIMEOUT_SECONDS: u64 = 30;
    pub const MAX_CONNECTIONS: usize = 4_096;
    pub const MAX_CONNECTIONS_PER_IP: usize = 256;
    /// The Epistula reference's window: 8 s of age, and 2 s ahead for clock skew.
    pub const EPISTULA_MAX_AGE_MS: i64 = crate::domain::access::epistula::EpistulaWindow::DEFAULT.max_age_ms;
    pub const EPISTULA_MAX_AHEAD_MS: i64 = crate::domain::access::epistula::EpistulaWindow::DEFAULT.max_ahead_ms;

    pub const RATE_LIMIT_PUBLIC_PER_MINUTE: u32 = 120;
    pub const RATE_LIMIT_SIGNED_PER_MINUTE: u32 = 600;
    pub const RATE_LIMIT_CURRENT_PER_HOUR: u32 = 120;
    pub const RATE_LIMIT_VALIDATOR_PER_HOUR: u32 = 1_200;
    pub const RATE_LIMIT_STATUS_PER_HOUR: u32 = 300;
    pub const RATE_LIMIT_S3_PER_HOUR: u32 = 120;

    pub const S3_REGION: &str = "us-east-1";
    pub const S3_UPLOAD_LIFETIME_HOURS: u32 = 24;
    pub const S3_LIST_LIFETIME_HOURS: u32 = 3;
    pub const S3_MIN_OBJECT_BYTES: u64 = 1024;
    pub const S3_MAX_OBJECT_BYTES: u64 = 5_368_709_120;

    /// Seconds between the reference miner's polls of the public stats.
    pub const MINER_POLL_SECONDS: u64 = 300;
    /// Seconds between the reference validator's polls of the public stats.
    pub const VALIDATOR_POLL_SECONDS: u64 = 60;
}

/// Everything one server runs by.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Local development: prints signed examples at start.
    pub dev: bool,
    pub database_url: String,
    pub metagraph: MetagraphSpec,
    pub chain: ChainSettings,
    /// Stake (alpha, whole units) a validator needs besides its permit.
    pub validator_min_stake: f64,
    /// Seeds and nonces; generated once and stored when `None`.
    pub secret: Option<ServerSecret>,
    /// History older than this is pruned.
    pub retention: Duration,
    pub epochs: EpochSettings,
    /// Where each epoch's randomness comes from.
    pub beacon: BeaconSettings,
    /// The store behind the S3 endpoints, or the message naming what is missing (they answer 503 with it).
    pub s3: S3Config,
    pub http: HttpSettings,
    pub rate_limits: RateLimitSettings,
    pub epistula: EpistulaSettings,
    /// The platform the dynamic-desirability job lists name.
    pub desirability_platform: String,
    /// Whether the background loops run (tests call their ticks themselves).
    pub background_tasks: bool,
}

/// The S3 store, or the message naming the settings it still lacks.
pub type S3Config = Result<S3Settings, String>;

/// How the metagraph is read and how long it is trusted.
#[derive(Debug, Clone, Copy)]
pub struct ChainSettings {
    pub netuid: u16,
    pub refresh: Duration,
    /// Beyond this age signed endpoints answer 503 and readiness fails.
    pub max_age: Duration,
    /// Per JSON-RPC call, before the next endpoint is tried.
    pub timeout: Duration,
}

/// How epochs and their zipcode sets are made.
#[derive(Debug, Clone, Copy)]
pub struct EpochSettings {
    pub clock: EpochClock,
    /// In `groups` mode the policy's target is each miner's.
    pub policy: SelectionPolicy,
    pub prior_listings: u32,
    pub assignment: AssignmentMode,
    /// How expected listings follow validators' verdicts; `None` when recalibration is off.
    pub recalibration: Option<Recalibration>,
}

/// Recalibrating expected listings from what honest miners delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recalibration {
    /// The rule's knobs (its listing range is the policy's).
    pub rule: CalibrationRule,
    /// How many judged epochs back evidence is read (the newest with a quorum on a zipcode counts).
    pub evidence_epochs: u32,
}

impl Recalibration {
    /// The defaults: [`CalibrationRule::standard`] over the six latest judged epochs.
    pub fn standard() -> Self {
        Recalibration { rule: CalibrationRule::standard(0, 0), evidence_epochs: defaults::RECALIBRATION_EPOCHS }
    }
}

/// Bounds on what one request may cost.
#[derive(Debug, Clone, Copy)]
pub struct HttpSettings {
    pub max_body_bytes: usize,
    /// Total size of the header fields (names and values).
    pub max_header_bytes: usize,
    /// Time from accepting a connection (or the previous response) to a complete request head.
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    /// Connections held at once; beyond it new ones are closed at accept.
    pub max_connections: usize,
    /// Connections held at once from one client address (not applied behind a trusted reverse proxy).
    pub max_connections_per_ip: usize,
}

impl HttpSettings {
    /// What the listener enforces per connection; in-flight requests get their timeout and a little more to
    /// finish at shutdown.
    pub fn connection_limits(&self) -> crate::net::ConnectionLimits {
        crate::net::ConnectionLimits {
            header_read_timeout: self.header_read_timeout,
            max_header_bytes: self.max_header_bytes,
            shutdown_grace: self.request_timeout + Duration::from_secs(5),
        }
    }
}

/// Epistula-signed requests: whom they must be signed for, and how old or early their timestamps may be.
#[derive(Debug, Clone)]
pub struct EpistulaSettings {
    /// The service's own SS58 address, which `Epistula-Signed-For` must name; without it Epistula-signed
    /// requests are refused (and not advertised) and only the legacy signatures are accepted.
    pub service_hotkey: Option<Hotkey>,
    pub window: EpistulaWindow,
}

impl Default for EpistulaSettings {
    fn default() -> Self {
        EpistulaSettings { service_hotkey: None, window: EpistulaWindow::DEFAULT }
    }
}

/// Rate limits. Defaults never block the contract's load (a validator's burst of ~100 `/epoch/{id}` calls, a
/// miner's N+2 status posts each retried up to 3 times) and stop floods.
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// Requests per minute per client IP on public endpoints (stats, health).
    pub public_per_ip_per_minute: u32,
    /// Requests per minute per client IP on every other route, checked before any signature work.
    pub signed_per_ip_per_minute: u32,
    pub current_per_hotkey_per_hour: u32,
    pub validator_burst_per_hotkey_per_hour: u32,
    pub status_per_hotkey_per_hour: u32,
    pub s3_grants_per_hotkey_per_hour: u32,
    /// Reverse proxies in front of the service whose `X-Forwarded-For` entries are trusted (0: use the peer).
    pub trusted_proxy_hops: usize,
}

impl Settings {
    /// The defaults, on `database_url` with the metagraph from `metagraph`, and S3 not configured.
    pub fn new(database_url: impl Into<String>, metagraph: MetagraphSpec) -> Self {
        use defaults::*;
        Settings {
            listen: LISTEN.parse().expect("the default address parses"),
            dev: false,
            database_url: database_url.into(),
            metagraph,
            chain: ChainSettings {
                netuid: NETUID,
                refresh: Duration::from_secs(METAGRAPH_REFRESH_SECONDS),
                max_age: Duration::from_secs(METAGRAPH_MAX_AGE_SECONDS),
                timeout: Duration::from_secs(CHAIN_TIMEOUT_SECONDS),
            },
            validator_min_stake: VALIDATOR_MIN_STAKE,
            secret: None,
            retention: days(RETENTION_DAYS),
            epochs: EpochSettings::new(EpochClock::new(EPOCH_MINUTES).expect("the default length divides a day")),
            beacon: BeaconSettings::new(BeaconSpec::quicknet()),
            s3: Err(S3_NOT_CONFIGURED.to_string()),
            http: HttpSettings {
                max_body_bytes: MAX_BODY_BYTES,
                max_header_bytes: MAX_HEADER_BYTES,
                header_read_timeout: Duration::from_secs(HEADER_READ_TIMEOUT_SECONDS),
                request_timeout: Duration::from_secs(REQUEST_TIMEOUT_SECONDS),
                max_connections: MAX_CONNECTIONS,
                max_connections_per_ip: MAX_CONNECTIONS_PER_IP,
            },
            rate_limits: RateLimitSettings::default(),
            epistula: EpistulaSettings::default(),
            desirability_platform: crate::api::DEFAULT_PLATFORM.to_string(),
            background_tasks: true,
        }
    }
}

/// What the S3 endpoints say when no store is configured at all.
pub const S3_NOT_CONFIGURED: &str = "S3 storage is not configured: set ZIPCOORD_S3_BUCKET, \
     ZIPCOORD_S3_ACCESS_KEY_ID, ZIPCOORD_S3_SECRET_ACCESS_KEY";

/// A store at `endpoint` (`scheme://host[:port]`) with one key pair and every other S3 setting at its default
/// (virtual-host addressing, POST uploads).
pub fn s3_store(
    endpoint: &str,
    bucket: &str,
    access_key_id: &str,
    secret_access_key: S3Secret,
) -> Result<S3Settings, BadEndpoint> {
    use defaults::*;
    let (scheme, endpoint_host) = parse_endpoint(endpoint)?;
    Ok(S3Settings {
        scheme,
        endpoint_host,
        region: S3_REGION.to_string(),
        bucket: bucket.to_string(),
        access_key_id: access_key_id.to_string(),
        secret_access_key,
        session_token: None,
        addressing: Addressing::VirtualHost,
        upload_mode: UploadMode::Post,
        upload_lifetime: chrono::Duration::hours(i64::from(S3_UPLOAD_LIFETIME_HOURS)),
        list_lifetime: chrono::Duration::hours(i64::from(S3_LIST_LIFETIME_HOURS)),
        object_size: (S3_MIN_OBJECT_BYTES, S3_MAX_OBJECT_BYTES),
    })
}

pub fn days(days: u32) -> Duration {
    Duration::from_secs(u64::from(days) * 86_400)
}

impl EpochSettings {
    /// The default rules with epochs of `clock`.
    pub fn new(clock: EpochClock) -> Self {
        use defaults::*;
        let policy = SelectionPolicy {
            target_listings: TARGET_LISTINGS,
            tolerance_percent: TOLERANCE_PERCENT,
            min_listings: MIN_LISTINGS,
            max_listings: MAX_LISTINGS,
            cooldown_seconds: i64::from(COOLDOWN_HOURS) * 3600,
            max_count: None,
        };
        EpochSettings {
            clock,
            policy,
            prior_listings: PRIOR_LISTINGS,
            assignment: AssignmentMode::Shared,
            recalibration: Some(Recalibration::standard()),
        }
    }
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        use defaults::*;
        RateLimitSettings {
            enabled: true,
            public_per_ip_per_minute: RATE_LIMIT_PUBLIC_PER_MINUTE,
            signed_per_ip_per_minute: RATE_LIMIT_SIGNED_PER_MINUTE,
            current_per_hotkey_per_hour: RATE_LIMIT_CURRENT_PER_HOUR,
            validator_burst_per_hotkey_per_hour: RATE_LIMIT_VALIDATOR_PER_HOUR,
            status_per_hotkey_per_hour: RATE_LIMIT_STATUS_PER_HOUR,
            s3_grants_per_hotkey_per_hour: RATE_LIMIT_S3_PER_HOUR,
            trusted_proxy_hops: 0,
        }
    }
}

impl RateLimitSettings {
    /// Every limit off (capacity benchmarks, load tests, local networks with short epochs).
    pub fn off() -> Self {
        RateLimitSettings { enabled: false, ..RateLimitSettings::default() }
    }
}

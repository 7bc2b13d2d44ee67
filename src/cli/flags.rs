//! The server's flags and `ZIPCOORD_*` environment variables, turned into one typed [`Settings`]. Defaults come
//! from [`crate::settings::defaults`]; secrets are parsed straight into redacting types and environment values
//! are hidden from `--help`. The S3 store's flags are in [`super::s3_flags`].

use std::net::SocketAddr;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::Args;

use super::flag_error::FlagError;
use super::s3_flags::S3Args;
use super::secret_text::SecretText;

use crate::beacon::{BeaconSettings, BeaconSpec};
use crate::chain::MetagraphSpec;
use crate::domain::access::epistula::EpistulaWindow;
use crate::domain::epoch::batches::AssignmentMode;
use crate::domain::epoch::calibration::CalibrationRule;
use crate::domain::epoch::groups::GroupPlan;
use crate::domain::epoch::nonce::ServerSecret;
use crate::domain::epoch::selection::SelectionPolicy;
use crate::domain::epoch::EpochClock;
use crate::domain::hotkey::Hotkey;
use crate::settings::{
    days, defaults, ChainSettings, EpistulaSettings, EpochSettings, HttpSettings, RateLimitSettings, Recalibration,
    Settings,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// SQLite file (`sqlite://PATH`) or PostgreSQL (`postgres://...`).
    #[arg(long, env = "ZIPCOORD_DATABASE_URL", default_value = defaults::DATABASE_URL, hide_env_values = true)]
    pub database_url: String,
    /// The PostgreSQL password, apart from the URL: any characters (`/`, `@`, `:` of a base64 password
    /// included), encoded into the URL here. What compose files and secret stores that hold it alone want.
    #[arg(long, env = "ZIPCOORD_DATABASE_PASSWORD", hide_env_values = true)]
    pub database_password: Option<SecretText>,
}

impl DatabaseArgs {
    /// The URL to connect with: `--database-url`, with `--database-password` encoded into it when given.
    pub fn url(&self) -> Result<String, FlagError> {
        let Some(password) = &self.database_password else { return Ok(self.database_url.clone()) };
        let refuse = FlagError::DatabasePassword;
        if !(self.database_url.starts_with("postgres://") || self.database_url.starts_with("postgresql://")) {
            return Err(refuse("the URL is not a postgres:// one"));
        }
        let mut url = reqwest::Url::parse(&self.database_url).map_err(|_| refuse("the URL does not parse"))?;
        if url.password().is_some() {
            return Err(refuse("the URL has a password already"));
        }
        // Every byte but the unreserved ones encoded: the URL crate's own encoding leaves `%` as it is.
        let encoded: String = password
            .expose()
            .bytes()
            .map(|b| match b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                true => char::from(b).to_string(),
                false => format!("%{b:02X}"),
            })
            .collect();
        url.set_password(Some(&encoded)).map_err(|()| refuse("the URL names no host"))?;
        Ok(url.to_string())
    }
}

/// How epochs and their zipcode sets are made.
#[derive(Debug, Clone, Args)]
pub struct EpochArgs {
    /// Epoch length in minutes; must divide 1440 so epochs align to UTC midnight.
    #[arg(long, env = "ZIPCOORD_EPOCH_MINUTES", default_value_t = defaults::EPOCH_MINUTES, value_parser = parse_epoch_minutes)]
    pub epoch_minutes: u32,
    /// Epoch length in seconds, for local networks and end-to-end tests only: overrides `--epoch-minutes`;
    /// at least 10 and must divide 86400.
    #[arg(long, env = "ZIPCOORD_EPOCH_SECONDS", value_parser = parse_epoch_seconds)]
    pub epoch_seconds: Option<u32>,
    /// Expected listings per epoch (per miner in `groups` mode).
    #[arg(long, env = "ZIPCOORD_TARGET_LISTINGS", default_value_t = defaults::TARGET_LISTINGS, value_parser = clap::value_parser!(u32).range(1..))]
    pub target_listings: u32,
    /// Allowed deviation of the sum of expected listings, in percent.
    #[arg(long, env = "ZIPCOORD_TOLERANCE_PERCENT", default_value_t = defaults::TOLERANCE_PERCENT, value_parser = clap::value_parser!(u32).range(0..=50))]
    pub tolerance_percent: u32,
    /// Zipcodes expecting fewer listings are never picked.
    #[arg(long, env = "ZIPCOORD_MIN_LISTINGS", default_value_t = defaults::MIN_LISTINGS)]
    pub min_listings: u32,
    /// Zipcodes expecting more listings are never picked.
    #[arg(long, env = "ZIPCOORD_MAX_LISTINGS", default_value_t = defaults::MAX_LISTINGS)]
    pub max_listings: u32,
    /// Hours before a zipcode may be assigned again (relaxed when the target is otherwise unreachable).
    #[arg(long, env = "ZIPCOORD_COOLDOWN_HOURS", default_value_t = defaults::COOLDOWN_HOURS)]
    pub cooldown_hours: u32,
    /// Upper bound on zipcodes per epoch (none by default).
    #[arg(long, env = "ZIPCOORD_MAX_ZIPCODES")]
    pub max_zipcodes: Option<usize>,
    /// Expected listings of a STANDARD zipcode with no imported figure (scaled by tier for Zillow imports).
    #[arg(long, env = "ZIPCOORD_PRIOR_LISTINGS", default_value_t = defaults::PRIOR_LISTINGS, value_parser = clap::value_parser!(u32).range(1..))]
    pub prior_listings: u32,
    /// `shared`: every miner gets the epoch's zipcodes (what existing validators expect). `groups`: each group
    /// of miners (at most one per coldkey) gets a batch of its own, so coverage grows with the miners.
    #[arg(long, env = "ZIPCOORD_ASSIGNMENT_MODE", value_enum, default_value_t = AssignmentModeArg::Shared)]
    pub assignment_mode: AssignmentModeArg,
    /// Miners per group in `groups` mode.
    #[arg(long, env = "ZIPCOORD_GROUP_SIZE", default_value_t = defaults::GROUP_SIZE, value_parser = group_count)]
    pub group_size: usize,
    /// Groups each miner is in (each batch goes to this many groups' worth of miners) in `groups` mode.
    #[arg(long, env = "ZIPCOORD_GROUP_OVERLAP", default_value_t = defaults::GROUP_OVERLAP, value_parser = group_count)]
    pub group_overlap: usize,
    /// `on`: each epoch's expected listings move towards what honest miners delivered, as validators published
    /// it (bounded steps, a quorum of validators and coldkeys; see docs/beacon-epochs.md). `off`: imports and the
    /// prior alone set them.
    #[arg(long, env = "ZIPCOORD_RECALIBRATION", value_enum, default_value = "on")]
    pub recalibration: Toggle,
    /// The largest move of a zipcode's expected listings in one epoch, in percent.
    #[arg(long, env = "ZIPCOORD_RECALIBRATION_STEP_PERCENT", default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub recalibration_step_percent: u32,
    /// Permitted validators that must agree on a zipcode's evidence (and be a majority of those reporting it).
    #[arg(long, env = "ZIPCOORD_RECALIBRATION_MIN_VALIDATORS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub recalibration_min_validators: u32,
    /// Distinct coldkeys among the honest miners behind a zipcode's evidence.
    #[arg(long, env = "ZIPCOORD_RECALIBRATION_MIN_COLDKEYS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub recalibration_min_coldkeys: u32,
    /// How far validators' estimates may lie from their median and still agree, in percent.
    #[arg(long, env = "ZIPCOORD_RECALIBRATION_AGREEMENT_PERCENT", default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub recalibration_agreement_percent: u32,
    /// Judged epochs whose verdicts are read (for each zipcode the newest with a quorum counts).
    #[arg(long, env = "ZIPCOORD_RECALIBRATION_EPOCHS", default_value_t = defaults::RECALIBRATION_EPOCHS, value_parser = clap::value_parser!(u32).range(1..=42))]
    pub recalibration_epochs: u32,
}

/// The assignment modes as the command line names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AssignmentModeArg {
    Shared,
    Groups,
}

pub(super) fn group_count(raw: &str) -> Result<usize, String> {
    match raw.parse::<usize>() {
        Ok(n) if (1..=100).contains(&n) => Ok(n),
        _ => Err(format!("'{raw}' is not a whole number from 1 to 100")),
    }
}

fn parse_epoch_minutes(raw: &str) -> Result<u32, String> {
    let minutes: u32 = raw.parse().map_err(|_| format!("'{raw}' is not a number of minutes"))?;
    EpochClock::new(minutes).map(|_| minutes).map_err(|e| e.to_string())
}

fn parse_epoch_seconds(raw: &str) -> Result<u32, String> {
    let seconds: u32 = raw.parse().map_err(|_| format!("'{raw}' is not a number of seconds"))?;
    EpochClock::from_seconds(seconds).map(|_| seconds).map_err(|e| e.to_string())
}

impl EpochArgs {
    pub fn clock(&self) -> EpochClock {
        match self.epoch_seconds {
            Some(seconds) => EpochClock::from_seconds(seconds).expect("validated by the parser"),
            None => EpochClock::new(self.epoch_minutes).expect("validated by the parser"),
        }
    }

    pub fn settings(&self) -> EpochSettings {
        EpochSettings {
            clock: self.clock(),
            policy: SelectionPolicy {
                target_listings: self.target_listings,
                tolerance_percent: self.tolerance_percent,
                min_listings: self.min_listings,
                max_listings: self.max_listings,
                cooldown_seconds: i64::from(self.cooldown_hours) * 3600,
                max_count: self.max_zipcodes,
            },
            prior_listings: self.prior_listings,
            assignment: match self.assignment_mode {
                AssignmentModeArg::Shared => AssignmentMode::Shared,
                AssignmentModeArg::Groups => {
                    AssignmentMode::Groups(GroupPlan { size: self.group_size, overlap: self.group_overlap })
                }
            },
            recalibration: (self.recalibration == Toggle::On).then(|| {
                let standard = Recalibration::standard();
                Recalibration {
                    rule: CalibrationRule {
                        min_coldkeys: self.recalibration_min_coldkeys,
                        min_validators: self.recalibration_min_validators,
                        agreement_permille: self.recalibration_agreement_percent * 10,
                        max_step_permille: self.recalibration_step_percent * 10,
                        ..standard.rule
                    },
                    evidence_epochs: self.recalibration_epochs,
                }
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Toggle {
    On,
    Off,
}

/// Rate limits. Defaults never block the contract's load (a validator's burst of ~100 `/epoch/{id}` calls, a
/// miner's N+2 status posts each retried up to 3 times) and stop floods.
#[derive(Debug, Clone, Args)]
pub struct RateLimitArgs {
    /// `off` disables every rate limit (capacity benchmarks, load tests).
    #[arg(long = "rate-limits", env = "ZIPCOORD_RATE_LIMITS", value_enum, default_value = "on")]
    pub rate_limits: Toggle,
    /// Requests per minute per client IP to the public endpoints (stats, health).
    #[arg(long, env = "ZIPCOORD_RATE_LIMIT_PUBLIC_PER_MINUTE", default_value_t = defaults::RATE_LIMIT_PUBLIC_PER_MINUTE)]
    pub rate_limit_public_per_minute: u32,
    /// Requests per minute per client IP to every other endpoint, checked before any signature work.
    #[arg(long, env = "ZIPCOORD_RATE_LIMIT_SIGNED_PER_MINUTE", default_value_t = defaults::RATE_LIMIT_SIGNED_PER_MINUTE)]
    pub rate_limit_signed_per_minute: u32,
    /// `/current` requests per hour per hotkey.
    #[arg(long, env = "ZIPCOORD_RATE_LIMIT_CURRENT_PER_HOUR", default_value_t = defaults::RATE_LIMIT_CURRENT_PER_HOUR)]
    pub rate_limit_current_per_hour: u32,
    /// `/epoch/{id}` and `/get-miner-specific-access` requests per hour per validator hotkey.
    #[arg(long, env = "ZIPCOORD_RATE_LIMIT_VALIDATOR_PER_HOUR", default_value_t = defaults::RATE_LIMIT_VALIDATOR_PER_HOUR)]
    pub rate_limit_validator_per_hour: u32,
    /// Status reports per hour per hotkey (a burst of this many is allowed at once).
    #[arg(long, env = "ZIPCOORD_RATE_LIMIT_STATUS_PER_HOUR", default_value_t = defaults::RATE_LIMIT_STATUS_PER_HOUR)]
    pub rate_limit_status_per_hour: u32,
    /// Other S3 grants (folder access, validator access and upload) per hour per hotkey.
    #[arg(long, env = "ZIPCOORD_RATE_LIMIT_S3_PER_HOUR", default_value_t = defaults::RATE_LIMIT_S3_PER_HOUR)]
    pub rate_limit_s3_per_hour: u32,
    /// Reverse proxies in front of zipcoord whose `X-Forwarded-For` entries are trusted for the client IP.
    #[arg(long, env = "ZIPCOORD_TRUSTED_PROXY_HOPS", default_value_t = 0)]
    pub trusted_proxy_hops: usize,
}

impl RateLimitArgs {
    fn settings(&self) -> RateLimitSettings {
        RateLimitSettings {
            enabled: self.rate_limits == Toggle::On,
            public_per_ip_per_minute: self.rate_limit_public_per_minute,
            signed_per_ip_per_minute: self.rate_limit_signed_per_minute,
            current_per_hotkey_per_hour: self.rate_limit_current_per_hour,
            validator_burst_per_hotkey_per_hour: self.rate_limit_validator_per_hour,
            status_per_hotkey_per_hour: self.rate_limit_status_per_hour,
            s3_grants_per_hotkey_per_hour: self.rate_limit_s3_per_hour,
            trusted_proxy_hops: self.trusted_proxy_hops,
        }
    }
}

/// Settings of the HTTP service.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to serve on.
    #[arg(long, env = "ZIPCOORD_LISTEN", default_value = defaults::LISTEN)]
    pub listen: SocketAddr,
    /// Local development: the dev metagraph (//Alice, //Bob validators; //Charlie..//Ferdie miners) unless
    /// --metagraph says otherwise, an embedded S3-compatible store over ./zipcoord-dev-s3 unless a
    /// ZIPCOORD_S3_* store setting is given, and example signed requests printed at start.
    #[arg(long)]
    pub dev: bool,
    /// Metagraph source: `dev`, `file:PATH`, `subtensor` (the public finney entrypoint) or
    /// `subtensor:URL[,URL...]` (JSON-RPC endpoints tried in order; ws:// and wss:// are accepted).
    /// (Parsed by [`ServeArgs::metagraph_spec`], never echoed: a subtensor URL may carry an API key.)
    #[arg(long, env = "ZIPCOORD_METAGRAPH", hide_env_values = true)]
    pub metagraph: Option<SecretText>,
    /// Seconds between metagraph refreshes.
    #[arg(long, env = "ZIPCOORD_METAGRAPH_REFRESH_SECONDS", default_value_t = defaults::METAGRAPH_REFRESH_SECONDS, value_parser = clap::value_parser!(u64).range(1..))]
    pub metagraph_refresh_seconds: u64,
    /// Age in seconds beyond which the metagraph is not trusted: signed endpoints answer 503 and readiness fails.
    #[arg(long, env = "ZIPCOORD_METAGRAPH_MAX_AGE_SECONDS", default_value_t = defaults::METAGRAPH_MAX_AGE_SECONDS, value_parser = clap::value_parser!(u64).range(1..))]
    pub metagraph_max_age_seconds: u64,
    /// Seconds each subtensor JSON-RPC call may take before the next endpoint is tried.
    #[arg(long, env = "ZIPCOORD_CHAIN_TIMEOUT_SECONDS", default_value_t = defaults::CHAIN_TIMEOUT_SECONDS, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub chain_timeout_seconds: u64,
    /// Where epochs' randomness comes from: `drand` (quicknet from drand's public relays; the default),
    /// `drand:URL[,URL...]` (quicknet from these relays, in order), `subtensor` (quicknet as the Bittensor chain
    /// stores it, through the metagraph's endpoints), `subtensor:URL[,URL...]`, or `dev` (signed locally with a
    /// key everyone knows: no network, no unpredictability; the default with --dev).
    /// (Never echoed: a subtensor URL may carry an API key.)
    #[arg(long, env = "ZIPCOORD_BEACON", hide_env_values = true)]
    pub beacon: Option<String>,
    /// Seconds past an epoch's start the server waits for its beacon pulse (answering 503 with Retry-After)
    /// before seeding the epoch from its secret instead.
    #[arg(long, env = "ZIPCOORD_BEACON_GRACE_SECONDS", default_value_t = crate::beacon::DEFAULT_GRACE_SECONDS, value_parser = clap::value_parser!(u64).range(0..=3_600))]
    pub beacon_grace_seconds: u64,
    /// Seconds each drand relay may take before the next is asked.
    #[arg(long, env = "ZIPCOORD_BEACON_TIMEOUT_SECONDS", default_value_t = crate::beacon::DEFAULT_TIMEOUT_SECONDS, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub beacon_timeout_seconds: u64,
    /// Subnet id.
    #[arg(long, env = "ZIPCOORD_NETUID", default_value_t = defaults::NETUID)]
    pub netuid: u16,
    /// Stake (alpha, whole units) a validator needs besides its permit.
    #[arg(long, env = "ZIPCOORD_VALIDATOR_MIN_STAKE", default_value_t = defaults::VALIDATOR_MIN_STAKE)]
    pub validator_min_stake: f64,
    /// Server secret (hex, 32+ bytes) for seeds and nonces; generated once and stored when unset.
    #[arg(long, env = "ZIPCOORD_SECRET", hide_env_values = true)]
    pub secret: Option<SecretText>,
    /// Days of history kept: epochs, their assignments and status reports, and S3 grant records older than
    /// this are pruned hourly. At least 7.
    #[arg(long, env = "ZIPCOORD_RETENTION_DAYS", default_value_t = defaults::RETENTION_DAYS, value_parser = clap::value_parser!(u32).range(7..=36_500))]
    pub retention_days: u32,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "ZIPCOORD_MAX_BODY_BYTES", default_value_t = defaults::MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Largest accepted header section (names and values), in bytes.
    #[arg(long, env = "ZIPCOORD_MAX_HEADER_BYTES", default_value_t = defaults::MAX_HEADER_BYTES, value_parser = clap::value_parser!(u32).range(1024..=1_048_576).map(|v| v as usize))]
    pub max_header_bytes: usize,
    /// Seconds a client may take to send a complete request head before the connection is closed.
    #[arg(long, env = "ZIPCOORD_HEADER_READ_TIMEOUT_SECONDS", default_value_t = defaults::HEADER_READ_TIMEOUT_SECONDS, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub header_read_timeout_seconds: u64,
    /// Connections held at once; new ones beyond it are closed at accept (capped below the open-file limit).
    #[arg(long, env = "ZIPCOORD_MAX_CONNECTIONS", default_value_t = defaults::MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..=1_000_000).map(|v| v as usize))]
    pub max_connections: usize,
    /// Connections held at once from one client address; not applied with ZIPCOORD_TRUSTED_PROXY_HOPS above 0
    /// (every connection then comes from the proxy).
    #[arg(long, env = "ZIPCOORD_MAX_CONNECTIONS_PER_IP", default_value_t = defaults::MAX_CONNECTIONS_PER_IP, value_parser = clap::value_parser!(u32).range(1..=1_000_000).map(|v| v as usize))]
    pub max_connections_per_ip: usize,
    /// Seconds a request may take before it is answered with an error.
    #[arg(long, env = "ZIPCOORD_REQUEST_TIMEOUT_SECONDS", default_value_t = defaults::REQUEST_TIMEOUT_SECONDS, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_seconds: u64,
    /// The platform named in the dynamic-desirability job lists (`…/desirability`).
    #[arg(long, env = "ZIPCOORD_DESIRABILITY_PLATFORM", default_value = crate::api::DEFAULT_PLATFORM, value_parser = parse_platform)]
    pub desirability_platform: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub epochs: EpochArgs,
    #[command(flatten)]
    pub s3: S3Args,
    #[command(flatten)]
    pub rate_limits: RateLimitArgs,
    #[command(flatten)]
    pub epistula: EpistulaArgs,
}

/// A platform name for the job lists: 1 to 64 letters, digits, `_`, `-` or `.`.
pub fn parse_platform(text: &str) -> Result<String, String> {
    let valid =
        !text.is_empty() && text.len() <= 64 && text.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!("{text:?} is not a platform name (1 to 64 letters, digits, '_', '-' or '.')"))
    }
}

/// Epistula-signed requests.
#[derive(Debug, Clone, Args)]
pub struct EpistulaArgs {
    /// The service's own SS58 address: Epistula-signed requests must name it in `Epistula-Signed-For`. Unset,
    /// only the legacy signatures are accepted (with --dev: the dev service key //Zipcoord).
    #[arg(long, env = "ZIPCOORD_SERVICE_HOTKEY")]
    pub service_hotkey: Option<String>,
    /// How many milliseconds an Epistula timestamp may lie behind the server's clock.
    #[arg(long, env = "ZIPCOORD_EPISTULA_MAX_AGE_MS", default_value_t = defaults::EPISTULA_MAX_AGE_MS, value_parser = clap::value_parser!(i64).range(1_000..=600_000))]
    pub epistula_max_age_ms: i64,
    /// How many milliseconds an Epistula timestamp may lie ahead of the server's clock.
    #[arg(long, env = "ZIPCOORD_EPISTULA_MAX_AHEAD_MS", default_value_t = defaults::EPISTULA_MAX_AHEAD_MS, value_parser = clap::value_parser!(i64).range(0..=600_000))]
    pub epistula_max_ahead_ms: i64,
}

impl EpistulaArgs {
    /// The settings, with `dev` supplying the dev service key when none is given.
    pub fn settings(&self, dev: bool) -> Result<EpistulaSettings, FlagError> {
        let service_hotkey = match self.service_hotkey.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => Some(text.parse::<Hotkey>().map_err(FlagError::ServiceHotkey)?),
            None if dev => Some(crate::chain::dev::dev_service_hotkey()),
            None => None,
        };
        let window = EpistulaWindow { max_age_ms: self.epistula_max_age_ms, max_ahead_ms: self.epistula_max_ahead_ms };
        Ok(EpistulaSettings { service_hotkey, window })
    }
}

impl ServeArgs {
    /// The settings these flags describe, or a message saying what is wrong (never echoing a secret).
    pub fn settings(&self) -> Result<Settings, FlagError> {
        let metagraph = self.metagraph_spec()?;
        Ok(Settings {
            listen: self.listen,
            dev: self.dev,
            database_url: self.database.url()?,
            metagraph,
            chain: ChainSettings {
                netuid: self.netuid,
                refresh: Duration::from_secs(self.metagraph_refresh_seconds),
                max_age: Duration::from_secs(self.metagraph_max_age_seconds),
                timeout: Duration::from_secs(self.chain_timeout_seconds),
            },
            validator_min_stake: self.validator_min_stake,
            secret: self.server_secret()?,
            retention: days(self.retention_days),
            epochs: self.epochs.settings(),
            beacon: self.beacon_settings()?,
            s3: self.s3.settings()?,
            http: HttpSettings {
                max_body_bytes: self.max_body_bytes,
                max_header_bytes: self.max_header_bytes,
                header_read_timeout: Duration::from_secs(self.header_read_timeout_seconds),
                request_timeout: Duration::from_secs(self.request_timeout_seconds),
                max_connections: self.max_connections,
                max_connections_per_ip: self.max_connections_per_ip,
            },
            rate_limits: self.rate_limits.settings(),
            epistula: self.epistula.settings(self.dev)?,
            desirability_platform: self.desirability_platform.clone(),
            background_tasks: true,
        })
    }

    /// The beacon: as configured, else the dev beacon with --dev and quicknet from drand's relays without.
    fn beacon_settings(&self) -> Result<BeaconSettings, FlagError> {
        let spec = match self.beacon.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => BeaconSpec::parse(text, &self.metagraph_spec()?).map_err(FlagError::Beacon)?,
            None if self.dev => BeaconSpec::Dev,
            None => BeaconSpec::quicknet(),
        };
        Ok(BeaconSettings {
            spec,
            grace: Duration::from_secs(self.beacon_grace_seconds),
            timeout: Duration::from_secs(self.beacon_timeout_seconds),
        })
    }

    /// The configured server secret, if any, validated.
    fn server_secret(&self) -> Result<Option<ServerSecret>, FlagError> {
        // An empty value (`ZIPCOORD_SECRET=` from a compose file's `${VAR:-}`) means none was given.
        self.secret
            .as_ref()
            .filter(|text| !text.expose().is_empty())
            .map(|text| ServerSecret::from_hex(text.expose()))
            .transpose()
            .map_err(FlagError::Secret)
    }

    /// The metagraph source to use, or a message saying how to give one.
    fn metagraph_spec(&self) -> Result<MetagraphSpec, FlagError> {
        if self.metagraph_max_age_seconds < self.metagraph_refresh_seconds {
            return Err(FlagError::MetagraphAge {
                max_age: self.metagraph_max_age_seconds,
                refresh: self.metagraph_refresh_seconds,
            });
        }
        match (&self.metagraph, self.dev) {
            (Some(spec), _) => spec.expose().parse().map_err(FlagError::Metagraph),
            (None, true) => Ok(MetagraphSpec::Dev),
            (None, false) => Err(FlagError::NoMetagraph),
        }
    }
}

/// A share from 0 (exclusive) to 1.
pub(super) fn unit_share(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(share) if share > 0.0 && share <= 1.0 => Ok(share),
        _ => Err(format!("'{raw}' is not a share above 0 and at most 1")),
    }
}

#[cfg(test)]
mod tests;

//! Rate limits, in the order the design asks for: per client IP before any signature work (so floods are turned
//! away cheaply), and per hotkey and endpoint class only after a signature verifies (so junk naming a real
//! hotkey can never spend that hotkey's quota). Rejections are 429 with `Retry-After` and `X-RateLimit-*`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::error::ApiError;
use crate::domain::access::auth::HotkeySignature;
use crate::domain::access::endpoint::RateClass;
use crate::domain::hotkey::Hotkey;
use crate::settings::RateLimitSettings;

/// How long a signature is remembered: longer than any timestamp window (300 s back, 300 s ahead).
const SIGNATURE_MEMORY: Duration = Duration::from_secs(11 * 60);
/// Signatures remembered at most (~100 bytes each); beyond, new ones spend their budget every time.
const MAX_REMEMBERED_SIGNATURES: usize = 200_000;

type KeyedLimiter<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

pub struct RateLimits {
    settings: RateLimitSettings,
    /// Signatures that already spent their hotkey's budget, and when: a retry, or a replay by someone who
    /// captured the request, is answered without spending it again.
    spent: Mutex<HashMap<[u8; 64], Instant>>,
    public: KeyedLimiter<IpAddr>,
    signed: KeyedLimiter<IpAddr>,
    current: KeyedLimiter<[u8; 32]>,
    validator_burst: KeyedLimiter<[u8; 32]>,
    status: KeyedLimiter<[u8; 32]>,
    s3_grants: KeyedLimiter<[u8; 32]>,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("at least 1")
}

fn limiter<K: Clone + std::hash::Hash + Eq>(quota: Quota) -> KeyedLimiter<K> {
    RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>()
}

impl RateLimits {
    pub fn new(settings: RateLimitSettings) -> Self {
        let per_hour = |n| limiter(Quota::per_hour(nonzero(n)));
        RateLimits {
            public: limiter(Quota::per_minute(nonzero(settings.public_per_ip_per_minute))),
            signed: limiter(Quota::per_minute(nonzero(settings.signed_per_ip_per_minute))),
            current: per_hour(settings.current_per_hotkey_per_hour),
            validator_burst: per_hour(settings.validator_burst_per_hotkey_per_hour),
            status: per_hour(settings.status_per_hotkey_per_hour),
            s3_grants: per_hour(settings.s3_grants_per_hotkey_per_hour),
            spent: Mutex::new(HashMap::new()),
            settings,
        }
    }

    fn check<K: Clone + std::hash::Hash + Eq>(
        &self,
        limiter: &KeyedLimiter<K>,
        key: &K,
        what: &str,
        scope: &'static str,
    ) -> Result<(), ApiError> {
        if !self.settings.enabled {
            return Ok(());
        }
        match limiter.check_key(key) {
            Ok(_) => Ok(()),
            Err(not_until) => {
                crate::metrics::rate_limited(scope);
                let limit = not_until.quota().burst_size().get();
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let seconds = crate::net::seconds_rounded_up(wait);
                Err(ApiError::too_many_requests(
                    format!("Too many requests {what}; retry in {seconds} s"),
                    limit,
                    seconds.max(1),
                ))
            }
        }
    }

    /// The per-hotkey budget of `class`, spent once per signature: checked after the signature verified, and not
    /// again for a signature seen within its timestamp window.
    pub fn check_signed(&self, class: RateClass, hotkey: &Hotkey, signature: &HotkeySignature) -> Result<(), ApiError> {
        if !self.settings.enabled {
            return Ok(());
        }
        let key = *signature.as_bytes();
        if self.spent.lock().get(&key).is_some_and(|at| at.elapsed() < SIGNATURE_MEMORY) {
            return Ok(());
        }
        self.check_hotkey(class, hotkey)?;
        let mut spent = self.spent.lock();
        if spent.len() < MAX_REMEMBERED_SIGNATURES {
            spent.insert(key, Instant::now());
        }
        Ok(())
    }

    /// The per-hotkey budget of `class`, checked after the signature verified.
    fn check_hotkey(&self, class: RateClass, hotkey: &Hotkey) -> Result<(), ApiError> {
        let (limiter, scope) = match class {
            RateClass::Current => (&self.current, "hotkey_current"),
            RateClass::ValidatorBurst => (&self.validator_burst, "hotkey_validator"),
            RateClass::Status => (&self.status, "hotkey_status"),
            RateClass::S3Grant => (&self.s3_grants, "hotkey_s3"),
        };
        self.check(limiter, hotkey.public_bytes(), "for this hotkey", scope)
    }

    /// The client's address: the peer, or the entry `trusted_proxy_hops` from the right of `X-Forwarded-For`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let hops = self.settings.trusted_proxy_hops;
        if hops == 0 {
            return peer;
        }
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        forwarded.len().checked_sub(hops).and_then(|i| forwarded.get(i)).and_then(|ip| ip.parse().ok()).unwrap_or(peer)
    }

    /// Forgets idle keys so the limiters' memory stays bounded under floods of distinct IPs, and signatures whose
    /// window has passed.
    pub fn prune(&self) {
        self.spent.lock().retain(|_, at| at.elapsed() < SIGNATURE_MEMORY);
        for limiter in [&self.public, &self.signed] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        for limiter in [&self.current, &self.validator_burst, &self.status, &self.s3_grants] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn is_public(path: &str) -> bool {
    matches!(path, "/api/v1/zipcode-assignments/stats" | "/healthcheck" | "/health" | "/livez" | "/readyz" | "/metrics")
        || super::verification::is_verification_path(path)
        || super::dashboard::is_dashboard_path(path)
}

/// The per-IP check, ahead of routing and of any signature work.
pub async fn limit_per_ip(State(limits): State<Arc<RateLimits>>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let ip = crate::net::client_address(limits.client_ip(peer, request.headers()));
    let (limiter, scope) =
        if is_public(request.uri().path()) { (&limits.public, "ip_public") } else { (&limits.signed, "ip_signed") };
    match limits.check(limiter, &ip, "from this address", scope) {
        Ok(()) => next.run(request).await,
        Err(rejection) => rejection.into_response(),
    }
}

impl ApiError {
    pub fn too_many_requests(message: String, limit: u32, retry_after_seconds: u64) -> Self {
        let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, message);
        error.rate_limit = Some(super::error::RateLimitInfo { limit, retry_after_seconds });
        error
    }
}

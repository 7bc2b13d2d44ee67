//! Prometheus metrics: every metric's name in one place, the process-wide recorder, and the rendering behind
//! `GET /metrics`. Counters and histograms are recorded where things happen (HTTP edge, auth, rate limits,
//! epoch creation, S3 grants, status reports, metagraph refreshes); gauges that describe state (metagraph age,
//! block, size) are set from the application state when scraped. Beside them, a day of requests and rate-limit
//! refusals in hourly tallies, for the dashboard.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUESTS: &str = "zipcoord_http_requests_total";
pub const HTTP_DURATION: &str = "zipcoord_http_request_duration_seconds";
pub const AUTH_FAILURES: &str = "zipcoord_auth_failures_total";
pub const RATE_LIMITED: &str = "zipcoord_rate_limited_total";
pub const CONNECTIONS_REFUSED: &str = "zipcoord_connections_refused_total";
pub const CONNECTIONS_OPEN: &str = "zipcoord_connections_open";
pub const EPOCHS_CREATED: &str = "zipcoord_epochs_created_total";
pub const SELECTION_DURATION: &str = "zipcoord_epoch_selection_duration_seconds";
pub const SELECTION_FAILURES: &str = "zipcoord_epoch_selection_failures_total";
pub const STATUS_REPORTS: &str = "zipcoord_status_reports_total";
pub const S3_GRANTS: &str = "zipcoord_s3_grants_total";
pub const METAGRAPH_REFRESHES: &str = "zipcoord_metagraph_refreshes_total";
pub const METAGRAPH_AGE: &str = "zipcoord_metagraph_age_seconds";
pub const METAGRAPH_BLOCK: &str = "zipcoord_metagraph_block";
pub const METAGRAPH_NEURONS: &str = "zipcoord_metagraph_neurons";
pub const METAGRAPH_FRESH: &str = "zipcoord_metagraph_fresh";
pub const BEACON_ROUND: &str = "zipcoord_beacon_last_round";
pub const BEACON_FAILURES: &str = "zipcoord_beacon_failures_total";
pub const BEACON_FALLBACKS: &str = "zipcoord_epochs_seeded_by_fallback_total";
pub const DATABASE_WRITES_FAILING: &str = "zipcoord_database_writes_failing";
pub const EPOCH_CREATION_FAILURES: &str = "zipcoord_epoch_creation_failures_total";
pub const EPOCH_CREATION_FAILING: &str = "zipcoord_epoch_creation_failing";
pub const BEACON_WAITING: &str = "zipcoord_beacon_waiting_seconds";
pub const DATABASE_CONNECT_FAILURES: &str = "zipcoord_database_connect_failures_total";
pub const BUILD_INFO: &str = "zipcoord_build_info";
pub const WEIGHT_SETTINGS: &str = "zipcoord_validator_weight_settings_total";
pub const WEIGHTS_BLOCK: &str = "zipcoord_validator_weights_block";

/// Latency buckets from 0.5 ms to 10 s: signed requests take well under a millisecond of CPU.
const SECONDS_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder on first use and returns its handle. Several servers in one process (the
/// tests) share it.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_string()), SECONDS_BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first, in which case ours just stays empty.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics shows nothing of ours");
        }
        gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        handle
    })
}

/// The method as a label: the standard ones by name, anything a client invents as `other`, so that no request
/// can add a series.
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT", "TRACE"];
    KNOWN.into_iter().find(|known| *known == method).unwrap_or("other")
}

pub fn http_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    TRAFFIC.lock().count(unix_hour(), 1, 0);
    let method = method_label(method);
    let route = route.to_string();
    counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status.to_string()).increment(1);
    histogram!(HTTP_DURATION, "method" => method, "route" => route).record(elapsed.as_secs_f64());
}

/// Why a signed request was refused, as a short label.
pub fn auth_failure(reason: &'static str) {
    counter!(AUTH_FAILURES, "reason" => reason).increment(1);
}

/// Connections held now (by the server that last opened or closed one; production runs one per process).
pub fn connections_open(count: usize) {
    gauge!(CONNECTIONS_OPEN).set(count as f64);
}

/// A connection closed at accept because a cap was reached.
pub fn connection_refused(reason: &'static str) {
    counter!(CONNECTIONS_REFUSED, "reason" => reason).increment(1);
}

pub fn rate_limited(scope: &'static str) {
    TRAFFIC.lock().count(unix_hour(), 0, 1);
    counter!(RATE_LIMITED, "scope" => scope).increment(1);
}

/// Requests answered and requests refused by a rate limit, over a window of whole hours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    pub requests: u64,
    pub rate_limited: u64,
}

/// The hours a traffic tally covers: the dashboard shows a day.
const TRAFFIC_HOURS: usize = 24;

/// Per-hour tallies in a ring of [`TRAFFIC_HOURS`] slots, each tagged with its hour so a slot from a day ago
/// is reset, not added to: bounded however long the process runs.
struct HourlyTraffic {
    slots: [(i64, Traffic); TRAFFIC_HOURS],
}

impl HourlyTraffic {
    const fn new() -> Self {
        HourlyTraffic { slots: [(i64::MIN, Traffic { requests: 0, rate_limited: 0 }); TRAFFIC_HOURS] }
    }

    fn count(&mut self, hour: i64, requests: u64, rate_limited: u64) {
        let slot = &mut self.slots[hour.rem_euclid(TRAFFIC_HOURS as i64) as usize];
        if slot.0 != hour {
            *slot = (hour, Traffic::default());
        }
        slot.1.requests += requests;
        slot.1.rate_limited += rate_limited;
    }

    /// The sum over the hour `hour` and the 23 before it.
    fn last_day(&self, hour: i64) -> Traffic {
        let recent = self.slots.iter().filter(|(at, _)| hour - (TRAFFIC_HOURS as i64) < *at && *at <= hour);
        recent.fold(Traffic::default(), |sum, (_, t)| Traffic {
            requests: sum.requests + t.requests,
            rate_limited: sum.rate_limited + t.rate_limited,
        })
    }
}

static TRAFFIC: parking_lot::Mutex<HourlyTraffic> = parking_lot::Mutex::new(HourlyTraffic::new());

fn unix_hour() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    (now.as_secs() / 3600) as i64
}

/// Requests this process answered and refused by rate limit over the last 24 hours (by the wall clock).
pub fn traffic_last_day() -> Traffic {
    TRAFFIC.lock().last_day(unix_hour())
}

pub fn epoch_created(selection: Duration) {
    counter!(EPOCHS_CREATED).increment(1);
    histogram!(SELECTION_DURATION).record(selection.as_secs_f64());
}

/// A failed attempt at creating an epoch; `selection` when its zipcodes could not be selected.
pub fn epoch_creation_failed(selection: bool) {
    counter!(EPOCH_CREATION_FAILURES).increment(1);
    if selection {
        counter!(SELECTION_FAILURES).increment(1);
    }
}

/// An attempt at reaching the database at start-up that failed (the server keeps trying, not ready).
pub fn database_connect_failure() {
    counter!(DATABASE_CONNECT_FAILURES).increment(1);
}

/// The latest beacon round whose pulse verified.
pub fn beacon_round(round: u64) {
    gauge!(BEACON_ROUND).set(round as f64);
}

/// A pulse that could not be had (unreachable relays, a pulse that does not verify, a chain mismatch).
pub fn beacon_failure() {
    counter!(BEACON_FAILURES).increment(1);
}

/// An epoch seeded from the server secret because the beacon stayed silent past the grace period.
pub fn beacon_fallback() {
    counter!(BEACON_FALLBACKS).increment(1);
}

pub fn status_report(status: &str) {
    counter!(STATUS_REPORTS, "status" => status.to_string()).increment(1);
}

pub fn s3_grant(kind: &str) {
    counter!(S3_GRANTS, "kind" => kind.to_string()).increment(1);
}

pub fn metagraph_refresh(succeeded: bool) {
    counter!(METAGRAPH_REFRESHES, "result" => if succeeded { "ok" } else { "error" }).increment(1);
}

/// A validator's weight setting and what became of it (`set`, `committed`, `refused`, `failed`), with the block
/// it landed in when it did.
pub fn weight_setting(outcome: &'static str, block: Option<u64>) {
    // A validator has no server that installs the recorder at start: counted before, it would be lost.
    handle();
    counter!(WEIGHT_SETTINGS, "outcome" => outcome).increment(1);
    if let Some(block) = block {
        gauge!(WEIGHTS_BLOCK).set(block as f64);
    }
}

/// The Prometheus text of what this process recorded (a validator's relay serves it).
pub fn render_recorded() -> String {
    handle().render()
}

/// The service's state at scrape time.
pub struct StateGauges {
    pub metagraph: MetagraphGauges,
    /// Whether the database refuses writes (a full disk, say).
    pub database_writes_failing: bool,
    /// Whether the latest epoch could not be created (and none was since).
    pub epoch_creation_failing: bool,
    /// How long an epoch has waited for its beacon pulse (0 when none does).
    pub beacon_waiting_seconds: i64,
}

/// The metagraph's state at scrape time.
pub struct MetagraphGauges {
    pub age_seconds: Option<i64>,
    pub block: Option<u64>,
    pub neurons: usize,
    pub fresh: bool,
}

/// Renders every metric in the Prometheus text format, after setting the state gauges.
pub fn render(state: StateGauges) -> String {
    let metagraph = state.metagraph;
    let handle = handle();
    // Servers sharing the recorder (tests) must not interleave their gauges with another's rendering.
    static RENDERING: parking_lot::Mutex<()> = parking_lot::Mutex::new(());
    let _rendering = RENDERING.lock();
    // -1 says "no snapshot" without dropping the series.
    gauge!(METAGRAPH_AGE).set(metagraph.age_seconds.map_or(-1.0, |a| a as f64));
    gauge!(METAGRAPH_BLOCK).set(metagraph.block.map_or(-1.0, |b| b as f64));
    gauge!(METAGRAPH_NEURONS).set(metagraph.neurons as f64);
    gauge!(METAGRAPH_FRESH).set(if metagraph.fresh { 1.0 } else { 0.0 });
    gauge!(DATABASE_WRITES_FAILING).set(if state.database_writes_failing { 1.0 } else { 0.0 });
    gauge!(EPOCH_CREATION_FAILING).set(if state.epoch_creation_failing { 1.0 } else { 0.0 });
    gauge!(BEACON_WAITING).set(state.beacon_waiting_seconds as f64);
    handle.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_counts_a_day_and_forgets_older_hours() {
        let mut traffic = HourlyTraffic::new();
        traffic.count(1_000, 5, 1);
        traffic.count(1_010, 2, 0);
        assert_eq!(traffic.last_day(1_010), Traffic { requests: 7, rate_limited: 1 });
        assert_eq!(traffic.last_day(1_023), Traffic { requests: 7, rate_limited: 1 });
        assert_eq!(traffic.last_day(1_024), Traffic { requests: 2, rate_limited: 0 }, "hour 1000 is a day old");
        // Hour 1024 takes hour 1000's slot: it starts from zero.
        traffic.count(1_024, 3, 0);
        assert_eq!(traffic.last_day(1_024), Traffic { requests: 5, rate_limited: 0 });
        assert_eq!(traffic.last_day(1_100), Traffic::default());
    }
}

//! Where the reference clients get an epoch's assignment, in order: the API; else a computation of their own
//! from the epoch inputs they kept and the beacon's verified pulse; else validators' relays, whose answers are
//! taken only when they recompute from the kept inputs and the pulse they carry, as `verify-epoch` checks a
//! server ([`crate::domain::epoch::recompute`]). A relay can withhold, never forge.
//!
//! Computing needs the epoch's published inputs. The client keeps every inputs document it fetched from the API
//! (the next epoch's are published when the current one starts), and rolls the latest forward through epochs
//! the server missed ([`EpochInputs::roll_forward`]), exactly as the server does when it comes back.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::api::{AssignmentResponse, AssignmentView, StatsResponse};
use crate::beacon::PulseSource;
use crate::client::epoch_check::{claim_of_served, CheckError};
use crate::client::state::StateDir;
use crate::client::{unix_now_ms, ClientError, ZipcoordClient};
use crate::domain::access::keys::Keypair;
use crate::domain::epoch::inputs::{EpochInputs, MAX_ROLL_FORWARD_EPOCHS};
use crate::domain::epoch::recompute::{recompute, Discrepancy};
use crate::domain::epoch::selection::SelectionError;
use crate::domain::epoch::zipcode::{Zipcode, ZipcodeError};
use crate::domain::epoch::{EpochClock, EpochId};
use crate::universe::BuiltinLocations;

mod planning;

/// Inputs documents kept (the newest by epoch).
const INPUTS_KEPT: usize = 6;
/// Assignments kept (the newest by epoch): enough for a validator to judge after a long outage.
const ASSIGNMENTS_KEPT: usize = 24;

/// Where an assignment came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Source {
    /// The coordinator's API.
    Api,
    /// Computed here from published (or rolled-forward) inputs and the beacon round's verified pulse.
    Computed { round: u64, rolled_forward: bool },
    /// A validator's relay; recomputed here from the relay's pulse before use.
    Relay { url: String },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Api => write!(f, "the API"),
            Source::Computed { round, rolled_forward: false } => {
                write!(f, "computed locally from the published inputs and beacon round {round}")
            }
            Source::Computed { round, rolled_forward: true } => write!(
                f,
                "computed locally from inputs rolled forward from the last published ones and beacon round {round}"
            ),
            Source::Relay { url } => write!(f, "the relay {url}, recomputed locally"),
        }
    }
}

/// An assignment and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sourced {
    pub assignment: AssignmentResponse,
    pub source: Source,
}

#[derive(Debug, thiserror::Error)]
pub enum EpochsError {
    /// The API refused (a 4xx): no fallback makes an unregistered or misconfigured client welcome.
    #[error(transparent)]
    Refused(ClientError),
    /// The server is up and asks to wait (503 in the contract's shape: the epoch's pulse is not there yet). A
    /// client must not compute the epoch then: should the beacon stay silent, the server seeds it otherwise.
    #[error("the server asks to wait: {0}")]
    Waiting(ClientError),
    #[error("no assignment for epoch {epoch}: {}", reasons.join("; "))]
    Unavailable { epoch: EpochId, reasons: Vec<String> },
}

/// Why an epoch could not be had one way without the API; each becomes one of the reasons of
/// [`EpochsError::Unavailable`].
#[derive(Debug, thiserror::Error)]
enum Unobtainable {
    #[error("no published inputs kept for epoch {0} or the {MAX_ROLL_FORWARD_EPOCHS} before it")]
    NoInputs(EpochId),
    #[error("the kept inputs name a beacon chain this build does not know")]
    UnknownChain,
    /// An epoch the inputs roll forward through could not be had.
    #[error("epoch {epoch}: {why}")]
    Through { epoch: EpochId, why: Box<Unobtainable> },
    #[error(transparent)]
    Zipcode(#[from] ZipcodeError),
    #[error("the selection fails: {0}")]
    Selection(#[from] SelectionError),
    /// What the beacon and each relay answered.
    #[error("{}", .0.join("; "))]
    EverySource(Vec<String>),
    #[error(transparent)]
    RelayUnreachable(#[from] ClientError),
    #[error(transparent)]
    RelayMalformed(#[from] CheckError),
    #[error("asked for epoch {asked}, it answered {answered}")]
    RelayOtherEpoch { asked: EpochId, answered: EpochId },
    #[error("refused: its assignment does not recompute from the inputs and its pulse ({0})")]
    Forged(Discrepancy),
}

/// What a client learned about the service: enough to know epochs without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceFacts {
    epoch_length_seconds: u32,
}

/// Inputs of one epoch, in their canonical bytes, and whether they were rolled forward here.
struct KnownInputs {
    bytes: Vec<u8>,
    inputs: EpochInputs,
    rolled_forward: bool,
}

/// What a failed API request means for a client: an outage it works around (the error, for its reasons), the
/// server asking it to wait (a 503 in the contract's shape: the epoch's pulse is not there yet), or a refusal.
fn outage_or_refusal(error: ClientError) -> Result<ClientError, EpochsError> {
    match error {
        ClientError::Api { status: 503, .. } => Err(EpochsError::Waiting(error)),
        error if error.is_outage() => Ok(error),
        error => Err(EpochsError::Refused(error)),
    }
}

/// The client's clock (Unix milliseconds): the system's, or a test's.
pub type ClientClock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// A client's assignments: fetched, computed or relayed, remembered in its state directory.
pub struct Epochs {
    now_ms: ClientClock,
    api: ZipcoordClient,
    relays: Vec<ZipcoordClient>,
    beacon: Arc<dyn PulseSource>,
    state: StateDir,
    places: Arc<BuiltinLocations>,
}

impl Epochs {
    pub fn new(
        api: ZipcoordClient,
        relays: Vec<ZipcoordClient>,
        beacon: Arc<dyn PulseSource>,
        state: StateDir,
    ) -> Self {
        let now_ms: ClientClock = Arc::new(unix_now_ms);
        Epochs { now_ms, api, relays, beacon, state, places: Arc::new(BuiltinLocations::load()) }
    }

    /// The same, reading time from `now_ms` (tests run on a manual clock).
    pub fn with_clock(mut self, now_ms: ClientClock) -> Self {
        self.now_ms = now_ms;
        self
    }

    pub fn now_unix(&self) -> i64 {
        (self.now_ms)().div_euclid(1000)
    }

    pub fn state(&self) -> &StateDir {
        &self.state
    }

    pub fn api(&self) -> &ZipcoordClient {
        &self.api
    }

    /// The epoch clock as last learned from the API.
    pub fn clock(&self) -> Option<EpochClock> {
        let facts: ServiceFacts = self.state.read("service.json", "service")?;
        EpochClock::from_seconds(facts.epoch_length_seconds).ok()
    }

    /// Remembers the epoch length `stats` gives.
    pub fn learn(&self, stats: &StatsResponse) {
        if let Some(clock) = stats.epoch_clock() {
            self.learn_epoch_length(clock);
        }
    }

    fn learn_epoch_length(&self, clock: EpochClock) {
        let facts = ServiceFacts { epoch_length_seconds: clock.length_seconds() as u32 };
        if self.state.read::<ServiceFacts>("service.json", "service") != Some(facts) {
            if let Err(error) = self.state.write("service.json", "service", &facts) {
                tracing::warn!(%error, "cannot keep the service's epoch length");
            }
        }
    }

    /// The current epoch: from the API's stats when it answers (remembering its clock, and the stats once per
    /// epoch for a relay to serve), else from the clock learned before.
    pub async fn current_epoch_id(&self) -> Option<EpochId> {
        match self.api.stats().await {
            Ok(stats) => {
                self.learn(&stats);
                let current = stats.epoch_status.current_epoch.as_ref().and_then(|epoch| epoch.id.parse().ok());
                let kept: Option<StatsResponse> = self.state.read("stats.json", "stats");
                let kept_epoch = kept.and_then(|k| k.epoch_status.current_epoch.map(|e| e.id));
                if current.is_some() && kept_epoch != current.map(|e: EpochId| e.to_string()) {
                    if let Err(error) = self.state.write("stats.json", "stats", &stats) {
                        tracing::warn!(%error, "cannot keep the stats");
                    }
                }
                current
            }
            Err(error) => {
                tracing::debug!(%error, "stats unavailable; using the remembered epoch clock");
                self.clock().map(|clock| clock.epoch_at(self.now_unix()))
            }
        }
    }

    /// The current assignment for `key`.
    pub async fn current(&self, key: &Keypair) -> Result<Sourced, EpochsError> {
        let api_failure = match self.api.current(key, self.now_unix()).await {
            Ok(assignment) => return Ok(self.keep_api_answer(assignment).await),
            Err(error) => outage_or_refusal(error)?,
        };
        // Without a learned clock nothing is kept or computable; the epoch is named for the message only.
        let clock = self.clock().unwrap_or(EpochClock::new(240).expect("four hours is a valid epoch length"));
        let hotkey = key.hotkey();
        self.without_api(clock.epoch_at(self.now_unix()), api_failure, AssignmentView::Miner(&hotkey)).await
    }

    /// A started epoch's assignment (validators).
    pub async fn epoch(&self, key: &Keypair, epoch: EpochId) -> Result<Sourced, EpochsError> {
        let api_failure = match self.api.epoch(key, epoch, self.now_unix()).await {
            Ok(assignment) => return Ok(self.keep_api_answer(assignment).await),
            Err(error) => outage_or_refusal(error)?,
        };
        self.without_api(epoch, api_failure, AssignmentView::Whole).await
    }

    /// The published inputs of `epoch` as kept here, byte for byte.
    pub fn kept_inputs(&self, epoch: EpochId) -> Option<Vec<u8>> {
        self.known_inputs_file(epoch).map(|known| known.bytes)
    }

    /// Keeps what the API answered, and the next epoch's inputs if they are out.
    async fn keep_api_answer(&self, assignment: AssignmentResponse) -> Sourced {
        let sourced = Sourced { assignment, source: Source::Api };
        if let Some(clock) = sourced.assignment.epoch_clock() {
            self.learn_epoch_length(clock);
        }
        if let Ok(epoch) = sourced.assignment.epoch_id.parse::<EpochId>() {
            self.keep(epoch, &sourced);
            if let Some(clock) = self.clock() {
                self.fetch_inputs(clock.next(epoch)).await;
            }
            if self.known_inputs_file(epoch).is_none() && sourced.assignment.proof.is_some() {
                self.fetch_inputs(epoch).await;
            }
        }
        sourced
    }

    /// Fetches and keeps `epoch`'s published inputs from the API, if they are out and not kept yet.
    pub async fn fetch_inputs(&self, epoch: EpochId) {
        if self.known_inputs_file(epoch).is_some() {
            return;
        }
        match self.api.epoch_inputs(epoch).await {
            Ok(bytes) => match EpochInputs::from_canonical_json(&bytes) {
                Ok(inputs) if inputs.epoch == epoch => self.keep_inputs(epoch, &bytes),
                Ok(inputs) => tracing::warn!(%epoch, served = %inputs.epoch, "the API served another epoch's inputs"),
                Err(error) => tracing::warn!(%epoch, %error, "the API's inputs do not read"),
            },
            Err(ClientError::Api { status: 404, .. }) => tracing::debug!(%epoch, "inputs not published yet"),
            Err(error) => tracing::debug!(%epoch, %error, "cannot fetch inputs"),
        }
    }

    fn keep_inputs(&self, epoch: EpochId, bytes: &[u8]) {
        if let Err(error) = self.state.write_bytes(&format!("inputs/{epoch}.json"), bytes) {
            tracing::warn!(%epoch, %error, "cannot keep epoch inputs");
        }
        self.state.keep_newest("inputs", INPUTS_KEPT);
    }

    fn keep(&self, epoch: EpochId, sourced: &Sourced) {
        if let Err(error) = self.state.write(&format!("assignments/{epoch}.json"), "assignment", sourced) {
            tracing::warn!(%epoch, %error, "cannot keep the assignment");
        }
        self.state.keep_newest("assignments", ASSIGNMENTS_KEPT);
    }

    /// A kept assignment of `epoch`.
    pub fn kept(&self, epoch: EpochId) -> Option<Sourced> {
        let sourced: Sourced = self.state.read(&format!("assignments/{epoch}.json"), "assignment")?;
        if sourced.assignment.epoch_id != epoch.to_string() {
            self.state.set_aside(&format!("assignments/{epoch}.json"), "holds another epoch");
            return None;
        }
        Some(sourced)
    }

    /// Kept inputs of `epoch` as published: canonical, of that epoch; anything else is set aside.
    fn known_inputs_file(&self, epoch: EpochId) -> Option<KnownInputs> {
        let name = format!("inputs/{epoch}.json");
        let bytes = self.state.read_bytes(&name)?;
        match EpochInputs::from_canonical_json(&bytes) {
            Ok(inputs) if inputs.epoch == epoch => Some(KnownInputs { bytes, inputs, rolled_forward: false }),
            Ok(_) => {
                self.state.set_aside(&name, "holds another epoch's inputs");
                None
            }
            Err(error) => {
                self.state.set_aside(&name, &format!("is not a published inputs document ({error})"));
                None
            }
        }
    }

    /// The inputs of `epoch`: kept, or rolled forward from the newest kept ones at most
    /// [`MAX_ROLL_FORWARD_EPOCHS`] back, through each epoch in between (whose selection is kept, computed or
    /// relayed).
    async fn inputs_of(&self, clock: EpochClock, epoch: EpochId) -> Result<KnownInputs, Unobtainable> {
        if let Some(known) = self.known_inputs_file(epoch) {
            return Ok(known);
        }
        let mut chain = vec![epoch];
        let mut base = None;
        for _ in 0..MAX_ROLL_FORWARD_EPOCHS {
            let previous = clock.previous(*chain.last().expect("the chain starts with the epoch"));
            if let Some(known) = self.known_inputs_file(previous) {
                base = Some(known);
                break;
            }
            chain.push(previous);
        }
        let Some(mut known) = base else { return Err(Unobtainable::NoInputs(epoch)) };
        for &next in chain.iter().rev() {
            let epoch_before = known.inputs.epoch;
            let picked = self
                .picks_of(clock, &known)
                .await
                .map_err(|why| Unobtainable::Through { epoch: epoch_before, why: Box::new(why) })?;
            let inputs = known.inputs.roll_forward(&picked, next).ok_or(Unobtainable::UnknownChain)?;
            known = KnownInputs { bytes: inputs.canonical_json(), inputs, rolled_forward: true };
        }
        Ok(known)
    }

    /// The zipcodes `known`'s epoch selected: kept, else computed, else relayed. A miner's kept answer of a
    /// `groups` epoch holds its own batch only, so the whole epoch is computed then (and not kept: the miner's
    /// answer stays the one kept).
    async fn picks_of(&self, clock: EpochClock, known: &KnownInputs) -> Result<Vec<Zipcode>, Unobtainable> {
        let kept = self.kept(known.inputs.epoch).filter(|kept| kept.assignment.miner_groups.is_none());
        let sourced = match kept {
            Some(kept) => kept,
            None => {
                let keep = known.inputs.groups.is_none();
                self.assignment_from_inputs(clock, known, AssignmentView::Whole, keep).await?
            }
        };
        Ok(sourced.assignment.zipcodes.iter().map(|z| z.zipcode.parse::<Zipcode>()).collect::<Result<_, _>>()?)
    }

    /// `epoch` without the API: kept, computed, or from a relay.
    async fn without_api(
        &self,
        epoch: EpochId,
        api_failure: ClientError,
        view: AssignmentView<'_>,
    ) -> Result<Sourced, EpochsError> {
        if let Some(kept) = self.kept(epoch) {
            return Ok(kept);
        }
        let mut reasons = vec![format!("API: {api_failure}")];
        let Some(clock) = self.clock() else {
            reasons.push("never reached the API, so the epoch length and inputs are unknown here".to_string());
            return Err(EpochsError::Unavailable { epoch, reasons });
        };
        match self.inputs_of(clock, epoch).await {
            Ok(known) => match self.assignment_from_inputs(clock, &known, view, true).await {
                Ok(sourced) => return Ok(sourced),
                Err(why) => reasons.push(why.to_string()),
            },
            Err(why) => reasons.push(format!("cannot compute: {why}")),
        }
        Err(EpochsError::Unavailable { epoch, reasons })
    }

    /// The assignment of `known`'s epoch as `view` sees it: computed with the beacon's pulse, else with a relay's
    /// (refusing a relay whose answer differs). Kept once had, if `keep`.
    async fn assignment_from_inputs(
        &self,
        clock: EpochClock,
        known: &KnownInputs,
        view: AssignmentView<'_>,
        keep: bool,
    ) -> Result<Sourced, Unobtainable> {
        let epoch = known.inputs.epoch;
        let round = known.inputs.beacon_round;
        let chain = self.beacon.chain();
        let mut reasons = Vec::new();
        if chain.hash != known.inputs.beacon_chain_hash {
            reasons.push(format!(
                "the inputs name beacon chain {}, this client's beacon is {}",
                hex::encode(known.inputs.beacon_chain_hash),
                chain.name
            ));
        } else {
            match self.beacon.verified_pulse(round).await {
                Ok((pulse, randomness)) => {
                    let assignment = self.compute(clock, known, pulse, randomness, view)?;
                    let sourced = Sourced {
                        assignment,
                        source: Source::Computed { round, rolled_forward: known.rolled_forward },
                    };
                    if keep {
                        self.keep(epoch, &sourced);
                    }
                    return Ok(sourced);
                }
                Err(error) => reasons.push(format!("beacon ({}): {error}", self.beacon.describe())),
            }
        }
        for relay in &self.relays {
            match self.assignment_from_relay(clock, known, relay, view).await {
                Ok(sourced) => {
                    if keep {
                        self.keep(epoch, &sourced);
                    }
                    return Ok(sourced);
                }
                Err(why) => reasons.push(format!("relay {}: {why}", relay.base_url())),
            }
        }
        if self.relays.is_empty() {
            reasons.push("no relays configured (--relay)".to_string());
        }
        Err(Unobtainable::EverySource(reasons))
    }

    /// `known`'s epoch as a relay serves it (whole), taken only if it recomputes from `known`'s inputs and the
    /// pulse its proof carries ([`recompute`]: the same zipcodes, groups and nonce); answered as `view` sees it,
    /// from this client's own computation.
    async fn assignment_from_relay(
        &self,
        clock: EpochClock,
        known: &KnownInputs,
        relay: &ZipcoordClient,
        view: AssignmentView<'_>,
    ) -> Result<Sourced, Unobtainable> {
        let epoch = known.inputs.epoch;
        let served = relay.public_epoch(epoch).await?;
        let claim = claim_of_served(&served)?;
        if claim.epoch != epoch {
            return Err(Unobtainable::RelayOtherEpoch { asked: epoch, answered: claim.epoch });
        }
        let verified = recompute(&claim, &known.bytes).map_err(|discrepancy| {
            tracing::warn!(relay = relay.base_url(), %epoch, %discrepancy, "a relay served an assignment that does not recompute; refused");
            Unobtainable::Forged(discrepancy)
        })?;
        let computed = self.compute(clock, known, verified.pulse, verified.randomness, view)?;
        Ok(Sourced { assignment: computed, source: Source::Relay { url: relay.base_url().to_string() } })
    }
}

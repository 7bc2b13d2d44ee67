//! Domain values in their wire form: assignments and their proofs as the server serves them, and as the clients
//! render the assignments they compute themselves while the server is unreachable; and the epoch clock as the
//! clients read it back from the server's answers.

use super::{
    iso8601_millis, parse_iso8601, AssignedZipcode, AssignmentMetadata, AssignmentResponse, EpochProofBody,
    StatsResponse,
};
use super::{EpochGroupsBody, MinerGroupsBody};
use crate::domain::epoch::assignment::EpochAssignment;
use crate::domain::epoch::proof::{EpochProof, SeedSource};
use crate::domain::epoch::{EpochClock, EpochId};
use crate::domain::hotkey::Hotkey;

/// Where the inputs of `epoch` are served.
pub fn inputs_path(epoch: EpochId) -> String {
    format!("/api/v1/zipcode-assignments/epoch/{epoch}/inputs")
}

/// Whose answer an assignment is rendered as.
#[derive(Debug, Clone, Copy)]
pub enum AssignmentView<'a> {
    /// The whole epoch (`/epoch/{epochId}`): in `groups` mode the batches' union and the groups.
    Whole,
    /// One miner's (`/current`): in `groups` mode its groups' batches and which groups they are.
    Miner(&'a Hotkey),
}

impl AssignmentResponse {
    /// The wire form of a stored (or locally computed) assignment, as `view` sees it. A `shared` epoch reads
    /// the same in every view.
    pub fn of(a: &EpochAssignment, status: Option<String>, view: AssignmentView<'_>) -> AssignmentResponse {
        let end = iso8601_millis(a.end_unix * 1000);
        let (zipcodes, groups, miner_groups) = match (&a.groups, view) {
            (None, _) => (a.zipcodes.iter().collect::<Vec<_>>(), None, None),
            (Some(groups), AssignmentView::Whole) => {
                (a.distinct_zipcodes(), Some(EpochGroupsBody::of(a, groups)), None)
            }
            (Some(groups), AssignmentView::Miner(hotkey)) => {
                let (zipcodes, work) = a.work_of(hotkey);
                let body = work.map(|work| MinerGroupsBody::of(&work, groups.groups.len()));
                (zipcodes, None, body)
            }
        };
        AssignmentResponse {
            success: true,
            epoch_id: a.epoch.to_string(),
            nonce: a.nonce.to_string(),
            submission_deadline: end.clone(),
            epoch_start: iso8601_millis(a.epoch.start_unix() * 1000),
            epoch_end: end,
            target_listings: a.target_listings,
            tolerance_percent: a.tolerance_percent,
            zipcodes: zipcodes
                .iter()
                .map(|z| AssignedZipcode {
                    zipcode: z.zipcode.to_string(),
                    expected_listings: z.expected_listings,
                    state: z.state.clone(),
                    city: z.city.clone(),
                    county: z.county.clone(),
                    market_tier: z.tier.to_string(),
                    geographic_region: z.geographic_region().to_string(),
                })
                .collect(),
            metadata: AssignmentMetadata {
                total_expected_listings: zipcodes.iter().map(|z| u64::from(z.expected_listings)).sum(),
                zipcode_count: zipcodes.len(),
                algorithm_version: a.algorithm_version.clone(),
                selection_seed: a.selection_seed.to_string(),
            },
            assignments: Vec::new(),
            status,
            proof: a.proof.as_ref().map(|proof| EpochProofBody::of(a.epoch, proof)),
            groups,
            miner_groups,
        }
    }
}

impl EpochProofBody {
    pub fn of(epoch: EpochId, proof: &EpochProof) -> EpochProofBody {
        let (signature, randomness, reason) = match &proof.source {
            SeedSource::Beacon { pulse, randomness } => (Some(pulse.signature_hex()), Some(randomness.to_hex()), None),
            SeedSource::Fallback { reason } => (None, None, Some(reason.clone())),
        };
        EpochProofBody {
            kind: proof.kind().to_string(),
            beacon: proof.chain_name.clone(),
            chain_hash: hex::encode(proof.chain_hash),
            round: proof.round,
            signature,
            randomness,
            reason,
            inputs_hash: proof.inputs_hash.clone(),
            inputs_published_at: iso8601_millis(proof.inputs_published_at_ms),
            inputs_url: inputs_path(epoch),
            algorithm_version: proof.algorithm_version.clone(),
        }
    }
}

impl StatsResponse {
    /// The service's epoch clock, from `epochDurationHours`; `None` for a length no clock has.
    pub fn epoch_clock(&self) -> Option<EpochClock> {
        let seconds = (self.epoch_status.timing.epoch_duration_hours * 3600.0).round();
        if !(1.0..=f64::from(u32::MAX)).contains(&seconds) {
            return None;
        }
        EpochClock::from_seconds(seconds as u32).ok()
    }
}

impl AssignmentResponse {
    /// The service's epoch clock, from the epoch's start and end; `None` when they do not make one.
    pub fn epoch_clock(&self) -> Option<EpochClock> {
        let (start, end) = (parse_iso8601(&self.epoch_start)?, parse_iso8601(&self.epoch_end)?);
        EpochClock::from_seconds(u32::try_from((end - start) / 1000).ok()?).ok()
    }
}

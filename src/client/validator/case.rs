//! One miner's case in an epoch's judgement: who it is, what it was asked, what it uploaded, and everything the
//! stages of [`crate::client::validator::judging`] conclude about it. One value per miner, so no stage can
//! move a finding onto the wrong miner.

use std::collections::BTreeSet;

use crate::domain::judging::group_consensus::MinerConsensus;
use crate::domain::judging::validation::{EpochTerms, Inspection, SpotCheck};

/// A registered miner as judging sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miner {
    pub uid: u16,
    pub hotkey: String,
    /// Its coldkey as the metagraph names it (its hotkey when the metagraph does not know it: one voice).
    pub coldkey: String,
}

/// Everything judging knows and concludes about one miner in one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct MinerCase {
    pub miner: Miner,
    /// What the epoch asked of this miner (in a `groups` epoch: its groups' zipcodes only).
    pub terms: EpochTerms,
    /// The groups it worked for (none in a `shared` epoch).
    pub groups: Vec<usize>,
    /// Objects found in its folder for the epoch.
    pub files: usize,
    pub inspection: Inspection,
    /// Behavioural evidence of copying in this epoch (see [`crate::domain::judging::following`]).
    pub flags: Vec<String>,
    /// What comparing its groups said about it (`groups` epochs compared only).
    pub finding: Option<MinerConsensus>,
    /// Its listings checked at the source, with each outcome.
    pub checks: Vec<(String, SpotCheck)>,
}

impl MinerCase {
    /// Already caught lying.
    pub fn caught(&self) -> bool {
        !self.inspection.lies.is_empty()
    }

    /// Whether the source confirmed what was checked of its listings and refuted none.
    pub fn cleared_by_source(&self) -> bool {
        self.checks.iter().any(|(_, o)| *o == SpotCheck::Confirmed)
            && !self.checks.iter().any(|(_, o)| matches!(o, SpotCheck::Refuted { .. }))
    }

    pub fn checked(&self) -> BTreeSet<&str> {
        self.checks.iter().map(|(id, _)| id.as_str()).collect()
    }
}

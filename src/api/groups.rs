//! The `groups` assignment mode on the wire: the groups `/epoch/{epochId}` lists for validators, and the groups
//! `/current` names to a miner beside its batch. Both are additions to the contract's shapes; `shared` epochs
//! carry neither.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::epoch::assignment::EpochAssignment;
use crate::domain::epoch::batches::{EpochGroups, Membership, MinerWork};

/// How a miner outside an epoch's roster is placed, as `/current` and `/epoch/{epochId}` state it.
pub const LATE_JOINER_RULE: &str = "a miner registered after the epoch's roster was published (with its inputs, \
     at the previous epoch's start) joins `overlap` consecutive groups, wrapping, from u64(first 8 bytes of \
     sha256(\"zipcoord-late-joiner-v1\" || selectionSeed bytes || hotkey SS58)) mod groupCount";

/// `/epoch/{epochId}` in `groups` mode: every group with its batch and members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpochGroupsBody {
    /// The largest a group may be.
    pub group_size: usize,
    /// How many groups each miner is in.
    pub overlap: usize,
    pub groups: Vec<GroupBody>,
    /// Coldkeys with more miners (times the overlap) than there are groups: their miners share groups, and
    /// validators count them as one voice there.
    pub shared_coldkeys: Vec<SharedColdkeyBody>,
    /// Batches whose zipcodes also stand in earlier batches because the universe could not fill them apart.
    pub refilled_batches: usize,
    /// How miners outside the roster are placed.
    pub late_joiners: String,
}

/// One group: its batch (each group's zipcodes lie within the target's window) and its members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupBody {
    pub id: usize,
    /// 5-digit zipcodes, in the order picked.
    pub zipcodes: Vec<String>,
    pub expected_listings: u64,
    /// Member hotkeys (SS58), in the order dealt.
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SharedColdkeyBody {
    pub coldkey: String,
    pub miners: usize,
}

/// `/current` in `groups` mode: which groups the caller's zipcodes are the batches of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MinerGroupsBody {
    pub group_ids: Vec<usize>,
    pub group_count: usize,
    /// `roster` (named in the epoch's published roster) or `lateJoiner` (registered after it).
    #[schema(example = "roster")]
    pub membership: String,
    /// For a late joiner: how it was placed, and when it joins a roster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl EpochGroupsBody {
    pub fn of(a: &EpochAssignment, groups: &EpochGroups) -> EpochGroupsBody {
        EpochGroupsBody {
            group_size: groups.plan.size,
            overlap: groups.overlap,
            groups: groups
                .groups
                .iter()
                .map(|g| {
                    let batch = groups.batch(g.index, &a.zipcodes);
                    GroupBody {
                        id: g.index,
                        zipcodes: batch.iter().map(|z| z.zipcode.to_string()).collect(),
                        expected_listings: batch.iter().map(|z| u64::from(z.expected_listings)).sum(),
                        members: g.members.iter().map(|m| m.to_string()).collect(),
                    }
                })
                .collect(),
            shared_coldkeys: groups
                .shared_coldkeys
                .iter()
                .map(|s| SharedColdkeyBody { coldkey: s.coldkey.clone(), miners: s.miners })
                .collect(),
            refilled_batches: groups.refilled_batches,
            late_joiners: LATE_JOINER_RULE.to_string(),
        }
    }
}

impl MinerGroupsBody {
    pub fn of(work: &MinerWork<'_>, group_count: usize) -> MinerGroupsBody {
        let (membership, note) = match work.membership {
            Membership::Roster => ("roster", None),
            Membership::LateJoiner => (
                "lateJoiner",
                Some(format!(
                    "registered after this epoch's roster was published: {LATE_JOINER_RULE}. You are in the \
                     roster of every epoch whose inputs are published after your registration."
                )),
            ),
        };
        MinerGroupsBody { group_ids: work.groups.clone(), group_count, membership: membership.to_string(), note }
    }
}

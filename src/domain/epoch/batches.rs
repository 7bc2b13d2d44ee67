//! Grouped epochs (the `groups` assignment mode, issue #16): the roster and group plan an epoch's published
//! inputs carry, the batches of zipcodes selected for its groups, and which batch a miner is given. All of it is
//! a function of the inputs and the epoch's seed, so validators and anyone recomputing the epoch get the same
//! groups and batches.
//!
//! With `g` groups (see [`crate::domain::epoch::groups`]) and the roster's overlap `o`, batch `b` (from 0) is selected by
//! [`select_v2`] with the per-miner target divided by `o` (a miner works `o` batches) from the candidates no
//! earlier batch picked, seeded by [`batch_seed`]; batch 0 uses the epoch's seed itself, so one group gets
//! exactly what `shared` mode would pick. Only when the remaining candidates cannot fill a batch is it selected
//! from all of them (its zipcodes then also stand in earlier batches). Group `b` works batch `b`. A miner
//! registered after the roster was published joins `o` consecutive groups from [`late_joiner_groups`].

use std::collections::HashSet;

use crate::domain::epoch::groups::{labelled, GroupPlan, GroupedInputs, Grouping, SharedColdkey};
use crate::domain::epoch::inputs::EpochInputs;
use crate::domain::epoch::proof::Seed;
use crate::domain::epoch::selection::{CooldownRelaxation, SelectionError, SelectionPolicy};
use crate::domain::epoch::selection_v2::{select_v2, InputCandidate};
use crate::domain::epoch::zipcode::ZipcodeRecord;
use crate::domain::hotkey::Hotkey;

const BATCH_LABEL: &[u8] = b"zipcoord-batch-v1";
const LATE_JOINER_LABEL: &[u8] = b"zipcoord-late-joiner-v1";

/// How an epoch's work is handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentMode {
    /// Every miner gets the same zipcodes (what the subnet's existing validators expect).
    Shared,
    /// Each group of miners gets a batch of its own.
    Groups(GroupPlan),
}

impl AssignmentMode {
    pub fn name(self) -> &'static str {
        match self {
            AssignmentMode::Shared => "shared",
            AssignmentMode::Groups(_) => "groups",
        }
    }
}

/// The seed batch `batch` is selected with: the epoch's seed for batch 0, else
/// `sha256("zipcoord-batch-v1" || seed || batch as u32 big-endian)`.
pub fn batch_seed(seed: [u8; 32], batch: u32) -> [u8; 32] {
    if batch == 0 {
        seed
    } else {
        labelled(BATCH_LABEL, &seed, &batch.to_be_bytes())
    }
}

/// The groups a miner outside the roster joins: `overlap` consecutive groups (wrapping) from
/// `u64(first 8 bytes of sha256("zipcoord-late-joiner-v1" || seed || hotkey SS58)) mod g`.
pub fn late_joiner_groups(seed: [u8; 32], hotkey: &Hotkey, groups: usize, overlap: usize) -> Vec<usize> {
    if groups == 0 {
        return Vec::new();
    }
    let hash = labelled(LATE_JOINER_LABEL, &seed, hotkey.as_str().as_bytes());
    let first = (u64::from_be_bytes(hash[..8].try_into().expect("8 bytes")) % groups as u64) as usize;
    (0..overlap.clamp(1, groups)).map(|k| (first + k) % groups).collect()
}

/// The groups `hotkey` works for among `group_count`: `named` (the groups whose members name it), else the late
/// joiners' rule. One rule for the server placing a miner and a validator holding it to its work.
pub fn placement(
    named: Vec<usize>,
    seed: [u8; 32],
    hotkey: &Hotkey,
    group_count: usize,
    overlap: usize,
) -> (Vec<usize>, Membership) {
    if named.is_empty() {
        (late_joiner_groups(seed, hotkey, group_count, overlap), Membership::LateJoiner)
    } else {
        (named, Membership::Roster)
    }
}

/// A grouped epoch's selection: the batches' picks one after the other, with where each batch ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchPlan {
    /// Indices into the candidates, batch 0's first.
    pub picks: Vec<usize>,
    /// How many picks each batch holds, in batch order (one batch per group).
    pub batch_lengths: Vec<usize>,
    pub grouping: Grouping,
    /// The most any batch relaxed the cooldown.
    pub relaxation: CooldownRelaxation,
    /// How many batches were selected from all candidates because the remaining ones could not fill them.
    pub refilled_batches: usize,
}

/// The policy of one batch: the per-miner target divided by the overlap (a miner works that many batches).
pub fn batch_policy(policy: &SelectionPolicy, overlap: usize) -> SelectionPolicy {
    let overlap = u32::try_from(overlap.max(1)).unwrap_or(u32::MAX);
    SelectionPolicy { target_listings: (policy.target_listings / overlap).max(1), ..*policy }
}

/// Selects a grouped epoch's batches (see the module documentation). With an empty roster there is one batch
/// (for miners who join later) and no group.
pub fn plan_batches(
    candidates: &[InputCandidate],
    policy: &SelectionPolicy,
    grouped: &GroupedInputs,
    epoch_start_unix: i64,
    seed: [u8; 32],
) -> Result<BatchPlan, SelectionError> {
    let grouping = grouped.grouping(seed);
    let batches = grouping.groups.len().max(1);
    let policy = batch_policy(policy, grouping.overlap);
    let mut taken: HashSet<usize> = HashSet::new();
    let mut plan = BatchPlan {
        picks: Vec::new(),
        batch_lengths: Vec::with_capacity(batches),
        grouping,
        relaxation: CooldownRelaxation::None,
        refilled_batches: 0,
    };
    let mut remaining: Vec<usize> = (0..candidates.len()).collect();
    for batch in 0..batches {
        let seed = batch_seed(seed, batch as u32);
        remaining.retain(|i| !taken.contains(i));
        let pool: Vec<InputCandidate> = remaining.iter().map(|&i| candidates[i].clone()).collect();
        let picks = match select_v2(&pool, &policy, epoch_start_unix, seed) {
            Ok(selected) => {
                plan.relaxation = plan.relaxation.max(selected.relaxation);
                selected.picks.into_iter().map(|p| remaining[p]).collect::<Vec<usize>>()
            }
            Err(error) if batch == 0 => return Err(error),
            Err(_) => {
                let selected = select_v2(candidates, &policy, epoch_start_unix, seed)?;
                plan.relaxation = plan.relaxation.max(selected.relaxation);
                plan.refilled_batches += 1;
                selected.picks
            }
        };
        taken.extend(picks.iter().copied());
        plan.batch_lengths.push(picks.len());
        plan.picks.extend(picks);
    }
    Ok(plan)
}

/// An epoch's selection from its inputs: what `shared` or `groups` mode picks.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochSelection {
    /// Indices into the inputs' candidates, in the order picked (batch after batch in `groups` mode).
    pub picks: Vec<usize>,
    pub relaxation: CooldownRelaxation,
    pub groups: Option<EpochGroups>,
}

/// Selects the epoch `inputs` are for with `seed`, in the mode the inputs say.
pub fn select_epoch(inputs: &EpochInputs, seed: Seed) -> Result<EpochSelection, SelectionError> {
    let seed = seed.bytes();
    let start = inputs.epoch.start_unix();
    match &inputs.groups {
        None => {
            let plan = select_v2(&inputs.candidates, &inputs.policy, start, seed)?;
            Ok(EpochSelection { picks: plan.picks, relaxation: plan.relaxation, groups: None })
        }
        Some(grouped) => {
            let plan = plan_batches(&inputs.candidates, &inputs.policy, grouped, start, seed)?;
            let groups = EpochGroups::from_plan(&plan, grouped.plan);
            Ok(EpochSelection { picks: plan.picks, relaxation: plan.relaxation, groups: Some(groups) })
        }
    }
}

/// One group of a stored epoch: its batch is `count` zipcodes of the assignment from position `first`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignedGroup {
    pub index: usize,
    pub first: usize,
    pub count: usize,
    pub members: Vec<Hotkey>,
}

/// A grouped epoch's groups as stored with its assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochGroups {
    pub plan: GroupPlan,
    /// The overlap used (the plan's, or the number of groups when that is smaller).
    pub overlap: usize,
    /// One per batch; with an empty roster one group without members.
    pub groups: Vec<AssignedGroup>,
    pub shared_coldkeys: Vec<SharedColdkey>,
    /// How many batches had to reuse zipcodes of earlier ones.
    pub refilled_batches: usize,
}

/// How a miner came by its groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// Named in the roster the epoch's inputs published.
    Roster,
    /// Registered after the roster was published: placed by [`late_joiner_groups`].
    LateJoiner,
}

/// What one miner is given in a grouped epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct MinerWork<'a> {
    pub groups: Vec<usize>,
    pub membership: Membership,
    /// Its groups' batches, in group order, each zipcode once.
    pub zipcodes: Vec<&'a ZipcodeRecord>,
}

impl EpochGroups {
    /// The stored form of a batch plan.
    pub fn from_plan(plan: &BatchPlan, group_plan: GroupPlan) -> EpochGroups {
        let mut first = 0;
        let groups = plan
            .batch_lengths
            .iter()
            .enumerate()
            .map(|(index, &count)| {
                let members = plan.grouping.groups.get(index).map(|g| g.members.clone()).unwrap_or_default();
                let group = AssignedGroup { index, first, count, members };
                first += count;
                group
            })
            .collect();
        EpochGroups {
            plan: group_plan,
            overlap: plan.grouping.overlap,
            groups,
            shared_coldkeys: plan.grouping.shared_coldkeys.clone(),
            refilled_batches: plan.refilled_batches,
        }
    }

    /// The zipcodes of group `index`'s batch within the assignment's `zipcodes`.
    pub fn batch<'a>(&self, index: usize, zipcodes: &'a [ZipcodeRecord]) -> &'a [ZipcodeRecord] {
        self.groups.get(index).and_then(|g| zipcodes.get(g.first..g.first + g.count)).unwrap_or_default()
    }

    /// The groups `hotkey` works for, and how it came by them, from the epoch's seed.
    pub fn groups_of(&self, seed: Seed, hotkey: &Hotkey) -> (Vec<usize>, Membership) {
        let seed = seed.bytes();
        let named = self.groups.iter().filter(|g| g.members.contains(hotkey)).map(|g| g.index).collect();
        placement(named, seed, hotkey, self.groups.len(), self.overlap)
    }

    /// What `hotkey` is given, from the epoch's seed and its stored zipcodes.
    pub fn work_of<'a>(&self, seed: Seed, hotkey: &Hotkey, zipcodes: &'a [ZipcodeRecord]) -> MinerWork<'a> {
        let (groups, membership) = self.groups_of(seed, hotkey);
        let mut seen = HashSet::new();
        let zipcodes =
            groups.iter().flat_map(|&g| self.batch(g, zipcodes)).filter(|z| seen.insert(z.zipcode)).collect();
        MinerWork { groups, membership, zipcodes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::epoch::groups::tests::roster;
    use crate::domain::epoch::zipcode::MarketTier;
    use proptest::prelude::*;

    fn candidates(count: u32) -> Vec<InputCandidate> {
        (0..count)
            .map(|n| InputCandidate {
                zipcode: format!("{:05}", 10_000 + n).parse().unwrap(),
                expected_listings: 40 + (n * 37 % 160),
                tier: MarketTier::Standard,
                weight_millis: 1_000,
                last_assigned_unix: None,
            })
            .collect()
    }

    const POLICY: SelectionPolicy = SelectionPolicy {
        target_listings: 1_000,
        tolerance_percent: 10,
        min_listings: 10,
        max_listings: 3_000,
        cooldown_seconds: 86_400,
        max_count: None,
    };
    const START: i64 = 1_764_000_000;

    #[test]
    fn batch_zero_is_what_shared_mode_picks_and_every_batch_is_in_the_window_and_disjoint() {
        let candidates = candidates(400);
        let grouped =
            GroupedInputs::new(GroupPlan { size: 5, overlap: 1 }, &roster(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
        let plan = plan_batches(&candidates, &POLICY, &grouped, START, [9; 32]).unwrap();
        assert_eq!(plan.batch_lengths.len(), 3);
        assert_eq!(plan.refilled_batches, 0);
        let shared = select_v2(&candidates, &POLICY, START, [9; 32]).unwrap();
        assert_eq!(plan.picks[..plan.batch_lengths[0]], shared.picks[..]);
        let mut first = 0;
        for &len in &plan.batch_lengths {
            let sum: u64 =
                plan.picks[first..first + len].iter().map(|&i| u64::from(candidates[i].expected_listings)).sum();
            assert!((900..=1_100).contains(&sum), "{sum}");
            first += len;
        }
        assert_eq!(plan.picks.iter().collect::<HashSet<_>>().len(), plan.picks.len());
    }

    #[test]
    fn overlap_halves_the_batch_target_and_a_miner_gets_its_groups_batches() {
        let candidates = candidates(400);
        let miners = roster(&[0, 1, 2, 3, 4, 5, 6, 7]);
        let grouped = GroupedInputs::new(GroupPlan { size: 4, overlap: 2 }, &miners);
        let plan = plan_batches(&candidates, &POLICY, &grouped, START, [4; 32]).unwrap();
        assert_eq!(plan.batch_lengths.len(), 4);
        let records: Vec<ZipcodeRecord> = plan
            .picks
            .iter()
            .map(|&i| ZipcodeRecord {
                zipcode: candidates[i].zipcode,
                state: String::new(),
                city: String::new(),
                county: None,
                expected_listings: candidates[i].expected_listings,
                tier: MarketTier::Standard,
                weight: 1.0,
                active: true,
            })
            .collect();
        let groups = EpochGroups::from_plan(&plan, grouped.plan);
        for miner in &miners {
            let work = groups.work_of(Seed::from_bytes([4; 32]), &miner.hotkey, &records);
            assert_eq!((work.groups.len(), work.membership), (2, Membership::Roster));
            let sum: u64 = work.zipcodes.iter().map(|z| u64::from(z.expected_listings)).sum();
            assert!((900..=1_100).contains(&sum), "{sum}");
        }
        let late = Hotkey::from_public([200; 32]);
        let work = groups.work_of(Seed::from_bytes([4; 32]), &late, &records);
        assert_eq!((work.groups.len(), work.membership), (2, Membership::LateJoiner));
        assert_eq!(work.groups, late_joiner_groups([4; 32], &late, 4, 2));
        assert_ne!(work.groups[0], work.groups[1]);
    }

    #[test]
    fn a_small_universe_refills_later_batches_from_all_candidates_and_an_empty_roster_has_one_batch() {
        let candidates = candidates(30);
        let grouped = GroupedInputs::new(GroupPlan { size: 2, overlap: 1 }, &roster(&[0, 1, 2, 3, 4, 5, 6, 7]));
        let policy = SelectionPolicy { target_listings: 1_000, ..POLICY };
        let plan = plan_batches(&candidates, &policy, &grouped, START, [2; 32]).unwrap();
        assert_eq!(plan.batch_lengths.len(), 4);
        assert!(plan.refilled_batches >= 1, "{plan:?}");
        let empty = GroupedInputs::new(GroupPlan { size: 5, overlap: 1 }, &[]);
        let plan = plan_batches(&candidates, &policy, &empty, START, [2; 32]).unwrap();
        assert_eq!(plan.batch_lengths.len(), 1);
        assert!(plan.grouping.groups.is_empty());
    }

    #[test]
    fn the_roster_fragment_reads_back_and_odd_coldkeys_stand_for_the_hotkey() {
        let mut miners = roster(&[3, 1, 2]);
        miners[1].coldkey = "bad \"coldkey\"".into();
        let grouped = GroupedInputs::new(GroupPlan { size: 5, overlap: 2 }, &miners);
        assert_eq!(grouped.roster.iter().filter(|m| m.coldkey == m.hotkey.as_str()).count(), 1);
        let mut text = String::new();
        grouped.write_json(&mut text);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(GroupedInputs::from_value(&value).unwrap(), grouped);
        let wrong: serde_json::Value = serde_json::from_str(r#"{"overlap":0,"roster":[],"size":5}"#).unwrap();
        assert!(GroupedInputs::from_value(&wrong).is_err());
    }

    proptest! {
        #[test]
        fn batches_and_groups_are_a_function_of_seed_and_roster_only(
            coldkeys in prop::collection::vec(0u8..6, 0..24), seed in any::<[u8; 32]>(), rotation in 0usize..24
        ) {
            let candidates = candidates(300);
            let miners = roster(&coldkeys);
            let mut reordered = miners.clone();
            if !reordered.is_empty() {
                let by = rotation % reordered.len();
                reordered.rotate_left(by);
            }
            let plan = GroupPlan { size: 5, overlap: 1 };
            let one = plan_batches(&candidates, &POLICY, &GroupedInputs::new(plan, &miners), START, seed).unwrap();
            let two = plan_batches(&candidates, &POLICY, &GroupedInputs::new(plan, &reordered), START, seed).unwrap();
            prop_assert_eq!(&one, &two);
            prop_assert_eq!(one.batch_lengths.len(), miners.len().div_ceil(5).max(1));
        }
    }
}

//! Miners placed into groups for an epoch, for the `groups` assignment mode (issue #16): each group gets its own
//! batch of zipcodes, and validators compare what the members of one group report. The grouping is a function
//! of a seed and the roster only, in integers and SHA-256 (the [`crate::domain::epoch::draw`] stream), so validators and
//! anyone recomputing an epoch get the same groups.
//!
//! The procedure, for a roster of `n` distinct hotkeys each with its coldkey, a group size `s` and an overlap `o`:
//!
//! 1. Sort the roster by hotkey (SS58 text, byte order) and drop repeated hotkeys.
//! 2. There are `g = ceil(n·o / s)` groups; `o` is lowered to `g` when it is larger (a miner is in a group once).
//! 3. Shuffle the roster (Fisher–Yates from the last place down: place `i` swaps with place `below(i + 1)`).
//! 4. Order it by coldkey, stably: the coldkeys with the most miners first, equal counts in the order their
//!    first miner has in the shuffled roster; so a coldkey's miners stand together.
//! 5. Write each miner `o` times in a row, and deal that sequence round the groups: place `p` goes to group
//!    `p mod g`.
//!
//! Every miner is then in exactly `o` distinct groups, groups differ in size by one at most and none exceeds
//! `s`, and a coldkey with `k` miners is spread over `k·o` distinct groups whenever `k·o <= g`. When `k·o > g`
//! no grouping of that size can keep the coldkey's miners apart; its miners then share groups, and the grouping
//! names the coldkey so validators count such members as one voice. (Making groups smaller to spread it instead
//! would let one operator with many hotkeys shrink every group and weaken every comparison.)

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use crate::domain::epoch::draw::DrawStream;
use crate::domain::hotkey::Hotkey;

/// A registered miner as grouping sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterMiner {
    pub hotkey: Hotkey,
    pub coldkey: String,
}

/// How groups are formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupPlan {
    /// The largest a group may be (at least 1).
    pub size: usize,
    /// How many groups each miner is in (at least 1).
    pub overlap: usize,
}

/// One group: its members in the order they were dealt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub index: usize,
    pub members: Vec<Hotkey>,
}

/// A coldkey whose miners could not all be kept apart: more miners (times the overlap) than groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedColdkey {
    pub coldkey: String,
    pub miners: usize,
}

/// The epoch's groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    pub groups: Vec<Group>,
    /// The overlap used: the plan's, or the number of groups when that is smaller.
    pub overlap: usize,
    /// Coldkeys whose miners share groups because the roster leaves no other way, by coldkey.
    pub shared_coldkeys: Vec<SharedColdkey>,
}

impl Grouping {
    /// The indexes of the groups `hotkey` is in (empty for a hotkey outside the roster).
    pub fn groups_of(&self, hotkey: &Hotkey) -> Vec<usize> {
        self.groups.iter().filter(|g| g.members.contains(hotkey)).map(|g| g.index).collect()
    }
}

/// Places `roster` into groups per `plan`, from `seed` (a seed for grouping alone: callers derive it).
pub fn form_groups(seed: [u8; 32], roster: &[RosterMiner], plan: GroupPlan) -> Grouping {
    let mut miners: Vec<&RosterMiner> = roster.iter().collect();
    miners.sort_by(|a, b| a.hotkey.as_str().cmp(b.hotkey.as_str()));
    miners.dedup_by(|a, b| a.hotkey == b.hotkey);
    let (size, overlap) = (plan.size.max(1), plan.overlap.max(1));
    let count = (miners.len() * overlap).div_ceil(size);
    let overlap = overlap.min(count.max(1));
    if miners.is_empty() {
        return Grouping { groups: Vec::new(), overlap, shared_coldkeys: Vec::new() };
    }

    let mut stream = DrawStream::new(seed);
    for place in (1..miners.len()).rev() {
        let other = stream.below(place as u64 + 1) as usize;
        miners.swap(place, other);
    }
    let mut per_coldkey: HashMap<&str, (usize, usize)> = HashMap::new();
    for (position, miner) in miners.iter().enumerate() {
        per_coldkey.entry(miner.coldkey.as_str()).or_insert((0, position)).0 += 1;
    }
    // Most miners first; equal counts by where the coldkey first appears in the shuffled roster.
    miners.sort_by_key(|miner| {
        let (miners_of_coldkey, first) = per_coldkey[miner.coldkey.as_str()];
        (std::cmp::Reverse(miners_of_coldkey), first)
    });

    let mut groups: Vec<Group> = (0..count).map(|index| Group { index, members: Vec::new() }).collect();
    let dealt = miners.iter().flat_map(|miner| std::iter::repeat_n(*miner, overlap));
    for (place, miner) in dealt.enumerate() {
        groups[place % count].members.push(miner.hotkey.clone());
    }
    let shared: BTreeMap<&str, usize> = per_coldkey
        .iter()
        .filter(|(_, (miners_of_coldkey, _))| miners_of_coldkey * overlap > count)
        .map(|(coldkey, (miners_of_coldkey, _))| (*coldkey, *miners_of_coldkey))
        .collect();
    let shared_coldkeys =
        shared.into_iter().map(|(coldkey, miners)| SharedColdkey { coldkey: coldkey.to_string(), miners }).collect();
    Grouping { groups, overlap, shared_coldkeys }
}

/// The coldkeys that appear more than once in some group, for checking a grouping from outside.
pub fn coldkeys_sharing_a_group(grouping: &Grouping, roster: &[RosterMiner]) -> BTreeSet<String> {
    let coldkey_of: HashMap<&Hotkey, &str> = roster.iter().map(|m| (&m.hotkey, m.coldkey.as_str())).collect();
    let mut shared = BTreeSet::new();
    for group in &grouping.groups {
        let mut seen = BTreeSet::new();
        for member in &group.members {
            let coldkey = coldkey_of.get(member).copied().unwrap_or_default();
            if !seen.insert(coldkey) {
                shared.insert(coldkey.to_string());
            }
        }
    }
    shared
}

const GROUPS_LABEL: &[u8] = b"zipcoord-groups-v1";

/// A field of the inputs' `groups` section that does not read, named as the inputs document names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedGroupsField(pub String);

/// The group plan and roster an epoch's inputs fix: who is grouped, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupedInputs {
    pub plan: GroupPlan,
    /// Sorted by hotkey, each hotkey once.
    pub roster: Vec<RosterMiner>,
}

/// A coldkey as the inputs may carry it: SS58-like text (ASCII letters and digits), so the canonical document
/// needs no escaping. Anything else stands for the hotkey's own coldkey.
fn roster_coldkey(miner: &RosterMiner) -> String {
    let coldkey = miner.coldkey.as_str();
    if !coldkey.is_empty() && coldkey.len() <= 64 && coldkey.bytes().all(|b| b.is_ascii_alphanumeric()) {
        coldkey.to_string()
    } else {
        miner.hotkey.as_str().to_string()
    }
}

impl GroupedInputs {
    /// The roster in its published form: sorted by hotkey, each once, coldkeys as [`roster_coldkey`] keeps them.
    pub fn new(plan: GroupPlan, roster: &[RosterMiner]) -> GroupedInputs {
        let mut roster: Vec<RosterMiner> =
            roster.iter().map(|m| RosterMiner { hotkey: m.hotkey.clone(), coldkey: roster_coldkey(m) }).collect();
        roster.sort_by(|a, b| a.hotkey.as_str().cmp(b.hotkey.as_str()));
        roster.dedup_by(|a, b| a.hotkey == b.hotkey);
        let plan = GroupPlan { size: plan.size.max(1), overlap: plan.overlap.max(1) };
        GroupedInputs { plan, roster }
    }

    /// The canonical fragment: `{"overlap":o,"roster":[["hotkey","coldkey"],…],"size":s}`.
    pub fn write_json(&self, out: &mut String) {
        out.push_str(&format!("{{\"overlap\":{},\"roster\":[", self.plan.overlap));
        for (i, miner) in self.roster.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!("[\"{}\",\"{}\"]", miner.hotkey.as_str(), miner.coldkey));
        }
        out.push_str(&format!("],\"size\":{}}}", self.plan.size));
    }

    /// Reads the fragment back; the caller checks the whole document is canonical.
    pub fn from_value(value: &serde_json::Value) -> Result<GroupedInputs, MalformedGroupsField> {
        let bad = |field: &str| MalformedGroupsField(format!("groups.{field}"));
        let count = |name: &str| {
            value.get(name).and_then(|v| v.as_u64()).filter(|&n| (1..=1_000).contains(&n)).ok_or_else(|| bad(name))
        };
        let plan = GroupPlan { size: count("size")? as usize, overlap: count("overlap")? as usize };
        let rows = value.get("roster").and_then(|v| v.as_array()).ok_or_else(|| bad("roster"))?;
        let mut roster = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let field = format!("roster[{i}]");
            let pair = row.as_array().filter(|r| r.len() == 2).ok_or_else(|| bad(&field))?;
            let hotkey: Hotkey = pair[0].as_str().and_then(|h| h.parse().ok()).ok_or_else(|| bad(&field))?;
            let coldkey = pair[1].as_str().ok_or_else(|| bad(&field))?.to_string();
            roster.push(RosterMiner { hotkey, coldkey });
        }
        Ok(GroupedInputs { plan, roster })
    }

    /// The epoch's groups from its seed.
    pub fn grouping(&self, seed: [u8; 32]) -> Grouping {
        form_groups(labelled(GROUPS_LABEL, &seed, &[]), &self.roster, self.plan)
    }
}

/// `sha256(label || seed || extra)`: the seeds of the grouping and of every batch.
pub(crate) fn labelled(label: &[u8], seed: &[u8; 32], extra: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(label);
    hash.update(seed);
    hash.update(extra);
    hash.finalize().into()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Miners with keys from their position and coldkeys `cold{c}` (tests of grouping and batches).
    pub(crate) fn roster(coldkeys: &[u8]) -> Vec<RosterMiner> {
        coldkeys
            .iter()
            .enumerate()
            .map(|(n, coldkey)| RosterMiner {
                hotkey: Hotkey::from_public([n as u8 + 1; 32]),
                coldkey: format!("cold{coldkey}"),
            })
            .collect()
    }

    const PLAN: GroupPlan = GroupPlan { size: 5, overlap: 1 };

    #[test]
    fn sixteen_miners_make_four_groups_of_four_with_distinct_coldkeys() {
        let miners = roster(&[0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let grouping = form_groups([7; 32], &miners, PLAN);
        let sizes: Vec<usize> = grouping.groups.iter().map(|g| g.members.len()).collect();
        assert_eq!(sizes, [4, 4, 4, 4]);
        assert!(grouping.shared_coldkeys.is_empty() && coldkeys_sharing_a_group(&grouping, &miners).is_empty());
        assert_eq!(grouping.groups_of(&miners[0].hotkey).len(), 1);
        assert!(grouping.groups_of(&Hotkey::from_public([99; 32])).is_empty());
    }

    #[test]
    fn a_coldkey_with_more_miners_than_groups_shares_them_and_is_named() {
        // Ten miners: two groups of five; coldkey 0 runs three of them, so two of its miners meet.
        let miners = roster(&[0, 0, 0, 1, 2, 3, 4, 5, 6, 7]);
        let grouping = form_groups([1; 32], &miners, PLAN);
        assert_eq!(grouping.groups.len(), 2);
        assert_eq!(grouping.shared_coldkeys, [SharedColdkey { coldkey: "cold0".into(), miners: 3 }]);
        assert_eq!(coldkeys_sharing_a_group(&grouping, &miners), BTreeSet::from(["cold0".to_string()]));
    }

    #[test]
    fn overlap_puts_every_miner_in_that_many_groups_and_never_twice_in_one() {
        let miners = roster(&[0, 1, 2, 3, 4, 5, 6]);
        let grouping = form_groups([3; 32], &miners, GroupPlan { size: 5, overlap: 2 });
        assert_eq!((grouping.groups.len(), grouping.overlap), (3, 2));
        for miner in &miners {
            assert_eq!(grouping.groups_of(&miner.hotkey).len(), 2);
        }
        // Three miners, groups of five, overlap 4: three groups of three, every miner in each of them once.
        let grouping = form_groups([3; 32], &miners[..3], GroupPlan { size: 5, overlap: 4 });
        assert_eq!(grouping.overlap, 3, "{grouping:?}");
        assert!(grouping.groups.iter().all(|g| g.members.iter().collect::<BTreeSet<_>>().len() == g.members.len()));
        assert!(form_groups([3; 32], &[], PLAN).groups.is_empty());
    }

    #[test]
    fn the_seed_decides_the_groups() {
        let miners = roster(&(0..40).collect::<Vec<u8>>());
        let (one, two) = (form_groups([1; 32], &miners, PLAN), form_groups([2; 32], &miners, PLAN));
        assert_ne!(one, two);
        let first_group = |g: &Grouping| g.groups[0].members.iter().cloned().collect::<BTreeSet<_>>();
        assert_ne!(first_group(&one), first_group(&two));
    }

    fn rosters() -> impl Strategy<Value = (Vec<u8>, usize, usize, [u8; 32])> {
        (prop::collection::vec(0u8..12, 0..60), 2usize..8, 1usize..4, any::<[u8; 32]>())
    }

    proptest! {
        #[test]
        fn groups_hold_every_miner_overlap_times_and_keep_coldkeys_apart_when_the_roster_allows(
            (coldkeys, size, overlap, seed) in rosters()
        ) {
            let miners = roster(&coldkeys);
            let grouping = form_groups(seed, &miners, GroupPlan { size, overlap });
            let count = grouping.groups.len();
            prop_assert_eq!(count, (miners.len() * overlap).div_ceil(size));
            for miner in &miners {
                prop_assert_eq!(grouping.groups_of(&miner.hotkey).len(), grouping.overlap);
            }
            let sizes: Vec<usize> = grouping.groups.iter().map(|g| g.members.len()).collect();
            prop_assert!(sizes.iter().all(|&s| s <= size));
            prop_assert!(sizes.iter().max().unwrap_or(&0) - sizes.iter().min().unwrap_or(&0) <= 1);
            let mut per_coldkey: BTreeMap<u8, usize> = BTreeMap::new();
            for coldkey in &coldkeys {
                *per_coldkey.entry(*coldkey).or_default() += 1;
            }
            let impossible: BTreeSet<String> = per_coldkey
                .iter()
                .filter(|(_, &k)| k * grouping.overlap > count)
                .map(|(c, _)| format!("cold{c}"))
                .collect();
            prop_assert_eq!(coldkeys_sharing_a_group(&grouping, &miners), impossible.clone());
            let named: BTreeSet<String> = grouping.shared_coldkeys.iter().map(|s| s.coldkey.clone()).collect();
            prop_assert_eq!(named, impossible);
        }

        #[test]
        fn groups_are_a_function_of_seed_and_roster_only(
            (coldkeys, size, overlap, seed) in rosters(), rotation in 0usize..60
        ) {
            let miners = roster(&coldkeys);
            let mut reordered = miners.clone();
            if !reordered.is_empty() {
                let by = rotation % reordered.len();
                reordered.rotate_left(by);
                reordered.reverse();
            }
            let plan = GroupPlan { size, overlap };
            prop_assert_eq!(form_groups(seed, &miners, plan), form_groups(seed, &reordered, plan));
        }
    }
}

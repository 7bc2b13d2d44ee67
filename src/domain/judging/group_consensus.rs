//! Consensus validation of one `groups` epoch (issue #16): every group's members compared listing by listing
//! ([`crate::domain::judging::consensus::judge_listing`]), what that says about each miner (agreement, contradictions, disputed
//! listings, work nobody else corroborates). Copying is [`crate::domain::judging::following`]'s. Pure:
//! inspections, coldkeys and credibilities come in as values, so validators given the same bucket and history
//! reach the same findings.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::domain::judging::consensus::{differences, judge_listing, ConsensusSettings, Field, ListingConsensus, Vote};
use crate::domain::judging::listing::Listing;

/// One member's reports, as the validator inspected them.
#[derive(Debug, Clone)]
pub struct MemberReports<'a> {
    pub hotkey: &'a str,
    pub coldkey: &'a str,
    /// 0 to 1; [`crate::domain::judging::consensus::NEUTRAL_CREDIBILITY`] for a miner this validator has not judged before.
    pub credibility: f64,
    /// The groups it worked for.
    pub groups: Vec<usize>,
    /// Its counted listings with the upload time of the file that carried them.
    pub listings: &'a [(Listing, i64)],
    /// Already caught lying before the comparison (copying by habit, zipcodes outside its groups...).
    pub convicted: bool,
}

/// A listing on which a member was outvoted by other operators.
#[derive(Debug, Clone, PartialEq)]
pub struct Contradiction {
    pub listing_id: String,
    pub fields: Vec<Field>,
}

/// What the group comparison says about one member.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MinerConsensus {
    /// Its listings with a clear majority among its groups' members.
    pub compared: usize,
    pub agreed: usize,
    pub contradicted: Vec<Contradiction>,
    /// Its listings whose price differs from its group's at a moment the market may have moved in between
    /// (see [`crate::domain::judging::consensus::moved_between_scrapes`]): spot checks decide, and more than
    /// [`MOVED_SHARE_LIMIT`] of them is more than a market moves.
    pub moved: Vec<String>,
    /// Its listings on which its group is split, or that fewer than the minimum of operators reported (alike
    /// or not): spot checks decide.
    pub disputed: Vec<String>,
    /// Its listings no member of another coldkey reported.
    pub uncorroborated: Vec<String>,
    /// Whether operators of its groups who corroborate each other, and did not report what it reported, clearly
    /// outweigh it and those who did (credibility, one voice per coldkey): only then does a member whose work
    /// nobody corroborates stand out as a liar, and not an honest minority outvoted by colluding liars.
    pub outweighed: bool,
}

/// Contradicted listings a member needs, at least, to be called a liar by consensus...
pub const MIN_CONTRADICTIONS: usize = 2;
/// ...and the share of its compared listings they must make (honest scrapes of a moving market differ rarely).
pub const CONTRADICTED_SHARE: f64 = 0.02;
/// The share of a member's compared listings whose prices may move between its scrape and its group's: more
/// than that (and at least [`MIN_CONTRADICTIONS`]) contradicts it, since a market does not move that much in
/// an epoch and a late stamp must not excuse a shader's prices.
pub const MOVED_SHARE_LIMIT: f64 = 0.10;
/// A member with at least this many listings of which fewer than [`CORROBORATED_SHARE`] were compared (reported
/// by the minimum of operators), [`MinerConsensus::outweighed`] by operators who corroborate each other, did not
/// scrape what its group scraped.
pub const MIN_LISTINGS_FOR_CORROBORATION: usize = 10;
pub const CORROBORATED_SHARE: f64 = 0.10;
/// A member that agreed with its group on at least half its listings counts as corroborated (for its
/// groupmates' rule).
const CORROBORATING_SHARE: f64 = 0.5;
impl MinerConsensus {
    /// The share of its compared listings it agreed on; `None` when none was compared.
    pub fn agreement_rate(&self) -> Option<f64> {
        (self.compared > 0).then(|| self.agreed as f64 / self.compared as f64)
    }

    /// Why consensus calls this member a liar; empty when it does not.
    pub fn lies(&self) -> Vec<String> {
        let mut lies = Vec::new();
        let contradicted = self.contradicted.len();
        if contradicted >= MIN_CONTRADICTIONS && contradicted as f64 >= CONTRADICTED_SHARE * self.compared as f64 {
            let example = &self.contradicted[0];
            let fields: Vec<String> = example.fields.iter().map(|f| format!("{f:?}").to_lowercase()).collect();
            lies.push(format!(
                "contradicted by its group's other operators on {contradicted} of {} compared listings (e.g. {}: {})",
                self.compared,
                example.listing_id,
                fields.join(", ")
            ));
        }
        let moved = self.moved.len();
        if moved >= MIN_CONTRADICTIONS && moved as f64 > MOVED_SHARE_LIMIT * (self.compared + moved) as f64 {
            lies.push(format!(
                "its prices differ from its group's other operators on {moved} of {} listings (e.g. {}), more than \
                 a market moves in an epoch",
                self.compared + moved,
                self.moved[0]
            ));
        }
        let listings = self.compared + moved + self.disputed.len() + self.uncorroborated.len();
        if self.outweighed
            && listings >= MIN_LISTINGS_FOR_CORROBORATION
            && (self.compared as f64) < CORROBORATED_SHARE * listings as f64
        {
            lies.push(format!(
                "only {} of its {listings} listings were reported by enough other operators of its group to compare, \
                 while operators who corroborate each other clearly outweigh it",
                self.compared
            ));
        }
        lies
    }
}

/// Compares every group's members (`groups` groups; members name theirs) and returns one finding per member.
/// A member already convicted (a copier among them) has no vote: its reports would corroborate whatever it
/// copied or invented (a copier of an inventor makes three operators of two). Its own finding is from the first
/// count; the groups it was in (and any group sharing a member with them) are counted again without it.
/// `parse_time` reads listings' `scrapedAt`.
pub fn judge_groups(
    members: &[MemberReports<'_>],
    groups: usize,
    settings: &ConsensusSettings,
    parse_time: &dyn Fn(&str) -> Option<i64>,
) -> Vec<MinerConsensus> {
    let mut findings = count_votes(members, groups, settings, parse_time);
    let silenced: Vec<bool> = members.iter().map(|member| member.convicted).collect();
    if !silenced.contains(&true) {
        return findings;
    }
    // The groups the silenced were in, grown by the groups of their members until no member has a group
    // outside: the members of those groups are all whose findings can change.
    let mut affected: BTreeSet<usize> =
        members.iter().zip(&silenced).filter(|(_, &s)| s).flat_map(|(m, _)| m.groups.iter().copied()).collect();
    loop {
        let grown: BTreeSet<usize> = members
            .iter()
            .filter(|m| m.groups.iter().any(|g| affected.contains(g)))
            .flat_map(|m| m.groups.iter().copied())
            .collect();
        if grown.len() == affected.len() {
            break;
        }
        affected = grown;
    }
    let recounted: Vec<bool> = members.iter().map(|m| m.groups.iter().any(|g| affected.contains(g))).collect();
    let voters: Vec<MemberReports<'_>> = members
        .iter()
        .zip(&silenced)
        .zip(&recounted)
        .map(|((member, &silenced), &recounted)| match (recounted, silenced) {
            (true, false) => member.clone(),
            _ => MemberReports { listings: &[], groups: Vec::new(), ..member.clone() },
        })
        .collect();
    let recount = count_votes(&voters, groups, settings, parse_time);
    for (m, recounted_finding) in recount.into_iter().enumerate() {
        if recounted[m] && !silenced[m] {
            findings[m] = recounted_finding;
        }
    }
    findings
}

/// One count of every group's votes: [`judge_groups`] without taking any vote away.
fn count_votes(
    members: &[MemberReports<'_>],
    groups: usize,
    settings: &ConsensusSettings,
    parse_time: &dyn Fn(&str) -> Option<i64>,
) -> Vec<MinerConsensus> {
    let mut findings = vec![MinerConsensus::default(); members.len()];
    let mut seen_by_other_coldkey: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); members.len()];
    let mut seen_disputed: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); members.len()];
    let mut seen_compared: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); members.len()];
    for group in 0..groups {
        let in_group: Vec<usize> = (0..members.len()).filter(|&m| members[m].groups.contains(&group)).collect();
        let mut reports: BTreeMap<&str, Vec<Vote<'_>>> = BTreeMap::new();
        for &m in &in_group {
            for (listing, _) in members[m].listings {
                let (coldkey, credibility) = (members[m].coldkey, members[m].credibility);
                let scraped_ms = parse_time(&listing.scraped_at);
                let vote = Vote { miner: m as u32, coldkey, credibility, listing, scraped_ms };
                reports.entry(listing.listing_id.as_str()).or_default().push(vote);
            }
        }
        for (listing_id, votes) in &reports {
            let coldkeys: BTreeSet<&str> = votes.iter().map(|v| v.coldkey).collect();
            for vote in votes {
                if coldkeys.len() > 1 {
                    seen_by_other_coldkey[vote.miner as usize].insert(listing_id);
                }
            }
            // One operator's hotkeys repeating each other corroborate nothing.
            if coldkeys.len() < 2 {
                continue;
            }
            // Reports that all agree need no vote once enough operators made them; fewer agreeing operators
            // could be liars inventing alike, so their listing stays open (disputed) for spot checks.
            let unanimous = votes.iter().all(|v| differences(votes[0].listing, v.listing, settings).is_empty());
            let outcome = if unanimous && coldkeys.len() >= settings.min_voters {
                ListingConsensus::Clear {
                    agreed: votes.iter().map(|v| v.miner).collect(),
                    contradicted: vec![],
                    moved: vec![],
                    share: 1.0,
                }
            } else {
                judge_listing(votes, settings)
            };
            match outcome {
                ListingConsensus::Clear { agreed, contradicted, moved, .. } => {
                    for miner in agreed {
                        if seen_compared[miner as usize].insert(listing_id) {
                            findings[miner as usize].compared += 1;
                            findings[miner as usize].agreed += 1;
                        }
                    }
                    for (miner, fields) in contradicted {
                        if seen_compared[miner as usize].insert(listing_id) {
                            findings[miner as usize].compared += 1;
                            let contradiction = Contradiction { listing_id: listing_id.to_string(), fields };
                            findings[miner as usize].contradicted.push(contradiction);
                        }
                    }
                    for miner in moved {
                        if seen_compared[miner as usize].insert(listing_id) {
                            findings[miner as usize].moved.push(listing_id.to_string());
                        }
                    }
                }
                ListingConsensus::Disputed { .. } => {
                    for vote in votes {
                        seen_disputed[vote.miner as usize].insert(listing_id);
                    }
                }
            }
        }
    }
    for (m, member) in members.iter().enumerate() {
        let finding = &mut findings[m];
        let mut listed = BTreeSet::new();
        for (listing, _) in member.listings {
            let id = listing.listing_id.as_str();
            if !listed.insert(id) || seen_compared[m].contains(id) {
                continue;
            }
            if !seen_by_other_coldkey[m].contains(id) {
                finding.uncorroborated.push(id.to_string());
            } else if seen_disputed[m].contains(id) {
                finding.disputed.push(id.to_string());
            }
        }
    }
    let corroborated: Vec<bool> = members
        .iter()
        .enumerate()
        .map(|(m, member)| {
            let total = member.listings.len();
            total > 0 && findings[m].agreed as f64 >= CORROBORATING_SHARE * total as f64
        })
        .collect();
    for (m, finding) in findings.iter_mut().enumerate() {
        finding.outweighed = outweighed(members, &corroborated, m, settings);
    }
    findings
}

/// Whether member `m` is clearly outweighed by the corroborated operators of its groups that stand apart from
/// it: other coldkeys that reported at most half of what it reported. Those that reported more stand with it.
/// Each side weighs its coldkeys' best credibility; the side against needs at least `min_voters` − 1 coldkeys
/// and more than `threshold` of the weight, so three liars agreeing on inventions (credibility falls with every
/// epoch they are caught) do not outvote two credible honest miners.
fn outweighed(members: &[MemberReports<'_>], corroborated: &[bool], m: usize, settings: &ConsensusSettings) -> bool {
    let member = &members[m];
    let reported: HashSet<&str> = member.listings.iter().map(|(l, _)| l.listing_id.as_str()).collect();
    let mut with: BTreeMap<&str, f64> = BTreeMap::from([(member.coldkey, member.credibility)]);
    let mut against: BTreeMap<&str, f64> = BTreeMap::new();
    for (o, other) in members.iter().enumerate() {
        if o == m || other.coldkey == member.coldkey || !other.groups.iter().any(|g| member.groups.contains(g)) {
            continue;
        }
        let shared = other.listings.iter().filter(|(l, _)| reported.contains(l.listing_id.as_str())).count();
        let side = if !reported.is_empty() && shared as f64 > CORROBORATING_SHARE * reported.len() as f64 {
            &mut with
        } else if corroborated[o] {
            &mut against
        } else {
            continue;
        };
        let weight = side.entry(other.coldkey).or_insert(0.0);
        *weight = weight.max(other.credibility);
    }
    let (weight_with, weight_against): (f64, f64) = (with.values().sum(), against.values().sum());
    against.len() + 1 >= settings.min_voters && weight_against > settings.threshold * (weight_with + weight_against)
}

#[cfg(test)]
mod tests;

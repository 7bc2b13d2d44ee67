//! Consensus validation of one `groups` epoch (issue #16): every group's members compared listing by listing
//! ([`crate::domain::judging::consensus::judge_listing`]), what that says about each miner (agreement, contradictions, disputed
//! listings, work nobody else corroborates), and the behavioural signs of copying (a member whose every batch
//! follows another's uploads with the same listings; see [`MinerConsensus::habitual_following`] for the habit
//! of it). Pure: inspections, coldkeys and credibilities come in as values, so validators given the same bucket
//! and history reach the same findings.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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
    /// Already caught lying before the comparison (copied files, zipcodes outside its groups...).
    pub convicted: bool,
    /// Epochs it was flagged for following in, among the [`FOLLOWING_MEMORY`] − 1 before this one.
    pub flagged_before: usize,
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
    /// Its listings on which its group is split, or that fewer than the minimum of operators reported (alike
    /// or not): spot checks decide.
    pub disputed: Vec<String>,
    /// Its listings no member of another coldkey reported.
    pub uncorroborated: Vec<String>,
    /// Whether operators of its groups who corroborate each other, and did not report what it reported, clearly
    /// outweigh it and those who did (credibility, one voice per coldkey): only then does a member whose work
    /// nobody corroborates stand out as a liar, and not an honest minority outvoted by colluding liars.
    pub outweighed: bool,
    /// Behavioural evidence (copying); escalated to spot checks, and a reason to zero only when it recurs
    /// ([`MinerConsensus::habitual_following`]).
    pub flags: Vec<String>,
}

/// Contradicted listings a member needs, at least, to be called a liar by consensus...
pub const MIN_CONTRADICTIONS: usize = 2;
/// ...and the share of its compared listings they must make (honest scrapes of a moving market differ rarely).
pub const CONTRADICTED_SHARE: f64 = 0.02;
/// A member with at least this many listings of which fewer than [`CORROBORATED_SHARE`] were compared (reported
/// by the minimum of operators), [`MinerConsensus::outweighed`] by operators who corroborate each other, did not
/// scrape what its group scraped.
pub const MIN_LISTINGS_FOR_CORROBORATION: usize = 10;
pub const CORROBORATED_SHARE: f64 = 0.10;
/// A member that agreed with its group on at least half its listings counts as corroborated (for its
/// groupmates' rule).
const CORROBORATING_SHARE: f64 = 0.5;
/// Zipcodes in which one member must follow another before its uploads count as following.
const MIN_FOLLOWED_ZIPCODES: usize = 3;
/// How soon after the other's upload a follower's must come, as a share of the epoch: honest miners scrape and
/// upload on their own schedules, a copier right after what it copies.
pub const FOLLOW_WINDOW_SHARE: f64 = 0.01;

/// Following is evidence in one epoch (an honest miner may trail a groupmate by chance); a member flagged in
/// this many of the last [`FOLLOWING_MEMORY`] epochs, each time among other groupmates (groups are drawn anew
/// every epoch), copies by habit and is called a liar.
pub const HABITUAL_FOLLOWING: usize = 2;
pub const FOLLOWING_MEMORY: usize = 3;

impl MinerConsensus {
    /// Why this member, flagged for following in this epoch and in `flagged_before` of the
    /// [`FOLLOWING_MEMORY`] − 1 epochs before it, is a copier; `None` when it is not.
    pub fn habitual_following(&self, flagged_before: usize) -> Option<String> {
        let flagged = flagged_before.min(FOLLOWING_MEMORY - 1) + 1;
        (!self.flags.is_empty() && flagged >= HABITUAL_FOLLOWING).then(|| {
            format!(
                "copies its groupmates: flagged for following another operator's uploads in {flagged} of its last \
                 {FOLLOWING_MEMORY} epochs, each time in a newly drawn group"
            )
        })
    }

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
        let listings = self.compared + self.disputed.len() + self.uncorroborated.len();
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
/// `epoch_ms` is the epoch's length; `parse_time` reads listings' `scrapedAt`.
/// A member already convicted, or following by habit, has no vote: its reports would corroborate whatever it
/// copied or invented (a copier of an inventor makes three operators of two). Its own finding is from the first
/// count; the groups it was in (and any group sharing a member with them) are counted again without it.
pub fn judge_groups(
    members: &[MemberReports<'_>],
    groups: usize,
    settings: &ConsensusSettings,
    epoch_ms: i64,
    parse_time: &dyn Fn(&str) -> Option<i64>,
) -> Vec<MinerConsensus> {
    let mut findings = count_votes(members, groups, settings, epoch_ms, parse_time);
    let silenced: Vec<bool> = members
        .iter()
        .zip(&findings)
        .map(|(member, finding)| member.convicted || finding.habitual_following(member.flagged_before).is_some())
        .collect();
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
    let recount = count_votes(&voters, groups, settings, epoch_ms, parse_time);
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
    epoch_ms: i64,
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
                let vote =
                    Vote { miner: m as u32, coldkey: members[m].coldkey, credibility: members[m].credibility, listing };
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
                    share: 1.0,
                }
            } else {
                judge_listing(votes, settings)
            };
            match outcome {
                ListingConsensus::Clear { agreed, contradicted, .. } => {
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
    let window_ms = (epoch_ms as f64 * FOLLOW_WINDOW_SHARE) as i64;
    flag_followers(members, &mut findings, window_ms, parse_time);
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

/// A listing without its scrape time: what a copier keeps of another's report.
fn facts(listing: &Listing) -> (&str, u64, u32, u32, u32, &str) {
    (
        &listing.listing_id,
        listing.price,
        listing.bedrooms,
        listing.bathrooms.to_bits(),
        listing.living_area_sqft,
        &listing.address,
    )
}

/// Flags a member of another coldkey whose uploads, in every zipcode it shares with a groupmate (at least
/// [`MIN_FOLLOWED_ZIPCODES`]), came within `window_ms` after that groupmate's, held the same listings, and claim
/// scrape times no earlier than the groupmate's upload: it could have copied every one of them.
fn flag_followers(
    members: &[MemberReports<'_>],
    findings: &mut [MinerConsensus],
    window_ms: i64,
    parse_time: &dyn Fn(&str) -> Option<i64>,
) {
    struct Batch<'a> {
        first_upload: i64,
        earliest_scrape: Option<i64>,
        facts: BTreeSet<(&'a str, u64, u32, u32, u32, &'a str)>,
    }
    let batches: Vec<HashMap<&str, Batch<'_>>> = members
        .iter()
        .map(|member| {
            let mut per_zipcode: HashMap<&str, Batch<'_>> = HashMap::new();
            for (listing, uploaded_at) in member.listings {
                let batch = per_zipcode.entry(listing.zipcode.as_str()).or_insert(Batch {
                    first_upload: *uploaded_at,
                    earliest_scrape: None,
                    facts: BTreeSet::new(),
                });
                batch.first_upload = batch.first_upload.min(*uploaded_at);
                let scraped = parse_time(&listing.scraped_at).unwrap_or(i64::MIN);
                batch.earliest_scrape = Some(batch.earliest_scrape.map_or(scraped, |e| e.min(scraped)));
                batch.facts.insert(facts(listing));
            }
            per_zipcode
        })
        .collect();
    for (follower, member) in members.iter().enumerate() {
        for (leader, other) in members.iter().enumerate() {
            if leader == follower
                || other.coldkey == member.coldkey
                || !other.groups.iter().any(|g| member.groups.contains(g))
            {
                continue;
            }
            let shared: Vec<&str> =
                batches[follower].keys().copied().filter(|z| batches[leader].contains_key(z)).collect();
            if shared.len() < MIN_FOLLOWED_ZIPCODES {
                continue;
            }
            let follows = shared.iter().all(|zipcode| {
                let (mine, theirs) = (&batches[follower][zipcode], &batches[leader][zipcode]);
                mine.first_upload > theirs.first_upload
                    && mine.first_upload - theirs.first_upload <= window_ms
                    && mine.facts == theirs.facts
                    && mine.earliest_scrape.is_some_and(|scraped| scraped >= theirs.first_upload)
            });
            if follows {
                findings[follower].flags.push(format!(
                    "in all {} zipcodes it shares with {} (another operator) it uploaded the same listings after \
                     them (within {:.1} s each time), each claimed scraped only after their upload",
                    shared.len(),
                    other.hotkey,
                    window_ms as f64 / 1000.0
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::instant::{iso8601_millis, parse_iso8601};
    use crate::domain::judging::consensus::NEUTRAL_CREDIBILITY;
    use crate::domain::judging::listing::tests::listing;

    const START: i64 = 1_759_334_400_000;
    const ZIPCODES: [&str; 4] = ["02134", "60601", "10001", "94103"];

    /// Five listings per zipcode, scraped at `minute` and uploaded a minute later.
    fn honest(minute: i64) -> Vec<(Listing, i64)> {
        let mut listings = Vec::new();
        for zipcode in ZIPCODES {
            for n in 0..5 {
                let mut l = listing(&format!("{zipcode}-{n}"), zipcode);
                l.price = 200_000 + n * 10_000;
                l.scraped_at = iso8601_millis(START + minute * 60_000);
                listings.push((l, START + (minute + 1) * 60_000));
            }
        }
        listings
    }

    fn members<'a>(reports: &'a [Vec<(Listing, i64)>], coldkeys: &'a [&'a str]) -> Vec<MemberReports<'a>> {
        reports
            .iter()
            .zip(coldkeys)
            .enumerate()
            .map(|(n, (listings, coldkey))| MemberReports {
                hotkey: ["hk0", "hk1", "hk2", "hk3", "hk4", "hk5"][n],
                coldkey,
                credibility: 0.5,
                groups: vec![0],
                listings,
                convicted: false,
                flagged_before: 0,
            })
            .collect()
    }

    fn judge(reports: &[Vec<(Listing, i64)>], coldkeys: &[&str]) -> Vec<MinerConsensus> {
        judge_with(reports, coldkeys, &[NEUTRAL_CREDIBILITY; 6][..reports.len()])
    }

    fn judge_with(reports: &[Vec<(Listing, i64)>], coldkeys: &[&str], credibility: &[f64]) -> Vec<MinerConsensus> {
        let four_hours = 4 * 3_600_000;
        let mut members = members(reports, coldkeys);
        for (member, &credibility) in members.iter_mut().zip(credibility) {
            member.credibility = credibility;
        }
        judge_groups(&members, 1, &ConsensusSettings::default(), four_hours, &parse_iso8601)
    }

    #[test]
    fn honest_members_agree_on_everything_and_nobody_is_called_a_liar() {
        let reports: Vec<_> = (0..5).map(|m| honest(m * 10)).collect();
        let findings = judge(&reports, &["a", "b", "c", "d", "e"]);
        for finding in &findings {
            assert_eq!((finding.compared, finding.agreed, finding.agreement_rate()), (20, 20, Some(1.0)));
            assert!(finding.lies().is_empty() && finding.flags.is_empty(), "{finding:?}");
            assert!(!finding.outweighed, "nobody stands against an honest member");
        }
    }

    #[test]
    fn a_shader_is_contradicted_and_an_inventor_is_uncorroborated() {
        let mut reports: Vec<_> = (0..5).map(honest).collect();
        for (l, _) in reports[3].iter_mut().step_by(7) {
            l.price = l.price * 110 / 100;
        }
        for (n, (l, _)) in reports[4].iter_mut().enumerate() {
            l.listing_id = format!("made-up-{n}");
        }
        let findings = judge(&reports, &["a", "b", "c", "d", "e"]);
        let shader = &findings[3];
        assert_eq!((shader.compared, shader.contradicted.len()), (20, 3));
        assert_eq!(shader.contradicted[0].fields, [Field::Price]);
        assert!(shader.lies()[0].contains("contradicted by its group's other operators on 3 of 20"), "{shader:?}");
        let inventor = &findings[4];
        assert_eq!((inventor.compared, inventor.uncorroborated.len()), (0, 20));
        assert!(inventor.lies()[0].contains("only 0 of its 20 listings"), "{inventor:?}");
        for honest in &findings[..3] {
            assert!(honest.lies().is_empty(), "{honest:?}");
            assert_eq!(honest.agreed, 20);
        }
    }

    #[test]
    fn a_sybil_pair_is_one_voice_and_a_thin_group_disputes_instead_of_accusing() {
        // Two hotkeys of coldkey "s" invent the same listings: nobody of another coldkey corroborates them.
        let mut reports: Vec<_> = (0..5).map(honest).collect();
        for sybil in [3, 4] {
            for (n, (l, _)) in reports[sybil].iter_mut().enumerate() {
                l.listing_id = format!("sybil-{n}");
            }
        }
        let findings = judge(&reports, &["a", "b", "c", "s", "s"]);
        for sybil in &findings[3..] {
            assert_eq!(sybil.uncorroborated.len(), 20, "{sybil:?}");
            assert!(!sybil.lies().is_empty());
        }
        // Two inventors of different coldkeys inventing alike are too few to corroborate each other. Before
        // anyone has earned credibility, three operators against two is no clear majority (the same split
        // as three colluding liars against two honest miners, below): their listings stay disputed.
        let findings = judge(&reports, &["a", "b", "c", "d", "e"]);
        for inventor in &findings[3..] {
            assert_eq!((inventor.compared, inventor.disputed.len()), (0, 20), "{inventor:?}");
            assert!(inventor.lies().is_empty() && !inventor.outweighed, "{inventor:?}");
        }
        // Once the honest have earned credibility and the inventors have not, the inventors are outweighed.
        let findings = judge_with(&reports, &["a", "b", "c", "d", "e"], &[0.8, 0.8, 0.8, 0.3, 0.3]);
        for inventor in &findings[3..] {
            assert!(inventor.lies()[0].contains("only 0 of its 20 listings"), "{inventor:?}");
        }
        // Two operators disagreeing on a listing: too few voters to call anyone, so the listing is disputed.
        let mut pair: Vec<_> = (0..2).map(|m| honest(m * 10)).collect();
        pair[1][0].0.price += 50_000;
        let findings = judge(&pair, &["a", "b"]);
        for finding in &findings {
            assert_eq!(finding.disputed.len(), 20, "{finding:?}");
            assert_eq!(finding.compared, 0, "two operators are too few to compare, agreeing or not");
            assert!(finding.lies().is_empty() && !finding.outweighed);
        }
    }

    type Reports = Vec<(Listing, i64)>;

    /// Two honest operators, then three (an inventor, a sybil, a copier of the inventor) reporting the same
    /// invented listings.
    fn two_honest_three_inventing() -> (Vec<Reports>, [&'static str; 5]) {
        let mut reports: Vec<_> = (0..5).map(honest).collect();
        for liar in [2, 3, 4] {
            for (n, (l, _)) in reports[liar].iter_mut().enumerate() {
                l.listing_id = format!("made-up-{n}");
            }
        }
        (reports, ["a", "b", "i", "s", "c"])
    }

    #[test]
    fn an_honest_minority_is_never_outvoted_by_liars_agreeing_on_inventions() {
        let (reports, coldkeys) = two_honest_three_inventing();
        for credibility in [[0.5; 5], [0.9, 0.9, 0.2, 0.2, 0.2], [0.7, 0.7, 0.5, 0.5, 0.5]] {
            let findings = judge_with(&reports, &coldkeys, &credibility);
            for honest in &findings[..2] {
                assert_eq!((honest.compared, honest.disputed.len()), (0, 20), "{honest:?}");
                assert!(honest.lies().is_empty(), "{credibility:?}: {honest:?}");
            }
            for liar in &findings[2..] {
                assert_eq!(liar.agreed, 20, "they do agree with each other");
            }
        }
        // Liars that have earned clearly more credibility than the honest would outvote them: credibility is
        // what makes a majority clear, and liars lose it every epoch they are caught.
        let findings = judge_with(&reports, &coldkeys, &[0.3, 0.3, 0.9, 0.9, 0.9]);
        assert!(findings[0].outweighed);
    }

    #[test]
    fn a_convicted_member_has_no_vote() {
        // The copier (member 4) repeats the inventor's inventions: with its vote they are three operators'.
        let (reports, coldkeys) = two_honest_three_inventing();
        let four_hours = 4 * 3_600_000;
        let count = |members: &[MemberReports<'_>]| {
            judge_groups(members, 1, &ConsensusSettings::default(), four_hours, &parse_iso8601)
        };
        let findings = count(&members(&reports, &coldkeys));
        assert_eq!(findings[2].agreed, 20, "three operators agree on the inventions");
        let mut silenced = members(&reports, &coldkeys);
        silenced[4].convicted = true;
        let findings = count(&silenced);
        for inventor in &findings[2..4] {
            assert_eq!((inventor.agreed, inventor.disputed.len()), (0, 20), "two operators: disputed: {inventor:?}");
        }
        assert_eq!(findings[4].agreed, 20, "the convicted member's own finding is from the first count");
    }

    #[test]
    fn a_member_that_follows_anothers_uploads_is_flagged_and_zeroed_only_when_it_recurs() {
        let mut reports: Vec<_> = (0..4).map(|m| honest(m * 10)).collect();
        // Member 3 copies member 0's listings, claiming to scrape them after member 0 uploaded.
        reports[3] = honest(0)
            .into_iter()
            .map(|(mut l, uploaded)| {
                l.scraped_at = iso8601_millis(uploaded + 30_000);
                (l, uploaded + 60_000)
            })
            .collect();
        let findings = judge(&reports, &["a", "b", "c", "d"]);
        assert_eq!(findings[3].flags.len(), 1, "{:?}", findings[3]);
        assert!(findings[3].flags[0].contains("in all 4 zipcodes it shares with hk0"));
        assert!(findings[3].lies().is_empty());
        assert!(findings[..3].iter().all(|f| f.flags.is_empty()), "honest members scrape before they upload");
        assert_eq!(findings[3].habitual_following(0), None, "once is evidence");
        let why = findings[3].habitual_following(1).expect("twice in three epochs is a habit");
        assert!(why.contains("in 2 of its last 3 epochs"), "{why}");
        assert!(findings[3].habitual_following(7).unwrap().contains("in 3 of its last 3"));
        assert_eq!(findings[0].habitual_following(2), None, "past flags alone accuse nobody");
    }
}

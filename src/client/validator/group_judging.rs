//! What the validator does differently in a `groups` epoch: each miner judged against its own groups' batches,
//! its group's reports compared ([`crate::domain::judging::group_consensus`]), spot checks spent where the comparison is
//! weak (disputed listings, listings nobody else reported, members flagged for following another's uploads),
//! and each miner's consensus findings written into its published verdict.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::api::{parse_iso8601, AssignmentResponse, ConsensusReport, EpochGroupsBody, SpotCheckTally};
use crate::client::validator::case::MinerCase;
use crate::client::validator::credibility::CredibilityBook;
use crate::domain::epoch::batches::placement;
use crate::domain::epoch::proof::Seed;
use crate::domain::epoch::zipcode::Zipcode;
use crate::domain::judging::consensus::ConsensusSettings;
use crate::domain::judging::group_consensus::{judge_groups, MemberReports, MinerConsensus};
use crate::domain::judging::listing::Listing;
use crate::domain::judging::scoring::Verdict;
use crate::domain::judging::validation::{spot_check_sample, spot_check_sample_of, EpochTerms, SpotCheck};

/// How a validator checks miners' listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidationMode {
    /// Group comparison only: no listing is checked at its source.
    Consensus,
    /// A sample of every miner's listings checked at the source (the only check in `shared` epochs).
    SpotChecks,
    /// Group comparison, with spot checks on what it leaves open.
    Both,
}

impl FromStr for ValidationMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "consensus" => Ok(ValidationMode::Consensus),
            "spot-checks" => Ok(ValidationMode::SpotChecks),
            "both" => Ok(ValidationMode::Both),
            other => Err(format!("'{other}' is not a validation mode: use consensus, spot-checks or both")),
        }
    }
}

impl ValidationMode {
    pub fn name(self) -> &'static str {
        match self {
            ValidationMode::Consensus => "consensus",
            ValidationMode::SpotChecks => "spot-checks",
            ValidationMode::Both => "both",
        }
    }

    pub fn compares(self) -> bool {
        self != ValidationMode::SpotChecks
    }

    pub fn spot_checks(self) -> bool {
        self != ValidationMode::Consensus
    }
}

/// Disputed listings checked per miner at most, as a multiple of the sampled spot checks.
const DISPUTED_CHECKS_FACTOR: usize = 2;

/// The groups `hotkey` worked for in a `groups` epoch: the groups naming it, else the late joiners' rule.
pub fn groups_of(assignment: &AssignmentResponse, groups: &EpochGroupsBody, hotkey: &str) -> Vec<usize> {
    let named: Vec<usize> =
        groups.groups.iter().filter(|g| g.members.iter().any(|m| m == hotkey)).map(|g| g.id).collect();
    match (assignment.metadata.selection_seed.parse::<Seed>(), hotkey.parse()) {
        (Ok(seed), Ok(hotkey)) => placement(named, seed.bytes(), &hotkey, groups.groups.len(), groups.overlap).0,
        // Without a usable seed only the named groups are known.
        _ => named,
    }
}

/// The epoch's terms as they apply to a miner of `groups`: its groups' zipcodes only.
pub fn terms_of(whole: &EpochTerms, groups: &EpochGroupsBody, worked: &[usize]) -> EpochTerms {
    let mut expected = BTreeMap::new();
    for group in worked.iter().filter_map(|&g| groups.groups.get(g)) {
        for zipcode in group.zipcodes.iter().filter_map(|z| z.parse::<Zipcode>().ok()) {
            if let Some(&n) = whole.expected.get(&zipcode) {
                expected.insert(zipcode, n);
            }
        }
    }
    EpochTerms { expected, ..whole.clone() }
}

/// The listings to check at the source for one miner not already caught: in `spot-checks` mode (and in every
/// `shared` epoch) a sample of all; in `both` mode the listings its group contradicted it on and its disputed
/// ones (a bounded number), a sample of those no other operator corroborated, and, when it was flagged, a
/// sample of all.
pub fn listings_to_check(case: &MinerCase, mode: ValidationMode, count: usize) -> Vec<&Listing> {
    let (inspection, terms) = (&case.inspection, &case.terms);
    let Some(finding) = case.finding.as_ref().filter(|_| mode == ValidationMode::Both) else {
        return if mode.spot_checks() { spot_check_sample(inspection, terms, count) } else { Vec::new() };
    };
    // What its group contradicted it on comes first: in `both` mode the source, not the vote, convicts.
    let contested = finding.contradicted.iter().map(|c| &c.listing_id).chain(&finding.moved).chain(&finding.disputed);
    let disputed: std::collections::BTreeSet<&str> =
        contested.take(count * DISPUTED_CHECKS_FACTOR).map(String::as_str).collect();
    let uncorroborated: std::collections::BTreeSet<&str> = finding.uncorroborated.iter().map(String::as_str).collect();
    let mut chosen: Vec<&Listing> = inspection
        .listings
        .iter()
        .map(|(listing, _)| listing)
        .filter(|listing| disputed.contains(listing.listing_id.as_str()))
        .collect();
    chosen.extend(spot_check_sample_of(inspection, terms, count, &|l| uncorroborated.contains(l.listing_id.as_str())));
    if !case.flags.is_empty() {
        chosen.extend(spot_check_sample(inspection, terms, count));
    }
    let mut seen = std::collections::BTreeSet::new();
    chosen.retain(|listing| seen.insert(listing.listing_id.as_str()));
    chosen
}

/// In `both` mode, the members to sample at the source after the first checks, with why: the groupmates of a
/// miner consensus accused and the source cleared (its listings checked, every one confirmed). Its group's
/// majority stood against the source, so the majority's own listings are worth a look.
pub fn second_looks(cases: &[MinerCase]) -> Vec<(usize, String)> {
    let accused = |case: &MinerCase| case.finding.as_ref().is_some_and(|f| !f.lies().is_empty());
    let cleared: Vec<usize> = (0..cases.len())
        .filter(|&m| accused(&cases[m]) && !cases[m].caught() && cases[m].cleared_by_source())
        .collect();
    let mut looks: BTreeMap<usize, String> = BTreeMap::new();
    for &accused in &cleared {
        for (m, case) in cases.iter().enumerate() {
            if m != accused && !case.caught() && case.groups.iter().any(|g| cases[accused].groups.contains(g)) {
                looks.entry(m).or_insert_with(|| {
                    format!(
                        "sampled at the source: its group's consensus accused {}, whom the source cleared",
                        cases[accused].miner.hotkey
                    )
                });
            }
        }
    }
    looks.into_iter().collect()
}

/// What comparing a `groups` epoch's members needs besides their cases.
pub struct Comparison<'a> {
    pub groups: &'a EpochGroupsBody,
    pub credibility: &'a CredibilityBook,
    /// `consensus`: the comparison convicts; `both`: it accuses, and the accused's contested listings are
    /// checked at the source, so an honest minority outvoted by colluding liars is cleared by the source.
    pub mode: ValidationMode,
    pub settings: &'a ConsensusSettings,
}

impl Comparison<'_> {
    /// Compares every group and adds what it finds to the cases: findings, and lies or accusations.
    pub fn compare(&self, cases: &mut [MinerCase]) {
        let members: Vec<MemberReports<'_>> = cases
            .iter()
            .map(|case| MemberReports {
                hotkey: &case.miner.hotkey,
                coldkey: &case.miner.coldkey,
                credibility: self.credibility.of(&case.miner.hotkey),
                groups: case.groups.clone(),
                listings: &case.inspection.listings,
                convicted: case.caught(),
            })
            .collect();
        let findings = judge_groups(&members, self.groups.groups.len(), self.settings, &parse_iso8601);
        for (case, finding) in cases.iter_mut().zip(findings) {
            let inspection = &mut case.inspection;
            match self.mode {
                ValidationMode::Both => inspection.notes.extend(
                    finding.lies().into_iter().map(|why| format!("accused by consensus, checked at the source: {why}")),
                ),
                _ => inspection.lies.extend(finding.lies()),
            }
            case.finding = Some(finding);
        }
    }
}

/// Moves every miner's credibility by its agreement in this epoch (0 for a liar) and returns each one's report.
pub fn reports(
    terms: &EpochTerms,
    cases: &[MinerCase],
    verdicts: &[Verdict],
    credibility: &mut CredibilityBook,
) -> Vec<ConsensusReport> {
    let none = MinerConsensus::default();
    cases
        .iter()
        .zip(verdicts)
        .map(|(case, verdict)| {
            let (finding, hotkey) = (case.finding.as_ref().unwrap_or(&none), &case.miner.hotkey);
            let liar = matches!(verdict, Verdict::Liar { .. });
            match finding.agreement_rate() {
                Some(rate) => credibility.update(hotkey, terms.start_ms, if liar { 0.0 } else { rate }),
                None if liar => credibility.update(hotkey, terms.start_ms, 0.0),
                None => {}
            }
            report(finding, case, credibility.of(hotkey))
        })
        .collect()
}

/// The consensus part of a miner's published verdict.
fn report(finding: &MinerConsensus, case: &MinerCase, credibility: f64) -> ConsensusReport {
    let mut tally = SpotCheckTally::default();
    let outcomes = &case.checks;
    for (_, outcome) in outcomes {
        match outcome {
            SpotCheck::Confirmed => tally.confirmed += 1,
            SpotCheck::Refuted { .. } => tally.refuted += 1,
            SpotCheck::Unavailable { .. } => tally.unavailable += 1,
        }
    }
    tally.checked = outcomes.len();
    ConsensusReport {
        groups: case.groups.clone(),
        agreement_rate: finding.agreement_rate(),
        compared: finding.compared,
        agreed: finding.agreed,
        contradicted: finding.contradicted.iter().map(|c| c.listing_id.clone()).collect(),
        disputed: finding.disputed.len() + finding.moved.len(),
        uncorroborated: finding.uncorroborated.len(),
        credibility,
        flags: case.flags.clone(),
        spot_checks: tally,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::validator::case::Miner;
    use crate::domain::judging::validation::Inspection;

    fn case(n: usize, groups: Vec<usize>) -> MinerCase {
        let hotkey = format!("hk{n}");
        MinerCase {
            miner: Miner { uid: n as u16, hotkey: hotkey.clone(), coldkey: hotkey.clone() },
            terms: EpochTerms {
                epoch: "2025-10-01T16-00-00".parse().unwrap(),
                nonce: "00112233aabbccdd".parse().unwrap(),
                start_ms: 0,
                end_ms: 1,
                tolerance_percent: 10,
                expected: BTreeMap::new(),
            },
            groups,
            files: 0,
            inspection: Inspection {
                uid: n as u16,
                hotkey,
                lies: Vec::new(),
                notes: Vec::new(),
                counts: BTreeMap::new(),
                listings: Vec::new(),
                last_upload_ms: None,
            },
            flags: Vec::new(),
            finding: Some(MinerConsensus::default()),
            checks: Vec::new(),
        }
    }

    #[test]
    fn the_group_that_accused_a_miner_the_source_cleared_gets_a_second_look() {
        // hk0, hk1 and hk2 worked group 0, hk3 group 1. Consensus accused hk0 of work nobody corroborates.
        let mut cases = vec![case(0, vec![0]), case(1, vec![0]), case(2, vec![0]), case(3, vec![1])];
        let accused = cases[0].finding.as_mut().unwrap();
        accused.outweighed = true;
        accused.uncorroborated = (0..20).map(|n| format!("l{n}")).collect();
        assert!(!accused.lies().is_empty());
        cases[0].checks = vec![("l0".to_string(), SpotCheck::Confirmed), ("l1".to_string(), SpotCheck::Confirmed)];
        cases[2].inspection.lies.push("already caught".into());

        let looks = second_looks(&cases);
        let sampled: Vec<usize> = looks.iter().map(|(m, _)| *m).collect();
        assert_eq!(sampled, [1], "its groupmates not yet caught, not the other group: {looks:?}");
        assert!(looks[0].1.contains("accused hk0, whom the source cleared"), "{looks:?}");

        // A refuted check confirms the accusation: nobody else is looked at.
        cases[0].checks.push(("l2".into(), SpotCheck::Refuted { reason: "no such listing".into() }));
        assert!(second_looks(&cases).is_empty());
        // Nothing checked clears nobody.
        cases[0].checks.clear();
        assert!(second_looks(&cases).is_empty());
    }
}

//! One epoch's judgement as named stages over one [`MinerCase`] per miner: [`EpochJudging::admit`] inspects a
//! miner's files against its own terms, [`EpochJudging::follow`] looks for copying, [`EpochJudging::compare`]
//! compares each `groups` epoch's groups, [`EpochJudging::first_checks`] and [`EpochJudging::second_checks`] say
//! which listings to check at the source (the caller checks them, async or not, and hands the outcomes to
//! [`EpochJudging::record_checks`]), and [`EpochJudging::settle`] turns the cases into verdicts, weights and
//! credibility. Pure and synchronous: `zipcoord validator` runs it on blocking threads, and the judging
//! simulator drives the same stages over thousands of simulated epochs.

use std::collections::BTreeMap;

use crate::api::{parse_iso8601, EpochGroupsBody, MinerResult};
use crate::client::validator::case::{Miner, MinerCase};
use crate::client::validator::credibility::CredibilityBook;
use crate::client::validator::group_judging::{self, ValidationMode};
use crate::domain::epoch::zipcode::Zipcode;
use crate::domain::judging::consensus::ConsensusSettings;
use crate::domain::judging::deliveries::{honest_deliveries, Deliveries};
use crate::domain::judging::following::{following_flags, habitual_following, Uploads};
use crate::domain::judging::listing::Listing;
use crate::domain::judging::scoring::{allocate, Evaluation, RewardSplit, Verdict};
use crate::domain::judging::validation::{
    inspect, record_spot_checks, spot_check_sample, verdict, EpochTerms, SpotCheck, Submission,
};

/// How an epoch is judged: the part of the validator's settings the stages read.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgingRules {
    /// How listings are checked in `groups` epochs (`shared` epochs are always spot-checked).
    pub validation: ValidationMode,
    /// Listings spot-checked per miner (sampled).
    pub spot_checks: usize,
    pub consensus: ConsensusSettings,
    pub split: RewardSplit,
}

/// Listings of one case to check at their source, each with its zipcode's expected listings.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRequest {
    pub case: usize,
    pub listings: Vec<(Listing, u32)>,
    /// Why these listings are checked, when it is worth a note in the verdict.
    pub why: Option<String>,
}

/// The outcomes of one [`CheckRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOutcomes {
    pub case: usize,
    pub outcomes: Vec<(String, SpotCheck)>,
    pub why: Option<String>,
}

/// The end of judging: every case with its verdict, and the weights by uid.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    pub results: Vec<MinerResult>,
    pub weights: BTreeMap<u16, f64>,
    /// Per zipcode of the epoch, what the miners judged honest delivered.
    pub deliveries: BTreeMap<Zipcode, Deliveries>,
}

/// One epoch being judged.
#[derive(Debug, Clone)]
pub struct EpochJudging {
    terms: EpochTerms,
    groups: Option<EpochGroupsBody>,
    rules: JudgingRules,
    pub cases: Vec<MinerCase>,
}

/// Why a miner with no counted listing is absent, in its verdict's reasons so its operator need not guess.
fn absence_reason(files: usize) -> String {
    match files {
        0 => "nothing uploaded in its folder for this epoch".to_string(),
        n => format!("none of its {n} files held a listing counted for this epoch (see notes)"),
    }
}

/// Whether anything stood behind a miner's work in a compared `groups` epoch: its group agreed with at least
/// half its listings, or the source confirmed what was checked and refuted nothing.
fn corroborated(case: &MinerCase) -> bool {
    let agreed = case.finding.as_ref().map_or(0, |f| f.agreed);
    2 * agreed >= case.inspection.listings.len().max(1) || case.cleared_by_source()
}

impl EpochJudging {
    /// Judging of the epoch with `terms`; `groups` for a `groups` epoch.
    pub fn new(terms: EpochTerms, groups: Option<EpochGroupsBody>, rules: JudgingRules) -> Self {
        EpochJudging { terms, groups, rules, cases: Vec::new() }
    }

    pub fn terms(&self) -> &EpochTerms {
        &self.terms
    }

    /// How listings are checked in this epoch: `shared` epochs are spot-checked whatever the setting.
    pub fn mode(&self) -> ValidationMode {
        if self.groups.is_some() {
            self.rules.validation
        } else {
            ValidationMode::SpotChecks
        }
    }

    /// The groups `groups` of the epoch's miners work for are its business: the caller names them
    /// ([`group_judging::groups_of`]). Opens `miner`'s case: its files inspected against its own terms.
    pub fn admit(&mut self, miner: Miner, groups: Vec<usize>, submission: &Submission) {
        let case = self.open_case(miner, groups, submission);
        self.cases.push(case);
    }

    /// [`EpochJudging::admit`] for many miners at once, inspected on `threads` threads; the cases keep the
    /// order of `miners`.
    pub fn admit_all(&mut self, miners: Vec<(Miner, Vec<usize>, Submission)>, threads: usize) {
        let chunk = miners.len().div_ceil(threads.max(1)).max(1);
        let this = &*self;
        let opened: Vec<Vec<MinerCase>> = std::thread::scope(|scope| {
            let workers: Vec<_> = miners
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter().map(|(m, g, s)| this.open_case(m.clone(), g.clone(), s)).collect::<Vec<_>>()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().expect("inspection does not panic")).collect()
        });
        self.cases.extend(opened.into_iter().flatten());
    }

    fn open_case(&self, miner: Miner, groups: Vec<usize>, submission: &Submission) -> MinerCase {
        let terms = match &self.groups {
            Some(body) => group_judging::terms_of(&self.terms, body, &groups),
            None => self.terms.clone(),
        };
        let inspection = inspect(submission, &terms, &parse_iso8601);
        let files = submission.files.len();
        let (flags, finding, checks) = (Vec::new(), None, Vec::new());
        MinerCase { miner, terms, groups, files, inspection, flags, finding, checks }
    }

    /// Copying: each miner's following of another operator in this epoch flags it; following in
    /// [`crate::domain::judging::following::HABITUAL_FOLLOWING`] of its recent epochs (as `memory` recalls
    /// them) convicts it. Following is behaviour, not data: the source would confirm a copy.
    pub fn follow(&mut self, memory: &CredibilityBook) {
        let members: Vec<Uploads<'_>> = self
            .cases
            .iter()
            .map(|c| Uploads {
                hotkey: &c.miner.hotkey,
                coldkey: &c.miner.coldkey,
                groups: &c.groups,
                listings: &c.inspection.listings,
            })
            .collect();
        let (start_ms, length_ms) = (self.terms.start_ms, self.terms.end_ms - self.terms.start_ms);
        let flags = following_flags(&members, length_ms, &parse_iso8601);
        for (case, flags) in self.cases.iter_mut().zip(flags) {
            let before = memory.followed_before(&case.miner.hotkey, start_ms, length_ms);
            case.inspection.lies.extend(habitual_following(!flags.is_empty(), before));
            case.inspection.notes.extend(flags.iter().map(|flag| format!("flagged: {flag}")));
            case.flags = flags;
        }
    }

    /// In a `groups` epoch validated by comparison, compares every group and adds what it finds to the cases.
    pub fn compare(&mut self, credibility: &CredibilityBook) {
        let Some(body) = self.groups.as_ref().filter(|_| self.rules.validation.compares()) else { return };
        let comparison = group_judging::Comparison {
            groups: body,
            credibility,
            mode: self.rules.validation,
            settings: &self.rules.consensus,
        };
        comparison.compare(&mut self.cases);
    }

    fn request(&self, case: usize, listings: Vec<&Listing>, why: Option<String>) -> Option<CheckRequest> {
        let terms = &self.cases[case].terms;
        let expected = |l: &Listing| l.zipcode.parse::<Zipcode>().ok().and_then(|z| terms.expected.get(&z).copied());
        let listings: Vec<(Listing, u32)> =
            listings.into_iter().map(|l| (l.clone(), expected(l).unwrap_or(0))).collect();
        (!listings.is_empty()).then_some(CheckRequest { case, listings, why })
    }

    /// The listings to check at the source first, per miner not already caught.
    pub fn first_checks(&self) -> Vec<CheckRequest> {
        let mode = self.mode();
        (0..self.cases.len())
            .filter(|&c| !self.cases[c].caught())
            .filter_map(|c| {
                let chosen = group_judging::listings_to_check(&self.cases[c], mode, self.rules.spot_checks);
                self.request(c, chosen, None)
            })
            .collect()
    }

    /// Adds checks' outcomes to their cases: one refuted listing makes a liar.
    pub fn record_checks(&mut self, outcomes: Vec<CheckOutcomes>) {
        for CheckOutcomes { case, outcomes, why } in outcomes {
            let case = &mut self.cases[case];
            case.inspection.notes.extend(why);
            record_spot_checks(&mut case.inspection, &outcomes);
            case.checks.extend(outcomes);
        }
    }

    /// In `both` mode, after the first checks: the groupmates of a miner consensus accused and the source
    /// cleared, sampled at the source (see [`group_judging::second_looks`]).
    pub fn second_checks(&self) -> Vec<CheckRequest> {
        if self.mode() != ValidationMode::Both || self.groups.is_none() {
            return Vec::new();
        }
        group_judging::second_looks(&self.cases)
            .into_iter()
            .filter_map(|(c, why)| {
                let case = &self.cases[c];
                let checked = case.checked();
                let sample = spot_check_sample(&case.inspection, &case.terms, self.rules.spot_checks);
                let chosen = sample.into_iter().filter(|l| !checked.contains(l.listing_id.as_str())).collect();
                self.request(c, chosen, Some(why))
            })
            .collect()
    }

    /// Verdicts, weights and (in a compared `groups` epoch) each miner's consensus report, moving
    /// `credibility` by this epoch's agreement.
    pub fn settle(mut self, credibility: &mut CredibilityBook) -> Settled {
        let verdicts: Vec<Verdict> = self.cases.iter().map(|c| verdict(&c.inspection, &c.terms)).collect();
        let (start_ms, length_ms) = (self.terms.start_ms, self.terms.end_ms - self.terms.start_ms);
        for case in self.cases.iter().filter(|c| !c.flags.is_empty()) {
            credibility.note_followed(&case.miner.hotkey, start_ms, length_ms);
        }
        let compared = self.groups.is_some() && self.rules.validation.compares();
        let reports: Vec<_> = if compared {
            group_judging::reports(&self.terms, &self.cases, &verdicts, credibility).into_iter().map(Some).collect()
        } else {
            vec![None; self.cases.len()]
        };
        let evaluations: Vec<Evaluation> = self
            .cases
            .iter_mut()
            .zip(&verdicts)
            .map(|(case, verdict)| {
                // Work on nobody's word, or that may be another operator's (flagged for following), takes no top
                // share this epoch; neither convicts.
                let on_its_word = compared && !corroborated(case);
                let confirmed = !on_its_word && case.flags.is_empty();
                if matches!(verdict, Verdict::Honest { .. }) && on_its_word {
                    case.inspection.notes.push(
                        "unconfirmed: too few of its listings were corroborated by its group or checked at the \
                         source, so it shares the remainder and takes no top share"
                            .to_string(),
                    );
                } else if matches!(verdict, Verdict::Honest { .. }) && !confirmed {
                    case.inspection.notes.push(
                        "flagged for following: its work may be another operator's, so this epoch it shares the \
                         remainder and takes no top share"
                            .to_string(),
                    );
                }
                Evaluation { uid: case.miner.uid, verdict: verdict.clone(), confirmed }
            })
            .collect();
        let weights: BTreeMap<u16, f64> = allocate(&evaluations, &self.rules.split).into_iter().collect();
        let honest = self.cases.iter().zip(&verdicts).filter(|(_, v)| matches!(v, Verdict::Honest { .. }));
        let deliveries = honest_deliveries(self.terms.expected.keys().copied(), honest.map(|(c, _)| &c.inspection));
        let results = self
            .cases
            .into_iter()
            .zip(verdicts)
            .zip(reports)
            .map(|((case, verdict), consensus)| {
                let (quality, heuristic, reasons) = match &verdict {
                    Verdict::Honest { quality, heuristic } => (*quality, *heuristic, Vec::new()),
                    Verdict::Liar { .. } => (0.0, 0.0, case.inspection.lies.clone()),
                    Verdict::Absent => (0.0, 0.0, vec![absence_reason(case.files)]),
                };
                MinerResult {
                    uid: case.miner.uid,
                    hotkey: case.miner.hotkey,
                    verdict: verdict.kind(),
                    quality,
                    heuristic,
                    listings: case.inspection.counts.values().sum(),
                    files: case.files,
                    weight: weights.get(&case.miner.uid).copied().unwrap_or(0.0),
                    reasons,
                    notes: case.inspection.notes,
                    consensus,
                }
            })
            .collect();
        Settled { results, weights, deliveries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{iso8601_millis, GroupBody};
    use crate::client::synthetic;
    use crate::domain::judging::listing::ListingFile;
    use crate::domain::judging::validation::StoredFile;

    const EPOCH: &str = "2026-01-01T00-00-00";
    const START: i64 = 1_767_225_600_000;
    const ZIPCODES: [&str; 3] = ["10001", "10002", "10003"];

    /// `hotkey`'s files: each zipcode's real listings, scraped at `at(z)` and uploaded a second later.
    fn submission(uid: u16, hotkey: &str, at: impl Fn(usize) -> i64) -> Submission {
        let files = ZIPCODES
            .iter()
            .enumerate()
            .map(|(z, zipcode)| {
                let stamp = iso8601_millis(START + at(z));
                StoredFile {
                    key: format!("epoch={EPOCH}/zipcode={zipcode}/data.json"),
                    uploaded_at_ms: START + at(z) + 1_000,
                    content: Some(ListingFile {
                        epoch_id: EPOCH.into(),
                        nonce: "00112233aabbccdd".into(),
                        hotkey: hotkey.into(),
                        zipcode: zipcode.to_string(),
                        scraped_at: stamp.clone(),
                        listings: synthetic::market(zipcode, "Simulated", "CA", 20, &stamp),
                    }),
                }
            })
            .collect();
        Submission { uid, hotkey: hotkey.into(), files, unread: Vec::new() }
    }

    /// Two groups: group 0 of `members`, group 1 of `alone` (its only member who uploads).
    fn judging(validation: ValidationMode, members: &[&str], alone: &[&str]) -> EpochJudging {
        let terms = EpochTerms {
            epoch: EPOCH.parse().unwrap(),
            nonce: "00112233aabbccdd".parse().unwrap(),
            start_ms: START,
            end_ms: START + 4 * 3_600_000,
            tolerance_percent: 10,
            expected: ZIPCODES.iter().map(|z| (z.parse().unwrap(), 20)).collect(),
        };
        let group = |id: usize, members: &[&str]| GroupBody {
            id,
            zipcodes: ZIPCODES.iter().map(|z| z.to_string()).collect(),
            expected_listings: 60,
            members: members.iter().map(|m| m.to_string()).collect(),
        };
        let body = EpochGroupsBody {
            group_size: 5,
            overlap: 1,
            groups: vec![group(0, members), group(1, alone)],
            shared_coldkeys: Vec::new(),
            refilled_batches: 0,
            late_joiners: String::new(),
        };
        let rules = JudgingRules {
            validation,
            spot_checks: 5,
            consensus: ConsensusSettings::default(),
            split: RewardSplit::default(),
        };
        EpochJudging::new(terms, Some(body), rules)
    }

    fn miner(uid: u16, hotkey: &str) -> Miner {
        Miner { uid, hotkey: hotkey.into(), coldkey: format!("cold-{hotkey}") }
    }

    fn result<'a>(settled: &'a Settled, hotkey: &str) -> &'a MinerResult {
        settled.results.iter().find(|r| r.hotkey == hotkey).unwrap()
    }

    #[test]
    fn work_nobody_could_compare_and_a_flagged_follower_take_no_top_share() {
        let mut judging = judging(ValidationMode::Consensus, &["a", "b", "c", "d"], &["lonely"]);
        // a, b and c scrape on their own clocks; d uploads a's files a second after a, a's stamps kept.
        for (uid, hotkey, offset) in [(0, "a", 0), (1, "b", 700_000), (2, "c", 1_500_000)] {
            let at = move |z: usize| offset + z as i64 * 300_000;
            judging.admit(miner(uid, hotkey), vec![0], &submission(uid, hotkey, at));
        }
        let mut copy = submission(3, "d", |z| z as i64 * 300_000);
        for file in &mut copy.files {
            file.uploaded_at_ms += 1_000;
            file.content.as_mut().unwrap().hotkey = "d".into();
        }
        judging.admit(miner(3, "d"), vec![0], &copy);
        // The fastest of all, alone in its group: nobody could compare its work.
        judging.admit(miner(4, "lonely"), vec![1], &submission(4, "lonely", |z| z as i64 * 1_000));
        let mut credibility = CredibilityBook::default();
        judging.follow(&credibility);
        judging.compare(&credibility);
        let settled = judging.settle(&mut credibility);

        let (lonely, copier) = (result(&settled, "lonely"), result(&settled, "d"));
        assert_eq!((lonely.verdict.as_str(), copier.verdict.as_str()), ("honest", "honest"), "neither convicted");
        let rest = RewardSplit::default().rest;
        assert!(lonely.weight > 0.0 && lonely.weight < rest, "{lonely:?}");
        assert!(lonely.notes.iter().any(|n| n.starts_with("unconfirmed")), "{:?}", lonely.notes);
        assert!(copier.weight > 0.0 && copier.weight < rest, "{copier:?}");
        assert!(copier.notes.iter().any(|n| n.starts_with("flagged for following")), "{:?}", copier.notes);
        let top: Vec<&str> = settled.results.iter().filter(|r| r.weight >= 0.15).map(|r| r.hotkey.as_str()).collect();
        assert_eq!(top, ["a", "b", "c"], "the top shares go to work its group confirmed");
        // What honest miners delivered, uncapped and unshared: each zipcode's 20 listings, once in the total.
        for zipcode in ZIPCODES {
            let delivered = &settled.deliveries[&zipcode.parse().unwrap()];
            assert_eq!(delivered.total, 20, "{zipcode}");
            assert_eq!(delivered.by_miner.keys().collect::<Vec<_>>(), ["a", "b", "c", "d", "lonely"]);
            assert!(delivered.by_miner.values().all(|&n| n == 20));
        }
    }

    #[test]
    fn judging_an_epoch_again_moves_credibility_and_flags_once() {
        let mut judging = judging(ValidationMode::Both, &["a", "b", "c", "d"], &[]);
        for (uid, hotkey, offset) in [(0, "a", 0), (1, "b", 700_000), (2, "c", 1_500_000), (3, "d", 2_100_000)] {
            let at = move |z: usize| offset + z as i64 * 300_000;
            judging.admit(miner(uid, hotkey), vec![0], &submission(uid, hotkey, at));
        }
        let mut credibility = CredibilityBook::default();
        judging.follow(&credibility);
        judging.compare(&credibility);
        let again = judging.clone();
        judging.settle(&mut credibility);
        let once = credibility.clone();
        again.settle(&mut credibility);
        assert_eq!(credibility, once, "a restart that judges the epoch again changes nothing");
        assert!(credibility.of("a") > 0.5);
    }
}

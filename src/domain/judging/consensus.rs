//! Consensus across a group's reports of one listing, for the validators' `consensus` mode (issue #16): whether
//! two reports agree (normalized fields within tolerances), which version of a listing the group stands behind
//! (credibility-weighted, each coldkey one voice), who is clearly contradicted by other operators and where the
//! group is split and spot checks should go, and each miner's credibility carried from epoch to epoch.
//!
//! A coldkey votes once per version of a listing, with the highest credibility among its miners: two hotkeys of
//! one operator repeating each other add nothing, which is what a sybil pair would count on.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::judging::listing::Listing;

/// When two reports of a listing are the same listing, and when a group's majority is clear.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConsensusSettings {
    /// Prices (and living areas) agree within this share of the larger one: listings move between scrapes.
    pub price_tolerance: f64,
    pub area_tolerance: f64,
    /// The share of the voting weight the heaviest version needs to be the consensus.
    pub threshold: f64,
    /// Distinct coldkeys that must have voted before anyone can be called contradicted.
    pub min_voters: usize,
}

impl Default for ConsensusSettings {
    fn default() -> Self {
        ConsensusSettings { price_tolerance: 0.02, area_tolerance: 0.02, threshold: 0.6, min_voters: 3 }
    }
}

/// A field two reports of one listing disagree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    Price,
    Bedrooms,
    Bathrooms,
    LivingArea,
    Address,
    PropertyType,
}

/// Lowercase words of an address with punctuation dropped and the usual street words abbreviated, so that
/// "123 North Main Street, Apt. 4" and "123 N Main St Apt 4" are the same.
pub fn normalize_address(address: &str) -> String {
    const SHORT: &[(&str, &str)] = &[
        ("street", "st"),
        ("avenue", "ave"),
        ("road", "rd"),
        ("drive", "dr"),
        ("boulevard", "blvd"),
        ("lane", "ln"),
        ("court", "ct"),
        ("place", "pl"),
        ("terrace", "ter"),
        ("highway", "hwy"),
        ("parkway", "pkwy"),
        ("circle", "cir"),
        ("apartment", "apt"),
        ("suite", "ste"),
        ("north", "n"),
        ("south", "s"),
        ("east", "e"),
        ("west", "w"),
        ("unit", "#"),
    ];
    let cleaned: String =
        address.chars().map(|c| if c.is_alphanumeric() || c == '#' { c.to_ascii_lowercase() } else { ' ' }).collect();
    let words: Vec<&str> = cleaned
        .split_whitespace()
        .map(|word| SHORT.iter().find(|(long, _)| *long == word).map_or(word, |(_, short)| short))
        .collect();
    words.join(" ")
}

fn normalize_type(property_type: &str) -> String {
    property_type.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

fn within(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * a.abs().max(b.abs())
}

/// The fields on which two reports of one listing disagree (empty: they agree).
pub fn differences(a: &Listing, b: &Listing, settings: &ConsensusSettings) -> Vec<Field> {
    let mut fields = Vec::new();
    if !within(a.price as f64, b.price as f64, settings.price_tolerance) {
        fields.push(Field::Price);
    }
    if a.bedrooms != b.bedrooms {
        fields.push(Field::Bedrooms);
    }
    if (a.bathrooms - b.bathrooms).abs() > 0.01 {
        fields.push(Field::Bathrooms);
    }
    if !within(f64::from(a.living_area_sqft), f64::from(b.living_area_sqft), settings.area_tolerance) {
        fields.push(Field::LivingArea);
    }
    // Identical text needs no normalizing (the common case, and normalizing allocates).
    if a.address != b.address && normalize_address(&a.address) != normalize_address(&b.address) {
        fields.push(Field::Address);
    }
    if a.property_type != b.property_type && normalize_type(&a.property_type) != normalize_type(&b.property_type) {
        fields.push(Field::PropertyType);
    }
    fields
}

/// One member's report of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Vote<'a> {
    /// The member (a uid, or an index the caller keeps).
    pub miner: u32,
    pub coldkey: &'a str,
    /// The miner's credibility, 0 to 1.
    pub credibility: f64,
    pub listing: &'a Listing,
    /// When the listing says it was scraped (Unix ms); `None` when unreadable.
    pub scraped_ms: Option<i64>,
}

/// What the group's reports of one listing say about each member.
#[derive(Debug, Clone, PartialEq)]
pub enum ListingConsensus {
    /// A clear majority: who agreed with it, who was contradicted by members of other coldkeys (with the
    /// fields they got wrong), and who differs on the price alone at a moment the market may have moved (see
    /// [`moved_between_scrapes`]).
    Clear { agreed: Vec<u32>, contradicted: Vec<(u32, Vec<Field>)>, moved: Vec<u32>, share: f64 },
    /// No clear majority (too few coldkeys voted, or the heaviest version is short of the threshold): the
    /// listing is a spot check's to decide.
    Disputed { voters: usize, share: f64 },
}

/// The smallest weight a vote carries, so that a miner new to the validator still counts.
const MIN_VOTE_WEIGHT: f64 = 0.05;

/// Judges one listing reported by two or more members of a group. Reports are put into versions (a report
/// joins the first version, in miner order, whose first report it agrees with); a version weighs the sum over
/// its coldkeys of each coldkey's highest credibility.
pub fn judge_listing(votes: &[Vote<'_>], settings: &ConsensusSettings) -> ListingConsensus {
    let mut votes: Vec<&Vote<'_>> = votes.iter().collect();
    votes.sort_by_key(|vote| vote.miner);
    let mut versions: Vec<Vec<&Vote<'_>>> = Vec::new();
    for vote in votes {
        match versions.iter_mut().find(|version| differences(version[0].listing, vote.listing, settings).is_empty()) {
            Some(version) => version.push(vote),
            None => versions.push(vec![vote]),
        }
    }
    let weight = |version: &[&Vote<'_>]| -> f64 {
        let mut per_coldkey: BTreeMap<&str, f64> = BTreeMap::new();
        for vote in version {
            let credibility = vote.credibility.clamp(MIN_VOTE_WEIGHT, 1.0);
            let best = per_coldkey.entry(vote.coldkey).or_insert(0.0);
            *best = best.max(credibility);
        }
        per_coldkey.values().sum()
    };
    let weights: Vec<f64> = versions.iter().map(|v| weight(v)).collect();
    let total: f64 = weights.iter().sum();
    // The heaviest version; on a tie the first in miner order, which the threshold then rules out anyway.
    let (best, best_weight) =
        weights.iter().enumerate().fold((0, f64::MIN), |(i, w), (j, &x)| if x > w { (j, x) } else { (i, w) });
    let share = if total > 0.0 { best_weight / total } else { 0.0 };
    let voters: BTreeSet<&str> = versions.iter().flatten().map(|vote| vote.coldkey).collect();
    if voters.len() < settings.min_voters || share < settings.threshold {
        return ListingConsensus::Disputed { voters: voters.len(), share };
    }
    let majority = &versions[best];
    let agreed = majority.iter().map(|vote| vote.miner).collect();
    let (mut contradicted, mut moved) = (Vec::new(), Vec::new());
    let outvoted = versions.iter().enumerate().filter(|(index, _)| *index != best).flat_map(|(_, version)| version);
    for vote in outvoted {
        // Contradicted by other operators only: with the miner's own coldkey, enough coldkeys to make the
        // minimum number of voters must stand in the majority without it.
        let others: BTreeSet<&str> =
            majority.iter().map(|v| v.coldkey).filter(|coldkey| *coldkey != vote.coldkey).collect();
        if others.len() + 1 >= settings.min_voters {
            let fields = differences(majority[0].listing, vote.listing, settings);
            if moved_between_scrapes(&fields, vote, majority) {
                moved.push(vote.miner);
            } else {
                contradicted.push((vote.miner, fields));
            }
        }
    }
    ListingConsensus::Clear { agreed, contradicted, moved, share }
}

/// How far apart two scrape stamps may be and still count as the same moment (whole-second stamps).
const SAME_MOMENT_MS: i64 = 1_000;

/// Whether a report that differs from the majority on `fields` can be an honest scrape of a listing that
/// changed: prices move (a cut, a raise), rooms and addresses do not, and a change happens once, so the report
/// must stand before every majority report or after every one. An old price scraped after the new one was
/// reported (or the reverse) is no market's doing.
pub fn moved_between_scrapes(fields: &[Field], vote: &Vote<'_>, majority: &[&Vote<'_>]) -> bool {
    let Some(at) = vote.scraped_ms.filter(|_| fields == [Field::Price]) else { return false };
    let times: Option<Vec<i64>> = majority.iter().map(|v| v.scraped_ms).collect();
    let Some(times) = times else { return false };
    times.iter().all(|&t| t <= at + SAME_MOMENT_MS) || times.iter().all(|&t| t >= at - SAME_MOMENT_MS)
}

/// A miner's credibility after an epoch: an exponential moving average of its agreement rate (`alpha` the
/// weight of the new epoch), starting from [`NEUTRAL_CREDIBILITY`]. Credibility only weighs votes; it never
/// pays a miner that a check caught lying.
pub fn next_credibility(previous: Option<f64>, agreement_rate: f64, alpha: f64) -> f64 {
    // A value that is not a number (a corrupt state file, an empty epoch's 0/0) counts as none.
    let unit = |value: f64, otherwise: f64| if value.is_finite() { value.clamp(0.0, 1.0) } else { otherwise };
    let previous = unit(previous.unwrap_or(NEUTRAL_CREDIBILITY), NEUTRAL_CREDIBILITY);
    let alpha = unit(alpha, 0.0);
    (1.0 - alpha) * previous + alpha * unit(agreement_rate, 0.0)
}

/// Where every miner starts.
pub const NEUTRAL_CREDIBILITY: f64 = 0.5;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::judging::listing::tests::listing;
    use proptest::prelude::*;

    fn vote<'a>(miner: u32, coldkey: &'a str, listing: &'a Listing) -> Vote<'a> {
        Vote { miner, coldkey, credibility: NEUTRAL_CREDIBILITY, listing, scraped_ms: None }
    }

    fn shaded(base: &Listing, factor: f64) -> Listing {
        Listing { price: (base.price as f64 * factor) as u64, ..base.clone() }
    }

    #[test]
    fn reports_of_one_listing_agree_across_spelling_and_small_moves() {
        let a = Listing {
            address: "123 North Main Street, Apt. 4".into(),
            property_type: "SINGLE_FAMILY".into(),
            ..listing("1", "10001")
        };
        let b = Listing {
            address: "123 N Main St Apt 4".into(),
            property_type: "Single Family".into(),
            price: a.price + a.price / 100,
            ..a.clone()
        };
        assert_eq!(differences(&a, &b, &ConsensusSettings::default()), []);
        let shaded =
            Listing { price: a.price * 110 / 100, living_area_sqft: a.living_area_sqft * 90 / 100, ..a.clone() };
        assert_eq!(differences(&a, &shaded, &ConsensusSettings::default()), [Field::Price, Field::LivingArea]);
        let other = Listing { bedrooms: a.bedrooms + 1, address: "9 Elm Rd".into(), ..a.clone() };
        assert_eq!(differences(&a, &other, &ConsensusSettings::default()), [Field::Bedrooms, Field::Address]);
    }

    #[test]
    fn three_operators_outvote_a_shader_and_name_its_fields() {
        let honest = listing("1", "10001");
        let shader = shaded(&honest, 1.12);
        let votes = [vote(1, "a", &honest), vote(2, "b", &honest), vote(3, "c", &honest), vote(4, "d", &shader)];
        match judge_listing(&votes, &ConsensusSettings::default()) {
            ListingConsensus::Clear { agreed, contradicted, share, .. } => {
                assert_eq!(agreed, [1, 2, 3]);
                assert_eq!(contradicted, [(4, vec![Field::Price])]);
                assert!((share - 0.75).abs() < 1e-9);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_sybils_hotkeys_count_as_one_voice_and_are_all_contradicted() {
        let honest = listing("1", "10001");
        let invented = Listing { address: "1 Nowhere Ln".into(), ..shaded(&honest, 1.5) };
        // Two honest operators against one operator's three hotkeys: two voices to one, and all three of its
        // hotkeys contradicted by two other operators (three voters with their own).
        let votes = [
            vote(1, "a", &honest),
            vote(2, "b", &honest),
            vote(3, "s", &invented),
            vote(4, "s", &invented),
            vote(5, "s", &invented),
        ];
        match judge_listing(&votes, &ConsensusSettings::default()) {
            ListingConsensus::Clear { agreed, contradicted, .. } => {
                assert_eq!(agreed, [1, 2], "the honest version wins");
                let caught: Vec<u32> = contradicted.iter().map(|(miner, _)| *miner).collect();
                assert_eq!(caught, [3, 4, 5]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_price_that_moved_between_scrapes_is_no_contradiction_but_one_out_of_time_is() {
        let honest = listing("1", "10001");
        let cut = Listing { price: honest.price * 93 / 100, ..honest.clone() };
        let at = |mut vote: Vote<'static>, minute: i64| {
            vote.scraped_ms = Some(minute * 60_000);
            vote
        };
        let (honest, cut) = (Box::leak(Box::new(honest)), Box::leak(Box::new(cut)));
        // Three operators scraped before the cut, one after it: the market moved.
        let votes = [at(vote(1, "a", honest), 1), at(vote(2, "b", honest), 2), at(vote(3, "c", honest), 3)];
        let after = [votes[0].clone(), votes[1].clone(), votes[2].clone(), at(vote(4, "d", cut), 9)];
        match judge_listing(&after, &ConsensusSettings::default()) {
            ListingConsensus::Clear { contradicted, moved, .. } => assert_eq!((contradicted, moved), (vec![], vec![4])),
            other => panic!("{other:?}"),
        }
        // The old price scraped after the new one was reported is no move: contradicted.
        let between = [votes[0].clone(), votes[1].clone(), votes[2].clone(), at(vote(4, "d", cut), 2)];
        match judge_listing(&between, &ConsensusSettings::default()) {
            ListingConsensus::Clear { contradicted, moved, .. } => {
                assert_eq!((contradicted, moved), (vec![(4, vec![Field::Price])], vec![]))
            }
            other => panic!("{other:?}"),
        }
        // Areas do not move, whatever the times; unknown times explain nothing.
        let shaded = Box::leak(Box::new(Listing { living_area_sqft: honest.living_area_sqft * 2, ..cut.clone() }));
        let areas = [votes[0].clone(), votes[1].clone(), votes[2].clone(), at(vote(4, "d", shaded), 9)];
        assert!(matches!(judge_listing(&areas, &ConsensusSettings::default()),
            ListingConsensus::Clear { ref contradicted, .. } if contradicted.len() == 1));
        let unknown = [votes[0].clone(), votes[1].clone(), votes[2].clone(), vote(4, "d", cut)];
        assert!(matches!(judge_listing(&unknown, &ConsensusSettings::default()),
            ListingConsensus::Clear { ref contradicted, .. } if contradicted.len() == 1));
    }

    #[test]
    fn too_few_operators_or_an_even_split_is_disputed() {
        let honest = listing("1", "10001");
        let other = shaded(&honest, 0.8);
        let two = [vote(1, "a", &honest), vote(2, "b", &other)];
        assert!(matches!(
            judge_listing(&two, &ConsensusSettings::default()),
            ListingConsensus::Disputed { voters: 2, .. }
        ));
        let split = [vote(1, "a", &honest), vote(2, "b", &honest), vote(3, "c", &other), vote(4, "d", &other)];
        assert!(matches!(
            judge_listing(&split, &ConsensusSettings::default()),
            ListingConsensus::Disputed { voters: 4, .. }
        ));
        // Credibility breaks the split: a trusted pair outweighs a doubted one.
        let mut weighted = split.clone();
        weighted[0].credibility = 0.9;
        weighted[1].credibility = 0.9;
        weighted[2].credibility = 0.2;
        weighted[3].credibility = 0.2;
        assert!(matches!(judge_listing(&weighted, &ConsensusSettings::default()), ListingConsensus::Clear { .. }));
    }

    #[test]
    fn credibility_moves_towards_the_agreement_rate_from_neutral() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(next_credibility(None, 1.0, 0.2), 0.6));
        assert!(close(next_credibility(Some(0.6), 0.0, 0.2), 0.48));
        assert!(close(next_credibility(Some(2.0), 1.0, 1.0), 1.0));
        assert!(close(next_credibility(Some(f64::NAN), f64::NAN, 0.5), 0.25), "NaN is no credibility and no agreement");
    }

    proptest! {
        #[test]
        fn the_judgement_does_not_depend_on_the_order_votes_arrive_in(
            kinds in prop::collection::vec((0u8..3, 0u8..5, 0.0f64..1.0), 2..9), rotation in 0usize..9
        ) {
            let base = listing("1", "10001");
            let versions = [base.clone(), shaded(&base, 1.3), shaded(&base, 0.7)];
            let coldkeys = ["a", "b", "c", "d", "e"];
            let votes: Vec<Vote<'_>> = kinds
                .iter()
                .enumerate()
                .map(|(n, (version, coldkey, credibility))| Vote {
                    miner: n as u32,
                    coldkey: coldkeys[*coldkey as usize],
                    credibility: *credibility,
                    listing: &versions[*version as usize],
                    scraped_ms: Some(n as i64 * 60_000),
                })
                .collect();
            let mut turned = votes.clone();
            let by = rotation % turned.len();
            turned.rotate_left(by);
            let settings = ConsensusSettings::default();
            prop_assert_eq!(judge_listing(&votes, &settings), judge_listing(&turned, &settings));
        }

        #[test]
        fn nobody_is_contradicted_by_their_own_coldkey_alone(
            kinds in prop::collection::vec((0u8..2, 0u8..3), 2..9)
        ) {
            let base = listing("1", "10001");
            let versions = [base.clone(), shaded(&base, 1.3)];
            let coldkeys = ["a", "b", "c"];
            let votes: Vec<Vote<'_>> = kinds
                .iter()
                .enumerate()
                .map(|(n, (version, coldkey))| {
                    vote(n as u32, coldkeys[*coldkey as usize], &versions[*version as usize])
                })
                .collect();
            let settings = ConsensusSettings::default();
            if let ListingConsensus::Clear { agreed, contradicted, .. } = judge_listing(&votes, &settings) {
                for (miner, _) in contradicted {
                    let own = votes[miner as usize].coldkey;
                    let others: BTreeSet<&str> = agreed
                        .iter()
                        .map(|m| votes[*m as usize].coldkey)
                        .filter(|c| *c != own)
                        .collect();
                    prop_assert!(others.len() + 1 >= settings.min_voters);
                }
            }
        }
    }
}

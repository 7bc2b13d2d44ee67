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
        })
        .collect()
}

fn judge(reports: &[Vec<(Listing, i64)>], coldkeys: &[&str]) -> Vec<MinerConsensus> {
    judge_with(reports, coldkeys, &[NEUTRAL_CREDIBILITY; 6][..reports.len()])
}

fn judge_with(reports: &[Vec<(Listing, i64)>], coldkeys: &[&str], credibility: &[f64]) -> Vec<MinerConsensus> {
    let mut members = members(reports, coldkeys);
    for (member, &credibility) in members.iter_mut().zip(credibility) {
        member.credibility = credibility;
    }
    judge_groups(&members, 1, &ConsensusSettings::default(), &parse_iso8601)
}

#[test]
fn honest_members_agree_on_everything_and_nobody_is_called_a_liar() {
    let reports: Vec<_> = (0..5).map(|m| honest(m * 10)).collect();
    let findings = judge(&reports, &["a", "b", "c", "d", "e"]);
    for finding in &findings {
        assert_eq!((finding.compared, finding.agreed, finding.agreement_rate()), (20, 20, Some(1.0)));
        assert!(finding.lies().is_empty(), "{finding:?}");
        assert!(!finding.outweighed, "nobody stands against an honest member");
    }
}

#[test]
fn a_shader_is_contradicted_and_an_inventor_is_uncorroborated() {
    let mut reports: Vec<_> = (0..5).map(honest).collect();
    // The shader scraped amid its group (the minute of member 1): no market move explains its prices.
    reports[3] = honest(1);
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

    // Stamped after everyone else, its prices could be a market's moves, one by one; three in twenty is more
    // than a market moves.
    reports[3] = honest(9);
    for (l, _) in reports[3].iter_mut().step_by(7) {
        l.price = l.price * 110 / 100;
    }
    let findings = judge(&reports, &["a", "b", "c", "d", "e"]);
    let late = &findings[3];
    assert_eq!((late.compared, late.contradicted.len(), late.moved.len()), (17, 0, 3));
    assert!(late.lies()[0].contains("prices differ from its group's other operators on 3 of 20"), "{late:?}");
}

#[test]
fn an_honest_member_that_scraped_after_a_price_cut_is_not_contradicted() {
    let mut reports: Vec<_> = (0..5).map(honest).collect();
    // Two listings were cut between minutes 3 and 4: member 4 saw the new prices.
    for (l, _) in reports[4].iter_mut().take(2) {
        l.price = l.price * 95 / 100;
    }
    let findings = judge(&reports, &["a", "b", "c", "d", "e"]);
    assert_eq!((findings[4].contradicted.len(), findings[4].moved.len(), findings[4].agreed), (0, 2, 18));
    assert!(findings.iter().all(|f| f.lies().is_empty()), "{findings:?}");
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
    let count = |members: &[MemberReports<'_>]| judge_groups(members, 1, &ConsensusSettings::default(), &parse_iso8601);
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

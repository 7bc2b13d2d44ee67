use super::*;
use crate::domain::instant::{iso8601_millis, parse_iso8601};
use crate::domain::judging::listing::tests::listing;

const START: i64 = 1_759_334_400_000;
const FOUR_HOURS: i64 = 4 * 3_600_000;
const ZIPCODES: [&str; 4] = ["02134", "60601", "10001", "94103"];

/// Five listings in each zipcode; zipcode `z` scraped at `scraped(z)` and uploaded at `uploaded(z)` (ms into the
/// epoch).
fn batches(scraped: impl Fn(usize) -> i64, uploaded: impl Fn(usize) -> i64) -> Vec<(Listing, i64)> {
    let mut listings = Vec::new();
    for (z, zipcode) in ZIPCODES.iter().enumerate() {
        for n in 0..5 {
            let mut l = listing(&format!("{zipcode}-{n}"), zipcode);
            l.price = 200_000 + n * 10_000;
            l.scraped_at = iso8601_millis(START + scraped(z));
            listings.push((l, START + uploaded(z)));
        }
    }
    listings
}

fn flags(reports: &[Vec<(Listing, i64)>]) -> Vec<Vec<String>> {
    let hotkeys = ["hk0", "hk1", "hk2", "hk3"];
    let coldkeys = ["a", "b", "c", "d"];
    let groups = [0usize];
    let members: Vec<Uploads<'_>> = reports
        .iter()
        .enumerate()
        .map(|(n, listings)| Uploads { hotkey: hotkeys[n], coldkey: coldkeys[n], groups: &groups, listings })
        .collect();
    following_flags(&members, FOUR_HOURS, &parse_iso8601)
}

/// A scraper working its zipcodes one after another from `start` (ms), `pace` ms each, stamping whole seconds.
fn scraper(start: i64, pace: i64) -> Vec<(Listing, i64)> {
    let done = move |z: usize| start + pace * (z as i64 + 1);
    batches(move |z| done(z) / 1_000 * 1_000, move |z| done(z) + 300)
}

#[test]
fn a_shared_whole_second_stamp_in_one_zipcode_is_coincidence() {
    // Two honest scrapers stamping whole seconds finish their first zipcode in the same second, then part.
    let first = scraper(15_000, 60_000);
    let second = scraper(200, 75_000);
    assert_eq!(first[0].0.scraped_at, second[0].0.scraped_at, "the same stamp in zipcode 1");
    assert_ne!(first[5].0.scraped_at, second[5].0.scraped_at);
    assert!(flags(&[first, second]).iter().all(Vec::is_empty));
}

#[test]
fn an_honest_miner_starting_where_another_stopped_is_not_following() {
    // The second starts after the first uploaded everything: each of its scrapes ends after the first's
    // upload, minutes later, not within the window.
    let first = scraper(0, 60_000);
    let second = scraper(5 * 60_000, 61_000);
    assert!(flags(&[first, second]).iter().all(Vec::is_empty));
}

#[test]
fn a_copier_is_flagged_whether_it_keeps_the_scrape_times_or_stamps_its_own() {
    let leader = scraper(0, 60_000);
    // Uploads the leader's listings two seconds after each of its uploads, scrape times kept...
    let exact: Vec<_> = leader.iter().map(|(l, up)| (l.clone(), up + 2_000)).collect();
    // ...or stamped a second after the leader's upload.
    let close: Vec<_> = leader
        .iter()
        .map(|(l, up)| (Listing { scraped_at: iso8601_millis(up + 1_000), ..l.clone() }, up + 2_500))
        .collect();
    let found = flags(&[leader.clone(), exact, close]);
    assert!(found[0].is_empty(), "the leader follows nobody: {found:?}");
    assert_eq!(found[1].len(), 1, "{found:?}");
    assert!(found[1][0].contains("in all 4 zipcodes it shares with hk0") && found[1][0].contains("their scrape times"));
    // The close copier follows the leader, and the exact copier too (its stamps are the leader's, its upload
    // before the close copier's): copies of copies are copies.
    assert!(found[2].iter().any(|f| f.contains("hk0") && f.contains("within 10.0 s")), "{found:?}");
    // A copier that copies one zipcode in four is not following in every shared zipcode.
    let mut partial = leader.clone();
    for (l, up) in partial.iter_mut().filter(|(l, _)| l.zipcode == "02134") {
        *up += 2_000;
        l.scraped_at = iso8601_millis(*up - 500);
    }
    for (_, up) in partial.iter_mut().filter(|(l, _)| l.zipcode != "02134") {
        *up -= 100;
    }
    assert!(flags(&[leader, partial]).iter().all(Vec::is_empty));
}

#[test]
fn an_operators_own_hotkeys_and_strangers_in_other_groups_are_not_compared() {
    let leader = scraper(0, 60_000);
    let exact: Vec<_> = leader.iter().map(|(l, up)| (l.clone(), up + 2_000)).collect();
    let (mine, theirs) = ([0usize], [1usize]);
    let member = |hotkey, coldkey, groups, listings| Uploads { hotkey, coldkey, groups, listings };
    let same_operator = [member("hk0", "a", &mine[..], &leader[..]), member("hk1", "a", &mine[..], &exact[..])];
    assert!(following_flags(&same_operator, FOUR_HOURS, &parse_iso8601).iter().all(Vec::is_empty));
    let apart = [member("hk0", "a", &mine[..], &leader[..]), member("hk1", "b", &theirs[..], &exact[..])];
    assert!(following_flags(&apart, FOUR_HOURS, &parse_iso8601).iter().all(Vec::is_empty));
    // In a `shared` epoch (no groups) everyone works together.
    let shared = [member("hk0", "a", &[][..], &leader[..]), member("hk1", "b", &[][..], &exact[..])];
    assert_eq!(following_flags(&shared, FOUR_HOURS, &parse_iso8601)[1].len(), 1);
}

#[test]
fn following_convicts_only_when_it_recurs_and_the_window_scales_with_short_epochs() {
    assert_eq!(habitual_following(true, 0), None, "once is evidence");
    let why = habitual_following(true, 1).expect("twice in three epochs is a habit");
    assert!(why.contains("in 2 of its last 3 epochs"), "{why}");
    assert!(habitual_following(true, 7).unwrap().contains("in 3 of its last 3"));
    assert_eq!(habitual_following(false, 2), None, "past flags alone accuse nobody");
    assert_eq!(follow_window_ms(FOUR_HOURS), MAX_FOLLOW_WINDOW_MS);
    assert_eq!(follow_window_ms(30_000), 300, "a local network's 30 s epochs");
}

//! How a validator judges one epoch's uploads: each miner's files against the epoch's terms (epoch id, nonce,
//! assigned zipcodes and their expected listings, the epoch's time window), duplicates within a miner, the
//! sample of listings to spot-check, and the resulting verdict. Pure: the files, their upload times and the
//! spot-check outcomes come in as values, so two validators given the same bucket reach the same verdicts.

use std::collections::{BTreeMap, BTreeSet};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use sha2::{Digest, Sha256};

use crate::domain::access::layout::parse_listing_key;
use crate::domain::epoch::proof::Nonce;
use crate::domain::epoch::zipcode::Zipcode;
use crate::domain::epoch::EpochId;
use crate::domain::judging::listing::{check_listing, Listing, ListingFile};
use crate::domain::judging::scoring::Verdict;

/// What one epoch asked of every miner.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochTerms {
    pub epoch: EpochId,
    pub nonce: Nonce,
    pub start_ms: i64,
    pub end_ms: i64,
    pub tolerance_percent: u32,
    /// Expected listings by assigned zipcode.
    pub expected: BTreeMap<Zipcode, u32>,
}

impl EpochTerms {
    fn expected_total(&self) -> u64 {
        self.expected.values().map(|&n| u64::from(n)).sum()
    }
}

/// One object found under a miner's folder.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    /// The key relative to `data/hotkey={hk}/`.
    pub key: String,
    pub uploaded_at_ms: i64,
    /// The parsed file; `None` when it was not a listing file.
    pub content: Option<ListingFile>,
}

/// Everything a miner uploaded for the epoch under judgement.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub uid: u16,
    pub hotkey: String,
    pub files: Vec<StoredFile>,
    /// What of this miner's work could not be read or named, and why (the cap of [`MAX_OBJECTS_PER_EPOCH`],
    /// keys the contract cannot express): said in its verdict's notes, never counted.
    pub unread: Vec<String>,
}

/// Objects of one miner and epoch a validator lists at most; beyond them nothing counts (and the verdict says
/// so). An honest miner writes one file per assigned zipcode, a few hundred at most.
pub const MAX_OBJECTS_PER_EPOCH: usize = 50_000;

/// A miner's uploads after the checks that need no one else's data.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    pub uid: u16,
    pub hotkey: String,
    /// Why this miner is a liar; empty while it is not.
    pub lies: Vec<String>,
    /// Observations that cost nothing (late files, counts above expectations).
    pub notes: Vec<String>,
    /// Distinct plausible listings counted per assigned zipcode.
    pub counts: BTreeMap<Zipcode, u64>,
    /// Those listings with the upload time of the file that carried them, in key order.
    pub listings: Vec<(Listing, i64)>,
    /// The last upload that counted.
    pub last_upload_ms: Option<i64>,
}

/// Share of a miner's listings that may repeat before the repeats count as padding.
const DUPLICATE_SHARE_LIMIT: f64 = 0.10;
/// The epoch's deadline is the end of the epoch; uploads later than that do not count.
fn is_late(terms: &EpochTerms, uploaded_at_ms: i64) -> bool {
    uploaded_at_ms > terms.end_ms
}

/// Checks one miner's files against the terms. `parse_time` reads listings' `scrapedAt`.
pub fn inspect(submission: &Submission, terms: &EpochTerms, parse_time: &dyn Fn(&str) -> Option<i64>) -> Inspection {
    let mut lies = Vec::new();
    let mut notes = Vec::new();
    let mut counts: BTreeMap<Zipcode, u64> = BTreeMap::new();
    let mut seen: BTreeSet<(Zipcode, String)> = BTreeSet::new();
    let epoch_id = terms.epoch.to_string();
    let mut listings = Vec::new();
    let mut duplicates = 0u64;
    let mut last_upload_ms = None;
    let mut files: Vec<&StoredFile> = submission.files.iter().collect();
    files.sort_by(|a, b| a.key.cmp(&b.key));
    for file in files {
        let Some((key_epoch, key_zipcode)) = parse_listing_key(&file.key) else { continue };
        if key_epoch.parse::<EpochId>().ok() != Some(terms.epoch) {
            continue;
        }
        let Some(zipcode) = key_zipcode.parse::<Zipcode>().ok().filter(|z| terms.expected.contains_key(z)) else {
            lies.push(format!("uploaded zipcode {key_zipcode}, which was not assigned ({})", file.key));
            continue;
        };
        if file.uploaded_at_ms < terms.start_ms {
            lies.push(format!("{} was uploaded before the epoch started", file.key));
            continue;
        }
        if is_late(terms, file.uploaded_at_ms) {
            notes.push(format!("{} arrived after the deadline and was not counted", file.key));
            continue;
        }
        let Some(content) = &file.content else {
            notes.push(format!("{} is not a listing file and was not counted", file.key));
            continue;
        };
        if content.epoch_id != epoch_id || content.nonce.parse::<Nonce>() != Ok(terms.nonce) {
            lies.push(format!(
                "{} carries epoch {} nonce {}, not this epoch's",
                file.key, content.epoch_id, content.nonce
            ));
            continue;
        }
        if content.zipcode != key_zipcode {
            lies.push(format!("{} says zipcode {} inside folder {key_zipcode}", file.key, content.zipcode));
            continue;
        }
        if content.hotkey != submission.hotkey {
            lies.push(format!("{} was written for hotkey {}", file.key, content.hotkey));
            continue;
        }
        for listing in &content.listings {
            if let Err(why) = check_listing(listing, key_zipcode, parse_time) {
                lies.push(why.to_string());
                continue;
            }
            if !seen.insert((zipcode, listing.listing_id.clone())) {
                duplicates += 1;
                continue;
            }
            *counts.entry(zipcode).or_default() += 1;
            listings.push((listing.clone(), file.uploaded_at_ms));
            last_upload_ms = last_upload_ms.max(Some(file.uploaded_at_ms));
        }
    }
    notes.extend(submission.unread.iter().cloned());
    let total = listings.len() as u64 + duplicates;
    if duplicates > 0 {
        let share = duplicates as f64 / total as f64;
        if share > DUPLICATE_SHARE_LIMIT {
            lies.push(format!("{duplicates} of {total} listings repeat others (padding)"));
        } else {
            notes.push(format!("{duplicates} repeated listings were counted once"));
        }
    }
    let tolerance = 1.0 + f64::from(terms.tolerance_percent) / 100.0;
    for (zipcode, &count) in &counts {
        let expected = terms.expected[zipcode];
        if count as f64 > f64::from(expected) * tolerance {
            notes.push(format!("zipcode {zipcode}: {count} listings, {expected} expected; credit capped"));
        }
    }
    Inspection { uid: submission.uid, hotkey: submission.hotkey.clone(), lies, notes, counts, listings, last_upload_ms }
}

/// The listings of `inspection` to spot-check: `count` of them, drawn with a seed every validator derives the
/// same way from the epoch's nonce and the miner's hotkey, so validators check the same listings.
pub fn spot_check_sample<'a>(inspection: &'a Inspection, terms: &EpochTerms, count: usize) -> Vec<&'a Listing> {
    spot_check_sample_of(inspection, terms, count, &|_| true)
}

/// The same draw among the listings `keep` admits (in `groups` mode: those no other operator corroborated).
pub fn spot_check_sample_of<'a>(
    inspection: &'a Inspection,
    terms: &EpochTerms,
    count: usize,
    keep: &dyn Fn(&Listing) -> bool,
) -> Vec<&'a Listing> {
    let seed: [u8; 32] =
        Sha256::digest(format!("spot-check:{}:{}:{}", terms.epoch, terms.nonce, inspection.hotkey)).into();
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(seed);
    let mut all: Vec<&Listing> =
        inspection.listings.iter().map(|(listing, _)| listing).filter(|listing| keep(listing)).collect();
    all.shuffle(&mut rng);
    all.truncate(count);
    all
}

/// The outcome of checking one listing at its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpotCheck {
    Confirmed,
    /// The source has no such listing, or it differs (`reason` says how).
    Refuted {
        reason: String,
    },
    /// The source could not be asked; counts neither way.
    Unavailable {
        reason: String,
    },
}

/// Adds the spot-check outcomes to the inspection: one refuted listing makes a liar.
pub fn record_spot_checks(inspection: &mut Inspection, outcomes: &[(String, SpotCheck)]) {
    for (listing_id, outcome) in outcomes {
        match outcome {
            SpotCheck::Confirmed => {}
            SpotCheck::Refuted { reason } => {
                inspection.lies.push(format!("spot check of listing {listing_id}: {reason}"))
            }
            SpotCheck::Unavailable { reason } => {
                inspection.notes.push(format!("spot check of listing {listing_id} not done: {reason}"))
            }
        }
    }
}

/// The verdict on an inspected miner. Quality is coverage of the expected listings (credit per zipcode capped
/// at its expectation) weighted by how early the work was done, so that of two complete miners the faster
/// ranks first; the heuristic for the small remainder is the uncapped share of expected listings delivered.
pub fn verdict(inspection: &Inspection, terms: &EpochTerms) -> Verdict {
    if !inspection.lies.is_empty() {
        return Verdict::Liar { reason: inspection.lies.join("; ") };
    }
    let Some(last_upload_ms) = inspection.last_upload_ms else { return Verdict::Absent };
    let expected_total = terms.expected_total().max(1) as f64;
    let credited: u64 =
        inspection.counts.iter().map(|(zipcode, &count)| count.min(u64::from(terms.expected[zipcode]))).sum();
    let coverage = credited as f64 / expected_total;
    let length = (terms.end_ms - terms.start_ms).max(1) as f64;
    let timeliness = (1.0 - (last_upload_ms - terms.start_ms) as f64 / length).clamp(0.0, 1.0);
    let delivered: u64 = inspection.counts.values().sum();
    Verdict::Honest {
        quality: coverage * (0.75 + 0.25 * timeliness),
        heuristic: (delivered as f64 / expected_total).min(2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::judging::listing::tests::listing;

    const EPOCH: &str = "2025-10-01T16-00-00";
    const START: i64 = 1_759_334_400_000;

    fn terms() -> EpochTerms {
        EpochTerms {
            epoch: EPOCH.parse().unwrap(),
            nonce: "00112233aabbccdd".parse().unwrap(),
            start_ms: START,
            end_ms: START + 3_600_000,
            tolerance_percent: 10,
            expected: BTreeMap::from([("02134".parse().unwrap(), 4), ("60601".parse().unwrap(), 2)]),
        }
    }

    fn time(text: &str) -> Option<i64> {
        crate::domain::instant::parse_iso8601(text)
    }

    fn file(hotkey: &str, zipcode: &str, ids: &[&str], minute: i64) -> StoredFile {
        let listings = ids
            .iter()
            .map(|id| Listing {
                scraped_at: format!("2025-10-01T16:{minute:02}:00.000Z"),
                ..listing(&format!("{hotkey}-{id}"), zipcode)
            })
            .collect();
        StoredFile {
            key: format!("epoch={EPOCH}/zipcode={zipcode}/data_{minute}.json"),
            uploaded_at_ms: START + minute * 60_000,
            content: Some(ListingFile {
                epoch_id: EPOCH.into(),
                nonce: "00112233aabbccdd".into(),
                hotkey: hotkey.into(),
                zipcode: zipcode.into(),
                scraped_at: "2025-10-01T16:05:00.000Z".into(),
                listings,
            }),
        }
    }

    fn complete(hotkey: &str, uid: u16, minute: i64) -> Submission {
        Submission {
            uid,
            hotkey: hotkey.into(),
            files: vec![
                file(hotkey, "02134", &["a", "b", "c", "d"], minute),
                file(hotkey, "60601", &["e", "f"], minute),
            ],
            unread: Vec::new(),
        }
    }

    fn judged(submission: &Submission) -> Inspection {
        inspect(submission, &terms(), &time)
    }

    #[test]
    fn complete_work_is_honest_and_the_faster_miner_ranks_higher() {
        let fast = verdict(&judged(&complete("fast", 1, 5)), &terms());
        let slow = verdict(&judged(&complete("slow", 2, 50)), &terms());
        let (Verdict::Honest { quality: q_fast, heuristic }, Verdict::Honest { quality: q_slow, .. }) = (&fast, &slow)
        else {
            panic!("{fast:?} {slow:?}")
        };
        assert!(q_fast > q_slow && *q_slow > 0.75, "{q_fast} {q_slow}");
        assert_eq!(*heuristic, 1.0);
    }

    #[test]
    fn partial_work_earns_partial_quality() {
        let mut half = complete("m", 1, 5);
        half.files.pop();
        let Verdict::Honest { quality, .. } = verdict(&judged(&half), &terms()) else { panic!() };
        assert!(quality < 0.67 && quality > 0.5, "{quality}");
    }

    #[test]
    fn nothing_uploaded_is_absent_and_other_epochs_are_ignored() {
        let mut other = complete("m", 1, 5);
        for f in &mut other.files {
            f.key = f.key.replace(EPOCH, "2025-10-01T12-00-00");
        }
        assert_eq!(verdict(&judged(&other), &terms()), Verdict::Absent);
        assert_eq!(
            verdict(&judged(&Submission { uid: 1, hotkey: "m".into(), files: vec![], unread: vec![] }), &terms()),
            Verdict::Absent
        );
    }

    fn lie_of(submission: &Submission) -> String {
        match verdict(&judged(submission), &terms()) {
            Verdict::Liar { reason } => reason,
            other => panic!("expected a liar, got {other:?}"),
        }
    }

    #[test]
    fn each_kind_of_lie_is_caught() {
        let mut foreign = complete("m", 1, 5);
        foreign.files.push(file("m", "99501", &["x"], 5));
        assert!(lie_of(&foreign).contains("99501, which was not assigned"));

        let mut nonce = complete("m", 1, 5);
        nonce.files[0].content.as_mut().unwrap().nonce = "ffffffffffffffff".into();
        assert!(lie_of(&nonce).contains("not this epoch's"));

        let mut early = complete("m", 1, 5);
        early.files[0].uploaded_at_ms = START - 1;
        assert!(lie_of(&early).contains("before the epoch started"));

        let mut misfiled = complete("m", 1, 5);
        misfiled.files[1].content.as_mut().unwrap().listings[0].zipcode = "02134".into();
        assert!(lie_of(&misfiled).contains("filed under"));

        let mut padded = complete("m", 1, 5);
        let again = padded.files[0].clone();
        padded.files.push(StoredFile { key: again.key.replace("data_5", "data_6"), ..again });
        assert!(lie_of(&padded).contains("padding"));

        let mut stolen = complete("m", 1, 5);
        stolen.files[0].content.as_mut().unwrap().hotkey = "someone".into();
        assert!(lie_of(&stolen).contains("written for hotkey someone"));
    }

    #[test]
    fn late_and_unreadable_files_do_not_count_but_are_no_lie() {
        let mut late = complete("m", 1, 5);
        late.files[1].uploaded_at_ms = terms().end_ms + 1;
        late.files.push(StoredFile {
            key: format!("epoch={EPOCH}/zipcode=02134/junk.bin"),
            uploaded_at_ms: START,
            content: None,
        });
        let inspection = judged(&late);
        assert_eq!(inspection.counts.values().sum::<u64>(), 4);
        assert_eq!(inspection.notes.len(), 2, "{:?}", inspection.notes);
        assert!(matches!(verdict(&inspection, &terms()), Verdict::Honest { .. }));
    }

    #[test]
    fn validators_draw_the_same_sample_and_refutations_make_liars() {
        let inspection = judged(&complete("m", 1, 5));
        let first: Vec<_> =
            spot_check_sample(&inspection, &terms(), 3).into_iter().map(|l| l.listing_id.clone()).collect();
        let again: Vec<_> =
            spot_check_sample(&inspection, &terms(), 3).into_iter().map(|l| l.listing_id.clone()).collect();
        assert_eq!(first, again);
        assert_eq!(first.len(), 3);
        assert_eq!(spot_check_sample(&inspection, &terms(), 100).len(), 6);
        let mut checked = inspection.clone();
        record_spot_checks(
            &mut checked,
            &[
                (first[0].clone(), SpotCheck::Confirmed),
                (first[1].clone(), SpotCheck::Unavailable { reason: "timeout".into() }),
            ],
        );
        assert!(matches!(verdict(&checked, &terms()), Verdict::Honest { .. }));
        record_spot_checks(
            &mut checked,
            &[(first[2].clone(), SpotCheck::Refuted { reason: "no such listing".into() })],
        );
        assert!(matches!(verdict(&checked, &terms()), Verdict::Liar { .. }));
    }
}

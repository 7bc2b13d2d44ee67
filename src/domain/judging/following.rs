//! Copying told from coincidence. Copied listings are true (the source confirms them), so what gives a copier
//! away is behaviour: in every zipcode it shares with another operator it uploads that operator's listings
//! right after them, either with the other's scrape times ("exact") or stamped after the other's upload and
//! within a moment of it. Honest miners do either by chance in one zipcode now and then (two scrapers stamping
//! whole seconds, one starting where the other stopped); in every shared zipcode, and again in a later epoch
//! among newly drawn groupmates, they do not. So one epoch's following is evidence (a flag, and in `both` mode
//! a spot-check sample); a member flagged in [`HABITUAL_FOLLOWING`] of its last [`FOLLOWING_MEMORY`] epochs
//! copies by habit ([`habitual_following`]), which convicts. Pure: the listings and their upload times come in
//! as values.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use crate::domain::judging::listing::Listing;

/// One member's uploads, as following looks at them.
#[derive(Debug, Clone, Copy)]
pub struct Uploads<'a> {
    pub hotkey: &'a str,
    pub coldkey: &'a str,
    /// The groups it worked for; empty in a `shared` epoch, where everyone works together.
    pub groups: &'a [usize],
    /// Its counted listings with the upload time of the file that carried them.
    pub listings: &'a [(Listing, i64)],
}

/// Zipcodes in which one member must follow another before its uploads count as following.
pub const MIN_FOLLOWED_ZIPCODES: usize = 3;
/// How soon after the other's upload a follower's must come, as a share of the epoch and at most
/// [`MAX_FOLLOW_WINDOW_MS`]: a copier uploads right after what it copies, an honest miner when its own scrape is
/// done.
pub const FOLLOW_WINDOW_SHARE: f64 = 0.01;
pub const MAX_FOLLOW_WINDOW_MS: i64 = 10_000;
/// A scrape stamped in whole seconds may read up to a second before the moment it was made.
const STAMP_SLACK_MS: i64 = 1_000;

/// Following is evidence in one epoch; a member flagged in this many of the last [`FOLLOWING_MEMORY`] epochs,
/// each time among other groupmates (groups are drawn anew every epoch), copies by habit.
pub const HABITUAL_FOLLOWING: usize = 2;
pub const FOLLOWING_MEMORY: usize = 3;

/// The follow window of an epoch `epoch_ms` long.
pub fn follow_window_ms(epoch_ms: i64) -> i64 {
    ((epoch_ms as f64 * FOLLOW_WINDOW_SHARE) as i64).min(MAX_FOLLOW_WINDOW_MS)
}

/// Why a member flagged for following in this epoch and in `flagged_before` of the [`FOLLOWING_MEMORY`] − 1
/// epochs before it is a copier; `None` when it is not (or was not flagged now).
pub fn habitual_following(flagged_now: bool, flagged_before: usize) -> Option<String> {
    let flagged = flagged_before.min(FOLLOWING_MEMORY - 1) + 1;
    (flagged_now && flagged >= HABITUAL_FOLLOWING).then(|| {
        format!(
            "copies its groupmates: flagged for following another operator's uploads in {flagged} of its last \
             {FOLLOWING_MEMORY} epochs, each time among newly drawn groupmates"
        )
    })
}

/// One member's batch of one zipcode, summed up.
struct Batch {
    first_upload: i64,
    earliest_scrape: i64,
    /// The listings' facts without their scrape times, order aside.
    facts: u64,
    /// The listings' ids with their scrape times, order aside.
    stamps: u64,
}

fn digest(mut parts: Vec<u64>) -> u64 {
    parts.sort_unstable();
    let mut hasher = DefaultHasher::new();
    parts.hash(&mut hasher);
    hasher.finish()
}

/// A batch being summed up: the times, and each listing's facts and stamps hashed.
#[derive(Default)]
struct Parts {
    first_upload: Option<i64>,
    earliest_scrape: Option<i64>,
    facts: Vec<u64>,
    stamps: Vec<u64>,
}

fn batches<'a>(uploads: &Uploads<'a>, parse_time: &dyn Fn(&str) -> Option<i64>) -> HashMap<&'a str, Batch> {
    let mut grouped: HashMap<&str, Parts> = HashMap::new();
    for (listing, uploaded_at) in uploads.listings {
        let parts = grouped.entry(listing.zipcode.as_str()).or_default();
        parts.first_upload = Some(parts.first_upload.map_or(*uploaded_at, |t| t.min(*uploaded_at)));
        let scraped = parse_time(&listing.scraped_at).unwrap_or(i64::MIN);
        parts.earliest_scrape = Some(parts.earliest_scrape.map_or(scraped, |t| t.min(scraped)));
        let mut facts = DefaultHasher::new();
        (&listing.listing_id, listing.price, listing.bedrooms, listing.bathrooms.to_bits()).hash(&mut facts);
        (listing.living_area_sqft, &listing.address).hash(&mut facts);
        parts.facts.push(facts.finish());
        let mut stamps = DefaultHasher::new();
        (&listing.listing_id, &listing.scraped_at).hash(&mut stamps);
        parts.stamps.push(stamps.finish());
    }
    grouped
        .into_iter()
        .map(|(zipcode, parts)| {
            let batch = Batch {
                first_upload: parts.first_upload.unwrap_or(i64::MAX),
                earliest_scrape: parts.earliest_scrape.unwrap_or(i64::MIN),
                facts: digest(parts.facts),
                stamps: digest(parts.stamps),
            };
            (zipcode, batch)
        })
        .collect()
}

/// How `mine` follows `theirs` in one zipcode, if it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Following {
    /// The same listings with the same scrape times, uploaded later.
    Exact,
    /// The same listings, stamped no earlier than the other's upload, uploaded within the window after it.
    Close,
}

fn follows(mine: &Batch, theirs: &Batch, window_ms: i64) -> Option<Following> {
    if mine.first_upload <= theirs.first_upload || mine.facts != theirs.facts {
        return None;
    }
    if mine.stamps == theirs.stamps {
        return Some(Following::Exact);
    }
    (mine.first_upload - theirs.first_upload <= window_ms
        && mine.earliest_scrape >= theirs.first_upload - STAMP_SLACK_MS)
        .then_some(Following::Close)
}

/// The following flags of every member: for each other operator it worked with (at least
/// [`MIN_FOLLOWED_ZIPCODES`] zipcodes in common) whom it followed in every zipcode they share, why. `epoch_ms`
/// is the epoch's length; `parse_time` reads listings' `scrapedAt`.
pub fn following_flags(
    members: &[Uploads<'_>],
    epoch_ms: i64,
    parse_time: &dyn Fn(&str) -> Option<i64>,
) -> Vec<Vec<String>> {
    let window_ms = follow_window_ms(epoch_ms);
    let summaries: Vec<HashMap<&str, Batch>> = members.iter().map(|m| batches(m, parse_time)).collect();
    let together = |a: &Uploads<'_>, b: &Uploads<'_>| {
        (a.groups.is_empty() && b.groups.is_empty()) || a.groups.iter().any(|g| b.groups.contains(g))
    };
    let mut flags = vec![Vec::new(); members.len()];
    for (follower, member) in members.iter().enumerate() {
        for (leader, other) in members.iter().enumerate() {
            if leader == follower || other.coldkey == member.coldkey || !together(member, other) {
                continue;
            }
            let (mine, theirs) = (&summaries[follower], &summaries[leader]);
            let shared: Vec<&str> = mine.keys().copied().filter(|z| theirs.contains_key(z)).collect();
            if shared.len() < MIN_FOLLOWED_ZIPCODES {
                continue;
            }
            let ways: Option<Vec<Following>> =
                shared.iter().map(|z| follows(&mine[z], &theirs[z], window_ms)).collect();
            let Some(ways) = ways else { continue };
            let how = if ways.iter().all(|w| *w == Following::Exact) {
                "with their scrape times".to_string()
            } else {
                format!("within {:.1} s each time, stamped after their upload", window_ms as f64 / 1000.0)
            };
            flags[follower].push(format!(
                "in all {} zipcodes it shares with {} (another operator) it uploaded the same listings after them, \
                 {how}",
                shared.len(),
                other.hotkey
            ));
        }
    }
    flags
}

#[cfg(test)]
mod tests;

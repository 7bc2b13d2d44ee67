//! The simulated housing market: the synthetic market's listings ([`crate::client::synthetic`]) moving a
//! little within each epoch, as a real one does (a price cut, a listing gone), and the source a validator's spot
//! check asks, which knows each listing's history and so judges a report by the moment it claims.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use crate::client::synthetic;
use crate::domain::judging::listing::Listing;
use crate::domain::judging::validation::SpotCheck;

/// Share of a zipcode's listings whose price is cut during an epoch, and share that leave the market.
const PRICE_CUT_SHARE: f64 = 0.03;
const GONE_SHARE: f64 = 0.01;
/// How far a stamp may be from the moment the listing was read (whole-second stamps drop up to a second).
const STAMP_SLACK_MS: i64 = 1_000;

/// A number from 0 to 1 drawn from `parts`, the same every time.
pub fn unit(parts: &[&dyn std::fmt::Display]) -> f64 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.to_string().as_bytes());
        hasher.update(b"/");
    }
    let bytes: [u8; 32] = hasher.finalize().into();
    u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as f64 / u64::MAX as f64
}

/// One zipcode of the simulated universe.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketZipcode {
    pub zipcode: String,
    pub city: String,
    pub state: String,
    /// Listings on its market (and expected of it).
    pub size: u32,
}

/// What happens to one listing during an epoch (times in ms from the epoch's start).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Moves {
    /// When its price is cut, and to what share of the price.
    cut: Option<(i64, f64)>,
    /// When it leaves the market.
    gone: Option<i64>,
}

/// One epoch of the market: its listings and how they move, for the zipcodes the epoch assigned (worked out
/// once, read by every miner of their groups).
#[derive(Debug, Clone)]
pub struct EpochMarket {
    start_ms: i64,
    listings: HashMap<String, Vec<(Listing, Moves)>>,
}

impl EpochMarket {
    /// Epoch `epoch` (starting at `start_ms`, `length_ms` long) of the markets of `zipcodes`.
    pub fn new(epoch: u64, start_ms: i64, length_ms: i64, zipcodes: &[&MarketZipcode]) -> Self {
        let listings = zipcodes
            .iter()
            .map(|zipcode| {
                let seed: [u8; 32] = Sha256::digest(format!("market:{epoch}:{}", zipcode.zipcode)).into();
                let mut draws = ChaCha8Rng::from_seed(seed);
                let listings = (0..zipcode.size)
                    .map(|index| {
                        let mut draw = || draws.gen::<f64>();
                        let (cut, cut_at, cut_by, gone, gone_at) = (draw(), draw(), draw(), draw(), draw());
                        let at = |share: f64| (share * length_ms as f64) as i64;
                        let moves = Moves {
                            cut: (cut < PRICE_CUT_SHARE).then(|| (at(cut_at), 0.90 + 0.07 * cut_by)),
                            gone: (gone < GONE_SHARE).then(|| at(gone_at)),
                        };
                        (synthetic::listing(&zipcode.zipcode, &zipcode.city, &zipcode.state, index, ""), moves)
                    })
                    .collect();
                (zipcode.zipcode.clone(), listings)
            })
            .collect();
        EpochMarket { start_ms, listings }
    }

    /// Listing `index` of `zipcode` as the market shows it at `at_ms` (epoch time, ms from its start); `None`
    /// once it has left, or for a listing the market does not hold.
    fn listing_at(&self, zipcode: &str, index: usize, at_ms: i64, stamp: &str) -> Option<Listing> {
        let (base, moves) = self.listings.get(zipcode)?.get(index)?;
        if moves.gone.is_some_and(|gone| at_ms >= gone) {
            return None;
        }
        let mut listing = Listing { scraped_at: stamp.to_string(), ..base.clone() };
        if let Some((_, share)) = moves.cut.filter(|(cut_at, _)| at_ms >= *cut_at) {
            listing.price = (listing.price as f64 * share) as u64 / 1_000 * 1_000;
        }
        Some(listing)
    }

    /// Everything on `zipcode`'s market read at `at_ms`, each listing stamped `stamp`.
    pub fn scrape(&self, zipcode: &MarketZipcode, at_ms: i64, stamp: &str) -> Vec<Listing> {
        let size = self.listings.get(&zipcode.zipcode).map_or(0, Vec::len);
        (0..size).filter_map(|index| self.listing_at(&zipcode.zipcode, index, at_ms, stamp)).collect()
    }

    /// The source's answer on `claimed`, filed under a zipcode whose market is `zipcode`: confirmed when the
    /// listing was on the market with these facts at the moment its stamp claims (within a second's slack).
    pub fn check(&self, zipcode: &MarketZipcode, claimed: &Listing) -> SpotCheck {
        let refuted = |reason: String| SpotCheck::Refuted { reason };
        let unknown = || refuted(format!("no listing {} in zipcode {}", claimed.listing_id, zipcode.zipcode));
        let prefix = format!("syn-{}-", zipcode.zipcode);
        let index = claimed.listing_id.strip_prefix(&prefix).and_then(|rest| rest.split('-').next());
        let Some(index) = index.and_then(|n| n.parse::<usize>().ok()) else { return unknown() };
        let known = self.listings.get(&zipcode.zipcode).and_then(|all| all.get(index));
        if known.is_none_or(|(base, _)| base.listing_id != claimed.listing_id) {
            return unknown();
        }
        let Some(stamp) = crate::api::parse_iso8601(&claimed.scraped_at) else {
            return refuted(format!("listing {} has an unreadable scrape time", claimed.listing_id));
        };
        let at = stamp - self.start_ms;
        let facts = |l: &Listing| (l.address.clone(), l.price, l.bedrooms, l.bathrooms.to_bits(), l.living_area_sqft);
        let seen = [at - STAMP_SLACK_MS, at, at + STAMP_SLACK_MS]
            .into_iter()
            .filter_map(|moment| self.listing_at(&zipcode.zipcode, index, moment, &claimed.scraped_at))
            .any(|truth| facts(&truth) == facts(claimed));
        if seen {
            SpotCheck::Confirmed
        } else {
            refuted(format!("listing {} was not on the market with these facts at its scrape time", claimed.listing_id))
        }
    }
}

//! A synthetic housing market for local networks and tests: for every zipcode a fixed set of plausible
//! listings derived from the zipcode alone, as many as the assignment expects or as many as the zipcode's own
//! size ([`MarketSizes`]). Both sides use it: the synthetic
//! scraper "scrapes" it and the synthetic verifier checks listings against it, so an invented listing is caught
//! the way a real source would catch it, and honest miners deliver the same listings (with their own scrape
//! times).

use sha2::{Digest, Sha256};

use crate::domain::judging::listing::Listing;

const STREETS: [&str; 12] =
    ["Oak", "Maple", "Cedar", "Pine", "Elm", "Main", "Park", "Lake", "Hill", "Washington", "Lincoln", "Sunset"];
const SUFFIXES: [&str; 5] = ["St", "Ave", "Rd", "Ln", "Dr"];
const TYPES: [&str; 4] = ["SINGLE_FAMILY", "CONDO", "TOWNHOUSE", "MULTI_FAMILY"];

fn digest(zipcode: &str, index: u32) -> [u8; 32] {
    Sha256::digest(format!("synthetic-listing:{zipcode}:{index}")).into()
}

fn listing_id(zipcode: &str, index: u32, hash: &[u8; 32]) -> String {
    format!("syn-{zipcode}-{index}-{}", hex::encode(&hash[..4]))
}

/// Listing `index` of `zipcode`, as seen at `scraped_at`.
pub fn listing(zipcode: &str, city: &str, state: &str, index: u32, scraped_at: &str) -> Listing {
    let h = digest(zipcode, index);
    let number = 1 + u32::from(u16::from_le_bytes([h[4], h[5]])) % 9_899;
    let street = STREETS[usize::from(h[6]) % STREETS.len()];
    let suffix = SUFFIXES[usize::from(h[7]) % SUFFIXES.len()];
    let bedrooms = 1 + u32::from(h[8]) % 6;
    let bathrooms = 1.0 + f32::from(h[9] % 6) / 2.0;
    let living_area_sqft = 450 + bedrooms * 350 + u32::from(u16::from_le_bytes([h[10], h[11]])) % 900;
    let price_per_sqft = 90 + u64::from(u16::from_le_bytes([h[12], h[13]])) % 610;
    let id = listing_id(zipcode, index, &h);
    Listing {
        url: format!("https://listings.example/homedetails/{id}"),
        listing_id: id,
        zipcode: zipcode.to_string(),
        address: format!("{number} {street} {suffix}"),
        city: city.to_string(),
        state: state.to_string(),
        price: u64::from(living_area_sqft) * price_per_sqft / 1_000 * 1_000,
        bedrooms,
        bathrooms,
        living_area_sqft,
        property_type: TYPES[usize::from(h[14]) % TYPES.len()].to_string(),
        scraped_at: scraped_at.to_string(),
    }
}

/// Every listing of `zipcode`, whose market holds `size` of them.
pub fn market(zipcode: &str, city: &str, state: &str, size: u32, scraped_at: &str) -> Vec<Listing> {
    (0..size).map(|index| listing(zipcode, city, state, index, scraped_at)).collect()
}

/// How many listings each zipcode's synthetic market holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MarketSizes {
    /// As many as the assignment expects: expectations are always right.
    #[default]
    AsExpected,
    /// A size of the zipcode's own, fixed whatever is expected: a third of the zipcodes hold
    /// [`VARIED_SIZES`]`[0]` listings, a third `[1]` (the built-in prior), a third `[2]`. Honest miners deliver
    /// them all, so what validators count is the true size, and recalibration has something to find.
    Varied,
}

/// The sizes of [`MarketSizes::Varied`].
pub const VARIED_SIZES: [u32; 3] = [10, 150, 600];

impl MarketSizes {
    /// The size of `zipcode`'s market when its assignment expects `expected` listings.
    pub fn size(self, zipcode: &str, expected: u32) -> u32 {
        match self {
            MarketSizes::AsExpected => expected,
            MarketSizes::Varied => {
                let h: [u8; 32] = Sha256::digest(format!("synthetic-market-size:{zipcode}")).into();
                VARIED_SIZES[usize::from(h[0]) % VARIED_SIZES.len()]
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MarketSizes::AsExpected => "as-expected",
            MarketSizes::Varied => "varied",
        }
    }
}

impl std::str::FromStr for MarketSizes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "as-expected" => Ok(MarketSizes::AsExpected),
            "varied" => Ok(MarketSizes::Varied),
            other => Err(format!("unknown market {other:?}: as-expected or varied")),
        }
    }
}

/// Why a claimed listing is not the synthetic market's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotInMarket {
    #[error("no listing {listing_id} in zipcode {zipcode}")]
    Unknown { listing_id: String, zipcode: String },
    #[error("listing {0} differs from the source (address, price, rooms or area)")]
    Differs(String),
}

/// Whether `claimed` is a listing of the synthetic market of its zipcode (of `size` listings), with the
/// facts the market holds.
pub fn check(claimed: &Listing, size: u32) -> Result<(), NotInMarket> {
    let unknown = || NotInMarket::Unknown { listing_id: claimed.listing_id.clone(), zipcode: claimed.zipcode.clone() };
    let index = claimed
        .listing_id
        .strip_prefix(&format!("syn-{}-", claimed.zipcode))
        .and_then(|rest| rest.split('-').next())
        .and_then(|index| index.parse::<u32>().ok())
        .filter(|&index| index < size)
        .ok_or_else(unknown)?;
    let truth = listing(&claimed.zipcode, &claimed.city, &claimed.state, index, &claimed.scraped_at);
    if truth.listing_id != claimed.listing_id {
        return Err(unknown());
    }
    let facts = |l: &Listing| (l.address.clone(), l.price, l.bedrooms, l.bathrooms.to_bits(), l.living_area_sqft);
    if facts(&truth) != facts(claimed) {
        return Err(NotInMarket::Differs(claimed.listing_id.clone()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::judging::listing::check_listing;

    #[test]
    fn the_market_is_deterministic_plausible_and_checkable() {
        let first = market("02134", "Boston", "MA", 50, "2025-10-01T16:05:00.000Z");
        let again = market("02134", "Boston", "MA", 50, "2025-10-01T17:00:00.000Z");
        assert_eq!(first.len(), 50);
        for (a, b) in first.iter().zip(&again) {
            assert_eq!((&a.listing_id, a.price), (&b.listing_id, b.price));
            assert_eq!(check_listing(a, "02134", crate::api::parse_iso8601), Ok(()));
            assert_eq!(check(a, 50), Ok(()));
        }
        let ids: std::collections::BTreeSet<_> = first.iter().map(|l| &l.listing_id).collect();
        assert_eq!(ids.len(), 50);
        assert!(check(&first[49], 49).is_err(), "beyond the market's size");
        let mut invented = first[0].clone();
        invented.listing_id = "zpid-123".into();
        assert!(check(&invented, 50).unwrap_err().to_string().contains("no listing"));
        let mut inflated = first[0].clone();
        inflated.price += 1_000;
        assert!(check(&inflated, 50).unwrap_err().to_string().contains("differs"));
    }

    #[test]
    fn varied_markets_have_sizes_of_their_own_whatever_is_expected() {
        let zipcodes: Vec<String> = (0..300).map(|n| format!("{:05}", 1_000 + n * 7)).collect();
        for zipcode in &zipcodes {
            let size = MarketSizes::Varied.size(zipcode, 150);
            assert_eq!(MarketSizes::Varied.size(zipcode, 7), size, "fixed whatever is expected");
            assert!(VARIED_SIZES.contains(&size));
            assert_eq!(MarketSizes::AsExpected.size(zipcode, 7), 7);
        }
        for size in VARIED_SIZES {
            let share = zipcodes.iter().filter(|z| MarketSizes::Varied.size(z, 150) == size).count();
            assert!((70..=130).contains(&share), "{size}: {share} of 300");
        }
        assert_eq!("varied".parse::<MarketSizes>(), Ok(MarketSizes::Varied));
        assert!("huge".parse::<MarketSizes>().is_err());
    }
}

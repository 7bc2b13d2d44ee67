//! What miners upload and validators read: a listing, the per-zipcode file that binds listings to an epoch and
//! its nonce, and the plausibility rules every listing must meet (where the file lives: [`crate::domain::access::layout`]).

use serde::{Deserialize, Serialize};

/// One property listing as a scraper reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    /// The source's own id (a Zillow zpid, an MLS number): what makes two listings the same.
    pub listing_id: String,
    pub zipcode: String,
    pub address: String,
    pub city: String,
    pub state: String,
    /// Asking price in whole US dollars.
    pub price: u64,
    pub bedrooms: u32,
    pub bathrooms: f32,
    pub living_area_sqft: u32,
    pub property_type: String,
    pub url: String,
    /// When the scraper saw it (ISO 8601 UTC); differs between honest miners, so it exposes copies.
    pub scraped_at: String,
}

/// What a miner uploads per zipcode: `data/hotkey={hk}/epoch={id}/zipcode={zip}/data_{YYYYmmdd_HHMMSS}.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListingFile {
    pub epoch_id: String,
    pub nonce: String,
    pub hotkey: String,
    pub zipcode: String,
    pub scraped_at: String,
    pub listings: Vec<Listing>,
}

/// Why a listing cannot be a real one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Implausible {
    #[error("listing id is empty or longer than 128 characters")]
    ListingId,
    #[error("listing {0} is in zipcode {1}, filed under {2}")]
    WrongZipcode(String, String, String),
    #[error("listing {0} has no address")]
    Address(String),
    #[error("listing {0} has an implausible price {1}")]
    Price(String, u64),
    #[error("listing {0} has implausible rooms ({1} bedrooms, {2} bathrooms)")]
    Rooms(String, u32, f32),
    #[error("listing {0} has an implausible living area of {1} sqft")]
    Area(String, u32),
    #[error("listing {0} has no http(s) URL")]
    Url(String),
    #[error("listing {0} has an unreadable scrapedAt")]
    ScrapedAt(String),
}

/// Checks the fields of a listing filed under `zipcode`; `parse_time` reads `scrapedAt` (the domain reads no
/// clock and knows no date format library).
pub fn check_listing(
    listing: &Listing,
    zipcode: &str,
    parse_time: impl Fn(&str) -> Option<i64>,
) -> Result<(), Implausible> {
    let id = &listing.listing_id;
    if id.trim().is_empty() || id.len() > 128 {
        return Err(Implausible::ListingId);
    }
    if listing.zipcode != zipcode {
        return Err(Implausible::WrongZipcode(id.clone(), listing.zipcode.clone(), zipcode.to_string()));
    }
    if listing.address.trim().is_empty() {
        return Err(Implausible::Address(id.clone()));
    }
    if !(1_000..=1_000_000_000).contains(&listing.price) {
        return Err(Implausible::Price(id.clone(), listing.price));
    }
    if listing.bedrooms > 50 || !(0.0..=50.0).contains(&listing.bathrooms) {
        return Err(Implausible::Rooms(id.clone(), listing.bedrooms, listing.bathrooms));
    }
    if !(100..=500_000).contains(&listing.living_area_sqft) {
        return Err(Implausible::Area(id.clone(), listing.living_area_sqft));
    }
    if !(listing.url.starts_with("https://") || listing.url.starts_with("http://")) {
        return Err(Implausible::Url(id.clone()));
    }
    if parse_time(&listing.scraped_at).is_none() {
        return Err(Implausible::ScrapedAt(id.clone()));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn listing(id: &str, zipcode: &str) -> Listing {
        Listing {
            listing_id: id.to_string(),
            zipcode: zipcode.to_string(),
            address: "12 Main St".to_string(),
            city: "Springfield".to_string(),
            state: "IL".to_string(),
            price: 250_000,
            bedrooms: 3,
            bathrooms: 2.0,
            living_area_sqft: 1_600,
            property_type: "SINGLE_FAMILY".to_string(),
            url: format!("https://listings.example/{id}"),
            scraped_at: "2025-10-01T16:05:00.000Z".to_string(),
        }
    }

    fn time(text: &str) -> Option<i64> {
        text.starts_with("2025").then_some(0)
    }

    #[test]
    fn plausible_listings_pass_and_each_field_is_checked() {
        assert_eq!(check_listing(&listing("1", "02134"), "02134", time), Ok(()));
        type Spoil = fn(&mut Listing);
        let cases: Vec<(Spoil, &str)> = vec![
            (|l| l.listing_id = " ".into(), "listing id"),
            (|l| l.zipcode = "99999".into(), "filed under"),
            (|l| l.address = "".into(), "no address"),
            (|l| l.price = 5, "price"),
            (|l| l.bathrooms = f32::NAN, "rooms"),
            (|l| l.bedrooms = 400, "rooms"),
            (|l| l.living_area_sqft = 3, "living area"),
            (|l| l.url = "ftp://x".into(), "URL"),
            (|l| l.scraped_at = "yesterday".into(), "scrapedAt"),
        ];
        for (spoil, message) in cases {
            let mut bad = listing("1", "02134");
            spoil(&mut bad);
            let error = check_listing(&bad, "02134", time).unwrap_err().to_string();
            assert!(error.contains(message), "{error} should mention {message}");
        }
    }
}

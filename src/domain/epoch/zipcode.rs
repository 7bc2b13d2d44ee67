//! Zipcodes and what the coordinator knows about each: location, market tier and expected listings.

use std::fmt;
use std::str::FromStr;

/// A 5-digit US zipcode. Leading zeros are significant (`"02134"`), so it is never a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Zipcode([u8; 5]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid zipcode '{0}': expected exactly 5 digits")]
pub struct ZipcodeError(pub String);

impl Zipcode {
    pub fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("00000")
    }

    /// Parses a zipcode as written in operators' files, where spreadsheets may have dropped leading zeros
    /// (`2134` for `02134`) or appended a ZIP+4 suffix.
    pub fn parse_lenient(raw: &str) -> Result<Self, ZipcodeError> {
        let trimmed = raw.trim();
        let base = trimmed.split(['-', ' ']).next().unwrap_or("");
        if !base.is_empty() && base.len() < 5 && base.bytes().all(|b| b.is_ascii_digit()) {
            return format!("{base:0>5}").parse();
        }
        base.parse().map_err(|_| ZipcodeError(trimmed.chars().take(20).collect()))
    }
}

impl FromStr for Zipcode {
    type Err = ZipcodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.len() != 5 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(ZipcodeError(s.chars().take(20).collect()));
        }
        let mut digits = [0u8; 5];
        digits.copy_from_slice(bytes);
        Ok(Zipcode(digits))
    }
}

impl fmt::Display for Zipcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Market size class of a zipcode, as subnet miners use it (Zillow `SizeRank`: premium <= 100, major <= 500,
/// standard <= 2000, rural above).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MarketTier {
    Premium,
    Major,
    Standard,
    Rural,
}

impl MarketTier {
    pub const ALL: [MarketTier; 4] = [MarketTier::Premium, MarketTier::Major, MarketTier::Standard, MarketTier::Rural];

    pub fn from_size_rank(rank: u32) -> Self {
        match rank {
            0..=100 => MarketTier::Premium,
            101..=500 => MarketTier::Major,
            501..=2000 => MarketTier::Standard,
            _ => MarketTier::Rural,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MarketTier::Premium => "PREMIUM",
            MarketTier::Major => "MAJOR",
            MarketTier::Standard => "STANDARD",
            MarketTier::Rural => "RURAL",
        }
    }

    /// Selection weight: bigger markets are picked more often because their listings matter more to buyers
    /// of the data, while smaller ones still come up.
    pub fn selection_weight(self) -> f64 {
        match self {
            MarketTier::Premium => 2.0,
            MarketTier::Major => 1.5,
            MarketTier::Standard => 1.0,
            MarketTier::Rural => 0.75,
        }
    }

    /// How a tier scales the operator's per-zipcode prior of expected listings when no real figure is known.
    pub fn prior_multiplier(self) -> f64 {
        match self {
            MarketTier::Premium => 3.0,
            MarketTier::Major => 2.0,
            MarketTier::Standard => 1.0,
            MarketTier::Rural => 0.5,
        }
    }
}

impl FromStr for MarketTier {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PREMIUM" => Ok(MarketTier::Premium),
            "MAJOR" => Ok(MarketTier::Major),
            "STANDARD" => Ok(MarketTier::Standard),
            "RURAL" | "EMERGING" | "SMALL" => Ok(MarketTier::Rural),
            other => Err(format!(
                "unknown market tier '{}': expected PREMIUM, MAJOR, STANDARD or RURAL",
                other.chars().take(20).collect::<String>()
            )),
        }
    }
}

impl fmt::Display for MarketTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The US Census region of a state's two-letter code; `"Other"` for territories and military codes.
pub fn geographic_region(state: &str) -> &'static str {
    match state.trim().to_ascii_uppercase().as_str() {
        "CT" | "ME" | "MA" | "NH" | "RI" | "VT" | "NJ" | "NY" | "PA" => "Northeast",
        "IL" | "IN" | "MI" | "OH" | "WI" | "IA" | "KS" | "MN" | "MO" | "NE" | "ND" | "SD" => "Midwest",
        "DE" | "DC" | "FL" | "GA" | "MD" | "NC" | "SC" | "VA" | "WV" | "AL" | "KY" | "MS" | "TN" | "AR" | "LA"
        | "OK" | "TX" => "South",
        "AZ" | "CO" | "ID" | "MT" | "NV" | "NM" | "UT" | "WY" | "AK" | "CA" | "HI" | "OR" | "WA" => "West",
        _ => "Other",
    }
}

/// Everything stored about one zipcode.
#[derive(Debug, Clone, PartialEq)]
pub struct ZipcodeRecord {
    pub zipcode: Zipcode,
    pub state: String,
    pub city: String,
    pub county: Option<String>,
    /// Listings a miner is expected to find per epoch: the scrape target and the validators' quantity check.
    pub expected_listings: u32,
    pub tier: MarketTier,
    /// Operator's multiplier on the selection weight (1.0 = neutral, 0 = never picked).
    pub weight: f64,
    pub active: bool,
}

impl ZipcodeRecord {
    pub fn geographic_region(&self) -> &'static str {
        geographic_region(&self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipcodes_keep_leading_zeros() {
        let z: Zipcode = "02134".parse().unwrap();
        assert_eq!(z.to_string(), "02134");
        assert_eq!(Zipcode::parse_lenient("2134").unwrap(), z);
        assert_eq!(Zipcode::parse_lenient(" 02134-1234 ").unwrap(), z);
    }

    #[test]
    fn rejects_non_zipcodes() {
        for bad in ["", "1234", "123456", "12a45", "１２３４５", "12 45"] {
            assert!(bad.parse::<Zipcode>().is_err(), "{bad:?}");
        }
        assert!(Zipcode::parse_lenient("abcde").is_err());
        assert!(Zipcode::parse_lenient("").is_err());
    }

    #[test]
    fn tiers_follow_size_rank() {
        assert_eq!(MarketTier::from_size_rank(1), MarketTier::Premium);
        assert_eq!(MarketTier::from_size_rank(100), MarketTier::Premium);
        assert_eq!(MarketTier::from_size_rank(101), MarketTier::Major);
        assert_eq!(MarketTier::from_size_rank(500), MarketTier::Major);
        assert_eq!(MarketTier::from_size_rank(2000), MarketTier::Standard);
        assert_eq!(MarketTier::from_size_rank(2001), MarketTier::Rural);
        for tier in MarketTier::ALL {
            assert_eq!(tier.as_str().parse::<MarketTier>().unwrap(), tier);
        }
    }

    #[test]
    fn regions_cover_the_states() {
        assert_eq!(geographic_region("ny"), "Northeast");
        assert_eq!(geographic_region("TX"), "South");
        assert_eq!(geographic_region("CA"), "West");
        assert_eq!(geographic_region("OH"), "Midwest");
        assert_eq!(geographic_region("PR"), "Other");
    }
}

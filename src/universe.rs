//! The built-in zipcode universe: the standard, active US zipcodes embedded by the `zipcodes` crate, with the
//! operator's prior of expected listings until real figures are imported.

use crate::domain::zipcode::{MarketTier, Zipcode, ZipcodeRecord};

/// Name recorded as the `source` of built-in rows.
pub const SOURCE: &str = "builtin";

/// Location fields of a zipcode as the embedded data knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub state: String,
    pub city: String,
    pub county: Option<String>,
}

fn is_standard(z: &zipcodes::Zipcode) -> bool {
    z.active && z.zip_code_type.eq_ignore_ascii_case("STANDARD") && z.country.eq_ignore_ascii_case("US")
}

/// Every standard, active US zipcode, with `prior_listings` expected listings each (tier `STANDARD`: the
/// embedded data has no market size).
pub fn builtin_universe(prior_listings: u32) -> Vec<ZipcodeRecord> {
    let mut records: Vec<ZipcodeRecord> = zipcodes::database()
        .iter()
        .filter(|z| is_standard(z))
        .filter_map(|z| {
            Some(ZipcodeRecord {
                zipcode: z.zip_code.parse::<Zipcode>().ok()?,
                state: z.state.clone(),
                city: z.city.clone(),
                county: Some(z.county.clone()).filter(|c| !c.is_empty()),
                expected_listings: prior_listings,
                tier: MarketTier::Standard,
                weight: 1.0,
                active: true,
            })
        })
        .collect();
    records.sort_by_key(|r| r.zipcode);
    records.dedup_by_key(|r| r.zipcode);
    records
}

/// The embedded location of `zipcode`, used to complete import rows that only give numbers.
pub fn builtin_location(zipcode: Zipcode) -> Option<Location> {
    zipcodes::matching(zipcode.as_str(), None).ok()?.into_iter().next().map(|z| Location {
        state: z.state,
        city: z.city,
        county: Some(z.county).filter(|c| !c.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_tens_of_thousands_of_standard_zipcodes() {
        let universe = builtin_universe(100);
        assert!(universe.len() > 25_000, "{}", universe.len());
        assert!(universe.windows(2).all(|w| w[0].zipcode < w[1].zipcode));
        let beverly_hills = universe.iter().find(|r| r.zipcode.as_str() == "90210").unwrap();
        assert_eq!(beverly_hills.state, "CA");
        assert!(universe.iter().any(|r| r.zipcode.as_str().starts_with('0')), "leading zeros kept");
    }

    #[test]
    fn looks_up_locations() {
        let location = builtin_location("10001".parse().unwrap()).unwrap();
        assert_eq!(location.state, "NY");
    }
}

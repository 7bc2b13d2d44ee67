//! The built-in zipcode universe: the standard, active US zipcodes of the `zipcodes` crate, extracted at build
//! time into a sorted table embedded in the binary, with the operator's prior of expected listings until real
//! figures are imported; and ([`csv`]) the CSV formats operators import real figures from.

pub mod csv;

use crate::domain::zipcode::{MarketTier, Zipcode, ZipcodeRecord};

/// Name recorded as the `source` of built-in rows.
pub const SOURCE: &str = "builtin";

/// `zipcode\tstate\tcity\tcounty` lines, sorted by zipcode (written by `build.rs`).
static TABLE: &str = include_str!(concat!(env!("OUT_DIR"), "/us_zipcodes.tsv"));

/// Location fields of a zipcode as the embedded data knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub state: String,
    pub city: String,
    pub county: Option<String>,
}

fn parse_line(line: &str) -> Option<(Zipcode, Location)> {
    let mut fields = line.split('\t');
    let zipcode = fields.next()?.parse().ok()?;
    let state = fields.next()?.to_string();
    let city = fields.next()?.to_string();
    let county = fields.next().filter(|c| !c.is_empty()).map(str::to_string);
    Some((zipcode, Location { state, city, county }))
}

/// Every standard, active US zipcode, with `prior_listings` expected listings each (tier `STANDARD`: the
/// embedded data has no market size).
pub fn builtin_universe(prior_listings: u32) -> Vec<ZipcodeRecord> {
    TABLE
        .lines()
        .filter_map(parse_line)
        .map(|(zipcode, location)| ZipcodeRecord {
            zipcode,
            state: location.state,
            city: location.city,
            county: location.county,
            expected_listings: prior_listings,
            tier: MarketTier::Standard,
            weight: 1.0,
            active: true,
        })
        .collect()
}

/// Finds embedded locations by binary search over the sorted table; build once per import.
pub struct BuiltinLocations {
    lines: Vec<&'static str>,
}

impl BuiltinLocations {
    pub fn load() -> Self {
        BuiltinLocations { lines: TABLE.lines().collect() }
    }

    pub fn locate(&self, zipcode: Zipcode) -> Option<Location> {
        let key = zipcode.as_str();
        let index = self.lines.binary_search_by(|line| line.get(..5).unwrap_or("").cmp(key)).ok()?;
        parse_line(self.lines[index]).map(|(_, location)| location)
    }
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
        assert!(universe.iter().all(|r| r.state.len() == 2 && r.expected_listings == 100));
    }

    #[test]
    fn looks_up_locations() {
        let locations = BuiltinLocations::load();
        assert_eq!(locations.locate("10001".parse().unwrap()).unwrap().state, "NY");
        assert_eq!(locations.locate("02134".parse().unwrap()).unwrap().city, "Allston");
        assert_eq!(locations.locate("00000".parse().unwrap()), None);
    }
}

//! The built-in zipcode universe: the standard, active US zipcodes of the `zipcodes` crate, extracted at build
//! time into a sorted table embedded in the binary, with the operator's prior of expected listings until real
//! figures are imported; and ([`csv`]) the CSV formats operators import real figures from.

pub mod csv;

use crate::domain::epoch::zipcode::{MarketTier, Zipcode, ZipcodeRecord};

/// Name recorded as the `source` of built-in rows.
pub const SOURCE: &str = "builtin";

/// `zipcode\tstate\tcity\tcounty\tlat\tlon` lines, sorted by zipcode (written by `build.rs`).
static TABLE: &str = include_str!(concat!(env!("OUT_DIR"), "/us_zipcodes.tsv"));

/// Location fields of a zipcode as the embedded data knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub state: String,
    pub city: String,
    pub county: Option<String>,
}

/// A zipcode's centre as the embedded data gives it (degrees; a few have none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    pub lat: f64,
    pub lon: f64,
}

fn parse_line(line: &str) -> Option<(Zipcode, Location)> {
    let mut fields = line.split('\t');
    let zipcode = fields.next()?.parse().ok()?;
    let state = fields.next()?.to_string();
    let city = fields.next()?.to_string();
    let county = fields.next().filter(|c| !c.is_empty()).map(str::to_string);
    Some((zipcode, Location { state, city, county }))
}

fn parse_coordinates(line: &str) -> Option<Coordinates> {
    let mut fields = line.split('\t').skip(4);
    let lat = fields.next()?.parse().ok()?;
    let lon = fields.next()?.parse().ok()?;
    Some(Coordinates { lat, lon })
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
        parse_line(self.line(zipcode)?).map(|(_, location)| location)
    }

    /// Where the zipcode lies, for maps.
    pub fn coordinates(&self, zipcode: Zipcode) -> Option<Coordinates> {
        parse_coordinates(self.line(zipcode)?)
    }

    fn line(&self, zipcode: Zipcode) -> Option<&'static str> {
        let key = zipcode.as_str();
        let index = self.lines.binary_search_by(|line| line.get(..5).unwrap_or("").cmp(key)).ok()?;
        Some(self.lines[index])
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
        let manhattan = locations.coordinates("10001".parse().unwrap()).unwrap();
        assert!((40.6..40.9).contains(&manhattan.lat) && (-74.1..-73.9).contains(&manhattan.lon), "{manhattan:?}");
        let placed = builtin_universe(1).iter().filter(|r| locations.coordinates(r.zipcode).is_some()).count();
        assert!(placed * 100 >= builtin_universe(1).len() * 99, "{placed} zipcodes have coordinates");
    }
}

//! Parsing operators' zipcode files into records. Three CSV formats are recognised by their header:
//!
//! - Zillow regions (`RegionID,SizeRank,RegionName,RegionType,StateName,State,City,Metro,CountyName`): no listing
//!   counts, so expected listings come from the prior scaled by the `SizeRank` tier;
//! - `zipcode,state,city,county,population,median_home_value,recently_sold_listings,market_tier,...`, where
//!   `recently_sold_listings` is the expected listings per epoch;
//! - plain `zipcode,expected_listings[,state,city,county,tier]`, with or without a header.
//!
//! Any of them may add a `weight` column (a decimal from 0 to 1000, 1 when absent or empty): how much more often
//! the selection draws the zipcode than another of its tier (`weightMillis` in the published inputs); 0 keeps
//! it in the table but out of every selection.
//!
//! A file is accepted whole or not at all: the first bad row is reported with its line number and reason.

use std::collections::HashMap;

use super::Location;
use crate::domain::epoch::zipcode::{MarketTier, Zipcode, ZipcodeError, ZipcodeRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvFormat {
    Zillow,
    RecentlySold,
    Plain,
}

impl CsvFormat {
    pub fn name(self) -> &'static str {
        match self {
            CsvFormat::Zillow => "zillow",
            CsvFormat::RecentlySold => "recently_sold_listings",
            CsvFormat::Plain => "plain",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("line {line}: {reason}")]
    Row { line: u64, reason: RowError },
    #[error("the file has no zipcode rows")]
    Empty,
    #[error("unrecognised CSV header: {0}")]
    UnknownFormat(String),
}

/// What is wrong with one row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// The CSV reader could not read the row.
    #[error("{0}")]
    Unreadable(String),
    #[error("missing {0}")]
    Missing(&'static str),
    #[error(transparent)]
    Zipcode(#[from] ZipcodeError),
    #[error("RegionType '{0}' is not a zip region")]
    NotZipRegion(String),
    #[error("{field} '{raw}' is not a number")]
    NotANumber { field: &'static str, raw: String },
    #[error("{field} '{raw}' is not a whole number >= 0")]
    NotACount { field: &'static str, raw: String },
    /// The tier's message names the tiers there are.
    #[error("{0}")]
    Tier(String),
    #[error("missing state for {0}, and it is not a known US zipcode")]
    NoState(Zipcode),
    #[error("state '{0}' is not a two-letter code")]
    NotAState(String),
    #[error("{field} is longer than {MAX_PLACE_CHARS} characters ({chars})")]
    TooLong { field: &'static str, chars: usize },
    #[error("{field} '{}' holds a control character", .raw.escape_default())]
    ControlCharacter { field: &'static str, raw: String },
    #[error("weight '{0}' is not a number from 0 to 1000")]
    NotAWeight(String),
    #[error("duplicate zipcode {zipcode} (first on line {first_line})")]
    Duplicate { zipcode: Zipcode, first_line: u64 },
}

/// How to fill what a file does not say.
pub struct ImportDefaults<'a> {
    /// Expected listings for a `STANDARD` zipcode when the file has no count (scaled by tier).
    pub prior_listings: u32,
    /// Location of a zipcode when the file gives none.
    pub locate: &'a dyn Fn(Zipcode) -> Option<Location>,
}

#[derive(Debug)]
pub struct ParsedFile {
    pub format: CsvFormat,
    pub records: Vec<ZipcodeRecord>,
}

struct Columns(HashMap<String, usize>);

impl Columns {
    fn get<'r>(&self, row: &'r csv::StringRecord, name: &str) -> Option<&'r str> {
        self.0.get(name).and_then(|&i| row.get(i)).map(str::trim).filter(|v| !v.is_empty())
    }
}

fn detect(header: &csv::StringRecord) -> Option<(CsvFormat, Columns)> {
    let columns = Columns(
        header
            .iter()
            .enumerate()
            .map(|(i, name)| (name.trim().trim_start_matches('\u{feff}').to_ascii_lowercase(), i))
            .collect(),
    );
    let has = |name: &str| columns.0.contains_key(name);
    if has("regionname") && has("sizerank") {
        Some((CsvFormat::Zillow, columns))
    } else if has("zipcode") && has("recently_sold_listings") {
        Some((CsvFormat::RecentlySold, columns))
    } else if has("zipcode") && has("expected_listings") {
        Some((CsvFormat::Plain, columns))
    } else {
        None
    }
}

fn parse_count(raw: Option<&str>, field: &'static str) -> Result<u32, RowError> {
    let raw = raw.ok_or(RowError::Missing(field))?;
    // Spreadsheets export whole numbers as `120.0`.
    let value: f64 = raw.parse().map_err(|_| RowError::NotANumber { field, raw: raw.to_string() })?;
    if !value.is_finite() || value < 0.0 || value.fract() != 0.0 || value > f64::from(u32::MAX) {
        return Err(RowError::NotACount { field, raw: raw.to_string() });
    }
    Ok(value as u32)
}

/// Parses CSV text in one of the three formats.
pub fn parse_csv(text: &str, defaults: &ImportDefaults<'_>) -> Result<ParsedFile, ImportError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut rows = reader.records();
    let first = match rows.next() {
        Some(Ok(row)) => row,
        Some(Err(e)) => return Err(ImportError::Row { line: 1, reason: RowError::Unreadable(e.to_string()) }),
        None => return Err(ImportError::Empty),
    };
    let (format, columns, pending) = match detect(&first) {
        Some((format, columns)) => (format, columns, None),
        // Headerless plain files: the first row is data.
        None if first.len() >= 2 && Zipcode::parse_lenient(&first[0]).is_ok() => {
            let names = ["zipcode", "expected_listings", "state", "city", "county", "tier"];
            let columns = Columns(names.iter().enumerate().map(|(i, n)| (n.to_string(), i)).collect());
            (CsvFormat::Plain, columns, Some(first))
        }
        None => {
            let header: Vec<&str> = first.iter().take(12).collect();
            return Err(ImportError::UnknownFormat(header.join(",")));
        }
    };

    let mut records = Vec::new();
    let mut first_line: HashMap<Zipcode, u64> = HashMap::new();
    let rows = pending.into_iter().map(Ok).chain(rows);
    for row in rows {
        let row = row.map_err(|e| ImportError::Row {
            line: e.position().map(|p| p.line()).unwrap_or(0),
            reason: RowError::Unreadable(e.to_string()),
        })?;
        let line = row.position().map(|p| p.line()).unwrap_or(0);
        if row.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let record = parse_row(format, &columns, &row, defaults).map_err(|reason| ImportError::Row { line, reason })?;
        if let Some(previous) = first_line.insert(record.zipcode, line) {
            return Err(ImportError::Row {
                line,
                reason: RowError::Duplicate { zipcode: record.zipcode, first_line: previous },
            });
        }
        records.push(record);
    }
    if records.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(ParsedFile { format, records })
}

fn parse_row(
    format: CsvFormat,
    columns: &Columns,
    row: &csv::StringRecord,
    defaults: &ImportDefaults<'_>,
) -> Result<ZipcodeRecord, RowError> {
    let zip_column = if format == CsvFormat::Zillow { "regionname" } else { "zipcode" };
    let raw_zip = columns.get(row, zip_column).ok_or(RowError::Missing(zip_column))?;
    let zipcode = Zipcode::parse_lenient(raw_zip)?;
    let (tier, expected_listings) = match format {
        CsvFormat::Zillow => {
            if let Some(kind) = columns.get(row, "regiontype") {
                if !kind.eq_ignore_ascii_case("zip") {
                    return Err(RowError::NotZipRegion(kind.to_string()));
                }
            }
            let rank = parse_count(columns.get(row, "sizerank"), "SizeRank")?;
            let tier = MarketTier::from_size_rank(rank);
            let expected = (f64::from(defaults.prior_listings) * tier.prior_multiplier()).round() as u32;
            (tier, expected)
        }
        CsvFormat::RecentlySold => {
            let tier = parse_tier(columns.get(row, "market_tier"))?;
            (tier, parse_count(columns.get(row, "recently_sold_listings"), "recently_sold_listings")?)
        }
        CsvFormat::Plain => {
            let tier = parse_tier(columns.get(row, "tier").or_else(|| columns.get(row, "market_tier")))?;
            (tier, parse_count(columns.get(row, "expected_listings"), "expected_listings")?)
        }
    };
    let county_column = if format == CsvFormat::Zillow { "countyname" } else { "county" };
    let known = || (defaults.locate)(zipcode);
    let state = match columns.get(row, "state") {
        Some(s) => s.to_ascii_uppercase(),
        None => known().map(|l| l.state).ok_or(RowError::NoState(zipcode))?,
    };
    if state.len() != 2 || !state.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(RowError::NotAState(state.chars().take(MAX_PLACE_CHARS).collect()));
    }
    let city = match columns.get(row, "city") {
        Some(c) => place_name(c, "city")?,
        None => known().map(|l| l.city).unwrap_or_default(),
    };
    let county = match columns.get(row, county_column) {
        Some(c) => Some(place_name(c, "county")?),
        None => known().and_then(|l| l.county),
    };
    let weight = parse_weight(columns.get(row, "weight"))?;
    Ok(ZipcodeRecord { zipcode, state, city, county, expected_listings, tier, weight, active: true })
}

/// The selection weight a row asks for: 1 when the column is absent or empty; at most 1000 (the inputs carry
/// it in thousandths, at most 1,000,000).
fn parse_weight(raw: Option<&str>) -> Result<f64, RowError> {
    let Some(raw) = raw.map(str::trim).filter(|raw| !raw.is_empty()) else { return Ok(1.0) };
    match raw.parse::<f64>() {
        Ok(weight) if weight.is_finite() && (0.0..=1_000.0).contains(&weight) => Ok(weight),
        _ => Err(RowError::NotAWeight(raw.chars().take(MAX_PLACE_CHARS).collect())),
    }
}

/// The longest city or county name taken (the longest US place names are under 60 characters).
pub const MAX_PLACE_CHARS: usize = 100;

/// A city or county name as served to every miner and shown on the dashboard: bounded, and printable.
fn place_name(raw: &str, field: &'static str) -> Result<String, RowError> {
    let chars = raw.chars().count();
    if chars > MAX_PLACE_CHARS {
        return Err(RowError::TooLong { field, chars });
    }
    if raw.chars().any(char::is_control) {
        return Err(RowError::ControlCharacter { field, raw: raw.to_string() });
    }
    Ok(raw.to_string())
}

fn parse_tier(raw: Option<&str>) -> Result<MarketTier, RowError> {
    raw.map(str::parse).unwrap_or(Ok(MarketTier::Standard)).map_err(RowError::Tier)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_lookup(_: Zipcode) -> Option<Location> {
        None
    }

    fn defaults() -> ImportDefaults<'static> {
        ImportDefaults { prior_listings: 100, locate: &no_lookup }
    }

    #[test]
    fn reads_zillow_regions() {
        let text = "RegionID,SizeRank,RegionName,RegionType,StateName,State,City,Metro,CountyName\n\
                    91982,1,77494,zip,TX,TX,Katy,\"Houston-The Woodlands-Sugar Land, TX\",Fort Bend County\n\
                    61148,700,08701,zip,NJ,NJ,Lakewood,\"New York-Newark-Jersey City, NY-NJ-PA\",Ocean County\n\
                    1,3000,501,zip,NY,NY,Holtsville,,Suffolk County\n";
        let parsed = parse_csv(text, &defaults()).unwrap();
        assert_eq!(parsed.format, CsvFormat::Zillow);
        let r = &parsed.records;
        assert_eq!((r[0].zipcode.as_str(), r[0].tier, r[0].expected_listings), ("77494", MarketTier::Premium, 300));
        assert_eq!((r[1].zipcode.as_str(), r[1].tier, r[1].expected_listings), ("08701", MarketTier::Standard, 100));
        assert_eq!((r[2].zipcode.as_str(), r[2].tier, r[2].expected_listings), ("00501", MarketTier::Rural, 50));
        assert_eq!(r[0].county.as_deref(), Some("Fort Bend County"));
        assert_eq!(r[1].city, "Lakewood");
    }

    #[test]
    fn reads_recently_sold_listings() {
        let text = "zipcode,state,city,county,population,median_home_value,recently_sold_listings,market_tier,geographic_region,last_scraped\n\
                    02134,MA,Boston,Suffolk,20000,700000,85,premium,Northeast,2025-01-01\n";
        let parsed = parse_csv(text, &defaults()).unwrap();
        assert_eq!(parsed.format, CsvFormat::RecentlySold);
        assert_eq!(parsed.records[0].expected_listings, 85);
        assert_eq!(parsed.records[0].tier, MarketTier::Premium);
        assert_eq!(parsed.records[0].zipcode.as_str(), "02134");
    }

    #[test]
    fn a_weight_column_sets_how_often_a_zipcode_is_drawn() {
        let d = defaults();
        let parsed =
            parse_csv("zipcode,state,expected_listings,weight\n10001,NY,120,2.5\n10002,NY,80,\n10003,NY,50,0\n", &d)
                .unwrap();
        let weights: Vec<f64> = parsed.records.iter().map(|r| r.weight).collect();
        assert_eq!(weights, [2.5, 1.0, 0.0]);
        for bad in ["-1", "1001", "NaN", "heavy"] {
            let err =
                parse_csv(&format!("zipcode,state,expected_listings,weight\n10001,NY,120,{bad}\n"), &d).unwrap_err();
            assert!(err.to_string().contains("is not a number from 0 to 1000"), "{bad}: {err}");
        }
    }

    #[test]
    fn reads_plain_files_with_and_without_header() {
        let located = |_: Zipcode| Some(Location { state: "NY".into(), city: "New York".into(), county: None });
        let d = ImportDefaults { prior_listings: 100, locate: &located };
        let with_header = parse_csv("zipcode,expected_listings\n10001,120\n10002,80.0\n", &d).unwrap();
        assert_eq!(with_header.records.len(), 2);
        assert_eq!(with_header.records[1].expected_listings, 80);
        assert_eq!(with_header.records[0].state, "NY");
        let headerless = parse_csv("10001,120,ny,New York,New York County,major\n", &d).unwrap();
        assert_eq!(headerless.format, CsvFormat::Plain);
        assert_eq!(headerless.records[0].tier, MarketTier::Major);
        assert_eq!(headerless.records[0].county.as_deref(), Some("New York County"));
    }

    #[test]
    fn reports_the_first_bad_row() {
        let long_city = format!("zipcode,expected_listings,state,city\n10001,1,NY,{}\n", "x".repeat(5_000));
        let cases: [(&str, u64, &str); 10] = [
            ("zipcode,expected_listings,state\n10001,120,NY\n10002,-5,NY\n", 3, "expected_listings"),
            ("zipcode,expected_listings,state\n10001,120,NY\nabcde,5,NY\n", 3, "invalid zipcode"),
            (
                "zipcode,expected_listings,state\n10001,120,NY\n10001,5,NY\n",
                3,
                "duplicate zipcode 10001 (first on line 2)",
            ),
            ("zipcode,expected_listings\n10001,120\n", 2, "missing state"),
            ("zipcode,expected_listings,state\n10001,12x,NY\n", 2, "not a number"),
            ("zipcode,expected_listings,state,city,county,tier\n10001,1,NY,a,b,gold\n", 2, "unknown market tier"),
            (&long_city, 2, "city is longer than 100 characters (5000)"),
            (
                "zipcode,expected_listings,state,city\n10001,1,NY,New\u{1b}[31mYork\n",
                2,
                "city 'New\\u{1b}[31mYork' holds a control character",
            ),
            ("zipcode,expected_listings,state,city,county\n10001,1,NY,a,\"Kings\nCounty\"\n", 2, "county"),
            (
                &format!("zipcode,expected_listings,state\n10001,1,{}\n", "N".repeat(5_000)),
                2,
                "is not a two-letter code",
            ),
        ];
        for (text, line, reason) in cases {
            match parse_csv(text, &defaults()) {
                Err(ImportError::Row { line: l, reason: r }) => {
                    assert_eq!(l, line, "{text}");
                    assert!(r.to_string().contains(reason), "{r} should mention {reason}");
                    assert!(r.to_string().len() < 200, "a refusal names the value briefly: {r}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert_eq!(parse_csv("", &defaults()).unwrap_err(), ImportError::Empty);
        assert_eq!(parse_csv("zipcode,expected_listings\n", &defaults()).unwrap_err(), ImportError::Empty);
        assert!(matches!(parse_csv("a,b,c\n1,2,3\n", &defaults()).unwrap_err(), ImportError::UnknownFormat(_)));
    }
}

//! What honest miners actually delivered per zipcode of an epoch: the evidence the coordinator recalibrates
//! expected listings from. A validator counts, per zipcode, the distinct listings it accepted from each miner it
//! judged honest and the distinct listings of all of them together. Credit stays capped at the expectation; these
//! counts are not, since they say how large the zipcode really is. Pure: inspections and verdicts in, counts out.

use std::collections::{BTreeMap, BTreeSet};

use super::validation::Inspection;
use crate::domain::epoch::zipcode::Zipcode;

/// One zipcode's honest deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deliveries {
    /// Distinct listings over every honest miner.
    pub total: u64,
    /// Distinct listings by honest miner (hotkey); miners that delivered none are left out.
    pub by_miner: BTreeMap<String, u64>,
}

/// The deliveries of `honest` miners for every zipcode of `zipcodes` (the epoch's, zero where nobody delivered).
pub fn honest_deliveries<'a>(
    zipcodes: impl IntoIterator<Item = Zipcode>,
    honest: impl IntoIterator<Item = &'a Inspection>,
) -> BTreeMap<Zipcode, Deliveries> {
    let mut deliveries: BTreeMap<Zipcode, Deliveries> =
        zipcodes.into_iter().map(|z| (z, Deliveries::default())).collect();
    let mut distinct: BTreeMap<Zipcode, BTreeSet<&str>> = BTreeMap::new();
    for inspection in honest {
        for (zipcode, &count) in inspection.counts.iter().filter(|(_, &count)| count > 0) {
            let Some(entry) = deliveries.get_mut(zipcode) else { continue };
            entry.by_miner.insert(inspection.hotkey.clone(), count);
        }
        for (listing, _) in &inspection.listings {
            let Ok(zipcode) = listing.zipcode.parse::<Zipcode>() else { continue };
            if deliveries.contains_key(&zipcode) {
                distinct.entry(zipcode).or_default().insert(listing.listing_id.as_str());
            }
        }
    }
    for (zipcode, ids) in distinct {
        if let Some(entry) = deliveries.get_mut(&zipcode) {
            entry.total = ids.len() as u64;
        }
    }
    deliveries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::judging::listing::tests::listing;

    fn inspection(hotkey: &str, listings: &[(&str, &str)]) -> Inspection {
        let listings: Vec<(crate::domain::judging::listing::Listing, i64)> =
            listings.iter().map(|(zipcode, id)| (listing(id, zipcode), 0)).collect();
        let mut counts: BTreeMap<Zipcode, u64> = BTreeMap::new();
        for (listing, _) in &listings {
            *counts.entry(listing.zipcode.parse().unwrap()).or_default() += 1;
        }
        Inspection {
            uid: 0,
            hotkey: hotkey.into(),
            lies: Vec::new(),
            notes: Vec::new(),
            counts,
            listings,
            last_upload_ms: None,
        }
    }

    #[test]
    fn the_total_counts_each_listing_once_and_each_miner_its_own() {
        let zip = |z: &str| z.parse::<Zipcode>().unwrap();
        let a = inspection("A", &[("02134", "1"), ("02134", "2"), ("10001", "9")]);
        let b = inspection("B", &[("02134", "2"), ("02134", "3")]);
        let deliveries = honest_deliveries([zip("02134"), zip("10001"), zip("99501")], [&a, &b]);
        assert_eq!(deliveries[&zip("02134")].total, 3);
        assert_eq!(deliveries[&zip("02134")].by_miner, BTreeMap::from([("A".into(), 2), ("B".into(), 2)]));
        assert_eq!(deliveries[&zip("10001")].total, 1);
        assert_eq!(deliveries[&zip("99501")], Deliveries::default(), "an epoch's zipcode nobody delivered");
        // A zipcode outside the epoch's is not evidence.
        let stray = inspection("C", &[("73301", "5")]);
        assert!(!honest_deliveries([zip("02134")], [&stray]).contains_key(&zip("73301")));
    }
}

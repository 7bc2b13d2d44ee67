//! The dishonest miners a local network can play, to see each caught: `inventor` (reports listings that do not
//! exist), `shader` (reports the real listings with some prices and areas altered) and `sybil` (two miners
//! under one coldkey reporting the same invented listings, to outvote their groups). `--liars` takes a count
//! (that many inventors) or a list of kinds.

use std::str::FromStr;

use crate::client::scraper::{ScrapeFuture, ScrapeJob, Scraper};
use crate::client::synthetic;
use crate::domain::listing::Listing;

/// A kind of dishonest miner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiarKind {
    Inventor,
    Shader,
    /// Counts as two miners sharing a coldkey.
    Sybil,
}

impl LiarKind {
    pub fn name(self) -> &'static str {
        match self {
            LiarKind::Inventor => "inventor",
            LiarKind::Shader => "shader",
            LiarKind::Sybil => "sybil",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            LiarKind::Inventor => "liar (inventor): invents listings",
            LiarKind::Shader => "liar (shader): alters 5-15 % of its listings' prices and areas",
            LiarKind::Sybil => "liar (sybil): shares a coldkey with another sybil, both inventing the same listings",
        }
    }

    /// Miners this kind takes.
    fn miners(self) -> usize {
        if self == LiarKind::Sybil {
            2
        } else {
            1
        }
    }
}

/// The liars of a local network, as `--liars` names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiarSpec(pub Vec<LiarKind>);

impl FromStr for LiarSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(count) = s.parse::<usize>() {
            return Ok(LiarSpec(vec![LiarKind::Inventor; count]));
        }
        s.split(',')
            .map(|kind| match kind.trim() {
                "inventor" => Ok(LiarKind::Inventor),
                "shader" => Ok(LiarKind::Shader),
                "sybil" => Ok(LiarKind::Sybil),
                other => Err(format!("'{other}' is not a liar kind: use a count, or inventor, shader and sybil")),
            })
            .collect::<Result<_, _>>()
            .map(LiarSpec)
    }
}

impl LiarSpec {
    /// Every miner's role, honest miners first: `None` for an honest one.
    pub fn roles(&self, miners: usize) -> Result<Vec<Option<LiarKind>>, String> {
        let dishonest: Vec<LiarKind> = self.0.iter().flat_map(|&k| std::iter::repeat_n(k, k.miners())).collect();
        if dishonest.len() > miners {
            return Err(format!("the liars need {} miners, there are {miners}", dishonest.len()));
        }
        let mut roles = vec![None; miners - dishonest.len()];
        roles.extend(dishonest.into_iter().map(Some));
        Ok(roles)
    }
}

/// Plays an inventor (and each half of a sybil pair): as many listings as expected, all invented; two
/// inventors invent the same ones.
pub struct InventingScraper;

impl Scraper for InventingScraper {
    fn describe(&self) -> String {
        "invented listings (a liar)".to_string()
    }

    fn scrape<'a>(&'a self, job: &'a ScrapeJob) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let scraped_at = crate::api::iso8601_millis(chrono::Utc::now().timestamp_millis());
            let real = synthetic::market(&job.zipcode, &job.city, &job.state, job.expected_listings, &scraped_at);
            Ok(real
                .into_iter()
                .enumerate()
                .map(|(n, listing)| Listing { listing_id: format!("made-up-{}-{n}", job.zipcode), ..listing })
                .collect())
        })
    }
}

/// Plays a shader: the real listings, with the price and living area of about one in ten (5 to 15 %,
/// varying by zipcode) raised by 5 to 15 %.
pub struct ShadingScraper;

impl Scraper for ShadingScraper {
    fn describe(&self) -> String {
        "real listings, some prices and areas altered (a liar)".to_string()
    }

    fn scrape<'a>(&'a self, job: &'a ScrapeJob) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let scraped_at = crate::api::iso8601_millis(chrono::Utc::now().timestamp_millis());
            let mut listings =
                synthetic::market(&job.zipcode, &job.city, &job.state, job.expected_listings, &scraped_at);
            let zipcode_number: usize = job.zipcode.parse().unwrap_or(0);
            let every = 7 + zipcode_number % 13; // one in 7 to one in 19: 5 to 15 % of the listings
            for (n, listing) in listings.iter_mut().enumerate().filter(|(n, _)| n % every == 0) {
                let raise = 105 + (n as u64 % 11);
                listing.price = listing.price * raise / 100;
                listing.living_area_sqft = (u64::from(listing.living_area_sqft) * raise / 100) as u32;
            }
            Ok(listings)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liars_are_a_count_or_kinds_and_sybils_come_in_pairs() {
        assert_eq!("2".parse::<LiarSpec>().unwrap(), LiarSpec(vec![LiarKind::Inventor; 2]));
        let spec: LiarSpec = "inventor,shader,sybil".parse().unwrap();
        let roles = spec.roles(6).unwrap();
        assert_eq!(roles[..2], [None, None]);
        assert_eq!(
            roles[2..],
            [Some(LiarKind::Inventor), Some(LiarKind::Shader), Some(LiarKind::Sybil), Some(LiarKind::Sybil)]
        );
        assert!(spec.roles(3).unwrap_err().contains("need 4 miners"));
        assert!("copier".parse::<LiarSpec>().unwrap_err().contains("'copier' is not a liar kind"));
    }
}

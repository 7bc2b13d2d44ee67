//! The kinds of dishonest miner a local network and the judging simulator play, to see each caught:
//! `inventor` (reports listings that do not exist), `shader` (reports the real listings with some prices and
//! areas altered), `copier` (scrapes nothing: uploads a groupmate's listings as its own, scrape times
//! rewritten), `exact-copier` (the same, scrape times kept) and `sybil` (two miners under one coldkey reporting
//! the same invented listings, to outvote their groups). `--liars` takes a count (that many inventors) or a
//! list of kinds.

use std::str::FromStr;

use crate::domain::judging::listing::Listing;

/// A kind of dishonest miner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiarKind {
    Inventor,
    Shader,
    Copier,
    /// A copier that keeps its groupmate's scrape times too.
    ExactCopier,
    /// Counts as two miners sharing a coldkey.
    Sybil,
}

impl LiarKind {
    pub fn name(self) -> &'static str {
        match self {
            LiarKind::Inventor => "inventor",
            LiarKind::Shader => "shader",
            LiarKind::Copier => "copier",
            LiarKind::ExactCopier => "exact-copier",
            LiarKind::Sybil => "sybil",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            LiarKind::Inventor => "liar (inventor): invents listings",
            LiarKind::Shader => "liar (shader): alters 5-15 % of its listings' prices and areas",
            LiarKind::Copier => "liar (copier): uploads a groupmate's listings as its own, with its own scrape times",
            LiarKind::ExactCopier => {
                "liar (exact-copier): uploads a groupmate's listings as its own, its scrape times included"
            }
            LiarKind::Sybil => "liar (sybil): shares a coldkey with another sybil, both inventing the same listings",
        }
    }

    /// Miners this kind takes.
    pub fn miners(self) -> usize {
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
                "copier" => Ok(LiarKind::Copier),
                "exact-copier" => Ok(LiarKind::ExactCopier),
                "sybil" => Ok(LiarKind::Sybil),
                other => Err(format!(
                    "'{other}' is not a liar kind: use a count, or inventor, shader, copier, exact-copier and sybil"
                )),
            })
            .collect::<Result<_, _>>()
            .map(LiarSpec)
    }
}

/// The liars asked for need more miners than there are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the liars need {needed} miners, there are {miners}")]
pub struct TooFewMiners {
    pub needed: usize,
    pub miners: usize,
}

impl LiarSpec {
    /// Every miner's role, honest miners first: `None` for an honest one.
    pub fn roles(&self, miners: usize) -> Result<Vec<Option<LiarKind>>, TooFewMiners> {
        let dishonest: Vec<LiarKind> = self.0.iter().flat_map(|&k| std::iter::repeat_n(k, k.miners())).collect();
        if dishonest.len() > miners {
            return Err(TooFewMiners { needed: dishonest.len(), miners });
        }
        let mut roles = vec![None; miners - dishonest.len()];
        roles.extend(dishonest.into_iter().map(Some));
        Ok(roles)
    }
}

/// A shader's lie: the price and living area of one listing in 7 to 19 (varying by `zipcode`: 5 to 15 % of
/// them) raised by 5 to 15 %.
pub fn shade(listings: &mut [Listing], zipcode: &str) {
    let every = 7 + zipcode.parse::<usize>().unwrap_or(0) % 13;
    for (n, listing) in listings.iter_mut().enumerate().filter(|(n, _)| n % every == 0) {
        let raise = 105 + (n as u64 % 11);
        listing.price = listing.price * raise / 100;
        listing.living_area_sqft = (u64::from(listing.living_area_sqft) * raise / 100) as u32;
    }
}

/// Every kind, in the order a share of liars is dealt.
pub const ALL_KINDS: [LiarKind; 5] =
    [LiarKind::Inventor, LiarKind::Shader, LiarKind::Copier, LiarKind::ExactCopier, LiarKind::Sybil];

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
        assert!(spec.roles(3).unwrap_err().to_string().contains("need 4 miners"));
        assert_eq!("copier".parse::<LiarSpec>().unwrap(), LiarSpec(vec![LiarKind::Copier]));
        assert_eq!("exact-copier".parse::<LiarSpec>().unwrap(), LiarSpec(vec![LiarKind::ExactCopier]));
        assert!("forger".parse::<LiarSpec>().unwrap_err().contains("'forger' is not a liar kind"));
    }
}

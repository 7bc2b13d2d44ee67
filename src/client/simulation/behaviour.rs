//! The simulated miners: a roster of operators (honest ones, and every kind of liar) and what each uploads in
//! an epoch. Honest miners differ the way real ones do: each starts somewhere in its poll interval, works its
//! zipcodes in the assignment's order at its own pace (each zipcode a little faster or slower), stamps scrape
//! times in milliseconds or whole seconds, and uploads each zipcode when it is done; some miss an epoch, start
//! late or fail a zipcode. Liars follow the same clock and lie in their own way.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::api::iso8601_millis;
use crate::client::liars::{shade, LiarKind};
use crate::client::simulation::market::{unit, EpochMarket, MarketZipcode};
use crate::domain::hotkey::Hotkey;
use crate::domain::judging::listing::{Listing, ListingFile};
use crate::domain::judging::validation::StoredFile;

/// How often a miner asks for its assignment: it starts somewhere in the first interval of the epoch.
const POLL_MS: f64 = 60_000.0;
/// Chances, per miner and epoch, of missing the epoch, of starting late (somewhere in its second half, some
/// files then arriving after the deadline), and per zipcode of the scraper failing it.
const ABSENT: f64 = 0.02;
const LATE: f64 = 0.03;
const FAILED_ZIPCODE: f64 = 0.01;
/// How often a copier looks at its groupmates' folders.
const COPY_POLL_MS: f64 = 250.0;

/// One simulated miner.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatedMiner {
    pub uid: u16,
    pub hotkey: Hotkey,
    pub coldkey: String,
    /// `None` for an honest miner.
    pub role: Option<LiarKind>,
    /// Milliseconds of scraping per listing.
    pub pace_ms: f64,
    /// Whether its scraper stamps whole seconds.
    pub whole_seconds: bool,
    /// Milliseconds an upload takes, typically.
    pub upload_ms: f64,
}

/// The roster: `roles` (honest first, as [`crate::client::liars::LiarSpec::roles`] deals them) over
/// `coldkeys` operators. Honest miners share the coldkeys liars leave (an operator may run several hotkeys);
/// every liar is its own operator but a sybil pair, which shares one.
pub fn roster(roles: &[Option<LiarKind>], coldkeys: usize, seed: u64) -> Vec<SimulatedMiner> {
    let liar_operators = roles.iter().flatten().filter(|&&k| k != LiarKind::Sybil).count()
        + roles.iter().filter(|&&r| r == Some(LiarKind::Sybil)).count().div_ceil(2);
    let honest_operators = coldkeys.saturating_sub(liar_operators).max(1);
    let mut sybils = 0;
    roles
        .iter()
        .enumerate()
        .map(|(n, &role)| {
            let hotkey = Hotkey::from_public(Sha256::digest(format!("simulated-miner:{seed}:{n}")).into());
            let coldkey = match role {
                None => format!("operator-{}", n % honest_operators),
                Some(LiarKind::Sybil) => {
                    sybils += 1;
                    format!("sybil-{}", (sybils - 1) / 2)
                }
                Some(kind) => format!("{}-{n}", kind.name()),
            };
            let draw = |what: &str| unit(&[&"miner", &seed, &n, &what]);
            SimulatedMiner {
                uid: n as u16,
                hotkey,
                coldkey,
                role,
                pace_ms: 200.0 + 2_800.0 * draw("pace"),
                whole_seconds: draw("stamp") < 0.5,
                upload_ms: 100.0 + 1_900.0 * draw("upload"),
            }
        })
        .collect()
}

/// One epoch as the miners see it.
pub struct EpochScene<'a> {
    pub index: u64,
    pub seed: u64,
    pub epoch_id: String,
    pub nonce: String,
    pub start_ms: i64,
    pub length_ms: i64,
    pub market: &'a EpochMarket,
}

/// One zipcode's upload.
#[derive(Debug, Clone)]
struct Upload {
    zipcode: String,
    uploaded_ms: i64,
    stamp: String,
    listings: Vec<Listing>,
}

impl EpochScene<'_> {
    fn draw(&self, miner: &SimulatedMiner, what: &dyn std::fmt::Display) -> f64 {
        unit(&[&"epoch", &self.seed, &self.index, &miner.uid, what])
    }

    fn stamp(&self, miner: &SimulatedMiner, at_ms: i64) -> String {
        let at = self.start_ms + at_ms;
        iso8601_millis(if miner.whole_seconds { at - at.rem_euclid(1_000) } else { at })
    }

    /// What a miner that scrapes (honest or not) uploads, before its lie: each zipcode read at the moment its
    /// scrape ends.
    fn scrape(&self, miner: &SimulatedMiner, zipcodes: &[&MarketZipcode]) -> Vec<Upload> {
        if self.draw(miner, &"absent") < ABSENT {
            return Vec::new();
        }
        let mut at = if self.draw(miner, &"late") < LATE {
            self.length_ms as f64 * (0.5 + 0.55 * self.draw(miner, &"late-start"))
        } else {
            POLL_MS * self.draw(miner, &"start")
        };
        let mut uploads = Vec::new();
        for (n, zipcode) in zipcodes.iter().enumerate() {
            let jitter = 0.7 + 0.6 * self.draw(miner, &format!("pace-{n}"));
            at += f64::from(zipcode.size) * miner.pace_ms * jitter;
            if self.draw(miner, &format!("fails-{n}")) < FAILED_ZIPCODE {
                continue;
            }
            let read = at as i64;
            let stamp = self.stamp(miner, read);
            let listings = self.market.scrape(zipcode, read, &stamp);
            at += miner.upload_ms * (0.5 + self.draw(miner, &format!("upload-{n}")));
            uploads.push(Upload { zipcode: zipcode.zipcode.clone(), uploaded_ms: at as i64, stamp, listings });
        }
        uploads
    }

    /// What `miner` uploads, given its zipcodes and (for a copier) what its groupmates uploaded before it.
    pub fn uploads(
        &self,
        miner: &SimulatedMiner,
        zipcodes: &[&MarketZipcode],
        groupmates: &[(&SimulatedMiner, &[StoredFile])],
    ) -> Vec<StoredFile> {
        let uploads = match miner.role {
            None => self.scrape(miner, zipcodes),
            Some(LiarKind::Shader) => {
                let mut uploads = self.scrape(miner, zipcodes);
                for upload in &mut uploads {
                    shade(&mut upload.listings, &upload.zipcode);
                }
                uploads
            }
            Some(LiarKind::Inventor | LiarKind::Sybil) => {
                let mut uploads = self.scrape(miner, zipcodes);
                for upload in &mut uploads {
                    for (n, listing) in upload.listings.iter_mut().enumerate() {
                        listing.listing_id = format!("made-up-{}-{n}", upload.zipcode);
                    }
                }
                uploads
            }
            Some(kind @ (LiarKind::Copier | LiarKind::ExactCopier)) => {
                self.copy(miner, zipcodes, groupmates, kind == LiarKind::ExactCopier)
            }
        };
        uploads.into_iter().map(|upload| self.file(miner, upload)).collect()
    }

    /// A copier: for each of its zipcodes, the first groupmate's file of it (the groupmate it copied first,
    /// once it has one), uploaded as its own a moment after it appeared.
    fn copy(
        &self,
        miner: &SimulatedMiner,
        zipcodes: &[&MarketZipcode],
        groupmates: &[(&SimulatedMiner, &[StoredFile])],
        keep_times: bool,
    ) -> Vec<Upload> {
        if self.draw(miner, &"absent") < ABSENT {
            return Vec::new();
        }
        let mut leader: Option<u16> = None;
        let mut uploads = Vec::new();
        for (n, zipcode) in zipcodes.iter().enumerate() {
            let candidates = groupmates.iter().filter(|(mate, _)| leader.is_none_or(|uid| uid == mate.uid));
            let found = candidates
                .flat_map(|(mate, files)| files.iter().map(move |file| (mate.uid, file)))
                .filter(|(_, file)| file.content.as_ref().is_some_and(|c| c.zipcode == zipcode.zipcode))
                .min_by_key(|(_, file)| file.uploaded_at_ms);
            let Some((uid, file)) = found else { continue };
            leader = Some(uid);
            let content = file.content.as_ref().expect("filtered on content");
            let seen =
                file.uploaded_at_ms - self.start_ms + (COPY_POLL_MS * self.draw(miner, &format!("poll-{n}"))) as i64;
            let stamp = if keep_times { content.scraped_at.clone() } else { self.stamp(miner, seen) };
            let listings = content
                .listings
                .iter()
                .map(|l| if keep_times { l.clone() } else { Listing { scraped_at: stamp.clone(), ..l.clone() } })
                .collect();
            let uploaded_ms = seen + (miner.upload_ms * (0.5 + self.draw(miner, &format!("upload-{n}")))) as i64;
            uploads.push(Upload { zipcode: zipcode.zipcode.clone(), uploaded_ms, stamp, listings });
        }
        uploads
    }

    fn file(&self, miner: &SimulatedMiner, upload: Upload) -> StoredFile {
        StoredFile {
            key: format!("epoch={}/zipcode={}/data_{}.json", self.epoch_id, upload.zipcode, upload.uploaded_ms),
            uploaded_at_ms: self.start_ms + upload.uploaded_ms,
            content: Some(ListingFile {
                epoch_id: self.epoch_id.clone(),
                nonce: self.nonce.clone(),
                hotkey: miner.hotkey.to_string(),
                zipcode: upload.zipcode,
                scraped_at: upload.stamp,
                listings: upload.listings,
            }),
        }
    }
}

/// The miners of each group, by group.
pub fn members_by_group(groups: &[Vec<usize>]) -> BTreeMap<usize, Vec<usize>> {
    let mut by_group: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (miner, worked) in groups.iter().enumerate() {
        for &group in worked {
            by_group.entry(group).or_default().push(miner);
        }
    }
    by_group
}

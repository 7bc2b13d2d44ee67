//! The scrapers that play the dishonest miners of a local network (the kinds are
//! [`crate::client::liars::LiarKind`]): inventing, shading and copying a groupmate's files.

use std::path::PathBuf;
use std::time::Duration;

pub use crate::client::liars::{LiarKind, LiarSpec};
use crate::client::miner::scraper::{ScrapeError, ScrapeFuture, ScrapeJob, Scraper};
use crate::client::synthetic;
use crate::domain::epoch::EpochId;
use crate::domain::judging::listing::{Listing, ListingFile};

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
            crate::client::liars::shade(&mut listings, &job.zipcode);
            Ok(listings)
        })
    }
}

/// Plays a copier: for each zipcode it waits for a groupmate's file in the bucket (read straight from the local
/// store's folder, as a colluding operator would hand it over), and reports that file's listings as scraped now.
/// In each epoch it copies the first groupmate it sees, and sticks to it.
pub struct CopyingScraper {
    /// The bucket's `data/` folder on disk.
    pub data: PathBuf,
    /// Its own hotkey, whose folder it does not copy from.
    pub hotkey: String,
    pub epoch_length: Duration,
    /// Whether it keeps the copied listings' scrape times (an `exact-copier`) instead of stamping them now.
    pub keep_times: bool,
    /// The epoch and the groupmate it copies in it.
    leader: parking_lot::Mutex<Option<(String, String)>>,
}

/// How often a copier looks for something to copy.
const COPY_POLL: Duration = Duration::from_millis(20);

impl CopyingScraper {
    pub fn new(data: PathBuf, hotkey: String, epoch_length: Duration) -> Self {
        CopyingScraper { data, hotkey, epoch_length, keep_times: false, leader: parking_lot::Mutex::new(None) }
    }

    /// The same copier keeping the copied scrape times.
    pub fn keeping_times(self) -> Self {
        CopyingScraper { keep_times: true, ..self }
    }

    /// The listings of the earliest file another miner (its leader, once chosen) uploaded for `job`.
    fn copy_of(&self, job: &ScrapeJob) -> Option<Vec<Listing>> {
        let leader = self.leader.lock().clone().filter(|(epoch, _)| *epoch == job.epoch_id).map(|(_, hotkey)| hotkey);
        let folders = std::fs::read_dir(&self.data).ok()?;
        let mut found: Option<(std::time::SystemTime, String, PathBuf)> = None;
        for folder in folders.flatten() {
            let name = folder.file_name().to_string_lossy().into_owned();
            let Some(hotkey) = name.strip_prefix("hotkey=") else { continue };
            if hotkey == self.hotkey || leader.as_deref().is_some_and(|leader| leader != hotkey) {
                continue;
            }
            let zipcode =
                folder.path().join(format!("epoch={}", job.epoch_id)).join(format!("zipcode={}", job.zipcode));
            for file in std::fs::read_dir(zipcode).into_iter().flatten().flatten() {
                let Ok(modified) = file.metadata().and_then(|m| m.modified()) else { continue };
                if found.as_ref().is_none_or(|(earliest, _, _)| modified < *earliest) {
                    found = Some((modified, hotkey.to_string(), file.path()));
                }
            }
        }
        let (_, hotkey, path) = found?;
        // A file still being written does not parse yet: the next look reads it whole.
        let file: ListingFile = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        let mut chosen = self.leader.lock();
        if chosen.as_ref().is_none_or(|(epoch, _)| *epoch != job.epoch_id) {
            *chosen = Some((job.epoch_id.clone(), hotkey));
        }
        Some(file.listings)
    }
}

impl Scraper for CopyingScraper {
    fn describe(&self) -> String {
        "a groupmate's listings, copied (a liar)".to_string()
    }

    fn scrape<'a>(&'a self, job: &'a ScrapeJob) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let start = job.epoch_id.parse::<EpochId>().map_err(|e| ScrapeError::GaveUp(e.to_string()))?;
            let end_ms = (start.start_unix() + self.epoch_length.as_secs() as i64) * 1000;
            loop {
                if let Some(listings) = self.copy_of(job) {
                    if self.keep_times {
                        return Ok(listings);
                    }
                    let scraped_at = crate::api::iso8601_millis(chrono::Utc::now().timestamp_millis());
                    return Ok(listings
                        .into_iter()
                        .map(|listing| Listing { scraped_at: scraped_at.clone(), ..listing })
                        .collect());
                }
                if chrono::Utc::now().timestamp_millis() >= end_ms {
                    let why = format!("no groupmate's file for zipcode {} to copy", job.zipcode);
                    return Err(ScrapeError::GaveUp(why));
                }
                tokio::time::sleep(COPY_POLL).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_copier_reports_its_first_groupmates_listings_as_scraped_now_and_sticks_to_that_groupmate() {
        let dir = tempfile::tempdir().unwrap();
        let epoch = EpochId::from_start_unix(chrono::Utc::now().timestamp() / 60 * 60);
        let job = |zipcode: &str| ScrapeJob {
            epoch_id: epoch.to_string(),
            zipcode: zipcode.into(),
            expected_listings: 3,
            city: "Boston".into(),
            state: "MA".into(),
        };
        const THEN: &str = "2026-01-01T00:00:00.000Z";
        // Each uploader's listings differ in price, so the copy says whose it is.
        let upload = |hotkey: &str, zipcode: &str, price: u64| {
            let folder = dir.path().join(format!("hotkey={hotkey}/epoch={epoch}/zipcode={zipcode}"));
            std::fs::create_dir_all(&folder).unwrap();
            let listings = synthetic::market(zipcode, "Boston", "MA", 3, THEN)
                .into_iter()
                .map(|listing| Listing { price, ..listing })
                .collect();
            let file = ListingFile {
                epoch_id: epoch.to_string(),
                nonce: "n".into(),
                hotkey: hotkey.into(),
                zipcode: zipcode.into(),
                scraped_at: THEN.into(),
                listings,
            };
            std::fs::write(folder.join("data_1.json"), serde_json::to_vec(&file).unwrap()).unwrap();
            // Apart in time, so the earlier upload is the earlier file.
            std::thread::sleep(Duration::from_millis(20));
        };
        let copier = CopyingScraper::new(dir.path().to_path_buf(), "5copier".into(), Duration::from_secs(60));
        upload("5copier", "02134", 1);
        upload("5leader", "02134", 2);
        upload("5other", "02134", 3);
        std::fs::write(dir.path().join("hotkey=5broken"), b"not a folder").unwrap();

        let copied = copier.scrape(&job("02134")).await.unwrap();
        assert_eq!(copied.len(), 3);
        assert!(copied.iter().all(|l| l.price == 2 && l.scraped_at != THEN), "the leader's, scraped 'now': {copied:?}");

        // In the next zipcode another groupmate uploads first; the copier waits for its leader.
        upload("5other", "02139", 3);
        let late_leader = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            upload("5leader", "02139", 2);
        };
        let second = job("02139");
        let (copied, ()) = tokio::join!(copier.scrape(&second), late_leader);
        assert!(copied.unwrap().iter().all(|l| l.price == 2));

        // Nothing to copy once the epoch is over: the zipcode fails instead of waiting for ever.
        let over =
            ScrapeJob { epoch_id: EpochId::from_start_unix(epoch.start_unix() - 3_600).to_string(), ..job("02134") };
        let error = copier.scrape(&over).await.unwrap_err();
        assert!(error.to_string().contains("no groupmate's file for zipcode 02134 to copy"), "{error}");
    }
}

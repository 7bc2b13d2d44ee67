//! Where a miner's listings come from: the `Scraper` trait, an external command per zipcode (so operators plug
//! in their own scraper in any language), and the synthetic market for local networks and tests.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::Deserialize;

use crate::client::command::{self, CommandError};
use crate::client::synthetic::{self, MarketSizes};
use crate::domain::judging::listing::Listing;

/// One zipcode to scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeJob {
    pub epoch_id: String,
    pub zipcode: String,
    pub expected_listings: u32,
    pub city: String,
    pub state: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("scraper exited with {code:?}: {stderr}")]
    Failed { code: Option<i32>, stderr: String },
    #[error("scraper output is not JSON listings: {0}")]
    Output(String),
    #[error("gave up: {0}")]
    GaveUp(String),
}

pub type ScrapeFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<Listing>, ScrapeError>> + Send + 'a>>;

pub trait Scraper: Send + Sync {
    /// For logs.
    fn describe(&self) -> String;
    fn scrape<'a>(&'a self, job: &'a ScrapeJob) -> ScrapeFuture<'a>;
}

/// Runs a shell command per zipcode. It gets `ZIPCOORD_ZIPCODE`, `ZIPCOORD_EXPECTED_LISTINGS`,
/// `ZIPCOORD_EPOCH_ID`, `ZIPCOORD_CITY` and `ZIPCOORD_STATE` and prints a JSON array of listings (or an object
/// with a `listings` array) on stdout; a non-zero exit fails the zipcode.
pub struct CommandScraper {
    pub command: String,
    pub timeout: Duration,
}

/// Most bytes a scraper may print for one zipcode.
const MAX_SCRAPER_OUTPUT: usize = 64 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(untagged)]
enum ScraperOutput {
    List(Vec<Listing>),
    Wrapped { listings: Vec<Listing> },
}

/// Reads what a scraper command printed.
pub fn parse_scraper_output(stdout: &[u8]) -> Result<Vec<Listing>, ScrapeError> {
    match serde_json::from_slice::<ScraperOutput>(stdout) {
        Ok(ScraperOutput::List(listings)) | Ok(ScraperOutput::Wrapped { listings }) => Ok(listings),
        Err(e) => Err(ScrapeError::Output(e.to_string())),
    }
}

impl Scraper for CommandScraper {
    fn describe(&self) -> String {
        format!("command `{}`", self.command)
    }

    fn scrape<'a>(&'a self, job: &'a ScrapeJob) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let env = [
                ("ZIPCOORD_ZIPCODE", job.zipcode.clone()),
                ("ZIPCOORD_EXPECTED_LISTINGS", job.expected_listings.to_string()),
                ("ZIPCOORD_EPOCH_ID", job.epoch_id.clone()),
                ("ZIPCOORD_CITY", job.city.clone()),
                ("ZIPCOORD_STATE", job.state.clone()),
            ];
            let output = command::run(&self.command, &env, None, self.timeout, MAX_SCRAPER_OUTPUT).await?;
            if output.code != Some(0) {
                return Err(ScrapeError::Failed { code: output.code, stderr: output.stderr_tail });
            }
            parse_scraper_output(&output.stdout)
        })
    }
}

/// Scrapes the synthetic market: every listing the zipcode's market holds (of `sizes`), after `delay` (to play
/// a slow miner).
pub struct SyntheticScraper {
    pub delay: Duration,
    pub sizes: MarketSizes,
}

impl Scraper for SyntheticScraper {
    fn describe(&self) -> String {
        format!("synthetic market ({:?} per zipcode)", self.delay)
    }

    fn scrape<'a>(&'a self, job: &'a ScrapeJob) -> ScrapeFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            let scraped_at = crate::api::iso8601_millis(chrono::Utc::now().timestamp_millis());
            let size = self.sizes.size(&job.zipcode, job.expected_listings);
            Ok(synthetic::market(&job.zipcode, &job.city, &job.state, size, &scraped_at))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> ScrapeJob {
        ScrapeJob {
            epoch_id: "2025-10-01T16-00-00".into(),
            zipcode: "02134".into(),
            expected_listings: 3,
            city: "Boston".into(),
            state: "MA".into(),
        }
    }

    #[tokio::test]
    async fn a_command_scraper_gets_the_job_in_its_environment() {
        let listing = synthetic::listing("02134", "Boston", "MA", 0, "2025-10-01T16:05:00.000Z");
        let json = serde_json::to_string(&serde_json::json!({ "listings": [listing] })).unwrap();
        let script = format!(
            "test \"$ZIPCOORD_ZIPCODE:$ZIPCOORD_EXPECTED_LISTINGS:$ZIPCOORD_EPOCH_ID:$ZIPCOORD_CITY\" = \
             '02134:3:2025-10-01T16-00-00:Boston' && echo '{json}'"
        );
        let scraper = CommandScraper { command: script, timeout: Duration::from_secs(10) };
        assert_eq!(scraper.scrape(&job()).await.unwrap(), vec![listing]);
    }

    #[tokio::test]
    async fn command_failures_are_errors_not_empty_results() {
        let failing = CommandScraper { command: "echo blocked >&2; exit 3".into(), timeout: Duration::from_secs(10) };
        let error = failing.scrape(&job()).await.unwrap_err().to_string();
        assert!(error.contains("Some(3)") && error.contains("blocked"), "{error}");
        let garbage = CommandScraper { command: "echo '{\"nope\": 1}'".into(), timeout: Duration::from_secs(10) };
        assert!(matches!(garbage.scrape(&job()).await, Err(ScrapeError::Output(_))));
        let hung = CommandScraper { command: "sleep 30".into(), timeout: Duration::from_millis(200) };
        let started = std::time::Instant::now();
        assert!(matches!(hung.scrape(&job()).await, Err(ScrapeError::Command(CommandError::Timeout(..)))));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn the_synthetic_scraper_delivers_the_whole_market() {
        let listings =
            SyntheticScraper { delay: Duration::ZERO, sizes: MarketSizes::AsExpected }.scrape(&job()).await.unwrap();
        assert_eq!(listings.len(), 3);
        assert!(listings.iter().all(|l| synthetic::check(l, 3).is_ok()));
        let varied = SyntheticScraper { delay: Duration::ZERO, sizes: MarketSizes::Varied };
        let listings = varied.scrape(&job()).await.unwrap();
        assert_eq!(listings.len() as u32, MarketSizes::Varied.size("02134", 3), "the market's own size, not 3");
    }
}

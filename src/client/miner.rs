//! The miner: polls the public stats, fetches the assignment when the epoch changes, reports `IN_PROGRESS`,
//! scrapes each zipcode through a [`Scraper`], uploads each zipcode's listings under
//! `data/hotkey={hk}/epoch={id}/zipcode={zip}/` with the grant from `/get-folder-access`, and reports the counts
//! with `COMPLETED` (or `FAILED`, or `TIMEOUT` when the deadline passed first).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::bucket::{Bucket, BucketError};
use super::scraper::{ScrapeJob, Scraper};
use super::{status_request, unix_now, ClientError, ZipcoordClient};
use crate::api::{iso8601_millis, parse_iso8601, AssignmentResponse, FolderAccessResponse, ZipcodeCompletion};
use crate::domain::epoch::EpochId;
use crate::domain::keys::Keypair;
use crate::domain::layout::listing_file_name;
use crate::domain::listing::ListingFile;
use crate::domain::status::MinerStatus;
use crate::domain::zipcode::Zipcode;

#[derive(Debug, thiserror::Error)]
pub enum MinerError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the assignment is not usable: {0}")]
    Assignment(String),
    #[error(transparent)]
    Bucket(#[from] BucketError),
}

/// What one epoch's work came to.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochWork {
    pub epoch_id: String,
    pub status: MinerStatus,
    pub zipcodes: usize,
    /// Zipcodes whose listings are in the bucket.
    pub uploaded: usize,
    pub listings: u64,
    /// Zipcodes that failed, and why.
    pub failures: Vec<(String, String)>,
}

/// The store refuses objects below 1 KiB (the contract's `content-length-range`); a zipcode with very few
/// listings is padded with trailing whitespace, which JSON readers ignore.
const MIN_OBJECT_BYTES: usize = 1024;

/// Tries per upload: the store or the path to it may hiccup.
const UPLOAD_ATTEMPTS: u32 = 3;

pub struct Miner {
    client: ZipcoordClient,
    bucket: Bucket,
    key: Keypair,
    /// Part of the folder-access commitment only; the server does not check it on chain.
    coldkey: String,
    scraper: Arc<dyn Scraper>,
}

impl Miner {
    pub fn new(client: ZipcoordClient, key: Keypair, coldkey: Option<String>, scraper: Arc<dyn Scraper>) -> Self {
        let coldkey = coldkey.unwrap_or_else(|| key.hotkey().to_string());
        Miner { client, bucket: Bucket::new(), key, coldkey, scraper }
    }

    pub fn hotkey(&self) -> String {
        self.key.hotkey().to_string()
    }

    /// The current assignment, as this miner sees it.
    pub async fn current(&self) -> Result<AssignmentResponse, ClientError> {
        self.client.current(&self.key, unix_now()).await
    }

    /// Reports progress; a report that fails is logged and mining goes on (reports inform the operator,
    /// uploads are what validators judge).
    async fn report(
        &self,
        epoch: EpochId,
        nonce: &str,
        status: MinerStatus,
        completed: &[ZipcodeCompletion],
        uploaded_all: bool,
    ) {
        let mut request = status_request(&self.key, epoch, nonce, status, unix_now());
        request.zipcodes_completed = completed.to_vec();
        request.listings_scraped = Some(completed.iter().map(|z| z.listings_scraped).sum());
        request.s3_upload_complete = uploaded_all;
        if uploaded_all {
            request.s3_upload_timestamp = Some(iso8601_millis(Utc::now().timestamp_millis()));
        }
        if let Err(error) = self.client.report_status(&self.key, &request).await {
            tracing::warn!(%epoch, status = status.as_str(), %error, "status report failed");
        }
    }

    /// Uploads `content` as `name` in the folder `grant` opens. In PUT mode the file gets its own grant, whose
    /// URL signs its size (the store then takes no other), so it is asked for now that the size is known.
    async fn upload(&self, grant: &FolderAccessResponse, name: &str, content: Vec<u8>) -> Result<(), MinerError> {
        let put_url = if grant.upload_mode == "put" {
            let names = [name.to_string()];
            let size = content.len() as u64;
            let sized = self.client.folder_access(&self.key, &self.coldkey, &names, Some(&[size]), unix_now()).await?;
            let key = format!("{}{name}", sized.folder);
            match sized.put_urls.into_iter().find(|p| p.key == key) {
                Some(put) => Some(put.url),
                None => return Err(BucketError::Malformed(format!("the grant has no PUT URL for {key}")).into()),
            }
        } else {
            None
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = match &put_url {
                Some(url) => self.bucket.put_object(url, content.clone()).await,
                None => self.bucket.post_object(&grant.url, &grant.fields, name, content.clone()).await,
            };
            match outcome {
                Err(BucketError::Transport(_)) if attempt < UPLOAD_ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                }
                other => return Ok(other?),
            }
        }
    }

    /// Does one epoch's work for `assignment`.
    pub async fn mine(&self, assignment: &AssignmentResponse) -> Result<EpochWork, MinerError> {
        let epoch: EpochId = assignment.epoch_id.parse().map_err(|e| MinerError::Assignment(format!("{e}")))?;
        let deadline_ms = parse_iso8601(&assignment.submission_deadline)
            .ok_or_else(|| MinerError::Assignment("unreadable submissionDeadline".into()))?;
        let zipcodes: Vec<(Zipcode, &crate::api::AssignedZipcode)> = assignment
            .zipcodes
            .iter()
            .map(|z| z.zipcode.parse::<Zipcode>().map(|zip| (zip, z)))
            .collect::<Result<_, _>>()
            .map_err(|e| MinerError::Assignment(e.to_string()))?;
        let nonce = assignment.nonce.as_str();
        self.report(epoch, nonce, MinerStatus::InProgress, &[], false).await;

        let stamp = Utc::now().format("%Y%m%d_%H%M%S").to_string();
        let names: Vec<String> = zipcodes.iter().map(|(zip, _)| listing_file_name(epoch, zip, &stamp)).collect();
        // The folder's grant: a POST policy for every file, or (PUT mode) the answer that says each file gets its
        // own sized grant when written.
        let grant = match self.client.folder_access(&self.key, &self.coldkey, &[], None, unix_now()).await {
            Ok(grant) => grant,
            Err(error) => {
                self.report(epoch, nonce, MinerStatus::Failed, &[], false).await;
                return Err(error.into());
            }
        };

        let mut work = EpochWork {
            epoch_id: assignment.epoch_id.clone(),
            status: MinerStatus::Completed,
            zipcodes: zipcodes.len(),
            uploaded: 0,
            listings: 0,
            failures: Vec::new(),
        };
        let mut completed = Vec::new();
        for ((zipcode, assigned), name) in zipcodes.iter().zip(&names) {
            if Utc::now().timestamp_millis() >= deadline_ms {
                work.status = MinerStatus::Timeout;
                break;
            }
            let job = ScrapeJob {
                epoch_id: assignment.epoch_id.clone(),
                zipcode: zipcode.to_string(),
                expected_listings: assigned.expected_listings,
                city: assigned.city.clone(),
                state: assigned.state.clone(),
            };
            let listings = match self.scraper.scrape(&job).await {
                Ok(listings) => listings,
                Err(error) => {
                    tracing::warn!(%epoch, %zipcode, %error, "scrape failed");
                    work.failures.push((zipcode.to_string(), error.to_string()));
                    continue;
                }
            };
            let count = listings.len();
            if count > 0 {
                let file = ListingFile {
                    epoch_id: assignment.epoch_id.clone(),
                    nonce: nonce.to_string(),
                    hotkey: self.hotkey(),
                    zipcode: zipcode.to_string(),
                    scraped_at: iso8601_millis(Utc::now().timestamp_millis()),
                    listings,
                };
                let mut content = serde_json::to_vec(&file).expect("listing files serialize");
                if content.len() < MIN_OBJECT_BYTES {
                    content.resize(MIN_OBJECT_BYTES, b' ');
                }
                if let Err(error) = self.upload(&grant, name, content).await {
                    tracing::warn!(%epoch, %zipcode, %error, "upload failed");
                    work.failures.push((zipcode.to_string(), error.to_string()));
                    continue;
                }
                work.uploaded += 1;
                work.listings += count as u64;
            }
            completed.push(ZipcodeCompletion {
                zipcode: zipcode.to_string(),
                listings_scraped: count as i64,
                completed_at: Some(iso8601_millis(Utc::now().timestamp_millis())),
            });
            self.report(epoch, nonce, MinerStatus::InProgress, &completed, false).await;
        }
        if work.status == MinerStatus::Completed && completed.is_empty() && !work.failures.is_empty() {
            work.status = MinerStatus::Failed;
        }
        let all_uploaded = work.failures.is_empty() && work.status == MinerStatus::Completed;
        self.report(epoch, nonce, work.status, &completed, all_uploaded).await;
        Ok(work)
    }

    /// Polls the stats every `poll` and mines each new epoch once, handing each epoch's result to `on_epoch`,
    /// until `shutdown` completes.
    pub async fn run(
        &self,
        poll: Duration,
        shutdown: impl Future<Output = ()>,
        mut on_epoch: impl FnMut(Result<EpochWork, MinerError>),
    ) {
        tokio::pin!(shutdown);
        let mut done: Option<String> = None;
        loop {
            match self.client.stats().await {
                Ok(stats) => {
                    let current = stats.epoch_status.current_epoch.map(|epoch| epoch.id);
                    if current.is_some() && current != done {
                        match self.current().await {
                            Ok(assignment) if Some(&assignment.epoch_id) != done.as_ref() => {
                                let outcome = self.mine(&assignment).await;
                                if outcome.is_ok() {
                                    done = Some(assignment.epoch_id.clone());
                                }
                                on_epoch(outcome);
                            }
                            Ok(_) => {}
                            Err(error) => on_epoch(Err(error.into())),
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "stats poll failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = &mut shutdown => return,
            }
        }
    }
}

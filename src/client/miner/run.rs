//! The miner: polls the public stats, gets the assignment when the epoch changes (from the API, else computed
//! or relayed, see [`crate::client::epochs`]), reports `IN_PROGRESS`, scrapes each zipcode through a [`Scraper`],
//! uploads each zipcode's listings under `data/hotkey={hk}/epoch={id}/zipcode={zip}/` with the grant from
//! `/get-folder-access` (fetched at every epoch's start and kept for an outage), and reports the counts with
//! `COMPLETED` (or `FAILED`, or `TIMEOUT` when the deadline passed first). What cannot be delivered while the
//! coordinator is down waits in the [`Outbox`]. Each epoch's work, the reports' answers and, once published,
//! the validators' verdicts go to the miner's [`crate::client::miner::history`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::api::{iso8601_millis, parse_iso8601, FolderAccessResponse, ZipcodeCompletion};
use crate::client::bucket::{Bucket, BucketError};
use crate::client::epochs::{Epochs, EpochsError, Source, Sourced};
use crate::client::miner::history::{history_time, EpochRecord, MinerHistory, ReportSent, ZipcodeWork};
use crate::client::miner::outbox::{Outbox, PendingReport};
use crate::client::miner::scraper::{ScrapeJob, Scraper};
use crate::client::{unix_now, ClientError, ZipcoordClient};
use crate::domain::access::keys::Keypair;
use crate::domain::access::layout::listing_file_name;
use crate::domain::epoch::status::MinerStatus;
use crate::domain::epoch::zipcode::Zipcode;
use crate::domain::epoch::EpochId;
use crate::domain::judging::listing::ListingFile;

#[derive(Debug, thiserror::Error)]
pub enum MinerError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the assignment is not usable: {0}")]
    Assignment(String),
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error(transparent)]
    Epochs(#[from] EpochsError),
}

/// What one epoch's work came to.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochWork {
    pub epoch_id: String,
    /// Where the assignment came from.
    pub source: Source,
    pub status: MinerStatus,
    pub zipcodes: usize,
    /// Zipcodes whose listings are in the bucket.
    pub uploaded: usize,
    pub listings: u64,
    /// Zipcodes that failed, and why.
    pub failures: Vec<(String, String)>,
    /// Files scraped but kept to upload later (no usable grant), and why.
    pub kept_for_later: Option<(usize, String)>,
}

/// The store refuses objects below 1 KiB (the contract's `content-length-range`); a zipcode with very few
/// listings is padded with trailing whitespace, which JSON readers ignore.
const MIN_OBJECT_BYTES: usize = 1024;

/// Tries per upload: the store or the path to it may hiccup.
const UPLOAD_ATTEMPTS: u32 = 3;

/// Epochs whose delivered listings are kept for `miner export-accepted` unless told otherwise: a week of 4-hour
/// epochs.
pub const DEFAULT_KEPT_LISTING_EPOCHS: usize = 42;

/// Epochs past the judging window an epoch's history waits for its verdicts while the API cannot serve them.
const VERDICT_PATIENCE_EPOCHS: i64 = 4;

/// Notes in the history what became of `zipcode`, scraped at `scraped_at` with `count` listings.
fn note_zipcode(
    record: &mut EpochRecord,
    zipcode: &Zipcode,
    scraped_at: i64,
    count: usize,
    outcome: impl FnOnce(&mut ZipcodeWork),
) {
    if let Some(work) = record.zipcode_mut(zipcode.as_str()) {
        work.scraped_at = Some(history_time(scraped_at));
        work.listings_found = count as u64;
        outcome(work);
    }
}

pub struct Miner {
    epochs: Arc<Epochs>,
    bucket: Bucket,
    key: Keypair,
    /// Part of the folder-access commitment only; the server does not check it on chain.
    coldkey: String,
    scraper: Arc<dyn Scraper>,
    /// Epochs whose delivered listings are kept for export.
    kept_listing_epochs: usize,
}

impl Miner {
    pub fn new(epochs: Arc<Epochs>, key: Keypair, coldkey: Option<String>, scraper: Arc<dyn Scraper>) -> Self {
        let coldkey = coldkey.unwrap_or_else(|| key.hotkey().to_string());
        Miner { epochs, bucket: Bucket::new(), key, coldkey, scraper, kept_listing_epochs: DEFAULT_KEPT_LISTING_EPOCHS }
    }

    /// The same miner, keeping the delivered listings of the newest `epochs` epochs.
    pub fn with_kept_listing_epochs(mut self, epochs: usize) -> Self {
        self.kept_listing_epochs = epochs;
        self
    }

    fn history(&self) -> MinerHistory<'_> {
        MinerHistory { state: self.epochs.state() }
    }

    fn client(&self) -> &ZipcoordClient {
        self.epochs.api()
    }

    /// The miner's state directory.
    pub fn state(&self) -> &crate::client::state::StateDir {
        self.epochs.state()
    }

    fn outbox(&self) -> Outbox<'_> {
        Outbox { state: self.epochs.state() }
    }

    pub fn hotkey(&self) -> String {
        self.key.hotkey().to_string()
    }

    /// The current assignment, as this miner sees it, and where it came from.
    pub async fn current(&self) -> Result<Sourced, EpochsError> {
        self.epochs.current(&self.key).await
    }

    /// Reports progress and notes the report, with its answer, in the epoch's history `record` (whose nonce it
    /// carries). A report the API cannot take now (or, with `api_down`, that it could not a moment ago: each
    /// try would cost its retries) is queued for when it answers again, one that it refuses is logged, and mining
    /// goes on either way (reports inform the operator, uploads are what validators judge).
    async fn report(
        &self,
        record: &mut EpochRecord,
        api_down: bool,
        epoch: EpochId,
        status: MinerStatus,
        completed: &[ZipcodeCompletion],
        uploaded_all: bool,
    ) {
        let sent_at = history_time(unix_now());
        let report = PendingReport {
            epoch,
            nonce: record.nonce.clone(),
            status,
            completed: completed.to_vec(),
            uploaded_all,
            uploaded_at_ms: uploaded_all.then(|| Utc::now().timestamp_millis()),
        };
        let answer = if api_down {
            self.outbox().queue_report(&report);
            "queued: the API did not answer for this epoch's assignment".to_string()
        } else {
            match self.client().report_status(&self.key, &report.signed(&self.key, unix_now())).await {
                Ok(answer) => format!("recorded: {}", answer.message),
                Err(error) if error.is_outage() => {
                    tracing::info!(%epoch, status = status.as_str(), %error, "status report queued until the API answers");
                    self.outbox().queue_report(&report);
                    format!("queued: {error}")
                }
                Err(error) => {
                    tracing::warn!(%epoch, status = status.as_str(), %error, "status report refused");
                    format!("refused: {error}")
                }
            }
        };
        record.reports.push(ReportSent {
            status: status.to_string(),
            zipcodes_completed: completed.len(),
            sent_at,
            answer,
        });
    }

    /// The folder's upload grant: fetched from the API and kept, else (or, with `api_down`, straight away) the
    /// kept one while it lasts. In PUT mode the answer only says that each file gets its own sized grant when
    /// written.
    async fn upload_grant(&self, api_down: bool) -> Result<FolderAccessResponse, String> {
        let unreachable = if api_down {
            "the API did not answer for this epoch's assignment".to_string()
        } else {
            match self.client().folder_access(&self.key, &self.coldkey, &[], None, unix_now()).await {
                Ok(grant) => {
                    self.outbox().keep_grant(&grant, Utc::now().timestamp_millis());
                    return Ok(grant);
                }
                Err(error) if error.is_outage() => error.to_string(),
                Err(error) => return Err(error.to_string()),
            }
        };
        match self.outbox().usable_grant(Utc::now().timestamp_millis()) {
            Ok(grant) => {
                tracing::info!(expires = %grant.expiry, "the API is unreachable; uploading with the kept grant");
                Ok(grant)
            }
            Err(unusable) => Err(format!("the API is unreachable ({unreachable}) and {unusable}")),
        }
    }

    /// Uploads the files kept for later, oldest epoch first, once a grant can be had.
    async fn upload_kept_files(&self, current: EpochId) {
        let Some(clock) = self.epochs.clock() else { return };
        let outbox = self.outbox();
        let epochs = outbox.pending_epochs(clock, current);
        if epochs.is_empty() {
            return;
        }
        let grant = match self.upload_grant(false).await {
            Ok(grant) => grant,
            Err(why) => {
                tracing::debug!(%why, "kept files wait for a usable grant");
                return;
            }
        };
        for epoch in epochs {
            for (name, path) in outbox.pending_files(epoch) {
                let Some(content) = self.epochs.state().read_bytes(&path) else { continue };
                match self.upload(&grant, &name, content).await {
                    Ok(()) => {
                        tracing::info!(%epoch, file = %name, "uploaded a file kept through the outage");
                        self.epochs.state().remove(&path);
                    }
                    Err(error) => {
                        tracing::warn!(%epoch, file = %name, %error, "kept file not uploaded yet");
                        return;
                    }
                }
            }
            let _ = std::fs::remove_dir(self.epochs.state().path(&format!("pending/{epoch}")));
        }
    }

    /// Uploads `content` as `name` in the folder `grant` opens. In PUT mode the file gets its own grant, whose
    /// URL signs its size (the store then takes no other), so it is asked for now that the size is known.
    async fn upload(&self, grant: &FolderAccessResponse, name: &str, content: Vec<u8>) -> Result<(), MinerError> {
        let put_url = if grant.upload_mode == "put" {
            let names = [name.to_string()];
            let size = content.len() as u64;
            let sized =
                self.client().folder_access(&self.key, &self.coldkey, &names, Some(&[size]), unix_now()).await?;
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

    /// Does one epoch's work for `sourced`'s assignment.
    pub async fn mine(&self, sourced: &Sourced) -> Result<EpochWork, MinerError> {
        let assignment = &sourced.assignment;
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
        // An assignment that did not come from the API means it did not answer a moment ago: reports are queued
        // and the kept grant used without asking it again (each try would cost its retries).
        let api_down = sourced.source != Source::Api;
        let history = self.history();
        let mut record = history
            .open_record(&assignment.epoch_id)
            .unwrap_or_else(|| EpochRecord::started(assignment, &sourced.source.to_string(), &self.hotkey()));
        self.report(&mut record, api_down, epoch, MinerStatus::InProgress, &[], false).await;
        history.save_open(&record);

        let stamp = Utc::now().format("%Y%m%d_%H%M%S").to_string();
        let names: Vec<String> = zipcodes.iter().map(|(zip, _)| listing_file_name(epoch, zip, &stamp)).collect();
        // The folder's grant: a POST policy for every file, or (PUT mode) the answer that says each file gets its
        // own sized grant when written. Without one, the scraped files are kept to upload later.
        let grant = self.upload_grant(api_down).await;
        if let Err(why) = &grant {
            tracing::warn!(%epoch, %why, "no usable upload grant: scraped files are kept to upload later");
        }

        let mut work = EpochWork {
            epoch_id: assignment.epoch_id.clone(),
            source: sourced.source.clone(),
            status: MinerStatus::Completed,
            zipcodes: zipcodes.len(),
            uploaded: 0,
            listings: 0,
            failures: Vec::new(),
            kept_for_later: None,
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
            let scraped_at = unix_now();
            let listings = match self.scraper.scrape(&job).await {
                Ok(listings) => listings,
                Err(error) => {
                    tracing::warn!(%epoch, %zipcode, %error, "scrape failed");
                    work.failures.push((zipcode.to_string(), error.to_string()));
                    note_zipcode(&mut record, zipcode, scraped_at, 0, |z| z.failure = Some(format!("scrape: {error}")));
                    history.save_open(&record);
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
                let failure = match &grant {
                    Ok(grant) => match self.upload(grant, name, content).await {
                        Ok(()) => {
                            work.uploaded += 1;
                            note_zipcode(&mut record, zipcode, scraped_at, count, |z| z.files_uploaded += 1);
                            None
                        }
                        Err(error) => {
                            tracing::warn!(%epoch, %zipcode, %error, "upload failed");
                            Some(format!("upload: {error}"))
                        }
                    },
                    Err(why) => match self.outbox().spool(epoch, name, &content) {
                        Ok(()) => {
                            work.kept_for_later.get_or_insert_with(|| (0, why.clone())).0 += 1;
                            note_zipcode(&mut record, zipcode, scraped_at, count, |z| z.kept_for_later = true);
                            None
                        }
                        Err(error) => Some(format!("{why}; cannot keep the file: {error}")),
                    },
                };
                if let Some(failure) = failure {
                    work.failures.push((zipcode.to_string(), failure.clone()));
                    note_zipcode(&mut record, zipcode, scraped_at, count, |z| z.failure = Some(failure));
                    history.save_open(&record);
                    continue;
                }
                if let Err(error) = history.keep_delivered(&assignment.epoch_id, &file.listings) {
                    tracing::warn!(%epoch, %zipcode, %error, "delivered listings not kept for export");
                }
                work.listings += count as u64;
            } else {
                note_zipcode(&mut record, zipcode, scraped_at, 0, |_| {});
            }
            completed.push(ZipcodeCompletion {
                zipcode: zipcode.to_string(),
                listings_scraped: count as i64,
                completed_at: Some(iso8601_millis(Utc::now().timestamp_millis())),
            });
            self.report(&mut record, api_down, epoch, MinerStatus::InProgress, &completed, false).await;
            history.save_open(&record);
        }
        if work.status == MinerStatus::Completed && completed.is_empty() && !work.failures.is_empty() {
            work.status = MinerStatus::Failed;
        }
        let all_uploaded =
            work.failures.is_empty() && work.kept_for_later.is_none() && work.status == MinerStatus::Completed;
        self.report(&mut record, api_down, epoch, work.status, &completed, all_uploaded).await;
        record.status = Some(work.status.to_string());
        history.save_open(&record);
        history.keep_delivered_epochs(self.kept_listing_epochs);
        Ok(work)
    }

    /// Polls every `poll` for the current epoch (the API's stats, else the remembered clock) and mines each new
    /// epoch once, handing each epoch's result to `on_epoch`, until `shutdown` completes. Before each epoch, and
    /// whenever the API answers again, what waited in the outbox is delivered.
    pub async fn run(
        &self,
        poll: Duration,
        shutdown: impl Future<Output = ()>,
        mut on_epoch: impl FnMut(Result<EpochWork, MinerError>),
    ) {
        tokio::pin!(shutdown);
        let mut done: Option<String> = None;
        loop {
            if let Some(current) = self.epochs.current_epoch_id().await {
                self.deliver_outbox(current).await;
                self.close_history().await;
                if Some(current.to_string()) != done {
                    match self.current().await {
                        Ok(sourced) if Some(&sourced.assignment.epoch_id) != done.as_ref() => {
                            tracing::info!(epoch = %sourced.assignment.epoch_id, source = %sourced.source, "assignment");
                            let outcome = self.mine(&sourced).await;
                            if outcome.is_ok() {
                                done = Some(sourced.assignment.epoch_id.clone());
                            }
                            on_epoch(outcome);
                        }
                        Ok(_) => {}
                        Err(error) => on_epoch(Err(error.into())),
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = &mut shutdown => return,
            }
        }
    }

    /// Closes the history of each epoch whose judging window has passed: with this miner's verdicts once the API
    /// serves them; without, when it says it never will or has not for [`VERDICT_PATIENCE_EPOCHS`] epochs more.
    pub async fn close_history(&self) {
        let Some(clock) = self.epochs.clock() else { return };
        let history = self.history();
        let now = unix_now();
        for mut record in history.open_records() {
            let Ok(epoch) = record.epoch_id.parse::<EpochId>() else { continue };
            let window_end = clock.judging_window_end(epoch);
            if now < window_end {
                continue;
            }
            match self.client().epoch_results(&self.key, epoch, now).await {
                Ok(results) => record.take_verdicts(&results),
                Err(ClientError::Api { status: 409, .. }) => continue,
                Err(error)
                    if error.is_outage() && now < window_end + VERDICT_PATIENCE_EPOCHS * clock.length_seconds() =>
                {
                    tracing::debug!(%epoch, %error, "the epoch's verdicts cannot be read yet");
                    continue;
                }
                Err(error) => record.verdicts_unavailable(format!("the results could not be read: {error}")),
            }
            let verdicts = record.verdicts.validators.len();
            match history.close(record, now) {
                Ok(()) => tracing::info!(%epoch, verdicts, "epoch recorded in the history"),
                Err(error) => tracing::warn!(%epoch, %error, "history line not written; retrying at the next poll"),
            }
        }
    }

    /// Sends queued status reports and uploads kept files, if the API answers.
    pub async fn deliver_outbox(&self, current: EpochId) {
        let Some(clock) = self.epochs.clock() else { return };
        if self.outbox().queued_reports() > 0 {
            self.outbox().flush_reports(self.client(), &self.key, clock, unix_now()).await;
        }
        self.upload_kept_files(current).await;
    }
}

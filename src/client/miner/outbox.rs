//! What a miner could not deliver while the coordinator was unreachable, kept in its state directory until it
//! answers again: the latest status report of each epoch (signed afresh when sent: a signature is good for
//! minutes, an outage lasts longer), the files scraped without a usable upload grant, and the latest upload
//! grant itself (a folder grant lasts 24 hours, so the one fetched at an epoch's start carries uploads through an
//! outage of most of a day).

use serde::{Deserialize, Serialize};

use crate::api::{iso8601_millis, parse_iso8601, FolderAccessResponse, ZipcodeCompletion};
use crate::client::state::StateDir;
use crate::client::{status_request, ZipcoordClient};
use crate::domain::access::keys::Keypair;
use crate::domain::epoch::status::MinerStatus;
use crate::domain::epoch::{EpochClock, EpochId};

/// A status report as the miner meant it, without its signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingReport {
    pub epoch: EpochId,
    pub nonce: String,
    pub status: MinerStatus,
    pub completed: Vec<ZipcodeCompletion>,
    pub uploaded_all: bool,
    /// When the upload completed (Unix ms), if it did.
    pub uploaded_at_ms: Option<i64>,
}

impl PendingReport {
    /// The signed request for this report, signed by `key` at `timestamp`.
    pub fn signed(&self, key: &Keypair, timestamp: i64) -> crate::api::StatusRequest {
        let mut request = status_request(key, self.epoch, &self.nonce, self.status, timestamp);
        request.zipcodes_completed = self.completed.clone();
        request.listings_scraped = Some(self.completed.iter().map(|z| z.listings_scraped).sum());
        request.s3_upload_complete = self.uploaded_all;
        request.s3_upload_timestamp = self.uploaded_at_ms.map(iso8601_millis);
        request
    }
}

/// A grant kept for an outage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptGrant {
    pub grant: FolderAccessResponse,
    pub fetched_at_ms: i64,
}

/// Why no kept grant can be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantUnusable {
    #[error("no upload grant is kept (the API was never reached for one)")]
    None,
    #[error("the kept upload grant expired at {0}")]
    Expired(String),
    #[error("the server grants uploads per file (PUT mode), which cannot be had without it")]
    PerFile,
}

/// A grant this close to its expiry is not started on: an upload takes a while.
const GRANT_MARGIN_MS: i64 = 60_000;

/// Scraped files kept at most this many epochs back; older ones could no longer be judged.
pub const PENDING_EPOCHS_KEPT: i64 = 2;

/// A miner's undelivered reports and files, and its kept grant.
pub struct Outbox<'a> {
    pub state: &'a StateDir,
}

impl Outbox<'_> {
    /// Queues `report` (replacing an earlier one of its epoch: each report carries the whole progress so far).
    pub fn queue_report(&self, report: &PendingReport) {
        if let Err(error) = self.state.write(&format!("outbox/{}.json", report.epoch), "status-report", report) {
            tracing::warn!(epoch = %report.epoch, %error, "cannot queue the status report");
        }
    }

    /// Sends the queued reports, oldest epoch first, until the API fails to answer. A report the server can no
    /// longer take (its epoch closed one epoch length after its end) or refuses is dropped with a log line.
    /// Returns how many were delivered.
    pub async fn flush_reports(
        &self,
        client: &ZipcoordClient,
        key: &Keypair,
        clock: EpochClock,
        now_unix: i64,
    ) -> usize {
        let mut delivered = 0;
        for name in self.state.list("outbox") {
            let Some(report) = self.state.read::<PendingReport>(&name, "status-report") else { continue };
            if now_unix >= clock.judging_window_end(report.epoch) {
                tracing::info!(epoch = %report.epoch, status = report.status.as_str(), "dropping a status report the server no longer takes (its epoch closed for reports)");
                self.state.remove(&name);
                continue;
            }
            match client.report_status(key, &report.signed(key, now_unix)).await {
                Ok(_) => {
                    tracing::info!(epoch = %report.epoch, status = report.status.as_str(), "delivered a queued status report");
                    self.state.remove(&name);
                    delivered += 1;
                }
                Err(error) if error.is_outage() => break,
                Err(error) => {
                    tracing::warn!(epoch = %report.epoch, %error, "the server refused a queued status report; dropped");
                    self.state.remove(&name);
                }
            }
        }
        delivered
    }

    pub fn queued_reports(&self) -> usize {
        self.state.list("outbox").len()
    }

    pub fn keep_grant(&self, grant: &FolderAccessResponse, now_ms: i64) {
        let kept = KeptGrant { grant: grant.clone(), fetched_at_ms: now_ms };
        if let Err(error) = self.state.write("grant.json", "upload-grant", &kept) {
            tracing::warn!(%error, "cannot keep the upload grant");
        }
    }

    /// The kept grant, if it can still carry an upload started at `now_ms`.
    pub fn usable_grant(&self, now_ms: i64) -> Result<FolderAccessResponse, GrantUnusable> {
        let kept: KeptGrant = self.state.read("grant.json", "upload-grant").ok_or(GrantUnusable::None)?;
        if kept.grant.upload_mode == "put" {
            return Err(GrantUnusable::PerFile);
        }
        match parse_iso8601(&kept.grant.expiry) {
            Some(expires_ms) if expires_ms - GRANT_MARGIN_MS > now_ms => Ok(kept.grant),
            _ => Err(GrantUnusable::Expired(kept.grant.expiry)),
        }
    }

    /// Keeps a scraped file that could not be uploaded, to upload when a grant can be had. Object names hold
    /// `/` and `=`, so the file is named by the object name's hex.
    pub fn spool(&self, epoch: EpochId, name: &str, content: &[u8]) -> Result<(), crate::client::state::StateError> {
        self.state.write_bytes(&format!("pending/{epoch}/{}", hex::encode(name)), content)
    }

    /// The epochs with files waiting, oldest first, dropping those more than [`PENDING_EPOCHS_KEPT`] epochs
    /// before `current` with a log line.
    pub fn pending_epochs(&self, clock: EpochClock, current: EpochId) -> Vec<EpochId> {
        let mut epochs = Vec::new();
        let Ok(entries) = std::fs::read_dir(self.state.path("pending")) else { return epochs };
        let oldest_kept = current.start_unix() - PENDING_EPOCHS_KEPT * clock.length_seconds();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            match name.parse::<EpochId>() {
                Ok(epoch) if epoch.start_unix() >= oldest_kept => epochs.push(epoch),
                Ok(epoch) => {
                    tracing::info!(%epoch, "dropping scraped files never uploaded: the epoch is past judging");
                    let _ = std::fs::remove_dir_all(entry.path());
                }
                Err(_) => {}
            }
        }
        epochs.sort();
        epochs
    }

    /// The files of `epoch` waiting: `(object name, state-relative path)`; a file whose name does not decode is
    /// set aside.
    pub fn pending_files(&self, epoch: EpochId) -> Vec<(String, String)> {
        let folder = format!("pending/{epoch}");
        let mut files = Vec::new();
        for path in self.state.list(&folder) {
            match hex::decode(&path[folder.len() + 1..]).ok().and_then(|bytes| String::from_utf8(bytes).ok()) {
                Some(name) => files.push((name, path)),
                None => self.state.set_aside(&path, "is not a kept upload"),
            }
        }
        files
    }
}

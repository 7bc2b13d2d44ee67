//! Miners' status reports: checked against the epoch they name (started, still open, right nonce, only its
//! zipcodes) and stored, every one of them.

use sha2::{Digest, Sha256};

use crate::domain::access::auth::HotkeySignature;
use crate::domain::epoch::proof::Nonce;
use crate::domain::epoch::status::{MinerStatus, StatusReport, ZipcodeProgress};
use crate::domain::epoch::EpochId;
use crate::domain::hotkey::Hotkey;

use super::{App, AppError, AppResult};
use crate::storage::Recorded;

/// A status report as the HTTP edge parsed it, before the epoch-dependent checks.
#[derive(Debug, Clone)]
pub struct StatusSubmission {
    pub hotkey: Hotkey,
    /// What it was signed with: one signature carries one report.
    pub signature: HotkeySignature,
    pub epoch: EpochId,
    pub nonce: Nonce,
    pub status: MinerStatus,
    pub s3_upload_complete: bool,
    pub listings_scraped: Option<u64>,
    pub zipcodes_completed: Vec<ZipcodeProgress>,
    pub s3_upload_at_ms: Option<i64>,
}

impl App {
    /// Validates and stores a miner's status report; returns when it was received (Unix ms).
    pub async fn record_status(&self, submission: StatusSubmission) -> AppResult<i64> {
        let epoch = submission.epoch;
        let assignment = self.started_epoch(epoch).await?;
        let now_ms = self.now_ms();
        // Late reports are accepted until the epoch's judging window ends, so a miner can still report a finished run.
        let closes_at_ms = self.settings.epochs.clock.judging_window_end(epoch) * 1000;
        if now_ms >= closes_at_ms {
            return Err(AppError::Rejected(format!("Epoch {epoch} is closed for status reports")));
        }
        if submission.nonce != assignment.nonce {
            return Err(AppError::InvalidNonce);
        }
        // In `groups` mode a miner reports on its own groups' batches only.
        let (work, groups) = assignment.work_of(&submission.hotkey);
        if let Some(stray) = submission.zipcodes_completed.iter().find(|p| !work.iter().any(|z| z.zipcode == p.zipcode))
        {
            let whose = if groups.is_some() { " to your groups" } else { "" };
            return Err(AppError::Rejected(format!(
                "Zipcode {} is not assigned{whose} in epoch {epoch}",
                stray.zipcode
            )));
        }
        let digest = submission.digest();
        let report = StatusReport {
            epoch,
            hotkey: submission.hotkey,
            status: submission.status,
            s3_upload_complete: submission.s3_upload_complete,
            listings_scraped: submission.listings_scraped,
            zipcodes_completed: submission.zipcodes_completed,
            s3_upload_at_ms: submission.s3_upload_at_ms,
            received_at_ms: now_ms,
        };
        match self.store.record_signed_status(&report, &submission.signature.to_hex(), &digest).await? {
            Recorded::New => {
                crate::metrics::status_report(&report.status.to_string());
                Ok(now_ms)
            }
            Recorded::Repeat { received_at_ms } => Ok(received_at_ms),
            Recorded::Conflict => Err(AppError::SignatureReused),
        }
    }
}

impl StatusSubmission {
    /// A digest of everything the report says (not who or when it arrived), to tell a repeat from another
    /// report under the same signature.
    fn digest(&self) -> String {
        let progress: Vec<String> = self
            .zipcodes_completed
            .iter()
            .map(|p| format!("{}={}@{:?}", p.zipcode, p.listings_scraped, p.completed_at_ms))
            .collect();
        let canonical = format!(
            "{}|{}|{}|{}|{:?}|{:?}|{}",
            self.epoch,
            self.nonce,
            self.status,
            self.s3_upload_complete,
            self.listings_scraped,
            self.s3_upload_at_ms,
            progress.join(",")
        );
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }
}

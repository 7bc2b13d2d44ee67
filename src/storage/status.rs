//! Miners' status reports: every report as an event, plus the latest state per miner and epoch.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{flag, get_flag, get_u64, parse_column, StorageError, StorageResult, Store};
use crate::domain::epoch::EpochId;
use crate::domain::status::{MinerEpochState, StatusReport, ZipcodeProgress};

/// The JSON stored in `zipcodes_completed`.
#[derive(Serialize, Deserialize)]
struct StoredProgress {
    zipcode: String,
    listings_scraped: u64,
    completed_at_ms: Option<i64>,
}

fn progress_to_json(progress: &[ZipcodeProgress]) -> String {
    let stored: Vec<StoredProgress> = progress
        .iter()
        .map(|p| StoredProgress {
            zipcode: p.zipcode.to_string(),
            listings_scraped: p.listings_scraped,
            completed_at_ms: p.completed_at_ms,
        })
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".to_string())
}

fn progress_from_json(text: &str) -> StorageResult<Vec<ZipcodeProgress>> {
    let stored: Vec<StoredProgress> =
        serde_json::from_str(text).map_err(|e| StorageError::Corrupt(format!("zipcodes_completed: {e}")))?;
    stored
        .into_iter()
        .map(|p| {
            Ok(ZipcodeProgress {
                zipcode: p.zipcode.parse().map_err(|_| StorageError::Corrupt("zipcodes_completed zipcode".into()))?,
                listings_scraped: p.listings_scraped,
                completed_at_ms: p.completed_at_ms,
            })
        })
        .collect()
}

fn optional_u64(row: &AnyRow, column: &str) -> StorageResult<Option<u64>> {
    Ok(row.try_get::<Option<i64>, _>(column)?.map(|v| v.max(0) as u64))
}

/// A report as stored in either table; `received_column` names the column holding its receipt time.
fn report_from_row(row: &AnyRow, received_column: &str) -> StorageResult<StatusReport> {
    Ok(StatusReport {
        epoch: parse_column(row, "epoch_id")?,
        hotkey: parse_column(row, "hotkey")?,
        status: parse_column(row, "status")?,
        s3_upload_complete: get_flag(row, "s3_upload_complete")?,
        listings_scraped: optional_u64(row, "listings_scraped")?,
        zipcodes_completed: progress_from_json(&row.try_get::<String, _>("zipcodes_completed")?)?,
        s3_upload_at_ms: row.try_get("s3_upload_at_ms")?,
        received_at_ms: row.try_get(received_column)?,
    })
}

fn state_from_row(row: &AnyRow) -> StorageResult<MinerEpochState> {
    Ok(MinerEpochState {
        latest: report_from_row(row, "last_reported_at_ms")?,
        report_count: get_u64(row, "report_count")?,
        first_reported_at_ms: row.try_get("first_reported_at_ms")?,
    })
}

/// Appends a report to the event log.
const INSERT_EVENT: &str = "INSERT INTO status_events (epoch_id, hotkey, status, s3_upload_complete, \
     listings_scraped, zipcodes_completed, s3_upload_at_ms, received_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// Folds a report into the miner's latest state for the epoch; takes the same parameters as [`INSERT_EVENT`].
const UPSERT_LATEST: &str = "INSERT INTO miner_epoch_status (epoch_id, hotkey, status, s3_upload_complete, \
     listings_scraped, zipcodes_completed, s3_upload_at_ms, report_count, first_reported_at_ms, last_reported_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8) \
     ON CONFLICT (epoch_id, hotkey) DO UPDATE SET status = excluded.status, \
     s3_upload_complete = excluded.s3_upload_complete, listings_scraped = excluded.listings_scraped, \
     zipcodes_completed = excluded.zipcodes_completed, s3_upload_at_ms = excluded.s3_upload_at_ms, \
     report_count = miner_epoch_status.report_count + 1, last_reported_at_ms = excluded.last_reported_at_ms";

/// What became of a signed report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored now.
    New,
    /// The same report under the same signature was stored before, at this time; nothing changed.
    Repeat { received_at_ms: i64 },
    /// The signature already carried a different report; nothing changed.
    Conflict,
}

impl Store {
    /// Stores the report that arrived under `signature` (whose content `digest` sums up): appended to the event
    /// log and folded into the miner's latest state, atomically, unless the signature was used before.
    pub async fn record_signed_status(
        &self,
        report: &StatusReport,
        signature: &str,
        digest: &str,
    ) -> StorageResult<Recorded> {
        let epoch_id = report.epoch.to_string();
        let hotkey = report.hotkey.to_string();
        let progress = progress_to_json(&report.zipcodes_completed);
        let listings = report.listings_scraped.map(|v| v.min(i64::MAX as u64) as i64);
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO status_signatures (hotkey, signature, epoch_id, body_digest, received_at_ms) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hotkey, signature) DO NOTHING",
        )
        .bind(&hotkey)
        .bind(signature)
        .bind(&epoch_id)
        .bind(digest)
        .bind(report.received_at_ms)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            let row = sqlx::query(
                "SELECT body_digest, received_at_ms FROM status_signatures WHERE hotkey = $1 AND signature = $2",
            )
            .bind(&hotkey)
            .bind(signature)
            .fetch_one(&mut *tx)
            .await?;
            tx.rollback().await?;
            return Ok(if row.try_get::<String, _>("body_digest")? == digest {
                Recorded::Repeat { received_at_ms: row.try_get("received_at_ms")? }
            } else {
                Recorded::Conflict
            });
        }
        for sql in [INSERT_EVENT, UPSERT_LATEST] {
            sqlx::query(sql)
                .bind(&epoch_id)
                .bind(&hotkey)
                .bind(report.status.as_str())
                .bind(flag(report.s3_upload_complete))
                .bind(listings)
                .bind(&progress)
                .bind(report.s3_upload_at_ms)
                .bind(report.received_at_ms)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Recorded::New)
    }

    /// The latest state of every miner that reported in `epoch`, by hotkey.
    pub async fn miner_states(&self, epoch: EpochId) -> StorageResult<Vec<MinerEpochState>> {
        let rows = sqlx::query(
            "SELECT epoch_id, hotkey, status, s3_upload_complete, listings_scraped, zipcodes_completed, \
             s3_upload_at_ms, report_count, first_reported_at_ms, last_reported_at_ms \
             FROM miner_epoch_status WHERE epoch_id = $1 ORDER BY hotkey",
        )
        .bind(epoch.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(state_from_row).collect()
    }

    /// Every report received for `epoch`, oldest first.
    pub async fn status_events(&self, epoch: EpochId) -> StorageResult<Vec<StatusReport>> {
        let rows = sqlx::query(
            "SELECT epoch_id, hotkey, status, s3_upload_complete, listings_scraped, zipcodes_completed, \
             s3_upload_at_ms, received_at_ms FROM status_events WHERE epoch_id = $1 ORDER BY id",
        )
        .bind(epoch.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| report_from_row(row, "received_at_ms")).collect()
    }
}

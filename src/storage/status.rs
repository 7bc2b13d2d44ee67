//! Miners' status reports: every report as an event, plus the latest state per miner and epoch.
//!
//! Events are stored compactly: a report's `zipcodesCompleted` usually repeats the miner's previous report and
//! adds to it, so an event keeps only the entries after the ones it shares with the previous report (their
//! count in `zipcodes_carried`), and [`Store::status_events`] rebuilds every list as it was received.

use serde::Deserialize;
use sqlx::any::AnyRow;
use sqlx::Row;

use std::collections::HashMap;

use super::{flag, get_flag, get_u64, parse_column, Backend, StorageError, StorageResult, Store};
use crate::domain::epoch::status::{MinerEpochState, MinerStatus, StatusReport, ZipcodeProgress};
use crate::domain::epoch::EpochId;
use crate::domain::hotkey::Hotkey;

/// How a miner's epoch ended (or stands), without its zipcodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinerOutcome {
    pub epoch: EpochId,
    pub hotkey: Hotkey,
    pub status: MinerStatus,
    pub listings_scraped: Option<u64>,
}

/// `zipcodes_completed` as stored: `ZIPCODE:LISTINGS:COMPLETED_AT_MS` entries (the time empty when unknown)
/// joined by commas, about a third of the JSON the column held before, which reads still accept (it starts with
/// `[`) until retention has pruned the last of it.
fn encode_progress(progress: &[ZipcodeProgress]) -> String {
    use std::fmt::Write;
    let mut text = String::with_capacity(progress.len() * 24);
    for (n, entry) in progress.iter().enumerate() {
        let separator = if n == 0 { "" } else { "," };
        let _ = write!(text, "{separator}{}:{}:", entry.zipcode, entry.listings_scraped);
        if let Some(at) = entry.completed_at_ms {
            let _ = write!(text, "{at}");
        }
    }
    text
}

fn decode_progress(text: &str) -> StorageResult<Vec<ZipcodeProgress>> {
    let corrupt = |what: &str| StorageError::Corrupt(format!("zipcodes_completed: {what}"));
    if text.starts_with('[') {
        return decode_legacy_progress(text);
    }
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|entry| {
            let mut fields = entry.split(':');
            let (Some(zipcode), Some(listings), Some(at), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(corrupt(&format!("entry {entry:?} is not ZIPCODE:LISTINGS:TIME")));
            };
            Ok(ZipcodeProgress {
                zipcode: zipcode.parse().map_err(|_| corrupt(&format!("zipcode {zipcode:?}")))?,
                listings_scraped: listings.parse().map_err(|_| corrupt(&format!("listings {listings:?}")))?,
                completed_at_ms: match at {
                    "" => None,
                    at => Some(at.parse().map_err(|_| corrupt(&format!("time {at:?}")))?),
                },
            })
        })
        .collect()
}

/// The JSON the column held before the compact form.
fn decode_legacy_progress(text: &str) -> StorageResult<Vec<ZipcodeProgress>> {
    #[derive(Deserialize)]
    struct Stored {
        zipcode: String,
        listings_scraped: u64,
        completed_at_ms: Option<i64>,
    }
    let stored: Vec<Stored> =
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

/// The miner's latest list for an epoch.
const LATEST_PROGRESS: &str = "SELECT zipcodes_completed FROM miner_epoch_status WHERE epoch_id = $1 AND hotkey = $2";
const LATEST_PROGRESS_FOR_UPDATE: &str =
    "SELECT zipcodes_completed FROM miner_epoch_status WHERE epoch_id = $1 AND hotkey = $2 FOR UPDATE";

/// How many leading entries of `report` repeat `previous` whole: the report goes on from where the last left.
fn carried_over(previous: &[ZipcodeProgress], report: &[ZipcodeProgress]) -> usize {
    if report.starts_with(previous) {
        previous.len()
    } else {
        0
    }
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
        zipcodes_completed: decode_progress(&row.try_get::<String, _>("zipcodes_completed")?)?,
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

/// Appends a report to the event log: the parameters of [`UPSERT_LATEST`] with `$6` holding only the entries
/// after the `$9` carried over from the miner's previous report.
const INSERT_EVENT: &str = "INSERT INTO status_events (epoch_id, hotkey, status, s3_upload_complete, \
     listings_scraped, zipcodes_completed, s3_upload_at_ms, received_at_ms, zipcodes_carried) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// Folds a report into the miner's latest state for the epoch.
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
        let listings = report.listings_scraped.map(|v| v.min(i64::MAX as u64) as i64);
        let mut tx = self.begin_write().await?;
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
        // The previous report's list, read under the writer's lock (SQLite holds it since the insert above;
        // PostgreSQL takes the row's), so events and the carried counts follow one order.
        let previous = match self.backend {
            Backend::Sqlite => LATEST_PROGRESS,
            Backend::Postgres => LATEST_PROGRESS_FOR_UPDATE,
        };
        let previous: Option<(String,)> =
            sqlx::query_as(previous).bind(&epoch_id).bind(&hotkey).fetch_optional(&mut *tx).await?;
        let previous = previous.map(|(json,)| decode_progress(&json)).transpose()?.unwrap_or_default();
        let carried = carried_over(&previous, &report.zipcodes_completed);
        let report_query = |sql: &'static str, progress: String| {
            sqlx::query(sql)
                .bind(epoch_id.clone())
                .bind(hotkey.clone())
                .bind(report.status.as_str())
                .bind(flag(report.s3_upload_complete))
                .bind(listings)
                .bind(progress)
                .bind(report.s3_upload_at_ms)
                .bind(report.received_at_ms)
        };
        report_query(INSERT_EVENT, encode_progress(&report.zipcodes_completed[carried..]))
            .bind(carried as i64)
            .execute(&mut *tx)
            .await?;
        report_query(UPSERT_LATEST, encode_progress(&report.zipcodes_completed)).execute(&mut *tx).await?;
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

    /// The latest status and listings of every miner that reported in an epoch from `first` to `last`
    /// (inclusive), without the zipcode lists: the dashboard's history, one walk of the primary key's range.
    pub async fn epoch_outcomes(&self, first: EpochId, last: EpochId) -> StorageResult<Vec<MinerOutcome>> {
        let rows = sqlx::query(
            "SELECT epoch_id, hotkey, status, listings_scraped FROM miner_epoch_status \
             WHERE epoch_id >= $1 AND epoch_id <= $2",
        )
        .bind(first.to_string())
        .bind(last.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(MinerOutcome {
                    epoch: parse_column(row, "epoch_id")?,
                    hotkey: parse_column(row, "hotkey")?,
                    status: parse_column(row, "status")?,
                    listings_scraped: optional_u64(row, "listings_scraped")?,
                })
            })
            .collect()
    }

    /// Every report received for `epoch`, oldest first, each with its whole `zipcodesCompleted` as received.
    pub async fn status_events(&self, epoch: EpochId) -> StorageResult<Vec<StatusReport>> {
        let rows = sqlx::query(
            "SELECT epoch_id, hotkey, status, s3_upload_complete, listings_scraped, zipcodes_completed, \
             s3_upload_at_ms, received_at_ms, zipcodes_carried FROM status_events WHERE epoch_id = $1 ORDER BY id",
        )
        .bind(epoch.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut previous: HashMap<String, Vec<ZipcodeProgress>> = HashMap::new();
        rows.iter()
            .map(|row| {
                let mut report = report_from_row(row, "received_at_ms")?;
                let carried = usize::try_from(row.try_get::<i64, _>("zipcodes_carried")?).unwrap_or(usize::MAX);
                let before = previous.entry(report.hotkey.to_string()).or_default();
                let shared = before.get(..carried).ok_or_else(|| {
                    StorageError::Corrupt(format!("a status event carries {carried} zipcodes of {}", before.len()))
                })?;
                report.zipcodes_completed.splice(0..0, shared.iter().cloned());
                *before = report.zipcodes_completed.clone();
                Ok(report)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(zipcode: &str, listings_scraped: u64, completed_at_ms: Option<i64>) -> ZipcodeProgress {
        ZipcodeProgress { zipcode: zipcode.parse().unwrap(), listings_scraped, completed_at_ms }
    }

    #[test]
    fn progress_round_trips_through_the_compact_form() {
        let lists = [
            vec![],
            vec![entry("02134", 0, None)],
            vec![
                entry("92518", 40, Some(1_793_620_860_000)),
                entry("00501", u64::MAX, Some(-5)),
                entry("10001", 7, None),
            ],
        ];
        for list in lists {
            let text = encode_progress(&list);
            assert_eq!(decode_progress(&text).unwrap(), list, "{text}");
        }
        assert_eq!(encode_progress(&[entry("92518", 40, Some(17)), entry("10001", 7, None)]), "92518:40:17,10001:7:");
    }

    #[test]
    fn progress_stored_as_json_before_still_reads() {
        let json = r#"[{"zipcode":"92518","listings_scraped":40,"completed_at_ms":17},
            {"zipcode":"10001","listings_scraped":7,"completed_at_ms":null}]"#;
        assert_eq!(decode_progress(json).unwrap(), vec![entry("92518", 40, Some(17)), entry("10001", 7, None)]);
        assert_eq!(decode_progress("[]").unwrap(), vec![]);
    }

    #[test]
    fn damaged_progress_is_reported_not_guessed() {
        for text in ["92518:40", "92518:40:1:2", "9251:40:", "92518:-1:", "92518:40:soon", "92518:40:,", "[{"] {
            let error = decode_progress(text).unwrap_err();
            assert!(matches!(error, StorageError::Corrupt(_)), "{text}: {error}");
        }
    }
}

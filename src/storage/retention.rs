//! Pruning history past the retention age: epochs with their assignments and status reports, and old S3 grant
//! records. One transaction, idempotent, so every replica may run it.

use super::{StorageResult, Store};
use crate::domain::epoch::EpochId;

/// What one pruning pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneCounts {
    pub epochs: u64,
    pub assigned_zipcodes: u64,
    pub status_events: u64,
    pub grants: u64,
}

impl Store {
    /// Removes epochs that ended before `cutoff_unix`, with everything recorded about them, and S3 grants given
    /// before it. Deletes children explicitly rather than trusting `ON DELETE CASCADE`, so counts are exact.
    pub async fn prune_before(&self, cutoff_unix: i64) -> StorageResult<PruneCounts> {
        const OLD_EPOCHS: &str = "SELECT id FROM epochs WHERE end_unix < $1";
        let mut tx = self.pool.begin().await?;
        let mut delete = async |sql: String, cutoff: i64| -> StorageResult<u64> {
            Ok(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(cutoff).execute(&mut *tx).await?.rows_affected())
        };
        let status_events =
            delete(format!("DELETE FROM status_events WHERE epoch_id IN ({OLD_EPOCHS})"), cutoff_unix).await?;
        delete(format!("DELETE FROM miner_epoch_status WHERE epoch_id IN ({OLD_EPOCHS})"), cutoff_unix).await?;
        delete(format!("DELETE FROM status_signatures WHERE epoch_id IN ({OLD_EPOCHS})"), cutoff_unix).await?;
        let assigned_zipcodes =
            delete(format!("DELETE FROM epoch_zipcodes WHERE epoch_id IN ({OLD_EPOCHS})"), cutoff_unix).await?;
        let epochs = delete("DELETE FROM epochs WHERE end_unix < $1".to_string(), cutoff_unix).await?;
        let grants = delete("DELETE FROM s3_grants WHERE granted_at_ms < $1".to_string(), cutoff_unix * 1000).await?;
        tx.commit().await?;
        Ok(PruneCounts { epochs, assigned_zipcodes, status_events, grants })
    }

    /// The stored epochs that started in `[from_unix, until_unix)`, oldest first.
    pub async fn epochs_between(&self, from_unix: i64, until_unix: i64) -> StorageResult<Vec<EpochId>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT start_unix FROM epochs WHERE start_unix >= $1 AND start_unix < $2 ORDER BY start_unix",
        )
        .bind(from_unix)
        .bind(until_unix)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(start,)| EpochId::from_start_unix(start)).collect())
    }
}

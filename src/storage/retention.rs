//! Pruning history past the retention age, in small transactions so that no writer waits long behind it: one
//! epoch (its assignment, status reports and signatures) per transaction, and old S3 grant records in bounded
//! chunks. Each step is idempotent, so every replica may run them; the application paces them.

use std::ops::AddAssign;

use sqlx::AssertSqlSafe;

use super::{StorageResult, Store};
use crate::domain::epoch::EpochId;

/// What pruning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneCounts {
    pub epochs: u64,
    pub assigned_zipcodes: u64,
    pub status_events: u64,
    /// Status report signatures past the time a replay could use them.
    pub status_signatures: u64,
    pub grants: u64,
}

impl AddAssign for PruneCounts {
    fn add_assign(&mut self, other: PruneCounts) {
        self.epochs += other.epochs;
        self.assigned_zipcodes += other.assigned_zipcodes;
        self.status_events += other.status_events;
        self.status_signatures += other.status_signatures;
        self.grants += other.grants;
    }
}

impl Store {
    /// Up to `limit` epochs that ended before `cutoff_unix`, oldest first.
    pub async fn epochs_ended_before(&self, cutoff_unix: i64, limit: i64) -> StorageResult<Vec<EpochId>> {
        let rows: Vec<(i64,)> =
            sqlx::query_as("SELECT start_unix FROM epochs WHERE end_unix < $1 ORDER BY start_unix LIMIT $2")
                .bind(cutoff_unix)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(start,)| EpochId::from_start_unix(start)).collect())
    }

    /// Removes `epoch` with everything recorded about it, in one transaction. Deletes children explicitly rather
    /// than trusting `ON DELETE CASCADE`, so counts are exact.
    pub async fn prune_epoch(&self, epoch: EpochId) -> StorageResult<PruneCounts> {
        let id = epoch.to_string();
        let mut tx = self.begin_write().await?;
        let mut delete = async |sql: &'static str| -> StorageResult<u64> {
            Ok(sqlx::query(sql).bind(&id).execute(&mut *tx).await?.rows_affected())
        };
        let status_events = delete("DELETE FROM status_events WHERE epoch_id = $1").await?;
        delete("DELETE FROM miner_epoch_status WHERE epoch_id = $1").await?;
        let status_signatures = delete("DELETE FROM status_signatures WHERE epoch_id = $1").await?;
        let assigned_zipcodes = delete("DELETE FROM epoch_zipcodes WHERE epoch_id = $1").await?;
        let epochs = delete("DELETE FROM epochs WHERE id = $1").await?;
        tx.commit().await?;
        Ok(PruneCounts { epochs, assigned_zipcodes, status_events, status_signatures, grants: 0 })
    }

    /// Removes about `limit` of the oldest S3 grant records given before `cutoff_ms`; returns how many.
    pub async fn prune_grants(&self, cutoff_ms: i64, limit: i64) -> StorageResult<u64> {
        self.delete_oldest("access_grants", "granted_at_ms", cutoff_ms, limit).await
    }

    /// Removes about `limit` of the oldest status report signatures received before `before_ms`; returns how
    /// many.
    pub async fn prune_status_signatures(&self, before_ms: i64, limit: i64) -> StorageResult<u64> {
        self.delete_oldest("status_signatures", "received_at_ms", before_ms, limit).await
    }

    /// Removes about `limit` each of the hotkeys and prefixes last granted before `cutoff_ms`, which no grant
    /// record refers to once those before `cutoff_ms` are pruned; returns how many.
    pub async fn prune_grant_names(&self, cutoff_ms: i64, limit: i64) -> StorageResult<u64> {
        let prefixes = self.delete_oldest("grant_prefixes", "last_granted_at_ms", cutoff_ms, limit).await?;
        Ok(prefixes + self.delete_oldest("grant_hotkeys", "last_granted_at_ms", cutoff_ms, limit).await?)
    }

    /// Deletes the oldest rows of `table` whose `time` (an indexed column) is before `before`: up to `limit`, and
    /// any that share the last one's time. The bound is one value found through the index first, so both
    /// databases delete along the index range; `id IN (SELECT … LIMIT n)` let PostgreSQL's generic plan hash
    /// the whole table.
    pub(super) async fn delete_oldest(
        &self,
        table: &'static str,
        time: &'static str,
        before: i64,
        limit: i64,
    ) -> StorageResult<u64> {
        let _turn = self.write_turn().await;
        let deleted = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE {time} < $1 AND {time} <= \
             (SELECT MAX({time}) FROM (SELECT {time} FROM {table} WHERE {time} < $1 ORDER BY {time} LIMIT $2) oldest)"
        )))
        .bind(before)
        .bind(limit)
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected())
    }

    /// Returns up to `pages` free pages of a SQLite file to the file system (a no-op elsewhere, and on files
    /// made before incremental vacuum was switched on); returns the pages still free.
    /// Pages of the SQLite file no row uses (0 on PostgreSQL).
    pub async fn free_pages(&self) -> StorageResult<i64> {
        if self.backend != super::Backend::Sqlite {
            return Ok(0);
        }
        let (free,): (i64,) = sqlx::query_as("PRAGMA freelist_count").fetch_one(&self.pool).await?;
        Ok(free)
    }

    pub async fn reclaim_free_pages(&self, pages: i64) -> StorageResult<i64> {
        if self.backend != super::Backend::Sqlite {
            return Ok(0);
        }
        let _turn = self.write_turn().await;
        sqlx::query(AssertSqlSafe(format!("PRAGMA incremental_vacuum({pages})"))).execute(&self.pool).await?;
        let (free,): (i64,) = sqlx::query_as("PRAGMA freelist_count").fetch_one(&self.pool).await?;
        Ok(free)
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

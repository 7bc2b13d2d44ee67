//! The uuids of Epistula-signed requests already accepted: claimed once, in the database every replica shares,
//! and forgotten once the timestamp window has passed them.

use super::{StorageResult, Store};

impl Store {
    /// Claims `uuid` for `hotkey`'s request signed at `timestamp_ms`; `false` when it was claimed before.
    pub async fn claim_request_uuid(&self, uuid: &str, hotkey: &str, timestamp_ms: i64) -> StorageResult<bool> {
        let _turn = self.write_turn().await;
        let claimed = sqlx::query(
            "INSERT INTO request_uuids (uuid, hotkey, timestamp_ms) VALUES ($1, $2, $3) ON CONFLICT (uuid) DO NOTHING",
        )
        .bind(uuid)
        .bind(hotkey)
        .bind(timestamp_ms)
        .execute(&self.pool)
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    /// Forgets the uuids of requests signed before `before_ms`; returns how many.
    pub async fn forget_request_uuids(&self, before_ms: i64) -> StorageResult<u64> {
        let _turn = self.write_turn().await;
        let deleted = sqlx::query("DELETE FROM request_uuids WHERE timestamp_ms < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }
}

//! Key/value settings shared by every replica (the generated server secret).

use sqlx::Row;

use super::{StorageResult, Store};

impl Store {
    /// Returns the stored value of `key`, storing `proposed` first if there is none. When several replicas race,
    /// the first insert wins and every caller gets that value.
    pub async fn setting_or_insert(&self, key: &str, proposed: &str) -> StorageResult<String> {
        let _turn = self.write_turn().await;
        sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(proposed)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1").bind(key).fetch_one(&self.pool).await?;
        Ok(row.try_get("value")?)
    }
}

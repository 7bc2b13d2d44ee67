//! The audit log of S3 access grants.

use sqlx::Row;

use super::{parse_column, StorageResult, Store};
use crate::domain::grant::AccessGrant;

impl Store {
    pub async fn record_grant(&self, grant: &AccessGrant) -> StorageResult<()> {
        sqlx::query(
            "INSERT INTO s3_grants (hotkey, kind, prefix, granted_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(grant.hotkey.to_string())
        .bind(grant.kind.as_str())
        .bind(&grant.prefix)
        .bind(grant.granted_at_ms)
        .bind(grant.expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records many grants in one transaction, a few hundred rows per statement (bulk loads: the history
    /// benchmark).
    pub async fn record_grants(&self, grants: &[AccessGrant]) -> StorageResult<()> {
        let mut tx = self.pool.begin().await?;
        for chunk in grants.chunks(500) {
            let values: Vec<String> = (0..chunk.len())
                .map(|n| format!("(${}, ${}, ${}, ${}, ${})", 5 * n + 1, 5 * n + 2, 5 * n + 3, 5 * n + 4, 5 * n + 5))
                .collect();
            let sql = format!(
                "INSERT INTO s3_grants (hotkey, kind, prefix, granted_at_ms, expires_at_ms) VALUES {}",
                values.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for grant in chunk {
                query = query
                    .bind(grant.hotkey.to_string())
                    .bind(grant.kind.as_str())
                    .bind(grant.prefix.clone())
                    .bind(grant.granted_at_ms)
                    .bind(grant.expires_at_ms);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The most recent grants, newest first, optionally for one hotkey. One query per case, each a walk down
    /// its index (`(hotkey, granted_at_ms)` or `(granted_at_ms)`) that stops at the limit: a single query with
    /// `($1 = '' OR hotkey = $1)` kept both databases off the hotkey index and scanned every record.
    pub async fn recent_grants(&self, hotkey: Option<&str>, limit: i64) -> StorageResult<Vec<AccessGrant>> {
        const COLUMNS: &str = "SELECT hotkey, kind, prefix, granted_at_ms, expires_at_ms FROM s3_grants";
        let query = match hotkey {
            Some(hotkey) => sqlx::query(sqlx::AssertSqlSafe(format!(
                "{COLUMNS} WHERE hotkey = $1 ORDER BY granted_at_ms DESC, id DESC LIMIT $2"
            )))
            .bind(hotkey.to_string()),
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} ORDER BY granted_at_ms DESC, id DESC LIMIT $1")))
            }
        };
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(AccessGrant {
                    hotkey: parse_column(row, "hotkey")?,
                    kind: parse_column(row, "kind")?,
                    prefix: row.try_get("prefix")?,
                    granted_at_ms: row.try_get("granted_at_ms")?,
                    expires_at_ms: row.try_get("expires_at_ms")?,
                })
            })
            .collect()
    }
}

//! The audit log of S3 access grants. Grants repeat their hotkeys and key prefixes (64 validators reading one
//! miner's epoch folder name one prefix), so each hotkey and prefix is stored once, with when it was last
//! granted, and a record (`access_grants`) refers to them by id.

use std::collections::HashMap;

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::{get_u64, parse_column, StorageError, StorageResult, Store};
use crate::domain::access::grant::{AccessGrant, GrantKind};

/// How a kind is stored (migration 0006 maps the earlier text the same way).
const KIND_CODES: [(GrantKind, i32); 4] = [
    (GrantKind::MinerFolder, 1),
    (GrantKind::MinerRead, 2),
    (GrantKind::ValidatorRead, 3),
    (GrantKind::ValidatorUpload, 4),
];

fn kind_code(kind: GrantKind) -> i32 {
    KIND_CODES.iter().find(|(k, _)| *k == kind).map_or(0, |(_, code)| *code)
}

fn kind_from_code(code: i64) -> StorageResult<GrantKind> {
    KIND_CODES
        .iter()
        .find(|(_, c)| i64::from(*c) == code)
        .map(|(kind, _)| *kind)
        .ok_or_else(|| StorageError::Corrupt(format!("grant kind code {code} is unknown")))
}

/// Rows per statement when recording grants.
const ROWS_PER_STATEMENT: usize = 500;

impl Store {
    pub async fn record_grant(&self, grant: &AccessGrant) -> StorageResult<()> {
        self.record_grants(std::slice::from_ref(grant)).await
    }

    /// Records `grants` in one transaction, a few hundred rows per statement.
    pub async fn record_grants(&self, grants: &[AccessGrant]) -> StorageResult<()> {
        if grants.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        for chunk in grants.chunks(ROWS_PER_STATEMENT) {
            let hotkeys = intern(&mut tx, "grant_hotkeys", "hotkey", chunk, |g| g.hotkey.to_string()).await?;
            let prefixes = intern(&mut tx, "grant_prefixes", "prefix", chunk, |g| g.prefix.clone()).await?;
            let sql = format!(
                "INSERT INTO access_grants (hotkey_id, kind, prefix_id, granted_at_ms, expires_at_ms) VALUES {}",
                placeholders(chunk.len(), 5)
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for grant in chunk {
                query = query
                    .bind(hotkeys[&grant.hotkey.to_string()])
                    .bind(kind_code(grant.kind))
                    .bind(prefixes[&grant.prefix])
                    .bind(grant.granted_at_ms)
                    .bind(grant.expires_at_ms);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The most recent grants, newest first, optionally for one hotkey. One query per case, each a walk down
    /// its index (`(hotkey_id, granted_at_ms)` or `(granted_at_ms)`) that stops at the limit: a single query with
    /// `($1 = '' OR hotkey = $1)` kept both databases off the hotkey index and scanned every record.
    pub async fn recent_grants(&self, hotkey: Option<&str>, limit: i64) -> StorageResult<Vec<AccessGrant>> {
        const COLUMNS: &str = "SELECT h.hotkey, g.kind, p.prefix, g.granted_at_ms, g.expires_at_ms \
             FROM access_grants g \
             JOIN grant_hotkeys h ON h.id = g.hotkey_id \
             JOIN grant_prefixes p ON p.id = g.prefix_id";
        // The hotkey's id first: a hotkey never granted anything answers at once, where one statement let
        // PostgreSQL's generic plan walk every record by time looking for it.
        let query = match hotkey {
            Some(hotkey) => {
                let id: Option<(i64,)> = sqlx::query_as("SELECT id FROM grant_hotkeys WHERE hotkey = $1")
                    .bind(hotkey.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                let Some((id,)) = id else { return Ok(Vec::new()) };
                sqlx::query(AssertSqlSafe(format!(
                    "{COLUMNS} WHERE g.hotkey_id = $1 ORDER BY g.granted_at_ms DESC, g.id DESC LIMIT $2"
                )))
                .bind(id)
            }
            None => sqlx::query(AssertSqlSafe(format!("{COLUMNS} ORDER BY g.granted_at_ms DESC, g.id DESC LIMIT $1"))),
        };
        let rows = query.bind(limit).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok(AccessGrant {
                    hotkey: parse_column(row, "hotkey")?,
                    kind: kind_from_code(row.try_get::<i64, _>("kind")?)?,
                    prefix: row.try_get("prefix")?,
                    granted_at_ms: row.try_get("granted_at_ms")?,
                    expires_at_ms: row.try_get("expires_at_ms")?,
                })
            })
            .collect()
    }

    /// How many grants of each kind were issued from `since_ms` on (kinds with none left out): a walk of the
    /// `granted_at_ms` index over the window.
    pub async fn grant_counts_since(&self, since_ms: i64) -> StorageResult<Vec<(GrantKind, u64)>> {
        let rows = sqlx::query(
            "SELECT kind, COUNT(*) AS grants FROM access_grants WHERE granted_at_ms >= $1 GROUP BY kind ORDER BY kind",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok((kind_from_code(row.try_get::<i64, _>("kind")?)?, get_u64(row, "grants")?))).collect()
    }
}

/// `($1, $2, …), (…)`: `rows` groups of `columns` numbered parameters.
fn placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|row| {
            let params: Vec<String> = (1..=columns).map(|k| format!("${}", row * columns + k)).collect();
            format!("({})", params.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Stores each distinct `value_of(grant)` once in `table` (its `column` unique), keeping the latest time it was
/// granted, and returns the ids by value.
async fn intern(
    tx: &mut AnyConnection,
    table: &'static str,
    column: &'static str,
    grants: &[AccessGrant],
    value_of: impl Fn(&AccessGrant) -> String,
) -> StorageResult<HashMap<String, i64>> {
    // One row per value: PostgreSQL refuses to update a row twice in one statement.
    let mut latest: HashMap<String, i64> = HashMap::new();
    for grant in grants {
        let at = latest.entry(value_of(grant)).or_insert(grant.granted_at_ms);
        *at = (*at).max(grant.granted_at_ms);
    }
    let sql = format!(
        "INSERT INTO {table} ({column}, last_granted_at_ms) VALUES {} \
         ON CONFLICT ({column}) DO UPDATE SET last_granted_at_ms = CASE \
             WHEN excluded.last_granted_at_ms > {table}.last_granted_at_ms THEN excluded.last_granted_at_ms \
             ELSE {table}.last_granted_at_ms END \
         RETURNING id, {column}",
        placeholders(latest.len(), 2)
    );
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for (value, at) in &latest {
        query = query.bind(value.clone()).bind(*at);
    }
    let rows = query.fetch_all(&mut *tx).await?;
    let ids: HashMap<String, i64> =
        rows.iter().map(|row| Ok((row.try_get(column)?, row.try_get("id")?))).collect::<StorageResult<_>>()?;
    if ids.len() != latest.len() {
        return Err(StorageError::Corrupt(format!("{table} returned {} ids for {} values", ids.len(), latest.len())));
    }
    Ok(ids)
}

//! The zipcode universe: seeding, transactional imports, listing and statistics.

use std::collections::HashMap;

use sqlx::any::AnyRow;
// Dynamic SQL here is built only from constants and numbered placeholders, never from input.
use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::{flag, get_flag, get_u32, parse_column, StorageResult, Store};
use crate::domain::epoch::zipcode::{Zipcode, ZipcodeRecord};

/// Rows per multi-row INSERT. Binding cost through sqlx grows faster than linearly with the parameters of one
/// statement: seeding 30k zipcodes took 2.2 s with 500-row batches, 0.5 s with 25 (measured on SQLite).
const BATCH_ROWS: usize = 25;

/// What an import does with stored zipcodes that are not in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// Add and update; leave the others as they are.
    Merge,
    /// Add and update; deactivate every zipcode the file does not list.
    Replace,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deactivated: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ZipcodeStats {
    pub total: u64,
    pub active: u64,
    /// `(state, active count, average expected listings)`, largest first.
    pub by_state: Vec<(String, u64, f64)>,
    pub by_tier: Vec<(String, u64, f64)>,
}

pub(super) fn record_from_row(row: &AnyRow) -> StorageResult<ZipcodeRecord> {
    Ok(ZipcodeRecord {
        zipcode: parse_column(row, "zipcode")?,
        state: row.try_get("state")?,
        city: row.try_get("city")?,
        county: row.try_get("county")?,
        expected_listings: get_u32(row, "expected_listings")?,
        tier: parse_column(row, "market_tier")?,
        weight: row.try_get("weight")?,
        active: get_flag(row, "active")?,
    })
}

/// Settings key whose value changes with every change to the universe, so caches elsewhere can notice.
const REVISION_KEY: &str = "zipcodes_revision";

pub(super) async fn bump_revision(tx: &mut AnyConnection, now_ms: i64) -> StorageResult<()> {
    let revision = format!("{now_ms}-{:016x}", rand::random::<u64>());
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(REVISION_KEY)
    .bind(revision)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn upsert_batch(
    tx: &mut AnyConnection,
    records: &[&ZipcodeRecord],
    source: &str,
    now_ms: i64,
    overwrite: bool,
) -> StorageResult<()> {
    // An import (which overwrites) sets values outright: the evidence about them counts from now on.
    let evidence_from = overwrite.then_some(now_ms);
    for chunk in records.chunks(BATCH_ROWS) {
        let mut sql = String::from(
            "INSERT INTO zipcodes (zipcode, state, city, county, expected_listings, market_tier, weight, active, \
             source, updated_at_ms, evidence_from_ms) VALUES ",
        );
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            let placeholders: Vec<String> = (1..=11).map(|n| format!("${}", i * 11 + n)).collect();
            sql.push_str(&format!("({})", placeholders.join(",")));
        }
        sql.push_str(if overwrite {
            " ON CONFLICT (zipcode) DO UPDATE SET state = excluded.state, city = excluded.city, \
             county = excluded.county, expected_listings = excluded.expected_listings, \
             market_tier = excluded.market_tier, weight = excluded.weight, active = excluded.active, \
             source = excluded.source, updated_at_ms = excluded.updated_at_ms, \
             evidence_from_ms = excluded.evidence_from_ms"
        } else {
            " ON CONFLICT (zipcode) DO NOTHING"
        });
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for r in chunk {
            query = query
                .bind(r.zipcode.to_string())
                .bind(r.state.clone())
                .bind(r.city.clone())
                .bind(r.county.clone())
                .bind(i64::from(r.expected_listings))
                .bind(r.tier.as_str())
                .bind(r.weight)
                .bind(flag(r.active))
                .bind(source.to_string())
                .bind(now_ms)
                .bind(evidence_from);
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

impl Store {
    pub async fn zipcode_count(&self) -> StorageResult<u64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM zipcodes").fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>("n")? as u64)
    }

    /// Every stored zipcode, ordered by zipcode.
    pub async fn load_zipcodes(&self) -> StorageResult<Vec<ZipcodeRecord>> {
        let rows = sqlx::query(
            "SELECT zipcode, state, city, county, expected_listings, market_tier, weight, active \
             FROM zipcodes ORDER BY zipcode",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Each imported zipcode's time (Unix seconds, rounded up) from which evidence about it counts: epochs that
    /// started earlier tell nothing about the value the import set.
    pub async fn zipcode_evidence_from(&self) -> StorageResult<HashMap<Zipcode, i64>> {
        let rows = sqlx::query("SELECT zipcode, evidence_from_ms FROM zipcodes WHERE evidence_from_ms IS NOT NULL")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok((parse_column(row, "zipcode")?, (row.try_get::<i64, _>("evidence_from_ms")? + 999).div_euclid(1000)))
            })
            .collect()
    }

    /// Each zipcode's source (`builtin`, `import:FILE` or `calibration`) and when its row last changed (Unix
    /// milliseconds).
    pub async fn zipcode_sources(&self) -> StorageResult<HashMap<Zipcode, (String, i64)>> {
        let rows = sqlx::query("SELECT zipcode, source, updated_at_ms FROM zipcodes").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| Ok((parse_column(row, "zipcode")?, (row.try_get("source")?, row.try_get("updated_at_ms")?))))
            .collect()
    }

    /// Stores `records` when the table is empty (the built-in universe on first start). Returns how many rows
    /// were added; replicas starting together add each zipcode once.
    pub async fn seed_zipcodes_if_empty(
        &self,
        records: &[ZipcodeRecord],
        source: &str,
        now_ms: i64,
    ) -> StorageResult<u64> {
        if self.zipcode_count().await? > 0 {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let refs: Vec<&ZipcodeRecord> = records.iter().collect();
        upsert_batch(&mut tx, &refs, source, now_ms, false).await?;
        bump_revision(&mut tx, now_ms).await?;
        tx.commit().await?;
        Ok(records.len() as u64)
    }

    /// Applies an import in one transaction: either every row lands or nothing changes.
    pub async fn import_zipcodes(
        &self,
        records: &[ZipcodeRecord],
        source: &str,
        mode: ImportMode,
        now_ms: i64,
    ) -> StorageResult<ImportReport> {
        let mut tx = self.begin_write().await?;
        // Writing first takes SQLite's write lock up front: upgrading a read transaction later fails when busy.
        bump_revision(&mut tx, now_ms).await?;
        let rows = sqlx::query(
            "SELECT zipcode, state, city, county, expected_listings, market_tier, weight, active FROM zipcodes",
        )
        .fetch_all(&mut *tx)
        .await?;
        let existing: HashMap<Zipcode, ZipcodeRecord> =
            rows.iter().map(record_from_row).map(|r| r.map(|r| (r.zipcode, r))).collect::<StorageResult<_>>()?;

        let mut report = ImportReport::default();
        let mut changed = Vec::new();
        for record in records {
            match existing.get(&record.zipcode) {
                None => {
                    report.inserted += 1;
                    changed.push(record);
                }
                Some(old) if old == record => report.unchanged += 1,
                Some(_) => {
                    report.updated += 1;
                    changed.push(record);
                }
            }
        }
        upsert_batch(&mut tx, &changed, source, now_ms, true).await?;

        if mode == ImportMode::Replace {
            let listed: std::collections::HashSet<Zipcode> = records.iter().map(|r| r.zipcode).collect();
            let stale: Vec<&ZipcodeRecord> =
                existing.values().filter(|r| r.active && !listed.contains(&r.zipcode)).collect();
            for chunk in stale.chunks(BATCH_ROWS) {
                let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${}", i + 1)).collect();
                let sql = format!(
                    "UPDATE zipcodes SET active = 0, updated_at_ms = $1 WHERE zipcode IN ({})",
                    placeholders.join(",")
                );
                let mut query = sqlx::query(AssertSqlSafe(sql)).bind(now_ms);
                for r in chunk {
                    query = query.bind(r.zipcode.to_string());
                }
                query.execute(&mut *tx).await?;
            }
            report.deactivated = stale.len() as u64;
        }
        tx.commit().await?;
        Ok(report)
    }

    /// Changes whenever the universe changes (seed or import); `None` before the first seed.
    pub async fn zipcodes_revision(&self) -> StorageResult<Option<String>> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(REVISION_KEY)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    pub async fn zipcode_stats(&self) -> StorageResult<ZipcodeStats> {
        let row =
            sqlx::query("SELECT COUNT(*) AS total, CAST(COALESCE(SUM(active), 0) AS BIGINT) AS active FROM zipcodes")
                .fetch_one(&self.pool)
                .await?;
        let total = row.try_get::<i64, _>("total")? as u64;
        let active = row.try_get::<i64, _>("active")? as u64;
        let grouped = |column: &str| {
            format!(
                "SELECT {column} AS k, COUNT(*) AS n, AVG(CAST(expected_listings AS DOUBLE PRECISION)) AS avg \
                 FROM zipcodes WHERE active = 1 GROUP BY {column} ORDER BY n DESC, k"
            )
        };
        let mut groups = Vec::new();
        for column in ["state", "market_tier"] {
            let rows = sqlx::query(AssertSqlSafe(grouped(column))).fetch_all(&self.pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let avg: f64 = row.try_get("avg")?;
                out.push((row.try_get("k")?, row.try_get::<i64, _>("n")? as u64, (avg * 100.0).round() / 100.0));
            }
            groups.push(out);
        }
        let by_tier = groups.pop().unwrap_or_default();
        let by_state = groups.pop().unwrap_or_default();
        Ok(ZipcodeStats { total, active, by_state, by_tier })
    }
}

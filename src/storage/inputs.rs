//! Published epoch inputs: written once (the first writer wins, and the database refuses updates), read by the
//! epoch's creation, the public inputs endpoint and `/stats`. Documents are stored gzip-compressed, which is also
//! how the endpoint serves them to clients that accept it.

use std::io::{Read, Write};

use sqlx::Row;

use super::{get_u64, StorageError, StorageResult, Store};
use crate::domain::epoch::calibration::CalibrationMove;
use crate::domain::epoch::EpochId;

/// The `source` of a zipcode whose expected listings recalibration set last.
pub const CALIBRATION_SOURCE: &str = "calibration";

/// A published document is at most this large once decompressed (30,000 candidates take about 1.1 MB).
const MAX_DOCUMENT_BYTES: u64 = 64 << 20;

/// What is known about an epoch's published inputs without reading the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputsRecord {
    pub epoch: EpochId,
    /// SHA-256 of the canonical document, hex.
    pub hash: String,
    pub candidate_count: u64,
    pub published_at_ms: i64,
}

/// A published document, as stored.
#[derive(Debug, Clone)]
pub struct StoredInputs {
    pub record: InputsRecord,
    /// The canonical JSON, gzip-compressed.
    pub gzip: Vec<u8>,
}

impl StoredInputs {
    /// The canonical JSON.
    pub fn canonical_json(&self) -> StorageResult<Vec<u8>> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(self.gzip.as_slice())
            .take(MAX_DOCUMENT_BYTES)
            .read_to_end(&mut out)
            .map_err(|e| StorageError::Corrupt(format!("inputs of {} do not decompress: {e}", self.record.epoch)))?;
        Ok(out)
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("writing to memory cannot fail");
    encoder.finish().expect("writing to memory cannot fail")
}

fn record_from_row(row: &sqlx::any::AnyRow) -> StorageResult<InputsRecord> {
    Ok(InputsRecord {
        epoch: EpochId::from_start_unix(row.try_get("start_unix")?),
        hash: row.try_get("inputs_hash")?,
        candidate_count: get_u64(row, "candidate_count")?,
        published_at_ms: row.try_get("published_at_ms")?,
    })
}

impl Store {
    /// Publishes `record`'s document (`canonical`, the bytes its hash is of) unless inputs of the epoch were
    /// published already, and with it (in the same transaction) the universe's values its calibration `moves`
    /// (none when it was not recalibrated). A zipcode changed since `universe_read_at_ms` (an import while the
    /// inputs were composed) keeps the import's value: imports win. Returns what is stored and whether this call
    /// stored it: the first publication stands, and only its moves land.
    pub async fn publish_inputs(
        &self,
        record: &InputsRecord,
        canonical: &[u8],
        moves: &[CalibrationMove],
        universe_read_at_ms: i64,
    ) -> StorageResult<(InputsRecord, bool)> {
        let document = gzip(canonical);
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO epoch_inputs (epoch_id, start_unix, inputs_hash, candidate_count, document, \
             published_at_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(record.epoch.to_string())
        .bind(record.epoch.start_unix())
        .bind(&record.hash)
        .bind(record.candidate_count as i64)
        .bind(document)
        .bind(record.published_at_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 && !moves.is_empty() {
            for moved in moves {
                sqlx::query(
                    "UPDATE zipcodes SET expected_listings = $1, source = $2, updated_at_ms = $3 \
                     WHERE zipcode = $4 AND expected_listings = $5 AND updated_at_ms <= $6",
                )
                .bind(i64::from(moved.to))
                .bind(CALIBRATION_SOURCE)
                .bind(record.published_at_ms)
                .bind(moved.zipcode.to_string())
                .bind(i64::from(moved.from))
                .bind(universe_read_at_ms)
                .execute(&mut *tx)
                .await?;
            }
            super::zipcodes::bump_revision(&mut tx, record.published_at_ms).await?;
        }
        tx.commit().await?;
        if inserted == 1 {
            return Ok((record.clone(), true));
        }
        let stored = self.inputs_record(record.epoch).await?.ok_or_else(|| {
            StorageError::Corrupt(format!("inputs of {} conflicted on insert but cannot be read", record.epoch))
        })?;
        Ok((stored, false))
    }

    /// The published inputs of `epoch` without their document.
    pub async fn inputs_record(&self, epoch: EpochId) -> StorageResult<Option<InputsRecord>> {
        let row = sqlx::query(
            "SELECT start_unix, inputs_hash, candidate_count, published_at_ms FROM epoch_inputs WHERE epoch_id = $1",
        )
        .bind(epoch.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// The published inputs of `epoch` with their document.
    pub async fn load_inputs(&self, epoch: EpochId) -> StorageResult<Option<StoredInputs>> {
        let row = sqlx::query(
            "SELECT start_unix, inputs_hash, candidate_count, published_at_ms, document FROM epoch_inputs \
             WHERE epoch_id = $1",
        )
        .bind(epoch.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(StoredInputs { record: record_from_row(&row)?, gzip: row.try_get("document")? }))
    }

    /// The latest epoch whose inputs are published: imports and setting changes reach only the epochs after it.
    pub async fn latest_published_inputs(&self) -> StorageResult<Option<EpochId>> {
        let (latest,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(start_unix) FROM epoch_inputs").fetch_one(&self.pool).await?;
        Ok(latest.map(EpochId::from_start_unix))
    }

    /// Deletes about `limit` published inputs of epochs that started before `before_unix`.
    pub async fn prune_inputs(&self, before_unix: i64, limit: i64) -> StorageResult<u64> {
        self.delete_oldest("epoch_inputs", "start_unix", before_unix, limit).await
    }
}

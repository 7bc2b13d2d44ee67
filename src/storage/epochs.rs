//! Epochs and their assignments: written once, read many times.

use std::collections::HashMap;

// Dynamic SQL here is built only from constants and numbered placeholders, never from input.
use sqlx::{AssertSqlSafe, Row};

use super::zipcodes::record_from_row;
use super::{get_flag, get_u32, get_u64, parse_column, StorageError, StorageResult, Store};
use crate::domain::epoch::assignment::EpochAssignment;
use crate::domain::epoch::batches::{AssignedGroup, EpochGroups};
use crate::domain::epoch::beacon::{known_chain, Pulse};
use crate::domain::epoch::groups::{GroupPlan, SharedColdkey};
use crate::domain::epoch::proof::{EpochProof, SeedKind, SeedSource};
use crate::domain::epoch::zipcode::Zipcode;
use crate::domain::epoch::EpochId;
use crate::domain::hotkey::Hotkey;

/// One line of epoch history (stats `recentPerformance`, `zipcoord epoch list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochSummary {
    pub epoch: EpochId,
    pub end_unix: i64,
    pub zipcode_count: usize,
    pub target_listings: u32,
    pub total_expected: u64,
    /// Made in the `groups` assignment mode: each miner was given a batch selected to the target, not the whole
    /// `total_expected`.
    pub grouped: bool,
}

const EPOCH_COLUMNS: &str = "id, start_unix, end_unix, nonce, selection_seed, target_listings, tolerance_percent, \
                             algorithm_version, total_expected, zipcode_count, created_at_ms, proof, groups";

/// An epoch's proof as stored (JSON text in `epochs.proof`).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredProof {
    kind: String,
    chain: String,
    chain_hash: String,
    round: u64,
    signature: Option<String>,
    reason: Option<String>,
    inputs_hash: String,
    inputs_published_at_ms: i64,
    algorithm_version: String,
}

fn proof_to_json(proof: &EpochProof) -> String {
    let (signature, reason) = match &proof.source {
        SeedSource::Beacon { pulse, .. } => (Some(pulse.signature_hex()), None),
        SeedSource::Fallback { reason } => (None, Some(reason.clone())),
    };
    let stored = StoredProof {
        kind: proof.kind().to_string(),
        chain: proof.chain_name.clone(),
        chain_hash: hex::encode(proof.chain_hash),
        round: proof.round,
        signature,
        reason,
        inputs_hash: proof.inputs_hash.clone(),
        inputs_published_at_ms: proof.inputs_published_at_ms,
        algorithm_version: proof.algorithm_version.clone(),
    };
    serde_json::to_string(&stored).expect("proofs serialize")
}

/// An epoch's groups as stored (JSON text in `epochs.groups`): each group's batch is the next `count` zipcode
/// rows.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredGroups {
    size: usize,
    plan_overlap: usize,
    overlap: usize,
    groups: Vec<StoredGroup>,
    shared_coldkeys: Vec<(String, usize)>,
    refilled_batches: usize,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredGroup {
    count: usize,
    members: Vec<String>,
}

fn groups_to_json(groups: &EpochGroups) -> String {
    let stored = StoredGroups {
        size: groups.plan.size,
        plan_overlap: groups.plan.overlap,
        overlap: groups.overlap,
        groups: groups
            .groups
            .iter()
            .map(|g| StoredGroup { count: g.count, members: g.members.iter().map(|m| m.to_string()).collect() })
            .collect(),
        shared_coldkeys: groups.shared_coldkeys.iter().map(|s| (s.coldkey.clone(), s.miners)).collect(),
        refilled_batches: groups.refilled_batches,
    };
    serde_json::to_string(&stored).expect("groups serialize")
}

fn groups_from_json(epoch: &str, text: &str, zipcode_count: usize) -> StorageResult<EpochGroups> {
    let corrupt = |why: String| StorageError::Corrupt(format!("the groups of epoch {epoch} {why}"));
    let stored: StoredGroups = serde_json::from_str(text).map_err(|e| corrupt(format!("do not parse: {e}")))?;
    let mut first = 0;
    let mut groups = Vec::with_capacity(stored.groups.len());
    for (index, group) in stored.groups.into_iter().enumerate() {
        let members = group
            .members
            .iter()
            .map(|m| m.parse::<Hotkey>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| corrupt(e.to_string()))?;
        groups.push(AssignedGroup { index, first, count: group.count, members });
        first += group.count;
    }
    if first != zipcode_count {
        return Err(corrupt(format!("hold {first} zipcodes, the epoch {zipcode_count}")));
    }
    Ok(EpochGroups {
        plan: GroupPlan { size: stored.size, overlap: stored.plan_overlap },
        overlap: stored.overlap,
        groups,
        shared_coldkeys: stored
            .shared_coldkeys
            .into_iter()
            .map(|(coldkey, miners)| SharedColdkey { coldkey, miners })
            .collect(),
        refilled_batches: stored.refilled_batches,
    })
}

/// Reads a stored proof back, verifying its pulse again: randomness is only ever taken from a verified pulse.
fn proof_from_json(epoch: &str, text: &str) -> StorageResult<EpochProof> {
    let corrupt = |why: String| StorageError::Corrupt(format!("the proof of epoch {epoch} {why}"));
    let stored: StoredProof = serde_json::from_str(text).map_err(|e| corrupt(format!("does not parse: {e}")))?;
    let chain_hash: [u8; 32] = hex::decode(&stored.chain_hash)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| corrupt("names a malformed chain hash".into()))?;
    let kind = stored.kind.parse::<SeedKind>().map_err(|e| corrupt(format!("has {e}")))?;
    let source = match (kind, stored.signature, stored.reason) {
        (SeedKind::Beacon, Some(signature), _) => {
            let chain = known_chain(&chain_hash).ok_or_else(|| corrupt("names an unknown beacon chain".into()))?;
            let pulse = Pulse::from_hex(stored.round, &signature).map_err(|e| corrupt(e.to_string()))?;
            let randomness = chain.verify(&pulse).map_err(|e| corrupt(e.to_string()))?;
            SeedSource::Beacon { pulse, randomness }
        }
        (SeedKind::Fallback, _, Some(reason)) => SeedSource::Fallback { reason },
        (kind, _, _) => return Err(corrupt(format!("of kind {kind} lacks its pulse or its reason"))),
    };
    Ok(EpochProof {
        source,
        chain_name: stored.chain,
        chain_hash,
        round: stored.round,
        inputs_hash: stored.inputs_hash,
        inputs_published_at_ms: stored.inputs_published_at_ms,
        algorithm_version: stored.algorithm_version,
    })
}

impl Store {
    /// The stored assignment of `epoch`, if it was ever created.
    pub async fn load_epoch(&self, epoch: EpochId) -> StorageResult<Option<EpochAssignment>> {
        let id = epoch.to_string();
        let Some(row) = sqlx::query(AssertSqlSafe(format!("SELECT {EPOCH_COLUMNS} FROM epochs WHERE id = $1")))
            .bind(&id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        // An assigned zipcode was active when picked; `1 AS active` lets the universe's row decoder serve here.
        let rows = sqlx::query(
            "SELECT zipcode, state, city, county, expected_listings, market_tier, weight, 1 AS active \
             FROM epoch_zipcodes WHERE epoch_id = $1 ORDER BY position",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await?;
        let zipcodes = rows.iter().map(record_from_row).collect::<StorageResult<Vec<_>>>()?;
        let zipcodes_len = zipcodes.len();
        let assignment = EpochAssignment {
            epoch: EpochId::from_start_unix(row.try_get("start_unix")?),
            end_unix: row.try_get("end_unix")?,
            nonce: parse_column(&row, "nonce")?,
            selection_seed: parse_column(&row, "selection_seed")?,
            target_listings: get_u32(&row, "target_listings")?,
            tolerance_percent: get_u32(&row, "tolerance_percent")?,
            algorithm_version: row.try_get("algorithm_version")?,
            zipcodes,
            created_at_ms: row.try_get("created_at_ms")?,
            proof: row.try_get::<Option<String>, _>("proof")?.map(|text| proof_from_json(&id, &text)).transpose()?,
            groups: row
                .try_get::<Option<String>, _>("groups")?
                .map(|text| groups_from_json(&id, &text, zipcodes_len))
                .transpose()?,
        };
        if assignment.zipcodes.len() as u64 != get_u64(&row, "zipcode_count")? || assignment.epoch != epoch {
            return Err(StorageError::Corrupt(format!("epoch {id} does not match its zipcode rows")));
        }
        Ok(Some(assignment))
    }

    /// Stores `assignment` unless its epoch already exists. Returns the stored assignment and whether this call
    /// created it: under concurrency the first writer wins and everyone else reads the winner's row.
    pub async fn insert_epoch(&self, assignment: &EpochAssignment) -> StorageResult<(EpochAssignment, bool)> {
        let id = assignment.epoch.to_string();
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO epochs ({EPOCH_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT DO NOTHING"
        )))
        .bind(&id)
        .bind(assignment.epoch.start_unix())
        .bind(assignment.end_unix)
        .bind(assignment.nonce.to_string())
        .bind(assignment.selection_seed.to_string())
        .bind(i64::from(assignment.target_listings))
        .bind(i64::from(assignment.tolerance_percent))
        .bind(&assignment.algorithm_version)
        .bind(assignment.total_expected() as i64)
        .bind(assignment.zipcodes.len() as i64)
        .bind(assignment.created_at_ms)
        .bind(assignment.proof.as_ref().map(proof_to_json))
        .bind(assignment.groups.as_ref().map(groups_to_json))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            let existing = self
                .load_epoch(assignment.epoch)
                .await?
                .ok_or_else(|| StorageError::Corrupt(format!("epoch {id} conflicted on insert but cannot be read")))?;
            return Ok((existing, false));
        }
        for (chunk_index, chunk) in assignment.zipcodes.chunks(500).enumerate() {
            let mut sql = String::from(
                "INSERT INTO epoch_zipcodes (epoch_id, position, zipcode, expected_listings, state, city, county, \
                 market_tier, weight) VALUES ",
            );
            for i in 0..chunk.len() {
                let b = i * 9;
                if i > 0 {
                    sql.push(',');
                }
                let params: Vec<String> = (1..=9).map(|k| format!("${}", b + k)).collect();
                sql.push_str(&format!("({})", params.join(",")));
            }
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (i, z) in chunk.iter().enumerate() {
                query = query
                    .bind(id.clone())
                    .bind((chunk_index * 500 + i) as i64)
                    .bind(z.zipcode.to_string())
                    .bind(i64::from(z.expected_listings))
                    .bind(z.state.clone())
                    .bind(z.city.clone())
                    .bind(z.county.clone())
                    .bind(z.tier.as_str())
                    .bind(z.weight);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok((assignment.clone(), true))
    }

    /// Epochs that started at or before `until_start_unix`, newest first.
    pub async fn recent_epochs(&self, until_start_unix: i64, limit: i64) -> StorageResult<Vec<EpochSummary>> {
        let rows = sqlx::query(
            "SELECT start_unix, end_unix, zipcode_count, target_listings, total_expected, \
             CASE WHEN groups IS NULL THEN 0 ELSE 1 END AS grouped FROM epochs \
             WHERE start_unix <= $1 ORDER BY start_unix DESC LIMIT $2",
        )
        .bind(until_start_unix)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(EpochSummary {
                    epoch: EpochId::from_start_unix(row.try_get("start_unix")?),
                    end_unix: row.try_get("end_unix")?,
                    zipcode_count: get_u64(row, "zipcode_count")? as usize,
                    target_listings: get_u32(row, "target_listings")?,
                    total_expected: get_u64(row, "total_expected")?,
                    grouped: get_flag(row, "grouped")?,
                })
            })
            .collect()
    }

    /// For each zipcode assigned by an epoch starting in `[from_unix, before_unix)`, the latest such start.
    pub async fn last_assignments(&self, from_unix: i64, before_unix: i64) -> StorageResult<HashMap<Zipcode, i64>> {
        let rows = sqlx::query(
            "SELECT ez.zipcode AS zipcode, MAX(e.start_unix) AS last_start FROM epoch_zipcodes ez \
             JOIN epochs e ON e.id = ez.epoch_id WHERE e.start_unix >= $1 AND e.start_unix < $2 GROUP BY ez.zipcode",
        )
        .bind(from_unix)
        .bind(before_unix)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok((parse_column(row, "zipcode")?, row.try_get("last_start")?))).collect()
    }
}

//! Epoch history as JSON: one object per epoch (its assignment) and one per status report, written as JSON
//! Lines by `zipcoord export` for analysis, and shared with `zipcoord epoch show`.

use std::io::Write;

use serde_json::{json, Value};

use crate::api::iso8601_millis;
use crate::domain::assignment::EpochAssignment;
use crate::domain::status::StatusReport;
use crate::storage::{StorageResult, Store};

/// An epoch and its assignment.
pub fn epoch_json(assignment: &EpochAssignment) -> Value {
    json!({
        "type": "epoch",
        "epochId": assignment.epoch.to_string(),
        "nonce": assignment.nonce,
        "epochStart": iso8601_millis(assignment.epoch.start_unix() * 1000),
        "epochEnd": iso8601_millis(assignment.end_unix * 1000),
        "targetListings": assignment.target_listings,
        "tolerancePercent": assignment.tolerance_percent,
        "totalExpectedListings": assignment.total_expected(),
        "algorithmVersion": assignment.algorithm_version,
        "selectionSeed": assignment.selection_seed,
        "createdAt": iso8601_millis(assignment.created_at_ms),
        "zipcodes": assignment.zipcodes.iter().map(|z| json!({
            "zipcode": z.zipcode.to_string(),
            "expectedListings": z.expected_listings,
            "state": z.state,
            "city": z.city,
            "county": z.county,
            "marketTier": z.tier.as_str(),
        })).collect::<Vec<_>>(),
    })
}

/// One status report as received.
pub fn status_json(report: &StatusReport) -> Value {
    json!({
        "type": "status",
        "epochId": report.epoch.to_string(),
        "hotkey": report.hotkey.to_string(),
        "status": report.status.as_str(),
        "s3UploadComplete": report.s3_upload_complete,
        "listingsScraped": report.listings_scraped,
        "zipcodesCompleted": report.zipcodes_completed.iter().map(|p| json!({
            "zipcode": p.zipcode.to_string(),
            "listingsScraped": p.listings_scraped,
            "completedAt": p.completed_at_ms.map(iso8601_millis),
        })).collect::<Vec<_>>(),
        "s3UploadTimestamp": report.s3_upload_at_ms.map(iso8601_millis),
        "receivedAt": iso8601_millis(report.received_at_ms),
    })
}

/// How many lines an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportCounts {
    pub epochs: u64,
    pub status_reports: u64,
}

/// Writes every epoch that started in `[from_unix, until_unix)`, each followed by its status reports, as JSON
/// Lines. One epoch is in memory at a time.
pub async fn export_history(
    store: &Store,
    from_unix: i64,
    until_unix: i64,
    out: &mut impl Write,
) -> anyhow::Result<ExportCounts> {
    let mut counts = ExportCounts::default();
    for epoch in store.epochs_between(from_unix, until_unix).await? {
        let (Some(assignment), reports) = load(store, epoch).await? else { continue };
        writeln!(out, "{}", epoch_json(&assignment))?;
        counts.epochs += 1;
        for report in &reports {
            writeln!(out, "{}", status_json(report))?;
            counts.status_reports += 1;
        }
    }
    out.flush()?;
    Ok(counts)
}

async fn load(
    store: &Store,
    epoch: crate::domain::epoch::EpochId,
) -> StorageResult<(Option<EpochAssignment>, Vec<StatusReport>)> {
    Ok((store.load_epoch(epoch).await?, store.status_events(epoch).await?))
}

//! Epoch history as JSON: one object per epoch (its assignment) and one per status report, written as JSON
//! Lines by `zipcoord export` for analysis, and shared with `zipcoord epoch show`.

use std::io::Write;

use serde::Serialize;
use serde_json::{json, Value};

use crate::api::iso8601_millis;
use crate::domain::epoch::assignment::EpochAssignment;
use crate::domain::epoch::status::StatusReport;
use crate::storage::{StorageResult, Store};

/// An epoch and its assignment.
pub fn epoch_json(assignment: &EpochAssignment) -> Value {
    json!({
        "type": "epoch",
        "epochId": assignment.epoch.to_string(),
        "nonce": assignment.nonce.to_string(),
        "epochStart": iso8601_millis(assignment.epoch.start_unix() * 1000),
        "epochEnd": iso8601_millis(assignment.end_unix * 1000),
        "targetListings": assignment.target_listings,
        "tolerancePercent": assignment.tolerance_percent,
        "totalExpectedListings": assignment.total_expected(),
        "algorithmVersion": assignment.algorithm_version,
        "selectionSeed": assignment.selection_seed.to_string(),
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

/// One status report as received, as an export line writes it. The fields are declared in alphabetical order,
/// the order the export has always written them in (it used to go through `serde_json::Value`, whose maps sort
/// their keys); serializing straight from these borrowed fields makes no map per report.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusLine<'a> {
    epoch_id: String,
    hotkey: &'a str,
    listings_scraped: Option<u64>,
    received_at: String,
    s3_upload_complete: bool,
    s3_upload_timestamp: Option<String>,
    status: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    zipcodes_completed: Vec<ProgressLine>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProgressLine {
    completed_at: Option<String>,
    listings_scraped: u64,
    zipcode: String,
}

impl<'a> StatusLine<'a> {
    fn new(report: &'a StatusReport) -> Self {
        StatusLine {
            epoch_id: report.epoch.to_string(),
            hotkey: report.hotkey.as_str(),
            listings_scraped: report.listings_scraped,
            received_at: iso8601_millis(report.received_at_ms),
            s3_upload_complete: report.s3_upload_complete,
            s3_upload_timestamp: report.s3_upload_at_ms.map(iso8601_millis),
            status: report.status.as_str(),
            kind: "status",
            zipcodes_completed: report
                .zipcodes_completed
                .iter()
                .map(|p| ProgressLine {
                    completed_at: p.completed_at_ms.map(iso8601_millis),
                    listings_scraped: p.listings_scraped,
                    zipcode: p.zipcode.to_string(),
                })
                .collect(),
        }
    }
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
            serde_json::to_writer(&mut *out, &StatusLine::new(report))?;
            out.write_all(b"\n")?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::keys::Keypair;
    use crate::domain::epoch::status::{MinerStatus, ZipcodeProgress};

    /// The line a report had when it was built as a `serde_json::Value`.
    fn line_as_before(report: &StatusReport) -> String {
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
        .to_string()
    }

    #[test]
    fn status_lines_are_byte_identical_to_the_value_built_ones() {
        let progress = |zip: &str, at| ZipcodeProgress {
            zipcode: zip.parse().unwrap(),
            listings_scraped: 12,
            completed_at_ms: at,
        };
        let mut report = StatusReport {
            epoch: "2025-10-01T16-00-00".parse().unwrap(),
            hotkey: Keypair::from_uri("//Charlie").unwrap().hotkey(),
            status: MinerStatus::Completed,
            s3_upload_complete: true,
            listings_scraped: Some(250),
            zipcodes_completed: vec![progress("02134", Some(1_759_338_000_123)), progress("10001", None)],
            s3_upload_at_ms: Some(1_759_338_001_000),
            received_at_ms: 1_759_338_002_000,
        };
        assert_eq!(serde_json::to_string(&StatusLine::new(&report)).unwrap(), line_as_before(&report));
        report.listings_scraped = None;
        report.s3_upload_at_ms = None;
        report.zipcodes_completed.clear();
        report.status = MinerStatus::InProgress;
        assert_eq!(serde_json::to_string(&StatusLine::new(&report)).unwrap(), line_as_before(&report));
    }
}

//! Miners' progress reports for an epoch.

use std::fmt;
use std::str::FromStr;

use crate::domain::epoch::zipcode::Zipcode;
use crate::domain::epoch::EpochId;
use crate::domain::hotkey::Hotkey;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum MinerStatus {
    InProgress,
    Completed,
    Failed,
    Timeout,
}

impl MinerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MinerStatus::InProgress => "IN_PROGRESS",
            MinerStatus::Completed => "COMPLETED",
            MinerStatus::Failed => "FAILED",
            MinerStatus::Timeout => "TIMEOUT",
        }
    }
}

impl TryFrom<String> for MinerStatus {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<MinerStatus> for String {
    fn from(status: MinerStatus) -> String {
        status.as_str().to_string()
    }
}

impl FromStr for MinerStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "IN_PROGRESS" => Ok(MinerStatus::InProgress),
            "COMPLETED" => Ok(MinerStatus::Completed),
            "FAILED" => Ok(MinerStatus::Failed),
            "TIMEOUT" => Ok(MinerStatus::Timeout),
            _ => Err("invalid status: expected IN_PROGRESS, COMPLETED, FAILED or TIMEOUT".to_string()),
        }
    }
}

impl fmt::Display for MinerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipcodeProgress {
    pub zipcode: Zipcode,
    pub listings_scraped: u64,
    pub completed_at_ms: Option<i64>,
}

/// One accepted report, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub epoch: EpochId,
    pub hotkey: Hotkey,
    pub status: MinerStatus,
    pub s3_upload_complete: bool,
    pub listings_scraped: Option<u64>,
    pub zipcodes_completed: Vec<ZipcodeProgress>,
    pub s3_upload_at_ms: Option<i64>,
    pub received_at_ms: i64,
}

/// The latest state of one miner in one epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinerEpochState {
    pub latest: StatusReport,
    pub report_count: u64,
    pub first_reported_at_ms: i64,
}

//! Access grants to the S3 store: who got what prefix until when. Recorded for every grant so an operator can
//! audit access; never holds a signature or a secret.

use std::fmt;
use std::str::FromStr;

use crate::domain::hotkey::Hotkey;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantKind {
    /// A miner's upload (and listing) access to its own folder.
    MinerFolder,
    /// A validator's listing of one miner's folder.
    MinerRead,
    /// A validator's listing of every miner's data.
    ValidatorRead,
    /// A validator's upload of its results.
    ValidatorUpload,
}

impl GrantKind {
    pub const ALL: [GrantKind; 4] =
        [GrantKind::MinerFolder, GrantKind::MinerRead, GrantKind::ValidatorRead, GrantKind::ValidatorUpload];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantKind::MinerFolder => "miner_folder",
            GrantKind::MinerRead => "miner_read",
            GrantKind::ValidatorRead => "validator_read",
            GrantKind::ValidatorUpload => "validator_upload",
        }
    }
}

impl FromStr for GrantKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [GrantKind::MinerFolder, GrantKind::MinerRead, GrantKind::ValidatorRead, GrantKind::ValidatorUpload]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown grant kind '{s}'"))
    }
}

impl fmt::Display for GrantKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    pub hotkey: Hotkey,
    pub kind: GrantKind,
    /// The key prefix the grant covers.
    pub prefix: String,
    pub granted_at_ms: i64,
    pub expires_at_ms: i64,
}

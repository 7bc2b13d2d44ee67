//! The bucket's key layout, in one place for the server's grants, the miner's uploads and the validator's
//! listings:
//!
//! - `data/hotkey={hotkey}/epoch={epochId}/zipcode={zipcode}/data_{YYYYmmdd_HHMMSS}.json`: a miner's work;
//! - `validators/{hotkey}/{epochId}/results_{YYYYmmdd_HHMMSS}.json`: a validator's judgement of an epoch.

use crate::domain::epoch::zipcode::Zipcode;
use crate::domain::epoch::EpochId;
use crate::domain::hotkey::Hotkey;

/// Every miner's folder starts with this.
pub const MINERS_PREFIX: &str = "data/hotkey=";

/// The layout as shown to operators and clients (`/healthcheck`, the S3 grants' `structure_info`).
pub const FOLDER_STRUCTURE: &str = "data/hotkey={hotkey}/epoch={epochId}/zipcode={zipcode}/data_{YYYYmmdd_HHMMSS}.json";

/// Who may write and read where, in a sentence.
pub const ACCESS_RULES: &str = "Each miner writes only under data/hotkey={its hotkey}/; validators list and read \
                                every miner's folder and write results under validators/{their hotkey}/{epochId}/.";

/// The folder a miner uploads to: `data/hotkey={hotkey}/`.
pub fn miner_folder(hotkey: &Hotkey) -> String {
    format!("{MINERS_PREFIX}{hotkey}/")
}

/// One epoch's work below a miner's folder: `epoch={epochId}/`.
pub fn epoch_folder(epoch: EpochId) -> String {
    format!("epoch={epoch}/")
}

/// One zipcode's work in one epoch, relative to the miner's folder.
pub fn zipcode_folder(epoch: EpochId, zipcode: &Zipcode) -> String {
    format!("{}zipcode={zipcode}/", epoch_folder(epoch))
}

/// The object name of a zipcode's listings, relative to the miner's folder; `stamp` is `YYYYmmdd_HHMMSS`.
pub fn listing_file_name(epoch: EpochId, zipcode: &Zipcode, stamp: &str) -> String {
    format!("{}data_{stamp}.json", zipcode_folder(epoch, zipcode))
}

/// Where a key below a miner's folder claims to belong: `(epoch id, zipcode)` for
/// `…epoch={id}/zipcode={zip}/<file>`, as raw strings (a liar may write anything there).
pub fn parse_listing_key(relative_key: &str) -> Option<(&str, &str)> {
    let mut parts = relative_key.split('/');
    let epoch = parts.next()?.strip_prefix("epoch=")?;
    let zipcode = parts.next()?.strip_prefix("zipcode=")?;
    let file = parts.next()?;
    (parts.next().is_none() && !file.is_empty()).then_some((epoch, zipcode))
}

/// The epoch a key of a miner's folder belongs to: `data/hotkey={hk}/epoch={id}/…`; `None` for keys outside
/// that layout (other writers' files, `job_id=…` uploads).
pub fn epoch_of_key(key: &str) -> Option<EpochId> {
    let relative = key.strip_prefix(MINERS_PREFIX)?.split_once('/')?.1;
    let (epoch, rest) = relative.split_once('/')?;
    (!rest.is_empty()).then_some(())?;
    epoch.strip_prefix("epoch=")?.parse().ok()
}

/// Everything a validator may write: `validators/{hotkey}/`.
pub fn validator_prefix(hotkey: &Hotkey) -> String {
    format!("validators/{hotkey}/")
}

/// Where a validator's results for an epoch go: `validators/{hotkey}/{epochId}/`.
pub fn validator_folder(hotkey: &Hotkey, epoch: EpochId) -> String {
    format!("{}{epoch}/", validator_prefix(hotkey))
}

/// A results file's name inside [`validator_folder`]; `stamp` is `YYYYmmdd_HHMMSS`.
pub fn results_file_name(stamp: &str) -> String {
    format!("results_{stamp}.json")
}

/// Most objects one request may name (for presigned PUTs or GETs).
pub const MAX_OBJECT_NAMES: usize = 1_000;

/// Why a request's object names are refused; the message is the one to send back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectNameError {
    /// The name's first 60 characters.
    #[error("invalid file name '{0}': a relative path without empty, . or .. segments")]
    Invalid(String),
    #[error("at most {MAX_OBJECT_NAMES} files per request")]
    TooMany,
}

/// Checks one object name a client may ask a URL for: relative to a folder, no empty, `.` or `..` segments, no
/// control characters, at most 512 bytes.
pub fn check_object_name(name: &str) -> Result<(), ObjectNameError> {
    let bad = name.is_empty()
        || name.len() > 512
        || name.starts_with('/')
        || name.split('/').any(|segment| segment.is_empty() || segment == "." || segment == "..")
        || name.chars().any(char::is_control);
    if bad {
        return Err(ObjectNameError::Invalid(name.chars().take(60).collect()));
    }
    Ok(())
}

/// Checks the object names of one request: each as [`check_object_name`] says, at most [`MAX_OBJECT_NAMES`].
pub fn check_object_names(names: &[String]) -> Result<(), ObjectNameError> {
    if names.len() > MAX_OBJECT_NAMES {
        return Err(ObjectNameError::TooMany);
    }
    names.iter().try_for_each(|name| check_object_name(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_layout() {
        let hotkey: Hotkey = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".parse().unwrap();
        let epoch: EpochId = "2025-10-01T16-00-00".parse().unwrap();
        let zipcode: Zipcode = "02134".parse().unwrap();
        let name = listing_file_name(epoch, &zipcode, "20251001_160500");
        assert_eq!(name, "epoch=2025-10-01T16-00-00/zipcode=02134/data_20251001_160500.json");
        let full = format!("{}{name}", miner_folder(&hotkey));
        let expected = FOLDER_STRUCTURE
            .replace("{hotkey}", hotkey.as_str())
            .replace("{epochId}", "2025-10-01T16-00-00")
            .replace("{zipcode}", "02134")
            .replace("{YYYYmmdd_HHMMSS}", "20251001_160500");
        assert_eq!(full, expected);
        assert_eq!(parse_listing_key(&name), Some(("2025-10-01T16-00-00", "02134")));
        assert_eq!(parse_listing_key("job_id=7/data_1.parquet"), None);
        assert_eq!(parse_listing_key("epoch=x/zipcode=1/"), None);
        assert_eq!(parse_listing_key("epoch=x/zipcode=1/a/b.json"), None);
        assert_eq!(validator_folder(&hotkey, epoch), format!("validators/{hotkey}/2025-10-01T16-00-00/"),);
        assert!(miner_folder(&hotkey).starts_with(MINERS_PREFIX));
        assert_eq!(epoch_of_key(&full), Some(epoch));
        for other in ["data/hotkey=5F/job_id=1/data.parquet", "data/hotkey=5F/epoch=x/a.json", "validators/5F/e/r.json"]
        {
            assert_eq!(epoch_of_key(other), None, "{other}");
        }
        assert_eq!(epoch_of_key("data/hotkey=5F/epoch=2025-10-01T16-00-00/"), None, "a folder, not an object");
    }

    #[test]
    fn object_names_stay_inside_their_folder() {
        let ok = |names: &[&str]| check_object_names(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>());
        assert_eq!(ok(&["epoch=x/zipcode=1/data_1.json", "a.json"]), Ok(()));
        for bad in ["", "/abs", "a/../b", "a//b", "./a", "a\nb", &"x".repeat(513)] {
            assert!(ok(&[bad]).is_err(), "{bad:?}");
        }
        assert!(check_object_names(&vec!["a".to_string(); MAX_OBJECT_NAMES + 1]).is_err());
    }
}

//! Epoch identities and the epoch clock.
//!
//! An epoch is a fixed-length slice of UTC time aligned to midnight; its id is the start formatted
//! `YYYY-MM-DDTHH-MM-SS`. The same string appears in stats, `/current`, `/epoch/{id}` and S3 keys, so the
//! format here is the single source of truth. Time is always an argument: nothing here reads a clock.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};

const ID_FORMAT: &str = "%Y-%m-%dT%H-%M-%S";
const MINUTES_PER_DAY: u32 = 1440;

/// The start of an epoch, in whole Unix seconds (UTC). Displays as the wire id `YYYY-MM-DDTHH-MM-SS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EpochId(i64);

impl TryFrom<String> for EpochId {
    type Error = EpochError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<EpochId> for String {
    fn from(epoch: EpochId) -> String {
        epoch.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpochError {
    #[error("invalid epoch id '{0}': expected YYYY-MM-DDTHH-MM-SS (UTC), e.g. 2025-10-01T16-00-00")]
    Malformed(String),
    #[error("epoch length must be between 1 and 1440 minutes and divide 1440 (a day), got {0}")]
    BadLength(u32),
    #[error("epoch length must be at least 10 seconds and divide 86400 (a day), got {0}")]
    BadLengthSeconds(u32),
}

impl EpochId {
    /// The epoch id whose start is exactly `unix_seconds`; callers align it through [`EpochClock`].
    pub fn from_start_unix(unix_seconds: i64) -> Self {
        EpochId(unix_seconds)
    }

    pub fn start_unix(self) -> i64 {
        self.0
    }

    pub fn start_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.0, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

impl fmt::Display for EpochId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.start_datetime().format(ID_FORMAT))
    }
}

impl FromStr for EpochId {
    type Err = EpochError;

    /// Strict: exactly 19 characters in the wire format, so `parse(s).to_string() == s` for every accepted `s`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || EpochError::Malformed(truncate_for_message(s));
        if s.len() != 19 || !s.is_ascii() {
            return Err(malformed());
        }
        let parsed = NaiveDateTime::parse_from_str(s, ID_FORMAT).map_err(|_| malformed())?;
        let id = EpochId(parsed.and_utc().timestamp());
        if id.to_string() != s {
            return Err(malformed());
        }
        Ok(id)
    }
}

fn truncate_for_message(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// Maps instants to epochs for a fixed epoch length that divides a day, so epochs align to UTC midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochClock {
    length_seconds: i64,
}

impl EpochClock {
    pub fn new(length_minutes: u32) -> Result<Self, EpochError> {
        if length_minutes == 0 || length_minutes > MINUTES_PER_DAY || !MINUTES_PER_DAY.is_multiple_of(length_minutes) {
            return Err(EpochError::BadLength(length_minutes));
        }
        Ok(EpochClock { length_seconds: i64::from(length_minutes) * 60 })
    }

    /// A clock of `length_seconds` (at least 10, dividing a day): sub-minute epochs for local networks and
    /// end-to-end tests, which cannot wait for minutes.
    pub fn from_seconds(length_seconds: u32) -> Result<Self, EpochError> {
        const SECONDS_PER_DAY: u32 = 86_400;
        if !(10..=SECONDS_PER_DAY).contains(&length_seconds) || !SECONDS_PER_DAY.is_multiple_of(length_seconds) {
            return Err(EpochError::BadLengthSeconds(length_seconds));
        }
        Ok(EpochClock { length_seconds: i64::from(length_seconds) })
    }

    pub fn length_seconds(self) -> i64 {
        self.length_seconds
    }

    /// The epoch that contains `unix_seconds`.
    pub fn epoch_at(self, unix_seconds: i64) -> EpochId {
        EpochId(unix_seconds.div_euclid(self.length_seconds) * self.length_seconds)
    }

    /// Whether `id` starts on a boundary of this clock (a well-formed id can still fall between epochs).
    pub fn is_boundary(self, id: EpochId) -> bool {
        id.0.rem_euclid(self.length_seconds) == 0
    }

    pub fn end(self, id: EpochId) -> i64 {
        id.0 + self.length_seconds
    }

    /// When the judging window of `id` ends: validators judge `id` during the epoch after it, miners' status
    /// reports on `id` are taken until then, and its published verdicts are served from then on.
    pub fn judging_window_end(self, id: EpochId) -> i64 {
        self.end(self.next(id))
    }

    pub fn next(self, id: EpochId) -> EpochId {
        EpochId(id.0 + self.length_seconds)
    }

    pub fn previous(self, id: EpochId) -> EpochId {
        EpochId(id.0 - self.length_seconds)
    }

    /// Whether anything about `id` may be revealed at `now`: only once the epoch has started.
    pub fn has_started(self, id: EpochId, now_unix: i64) -> bool {
        id.0 <= now_unix
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_and_parses_the_wire_id() {
        let id: EpochId = "2025-10-01T16-00-00".parse().unwrap();
        assert_eq!(id.start_unix(), 1_759_334_400);
        assert_eq!(id.to_string(), "2025-10-01T16-00-00");
    }

    #[test]
    fn rejects_malformed_ids() {
        for bad in [
            "",
            "2025-10-01",
            "2025-10-01T16:00:00",
            "2025-10-01T16-00-00Z",
            "2025-13-01T16-00-00",
            "2025-02-30T16-00-00",
            "2025-10-01t16-00-00",
            " 2025-10-01T16-00-0",
            "2025-10-01T24-00-00",
            "+025-10-01T16-00-00",
            "2025-10-01T16-00-0é",
        ] {
            assert!(bad.parse::<EpochId>().is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn four_hour_epochs_align_to_utc_midnight() {
        let clock = EpochClock::new(240).unwrap();
        let noon_ish: EpochId = "2025-10-01T17-59-59".parse().unwrap();
        let id = clock.epoch_at(noon_ish.start_unix());
        assert_eq!(id.to_string(), "2025-10-01T16-00-00");
        assert_eq!(clock.next(id).to_string(), "2025-10-01T20-00-00");
        assert_eq!(clock.previous(id).to_string(), "2025-10-01T12-00-00");
        assert_eq!(clock.end(id), id.start_unix() + 4 * 3600);
        assert_eq!(clock.judging_window_end(id), clock.end(clock.next(id)));
        assert_eq!(clock.judging_window_end(id), id.start_unix() + 8 * 3600);
        assert!(clock.is_boundary(id));
        assert!(!clock.is_boundary(noon_ish));
    }

    #[test]
    fn length_must_divide_a_day() {
        for ok in [1, 5, 60, 240, 1440] {
            assert!(EpochClock::new(ok).is_ok());
        }
        for bad in [0, 7, 250, 2880] {
            assert_eq!(EpochClock::new(bad), Err(EpochError::BadLength(bad)));
        }
        for ok in [10, 20, 30, 60, 86_400] {
            assert_eq!(EpochClock::from_seconds(ok).unwrap().length_seconds(), i64::from(ok));
        }
        for bad in [0, 5, 7, 11, 172_800] {
            assert_eq!(EpochClock::from_seconds(bad), Err(EpochError::BadLengthSeconds(bad)));
        }
        let clock = EpochClock::from_seconds(20).unwrap();
        assert_eq!(clock.epoch_at(1_759_334_419).to_string(), "2025-10-01T16-00-00");
        assert_eq!(clock.epoch_at(1_759_334_420).to_string(), "2025-10-01T16-00-20");
    }

    proptest! {
        #[test]
        fn round_trips(secs in 0i64..4_000_000_000) {
            let id = EpochId::from_start_unix(secs);
            prop_assert_eq!(id.to_string().parse::<EpochId>().unwrap(), id);
        }

        #[test]
        fn every_instant_is_inside_its_epoch(secs in 0i64..4_000_000_000, minutes in prop::sample::select(vec![5u32, 15, 60, 240, 480])) {
            let clock = EpochClock::new(minutes).unwrap();
            let id = clock.epoch_at(secs);
            prop_assert!(id.start_unix() <= secs && secs < clock.end(id));
            prop_assert!(clock.is_boundary(id));
        }
    }
}

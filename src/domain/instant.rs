//! Instants as the contract writes them: ISO 8601 UTC with milliseconds out, any RFC 3339 offset in.

use chrono::{DateTime, SecondsFormat, Utc};

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, the contract's timestamp format in responses.
pub fn iso8601_millis(unix_millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(unix_millis)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an inbound ISO 8601 instant (`Z` or an offset such as `+00:00`, with or without fractional seconds)
/// to Unix milliseconds. Leap seconds (`:60`) and instants before 1970 are refused: no real report carries them,
/// and storing them as given would make them sort and compare wrongly.
pub fn parse_iso8601(text: &str) -> Option<i64> {
    let parsed = DateTime::parse_from_rfc3339(text.trim()).ok()?.with_timezone(&Utc);
    let leap_second = parsed.timestamp_subsec_nanos() >= 1_000_000_000;
    let millis = parsed.timestamp_millis();
    (!leap_second && millis >= 0).then_some(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_timestamps() {
        assert_eq!(iso8601_millis(1_759_334_400_000), "2025-10-01T16:00:00.000Z");
        assert_eq!(iso8601_millis(1_759_334_400_123), "2025-10-01T16:00:00.123Z");
        for text in [
            "2025-10-01T16:00:00Z",
            "2025-10-01T16:00:00.000Z",
            "2025-10-01T16:00:00+00:00",
            "2025-10-01T16:00:00.000000+00:00",
        ] {
            assert_eq!(parse_iso8601(text), Some(1_759_334_400_000), "{text}");
        }
        assert_eq!(parse_iso8601("2025-10-01T16:00:00.123456Z"), Some(1_759_334_400_123));
        assert_eq!(parse_iso8601("yesterday"), None);
        for refused in ["2016-12-31T23:59:60Z", "0000-01-01T00:00:00Z", "1969-12-31T23:59:59Z"] {
            assert_eq!(parse_iso8601(refused), None, "{refused}");
        }
    }
}

//! Epistula v2, the Bittensor convention for signed HTTP requests, beside the legacy commitment signatures: the
//! headers, the signed message `{sha256(body) hex}.{uuid}.{timestamp}.{signed_for}` (the layout of the
//! macrocosm-os reference; a GET hashes the empty body), the timestamp window in milliseconds, and the client's
//! side of it (signing a request).
//!
//! Unlike a legacy signature, an Epistula signature covers the whole body and a single-use uuid, so a captured
//! request cannot carry another body and cannot be sent twice; the edges enforce the uuid's single use.

use sha2::{Digest, Sha256};

use crate::domain::access::auth::{parse_timestamp, HotkeySignature};
use crate::domain::access::keys::Keypair;
use crate::domain::hotkey::Hotkey;

/// The version this service speaks.
pub const VERSION: &str = "2";

/// The header names, as the reference sends them (HTTP header names compare case-insensitively).
pub mod header {
    pub const VERSION: &str = "Epistula-Version";
    pub const TIMESTAMP: &str = "Epistula-Timestamp";
    pub const UUID: &str = "Epistula-Uuid";
    pub const SIGNED_BY: &str = "Epistula-Signed-By";
    pub const SIGNED_FOR: &str = "Epistula-Signed-For";
    pub const SIGNATURE: &str = "Epistula-Request-Signature";
}

/// Why a request's Epistula headers cannot be read (a 400: the client is broken, not an impostor).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpistulaError {
    #[error("{0} is required on an Epistula-signed request")]
    Missing(&'static str),
    #[error("Unsupported Epistula-Version: this service speaks version 2")]
    UnsupportedVersion,
    #[error("Invalid Epistula-Timestamp: expected Unix milliseconds as decimal digits")]
    MalformedTimestamp,
    #[error("Invalid Epistula-Uuid: expected a UUID (8-4-4-4-12 hex digits)")]
    MalformedUuid,
    #[error("Invalid Epistula-Signed-By: expected an SS58 address")]
    MalformedSignedBy,
    #[error("Invalid Epistula-Request-Signature: expected 0x and 64 bytes as hex")]
    MalformedSignature,
}

/// A request uuid as the client sent it (the signed message repeats it byte for byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUuid(String);

impl RequestUuid {
    pub fn parse(text: &str) -> Option<Self> {
        let groups: Vec<&str> = text.split('-').collect();
        let shaped = groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
        shaped.then(|| RequestUuid(text.to_string()))
    }

    /// A random (version 4) uuid from 16 random bytes.
    pub fn from_random(mut bytes: [u8; 16]) -> Self {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex = hex::encode(bytes);
        RequestUuid(format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form a uuid is remembered under: the same uuid in another letter case is the same uuid.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// An Epistula-signed request's headers, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpistulaHeaders {
    pub timestamp_ms: i64,
    pub uuid: RequestUuid,
    pub signed_by: Hotkey,
    /// Whom the request is for, as sent (empty when the header is absent).
    pub signed_for: String,
    pub signature: HotkeySignature,
}

impl EpistulaHeaders {
    /// Reads the headers through `get` (a header's value by name). `None` when the request carries no
    /// `Epistula-Version`: it is not an Epistula request.
    pub fn parse<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Option<Result<Self, EpistulaError>> {
        let version = get(header::VERSION)?;
        Some(Self::parse_v2(version, get))
    }

    fn parse_v2<'a>(version: &str, get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, EpistulaError> {
        if version.trim() != VERSION {
            return Err(EpistulaError::UnsupportedVersion);
        }
        let required = |name: &'static str| get(name).map(str::trim).ok_or(EpistulaError::Missing(name));
        let timestamp_ms = parse_timestamp(required(header::TIMESTAMP)?).ok_or(EpistulaError::MalformedTimestamp)?;
        let uuid = RequestUuid::parse(required(header::UUID)?).ok_or(EpistulaError::MalformedUuid)?;
        let signed_by = required(header::SIGNED_BY)?.parse().map_err(|_| EpistulaError::MalformedSignedBy)?;
        let signature = required(header::SIGNATURE)?;
        let signature = signature
            .strip_prefix("0x")
            .filter(|hex| hex.len() == 128)
            .and_then(|hex| hex.parse().ok())
            .ok_or(EpistulaError::MalformedSignature)?;
        let signed_for = get(header::SIGNED_FOR).map(str::trim).unwrap_or_default().to_string();
        Ok(EpistulaHeaders { timestamp_ms, uuid, signed_by, signed_for, signature })
    }

    /// The message the signature covers, for a request with `body`.
    pub fn message(&self, body: &[u8]) -> String {
        signed_message(body, &self.uuid, self.timestamp_ms, &self.signed_for)
    }

    /// Whether the signature is `signed_by`'s over the message for `body` (raw or `<Bytes>`-wrapped).
    pub fn verify(&self, body: &[u8]) -> bool {
        crate::domain::access::auth::verify_hotkey_signature(
            &self.signed_by,
            self.message(body).as_bytes(),
            &self.signature,
        )
    }

    /// Signs a request with `body` for `signed_for` at `timestamp_ms` under `uuid`: the client's side.
    pub fn sign(key: &Keypair, body: &[u8], signed_for: &str, timestamp_ms: i64, uuid: RequestUuid) -> Self {
        let message = signed_message(body, &uuid, timestamp_ms, signed_for);
        EpistulaHeaders {
            timestamp_ms,
            signature: key.sign(message.as_bytes()),
            uuid,
            signed_by: key.hotkey(),
            signed_for: signed_for.to_string(),
        }
    }

    /// The headers to send, names and values.
    pub fn to_headers(&self) -> [(&'static str, String); 6] {
        [
            (header::VERSION, VERSION.to_string()),
            (header::TIMESTAMP, self.timestamp_ms.to_string()),
            (header::UUID, self.uuid.as_str().to_string()),
            (header::SIGNED_BY, self.signed_by.to_string()),
            (header::SIGNED_FOR, self.signed_for.clone()),
            (header::SIGNATURE, format!("0x{}", self.signature.to_hex())),
        ]
    }
}

/// `{sha256(body) hex}.{uuid}.{timestamp}.{signed_for}`.
/// What a GET signs in place of its empty body to bind its method and path: `GET {path}` (the path as sent,
/// without the query). An addition to the convention, whose empty body stays accepted: a captured empty-body GET
/// signature can be spent once at any GET endpoint, a bound one only at its own.
pub fn get_target(path: &str) -> Vec<u8> {
    format!("GET {path}").into_bytes()
}

pub fn signed_message(body: &[u8], uuid: &RequestUuid, timestamp_ms: i64, signed_for: &str) -> String {
    format!("{}.{}.{timestamp_ms}.{signed_for}", hex::encode(Sha256::digest(body)), uuid.as_str())
}

/// How far an Epistula timestamp may lie behind and ahead of the server's clock, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpistulaWindow {
    pub max_age_ms: i64,
    pub max_ahead_ms: i64,
}

impl EpistulaWindow {
    /// The reference's 8 s of age, and 2 s of clock skew ahead.
    pub const DEFAULT: EpistulaWindow = EpistulaWindow { max_age_ms: 8_000, max_ahead_ms: 2_000 };

    pub fn accepts(self, timestamp_ms: i64, now_ms: i64) -> bool {
        now_ms.saturating_sub(self.max_age_ms) <= timestamp_ms
            && timestamp_ms <= now_ms.saturating_add(self.max_ahead_ms)
    }

    /// Before this instant no timestamp is accepted any more: a uuid remembered from then can be forgotten.
    pub fn oldest_accepted_ms(self, now_ms: i64) -> i64 {
        now_ms.saturating_sub(self.max_age_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SERVICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

    fn lookup<'h>(headers: &'h HashMap<&'static str, String>) -> impl Fn(&str) -> Option<&'h str> + 'h {
        move |name| headers.get(name).map(String::as_str)
    }

    fn signed(body: &[u8]) -> HashMap<&'static str, String> {
        let key = Keypair::from_uri("//Charlie").unwrap();
        let uuid = RequestUuid::from_random([7; 16]);
        EpistulaHeaders::sign(&key, body, SERVICE, 1_759_334_400_123, uuid).to_headers().into_iter().collect()
    }

    #[test]
    fn a_signed_request_verifies_for_its_own_body_only() {
        let headers = signed(br#"{"a":1}"#);
        let parsed = EpistulaHeaders::parse(lookup(&headers)).unwrap().unwrap();
        assert!(parsed.verify(br#"{"a":1}"#));
        assert!(!parsed.verify(br#"{"a":2}"#));
        assert!(!parsed.verify(b""));
        assert_eq!(parsed.signed_for, SERVICE);
        assert_eq!(parsed.timestamp_ms, 1_759_334_400_123);
    }

    #[test]
    fn the_message_follows_the_reference_layout() {
        let uuid = RequestUuid::parse("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9").unwrap();
        assert_eq!(
            signed_message(b"", &uuid, 1_700_000_000_000, SERVICE),
            format!(
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.{}.1700000000000.{SERVICE}",
                uuid.as_str()
            )
        );
    }

    #[test]
    fn a_request_without_the_version_header_is_not_epistula() {
        let mut headers = signed(b"");
        headers.remove(header::VERSION);
        assert!(EpistulaHeaders::parse(lookup(&headers)).is_none());
    }

    #[test]
    fn each_malformed_header_is_named() {
        let cases: [(&'static str, Option<&str>, EpistulaError); 9] = [
            (header::VERSION, Some("1"), EpistulaError::UnsupportedVersion),
            (header::TIMESTAMP, None, EpistulaError::Missing(header::TIMESTAMP)),
            (header::TIMESTAMP, Some("+1759334400123"), EpistulaError::MalformedTimestamp),
            (header::TIMESTAMP, Some("01759334400123"), EpistulaError::MalformedTimestamp),
            (header::UUID, Some("not-a-uuid"), EpistulaError::MalformedUuid),
            (header::UUID, None, EpistulaError::Missing(header::UUID)),
            (header::SIGNED_BY, Some("5abc"), EpistulaError::MalformedSignedBy),
            (header::SIGNATURE, Some(&"ab".repeat(64)), EpistulaError::MalformedSignature),
            (header::SIGNATURE, Some("0x1234"), EpistulaError::MalformedSignature),
        ];
        for (name, value, expected) in cases {
            let mut headers = signed(b"");
            match value {
                Some(value) => headers.insert(name, value.to_string()),
                None => headers.remove(name),
            };
            assert_eq!(EpistulaHeaders::parse(lookup(&headers)).unwrap(), Err(expected), "{name} = {value:?}");
        }
    }

    #[test]
    fn random_uuids_are_version_4_and_parse() {
        let uuid = RequestUuid::from_random([0xff; 16]);
        assert_eq!(uuid.as_str(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(RequestUuid::parse(uuid.as_str()), Some(uuid.clone()));
        assert_eq!(RequestUuid::parse("FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF").unwrap().key(), uuid.key());
        assert!(RequestUuid::parse("ffffffff-ffff-4fff-bfff-fffffffffff").is_none());
        assert!(RequestUuid::parse("ffffffffffff4fffbfffffffffffffff").is_none());
    }

    #[test]
    fn the_window_runs_from_eight_seconds_before_to_two_after() {
        let window = EpistulaWindow::DEFAULT;
        let now = 1_759_334_400_000;
        assert!(window.accepts(now - 8_000, now));
        assert!(!window.accepts(now - 8_001, now));
        assert!(window.accepts(now + 2_000, now));
        assert!(!window.accepts(now + 2_001, now));
        assert_eq!(window.oldest_accepted_ms(now), now - 8_000);
    }
}

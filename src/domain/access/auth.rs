//! Who is calling: hotkey signatures over the commitment strings of [`crate::domain::access::endpoint`], the
//! timestamp windows, and the roles the metagraph grants.
//!
//! Verification follows the subnet's Python clients: sr25519 (Schnorrkel, context `substrate`) over the UTF-8
//! commitment, and, when that fails, over the polkadot-js `<Bytes>…</Bytes>` wrapping that `Keypair.verify`
//! also accepts.

use std::str::FromStr;

use crate::domain::hotkey::Hotkey;

const SIGNING_CONTEXT: &[u8] = b"substrate";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("invalid signature encoding: expected 64 bytes as 128 hex characters, optionally prefixed with 0x")]
    MalformedSignature,
}

/// A 64-byte sr25519 signature as sent: hex, with or without `0x`, any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HotkeySignature([u8; 64]);

impl HotkeySignature {
    pub fn from_bytes(bytes: [u8; 64]) -> Self {
        HotkeySignature(bytes)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }
}

impl FromStr for HotkeySignature {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
        if text.len() != 128 {
            return Err(AuthError::MalformedSignature);
        }
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| AuthError::MalformedSignature)?;
        Ok(HotkeySignature(bytes))
    }
}

/// Whether `signature` is the hotkey's signature over `message`, raw or `<Bytes>`-wrapped.
pub fn verify_hotkey_signature(hotkey: &Hotkey, message: &[u8], signature: &HotkeySignature) -> bool {
    let Ok(public) = schnorrkel::PublicKey::from_bytes(hotkey.public_bytes()) else {
        return false;
    };
    let Ok(signature) = schnorrkel::Signature::from_bytes(&signature.0) else {
        return false;
    };
    if public.verify_simple(SIGNING_CONTEXT, message, &signature).is_ok() {
        return true;
    }
    let mut wrapped = Vec::with_capacity(message.len() + 15);
    wrapped.extend_from_slice(b"<Bytes>");
    wrapped.extend_from_slice(message);
    wrapped.extend_from_slice(b"</Bytes>");
    public.verify_simple(SIGNING_CONTEXT, &wrapped, &signature).is_ok()
}

/// Parses a signed timestamp as sent in text (a query string, a header): canonical decimal digits only (no sign,
/// spaces or leading zeros), so that one instant has one spelling.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let canonical = !text.is_empty()
        && text.len() <= 18
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// How far a signed timestamp may lie behind and ahead of the server's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampWindow {
    pub max_age_seconds: i64,
    pub max_ahead_seconds: i64,
}

impl TimestampWindow {
    /// Zipcode endpoints: `now-300 <= timestamp <= now+300`.
    pub const ZIPCODE: TimestampWindow = TimestampWindow { max_age_seconds: 300, max_ahead_seconds: 300 };
    /// S3 endpoints: `now-300 <= timestamp <= now+60`.
    pub const S3: TimestampWindow = TimestampWindow { max_age_seconds: 300, max_ahead_seconds: 60 };

    pub fn accepts(self, timestamp: i64, now_unix: i64) -> bool {
        now_unix.saturating_sub(self.max_age_seconds) <= timestamp
            && timestamp <= now_unix.saturating_add(self.max_ahead_seconds)
    }
}

/// What a registered hotkey may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Miner,
    Validator,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_canonical_decimal_digits() {
        assert_eq!(parse_timestamp("1759338000"), Some(1_759_338_000));
        assert_eq!(parse_timestamp("0"), Some(0));
        for refused in ["", " 123", "123 ", "+123", "-123", "0123", "12a", "1e9", &"9".repeat(19)] {
            assert_eq!(parse_timestamp(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn signatures_accept_hex_with_or_without_prefix() {
        let hex = "ab".repeat(64);
        let plain: HotkeySignature = hex.parse().unwrap();
        assert_eq!(format!("0x{hex}").parse::<HotkeySignature>().unwrap(), plain);
        assert_eq!(hex.to_uppercase().parse::<HotkeySignature>().unwrap(), plain);
        for bad in ["", "0x", &"ab".repeat(63), &"zz".repeat(64), &"ab".repeat(65)] {
            assert!(bad.parse::<HotkeySignature>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timestamp_windows() {
        let now = 1_000_000;
        assert!(TimestampWindow::ZIPCODE.accepts(now - 300, now));
        assert!(TimestampWindow::ZIPCODE.accepts(now + 300, now));
        assert!(!TimestampWindow::ZIPCODE.accepts(now - 301, now));
        assert!(!TimestampWindow::ZIPCODE.accepts(now + 301, now));
        assert!(TimestampWindow::S3.accepts(now + 60, now));
        assert!(!TimestampWindow::S3.accepts(now + 61, now));
        assert!(!TimestampWindow::S3.accepts(i64::MIN, now));
        assert!(!TimestampWindow::S3.accepts(i64::MAX, now));
    }
}

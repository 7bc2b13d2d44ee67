//! The server secret and what it derives per epoch: the selection seed and the public nonce.
//!
//! `seed(N) = HMAC-SHA256(secret, "seed:" + N)` and `nonce(N)` = the first 8 bytes of
//! `HMAC-SHA256(secret, "nonce:" + N)` as 16 lowercase hex characters, with `N` the wire epoch id. Without the
//! secret neither can be predicted, which is what keeps assignments from leaking before an epoch starts.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::epoch::proof::{Nonce, Seed};
use crate::domain::epoch::EpochId;

pub const MIN_SECRET_BYTES: usize = 32;

/// The server secret. Its `Debug` and `Display` never show the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerSecret(Vec<u8>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the server secret must be hex-encoded")]
    NotHex,
    #[error("the server secret must be at least {MIN_SECRET_BYTES} bytes ({hex} hex characters), got {0} bytes", hex = MIN_SECRET_BYTES * 2)]
    TooShort(usize),
}

impl ServerSecret {
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, SecretError> {
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(SecretError::TooShort(bytes.len()));
        }
        Ok(ServerSecret(bytes))
    }

    pub fn from_hex(hex_text: &str) -> Result<Self, SecretError> {
        let text = hex_text.trim();
        let text = text.strip_prefix("0x").unwrap_or(text);
        Self::from_bytes(hex::decode(text).map_err(|_| SecretError::NotHex)?)
    }

    /// The hex form, for storing a generated secret. Not for logs.
    pub fn expose_hex(&self) -> String {
        hex::encode(&self.0)
    }

    fn mac(&self, label: &str, epoch: EpochId) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(label.as_bytes());
        mac.update(epoch.to_string().as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The selection seed of an epoch.
    pub fn epoch_seed(&self, epoch: EpochId) -> Seed {
        Seed::from_bytes(self.mac("seed:", epoch))
    }

    /// The nonce of an epoch.
    pub fn epoch_nonce(&self, epoch: EpochId) -> Nonce {
        Nonce::from_hash(&self.mac("nonce:", epoch))
    }
}

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> ServerSecret {
        ServerSecret::from_hex(&"11".repeat(32)).unwrap()
    }

    #[test]
    fn nonce_matches_the_documented_derivation() {
        let epoch: EpochId = "2025-10-01T16-00-00".parse().unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(&[0x11; 32]).unwrap();
        mac.update(b"nonce:2025-10-01T16-00-00");
        let expected = hex::encode(&mac.finalize().into_bytes()[..8]);
        let nonce = secret().epoch_nonce(epoch).to_string();
        assert_eq!(nonce, expected);
        assert_eq!(nonce.len(), 16);
        assert!(nonce.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    #[test]
    fn seeds_and_nonces_differ_per_epoch_and_secret() {
        let a: EpochId = "2025-10-01T16-00-00".parse().unwrap();
        let b: EpochId = "2025-10-01T20-00-00".parse().unwrap();
        let other = ServerSecret::from_hex(&"22".repeat(32)).unwrap();
        assert_ne!(secret().epoch_nonce(a), secret().epoch_nonce(b));
        assert_ne!(secret().epoch_nonce(a), other.epoch_nonce(a));
        assert_ne!(secret().epoch_seed(a), secret().epoch_seed(b));
        assert_eq!(secret().epoch_seed(a), secret().epoch_seed(a));
    }

    #[test]
    fn rejects_weak_secrets_and_never_prints_them() {
        assert_eq!(ServerSecret::from_hex("abcd"), Err(SecretError::TooShort(2)));
        assert_eq!(ServerSecret::from_hex("zz"), Err(SecretError::NotHex));
        assert!(!format!("{:?}", secret()).contains("1111"));
    }
}

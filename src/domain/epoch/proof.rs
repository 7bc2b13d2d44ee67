//! How an epoch's randomness becomes its seed and nonce, and the proof published with the epoch so anyone can
//! recompute both: the beacon's pulse, its randomness, and the hash of the inputs the selection read.
//!
//! `seed = sha256("zipcoord/selection/v2" || randomness || epochId)` and `nonce` = the first 8 bytes of
//! `sha256("zipcoord/nonce/v1" || randomness || epochId)` as 16 lowercase hex characters, with `randomness` the
//! pulse's 32 bytes and `epochId` the wire id's ASCII bytes. An epoch whose pulse could not be had within the
//! grace period is seeded from the server secret instead and its proof says so (`fallback`).

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::domain::epoch::beacon::{Pulse, Randomness, Round};
use crate::domain::epoch::EpochId;

/// An epoch's selection seed: 32 bytes, published as 64 lowercase hex characters once the epoch has started.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Seed([u8; 32]);

/// An epoch's nonce: 8 bytes, written as 16 lowercase hex characters wherever it travels (assignments, status
/// reports, uploaded files).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce([u8; 8]);

/// Text that is not the hex form of a seed, a nonce or a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be {chars} lowercase hex characters")]
pub struct MalformedHex {
    pub what: &'static str,
    pub chars: usize,
}

/// `N` bytes from exactly `2 × N` lowercase hex characters (the only form zipcoord writes, so the only one read).
pub fn parse_hex<const N: usize>(text: &str, what: &'static str) -> Result<[u8; N], MalformedHex> {
    let malformed = MalformedHex { what, chars: 2 * N };
    if text.len() != 2 * N || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(malformed);
    }
    let mut bytes = [0u8; N];
    hex::decode_to_slice(text, &mut bytes).map_err(|_| malformed)?;
    Ok(bytes)
}

impl Seed {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Seed(bytes)
    }

    pub fn bytes(self) -> [u8; 32] {
        self.0
    }
}

impl Nonce {
    /// The first 8 bytes of `hash`: how every nonce is derived, from the beacon or from the server secret.
    pub fn from_hash(hash: &[u8; 32]) -> Self {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&hash[..8]);
        Nonce(bytes)
    }
}

impl FromStr for Seed {
    type Err = MalformedHex;
    fn from_str(text: &str) -> Result<Self, MalformedHex> {
        parse_hex(text, "a selection seed").map(Seed)
    }
}

impl FromStr for Nonce {
    type Err = MalformedHex;
    fn from_str(text: &str) -> Result<Self, MalformedHex> {
        parse_hex(text, "a nonce").map(Nonce)
    }
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Display for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seed({self})")
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({self})")
    }
}

/// How an epoch was seeded, as its proof names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedKind {
    /// By a verified pulse of the beacon: recomputable by anyone.
    Beacon,
    /// By the server secret: not recomputable.
    Fallback,
}

impl SeedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SeedKind::Beacon => "beacon",
            SeedKind::Fallback => "fallback",
        }
    }
}

impl fmt::Display for SeedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A proof kind this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown proof kind {0:?} (beacon or fallback)")]
pub struct UnknownSeedKind(pub String);

impl FromStr for SeedKind {
    type Err = UnknownSeedKind;
    fn from_str(text: &str) -> Result<Self, UnknownSeedKind> {
        match text {
            "beacon" => Ok(SeedKind::Beacon),
            "fallback" => Ok(SeedKind::Fallback),
            other => Err(UnknownSeedKind(other.to_string())),
        }
    }
}

const SEED_LABEL: &[u8] = b"zipcoord/selection/v2";
const NONCE_LABEL: &[u8] = b"zipcoord/nonce/v1";

fn labelled(label: &[u8], randomness: &Randomness, epoch: EpochId) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(label);
    hash.update(randomness.as_bytes());
    hash.update(epoch.to_string().as_bytes());
    hash.finalize().into()
}

/// The selection seed of `epoch` from its round's randomness.
pub fn beacon_seed(randomness: &Randomness, epoch: EpochId) -> Seed {
    Seed(labelled(SEED_LABEL, randomness, epoch))
}

/// The nonce of `epoch` from its round's randomness.
pub fn beacon_nonce(randomness: &Randomness, epoch: EpochId) -> Nonce {
    Nonce::from_hash(&labelled(NONCE_LABEL, randomness, epoch))
}

/// Where an epoch's seed came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedSource {
    /// A verified pulse of the beacon chain.
    Beacon { pulse: Pulse, randomness: Randomness },
    /// The server secret, because no verifiable pulse arrived within the grace period; `reason` says why.
    Fallback { reason: String },
}

/// What is published with an epoch so that its selection can be recomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochProof {
    pub source: SeedSource,
    /// The beacon chain named in the inputs and the round that was to seed the epoch.
    pub chain_name: String,
    pub chain_hash: [u8; 32],
    pub round: Round,
    pub inputs_hash: String,
    /// When the inputs were published (Unix milliseconds): before the round's time, they could not have been
    /// chosen knowing its randomness.
    pub inputs_published_at_ms: i64,
    pub algorithm_version: String,
}

impl EpochProof {
    pub fn kind(&self) -> SeedKind {
        match self.source {
            SeedSource::Beacon { .. } => SeedKind::Beacon,
            SeedSource::Fallback { .. } => SeedKind::Fallback,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::epoch::beacon::DevBeacon;

    #[test]
    fn seed_and_nonce_follow_the_documented_layout() {
        let beacon = DevBeacon::new();
        let randomness = beacon.chain().verify(&beacon.pulse(1_000)).unwrap();
        let epoch: EpochId = "2025-12-01T04-00-00".parse().unwrap();
        let mut expected = Sha256::new();
        expected.update(b"zipcoord/nonce/v1");
        expected.update(randomness.as_bytes());
        expected.update(b"2025-12-01T04-00-00");
        assert_eq!(beacon_nonce(&randomness, epoch).to_string(), hex::encode(&expected.finalize()[..8]));
        let mut expected = Sha256::new();
        expected.update(b"zipcoord/selection/v2");
        expected.update(randomness.as_bytes());
        expected.update(b"2025-12-01T04-00-00");
        assert_eq!(beacon_seed(&randomness, epoch).bytes(), <[u8; 32]>::from(expected.finalize()));
        let next = EpochId::from_start_unix(epoch.start_unix() + 14_400);
        assert_ne!(beacon_nonce(&randomness, epoch), beacon_nonce(&randomness, next));
        assert_eq!(beacon_nonce(&randomness, epoch).to_string().len(), 16);
    }

    #[test]
    fn seeds_nonces_and_kinds_read_only_the_form_they_are_written_in() {
        let nonce: Nonce = "9f2c4b7a1e3d5f60".parse().unwrap();
        assert_eq!(nonce.to_string(), "9f2c4b7a1e3d5f60");
        for bad in
            ["", "9f2c4b7a1e3d5f6", "9f2c4b7a1e3d5f600", "9F2C4B7A1E3D5F60", "9f2c4b7a1e3d5f6g", "0x2c4b7a1e3d5f60"]
        {
            assert!(bad.parse::<Nonce>().is_err(), "{bad:?}");
        }
        let seed: Seed = "ab".repeat(32).parse().unwrap();
        assert_eq!((seed.bytes(), seed.to_string()), ([0xab; 32], "ab".repeat(32)));
        assert_eq!("ab".repeat(31).parse::<Seed>(), Err(MalformedHex { what: "a selection seed", chars: 64 }));
        assert_eq!(
            "00".repeat(33).parse::<Seed>().unwrap_err().to_string(),
            "a selection seed must be 64 lowercase hex characters"
        );
        for kind in [SeedKind::Beacon, SeedKind::Fallback] {
            assert_eq!(kind.as_str().parse::<SeedKind>(), Ok(kind));
        }
        assert_eq!("Beacon".parse::<SeedKind>(), Err(UnknownSeedKind("Beacon".into())));
    }
}

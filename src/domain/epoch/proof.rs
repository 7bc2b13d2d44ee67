//! How an epoch's randomness becomes its seed and nonce, and the proof published with the epoch so anyone can
//! recompute both: the beacon's pulse, its randomness, and the hash of the inputs the selection read.
//!
//! `seed = sha256("zipcoord/selection/v2" || randomness || epochId)` and `nonce` = the first 8 bytes of
//! `sha256("zipcoord/nonce/v1" || randomness || epochId)` as 16 lowercase hex characters, with `randomness` the
//! pulse's 32 bytes and `epochId` the wire id's ASCII bytes. An epoch whose pulse could not be had within the
//! grace period is seeded from the server secret instead and its proof says so (`fallback`).

use sha2::{Digest, Sha256};

use crate::domain::epoch::beacon::{Pulse, Randomness, Round};
use crate::domain::epoch::EpochId;

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
pub fn beacon_seed(randomness: &Randomness, epoch: EpochId) -> [u8; 32] {
    labelled(SEED_LABEL, randomness, epoch)
}

/// The nonce of `epoch` from its round's randomness: 16 lowercase hex characters.
pub fn beacon_nonce(randomness: &Randomness, epoch: EpochId) -> String {
    hex::encode(&labelled(NONCE_LABEL, randomness, epoch)[..8])
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
    pub fn kind(&self) -> &'static str {
        match self.source {
            SeedSource::Beacon { .. } => "beacon",
            SeedSource::Fallback { .. } => "fallback",
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
        assert_eq!(beacon_nonce(&randomness, epoch), hex::encode(&expected.finalize()[..8]));
        let mut expected = Sha256::new();
        expected.update(b"zipcoord/selection/v2");
        expected.update(randomness.as_bytes());
        expected.update(b"2025-12-01T04-00-00");
        assert_eq!(beacon_seed(&randomness, epoch), <[u8; 32]>::from(expected.finalize()));
        let next = EpochId::from_start_unix(epoch.start_unix() + 14_400);
        assert_ne!(beacon_nonce(&randomness, epoch), beacon_nonce(&randomness, next));
        assert_eq!(beacon_nonce(&randomness, epoch).len(), 16);
    }
}

//! The public randomness epochs are seeded from: drand chains, which round falls at a moment, and a pulse's
//! verification against its chain's key before its randomness is used.
//!
//! drand's quicknet (the chain the Bittensor chain bridges) signs `sha256(round as u64 big-endian)` with BLS
//! over BLS12-381, signatures on G1 (48 bytes compressed), the public key on G2 (96 bytes), hashing to the
//! curve per RFC 9380 under [`QUICKNET_DST`]; a pulse's randomness is `sha256(signature)`. The curve arithmetic
//! is blst's. Fetching pulses belongs to the beacon sources at the edge; everything here is pure.

use std::fmt;

use sha2::{Digest, Sha256};

/// The domain separation tag of quicknet's scheme (`bls-unchained-g1-rfc9380`).
pub const QUICKNET_DST: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";

/// A drand round number; round 1 is emitted at the chain's genesis.
pub type Round = u64;

/// A drand chain: who signs (its public key), and when each round is emitted.
#[derive(Clone, PartialEq, Eq)]
pub struct BeaconChain {
    /// The chain hash relays serve it under (`/{hash}/public/{round}`).
    pub hash: [u8; 32],
    /// The group's public key on G2, compressed.
    pub public_key: [u8; 96],
    pub genesis_unix: i64,
    pub period_seconds: i64,
    /// How the chain names itself in proofs: `quicknet`, `zipcoord-dev`.
    pub name: &'static str,
}

impl fmt::Debug for BeaconChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BeaconChain({} {})", self.name, hex::encode(self.hash))
    }
}

/// drand's quicknet, as its `/info` publishes it.
pub const QUICKNET: BeaconChain = BeaconChain {
    hash: hex_32("52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"),
    public_key: hex_96(
        "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c\
         921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a",
    ),
    genesis_unix: 1_692_803_367,
    period_seconds: 3,
    name: "quicknet",
};

impl BeaconChain {
    /// The first round emitted at or after `unix` (round 1 before genesis). Every UTC 4-hour boundary falls
    /// exactly on a quicknet round; a moment between two rounds takes the later one, never a round that existed
    /// before the moment.
    pub fn round_at(&self, unix: i64) -> Round {
        let since = unix.saturating_sub(self.genesis_unix);
        if since <= 0 {
            return 1;
        }
        let period = self.period_seconds.max(1);
        (since.div_euclid(period) + i64::from(since.rem_euclid(period) != 0) + 1) as Round
    }

    /// When `round` is emitted (Unix seconds).
    pub fn round_time(&self, round: Round) -> i64 {
        let after = i64::try_from(round.saturating_sub(1)).unwrap_or(i64::MAX);
        self.genesis_unix.saturating_add(after.saturating_mul(self.period_seconds))
    }

    /// Checks that `pulse` is this chain's signature of its round; only then is its randomness usable.
    pub fn verify(&self, pulse: &Pulse) -> Result<Randomness, BeaconError> {
        use blst::min_sig::{PublicKey, Signature};
        use blst::BLST_ERROR;
        let key = PublicKey::key_validate(&self.public_key).map_err(|e| BeaconError::BadPublicKey(format!("{e:?}")))?;
        let signature = Signature::sig_validate(&pulse.signature, true)
            .map_err(|e| BeaconError::BadSignature { round: pulse.round, reason: format!("{e:?}") })?;
        match signature.verify(false, &round_message(pulse.round), QUICKNET_DST, &[], &key, false) {
            BLST_ERROR::BLST_SUCCESS => Ok(pulse.randomness()),
            other => Err(BeaconError::BadSignature {
                round: pulse.round,
                reason: format!("not {}'s signature of the round ({other:?})", self.name),
            }),
        }
    }
}

/// What the chain signs for `round`: `sha256(round as u64 big-endian)`.
pub fn round_message(round: Round) -> [u8; 32] {
    Sha256::digest(round.to_be_bytes()).into()
}

/// One round's signature, as relays serve it (`{"round": …, "signature": "<96 hex>"}`); not yet verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pulse {
    pub round: Round,
    pub signature: [u8; 48],
}

impl Pulse {
    /// Parses a round and a hex signature (a relay's answer, or a stored proof).
    pub fn from_hex(round: Round, signature_hex: &str) -> Result<Pulse, BeaconError> {
        let bytes = hex::decode(signature_hex.trim())
            .map_err(|_| BeaconError::Malformed(format!("round {round}: the signature is not hex")))?;
        let signature: [u8; 48] = bytes.try_into().map_err(|b: Vec<u8>| {
            BeaconError::Malformed(format!("round {round}: the signature has {} bytes, not 48", b.len()))
        })?;
        Ok(Pulse { round, signature })
    }

    pub fn signature_hex(&self) -> String {
        hex::encode(self.signature)
    }

    /// `sha256(signature)`: meaningful only once the pulse is verified.
    fn randomness(&self) -> Randomness {
        Randomness(Sha256::digest(self.signature).into())
    }
}

/// A verified pulse's randomness. Made only by [`BeaconChain::verify`], so holding one means the chain signed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Randomness([u8; 32]);

impl Randomness {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeaconError {
    #[error("malformed pulse: {0}")]
    Malformed(String),
    #[error("the beacon's public key is not a valid G2 point: {0}")]
    BadPublicKey(String),
    #[error("the pulse of round {round} does not verify: {reason}")]
    BadSignature { round: Round, reason: String },
}

/// A beacon everyone can sign for, for development and tests: its secret key derives from a published phrase,
/// so its pulses prove nothing about unpredictability, but they are verified exactly like quicknet's (same
/// scheme, same rounds), and the two-command start needs no network.
pub struct DevBeacon {
    secret: blst::min_sig::SecretKey,
    chain: BeaconChain,
}

/// The phrase the dev beacon's key derives from: `KeyGen(IKM = sha256(phrase), key_info = "")` of the IETF BLS
/// signature draft (draft-irtf-cfrg-bls-signature-05 §2.3, as blst's `key_gen` implements it). Its public key and
/// chain hash are published in `docs/beacon-epochs.md` and at the local relay's `/info`.
pub const DEV_BEACON_PHRASE: &str = "zipcoord dev beacon: known to everyone, unpredictable to no one";

impl DevBeacon {
    pub fn new() -> DevBeacon {
        let ikm: [u8; 32] = Sha256::digest(DEV_BEACON_PHRASE.as_bytes()).into();
        let secret = blst::min_sig::SecretKey::key_gen(&ikm, &[]).expect("32 bytes of key material suffice");
        let public_key = secret.sk_to_pk().compress();
        let mut hash = Sha256::new();
        hash.update(b"zipcoord-dev-beacon");
        hash.update(public_key);
        let chain = BeaconChain {
            hash: hash.finalize().into(),
            public_key,
            genesis_unix: QUICKNET.genesis_unix,
            period_seconds: QUICKNET.period_seconds,
            name: "zipcoord-dev",
        };
        DevBeacon { secret, chain }
    }

    pub fn chain(&self) -> &BeaconChain {
        &self.chain
    }

    /// The dev chain's pulse for `round`.
    pub fn pulse(&self, round: Round) -> Pulse {
        let signature = self.secret.sign(&round_message(round), QUICKNET_DST, &[]).compress();
        Pulse { round, signature }
    }
}

/// The chain whose hash is `hash`, among those zipcoord knows: quicknet and the dev beacon's.
pub fn known_chain(hash: &[u8; 32]) -> Option<BeaconChain> {
    if *hash == QUICKNET.hash {
        return Some(QUICKNET);
    }
    let dev = DevBeacon::new();
    (dev.chain.hash == *hash).then_some(dev.chain)
}

impl Default for DevBeacon {
    fn default() -> Self {
        DevBeacon::new()
    }
}

const fn hex_nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("not a lowercase hex digit"),
    }
}

const fn hex_bytes<const N: usize>(text: &str) -> [u8; N] {
    let text = text.as_bytes();
    assert!(text.len() == 2 * N, "wrong length");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = hex_nibble(text[2 * i]) << 4 | hex_nibble(text[2 * i + 1]);
        i += 1;
    }
    out
}

const fn hex_32(text: &str) -> [u8; 32] {
    hex_bytes::<32>(text)
}

const fn hex_96(text: &str) -> [u8; 96] {
    hex_bytes::<96>(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dev beacon's key and chain hash as `docs/beacon-epochs.md` publishes them.
    #[test]
    fn the_dev_beacon_is_the_published_one() {
        const PUBLIC_KEY: &str = "9885a73db518d448b85177b1a6768af96c2dcf8c7a6d506cc1073a323d2f602157ecfc4cf3f500e68a5f29f3b\
                                  01e7fd313738dbac66d7c276491e16d4b8e9412cf00839a55551c8dfd5a3ee2f7e682a3bb212c3029047811d4\
                                  28e2fcff418a1f";
        const CHAIN_HASH: &str = "54ed91e6f8289bcaecd6023543b39a7f56f30ff32b63e13a3f3faa65bd90ac2a";
        let dev = DevBeacon::new();
        assert_eq!(hex::encode(dev.chain().public_key), PUBLIC_KEY);
        assert_eq!(hex::encode(dev.chain().hash), CHAIN_HASH);
        let document = include_str!("../../../docs/beacon-epochs.md");
        assert!(document.contains(CHAIN_HASH) && document.contains(PUBLIC_KEY));
        assert!(document.contains(DEV_BEACON_PHRASE), "the phrase is published");
    }

    #[test]
    fn real_quicknet_pulses_verify_and_altered_ones_do_not() {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/vectors/drand-quicknet.json")).unwrap();
        let chain = &vectors["chain"];
        assert_eq!(hex::encode(QUICKNET.hash), chain["hash"].as_str().unwrap());
        assert_eq!(hex::encode(QUICKNET.public_key), chain["public_key"].as_str().unwrap());
        assert_eq!(QUICKNET.genesis_unix, chain["genesis_time"].as_i64().unwrap());
        assert_eq!(QUICKNET.period_seconds, chain["period"].as_i64().unwrap());
        let pulse = |v: &serde_json::Value| {
            Pulse::from_hex(v["round"].as_u64().unwrap(), v["signature"].as_str().unwrap()).unwrap()
        };
        for published in vectors["pulses"].as_array().unwrap() {
            let randomness = QUICKNET.verify(&pulse(published)).unwrap();
            assert_eq!(randomness.to_hex(), published["randomness"].as_str().unwrap());
        }
        for refused in vectors["refused"].as_array().unwrap() {
            assert!(QUICKNET.verify(&pulse(refused)).is_err(), "{}", refused["why"]);
        }
    }

    #[test]
    fn utc_four_hour_boundaries_fall_on_quicknet_rounds() {
        let midnight = 1_764_633_600; // 2025-12-02T00:00:00Z
        for boundary in (0..12).map(|n| midnight + n * 14_400) {
            let round = QUICKNET.round_at(boundary);
            assert_eq!(QUICKNET.round_time(round), boundary, "{boundary}");
            assert_eq!(round, ((boundary - 1_692_803_367) / 3 + 1) as u64);
        }
        assert_eq!(QUICKNET.round_at(QUICKNET.genesis_unix), 1);
        assert_eq!(QUICKNET.round_at(0), 1);
    }

    #[test]
    fn a_moment_between_rounds_takes_the_next_one() {
        let t = QUICKNET.round_time(1_000);
        assert_eq!(QUICKNET.round_at(t), 1_000);
        assert_eq!(QUICKNET.round_at(t + 1), 1_001);
        assert_eq!(QUICKNET.round_at(t + 2), 1_001);
        assert_eq!(QUICKNET.round_at(t + 3), 1_001);
        assert_eq!(QUICKNET.round_at(t - 1), 1_000);
    }

    #[test]
    fn dev_pulses_verify_against_the_dev_chain_only() {
        let dev = DevBeacon::new();
        let pulse = dev.pulse(42);
        let randomness = dev.chain().verify(&pulse).unwrap();
        assert_eq!(randomness.as_bytes(), &<[u8; 32]>::from(Sha256::digest(pulse.signature)));
        assert_eq!(DevBeacon::new().pulse(42), pulse, "deterministic");
        assert!(matches!(QUICKNET.verify(&pulse), Err(BeaconError::BadSignature { round: 42, .. })));
        let other_round = Pulse { round: 43, ..pulse };
        assert!(dev.chain().verify(&other_round).is_err());
    }

    #[test]
    fn malformed_signatures_are_refused_before_any_curve_work() {
        assert!(matches!(Pulse::from_hex(1, "zz"), Err(BeaconError::Malformed(_))));
        assert!(matches!(Pulse::from_hex(1, "abcd"), Err(BeaconError::Malformed(_))));
        let not_a_point = Pulse { round: 1, signature: [0xff; 48] };
        assert!(matches!(QUICKNET.verify(&not_a_point), Err(BeaconError::BadSignature { .. })));
    }
}

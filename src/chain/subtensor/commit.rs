//! The timelocked weight commit: the payload the chain reveals (`WeightsTlockPayload {hotkey, uids, values,
//! version_key}`, SCALE) encrypted to one drand round with the `tle` scheme subtensor decrypts (Boneh-Franklin
//! IBE on BLS12-381 for a fresh AES-GCM key, identity `sha256(round as u64 big-endian)`), serialized compressed.
//! Anyone holding that round's signature can decrypt it, which is how the chain reveals and how tests check a
//! commit before the chain would fail it silently an epoch later.

use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use parity_scale_codec::{Decode, Encode};
use sha2::{Digest, Sha256};
use timelock::curves::drand::TinyBLS381;
use timelock::ibe::fullident::Identity;
use timelock::stream_ciphers::AESGCMStreamCipherProvider;
use timelock::tlock::{tld, tle, EngineBLS, TLECiphertext};

use super::epoch_schedule::{EpochScheduleState, ScheduleError};
use crate::domain::judging::weights::EmittedWeights;

/// What the chain decrypts and applies at the reveal: the committer's public key, the vector and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightsTlockPayload {
    pub hotkey: [u8; 32],
    pub weights: EmittedWeights,
    pub version_key: u64,
}

impl WeightsTlockPayload {
    /// SCALE, as the chain decodes it (`hotkey` as a `Vec<u8>`).
    pub fn encode(&self) -> Vec<u8> {
        (self.hotkey.to_vec(), &self.weights.uids, &self.weights.values, self.version_key).encode()
    }

    pub fn decode(mut bytes: &[u8]) -> Result<Self, CommitError> {
        let (hotkey, uids, values, version_key) = <(Vec<u8>, Vec<u16>, Vec<u16>, u64)>::decode(&mut bytes)
            .map_err(|e| CommitError::Payload(e.to_string()))?;
        if !bytes.is_empty() {
            return Err(CommitError::Payload(format!("{} bytes left over", bytes.len())));
        }
        let hotkey = hotkey.try_into().map_err(|_| CommitError::Payload("the hotkey is not 32 bytes".to_string()))?;
        Ok(WeightsTlockPayload { hotkey, weights: EmittedWeights { uids, values }, version_key })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error("the beacon's public key is not a compressed BLS12-381 G2 point")]
    PublicKey,
    #[error("the round's signature is not a compressed BLS12-381 G1 point")]
    Signature,
    #[error("cannot encrypt the commit")]
    Encrypt,
    #[error("not a timelocked ciphertext")]
    Ciphertext,
    #[error("the signature does not open this commit (another round, or another beacon)")]
    Decrypt,
    #[error("the revealed payload is not a weights payload: {0}")]
    Payload(String),
}

/// The identity a round's signature opens: `sha256(round as u64 big-endian)`.
fn identity(round: u64) -> Identity {
    Identity::new(b"", vec![Sha256::digest(round.to_be_bytes()).to_vec()])
}

/// Encrypts `payload` so that `round`'s signature by the beacon with `public_key` (compressed G2) opens it.
pub fn encrypt_to_round(payload: &[u8], round: u64, public_key: &[u8]) -> Result<Vec<u8>, CommitError> {
    let key = <TinyBLS381 as EngineBLS>::PublicKeyGroup::deserialize_compressed(public_key)
        .map_err(|_| CommitError::PublicKey)?;
    let mut secret = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
    let ciphertext =
        tle::<TinyBLS381, AESGCMStreamCipherProvider, _>(key, secret, payload, identity(round), rand::rngs::OsRng)
            .map_err(|_| CommitError::Encrypt)?;
    let mut bytes = Vec::new();
    ciphertext.serialize_compressed(&mut bytes).map_err(|_| CommitError::Encrypt)?;
    Ok(bytes)
}

/// Opens a commit with its round's signature (compressed G1), as the chain does at the reveal.
pub fn decrypt_with_signature(ciphertext: &[u8], signature: &[u8]) -> Result<Vec<u8>, CommitError> {
    let ciphertext =
        TLECiphertext::<TinyBLS381>::deserialize_compressed(ciphertext).map_err(|_| CommitError::Ciphertext)?;
    let signature = <TinyBLS381 as EngineBLS>::SignatureGroup::deserialize_compressed(signature)
        .map_err(|_| CommitError::Signature)?;
    tld::<TinyBLS381, AESGCMStreamCipherProvider>(ciphertext, signature).map_err(|_| CommitError::Decrypt)
}

/// quicknet's first pulse, unix seconds, and its period.
const QUICKNET_GENESIS_SECS: f64 = 1_692_803_367.0;
const QUICKNET_PERIOD_SECS: f64 = 3.0;
/// The pulse is aimed three blocks into the reveal epoch, so it is ingested before the chain looks for it.
const SECURITY_BLOCK_OFFSET: u64 = 3;

/// The subnet's schedule as it stands when a commit is made (runtimes without `SubnetEpochIndex`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevealSchedule {
    pub block: u64,
    pub netuid: u16,
    pub tempo: u64,
    /// `RevealPeriodEpochs`: how many subnet epochs later the commit is revealed.
    pub reveal_period_epochs: u64,
}

/// The quicknet round a commit made at `now_secs` must be encrypted to, as bittensor-drand 1.x (SDK 9.9)
/// computes it: the first block of the reveal epoch plus three, at `block_time` seconds a block from now.
pub fn reveal_round(schedule: RevealSchedule, now_secs: f64, block_time: f64) -> u64 {
    let tempo = schedule.tempo.saturating_add(1);
    let netuid = u64::from(schedule.netuid) + 1;
    let epoch = (schedule.block + netuid) / tempo;
    let first_reveal_block = (epoch + schedule.reveal_period_epochs).saturating_mul(tempo).saturating_sub(netuid);
    round_at_block(first_reveal_block, schedule.block, now_secs, block_time)
}

/// The quicknet round a commit made at `now_secs` on a runtime with the stateful epoch counter must be
/// encrypted to, as bittensor-drand 2.x computes it (`get_encrypted_commit_v2`): the predicted first reveal block
/// plus three, at `block_time` seconds a block from the head.
pub fn reveal_round_stateful(
    head: &EpochScheduleState,
    reveal_period_epochs: u64,
    now_secs: f64,
    block_time: f64,
) -> Result<u64, ScheduleError> {
    let first_reveal_block = head.first_reveal_block(reveal_period_epochs)?;
    Ok(round_at_block(first_reveal_block, head.current_block, now_secs, block_time))
}

/// The round emitted when the chain, at `head` now, reaches three blocks past `first_reveal_block` (by then the
/// chain's drand pallet holds that round's pulse).
fn round_at_block(first_reveal_block: u64, head: u64, now_secs: f64, block_time: f64) -> u64 {
    let blocks_until = first_reveal_block.saturating_add(SECURITY_BLOCK_OFFSET).saturating_sub(head);
    let target_secs = now_secs + blocks_until as f64 * block_time;
    (((target_secs - QUICKNET_GENESIS_SECS) / QUICKNET_PERIOD_SECS).floor() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::epoch::beacon::QUICKNET;

    /// Round 1000 of quicknet (tests/vectors/drand-quicknet.json).
    const ROUND_1000: &str =
        "b44679b9a59af2ec876b1a6b1ad52ea9b1615fc3982b19576350f93447cb1125e342b73a8dd2bacbe47e4b6b63ed5e39";

    fn payload() -> WeightsTlockPayload {
        WeightsTlockPayload {
            hotkey: [7; 32],
            weights: EmittedWeights { uids: vec![0, 4, 9], values: vec![65535, 100, 1] },
            version_key: 1038,
        }
    }

    #[test]
    fn a_commit_opens_with_its_rounds_signature_and_no_other() {
        let encrypted = encrypt_to_round(&payload().encode(), 1000, &QUICKNET.public_key).unwrap();
        let opened = decrypt_with_signature(&encrypted, &hex::decode(ROUND_1000).unwrap()).unwrap();
        assert_eq!(WeightsTlockPayload::decode(&opened).unwrap(), payload());
        let other = encrypt_to_round(&payload().encode(), 1001, &QUICKNET.public_key).unwrap();
        assert_eq!(decrypt_with_signature(&other, &hex::decode(ROUND_1000).unwrap()), Err(CommitError::Decrypt));
        assert_ne!(encrypted, encrypt_to_round(&payload().encode(), 1000, &QUICKNET.public_key).unwrap());
    }

    #[test]
    fn the_reveal_round_aims_three_blocks_into_the_reveal_epoch() {
        let schedule = RevealSchedule { block: 1000, netuid: 1, tempo: 99, reveal_period_epochs: 1 };
        // epoch (1000 + 2) / 100 = 10; reveal epoch 11 starts at block 1098; aim at 1101, 101 blocks away.
        let now = 1_700_000_000.0;
        assert_eq!(reveal_round(schedule, now, 12.0), ((now + 101.0 * 12.0 - 1_692_803_367.0) / 3.0).floor() as u64);
        assert_eq!(reveal_round(RevealSchedule { reveal_period_epochs: 2, ..schedule }, now, 12.0), {
            ((now + 201.0 * 12.0 - 1_692_803_367.0) / 3.0).floor() as u64
        });
        assert_eq!(reveal_round(schedule, 0.0, 12.0), 1);
    }

    #[test]
    fn malformed_inputs_are_errors() {
        assert_eq!(encrypt_to_round(b"x", 1, &[0; 96]), Err(CommitError::PublicKey));
        assert_eq!(decrypt_with_signature(b"junk", &hex::decode(ROUND_1000).unwrap()), Err(CommitError::Ciphertext));
        let encrypted = encrypt_to_round(b"x", 1000, &QUICKNET.public_key).unwrap();
        assert_eq!(decrypt_with_signature(&encrypted, &[1; 48]), Err(CommitError::Signature));
        assert!(WeightsTlockPayload::decode(&[1, 2, 3]).is_err());
        let mut long = payload().encode();
        long.push(0);
        assert!(WeightsTlockPayload::decode(&long).is_err());
    }
}

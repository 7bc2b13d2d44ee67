//! Hotkeys: a neuron's 32-byte sr25519 public key in its SS58 form (prefix 42, `5…`), the identity every
//! neighbourhood names (the roster of an epoch, a signature's signer, a bucket folder, a judged miner).

use std::fmt;
use std::str::FromStr;

use blake2::{Blake2b512, Digest};

/// Bittensor's SS58 address format (the generic Substrate prefix).
pub const SS58_PREFIX: u8 = 42;

/// A hotkey: a 32-byte sr25519 public key, written as an SS58 address with prefix 42 (`5…`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hotkey {
    public: [u8; 32],
    ss58: String,
}

/// Text that is not an SS58 hotkey.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid hotkey: expected an SS58 address with prefix 42 (48 characters starting with 5)")]
pub struct MalformedHotkey;

fn ss58_checksum(prefix: u8, public: &[u8; 32]) -> [u8; 2] {
    let mut hasher = Blake2b512::new();
    hasher.update(b"SS58PRE");
    hasher.update([prefix]);
    hasher.update(public);
    let hash = hasher.finalize();
    [hash[0], hash[1]]
}

impl Hotkey {
    pub fn from_public(public: [u8; 32]) -> Self {
        let mut raw = Vec::with_capacity(35);
        raw.push(SS58_PREFIX);
        raw.extend_from_slice(&public);
        raw.extend_from_slice(&ss58_checksum(SS58_PREFIX, &public));
        Hotkey { public, ss58: bs58::encode(raw).into_string() }
    }

    pub fn public_bytes(&self) -> &[u8; 32] {
        &self.public
    }

    pub fn as_str(&self) -> &str {
        &self.ss58
    }
}

impl FromStr for Hotkey {
    type Err = MalformedHotkey;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > 64 {
            return Err(MalformedHotkey);
        }
        let raw = bs58::decode(s).into_vec().map_err(|_| MalformedHotkey)?;
        if raw.len() != 35 || raw[0] != SS58_PREFIX {
            return Err(MalformedHotkey);
        }
        let mut public = [0u8; 32];
        public.copy_from_slice(&raw[1..33]);
        if raw[33..35] != ss58_checksum(SS58_PREFIX, &public) {
            return Err(MalformedHotkey);
        }
        Ok(Hotkey { public, ss58: s.to_string() })
    }
}

impl fmt::Display for Hotkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.ss58)
    }
}

impl fmt::Debug for Hotkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hotkey({})", self.ss58)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

    #[test]
    fn parses_and_formats_ss58() {
        let hotkey: Hotkey = ALICE.parse().unwrap();
        assert_eq!(Hotkey::from_public(*hotkey.public_bytes()).as_str(), ALICE);
        assert_eq!(
            hex::encode(hotkey.public_bytes()),
            "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
        );
    }

    #[test]
    fn rejects_bad_hotkeys() {
        let mut wrong_checksum = ALICE.to_string();
        wrong_checksum.replace_range(47..48, "R");
        for bad in [
            "",
            "not-a-key",
            "0x1234",
            &wrong_checksum,
            // Same key with the Polkadot prefix 0.
            "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5",
            &"5".repeat(200),
        ] {
            assert!(bad.parse::<Hotkey>().is_err(), "{bad:?}");
        }
    }
}

//! sr25519 key pairs from Substrate secret URIs (`//Alice`, `MNEMONIC//hard/soft`, `0xSEED`), for the dev
//! metagraph, the clients and the tests.
//!
//! Derivation follows Substrate exactly (what `bittensor-wallet`'s `Keypair.create_from_uri` does): a BIP-39
//! mnemonic's entropy is stretched with PBKDF2-HMAC-SHA512 (2048 rounds, salt `"mnemonic" + password`) to a
//! 32-byte mini secret, expanded in Ed25519 mode; `//x` is a hard junction and `/x` a soft one, each with a chain
//! code from the SCALE encoding of `x` (a number as u64, anything else as a string), hashed when over 32 bytes.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use schnorrkel::derive::{ChainCode, Derivation};
use schnorrkel::{ExpansionMode, MiniSecretKey};

use crate::domain::access::auth::HotkeySignature;
use crate::domain::hotkey::Hotkey;

/// The phrase behind Substrate's well-known development accounts (`//Alice`, `//Bob`, ...).
pub const DEV_PHRASE: &str = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("invalid secret URI: {0}")]
    InvalidUri(&'static str),
    #[error("invalid mnemonic phrase")]
    InvalidMnemonic,
    #[error("invalid seed: expected 32 bytes as 0x-prefixed hex")]
    InvalidSeed,
}

/// An sr25519 key pair that signs the way Substrate and the subnet's Python clients do.
#[derive(Clone)]
pub struct Keypair(schnorrkel::Keypair);

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keypair({})", self.hotkey())
    }
}

enum Junction {
    Hard([u8; 32]),
    Soft([u8; 32]),
}

fn chain_code(segment: &str) -> [u8; 32] {
    let encoded = match segment.parse::<u64>() {
        Ok(n) => n.to_le_bytes().to_vec(),
        Err(_) => {
            let mut out = scale_compact_len(segment.len());
            out.extend_from_slice(segment.as_bytes());
            out
        }
    };
    let mut code = [0u8; 32];
    if encoded.len() > 32 {
        code.copy_from_slice(&Blake2b::<U32>::digest(&encoded));
    } else {
        code[..encoded.len()].copy_from_slice(&encoded);
    }
    code
}

fn scale_compact_len(n: usize) -> Vec<u8> {
    match n {
        0..=0x3f => vec![(n as u8) << 2],
        0x40..=0x3fff => ((n as u16) << 2 | 0b01).to_le_bytes().to_vec(),
        0x4000..=0x3fff_ffff => ((n as u32) << 2 | 0b10).to_le_bytes().to_vec(),
        _ => {
            let bytes = (n as u64).to_le_bytes();
            let used = 8 - (n as u64).leading_zeros() as usize / 8;
            let mut out = vec![(((used - 4) as u8) << 2) | 0b11];
            out.extend_from_slice(&bytes[..used]);
            out
        }
    }
}

fn parse_junctions(path: &str) -> Result<Vec<Junction>, KeyError> {
    let mut junctions = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        let (hard, after) = match rest.strip_prefix("//") {
            Some(after) => (true, after),
            None => match rest.strip_prefix('/') {
                Some(after) => (false, after),
                None => return Err(KeyError::InvalidUri("a derivation path starts with / or //")),
            },
        };
        let end = after.find('/').unwrap_or(after.len());
        let segment = &after[..end];
        if segment.is_empty() {
            return Err(KeyError::InvalidUri("empty derivation junction"));
        }
        let code = chain_code(segment);
        junctions.push(if hard { Junction::Hard(code) } else { Junction::Soft(code) });
        rest = &after[end..];
    }
    Ok(junctions)
}

fn mini_secret_from_phrase(phrase: &str, password: &str) -> Result<MiniSecretKey, KeyError> {
    let mnemonic = bip39::Mnemonic::parse_normalized(phrase).map_err(|_| KeyError::InvalidMnemonic)?;
    let entropy = mnemonic.to_entropy();
    let salt = format!("mnemonic{password}");
    let mut seed = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(&entropy, salt.as_bytes(), 2048, &mut seed);
    MiniSecretKey::from_bytes(&seed[..32]).map_err(|_| KeyError::InvalidMnemonic)
}

impl Keypair {
    /// A key pair from a 32-byte mini secret (a Substrate "seed").
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let mini = MiniSecretKey::from_bytes(seed).expect("any 32 bytes are a mini secret key");
        Keypair(mini.expand_to_keypair(ExpansionMode::Ed25519))
    }

    /// A key pair from a secret URI: `[PHRASE | 0xSEED][//hard | /soft]*[///password]`. A URI that starts with
    /// a junction uses the development phrase.
    pub fn from_uri(uri: &str) -> Result<Self, KeyError> {
        let (body, password) = match uri.find("///") {
            Some(at) => (&uri[..at], &uri[at + 3..]),
            None => (uri, ""),
        };
        let path_start = body.find('/').unwrap_or(body.len());
        let (phrase, path) = body.split_at(path_start);
        let phrase = phrase.trim();
        let phrase = if phrase.is_empty() { DEV_PHRASE } else { phrase };
        let mini = if let Some(hex_seed) = phrase.strip_prefix("0x") {
            let mut seed = [0u8; 32];
            hex::decode_to_slice(hex_seed, &mut seed).map_err(|_| KeyError::InvalidSeed)?;
            MiniSecretKey::from_bytes(&seed).map_err(|_| KeyError::InvalidSeed)?
        } else {
            mini_secret_from_phrase(phrase, password)?
        };
        let mut secret = mini.expand(ExpansionMode::Ed25519);
        for junction in parse_junctions(path)? {
            secret = match junction {
                Junction::Hard(code) => {
                    secret.hard_derive_mini_secret_key(Some(ChainCode(code)), b"").0.expand(ExpansionMode::Ed25519)
                }
                Junction::Soft(code) => secret.derived_key_simple(ChainCode(code), []).0,
            };
        }
        Ok(Keypair(secret.to_keypair()))
    }

    pub fn hotkey(&self) -> Hotkey {
        Hotkey::from_public(self.0.public.to_bytes())
    }

    /// Signs `message` in the `substrate` context.
    pub fn sign(&self, message: &[u8]) -> HotkeySignature {
        HotkeySignature::from_bytes(self.0.sign_simple(b"substrate", message).to_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::auth::verify_hotkey_signature;

    #[test]
    fn verifies_raw_and_wrapped_messages() {
        let alice = Keypair::from_uri("//Alice").unwrap();
        let bob = Keypair::from_uri("//Bob").unwrap();
        let message = b"zipcode:assignment:current:1700000000";
        let raw = alice.sign(message);
        let wrapped = alice.sign(b"<Bytes>zipcode:assignment:current:1700000000</Bytes>");
        assert!(verify_hotkey_signature(&alice.hotkey(), message, &raw));
        assert!(verify_hotkey_signature(&alice.hotkey(), message, &wrapped));
        assert!(!verify_hotkey_signature(&bob.hotkey(), message, &raw));
        assert!(!verify_hotkey_signature(&alice.hotkey(), b"zipcode:assignment:current:1700000001", &raw));
        assert!(!verify_hotkey_signature(&alice.hotkey(), message, &HotkeySignature::from_bytes([0u8; 64])));
    }

    #[test]
    fn derives_the_well_known_dev_accounts() {
        let expected = [
            ("//Alice", "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"),
            ("//Bob", "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"),
            ("//Charlie", "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y"),
            ("//Dave", "5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy"),
            ("//Eve", "5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw"),
            ("//Ferdie", "5CiPPseXPECbkjWCa6MnjNokrgYjMqmKndv2rSnekmSK2DjL"),
        ];
        for (uri, address) in expected {
            assert_eq!(Keypair::from_uri(uri).unwrap().hotkey().as_str(), address, "{uri}");
        }
        // The bare development phrase is its own well-known account.
        assert_eq!(
            Keypair::from_uri(DEV_PHRASE).unwrap().hotkey().as_str(),
            "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV"
        );
    }

    #[test]
    fn rejects_bad_uris() {
        assert_eq!(Keypair::from_uri("not a mnemonic//x").unwrap_err(), KeyError::InvalidMnemonic);
        assert_eq!(Keypair::from_uri("0x1234").unwrap_err(), KeyError::InvalidSeed);
        assert!(matches!(Keypair::from_uri("//Alice//").unwrap_err(), KeyError::InvalidUri(_)));
    }

    #[test]
    fn compact_lengths() {
        assert_eq!(scale_compact_len(5), vec![20]);
        assert_eq!(scale_compact_len(64), vec![0x01, 0x01]);
        assert_eq!(scale_compact_len(16384), vec![0x02, 0x00, 0x01, 0x00]);
    }
}

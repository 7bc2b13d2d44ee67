//! A signed version-4 transaction, built the way the runtime in front of us says to: its transaction extensions
//! in metadata order, each contributing what it adds to the transaction (mortal era, nonce, tip, metadata-hash
//! mode) and what it adds to the signed payload only (spec and transaction versions, genesis hash, the era's
//! birth block hash, no metadata hash). The payload is blake2b-256 hashed when longer than 256 bytes and signed
//! with sr25519 under the `substrate` context. An extension that carries data of a kind not known here is
//! refused rather than guessed. Pure: the chain facts come in as values.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use parity_scale_codec::{Compact, Encode};

use super::runtime::{RuntimeError, RuntimeLayout, Shape};
use crate::domain::access::keys::Keypair;

/// Blocks a transaction stays valid for after the block it was made at (the SDK's default is 8 for weights;
/// a little longer survives a slow block or two).
pub const MORTAL_PERIOD: u64 = 32;

/// The chain facts a transaction commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningContext {
    pub spec_version: u32,
    pub transaction_version: u32,
    pub genesis_hash: [u8; 32],
    /// The block the era starts at (the current finalized block) and its hash.
    pub birth_block: u64,
    pub birth_hash: [u8; 32],
    /// The signer's next nonce (`system_accountNextIndex`).
    pub nonce: u32,
}

/// A transaction's mortality: valid from `birth_block` for `period` blocks (a power of two, 4..=65536).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MortalEra {
    pub period: u64,
    pub phase: u64,
}

impl MortalEra {
    /// The era substrate's `Era::mortal(period, current)` makes.
    pub fn new(period: u64, current: u64) -> MortalEra {
        let period = period.checked_next_power_of_two().unwrap_or(1 << 16).clamp(4, 1 << 16);
        let phase = current % period;
        let quantize = (period >> 12).max(1);
        MortalEra { period, phase: phase / quantize * quantize }
    }

    /// Its two bytes.
    pub fn encode(self) -> [u8; 2] {
        let quantize = (self.period >> 12).max(1);
        let low = u64::from(self.period.trailing_zeros()).saturating_sub(1).clamp(1, 15);
        let encoded = low | ((self.phase / quantize) << 4);
        (encoded as u16).to_le_bytes()
    }
}

/// The signed transaction, with what went into it (for dry runs and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedExtrinsic {
    pub bytes: Vec<u8>,
    pub era: MortalEra,
    pub nonce: u32,
    /// The payload the signature covers, before hashing.
    pub payload: Vec<u8>,
}

/// Signs `call` by `signer` under `runtime`'s transaction extensions.
pub fn sign_extrinsic(
    runtime: &RuntimeLayout,
    call: &[u8],
    context: &SigningContext,
    signer: &Keypair,
) -> Result<SignedExtrinsic, RuntimeError> {
    let era = MortalEra::new(MORTAL_PERIOD, context.birth_block);
    let mut explicit = Vec::new();
    let mut implicit = Vec::new();
    for extension in runtime.extensions()? {
        let wrong =
            |why: &str| RuntimeError::Extension { identifier: extension.identifier.clone(), why: why.to_string() };
        let hash = Shape::Array(32, Box::new(Shape::U8));
        match extension.identifier.as_str() {
            "CheckMortality" | "CheckEra" => {
                if !is_era(&extension.explicit) || extension.implicit != hash {
                    return Err(wrong("expected an era and a block hash"));
                }
                explicit.extend_from_slice(&era.encode());
                implicit.extend_from_slice(&context.birth_hash);
            }
            "CheckNonce" => {
                require(&extension, &Shape::Compact(Box::new(Shape::U32)), None)?;
                Compact(context.nonce).encode_to(&mut explicit);
            }
            "ChargeTransactionPayment" => {
                // The balance type (u64 on subtensor): a compact zero is one zero byte at any width.
                let tip_u64 = require(&extension, &Shape::Compact(Box::new(Shape::U64)), None);
                tip_u64.or_else(|_| require(&extension, &Shape::Compact(Box::new(Shape::U128)), None))?;
                Compact(0u64).encode_to(&mut explicit);
            }
            "CheckMetadataHash" => {
                let Shape::Enum(modes) = &extension.explicit else { return Err(wrong("expected a mode enum")) };
                let disabled =
                    modes.iter().find(|(name, _)| name == "Disabled").ok_or_else(|| wrong("no Disabled mode"))?;
                explicit.push(disabled.1);
                // `Option<[u8; 32]>`: None. The shape of an Option is an enum of None and Some.
                if !matches!(&extension.implicit, Shape::Enum(v) if v.iter().any(|(n, i)| n == "None" && *i == 0)) {
                    return Err(wrong("expected an optional metadata hash"));
                }
                implicit.push(0);
            }
            "CheckSpecVersion" => {
                require(&extension, &Shape::Fields(vec![]), Some(&Shape::U32))?;
                context.spec_version.encode_to(&mut implicit);
            }
            "CheckTxVersion" => {
                require(&extension, &Shape::Fields(vec![]), Some(&Shape::U32))?;
                context.transaction_version.encode_to(&mut implicit);
            }
            "CheckGenesis" => {
                require(&extension, &Shape::Fields(vec![]), Some(&hash))?;
                implicit.extend_from_slice(&context.genesis_hash);
            }
            // The chain's own extensions (CheckNonZeroSender, CheckWeight, SubtensorTransactionExtension,
            // DrandPriority, and whatever newer runtimes add) are skipped only when they carry nothing.
            _ => {
                if !extension.explicit.is_empty() || !extension.implicit.is_empty() {
                    return Err(RuntimeError::UnknownExtension { identifier: extension.identifier });
                }
            }
        }
    }
    let mut payload = Vec::with_capacity(call.len() + explicit.len() + implicit.len());
    payload.extend_from_slice(call);
    payload.extend_from_slice(&explicit);
    payload.extend_from_slice(&implicit);
    let signature =
        if payload.len() > 256 { signer.sign(&Blake2b::<U32>::digest(&payload)) } else { signer.sign(&payload) };
    let mut body = Vec::with_capacity(1 + 33 + 65 + explicit.len() + call.len());
    body.push(0x84); // signed, version 4
    body.push(0x00); // MultiAddress::Id
    body.extend_from_slice(signer.hotkey().public_bytes());
    body.push(0x01); // MultiSignature::Sr25519
    body.extend_from_slice(signature.as_bytes());
    body.extend_from_slice(&explicit);
    body.extend_from_slice(call);
    let mut bytes = Compact(body.len() as u32).encode();
    bytes.extend_from_slice(&body);
    Ok(SignedExtrinsic { bytes, era, nonce: context.nonce, payload })
}

/// `Era`: an enum of `Immortal` and 255 mortal variants.
fn is_era(shape: &Shape) -> bool {
    matches!(shape, Shape::Enum(variants) if variants.len() == 256 && variants[0].0 == "Immortal")
}

fn require(
    extension: &super::runtime::ExtensionLayout,
    explicit: &Shape,
    implicit: Option<&Shape>,
) -> Result<(), RuntimeError> {
    let implicit_ok = match implicit {
        Some(shape) => &extension.implicit == shape,
        None => extension.implicit.is_empty(),
    };
    if (extension.explicit == *explicit || (explicit.is_empty() && extension.explicit.is_empty())) && implicit_ok {
        Ok(())
    } else {
        Err(RuntimeError::Extension {
            identifier: extension.identifier.clone(),
            why: format!("it carries ({}) and signs ({})", extension.explicit, extension.implicit),
        })
    }
}

#[cfg(test)]
mod tests;

//! Decoding the subnet's neurons from SCALE bytes, guided by the chain's own metadata (v15), so that a
//! runtime upgrade that adds, moves or widens fields of `NeuronInfoLite` changes nothing here: fields are
//! found by name in the type registry the chain publishes, never by position. Pure: bytes in, values out.

use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed, META_RESERVED};
use parity_scale_codec::Decode;
use scale_info::PortableRegistry;
use scale_value::{Composite, Primitive, Value, ValueDef};

use crate::chain::ChainError;

/// The runtime API and method whose output we decode.
pub const NEURONS_API: &str = "NeuronInfoRuntimeApi";
pub const NEURONS_METHOD: &str = "get_neurons_lite";

/// One neuron as the chain reports it (raw keys, stake in rao).
#[derive(Debug, Clone, PartialEq)]
pub struct ChainNeuron {
    pub uid: u16,
    pub hotkey: [u8; 32],
    pub coldkey: [u8; 32],
    pub validator_permit: bool,
    /// Sum of the stake entries, in rao (10^-9 alpha).
    pub stake_rao: u128,
}

/// How to read `get_neurons_lite`'s answer under one runtime version: the type registry and the output type.
#[derive(Debug)]
pub struct NeuronLayout {
    registry: PortableRegistry,
    output_type: u32,
}

fn invalid(message: impl Into<String>) -> ChainError {
    ChainError::Invalid(message.into())
}

impl NeuronLayout {
    /// Reads the answer of `Metadata_metadata_at_version(15)`: an `Option<Vec<u8>>` holding prefixed metadata.
    pub fn from_metadata_at_version(mut bytes: &[u8]) -> Result<Self, ChainError> {
        let opaque = Option::<Vec<u8>>::decode(&mut bytes)
            .map_err(|e| invalid(format!("metadata answer is not an Option<Vec<u8>>: {e}")))?
            .ok_or_else(|| invalid("the node does not offer metadata version 15"))?;
        let prefixed = RuntimeMetadataPrefixed::decode(&mut opaque.as_slice())
            .map_err(|e| invalid(format!("cannot decode runtime metadata: {e}")))?;
        if prefixed.0 != META_RESERVED {
            return Err(invalid("runtime metadata does not start with the 'meta' magic number"));
        }
        let RuntimeMetadata::V15(metadata) = prefixed.1 else {
            return Err(invalid(format!("expected metadata version 15, got {}", prefixed.1.version())));
        };
        let output_type = metadata
            .apis
            .iter()
            .filter(|api| api.name == NEURONS_API)
            .flat_map(|api| api.methods.iter())
            .find(|method| method.name == NEURONS_METHOD)
            .map(|method| method.output.id)
            .ok_or_else(|| invalid(format!("the runtime has no {NEURONS_API}.{NEURONS_METHOD}")))?;
        Ok(NeuronLayout { registry: metadata.types, output_type })
    }

    /// The runtime's type registry.
    pub fn registry(&self) -> &PortableRegistry {
        &self.registry
    }

    /// The type `get_neurons_lite` answers.
    pub fn output_type(&self) -> u32 {
        self.output_type
    }

    /// Decodes the answer of `NeuronInfoRuntimeApi_get_neurons_lite`.
    pub fn decode_neurons(&self, bytes: &[u8]) -> Result<Vec<ChainNeuron>, ChainError> {
        let mut input = bytes;
        let value = scale_value::scale::decode_as_type(&mut input, self.output_type, &self.registry)
            .map_err(|e| invalid(format!("cannot decode the neuron list: {e}")))?;
        if !input.is_empty() {
            return Err(invalid(format!("{} bytes left over after the neuron list", input.len())));
        }
        let list = items(&value).ok_or_else(|| invalid("the neuron list is not a sequence"))?;
        list.into_iter()
            .enumerate()
            .map(|(index, neuron)| read_neuron(neuron).map_err(|e| invalid(format!("neuron {index}: {}", e.0))))
            .collect()
    }
}

/// What is wrong with one decoded neuron.
struct MalformedNeuron(String);

impl From<&str> for MalformedNeuron {
    fn from(what: &str) -> Self {
        MalformedNeuron(what.to_string())
    }
}

fn read_neuron(neuron: &Value<u32>) -> Result<ChainNeuron, MalformedNeuron> {
    let ValueDef::Composite(Composite::Named(fields)) = &neuron.value else {
        return Err("not a struct with named fields".into());
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| MalformedNeuron(format!("no field `{name}`")))
    };
    let uid = number(field("uid")?).and_then(|n| u16::try_from(n).ok()).ok_or("`uid` is not a u16")?;
    let stake_rao = items(field("stake")?)
        .ok_or("`stake` is not a list")?
        .iter()
        .map(|entry| entry_amount(entry).ok_or("a `stake` entry is not (account, amount)"))
        .try_fold(0u128, |sum, amount| amount.map(|a| sum.saturating_add(a)))?;
    Ok(ChainNeuron {
        uid,
        hotkey: account(field("hotkey")?).ok_or("`hotkey` is not a 32-byte account")?,
        coldkey: account(field("coldkey")?).ok_or("`coldkey` is not a 32-byte account")?,
        validator_permit: unwrap_newtypes(field("validator_permit")?)
            .as_bool()
            .ok_or("`validator_permit` is not a bool")?,
        stake_rao,
    })
}

/// The elements of a sequence, tuple or struct.
fn items(value: &Value<u32>) -> Option<Vec<&Value<u32>>> {
    match &value.value {
        ValueDef::Composite(composite) => Some(composite.values().collect()),
        _ => None,
    }
}

/// Newtype wrappers (`AccountId32([u8; 32])`, `AlphaCurrency(u64)`) show up as one-field composites.
fn unwrap_newtypes(mut value: &Value<u32>) -> &Value<u32> {
    while let ValueDef::Composite(composite) = &value.value {
        if composite.len() != 1 {
            break;
        }
        value = composite.values().next().expect("one value");
    }
    value
}

fn number(value: &Value<u32>) -> Option<u128> {
    match &unwrap_newtypes(value).value {
        ValueDef::Primitive(Primitive::U128(n)) => Some(*n),
        _ => None,
    }
}

fn account(value: &Value<u32>) -> Option<[u8; 32]> {
    let bytes = items(unwrap_newtypes(value))?;
    let bytes: Vec<u8> =
        bytes.into_iter().map(|b| number(b).and_then(|n| u8::try_from(n).ok())).collect::<Option<_>>()?;
    bytes.try_into().ok()
}

/// A `(coldkey, amount)` stake entry's amount.
fn entry_amount(entry: &Value<u32>) -> Option<u128> {
    let parts = items(entry)?;
    match parts.as_slice() {
        [_, amount] => number(amount),
        _ => None,
    }
}

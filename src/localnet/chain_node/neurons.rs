//! The node's answer to `NeuronInfoRuntimeApi_get_neurons_lite(netuid)`: the subnet's neurons encoded as the
//! served runtime's own metadata lays out `NeuronInfoLite`, walking its type registry, so the bytes are what a
//! finney node of that runtime would answer. The fields a metagraph reads (keys, uid, netuid, stake, permit,
//! activity, last update) carry the ledger's values; every other field holds its type's zero.

use parity_scale_codec::{Compact, Encode};
use scale_info::{PortableRegistry, TypeDef, TypeDefPrimitive};

use crate::chain::subtensor::decode::NeuronLayout;

/// A value the ledger gives one field of `NeuronInfoLite`.
#[derive(Debug, Clone)]
pub enum FieldValue {
    Number(u128),
    Bool(bool),
    Account([u8; 32]),
    /// `(account, amount)` entries, as `stake` holds them.
    Entries(Vec<([u8; 32], u128)>),
}

/// Why the runtime's layout cannot carry a value (a runtime this node does not know how to answer for).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode the neurons under this runtime: {0}")]
pub struct EncodeError(String);

/// Encodes the neuron list, each neuron given as its named field values.
pub fn encode_neurons(layout: &NeuronLayout, neurons: &[Vec<(&str, FieldValue)>]) -> Result<Vec<u8>, EncodeError> {
    let registry = layout.registry();
    let element = match resolve(registry, layout.output_type())? {
        TypeDef::Sequence(sequence) => sequence.type_param.id,
        _ => return Err(EncodeError("the output is not a list".into())),
    };
    let mut out = Compact(neurons.len() as u32).encode();
    for fields in neurons {
        let TypeDef::Composite(composite) = resolve(registry, element)? else {
            return Err(EncodeError("a neuron is not a struct".into()));
        };
        for field in &composite.fields {
            let given = field.name.as_deref().and_then(|name| fields.iter().find(|(n, _)| *n == name));
            match given {
                Some((_, value)) => encode_value(registry, field.ty.id, value, &mut out)?,
                None => encode_zero(registry, field.ty.id, &mut out)?,
            }
        }
    }
    Ok(out)
}

fn resolve(registry: &PortableRegistry, id: u32) -> Result<&TypeDef<scale_info::form::PortableForm>, EncodeError> {
    registry.resolve(id).map(|ty| &ty.type_def).ok_or_else(|| EncodeError(format!("type {id} is not in the registry")))
}

/// The type a newtype (a one-field struct or tuple) wraps, else `id` itself.
fn unwrap_newtype(registry: &PortableRegistry, mut id: u32) -> Result<u32, EncodeError> {
    loop {
        match resolve(registry, id)? {
            TypeDef::Composite(c) if c.fields.len() == 1 => id = c.fields[0].ty.id,
            TypeDef::Tuple(t) if t.fields.len() == 1 => id = t.fields[0].id,
            _ => return Ok(id),
        }
    }
}

fn encode_value(
    registry: &PortableRegistry,
    id: u32,
    value: &FieldValue,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let id = unwrap_newtype(registry, id)?;
    let mismatch = || EncodeError(format!("type {id} cannot hold {value:?}"));
    match (resolve(registry, id)?, value) {
        (TypeDef::Compact(_), FieldValue::Number(n)) => Compact(*n).encode_to(out),
        (TypeDef::Primitive(primitive), FieldValue::Number(n)) => {
            encode_number(primitive, *n, out).ok_or_else(mismatch)?
        }
        (TypeDef::Primitive(TypeDefPrimitive::Bool), FieldValue::Bool(b)) => b.encode_to(out),
        (TypeDef::Array(array), FieldValue::Account(bytes)) if array.len == 32 => out.extend_from_slice(bytes),
        (TypeDef::Sequence(sequence), FieldValue::Entries(entries)) => {
            let TypeDef::Tuple(pair) = resolve(registry, sequence.type_param.id)? else { return Err(mismatch()) };
            let [account, amount] = pair.fields.as_slice() else { return Err(mismatch()) };
            Compact(entries.len() as u32).encode_to(out);
            for (who, how_much) in entries {
                encode_value(registry, account.id, &FieldValue::Account(*who), out)?;
                encode_value(registry, amount.id, &FieldValue::Number(*how_much), out)?;
            }
        }
        _ => return Err(mismatch()),
    }
    Ok(())
}

fn encode_number(primitive: &TypeDefPrimitive, n: u128, out: &mut Vec<u8>) -> Option<()> {
    let width = match primitive {
        TypeDefPrimitive::U8 => 1,
        TypeDefPrimitive::U16 => 2,
        TypeDefPrimitive::U32 => 4,
        TypeDefPrimitive::U64 => 8,
        TypeDefPrimitive::U128 => 16,
        _ => return None,
    };
    (n >> (8 * width - 1) >> 1 == 0).then(|| out.extend_from_slice(&n.to_le_bytes()[..width]))
}

/// The encoding of the type's zero: zero numbers, `false`, empty lists, the first variant.
fn encode_zero(registry: &PortableRegistry, id: u32, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match resolve(registry, id)? {
        TypeDef::Composite(composite) => {
            for field in &composite.fields {
                encode_zero(registry, field.ty.id, out)?;
            }
        }
        TypeDef::Tuple(tuple) => {
            for field in &tuple.fields {
                encode_zero(registry, field.id, out)?;
            }
        }
        TypeDef::Array(array) => {
            for _ in 0..array.len {
                encode_zero(registry, array.type_param.id, out)?;
            }
        }
        TypeDef::Sequence(_) | TypeDef::Compact(_) | TypeDef::BitSequence(_) => out.push(0),
        TypeDef::Variant(variant) => {
            let first =
                variant.variants.iter().min_by_key(|v| v.index).ok_or_else(|| EncodeError("an empty enum".into()))?;
            out.push(first.index);
            for field in &first.fields {
                encode_zero(registry, field.ty.id, out)?;
            }
        }
        TypeDef::Primitive(primitive) => match primitive {
            TypeDefPrimitive::Bool | TypeDefPrimitive::U8 | TypeDefPrimitive::I8 => out.push(0),
            TypeDefPrimitive::Str => out.push(0),
            TypeDefPrimitive::Char => out.extend_from_slice(&[0; 4]),
            TypeDefPrimitive::U16 | TypeDefPrimitive::I16 => out.extend_from_slice(&[0; 2]),
            TypeDefPrimitive::U32 | TypeDefPrimitive::I32 => out.extend_from_slice(&[0; 4]),
            TypeDefPrimitive::U64 | TypeDefPrimitive::I64 => out.extend_from_slice(&[0; 8]),
            TypeDefPrimitive::U128 | TypeDefPrimitive::I128 => out.extend_from_slice(&[0; 16]),
            TypeDefPrimitive::U256 | TypeDefPrimitive::I256 => out.extend_from_slice(&[0; 32]),
        },
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::localnet::chain_node::NodeMetadata;

    fn layout() -> NeuronLayout {
        NeuronLayout::from_metadata_at_version(&NodeMetadata::finney_343().v15).unwrap()
    }

    #[test]
    fn the_metagraph_decoder_reads_back_what_the_node_encodes_under_spec_343() {
        let neuron = |uid: u16, permit: bool, stake: u128| {
            vec![
                ("hotkey", FieldValue::Account([uid as u8; 32])),
                ("coldkey", FieldValue::Account([100 + uid as u8; 32])),
                ("uid", FieldValue::Number(uid.into())),
                ("netuid", FieldValue::Number(7)),
                ("active", FieldValue::Bool(true)),
                ("stake", FieldValue::Entries(vec![([100 + uid as u8; 32], stake), ([9; 32], 1)])),
                ("validator_permit", FieldValue::Bool(permit)),
                ("last_update", FieldValue::Number(1234)),
            ]
        };
        let bytes = encode_neurons(&layout(), &[neuron(0, true, 5_000_000_000), neuron(1, false, 7)]).unwrap();
        let decoded = layout().decode_neurons(&bytes).unwrap();
        assert_eq!(decoded.len(), 2);
        assert_eq!(
            (decoded[0].uid, decoded[0].hotkey, decoded[0].coldkey, decoded[0].validator_permit, decoded[0].stake_rao),
            (0, [0; 32], [100; 32], true, 5_000_000_001)
        );
        assert_eq!((decoded[1].uid, decoded[1].validator_permit, decoded[1].stake_rao), (1, false, 8));
        assert_eq!(encode_neurons(&layout(), &[]).unwrap(), vec![0]);
    }

    #[test]
    fn a_value_the_layout_cannot_hold_is_an_error() {
        let wrong = vec![("hotkey", FieldValue::Bool(true))];
        assert!(encode_neurons(&layout(), &[wrong]).is_err());
        let too_big = vec![("uid", FieldValue::Number(1 << 20))];
        // `uid` is compact, so any number fits; `validator_permit` is a bool and holds no number.
        assert!(encode_neurons(&layout(), &[too_big]).is_ok());
        assert!(encode_neurons(&layout(), &[vec![("validator_permit", FieldValue::Number(1))]]).is_err());
    }
}

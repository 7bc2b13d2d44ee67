//! What a validator needs to know about one runtime to put weights on chain, read from the runtime's own
//! metadata (v14 as `state_getMetadata` answers, or v15 as `Metadata_metadata_at_version(15)` answers): the index
//! and argument types of each call, the transaction extensions in their order, and which storage items exist.
//! Nothing here is a constant: a runtime that moves a call or changes an argument is read as it is, and one that
//! no longer fits is refused with a clear error before anything is signed. Pure: bytes in, values out.

pub use frame_metadata::v14::StorageHasher;
use frame_metadata::v14::{PalletStorageMetadata, StorageEntryType};
use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed, META_RESERVED};
use parity_scale_codec::Decode;
use scale_info::form::PortableForm;
use scale_info::{PortableRegistry, TypeDef, TypeDefPrimitive};

/// The pallet that holds the weight calls and the subnet's hyperparameters.
pub const SUBTENSOR_PALLET: &str = "SubtensorModule";

/// Why a runtime cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot read the runtime's metadata: {0}")]
    Metadata(String),
    #[error("the runtime has no call {pallet}.{call}")]
    NoCall { pallet: String, call: String },
    #[error("the runtime has no storage item {pallet}.{item}")]
    NoStorage { pallet: String, item: String },
    #[error("the runtime's {pallet}.{item} is {found}, not {expected}")]
    StorageShape { pallet: String, item: String, found: String, expected: String },
    #[error("the runtime's {pallet}.{call} takes ({found}), not ({expected})")]
    Arguments { pallet: String, call: String, found: String, expected: String },
    #[error("the runtime's transactions are version {0}; only version 4 can be signed here")]
    ExtrinsicVersion(u8),
    #[error("the runtime's transaction extension {identifier} carries data this validator does not know how to fill")]
    UnknownExtension { identifier: String },
    #[error("the runtime's transaction extension {identifier} is not shaped as expected: {why}")]
    Extension { identifier: String, why: String },
}

/// A type as far as encoding cares: newtype wrappers (`NetUid(u16)`, `BoundedVec<u8, _>`) are seen through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    U8,
    U16,
    U32,
    U64,
    U128,
    Bool,
    Compact(Box<Shape>),
    Sequence(Box<Shape>),
    Array(u32, Box<Shape>),
    /// A struct or tuple of several fields (zero fields: nothing at all on the wire).
    Fields(Vec<Shape>),
    /// An enum, with its variants' names and indices.
    Enum(Vec<(String, u8)>),
    Other(String),
}

impl Shape {
    /// Takes no bytes on the wire.
    pub fn is_empty(&self) -> bool {
        match self {
            Shape::Fields(fields) => fields.iter().all(Shape::is_empty),
            Shape::Array(0, _) => true,
            _ => false,
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::U8 => f.write_str("u8"),
            Shape::U16 => f.write_str("u16"),
            Shape::U32 => f.write_str("u32"),
            Shape::U64 => f.write_str("u64"),
            Shape::U128 => f.write_str("u128"),
            Shape::Bool => f.write_str("bool"),
            Shape::Compact(inner) => write!(f, "Compact<{inner}>"),
            Shape::Sequence(inner) => write!(f, "Vec<{inner}>"),
            Shape::Array(len, inner) => write!(f, "[{inner}; {len}]"),
            Shape::Fields(fields) => {
                let names: Vec<String> = fields.iter().map(ToString::to_string).collect();
                write!(f, "({})", names.join(", "))
            }
            Shape::Enum(variants) => {
                let names: Vec<&str> = variants.iter().map(|(name, _)| name.as_str()).collect();
                write!(f, "enum {{{}}}", names.join(", "))
            }
            Shape::Other(name) => f.write_str(name),
        }
    }
}

/// One call of a pallet: where it sits and what it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallLayout {
    pub pallet_index: u8,
    pub call_index: u8,
    /// Argument names and shapes, in order.
    pub arguments: Vec<(String, Shape)>,
}

/// One transaction extension: what it adds to the transaction (`explicit`) and to the signed payload only
/// (`implicit`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionLayout {
    pub identifier: String,
    pub explicit: Shape,
    pub implicit: Shape,
}

/// The parts of one runtime's metadata the weight setter reads.
pub struct RuntimeLayout {
    registry: PortableRegistry,
    pallets: Vec<PalletLayout>,
    extrinsic_version: u8,
    extensions: Vec<(String, u32, u32)>,
}

struct PalletLayout {
    name: String,
    index: u8,
    calls: Option<u32>,
    storage: Vec<StorageEntry>,
}

/// One storage item as the metadata declares it: the hasher and type of each key, the value's type, and the
/// bytes that stand for an absent value.
#[derive(Debug, Clone)]
struct StorageEntry {
    name: String,
    hashers: Vec<StorageHasher>,
    keys: Vec<u32>,
    value: u32,
    default: Vec<u8>,
}

/// One storage item of a runtime, shaped: how to address it and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageLayout {
    pub pallet: String,
    pub item: String,
    /// Each key's hasher and shape, in order (none for a plain value).
    pub keys: Vec<(StorageHasher, Shape)>,
    pub value: Shape,
    /// What the chain answers for a key it holds nothing under.
    pub default: Vec<u8>,
}

fn storage_entries(storage: Option<&PalletStorageMetadata<PortableForm>>) -> Vec<StorageEntry> {
    let Some(storage) = storage else { return Vec::new() };
    storage
        .entries
        .iter()
        .map(|entry| {
            let (hashers, key, value) = match &entry.ty {
                StorageEntryType::Plain(value) => (Vec::new(), None, value.id),
                StorageEntryType::Map { hashers, key, value } => (hashers.clone(), Some(key.id), value.id),
            };
            StorageEntry {
                name: entry.name.clone(),
                hashers,
                keys: key.into_iter().collect(),
                value,
                default: entry.default.clone(),
            }
        })
        .collect()
}

impl RuntimeLayout {
    /// Reads metadata as either RPC answers it: the bare prefixed metadata of `state_getMetadata`, or the
    /// `Option<Vec<u8>>` around it that `Metadata_metadata_at_version` returns.
    pub fn from_metadata(bytes: &[u8]) -> Result<Self, RuntimeError> {
        let bad = |why: String| RuntimeError::Metadata(why);
        let prefixed = if bytes.starts_with(&META_RESERVED.to_le_bytes()) {
            RuntimeMetadataPrefixed::decode(&mut &bytes[..]).map_err(|e| bad(e.to_string()))?
        } else {
            let inner = Option::<Vec<u8>>::decode(&mut &bytes[..])
                .map_err(|e| bad(format!("neither metadata nor an Option<Vec<u8>> of it: {e}")))?
                .ok_or_else(|| bad("the node does not offer this metadata version".to_string()))?;
            RuntimeMetadataPrefixed::decode(&mut inner.as_slice()).map_err(|e| bad(e.to_string()))?
        };
        if prefixed.0 != META_RESERVED {
            return Err(bad("it does not start with the 'meta' magic number".to_string()));
        }
        match prefixed.1 {
            RuntimeMetadata::V14(m) => Ok(RuntimeLayout {
                pallets: m
                    .pallets
                    .iter()
                    .map(|p| PalletLayout {
                        name: p.name.clone(),
                        index: p.index,
                        calls: p.calls.as_ref().map(|c| c.ty.id),
                        storage: storage_entries(p.storage.as_ref()),
                    })
                    .collect(),
                extrinsic_version: m.extrinsic.version,
                extensions: m
                    .extrinsic
                    .signed_extensions
                    .iter()
                    .map(|e| (e.identifier.clone(), e.ty.id, e.additional_signed.id))
                    .collect(),
                registry: m.types,
            }),
            RuntimeMetadata::V15(m) => Ok(RuntimeLayout {
                pallets: m
                    .pallets
                    .iter()
                    .map(|p| PalletLayout {
                        name: p.name.clone(),
                        index: p.index,
                        calls: p.calls.as_ref().map(|c| c.ty.id),
                        storage: storage_entries(p.storage.as_ref()),
                    })
                    .collect(),
                extrinsic_version: m.extrinsic.version,
                extensions: m
                    .extrinsic
                    .signed_extensions
                    .iter()
                    .map(|e| (e.identifier.clone(), e.ty.id, e.additional_signed.id))
                    .collect(),
                registry: m.types,
            }),
            other => Err(bad(format!("metadata version {} (14 or 15 expected)", other.version()))),
        }
    }

    /// The call `pallet.call`, or why there is none.
    pub fn call(&self, pallet: &str, call: &str) -> Result<CallLayout, RuntimeError> {
        let missing = || RuntimeError::NoCall { pallet: pallet.to_string(), call: call.to_string() };
        let owner = self.pallets.iter().find(|p| p.name == pallet).ok_or_else(missing)?;
        let calls = owner.calls.and_then(|id| self.registry.resolve(id)).ok_or_else(missing)?;
        let TypeDef::Variant(variants) = &calls.type_def else { return Err(missing()) };
        let variant = variants.variants.iter().find(|v| v.name == call).ok_or_else(missing)?;
        let arguments = variant
            .fields
            .iter()
            .map(|field| (field.name.clone().unwrap_or_default(), self.shape(field.ty.id)))
            .collect();
        Ok(CallLayout { pallet_index: owner.index, call_index: variant.index, arguments })
    }

    /// Whether `pallet` has the storage item `item` (how the reveal-round model is chosen).
    pub fn has_storage(&self, pallet: &str, item: &str) -> bool {
        self.pallets.iter().any(|p| p.name == pallet && p.storage.iter().any(|entry| entry.name == item))
    }

    /// The storage item `pallet.item`: its keys' hashers and shapes, its value's shape and default.
    pub fn storage(&self, pallet: &str, item: &str) -> Result<StorageLayout, RuntimeError> {
        let missing = || RuntimeError::NoStorage { pallet: pallet.to_string(), item: item.to_string() };
        let owner = self.pallets.iter().find(|p| p.name == pallet).ok_or_else(missing)?;
        let entry = owner.storage.iter().find(|entry| entry.name == item).ok_or_else(missing)?;
        // Several keys are declared as one tuple type, one hasher each.
        let key_shapes = match entry.keys.first().map(|&id| self.shape(id)) {
            None => Vec::new(),
            Some(Shape::Fields(shapes)) if entry.hashers.len() > 1 => shapes,
            Some(shape) => vec![shape],
        };
        if key_shapes.len() != entry.hashers.len() {
            return Err(RuntimeError::Metadata(format!(
                "{pallet}.{item} has {} hashers for {} keys",
                entry.hashers.len(),
                key_shapes.len()
            )));
        }
        Ok(StorageLayout {
            pallet: pallet.to_string(),
            item: item.to_string(),
            keys: entry.hashers.iter().cloned().zip(key_shapes).collect(),
            value: self.shape(entry.value),
            default: entry.default.clone(),
        })
    }

    /// The transaction extensions in the order the runtime signs them; only version-4 transactions are known.
    pub fn extensions(&self) -> Result<Vec<ExtensionLayout>, RuntimeError> {
        if self.extrinsic_version != 4 {
            return Err(RuntimeError::ExtrinsicVersion(self.extrinsic_version));
        }
        Ok(self
            .extensions
            .iter()
            .map(|(identifier, explicit, implicit)| ExtensionLayout {
                identifier: identifier.clone(),
                explicit: self.shape(*explicit),
                implicit: self.shape(*implicit),
            })
            .collect())
    }

    /// The encoding shape of type `id`, newtypes seen through.
    pub fn shape(&self, id: u32) -> Shape {
        self.shape_at(id, 0)
    }

    fn shape_at(&self, id: u32, depth: usize) -> Shape {
        let Some(ty) = self.registry.resolve(id) else { return Shape::Other(format!("unknown type {id}")) };
        if depth > 32 {
            return Shape::Other("a type nested too deep".to_string());
        }
        let inner = |id: u32| Box::new(self.shape_at(id, depth + 1));
        match &ty.type_def {
            TypeDef::Primitive(primitive) => match primitive {
                TypeDefPrimitive::U8 => Shape::U8,
                TypeDefPrimitive::U16 => Shape::U16,
                TypeDefPrimitive::U32 => Shape::U32,
                TypeDefPrimitive::U64 => Shape::U64,
                TypeDefPrimitive::U128 => Shape::U128,
                TypeDefPrimitive::Bool => Shape::Bool,
                other => Shape::Other(format!("{other:?}").to_lowercase()),
            },
            TypeDef::Compact(compact) => Shape::Compact(inner(compact.type_param.id)),
            TypeDef::Sequence(sequence) => Shape::Sequence(inner(sequence.type_param.id)),
            TypeDef::Array(array) => Shape::Array(array.len, inner(array.type_param.id)),
            TypeDef::Tuple(tuple) => fields(tuple.fields.iter().map(|f| self.shape_at(f.id, depth + 1)).collect()),
            TypeDef::Composite(composite) => {
                fields(composite.fields.iter().map(|f| self.shape_at(f.ty.id, depth + 1)).collect())
            }
            TypeDef::Variant(variant) => {
                Shape::Enum(variant.variants.iter().map(|v| (v.name.clone(), v.index)).collect())
            }
            TypeDef::BitSequence(_) => Shape::Other("a bit sequence".to_string()),
        }
    }
}

/// A one-field struct or tuple is its field on the wire.
fn fields(mut shapes: Vec<Shape>) -> Shape {
    if shapes.len() == 1 {
        shapes.pop().expect("one field")
    } else {
        Shape::Fields(shapes)
    }
}

#[cfg(test)]
pub(crate) mod tests;

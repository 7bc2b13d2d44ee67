//! The runtime's storage items addressed and read as its metadata declares them: each key hashed with the
//! hasher the metadata names for it, a value checked against the shape the reader expects before it is decoded,
//! and an absent value read as the metadata's default. Pure: the bytes come from the node elsewhere.

use blake2::digest::consts::{U16, U32};
use blake2::{Blake2b, Digest};
use parity_scale_codec::Decode;

use super::runtime::{RuntimeError, Shape, StorageHasher, StorageLayout};

/// `twox128(data)`: the hash of pallet and item names in every storage key.
pub fn twox_128(data: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&twox_hash::XxHash64::oneshot(0, data).to_le_bytes());
    out[8..].copy_from_slice(&twox_hash::XxHash64::oneshot(1, data).to_le_bytes());
    out
}

fn twox_256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (seed, chunk) in out.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&twox_hash::XxHash64::oneshot(seed as u64, data).to_le_bytes());
    }
    out
}

/// One key's part of a storage key.
fn hashed(hasher: &StorageHasher, key: &[u8]) -> Vec<u8> {
    match hasher {
        StorageHasher::Identity => key.to_vec(),
        StorageHasher::Twox64Concat => {
            let mut out = twox_hash::XxHash64::oneshot(0, key).to_le_bytes().to_vec();
            out.extend_from_slice(key);
            out
        }
        StorageHasher::Blake2_128Concat => {
            let mut out = Blake2b::<U16>::digest(key).to_vec();
            out.extend_from_slice(key);
            out
        }
        StorageHasher::Blake2_128 => Blake2b::<U16>::digest(key).to_vec(),
        StorageHasher::Blake2_256 => Blake2b::<U32>::digest(key).to_vec(),
        StorageHasher::Twox128 => twox_128(key).to_vec(),
        StorageHasher::Twox256 => twox_256(key).to_vec(),
    }
}

/// `twox128(pallet) ++ twox128(item) ++ blake2_128(key) ++ key`: a `Blake2_128Concat` map's key, for readers
/// that know their item without metadata (the drand pallet's pulses).
pub fn blake2_128_concat_key(pallet: &str, item: &str, key: &[u8]) -> Vec<u8> {
    let mut out = prefix(pallet, item);
    out.extend(hashed(&StorageHasher::Blake2_128Concat, key));
    out
}

fn prefix(pallet: &str, item: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(&twox_128(pallet.as_bytes()));
    out.extend_from_slice(&twox_128(item.as_bytes()));
    out
}

impl StorageLayout {
    /// The storage key under which the item holds the value for `keys` (each SCALE-encoded, in order).
    pub fn key(&self, keys: &[&[u8]]) -> Result<Vec<u8>, RuntimeError> {
        if keys.len() != self.keys.len() {
            return Err(self.wrong_shape(format!("{} keys", self.keys.len()), format!("{} keys", keys.len())));
        }
        let mut out = prefix(&self.pallet, &self.item);
        for ((hasher, _), key) in self.keys.iter().zip(keys) {
            out.extend(hashed(hasher, key));
        }
        Ok(out)
    }

    /// Refuses an item whose keys or value are not what the reader will encode and decode.
    pub fn expect(&self, keys: &[Shape], value: &Shape) -> Result<(), RuntimeError> {
        let found: Vec<&Shape> = self.keys.iter().map(|(_, shape)| shape).collect();
        if found.iter().copied().ne(keys.iter()) || self.value != *value {
            let show = |keys: Vec<&Shape>, value: &Shape| {
                let keys: Vec<String> = keys.iter().map(ToString::to_string).collect();
                format!("({}) -> {value}", keys.join(", "))
            };
            return Err(self.wrong_shape(show(found, &self.value), show(keys.iter().collect(), value)));
        }
        Ok(())
    }

    /// The value the node answered (`None`: it holds nothing there), or the item's default.
    pub fn decode<T: Decode>(&self, answered: Option<&[u8]>) -> Result<T, RuntimeError> {
        let mut bytes = answered.unwrap_or(&self.default);
        let value = T::decode(&mut bytes)
            .map_err(|e| self.wrong_shape(format!("undecodable ({e})"), self.value.to_string()))?;
        if !bytes.is_empty() {
            return Err(self.wrong_shape(format!("{} bytes too long", bytes.len()), self.value.to_string()));
        }
        Ok(value)
    }

    fn wrong_shape(&self, found: String, expected: String) -> RuntimeError {
        RuntimeError::StorageShape { pallet: self.pallet.clone(), item: self.item.clone(), found, expected }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::subtensor::runtime::tests::finney_metadata;
    use crate::chain::subtensor::runtime::{RuntimeLayout, SUBTENSOR_PALLET};
    use parity_scale_codec::Encode;

    #[test]
    fn keys_follow_each_items_declared_hashers() {
        let runtime = RuntimeLayout::from_metadata(&finney_metadata(343, "v15")).unwrap();
        let tempo = runtime.storage(SUBTENSOR_PALLET, "Tempo").unwrap();
        tempo.expect(&[Shape::U16], &Shape::U16).unwrap();
        let key = tempo.key(&[&46u16.encode()]).unwrap();
        assert_eq!(key.len(), 32 + 2, "Identity: the netuid itself");
        assert_eq!(&key[32..], &[46, 0]);
        assert_eq!(tempo.decode::<u16>(None).unwrap(), 360, "the default tempo");
        assert_eq!(tempo.decode::<u16>(Some(&[99, 0])).unwrap(), 99);
        assert!(tempo.decode::<u16>(Some(&[99, 0, 0])).is_err());
        assert!(tempo.key(&[]).is_err());
        assert!(tempo.expect(&[Shape::U16], &Shape::U64).is_err());

        let reveal = runtime.storage(SUBTENSOR_PALLET, "RevealPeriodEpochs").unwrap();
        let key = reveal.key(&[&46u16.encode()]).unwrap();
        assert_eq!(&key[32..40], &twox_hash::XxHash64::oneshot(0, &[46, 0]).to_le_bytes());
        let uids = runtime.storage(SUBTENSOR_PALLET, "Uids").unwrap();
        assert_eq!(uids.keys.len(), 2);
        assert_eq!(uids.key(&[&46u16.encode(), &[7; 32]]).unwrap().len(), 32 + 2 + 16 + 32);
        assert!(matches!(runtime.storage(SUBTENSOR_PALLET, "NoSuchItem"), Err(RuntimeError::NoStorage { .. })));
    }

    #[test]
    fn the_drand_pallets_pulse_key_is_the_metadata_free_form_of_the_same_rule() {
        let key = blake2_128_concat_key("Drand", "Pulses", &1000u64.encode());
        assert_eq!(key.len(), 32 + 16 + 8);
        assert_eq!(&key[48..], &1000u64.encode()[..]);
    }
}

use std::io::Read;

use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
use parity_scale_codec::{Decode, Encode};

use super::*;
use crate::chain::subtensor::calls::WeightCall;

/// The finney runtime's metadata as recorded in the bittensor SDK's test data (spec 320 and 343), in the form
/// `version` ("v14": `state_getMetadata`; "v15": `Metadata_metadata_at_version(15)`) answers it.
pub(crate) fn finney_metadata(spec: u32, version: &str) -> Vec<u8> {
    let path = format!("{}/tests/vectors/finney/spec{spec}.metadata-{version}.scale.gz", env!("CARGO_MANIFEST_DIR"));
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).expect("recorded metadata"))
        .read_to_end(&mut bytes)
        .expect("gzip");
    bytes
}

fn set_weights() -> WeightCall {
    WeightCall::SetWeights { netuid: 46, dests: vec![238, 5, 7], weights: vec![65535, 1234, 1], version_key: 1038 }
}

fn commit() -> WeightCall {
    WeightCall::CommitTimelockedWeights {
        netuid: 46,
        commit: vec![0xab; 5],
        reveal_round: 12_345_678,
        commit_reveal_version: 4,
    }
}

#[test]
fn both_recorded_runtimes_in_both_forms_encode_the_sdks_bytes() {
    for spec in [320, 343] {
        for version in ["v14", "v15"] {
            let runtime = RuntimeLayout::from_metadata(&finney_metadata(spec, version)).unwrap();
            // The SDK's compose_call over the same metadata.
            assert_eq!(
                hex::encode(set_weights().encode(&runtime).unwrap()),
                "07002e000cee00050007000cffffd20401000e04000000000000",
                "spec {spec} {version}"
            );
            assert_eq!(hex::encode(commit().encode(&runtime).unwrap()), "07712e0014ababababab4e61bc00000000000400");
            assert!(runtime.has_storage(SUBTENSOR_PALLET, "CommitRevealWeightsEnabled"));
            assert!(!runtime.has_storage(SUBTENSOR_PALLET, "NoSuchItem"));
            let names: Vec<String> = runtime.extensions().unwrap().into_iter().map(|e| e.identifier).collect();
            assert_eq!(names.first().map(String::as_str), Some("CheckNonZeroSender"));
            assert_eq!(names.last().map(String::as_str), Some("CheckMetadataHash"));
        }
    }
}

/// The spec-343 metadata (v14) with `edit` applied to its decoded form, encoded again.
pub(crate) fn edited(edit: impl FnOnce(&mut frame_metadata::v14::RuntimeMetadataV14)) -> RuntimeLayout {
    let bytes = finney_metadata(343, "v14");
    let mut prefixed = RuntimeMetadataPrefixed::decode(&mut bytes.as_slice()).unwrap();
    let RuntimeMetadata::V14(metadata) = &mut prefixed.1 else { panic!("v14") };
    edit(metadata);
    RuntimeLayout::from_metadata(&prefixed.encode()).unwrap()
}

fn subtensor_calls(
    metadata: &mut frame_metadata::v14::RuntimeMetadataV14,
) -> &mut scale_info::TypeDefVariant<scale_info::form::PortableForm> {
    let id = metadata.pallets.iter().find(|p| p.name == SUBTENSOR_PALLET).unwrap().calls.as_ref().unwrap().ty.id;
    let ty = metadata.types.types.iter_mut().find(|t| t.id == id).unwrap();
    let scale_info::TypeDef::Variant(variants) = &mut ty.ty.type_def else { panic!("calls are an enum") };
    variants
}

#[test]
fn a_runtime_without_the_call_is_refused() {
    let runtime = edited(|m| subtensor_calls(m).variants.retain(|v| v.name != "set_weights"));
    let error = set_weights().encode(&runtime).unwrap_err();
    assert_eq!(error.to_string(), "the runtime has no call SubtensorModule.set_weights");
    assert!(commit().encode(&runtime).is_ok());
}

#[test]
fn a_call_whose_arguments_changed_is_refused() {
    let runtime = edited(|m| {
        let call = subtensor_calls(m).variants.iter_mut().find(|v| v.name == "set_weights").unwrap();
        call.fields.swap(1, 2);
    });
    let error = set_weights().encode(&runtime).unwrap_err().to_string();
    assert!(error.contains("takes (netuid: u16, weights: Vec<u16>, dests: Vec<u16>, version_key: u64)"), "{error}");
    let runtime = edited(|m| {
        let call = subtensor_calls(m).variants.iter_mut().find(|v| v.name == "commit_timelocked_weights").unwrap();
        call.fields.pop();
    });
    assert!(matches!(commit().encode(&runtime), Err(RuntimeError::Arguments { .. })));
}

#[test]
fn a_moved_call_is_encoded_where_it_now_sits() {
    let runtime = edited(|m| {
        let call = subtensor_calls(m).variants.iter_mut().find(|v| v.name == "set_weights").unwrap();
        call.index = 200;
    });
    assert_eq!(&set_weights().encode(&runtime).unwrap()[..2], &[7, 200]);
}

#[test]
fn garbage_is_no_metadata() {
    for bytes in [&b""[..], b"\x00", b"\x01\x04meta", b"meta\x0e"] {
        assert!(matches!(RuntimeLayout::from_metadata(bytes), Err(RuntimeError::Metadata(_))), "{bytes:?}");
    }
}

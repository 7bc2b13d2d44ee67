use parity_scale_codec::Decode;

use super::*;
use crate::chain::subtensor::calls::WeightCall;
use crate::chain::subtensor::runtime::tests::{edited, finney_metadata};
use crate::domain::access::auth::{verify_hotkey_signature, HotkeySignature};

fn context() -> SigningContext {
    SigningContext {
        spec_version: 343,
        transaction_version: 1,
        genesis_hash: [0x2f; 32],
        birth_block: 6_553_607,
        birth_hash: [0x11; 32],
        nonce: 17,
    }
}

fn call(runtime: &RuntimeLayout) -> Vec<u8> {
    WeightCall::SetWeights { netuid: 46, dests: vec![238, 5, 7], weights: vec![65535, 1234, 1], version_key: 1038 }
        .encode(runtime)
        .unwrap()
}

#[test]
fn eras_encode_as_substrate_encodes_them() {
    // Era::mortal(64, 42) is 0x05 0x0a and Era::mortal(32768, 20000) is 0x4e 0x9c in substrate's own tests.
    assert_eq!(MortalEra::new(64, 42).encode(), [0xa5, 0x02]);
    assert_eq!(MortalEra::new(32768, 20000).encode(), [0x4e, 0x9c]);
    assert_eq!(MortalEra::new(32, 6_553_607), MortalEra { period: 32, phase: 7 });
}

#[test]
fn a_signed_set_weights_carries_its_parts_in_the_runtimes_order() {
    let runtime = RuntimeLayout::from_metadata(&finney_metadata(343, "v15")).unwrap();
    let alice = Keypair::from_uri("//Alice").unwrap();
    let call = call(&runtime);
    let signed = sign_extrinsic(&runtime, &call, &context(), &alice).unwrap();
    let mut input = signed.bytes.as_slice();
    let length = parity_scale_codec::Compact::<u32>::decode(&mut input).unwrap().0 as usize;
    assert_eq!(length, input.len());
    assert_eq!(input[0], 0x84);
    assert_eq!(input[1], 0x00);
    assert_eq!(&input[2..34], alice.hotkey().public_bytes());
    assert_eq!(input[34], 0x01);
    let signature = HotkeySignature::from_bytes(input[35..99].try_into().unwrap());
    // Explicit: era, Compact nonce 17, Compact tip 0, metadata-hash mode 0; then the call.
    let era = MortalEra::new(MORTAL_PERIOD, 6_553_607).encode();
    assert_eq!(&input[99..104], &[era[0], era[1], 17 << 2, 0, 0][..]);
    assert_eq!(&input[104..], &call[..]);
    // The payload: call, explicit, then spec, transaction version, genesis, birth hash, no metadata hash.
    let mut payload = call.clone();
    payload.extend_from_slice(&input[99..104]);
    payload.extend_from_slice(&343u32.to_le_bytes());
    payload.extend_from_slice(&1u32.to_le_bytes());
    payload.extend_from_slice(&[0x2f; 32]);
    payload.extend_from_slice(&[0x11; 32]);
    payload.push(0);
    assert_eq!(signed.payload, payload);
    assert!(verify_hotkey_signature(&alice.hotkey(), &payload, &signature));
}

#[test]
fn long_payloads_are_signed_by_their_hash() {
    let runtime = RuntimeLayout::from_metadata(&finney_metadata(320, "v14")).unwrap();
    let alice = Keypair::from_uri("//Alice").unwrap();
    let call = WeightCall::SetWeights { netuid: 1, dests: (0..200).collect(), weights: vec![9; 200], version_key: 0 }
        .encode(&runtime)
        .unwrap();
    let signed = sign_extrinsic(&runtime, &call, &context(), &alice).unwrap();
    assert!(signed.payload.len() > 256);
    let mut input = signed.bytes.as_slice();
    parity_scale_codec::Compact::<u32>::decode(&mut input).unwrap();
    let signature = HotkeySignature::from_bytes(input[35..99].try_into().unwrap());
    let hashed = Blake2b::<U32>::digest(&signed.payload);
    assert!(verify_hotkey_signature(&alice.hotkey(), &hashed, &signature));
    assert!(!verify_hotkey_signature(&alice.hotkey(), &signed.payload, &signature));
}

/// The spec-343 runtime with one more transaction extension, `Mystery`, whose explicit part is type `ty_of`.
fn with_extension(ty_of: impl Fn(&frame_metadata::v14::RuntimeMetadataV14) -> u32) -> RuntimeLayout {
    edited(|m| {
        let ty = ty_of(m);
        let mut mystery = m.extrinsic.signed_extensions[0].clone();
        mystery.identifier = "Mystery".to_string();
        mystery.ty.id = ty;
        m.extrinsic.signed_extensions.insert(3, mystery);
    })
}

#[test]
fn an_unknown_extension_that_carries_data_is_refused_and_an_empty_one_skipped() {
    let alice = Keypair::from_uri("//Alice").unwrap();
    let carrying = with_extension(|m| {
        let nonce = m.extrinsic.signed_extensions.iter().find(|e| e.identifier == "CheckNonce").unwrap();
        nonce.ty.id
    });
    let error = sign_extrinsic(&carrying, &call(&carrying), &context(), &alice).unwrap_err();
    assert_eq!(error, RuntimeError::UnknownExtension { identifier: "Mystery".to_string() });
    let empty = with_extension(|m| m.extrinsic.signed_extensions[0].ty.id);
    let plain = RuntimeLayout::from_metadata(&finney_metadata(343, "v14")).unwrap();
    assert_eq!(
        sign_extrinsic(&empty, &call(&empty), &context(), &alice).unwrap().payload,
        sign_extrinsic(&plain, &call(&plain), &context(), &alice).unwrap().payload
    );
}

#[test]
fn a_known_extension_of_another_shape_is_refused() {
    let alice = Keypair::from_uri("//Alice").unwrap();
    let runtime = edited(|m| {
        let spec = m
            .extrinsic
            .signed_extensions
            .iter()
            .find(|e| e.identifier == "CheckSpecVersion")
            .unwrap()
            .additional_signed;
        let nonce = m.extrinsic.signed_extensions.iter_mut().find(|e| e.identifier == "CheckNonce").unwrap();
        nonce.ty = spec;
    });
    let error = sign_extrinsic(&runtime, &call(&runtime), &context(), &alice).unwrap_err();
    assert!(matches!(error, RuntimeError::Extension { ref identifier, .. } if identifier == "CheckNonce"), "{error}");
}

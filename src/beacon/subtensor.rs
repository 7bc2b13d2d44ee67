//! quicknet pulses as the Bittensor chain stores them: subtensor's drand pallet keeps verified pulses in
//! `Drand::Pulses`, a map from round (`u64`, `Blake2_128Concat`) to `{round: u64, randomness: Vec<u8>,
//! signature: Vec<u8>}` (SCALE). Read with `state_getStorage` over the same JSON-RPC endpoints as the metagraph,
//! tried in order, and verified here again against the chain's key: the chain is a relay like any other.

use std::time::Duration;

use blake2::Digest;
use parity_scale_codec::{Compact, Decode, Encode};
use serde_json::json;

use super::{first_verified, PulseFuture, PulseRefusal, PulseSource};
use crate::chain::subtensor::rpc::{hex_bytes, node_client, RpcCaller, RpcEndpoint};
use crate::chain::subtensor::storage::blake2_128_concat_key;
use crate::domain::epoch::beacon::{BeaconChain, Pulse, Round};

pub struct SubtensorPulses {
    chain: BeaconChain,
    endpoints: Vec<RpcEndpoint>,
    timeout: Duration,
    http: reqwest::Client,
}

/// The storage key of round `round`'s pulse.
pub fn pulse_key(round: Round) -> Vec<u8> {
    blake2_128_concat_key("Drand", "Pulses", &round.encode())
}

/// A stored pulse's SCALE bytes as the pallet writes them.
pub fn decode_stored_pulse(round: Round, mut bytes: &[u8]) -> Result<Pulse, PulseRefusal> {
    let malformed =
        |what: &'static str| move |e: parity_scale_codec::Error| PulseRefusal::Malformed(format!("{what}: {e}"));
    let stored_round = u64::decode(&mut bytes).map_err(malformed("round"))?;
    let _randomness = Vec::<u8>::decode(&mut bytes).map_err(malformed("randomness"))?;
    let signature = Vec::<u8>::decode(&mut bytes).map_err(malformed("signature"))?;
    if !bytes.is_empty() {
        return Err(PulseRefusal::Malformed(format!("{} bytes after the pulse", bytes.len())));
    }
    if stored_round != round {
        return Err(PulseRefusal::Malformed(format!("stored under round {round} but names round {stored_round}")));
    }
    Ok(Pulse::from_hex(round, &hex::encode(signature))?)
}

/// The SCALE bytes the pallet stores for `pulse` (tests and the fake node use them).
pub fn encode_stored_pulse(pulse: &Pulse) -> Vec<u8> {
    let randomness: [u8; 32] = sha2::Sha256::digest(pulse.signature).into();
    let mut out = pulse.round.encode();
    Compact(32u32).encode_to(&mut out);
    out.extend_from_slice(&randomness);
    Compact(48u32).encode_to(&mut out);
    out.extend_from_slice(&pulse.signature);
    out
}

impl SubtensorPulses {
    pub fn new(chain: BeaconChain, endpoints: Vec<RpcEndpoint>, timeout: Duration) -> SubtensorPulses {
        let http = node_client(timeout);
        SubtensorPulses { chain, endpoints, timeout, http }
    }

    async fn ask(&self, endpoint: &RpcEndpoint, round: Round) -> Result<Pulse, PulseRefusal> {
        let rpc = RpcCaller { http: &self.http, endpoint, timeout: self.timeout };
        let key = format!("0x{}", hex::encode(pulse_key(round)));
        let stored =
            rpc.call("state_getStorage", json!([key])).await.map_err(|e| PulseRefusal::Transport(e.to_string()))?;
        if stored.is_null() {
            return Err(PulseRefusal::NotStored);
        }
        let bytes = hex_bytes(&stored).map_err(|e| PulseRefusal::Malformed(e.to_string()))?;
        decode_stored_pulse(round, &bytes)
    }
}

impl PulseSource for SubtensorPulses {
    fn chain(&self) -> &BeaconChain {
        &self.chain
    }

    fn describe(&self) -> String {
        // Endpoints are not named: their URLs may carry API keys.
        format!("subtensor {} ({} endpoints)", self.chain.name, self.endpoints.len())
    }

    fn verified_pulse(&self, round: Round) -> PulseFuture<'_> {
        // Endpoints are named by position: their URLs may carry API keys.
        let name = |n: usize, _: &RpcEndpoint| format!("endpoint {}", n + 1);
        Box::pin(first_verified(&self.chain, round, &self.endpoints, name, move |endpoint| self.ask(endpoint, round)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::epoch::beacon::QUICKNET;

    #[test]
    fn storage_keys_follow_substrate() {
        // System::Account of //Alice, the best-known storage key there is.
        let alice = hex::decode("d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d").unwrap();
        assert_eq!(
            hex::encode(blake2_128_concat_key("System", "Account", &alice)),
            "26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9de1e86a9a8c739864cf3cc5ec2bea59f\
             d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
        );
        assert!(pulse_key(1_000).ends_with(&1_000u64.to_le_bytes()));
    }

    #[test]
    fn stored_quicknet_pulses_decode_and_verify() {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/vectors/drand-quicknet.json")).unwrap();
        let first = &vectors["pulses"][0];
        let round = first["round"].as_u64().unwrap();
        let pulse = Pulse::from_hex(round, first["signature"].as_str().unwrap()).unwrap();
        let stored = encode_stored_pulse(&pulse);
        assert_eq!(stored.len(), 8 + 1 + 32 + 1 + 48);
        let decoded = decode_stored_pulse(round, &stored).unwrap();
        assert_eq!(hex::encode(QUICKNET.verify(&decoded).unwrap().as_bytes()), first["randomness"].as_str().unwrap());
        assert!(decode_stored_pulse(round + 1, &stored).unwrap_err().to_string().contains("names round"));
        assert!(decode_stored_pulse(round, &stored[..50]).is_err());
    }
}

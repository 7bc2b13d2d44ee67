//! The development metagraph: Substrate's well-known dev accounts, for local runs only. `//Alice` and `//Bob`
//! are validators with a permit and ample stake; `//Charlie` to `//Ferdie` are miners.

use std::collections::HashMap;

use super::{MetagraphSource, SourceFuture};
use crate::domain::access::keys::Keypair;
use crate::domain::access::metagraph::{MetagraphSnapshot, Neuron};

pub const DEV_VALIDATORS: [&str; 2] = ["//Alice", "//Bob"];
pub const DEV_MINERS: [&str; 4] = ["//Charlie", "//Dave", "//Eve", "//Ferdie"];
/// Stake given to the dev validators: well above the default threshold.
pub const DEV_VALIDATOR_STAKE: f64 = 1_000_000.0;
/// The service's own key on a dev network (not a neuron): what Epistula requests are signed for.
pub const DEV_SERVICE: &str = "//Zipcoord";

/// The address of [`DEV_SERVICE`].
pub fn dev_service_hotkey() -> crate::domain::hotkey::Hotkey {
    Keypair::from_uri(DEV_SERVICE).expect("dev URIs are valid").hotkey()
}

/// The coldkey of the dev neuron `uri` (its `//stash` account).
pub fn dev_coldkey(uri: &str) -> crate::domain::hotkey::Hotkey {
    Keypair::from_uri(&format!("{uri}//stash")).expect("dev URIs are valid").hotkey()
}

/// The dev snapshot; derived once at start-up (key derivation is not free).
pub fn dev_snapshot(now_unix: i64) -> MetagraphSnapshot {
    let mut neurons = HashMap::new();
    for (uid, uri) in DEV_VALIDATORS.iter().chain(DEV_MINERS.iter()).enumerate() {
        let hotkey = Keypair::from_uri(uri).expect("dev URIs are valid").hotkey();
        let coldkey = dev_coldkey(uri);
        let validator = uid < DEV_VALIDATORS.len();
        neurons.insert(
            hotkey,
            Neuron {
                uid: uid as u16,
                coldkey: coldkey.to_string(),
                validator_permit: validator,
                stake: if validator { DEV_VALIDATOR_STAKE } else { 10.0 },
            },
        );
    }
    MetagraphSnapshot { block: None, fetched_at_unix: now_unix, neurons }
}

pub struct DevSource {
    template: MetagraphSnapshot,
}

impl DevSource {
    pub fn new() -> Self {
        DevSource { template: dev_snapshot(0) }
    }
}

impl Default for DevSource {
    fn default() -> Self {
        Self::new()
    }
}

impl MetagraphSource for DevSource {
    fn describe(&self) -> String {
        "dev".to_string()
    }

    fn fetch(&self, now_unix: i64) -> SourceFuture<'_> {
        let snapshot = MetagraphSnapshot { fetched_at_unix: now_unix, ..self.template.clone() };
        Box::pin(async move { Ok(snapshot) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::auth::Role;

    #[test]
    fn alice_validates_and_charlie_mines() {
        let snapshot = dev_snapshot(0);
        let alice = Keypair::from_uri("//Alice").unwrap().hotkey();
        let charlie = Keypair::from_uri("//Charlie").unwrap().hotkey();
        assert!(snapshot.authorize(&alice, Role::Validator, 20_000.0).is_ok());
        assert!(snapshot.authorize(&charlie, Role::Validator, 20_000.0).is_err());
        assert!(snapshot.authorize(&charlie, Role::Miner, 20_000.0).is_ok());
        assert_eq!(snapshot.neurons.len(), 6);
    }
}

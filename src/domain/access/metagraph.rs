//! A snapshot of the subnet's metagraph and the roles it grants.

use std::collections::HashMap;

use crate::domain::access::auth::Role;
use crate::domain::hotkey::Hotkey;

/// One registered neuron.
#[derive(Debug, Clone, PartialEq)]
pub struct Neuron {
    pub uid: u16,
    pub coldkey: String,
    pub validator_permit: bool,
    /// Stake in whole alpha units.
    pub stake: f64,
}

impl Neuron {
    /// A validator for this service: a permit and at least `validator_min_stake` (a NaN stake never is).
    pub fn is_validator(&self, validator_min_stake: f64) -> bool {
        self.validator_permit && self.stake >= validator_min_stake
    }
}

/// Registered hotkeys at one block. Replaced whole on refresh, never edited in place.
#[derive(Debug, Clone, PartialEq)]
pub struct MetagraphSnapshot {
    pub block: Option<u64>,
    /// When the source produced it (Unix seconds).
    pub fetched_at_unix: i64,
    pub neurons: HashMap<Hotkey, Neuron>,
}

/// Why a hotkey may not do what it asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RoleError {
    #[error("hotkey is not registered on the subnet")]
    NotRegistered,
    #[error("validator permit required")]
    NoValidatorPermit,
    #[error("validator stake {stake} is below the required {required}")]
    InsufficientStake { stake: f64, required: f64 },
}

impl RoleError {
    /// A short label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            RoleError::NotRegistered => "unregistered",
            RoleError::NoValidatorPermit => "no_validator_permit",
            RoleError::InsufficientStake { .. } => "insufficient_stake",
        }
    }
}

impl MetagraphSnapshot {
    /// The registered miners (every neuron that is not a validator), for grouping; in no particular order.
    pub fn miner_roster(&self, validator_min_stake: f64) -> Vec<crate::domain::epoch::groups::RosterMiner> {
        self.neurons
            .iter()
            .filter(|(_, neuron)| !neuron.is_validator(validator_min_stake))
            .map(|(hotkey, neuron)| crate::domain::epoch::groups::RosterMiner {
                hotkey: hotkey.clone(),
                coldkey: neuron.coldkey.clone(),
            })
            .collect()
    }

    pub fn neuron(&self, hotkey: &Hotkey) -> Option<&Neuron> {
        self.neurons.get(hotkey)
    }

    /// Checks that `hotkey` may act as `role`: any registered hotkey is a miner; a validator also needs a permit
    /// and at least `validator_min_stake`.
    pub fn authorize(&self, hotkey: &Hotkey, role: Role, validator_min_stake: f64) -> Result<&Neuron, RoleError> {
        let neuron = self.neuron(hotkey).ok_or(RoleError::NotRegistered)?;
        if role == Role::Validator {
            if !neuron.validator_permit {
                return Err(RoleError::NoValidatorPermit);
            }
            // Written so that a NaN stake never passes.
            if neuron.stake.partial_cmp(&validator_min_stake).is_none_or(|o| o.is_lt()) {
                return Err(RoleError::InsufficientStake { stake: neuron.stake, required: validator_min_stake });
            }
        }
        Ok(neuron)
    }

    pub fn validator_count(&self, validator_min_stake: f64) -> usize {
        self.neurons.values().filter(|n| n.is_validator(validator_min_stake)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::keys::Keypair;

    #[test]
    fn roles_follow_permit_and_stake() {
        let validator = Keypair::from_uri("//Alice").unwrap().hotkey();
        let poor_validator = Keypair::from_uri("//Bob").unwrap().hotkey();
        let miner = Keypair::from_uri("//Charlie").unwrap().hotkey();
        let stranger = Keypair::from_uri("//Dave").unwrap().hotkey();
        let neuron = |uid, permit, stake| Neuron { uid, coldkey: "ck".into(), validator_permit: permit, stake };
        let snapshot = MetagraphSnapshot {
            block: Some(1),
            fetched_at_unix: 0,
            neurons: HashMap::from([
                (validator.clone(), neuron(0, true, 20_000.0)),
                (poor_validator.clone(), neuron(1, true, 19_999.9)),
                (miner.clone(), neuron(2, false, 1e9)),
            ]),
        };
        assert!(snapshot.authorize(&validator, Role::Validator, 20_000.0).is_ok());
        assert!(snapshot.authorize(&validator, Role::Miner, 20_000.0).is_ok());
        assert!(matches!(
            snapshot.authorize(&poor_validator, Role::Validator, 20_000.0),
            Err(RoleError::InsufficientStake { .. })
        ));
        assert_eq!(snapshot.authorize(&miner, Role::Validator, 20_000.0), Err(RoleError::NoValidatorPermit));
        assert!(snapshot.authorize(&miner, Role::Miner, 20_000.0).is_ok());
        assert_eq!(snapshot.authorize(&stranger, Role::Miner, 0.0), Err(RoleError::NotRegistered));
        assert_eq!(snapshot.validator_count(20_000.0), 1);
    }
}

//! Each miner's credibility as this validator has judged it in `groups` epochs: an exponential moving average of
//! its agreement with its groups (see [`crate::domain::consensus::next_credibility`]), kept in the validator's
//! state directory. It weighs a miner's votes in later comparisons and nothing else: a miner caught lying gets
//! no weight however credible it was, and its credibility falls to what its agreement earns.

use std::collections::BTreeMap;

use super::state::StateDir;
use crate::domain::consensus::{next_credibility, NEUTRAL_CREDIBILITY};

const FILE: &str = "credibility.json";
const KIND: &str = "credibility";
/// The weight of the newest epoch in the average: about a day of 4-hour epochs to move halfway.
pub const CREDIBILITY_ALPHA: f64 = 0.3;

/// Credibility by hotkey.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredibilityBook {
    pub by_hotkey: BTreeMap<String, f64>,
}

impl CredibilityBook {
    pub fn load(state: &StateDir) -> CredibilityBook {
        state.read(FILE, KIND).unwrap_or_default()
    }

    /// A miner's credibility; [`NEUTRAL_CREDIBILITY`] for one never judged (or stored as something unusable).
    pub fn of(&self, hotkey: &str) -> f64 {
        self.by_hotkey.get(hotkey).copied().filter(|c| c.is_finite()).map_or(NEUTRAL_CREDIBILITY, |c| c.clamp(0.0, 1.0))
    }

    /// Moves `hotkey`'s credibility towards `agreement_rate` (0 for a liar).
    pub fn update(&mut self, hotkey: &str, agreement_rate: f64) {
        let next = next_credibility(self.by_hotkey.get(hotkey).copied(), agreement_rate, CREDIBILITY_ALPHA);
        self.by_hotkey.insert(hotkey.to_string(), next);
    }

    /// Keeps the registered hotkeys only (the book stays as large as the subnet), then saves.
    pub fn save(&mut self, state: &StateDir, registered: &dyn Fn(&str) -> bool) {
        self.by_hotkey.retain(|hotkey, _| registered(hotkey));
        if let Err(error) = state.write(FILE, KIND, self) {
            tracing::warn!(%error, "cannot keep the miners' credibility");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credibility_starts_neutral_moves_with_agreement_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path(), "5validator".to_string()).unwrap();
        let mut book = CredibilityBook::load(&state);
        assert_eq!(book.of("honest"), NEUTRAL_CREDIBILITY);
        for _ in 0..5 {
            book.update("honest", 1.0);
            book.update("liar", 0.0);
        }
        book.update("gone", 1.0);
        book.save(&state, &|hotkey| hotkey != "gone");
        let again = CredibilityBook::load(&state);
        assert!(again.of("honest") > 0.9 && again.of("liar") < 0.1, "{again:?}");
        assert_eq!(again.of("gone"), NEUTRAL_CREDIBILITY, "deregistered hotkeys are forgotten");
    }
}

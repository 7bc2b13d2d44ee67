//! Each miner's credibility as this validator has judged it in `groups` epochs: an exponential moving average of
//! its agreement with its groups (see [`crate::domain::judging::consensus::next_credibility`]), kept in the validator's
//! state directory. It weighs a miner's votes in later comparisons and nothing else: a miner caught lying gets
//! no weight however credible it was, and its credibility falls to what its agreement earns. Beside it, the
//! recent epochs in which a miner was flagged for following a groupmate's uploads, since following by habit
//! (not once) is what makes a copier.

use std::collections::{BTreeMap, BTreeSet};

use crate::client::state::{StateDir, StateError};
use crate::domain::judging::consensus::{next_credibility, NEUTRAL_CREDIBILITY};
use crate::domain::judging::following::FOLLOWING_MEMORY;

const FILE: &str = "credibility.json";
const KIND: &str = "credibility";
/// The weight of the newest epoch in the average: about a day of 4-hour epochs to move halfway.
pub const CREDIBILITY_ALPHA: f64 = 0.3;

/// Credibility by hotkey.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredibilityBook {
    pub by_hotkey: BTreeMap<String, f64>,
    /// The starts (Unix ms) of the last few epochs in which each hotkey was flagged for following.
    #[serde(default)]
    pub followed_in: BTreeMap<String, BTreeSet<i64>>,
    /// The start (Unix ms) of the last epoch that moved each hotkey's credibility, and its credibility before
    /// that epoch: judging that epoch again (after a restart) moves it from there, once.
    #[serde(default)]
    pub moved_in: BTreeMap<String, (i64, Option<f64>)>,
}

impl CredibilityBook {
    /// The kept book (a new one when there is none); an error when it cannot be read now, so that a passing
    /// I/O failure never starts the record of many epochs afresh.
    pub fn load(state: &StateDir) -> Result<CredibilityBook, StateError> {
        Ok(state.try_read(FILE, KIND)?.unwrap_or_default())
    }

    /// A miner's credibility; [`NEUTRAL_CREDIBILITY`] for one never judged (or stored as something unusable).
    pub fn of(&self, hotkey: &str) -> f64 {
        self.by_hotkey.get(hotkey).copied().filter(|c| c.is_finite()).map_or(NEUTRAL_CREDIBILITY, |c| c.clamp(0.0, 1.0))
    }

    /// Moves `hotkey`'s credibility towards `agreement_rate` (0 for a liar) for the epoch starting at
    /// `epoch_start_ms`: once per epoch, however often that epoch is judged.
    pub fn update(&mut self, hotkey: &str, epoch_start_ms: i64, agreement_rate: f64) {
        let before = match self.moved_in.get(hotkey) {
            Some(&(epoch, before)) if epoch == epoch_start_ms => before,
            _ => self.by_hotkey.get(hotkey).copied(),
        };
        self.moved_in.insert(hotkey.to_string(), (epoch_start_ms, before));
        self.by_hotkey.insert(hotkey.to_string(), next_credibility(before, agreement_rate, CREDIBILITY_ALPHA));
    }

    /// Epochs `hotkey` was flagged in among the [`FOLLOWING_MEMORY`] − 1 before the epoch starting at
    /// `start_ms` (epochs of `length_ms`).
    pub fn followed_before(&self, hotkey: &str, start_ms: i64, length_ms: i64) -> usize {
        let since = start_ms - (FOLLOWING_MEMORY as i64 - 1) * length_ms;
        self.followed_in.get(hotkey).map_or(0, |epochs| epochs.range(since..start_ms).count())
    }

    /// Notes that `hotkey` was flagged in the epoch starting at `start_ms`, forgetting its flags too old to
    /// count (judging an epoch again notes it once).
    pub fn note_followed(&mut self, hotkey: &str, start_ms: i64, length_ms: i64) {
        let since = start_ms - (FOLLOWING_MEMORY as i64 - 1) * length_ms;
        let epochs = self.followed_in.entry(hotkey.to_string()).or_default();
        epochs.insert(start_ms);
        epochs.retain(|&epoch| epoch >= since);
    }

    /// Keeps the registered hotkeys only (the book stays as large as the subnet), then saves.
    pub fn save(&mut self, state: &StateDir, registered: &dyn Fn(&str) -> bool) {
        self.by_hotkey.retain(|hotkey, _| registered(hotkey));
        self.followed_in.retain(|hotkey, _| registered(hotkey));
        self.moved_in.retain(|hotkey, _| registered(hotkey));
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
        let mut book = CredibilityBook::load(&state).unwrap();
        assert_eq!(book.of("honest"), NEUTRAL_CREDIBILITY);
        for epoch in 0..5 {
            book.update("honest", epoch, 1.0);
            book.update("liar", epoch, 0.0);
        }
        book.update("gone", 0, 1.0);
        book.save(&state, &|hotkey| hotkey != "gone");
        let again = CredibilityBook::load(&state).unwrap();
        assert!(again.of("honest") > 0.9 && again.of("liar") < 0.1, "{again:?}");
        assert_eq!(again.of("gone"), NEUTRAL_CREDIBILITY, "deregistered hotkeys are forgotten");
    }

    #[test]
    fn judging_an_epoch_again_moves_credibility_once() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path(), "5validator".to_string()).unwrap();
        let (first, second) = (1_800_000_000_000, 1_800_014_400_000);
        let mut book = CredibilityBook::load(&state).unwrap();
        book.update("miner", first, 1.0);
        let after_first = book.of("miner");
        book.update("miner", second, 0.0);
        let once = book.of("miner");
        book.save(&state, &|_| true);
        // A restart before the judged book was kept: the second epoch is judged again, and again.
        let mut again = CredibilityBook::load(&state).unwrap();
        again.update("miner", second, 0.0);
        again.update("miner", second, 0.0);
        assert_eq!(again.of("miner"), once, "moved once by the second epoch");
        assert!(once < after_first);
        // Judged again with another outcome, the epoch replaces its own move.
        again.update("miner", second, 1.0);
        assert!(again.of("miner") > after_first);
    }

    #[test]
    fn following_is_remembered_for_the_last_epochs_only_and_once_per_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path(), "5validator".to_string()).unwrap();
        let (start, length) = (1_800_000_000_000, 20_000);
        let mut book = CredibilityBook::load(&state).unwrap();
        book.note_followed("copier", start, length);
        book.note_followed("copier", start, length);
        book.note_followed("gone", start, length);
        book.save(&state, &|hotkey| hotkey != "gone");
        let mut book = CredibilityBook::load(&state).unwrap();
        assert_eq!(book.followed_before("copier", start + length, length), 1, "judged twice, noted once");
        assert_eq!(book.followed_before("copier", start + 2 * length, length), 1);
        assert_eq!(book.followed_before("copier", start + 3 * length, length), 0, "too old to count");
        assert_eq!(book.followed_before("copier", start, length), 0, "the epoch itself is not before itself");
        assert_eq!(book.followed_before("gone", start + length, length), 0);
        book.note_followed("copier", start + 5 * length, length);
        assert_eq!(book.followed_in["copier"].len(), 1, "older flags are dropped: the book stays bounded");
        let old: CredibilityBook = serde_json::from_str(r#"{"byHotkey":{"a":0.7}}"#).unwrap();
        assert_eq!((old.of("a"), old.followed_in.len()), (0.7, 0), "books saved before flags were kept still load");
    }
}

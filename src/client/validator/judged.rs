//! The epochs a validator judged, kept in its state directory across restarts, and which ended epochs it still
//! owes a judgement: the one before the current once it is old enough, and those an outage of the coordinator
//! kept it from judging, at most [`JUDGE_BACKLOG_EPOCHS`] back.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::client::state::{StateDir, StateError};
use crate::domain::epoch::{EpochClock, EpochId};

/// How many ended epochs back a validator still judges: an outage of the coordinator up to this many epochs
/// delays judgements, it does not lose them.
pub const JUDGE_BACKLOG_EPOCHS: usize = 4;

const FILE: &str = "judged.json";
const KIND: &str = "judged-epochs";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JudgedBook {
    /// The first epoch this validator's state covers; earlier ones are not its to catch up on.
    pub since: EpochId,
    pub judged: BTreeSet<EpochId>,
}

impl JudgedBook {
    /// The kept book; a new one starts at the epoch before `current`. An error when it cannot be read now: a
    /// new book then would judge (and upload) the epochs already judged again.
    pub fn load(state: &StateDir, clock: Option<EpochClock>, current: EpochId) -> Result<JudgedBook, StateError> {
        Ok(state.try_read(FILE, KIND)?.unwrap_or_else(|| JudgedBook {
            since: clock.map_or(current, |clock| clock.previous(current)),
            judged: BTreeSet::new(),
        }))
    }

    /// Records `epoch` as judged and keeps the book (its newest entries only).
    pub fn record(&mut self, state: &StateDir, epoch: EpochId) {
        self.judged.insert(epoch);
        while self.judged.len() > JUDGE_BACKLOG_EPOCHS * 4 {
            self.judged.pop_first();
        }
        if let Err(error) = state.write(FILE, KIND, self) {
            tracing::warn!(%error, "cannot keep the judged epochs");
        }
    }

    /// The ended epochs before `current` still to judge, oldest first; the one just before `current` only when
    /// `previous_ready` (the judging delay has passed).
    pub fn to_judge(&self, clock: EpochClock, current: EpochId, previous_ready: bool) -> Vec<EpochId> {
        let mut epoch = clock.previous(current);
        if !previous_ready {
            epoch = clock.previous(epoch);
        }
        let mut epochs = Vec::new();
        for _ in 0..JUDGE_BACKLOG_EPOCHS {
            if epoch < self.since {
                break;
            }
            if !self.judged.contains(&epoch) {
                epochs.push(epoch);
            }
            epoch = clock.previous(epoch);
        }
        epochs.reverse();
        epochs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owes_the_previous_epoch_and_what_an_outage_left_unjudged() {
        let clock = EpochClock::new(240).unwrap();
        let at = |n: i64| EpochId::from_start_unix(1_764_000_000 / 14_400 * 14_400 + n * 14_400);
        let mut book = JudgedBook { since: at(0), judged: BTreeSet::from([at(0), at(1)]) };
        assert_eq!(book.to_judge(clock, at(3), true), [at(2)]);
        assert_eq!(book.to_judge(clock, at(3), false), Vec::<EpochId>::new(), "the previous one is not ready");
        // Down through epochs 3 and 4: back in 5, it owes 2, 3 and 4, oldest first.
        assert_eq!(book.to_judge(clock, at(5), true), [at(2), at(3), at(4)]);
        book.judged.insert(at(3));
        assert_eq!(book.to_judge(clock, at(5), false), [at(2)]);
        // Never before its state began, never more than the backlog.
        assert_eq!(book.to_judge(clock, at(20), true).len(), JUDGE_BACKLOG_EPOCHS);
        let fresh = JudgedBook { since: at(9), judged: BTreeSet::new() };
        assert_eq!(fresh.to_judge(clock, at(10), true), [at(9)]);
    }

    #[test]
    fn the_book_survives_a_restart_and_stays_small() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path(), "5Validator").unwrap();
        let clock = EpochClock::new(240).unwrap();
        let first = EpochId::from_start_unix(1_764_000_000 / 14_400 * 14_400);
        let mut book = JudgedBook::load(&state, Some(clock), first).unwrap();
        assert_eq!(book.since, clock.previous(first));
        let mut epoch = first;
        for _ in 0..40 {
            book.record(&state, epoch);
            epoch = clock.next(epoch);
        }
        let again = JudgedBook::load(&state, Some(clock), epoch).unwrap();
        assert_eq!(again, book);
        assert_eq!(again.judged.len(), JUDGE_BACKLOG_EPOCHS * 4);
    }
}

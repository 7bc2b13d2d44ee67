//! The subnet's epoch schedule in runtimes with the stateful epoch counter (`SubnetEpochIndex`, subtensor since
//! 2026-05-22): an epoch fires when `tempo` blocks have passed since `LastEpochBlock`, at an owner's
//! `PendingEpochAt`, or when `BlocksSinceLastStep` passes the largest tempo, and each firing adds one to the
//! counter. A commit is filed under the counter as it stands, looking ahead to an epoch about to fire in the
//! commit's block, and revealed in the first block whose look-ahead counter is the commit's plus
//! `RevealPeriodEpochs`. Predicting that block means running the schedule forward block by block, as
//! bittensor-drand 2.x does for `get_encrypted_commit_v2`. Pure: chain state in, block numbers out.

/// The largest tempo an owner may set (about a week of 12-second blocks): past it without a step, an epoch
/// fires regardless.
pub const MAX_TEMPO: u64 = 50_400;

/// A commit sent at the head is included in the next block.
const INCLUSION_OFFSET: u64 = 1;

/// The schedule items at one block (the chain head the validator read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochScheduleState {
    pub last_epoch_block: u64,
    /// `0`: no owner-triggered epoch pending.
    pub pending_epoch_at: u64,
    pub subnet_epoch_index: u64,
    pub tempo: u16,
    pub blocks_since_last_step: u64,
    pub current_block: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the subnet's tempo is 0: it runs no epochs, so a commit would never be revealed")]
    TempoZero,
    #[error("no reveal block within {0} blocks of the schedule")]
    BeyondReach(u64),
}

impl EpochScheduleState {
    /// Whether an epoch fires in `block`.
    fn fires_at(&self, block: u64) -> bool {
        if self.tempo == 0 {
            return false;
        }
        (self.pending_epoch_at > 0 && block >= self.pending_epoch_at)
            || self.blocks_since_last_step > MAX_TEMPO
            || block.saturating_sub(self.last_epoch_block) >= u64::from(self.tempo)
    }

    /// The epoch a commit or reveal in `block` belongs to: the counter, plus one when an epoch fires in it (the
    /// chain reveals before it steps the epoch, and files a commit after).
    pub fn epoch_with_lookahead(&self, block: u64) -> u64 {
        self.subnet_epoch_index + u64::from(self.fires_at(block))
    }

    /// The state once `block` has been made.
    fn after(mut self, block: u64) -> Self {
        self.blocks_since_last_step = self.blocks_since_last_step.saturating_add(1);
        self.current_block = block;
        if self.fires_at(block) {
            self.last_epoch_block = block;
            self.pending_epoch_at = 0;
            self.subnet_epoch_index += 1;
            self.blocks_since_last_step = 0;
        }
        self
    }

    /// The epoch a commit sent now is filed under (it is included in the next block), and the state just before
    /// that block.
    pub fn commit_epoch(&self) -> (u64, EpochScheduleState) {
        let included = self.current_block + INCLUSION_OFFSET;
        let mut before = *self;
        for block in self.current_block + 1..included {
            before = before.after(block);
        }
        (before.epoch_with_lookahead(included), before)
    }

    /// The first block in which the chain reveals a commit sent now.
    pub fn first_reveal_block(&self, reveal_period_epochs: u64) -> Result<u64, ScheduleError> {
        if self.tempo == 0 {
            return Err(ScheduleError::TempoZero);
        }
        let (commit_epoch, mut state) = self.commit_epoch();
        let target = commit_epoch + reveal_period_epochs;
        let reach = reveal_period_epochs.saturating_mul(MAX_TEMPO).saturating_add(MAX_TEMPO);
        let first = self.current_block + INCLUSION_OFFSET;
        for block in first..=first.saturating_add(reach) {
            if state.epoch_with_lookahead(block) == target {
                return Ok(block);
            }
            state = state.after(block);
        }
        Err(ScheduleError::BeyondReach(reach))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(last_epoch_block: u64, pending_epoch_at: u64, tempo: u16, current_block: u64) -> EpochScheduleState {
        EpochScheduleState {
            last_epoch_block,
            pending_epoch_at,
            subnet_epoch_index: 0,
            tempo,
            blocks_since_last_step: 0,
            current_block,
        }
    }

    // The cases bittensor-drand 2.0 pins (src/epoch_schedule_vectors.rs), after subtensor's own tests.
    #[test]
    fn the_reveal_block_follows_the_schedule_as_bittensor_drand_predicts_it() {
        assert_eq!(state(10, 0, 0, 10).first_reveal_block(1), Err(ScheduleError::TempoZero));
        // A cycle reset at block 10 with tempo 50: the next epoch fires at 60.
        assert_eq!(state(10, 0, 50, 10).first_reveal_block(1), Ok(60));
        // An owner's pending epoch at 95 fires before the automatic one at 100.
        assert_eq!(state(80, 95, 20, 91).first_reveal_block(1), Ok(95));
        assert_eq!(state(100, 0, 50, 120).commit_epoch().0, 0);
    }

    #[test]
    fn a_commit_in_a_block_where_an_epoch_fires_belongs_to_the_next_epoch() {
        // The epoch fires at 150 and the commit lands there: it is filed under epoch 1, revealed at 200.
        let head = state(100, 0, 50, 149);
        assert_eq!(head.commit_epoch().0, 1);
        assert_eq!(head.first_reveal_block(1), Ok(200));
        assert_eq!(head.first_reveal_block(2), Ok(250));
        // A subnet long without a step fires at once.
        let stalled = EpochScheduleState { blocks_since_last_step: MAX_TEMPO + 1, ..state(0, 0, 50, 10) };
        assert_eq!(stalled.commit_epoch().0, 1);
    }

    #[test]
    fn the_prediction_agrees_with_stepping_the_chain_block_by_block() {
        for tempo in [1u16, 3, 10, 360] {
            for offset in 0..u64::from(tempo) + 2 {
                let head = EpochScheduleState { subnet_epoch_index: 7, ..state(1000, 0, tempo, 1000 + offset) };
                let reveal = head.first_reveal_block(1).unwrap();
                let (commit_epoch, mut chain) = head.commit_epoch();
                for block in head.current_block + 1..reveal {
                    assert!(chain.epoch_with_lookahead(block) < commit_epoch + 1, "tempo {tempo}, block {block}");
                    chain = chain.after(block);
                }
                assert_eq!(chain.epoch_with_lookahead(reveal), commit_epoch + 1);
            }
        }
    }
}

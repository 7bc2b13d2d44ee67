//! The chain revealing timelocked commits by itself, as subtensor does: once the subnet is `RevealPeriodEpochs`
//! past a commit's epoch and the node's drand pallet holds the pulse of the commit's round (it takes the dev
//! beacon's pulses as their rounds come, like the pallet's offchain worker takes quicknet's), the commit is
//! decrypted with that pulse's signature and its payload applied as `set_weights` from the committer. A commit
//! that does not open, names another hotkey or carries a bad vector fails silently on chain; here the failure
//! is kept in [`Reveal`] so a person can see it.

use super::{ChainEvent, Ledger};
use crate::chain::subtensor::chain_state::{commit_epoch, StoredCommit};
use crate::chain::subtensor::commit::{decrypt_with_signature, WeightsTlockPayload};

/// One commit the chain revealed, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reveal {
    pub hotkey: [u8; 32],
    pub commit_block: u64,
    pub round: u64,
    pub block: u64,
    /// `applied`, or `failed: why`.
    pub result: String,
}

impl Ledger {
    /// Reveals, at block `number` made at `now_unix`, every commit whose reveal epoch has come and whose round's
    /// pulse the node holds (taking the pulses that have been emitted by now). Commits still waiting stay filed.
    pub(super) fn reveal_due(&mut self, number: u64, now_unix: i64) {
        let p = self.parameters.clone();
        let current = commit_epoch(number, p.netuid, p.tempo);
        let due: Vec<u64> =
            self.commits.keys().copied().filter(|epoch| epoch + p.reveal_period_epochs <= current).collect();
        for epoch in due {
            let commits = self.commits.remove(&epoch).unwrap_or_default();
            let mut waiting = Vec::new();
            for commit in commits {
                let (hotkey, commit_block, _, round) = &commit;
                if !self.hold_pulse(*round, now_unix) {
                    waiting.push(commit);
                    continue;
                }
                let result = match self.open_and_apply(&commit, number) {
                    Ok(()) => "applied".to_string(),
                    Err(why) => format!("failed: {why}"),
                };
                let uid = self.uid_of(hotkey).unwrap_or(u16::MAX);
                if let Some(why) = result.strip_prefix("failed: ") {
                    let why = why.to_string();
                    self.event(ChainEvent::RevealFailed { block: number, uid, commit_block: *commit_block, why });
                }
                self.reveals.push(Reveal {
                    hotkey: *hotkey,
                    commit_block: *commit_block,
                    round: *round,
                    block: number,
                    result,
                });
            }
            if !waiting.is_empty() {
                self.commits.insert(epoch, waiting);
            }
        }
    }

    /// Whether the drand pallet holds `round`'s pulse, taking it from the beacon once it has been emitted.
    fn hold_pulse(&mut self, round: u64, now_unix: i64) -> bool {
        if self.pulses.contains_key(&round) {
            return true;
        }
        if self.beacon.chain().round_time(round) > now_unix {
            return false;
        }
        let pulse = self.beacon.pulse(round);
        let randomness = self.beacon.chain().verify(&pulse).expect("the dev beacon verifies its own pulses");
        if let Some(file) = &mut self.record {
            file.pulse(&pulse, randomness);
        }
        self.pulses.insert(round, pulse);
        true
    }

    fn open_and_apply(&mut self, commit: &StoredCommit, block: u64) -> Result<(), String> {
        let (hotkey, commit_block, ciphertext, round) = commit;
        let (commit_block, round) = (*commit_block, *round);
        let signature = self.pulses[&round].signature;
        let opened = decrypt_with_signature(ciphertext, &signature).map_err(|e| e.to_string())?;
        let payload = WeightsTlockPayload::decode(&opened).map_err(|e| e.to_string())?;
        if &payload.hotkey != hotkey {
            return Err("the payload names another hotkey than the committer".into());
        }
        if payload.version_key < self.parameters.version_key {
            return Err("IncorrectWeightVersionKey".into());
        }
        let uid = self.uid_of(hotkey).ok_or("HotKeyNotRegisteredInSubNet")?;
        let weights = self.weight_pairs(payload.weights.uids, payload.weights.values)?;
        self.weights.insert(uid, weights.clone());
        self.last_update[usize::from(uid)] = block;
        self.event(ChainEvent::Revealed { block, uid, commit_block, weights });
        Ok(())
    }
}

//! What localnet prints as the network works: each miner's epoch and each validator's judgement, read by a
//! person watching the subnet.

use crate::client::miner::{EpochWork, MinerError};
use crate::client::validator::{EpochJudgement, ValidatorError};
use crate::domain::epoch::EpochId;

pub(super) fn print_work(index: usize, outcome: &Result<EpochWork, MinerError>) {
    match outcome {
        Ok(work) => {
            println!(
                "[miner {}] epoch {}: {} - {} of {} zipcodes uploaded, {} listings; assignment from {}",
                index + 1,
                work.epoch_id,
                work.status.as_str(),
                work.uploaded,
                work.zipcodes,
                work.listings,
                work.source
            );
            if let Some((files, why)) = &work.kept_for_later {
                println!("[miner {}]     {files} files kept to upload later: {why}", index + 1);
            }
        }
        Err(error) => println!("[miner {}] {error}", index + 1),
    }
}

/// Prints a judgement; whether it was one (rather than an error or an epoch from before the network).
pub(super) fn print_judgement(index: usize, epoch: EpochId, outcome: &Result<EpochJudgement, ValidatorError>) -> bool {
    match outcome {
        Ok(judgement) => {
            println!("[validator {}] epoch {epoch} judged at {}:", index + 1, judgement.judged_at);
            for miner in &judgement.miners {
                let why = miner.reasons.first().map(|r| format!("  ({})", r.chars().take(90).collect::<String>()));
                println!(
                    "    uid {:>3}  {:<7} quality {:.3}  weight {:.4}{}",
                    miner.uid,
                    miner.verdict,
                    miner.quality,
                    miner.weight,
                    why.unwrap_or_default()
                );
            }
            println!(
                "    chain weights (u16): uids {:?} weights {:?}",
                judgement.chain_weights.uids, judgement.chain_weights.weights
            );
            true
        }
        Err(error) if error.is_unknown_epoch() => false,
        Err(error) => {
            println!("[validator {}] epoch {epoch}: {error}", index + 1);
            false
        }
    }
}

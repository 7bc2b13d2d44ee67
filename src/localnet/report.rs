//! What localnet prints for a person watching the subnet: the network at its start, then each miner's epoch
//! and each validator's judgement.

use super::{miner_uri, validator_uri, LiarKind, Localnet, LocalnetOptions};
use crate::client::miner::{EpochWork, MinerError};
use crate::client::synthetic::{MarketSizes, VARIED_SIZES};
use crate::client::validator::{EpochJudgement, ValidatorError};
use crate::domain::epoch::batches::AssignmentMode;
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

/// What the network is made of, printed once at its start.
pub(super) fn print_network(net: &Localnet, options: &LocalnetOptions, roles: &[Option<LiarKind>]) {
    let mode = match options.assignment {
        AssignmentMode::Shared => "shared assignments".to_string(),
        AssignmentMode::Groups(plan) => {
            format!("groups of at most {} miners, validation {}", plan.size, options.validation.name())
        }
    };
    println!(
        "zipcoord localnet: {} ({}s epochs, {} listings per epoch and miner, {mode})",
        net.url, options.epoch_seconds, options.target_listings
    );
    println!("  API docs      {}/docs", net.url);
    println!("  bucket        {} (files under {})", net.store.endpoint(), net.store.object_path("").display());
    match &net.chain {
        Some(chain) => println!("  chain         {}", chain.describe()),
        None => println!("  metagraph     {}", net.metagraph_path.display()),
    }
    println!("  beacon        {} (the dev beacon's pulses, drand-style)", net.beacon_url);
    if let Some(count) = options.market.universe {
        println!("  universe      {count} built-in zipcodes, each resting two epochs after it is assigned");
    }
    if options.market.sizes == MarketSizes::Varied {
        let [small, middle, large] = VARIED_SIZES;
        println!(
            "  market        varied: each zipcode holds {small}, {middle} or {large} listings (recalibration steps of \
             {} %)",
            options.market.recalibration_step_percent
        );
    }
    for (i, key) in net.validators.iter().enumerate() {
        println!("  validator     uid {i}  {}  {}  relay {}", key.hotkey(), validator_uri(i), net.relay_urls[i]);
    }
    for (i, key) in net.miners.iter().enumerate() {
        let role = roles[i].map_or("honest", LiarKind::describe);
        println!("  miner         uid {}  {}  {}  ({role})", net.validators.len() + i, key.hotkey(), miner_uri(i));
    }
    println!("Epoch N is mined during N and judged during N+1; weights appear one epoch after the work.\n");
}

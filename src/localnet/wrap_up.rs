//! What localnet does once its epochs are judged: waits for the miners to record the last verdicts.

use std::path::PathBuf;
use std::time::Duration;

use super::Localnet;
use crate::client::miner::history::read_history;
use crate::domain::epoch::{EpochClock, EpochId};

/// Waits (printing what it waits for) until every miner has recorded `last`'s verdicts in its history, which
/// it reads once the epoch's judging window has passed: at most two epochs past that.
pub(super) async fn await_histories(
    net: &Localnet,
    clock: EpochClock,
    last: EpochId,
    shutdown: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
) {
    let window_end = clock.judging_window_end(last);
    println!(
        "Waiting for the miners to record the verdicts on epoch {last} (served once its judging window ends, {}).",
        crate::api::iso8601_millis(window_end * 1000)
    );
    let folders: Vec<PathBuf> =
        (0..net.miners.len()).map(|i| net.data_dir.join(format!("miners/miner{}", i + 1))).collect();
    let deadline = window_end + 2 * clock.length_seconds();
    loop {
        let recorded = |folder: &PathBuf| read_history(folder).closed.iter().any(|r| r.epoch_id == last.to_string());
        if folders.iter().all(recorded) {
            for folder in &folders {
                println!("  zipcoord miner history --summary --state-dir {}", folder.display());
            }
            return;
        }
        if chrono::Utc::now().timestamp() > deadline {
            println!("Not every miner recorded epoch {last}'s verdicts in time.");
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.as_mut() => return,
        }
    }
}

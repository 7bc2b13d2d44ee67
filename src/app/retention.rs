//! Pruning history past the retention age without holding up the service: one epoch per transaction, old grant
//! records in bounded chunks, then (SQLite) the freed pages given back to the file system, with a pause after
//! every step in which waiting writers go first. A backlog of weeks (the first start after downtime, or a
//! shorter retention) is worked off in small steps like any hour's worth.

use std::time::Duration;

use super::{App, AppResult};
use crate::storage::PruneCounts;

/// Epochs looked up per query.
const EPOCHS_PER_LOOKUP: i64 = 64;
/// Grant records deleted per transaction.
const GRANTS_PER_STEP: i64 = 2_000;
/// Free pages (4 KiB) returned to the file system per step.
const PAGES_PER_STEP: i64 = 2_048;
/// The pause after each step.
const PAUSE: Duration = Duration::from_millis(20);

impl App {
    /// Prunes epochs (with their assignments and reports) that ended longer ago than the retention age, and old
    /// S3 grant records; returns what went.
    pub async fn prune_history(&self) -> AppResult<PruneCounts> {
        let cutoff_unix = self.retention_cutoff_unix();
        let mut counts = PruneCounts::default();
        loop {
            let epochs = self.store.epochs_ended_before(cutoff_unix, EPOCHS_PER_LOOKUP).await?;
            if epochs.is_empty() {
                break;
            }
            for epoch in epochs {
                counts += self.store.prune_epoch(epoch).await?;
                tokio::time::sleep(PAUSE).await;
            }
        }
        loop {
            let deleted = self.store.prune_grants(cutoff_unix.saturating_mul(1000), GRANTS_PER_STEP).await?;
            counts.grants += deleted;
            if deleted < GRANTS_PER_STEP as u64 {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
        if counts != PruneCounts::default() {
            self.reclaim_free_pages().await?;
        }
        Ok(counts)
    }

    /// Gives free pages back to the file system while that makes progress (files made before incremental
    /// vacuum keep theirs; SQLite reuses them for new rows).
    async fn reclaim_free_pages(&self) -> AppResult<()> {
        let mut free = i64::MAX;
        loop {
            let left = self.store.reclaim_free_pages(PAGES_PER_STEP).await?;
            if left == 0 || left >= free {
                return Ok(());
            }
            free = left;
            tokio::time::sleep(PAUSE).await;
        }
    }
}

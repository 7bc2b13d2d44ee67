//! Pruning history past the retention age without holding up the service: one epoch per transaction; status
//! report signatures an hour after they arrived, old grant records, and the hotkeys and prefixes no grant names
//! any more, in bounded chunks; then (SQLite) the freed pages given back to the file system. A pause follows
//! every step, and writers queue for their turn first come first served (`Store::write_turn`), so none waits
//! longer than a step. A backlog of weeks (the first start after downtime, or a shorter retention) is worked
//! off in small steps like any hour's worth.

use std::time::Duration;

use super::{App, AppResult};
use crate::domain::endpoint;
use crate::storage::PruneCounts;

/// Epochs looked up per query.
const EPOCHS_PER_LOOKUP: i64 = 64;
/// Grant records (or status signatures) deleted per transaction.
const ROWS_PER_STEP: i64 = 2_000;
/// How long a status report's signature is kept: a replay is refused by its timestamp once the signed endpoint's
/// window has passed it, and only until then does the signature itself have to be recognised.
const SIGNATURES_KEPT_MS: i64 = 3_600_000;
const _: () = assert!(
    SIGNATURES_KEPT_MS > (endpoint::STATUS.window.max_age_seconds + endpoint::STATUS.window.max_ahead_seconds) * 1000
);
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
        let signatures_before_ms = self.now_ms().saturating_sub(SIGNATURES_KEPT_MS);
        loop {
            let deleted = self.store.prune_status_signatures(signatures_before_ms, ROWS_PER_STEP).await?;
            counts.status_signatures += deleted;
            if deleted < ROWS_PER_STEP as u64 {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
        let cutoff_ms = cutoff_unix.saturating_mul(1000);
        loop {
            let deleted = self.store.prune_grants(cutoff_ms, ROWS_PER_STEP).await?;
            counts.grants += deleted;
            if deleted < ROWS_PER_STEP as u64 {
                break;
            }
            tokio::time::sleep(PAUSE).await;
        }
        while self.store.prune_grant_names(cutoff_ms, ROWS_PER_STEP).await? > 0 {
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

//! Pruning history past the retention age without holding up the service: one epoch per transaction, then its
//! published inputs; status
//! report signatures an hour after they arrived, old grant records, and the hotkeys and prefixes no grant names
//! any more, in bounded chunks; then (SQLite) the freed pages given back to the file system. A pause follows
//! every step, and writers queue for their turn first come first served (`Store::write_turn`), so none waits
//! longer than a step. A backlog of weeks (the first start after downtime, or a shorter retention) is worked
//! off in small steps like any hour's worth.

use std::time::Duration;

use super::{App, AppResult};
use crate::domain::access::endpoint;
use crate::storage::PruneCounts;

/// Epochs looked up per query.
const EPOCHS_PER_LOOKUP: i64 = 64;
/// Grant records (or status signatures) deleted per transaction.
const ROWS_PER_STEP: i64 = 2_000;
/// Published inputs deleted per transaction (a few hundred kilobytes each).
const INPUTS_PER_STEP: i64 = 16;
/// How long a status report's signature is kept: a replay is refused by its timestamp once the signed endpoint's
/// window has passed it, and only until then does the signature itself have to be recognised.
const SIGNATURES_KEPT_MS: i64 = 3_600_000;
const _: () = assert!(
    SIGNATURES_KEPT_MS > (endpoint::STATUS.window.max_age_seconds + endpoint::STATUS.window.max_ahead_seconds) * 1000
);
/// Free pages (4 KiB) returned to the file system by the first step. A page costs anything from 0.1 ms (the
/// file's tail in cache) to 2 ms (the first step after a large prune, reading it cold), so the steps start small
/// and are sized from the last one's time to take about [`PAGES_STEP_TIME`].
const FIRST_PAGES_STEP: i64 = 16;
const PAGES_STEP_TIME: Duration = Duration::from_millis(40);
const MAX_PAGES_STEP: i64 = 1_024;
/// Free pages given back per run (8 MiB an hour; a busy subnet frees about 1 MiB an hour at steady state).
const RECLAIM_PAGES_PER_RUN: i64 = 2_048;

fn next_pages_step(pages: i64, took: Duration) -> i64 {
    let took_us = took.as_micros().max(1) as i64;
    let scaled = pages.saturating_mul(PAGES_STEP_TIME.as_micros() as i64) / took_us;
    // At most doubling: one fast step says little about the next.
    scaled.clamp(FIRST_PAGES_STEP, pages.saturating_mul(2).min(MAX_PAGES_STEP))
}
/// The pause after each step that gives free pages back, which leaves the disk mostly idle.
const RECLAIM_PAUSE: Duration = Duration::from_millis(250);
/// The pause after each other step.
const PAUSE: Duration = Duration::from_millis(20);

/// Runs pruning steps with a pause after each, and remembers the longest (the longest any writer may have
/// waited behind one).
struct Pacer<'a> {
    store: &'a crate::storage::Store,
    steps: usize,
    longest: Duration,
    longest_kind: &'static str,
    /// The latest step's own time: its work, without the checkpoint and the pause after it.
    last: Duration,
}

/// One run's giving back of free pages (SQLite): how many, in how many steps, the largest, and the time the steps
/// themselves took beside the run's whole time (their pauses included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReclaimRun {
    pub pages: i64,
    pub steps: u32,
    pub largest_step: i64,
    pub working: Duration,
    pub elapsed: Duration,
}

impl Pacer<'_> {
    async fn step<T>(&mut self, kind: &'static str, work: impl std::future::Future<Output = T>) -> T {
        self.paced(kind, PAUSE, work).await
    }

    async fn paced<T>(&mut self, kind: &'static str, pause: Duration, work: impl std::future::Future<Output = T>) -> T {
        let started = std::time::Instant::now();
        let done = work.await;
        let took = started.elapsed();
        self.last = took;
        // What the step wrote goes into the database file now, outside the writers' queue, so no writer's commit
        // inherits the copying.
        if let Err(error) = self.store.checkpoint().await {
            tracing::debug!(%error, "checkpoint after a pruning step");
        }
        tokio::time::sleep(pause).await;
        self.steps += 1;
        if took > self.longest {
            self.longest = took;
            self.longest_kind = kind;
        }
        done
    }
}

impl App {
    /// How the latest pruning run gave free pages back (`None` before the first).
    pub fn last_reclaim(&self) -> Option<ReclaimRun> {
        *self.last_reclaim.lock()
    }

    /// Prunes epochs (with their assignments and reports) that ended longer ago than the retention age, status
    /// report signatures past their use, and old S3 grant records; returns what went.
    pub async fn prune_history(&self) -> AppResult<PruneCounts> {
        let cutoff_unix = self.retention_cutoff_unix();
        let mut counts = PruneCounts::default();
        let mut pacer =
            Pacer { store: &self.store, steps: 0, longest: Duration::ZERO, longest_kind: "", last: Duration::ZERO };
        loop {
            let epochs = self.store.epochs_ended_before(cutoff_unix, EPOCHS_PER_LOOKUP).await?;
            if epochs.is_empty() {
                break;
            }
            for epoch in epochs {
                counts += pacer.step("epoch", self.store.prune_epoch(epoch)).await?;
            }
        }
        // Published inputs go with their epoch (and those of epochs never created, after the same age).
        let inputs_before_unix = cutoff_unix.saturating_sub(self.settings.epochs.clock.length_seconds());
        while pacer.step("epoch inputs", self.store.prune_inputs(inputs_before_unix, INPUTS_PER_STEP)).await?
            == INPUTS_PER_STEP as u64
        {}
        let signatures_before_ms = self.now_ms().saturating_sub(SIGNATURES_KEPT_MS);
        loop {
            let deleted = pacer
                .step("status signatures", self.store.prune_status_signatures(signatures_before_ms, ROWS_PER_STEP))
                .await?;
            counts.status_signatures += deleted;
            if deleted < ROWS_PER_STEP as u64 {
                break;
            }
        }
        let cutoff_ms = cutoff_unix.saturating_mul(1000);
        loop {
            let deleted = pacer.step("grants", self.store.prune_grants(cutoff_ms, ROWS_PER_STEP)).await?;
            counts.grants += deleted;
            if deleted < ROWS_PER_STEP as u64 {
                break;
            }
        }
        while pacer.step("grant names", self.store.prune_grant_names(cutoff_ms, ROWS_PER_STEP)).await? > 0 {}
        // Free pages go back to the file system a few megabytes per run: giving back hundreds of megabytes at
        // once (after a large backlog) keeps this machine's disk busy enough to stall writers for hundreds of
        // milliseconds. Meanwhile SQLite reuses them for new rows, so the file does not grow. Files made before
        // incremental vacuum keep theirs, so this stops once a step gives nothing back. Each step is sized from the
        // previous step's own time: counting the pause after it would read every step as slow and keep them all at
        // the first size (2,048 pages in 128 steps, 32 s of pauses, instead of 8 steps).
        let started = std::time::Instant::now();
        let mut run = ReclaimRun::default();
        let mut free = self.store.free_pages().await?;
        let mut pages = FIRST_PAGES_STEP;
        while free > 0 && run.pages < RECLAIM_PAGES_PER_RUN {
            let step = pages.min(RECLAIM_PAGES_PER_RUN - run.pages);
            let left = pacer.paced("free pages", RECLAIM_PAUSE, self.store.reclaim_free_pages(step)).await?;
            pages = next_pages_step(pages, pacer.last);
            run = ReclaimRun {
                pages: run.pages + (free - left).clamp(0, step),
                steps: run.steps + 1,
                largest_step: run.largest_step.max(step),
                working: run.working + pacer.last,
                elapsed: started.elapsed(),
            };
            if left >= free {
                break;
            }
            free = left;
        }
        *self.last_reclaim.lock() = Some(run);
        if counts != PruneCounts::default() {
            tracing::debug!(
                steps = pacer.steps,
                longest_step_ms = pacer.longest.as_millis() as u64,
                longest_step = pacer.longest_kind,
                "pruning steps"
            );
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reclaim_steps_aim_at_their_time_and_grow_at_most_twofold() {
        assert_eq!(next_pages_step(16, Duration::from_millis(1)), 32, "fast: doubles, no more");
        assert_eq!(next_pages_step(400, Duration::from_millis(80)), 200, "slow: halves");
        assert_eq!(next_pages_step(16, Duration::from_secs(1)), FIRST_PAGES_STEP, "never below the first step");
        assert_eq!(next_pages_step(1_000, Duration::from_millis(1)), MAX_PAGES_STEP);
    }
}

//! Every background loop of a server, started from one place ([`spawn_all`]): epoch creation and inputs, metagraph
//! refresh, retention, SQLite checkpoints, and pruning the rate limiters' idle keys. Each task is a public
//! `tick` (one unit of work, called directly by tests) and a loop that calls it on an interval until cancelled.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::app::{App, AppError};
use crate::storage::PruneCounts;

/// Creates the current epoch's assignment if it is missing (its pulse permitting) and publishes the next
/// epoch's inputs once the current selection is known.
pub async fn epoch_tick(app: &App) {
    let current = app.current_epoch_id();
    match app.ensure_epoch(current).await {
        Ok(_) | Err(AppError::Selection(_)) => {
            if let Err(error) = app.publish_inputs(app.settings().epochs.clock.next(current)).await {
                tracing::warn!(%error, "could not publish the next epoch's inputs");
            }
        }
        Err(AppError::BeaconPending { reason, .. }) => tracing::debug!(%reason, "current epoch waits for its pulse"),
        Err(error) => tracing::warn!(%error, "current epoch unavailable"),
    }
}

/// Longest sleep of the epoch loop, and how often it retries while a pulse is missing.
const EPOCH_TICK: Duration = Duration::from_secs(30);
const PULSE_RETRY: Duration = Duration::from_millis(500);

/// Runs [`epoch_tick`] every 30 s, and at the moment the next epoch's round is due (a pulse exists only from
/// then on, so that is when the epoch can be created); while the current epoch waits for its pulse, twice a
/// second.
async fn epoch_loop(app: Arc<App>, cancel: CancellationToken) {
    loop {
        epoch_tick(&app).await;
        let pending = app.current_assignment_pending();
        let until_round = Duration::from_millis(app.next_round_ms().saturating_sub(app.now_ms()).max(0) as u64);
        let wait = if pending { PULSE_RETRY } else { EPOCH_TICK.min(until_round) };
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Reloads the metagraph; on failure the last good snapshot stays in use. Returns whether it succeeded.
pub async fn metagraph_tick(app: &App) -> bool {
    match app.refresh_metagraph().await {
        Ok(snapshot) => {
            tracing::debug!(neurons = snapshot.neurons.len(), block = ?snapshot.block, "metagraph refreshed");
            true
        }
        Err(error) => {
            tracing::warn!(%error, "metagraph refresh failed; keeping the last snapshot");
            false
        }
    }
}

/// Prunes history past the retention age. Idempotent, so every replica may run it.
pub async fn retention_tick(app: &App) {
    let started = std::time::Instant::now();
    match app.prune_history().await {
        Ok(counts) if counts == PruneCounts::default() => {}
        Ok(counts) => tracing::info!(
            epochs = counts.epochs,
            assigned_zipcodes = counts.assigned_zipcodes,
            status_events = counts.status_events,
            status_signatures = counts.status_signatures,
            grants = counts.grants,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "pruned history past the retention age"
        ),
        Err(error) => tracing::warn!(%error, "could not prune history"),
    }
}

/// Forgets the Epistula uuids past their window. Idempotent, so every replica may run it.
pub async fn uuid_tick(app: &App) {
    match app.forget_used_uuids().await {
        Ok(0) => {}
        Ok(forgotten) => tracing::debug!(forgotten, "forgot Epistula uuids past their window"),
        Err(error) => tracing::warn!(%error, "could not forget old Epistula uuids"),
    }
}

/// Copies the SQLite write-ahead log into the database file (connections never do it themselves; see
/// `Store::checkpoint`).
pub async fn checkpoint_tick(app: &App) {
    if let Err(error) = app.store().checkpoint().await {
        tracing::warn!(%error, "could not checkpoint the write-ahead log");
    }
}

/// Longest wait before retrying a failed metagraph refresh.
const METAGRAPH_RETRY: Duration = Duration::from_secs(15);

/// Refreshes the metagraph every `period`, and sooner after a failure so that a chain outage costs as little
/// freshness as possible.
async fn refresh_metagraph_loop(app: Arc<App>, cancel: CancellationToken) {
    let period = app.settings().chain.refresh;
    // The first snapshot was loaded (or attempted) at start.
    let mut wait = if app.metagraph_refresh_failed() { METAGRAPH_RETRY.min(period) } else { period };
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = if metagraph_tick(&app).await { period } else { METAGRAPH_RETRY.min(period) };
    }
}

/// Runs `tick` every `period` until `cancel` fires.
pub async fn run_every<F, Fut>(period: Duration, cancel: CancellationToken, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = interval.tick() => tick().await,
        }
    }
}

/// Starts the background loops: epochs every 30 s and at each epoch's round, the
/// metagraph every refresh period, retention hourly, a SQLite checkpoint every second, and every minute
/// `prune_limits` (the HTTP edge's rate limiters forgetting idle keys) and forgetting Epistula uuids past their
/// window.
pub fn spawn_all(
    app: Arc<App>,
    prune_limits: impl Fn() + Send + Sync + 'static,
    cancel: CancellationToken,
) -> Vec<tokio::task::JoinHandle<()>> {
    let epochs = {
        let app = app.clone();
        let cancel = cancel.clone();
        tokio::spawn(epoch_loop(app, cancel))
    };
    let retention = {
        let app = app.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move { run_every(Duration::from_secs(3600), cancel, || retention_tick(&app)).await })
    };
    let every_minute = {
        let app = app.clone();
        let cancel = cancel.clone();
        let prune_limits = Arc::new(prune_limits);
        tokio::spawn(async move {
            run_every(Duration::from_secs(60), cancel, || {
                let app = app.clone();
                let prune_limits = prune_limits.clone();
                async move {
                    prune_limits();
                    uuid_tick(&app).await;
                }
            })
            .await
        })
    };
    let checkpoints = {
        let app = app.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move { run_every(Duration::from_secs(1), cancel, || checkpoint_tick(&app)).await })
    };
    let metagraph = tokio::spawn(refresh_metagraph_loop(app, cancel));
    vec![epochs, retention, every_minute, checkpoints, metagraph]
}

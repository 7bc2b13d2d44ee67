//! Assembles a running service from its settings: database, application state, background tasks and the
//! HTTP listener. Used by `zipcoord serve` and by the integration tests, so both run the same wiring.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::chain::dev::DevSource;
use crate::chain::file::FileSource;
use crate::chain::subtensor::SubtensorSource;
use crate::chain::MetagraphSource;
use crate::config::{MetagraphSpec, ServeArgs};
use crate::http::limits::{prune_periodically, RateLimits};
use crate::http::{self, HttpLimits};
use crate::s3::S3Presigner;
use crate::service::{App, AppState, ServiceConfig, TimeSource};
use crate::storage::Store;

pub struct RunningServer {
    pub addr: SocketAddr,
    pub app: AppState,
    cancel: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    tasks: Vec<JoinHandle<()>>,
}

pub fn service_config(args: &ServeArgs) -> ServiceConfig {
    ServiceConfig {
        clock: args.epochs.clock(),
        policy: args.epochs.policy(),
        lead_seconds: args.epochs.lead().as_secs() as i64,
        netuid: args.netuid,
        validator_min_stake: args.validator_min_stake,
        prior_listings: args.epochs.prior_listings,
        metagraph_max_age_seconds: i64::try_from(args.metagraph_max_age_seconds).unwrap_or(i64::MAX),
        retention_seconds: i64::from(args.retention_days) * 86_400,
    }
}

/// The metagraph source `spec` names, for subnet `netuid` (the server's and the validator client's).
pub fn metagraph_source(spec: &MetagraphSpec, netuid: u16, chain_timeout: Duration) -> Arc<dyn MetagraphSource> {
    match spec {
        MetagraphSpec::Dev => Arc::new(DevSource::new()),
        MetagraphSpec::File(path) => Arc::new(FileSource::new(path.clone())),
        MetagraphSpec::Subtensor(endpoints) => Arc::new(SubtensorSource::new(endpoints.clone(), netuid, chain_timeout)),
    }
}

/// Connects, migrates, prepares the application and starts serving. With `background_tasks` off nothing runs
/// on a timer (tests call the ticks themselves).
pub async fn start(
    args: &ServeArgs,
    time: Arc<dyn TimeSource>,
    background_tasks: bool,
) -> anyhow::Result<RunningServer> {
    crate::metrics::handle();
    let spec = args.metagraph_spec().map_err(anyhow::Error::msg)?;
    let secret = args.server_secret().map_err(anyhow::Error::msg)?;
    let store = Store::connect(&args.database.database_url).await.context("cannot open the database")?;
    store.migrate().await.context("cannot migrate the database")?;
    let s3 = match args.s3.settings().map_err(anyhow::Error::msg)? {
        Some(settings) => Ok(S3Presigner::new(settings)),
        None => Err(args.s3.missing().unwrap_or_default()),
    };
    let app = App::start(
        store,
        service_config(args),
        secret,
        metagraph_source(&spec, args.netuid, Duration::from_secs(args.chain_timeout_seconds)),
        s3,
        time,
    )
    .await
    .context("cannot start the service")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let cancel = CancellationToken::new();
    let mut tasks = if background_tasks {
        crate::tasks::spawn_all(app.clone(), Duration::from_secs(args.metagraph_refresh_seconds), cancel.clone())
    } else {
        Vec::new()
    };
    let limits = HttpLimits {
        max_body_bytes: args.max_body_bytes,
        max_header_bytes: args.max_header_bytes,
        header_read_timeout: Duration::from_secs(args.header_read_timeout_seconds),
        request_timeout: Duration::from_secs(args.request_timeout_seconds),
    };
    let rate_limits = Arc::new(RateLimits::new(args.rate_limits.settings()));
    if background_tasks {
        let pruning = tokio::spawn(prune_periodically(rate_limits.clone(), Duration::from_secs(60), cancel.clone()));
        tasks.push(pruning);
    }
    let router = http::router(app.clone(), limits, rate_limits);
    let shutdown = cancel.clone();
    let server = tokio::spawn(http::serve(listener, router, limits, async move { shutdown.cancelled().await }));
    Ok(RunningServer { addr, app, cancel, server, tasks })
}

impl RunningServer {
    /// Stops accepting connections, lets in-flight requests finish, stops the tasks and closes the database.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.cancel.cancel();
        let served = self.server.await.context("server task failed")?;
        for task in self.tasks {
            let _ = task.await;
        }
        self.app.store().close().await;
        served.context("server error")
    }

    /// Serves until `signal` resolves, then shuts down gracefully.
    pub async fn run_until(self, signal: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        signal.await;
        tracing::info!("shutting down");
        self.shutdown().await
    }
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are registered when this is called, not when the future is first
/// polled, so a signal that arrives while the server is still starting is not lost (nor fatal).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        (signal(SignalKind::interrupt()).ok(), signal(SignalKind::terminate()).ok())
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |stream: Option<tokio::signal::unix::Signal>| async move {
                match stream {
                    Some(mut stream) => {
                        stream.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(interrupt) => {},
                _ = wait(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

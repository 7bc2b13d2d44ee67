//! Boots one server from its [`Settings`]: database, application, background tasks and the HTTP listener.
//! Used by `zipcoord serve`, `localnet` and the integration tests, so all of them run the same wiring.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::{App, Clock};
use crate::http::{self, Front, RateLimits, Starting};
use crate::net::{serve_connections, ConnectionGate};
use crate::settings::{HttpSettings, Settings};
use crate::storage::Store;

pub struct RunningServer {
    pub addr: SocketAddr,
    pub app: Arc<App>,
    cancel: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
    tasks: Vec<JoinHandle<()>>,
}

/// Connects, migrates, prepares the application and starts serving; a database that does not answer fails it at
/// once. With `settings.background_tasks` off nothing runs on a timer (tests call the ticks themselves).
pub async fn start(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<RunningServer> {
    boot(settings, clock, None).await
}

/// As [`start`], but a database that does not answer yet (refused, unresolvable, starting up) is tried again with
/// a back-off until it does, the listener answering meanwhile that the service is starting (alive, not ready):
/// a container started beside its database must not exit and restart in a loop. Gives up only on errors that
/// waiting cannot mend (a wrong password, a damaged file), or with [`StoppedWhileStarting`] once `stop` is
/// cancelled.
pub async fn start_waiting_for_database(
    settings: Settings,
    clock: Arc<dyn Clock>,
    stop: CancellationToken,
) -> anyhow::Result<RunningServer> {
    boot(settings, clock, Some(stop)).await
}

/// The server was asked to stop before its database answered.
#[derive(Debug, thiserror::Error)]
#[error("stopped before the database answered")]
pub struct StoppedWhileStarting;

async fn boot(
    settings: Settings,
    clock: Arc<dyn Clock>,
    wait_until: Option<CancellationToken>,
) -> anyhow::Result<RunningServer> {
    crate::metrics::handle();
    let listen = settings.listen;
    let http_settings = settings.http;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let starting = Arc::new(Starting::new(
        clock.clone(),
        settings.chain.netuid,
        settings.chain.max_age.as_secs() as i64,
        settings.s3.is_ok(),
    ));
    let (front, router) = Front::new(starting.clone());
    let cancel = CancellationToken::new();
    let gate = connection_gate(&http_settings, settings.rate_limits.trusted_proxy_hops);
    let shutdown = cancel.clone();
    let stopped = async move { shutdown.cancelled().await };
    let server = tokio::spawn(serve_connections(listener, router, http_settings.connection_limits(), gate, stopped));
    let prepared = async {
        let store = open_store(&settings.database_url, &starting, wait_until.as_ref()).await?;
        starting.database_answered();
        let background_tasks = settings.background_tasks;
        let app = App::start(store, settings, clock).await.context("cannot start the service")?;
        anyhow::Ok((app, background_tasks))
    }
    .await;
    let (app, background_tasks) = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            cancel.cancel();
            let _ = server.await;
            return Err(error);
        }
    };
    let rate_limits = Arc::new(RateLimits::new(app.settings().rate_limits.clone()));
    let tasks = if background_tasks {
        let limits = rate_limits.clone();
        crate::tasks::spawn_all(app.clone(), move || limits.prune(), cancel.clone())
    } else {
        Vec::new()
    };
    front.serve(http::router(app.clone(), http_settings, rate_limits));
    Ok(RunningServer { addr, app, cancel, server, tasks })
}

/// Back-off between attempts at a database that does not answer at start: 1 s, doubling, at most 30 s.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LONGEST_RETRY: Duration = Duration::from_secs(30);

/// Connects and migrates; with `wait_until`, tries again after an unreachable database until it answers.
async fn open_store(url: &str, starting: &Starting, wait_until: Option<&CancellationToken>) -> anyhow::Result<Store> {
    let mut pause = FIRST_RETRY;
    let mut attempts = 0u32;
    loop {
        let opened = async {
            let store = Store::connect(url).await.map_err(|e| ("cannot open the database", e))?;
            store.migrate().await.map_err(|e| ("cannot migrate the database", e))?;
            Ok(store)
        }
        .await;
        let (doing, error) = match opened {
            Ok(store) => {
                if attempts > 0 {
                    tracing::info!(attempts, "the database answers");
                }
                return Ok(store);
            }
            Err(failed) => failed,
        };
        let stop = match wait_until {
            Some(stop) if crate::storage::is_unreachable(&error) => stop,
            _ => return Err(anyhow::Error::new(error).context(doing)),
        };
        attempts += 1;
        crate::metrics::database_connect_failure();
        let reason = format!("{doing}: {error}");
        starting.failed(reason.clone(), starting.now_ms() + pause.as_millis() as i64);
        tracing::warn!(%reason, attempts, retry_in_seconds = pause.as_secs(), "the database does not answer; not ready until it does");
        tokio::select! {
            _ = stop.cancelled() => return Err(StoppedWhileStarting.into()),
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(LONGEST_RETRY);
    }
}

/// The connection caps, the total kept below the open-file limit (raised to the hard limit first).
fn connection_gate(http: &HttpSettings, trusted_proxy_hops: usize) -> Arc<ConnectionGate> {
    let per_ip = (trusted_proxy_hops == 0).then_some(http.max_connections_per_ip);
    ConnectionGate::within_open_files(http.max_connections, per_ip, true)
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

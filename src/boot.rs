//! Boots one server from its [`Settings`]: database, application, background tasks and the HTTP listener.
//! Used by `zipcoord serve`, `localnet` and the integration tests, so all of them run the same wiring.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::{App, Clock};
use crate::http::{self, RateLimits};
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

/// Connects, migrates, prepares the application and starts serving. With `settings.background_tasks` off
/// nothing runs on a timer (tests call the ticks themselves).
pub async fn start(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<RunningServer> {
    crate::metrics::handle();
    let store = Store::connect(&settings.database_url).await.context("cannot open the database")?;
    store.migrate().await.context("cannot migrate the database")?;
    let listen = settings.listen;
    let http_settings = settings.http;
    let rate_limits = Arc::new(RateLimits::new(settings.rate_limits.clone()));
    let background_tasks = settings.background_tasks;
    let app = App::start(store, settings, clock).await.context("cannot start the service")?;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let cancel = CancellationToken::new();
    let tasks = if background_tasks {
        let limits = rate_limits.clone();
        crate::tasks::spawn_all(app.clone(), move || limits.prune(), cancel.clone())
    } else {
        Vec::new()
    };
    let gate = connection_gate(&http_settings, app.settings().rate_limits.trusted_proxy_hops);
    let router = http::router(app.clone(), http_settings, rate_limits);
    let shutdown = cancel.clone();
    let stopped = async move { shutdown.cancelled().await };
    let server = tokio::spawn(serve_connections(listener, router, http_settings.connection_limits(), gate, stopped));
    Ok(RunningServer { addr, app, cancel, server, tasks })
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

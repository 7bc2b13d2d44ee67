//! The connection loop: accepts TCP connections and serves each with hyper, so that connection-level limits
//! (how many connections, time to the first request and to a complete request head, its size) are ours to set,
//! and shuts down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt;

use super::connections::ConnectionGate;
use super::ConnectionLimits;

/// Above this many header fields hyper itself refuses the request (without a body); the router answers
/// [`MAX_HEADER_COUNT`] and beyond in the contract's error body first.
const HYPER_MAX_HEADERS: usize = 256;

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, lets in-flight requests
/// finish (at most the limits' shutdown grace) and closes idle connections.
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    gate: Arc<ConnectionGate>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // A client that trickles its request head (slowloris) is cut off.
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(HYPER_MAX_HEADERS)
        // Room for heads somewhat above our own limit, so that those get the JSON 431 from the router.
        .max_buf_size(hyper_buffer_bytes(limits.max_header_bytes));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    let mut accept_errors = AcceptBackoff::default();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => {
                    accept_errors.reset();
                    connection
                }
                Err(error) => {
                    // Typically too many open files: wait longer each time instead of spinning.
                    tokio::time::sleep(accept_errors.failed(&error)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let slot = match gate.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(_) => {
                drop(stream);
                continue;
            }
        };
        let router = router.clone();
        let requested = Arc::new(AtomicBool::new(false));
        let seen = requested.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            seen.store(true, Ordering::Relaxed);
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            router.clone().oneshot(request)
        });
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        let first_request_within = limits.header_read_timeout;
        tokio::spawn(async move {
            let _slot = slot;
            tokio::select! {
                outcome = connection => {
                    if let Err(error) = outcome {
                        tracing::debug!(%peer, error = %error, "connection ended with an error");
                    }
                }
                // A connection must bring a whole first request head in time, whatever it sends before (nothing,
                // one byte, an HTTP/2 preface and SETTINGS); dropping it closes the socket.
                _ = no_request_by(first_request_within, requested) => {
                    tracing::debug!(%peer, "closed a connection that sent no request in time");
                }
            }
        });
    }
    drop(listener);
    let grace = limits.shutdown_grace;
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after {grace:?}; closing them");
    }
    Ok(())
}

/// Resolves when `limit` has passed and no request arrived; never once one did.
async fn no_request_by(limit: Duration, requested: Arc<AtomicBool>) {
    tokio::time::sleep(limit).await;
    if requested.load(Ordering::Relaxed) {
        std::future::pending::<()>().await;
    }
}

/// Waits after failed accepts, doubling from 10 ms to 1 s, and logs them at most once a second.
#[derive(Default)]
struct AcceptBackoff {
    consecutive: u32,
    suppressed: u64,
    last_logged: Option<Instant>,
}

impl AcceptBackoff {
    fn failed(&mut self, error: &std::io::Error) -> Duration {
        self.consecutive = self.consecutive.saturating_add(1);
        if self.last_logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
            tracing::warn!(%error, failed_since_last_log = self.suppressed, "cannot accept a connection");
            self.last_logged = Some(Instant::now());
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
        Duration::from_millis(10u64 << self.consecutive.min(7)).min(Duration::from_secs(1))
    }

    fn reset(&mut self) {
        self.consecutive = 0;
    }
}

fn hyper_buffer_bytes(max_header_bytes: usize) -> usize {
    max_header_bytes.saturating_mul(4).max(64 * 1024)
}

//! The connection loop: accepts TCP connections and serves each with hyper, so that connection-level limits
//! (time to send the request head, its size) are ours to set, and shuts down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::settings::HttpSettings;

/// Above this many header fields hyper itself refuses the request (without a body); the router answers
/// [`MAX_HEADER_COUNT`] and beyond in the contract's error body first.
const HYPER_MAX_HEADERS: usize = 256;

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, lets in-flight requests
/// finish (at most the request timeout plus a little) and closes idle connections.
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: HttpSettings,
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
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(connection) => connection,
                Err(error) => {
                    // Typically too many open files: wait instead of spinning.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            router.clone().oneshot(request)
        });
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let grace = limits.request_timeout + Duration::from_secs(5);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after {grace:?}; closing them");
    }
    Ok(())
}

fn hyper_buffer_bytes(max_header_bytes: usize) -> usize {
    max_header_bytes.saturating_mul(4).max(64 * 1024)
}

//! `zipcoord serve`. With `--dev` it is the whole service on one machine: the dev metagraph and beacon (from
//! the flags), an embedded S3-compatible store when no store is configured, and signed examples to try.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::dev_examples::{DevExamples, EmbeddedStoreInfo};
use super::flags::ServeArgs;
use crate::app::SystemClock;
use crate::localnet::LocalStore;

/// Where `serve --dev` keeps its embedded store's objects, under the working directory (beside the default
/// `zipcoord.db`, and like it kept across restarts).
pub const DEV_STORE_DIR: &str = "zipcoord-dev-s3";
/// The embedded store's one bucket.
pub const DEV_BUCKET: &str = "zipcoord-dev";
/// The embedded store's access key id; its secret is drawn afresh at each start and never shown.
const DEV_ACCESS_KEY_ID: &str = "zipcoord-dev";

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Before anything starts, so a SIGTERM during start-up still shuts down gracefully.
    let shutdown = crate::shutdown::shutdown_signal();
    let mut settings = args.settings().map_err(anyhow::Error::msg)?;
    if std::env::var_os("ZIPCOORD_EPOCH_LEAD_MINUTES").is_some() {
        tracing::warn!(
            "ZIPCOORD_EPOCH_LEAD_MINUTES is no longer used: an epoch is created at its start, when the beacon \
             round that seeds it exists, and its inputs are published when the epoch before it starts"
        );
    }
    // Explicit ZIPCOORD_S3_* settings always win, even incomplete ones (the S3 endpoints then name what is
    // missing); outside --dev nothing is started.
    let embedded = if args.dev && !args.s3.names_a_store() {
        let store = start_dev_store(Path::new(DEV_STORE_DIR)).await?;
        settings.s3 = Ok(args.s3.tune(store.s3_settings()).map_err(anyhow::Error::msg)?);
        tracing::info!(endpoint = %store.endpoint(), bucket = DEV_BUCKET, folder = DEV_STORE_DIR, "embedded S3 store serving");
        Some(store)
    } else {
        None
    };
    let s3 = settings.s3.clone();
    let clock = settings.epochs.clock;
    // The signal stops the server, or its wait for a database that does not answer yet.
    let stop = tokio_util::sync::CancellationToken::new();
    let stopping = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopping.cancel();
    });
    let server = match crate::boot::start_waiting_for_database(settings, Arc::new(SystemClock), stop.clone()).await {
        Ok(server) => server,
        Err(error) if error.is::<crate::boot::StoppedWhileStarting>() => {
            tracing::info!("stopped while waiting for the database");
            return Ok(());
        }
        Err(error) => return Err(error),
    };
    tracing::info!(addr = %server.addr, metagraph = %server.app.metagraph_source(), "zipcoord listening");
    if args.dev {
        let now_unix = server.app.now_unix();
        let examples = DevExamples {
            addr: server.addr,
            now_unix,
            epoch: clock.epoch_at(now_unix),
            s3: &s3,
            embedded: embedded.as_ref().map(|store| EmbeddedStoreInfo {
                endpoint: store.endpoint(),
                folder: std::fs::canonicalize(store.root.join(&store.bucket))
                    .unwrap_or_else(|_| store.root.join(&store.bucket)),
            }),
        };
        print!("{}", examples.render());
    }
    let result = server.run_until(stop.cancelled_owned()).await;
    // The store outlives the server's last request, then stops with it.
    if let Some(store) = embedded {
        drop(store);
        tracing::info!("embedded S3 store stopped");
    }
    result
}

/// The embedded store over `root`, with a secret nobody else knows: only the grants this server signs reach it.
async fn start_dev_store(root: &Path) -> anyhow::Result<LocalStore> {
    let secret = hex::encode(rand::random::<[u8; 32]>());
    LocalStore::start(root, DEV_BUCKET, DEV_ACCESS_KEY_ID, &secret)
        .await
        .with_context(|| format!("cannot start the embedded S3 store over ./{}", root.display()))
}

//! Logging through `tracing`: human-readable by default, JSON for log shippers. `RUST_LOG` overrides the level.
//! Colours only when stderr is a terminal, so a log redirected to a file holds no escape sequences.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::flags::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests, embedded use) keeps the first subscriber.
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

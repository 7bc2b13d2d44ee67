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

/// A fatal error, on stderr in the log's format: a JSON line (`level` `ERROR`, `fatal` true) for log shippers,
/// `error: …` for people. Written directly rather than through the subscriber, so that no `RUST_LOG` filter
/// can hide why the process stopped.
pub fn fatal(format: LogFormat, message: &str) {
    match format {
        LogFormat::Pretty => eprintln!("error: {message}"),
        LogFormat::Json => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let line = serde_json::json!({
                "timestamp": crate::domain::instant::iso8601_millis(now.as_millis() as i64),
                "level": "ERROR",
                "target": "zipcoord",
                "fatal": true,
                "message": message,
            });
            eprintln!("{line}");
        }
    }
}

/// The log format asked for before the command line could be read (a command line clap refuses): the
/// environment's, or a `--log-format json` among the arguments.
pub fn requested_format() -> LogFormat {
    let args: Vec<String> = std::env::args().collect();
    let from_args = args.windows(2).any(|pair| pair[0] == "--log-format" && pair[1] == "json")
        || args.iter().any(|arg| arg == "--log-format=json");
    if from_args || std::env::var("ZIPCOORD_LOG_FORMAT").is_ok_and(|value| value == "json") {
        LogFormat::Json
    } else {
        LogFormat::Pretty
    }
}

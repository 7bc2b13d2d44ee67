//! The `zipcoord` binary: parse the command line, start logging, dispatch.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = match zipcoord::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version go to stdout as clap writes them; a refused command line is an error like any other.
        Err(error) if !error.use_stderr() => error.exit(),
        Err(error) => match zipcoord::requested_log_format() {
            zipcoord::cli::flags::LogFormat::Json => {
                let text = error.render().to_string();
                let text = text.trim().trim_start_matches("error: ");
                zipcoord::fatal(zipcoord::cli::flags::LogFormat::Json, text);
                std::process::exit(error.exit_code());
            }
            zipcoord::cli::flags::LogFormat::Pretty => error.exit(),
        },
    };
    let format = cli.log_format;
    zipcoord::init_logging(format);
    match zipcoord::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            zipcoord::fatal(format, &error_chain(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The error and its causes, `: `-separated, leaving out a cause whose words the message before already
/// carries (database and HTTP errors repeat their source in their own message).
fn error_chain(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let words = cause.to_string();
        if !text.contains(&words) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&words);
        }
    }
    text
}

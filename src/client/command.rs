//! Running an operator's command (a scraper, a listing verifier) through `sh -c`: inputs in environment
//! variables and on stdin, a time limit, and bounded output, so a hung or chatty plug-in cannot stall or
//! exhaust the client.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("cannot start `{command}`: {reason}")]
    Spawn { command: String, reason: String },
    #[error("`{0}` did not finish within {1:?}")]
    Timeout(String, Duration),
    #[error("`{0}` wrote more than {1} bytes")]
    TooMuchOutput(String, usize),
    #[error("`{command}` failed: {reason}")]
    Io { command: String, reason: String },
}

/// What the command left behind.
#[derive(Debug)]
pub struct CommandOutput {
    /// `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    /// The end of its stderr, for error messages.
    pub stderr_tail: String,
}

/// Runs `command` with `env` and `stdin`, waiting at most `timeout` and reading at most `max_output` bytes.
pub async fn run(
    command: &str,
    env: &[(&str, String)],
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    max_output: usize,
) -> Result<CommandOutput, CommandError> {
    let io_error = |e: std::io::Error| CommandError::Io { command: command.to_string(), reason: e.to_string() };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| CommandError::Spawn { command: command.to_string(), reason: e.to_string() })?;
    let work = async {
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A command that ignores its input closes the pipe early; that is its business.
            let _ = pipe.write_all(&input).await;
        }
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        let mut out = child.stdout.take().expect("stdout is piped").take(max_output as u64 + 1);
        let mut err = child.stderr.take().expect("stderr is piped").take(64 * 1024);
        let (read_out, read_err) = tokio::join!(out.read_to_end(&mut stdout), err.read_to_end(&mut stderr));
        read_out.map_err(io_error)?;
        read_err.map_err(io_error)?;
        if stdout.len() > max_output {
            return Err(CommandError::TooMuchOutput(command.to_string(), max_output));
        }
        let status = child.wait().await.map_err(io_error)?;
        let text = String::from_utf8_lossy(&stderr);
        let tail: String = text.chars().rev().take(300).collect::<Vec<_>>().into_iter().rev().collect();
        Ok(CommandOutput { code: status.code(), stdout, stderr_tail: tail.trim().to_string() })
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| CommandError::Timeout(command.to_string(), timeout))?
}

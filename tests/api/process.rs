//! Real `zipcoord` processes for the tests that need them (the CLI, replicas, crash safety): spawning with a
//! clean environment, a blocking HTTP/1.1 client, and `serve --dev` children whose output is drained.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary with no inherited `ZIPCOORD_*` settings.
pub fn zipcoord() -> Command {
    clean(Command::new(env!("CARGO_BIN_EXE_zipcoord")))
}

/// The same, started by a shell that first sets the open-file limit (soft and hard) to `limit`.
pub fn zipcoord_with_open_files(limit: u32) -> Command {
    let mut command = Command::new("sh");
    command.args(["-c", &format!("ulimit -n {limit} && exec \"$0\" \"$@\""), env!("CARGO_BIN_EXE_zipcoord")]);
    clean(command)
}

fn clean(mut command: Command) -> Command {
    for (key, _) in std::env::vars() {
        if key.starts_with("ZIPCOORD_") {
            command.env_remove(key);
        }
    }
    command.env("NO_COLOR", "1");
    command
}

/// `zipcoord localnet` on loopback with 15-second epochs and 300 listings per epoch, its state in `data_dir`,
/// plus `args`, run to its end (at most 150 s): what it printed, once it exited 0.
pub async fn run_localnet(data_dir: &std::path::Path, args: &[&str]) -> String {
    let defaults = ["--epoch-seconds", "15", "--target-listings", "300"];
    run_localnet_within(data_dir, &[&defaults, args].concat(), Duration::from_secs(150)).await
}

/// `zipcoord localnet` on loopback with `args` alone, its state in `data_dir`, run to its end (at most `limit`):
/// what it printed, once it exited 0.
pub async fn run_localnet_within(data_dir: &std::path::Path, args: &[&str], limit: Duration) -> String {
    let output = tokio::process::Command::from(zipcoord())
        .args(["localnet", "--listen", "127.0.0.1:0"])
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(limit, output).await.expect("localnet stops").unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// Runs a command to completion: (success, stdout, stderr).
pub fn run(args: &[&str]) -> (bool, String, String) {
    let output = zipcoord().args(args).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub fn wait_with_timeout(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not exit in time");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub mod raw_http {
    /// A tiny blocking HTTP/1.1 client over std, so these tests need no second HTTP client stack.
    pub fn request(method: &str, url: &str, body: &str) -> (u16, String) {
        try_request(method, url, body).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
    }

    /// The same, with connection failures returned (a server being killed).
    pub fn try_request(method: &str, url: &str, body: &str) -> std::io::Result<(u16, String)> {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let mut stream = std::net::TcpStream::connect(host)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let status = response.get(9..12).and_then(|s| s.parse().ok());
        let status = status.ok_or_else(|| std::io::Error::other(format!("no HTTP answer: {response:?}")))?;
        Ok((status, response))
    }

    /// The JSON body of an answer.
    pub fn body(response: &str) -> serde_json::Value {
        let (_, body) = response.split_once("\r\n\r\n").expect("a head and a body");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }
}

/// A `zipcoord serve --dev` child whose output is drained by threads, so verbose logging cannot fill a pipe
/// and stall it. It runs in a folder of its own, where `--dev` keeps its embedded S3 store.
pub struct DevServer {
    child: std::process::Child,
    pub base: String,
    /// The signed `/current` example the server printed.
    pub example_current: String,
    /// Everything the server printed up to the examples' last line.
    pub banner: Vec<String>,
    /// The working directory.
    pub workdir: std::path::PathBuf,
    stderr: std::thread::JoinHandle<String>,
}

impl DevServer {
    /// Starts `serve --dev` on `database_url` with extra arguments and environment in a fresh working
    /// directory, and waits until it serves.
    pub fn spawn(database_url: &str, args: &[&str], env: &[(&str, &str)]) -> DevServer {
        Self::spawn_in(&tempfile::tempdir().unwrap().keep(), database_url, args, env)
    }

    /// The same in `workdir` (a second server there finds the first one's bucket).
    pub fn spawn_in(workdir: &std::path::Path, database_url: &str, args: &[&str], env: &[(&str, &str)]) -> DevServer {
        let mut command = zipcoord();
        command
            .args(["--log-format", "json", "serve", "--dev", "--listen", "127.0.0.1:0", "--database-url", database_url])
            .args(args)
            .current_dir(workdir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let mut stderr_pipe = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut stderr_pipe, &mut text).unwrap();
            text
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut banner = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let last = line.starts_with("Stop with Ctrl-C");
            banner.push(line);
            if last {
                break;
            }
        }
        let example_current = banner.iter().find_map(|line| {
            let start = line.find("'http://")?;
            let url = line[start + 1..].trim_end_matches('\'');
            url.contains("/current?").then(|| url.to_string())
        });
        let Some(example_current) = example_current else {
            let _ = child.kill();
            panic!("the server printed no signed /current example:\n{}", stderr.join().unwrap());
        };
        std::thread::spawn(move || lines.for_each(drop));
        let base = example_current.split("/api/").next().unwrap().to_string();
        DevServer { child, base, example_current, banner, workdir: workdir.to_path_buf(), stderr }
    }

    /// `serve --dev` on a fresh SQLite file.
    pub fn spawn_on_sqlite(env: &[(&str, &str)]) -> DevServer {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.keep().join("z.db").display());
        Self::spawn(&db, &[], env)
    }

    /// SIGTERM, expect a clean exit, return what the server logged.
    pub fn stop(self) -> String {
        self.signal_and_wait("-TERM", true)
    }

    /// SIGKILL: no chance to flush or finish anything.
    pub fn kill(self) -> String {
        self.signal_and_wait("-KILL", false)
    }

    fn signal_and_wait(mut self, signal: &str, expect_success: bool) -> String {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([signal, &pid]).status().unwrap().success());
        let status = wait_with_timeout(&mut self.child, Duration::from_secs(20));
        if expect_success {
            assert!(status.success(), "graceful shutdown exits 0");
        }
        self.stderr.join().unwrap()
    }
}

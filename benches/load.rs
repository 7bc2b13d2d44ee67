//! Load benchmark (design.md section 5). Starts the release server as a process on loopback (dev metagraph,
//! rate limits off: capacity is measured, not the limits), pre-generates tens of thousands of distinct valid
//! signed requests (sr25519 signatures are randomized, so every request carries a signature the server has never
//! seen), and measures: the verify bound of this machine, peak throughput of `GET /current` and of the public
//! stats, p50/p99 at fixed rates up to half of peak, p99 of legitimate requests while junk arrives at ten times
//! their rate, server RSS, and cold start to first response. Prints a Markdown table with the core count.
//!
//! Run with `cargo bench --bench load` (or `scripts/bench.sh`, which also runs the criterion benchmarks).
//! The load generator shares the machine with the server, so throughput figures are a floor.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use zipcoord::domain::access::auth::verify_hotkey_signature;
use zipcoord::domain::access::endpoint::{self, SignedValues};
use zipcoord::domain::access::keys::Keypair;

const CURRENT: &str = "/api/v1/zipcode-assignments/current";
const STATS: &str = "/api/v1/zipcode-assignments/stats";
const DEV_MINERS: [&str; 4] = ["//Charlie", "//Dave", "//Eve", "//Ferdie"];

/// A keep-alive HTTP/1.1 connection that sends GETs and reads `Content-Length` answers: as little client work as
/// possible, so the server gets most of the machine.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection { stream, buffer: Vec::with_capacity(16 * 1024) })
    }

    /// Sends a GET and returns the status code.
    async fn get(&mut self, path: &str) -> std::io::Result<u16> {
        let request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n\r\n");
        self.stream.write_all(request.as_bytes()).await?;
        loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buffer[..end]).map_err(std::io::Error::other)?;
                let status = head
                    .get(9..12)
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| std::io::Error::other("bad status line"))?;
                let length: usize = head
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
                    })
                    .ok_or_else(|| std::io::Error::other("no content-length"))?;
                let total = end + 4 + length;
                while self.buffer.len() < total {
                    self.read_more().await?;
                }
                self.buffer.drain(..total);
                return Ok(status);
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> std::io::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "server closed the connection"));
        }
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// The server under test, as a process.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// Starts `zipcoord serve --dev` on `db` and returns it with the time to its first answer. Every simulated
    /// client comes from 127.0.0.1, so the per-address connection cap (a defence against one flooding peer) is
    /// lifted to the overall one; the open-loop phases hold a few hundred connections at once.
    fn start(db: &Path) -> (Server, Duration) {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_zipcoord"))
            .args(["serve", "--dev", "--rate-limits", "off", "--max-connections-per-ip", "4096"])
            .args(["--listen", &addr.to_string(), "--database-url"])
            .arg(format!("sqlite://{}", db.display()))
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the release binary starts");
        loop {
            if let Ok(mut stream) = std::net::TcpStream::connect(addr) {
                use std::io::{Read, Write};
                stream.write_all(b"GET /livez HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").unwrap();
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.1 200") {
                    break;
                }
            }
            assert!(started.elapsed() < Duration::from_secs(30), "the server did not come up");
            std::thread::sleep(Duration::from_millis(2));
        }
        (Server { child, addr }, started.elapsed())
    }

    /// `(VmRSS, VmHWM)` in MiB.
    fn memory(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map_or(f64::NAN, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// CPU seconds (user + system) the server has used so far.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name, which is in parentheses and may contain spaces.
        let fields: Vec<&str> = stat.rsplit_once(')').map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name; 100 ticks a second.
        (ticks(11) + ticks(12)) / 100.0
    }

    fn stop(mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

/// `count` distinct signed `/current` paths spread over the dev miners, valid for the next few minutes.
fn signed_paths(count: usize) -> Vec<String> {
    let timestamp = chrono::Utc::now().timestamp() + 240;
    let message = endpoint::CURRENT.commitment(&SignedValues::at(timestamp));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let message = &message;
                scope.spawn(move || {
                    let keys: Vec<Keypair> = DEV_MINERS.iter().map(|uri| Keypair::from_uri(uri).unwrap()).collect();
                    (t..count)
                        .step_by(threads)
                        .map(|n| {
                            let key = &keys[n % keys.len()];
                            let signature = key.sign(message.as_bytes()).to_hex();
                            format!("{CURRENT}?hotkey={}&signature={signature}&timestamp={timestamp}", key.hotkey())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

/// Junk: half carry a well-formed but wrong signature of a registered hotkey (the expensive kind: the server
/// must verify it, twice with the `<Bytes>` wrapping), half an unknown hotkey.
fn junk_paths(count: usize) -> Vec<String> {
    let timestamp = chrono::Utc::now().timestamp() + 240;
    let registered: Vec<String> =
        DEV_MINERS.iter().map(|uri| Keypair::from_uri(uri).unwrap().hotkey().to_string()).collect();
    (0..count)
        .map(|n| {
            let hotkey = if n % 2 == 0 {
                registered[n % registered.len()].clone()
            } else {
                Keypair::from_seed(&rand::random::<[u8; 32]>()).hotkey().to_string()
            };
            let signature = hex::encode([rand::random::<[u8; 32]>(), rand::random::<[u8; 32]>()].concat());
            format!("{CURRENT}?hotkey={hotkey}&signature={signature}&timestamp={timestamp}")
        })
        .collect()
}

/// Requests as fast as `connections` keep-alive connections allow, for `duration`; successful answers per second.
async fn peak(addr: SocketAddr, paths: Arc<Vec<String>>, connections: usize, duration: Duration) -> f64 {
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (paths, next, ok) = (paths.clone(), next.clone(), ok.clone());
            tokio::spawn(async move {
                let mut connection = Connection::open(addr).await.unwrap();
                while Instant::now() < deadline {
                    let path = &paths[next.fetch_add(1, Ordering::Relaxed) % paths.len()];
                    if connection.get(path).await.unwrap() == 200 {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    ok.load(Ordering::Relaxed) as f64 / duration.as_secs_f64()
}

/// Sends `paths` at a fixed `rate` for `duration` (open loop: requests go out on schedule whatever the server
/// does); returns each answer's `(latency, status)`.
async fn fixed_rate(addr: SocketAddr, paths: Arc<Vec<String>>, rate: f64, duration: Duration) -> Vec<(Duration, u16)> {
    // Connections opened in advance: opening one costs a handshake that belongs to no request's latency.
    let mut idle = Vec::new();
    for _ in 0..64 {
        idle.push(Connection::open(addr).await.unwrap());
    }
    let pool: Arc<Mutex<Vec<Connection>>> = Arc::new(Mutex::new(idle));
    let count = (rate * duration.as_secs_f64()) as usize;
    let start = tokio::time::Instant::now() + Duration::from_millis(20);
    let offset = rand::random::<u32>() as usize;
    let tasks: Vec<_> = (0..count)
        .map(|n| {
            let (paths, pool) = (paths.clone(), pool.clone());
            let due = start + Duration::from_secs_f64(n as f64 / rate);
            tokio::spawn(async move {
                tokio::time::sleep_until(due).await;
                let idle = pool.lock().await.pop();
                let mut connection = match idle {
                    Some(connection) => connection,
                    None => Connection::open(addr).await.unwrap(),
                };
                // From the moment the request goes out: the timer wakes tasks up to a millisecond late, which is
                // the generator's delay, not the server's. No request waits for another's answer (idle
                // connections or a new one), so a slow server still shows in full.
                let sent = tokio::time::Instant::now();
                let status = connection.get(&paths[(offset + n) % paths.len()]).await.unwrap();
                let latency = sent.elapsed();
                pool.lock().await.push(connection);
                (latency, status)
            })
        })
        .collect();
    let mut results = Vec::with_capacity(count);
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

fn percentile(latencies: &mut [Duration], p: f64) -> Duration {
    latencies.sort();
    let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
    latencies[index]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Microseconds per verification on one core.
fn verify_cost() -> f64 {
    let key = Keypair::from_uri("//Charlie").unwrap();
    let message = endpoint::CURRENT.commitment(&SignedValues::at(1_759_334_400));
    let signatures: Vec<_> = (0..500).map(|_| key.sign(message.as_bytes())).collect();
    let hotkey = key.hotkey();
    let rounds = 10;
    let started = Instant::now();
    for _ in 0..rounds {
        for signature in &signatures {
            assert!(verify_hotkey_signature(&hotkey, message.as_bytes(), signature));
        }
    }
    started.elapsed().as_secs_f64() * 1e6 / (rounds * signatures.len()) as f64
}

/// The criterion figures of `cargo bench --bench domain`, when it ran before: `(benchmark, mean)`.
fn criterion_means() -> Vec<(String, Duration)> {
    let root = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| Path::new("target").to_path_buf(), Into::into);
    let Ok(entries) = std::fs::read_dir(root.join("criterion")) else { return Vec::new() };
    let mut means: Vec<(String, Duration)> = entries
        .filter_map(|entry| {
            let folder = entry.ok()?.path().join("new");
            let read = |name: &str| -> Option<serde_json::Value> {
                serde_json::from_slice(&std::fs::read(folder.join(name)).ok()?).ok()
            };
            let title = read("benchmark.json")?["full_id"].as_str()?.to_string();
            let nanos = read("estimates.json")?["mean"]["point_estimate"].as_f64()?;
            Some((title, Duration::from_secs_f64(nanos / 1e9)))
        })
        .collect();
    means.sort();
    means
}

fn main() {
    // `cargo bench` passes `--bench`; nothing here takes arguments.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bench.db");
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let mut row = |what: &str, figure: String, target: &str| {
        eprintln!("  {what}: {figure}");
        rows.push((what.to_string(), figure, target.to_string()));
    };

    eprintln!("zipcoord load benchmark on {cores} cores");
    let verify_us = verify_cost();
    let bound = cores as f64 * 1e6 / verify_us;
    row("sr25519 verify, one core", format!("{verify_us:.1} µs: bound {bound:.0} req/s on {cores} cores"), "");
    for (title, mean) in criterion_means() {
        let target = if title.starts_with("select_zipcodes") {
            "< 10 ms"
        } else if title.starts_with("create epoch") {
            "< 50 ms"
        } else {
            ""
        };
        let figure =
            if mean < Duration::from_millis(1) { format!("{:.1} µs", mean.as_secs_f64() * 1e6) } else { ms(mean) };
        row(&format!("criterion: {title}"), figure, target);
    }

    let (server, first_start) = Server::start(&db);
    server.stop();
    let (server, cold_start) = Server::start(&db);
    row("first start (migrations, seeding 29,806 zipcodes) to first answer", ms(first_start), "");
    row("cold start, existing SQLite database, to first answer", ms(cold_start), "< 1 s");
    let addr = server.addr;

    let connections = cores * 16;
    let signed = Arc::new(signed_paths(60_000));
    let stats = Arc::new(vec![STATS.to_string()]);
    let measure_peak = |paths: &Arc<Vec<String>>| {
        let before = server.cpu_seconds();
        let duration = Duration::from_secs(5);
        let rate = runtime.block_on(peak(addr, paths.clone(), connections, duration));
        let cpu_per_request = (server.cpu_seconds() - before) / (rate * duration.as_secs_f64());
        (rate, cpu_per_request)
    };
    // Warm up: the current epoch is created on first use, connections and caches settle.
    runtime.block_on(peak(addr, signed.clone(), connections, Duration::from_secs(1)));
    let (current_peak, current_cpu) = measure_peak(&signed);
    let (stats_peak, stats_cpu) = measure_peak(&stats);
    row(
        "GET /current peak, distinct valid signatures (load generator on the same cores)",
        format!("{current_peak:.0} req/s = {:.2} × verify bound", current_peak / bound),
        "≥ 0.8 × bound",
    );
    let server_capacity = cores as f64 / current_cpu;
    row(
        "GET /current server CPU per request; capacity with the cores to itself",
        format!(
            "{:.0} µs; {server_capacity:.0} req/s = {:.2} × verify bound",
            current_cpu * 1e6,
            server_capacity / bound
        ),
        "≥ 0.8 × bound",
    );
    row(
        "GET /stats peak (public); server CPU per request",
        format!("{stats_peak:.0} req/s; {:.0} µs", stats_cpu * 1e6),
        "",
    );

    for share in [0.1, 0.25, 0.5] {
        let rate = current_peak * share;
        let mut results = runtime.block_on(fixed_rate(addr, signed.clone(), rate, Duration::from_secs(4)));
        let failures = results.iter().filter(|(_, status)| *status != 200).count();
        let mut latencies: Vec<Duration> = results.drain(..).map(|(l, _)| l).collect();
        let target = if share == 0.5 { "p99 < 5 ms" } else { "" };
        row(
            &format!("GET /current at {:.0} % of peak ({rate:.0} req/s)", share * 100.0),
            format!(
                "p50 {}, p99 {}{}",
                ms(percentile(&mut latencies, 0.5)),
                ms(percentile(&mut latencies, 0.99)),
                if failures > 0 { format!(", {failures} non-200") } else { String::new() }
            ),
            target,
        );
    }

    // Legitimate requests at a rate that, with ten times as much junk, adds up to about half the peak.
    let legit_rate = current_peak / 22.0;
    let junk = Arc::new(junk_paths(20_000));
    let (mut legit, junk_results) = runtime.block_on(async {
        let duration = Duration::from_secs(6);
        let flood = tokio::spawn(fixed_rate(addr, junk.clone(), legit_rate * 10.0, duration));
        let legit = fixed_rate(addr, signed.clone(), legit_rate, duration).await;
        (legit, flood.await.unwrap())
    });
    let rejected = junk_results.iter().filter(|(_, status)| *status == 401).count();
    let legit_failures = legit.iter().filter(|(_, status)| *status != 200).count();
    let mut latencies: Vec<Duration> = legit.drain(..).map(|(l, _)| l).collect();
    row(
        &format!("legitimate /current ({legit_rate:.0} req/s) under 10× junk ({:.0} req/s)", legit_rate * 10.0),
        format!(
            "p50 {}, p99 {}; junk rejected 401: {rejected}/{}; legit non-200: {legit_failures}",
            ms(percentile(&mut latencies, 0.5)),
            ms(percentile(&mut latencies, 0.99)),
            junk_results.len()
        ),
        "p99 < 20 ms",
    );

    let (rss, peak_rss) = server.memory();
    row("server RSS after the run (peak)", format!("{rss:.1} MiB ({peak_rss:.1} MiB)"), "< 50 MB");
    server.stop();

    println!("\n| measured on {cores} cores (release build) | figure | target |\n|---|---|---|");
    for (what, figure, target) in rows {
        println!("| {what} | {figure} | {target} |");
    }
}

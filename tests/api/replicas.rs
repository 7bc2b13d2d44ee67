//! Real server processes sharing one database (the suite's backend: SQLite, or PostgreSQL when
//! `ZIPCOORD_TEST_DATABASE_URL` is set): three replicas started together agree on a new epoch; acknowledged
//! status reports survive `kill -9`; an import killed half-way leaves nothing behind.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use zipcoord::client::status_request;
use zipcoord::domain::access::endpoint::{self, SignedValues};
use zipcoord::domain::access::keys::Keypair;
use zipcoord::domain::epoch::status::MinerStatus;
use zipcoord::domain::epoch::EpochId;
use zipcoord::storage::Store;

use crate::helpers::fresh_database_url;
use crate::process::{raw_http, zipcoord, DevServer};

const MINERS: [&str; 4] = ["//Charlie", "//Dave", "//Eve", "//Ferdie"];

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

/// `GET /current` signed by `key` now: (status, body).
fn current(base: &str, key: &Keypair) -> (u16, Value) {
    let ts = now_unix();
    let signature = key.sign(endpoint::CURRENT.commitment(&SignedValues::at(ts)).as_bytes()).to_hex();
    let url = format!(
        "{base}/api/v1/zipcode-assignments/current?hotkey={}&signature={signature}&timestamp={ts}",
        key.hotkey()
    );
    let (status, response) = raw_http::request("GET", &url, "");
    (status, raw_http::body(&response))
}

fn report(base: &str, key: &Keypair, epoch: EpochId, nonce: &str, listings: u64) -> std::io::Result<u16> {
    let status = if listings.is_multiple_of(2) { MinerStatus::InProgress } else { MinerStatus::Completed };
    let mut request = status_request(key, epoch, nonce, status, now_unix());
    request.listings_scraped = Some(listings as i64);
    let url = format!("{base}/api/v1/zipcode-assignments/status");
    raw_http::try_request("POST", &url, &serde_json::to_string(&request).unwrap()).map(|(status, _)| status)
}

#[test]
fn three_replicas_started_together_agree_on_a_new_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let db = block_on(fresh_database_url(dir.path()));
    // One-minute epochs, so a new epoch begins while the test watches. Started together: concurrent
    // migrations, seeding and secret generation.
    let servers: Vec<DevServer> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            (0..3).map(|_| scope.spawn(|| DevServer::spawn(&db, &["--epoch-minutes", "1"], &[]))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    // Wait for the next epoch, then ask every replica for it at once.
    let wait_ms = 60_000 - (SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() % 60_000) as u64;
    std::thread::sleep(Duration::from_millis(wait_ms + 100));
    let keys: Vec<Keypair> = MINERS.iter().map(|uri| Keypair::from_uri(uri).unwrap()).collect();
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let handles: Vec<_> = servers
            .iter()
            .flat_map(|server| keys.iter().map(move |key| (server, key)))
            .map(|(server, key)| scope.spawn(move || current(&server.base, key)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                let (status, body) = h.join().unwrap();
                assert_eq!(status, 200, "{body}");
                body
            })
            .collect()
    });
    let first = &answers[0];
    for answer in &answers {
        assert_eq!(answer["epochId"], first["epochId"]);
        assert_eq!(answer["nonce"], first["nonce"]);
        assert_eq!(answer["zipcodes"], first["zipcodes"]);
    }
    let epoch: EpochId = first["epochId"].as_str().unwrap().parse().unwrap();
    assert!(now_unix() - epoch.start_unix() < 60, "the answers are for the epoch that just began");

    // Each replica takes one miner's report; every replica's database sees all of them.
    let nonce = first["nonce"].as_str().unwrap();
    for (server, key) in servers.iter().zip(&keys) {
        assert_eq!(report(&server.base, key, epoch, nonce, 1).unwrap(), 200);
    }
    let states = block_on(async {
        let store = Store::connect(&db).await.unwrap();
        let stored = store.load_epoch(epoch).await.unwrap().expect("stored once");
        assert_eq!(stored.nonce.to_string(), nonce);
        store.miner_states(epoch).await.unwrap()
    });
    assert_eq!(states.len(), 3);
    for server in servers {
        server.stop();
    }
}

#[test]
fn every_acknowledged_report_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = block_on(fresh_database_url(dir.path()));
    let server = DevServer::spawn(&db, &[], &[("ZIPCOORD_RATE_LIMITS", "off")]);
    let (status, assignment) = current(&server.base, &Keypair::from_uri("//Charlie").unwrap());
    assert_eq!(status, 200);
    let epoch: EpochId = assignment["epochId"].as_str().unwrap().parse().unwrap();
    let nonce = assignment["nonce"].as_str().unwrap().to_string();

    let base = server.base.clone();
    let stop = AtomicBool::new(false);
    let acknowledged: HashMap<String, Vec<u64>> = std::thread::scope(|scope| {
        let miners: Vec<_> = MINERS
            .iter()
            .map(|uri| {
                let (base, nonce, stop) = (&base, &nonce, &stop);
                scope.spawn(move || {
                    let key = Keypair::from_uri(uri).unwrap();
                    let mut acked = Vec::new();
                    for listings in 1.. {
                        match report(base, &key, epoch, nonce, listings) {
                            Ok(200) => acked.push(listings),
                            Ok(other) => panic!("unexpected status {other}"),
                            Err(_) if stop.load(Ordering::SeqCst) => break,
                            Err(error) => panic!("{error}"),
                        }
                    }
                    (key.hotkey().to_string(), acked)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(1500));
        stop.store(true, Ordering::SeqCst);
        server.kill();
        miners.into_iter().map(|m| m.join().unwrap()).collect()
    });

    let events = block_on(async { Store::connect(&db).await.unwrap().status_events(epoch).await.unwrap() });
    let mut total = 0;
    for (hotkey, acked) in &acknowledged {
        assert!(acked.len() > 5, "{hotkey} got only {} reports in", acked.len());
        let stored: Vec<u64> =
            events.iter().filter(|e| e.hotkey.to_string() == *hotkey).filter_map(|e| e.listings_scraped).collect();
        for n in acked {
            assert!(stored.contains(n), "report {n} of {hotkey} was acknowledged but is gone");
        }
        total += acked.len();
    }
    println!("{total} acknowledged reports, all present after kill -9");

    // The restarted server serves the same epoch and nonce.
    let server = DevServer::spawn(&db, &[], &[]);
    let (status, again) = current(&server.base, &Keypair::from_uri("//Charlie").unwrap());
    assert_eq!(status, 200);
    assert_eq!((&again["epochId"], &again["nonce"]), (&assignment["epochId"], &assignment["nonce"]));
    server.stop();
}

#[test]
fn an_import_killed_half_way_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let db = block_on(fresh_database_url(dir.path()));
    DevServer::spawn(&db, &[], &[]).stop(); // seeds the built-in universe
    let zipcodes = block_on(async { Store::connect(&db).await.unwrap().load_zipcodes().await.unwrap() });
    assert!(zipcodes.len() > 20_000);
    let csv = dir.path().join("all.csv");
    let rows: String = zipcodes.iter().map(|z| format!("{},777\n", z.zipcode)).collect();
    std::fs::write(&csv, format!("zipcode,expected_listings\n{rows}")).unwrap();

    for delay_ms in [50, 150, 400] {
        let mut child = zipcoord()
            .args(["zipcodes", "import", csv.to_str().unwrap(), "--database-url", &db])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let finished = child.wait().unwrap().success();
        let after = block_on(async { Store::connect(&db).await.unwrap().load_zipcodes().await.unwrap() });
        let updated = after.iter().filter(|z| z.expected_listings == 777).count();
        assert!(updated == 0 || updated == zipcodes.len(), "after {delay_ms} ms: {updated} of {} rows", zipcodes.len());
        println!("killed after {delay_ms} ms: import {}", if updated == 0 { "left nothing" } else { "had committed" });
        if updated == 0 {
            assert!(!finished);
        }
    }
    // Left alone, the same import completes: the kills above interrupted a working import.
    let output =
        zipcoord().args(["zipcodes", "import", csv.to_str().unwrap(), "--database-url", &db]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let after = block_on(async { Store::connect(&db).await.unwrap().load_zipcodes().await.unwrap() });
    assert!(after.iter().all(|z| z.expected_listings == 777));
}

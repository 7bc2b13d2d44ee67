//! The operator's reproduction of a groups epoch that could not be stored, end to end with the real binary: 30
//! imported zipcodes, `groups` mode with groups of five and overlap one, a metagraph of 45 miners, ten-second
//! epochs. Nine disjoint batches would need more listings than the universe has, so every epoch refills batches
//! from zipcodes earlier batches took; each one is created, served, healthy, and recomputed by both verifiers.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use zipcoord::domain::access::keys::Keypair;

use crate::process::{raw_http, run, wait_with_timeout, zipcoord};

fn get(base: &str, path: &str) -> (u16, Value) {
    let (status, response) = raw_http::request("GET", &format!("{base}{path}"), "");
    (status, raw_http::body(&response))
}

/// Waits until `/stats` names a current epoch other than `after`; returns its id.
fn next_current_epoch(base: &str, after: Option<&str>, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        // The server may still be starting.
        if let Ok((status, response)) =
            raw_http::try_request("GET", &format!("{base}/api/v1/zipcode-assignments/stats"), "")
        {
            let stats = raw_http::body(&response);
            assert_eq!(status, 200, "/stats answers 200 whatever happens: {stats}");
            if let Some(id) = stats["epochStatus"]["currentEpoch"]["id"].as_str() {
                if Some(id) != after {
                    return id.to_string();
                }
            }
        }
        assert!(Instant::now() < deadline, "no new epoch was created");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_groups_epoch_that_refills_its_batches_is_created_served_and_recomputed() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("zipcoord.db").display());
    let csv: String = std::iter::once("zipcode,state,expected_listings".to_string())
        .chain((0..30).map(|n| format!("{:05},NY,{}", 10_001 + n, 80 + n * 3)))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.path().join("zipcodes.csv"), csv).unwrap();
    let csv_path = dir.path().join("zipcodes.csv");
    let (ok, _, stderr) = run(&["zipcodes", "import", csv_path.to_str().unwrap(), "--database-url", &database]);
    assert!(ok, "{stderr}");
    let mut neurons = vec![serde_json::json!({"uid": 0, "hotkey": Keypair::from_seed(&[1; 32]).hotkey().to_string(),
        "coldkey": "5validator", "validator_permit": true, "stake": 50_000.0})];
    for n in 0..45u8 {
        let hotkey = Keypair::from_seed(&[n + 2; 32]).hotkey().to_string();
        neurons.push(serde_json::json!({"uid": n + 1, "hotkey": hotkey, "coldkey": format!("5cold{n}"),
            "validator_permit": false, "stake": 10.0}));
    }
    let metagraph = dir.path().join("metagraph.json");
    std::fs::write(&metagraph, serde_json::to_string(&neurons).unwrap()).unwrap();
    let listen =
        format!("127.0.0.1:{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
    let base = format!("http://{listen}");
    let mut server = zipcoord()
        .args(["serve", "--listen", &listen, "--database-url", &database, "--beacon", "dev"])
        .args(["--metagraph", &format!("file:{}", metagraph.display())])
        .args(["--assignment-mode", "groups", "--group-size", "5", "--group-overlap", "1"])
        .args(["--target-listings", "1000", "--epoch-seconds", "10"])
        .env("RUST_LOG", "warn")
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let first = next_current_epoch(&base, None, Duration::from_secs(30));
    let second = next_current_epoch(&base, Some(&first), Duration::from_secs(30));
    let (_, health) = get(&base, "/healthcheck");
    assert_eq!(health["epoch_creation"]["state"], "ok", "{health}");
    for epoch in [&first, &second] {
        let (status, proof) = get(&base, &format!("/api/v1/zipcode-assignments/epoch/{epoch}/proof"));
        assert_eq!(status, 200, "{proof}");
        let groups = proof["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 9, "45 miners in groups of five");
        let zipcodes: Vec<&str> = proof["zipcodes"].as_array().unwrap().iter().map(|z| z.as_str().unwrap()).collect();
        let distinct: std::collections::BTreeSet<&str> = zipcodes.iter().copied().collect();
        assert!(distinct.len() < zipcodes.len(), "refilled batches repeat zipcodes: {epoch}");
        // Both verifiers, from the published inputs and the dev beacon's pulse, agree with what is served.
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/verify_epoch.py");
        let python = Command::new("python3")
            .args([script, "--skip-pulse-verification", "--url", &base, epoch])
            .output()
            .expect("python3 runs");
        let stdout = String::from_utf8_lossy(&python.stdout);
        assert!(python.status.success() && stdout.contains("verified: epoch "), "{stdout}");
        let (ok, stdout, stderr) = run(&["verify-epoch", epoch, "--url", &base]);
        assert!(ok && stdout.contains("verified"), "{stdout}{stderr}");
    }
    assert!(Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap().success());
    let status = wait_with_timeout(&mut server, Duration::from_secs(20));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut server.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("UNIQUE constraint"), "{stderr}");
}

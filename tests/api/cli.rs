//! The binary: `serve` refusing to start without a metagraph, `serve --dev` printing working signed examples
//! and stopping cleanly on SIGTERM, transactional `zipcodes import`, `epoch show`, and `verify-epoch`.

use crate::helpers::TestApp;
use crate::process::{raw_http, run, zipcoord, DevServer};

#[test]
fn serve_without_a_metagraph_says_how_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("z.db").display());
    let (ok, _, stderr) = run(&["serve", "--database-url", &db, "--listen", "127.0.0.1:0"]);
    assert!(!ok);
    assert!(stderr.contains("ZIPCOORD_METAGRAPH") && stderr.contains("--dev"), "{stderr}");
    let (ok, _, stderr) = run(&["serve", "--metagraph", "chain", "--database-url", &db]);
    assert!(!ok);
    assert!(stderr.contains("'subtensor:URL[,URL...]'"), "{stderr}");
    let (ok, _, stderr) = run(&["serve", "--metagraph", "subtensor:ftp://node?apikey=hunter2", "--database-url", &db]);
    assert!(!ok);
    assert!(stderr.contains("not http(s) or ws(s)") && !stderr.contains("hunter2"), "{stderr}");
    let (ok, _, stderr) = run(&[
        "serve",
        "--dev",
        "--metagraph-refresh-seconds",
        "600",
        "--metagraph-max-age-seconds",
        "300",
        "--database-url",
        &db,
    ]);
    assert!(!ok);
    assert!(stderr.contains("ZIPCOORD_METAGRAPH_MAX_AGE_SECONDS"), "{stderr}");
    let (ok, _, stderr) = run(&["serve", "--dev", "--epoch-minutes", "7", "--database-url", &db]);
    assert!(!ok);
    assert!(stderr.contains("divide 1440"), "{stderr}");
    let (ok, _, stderr) = run(&["serve", "--dev", "--secret", "abcd", "--database-url", &db]);
    assert!(!ok);
    assert!(stderr.contains("at least 32 bytes") && !stderr.contains("abcd"), "the secret is never echoed: {stderr}");
}

#[test]
fn serve_dev_prints_signed_examples_that_work_and_stops_on_sigterm() {
    let server = DevServer::spawn_on_sqlite(&[]);
    let (status, response) = raw_http::request("GET", &server.example_current, "");
    assert_eq!(status, 200, "{}\n{response}", server.example_current);
    assert!(response.contains("\"epochId\""));
    let (status, _) = raw_http::request("GET", &format!("{}/healthcheck", server.base), "");
    assert_eq!(status, 200);
    let stderr = server.stop();
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(!stderr.contains("signature="), "signatures never reach the logs");
}

#[test]
fn the_s3_secret_never_reaches_logs_responses_or_help() {
    let secret = "S3SECRET-must-never-leak-0123456789";
    let env = [
        ("ZIPCOORD_S3_SECRET_ACCESS_KEY", secret),
        ("ZIPCOORD_S3_ACCESS_KEY_ID", "AKIDTEST"),
        ("ZIPCOORD_S3_BUCKET", "bucket"),
        ("ZIPCOORD_S3_ENDPOINT", "http://127.0.0.1:9"),
        ("RUST_LOG", "trace"),
    ];
    let server = DevServer::spawn_on_sqlite(&env);
    let base = server.base.clone();
    let charlie = zipcoord::domain::access::keys::Keypair::from_uri("//Charlie").unwrap();
    let now = zipcoord::client::unix_now();
    let hotkey = charlie.hotkey();
    let values = zipcoord::domain::access::endpoint::SignedValues::new(hotkey.as_str(), now).coldkey("ck");
    let message = zipcoord::domain::access::endpoint::FOLDER_ACCESS.commitment(&values);
    let signature = charlie.sign(message.as_bytes()).to_hex();
    let body =
        serde_json::json!({"coldkey": "ck", "hotkey": hotkey.to_string(), "timestamp": now, "signature": signature});
    let (status, ok) = raw_http::request("POST", &format!("{base}/get-folder-access"), &body.to_string());
    assert_eq!(status, 200, "{ok}");
    let (status, bad) = raw_http::request("POST", &format!("{base}/get-folder-access"), "{\"coldkey\": 1}");
    assert_eq!(status, 400, "{bad}");
    let stderr = server.stop();
    assert!(stderr.contains("S3 access granted"), "the grant is logged: {stderr}");
    for text in [&ok, &bad, &stderr] {
        assert!(!text.contains(secret), "the S3 secret leaked");
    }
    assert!(!stderr.contains("X-Amz-Signature") && !stderr.contains(&signature), "no signature is logged");

    let mut help = zipcoord();
    for (key, value) in env {
        help.env(key, value);
    }
    let output = help.args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("ZIPCOORD_S3_SECRET_ACCESS_KEY") && !text.contains(secret));
}

#[test]
fn imports_are_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("z.db").display());
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "zipcode,expected_listings,state,city,county,tier\n10001,120,NY,New York,New York,premium\n02134,80,MA,Boston,,\n").unwrap();
    let (ok, stdout, stderr) = run(&["zipcodes", "import", good.to_str().unwrap(), "--database-url", &db]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("2 inserted, 0 updated, 0 unchanged, 0 deactivated"), "{stdout}");
    assert!(stdout.contains("the next epoch created selects from this universe"), "{stdout}");

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "zipcode,expected_listings,state\n10001,999,NY\n10002,12,NY\n1000x,5,NY\n").unwrap();
    let (ok, _, stderr) = run(&["zipcodes", "import", bad.to_str().unwrap(), "--database-url", &db]);
    assert!(!ok);
    assert!(stderr.contains("line 4") && stderr.contains("nothing changed"), "{stderr}");

    let (ok, stdout, _) = run(&["zipcodes", "list", "--database-url", &db]);
    assert!(ok);
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    // The blank county is completed from the built-in zipcode data.
    assert!(rows[0].starts_with("02134\tMA\tBoston\tSuffolk County\t80\tSTANDARD"), "{}", rows[0]);
    assert!(rows[1].starts_with("10001\tNY\tNew York\tNew York\t120\tPREMIUM"), "{}", rows[1]);
    // Each row says where its value came from and when it last changed.
    let header: Vec<&str> = stdout.lines().next().unwrap().split('\t').collect();
    assert_eq!(header[8..], ["source", "changed"], "{stdout}");
    let source: Vec<&str> = rows[0].split('\t').collect();
    assert_eq!(source[8], "import:good.csv", "{}", rows[0]);
    assert!(source[9].starts_with("20") && source[9].ends_with('Z'), "{}", rows[0]);

    // A Zillow file, replacing what was there: 10001 updated, 02134 deactivated, two new.
    let zillow = dir.path().join("zillow.csv");
    std::fs::write(
        &zillow,
        "RegionID,SizeRank,RegionName,RegionType,StateName,State,City,Metro,CountyName\n\
         1,1,10001,zip,NY,NY,New York,\"New York-Newark, NY\",New York County\n\
         2,600,77494,zip,TX,TX,Katy,\"Houston, TX\",Fort Bend County\n\
         3,5000,00501,zip,NY,NY,Holtsville,,Suffolk County\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = run(&[
        "zipcodes",
        "import",
        zillow.to_str().unwrap(),
        "--replace",
        "--prior-listings",
        "100",
        "--database-url",
        &db,
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("(zillow format): 2 inserted, 1 updated, 0 unchanged, 1 deactivated"), "{stdout}");
    let (_, stdout, _) = run(&["zipcodes", "stats", "--database-url", &db]);
    assert!(stdout.starts_with("4 zipcodes, 3 active, 1 inactive"), "{stdout}");
    assert!(stdout.contains("PREMIUM\t1\t300"), "{stdout}");
}

#[tokio::test]
async fn epoch_show_prints_the_assignment_and_miner_states() {
    let app = TestApp::spawn().await;
    let assignment = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    let report = zipcoord::client::status_request(
        &app.keys.miner,
        assignment.epoch_id.parse().unwrap(),
        &assignment.nonce,
        zipcoord::domain::epoch::status::MinerStatus::InProgress,
        app.now(),
    );
    app.client.report_status(&app.keys.miner, &report).await.unwrap();
    let (ok, stdout, stderr) = run(&["epoch", "show", &assignment.epoch_id, "--database-url", &app.db_url]);
    assert!(ok, "{stderr}");
    let shown: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["epochId"], assignment.epoch_id.as_str());
    assert_eq!(shown["nonce"], assignment.nonce.as_str());
    assert_eq!(shown["zipcodes"].as_array().unwrap().len(), assignment.zipcodes.len());
    assert_eq!(shown["miners"][0]["hotkey"], app.keys.miner.hotkey().to_string());
    assert_eq!(shown["miners"][0]["status"], "IN_PROGRESS");

    let (ok, _, stderr) = run(&["epoch", "show", "2020-01-01T00-00-00", "--database-url", &app.db_url]);
    assert!(!ok && stderr.contains("has not been created"), "{stderr}");
    let (ok, _, stderr) = run(&["epoch", "show", "not-an-epoch", "--database-url", &app.db_url]);
    assert!(!ok && stderr.contains("invalid epoch id"), "{stderr}");

    // An import says which epochs it reaches: not those whose inputs are already published.
    let csv = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(csv.path(), "zipcode,expected_listings\n10001,250\n").unwrap();
    let (ok, stdout, stderr) =
        run(&["zipcodes", "import", csv.path().to_str().unwrap(), "--database-url", &app.db_url]);
    assert!(ok, "{stderr}");
    let next = app.app().settings().epochs.clock.next(app.current_epoch());
    let reach = format!("epochs up to {next} keep the inputs already published for them");
    assert!(stdout.contains(&reach), "{stdout}");
}

#[tokio::test]
async fn verify_epoch_says_verified_or_why_not() {
    let app = TestApp::spawn().await;
    let assignment = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    let verify =
        |epoch: String, url: String| tokio::task::spawn_blocking(move || run(&["verify-epoch", &epoch, "--url", &url]));
    let (ok, stdout, stderr) = verify(assignment.epoch_id.clone(), app.base_url.clone()).await.unwrap();
    assert!(ok, "{stderr}");
    let expected = format!(
        "verified: epoch {}: {} zipcodes, {} expected listings, from round",
        assignment.epoch_id,
        assignment.zipcodes.len(),
        assignment.metadata.total_expected_listings
    );
    assert!(stdout.starts_with(&expected), "{stdout}");
    assert!(stdout.contains("of zipcoord-dev and inputs published"), "{stdout}");

    let future = app.app().settings().epochs.clock.next(app.current_epoch()).to_string();
    let (ok, _, stderr) = verify(future.clone(), app.base_url.clone()).await.unwrap();
    assert!(!ok && stderr.contains(&format!("cannot fetch epoch {future}")) && stderr.contains("404"), "{stderr}");
    let (ok, _, stderr) = verify("tomorrow".into(), app.base_url.clone()).await.unwrap();
    assert!(!ok && stderr.contains("invalid epoch id"), "{stderr}");
}

#[test]
fn a_database_file_that_is_not_one_fails_at_once_with_sqlites_reason() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    let started = std::time::Instant::now();
    let (ok, _, stderr) = run(&["migrate", "--database-url", &format!("sqlite://{}", garbage.display())]);
    assert!(!ok && stderr.contains("file is not a database"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "failed after {:?}", started.elapsed());
    assert_eq!(std::fs::read(&garbage).unwrap(), vec![0x5a; 8192], "the file is left as it was");

    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let (ok, stdout, stderr) = run(&["migrate", "--database-url", &format!("sqlite://{}", empty.display())]);
    assert!(ok && stdout.contains("migrations applied"), "{stderr}");
    assert!(stderr.contains("the database file is empty; starting it as a new database"), "{stderr}");
}

/// `zipcoord serve --dev` on `url`, expected to exit within 5 s: (exit status, stderr).
fn serve_expecting_exit(url: &str) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    let workdir = tempfile::tempdir().unwrap();
    let mut child = zipcoord()
        .args(["serve", "--dev", "--listen", "127.0.0.1:0", "--database-url", url])
        .current_dir(workdir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = crate::process::wait_with_timeout(&mut child, std::time::Duration::from_secs(5));
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (status, stderr)
}

#[test]
fn a_read_only_database_fails_at_once_with_sqlites_reason() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("zipcoord.db");
    let url = format!("sqlite://{}", file.display());
    let (ok, _, stderr) = run(&["migrate", "--database-url", &url]);
    assert!(ok, "{stderr}");
    let before = std::fs::read(&file).unwrap();
    let reason = "cannot start the service: database error: error returned from database: (code: 8) attempt to \
                  write a readonly database\n";

    // Opened read-only by its URL: what SQLite says of a file it may not write, whoever runs the test.
    let (status, stderr) = serve_expecting_exit(&format!("{url}?mode=ro"));
    assert!(!status.success() && stderr.ends_with(reason), "{stderr}");

    // A file and folder without write permission, where permissions bind (not for root, who may write anyway).
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::OpenOptions::new().write(true).open(&file).is_err() {
        let (status, stderr) = serve_expecting_exit(&url);
        assert!(!status.success() && stderr.contains("readonly database"), "{stderr}");
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), before, "the file is left as it was");
}

/// A private certificate authority in the system's roots (here named by `SSL_CERT_FILE`, as
/// `update-ca-certificates` would install it in an image) is trusted by the binary's HTTPS clients, and without
/// it the same server is refused with the reason.
#[test]
fn a_private_ca_among_the_systems_roots_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    // Each command a line of words, as one would type it.
    let openssl = |line: &str| {
        let args: Vec<&str> = line.split_whitespace().collect();
        let output = std::process::Command::new("openssl").args(&args).current_dir(dir.path()).output().unwrap();
        assert!(output.status.success(), "openssl {line}: {}", String::from_utf8_lossy(&output.stderr));
    };
    openssl("req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=zipcoord-test-CA");
    openssl("req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost");
    std::fs::write(dir.path().join("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").unwrap();
    openssl(
        "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext",
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = std::process::Command::new("openssl")
        .args(["s_server", "-accept", &format!("127.0.0.1:{port}"), "-cert", "server.pem", "-key", "server.key"])
        .args(["-www", "-quiet"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "openssl s_server listens");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let url = format!("https://localhost:{port}/");
    let probe = |ca: Option<&std::path::Path>| {
        let mut command = zipcoord();
        command.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR").args(["probe", &url]);
        if let Some(ca) = ca {
            command.env("SSL_CERT_FILE", ca);
        }
        command.output().unwrap()
    };
    let refused = probe(None);
    let trusted = probe(Some(&dir.path().join("ca.pem")));
    let _ = server.kill();
    let _ = server.wait();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a certificate no trusted root signed is refused");
    assert!(stderr.contains("UnknownIssuer"), "the reason is named: {stderr}");
    assert!(trusted.status.success(), "{}", String::from_utf8_lossy(&trusted.stderr));
}

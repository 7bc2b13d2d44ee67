//! The database's disk fills up: writes are refused at once with a 503 that names the cause, nothing is
//! acknowledged that was not stored, health says so, and everything recovers without a restart once space is
//! back. On SQLite with a real full filesystem (a small tmpfs); on PostgreSQL through a commit that fails with
//! the server's own `disk_full` error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use zipcoord::client::{status_request, ClientError};
use zipcoord::domain::epoch::status::MinerStatus;
use zipcoord::settings::{RateLimitSettings, Settings};

use crate::helpers::{TestApp, TestOptions};

const STATUS: &str = "/api/v1/zipcode-assignments/status";

/// A tmpfs of `size` mounted at `dir/mnt`, unmounted on drop; `None` where this process may not mount.
struct SmallDisk {
    mount: PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> Option<SmallDisk> {
        let mount = dir.join("mnt");
        std::fs::create_dir_all(&mount).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&mount)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        mounted.then_some(SmallDisk { mount })
    }

    /// Writes zeros until the filesystem refuses more.
    fn fill(&self) -> PathBuf {
        let filler = self.mount.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        // The last bytes, a page at a time.
        while file.write_all(&chunk[..512]).is_ok() {}
        let _ = file.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

/// A status report of the current epoch from the miner, signed at `now - age` seconds; (HTTP status, body).
async fn post_report(app: &TestApp, nonce: &str, age: i64) -> (u16, Value) {
    let request = status_request(&app.keys.miner, app.current_epoch(), nonce, MinerStatus::InProgress, app.now() - age);
    app.post_json(STATUS, &request).await
}

fn is_disk_full_answer(status: u16, body: &Value) -> bool {
    status == 503
        && body["statusCode"] == 503
        && body["message"].as_str().is_some_and(|m| m.contains("disk is full") && m.contains("nothing"))
}

/// Polls `/healthcheck` until its database writes are in `state` (a probe asks the database every 2 s).
async fn wait_for_writes(app: &TestApp, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, health) = app.get("/healthcheck").await;
        if health["database_writes"]["state"] == state {
            return health;
        }
        assert!(Instant::now() < deadline, "database writes never became {state}: {health}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_full_disk_refuses_writes_at_once_acknowledges_none_it_lost_and_recovers_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(dir.path(), "6m") else {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root and can mount a tmpfs");
        eprintln!("skipped: this process cannot mount a tmpfs (run as root for the full-disk test)");
        return;
    };
    let db_url = format!("sqlite://{}", disk.mount.join("zipcoord.db").display());
    let mut app = TestApp::spawn_with(TestOptions {
        database_url: Some(db_url.clone()),
        settings: Some(Box::new(|s: &mut Settings| s.rate_limits = RateLimitSettings::off())),
        ..TestOptions::default()
    })
    .await;
    let first = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    let mut acknowledged = 0;
    for age in 0..10 {
        let (status, body) = post_report(&app, &first.nonce, age).await;
        assert_eq!(status, 200, "{body}");
        acknowledged += 1;
    }
    assert_eq!(wait_for_writes(&app, "ok").await["status"], "ok");

    // The disk fills up: every report is stored and acknowledged, or refused at once naming the cause.
    let filler = disk.fill();
    let mut refused = 0;
    for age in 10..110 {
        let started = Instant::now();
        let (status, body) = post_report(&app, &first.nonce, age).await;
        assert!(started.elapsed() < Duration::from_secs(5), "answered at once, not after a busy timeout");
        match status {
            200 => acknowledged += 1,
            _ => {
                assert!(is_disk_full_answer(status, &body), "{status} {body}");
                refused += 1;
            }
        }
    }
    assert!(refused >= 90, "a full disk refuses writes ({refused} of 100 refused)");
    let health = wait_for_writes(&app, "failing").await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["database_writes"]["reason"], "the database's disk is full", "{health}");
    assert!(health["database_writes"]["failing_since"].is_string(), "{health}");
    let (ready, readiness) = app.get("/readyz").await;
    assert_eq!((ready, readiness["ready"].as_bool()), (503, Some(false)), "{readiness}");
    assert_eq!(readiness["database_writes"]["state"], "failing");
    let metrics = reqwest::get(format!("{}/metrics", app.base_url)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("zipcoord_database_writes_failing 1"), "the metric says so");

    // The next epoch cannot be stored, so it is not served.
    app.pass_time(app.epoch_clock().length_seconds() * 1000).await;
    match app.client.current(&app.keys.miner, app.now()).await {
        Err(ClientError::Api { status, body }) => {
            let body = serde_json::to_value(&body).unwrap();
            assert!(is_disk_full_answer(status, &body), "{status} {body}");
        }
        other => panic!("an epoch that cannot be stored is served: {other:?}"),
    }

    // Space comes back: writes succeed without a restart, health recovers.
    std::fs::remove_file(filler).unwrap();
    app.pass_time(60_000).await; // the epoch's creation is tried again after a back-off
    let second = app.client.current(&app.keys.miner, app.now()).await.expect("the epoch is created now");
    for age in 0..10 {
        let (status, body) = post_report(&app, &second.nonce, age).await;
        assert_eq!(status, 200, "{body}");
        acknowledged += 1;
    }
    assert_eq!(wait_for_writes(&app, "ok").await["status"], "ok");

    // After a restart the epoch served is the one stored, and every acknowledged report is there.
    app.restart().await;
    let again = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    assert_eq!((&again.epoch_id, &again.nonce, &again.zipcodes), (&second.epoch_id, &second.nonce, &second.zipcodes));
    app.stop().await;
    assert_eq!(stored_reports(&db_url).await, acknowledged, "every acknowledged report, and only those");
}

async fn stored_reports(db_url: &str) -> i64 {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(db_url).await.unwrap();
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM status_signatures").fetch_one(&mut connection).await.unwrap();
    connection.close().await.unwrap();
    count
}

/// On PostgreSQL (the suite's PostgreSQL run), a commit that fails, as it does when the server's disk is full,
/// is never acknowledged, and the pool's connections carry on once commits succeed again.
#[tokio::test]
async fn on_postgresql_a_commit_that_fails_for_a_full_disk_is_not_acknowledged() {
    let app = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(|s: &mut Settings| s.rate_limits = RateLimitSettings::off())),
        ..TestOptions::default()
    })
    .await;
    if !app.db_url.starts_with("postgres") {
        return; // SQLite's full disk is the test above, on a real filesystem.
    }
    let nonce = app.client.current(&app.keys.miner, app.now()).await.unwrap().nonce;
    assert_eq!(post_report(&app, &nonce, 0).await.0, 200);
    // Every commit that stored a report now fails with PostgreSQL's own disk_full (53100), at COMMIT itself.
    let disk_full = [
        "CREATE FUNCTION zipcoord_test_disk_full() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$",
        "CREATE CONSTRAINT TRIGGER zipcoord_test_disk_full AFTER INSERT ON status_signatures \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION zipcoord_test_disk_full()",
    ];
    execute(&app.db_url, &disk_full).await;
    // More failures than the pool has connections: none may stay behind inside a transaction.
    for age in 1..=40 {
        let (status, body) = post_report(&app, &nonce, age).await;
        assert!(is_disk_full_answer(status, &body), "{status} {body}");
    }
    assert_eq!(stored_reports(&app.db_url).await, 1);
    execute(&app.db_url, &["DROP TRIGGER zipcoord_test_disk_full ON status_signatures"]).await;
    for age in 41..=80 {
        let (status, body) = post_report(&app, &nonce, age).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(stored_reports(&app.db_url).await, 41);
}

async fn execute(db_url: &str, statements: &[&str]) {
    use sqlx::Connection;
    let mut connection = sqlx::AnyConnection::connect(db_url).await.unwrap();
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement.to_string())).execute(&mut connection).await.unwrap();
    }
    connection.close().await.unwrap();
}

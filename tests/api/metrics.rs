//! `/metrics` after real traffic: the counters move and the metagraph gauges describe the snapshot.

use zipcoord::client::status_request;
use zipcoord::domain::access::endpoint::{self, SignedValues};
use zipcoord::domain::epoch::status::MinerStatus;

use zipcoord::settings::Settings;

use crate::helpers::{TestApp, TestOptions};

/// The value of the series whose name and labels start with `series` (0 when absent).
fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| line.starts_with(series))
        .filter_map(|line| line.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

async fn scrape(app: &TestApp) -> String {
    let response = reqwest::get(format!("{}/metrics", app.base_url)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    response.text().await.unwrap()
}

#[tokio::test]
async fn traffic_moves_the_counters() {
    let app = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(|s: &mut Settings| s.rate_limits.current_per_hotkey_per_hour = 2)),
        ..TestOptions::default()
    })
    .await;
    let before = scrape(&app).await;
    let now = app.now();
    let current = r#"zipcoord_http_requests_total{method="GET",route="/api/v1/zipcode-assignments/current""#;

    let good = app.client.current(&app.keys.miner, now).await.unwrap();
    let signature = app.keys.miner.sign(endpoint::CURRENT.commitment(&SignedValues::at(now + 1)).as_bytes());
    let (status, _) =
        app.get_signed(CURRENT, &app.keys.outsider.hotkey().to_string(), &signature.to_hex(), &now.to_string()).await;
    assert_eq!(status, 401);
    let (status, _) =
        app.get_signed(CURRENT, &app.keys.miner.hotkey().to_string(), &signature.to_hex(), &now.to_string()).await;
    assert_eq!(status, 401);
    let _ = app.client.current(&app.keys.miner, now).await.unwrap();
    assert!(app.client.current(&app.keys.miner, now).await.is_err(), "the third /current is over the limit");
    let epoch = app.current_epoch();
    let report = status_request(&app.keys.miner, epoch, &good.nonce, MinerStatus::InProgress, now);
    app.client.report_status(&app.keys.miner, &report).await.unwrap();
    assert_eq!(app.get("/api/v1/nothing").await.0, 404);

    let after = scrape(&app).await;
    let moved = |series: &str, by: f64| {
        let delta = value(&after, series) - value(&before, series);
        assert!(delta >= by, "{series} moved by {delta}, expected at least {by}\n{after}");
    };
    moved(&format!(r#"{current},status="200"}}"#), 2.0);
    moved(&format!(r#"{current},status="401"}}"#), 2.0);
    moved(&format!(r#"{current},status="429"}}"#), 1.0);
    moved(r#"zipcoord_http_requests_total{method="GET",route="unmatched",status="404"}"#, 1.0);
    moved(
        r#"zipcoord_http_request_duration_seconds_count{method="GET",route="/api/v1/zipcode-assignments/current"}"#,
        5.0,
    );
    moved(r#"zipcoord_auth_failures_total{reason="unregistered"}"#, 1.0);
    moved(r#"zipcoord_auth_failures_total{reason="bad_signature"}"#, 1.0);
    moved(r#"zipcoord_rate_limited_total{scope="hotkey_current"}"#, 1.0);
    moved(r#"zipcoord_status_reports_total{status="IN_PROGRESS"}"#, 1.0);
    moved("zipcoord_epochs_created_total", 1.0);
    moved("zipcoord_epoch_selection_duration_seconds_count", 1.0);
    assert!(after.contains("zipcoord_http_request_duration_seconds_bucket{"), "histograms have buckets");
    assert!(after.contains(&format!(r#"zipcoord_build_info{{version="{}"}} 1"#, env!("CARGO_PKG_VERSION"))));
    assert!(!after.contains(&app.keys.miner.hotkey().to_string()), "no hotkey ever becomes a label");
}

#[tokio::test]
async fn the_metagraph_gauges_describe_the_snapshot() {
    let app = TestApp::spawn().await;
    app.pass_time(120_000).await;
    app.time.advance_ms(42_000);
    let metrics = scrape(&app).await;
    // Other tests' servers share the process-wide registry; the gauges show whichever scraped last, here us.
    assert_eq!(value(&metrics, "zipcoord_metagraph_age_seconds "), 42.0, "{metrics}");
    assert_eq!(value(&metrics, "zipcoord_metagraph_neurons "), 5.0);
    assert_eq!(value(&metrics, "zipcoord_metagraph_fresh "), 1.0);
    assert!(value(&metrics, r#"zipcoord_metagraph_refreshes_total{result="ok"}"#) >= 1.0);
}

const CURRENT: &str = "/api/v1/zipcode-assignments/current";

/// Series of one metric family in a scrape.
fn series(metrics: &str, family: &str) -> usize {
    metrics.lines().filter(|line| line.starts_with(&format!("{family}{{"))).count()
}

#[tokio::test]
async fn invented_methods_and_paths_add_no_series() {
    let app = TestApp::spawn().await;
    let before = scrape(&app).await;
    let http = reqwest::Client::new();
    let mut answered = 0;
    for n in 0..1_500 {
        let method = reqwest::Method::from_bytes(format!("BREW{n}").as_bytes()).unwrap();
        let path = format!("{}/junk/{n}?q={n}", app.base_url);
        for request in [http.request(method, &path), http.get(&path)] {
            answered += request.send().await.is_ok() as usize;
        }
    }
    assert_eq!(answered, 3_000);
    let after = scrape(&app).await;
    let grown = series(&after, "zipcoord_http_requests_total") - series(&before, "zipcoord_http_requests_total");
    assert!(grown <= 12, "3,000 invented requests added {grown} request series");
    assert!(after.len() < before.len() + 20_000, "/metrics grew from {} to {} bytes", before.len(), after.len());
    assert!(value(&after, "zipcoord_http_requests_total{method=\"other\",route=\"unmatched\"") >= 1.0, "{after}");
}

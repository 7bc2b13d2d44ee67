//! Rate limits over real loopback connections from distinct source addresses (127.0.0.2, 127.0.0.3, ...).

use std::net::IpAddr;

use zipcoord::client::status_request;
use zipcoord::domain::access::endpoint::{self, SignedValues};
use zipcoord::domain::access::keys::Keypair;
use zipcoord::domain::epoch::status::MinerStatus;

use zipcoord::settings::{RateLimitSettings, Settings};

use crate::helpers::{assert_error, TestApp, TestOptions};

const STATS: &str = "/api/v1/zipcode-assignments/stats";

fn client_from(last_octet: u8) -> reqwest::Client {
    reqwest::Client::builder().local_address(IpAddr::from([127, 0, 0, last_octet])).build().unwrap()
}

async fn get(client: &reqwest::Client, url: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = client.get(url).header("Content-Type", "application/json");
    if let Some(ip) = forwarded_for {
        request = request.header("X-Forwarded-For", ip);
    }
    request.send().await.unwrap()
}

/// Sends requests until one is refused; returns how many passed first. Tokens refill while the loop runs (a
/// per-minute quota of 120 adds one every 0.5 s), so a little more than the quota may pass.
async fn flood_until_limited(
    client: &reqwest::Client,
    url: &str,
    forwarded_for: impl Fn(usize) -> Option<String>,
) -> (usize, reqwest::Response) {
    for i in 0..1_000 {
        let response = get(client, url, forwarded_for(i).as_deref()).await;
        if response.status().as_u16() == 429 {
            return (i, response);
        }
        assert_eq!(response.status().as_u16(), 200);
    }
    panic!("never limited");
}

async fn assert_429(response: reqwest::Response, limit: u32, message: &str) {
    assert_eq!(response.status().as_u16(), 429);
    let headers = response.headers().clone();
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    assert_eq!(headers["x-ratelimit-limit"].to_str().unwrap(), limit.to_string());
    assert_eq!(headers["x-ratelimit-remaining"].to_str().unwrap(), "0");
    assert_eq!(headers["x-ratelimit-reset"].to_str().unwrap(), retry.to_string());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_error(429, &body, 429, message);
}

#[tokio::test]
async fn a_flood_from_one_address_is_turned_away_while_others_are_served() {
    let app = TestApp::spawn().await;
    let url = format!("{}{STATS}", app.base_url);
    let flooder = client_from(2);
    // Spoofed X-Forwarded-For headers change nothing when no proxy is trusted.
    let (passed, refused) = flood_until_limited(&flooder, &url, |i| Some(format!("203.0.113.{}", i % 250))).await;
    assert!((120..140).contains(&passed), "{passed} passed before the limit");
    assert_429(refused, 120, "Too many requests from this address").await;
    // Another address is unaffected.
    assert_eq!(get(&client_from(3), &url, None).await.status().as_u16(), 200);
}

#[tokio::test]
async fn junk_signatures_never_spend_a_hotkeys_quota() {
    let app = spawn_with_current_budget(5).await;
    let miner = &app.keys.miner;
    let now = app.now();
    let junk = format!(
        "{}/api/v1/zipcode-assignments/current?hotkey={}&signature={}&timestamp={now}",
        app.base_url,
        miner.hotkey(),
        "ab".repeat(64)
    );
    let attacker = client_from(4);
    let (mut unauthorized, mut limited) = (0, 0);
    for _ in 0..2_000 {
        match get(&attacker, &junk, None).await.status().as_u16() {
            401 => unauthorized += 1,
            429 => limited += 1,
            other => panic!("junk got {other}"),
        }
    }
    // 600 a minute, plus what refills while the loop runs.
    assert!((600..700).contains(&unauthorized) && limited > 1_000, "{unauthorized} rejected, {limited} limited");

    // The miner's own budget of 5 is intact, and it is enforced.
    let honest = client_from(5);
    for offset in 0..5 {
        assert_eq!(get(&honest, &signed_current(&app, miner, now - offset), None).await.status().as_u16(), 200);
    }
    assert_429(get(&honest, &signed_current(&app, miner, now - 5), None).await, 5, "Too many requests for this hotkey")
        .await;
    // Other hotkeys keep their own budget.
    assert!(app.client.current(&app.keys.other_miner, now).await.is_ok());
}

/// A signed `/current` URL of `key` at `timestamp`.
fn signed_current(app: &TestApp, key: &Keypair, timestamp: i64) -> String {
    let signature = key.sign(endpoint::CURRENT.commitment(&SignedValues::at(timestamp)).as_bytes()).to_hex();
    format!(
        "{}/api/v1/zipcode-assignments/current?hotkey={}&signature={signature}&timestamp={timestamp}",
        app.base_url,
        key.hotkey()
    )
}

#[tokio::test]
async fn replays_of_a_captured_request_never_spend_the_owners_budget() {
    let app = spawn_with_current_budget(5).await;
    let miner = &app.keys.miner;
    let now = app.now();
    let captured = signed_current(&app, miner, now);
    let owner = client_from(6);
    assert_eq!(get(&owner, &captured, None).await.status().as_u16(), 200);
    // Someone who captured the URL replays it from another address: answered like the first, at no cost.
    let replayer = client_from(7);
    for _ in 0..125 {
        assert_eq!(get(&replayer, &captured, None).await.status().as_u16(), 200);
    }
    // The owner still has the 4 requests left that the first one did not spend.
    for offset in 1..5 {
        assert_eq!(get(&owner, &signed_current(&app, miner, now - offset), None).await.status().as_u16(), 200);
    }
    assert_eq!(get(&owner, &signed_current(&app, miner, now - 5), None).await.status().as_u16(), 429);
}

#[tokio::test]
async fn the_contracts_load_passes_with_the_default_limits() {
    let app = TestApp::spawn().await;
    let assignment = app.client.current(&app.keys.miner, app.now()).await.unwrap();
    let epoch = assignment.epoch_id.parse().unwrap();

    // A validator's burst of ~100 concurrent /epoch/{id} calls, one per evaluated miner.
    let mut burst = Vec::new();
    for _ in 0..100 {
        let client = app.client.clone();
        let key = app.keys.validator.clone();
        let ts = app.now();
        burst.push(tokio::spawn(async move { client.epoch(&key, epoch, ts).await }));
    }
    for call in burst {
        call.await.unwrap().expect("every call of the burst is served");
    }

    // A miner's full status sequence (N+2 reports), each sent three times as clients retry.
    let n = assignment.zipcodes.len();
    for step in 0..n + 2 {
        let status = if step == n + 1 { MinerStatus::Completed } else { MinerStatus::InProgress };
        let report = status_request(&app.keys.miner, epoch, &assignment.nonce, status, app.now());
        for _ in 0..3 {
            app.client
                .report_status(&app.keys.miner, &report)
                .await
                .expect("status reports within the contract's pattern pass");
        }
    }
    // Polling stats every 5 minutes for a day from one address, compressed: well inside the per-minute budget.
    for _ in 0..50 {
        app.client.stats().await.unwrap();
    }
}

#[tokio::test]
async fn trusted_proxies_name_the_client_and_limits_can_be_switched_off() {
    let proxied = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(|s: &mut Settings| s.rate_limits.trusted_proxy_hops = 1)),
        ..TestOptions::default()
    })
    .await;
    let url = format!("{}{STATS}", proxied.base_url);
    let proxy = client_from(6);
    // One client behind the proxy, forging ever-changing entries in front of the one the proxy appended.
    let (passed, _) = flood_until_limited(&proxy, &url, |i| Some(format!("10.9.9.{}, 198.51.100.7", i % 250))).await;
    assert!((120..140).contains(&passed), "{passed} passed before the limit");
    // A different client behind the same proxy is served.
    assert_eq!(get(&proxy, &url, Some("198.51.100.8")).await.status().as_u16(), 200);
    // An IPv6 client is one /64: walking through its own prefix's addresses does not reset its budget.
    let (passed, _) =
        flood_until_limited(&proxy, &url, |i| Some(format!("2001:db8:7:7:{:x}::{:x}", i % 1000, i + 1))).await;
    assert!((120..140).contains(&passed), "{passed} passed before the limit");
    assert_eq!(get(&proxy, &url, Some("2001:db8:7:8::1")).await.status().as_u16(), 200, "the next /64 is served");

    let open = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(|s: &mut Settings| s.rate_limits = RateLimitSettings::off())),
        ..TestOptions::default()
    })
    .await;
    let url = format!("{}{STATS}", open.base_url);
    let client = client_from(7);
    for _ in 0..200 {
        assert_eq!(get(&client, &url, None).await.status().as_u16(), 200);
    }
}

/// A server whose hotkeys may ask `/current` `budget` times an hour.
async fn spawn_with_current_budget(budget: u32) -> TestApp {
    let adjust = move |s: &mut Settings| s.rate_limits.current_per_hotkey_per_hour = budget;
    TestApp::spawn_with(TestOptions { settings: Some(Box::new(adjust)), ..TestOptions::default() }).await
}

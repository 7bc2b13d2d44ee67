//! The operator dashboard: a subnet with nine miners run for five epochs (reports of every status, silent
//! miners, grants), then its JSON read field by field and its page loaded in headless Chromium: as many
//! highlighted markers as assigned zipcodes, one row per reporting miner, no console message, no request to
//! another host, and screenshots under `target/test-output/` for a person to look at.

use std::collections::BTreeSet;

use zipcoord::app::Clock;
use zipcoord::client::status_request;
use zipcoord::domain::access::grant::{AccessGrant, GrantKind};
use zipcoord::domain::access::keys::Keypair;
use zipcoord::domain::epoch::status::MinerStatus;
use zipcoord::domain::epoch::zipcode::ZipcodeRecord;
use zipcoord::domain::epoch::EpochId;
use zipcoord::domain::usmap;
use zipcoord::universe::{builtin_universe, BuiltinLocations};

use crate::browser;
use crate::helpers::{TestApp, TestKeys, TestOptions, Universe, SECRET_HEX};

const MINERS: usize = 9;
const EPOCHS: usize = 5;
const EPOCH_MS: i64 = 4 * 3_600_000;

/// The built-in zipcodes that have a place on the map, with varied expected listings.
pub fn mapped_universe() -> Vec<ZipcodeRecord> {
    let locations = BuiltinLocations::load();
    builtin_universe(100)
        .into_iter()
        .filter(|record| {
            let at = locations.coordinates(record.zipcode);
            at.and_then(|at| usmap::project(at.lat, at.lon)).is_some()
        })
        .enumerate()
        .map(|(n, record)| ZipcodeRecord { expected_listings: 20 + (n as u32 * 7_919) % 380, ..record })
        .collect()
}

/// What miner `miner` does in epoch `epoch` (0 the oldest): `None` when it stays silent.
fn behaviour(miner: usize, epoch: usize) -> Option<MinerStatus> {
    if (miner + epoch) % 5 == 4 {
        return None;
    }
    Some(match miner % 3 {
        0 => MinerStatus::Completed,
        1 if miner == 4 => MinerStatus::Failed,
        _ => MinerStatus::InProgress,
    })
}

struct Subnet {
    app: TestApp,
    miners: Vec<Keypair>,
    epochs: Vec<EpochId>,
    /// Listings each miner reported, per epoch, `None` when silent.
    reported: Vec<Vec<Option<u64>>>,
    _metagraph: tempfile::TempDir,
}

/// A metagraph file of the validator (uid 0) and `miners` (uid 1 on), each miner under a coldkey of its own.
fn write_metagraph(dir: &std::path::Path, keys: &TestKeys, miners: &[Keypair]) -> std::path::PathBuf {
    let mut neurons = vec![
        serde_json::json!({"uid": 0, "hotkey": keys.validator.hotkey().to_string(), "coldkey": "5cold", "validator_permit": true, "stake": 50_000.0}),
    ];
    for (n, key) in miners.iter().enumerate() {
        neurons.push(serde_json::json!({"uid": n + 1, "hotkey": key.hotkey().to_string(), "coldkey": format!("5cold{n}"), "validator_permit": false, "stake": 10.0}));
    }
    let path = dir.join("metagraph.json");
    std::fs::write(&path, serde_json::to_string(&neurons).unwrap()).unwrap();
    path
}

/// Nine miners and a validator; five epochs of reports ending in the current one; a few grants.
async fn populated_subnet() -> Subnet {
    let keys = TestKeys::generate();
    let miners: Vec<Keypair> = (0..MINERS).map(|_| Keypair::from_seed(&rand::random())).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = write_metagraph(dir.path(), &keys, &miners);
    let app = TestApp::spawn_with(TestOptions {
        universe: Universe::Records(mapped_universe()),
        real_time: true,
        metagraph: Some(format!("file:{}", path.display())),
        keys: Some(keys),
        ..TestOptions::default()
    })
    .await;
    // Five epochs ending now, so the page's "ago" reads as a person's clock does.
    app.time.set_ms(app.time.now_ms() - (EPOCHS as i64 - 1) * EPOCH_MS);
    app.pass_time(0).await;

    let mut epochs = Vec::new();
    let mut reported = vec![Vec::new(); MINERS];
    for epoch_index in 0..EPOCHS {
        let assignment = app.client.current(&miners[0], app.now()).await.unwrap();
        let epoch = app.current_epoch();
        epochs.push(epoch);
        let expected: u64 = assignment.zipcodes.iter().map(|z| u64::from(z.expected_listings)).sum();
        for (n, key) in miners.iter().enumerate() {
            let Some(status) = behaviour(n, epoch_index) else {
                reported[n].push(None);
                continue;
            };
            let done = 1 + (n + epoch_index) % assignment.zipcodes.len().max(1);
            let listings = expected * (55 + 5 * n as u64) / 100;
            let mut report = status_request(key, epoch, &assignment.nonce, status, app.now());
            report.listings_scraped = Some(listings as i64);
            report.s3_upload_complete = status == MinerStatus::Completed;
            report.zipcodes_completed = assignment.zipcodes[..done.min(assignment.zipcodes.len())]
                .iter()
                .map(|z| zipcoord::api::ZipcodeCompletion {
                    zipcode: z.zipcode.clone(),
                    listings_scraped: i64::from(z.expected_listings),
                    completed_at: None,
                })
                .collect();
            app.client.report_status(key, &report).await.unwrap();
            reported[n].push(Some(listings));
        }
        if epoch_index + 1 < EPOCHS {
            app.pass_time(EPOCH_MS).await;
        }
    }
    let at = app.time.now_ms();
    let grant = |kind, key: &Keypair| AccessGrant {
        hotkey: key.hotkey(),
        kind,
        prefix: format!("data/hotkey={}/", key.hotkey()),
        granted_at_ms: at - 1_000,
        expires_at_ms: at + 3_600_000,
    };
    let grants: Vec<AccessGrant> = miners.iter().map(|key| grant(GrantKind::MinerFolder, key)).collect();
    app.app().store().record_grants(&grants).await.unwrap();
    app.app().store().record_grants(&[grant(GrantKind::ValidatorRead, &app.keys.validator)]).await.unwrap();
    Subnet { app, miners, epochs, reported, _metagraph: dir }
}

#[tokio::test]
async fn the_overview_counts_what_the_miners_reported() {
    let subnet = populated_subnet().await;
    let app = &subnet.app;
    let (status, overview) = app.get("/api/v1/dashboard/overview").await;
    assert_eq!(status, 200, "{overview}");
    let current = *subnet.epochs.last().unwrap();
    let assignment = app.app().current_assignment().await.unwrap();

    let epoch = &overview["epoch"];
    assert_eq!(epoch["id"], current.to_string());
    assert_eq!(epoch["expectedListings"], assignment.total_expected());
    assert_eq!(epoch["zipcodeCount"], assignment.zipcodes.len());
    assert_eq!(epoch["nonce"], assignment.nonce.to_string());
    let (low, high) = (epoch["windowMin"].as_u64().unwrap(), epoch["windowMax"].as_u64().unwrap());
    assert!(low <= assignment.total_expected() && assignment.total_expected() <= high, "{epoch}");
    assert_eq!((low, high), (9_000, 11_000), "the default target 10,000 ± 10 %");
    assert!(epoch["secondsLeft"].as_i64().unwrap() > 0 && epoch["secondsLeft"].as_i64().unwrap() <= 14_400);
    let verification = &epoch["verification"];
    assert_eq!(verification["seed"], "beacon", "{verification}");
    assert!(verification["round"].as_u64().is_some() && verification["inputsHash"].as_str().unwrap().len() == 64);
    let (proof_status, proof) = app.get(verification["proofPath"].as_str().unwrap()).await;
    assert_eq!((proof_status, &proof["nonce"]), (200, &epoch["nonce"]), "the proof the page links to");

    // This epoch: one row per reporting miner, with its uid, status and listings.
    let last = EPOCHS - 1;
    let reporting: Vec<usize> = (0..MINERS).filter(|&n| subnet.reported[n][last].is_some()).collect();
    let miners = &overview["miners"];
    assert_eq!(miners["registered"], MINERS);
    assert_eq!(miners["reporting"], reporting.len());
    assert_eq!(miners["silent"], MINERS - reporting.len());
    let rows = miners["rows"].as_array().unwrap();
    assert_eq!(rows.len(), reporting.len());
    for &n in &reporting {
        let hotkey = subnet.miners[n].hotkey().to_string();
        let row = rows.iter().find(|r| r["hotkey"] == hotkey).expect("a row per reporting miner");
        assert_eq!(row["uid"], n + 1);
        assert_eq!(row["status"], behaviour(n, last).unwrap().to_string());
        assert_eq!(row["listingsReported"], subnet.reported[n][last].unwrap());
        assert_eq!(row["listingsExpected"], assignment.total_expected());
        assert_eq!(row["zipcodesAssigned"], assignment.zipcodes.len());
        assert_eq!(row["reports"], 1);
    }

    // The history: every epoch, oldest first, each status counted once, the silent among today's miners.
    let history = overview["history"].as_array().unwrap();
    let ids: Vec<&str> = history.iter().map(|h| h["epochId"].as_str().unwrap()).collect();
    assert_eq!(ids, subnet.epochs.iter().map(|e| e.to_string()).collect::<Vec<_>>());
    for (index, line) in history.iter().enumerate() {
        let count = |wanted: MinerStatus| (0..MINERS).filter(|&n| behaviour(n, index) == Some(wanted)).count();
        let listings: u64 = (0..MINERS).filter_map(|n| subnet.reported[n][index]).sum();
        assert_eq!(line["completed"], count(MinerStatus::Completed), "{line}");
        assert_eq!(line["failed"], count(MinerStatus::Failed), "{line}");
        assert_eq!(line["inProgress"], count(MinerStatus::InProgress), "{line}");
        assert_eq!(line["silent"], (0..MINERS).filter(|&n| behaviour(n, index).is_none()).count(), "{line}");
        assert_eq!(line["reportedListings"], listings, "{line}");
    }

    // The system: this database, the dev metagraph with its nine miners, the grants of the last day.
    let system = &overview["system"];
    assert_eq!(system["database"], app.app().store().backend().name());
    assert_eq!((system["databaseOk"].as_bool(), system["metagraph"]["neurons"].as_u64()), (Some(true), Some(10)));
    let grants: Vec<(String, u64)> = system["grantsLastDay"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["kind"].as_str().unwrap().to_string(), g["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        grants,
        [("miner_folder", 9), ("miner_read", 0), ("validator_read", 1), ("validator_upload", 0)]
            .map(|(k, n)| (k.to_string(), n))
    );
    assert!(system["requestsLastDay"].as_u64().unwrap() >= (EPOCHS * MINERS) as u64, "{system}");

    // Nothing a miner could not see: no secret, no signature.
    let text = overview.to_string();
    assert!(!text.contains(SECRET_HEX) && !text.to_lowercase().contains("signature"), "{text}");
}

#[tokio::test]
async fn maps_place_the_universe_and_any_started_epoch_and_refuse_the_rest() {
    let subnet = populated_subnet().await;
    let app = &subnet.app;
    let (status, universe) = app.get("/api/v1/dashboard/map").await;
    assert_eq!(status, 200);
    let (width, height) = (universe["width"].as_u64().unwrap(), universe["height"].as_u64().unwrap());
    assert_eq!((width, height), (960, 540));
    let points: Vec<u64> = universe["points"].as_array().unwrap().iter().map(|p| p.as_u64().unwrap()).collect();
    assert!(points.len().is_multiple_of(2) && points.len() > 2 * 10_000, "{} coordinates", points.len());
    assert!(points.chunks(2).all(|p| p[0] <= width && p[1] <= height));
    assert_eq!(universe["unplaced"], 0, "the test's universe is the built-in zipcodes that have a place");
    assert_eq!(universe["zipcodes"].as_u64().unwrap() as usize, mapped_universe().len());

    for epoch in [subnet.epochs[EPOCHS - 1], subnet.epochs[EPOCHS - 2]] {
        let (status, map) = app.get(&format!("/api/v1/dashboard/epoch/{epoch}/map")).await;
        assert_eq!(status, 200, "{map}");
        let assignment = app.app().started_epoch(epoch).await.unwrap();
        let zipcodes: BTreeSet<&str> =
            map["zipcodes"].as_array().unwrap().iter().map(|z| z["zipcode"].as_str().unwrap()).collect();
        let assigned: BTreeSet<String> = assignment.zipcodes.iter().map(|z| z.zipcode.to_string()).collect();
        assert_eq!(zipcodes, assigned.iter().map(String::as_str).collect());
        for zipcode in map["zipcodes"].as_array().unwrap() {
            let (x, y) = (zipcode["x"].as_f64().unwrap(), zipcode["y"].as_f64().unwrap());
            assert!((0.0..=960.0).contains(&x) && (0.0..=540.0).contains(&y), "{zipcode}");
            assert!(
                zipcode["city"].as_str().is_some_and(|c| !c.is_empty())
                    && zipcode["state"].as_str().unwrap().len() == 2
            );
        }
        assert_eq!(map["expectedListings"], assignment.total_expected());
    }

    let next = app.epoch_clock().next(subnet.epochs[EPOCHS - 1]);
    let (status, body) = app.get(&format!("/api/v1/dashboard/epoch/{next}/map")).await;
    crate::helpers::assert_error(status, &body, 404, "not found");
    let (status, body) = app.get("/api/v1/dashboard/epoch/2026-13-45T99-00-00/map").await;
    crate::helpers::assert_error(status, &body, 400, "epoch");
    let off_boundary = subnet.epochs[0].start_unix() + 60;
    let (status, body) =
        app.get(&format!("/api/v1/dashboard/epoch/{}/map", EpochId::from_start_unix(off_boundary))).await;
    crate::helpers::assert_error(status, &body, 404, "not found");
    let (status, body) = app.get(&format!("/api/v1/dashboard/epoch/{}/map", "x".repeat(5_000))).await;
    assert!(status == 400 || status == 414, "{status} {body}");
    assert_eq!(body["statusCode"], status, "{body}");
}

/// #33, finding 5: the universe's map (200 KB of JSON) was serialized and compressed afresh for every request.
/// Now it is encoded once per zipcode-table revision: the same bytes and tag until an import, a 304 to a client
/// that holds them, gzip to one that accepts it.
#[tokio::test]
async fn the_universe_map_is_encoded_once_per_revision_and_revalidated_by_its_tag() {
    let app = TestApp::spawn().await;
    let url = format!("{}/api/v1/dashboard/map", app.base_url);
    let http = reqwest::Client::new();
    let first = http.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let tag = first.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(first.headers()["cache-control"], "public, max-age=60");
    let first_body = first.bytes().await.unwrap();
    let again = http.get(&url).send().await.unwrap();
    assert_eq!(again.headers()["etag"].to_str().unwrap(), tag);
    assert_eq!(again.bytes().await.unwrap(), first_body, "the same bytes");

    let held = http.get(&url).header("If-None-Match", &tag).send().await.unwrap();
    assert_eq!(held.status(), 304);
    assert!(held.bytes().await.unwrap().is_empty());
    let gzipped = http.get(&url).header("Accept-Encoding", "gzip").send().await.unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    assert_eq!(gzipped.headers()["etag"].to_str().unwrap(), tag, "the gzip held, not compressed per request");
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gzipped.bytes().await.unwrap()[..]), &mut plain)
        .unwrap();
    assert_eq!(plain, first_body, "gzip once, not twice");

    let mut added = builtin_universe(150)[0].clone();
    added.zipcode = "99950".parse().unwrap();
    app.app().store().import_zipcodes(&[added], "test", zipcoord::storage::ImportMode::Merge, 0).await.unwrap();
    let after = http.get(&url).header("If-None-Match", &tag).send().await.unwrap();
    assert_eq!(after.status(), 200, "an import is a new revision: the held map is stale");
    assert_ne!(after.headers()["etag"].to_str().unwrap(), tag);
    let body: serde_json::Value = after.json().await.unwrap();
    let before: serde_json::Value = serde_json::from_slice(&first_body).unwrap();
    assert_eq!(body["zipcodes"].as_u64().unwrap(), before["zipcodes"].as_u64().unwrap() + 1);
}

/// #33, a Low: concurrent misses of the overview cache each composed it (every query of the store and the
/// metagraph, once per open page); now one composes and the others wait for it.
#[tokio::test]
async fn concurrent_overview_misses_compose_it_once() {
    let app = TestApp::spawn().await;
    let asks = (0..16).map(|_| app.get("/api/v1/dashboard/overview"));
    for (status, body) in futures_util::future::join_all(asks).await {
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(app.app().dashboard_overviews_composed(), 1);
    app.pass_time(5_001).await;
    app.get("/api/v1/dashboard/overview").await;
    assert_eq!(app.app().dashboard_overviews_composed(), 2, "composed again once it is stale");
}

#[tokio::test]
async fn the_page_renders_the_subnet_in_headless_chromium() {
    let subnet = populated_subnet().await;
    let app = &subnet.app;
    let url = format!("{}/dashboard", app.base_url);
    let assignment = app.app().current_assignment().await.unwrap();
    let reporting = (0..MINERS).filter(|&n| subnet.reported[n][EPOCHS - 1].is_some()).count();

    let page = browser::load(&url).await;
    let dom = &page.dom;
    assert!(dom.contains(&format!(r#"id="epoch-id">{}<"#, assignment.epoch)), "the current epoch is shown");
    assert_eq!(dom.matches(r#"class="zip-marker""#).count(), assignment.zipcodes.len(), "a marker per zipcode");
    for zipcode in &assignment.zipcodes {
        assert!(dom.contains(&format!(r#"data-zipcode="{}""#, zipcode.zipcode)), "{}", zipcode.zipcode);
    }
    let rows = dom.split(r#"id="miner-rows">"#).nth(1).unwrap().split("</tbody>").next().unwrap();
    assert_eq!(rows.matches("<tr>").count(), reporting, "a row per reporting miner");
    assert!(dom.contains(r#"id="problem" class="problem" hidden="""#), "no refresh problem shown");
    assert!(dom.contains("data-first-render-ms="), "the first render completed: overview, dots and markers");
    assert_eq!(dom.matches("<option").count(), EPOCHS, "every epoch of the history can be put on the map");
    assert_eq!(dom.matches(r#"class="target-line""#).count(), 1, "the target is drawn across the history");
    assert_eq!(dom.matches(r#"class="delivered-mark""#).count(), 0, "no validator has counted deliveries here");
    assert!(dom.contains("none recalibrated this epoch"), "no calibration without validators");
    assert!(page.console.is_empty(), "no console message (errors, refused requests): {:#?}", page.console);
    let host = app.base_url.trim_start_matches("http://");
    let elsewhere: Vec<&String> = page
        .requested
        .iter()
        .filter(|url| !url.starts_with(&format!("http://{host}/")) && !url.starts_with("data:"))
        .collect();
    assert!(elsewhere.is_empty(), "requests to another host: {elsewhere:?}");
    for path in
        ["/dashboard/dashboard.js", "/dashboard/dashboard.css", "/api/v1/dashboard/overview", "/api/v1/dashboard/map"]
    {
        assert!(page.requested.iter().any(|url| url.ends_with(path)), "{path} was loaded: {:?}", page.requested);
    }

    // What crosses the wire for one load, as a browser asks for it (gzip): well under 500 KB.
    let epoch_map = format!("/api/v1/dashboard/epoch/{}/map", assignment.epoch);
    let mut weight = 0;
    for path in [
        "/dashboard",
        "/dashboard/dashboard.js",
        "/dashboard/dashboard.css",
        "/api/v1/dashboard/overview",
        "/api/v1/dashboard/map",
        &epoch_map,
    ] {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", app.base_url))
            .header("Accept-Encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        if path == "/dashboard" {
            let policy = response.headers()["content-security-policy"].to_str().unwrap().to_string();
            assert!(policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"), "{policy}");
        }
        weight += response.bytes().await.unwrap().len();
    }
    assert!(weight < 500 * 1024, "the page weighs {weight} bytes");
    eprintln!(
        "dashboard page weight: {weight} bytes (gzip) for {} markers and {reporting} miners",
        assignment.zipcodes.len()
    );

    // For a person to look at: a desktop and a phone-sized screen.
    let shots = [("dashboard-desktop.png", 1280, 2050), ("dashboard-phone.png", 390, 2600)];
    for (name, width, height) in shots {
        browser::screenshot(&url, width, height, &browser::output_dir().join(name)).await;
    }
}

/// In the `groups` mode every miner is measured against its own group's batch, not the union of all batches:
/// a miner that did all its work shows a full bar, and the window is checked batch by batch.
#[tokio::test]
async fn in_groups_mode_each_miner_is_measured_against_its_own_batch() {
    use zipcoord::domain::epoch::batches::AssignmentMode;
    use zipcoord::domain::epoch::groups::GroupPlan;
    let keys = TestKeys::generate();
    let miners: Vec<Keypair> = (0..12).map(|_| Keypair::from_seed(&rand::random())).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = write_metagraph(dir.path(), &keys, &miners);
    let app = TestApp::spawn_with(TestOptions {
        universe: Universe::Records(mapped_universe()),
        real_time: true,
        metagraph: Some(format!("file:{}", path.display())),
        keys: Some(keys),
        settings: Some(Box::new(|s: &mut zipcoord::settings::Settings| {
            s.epochs.assignment = AssignmentMode::Groups(GroupPlan { size: 4, overlap: 1 });
            s.epochs.policy.target_listings = 3_000;
            s.rate_limits = zipcoord::settings::RateLimitSettings::off();
        })),
        ..TestOptions::default()
    })
    .await;
    let epoch = app.current_epoch();
    // Every miner reports all of its own work done.
    let mut given = Vec::new();
    for key in &miners {
        let work = app.client.current(key, app.now()).await.unwrap();
        let expected: u64 = work.zipcodes.iter().map(|z| u64::from(z.expected_listings)).sum();
        let mut report = status_request(key, epoch, &work.nonce, MinerStatus::Completed, app.now());
        report.listings_scraped = Some(expected as i64);
        report.s3_upload_complete = true;
        report.zipcodes_completed = work
            .zipcodes
            .iter()
            .map(|z| zipcoord::api::ZipcodeCompletion {
                zipcode: z.zipcode.clone(),
                listings_scraped: i64::from(z.expected_listings),
                completed_at: None,
            })
            .collect();
        app.client.report_status(key, &report).await.unwrap();
        given.push((key.hotkey().to_string(), expected, work.zipcodes.len()));
    }

    let (status, overview) = app.get("/api/v1/dashboard/overview").await;
    assert_eq!(status, 200, "{overview}");
    let e = &overview["epoch"];
    let batches = e["batches"].as_array().unwrap();
    assert_eq!(batches.len(), 3, "twelve miners in groups of four: {e}");
    let (low, high) = (e["windowMin"].as_u64().unwrap(), e["windowMax"].as_u64().unwrap());
    for batch in batches {
        let expected = batch["expectedListings"].as_u64().unwrap();
        assert!((low..=high).contains(&expected), "each batch is selected to the window: {batch}");
    }
    assert!(e["expectedListings"].as_u64().unwrap() > high, "the union is three batches' worth: {e}");
    let rows = overview["miners"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), miners.len());
    for (hotkey, expected, zipcodes) in &given {
        let row = rows.iter().find(|row| row["hotkey"] == hotkey.as_str()).unwrap();
        assert_eq!(row["listingsExpected"].as_u64(), Some(*expected), "{row}");
        assert_eq!(row["zipcodesAssigned"].as_u64(), Some(*zipcodes as u64), "{row}");
        assert!((low..=high).contains(expected), "{row}");
    }

    let url = format!("{}/dashboard", app.base_url);
    let page = browser::load(&url).await;
    let dom = &page.dom;
    assert!(page.console.is_empty(), "{:#?}", page.console);
    let window = dom.split(r#"id="window-text" class="lead">"#).nth(1).unwrap().split('<').next().unwrap();
    assert!(window.contains("per miner") && window.ends_with("every batch inside"), "{window}");
    assert!(dom.contains("in 3 group batches"), "the headline says what the figure is");
    assert_eq!(dom.matches(r#"class="expected-marker""#).count(), 3, "a marker per batch on the gauge");
    let rows = dom.split(r#"id="miner-rows">"#).nth(1).unwrap().split("</tbody>").next().unwrap();
    assert_eq!(rows.matches(r#"style="width: 100%;""#).count(), miners.len(), "every miner's bar is full: {rows}");
    let path = browser::output_dir().join("dashboard-groups.png");
    browser::screenshot(&url, 1280, 1400, &path).await;
}

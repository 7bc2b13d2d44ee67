//! Every statement the server and its tasks run stays off full scans of the tables that grow with time. The
//! service runs a day of work (epochs, legacy and Epistula status reports, validators' reads, grant records and
//! lookups, the dashboard, the export, retention, forgetting uuids) with a log of sqlx's statements listening;
//! then SQLite is asked for each statement's plan. A process of its own: the log listens to every database in the process.
//! With `ZIPCOORD_TEST_DATABASE_URL` the same work runs on PostgreSQL and every plan must be obtainable (its
//! plans at a month's size are in docs/query-plans.md: on a test's few rows PostgreSQL rightly scans).

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use std::sync::OnceLock;

use reqwest::Method;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;
use zipcoord::app::Clock;
use zipcoord::client::status_request;
use zipcoord::domain::access::endpoint;
use zipcoord::domain::access::epistula::{EpistulaHeaders, RequestUuid};
use zipcoord::domain::access::grant::{AccessGrant, GrantKind};
use zipcoord::domain::epoch::status::MinerStatus;
use zipcoord::settings::{days, Settings};
use zipcoord::storage::plans::{full_scans, is_explainable, StatementLog};
use zipcoord::storage::Backend;

use helpers::{TestApp, TestOptions};

const DAY_MS: i64 = 86_400_000;

fn statement_log() -> &'static StatementLog {
    static LOG: OnceLock<StatementLog> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = StatementLog::default();
        let only_statements = Targets::new().with_target("sqlx::query", tracing::Level::TRACE);
        let subscriber = tracing_subscriber::registry().with(log.clone().with_filter(only_statements));
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber in this process");
        log
    })
}

#[tokio::test]
async fn no_statement_reads_a_growing_table_whole() {
    let log = statement_log();
    let app = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(|s: &mut Settings| s.retention = days(7))),
        ..TestOptions::default()
    })
    .await;
    let store = app.app().store().clone();
    for day in 0..8 {
        for _ in 0..6 {
            let assignment = app.client.current(&app.keys.miner, app.now()).await.unwrap();
            let epoch = app.current_epoch();
            for (n, key) in [&app.keys.miner, &app.keys.other_miner].into_iter().enumerate() {
                let mut report = status_request(key, epoch, &assignment.nonce, MinerStatus::InProgress, app.now());
                report.zipcodes_completed = vec![];
                if n == 0 {
                    app.client.report_status(key, &report).await.unwrap();
                } else {
                    // Epistula, as the reference client sends it: no legacy signature beside the headers.
                    (report.signature, report.timestamp) = (None, None);
                    let body = serde_json::to_vec(&report).unwrap();
                    let signed_for = helpers::service_key().hotkey();
                    let uuid = RequestUuid::from_random(rand::random());
                    let headers: Vec<(&str, String)> =
                        EpistulaHeaders::sign(key, &body, signed_for.as_str(), app.time.now_ms(), uuid)
                            .to_headers()
                            .into();
                    let (status, answer) =
                        app.send_with_headers(Method::POST, endpoint::STATUS.path, &body, &headers).await;
                    assert_eq!(status, 200, "{answer}");
                }
            }
            app.client.epoch(&app.keys.validator, epoch, app.now()).await.unwrap();
            let at = app.time.now_ms();
            let grant = |kind, prefix: String| AccessGrant {
                hotkey: app.keys.validator.hotkey(),
                kind,
                prefix,
                granted_at_ms: at,
                expires_at_ms: at + 3_600_000,
            };
            store
                .record_grants(&[
                    grant(GrantKind::MinerRead, format!("data/hotkey={}/epoch={epoch}/", app.keys.miner.hotkey())),
                    grant(GrantKind::ValidatorUpload, format!("validators/{}/{epoch}/", app.keys.validator.hotkey())),
                ])
                .await
                .unwrap();
            app.pass_time(4 * 3_600_000).await;
        }
        app.client.stats().await.unwrap();
        for path in ["/api/v1/dashboard/overview", "/api/v1/dashboard/map"] {
            assert_eq!(app.get(path).await.0, 200, "{path}");
        }
        let (status, _) = app.get(&format!("/api/v1/dashboard/epoch/{}/map", app.current_epoch())).await;
        assert_eq!(status, 200);
        store.recent_grants(Some(app.keys.validator.hotkey().as_str()), 100).await.unwrap();
        store.recent_grants(None, 100).await.unwrap();
        zipcoord::cli::export::export_history(&store, app.now() - DAY_MS / 1000, i64::MAX, &mut std::io::sink())
            .await
            .unwrap();
        let pruned = app.app().prune_history().await.unwrap();
        assert!(day < 7 || pruned.epochs > 0, "day {day}: {pruned:?}");
        app.app().forget_used_uuids().await.unwrap();
    }

    let statements: Vec<String> = log.statements().into_iter().filter(|sql| is_explainable(sql)).collect();
    assert!(statements.len() > 30, "the log heard {} statements: {statements:#?}", statements.len());
    let mut scans = Vec::new();
    for sql in &statements {
        let plan = store.explain(sql).await.unwrap_or_else(|e| panic!("no plan for {sql}: {e}"));
        if store.backend() == Backend::Sqlite {
            scans.extend(full_scans(&plan).into_iter().map(|step| format!("{step}\n    in {sql}")));
        }
    }
    assert!(scans.is_empty(), "statements reading a growing table whole:\n{}", scans.join("\n"));
}

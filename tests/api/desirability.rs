//! `…/desirability` and `…/epoch/{epochId}/desirability`: the epoch as a dynamic-desirability job list, read
//! with the job schema of Data Universe's `dynamic_desirability/total.json` (every field, nothing else), and
//! `zipcoord epoch desirability` printing the same.

use serde::Deserialize;
use serde_json::Value;
use zipcoord::client::sign;
use zipcoord::domain::access::endpoint::{self, Endpoint, SignedValues};
use zipcoord::domain::access::keys::Keypair;
use zipcoord::domain::epoch::EpochId;
use zipcoord::settings::Settings;

use crate::helpers::{assert_error, TestApp, TestOptions};
use crate::process::run;

/// A job as the desirability files define it.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Job {
    id: String,
    weight: f64,
    params: JobParams,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct JobParams {
    keyword: Option<String>,
    platform: String,
    label: Option<String>,
    post_start_datetime: Option<String>,
    post_end_datetime: Option<String>,
}

/// `endpoint`'s path for `epoch` (when it names one) with `key`'s signature at `timestamp`.
fn signed(endpoint: &Endpoint, key: &Keypair, epoch: Option<&str>, timestamp: i64) -> String {
    let values = match epoch {
        Some(epoch) => SignedValues::at(timestamp).epoch(epoch),
        None => SignedValues::at(timestamp),
    };
    format!(
        "{}?hotkey={}&signature={}&timestamp={timestamp}",
        endpoint.path_for(&values),
        key.hotkey(),
        sign(key, endpoint, values)
    )
}

fn jobs(body: &Value) -> Vec<Job> {
    serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("not a job list ({e}): {body}"))
}

#[tokio::test]
async fn the_current_assignment_is_a_job_list_weighted_by_expected_listings() {
    let app = TestApp::spawn().await;
    let (miner, validator) = (&app.keys.miner, &app.keys.validator);
    let now = app.now();
    let assignment = app.client.current(miner, now).await.unwrap();
    let epoch = assignment.epoch_id.clone();

    let (status, body) = app.get(&signed(&endpoint::DESIRABILITY, miner, None, now)).await;
    assert_eq!(status, 200, "{body}");
    let listed = jobs(&body);
    assert_eq!(listed.len(), assignment.zipcodes.len());
    let largest = assignment.zipcodes.iter().map(|z| z.expected_listings).max().unwrap();
    for (job, zipcode) in listed.iter().zip(&assignment.zipcodes) {
        assert_eq!(job.id, format!("zip_{}_{epoch}", zipcode.zipcode));
        assert_eq!(job.params.label.as_deref(), Some(format!("zip:{}", zipcode.zipcode).as_str()));
        assert_eq!(job.params.platform, "rapid_zillow");
        assert_eq!(
            (&job.params.keyword, &job.params.post_start_datetime, &job.params.post_end_datetime),
            (&None, &None, &None)
        );
        let proportional = 5.0 * f64::from(zipcode.expected_listings) / f64::from(largest);
        assert!((job.weight - proportional).abs() <= 0.0001 && job.weight > 0.0, "{job:?} for {zipcode:?}");
    }
    assert_eq!(listed.iter().map(|j| j.weight).fold(0.0, f64::max), 5.0);

    // Validators read the same list for the epoch by id; the CLI prints it from the database.
    let (status, by_id) = app.get(&signed(&endpoint::EPOCH_DESIRABILITY, validator, Some(&epoch), now)).await;
    assert_eq!((status, &by_id), (200, &body));
    let (ok, printed, stderr) = run(&["epoch", "desirability", &epoch, "--database-url", &app.db_url]);
    assert!(ok, "{stderr}");
    assert_eq!(serde_json::from_str::<Value>(&printed).unwrap(), body);
    let (ok, printed, _) =
        run(&["epoch", "desirability", &epoch, "--database-url", &app.db_url, "--platform", "zillow_v2"]);
    assert!(ok && jobs(&serde_json::from_str(&printed).unwrap()).iter().all(|j| j.params.platform == "zillow_v2"));
    let (ok, _, stderr) = run(&["epoch", "desirability", &epoch, "--database-url", &app.db_url, "--platform", "a b"]);
    assert!(!ok && stderr.contains("not a platform name"), "{stderr}");
}

#[tokio::test]
async fn the_job_lists_refuse_what_the_assignments_refuse() {
    let app = TestApp::spawn_with(TestOptions {
        settings: Some(Box::new(|settings: &mut Settings| settings.desirability_platform = "rapid_zillow_v2".into())),
        ..TestOptions::default()
    })
    .await;
    let (miner, validator, outsider) = (&app.keys.miner, &app.keys.validator, &app.keys.outsider);
    let now = app.now();
    let epoch = app.current_epoch().to_string();
    let future = EpochId::from_start_unix(app.current_epoch().start_unix() + 4 * 3600).to_string();

    let (status, body) = app.get(&signed(&endpoint::DESIRABILITY, miner, None, now)).await;
    assert!(status == 200 && jobs(&body).iter().all(|j| j.params.platform == "rapid_zillow_v2"), "{body}");
    let (status, body) = app.get(&signed(&endpoint::DESIRABILITY, outsider, None, now)).await;
    assert_error(status, &body, 401, "not registered");
    let (status, body) = app.get(&signed(&endpoint::DESIRABILITY, miner, None, now - 3_600)).await;
    assert_error(status, &body, 400, "Invalid timestamp");
    // A signature over `/current`'s commitment does not open the job list.
    let other = sign(miner, &endpoint::CURRENT, SignedValues::at(now));
    let (status, body) =
        app.get_signed(endpoint::DESIRABILITY.path, &miner.hotkey().to_string(), &other, &now.to_string()).await;
    assert_error(status, &body, 401, "Invalid signature");

    let (status, body) = app.get(&signed(&endpoint::EPOCH_DESIRABILITY, miner, Some(&epoch), now)).await;
    assert_error(status, &body, 403, "Validator permit required");
    let (status, body) = app.get(&signed(&endpoint::EPOCH_DESIRABILITY, validator, Some(&future), now)).await;
    assert_error(status, &body, 404, "not found");
    let (status, body) =
        app.get(&signed(&endpoint::EPOCH_DESIRABILITY, validator, Some("2025-10-01T16-00-0x"), now)).await;
    assert_eq!(status, 400, "{body}");
}

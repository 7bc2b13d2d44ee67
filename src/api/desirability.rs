//! The epoch as a dynamic-desirability job list, in the format of Data Universe's
//! `dynamic_desirability/total.json`: one job per assigned zipcode, weighted by its expected listings, so a
//! miner on that stack that points its desirability source at zipcoord uploads exactly the assignment.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::epoch::assignment::EpochAssignment;
use crate::domain::hotkey::Hotkey;

/// The platform named in every job unless the operator sets another.
pub const DEFAULT_PLATFORM: &str = "rapid_zillow";
/// The largest job weight: the subnet's job files weigh from 1.0 to 5.0.
pub const MAX_JOB_WEIGHT: f64 = 5.0;

/// One job: `{"id": "zip_{zipcode}_{epochId}", "weight": W, "params": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "zip_10001_2025-10-01T16-00-00", "weight": 5.0, "params": {"keyword": null, "platform": "rapid_zillow", "label": "zip:10001", "post_start_datetime": null, "post_end_datetime": null}}))]
pub struct DesirabilityJob {
    /// `zip_{zipcode}_{epochId}`.
    pub id: String,
    /// Proportional to the zipcode's expected listings; the largest in the list is 5.0.
    pub weight: f64,
    pub params: JobParams,
}

/// What a job asks for: the zipcode's label on the configured platform, any time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobParams {
    /// Always null: jobs name labels.
    pub keyword: Option<String>,
    pub platform: String,
    /// `zip:{zipcode}`.
    pub label: String,
    /// Always null.
    pub post_start_datetime: Option<String>,
    /// Always null.
    pub post_end_datetime: Option<String>,
}

impl DesirabilityJob {
    /// The jobs of `assignment` on `platform`, in the assignment's order: the whole epoch's (each zipcode once),
    /// or in a `groups` epoch with `miner` set, that miner's groups' batches.
    pub fn list(assignment: &EpochAssignment, miner: Option<&Hotkey>, platform: &str) -> Vec<DesirabilityJob> {
        let zipcodes = match miner {
            Some(miner) => assignment.work_of(miner).0,
            None => assignment.distinct_zipcodes(),
        };
        let largest = zipcodes.iter().map(|z| z.expected_listings).max().unwrap_or(0).max(1);
        zipcodes
            .iter()
            .map(|zipcode| {
                let share = f64::from(zipcode.expected_listings) / f64::from(largest);
                // Four decimals, and never 0: a job of weight 0 would ask for nothing.
                let weight = ((MAX_JOB_WEIGHT * share * 10_000.0).round() / 10_000.0).max(0.0001);
                DesirabilityJob {
                    id: format!("zip_{}_{}", zipcode.zipcode, assignment.epoch),
                    weight,
                    params: JobParams {
                        keyword: None,
                        platform: platform.to_string(),
                        label: format!("zip:{}", zipcode.zipcode),
                        post_start_datetime: None,
                        post_end_datetime: None,
                    },
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::epoch::zipcode::{MarketTier, ZipcodeRecord};

    fn record(zipcode: &str, expected_listings: u32) -> ZipcodeRecord {
        ZipcodeRecord {
            zipcode: zipcode.parse().unwrap(),
            state: "NY".into(),
            city: "New York".into(),
            county: None,
            expected_listings,
            tier: MarketTier::Premium,
            weight: 1.0,
            active: true,
        }
    }

    #[test]
    fn weights_follow_expected_listings_and_the_largest_is_five() {
        let assignment = EpochAssignment {
            epoch: "2025-10-01T16-00-00".parse().unwrap(),
            end_unix: 0,
            nonce: "0123456789abcdef".parse().unwrap(),
            selection_seed: crate::domain::epoch::proof::Seed::from_bytes([0; 32]),
            target_listings: 10_000,
            tolerance_percent: 10,
            algorithm_version: "v2".into(),
            zipcodes: vec![record("10001", 400), record("02134", 100), record("99501", 0)],
            created_at_ms: 0,
            proof: None,
            groups: None,
        };
        let jobs = DesirabilityJob::list(&assignment, None, "rapid_zillow");
        let weights: Vec<f64> = jobs.iter().map(|j| j.weight).collect();
        assert_eq!(weights, [5.0, 1.25, 0.0001]);
        assert_eq!(jobs[1].id, "zip_02134_2025-10-01T16-00-00", "leading zeros kept");
        assert_eq!(
            serde_json::to_value(&jobs[1]).unwrap(),
            serde_json::json!({"id": "zip_02134_2025-10-01T16-00-00", "weight": 1.25, "params": {"keyword": null,
                "platform": "rapid_zillow", "label": "zip:02134", "post_start_datetime": null, "post_end_datetime": null}})
        );
    }
}

//! The validator's weights on chain after each judged epoch: the judged split, the owner's burn and the
//! subnet's state go through the weight setter (`set_weights`, or a timelocked commit when commit-reveal is
//! on), and what became of them is logged and kept in the state directory (`chain-weights/{epoch}.json`, the
//! newest [`RECORDS_KEPT`]), so an operator can tell from the validator alone what the chain received.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::api::EpochJudgement;
use crate::chain::subtensor::setter::{SetWeightsError, WeightSetter};
use crate::chain::subtensor::weight_plan::WeightRequest;
use crate::client::state::StateDir;
use crate::domain::access::keys::Keypair;
use crate::domain::instant::iso8601_millis;
use crate::domain::judging::weights::WeightPolicy;

/// Weight settings kept: a month of 4-hour epochs.
pub const RECORDS_KEPT: usize = 180;
const FOLDER: &str = "chain-weights";

/// How this validator puts its weights on chain.
pub struct OnChainWeights {
    pub setter: WeightSetter,
    pub policy: WeightPolicy,
    pub version_key: Option<u64>,
}

/// What became of one epoch's weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WeightSettingRecord {
    pub epoch_id: String,
    pub at: String,
    /// `set`, `committed`, `refused` (nothing sent: the chain's state or runtime said no) or `failed`.
    pub outcome: String,
    pub detail: String,
    pub uids: Vec<u16>,
    pub values: Vec<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reveal_round: Option<u64>,
}

impl OnChainWeights {
    /// Puts `judgement`'s weights on chain, logs what happened and keeps its record.
    pub async fn put(&self, key: &Keypair, judgement: &EpochJudgement, state: &StateDir) -> WeightSettingRecord {
        let split: BTreeMap<u16, f64> =
            judgement.weights.iter().filter_map(|(uid, w)| Some((uid.parse().ok()?, *w))).collect();
        let request = WeightRequest { split, policy: self.policy.clone(), version_key: self.version_key };
        let epoch = &judgement.epoch_id;
        let mut record = WeightSettingRecord {
            epoch_id: epoch.clone(),
            at: iso8601_millis(chrono::Utc::now().timestamp_millis()),
            outcome: String::new(),
            detail: String::new(),
            uids: Vec::new(),
            values: Vec::new(),
            block: None,
            transaction: None,
            reveal_round: None,
        };
        match self.setter.set(key, &request).await {
            Ok(set) => {
                let committed = set.planned.reveal_round.is_some();
                record.outcome = if committed { "committed" } else { "set" }.to_string();
                record.detail = format!("via {}, attempt {}", set.endpoint, set.attempt);
                record.uids = set.planned.emitted.uids.clone();
                record.values = set.planned.emitted.values.clone();
                record.block = Some(set.block);
                record.transaction = Some(set.transaction.clone());
                record.reveal_round = set.planned.reveal_round;
                tracing::info!(
                    %epoch, outcome = %record.outcome, block = set.block, weights = record.uids.len(),
                    reveal_round = ?set.planned.reveal_round, transaction = %set.transaction,
                    "weights on chain"
                );
            }
            Err(error) => {
                let refused = matches!(error, SetWeightsError::Refused(_) | SetWeightsError::Runtime(_));
                record.outcome = if refused { "refused" } else { "failed" }.to_string();
                record.detail = error.to_string();
                tracing::warn!(%epoch, outcome = %record.outcome, %error, "weights not on chain");
            }
        }
        let name = format!("{FOLDER}/{epoch}.json");
        if let Err(error) = state.write(&name, "weight setting", &record) {
            tracing::warn!(%error, "cannot keep the weight setting's record");
        }
        state.keep_newest(FOLDER, RECORDS_KEPT);
        record
    }
}

/// The kept records, oldest first.
pub fn weight_settings(state: &StateDir) -> Vec<WeightSettingRecord> {
    state.list(FOLDER).iter().filter_map(|name| state.read(name, "weight setting")).collect()
}

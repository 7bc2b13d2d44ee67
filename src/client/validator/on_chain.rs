//! The validator's weights on chain after each judged epoch: the judged split, the owner's burn and the
//! subnet's state go through the weight setter (`set_weights`, or a timelocked commit when commit-reveal is
//! on), and what became of them is logged, counted in the metrics and kept in the state directory
//! (`chain-weights/{epoch}.json`, the newest [`RECORDS_KEPT`]), so an operator can tell from the validator alone
//! what the chain received. When judging stops, the last vector is sent again before the subnet's activity cutoff.

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
    /// The judged split it was formed from (uid → weight), so it can be sent again.
    #[serde(default)]
    pub split: BTreeMap<u16, f64>,
    /// Sent again to stay active, not for a newly judged epoch.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub resent: bool,
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
        let record = self.put_split(key, &judgement.epoch_id, split, false).await;
        keep(state, &format!("{FOLDER}/{}.json", judgement.epoch_id), &record);
        record
    }

    /// When judging has not put weights on chain for three quarters of the subnet's `ActivityCutoff` (judging
    /// failed, or the coordinator is gone), sends the last vector that landed again, so the chain does not drop
    /// this validator as inactive. What it did, if anything.
    pub async fn keep_alive(&self, key: &Keypair, state: &StateDir) -> Option<WeightSettingRecord> {
        let landed = |r: &WeightSettingRecord| r.outcome == "set" || r.outcome == "committed";
        let last = weight_settings(state).into_iter().rev().find(landed)?;
        let chain = match self.setter.read_state(key).await {
            Ok(chain) => chain,
            Err(error) => {
                tracing::debug!(%error, "cannot read the chain to see whether the weights need sending again");
                return None;
            }
        };
        let since = chain.blocks_since_update()?;
        let cutoff = u64::from(chain.activity_cutoff);
        if since < cutoff * 3 / 4 || last.split.is_empty() {
            return None;
        }
        tracing::warn!(
            blocks_since = since, activity_cutoff = cutoff, epoch = %last.epoch_id,
            "no weights on chain for most of the activity cutoff: sending the last vector again"
        );
        let record = self.put_split(key, &last.epoch_id, last.split, true).await;
        let at = chrono::Utc::now().timestamp_millis();
        keep(state, &format!("{FOLDER}/{}.again-{at}.json", last.epoch_id), &record);
        Some(record)
    }

    async fn put_split(
        &self,
        key: &Keypair,
        epoch: &str,
        split: BTreeMap<u16, f64>,
        resent: bool,
    ) -> WeightSettingRecord {
        let request =
            WeightRequest { split: split.clone(), policy: self.policy.clone(), version_key: self.version_key };
        let mut record = WeightSettingRecord {
            epoch_id: epoch.to_string(),
            at: iso8601_millis(chrono::Utc::now().timestamp_millis()),
            outcome: String::new(),
            detail: String::new(),
            split,
            resent,
            uids: Vec::new(),
            values: Vec::new(),
            block: None,
            transaction: None,
            reveal_round: None,
        };
        match self.setter.set(key, &request).await {
            Ok(set) => {
                let outcome = if set.planned.reveal_round.is_some() { "committed" } else { "set" };
                crate::metrics::weight_setting(outcome, Some(set.block));
                record.outcome = outcome.to_string();
                record.detail = format!("via {}, attempt {}", set.endpoint, set.attempt);
                record.uids = set.planned.emitted.uids.clone();
                record.values = set.planned.emitted.values.clone();
                record.block = Some(set.block);
                record.transaction = Some(set.transaction.clone());
                record.reveal_round = set.planned.reveal_round;
                tracing::info!(
                    %epoch, outcome, resent, block = set.block, weights = record.uids.len(),
                    reveal_round = ?set.planned.reveal_round, transaction = %set.transaction,
                    "weights on chain"
                );
            }
            Err(error) => {
                let refused = matches!(error, SetWeightsError::Refused(_) | SetWeightsError::Runtime(_));
                let outcome = if refused { "refused" } else { "failed" };
                crate::metrics::weight_setting(outcome, None);
                record.outcome = outcome.to_string();
                record.detail = error.to_string();
                tracing::warn!(%epoch, outcome, resent, %error, "weights not on chain");
            }
        }
        record
    }
}

fn keep(state: &StateDir, name: &str, record: &WeightSettingRecord) {
    if let Err(error) = state.write(name, "weight setting", record) {
        tracing::warn!(%error, "cannot keep the weight setting's record");
    }
    state.keep_newest(FOLDER, RECORDS_KEPT);
}

/// The kept records, oldest first.
pub fn weight_settings(state: &StateDir) -> Vec<WeightSettingRecord> {
    state.list(FOLDER).iter().filter_map(|name| state.read(name, "weight setting")).collect()
}

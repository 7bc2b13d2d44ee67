//! What a miner's history says, computed (no I/O): the epochs in a period, listings delivered against expected,
//! how often and how much the validators paid, per validator, the epochs at weight 0 with the validators'
//! reasons, the zipcodes that failed most, and which epochs the validators accepted.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::client::miner::history::{EpochRecord, ValidatorVerdict, VerdictState};
use crate::domain::epoch::EpochId;
use crate::domain::judging::scoring::VerdictKind;

/// Which part of the history to look at.
#[derive(Debug, Clone, Copy, Default)]
pub struct HistoryFilter {
    /// Epochs that started at or after this (Unix seconds).
    pub since_unix: Option<i64>,
    /// Only this validator's verdicts.
    pub validator_uid: Option<u16>,
}

impl HistoryFilter {
    pub fn includes(&self, record: &EpochRecord) -> bool {
        let start = record.epoch_id.parse::<EpochId>().map(EpochId::start_unix).unwrap_or(i64::MIN);
        self.since_unix.is_none_or(|since| start >= since)
    }

    /// The record's verdicts this filter looks at.
    pub fn verdicts<'a>(&self, record: &'a EpochRecord) -> Vec<&'a ValidatorVerdict> {
        record
            .verdicts
            .validators
            .iter()
            .filter(|v| self.validator_uid.is_none_or(|uid| v.validator_uid == uid))
            .collect()
    }

    /// The mean weight of the record's verdicts, `None` without any.
    pub fn weight(&self, record: &EpochRecord) -> Option<f64> {
        let verdicts = self.verdicts(record);
        (!verdicts.is_empty()).then(|| verdicts.iter().map(|v| v.weight).sum::<f64>() / verdicts.len() as f64)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub epochs: usize,
    pub first_epoch: Option<String>,
    pub last_epoch: Option<String>,
    pub awaiting_verdicts: usize,
    pub listings_delivered: u64,
    pub listings_expected: u64,
    /// Epochs that some validator judged.
    pub epochs_judged: usize,
    /// Epochs whose mean weight was above 0.
    pub epochs_paid: usize,
    pub share_paid: f64,
    pub mean_weight: f64,
    pub validators: Vec<ValidatorSummary>,
    /// The epochs paid nothing, and what each validator said.
    pub unpaid: Vec<UnpaidEpoch>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorSummary {
    pub uid: u16,
    pub hotkey: String,
    pub epochs: usize,
    pub paid: usize,
    pub mean_weight: f64,
    /// Verdicts by kind (`honest`, `liar`, `absent`).
    pub verdicts: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnpaidEpoch {
    pub epoch_id: String,
    pub verdicts: Vec<ValidatorVerdict>,
}

/// Summarizes `closed` and `open` records (the open ones only count as awaiting verdicts).
pub fn summarize(closed: &[EpochRecord], open: &[EpochRecord], filter: &HistoryFilter) -> Summary {
    let records: Vec<&EpochRecord> = closed.iter().chain(open).filter(|r| filter.includes(r)).collect();
    let judged: Vec<(&EpochRecord, f64)> =
        records.iter().filter_map(|r| filter.weight(r).map(|weight| (*r, weight))).collect();
    let mut validators: BTreeMap<u16, ValidatorSummary> = BTreeMap::new();
    for record in &records {
        for verdict in filter.verdicts(record) {
            let entry = validators.entry(verdict.validator_uid).or_insert_with(|| ValidatorSummary {
                uid: verdict.validator_uid,
                hotkey: verdict.validator_hotkey.clone(),
                epochs: 0,
                paid: 0,
                mean_weight: 0.0,
                verdicts: BTreeMap::new(),
            });
            entry.epochs += 1;
            entry.paid += usize::from(verdict.weight > 0.0);
            entry.mean_weight += verdict.weight;
            *entry.verdicts.entry(verdict.verdict.to_string()).or_default() += 1;
        }
    }
    for summary in validators.values_mut() {
        summary.mean_weight /= summary.epochs.max(1) as f64;
    }
    let paid = judged.iter().filter(|(_, weight)| *weight > 0.0).count();
    Summary {
        epochs: records.len(),
        first_epoch: records.iter().map(|r| r.epoch_id.clone()).min(),
        last_epoch: records.iter().map(|r| r.epoch_id.clone()).max(),
        awaiting_verdicts: records.iter().filter(|r| r.verdicts.state == VerdictState::Awaited).count(),
        listings_delivered: records.iter().map(|r| r.listings_found()).sum(),
        listings_expected: records.iter().map(|r| r.expected_listings).sum(),
        epochs_judged: judged.len(),
        epochs_paid: paid,
        share_paid: if judged.is_empty() { 0.0 } else { paid as f64 / judged.len() as f64 },
        mean_weight: if judged.is_empty() {
            0.0
        } else {
            judged.iter().map(|(_, w)| w).sum::<f64>() / judged.len() as f64
        },
        validators: validators.into_values().collect(),
        unpaid: judged
            .iter()
            .filter(|(_, weight)| *weight <= 0.0)
            .map(|(record, _)| UnpaidEpoch {
                epoch_id: record.epoch_id.clone(),
                verdicts: filter.verdicts(record).into_iter().cloned().collect(),
            })
            .collect(),
    }
}

/// A zipcode that failed, how often, and the latest reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ZipcodeFailures {
    pub zipcode: String,
    pub failures: usize,
    pub last_epoch: String,
    pub last_reason: String,
}

/// The zipcodes that failed, most failures first.
pub fn failures(records: &[EpochRecord], filter: &HistoryFilter) -> Vec<ZipcodeFailures> {
    let mut by_zipcode: BTreeMap<&str, ZipcodeFailures> = BTreeMap::new();
    for record in records.iter().filter(|r| filter.includes(r)) {
        for work in &record.zipcodes {
            let Some(reason) = &work.failure else { continue };
            let entry = by_zipcode.entry(&work.zipcode).or_insert_with(|| ZipcodeFailures {
                zipcode: work.zipcode.clone(),
                failures: 0,
                last_epoch: String::new(),
                last_reason: String::new(),
            });
            entry.failures += 1;
            if record.epoch_id >= entry.last_epoch {
                entry.last_epoch = record.epoch_id.clone();
                entry.last_reason = reason.clone();
            }
        }
    }
    let mut list: Vec<ZipcodeFailures> = by_zipcode.into_values().collect();
    list.sort_by(|a, b| b.failures.cmp(&a.failures).then_with(|| a.zipcode.cmp(&b.zipcode)));
    list
}

/// Whether the validators accepted the epoch's work: at least one verdict, none `liar`, every weight at least
/// `min_weight`.
pub fn accepted(record: &EpochRecord, filter: &HistoryFilter, min_weight: f64) -> bool {
    let verdicts = filter.verdicts(record);
    !verdicts.is_empty() && verdicts.iter().all(|v| v.verdict != VerdictKind::Liar && v.weight >= min_weight)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::miner::history::{Verdicts, ZipcodeWork, HISTORY_FORMAT};

    fn verdict(uid: u16, verdict: VerdictKind, weight: f64) -> ValidatorVerdict {
        ValidatorVerdict {
            validator_uid: uid,
            validator_hotkey: format!("5validator{uid}"),
            verdict,
            quality: weight,
            weight,
            listings: 90,
            reasons: if weight == 0.0 { vec!["2 of 10 spot checks refuted".to_string()] } else { vec![] },
        }
    }

    fn record(epoch_id: &str, verdicts: Vec<ValidatorVerdict>, failure: Option<&str>) -> EpochRecord {
        EpochRecord {
            format: HISTORY_FORMAT.to_string(),
            hotkey: "5miner".to_string(),
            epoch_id: epoch_id.to_string(),
            nonce: "0123456789abcdef".to_string(),
            source: "api".to_string(),
            expected_listings: 100,
            zipcodes: vec![ZipcodeWork {
                zipcode: "78701".to_string(),
                expected_listings: 100,
                scraped_at: None,
                listings_found: 90,
                files_uploaded: 1,
                kept_for_later: false,
                failure: failure.map(str::to_string),
            }],
            status: Some("COMPLETED".to_string()),
            reports: vec![],
            verdicts: Verdicts { state: VerdictState::Published, validators: verdicts, ..Verdicts::default() },
            recorded_at: None,
        }
    }

    #[test]
    fn the_summary_counts_pay_per_epoch_and_per_validator_and_names_the_unpaid_epochs() {
        let closed = vec![
            record(
                "2026-12-01T00-00-00",
                vec![verdict(0, VerdictKind::Honest, 0.5), verdict(1, VerdictKind::Honest, 0.3)],
                None,
            ),
            record(
                "2026-12-01T04-00-00",
                vec![verdict(0, VerdictKind::Liar, 0.0), verdict(1, VerdictKind::Liar, 0.0)],
                Some("timeout"),
            ),
            record("2026-12-01T08-00-00", vec![], None),
        ];
        let open = vec![EpochRecord { verdicts: Verdicts::default(), ..record("2026-12-01T12-00-00", vec![], None) }];
        let all = summarize(&closed, &open, &HistoryFilter::default());
        assert_eq!((all.epochs, all.awaiting_verdicts, all.epochs_judged, all.epochs_paid), (4, 1, 2, 1));
        assert_eq!((all.listings_delivered, all.listings_expected), (360, 400));
        assert!((all.mean_weight - 0.2).abs() < 1e-9 && (all.share_paid - 0.5).abs() < 1e-9);
        assert_eq!(all.unpaid.len(), 1);
        assert_eq!(all.unpaid[0].verdicts[0].reasons, ["2 of 10 spot checks refuted"]);
        assert_eq!(all.validators[1].verdicts, BTreeMap::from([("honest".into(), 1), ("liar".into(), 1)]));

        let one = summarize(&closed, &open, &HistoryFilter { validator_uid: Some(1), ..HistoryFilter::default() });
        assert!((one.mean_weight - 0.15).abs() < 1e-9 && one.validators.len() == 1);
        let since = "2026-12-01T04-00-00".parse::<EpochId>().unwrap().start_unix();
        let recent = HistoryFilter { since_unix: Some(since), ..Default::default() };
        assert_eq!(summarize(&closed, &open, &recent).epochs, 3, "2026-12-01T04-00-00 onwards");

        assert_eq!(failures(&closed, &HistoryFilter::default())[0].last_reason, "timeout");
        assert!(accepted(&closed[0], &HistoryFilter::default(), 0.3));
        assert!(!accepted(&closed[0], &HistoryFilter::default(), 0.4), "every validator must give the weight");
        assert!(!accepted(&closed[1], &HistoryFilter::default(), 0.0), "a liar's epoch is never accepted");
        assert!(!accepted(&closed[2], &HistoryFilter::default(), 0.0), "nobody judged it");
    }
}

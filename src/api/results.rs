//! Validators' published judgements: the results file a validator uploads to
//! `validators/{hotkey}/{epochId}/results_*.json` ([`EpochJudgement`]), how the server checks one it reads
//! back ([`check_published`]), and the body of `GET …/epoch/{epochId}/results`, which serves every validator's
//! verdicts to miners (and, as [`ValidatorVerdicts::evidence`], to recalibration and its verifiers).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::epoch::calibration::{EvidenceFile, PublishedEvidence};
use crate::domain::epoch::EpochId;
use crate::domain::hotkey::Hotkey;
use crate::domain::judging::deliveries::Deliveries;
use crate::domain::judging::scoring::VerdictKind;

/// One miner's result, as published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MinerResult {
    pub uid: u16,
    pub hotkey: String,
    /// `honest`, `liar` or `absent`.
    pub verdict: VerdictKind,
    pub quality: f64,
    pub heuristic: f64,
    pub listings: u64,
    pub files: usize,
    pub weight: f64,
    pub reasons: Vec<String>,
    #[serde(default)]
    pub notes: Vec<String>,
    /// `groups` epochs only: what comparing the miner's groups found, and the spot checks it led to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consensus: Option<ConsensusReport>,
}

/// How a miner's reports compared with its groups' (a validator's `groups`-epoch verdict).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsensusReport {
    pub groups: Vec<usize>,
    /// Agreed over compared listings; `null` when none had a clear majority.
    pub agreement_rate: Option<f64>,
    pub compared: usize,
    pub agreed: usize,
    /// Listing ids on which its group's other operators outvoted it.
    pub contradicted: Vec<String>,
    /// Listings on which its group was split, or whose price moved between its scrape and its group's: sent
    /// to spot checks.
    pub disputed: usize,
    /// Listings no other operator of its groups reported.
    pub uncorroborated: usize,
    /// Its credibility with this validator after this epoch (weighs its votes; never pays).
    pub credibility: f64,
    /// Behavioural evidence (copying), escalated to spot checks.
    pub flags: Vec<String>,
    pub spot_checks: SpotCheckTally,
}

/// The spot checks made on one miner's listings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpotCheckTally {
    pub checked: usize,
    pub confirmed: usize,
    pub refuted: usize,
    pub unavailable: usize,
}

/// The weights in the form the chain takes: parallel uid and u16 weight lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainWeights {
    pub uids: Vec<u16>,
    pub weights: Vec<u16>,
}

/// A judged epoch: what the validator publishes and sets on chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochJudgement {
    pub epoch_id: String,
    pub validator: String,
    pub judged_at: String,
    pub spot_checks_per_miner: usize,
    /// Normalized weight by uid (as a string key, JSON objects have no integer keys).
    pub weights: BTreeMap<String, f64>,
    pub chain_weights: ChainWeights,
    pub miners: Vec<MinerResult>,
    /// Per zipcode of the epoch: the distinct listings this validator accepted from miners it judged honest, in
    /// total and per miner (uncapped: the evidence expected listings are recalibrated from). Absent from files
    /// of validators before it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub zipcode_listings: BTreeMap<String, ZipcodeListings>,
}

/// One zipcode's listings accepted from honest miners.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZipcodeListings {
    /// Distinct listings over every honest miner.
    pub total: u64,
    /// Distinct listings by honest miner's hotkey (those that delivered none are left out).
    pub by_miner: BTreeMap<String, u64>,
}

impl From<Deliveries> for ZipcodeListings {
    fn from(deliveries: Deliveries) -> Self {
        ZipcodeListings { total: deliveries.total, by_miner: deliveries.by_miner }
    }
}

/// Why a results file is skipped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnusableResults {
    #[error("cannot be read: {0}")]
    Unreadable(String),
    #[error("not a results file: {0}")]
    NotResults(String),
    #[error("claims validator {claimed} but lies in {folder}'s folder")]
    OtherValidator { claimed: String, folder: String },
    #[error("claims epoch {claimed} but lies in epoch {folder}'s folder")]
    OtherEpoch { claimed: String, folder: String },
    #[error("gives miner {hotkey} the weight {weight}, outside 0..1")]
    WeightOutOfRange { hotkey: String, weight: f64 },
}

/// Checks a results file read from `validator`'s folder for `epoch_id`: it must parse as a judgement, name
/// that validator and that epoch, and give each miner a finite weight in 0..=1.
pub fn check_published(bytes: &[u8], validator: &str, epoch_id: &str) -> Result<EpochJudgement, UnusableResults> {
    let judgement: EpochJudgement =
        serde_json::from_slice(bytes).map_err(|e| UnusableResults::NotResults(e.to_string()))?;
    if judgement.validator != validator {
        return Err(UnusableResults::OtherValidator { claimed: judgement.validator, folder: validator.to_string() });
    }
    if judgement.epoch_id != epoch_id {
        return Err(UnusableResults::OtherEpoch { claimed: judgement.epoch_id, folder: epoch_id.to_string() });
    }
    if let Some(miner) = judgement.miners.iter().find(|m| !(0.0..=1.0).contains(&m.weight)) {
        return Err(UnusableResults::WeightOutOfRange { hotkey: miner.hotkey.clone(), weight: miner.weight });
    }
    Ok(judgement)
}

/// `GET /api/v1/zipcode-assignments/epoch/{epochId}/results`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpochResultsResponse {
    pub success: bool,
    #[schema(example = "2025-10-01T16-00-00")]
    pub epoch_id: String,
    /// When the epoch's judging window ended (the end of the epoch after it): results are served from then on.
    #[schema(example = "2025-10-02T00:00:00.000Z")]
    pub judging_window_ended_at: String,
    /// When the server read the validators' files (answers are cached for a few minutes).
    pub read_at: String,
    /// Each validator (with a permit in the current metagraph) that published valid results, by uid.
    pub validators: Vec<ValidatorVerdicts>,
    /// How many results files were read but not used.
    pub skipped_count: usize,
    /// Those files and why.
    pub skipped: Vec<SkippedResults>,
}

/// One validator's verdicts on every miner it judged, from its newest valid results file for the epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorVerdicts {
    pub uid: u16,
    #[schema(example = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")]
    pub hotkey: String,
    /// The file the verdicts come from.
    #[schema(
        example = "validators/5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY/2025-10-01T16-00-00/results_20251001_200130.json"
    )]
    pub file: String,
    /// SHA-256 of the file's bytes, hex (an addition: a validator can check the file read is the one it wrote).
    #[serde(default)]
    pub sha256: String,
    pub judged_at: String,
    pub miners: Vec<MinerVerdict>,
    /// Per zipcode of the epoch, the listings it accepted from honest miners (its results file's
    /// `zipcodeListings`; empty for files from before they were published).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub zipcode_listings: BTreeMap<String, ZipcodeListings>,
}

impl EpochResultsResponse {
    /// The distinct listings honest miners delivered on the epoch, as the validators that counted them say: the
    /// lower median of their totals over the epoch's zipcodes (one validator alone cannot inflate it beside
    /// two others); `None` when no validator published counts.
    pub fn delivered_listings(&self) -> Option<u64> {
        let mut totals: Vec<u64> = self
            .validators
            .iter()
            .filter(|v| !v.zipcode_listings.is_empty())
            .map(|v| v.zipcode_listings.values().map(|z| z.total).sum())
            .collect();
        totals.sort_unstable();
        totals.get(totals.len().checked_sub(1)? / 2).copied()
    }
}

/// Whether `text` is written the same by every canonical JSON writer (printable ASCII, nothing escaped): only
/// such strings go into published inputs.
pub fn plain_json_text(text: &str) -> bool {
    text.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

impl ValidatorVerdicts {
    /// These verdicts as recalibration's evidence on `epoch`: zipcodes and miners that do not parse are dropped
    /// (a validator's file is not trusted to be well-formed), and so is a file whose name could not be published
    /// as it is; `None` when nothing is left. The server and every verifier read evidence through this one door.
    pub fn evidence(&self, epoch: EpochId) -> Option<PublishedEvidence> {
        if ![&self.file, &self.hotkey, &self.sha256].into_iter().all(|t| plain_json_text(t)) || self.sha256.len() != 64
        {
            return None;
        }
        let zipcodes: BTreeMap<_, BTreeMap<String, u64>> = self
            .zipcode_listings
            .iter()
            .filter_map(|(zipcode, listings)| {
                let by_miner: BTreeMap<String, u64> = listings
                    .by_miner
                    .iter()
                    .filter(|(hotkey, &n)| n > 0 && hotkey.parse::<Hotkey>().is_ok())
                    .map(|(hotkey, &n)| (hotkey.clone(), n))
                    .collect();
                if by_miner.is_empty() {
                    return None;
                }
                Some((zipcode.parse().ok()?, by_miner))
            })
            .collect();
        (!zipcodes.is_empty()).then(|| PublishedEvidence {
            file: EvidenceFile {
                epoch,
                validator: self.hotkey.clone(),
                file: self.file.clone(),
                sha256: self.sha256.clone(),
            },
            zipcodes,
        })
    }
}

/// A validator's verdict on one miner, with the reasons it gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MinerVerdict {
    pub uid: u16,
    #[schema(example = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y")]
    pub hotkey: String,
    /// `honest`, `liar` or `absent`.
    #[schema(value_type = String, example = "honest")]
    pub verdict: VerdictKind,
    pub quality: f64,
    /// The normalized weight the validator gave (0 to 1).
    pub weight: f64,
    pub listings: u64,
    pub reasons: Vec<String>,
}

impl From<&MinerResult> for MinerVerdict {
    fn from(result: &MinerResult) -> Self {
        MinerVerdict {
            uid: result.uid,
            hotkey: result.hotkey.clone(),
            verdict: result.verdict,
            quality: result.quality,
            weight: result.weight,
            listings: result.listings,
            reasons: result.reasons.clone(),
        }
    }
}

/// A results file that was read and not used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkippedResults {
    pub file: String,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINER: &str = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y";

    fn verdicts(file: &str, listings: &[(&str, &str, u64)]) -> ValidatorVerdicts {
        let mut zipcode_listings: BTreeMap<String, ZipcodeListings> = BTreeMap::new();
        for (zipcode, miner, n) in listings {
            let entry = zipcode_listings.entry(zipcode.to_string()).or_default();
            entry.by_miner.insert(miner.to_string(), *n);
            entry.total += n;
        }
        ValidatorVerdicts {
            uid: 1,
            hotkey: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".into(),
            file: file.into(),
            sha256: "ab".repeat(32),
            judged_at: "2026-12-01T00:00:00.000Z".into(),
            miners: Vec::new(),
            zipcode_listings,
        }
    }

    #[test]
    fn delivered_listings_are_the_median_validators_total() {
        let answer = |validators: Vec<ValidatorVerdicts>| EpochResultsResponse {
            success: true,
            epoch_id: "2026-12-01T00-00-00".into(),
            judging_window_ended_at: String::new(),
            read_at: String::new(),
            validators,
            skipped_count: 0,
            skipped: Vec::new(),
        };
        assert_eq!(answer(vec![verdicts("a", &[])]).delivered_listings(), None, "nobody counted");
        let honest = verdicts("a", &[("02134", MINER, 40), ("10001", MINER, 60)]);
        let also = verdicts("b", &[("02134", MINER, 45), ("10001", MINER, 50)]);
        let liar = verdicts("c", &[("02134", MINER, 90_000)]);
        assert_eq!(answer(vec![honest.clone()]).delivered_listings(), Some(100));
        assert_eq!(answer(vec![liar.clone(), honest, also, verdicts("d", &[])]).delivered_listings(), Some(100));
    }

    #[test]
    fn evidence_keeps_what_parses_and_what_can_be_published_as_it_is() {
        let epoch: EpochId = "2026-12-01T00-00-00".parse().unwrap();
        let read = verdicts(
            "validators/v/2026-12-01T00-00-00/results_1.json",
            &[("02134", MINER, 40), ("02134", "not a hotkey", 900), ("0213x", MINER, 5), ("10001", MINER, 0)],
        );
        let evidence = read.evidence(epoch).unwrap();
        assert_eq!(evidence.zipcodes.len(), 1, "a malformed zipcode and a zipcode with nothing delivered are dropped");
        assert_eq!(evidence.zipcodes.values().next().unwrap().len(), 1, "a miner that is no hotkey is dropped");
        assert!(verdicts("results_\"1\".json", &[("02134", MINER, 40)]).evidence(epoch).is_none());
        assert!(verdicts("results_é.json", &[("02134", MINER, 40)]).evidence(epoch).is_none());
        assert!(verdicts("results_1.json", &[]).evidence(epoch).is_none(), "nothing to say");
    }

    fn judgement(validator: &str, epoch: &str, weight: f64) -> Vec<u8> {
        serde_json::to_vec(&EpochJudgement {
            epoch_id: epoch.into(),
            validator: validator.into(),
            judged_at: "2025-10-01T20:01:30.000Z".into(),
            spot_checks_per_miner: 10,
            weights: BTreeMap::from([("2".to_string(), weight)]),
            chain_weights: ChainWeights { uids: vec![2], weights: vec![65535] },
            miners: vec![MinerResult {
                uid: 2,
                hotkey: "5miner".into(),
                verdict: VerdictKind::Honest,
                quality: 1.0,
                heuristic: 1.0,
                listings: 100,
                files: 3,
                weight,
                reasons: vec![],
                notes: vec![],
                consensus: None,
            }],
            zipcode_listings: Default::default(),
        })
        .unwrap()
    }

    #[test]
    fn a_results_file_from_before_the_zipcode_listings_still_reads_and_a_new_one_keeps_them() {
        let old = judgement("5val", "2025-10-01T16-00-00", 0.5);
        assert!(!String::from_utf8_lossy(&old).contains("zipcodeListings"), "empty evidence is left out");
        assert!(check_published(&old, "5val", "2025-10-01T16-00-00").unwrap().zipcode_listings.is_empty());
        let mut new: EpochJudgement = serde_json::from_slice(&old).unwrap();
        new.zipcode_listings.insert(
            "02134".into(),
            ZipcodeListings { total: 7, by_miner: BTreeMap::from([("5miner".to_string(), 7)]) },
        );
        let text = serde_json::to_string(&new).unwrap();
        assert!(text.contains(r#""zipcodeListings":{"02134":{"total":7,"byMiner":{"5miner":7}}}"#), "{text}");
        assert_eq!(check_published(text.as_bytes(), "5val", "2025-10-01T16-00-00").unwrap(), new);
    }

    #[test]
    fn a_results_file_must_name_its_folders_validator_and_epoch() {
        let epoch = "2025-10-01T16-00-00";
        assert!(check_published(&judgement("5alice", epoch, 1.0), "5alice", epoch).is_ok());
        let forged = check_published(&judgement("5bob", epoch, 1.0), "5alice", epoch).unwrap_err().to_string();
        assert!(forged.contains("claims validator 5bob"), "{forged}");
        let moved =
            check_published(&judgement("5alice", "2025-10-01T12-00-00", 1.0), "5alice", epoch).unwrap_err().to_string();
        assert!(moved.contains("claims epoch 2025-10-01T12-00-00"), "{moved}");
        let outside = check_published(&judgement("5alice", epoch, 7.0), "5alice", epoch).unwrap_err();
        assert!(outside.to_string().contains("outside"), "{outside}");
        let other = check_published(b"{\"not\": \"results\"}", "5alice", epoch).unwrap_err();
        assert!(other.to_string().starts_with("not a results"), "{other}");
        let liar = judgement("5alice", epoch, 1.0);
        let renamed = String::from_utf8(liar).unwrap().replace("\"honest\"", "\"paid\"");
        let unknown = check_published(renamed.as_bytes(), "5alice", epoch).unwrap_err();
        assert!(matches!(unknown, UnusableResults::NotResults(_)), "a verdict other than the three names: {unknown}");
        assert!(check_published(b"\xff\xfe", "5alice", epoch).is_err());
    }
}

//! An epoch's published inputs: everything its selection reads, fixed and published (with its hash) before the
//! beacon round that seeds it exists, so the operator cannot choose them knowing the outcome and anyone can
//! recompute the selection.
//!
//! The document is JSON in one canonical form: keys sorted by code point, no whitespace, integers and ASCII
//! strings only (Python's `json.dumps(doc, sort_keys=True, separators=(",", ":"))` writes the same bytes), and
//! `inputsHash` is the SHA-256 of those bytes. Candidates are arrays
//! `[zipcode, expectedListings, tier, weightMillis, lastAssignedUnix | null]` in zipcode order. In the `groups`
//! assignment mode the document also holds `groups` (the group plan and the roster, see [`GroupedInputs`]);
//! in `shared` mode it has no such key, so shared-mode documents read as they always did. Inputs whose expected
//! listings were recalibrated from validators' verdicts hold `calibration` (see [`CalibrationSection`]); others
//! have no such key.

use std::collections::HashMap;
use std::fmt::Write;

use sha2::{Digest, Sha256};

use crate::domain::epoch::beacon::Round;
use crate::domain::epoch::calibration::{calibrate, CalibrationRule, CalibrationSection, PublishedEvidence};
use crate::domain::epoch::groups::GroupedInputs;
use crate::domain::epoch::selection::SelectionPolicy;
use crate::domain::epoch::selection_v2::{InputCandidate, ALGORITHM_VERSION, MAX_WEIGHT_MILLIS};
use crate::domain::epoch::zipcode::{MarketTier, Zipcode, ZipcodeRecord};
use crate::domain::epoch::EpochId;

/// Names this document's layout; a different layout gets a different name.
pub const INPUTS_FORMAT: &str = "zipcoord-epoch-inputs-v1";

/// How many epochs in a row inputs are rolled forward at most ([`EpochInputs::roll_forward`]): a server down
/// for longer composes its first epoch back from the world as it stands, and clients stop computing epochs on
/// their own after as many (two days at four hours an epoch).
pub const MAX_ROLL_FORWARD_EPOCHS: u32 = 12;

/// Everything one epoch's selection reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochInputs {
    pub epoch: EpochId,
    pub netuid: u16,
    pub algorithm_version: String,
    /// The beacon chain (its hash) and round whose randomness seeds the epoch.
    pub beacon_chain_hash: [u8; 32],
    pub beacon_round: Round,
    pub policy: SelectionPolicy,
    /// Sorted by zipcode, each at most once.
    pub candidates: Vec<InputCandidate>,
    /// The group plan and roster in the `groups` assignment mode; `None` in `shared` mode.
    pub groups: Option<GroupedInputs>,
    /// How the candidates' expected listings were recalibrated; `None` when they were not.
    pub calibration: Option<CalibrationSection>,
}

/// What composing an epoch's inputs reads from the world.
pub struct InputSources<'a> {
    pub universe: &'a [ZipcodeRecord],
    /// Start of the latest earlier epoch that assigned each zipcode, within two cooldowns of the epoch's start.
    pub last_assigned: &'a HashMap<Zipcode, i64>,
    pub policy: SelectionPolicy,
    pub netuid: u16,
    pub beacon_chain_hash: [u8; 32],
    pub beacon_round: Round,
    /// The group plan and the miners registered now, in the `groups` assignment mode.
    pub groups: Option<GroupedInputs>,
}

/// An operator's weight in thousandths, rounded and kept within `[0, MAX_WEIGHT_MILLIS]`.
pub fn weight_millis(weight: f64) -> u32 {
    if !weight.is_finite() || weight <= 0.0 {
        return 0;
    }
    (weight * 1000.0).round().min(f64::from(MAX_WEIGHT_MILLIS)) as u32
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputsError {
    #[error("the inputs are not JSON: {0}")]
    NotJson(String),
    #[error("the inputs are not in the canonical form (sorted keys, no whitespace): {0}")]
    NotCanonical(String),
    #[error("the inputs' field {field} is missing or malformed")]
    Malformed { field: String },
}

impl EpochInputs {
    /// The inputs of `epoch` as the world stands: the universe's active zipcodes with a positive weight, in
    /// zipcode order.
    pub fn compose(epoch: EpochId, sources: &InputSources<'_>) -> EpochInputs {
        let mut candidates: Vec<InputCandidate> = sources
            .universe
            .iter()
            .filter(|z| z.active && weight_millis(z.weight) > 0)
            .map(|z| InputCandidate {
                zipcode: z.zipcode,
                expected_listings: z.expected_listings,
                tier: z.tier,
                weight_millis: weight_millis(z.weight),
                last_assigned_unix: sources.last_assigned.get(&z.zipcode).copied(),
            })
            .collect();
        candidates.sort_by_key(|c| c.zipcode);
        candidates.dedup_by_key(|c| c.zipcode);
        EpochInputs {
            epoch,
            netuid: sources.netuid,
            algorithm_version: ALGORITHM_VERSION.to_string(),
            beacon_chain_hash: sources.beacon_chain_hash,
            beacon_round: sources.beacon_round,
            policy: sources.policy,
            candidates,
            groups: sources.groups.clone(),
            calibration: None,
        }
    }

    /// These inputs with their expected listings recalibrated from `evidence` under `rule` (whose listing range
    /// becomes the policy's), and the section that says how. `evidence_from` holds the time from which an
    /// imported zipcode's evidence counts; `coldkey_of` maps a miner's hotkey to its coldkey.
    pub fn calibrated(
        mut self,
        rule: CalibrationRule,
        evidence: &[PublishedEvidence],
        evidence_from: &HashMap<Zipcode, i64>,
        coldkey_of: &dyn Fn(&str) -> Option<String>,
    ) -> EpochInputs {
        let rule =
            CalibrationRule { min_listings: self.policy.min_listings, max_listings: self.policy.max_listings, ..rule };
        self.calibration = Some(calibrate(rule, &mut self.candidates, evidence, evidence_from, coldkey_of));
        self
    }

    /// The inputs of `next` as they follow from these inputs and the zipcodes their epoch `picked`: the same
    /// candidates and policy, the picked zipcodes last assigned at this epoch's start, and what lies before
    /// two cooldowns of `next`'s start forgotten. With an unchanged universe and settings this is exactly what
    /// [`EpochInputs::compose`] gives for `next`, which is why a server publishing inputs late (it was down at
    /// the previous epoch's start) rolls them forward instead: they are then fixed by what was public before
    /// the round, and clients that kept the previous inputs compute the same ones during the outage. Rolled
    /// inputs keep the calibrated values and carry no `calibration` of their own: nothing was recalibrated.
    /// `None` when the inputs name a beacon chain this build does not know (no round can be named then).
    pub fn roll_forward(&self, picked: &[Zipcode], next: EpochId) -> Option<EpochInputs> {
        let beacon_round =
            crate::domain::epoch::beacon::known_chain(&self.beacon_chain_hash)?.round_at(next.start_unix());
        let start = self.epoch.start_unix();
        let picked: std::collections::HashSet<Zipcode> = picked.iter().copied().collect();
        let window_start = next.start_unix() - 2 * self.policy.cooldown_seconds;
        let candidates = self
            .candidates
            .iter()
            .map(|c| {
                let last = if picked.contains(&c.zipcode) { Some(start) } else { c.last_assigned_unix };
                InputCandidate {
                    last_assigned_unix: last.filter(|&t| t >= window_start && t < next.start_unix()),
                    ..c.clone()
                }
            })
            .collect();
        Some(EpochInputs { epoch: next, beacon_round, candidates, calibration: None, ..self.clone() })
    }

    /// The canonical document (see the module documentation).
    pub fn canonical_json(&self) -> Vec<u8> {
        let mut out = String::with_capacity(64 + self.candidates.len() * 40);
        let p = &self.policy;
        let max_count = p.max_count.map_or("null".to_string(), |n| n.to_string());
        let _ = write!(
            out,
            "{{\"algorithmVersion\":\"{}\",\"beaconChainHash\":\"{}\",\"beaconRound\":{},",
            self.algorithm_version,
            hex::encode(self.beacon_chain_hash),
            self.beacon_round
        );
        if let Some(calibration) = &self.calibration {
            out.push_str("\"calibration\":");
            calibration.write_json(&mut out);
            out.push(',');
        }
        out.push_str("\"candidates\":[");
        for (i, c) in self.candidates.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let last = c.last_assigned_unix.map_or("null".to_string(), |t| t.to_string());
            let _ = write!(
                out,
                "[\"{}\",{},\"{}\",{},{}]",
                c.zipcode,
                c.expected_listings,
                c.tier.as_str(),
                c.weight_millis,
                last
            );
        }
        let _ = write!(
            out,
            "],\"epochId\":\"{}\",\"epochStartUnix\":{},\"format\":\"{INPUTS_FORMAT}\",",
            self.epoch,
            self.epoch.start_unix(),
        );
        if let Some(groups) = &self.groups {
            out.push_str("\"groups\":");
            groups.write_json(&mut out);
            out.push(',');
        }
        let _ = write!(
            out,
            "\"netuid\":{},\"policy\":{{\
             \"cooldownSeconds\":{},\"maxCount\":{max_count},\"maxListings\":{},\"minListings\":{},\
             \"targetListings\":{},\"tolerancePercent\":{}}}}}",
            self.netuid, p.cooldown_seconds, p.max_listings, p.min_listings, p.target_listings, p.tolerance_percent
        );
        out.into_bytes()
    }

    /// The SHA-256 of the canonical document, hex.
    pub fn hash_hex(&self) -> String {
        inputs_hash_hex(&self.canonical_json())
    }

    /// Reads a published document, refusing one that is not in the canonical form (its hash would then not
    /// be the hash of what it says).
    pub fn from_canonical_json(bytes: &[u8]) -> Result<EpochInputs, InputsError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| InputsError::NotJson(e.to_string()))?;
        let inputs = Self::from_value(&value)?;
        if inputs.canonical_json() != bytes {
            return Err(InputsError::NotCanonical("it reads differently when written canonically".into()));
        }
        Ok(inputs)
    }

    fn from_value(value: &serde_json::Value) -> Result<EpochInputs, InputsError> {
        let bad = |field: &str| InputsError::Malformed { field: field.to_string() };
        let text = |field: &str| value.get(field).and_then(|v| v.as_str()).ok_or_else(|| bad(field));
        let int = |v: Option<&serde_json::Value>, field: &str| v.and_then(|v| v.as_i64()).ok_or_else(|| bad(field));
        if text("format")? != INPUTS_FORMAT {
            return Err(bad("format"));
        }
        let epoch: EpochId = text("epochId")?.parse().map_err(|_| bad("epochId"))?;
        let chain_hash: [u8; 32] = hex::decode(text("beaconChainHash")?)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("beaconChainHash"))?;
        let policy = value.get("policy").ok_or_else(|| bad("policy"))?;
        let policy_int = |name: &str| int(policy.get(name), &format!("policy.{name}"));
        let to_u32 = |n: i64, name: &str| u32::try_from(n).map_err(|_| bad(name));
        let max_count = match policy.get("maxCount") {
            Some(serde_json::Value::Null) => None,
            other => Some(usize::try_from(int(other, "policy.maxCount")?).map_err(|_| bad("policy.maxCount"))?),
        };
        let policy = SelectionPolicy {
            target_listings: to_u32(policy_int("targetListings")?, "policy.targetListings")?,
            tolerance_percent: to_u32(policy_int("tolerancePercent")?, "policy.tolerancePercent")?,
            min_listings: to_u32(policy_int("minListings")?, "policy.minListings")?,
            max_listings: to_u32(policy_int("maxListings")?, "policy.maxListings")?,
            cooldown_seconds: policy_int("cooldownSeconds")?,
            max_count,
        };
        let rows = value.get("candidates").and_then(|v| v.as_array()).ok_or_else(|| bad("candidates"))?;
        let mut candidates = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let field = format!("candidates[{i}]");
            let row = row.as_array().filter(|r| r.len() == 5).ok_or_else(|| bad(&field))?;
            let candidate = InputCandidate {
                zipcode: row[0].as_str().and_then(|z| z.parse().ok()).ok_or_else(|| bad(&field))?,
                expected_listings: row[1].as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| bad(&field))?,
                tier: row[2]
                    .as_str()
                    .and_then(|t| MarketTier::ALL.into_iter().find(|tier| tier.as_str() == t))
                    .ok_or_else(|| bad(&field))?,
                weight_millis: row[3]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|&n| n <= MAX_WEIGHT_MILLIS)
                    .ok_or_else(|| bad(&field))?,
                last_assigned_unix: match &row[4] {
                    serde_json::Value::Null => None,
                    v => Some(v.as_i64().ok_or_else(|| bad(&field))?),
                },
            };
            if candidates.last().is_some_and(|previous: &InputCandidate| previous.zipcode >= candidate.zipcode) {
                return Err(InputsError::NotCanonical(format!("{field} is out of zipcode order")));
            }
            candidates.push(candidate);
        }
        let inputs = EpochInputs {
            epoch,
            netuid: u16::try_from(int(value.get("netuid"), "netuid")?).map_err(|_| bad("netuid"))?,
            algorithm_version: text("algorithmVersion")?.to_string(),
            beacon_chain_hash: chain_hash,
            beacon_round: u64::try_from(int(value.get("beaconRound"), "beaconRound")?)
                .map_err(|_| bad("beaconRound"))?,
            policy,
            candidates,
            groups: value
                .get("groups")
                .map(GroupedInputs::from_value)
                .transpose()
                .map_err(|field| InputsError::Malformed { field: field.0 })?,
            calibration: value
                .get("calibration")
                .map(|v| CalibrationSection::from_value(v, policy.min_listings, policy.max_listings))
                .transpose()
                .map_err(|field| InputsError::Malformed { field })?,
        };
        if int(value.get("epochStartUnix"), "epochStartUnix")? != epoch.start_unix() {
            return Err(bad("epochStartUnix"));
        }
        Ok(inputs)
    }
}

/// The SHA-256 of published inputs.
pub fn inputs_hash(canonical: &[u8]) -> [u8; 32] {
    Sha256::digest(canonical).into()
}

/// The SHA-256 of published inputs, hex.
pub fn inputs_hash_hex(canonical: &[u8]) -> String {
    hex::encode(inputs_hash(canonical))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(zipcode: &str, expected: u32, weight: f64, active: bool) -> ZipcodeRecord {
        ZipcodeRecord {
            zipcode: zipcode.parse().unwrap(),
            state: "NY".into(),
            city: "Somewhere".into(),
            county: None,
            expected_listings: expected,
            tier: MarketTier::Major,
            weight,
            active,
        }
    }

    fn inputs() -> EpochInputs {
        let universe = vec![
            record("10002", 120, 1.0, true),
            record("00501", 80, 0.5, true),
            record("10001", 300, 1.2345, true),
            record("10003", 50, 1.0, false),
            record("10004", 50, 0.0, true),
        ];
        let last_assigned = HashMap::from([("10001".parse().unwrap(), 1_764_000_000)]);
        let sources = InputSources {
            universe: &universe,
            last_assigned: &last_assigned,
            policy: SelectionPolicy {
                target_listings: 400,
                tolerance_percent: 10,
                min_listings: 10,
                max_listings: 3_000,
                cooldown_seconds: 86_400,
                max_count: None,
            },
            netuid: 46,
            beacon_chain_hash: [0xab; 32],
            beacon_round: 12_345,
            groups: None,
        };
        EpochInputs::compose("2025-12-01T04-00-00".parse().unwrap(), &sources)
    }

    #[test]
    fn composes_active_weighted_zipcodes_in_order() {
        let inputs = inputs();
        let zipcodes: Vec<String> = inputs.candidates.iter().map(|c| c.zipcode.to_string()).collect();
        assert_eq!(zipcodes, ["00501", "10001", "10002"], "inactive and zero-weight zipcodes are left out");
        assert_eq!(inputs.candidates[1].weight_millis, 1_235);
        assert_eq!(inputs.candidates[1].last_assigned_unix, Some(1_764_000_000));
        assert_eq!(inputs.candidates[0].last_assigned_unix, None);
    }

    #[test]
    fn canonical_form_is_sorted_compact_json_and_reads_back() {
        let inputs = inputs();
        let bytes = inputs.canonical_json();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.starts_with("{\"algorithmVersion\":\"zipcoord-integer-window-v2\",\"beaconChainHash\":\"abab"));
        assert!(text
            .contains("\"candidates\":[[\"00501\",80,\"MAJOR\",500,null],[\"10001\",300,\"MAJOR\",1235,1764000000]"));
        assert!(text.ends_with(
            "\"policy\":{\"cooldownSeconds\":86400,\"maxCount\":null,\"maxListings\":3000,\"minListings\":10,\
             \"targetListings\":400,\"tolerancePercent\":10}}"
        ));
        // Every object's keys in code point order, as a generic JSON writer with sorted keys would put them.
        fn keys_sorted(value: &serde_json::Value) -> bool {
            match value {
                serde_json::Value::Object(map) => {
                    map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b) && map.values().all(keys_sorted)
                }
                serde_json::Value::Array(items) => items.iter().all(keys_sorted),
                _ => true,
            }
        }
        assert!(keys_sorted(&serde_json::from_slice(&bytes).unwrap()));
        assert_eq!(EpochInputs::from_canonical_json(&bytes).unwrap(), inputs);
        assert_eq!(inputs.hash_hex(), hex::encode(Sha256::digest(&bytes)));
    }

    #[test]
    fn calibrated_inputs_carry_their_section_in_key_order_and_rolled_ones_do_not() {
        let rule = CalibrationRule::standard(0, 0);
        let inputs = inputs().calibrated(rule, &[], &HashMap::new(), &|_| None);
        let section = inputs.calibration.as_ref().unwrap();
        assert_eq!((section.rule.min_listings, section.rule.max_listings), (10, 3_000), "the policy's range");
        let bytes = inputs.canonical_json();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.contains(",\"beaconRound\":12345,\"calibration\":{\"coldkeys\":{},\"evidence\":[],\"holds\":[],\"moves\":[],\"rule\":{"), "{text}");
        assert_eq!(EpochInputs::from_canonical_json(&bytes).unwrap(), inputs);
        let next = EpochId::from_start_unix(inputs.epoch.start_unix() + 3600);
        let mut inputs = inputs;
        inputs.beacon_chain_hash = crate::domain::epoch::beacon::DevBeacon::new().chain().hash;
        assert_eq!(inputs.roll_forward(&[], next).unwrap().calibration, None);
    }

    #[test]
    fn refuses_documents_that_are_not_canonical_or_malformed() {
        let bytes = inputs().canonical_json();
        let spaced = String::from_utf8(bytes.clone()).unwrap().replace(",\"netuid\"", ", \"netuid\"");
        assert!(matches!(EpochInputs::from_canonical_json(spaced.as_bytes()), Err(InputsError::NotCanonical(_))));
        let swapped = String::from_utf8(bytes.clone()).unwrap().replace("\"00501\"", "\"10009\"");
        assert!(matches!(EpochInputs::from_canonical_json(swapped.as_bytes()), Err(InputsError::NotCanonical(_))));
        let tier = String::from_utf8(bytes.clone()).unwrap().replace("\"MAJOR\"", "\"HUGE\"");
        assert!(matches!(EpochInputs::from_canonical_json(tier.as_bytes()), Err(InputsError::Malformed { .. })));
        assert!(matches!(EpochInputs::from_canonical_json(b"[1"), Err(InputsError::NotJson(_))));
    }

    #[test]
    fn rolling_forward_gives_what_composing_from_the_same_world_gives() {
        let universe: Vec<ZipcodeRecord> =
            (0..40).map(|n| record(&format!("{:05}", 20_000 + n), 100 + n, 1.0, n % 7 != 0)).collect();
        let policy = SelectionPolicy {
            target_listings: 400,
            tolerance_percent: 10,
            min_listings: 10,
            max_listings: 3_000,
            cooldown_seconds: 3 * 3600,
            max_count: None,
        };
        let clock = crate::domain::epoch::EpochClock::new(60).unwrap();
        let dev = crate::domain::epoch::beacon::DevBeacon::new().chain().clone();
        let mut epoch: EpochId = "2025-12-01T04-00-00".parse().unwrap();
        // The server's view: every epoch's picks, as its store would answer `last_assignments`.
        let mut history: Vec<(i64, Vec<Zipcode>)> = Vec::new();
        let compose = |epoch: EpochId, history: &[(i64, Vec<Zipcode>)]| {
            let window_start = epoch.start_unix() - 2 * policy.cooldown_seconds;
            let mut last_assigned = HashMap::new();
            for (start, picks) in history.iter().filter(|(t, _)| *t >= window_start && *t < epoch.start_unix()) {
                for zipcode in picks {
                    last_assigned.insert(*zipcode, *start);
                }
            }
            let sources = InputSources {
                universe: &universe,
                last_assigned: &last_assigned,
                policy,
                netuid: 46,
                beacon_chain_hash: dev.hash,
                beacon_round: dev.round_at(epoch.start_unix()),
                groups: None,
            };
            EpochInputs::compose(epoch, &sources)
        };
        let mut rolled = compose(epoch, &history);
        for n in 0..12 {
            let picks: Vec<Zipcode> =
                rolled.candidates.iter().skip(n * 3 % 20).step_by(5).take(3).map(|c| c.zipcode).collect();
            history.push((epoch.start_unix(), picks.clone()));
            let next = clock.next(epoch);
            rolled = rolled.roll_forward(&picks, next).expect("the dev chain is known");
            assert_eq!(rolled, compose(next, &history), "epoch {n} after the start");
            epoch = next;
        }
        assert!(rolled.candidates.iter().any(|c| c.last_assigned_unix.is_some()));
        let unknown_chain = EpochInputs { beacon_chain_hash: [7; 32], ..rolled };
        assert_eq!(unknown_chain.roll_forward(&[], clock.next(epoch)), None);
    }

    #[test]
    fn weights_become_bounded_thousandths() {
        assert_eq!(weight_millis(1.0), 1_000);
        assert_eq!(weight_millis(0.0004), 0);
        assert_eq!(weight_millis(-1.0), 0);
        assert_eq!(weight_millis(f64::NAN), 0);
        assert_eq!(weight_millis(1e12), MAX_WEIGHT_MILLIS);
    }
}

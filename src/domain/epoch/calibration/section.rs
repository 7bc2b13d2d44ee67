//! The `calibration` section of an epoch's published inputs: which validators' results files (by epoch, with
//! their SHA-256) the calibrated values came from, the rule's version and knobs, the coldkeys of the miners behind
//! the evidence, the zipcodes whose evidence counts only from an import on (`holds`), and every value that moved
//! (`moves`, from what to what, on which epoch's evidence). [`calibrate`] computes it from the evidence and
//! [`CalibrationSection::recheck`] recomputes it, so a verifier holding the same verdicts needs to trust none of
//! the operator's numbers but the coldkeys and permits (which the metagraph shows).
//!
//! For each candidate, the newest evidence epoch whose reports on it reach the quorum gives the target (epochs
//! that started before the zipcode's import are left out), and the value steps towards it. Evidence is reused
//! from epoch to epoch until newer evidence replaces it: a step never passes its target, so reuse only finishes
//! the walk.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use super::{estimate, step_towards, CalibrationRule, ValidatorReport, RULE_VERSION};
use crate::domain::epoch::selection_v2::InputCandidate;
use crate::domain::epoch::zipcode::Zipcode;
use crate::domain::epoch::EpochId;

/// One validator's results file for one epoch, as the calibration names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EvidenceFile {
    pub epoch: EpochId,
    pub validator: String,
    /// The object key in the bucket.
    pub file: String,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
}

/// A results file's deliveries: zipcode → honest miner's hotkey → distinct listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedEvidence {
    pub file: EvidenceFile,
    pub zipcodes: BTreeMap<Zipcode, BTreeMap<String, u64>>,
}

/// One calibrated value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CalibrationMove {
    pub zipcode: Zipcode,
    pub from: u32,
    pub to: u32,
    /// The epoch whose evidence gave the target.
    pub evidence_epoch: EpochId,
}

/// The published section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalibrationSection {
    pub version: u32,
    /// The knobs; the listing range is the inputs' policy's.
    pub rule: CalibrationRule,
    /// Sorted by epoch, then validator.
    pub evidence: Vec<EvidenceFile>,
    /// Hotkey → coldkey of the miners in the evidence the metagraph knew (an unknown one is its own coldkey).
    pub coldkeys: BTreeMap<String, String>,
    /// Zipcodes whose evidence counts only from epochs starting at or after this Unix time (an import's).
    pub holds: BTreeMap<Zipcode, i64>,
    /// Sorted by zipcode.
    pub moves: Vec<CalibrationMove>,
}

/// The target of every candidate the evidence says something about: (target, the epoch that said it).
fn targets(
    rule: &CalibrationRule,
    candidates: &[InputCandidate],
    evidence: &[PublishedEvidence],
    holds: &BTreeMap<Zipcode, i64>,
    coldkey_of: &dyn Fn(&str) -> Option<String>,
) -> BTreeMap<Zipcode, (u64, EpochId)> {
    // Zipcode → epoch → the reports on it: only zipcodes somebody reported on are looked at.
    let mut reported: HashMap<Zipcode, BTreeMap<EpochId, Vec<ValidatorReport>>> = HashMap::new();
    for file in evidence {
        for (zipcode, by_miner) in &file.zipcodes {
            reported
                .entry(*zipcode)
                .or_default()
                .entry(file.file.epoch)
                .or_default()
                .push(ValidatorReport { validator: file.file.validator.clone(), by_miner: by_miner.clone() });
        }
    }
    let mut found = BTreeMap::new();
    for candidate in candidates {
        let Some(by_epoch) = reported.get(&candidate.zipcode) else { continue };
        let from = holds.get(&candidate.zipcode).copied().unwrap_or(i64::MIN);
        // Newest first; the first epoch whose reports reach the quorum says it.
        let said = by_epoch
            .iter()
            .rev()
            .filter(|(epoch, _)| epoch.start_unix() >= from)
            .find_map(|(epoch, reports)| estimate(rule, reports, coldkey_of).ok().map(|target| (target, *epoch)));
        if let Some(said) = said {
            found.insert(candidate.zipcode, said);
        }
    }
    found
}

/// The moves `evidence` makes on `candidates` (whose values are the current ones).
fn moves(
    rule: &CalibrationRule,
    candidates: &[InputCandidate],
    evidence: &[PublishedEvidence],
    holds: &BTreeMap<Zipcode, i64>,
    coldkey_of: &dyn Fn(&str) -> Option<String>,
) -> Vec<CalibrationMove> {
    let found = targets(rule, candidates, evidence, holds, coldkey_of);
    candidates
        .iter()
        .filter_map(|c| {
            let &(target, evidence_epoch) = found.get(&c.zipcode)?;
            let to = step_towards(rule, c.expected_listings, target);
            (to != c.expected_listings).then_some(CalibrationMove {
                zipcode: c.zipcode,
                from: c.expected_listings,
                to,
                evidence_epoch,
            })
        })
        .collect()
}

/// Calibrates `candidates` (sorted by zipcode) in place from `evidence`, and returns the section that says how.
/// `evidence_from` holds the Unix time from which each imported zipcode's evidence counts; `coldkey_of` maps a
/// miner's hotkey to its coldkey.
pub fn calibrate(
    rule: CalibrationRule,
    candidates: &mut [InputCandidate],
    evidence: &[PublishedEvidence],
    evidence_from: &HashMap<Zipcode, i64>,
    coldkey_of: &dyn Fn(&str) -> Option<String>,
) -> CalibrationSection {
    let oldest = evidence.iter().map(|e| e.file.epoch.start_unix()).min().unwrap_or(i64::MAX);
    let reported: BTreeSet<Zipcode> = evidence.iter().flat_map(|e| e.zipcodes.keys().copied()).collect();
    let holds: BTreeMap<Zipcode, i64> = candidates
        .iter()
        .filter(|c| reported.contains(&c.zipcode))
        .filter_map(|c| evidence_from.get(&c.zipcode).map(|&t| (c.zipcode, t)))
        .filter(|&(_, t)| t > oldest)
        .collect();
    let miners: BTreeSet<&String> =
        evidence.iter().flat_map(|e| e.zipcodes.values().flat_map(|by_miner| by_miner.keys())).collect();
    let coldkeys: BTreeMap<String, String> =
        miners.into_iter().filter_map(|hotkey| coldkey_of(hotkey).map(|coldkey| (hotkey.clone(), coldkey))).collect();
    // The rule reads the coldkeys as published, exactly as a verifier will.
    let published = |hotkey: &str| coldkeys.get(hotkey).cloned();
    let moves = moves(&rule, candidates, evidence, &holds, &published);
    let mut next = moves.iter().peekable();
    for candidate in candidates.iter_mut() {
        if let Some(moved) = next.next_if(|m| m.zipcode == candidate.zipcode) {
            candidate.expected_listings = moved.to;
        }
    }
    let mut files: Vec<EvidenceFile> = evidence.iter().map(|e| e.file.clone()).collect();
    files.sort();
    CalibrationSection { version: RULE_VERSION, rule, evidence: files, coldkeys, holds, moves }
}

/// What a recheck found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalibrationDiffers {
    #[error("the calibration uses rule version {0}, which this verifier does not know")]
    UnknownRule(u32),
    #[error("the calibration names {named} but the verdicts read give {read}")]
    Evidence { named: String, read: String },
    #[error("zipcode {zipcode} moved to {to} but the inputs give it {found}")]
    NotApplied { zipcode: Zipcode, to: u32, found: String },
    #[error("the evidence moves {expected} where the calibration says {published}")]
    Moves { expected: String, published: String },
}

/// `items` described one by one and joined, or `none` when there are none.
fn listed<T>(items: &[T], describe: impl Fn(&T) -> String, none: &str) -> String {
    if items.is_empty() {
        return none.to_string();
    }
    items.iter().map(describe).collect::<Vec<_>>().join(", ")
}

fn describe_files(files: &[EvidenceFile]) -> String {
    listed(files, |f| format!("{} {} {} ({})", f.epoch, f.validator, f.file, &f.sha256), "no results files")
}

fn describe_moves(moves: &[CalibrationMove]) -> String {
    listed(moves, |m| format!("{} {}→{} (epoch {})", m.zipcode, m.from, m.to, m.evidence_epoch), "nothing")
}

impl CalibrationSection {
    /// Recomputes the section over `candidates` (the published ones, calibrated) from `evidence` (the verdicts
    /// as read back, which must be the files the section names): every move must follow from its `from`
    /// value, and every other candidate's value must be one the evidence leaves in place.
    pub fn recheck(
        &self,
        candidates: &[InputCandidate],
        evidence: &[PublishedEvidence],
        min_listings: u32,
        max_listings: u32,
    ) -> Result<(), CalibrationDiffers> {
        if self.version != RULE_VERSION {
            return Err(CalibrationDiffers::UnknownRule(self.version));
        }
        let mut read: Vec<EvidenceFile> = evidence.iter().map(|e| e.file.clone()).collect();
        read.sort();
        if read != self.evidence {
            return Err(CalibrationDiffers::Evidence {
                named: describe_files(&self.evidence),
                read: describe_files(&read),
            });
        }
        let mut before = candidates.to_vec();
        for moved in &self.moves {
            let found = match before.binary_search_by_key(&moved.zipcode, |c| c.zipcode) {
                Ok(at) => Some(&mut before[at]),
                Err(_) => None,
            };
            match found {
                Some(candidate) if candidate.expected_listings == moved.to => candidate.expected_listings = moved.from,
                other => {
                    return Err(CalibrationDiffers::NotApplied {
                        zipcode: moved.zipcode,
                        to: moved.to,
                        found: other.map_or("no such candidate".into(), |c| c.expected_listings.to_string()),
                    })
                }
            }
        }
        let rule = CalibrationRule { min_listings, max_listings, ..self.rule };
        let coldkey_of = |hotkey: &str| self.coldkeys.get(hotkey).cloned();
        let expected = moves(&rule, &before, evidence, &self.holds, &coldkey_of);
        if expected != self.moves {
            return Err(CalibrationDiffers::Moves {
                expected: describe_moves(&expected),
                published: describe_moves(&self.moves),
            });
        }
        Ok(())
    }

    /// Appends the section's canonical JSON object (keys sorted, no whitespace) to `out`.
    pub fn write_json(&self, out: &mut String) {
        let text = |s: &str| serde_json::to_string(s).expect("a string always serialises");
        let r = &self.rule;
        out.push_str("{\"coldkeys\":{");
        for (i, (hotkey, coldkey)) in self.coldkeys.iter().enumerate() {
            let _ = write!(out, "{}{}:{}", if i > 0 { "," } else { "" }, text(hotkey), text(coldkey));
        }
        out.push_str("},\"evidence\":[");
        for (i, f) in self.evidence.iter().enumerate() {
            let _ = write!(
                out,
                "{}[\"{}\",{},{},{}]",
                if i > 0 { "," } else { "" },
                f.epoch,
                text(&f.validator),
                text(&f.file),
                text(&f.sha256)
            );
        }
        out.push_str("],\"holds\":[");
        for (i, (zipcode, from)) in self.holds.iter().enumerate() {
            let _ = write!(out, "{}[\"{zipcode}\",{from}]", if i > 0 { "," } else { "" });
        }
        out.push_str("],\"moves\":[");
        for (i, m) in self.moves.iter().enumerate() {
            let _ = write!(
                out,
                "{}[\"{}\",{},{},\"{}\"]",
                if i > 0 { "," } else { "" },
                m.zipcode,
                m.from,
                m.to,
                m.evidence_epoch
            );
        }
        let _ = write!(
            out,
            "],\"rule\":{{\"agreementPermille\":{},\"maxStepPermille\":{},\"minColdkeys\":{},\"minValidators\":{},\
             \"quantilePermille\":{},\"version\":{}}}}}",
            r.agreement_permille,
            r.max_step_permille,
            r.min_coldkeys,
            r.min_validators,
            r.quantile_permille,
            self.version
        );
    }

    /// Reads the section back; `Err(field)` names what is malformed. The listing range comes from the policy.
    pub fn from_value(
        value: &serde_json::Value,
        min_listings: u32,
        max_listings: u32,
    ) -> Result<CalibrationSection, String> {
        let bad = |field: &str| format!("calibration.{field}");
        let array = |name: &str| value.get(name).and_then(|v| v.as_array()).ok_or_else(|| bad(name));
        let text = |v: &serde_json::Value, field: &str| v.as_str().map(str::to_string).ok_or_else(|| bad(field));
        let epoch = |v: &serde_json::Value, field: &str| -> Result<EpochId, String> {
            v.as_str().and_then(|t| t.parse().ok()).ok_or_else(|| bad(field))
        };
        let zipcode = |v: &serde_json::Value, field: &str| -> Result<Zipcode, String> {
            v.as_str().and_then(|t| t.parse().ok()).ok_or_else(|| bad(field))
        };
        let small = |v: &serde_json::Value, field: &str| -> Result<u32, String> {
            v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| bad(field))
        };
        let rule = value.get("rule").ok_or_else(|| bad("rule"))?;
        let knob = |name: &str| small(rule.get(name).unwrap_or(&serde_json::Value::Null), &format!("rule.{name}"));
        let rule_values = CalibrationRule {
            min_coldkeys: knob("minColdkeys")?,
            min_validators: knob("minValidators")?,
            agreement_permille: knob("agreementPermille")?,
            max_step_permille: knob("maxStepPermille")?,
            quantile_permille: knob("quantilePermille")?,
            min_listings,
            max_listings,
        };
        let coldkeys = value
            .get("coldkeys")
            .and_then(|v| v.as_object())
            .ok_or_else(|| bad("coldkeys"))?
            .iter()
            .map(|(hotkey, coldkey)| Ok((hotkey.clone(), text(coldkey, "coldkeys")?)))
            .collect::<Result<_, String>>()?;
        let row = |v: &serde_json::Value, len: usize, field: &str| -> Result<Vec<serde_json::Value>, String> {
            v.as_array().filter(|r| r.len() == len).cloned().ok_or_else(|| bad(field))
        };
        let mut evidence = Vec::new();
        for v in array("evidence")? {
            let r = row(v, 4, "evidence")?;
            evidence.push(EvidenceFile {
                epoch: epoch(&r[0], "evidence")?,
                validator: text(&r[1], "evidence")?,
                file: text(&r[2], "evidence")?,
                sha256: text(&r[3], "evidence")?,
            });
        }
        let mut holds = BTreeMap::new();
        for v in array("holds")? {
            let r = row(v, 2, "holds")?;
            holds.insert(zipcode(&r[0], "holds")?, r[1].as_i64().ok_or_else(|| bad("holds"))?);
        }
        let mut moves = Vec::new();
        for v in array("moves")? {
            let r = row(v, 4, "moves")?;
            moves.push(CalibrationMove {
                zipcode: zipcode(&r[0], "moves")?,
                from: small(&r[1], "moves")?,
                to: small(&r[2], "moves")?,
                evidence_epoch: epoch(&r[3], "moves")?,
            });
        }
        Ok(CalibrationSection { version: knob("version")?, rule: rule_values, evidence, coldkeys, holds, moves })
    }
}

#[cfg(test)]
mod tests;

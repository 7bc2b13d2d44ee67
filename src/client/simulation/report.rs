//! What a simulation found: for honest miners and each kind of liar, how many epoch-verdicts were right and
//! wrong (an honest miner zeroed, a liar paid), from the liars' second epoch on too, with examples of every
//! kind of wrong verdict, and the spot checks spent. Printed as a table and written as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::api::MinerResult;
use crate::client::liars::LiarKind;
use crate::client::simulation::behaviour::SimulatedMiner;
use crate::client::simulation::{SimulatedLiars, SimulationSettings};
use crate::domain::judging::scoring::{RewardSplit, VerdictKind};

/// Wrong verdicts kept as examples, per kind of miner.
const EXAMPLES: usize = 5;

/// The verdicts on one kind of miner.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Tally {
    pub miners: usize,
    /// Epoch-verdicts on miners of this kind that delivered something (absent ones are neither right nor wrong).
    pub judged: u64,
    /// Honest: judged honest. Liars: judged liars.
    pub right: u64,
    /// Honest: zeroed as liars. Liars: paid.
    pub wrong: u64,
    /// The same from each miner's second epoch on (liars may go unnoticed in their first).
    pub judged_from_second_epoch: u64,
    pub right_from_second_epoch: u64,
    /// Liars paid more than the remainder all unranked honest miners share: a top share.
    pub top_shares: u64,
    /// The weight this kind received, summed over epochs (1.0 is one epoch's whole reward).
    pub weight: f64,
    /// Absent epoch-verdicts (nothing counted).
    pub absent: u64,
    pub examples: Vec<String>,
}

impl Tally {
    /// Wrong verdicts per 10,000 judged.
    pub fn wrong_per_10k(&self) -> f64 {
        if self.judged == 0 {
            0.0
        } else {
            self.wrong as f64 * 10_000.0 / self.judged as f64
        }
    }

    /// The share of right verdicts from the second epoch on.
    pub fn right_share_from_second_epoch(&self) -> Option<f64> {
        (self.judged_from_second_epoch > 0)
            .then(|| self.right_from_second_epoch as f64 / self.judged_from_second_epoch as f64)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub miners: usize,
    pub coldkeys: usize,
    pub group_size: usize,
    pub epochs: u64,
    pub liars: String,
    pub validation: String,
    pub spot_checks_per_miner: usize,
    pub listings_per_batch: u32,
    pub seed: u64,
    /// Listings checked at the source, per epoch on average.
    pub spot_checks_per_epoch: f64,
    /// `honest` and each liar kind.
    pub verdicts: BTreeMap<String, Tally>,
    /// Seconds the simulation took (filled in by the caller).
    pub seconds: f64,
    #[serde(skip)]
    roles: BTreeMap<u16, Option<LiarKind>>,
    #[serde(skip)]
    checks: u64,
}

fn class(role: Option<LiarKind>) -> &'static str {
    role.map_or("honest", LiarKind::name)
}

impl Report {
    pub fn new(settings: &SimulationSettings, roster: &[SimulatedMiner]) -> Self {
        let mut verdicts: BTreeMap<String, Tally> = BTreeMap::new();
        for miner in roster {
            verdicts.entry(class(miner.role).to_string()).or_default().miners += 1;
        }
        Report {
            miners: settings.miners,
            coldkeys: settings.coldkeys,
            group_size: settings.group_size,
            epochs: 0,
            liars: match &settings.liars {
                SimulatedLiars::Share(share) => format!("{}%", share * 100.0),
                SimulatedLiars::Kinds(spec) => spec.0.iter().map(|k| k.name()).collect::<Vec<_>>().join(","),
            },
            validation: settings.validation.name().to_string(),
            spot_checks_per_miner: settings.spot_checks,
            listings_per_batch: settings.listings_per_batch,
            seed: settings.seed,
            spot_checks_per_epoch: 0.0,
            verdicts,
            seconds: 0.0,
            roles: roster.iter().map(|m| (m.uid, m.role)).collect(),
            checks: 0,
        }
    }

    /// Tallies epoch `epoch`'s verdicts, which spent `checks` spot checks.
    pub fn record(&mut self, epoch: u64, results: &[MinerResult], checks: usize) {
        self.epochs += 1;
        self.checks += checks as u64;
        self.spot_checks_per_epoch = self.checks as f64 / self.epochs as f64;
        for result in results {
            let Some(&role) = self.roles.get(&result.uid) else { continue };
            let tally = self.verdicts.entry(class(role).to_string()).or_default();
            tally.weight += result.weight;
            if result.verdict == VerdictKind::Absent {
                tally.absent += 1;
                continue;
            }
            let right = match role {
                None => result.verdict == VerdictKind::Honest,
                Some(_) => result.verdict == VerdictKind::Liar && result.weight == 0.0,
            };
            tally.judged += 1;
            if role.is_some() && result.weight > RewardSplit::default().rest {
                tally.top_shares += 1;
            }
            if right {
                tally.right += 1;
            } else {
                tally.wrong += 1;
                if tally.examples.len() < EXAMPLES {
                    let why = if role.is_none() { result.reasons.join("; ") } else { result.notes.join("; ") };
                    let why: String = why.chars().take(400).collect();
                    tally.examples.push(format!(
                        "epoch {epoch}, uid {}: {} (weight {:.4}): {why}",
                        result.uid, result.verdict, result.weight
                    ));
                }
            }
            if epoch > 0 {
                tally.judged_from_second_epoch += 1;
                tally.right_from_second_epoch += u64::from(right);
            }
        }
    }

    /// The table a person reads.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} epochs of {} miners over {} coldkeys, groups of {}, {} listings per batch, liars {}, validation {}, \
             {} spot checks per miner, seed {}: {:.1} s",
            self.epochs,
            self.miners,
            self.coldkeys,
            self.group_size,
            self.listings_per_batch,
            self.liars,
            self.validation,
            self.spot_checks_per_miner,
            self.seed,
            self.seconds
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<14} {:>6} {:>9} {:>9} {:>7} {:>13} {:>16} {:>10} {:>8}",
            "miners", "count", "judged", "right", "wrong", "wrong per 10k", "right from 2nd", "top share", "weight"
        );
        let order = std::iter::once("honest").chain(crate::client::liars::ALL_KINDS.iter().map(|k| k.name()));
        for name in order {
            let Some(tally) = self.verdicts.get(name) else { continue };
            let from_second =
                tally.right_share_from_second_epoch().map_or("-".to_string(), |s| format!("{:.2} %", s * 100.0));
            let _ = writeln!(
                out,
                "{:<14} {:>6} {:>9} {:>9} {:>7} {:>13.2} {:>16} {:>10} {:>8.2}",
                name,
                tally.miners,
                tally.judged,
                tally.right,
                tally.wrong,
                tally.wrong_per_10k(),
                from_second,
                if name == "honest" { "-".to_string() } else { tally.top_shares.to_string() },
                tally.weight
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "spot checks: {:.1} per epoch", self.spot_checks_per_epoch);
        let _ = writeln!(
            out,
            "wrong: an honest miner zeroed, or a liar paid; top share: a liar paid more than the remainder; weight: \
             summed shares of each epoch's reward"
        );
        for (name, tally) in &self.verdicts {
            for example in &tally.examples {
                let _ = writeln!(out, "  {name} wrong: {example}");
            }
        }
        out
    }
}

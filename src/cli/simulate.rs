//! `zipcoord simulate judging`: the judging simulator ([`crate::client::simulation`]) from the command line, its
//! table on standard output and its verdicts as JSON in a file.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::client::simulation::{simulate, SimulatedLiars, SimulationSettings};
use crate::client::validator::group_judging::ValidationMode;

#[derive(Debug, Subcommand)]
pub enum SimulateCommand {
    /// Judge many simulated `groups` epochs with the validator's own judging, and count the verdicts it got
    /// wrong: honest miners zeroed, liars paid.
    Judging(JudgingArgs),
}

#[derive(Debug, Args)]
pub struct JudgingArgs {
    #[arg(long, default_value_t = 256)]
    pub miners: usize,
    /// Operators the miners belong to (default: three miners in four have an operator of their own).
    #[arg(long)]
    pub coldkeys: Option<usize>,
    #[arg(long, default_value_t = 5)]
    pub group_size: usize,
    #[arg(long, default_value_t = 1000)]
    pub epochs: u64,
    /// A share of the miners (`10%`, dealt over inventor, shader, copier, exact-copier and sybil pairs in turn),
    /// a count of inventors, or kinds (`inventor,shader,copier,exact-copier,sybil`).
    #[arg(long, default_value = "10%", value_parser = clap::value_parser!(SimulatedLiars))]
    pub liars: SimulatedLiars,
    /// `consensus`, `spot-checks` or `both`.
    #[arg(long, default_value = "both", value_parser = clap::value_parser!(ValidationMode))]
    pub validation: ValidationMode,
    /// Listings spot-checked per miner (sampled).
    #[arg(long, default_value_t = 10)]
    pub spot_checks: usize,
    /// Expected listings of each group's batch.
    #[arg(long, default_value_t = 600)]
    pub listings: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write the verdicts as JSON.
    #[arg(long, default_value = "judging-simulation.json")]
    pub output: PathBuf,
}

pub fn run(command: SimulateCommand) -> anyhow::Result<()> {
    let SimulateCommand::Judging(args) = command;
    let settings = SimulationSettings {
        miners: args.miners,
        coldkeys: args.coldkeys.unwrap_or((args.miners * 3).div_ceil(4)),
        group_size: args.group_size,
        epochs: args.epochs,
        liars: args.liars,
        validation: args.validation,
        spot_checks: args.spot_checks,
        listings_per_batch: args.listings,
        seed: args.seed,
    };
    let started = Instant::now();
    let every = (settings.epochs / 10).max(1);
    let total = settings.epochs;
    let mut progress = |done: u64| {
        if done.is_multiple_of(every) && done < total {
            eprintln!("  {done} of {total} epochs judged ({:.0} s)", started.elapsed().as_secs_f64());
        }
    };
    let mut report = simulate(settings, &mut progress)?;
    report.seconds = started.elapsed().as_secs_f64();
    print!("{}", report.table());
    let json = serde_json::to_vec_pretty(&report)?;
    std::fs::write(&args.output, json).with_context(|| format!("cannot write {}", args.output.display()))?;
    println!("verdicts written to {}", args.output.display());
    Ok(())
}

//! `zipcoord miner history` and `zipcoord miner export-accepted`: the miner's own record of its work and of the
//! validators' verdicts, read from its state directory (see [`crate::client::miner::history`]), for people and scripts.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::keys::KeyArgs;
use crate::client::miner::history::{
    read_delivered, read_history, CorruptLine, EpochRecord, HistoryRead, VerdictState,
};
use crate::client::miner::history_summary::{accepted, failures, summarize, HistoryFilter, Summary};
use crate::client::state::default_state_dir;

/// Whose history: a state directory, or the default one of a hotkey.
#[derive(Debug, Args)]
pub struct HistoryLocation {
    /// The miner's state directory (default: the one `miner run` uses for the hotkey given).
    #[arg(long, env = "ZIPCOORD_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    #[command(flatten)]
    pub key: KeyArgs,
}

impl HistoryLocation {
    fn root(&self) -> anyhow::Result<PathBuf> {
        match &self.state_dir {
            Some(dir) => Ok(dir.clone()),
            None => Ok(default_state_dir(
                "miner",
                &self.key.keypair().context("--state-dir or a hotkey")?.hotkey().to_string(),
            )),
        }
    }
}

/// Which epochs and verdicts.
#[derive(Debug, Args)]
pub struct HistoryScope {
    /// Only epochs that started in the last N days.
    #[arg(long)]
    pub last_days: Option<u32>,
    /// Only this validator's verdicts (its uid).
    #[arg(long)]
    pub validator: Option<u16>,
}

impl HistoryScope {
    fn filter(&self) -> HistoryFilter {
        let now = chrono::Utc::now().timestamp();
        HistoryFilter {
            since_unix: self.last_days.map(|days| now - i64::from(days) * 86_400),
            validator_uid: self.validator,
        }
    }
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub location: HistoryLocation,
    #[command(flatten)]
    pub scope: HistoryScope,
    /// Totals instead of one line per epoch: listings delivered against expected, share of epochs paid, mean
    /// weight, per validator, and why the unpaid epochs were.
    #[arg(long, conflicts_with = "failures")]
    pub summary: bool,
    /// The zipcodes that failed most, and why.
    #[arg(long)]
    pub failures: bool,
    /// JSON for scripts instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportAcceptedArgs {
    #[command(flatten)]
    pub location: HistoryLocation,
    #[command(flatten)]
    pub scope: HistoryScope,
    /// An epoch is accepted when every verdict on it gives at least this weight and none calls it a liar.
    #[arg(long)]
    pub min_weight: f64,
    /// Where to write the listings, one JSON object per line.
    #[arg(short = 'o', long)]
    pub output: PathBuf,
}

/// Reads the history at `root`, reporting each unreadable line on stderr.
fn load(root: &std::path::Path) -> anyhow::Result<HistoryRead> {
    anyhow::ensure!(root.is_dir(), "no state directory at {} (give --state-dir)", root.display());
    let read = read_history(root);
    for CorruptLine { file, line, error } in &read.corrupt {
        eprintln!("skipped {} line {line}: {error}", file.display());
    }
    Ok(read)
}

pub fn history(args: HistoryArgs) -> anyhow::Result<()> {
    let root = args.location.root()?;
    let read = load(&root)?;
    let filter = args.scope.filter();
    let mut out = std::io::stdout().lock();
    if args.failures {
        let list = failures(&read.closed, &filter);
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
        } else if list.is_empty() {
            writeln!(out, "no zipcode failed in {} epochs", read.closed.len())?;
        } else {
            writeln!(out, "zipcode  failures  last epoch           last reason")?;
            for failure in list {
                writeln!(
                    out,
                    "{:<8} {:>8}  {}  {}",
                    failure.zipcode, failure.failures, failure.last_epoch, failure.last_reason
                )?;
            }
        }
    } else if args.summary {
        let summary = summarize(&read.closed, &read.open, &filter);
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&summary)?)?;
        } else {
            write!(out, "{}", render_summary(&root, &summary))?;
        }
    } else {
        let records: Vec<&EpochRecord> = read.closed.iter().chain(&read.open).filter(|r| filter.includes(r)).collect();
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&records)?)?;
        } else {
            for record in records {
                writeln!(out, "{}", render_epoch(record, &filter))?;
            }
        }
    }
    Ok(())
}

/// One epoch on one line, then one indented line per validator that paid it nothing.
fn render_epoch(record: &EpochRecord, filter: &HistoryFilter) -> String {
    let done = record.zipcodes.iter().filter(|z| z.failure.is_none() && z.scraped_at.is_some()).count();
    let mut line = format!(
        "{}  {:<11} {:>3}/{:<3} zipcodes  {:>7}/{:<7} listings  ",
        record.epoch_id,
        record.status.as_deref().unwrap_or("unfinished"),
        done,
        record.zipcodes.len(),
        record.listings_found(),
        record.expected_listings,
    );
    let verdicts = filter.verdicts(record);
    match record.verdicts.state {
        VerdictState::Awaited => line.push_str("awaiting verdicts"),
        VerdictState::Unavailable => {
            line.push_str(&format!("no verdicts: {}", record.verdicts.note.as_deref().unwrap_or("unavailable")))
        }
        VerdictState::Published if verdicts.is_empty() => line.push_str("not judged"),
        VerdictState::Published => {
            let parts: Vec<String> =
                verdicts.iter().map(|v| format!("uid {} {} {:.4}", v.validator_uid, v.verdict, v.weight)).collect();
            line.push_str(&parts.join(", "));
            for unpaid in verdicts.iter().filter(|v| v.weight <= 0.0) {
                line.push_str(&format!("\n    uid {}: {}", unpaid.validator_uid, reasons(&unpaid.reasons)));
            }
        }
    }
    line
}

/// A validator's reasons in brief: the first, and how many more (`--json` has them all).
fn reasons(reasons: &[String]) -> String {
    match reasons {
        [] => "no reason given".to_string(),
        [only] => only.clone(),
        [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
    }
}

fn render_summary(root: &std::path::Path, summary: &Summary) -> String {
    let percent = |part: f64, whole: f64| if whole > 0.0 { 100.0 * part / whole } else { 0.0 };
    let mut text = format!("history in {}\n", root.display());
    match (&summary.first_epoch, &summary.last_epoch) {
        (Some(first), Some(last)) => text.push_str(&format!(
            "epochs            {} ({first} to {last}), {} awaiting verdicts\n",
            summary.epochs, summary.awaiting_verdicts
        )),
        _ => text.push_str("epochs            none yet\n"),
    }
    text.push_str(&format!(
        "listings          {} delivered of {} expected ({:.1} %)\n",
        summary.listings_delivered,
        summary.listings_expected,
        percent(summary.listings_delivered as f64, summary.listings_expected as f64)
    ));
    text.push_str(&format!(
        "paid              {} of {} judged epochs ({:.0} %), mean weight {:.4}\n",
        summary.epochs_paid,
        summary.epochs_judged,
        100.0 * summary.share_paid,
        summary.mean_weight
    ));
    if !summary.validators.is_empty() {
        text.push_str("per validator\n");
        for validator in &summary.validators {
            let verdicts: Vec<String> = validator.verdicts.iter().map(|(kind, n)| format!("{kind} {n}")).collect();
            text.push_str(&format!(
                "  uid {:<4} {}…  {} epochs, {} paid, mean weight {:.4} ({})\n",
                validator.uid,
                validator.hotkey.chars().take(8).collect::<String>(),
                validator.epochs,
                validator.paid,
                validator.mean_weight,
                verdicts.join(", ")
            ));
        }
    }
    if !summary.unpaid.is_empty() {
        text.push_str("epochs at weight 0\n");
        for epoch in &summary.unpaid {
            for verdict in &epoch.verdicts {
                text.push_str(&format!(
                    "  {}  uid {} {}: {}\n",
                    epoch.epoch_id,
                    verdict.validator_uid,
                    verdict.verdict,
                    reasons(&verdict.reasons)
                ));
            }
        }
    }
    text
}

pub fn export_accepted(args: ExportAcceptedArgs) -> anyhow::Result<()> {
    let root = args.location.root()?;
    let read = load(&root)?;
    let filter = args.scope.filter();
    let file =
        std::fs::File::create(&args.output).with_context(|| format!("cannot create {}", args.output.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let (mut epochs, mut listings, mut gone) = (0, 0, Vec::new());
    for record in read.closed.iter().filter(|r| filter.includes(r) && accepted(r, &filter, args.min_weight)) {
        // `read_history` kept only lines whose epoch id is one.
        let kept = record.epoch_id.parse().ok().and_then(|epoch| read_delivered(&root, epoch));
        let Some(kept) = kept else {
            gone.push(record.epoch_id.clone());
            continue;
        };
        epochs += 1;
        for listing in kept {
            let mut line = serde_json::to_value(&listing)?;
            line["epochId"] = serde_json::Value::String(record.epoch_id.clone());
            serde_json::to_writer(&mut out, &line)?;
            out.write_all(b"\n")?;
            listings += 1;
        }
    }
    out.flush()?;
    eprintln!("exported {listings} listings of {epochs} accepted epochs to {}", args.output.display());
    if !gone.is_empty() {
        eprintln!(
            "{} accepted epochs' listings are no longer kept (miner run --keep-listing-epochs): {}",
            gone.len(),
            gone.join(", ")
        );
    }
    Ok(())
}

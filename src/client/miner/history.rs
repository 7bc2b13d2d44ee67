//! The miner's work history, kept in its state directory: one JSON line per epoch in
//! `history/history-YYYY-MM.jsonl` (the month the line was written), appended and never rewritten. A line holds
//! the assignment, what became of each zipcode, the status reports sent and their answers, and each validator's
//! verdict once the epoch's results are published. Until then the epoch's record is open
//! (`history/open/{epoch}.json`, rewritten atomically as the work goes on) and closed into a line when the
//! verdicts can be read, or given up on.
//!
//! Months before the previous one are compressed (`.jsonl.gz`). A line that does not parse (a torn write at a
//! crash, an edit) is reported with its file and line number and skipped, never fatal. The listings delivered
//! for an epoch are kept beside it (`delivered/{epoch}.jsonl.gz`, the newest epochs only) so that accepted work
//! can be exported as a data set.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Months};
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::api::{AssignmentResponse, EpochResultsResponse};
use crate::client::state::StateDir;
use crate::domain::epoch::EpochId;
use crate::domain::judging::listing::Listing;
use crate::domain::judging::scoring::VerdictKind;

/// Names the layout of a history line.
pub const HISTORY_FORMAT: &str = "zipcoord-miner-history-v1";
const OPEN_FOLDER: &str = "history/open";
const OPEN_KIND: &str = "history-open";
const DELIVERED_FOLDER: &str = "delivered";

/// One epoch of a miner's work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochRecord {
    pub format: String,
    pub hotkey: String,
    pub epoch_id: String,
    pub nonce: String,
    /// Where the assignment came from (`api`, `computed …`, `relay …`).
    pub source: String,
    pub expected_listings: u64,
    pub zipcodes: Vec<ZipcodeWork>,
    /// The final status reported (`COMPLETED`, `FAILED`, `TIMEOUT`), once the work is over.
    pub status: Option<String>,
    pub reports: Vec<ReportSent>,
    pub verdicts: Verdicts,
    /// When the line was written.
    pub recorded_at: Option<String>,
}

/// What became of one assigned zipcode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZipcodeWork {
    pub zipcode: String,
    pub expected_listings: u64,
    pub scraped_at: Option<String>,
    pub listings_found: u64,
    pub files_uploaded: u32,
    /// Scraped but waiting to be uploaded (no usable grant at the time).
    pub kept_for_later: bool,
    pub failure: Option<String>,
}

/// A status report and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportSent {
    pub status: String,
    pub zipcodes_completed: usize,
    pub sent_at: String,
    /// `recorded`, `queued: …` (delivered later from the outbox) or `refused: …`.
    pub answer: String,
}

/// The validators' verdicts on the epoch's work.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdicts {
    pub state: VerdictState,
    pub read_at: Option<String>,
    /// Why there are none, when there are none.
    pub note: Option<String>,
    pub validators: Vec<ValidatorVerdict>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictState {
    /// The judging window has not passed yet.
    #[default]
    Awaited,
    Published,
    /// Not to be had (no results served, the epoch forgotten, the API gone for too long).
    Unavailable,
}

/// One validator's verdict on this miner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorVerdict {
    pub validator_uid: u16,
    pub validator_hotkey: String,
    pub verdict: VerdictKind,
    pub quality: f64,
    pub weight: f64,
    pub listings: u64,
    pub reasons: Vec<String>,
}

impl EpochRecord {
    /// The record of work on `assignment` (from `source`) by `hotkey`, nothing done yet.
    pub fn started(assignment: &AssignmentResponse, source: &str, hotkey: &str) -> Self {
        EpochRecord {
            format: HISTORY_FORMAT.to_string(),
            hotkey: hotkey.to_string(),
            epoch_id: assignment.epoch_id.clone(),
            nonce: assignment.nonce.clone(),
            source: source.to_string(),
            expected_listings: assignment.zipcodes.iter().map(|z| u64::from(z.expected_listings)).sum(),
            zipcodes: assignment
                .zipcodes
                .iter()
                .map(|z| ZipcodeWork {
                    zipcode: z.zipcode.clone(),
                    expected_listings: u64::from(z.expected_listings),
                    scraped_at: None,
                    listings_found: 0,
                    files_uploaded: 0,
                    kept_for_later: false,
                    failure: None,
                })
                .collect(),
            status: None,
            reports: Vec::new(),
            verdicts: Verdicts::default(),
            recorded_at: None,
        }
    }

    pub fn zipcode_mut(&mut self, zipcode: &str) -> Option<&mut ZipcodeWork> {
        self.zipcodes.iter_mut().find(|z| z.zipcode == zipcode)
    }

    /// Listings found over all zipcodes.
    pub fn listings_found(&self) -> u64 {
        self.zipcodes.iter().map(|z| z.listings_found).sum()
    }

    /// Takes this miner's verdicts out of the epoch's published results.
    pub fn take_verdicts(&mut self, results: &EpochResultsResponse) {
        self.verdicts = Verdicts {
            state: VerdictState::Published,
            read_at: Some(results.read_at.clone()),
            note: results.validators.is_empty().then(|| "no validator published results for this epoch".to_string()),
            validators: results
                .validators
                .iter()
                .filter_map(|validator| {
                    let mine = validator.miners.iter().find(|m| m.hotkey == self.hotkey)?;
                    Some(ValidatorVerdict {
                        validator_uid: validator.uid,
                        validator_hotkey: printable(&validator.hotkey, MAX_REASON_CHARS),
                        verdict: mine.verdict,
                        quality: mine.quality,
                        weight: mine.weight,
                        listings: mine.listings,
                        reasons: reasons_as_read(&mine.reasons),
                    })
                })
                .collect(),
        };
    }

    /// Gives up on the verdicts, saying why.
    pub fn verdicts_unavailable(&mut self, why: String) {
        self.verdicts = Verdicts { state: VerdictState::Unavailable, note: Some(why), ..Verdicts::default() };
    }
}

/// Reasons kept per verdict, and characters per reason: a validator's results are its own words, printed to a
/// miner's terminal, so they are bounded and made printable as they are read.
const MAX_REASONS: usize = 8;
const MAX_REASON_CHARS: usize = 300;

/// `reasons` as kept: the first [`MAX_REASONS`], each printable, and a count of the rest.
fn reasons_as_read(reasons: &[String]) -> Vec<String> {
    let mut kept: Vec<String> =
        reasons.iter().take(MAX_REASONS).map(|reason| printable(reason, MAX_REASON_CHARS)).collect();
    if reasons.len() > MAX_REASONS {
        kept.push(format!("… and {} more reasons", reasons.len() - MAX_REASONS));
    }
    kept
}

/// `text` with control characters escaped (`\u{1b}`), cut to `max_chars` characters with an ellipsis.
fn printable(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == max_chars {
            out.push('…');
            break;
        }
        match c.is_control() {
            true => out.extend(c.escape_default()),
            false => out.push(c),
        }
    }
    out
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorruptLine {
    pub file: PathBuf,
    pub line: usize,
    pub error: String,
}

/// Everything the history holds.
#[derive(Debug, Default)]
pub struct HistoryRead {
    /// Closed epochs, oldest first, one per epoch (the last line written wins).
    pub closed: Vec<EpochRecord>,
    /// Epochs still awaiting their verdicts.
    pub open: Vec<EpochRecord>,
    pub corrupt: Vec<CorruptLine>,
}

/// The file a line written at `now_unix` goes to.
fn month_file(now_unix: i64) -> String {
    let at = DateTime::from_timestamp(now_unix, 0).unwrap_or_default();
    format!("history/history-{:04}-{:02}.jsonl", at.year(), at.month())
}

/// The miner's history in its state directory.
pub struct MinerHistory<'a> {
    pub state: &'a StateDir,
}

impl MinerHistory<'_> {
    fn open_name(epoch_id: &str) -> String {
        format!("{OPEN_FOLDER}/{epoch_id}.json")
    }

    /// Saves the open record of an epoch.
    pub fn save_open(&self, record: &EpochRecord) {
        if let Err(error) = self.state.write(&Self::open_name(&record.epoch_id), OPEN_KIND, record) {
            tracing::warn!(epoch = %record.epoch_id, %error, "history record not saved");
        }
    }

    pub fn open_record(&self, epoch_id: &str) -> Option<EpochRecord> {
        self.state.read(&Self::open_name(epoch_id), OPEN_KIND)
    }

    /// The open records, oldest epoch first (one whose epoch id is not one is set aside: file names are made
    /// from it).
    pub fn open_records(&self) -> Vec<EpochRecord> {
        self.state
            .list(OPEN_FOLDER)
            .iter()
            .filter_map(|name| {
                let record: EpochRecord = self.state.read(name, OPEN_KIND)?;
                if record.epoch_id.parse::<EpochId>().is_err() {
                    self.state.set_aside(name, "its epoch id is not an epoch id");
                    return None;
                }
                Some(record)
            })
            .collect()
    }

    /// Writes the epoch's line (in the file of `now_unix`'s month) and drops its open record. A crash between
    /// the two writes the line again at the next close; readers keep the last.
    pub fn close(&self, mut record: EpochRecord, now_unix: i64) -> Result<(), std::io::Error> {
        record.recorded_at = Some(history_time(now_unix));
        let mut line = serde_json::to_vec(&record).expect("history records serialize");
        line.push(b'\n');
        let path = self.state.path(&month_file(now_unix));
        append_line(&path, &line)?;
        self.state.remove(&Self::open_name(&record.epoch_id));
        compress_old_months(&self.state.path("history"), now_unix);
        Ok(())
    }

    /// Keeps `listings` (one zipcode's) with the epoch's delivered work.
    pub fn keep_delivered(&self, epoch_id: &str, listings: &[Listing]) -> Result<(), std::io::Error> {
        let path = self.state.path(&format!("{DELIVERED_FOLDER}/{epoch_id}.jsonl.gz"));
        fs::create_dir_all(path.parent().expect("inside the state directory"))?;
        // Each call appends a gzip member; concatenated members are one valid gzip stream.
        let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::default());
        for listing in listings {
            serde_json::to_writer(&mut encoder, listing).map_err(std::io::Error::other)?;
            encoder.write_all(b"\n")?;
        }
        let member = encoder.finish()?;
        let mut file = fs::OpenOptions::new().create(true).append(true).open(&path)?;
        file.write_all(&member)?;
        file.sync_data()
    }

    /// Keeps the delivered listings of the newest `epochs` epochs only.
    pub fn keep_delivered_epochs(&self, epochs: usize) {
        self.state.keep_newest(DELIVERED_FOLDER, epochs);
    }
}

/// Reads the listings kept for `epoch` in the state directory at `root`, whoever owns it, if any: those of
/// whole zipcodes (a member torn by a crash ends the reading).
pub fn read_delivered(root: &Path, epoch: EpochId) -> Option<Vec<Listing>> {
    let file = fs::File::open(root.join(DELIVERED_FOLDER).join(format!("{epoch}.jsonl.gz"))).ok()?;
    let reader = BufReader::new(MultiGzDecoder::new(file));
    Some(reader.lines().map_while(Result::ok).filter_map(|line| serde_json::from_str(&line).ok()).collect())
}

/// Appends `line` to `path` with one write; a previous line torn by a crash is ended first, so it stays one
/// corrupt line and never swallows this one.
fn append_line(path: &Path, line: &[u8]) -> Result<(), std::io::Error> {
    fs::create_dir_all(path.parent().expect("history files live in a folder"))?;
    let mut file = fs::OpenOptions::new().create(true).append(true).read(true).open(path)?;
    let length = file.metadata()?.len();
    let mut bytes = Vec::with_capacity(line.len() + 1);
    if length > 0 {
        use std::io::{Seek, SeekFrom};
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(length - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            bytes.push(b'\n');
        }
    }
    bytes.extend_from_slice(line);
    file.write_all(&bytes)?;
    file.sync_data()
}

/// Compresses the plain month files older than the month before `now_unix`'s (no line is appended to them any
/// more), each atomically: the `.gz` is complete before the plain file goes.
fn compress_old_months(folder: &Path, now_unix: i64) {
    let now = DateTime::from_timestamp(now_unix, 0).unwrap_or_default();
    let previous = now.checked_sub_months(Months::new(1)).unwrap_or(now);
    let keep_plain_from = format!("history-{:04}-{:02}.jsonl", previous.year(), previous.month());
    let Ok(entries) = fs::read_dir(folder) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with("history-") && name.ends_with(".jsonl")) || name >= keep_plain_from {
            continue;
        }
        let plain = entry.path();
        let packed = folder.join(format!("{name}.gz"));
        let temporary = folder.join(format!(".{name}.gz.tmp"));
        let result = (|| -> std::io::Result<()> {
            let mut encoder = GzEncoder::new(fs::File::create(&temporary)?, flate2::Compression::best());
            std::io::copy(&mut fs::File::open(&plain)?, &mut encoder)?;
            encoder.finish()?.sync_all()?;
            fs::rename(&temporary, &packed)?;
            fs::remove_file(&plain)
        })();
        if let Err(error) = result {
            tracing::warn!(file = %plain.display(), %error, "history month not compressed");
            let _ = fs::remove_file(&temporary);
        }
    }
}

/// Reads a history in the state directory at `root`, whoever owns it (read-only: nothing is set aside).
pub fn read_history(root: &Path) -> HistoryRead {
    let mut read = HistoryRead::default();
    let folder = root.join("history");
    let mut files: Vec<PathBuf> = fs::read_dir(&folder)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            name.starts_with("history-") && (name.ends_with(".jsonl") || name.ends_with(".jsonl.gz"))
        })
        .collect();
    files.sort();
    let mut by_epoch = std::collections::BTreeMap::new();
    for path in files {
        let text = match read_text(&path) {
            Ok(text) => text,
            Err(error) => {
                read.corrupt.push(CorruptLine { file: path.clone(), line: 0, error: error.to_string() });
                continue;
            }
        };
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<EpochRecord>(line) {
                Ok(record) if record.epoch_id.parse::<EpochId>().is_err() => read.corrupt.push(CorruptLine {
                    file: path.clone(),
                    line: index + 1,
                    error: format!("{:?} is not an epoch id", record.epoch_id),
                }),
                Ok(record) if record.format == HISTORY_FORMAT => {
                    by_epoch.insert(record.epoch_id.clone(), record);
                }
                Ok(record) => read.corrupt.push(CorruptLine {
                    file: path.clone(),
                    line: index + 1,
                    error: format!("unknown format {:?}", record.format),
                }),
                Err(error) => {
                    read.corrupt.push(CorruptLine { file: path.clone(), line: index + 1, error: error.to_string() })
                }
            }
        }
    }
    read.closed = by_epoch.into_values().collect();
    read.open = fs::read_dir(root.join(OPEN_FOLDER))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|entry| {
            let bytes = fs::read(entry.path()).ok()?;
            let envelope: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
            let record: EpochRecord = serde_json::from_value(envelope.get("body")?.clone()).ok()?;
            let usable = record.epoch_id.parse::<EpochId>().is_ok() && !read_has(&read.closed, &record.epoch_id);
            usable.then_some(record)
        })
        .collect();
    read.open.sort_by(|a, b| a.epoch_id.cmp(&b.epoch_id));
    read
}

fn read_has(records: &[EpochRecord], epoch_id: &str) -> bool {
    records.iter().any(|r| r.epoch_id == epoch_id)
}

fn read_text(path: &Path) -> std::io::Result<String> {
    let file = fs::File::open(path)?;
    let mut bytes = Vec::new();
    if path.extension().is_some_and(|e| e == "gz") {
        MultiGzDecoder::new(file).read_to_end(&mut bytes)?;
    } else {
        BufReader::new(file).read_to_end(&mut bytes)?;
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The moment `now_unix` as the history writes it.
pub fn history_time(now_unix: i64) -> String {
    crate::api::iso8601_millis(now_unix.saturating_mul(1000))
}

#[cfg(test)]
mod tests;

//! A metagraph read from a JSON file: `[{uid, hotkey, coldkey, validator_permit, stake}]`, or an object
//! `{"block": N, "neurons": [...]}`. Re-read on every refresh, so operators can update it in place.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{ChainError, MetagraphSource, SourceFuture};
use crate::domain::access::metagraph::{MetagraphSnapshot, Neuron};
use crate::domain::hotkey::Hotkey;

#[derive(Deserialize)]
#[serde(untagged)]
enum FileContents {
    List(Vec<NeuronEntry>),
    WithBlock { block: Option<u64>, neurons: Vec<NeuronEntry> },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeuronEntry {
    uid: u16,
    hotkey: String,
    #[serde(default)]
    coldkey: String,
    #[serde(default)]
    validator_permit: bool,
    #[serde(default)]
    stake: f64,
}

/// Parses the file format into a snapshot.
pub fn parse_metagraph_json(text: &str, now_unix: i64) -> Result<MetagraphSnapshot, ChainError> {
    let contents: FileContents = serde_json::from_str(text).map_err(|e| ChainError::Invalid(e.to_string()))?;
    let (block, entries) = match contents {
        FileContents::List(entries) => (None, entries),
        FileContents::WithBlock { block, neurons } => (block, neurons),
    };
    let mut neurons = HashMap::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let hotkey: Hotkey = entry
            .hotkey
            .parse()
            .map_err(|e| ChainError::Invalid(format!("neuron {index} (uid {}): {e}", entry.uid)))?;
        if !entry.stake.is_finite() || entry.stake < 0.0 {
            return Err(ChainError::Invalid(format!("neuron {index} (uid {}): stake must be >= 0", entry.uid)));
        }
        let neuron = Neuron {
            uid: entry.uid,
            coldkey: entry.coldkey,
            validator_permit: entry.validator_permit,
            stake: entry.stake,
        };
        if neurons.insert(hotkey.clone(), neuron).is_some() {
            return Err(ChainError::Invalid(format!("hotkey {hotkey} is listed twice")));
        }
    }
    Ok(MetagraphSnapshot { block, fetched_at_unix: now_unix, neurons })
}

pub struct FileSource {
    path: PathBuf,
}

impl FileSource {
    pub fn new(path: PathBuf) -> Self {
        FileSource { path }
    }
}

impl MetagraphSource for FileSource {
    fn describe(&self) -> String {
        format!("file:{}", self.path.display())
    }

    fn fetch(&self, now_unix: i64) -> SourceFuture<'_> {
        Box::pin(async move {
            let text = tokio::fs::read_to_string(&self.path)
                .await
                .map_err(|e| ChainError::File { path: self.path.display().to_string(), reason: e.to_string() })?;
            parse_metagraph_json(&text, now_unix)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

    #[test]
    fn parses_both_layouts() {
        let list = format!(
            r#"[{{"uid": 0, "hotkey": "{ALICE}", "coldkey": "ck", "validator_permit": true, "stake": 25000.5}}]"#
        );
        let snapshot = parse_metagraph_json(&list, 7).unwrap();
        let neuron = snapshot.neuron(&ALICE.parse().unwrap()).unwrap();
        assert!(neuron.validator_permit);
        assert_eq!(neuron.stake, 25000.5);
        assert_eq!(snapshot.fetched_at_unix, 7);
        let with_block = format!(r#"{{"block": 42, "neurons": [{{"uid": 3, "hotkey": "{ALICE}"}}]}}"#);
        assert_eq!(parse_metagraph_json(&with_block, 0).unwrap().block, Some(42));
    }

    #[test]
    fn rejects_bad_entries() {
        for bad in [
            "not json".to_string(),
            r#"[{"uid": 0, "hotkey": "5abc"}]"#.to_string(),
            format!(r#"[{{"uid": 0, "hotkey": "{ALICE}", "stake": -1}}]"#),
            format!(r#"[{{"uid": 0, "hotkey": "{ALICE}"}}, {{"uid": 1, "hotkey": "{ALICE}"}}]"#),
        ] {
            assert!(parse_metagraph_json(&bad, 0).is_err(), "{bad}");
        }
    }
}

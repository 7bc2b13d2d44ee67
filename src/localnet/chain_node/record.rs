//! What the loopback node keeps on disk, so anyone can decode, verify and decrypt what it received with the SDK:
//! `extrinsics.jsonl` (one line per submitted transaction once its fate is known: `{"hex", "submittedAt",
//! "block", "result"}`), `blocks.jsonl` (`{"number", "hash"}` per block, block 0 the genesis) and `pulses.jsonl`
//! (the beacon pulses its drand pallet holds: `{"round", "signature", "randomness"}`). The files start empty
//! with each node; a write that fails is logged and the chain goes on.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use crate::domain::epoch::beacon::{Pulse, Randomness};

pub struct ChainRecord {
    folder: PathBuf,
    extrinsics: BufWriter<File>,
    blocks: BufWriter<File>,
    pulses: BufWriter<File>,
}

impl ChainRecord {
    /// Creates (or empties) the three files in `folder`.
    pub fn create(folder: &Path) -> std::io::Result<ChainRecord> {
        std::fs::create_dir_all(folder)?;
        let open = |name: &str| File::create(folder.join(name)).map(BufWriter::new);
        Ok(ChainRecord {
            folder: folder.to_path_buf(),
            extrinsics: open("extrinsics.jsonl")?,
            blocks: open("blocks.jsonl")?,
            pulses: open("pulses.jsonl")?,
        })
    }

    pub fn folder(&self) -> &Path {
        &self.folder
    }

    pub fn block(&mut self, number: u64, hash: &[u8; 32]) {
        let line = json!({"number": number, "hash": format!("0x{}", hex::encode(hash))});
        Self::append(&mut self.blocks, "blocks.jsonl", &line);
    }

    /// A settled submission (the ledger's `Submission`, serialized as it is).
    pub fn extrinsic(&mut self, submission: &impl Serialize) {
        Self::append(&mut self.extrinsics, "extrinsics.jsonl", submission);
    }

    pub fn pulse(&mut self, pulse: &Pulse, randomness: Randomness) {
        let line = json!({"round": pulse.round, "signature": pulse.signature_hex(), "randomness": randomness.to_hex()});
        Self::append(&mut self.pulses, "pulses.jsonl", &line);
    }

    /// One line, flushed at once: someone may be reading the file while the node runs.
    fn append(file: &mut BufWriter<File>, name: &str, line: &impl Serialize) {
        let written = serde_json::to_writer(&mut *file, line)
            .map_err(std::io::Error::from)
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.flush());
        if let Err(error) = written {
            tracing::warn!(%error, file = name, "the loopback node cannot record");
        }
    }
}

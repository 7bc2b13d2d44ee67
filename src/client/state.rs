//! The reference clients' state directory: what a miner or validator keeps on disk to work through an outage of
//! the coordinator (epoch inputs, assignments with their proofs, grants, reports not yet delivered).
//!
//! Every write is atomic (a temporary file in the same folder, fsynced, renamed over the old one, the folder
//! fsynced), so a crash leaves the old file or the new one, never half of one. Every record is wrapped in an
//! envelope naming its format, its kind and the hotkey it belongs to; a file that does not parse, or that names
//! another kind or hotkey, is reported and renamed aside (`NAME.set-aside-UNIX`), never trusted. A file that
//! cannot be read (an I/O error, such as running out of file descriptors) is left where it is.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Names the envelope's layout.
pub const STATE_FORMAT: &str = "zipcoord-client-state-v1";

/// Files set aside are kept this many at most per folder, the newest; older ones are deleted.
const SET_ASIDE_KEPT: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state directory {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io { path: path.display().to_string(), source }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<T> {
    format: String,
    kind: String,
    owner: String,
    saved_at_unix: i64,
    body: T,
}

/// One client's state directory, owned by one hotkey.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
    owner: String,
}

/// Where a client keeps its state unless told otherwise: `$XDG_DATA_HOME/zipcoord/{role}-{hotkey}`, else
/// `~/.local/share/zipcoord/{role}-{hotkey}`, else `./zipcoord-state/{role}-{hotkey}`.
pub fn default_state_dir(role: &str, hotkey: &str) -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".local/share")))
        .map(|data| data.join("zipcoord"))
        .unwrap_or_else(|| PathBuf::from("zipcoord-state"));
    base.join(format!("{role}-{hotkey}"))
}

/// A name inside the state directory: plain segments of letters, digits, `-`, `_` and `.`, never `..`.
fn checked(name: &str) -> &str {
    assert!(
        !name.is_empty()
            && name.split('/').all(|segment| {
                !segment.is_empty()
                    && segment != ".."
                    && segment != "."
                    && segment.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            }),
        "state file names are made by the client, never from input: {name:?}"
    );
    name
}

impl StateDir {
    /// Opens (creating it, readable by its owner only) the state directory at `root` for `owner`'s hotkey.
    pub fn open(root: impl Into<PathBuf>, owner: impl Into<String>) -> Result<StateDir, StateError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(io_error(&root))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&root, fs::Permissions::from_mode(0o700)).map_err(io_error(&root))?;
        }
        Ok(StateDir { root, owner: owner.into() })
    }

    /// The hotkey whose state this is.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(checked(name))
    }

    /// Writes `bytes` as `name` atomically.
    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> Result<(), StateError> {
        let path = self.path(name);
        let folder = path.parent().expect("state files live in the state directory").to_path_buf();
        fs::create_dir_all(&folder).map_err(io_error(&folder))?;
        let file_name = path.file_name().expect("checked names have a file name").to_string_lossy().into_owned();
        let temporary = folder.join(format!(".{file_name}.tmp-{}-{:08x}", std::process::id(), rand::random::<u32>()));
        let written = (|| {
            let mut file = fs::File::create(&temporary)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&temporary, &path)?;
            fs::File::open(&folder)?.sync_all()
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written.map_err(io_error(&path))
    }

    /// Writes `body` as `name`, in an envelope of `kind` owned by this directory's hotkey.
    pub fn write<T: Serialize>(&self, name: &str, kind: &str, body: &T) -> Result<(), StateError> {
        let envelope = Envelope {
            format: STATE_FORMAT.to_string(),
            kind: kind.to_string(),
            owner: self.owner.clone(),
            saved_at_unix: chrono::Utc::now().timestamp(),
            body,
        };
        self.write_bytes(name, &serde_json::to_vec(&envelope).expect("state records serialize"))
    }

    /// The bytes of `name`: `None` when there is no such file, an error when it cannot be read now (out of file
    /// descriptors, say). A file that cannot be read is never set aside: nothing says its content is wrong.
    pub fn try_read_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, StateError> {
        let path = self.path(name);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(io_error(&path)(error)),
        }
    }

    /// The bytes of `name`, if it exists and can be read now (a read error is logged).
    pub fn read_bytes(&self, name: &str) -> Option<Vec<u8>> {
        self.try_read_bytes(name).unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot read a state file now");
            None
        })
    }

    /// The record `name` of `kind`: `None` when there is none this hotkey wrote, an error when the file cannot
    /// be read now. A file whose content does not parse, or that is of another kind, format or hotkey, is
    /// reported and set aside. What the client must not start afresh on a passing error (the epochs it judged,
    /// the credibility it built) is read this way.
    pub fn try_read<T: DeserializeOwned>(&self, name: &str, kind: &str) -> Result<Option<T>, StateError> {
        let Some(bytes) = self.try_read_bytes(name)? else { return Ok(None) };
        let envelope: Envelope<serde_json::Value> = match serde_json::from_slice(&bytes) {
            Ok(envelope) => envelope,
            Err(error) => {
                self.set_aside(name, &format!("is not a state record: {error}"));
                return Ok(None);
            }
        };
        if envelope.format != STATE_FORMAT || envelope.kind != kind || envelope.owner != self.owner {
            let why = format!(
                "is foreign: format {:?}, kind {:?}, owner {} (expected {STATE_FORMAT:?}, {kind:?}, {})",
                envelope.format, envelope.kind, envelope.owner, self.owner
            );
            self.set_aside(name, &why);
            return Ok(None);
        }
        match serde_json::from_value(envelope.body) {
            Ok(body) => Ok(Some(body)),
            Err(error) => {
                self.set_aside(name, &format!("does not hold a {kind}: {error}"));
                Ok(None)
            }
        }
    }

    /// The record `name` of `kind`, if there is one this hotkey wrote and it can be read now (a read error is
    /// logged; the file stays). Content that is wrong is set aside, as [`StateDir::try_read`] says.
    pub fn read<T: DeserializeOwned>(&self, name: &str, kind: &str) -> Option<T> {
        self.try_read(name, kind).unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot read a state file now");
            None
        })
    }

    /// Moves `name` out of the way as `NAME.set-aside-UNIX`, saying why, so it is never read again but can be
    /// looked at. Only the newest few set-aside files of a folder are kept.
    pub fn set_aside(&self, name: &str, why: &str) {
        let path = self.path(name);
        let aside = PathBuf::from(format!("{}.set-aside-{}", path.display(), chrono::Utc::now().timestamp_millis()));
        match fs::rename(&path, &aside) {
            Ok(()) => {
                tracing::warn!(file = %path.display(), moved_to = %aside.display(), "state file {why}; set aside")
            }
            Err(error) => tracing::warn!(file = %path.display(), %error, "state file {why}; could not set it aside"),
        }
        if let Some(folder) = path.parent() {
            let mut aside: Vec<PathBuf> = fs::read_dir(folder)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.path())
                .filter(|p| p.to_string_lossy().contains(".set-aside-"))
                .collect();
            aside.sort_by_key(|p| fs::metadata(p).and_then(|m| m.modified()).ok());
            let excess = aside.len().saturating_sub(SET_ASIDE_KEPT);
            for old in &aside[..excess] {
                let _ = fs::remove_file(old);
            }
        }
    }

    /// The names of the files in `folder` (relative to the state directory), sorted; temporary and set-aside
    /// files are left out.
    pub fn list(&self, folder: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path(folder))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| !name.starts_with('.') && !name.contains(".set-aside-"))
            .map(|name| format!("{folder}/{name}"))
            .collect();
        names.sort();
        names
    }

    pub fn remove(&self, name: &str) {
        let path = self.path(name);
        if let Err(error) = fs::remove_file(&path) {
            if error.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(file = %path.display(), %error, "cannot remove state file");
            }
        }
    }

    /// Keeps the newest `keep` files of `folder` (by name, which the clients make sort by time), removing the
    /// others: whatever grows with every epoch stays bounded.
    pub fn keep_newest(&self, folder: &str, keep: usize) {
        let names = self.list(folder);
        for name in &names[..names.len().saturating_sub(keep)] {
            self.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Note {
        text: String,
    }

    fn note(text: &str) -> Note {
        Note { text: text.to_string() }
    }

    #[test]
    fn records_read_back_and_overwrite_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path().join("s"), "5Alice").unwrap();
        assert_eq!(state.read::<Note>("a/note.json", "note"), None);
        state.write("a/note.json", "note", &note("one")).unwrap();
        state.write("a/note.json", "note", &note("two")).unwrap();
        assert_eq!(state.read::<Note>("a/note.json", "note"), Some(note("two")));
        let leftovers: Vec<_> = fs::read_dir(state.path("a")).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers.len(), 1, "no temporary file stays behind: {leftovers:?}");
        assert_eq!(state.list("a"), ["a/note.json"]);
    }

    #[test]
    fn corrupt_and_foreign_files_are_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path(), "5Alice").unwrap();
        fs::write(state.path("torn.json"), b"{\"format\":\"zipcoord-cl").unwrap();
        assert_eq!(state.read::<Note>("torn.json", "note"), None);
        assert!(!state.path("torn.json").exists());

        StateDir::open(dir.path(), "5Bob").unwrap().write("bob.json", "note", &note("mine")).unwrap();
        assert_eq!(state.read::<Note>("bob.json", "note"), None, "another hotkey's record is not trusted");
        state.write("kind.json", "grant", &note("x")).unwrap();
        assert_eq!(state.read::<Note>("kind.json", "note"), None, "a record of another kind is not trusted");
        let aside = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".set-aside-"));
        assert_eq!(aside.count(), 3);
    }

    #[test]
    fn a_file_that_cannot_be_read_now_is_an_error_and_stays_where_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path(), "5Alice").unwrap();
        state.write("judged.json", "note", &note("many epochs")).unwrap();
        // A read that fails for a reason other than the content: here the name is a folder (EISDIR); out of
        // file descriptors (EMFILE) is the same case.
        fs::create_dir(state.path("unreadable.json")).unwrap();
        assert!(state.try_read::<Note>("unreadable.json", "note").is_err());
        assert_eq!(state.read::<Note>("unreadable.json", "note"), None);
        assert!(state.path("unreadable.json").is_dir(), "not set aside");
        assert_eq!(state.read_bytes("unreadable.json"), None);
        let aside = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".set-aside-"));
        assert_eq!(aside.count(), 0);
        assert_eq!(state.try_read::<Note>("judged.json", "note").unwrap(), Some(note("many epochs")));
        assert_eq!(state.try_read::<Note>("absent.json", "note").unwrap(), None);
    }

    #[test]
    fn keeps_only_the_newest_files_of_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(dir.path(), "5Alice").unwrap();
        for n in 0..5 {
            state.write_bytes(&format!("epochs/2025-10-0{n}.json"), b"{}").unwrap();
        }
        state.keep_newest("epochs", 2);
        assert_eq!(state.list("epochs"), ["epochs/2025-10-03.json", "epochs/2025-10-04.json"]);
    }

    #[test]
    #[should_panic(expected = "never from input")]
    fn names_cannot_leave_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        StateDir::open(dir.path(), "5Alice").unwrap().path("../etc/passwd");
    }
}

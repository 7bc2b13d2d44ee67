//! Where the clients' keys come from: a Bittensor wallet's hotkey file on disk
//! (`~/.bittensor/wallets/NAME/hotkeys/HOTKEY`, the JSON that `btcli` writes), or a secret URI (`//Alice`, a
//! mnemonic with optional derivation path, a `0x` seed).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::access::keys::Keypair;

#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error("cannot read hotkey file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("hotkey file {0} is encrypted; zipcoord reads unencrypted hotkeys (what btcli writes by default)")]
    Encrypted(String),
    #[error("hotkey file {path} is not a Bittensor keyfile: {reason}")]
    Malformed { path: String, reason: String },
    #[error("hotkey file {path} says {stated} but its secret derives {derived}")]
    Mismatch { path: String, stated: String, derived: String },
    #[error("invalid secret URI or mnemonic")]
    InvalidUri,
}

/// The fields of a `btcli` keyfile that matter here (it also holds `accountId` and `publicKey`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Keyfile {
    secret_seed: Option<String>,
    secret_phrase: Option<String>,
    ss58_address: Option<String>,
}

/// `$HOME/.bittensor/wallets`.
pub fn default_wallets_dir() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(".bittensor").join("wallets")
}

/// The hotkey file of wallet `name`, hotkey `hotkey`, under `wallets_dir`.
pub fn hotkey_path(wallets_dir: &Path, name: &str, hotkey: &str) -> PathBuf {
    wallets_dir.join(name).join("hotkeys").join(hotkey)
}

/// Loads a hotkey from its keyfile, checking that the secret derives the address the file states.
pub fn load_hotkey_file(path: &Path) -> Result<Keypair, WalletError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| WalletError::Unreadable { path: shown.clone(), reason: e.to_string() })?;
    parse_keyfile(&text, &shown)
}

/// Parses a keyfile's text; `path` only names it in errors. Never echoes the secret.
pub fn parse_keyfile(text: &str, path: &str) -> Result<Keypair, WalletError> {
    let trimmed = text.trim_start();
    // bittensor-wallet's encrypted formats start with these markers.
    if ["$NACL", "$BTWALLET", "gAAAAA"].iter().any(|marker| trimmed.starts_with(marker)) {
        return Err(WalletError::Encrypted(path.to_string()));
    }
    let malformed = |reason: &str| WalletError::Malformed { path: path.to_string(), reason: reason.to_string() };
    let keyfile: Keyfile = serde_json::from_str(trimmed).map_err(|_| malformed("not the JSON btcli writes"))?;
    let secret = keyfile
        .secret_seed
        .or(keyfile.secret_phrase)
        .ok_or_else(|| malformed("neither secretSeed nor secretPhrase is present"))?;
    let keypair = Keypair::from_uri(&secret).map_err(|_| malformed("its secret is not a valid seed or mnemonic"))?;
    if let Some(stated) = keyfile.ss58_address {
        let derived = keypair.hotkey().to_string();
        if stated != derived {
            return Err(WalletError::Mismatch { path: path.to_string(), stated, derived });
        }
    }
    Ok(keypair)
}

/// A key from a secret URI or mnemonic.
pub fn keypair_from_uri(uri: &str) -> Result<Keypair, WalletError> {
    Keypair::from_uri(uri).map_err(|_| WalletError::InvalidUri)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The public test mnemonic of Substrate's dev accounts.
    const DEV_PHRASE: &str = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";

    fn keyfile(seed: Option<&str>, phrase: Option<&str>, ss58: &str) -> String {
        serde_json::json!({
            "accountId": "0x00", "publicKey": "0x00", "secretSeed": seed, "secretPhrase": phrase, "ss58Address": ss58,
        })
        .to_string()
    }

    #[test]
    fn reads_seed_or_phrase_and_checks_the_stated_address() {
        let from_phrase = Keypair::from_uri(DEV_PHRASE).unwrap().hotkey().to_string();
        let key = parse_keyfile(&keyfile(None, Some(DEV_PHRASE), &from_phrase), "hk").unwrap();
        assert_eq!(key.hotkey().to_string(), from_phrase);

        let seed = format!("0x{}", "11".repeat(32));
        let from_seed = Keypair::from_uri(&seed).unwrap().hotkey().to_string();
        let key = parse_keyfile(&keyfile(Some(&seed), Some(DEV_PHRASE), &from_seed), "hk").unwrap();
        assert_eq!(key.hotkey().to_string(), from_seed, "the seed wins over the phrase");

        let error = parse_keyfile(&keyfile(Some(&seed), None, &from_phrase), "hk").unwrap_err();
        assert!(matches!(error, WalletError::Mismatch { .. }), "{error}");
    }

    #[test]
    fn refuses_encrypted_and_malformed_files_without_echoing_secrets() {
        assert!(matches!(parse_keyfile("$NACL...", "hk"), Err(WalletError::Encrypted(_))));
        for bad in ["", "{}", "[1]", &keyfile(Some("0xnothex"), None, "5x")] {
            let error = parse_keyfile(bad, "hk").unwrap_err().to_string();
            assert!(error.contains("hk") && !error.contains("nothex"), "{error}");
        }
    }

    #[test]
    fn reads_a_hotkey_file_written_by_bittensor_wallet() {
        // scripts/interop/gen_wallet_vector.py wrote it; the address is the one bittensor-wallet reported.
        let key = parse_keyfile(include_str!("../../tests/vectors/btcli_hotkey.json"), "vector").unwrap();
        assert_eq!(key.hotkey().to_string(), "5CVYajzeBZARXuMzbPZFaR49hgU4biSHFxxDgDcdvuTGzDoU");
    }

    #[test]
    fn wallet_paths_follow_btcli() {
        let path = hotkey_path(Path::new("/home/m/.bittensor/wallets"), "miner", "default");
        assert_eq!(path, Path::new("/home/m/.bittensor/wallets/miner/hotkeys/default"));
    }
}

//! Which hotkey signs a neuron's requests: a btcli wallet's hotkey file, or a secret URI.

use std::path::PathBuf;

use clap::Args;

use super::secret_text::SecretText;
use crate::client::wallet::{default_wallets_dir, hotkey_path, keypair_from_uri, load_hotkey_file};
use crate::domain::access::keys::Keypair;

/// Which hotkey signs: a btcli wallet's hotkey file, or a secret URI / mnemonic.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Wallet name: reads `WALLET_PATH/NAME/hotkeys/HOTKEY`, the unencrypted hotkey file btcli writes.
    #[arg(long, env = "ZIPCOORD_WALLET_NAME")]
    pub wallet_name: Option<String>,
    #[arg(long, env = "ZIPCOORD_WALLET_HOTKEY", default_value = "default")]
    pub wallet_hotkey: String,
    /// Wallets folder (default `~/.bittensor/wallets`).
    #[arg(long, env = "ZIPCOORD_WALLET_PATH")]
    pub wallet_path: Option<PathBuf>,
    /// A secret URI (`//Alice` on local networks), a mnemonic (with an optional `//path`) or a `0x` seed,
    /// instead of a wallet.
    #[arg(long, env = "ZIPCOORD_KEY_URI", hide_env_values = true, conflicts_with = "wallet_name")]
    pub key_uri: Option<SecretText>,
}

impl KeyArgs {
    pub fn keypair(&self) -> anyhow::Result<Keypair> {
        match (&self.key_uri, &self.wallet_name) {
            (Some(uri), _) => Ok(keypair_from_uri(uri.expose())?),
            (None, Some(name)) => {
                let dir = self.wallet_path.clone().unwrap_or_else(default_wallets_dir);
                Ok(load_hotkey_file(&hotkey_path(&dir, name, &self.wallet_hotkey))?)
            }
            (None, None) => anyhow::bail!("no hotkey: pass --wallet-name (and --wallet-hotkey) or --key-uri"),
        }
    }
}

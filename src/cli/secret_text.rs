//! Secrets as the command line and the environment give them, kept out of `Debug` output and clap's errors.

use std::str::FromStr;

/// A secret as given on the command line or in the environment. Parsing never fails here, so clap never echoes
/// the value in an error; it is validated by whoever turns it into a typed secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(String);

impl SecretText {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for SecretText {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SecretText(s.to_string()))
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText([redacted])")
    }
}

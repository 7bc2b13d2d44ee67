//! What is wrong with the server's flags and `ZIPCOORD_*` variables, each message naming the variable to fix
//! (and never echoing a secret).

use crate::domain::epoch::nonce::SecretError;
use crate::domain::hotkey::MalformedHotkey;
use crate::s3::BadEndpoint;

#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    #[error("invalid ZIPCOORD_SERVICE_HOTKEY: {0}")]
    ServiceHotkey(MalformedHotkey),
    #[error("invalid ZIPCOORD_SECRET (--secret): {0}")]
    Secret(SecretError),
    #[error("invalid ZIPCOORD_BEACON (--beacon): {0}")]
    Beacon(String),
    /// `ZIPCOORD_METAGRAPH` as given does not name a source (the message says how to write one).
    #[error("{0}")]
    Metagraph(String),
    #[error(
        "no metagraph source: set ZIPCOORD_METAGRAPH (or --metagraph) to 'subtensor' (the public finney \
         entrypoint), 'subtensor:URL[,URL...]', or 'file:PATH' with a JSON list of {{uid, hotkey, coldkey, \
         validator_permit, stake}}; or run `zipcoord serve --dev` for a local network with the well-known dev keys"
    )]
    NoMetagraph,
    #[error(
        "ZIPCOORD_METAGRAPH_MAX_AGE_SECONDS ({max_age}) must be at least ZIPCOORD_METAGRAPH_REFRESH_SECONDS \
         ({refresh}), or every snapshot would go stale before the next refresh"
    )]
    MetagraphAge { max_age: u64, refresh: u64 },
    #[error(transparent)]
    S3Endpoint(#[from] BadEndpoint),
    #[error("ZIPCOORD_S3_MIN_OBJECT_BYTES is above ZIPCOORD_S3_MAX_OBJECT_BYTES")]
    S3ObjectSizes,
    #[error(
        "ZIPCOORD_DATABASE_PASSWORD (--database-password) is for a postgres:// ZIPCOORD_DATABASE_URL without a \
         password of its own; {0}"
    )]
    DatabasePassword(&'static str),
}

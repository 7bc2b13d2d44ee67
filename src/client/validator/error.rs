//! What stops the validator from judging an epoch, and whether it is the coordinator's outage (later epochs would
//! fail alike) or one epoch's trouble.

use crate::client::bucket::BucketError;
use crate::client::epochs::EpochsError;
use crate::client::state::StateError;
use crate::client::ClientError;

#[derive(Debug, thiserror::Error)]
pub enum ValidatorError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Bucket(#[from] BucketError),
    #[error("metagraph: {0}")]
    Metagraph(String),
    #[error("the epoch's assignment is not usable: {0}")]
    Assignment(String),
    #[error(transparent)]
    Epochs(#[from] EpochsError),
    /// What this validator keeps (the credibility it built) cannot be read now; judging waits rather than start
    /// it afresh.
    #[error("cannot read this validator's state: {0}")]
    State(#[from] StateError),
}

impl ValidatorError {
    /// The server has no such epoch (it started before the server kept history, or has not started).
    pub fn is_unknown_epoch(&self) -> bool {
        matches!(
            self,
            ValidatorError::Client(ClientError::Api { status: 404, .. })
                | ValidatorError::Epochs(EpochsError::Refused(ClientError::Api { status: 404, .. }))
        )
    }

    /// Whether the coordinator or the store could not be reached: later epochs would fail alike.
    pub fn is_outage(&self) -> bool {
        match self {
            ValidatorError::Client(error) => error.is_outage(),
            ValidatorError::Epochs(EpochsError::Unavailable { .. }) => true,
            ValidatorError::Bucket(BucketError::Transport(_)) => true,
            _ => false,
        }
    }
}

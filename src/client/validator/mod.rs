//! The reference validator: its loop ([`run`]), the spot checks at a listing's source ([`verifier`]), what it
//! does differently in a `groups` epoch ([`group_judging`]), the [`credibility`] it keeps per miner, and the
//! book of epochs it judged (`judged`), its weights on chain ([`on_chain`]), and what stops it judging an epoch
//! ([`ValidatorError`]).

pub mod case;
pub mod credibility;
mod error;
pub mod group_judging;
mod judged;
pub mod judging;
pub mod on_chain;
mod run;
pub mod verifier;

pub use error::ValidatorError;
pub use run::{ChainWeights, EpochJudgement, MinerResult, Validator, ValidatorSettings};

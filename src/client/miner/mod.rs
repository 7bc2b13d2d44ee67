//! The reference miner: its loop ([`run`]), where its listings come from ([`scraper`]), what it keeps while the
//! coordinator is down ([`outbox`]), and its work [`history`] with what that history says
//! ([`history_summary`]).

pub mod history;
pub mod history_summary;
pub mod outbox;
mod run;
pub mod scraper;

pub use run::{EpochWork, Miner, MinerError, DEFAULT_KEPT_LISTING_EPOCHS};

//! What an epoch is and how it is formed, as anyone can recompute it: the [`clock`] and epoch ids, the
//! [`zipcode`] universe's records, the published [`inputs`], the [`selection`] (shared rules) and its integer
//! algorithm [`selection_v2`] over [`draw`]s, the [`beacon`] rounds, the server secret's [`nonce`], the
//! [`proof`] and its [`recompute`]ation, the miner [`groups`] and their [`batches`], the resulting
//! [`assignment`], the progress miners report on it ([`status`]), and the [`calibration`] of expected listings
//! from what honest miners delivered.
//!
//! Names only the shared leaves ([`crate::domain::hotkey`], [`crate::domain::instant`]).

pub mod assignment;
pub mod batches;
pub mod beacon;
pub mod calibration;
pub mod clock;
pub mod draw;
pub mod groups;
pub mod inputs;
pub mod nonce;
pub mod proof;
pub mod recompute;
pub mod selection;
pub mod selection_v2;
pub mod status;
pub mod zipcode;

pub use clock::{EpochClock, EpochError, EpochId};

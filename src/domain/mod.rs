//! The pure core: epochs, zipcodes, selection, seeds and nonces, signature checks, the metagraph's roles, the
//! listings miners upload, and how validators judge them and split the reward.
//!
//! Nothing here does I/O or reads a clock; time and randomness come in as arguments, so every rule is unit-
//! and property-tested in isolation and the edges (`storage`, `http`, `chain`) only translate.

pub mod assignment;
pub mod auth;
pub mod batches;
pub mod beacon;
pub mod consensus;
pub mod draw;
pub mod endpoint;
pub mod epistula;
pub mod epoch;
pub mod grant;
pub mod group_consensus;
pub mod groups;
pub mod inputs;
pub mod instant;
pub mod keys;
pub mod layout;
pub mod listing;
pub mod metagraph;
pub mod nonce;
pub mod proof;
pub mod recompute;
pub mod scoring;
pub mod selection;
pub mod selection_v2;
pub mod status;
pub mod usmap;
pub mod validation;
pub mod zipcode;

//! The pure core: epochs, zipcodes, selection, seeds and nonces, signature checks, the metagraph's roles, and
//! the validators' reward split.
//!
//! Nothing here does I/O or reads a clock; time and randomness come in as arguments, so every rule is unit-
//! and property-tested in isolation and the edges (`storage`, `http`, `chain`) only translate.

pub mod assignment;
pub mod auth;
pub mod epoch;
pub mod grant;
pub mod keys;
pub mod metagraph;
pub mod nonce;
pub mod scoring;
pub mod selection;
pub mod status;
pub mod zipcode;

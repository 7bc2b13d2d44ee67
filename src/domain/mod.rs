//! The pure core, in three neighbourhoods and a few shared leaves:
//!
//! - [`epoch`]: what an epoch is and how it is formed: the clock, zipcodes, the published inputs, selection and
//!   its draws, beacon rounds, seeds and nonces, the proof and its recomputation, groups and their batches, the
//!   assignment, the progress miners report.
//! - [`access`]: who may do what: keys and signatures, Epistula, the endpoint table, the metagraph's roles, S3
//!   grants and the bucket layout they cover.
//! - [`judging`]: what validators make of the uploads: listings, validation, consensus, scoring and the split.
//! - Leaves every neighbourhood may name: [`hotkey`], [`instant`]; and [`usmap`], the dashboard's projection.
//!
//! Arrows point one way: `judging` → `access` → `epoch` → the leaves (checked by `tests/api/layers.rs`).
//! Nothing here does I/O or reads a clock; time and randomness come in as arguments, so every rule is unit-
//! and property-tested in isolation and the edges (`storage`, `http`, `chain`) only translate.

pub mod access;
pub mod epoch;
pub mod hotkey;
pub mod instant;
pub mod judging;
pub mod usmap;

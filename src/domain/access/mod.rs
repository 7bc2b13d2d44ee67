//! Who may do what: sr25519 [`keys`], hotkey signatures, timestamp windows and roles ([`auth`]), the Epistula
//! headers ([`epistula`]), the signed [`endpoint`] table, the [`metagraph`] snapshot and the roles it grants,
//! the S3 [`grant`]s and the bucket [`layout`] they cover.
//!
//! Names the shared leaves and [`crate::domain::epoch`] (a folder names its epoch and zipcode; the metagraph
//! yields an epoch's roster), never [`crate::domain::judging`].

pub mod auth;
pub mod endpoint;
pub mod epistula;
pub mod grant;
pub mod keys;
pub mod layout;
pub mod metagraph;

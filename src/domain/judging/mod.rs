//! What validators make of an epoch's uploads: the [`listing`]s and their files, the [`validation`] of each
//! miner's work, what honest miners delivered per zipcode ([`deliveries`]), [`consensus`] over one listing's reports and [`group_consensus`] over a group's, copying told
//! from coincidence ([`following`]), and the
//! [`scoring`] that turns verdicts into the reward split, and the [`weights`] vector the chain receives (the
//! SDK's normalization, the owner's burn).
//!
//! The top of the domain: may name [`crate::domain::access`], [`crate::domain::epoch`] and the leaves.

pub mod consensus;
pub mod deliveries;
pub mod following;
pub mod group_consensus;
pub mod listing;
pub mod scoring;
pub mod validation;
pub mod weights;

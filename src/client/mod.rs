//! The client side: the signed HTTP client for zipcoord ([`http`]) and the reference neurons built on it.
//!
//! - [`miner`]: the miner's loop, its scrapers, the outbox it keeps through an outage, its history and summary.
//! - [`validator`]: the validator's loop, its spot-check verifiers, group judging, credibility, the judged book.
//! - [`simulation`]: the judging simulator, driving the validator's judging stages over simulated epochs.
//! - What both use: [`wallet`] (hotkeys from btcli files or secret URIs), [`bucket`] (uploads, listings and
//!   downloads through the server's grants), [`state`] (the state directory), [`trust`] (the API as the one
//!   trusted source, the pinned service address), [`epochs`] (an assignment from the API, computed, or
//!   relayed), [`relay`] (a validator serving what it holds), [`liars`] (the dishonest miners local networks
//!   and the simulator play), [`epoch_check`]
//!   (recomputing a published epoch), [`synthetic`] (the market local networks and tests scrape and verify
//!   against), and `command` (operators' plug-ins run under limits).
//!
//! The clients never name the server's `app`, `http` or `boot` (checked by `tests/api/layers.rs`).

pub mod bucket;
mod command;
pub mod epoch_check;
pub mod epochs;
pub mod http;
pub mod liars;
pub mod miner;
pub mod relay;
pub mod simulation;
pub mod state;
pub mod synthetic;
pub mod trust;
pub mod validator;
pub mod wallet;

pub use http::{
    sign, signed_query, status_request, unix_now, unix_now_ms, ClientError, ClientResult, RetryPolicy, ZipcoordClient,
};

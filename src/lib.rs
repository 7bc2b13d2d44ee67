//! zipcoord: the coordination service of a Bittensor real-estate scraping subnet.
//!
//! Every epoch it picks a random set of US zipcodes whose expected listings add up to a target, serves that
//! assignment with an epoch nonce to registered miners, takes their progress reports, hands out scoped S3
//! access, and serves past epochs to validators. The reference miner and validator ship in the same crate.
//!
//! The layers, top to bottom; a module names only modules of its own layer or below (checked by
//! `tests/api/layers.rs`):
//!
//! ```text
//!  Face     cli/ (commands, flags, export), telemetry, main.rs
//!  Boot     boot (one server from its Settings), localnet/ (a whole subnet on one machine)
//!  Http     http/: routers per resource, the Signed extractor, rate limits, one ApiError, OpenAPI
//!  Tasks    tasks/: every background loop, started from one place
//!  App      app/: state, caches and use cases (epochs, status, access, grants, summary), the clock
//!  Config   settings: one typed Settings, every default once
//!  Clients  client/: the signed HTTP client (http), miner/ and validator/ beside what both use (never app,
//!           http or boot)
//!  Edges    storage/ (SQLite, PostgreSQL), chain/ (metagraph sources, weights on chain), beacon/ (drand
//!           pulses), s3/ (SigV4), universe/, net/ (listening sockets: connection loop and caps), metrics,
//!           shutdown
//!  Wire     api: the contract's serde types, and domain values in their wire form
//!  Domain   domain/: pure rules, no I/O, no clock: judging/ → access/ → epoch/ → leaves (hotkey, instant,
//!           usmap)
//! ```

pub mod api;
pub mod app;
pub mod beacon;
pub mod boot;
pub mod chain;
pub mod cli;
pub mod client;
pub mod domain;
mod http;
pub mod localnet;
mod metrics;
pub mod net;
pub mod s3;
pub mod settings;
mod shutdown;
pub mod storage;
pub mod tasks;
mod telemetry;
pub mod universe;

pub use http::openapi::openapi;
pub use telemetry::{fatal, init as init_logging, requested_format as requested_log_format};

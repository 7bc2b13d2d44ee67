//! zipcoord: the coordination service of a Bittensor real-estate scraping subnet.
//!
//! Every epoch it picks a random set of US zipcodes whose expected listings add up to a target, serves that
//! assignment with an epoch nonce to registered miners, takes their progress reports, and serves past epochs to
//! validators. Dependencies point inward, towards `domain`:
//!
//! - [`domain`]: pure rules (epochs, zipcodes, selection, nonce, signatures, roles); no I/O, no clock.
//! - [`api`]: the wire types of the contract, shared by the server and the clients.
//! - [`config`]: typed settings from flags and environment; secrets in a redacting type.
//! - [`storage`]: the database (SQLite or PostgreSQL through sqlx's `any` driver) and its migrations.
//! - [`import`]: parsing operators' zipcode CSV files into records; [`export`]: epoch history as JSON Lines.
//! - [`chain`]: where the metagraph comes from (the subtensor chain over JSON-RPC, a JSON file, the dev accounts).
//! - [`s3`]: SigV4 presigning and the scoped grants handed to miners and validators.
//! - [`service`]: the application state and use cases (epoch creation, status reports) over storage and chain.
//! - [`server`]: wiring settings, storage, state, tasks and HTTP into a running service.
//! - [`http`]: routers per resource (documented in OpenAPI through utoipa-axum), authentication, rate limits,
//!   connection limits, and the contract's error body.
//! - [`metrics`]: the Prometheus metrics behind `/metrics`.
//! - [`tasks`]: background work (epoch pre-creation, metagraph refresh), each a `tick` plus a loop.
//! - [`client`]: a signed HTTP client over the same wire types, and the reference miner and validator on it.
//! - [`localnet`]: a whole subnet on one machine (server, loopback S3 store, miners, validators).
//! - [`universe`]: the built-in zipcode list.
//! - [`cli`], [`telemetry`]: the binary's commands and logging.

pub mod api;
pub mod chain;
pub mod cli;
pub mod client;
pub mod config;
pub mod domain;
pub mod export;
pub mod http;
pub mod import;
pub mod localnet;
pub mod metrics;
pub mod s3;
pub mod server;
pub mod service;
pub mod storage;
pub mod tasks;
pub mod telemetry;
pub mod universe;

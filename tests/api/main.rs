//! Integration tests: the real server over real HTTP on 127.0.0.1, a real SQLite file, real sr25519 keys.

mod assignments;
mod auth;
mod beacon;
mod cli;
mod client;
mod dev_store;
mod epistula;
mod fake_subtensor;
mod grant_log;
mod helpers;
mod history;
mod http_limits;
mod layers;
mod lifecycle;
mod limits;
mod metrics;
mod miner_history;
mod neurons;
mod openapi;
mod outage;
mod process;
mod replicas;
mod results;
mod s3;
mod status;
mod subtensor;

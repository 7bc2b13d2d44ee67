//! drand relays over HTTP: `GET {relay}/{chain hash}/public/{round}` answers `{"round", "signature", ...}`.
//! Relays are asked in order, each within the timeout; an answer that does not verify counts as that relay's
//! failure (a relay can withhold or lie, and neither reaches a seed).

use std::time::Duration;

use super::{first_verified, PulseFuture, PulseRefusal, PulseSource};
use crate::domain::epoch::beacon::{BeaconChain, Pulse, Round};

pub struct DrandRelays {
    chain: BeaconChain,
    relays: Vec<String>,
    http: reqwest::Client,
}

#[derive(serde::Deserialize)]
struct RelayPulse {
    round: Round,
    signature: String,
}

impl DrandRelays {
    pub fn new(chain: BeaconChain, relays: Vec<String>, timeout: Duration) -> DrandRelays {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("zipcoord/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds");
        DrandRelays { chain, relays, http }
    }

    async fn ask(&self, relay: &str, round: Round) -> Result<Pulse, PulseRefusal> {
        let url = format!("{relay}/{}/public/{round}", hex::encode(self.chain.hash));
        let response = self.http.get(&url).send().await.map_err(|e| PulseRefusal::Transport(without_url(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(PulseRefusal::Status(status.as_u16()));
        }
        let body: RelayPulse = response.json().await.map_err(|e| PulseRefusal::Unreadable(without_url(&e)))?;
        if body.round != round {
            return Err(PulseRefusal::WrongRound { asked: round, answered: body.round });
        }
        Ok(Pulse::from_hex(round, &body.signature)?)
    }
}

/// reqwest's messages repeat the URL; the relay is named once by [`first_verified`].
fn without_url(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_string();
    }
    if error.is_connect() {
        return "cannot connect".to_string();
    }
    error.to_string()
}

impl PulseSource for DrandRelays {
    fn chain(&self) -> &BeaconChain {
        &self.chain
    }

    fn describe(&self) -> String {
        format!("drand {} ({} relays)", self.chain.name, self.relays.len())
    }

    fn verified_pulse(&self, round: Round) -> PulseFuture<'_> {
        Box::pin(first_verified(
            &self.chain,
            round,
            &self.relays,
            |_, relay| relay.clone(),
            move |relay| self.ask(relay, round),
        ))
    }
}

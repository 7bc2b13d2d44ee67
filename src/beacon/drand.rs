//! drand relays over HTTP: `GET {relay}/{chain hash}/public/{round}` answers `{"round", "signature", ...}`.
//! Relays are asked in order, each within the timeout; an answer that does not verify counts as that relay's
//! failure (a relay can withhold or lie, and neither reaches a seed).

use std::time::Duration;

use super::{first_verified, PulseFuture, PulseRefusal, PulseSource};
use crate::chain::subtensor::rpc::origin;
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
        let response = self.http.get(&url).send().await.map_err(|e| PulseRefusal::Transport(without_url(e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(PulseRefusal::Status(status.as_u16()));
        }
        let body: RelayPulse = response.json().await.map_err(|e| PulseRefusal::Unreadable(without_url(e)))?;
        if body.round != round {
            return Err(PulseRefusal::WrongRound { asked: round, answered: body.round });
        }
        Ok(Pulse::from_hex(round, &body.signature)?)
    }
}

/// How a relay is named wherever it shows (health, the dashboard, a fallback epoch's public proof, logs):
/// scheme, host and port, never the credentials, path or query its URL may carry.
pub(super) fn relay_name(relay: &str) -> String {
    reqwest::Url::parse(relay).map_or_else(|_| "a relay whose URL does not parse".to_string(), |url| origin(&url))
}

/// reqwest's messages repeat the URL; the relay is named once by [`first_verified`].
fn without_url(error: reqwest::Error) -> String {
    if error.is_timeout() {
        return "timed out".to_string();
    }
    if error.is_connect() {
        return "cannot connect".to_string();
    }
    // reqwest names the URL in every other message; the relay is named by the caller, without credentials.
    error.without_url().to_string()
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
            |_, relay| relay_name(relay),
            move |relay| self.ask(relay, round),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beacon::BeaconFailure;
    use crate::domain::epoch::beacon::QUICKNET;

    #[tokio::test]
    async fn a_relay_is_named_without_its_credentials_path_or_query() {
        let url = "http://operator:s3cr3t@127.0.0.1:9/drand?api_key=k3y";
        assert_eq!(relay_name(url), "http://127.0.0.1:9");
        assert_eq!(relay_name("https://api.drand.sh"), "https://api.drand.sh");
        let relays = DrandRelays::new(QUICKNET, vec![url.to_string()], Duration::from_secs(2));
        let Err(BeaconFailure::Unavailable { reasons, .. }) = relays.verified_pulse(1_000).await else {
            panic!("nothing listens on port 9");
        };
        assert!(reasons.starts_with("http://127.0.0.1:9: "), "{reasons}");
        assert!(!reasons.contains("s3cr3t") && !reasons.contains("k3y") && !reasons.contains("operator"), "{reasons}");

        // A relay that answers something else: reqwest's own message would name the whole URL.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(|| async { "not a pulse" });
        tokio::spawn(async move { axum::serve(listener, app).await });
        let url = format!("http://operator:s3cr3t@{addr}/drand?api_key=k3y");
        let relays = DrandRelays::new(QUICKNET, vec![url], Duration::from_secs(2));
        let Err(BeaconFailure::Unavailable { reasons, .. }) = relays.verified_pulse(1_000).await else {
            panic!("the answer is not a pulse");
        };
        assert!(reasons.starts_with(&format!("http://{addr}: unreadable answer")), "{reasons}");
        assert!(!reasons.contains("s3cr3t") && !reasons.contains("k3y") && !reasons.contains("operator"), "{reasons}");
    }
}

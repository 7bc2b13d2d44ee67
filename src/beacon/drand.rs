//! drand relays over HTTP: `GET {relay}/{chain hash}/public/{round}` answers `{"round", "signature", ...}`.
//! Relays are asked in order, each within the timeout; an answer that does not verify counts as that relay's
//! failure (a relay can withhold or lie, and neither reaches a seed). An answer is read up to a few kilobytes
//! (a pulse is under one), and a redirect is followed only on the relay's own host.

use std::time::Duration;

use super::{first_verified, PulseFuture, PulseRefusal, PulseSource};
use crate::chain::subtensor::rpc::origin;
use crate::domain::epoch::beacon::{BeaconChain, Pulse, Round};

pub struct DrandRelays {
    chain: BeaconChain,
    relays: Vec<String>,
    http: reqwest::Client,
}

/// The most of an answer read: a pulse is about 300 bytes, relays add a few fields.
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// Redirects followed at most, each on the relay's own scheme, host and port.
const MAX_REDIRECTS: usize = 3;

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
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let first = &attempt.previous()[0];
                if attempt.previous().len() > MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else if origin(attempt.url()) != origin(first) {
                    attempt.error("redirected to another host")
                } else {
                    attempt.follow()
                }
            }))
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
        let bytes = read_capped(response, MAX_ANSWER_BYTES).await?;
        let body: RelayPulse = serde_json::from_slice(&bytes).map_err(|e| PulseRefusal::Unreadable(e.to_string()))?;
        if body.round != round {
            return Err(PulseRefusal::WrongRound { asked: round, answered: body.round });
        }
        Ok(Pulse::from_hex(round, &body.signature)?)
    }
}

/// The answer's body, refused as soon as it passes `max` bytes (announced or streamed): a relay cannot make the
/// server hold more than that.
async fn read_capped(mut response: reqwest::Response, max: usize) -> Result<Vec<u8>, PulseRefusal> {
    let too_large = || PulseRefusal::Unreadable(format!("an answer larger than {} KiB", max / 1024));
    if response.content_length().is_some_and(|length| length > max as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| PulseRefusal::Transport(without_url(e)))? {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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
    if error.is_redirect() {
        // The policy's own words: another host, or too many.
        let mut source = std::error::Error::source(&error);
        while let Some(inner) = source {
            if inner.source().is_none() {
                return format!("redirect refused: {inner}");
            }
            source = inner.source();
        }
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

    /// Serves `app` on a loopback address; returns its base URL.
    async fn serve(ip: [u8; 4], app: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind((std::net::IpAddr::from(ip), 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    async fn refusal(relay: String) -> String {
        let relays = DrandRelays::new(QUICKNET, vec![relay], Duration::from_secs(5));
        match relays.verified_pulse(1_000).await {
            Err(BeaconFailure::Unavailable { reasons, .. }) => reasons,
            other => panic!("refused: {:?}", other.map(|(pulse, _)| pulse.round)),
        }
    }

    #[tokio::test]
    async fn an_endless_answer_is_cut_off_at_a_few_kilobytes() {
        use axum::body::{Body, Bytes};
        // 300 MB, and on: the server once read it whole (71 MB to 882 MB resident).
        let endless = || async {
            let chunk = Bytes::from(vec![b' '; 64 * 1024]);
            let stream = futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
            Body::from_stream(stream)
        };
        let relay = serve([127, 0, 0, 1], axum::Router::new().fallback(endless)).await;
        let reasons = refusal(relay).await;
        assert!(reasons.ends_with("unreadable answer (an answer larger than 16 KiB)"), "{reasons}");
        // The same when the size is announced.
        let announced = || async { vec![b' '; 1 << 20] };
        let reasons = refusal(serve([127, 0, 0, 1], axum::Router::new().fallback(announced)).await).await;
        assert!(reasons.ends_with("(an answer larger than 16 KiB)"), "{reasons}");
    }

    #[tokio::test]
    async fn a_redirect_to_another_host_is_not_followed() {
        use axum::response::Redirect;
        let elsewhere = serve([127, 0, 0, 2], axum::Router::new().fallback(|| async { "not a pulse" })).await;
        let to_elsewhere = elsewhere.clone();
        let redirecting = axum::Router::new().fallback(move || {
            let target = format!("{to_elsewhere}/other");
            async move { Redirect::temporary(&target) }
        });
        let relay = serve([127, 0, 0, 1], redirecting).await;
        let reasons = refusal(relay.clone()).await;
        assert!(reasons.starts_with(&format!("{relay}: redirect refused: redirected to another host")), "{reasons}");
        assert!(!reasons.contains(&elsewhere), "{reasons}");
        // On its own host a relay may move the path.
        let moved = axum::Router::new()
            .route("/new/{*rest}", axum::routing::get(|| async { "not a pulse" }))
            .fallback(|uri: axum::http::Uri| async move { Redirect::temporary(&format!("/new{}", uri.path())) });
        let relay = serve([127, 0, 0, 1], moved).await;
        let reasons = refusal(relay.clone()).await;
        assert!(reasons.starts_with(&format!("{relay}: unreadable answer")), "followed on its own host: {reasons}");
    }
}

//! Where beacon pulses come from: drand relays over HTTP, the Bittensor chain's drand pallet, or the dev beacon
//! signing locally, behind one trait.
//! Every source verifies each pulse against its chain's public key before handing out randomness (the
//! [`Randomness`] type can only be made by verification), so an unverifiable pulse is an error, never a seed.
//!
//! Chosen by `ZIPCOORD_BEACON`: `dev`, `drand[:URL,URL...]` (quicknet, from the relays in order), or
//! `subtensor[:URL,URL...]` (quicknet as the chain stores it, through the metagraph's endpoints by default).

mod background;
mod drand;
pub mod subtensor;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::chain::subtensor::rpc::RpcEndpoint;
use crate::chain::subtensor::FINNEY_ENDPOINT;
use crate::chain::MetagraphSpec;
use crate::domain::epoch::beacon::{BeaconChain, BeaconError, DevBeacon, Pulse, Randomness, Round, QUICKNET};

pub use background::BackgroundPulses;
pub use drand::DrandRelays;

/// drand's public relays for quicknet, tried in this order.
pub const DEFAULT_DRAND_RELAYS: [&str; 4] =
    ["https://api.drand.sh", "https://api2.drand.sh", "https://api3.drand.sh", "https://drand.cloudflare.com"];

/// Which source, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BeaconSpec {
    /// The dev beacon's key signs every round locally: no network, no unpredictability.
    Dev,
    /// A drand chain's pulses from relays (`/{chain hash}/public/{round}`), tried in order.
    Drand { chain: BeaconChain, relays: Vec<String> },
    /// The pulses subtensor's drand pallet stores, from these JSON-RPC endpoints in order.
    Subtensor { chain: BeaconChain, endpoints: Vec<RpcEndpoint> },
}

impl BeaconSpec {
    /// quicknet from drand's public relays.
    pub fn quicknet() -> BeaconSpec {
        BeaconSpec::Drand { chain: QUICKNET, relays: DEFAULT_DRAND_RELAYS.iter().map(|r| r.to_string()).collect() }
    }

    /// Parses `dev`, `drand`, `drand:URL[,URL...]`, `subtensor` (the metagraph's endpoints when it is read
    /// from the chain, else the public finney entrypoint) or `subtensor:URL[,URL...]`.
    pub fn parse(text: &str, metagraph: &MetagraphSpec) -> Result<BeaconSpec, String> {
        let text = text.trim();
        if text == "dev" {
            return Ok(BeaconSpec::Dev);
        }
        if text == "drand" {
            return Ok(BeaconSpec::quicknet());
        }
        if text == "subtensor" {
            let endpoints = match metagraph {
                MetagraphSpec::Subtensor(endpoints) => endpoints.clone(),
                _ => vec![FINNEY_ENDPOINT.parse()?],
            };
            return Ok(BeaconSpec::Subtensor { chain: QUICKNET, endpoints });
        }
        if let Some(list) = text.strip_prefix("subtensor:") {
            let endpoints = list.split(',').map(str::parse).collect::<Result<Vec<RpcEndpoint>, _>>()?;
            return Ok(BeaconSpec::Subtensor { chain: QUICKNET, endpoints });
        }
        let Some(list) = text.strip_prefix("drand:") else {
            // Not echoed: a subtensor URL may carry an API key.
            return Err("unknown beacon: expected dev, drand, drand:URL[,URL...], subtensor or \
                        subtensor:URL[,URL...]"
                .to_string());
        };
        let relays: Vec<String> =
            list.split(',').map(|r| r.trim().trim_end_matches('/').to_string()).filter(|r| !r.is_empty()).collect();
        if relays.is_empty() {
            return Err("drand: names no relay".to_string());
        }
        // Named, not echoed: a relay's URL may carry credentials.
        if let Some(bad) = relays
            .iter()
            .find(|r| !(r.starts_with("http://") || r.starts_with("https://")) || reqwest::Url::parse(r).is_err())
        {
            return Err(format!("drand relay {} is not an http:// or https:// URL", drand::relay_name(bad)));
        }
        Ok(BeaconSpec::Drand { chain: QUICKNET, relays })
    }
}

/// How the server gets each epoch's pulse.
#[derive(Debug, Clone)]
pub struct BeaconSettings {
    pub spec: BeaconSpec,
    /// How long past an epoch's round the server waits for its pulse before seeding from the secret.
    pub grace: Duration,
    /// Per relay request, before the next relay is tried.
    pub timeout: Duration,
}

impl BeaconSettings {
    /// `spec` with the default grace period and relay timeout.
    pub fn new(spec: BeaconSpec) -> BeaconSettings {
        BeaconSettings {
            spec,
            grace: Duration::from_secs(DEFAULT_GRACE_SECONDS),
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECONDS),
        }
    }
}

pub const DEFAULT_GRACE_SECONDS: u64 = 60;
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 3;

/// Why no verified pulse could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BeaconFailure {
    /// Every source was asked; the message says what each answered.
    #[error("no verified pulse for round {round}: {reasons}")]
    Unavailable { round: Round, reasons: String },
    #[error(transparent)]
    Invalid(#[from] BeaconError),
}

/// Why one source did not hand out a verified pulse of a round (the source is named by the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PulseRefusal {
    /// The request did not get an answer (timed out, refused, reset).
    #[error("{0}")]
    Transport(String),
    #[error("HTTP {0}")]
    Status(u16),
    #[error("unreadable answer ({0})")]
    Unreadable(String),
    #[error("answered round {answered} for round {asked}")]
    WrongRound { asked: Round, answered: Round },
    /// The chain holds no pulse of the round.
    #[error("the chain holds no pulse of this round (not bridged yet, or pruned)")]
    NotStored,
    /// The answer is not a pulse of the round as the source stores it.
    #[error("{0}")]
    Malformed(String),
    /// A pulse that does not verify under the chain's key.
    #[error("{0}")]
    Unverified(#[from] BeaconError),
}

type PulseFuture<'a> = Pin<Box<dyn Future<Output = Result<(Pulse, Randomness), BeaconFailure>> + Send + 'a>>;

/// A source of verified pulses of one chain.
pub trait PulseSource: Send + Sync {
    /// The chain whose pulses this source hands out.
    fn chain(&self) -> &BeaconChain;
    /// For logs and health: `dev`, `drand (4 relays)`.
    fn describe(&self) -> String;
    /// The pulse of `round`, verified against [`PulseSource::chain`].
    fn verified_pulse(&self, round: Round) -> PulseFuture<'_>;
}

/// Asks `sources` in order for `round`'s pulse and answers the first that verifies against `chain`; otherwise
/// what each answered, named by `name`. A source that withholds or lies costs a request, never a seed.
async fn first_verified<'a, T, Fut>(
    chain: &BeaconChain,
    round: Round,
    sources: &'a [T],
    name: impl Fn(usize, &T) -> String,
    ask: impl Fn(&'a T) -> Fut,
) -> Result<(Pulse, Randomness), BeaconFailure>
where
    Fut: Future<Output = Result<Pulse, PulseRefusal>>,
{
    let mut reasons = Vec::new();
    for (n, source) in sources.iter().enumerate() {
        let verified = match ask(source).await {
            Ok(pulse) => chain.verify(&pulse).map(|randomness| (pulse, randomness)).map_err(PulseRefusal::from),
            Err(reason) => Err(reason),
        };
        match verified {
            Ok(found) => return Ok(found),
            Err(reason) => reasons.push(format!("{}: {reason}", name(n, source))),
        }
    }
    Err(BeaconFailure::Unavailable { round, reasons: reasons.join("; ") })
}

/// The source `spec` names.
pub fn open(settings: &BeaconSettings) -> Box<dyn PulseSource> {
    match &settings.spec {
        BeaconSpec::Dev => Box::new(DevSource(DevBeacon::new())),
        BeaconSpec::Drand { chain, relays } => {
            Box::new(DrandRelays::new(chain.clone(), relays.clone(), settings.timeout))
        }
        BeaconSpec::Subtensor { chain, endpoints } => {
            Box::new(subtensor::SubtensorPulses::new(chain.clone(), endpoints.clone(), settings.timeout))
        }
    }
}

struct DevSource(DevBeacon);

impl PulseSource for DevSource {
    fn chain(&self) -> &BeaconChain {
        self.0.chain()
    }

    fn describe(&self) -> String {
        "dev".to_string()
    }

    fn verified_pulse(&self, round: Round) -> PulseFuture<'_> {
        Box::pin(async move {
            let pulse = self.0.pulse(round);
            let randomness = self.0.chain().verify(&pulse)?;
            Ok((pulse, randomness))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let parse = |text: &str| BeaconSpec::parse(text, &MetagraphSpec::Dev);
        assert_eq!(parse("dev"), Ok(BeaconSpec::Dev));
        assert_eq!(parse("drand"), Ok(BeaconSpec::quicknet()));
        assert_eq!(
            parse("drand:http://127.0.0.1:9/, https://relay.example"),
            Ok(BeaconSpec::Drand {
                chain: QUICKNET,
                relays: vec!["http://127.0.0.1:9".into(), "https://relay.example".into()]
            })
        );
        assert!(parse("drand:").unwrap_err().contains("no relay"));
        assert!(parse("drand:ftp://x").unwrap_err().contains("not an http"));
        let hidden = parse("drand:ftp://user:s3cr3t@host/x").unwrap_err();
        assert!(hidden.contains("ftp://host") && !hidden.contains("s3cr3t"), "{hidden}");
        assert!(parse("moon").unwrap_err().contains("expected dev, drand"));
        let chain_endpoints: Vec<RpcEndpoint> = vec!["http://127.0.0.1:9944".parse().unwrap()];
        let read_from_chain = MetagraphSpec::Subtensor(chain_endpoints.clone());
        assert_eq!(
            BeaconSpec::parse("subtensor", &read_from_chain),
            Ok(BeaconSpec::Subtensor { chain: QUICKNET, endpoints: chain_endpoints }),
            "the metagraph's endpoints"
        );
        assert!(matches!(parse("subtensor"), Ok(BeaconSpec::Subtensor { ref endpoints, .. }) if endpoints.len() == 1));
        assert!(
            matches!(parse("subtensor:http://a:1,http://b:2"), Ok(BeaconSpec::Subtensor { ref endpoints, .. }) if endpoints.len() == 2)
        );
    }

    #[tokio::test]
    async fn the_dev_source_hands_out_verified_pulses() {
        let source = open(&BeaconSettings::new(BeaconSpec::Dev));
        let (pulse, randomness) = source.verified_pulse(42).await.unwrap();
        assert_eq!(pulse.round, 42);
        assert_eq!(source.chain().verify(&pulse).unwrap(), randomness);
    }
}

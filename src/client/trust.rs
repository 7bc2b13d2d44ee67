//! Whom a reference client trusts and signs for. The coordinator's API at `--url` is the one source whose
//! answers are taken as they come, and the one a client sends signed requests to: a validator's relay answering
//! there is refused (its answers are recomputed, as `--relay` does, and it is never sent a signature). The
//! Epistula service address requests are signed for is pinned: given (`--service-address`), else learned from
//! the API the first time it advertises one and kept in the state directory. It is never taken afresh from
//! whoever answers `/stats`: a proxy that dropped the advert would otherwise turn the client back to the legacy
//! signatures, which whoever sees them can replay at the coordinator within their timestamp window.

use serde::{Deserialize, Serialize};

use crate::client::state::StateDir;
use crate::client::{ClientError, ZipcoordClient};
use crate::domain::access::epistula;
use crate::domain::hotkey::Hotkey;

/// The state file that holds the pinned service address.
const PIN_FILE: &str = "service-address.json";
const PIN_KIND: &str = "service-address";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PinnedService {
    signed_for: String,
}

impl PinnedService {
    fn of(service: &Hotkey) -> Self {
        PinnedService { signed_for: service.to_string() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(
        "--url {url} answers as a validator's relay (of {validator}), not as the coordinator's API. A relay is \
         never sent signed requests and its answers are recomputed before use: give it with --relay, and the \
         coordinator's own URL with --url"
    )]
    RelayAsApi { url: String, validator: String },
    #[error("cannot keep the service address in the state directory: {0}")]
    State(#[from] crate::client::state::StateError),
}

/// How `client` (the API's) signs: Epistula for the pinned service address when there is one (`given`, else
/// the one kept in `state`, else the one the API advertises now, which is then kept), the legacy signatures
/// otherwise. Refuses a relay answering as the API.
pub async fn signing_api_client(
    client: ZipcoordClient,
    given: Option<Hotkey>,
    state: &StateDir,
) -> Result<ZipcoordClient, TrustError> {
    let kept = state.read::<PinnedService>(PIN_FILE, PIN_KIND).and_then(|pin| match pin.signed_for.parse() {
        Ok(service) => Some(service),
        Err(_) => {
            state.set_aside(PIN_FILE, "does not hold an SS58 address");
            None
        }
    });
    // `None` when /stats cannot be read now; else the address it advertises, if any.
    let advertised: Option<Option<String>> = match client.stats().await {
        Ok(stats) if stats.system_status == "relay" => {
            let url = client.base_url().to_string();
            return Err(TrustError::RelayAsApi { url, validator: "a validator".into() });
        }
        Ok(stats) => {
            Some(stats.epistula.filter(|advert| advert.version == epistula::VERSION).map(|advert| advert.signed_for))
        }
        Err(ClientError::NotTheApi { url, validator }) => return Err(TrustError::RelayAsApi { url, validator }),
        Err(error) => {
            tracing::warn!(%error, "cannot read the API's /stats now");
            None
        }
    };
    let advertised_address = advertised.clone().flatten();
    let pinned = match (given, kept) {
        (Some(given), kept) => {
            if kept.as_ref() != Some(&given) {
                state.write(PIN_FILE, PIN_KIND, &PinnedService::of(&given))?;
            }
            Some(given)
        }
        (None, Some(kept)) => Some(kept),
        (None, None) => match advertised_address.as_deref().map(str::parse::<Hotkey>) {
            Some(Ok(learned)) => {
                state.write(PIN_FILE, PIN_KIND, &PinnedService::of(&learned))?;
                tracing::info!(service = %learned, "pinned the service address the API advertises");
                Some(learned)
            }
            Some(Err(error)) => {
                tracing::warn!(%error, "the API advertises a service address that does not read; not pinned");
                None
            }
            None => None,
        },
    };
    let Some(pinned) = pinned else {
        tracing::info!("the API does not advertise Epistula: signing requests the legacy way");
        return Ok(client);
    };
    match advertised_address {
        Some(address) if address == pinned.as_str() => {}
        Some(address) => tracing::warn!(
            pinned = %pinned,
            advertised = %address.escape_default(),
            "the API advertises another service address than the pinned one; still signing for the pinned one \
             (give --service-address to change it)"
        ),
        None if advertised.is_some() => tracing::warn!(
            pinned = %pinned,
            "the API no longer advertises Epistula; still signing with it for the pinned service address, never \
             the legacy way (give --service-address to change it)"
        ),
        None => {}
    }
    tracing::info!(service = %pinned, "signing requests with Epistula v2");
    Ok(client.with_epistula(pinned.to_string()))
}

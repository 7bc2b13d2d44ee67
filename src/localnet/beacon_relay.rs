//! A drand-style relay of the dev beacon for a local network: `GET /{chain hash}/public/{round}` answers the
//! round's pulse once its time has come (404 before, as drand's relays do), so the server and the clients get
//! their pulses over HTTP from one place, as they would from drand's relays on a real subnet; `GET /info` and
//! `GET /{chain hash}/info` describe the chain (public key, period, genesis, hash, scheme) as drand's do, so
//! anyone can check its pulses.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio_util::sync::CancellationToken;

use crate::domain::epoch::beacon::DevBeacon;

async fn pulse(State(beacon): State<std::sync::Arc<DevBeacon>>, Path((chain, round)): Path<(String, u64)>) -> Response {
    if chain != hex::encode(beacon.chain().hash) {
        return (StatusCode::NOT_FOUND, "unknown chain").into_response();
    }
    if beacon.chain().round_time(round) > chrono::Utc::now().timestamp() {
        return (StatusCode::NOT_FOUND, "round not emitted yet").into_response();
    }
    let pulse = beacon.pulse(round);
    // Signed here, so it verifies; its randomness is served as drand's relays serve it.
    let randomness = match beacon.chain().verify(&pulse) {
        Ok(randomness) => randomness.to_hex(),
        Err(error) => return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    };
    Json(serde_json::json!({"round": round, "randomness": randomness, "signature": pulse.signature_hex()}))
        .into_response()
}

/// The chain's description, in drand's `/info` shape.
async fn info(State(beacon): State<std::sync::Arc<DevBeacon>>, chain: Option<Path<String>>) -> Response {
    let described = beacon.chain();
    if chain.is_some_and(|Path(chain)| chain != hex::encode(described.hash)) {
        return (StatusCode::NOT_FOUND, "unknown chain").into_response();
    }
    Json(serde_json::json!({
        "public_key": hex::encode(described.public_key),
        "period": described.period_seconds,
        "genesis_time": described.genesis_unix,
        "hash": hex::encode(described.hash),
        "schemeID": "bls-unchained-g1-rfc9380",
        "metadata": {"beaconID": described.name},
    }))
    .into_response()
}

fn router() -> Router {
    Router::new()
        .route("/info", get(info))
        .route("/{chain}/info", get(info))
        .route("/{chain}/public/{round}", get(pulse))
        .with_state(std::sync::Arc::new(DevBeacon::new()))
}

/// Starts the relay on a free loopback port until `cancel`; returns its base URL.
pub async fn start(cancel: CancellationToken) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let router = router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).with_graceful_shutdown(cancel.cancelled_owned()).await;
    });
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::epoch::beacon::known_chain;
    use tower::ServiceExt;

    async fn get_json(path: &str) -> (StatusCode, serde_json::Value) {
        let request = axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap();
        let response = router().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    #[tokio::test]
    async fn info_describes_the_chain_its_pulses_verify_against() {
        let (status, info) = get_json("/info").await;
        assert_eq!(status, StatusCode::OK);
        let hash = info["hash"].as_str().unwrap().to_string();
        assert_eq!(get_json(&format!("/{hash}/info")).await.1, info);
        assert_eq!(get_json("/00/info").await.0, StatusCode::NOT_FOUND);
        let chain = known_chain(&hex::decode(&hash).unwrap().try_into().unwrap()).expect("a chain zipcoord knows");
        assert_eq!(info["public_key"], hex::encode(chain.public_key));
        assert_eq!((info["period"].as_i64(), info["genesis_time"].as_i64()), (Some(3), Some(1_692_803_367)));
        assert_eq!(info["metadata"]["beaconID"], "zipcoord-dev");
        let (status, pulse) = get_json(&format!("/{hash}/public/1000")).await;
        assert_eq!(status, StatusCode::OK);
        let signature = pulse["signature"].as_str().unwrap();
        let pulse_read = crate::domain::epoch::beacon::Pulse::from_hex(1000, signature).unwrap();
        let verified = chain.verify(&pulse_read).expect("the pulse verifies against the published key");
        assert_eq!(pulse["randomness"], verified.to_hex());
    }
}

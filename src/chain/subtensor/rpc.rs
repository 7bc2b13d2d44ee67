//! A minimal JSON-RPC 2.0 client over HTTP for one subtensor node: one call per request, a timeout per call,
//! a cap on the answer's size, and errors that never carry the endpoint's full URL (it may embed an API key).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;
use serde::Deserialize;
use serde_json::{json, Value};

/// Largest answer accepted from a node. Runtime metadata is the biggest (a few MB as hex).
const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// A node's JSON-RPC address. `ws://` and `wss://` (what Bittensor configs usually hold) are served over
/// `http://` and `https://` on the same port by substrate nodes, so they are accepted and mapped.
#[derive(Clone, PartialEq, Eq)]
pub struct RpcEndpoint {
    url: Url,
}

impl FromStr for RpcEndpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut url = Url::parse(s.trim()).map_err(|e| format!("invalid subtensor endpoint: {e}"))?;
        let scheme = match url.scheme() {
            "http" | "ws" => "http",
            "https" | "wss" => "https",
            other => return Err(format!("subtensor endpoint scheme '{other}' is not http(s) or ws(s)")),
        };
        url.set_scheme(scheme).map_err(|()| "cannot use this subtensor endpoint".to_string())?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err("subtensor endpoint has no host".to_string());
        }
        Ok(RpcEndpoint { url })
    }
}

impl RpcEndpoint {
    pub fn url(&self) -> &Url {
        &self.url
    }
}

/// Scheme, host and port only: paths, queries and user info may hold credentials.
/// `url` as it may be shown (health, the dashboard, logs, errors): scheme, host and port, never the credentials,
/// path or query it may carry.
pub fn origin(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

impl fmt::Display for RpcEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&origin(&self.url))
    }
}

impl fmt::Debug for RpcEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RpcEndpoint({self})")
    }
}

/// Why one call failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("transport: {0}")]
    Transport(String),
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("answer larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("malformed answer: {0}")]
    Malformed(String),
    #[error("node error {code}: {message}")]
    Node { code: i64, message: String },
}

#[derive(Deserialize)]
struct RpcResponse {
    /// `Some(Value::Null)` when the node answered `"result": null` (storage it holds nothing under): an answer,
    /// unlike a missing `result`.
    #[serde(default, deserialize_with = "present")]
    result: Option<Value>,
    error: Option<RpcErrorBody>,
}

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

#[derive(Deserialize)]
struct RpcErrorBody {
    code: i64,
    message: String,
}

/// The HTTP client every reader of subtensor nodes shares the settings of: `timeout` to connect, zipcoord's
/// user agent.
pub fn node_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(timeout)
        .user_agent(concat!("zipcoord/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client's settings are valid")
}

/// Calls on one endpoint with a shared HTTP client.
pub struct RpcCaller<'a> {
    pub http: &'a reqwest::Client,
    pub endpoint: &'a RpcEndpoint,
    pub timeout: Duration,
}

impl RpcCaller<'_> {
    /// Calls `method` and returns its `result`.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let exchange = async {
            let mut response =
                self.http.post(self.endpoint.url().clone()).json(&body).send().await.map_err(transport)?;
            if !response.status().is_success() {
                return Err(RpcError::Status(response.status().as_u16()));
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(transport)? {
                if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(RpcError::TooLarge);
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(bytes)
        };
        let bytes =
            tokio::time::timeout(self.timeout, exchange).await.map_err(|_| RpcError::Timeout(self.timeout))??;
        let response: RpcResponse =
            serde_json::from_slice(&bytes).map_err(|e| RpcError::Malformed(format!("not a JSON-RPC answer: {e}")))?;
        match (response.result, response.error) {
            (_, Some(error)) => Err(RpcError::Node { code: error.code, message: truncate(&error.message, 200) }),
            (Some(result), None) => Ok(result),
            (None, None) => Err(RpcError::Malformed("neither result nor error".to_string())),
        }
    }

    /// Calls a runtime API at `block_hash` and returns the SCALE bytes of its answer.
    pub async fn state_call(&self, function: &str, args: &[u8], block_hash: &str) -> Result<Vec<u8>, RpcError> {
        let result = self.call("state_call", json!([function, format!("0x{}", hex::encode(args)), block_hash])).await?;
        hex_bytes(&result)
    }
}

/// A `0x`-prefixed hex string as bytes.
pub fn hex_bytes(value: &Value) -> Result<Vec<u8>, RpcError> {
    let text = value.as_str().ok_or_else(|| RpcError::Malformed("expected a hex string".to_string()))?;
    let digits = text.strip_prefix("0x").ok_or_else(|| RpcError::Malformed("hex string without 0x".to_string()))?;
    hex::decode(digits).map_err(|e| RpcError::Malformed(format!("bad hex: {e}")))
}

/// A `0x`-prefixed hex number (block numbers in headers).
pub fn hex_number(value: &Value) -> Result<u64, RpcError> {
    let text = value.as_str().ok_or_else(|| RpcError::Malformed("expected a hex number".to_string()))?;
    let digits = text.strip_prefix("0x").ok_or_else(|| RpcError::Malformed("hex number without 0x".to_string()))?;
    u64::from_str_radix(digits, 16).map_err(|e| RpcError::Malformed(format!("bad hex number: {e}")))
}

/// The error and its causes ("error sending request: connection refused"), without the URL.
fn transport(error: reqwest::Error) -> RpcError {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    RpcError::Transport(text)
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_map_websocket_schemes_and_hide_credentials() {
        let endpoint: RpcEndpoint =
            "wss://user:pw@entrypoint-finney.opentensor.ai:443/rpc?apikey=s3cret".parse().unwrap();
        assert_eq!(endpoint.url().scheme(), "https");
        assert_eq!(endpoint.to_string(), "https://entrypoint-finney.opentensor.ai");
        assert!(!format!("{endpoint:?}").contains("s3cret"));
        let local: RpcEndpoint = "ws://127.0.0.1:9944".parse().unwrap();
        assert_eq!(local.to_string(), "http://127.0.0.1:9944");
        for bad in ["", "ftp://node:1", "not a url", "http://"] {
            assert!(bad.parse::<RpcEndpoint>().is_err(), "{bad}");
        }
    }

    #[test]
    fn hex_values() {
        assert_eq!(hex_bytes(&json!("0x0102")).unwrap(), vec![1, 2]);
        assert!(hex_bytes(&json!("0102")).is_err());
        assert!(hex_bytes(&json!("0xzz")).is_err());
        assert!(hex_bytes(&json!(5)).is_err());
        assert_eq!(hex_number(&json!("0x10")).unwrap(), 16);
    }

    #[tokio::test]
    async fn a_null_result_is_an_answer_and_a_missing_one_is_not() {
        use axum::routing::post;
        let router = axum::Router::new()
            .route("/null", post(|| async { axum::Json(json!({"jsonrpc": "2.0", "id": 1, "result": null})) }))
            .route("/none", post(|| async { axum::Json(json!({"jsonrpc": "2.0", "id": 1})) }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        let http = reqwest::Client::new();
        let ask = |path: &str| {
            let endpoint: RpcEndpoint = format!("{base}{path}").parse().unwrap();
            let http = http.clone();
            async move {
                RpcCaller { http: &http, endpoint: &endpoint, timeout: Duration::from_secs(5) }
                    .call("state_getStorage", json!(["0x00"]))
                    .await
            }
        };
        assert_eq!(ask("/null").await.unwrap(), Value::Null);
        assert!(matches!(ask("/none").await, Err(RpcError::Malformed(_))));
        assert!(hex_number(&json!("0x")).is_err());
    }
}

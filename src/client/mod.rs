//! A signed HTTP client for zipcoord over the same wire types as the server: the operator's tool, the
//! reference for miners and validators, and the engine of the integration tests.

use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::api::{
    AssignmentResponse, ErrorBody, HealthResponse, SignedQuery, StatsResponse, StatusRequest, StatusResponse,
};
use crate::domain::auth::Commitment;
use crate::domain::epoch::EpochId;
use crate::domain::keys::Keypair;
use crate::domain::status::MinerStatus;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("server answered {status}: {}", body.message)]
    Api { status: u16, body: ErrorBody },
    #[error("unexpected response ({status}): {text}")]
    Unexpected { status: u16, text: String },
}

pub type ClientResult<T> = Result<T, ClientError>;

/// Signs `commitment` with `key` into the query parameters of a signed GET.
pub fn signed_query(key: &Keypair, commitment: &Commitment<'_>, timestamp: i64) -> SignedQuery {
    SignedQuery {
        hotkey: Some(key.hotkey().to_string()),
        signature: Some(key.sign(commitment.to_string().as_bytes()).to_hex()),
        timestamp: Some(timestamp.to_string()),
    }
}

/// A signed status report with no progress details; callers fill in counts as they have them.
pub fn status_request(
    key: &Keypair,
    epoch: EpochId,
    nonce: &str,
    status: MinerStatus,
    timestamp: i64,
) -> StatusRequest {
    let signature = key.sign(Commitment::Status { epoch, timestamp }.to_string().as_bytes()).to_hex();
    StatusRequest {
        hotkey: key.hotkey().to_string(),
        signature,
        timestamp,
        epoch_id: epoch.to_string(),
        nonce: nonce.to_string(),
        status: status.to_string(),
        s3_upload_complete: false,
        listings_scraped: None,
        zipcodes_completed: Vec::new(),
        s3_upload_timestamp: None,
    }
}

#[derive(Clone)]
pub struct ZipcoordClient {
    http: reqwest::Client,
    base_url: String,
}

impl ZipcoordClient {
    pub fn new(base_url: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("a client without TLS settings always builds");
        ZipcoordClient { http, base_url: base_url.into().trim_end_matches('/').to_string() }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> ClientResult<T> {
        let status = response.status();
        let text = response.text().await?;
        if status == StatusCode::OK {
            return serde_json::from_str(&text).map_err(|_| ClientError::Unexpected { status: status.as_u16(), text });
        }
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => Err(ClientError::Api { status: status.as_u16(), body }),
            Err(_) => Err(ClientError::Unexpected { status: status.as_u16(), text }),
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, query: Option<&SignedQuery>) -> ClientResult<T> {
        let mut request = self.http.get(format!("{}{path}", self.base_url)).header("Content-Type", "application/json");
        if let Some(query) = query {
            request = request.query(query);
        }
        Self::decode(request.send().await?).await
    }

    pub async fn stats(&self) -> ClientResult<StatsResponse> {
        self.get("/api/v1/zipcode-assignments/stats", None).await
    }

    pub async fn health(&self) -> ClientResult<HealthResponse> {
        self.get("/healthcheck", None).await
    }

    /// The current assignment, signed by `key` at `timestamp`.
    pub async fn current(&self, key: &Keypair, timestamp: i64) -> ClientResult<AssignmentResponse> {
        let query = signed_query(key, &Commitment::CurrentAssignment { timestamp }, timestamp);
        self.get("/api/v1/zipcode-assignments/current", Some(&query)).await
    }

    /// A started epoch's assignment, for validators.
    pub async fn epoch(&self, key: &Keypair, epoch: EpochId, timestamp: i64) -> ClientResult<AssignmentResponse> {
        let query = signed_query(key, &Commitment::EpochValidation { epoch, timestamp }, timestamp);
        self.get(&format!("/api/v1/zipcode-assignments/epoch/{epoch}"), Some(&query)).await
    }

    pub async fn report_status(&self, request: &StatusRequest) -> ClientResult<StatusResponse> {
        let response =
            self.http.post(format!("{}/api/v1/zipcode-assignments/status", self.base_url)).json(request).send().await?;
        Self::decode(response).await
    }
}

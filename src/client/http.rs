//! The signed HTTP client for zipcoord, over the same wire types as the server: every endpoint of the contract
//! with its signature (legacy commitments or Epistula), retries with back-off that honour `Retry-After`, and
//! errors that tell an outage from a refusal. The operator's tool, the reference neurons' transport and the
//! engine of the integration tests.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::api::{
    AssignmentResponse, EpochProofResponse, ErrorBody, FolderAccessResponse, HealthResponse, LegacyS3Request,
    MinerAccessResponse, SignedQuery, StatsResponse, StatusRequest, StatusResponse, ValidatorUploadRequest,
    ValidatorUploadResponse,
};
use crate::domain::access::endpoint::{self, Endpoint, SignedValues};
use crate::domain::access::epistula::{self, EpistulaHeaders, RequestUuid};
use crate::domain::access::keys::Keypair;
use crate::domain::epoch::status::MinerStatus;
use crate::domain::epoch::EpochId;
use crate::s3::ListPaging;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("server answered {status}: {}", body.message)]
    Api { status: u16, body: ErrorBody },
    #[error("unexpected response ({status}): {text}")]
    Unexpected { status: u16, text: String },
    /// What answered at the API's URL is a validator's relay: nothing it says is taken as the API's.
    #[error("{url} answers as a validator's relay (of {validator}), not as the coordinator's API")]
    NotTheApi { url: String, validator: String },
}

pub type ClientResult<T> = Result<T, ClientError>;

impl ClientError {
    /// Whether the server cannot be reached or cannot answer now (a client then falls back, or queues what it
    /// meant to send), rather than refusing this request.
    pub fn is_outage(&self) -> bool {
        match self {
            ClientError::Transport(_) | ClientError::NotTheApi { .. } => true,
            ClientError::Api { status, .. } | ClientError::Unexpected { status, .. } => *status >= 500,
        }
    }
}

/// The largest inputs document accepted once decompressed.
const MAX_INPUTS_BYTES: u64 = 64 << 20;

/// The server's `Retry-After` in seconds, when it gave one.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok()?;
    Some(Duration::from_secs(seconds.min(300)))
}

/// `key`'s signature over `endpoint`'s commitment with `values` (the hotkey is `key`'s), hex as the Python
/// clients send it.
pub fn sign(key: &Keypair, endpoint: &Endpoint, values: SignedValues<'_>) -> String {
    let hotkey = key.hotkey();
    let commitment = endpoint.commitment(&SignedValues { hotkey: hotkey.as_str(), ..values });
    key.sign(commitment.as_bytes()).to_hex()
}

/// The query parameters of a signed GET to `endpoint`, signed by `key` at `values.timestamp`.
pub fn signed_query(key: &Keypair, endpoint: &Endpoint, values: SignedValues<'_>) -> SignedQuery {
    SignedQuery {
        hotkey: Some(key.hotkey().to_string()),
        signature: Some(sign(key, endpoint, values)),
        timestamp: Some(values.timestamp.to_string()),
    }
}

/// The signed part of a legacy S3 request body to `endpoint`, naming `files` when there are any; callers add
/// the endpoint's own fields.
fn legacy_request(key: &Keypair, endpoint: &Endpoint, values: SignedValues<'_>, files: &[String]) -> LegacyS3Request {
    LegacyS3Request {
        hotkey: Some(key.hotkey().to_string()),
        signature: Some(sign(key, endpoint, values)),
        timestamp: Some(values.timestamp),
        files: (!files.is_empty()).then(|| files.to_vec()),
        ..LegacyS3Request::default()
    }
}

/// A signed `/get-miner-specific-access` body for `miner`, naming `files`.
fn miner_access_request(key: &Keypair, miner: &str, files: &[String], timestamp: i64) -> LegacyS3Request {
    let values = SignedValues::at(timestamp).miner_hotkey(miner);
    LegacyS3Request {
        miner_hotkey: Some(miner.to_string()),
        ..legacy_request(key, &endpoint::MINER_ACCESS, values, files)
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
    let epoch_id = epoch.to_string();
    StatusRequest {
        hotkey: Some(key.hotkey().to_string()),
        signature: Some(sign(key, &endpoint::STATUS, SignedValues::at(timestamp).epoch(&epoch_id))),
        timestamp: Some(timestamp),
        epoch_id,
        nonce: nonce.to_string(),
        status: status.to_string(),
        s3_upload_complete: false,
        listings_scraped: None,
        zipcodes_completed: Vec::new(),
        s3_upload_timestamp: None,
    }
}

/// When and how often a request is tried again: transport failures, 429 and 502/503/504 answers are retried
/// with exponential backoff and full jitter, never sooner than the server's `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 4, base_delay: Duration::from_millis(250), max_delay: Duration::from_secs(10) }
    }
}

impl RetryPolicy {
    /// One try, no retry.
    pub const NONE: RetryPolicy =
        RetryPolicy { attempts: 1, base_delay: Duration::from_millis(0), max_delay: Duration::from_millis(0) };

    /// The wait before try `attempt + 1` (attempt counts from 1).
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.base_delay.saturating_mul(1u32 << attempt.min(16)).min(self.max_delay);
        let jittered = ceiling.mul_f64(rand::random::<f64>());
        jittered.max(retry_after.unwrap_or_default())
    }
}

/// What a client talks to: the coordinator's API, the one source it trusts and signs for, or a source whose
/// answers it recomputes (a validator's relay, or an API it only verifies) and never signs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    Api,
    Checked,
}

#[derive(Clone)]
pub struct ZipcoordClient {
    http: reqwest::Client,
    base_url: String,
    retry: RetryPolicy,
    peer: Peer,
    /// Whether the last answer at an API client's URL was a relay's: signed requests wait, unsent, until an
    /// answer (of `/stats`, say) comes from the API again.
    relay_answered: Arc<std::sync::Mutex<Option<String>>>,
    /// The service address Epistula-signed requests are for; `None`: legacy signatures.
    epistula_for: Option<String>,
}

impl ZipcoordClient {
    /// A client of the coordinator's API at `base_url`. An answer marked as a relay's
    /// ([`crate::api::RELAY_HEADER`]) is refused as [`ClientError::NotTheApi`], whatever it says.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::of(base_url, Peer::Api)
    }

    /// A client of a source whose answers are recomputed before use, never trusted: a validator's relay, or
    /// any server `verify-epoch` checks. It has no signed requests to make.
    pub fn checked(base_url: impl Into<String>) -> Self {
        Self::of(base_url, Peer::Checked)
    }

    fn of(base_url: impl Into<String>, peer: Peer) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("a client without TLS settings always builds");
        ZipcoordClient {
            http,
            base_url: base_url.into().trim_end_matches('/').to_string(),
            retry: RetryPolicy::NONE,
            peer,
            relay_answered: Arc::default(),
            epistula_for: None,
        }
    }

    /// The same client, signing every request with Epistula v2 for the service at `service` (an SS58 address).
    pub fn with_epistula(mut self, service: impl Into<String>) -> Self {
        self.epistula_for = Some(service.into());
        self
    }

    /// The service address requests are Epistula-signed for, if they are.
    pub fn epistula_service(&self) -> Option<&str> {
        self.epistula_for.as_deref()
    }

    /// The same client, retrying as `policy` says (the default client tries once, as the tests want).
    pub fn with_retries(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Sends `request`, again as the retry policy allows. With Epistula, `signer` (the key and the exact body)
    /// signs each try afresh: a uuid is accepted once, and a retry may come after the window of the first try.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        signer: Option<(&Keypair, &[u8])>,
    ) -> ClientResult<reqwest::Response> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut this_try = request.try_clone().expect("request bodies are buffered");
            if let (Some(service), Some((key, body))) = (&self.epistula_for, signer) {
                let uuid = RequestUuid::from_random(rand::random());
                let headers = EpistulaHeaders::sign(key, body, service, unix_now_ms(), uuid);
                for (name, value) in headers.to_headers() {
                    this_try = this_try.header(name, value);
                }
            }
            let outcome = this_try.send().await;
            let retry_after = match &outcome {
                Err(error) if error.is_connect() || error.is_timeout() => Some(None),
                Ok(response) if matches!(response.status().as_u16(), 429 | 502 | 503 | 504) => {
                    Some(retry_after(response))
                }
                _ => None,
            };
            match retry_after {
                Some(hint) if attempt < self.retry.attempts => {
                    tokio::time::sleep(self.retry.delay(attempt, hint)).await;
                }
                _ => return self.refuse_an_unexpected_peer(outcome?),
            }
        }
    }

    /// `response`, unless this is an API client and a relay answered (whatever the status).
    fn refuse_an_unexpected_peer(&self, response: reqwest::Response) -> ClientResult<reqwest::Response> {
        if self.peer != Peer::Api {
            return Ok(response);
        }
        let relay = response
            .headers()
            .get(crate::api::RELAY_HEADER)
            .map(|validator| String::from_utf8_lossy(validator.as_bytes()).chars().take(64).collect::<String>());
        *self.relay_answered.lock().expect("never poisoned") = relay.clone();
        match relay {
            Some(validator) => Err(ClientError::NotTheApi { url: self.base_url.clone(), validator }),
            None => Ok(response),
        }
    }

    /// Refuses to send a signed request while a relay answers at the API's URL.
    fn may_sign(&self) -> ClientResult<()> {
        match self.relay_answered.lock().expect("never poisoned").clone() {
            Some(validator) => Err(ClientError::NotTheApi { url: self.base_url.clone(), validator }),
            None => Ok(()),
        }
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

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: Option<&SignedQuery>,
        signer: Option<&Keypair>,
    ) -> ClientResult<T> {
        let mut request = self.http.get(format!("{}{path}", self.base_url)).header("Content-Type", "application/json");
        if let Some(query) = query {
            request = request.query(query);
        }
        // An Epistula GET signs its method and path, so that it is good at this endpoint only.
        let target = epistula::get_target(path.split('?').next().unwrap_or(path));
        Self::decode(self.send(request, signer.map(|key| (key, &target[..]))).await?).await
    }

    pub async fn stats(&self) -> ClientResult<StatsResponse> {
        self.get("/api/v1/zipcode-assignments/stats", None, None).await
    }

    pub async fn health(&self) -> ClientResult<HealthResponse> {
        self.get("/healthcheck", None, None).await
    }

    /// A started epoch's selection and proof (public).
    pub async fn epoch_proof(&self, epoch: EpochId) -> ClientResult<EpochProofResponse> {
        self.get(&format!("/api/v1/zipcode-assignments/epoch/{epoch}/proof"), None, None).await
    }

    /// An epoch's published inputs, byte for byte as published (public; fetched gzip-encoded).
    pub async fn epoch_inputs(&self, epoch: EpochId) -> ClientResult<Vec<u8>> {
        use std::io::Read;
        let url = format!("{}/api/v1/zipcode-assignments/epoch/{epoch}/inputs", self.base_url);
        let response = self.send(self.http.get(url).header("Accept-Encoding", "gzip"), None).await?;
        let status = response.status();
        if status != StatusCode::OK {
            return Self::decode(response).await;
        }
        let gzipped = response.headers().get("content-encoding").is_some_and(|v| v.as_bytes() == b"gzip");
        let body = response.bytes().await?;
        if !gzipped {
            return Ok(body.to_vec());
        }
        let mut document = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .take(MAX_INPUTS_BYTES)
            .read_to_end(&mut document)
            .map_err(|e| ClientError::Unexpected { status: status.as_u16(), text: format!("bad gzip: {e}") })?;
        Ok(document)
    }

    /// A started epoch's assignment as a validator's relay serves it: without signature.
    pub async fn public_epoch(&self, epoch: EpochId) -> ClientResult<AssignmentResponse> {
        self.get(&format!("/api/v1/zipcode-assignments/epoch/{epoch}"), None, None).await
    }

    /// A signed GET to `endpoint`: Epistula headers, or the legacy signed query.
    async fn signed_get<T: DeserializeOwned>(
        &self,
        key: &Keypair,
        endpoint: &Endpoint,
        values: SignedValues<'_>,
    ) -> ClientResult<T> {
        self.may_sign()?;
        let path = endpoint.path_for(&values);
        match self.epistula_for {
            Some(_) => self.get(&path, None, Some(key)).await,
            None => self.get(&path, Some(&signed_query(key, endpoint, values)), None).await,
        }
    }

    /// The current assignment, signed by `key` at `timestamp`.
    pub async fn current(&self, key: &Keypair, timestamp: i64) -> ClientResult<AssignmentResponse> {
        self.signed_get(key, &endpoint::CURRENT, SignedValues::at(timestamp)).await
    }

    /// A started epoch's assignment, for validators.
    pub async fn epoch(&self, key: &Keypair, epoch: EpochId, timestamp: i64) -> ClientResult<AssignmentResponse> {
        let epoch_id = epoch.to_string();
        self.signed_get(key, &endpoint::EPOCH, SignedValues::at(timestamp).epoch(&epoch_id)).await
    }

    /// Every validator's published verdicts on `epoch` (once its judging window has passed; 409 before).
    pub async fn epoch_results(
        &self,
        key: &Keypair,
        epoch: EpochId,
        timestamp: i64,
    ) -> ClientResult<crate::api::EpochResultsResponse> {
        let epoch_id = epoch.to_string();
        self.signed_get(key, &endpoint::RESULTS, SignedValues::at(timestamp).epoch(&epoch_id)).await
    }

    /// A signed POST of `body` (a legacy-signed request) to `endpoint`. With Epistula the body goes without its
    /// legacy `signature` and `timestamp`: left in, they would let whoever sees the request replay it the legacy
    /// way, which is what Epistula's single-use uuid prevents.
    async fn post<T: DeserializeOwned>(
        &self,
        key: &Keypair,
        endpoint: &Endpoint,
        body: &impl serde::Serialize,
    ) -> ClientResult<T> {
        self.may_sign()?;
        let mut value = serde_json::to_value(body).expect("request types serialize");
        if let (Some(_), Some(fields)) = (&self.epistula_for, value.as_object_mut()) {
            fields.remove("signature");
            fields.remove("timestamp");
        }
        let bytes = serde_json::to_vec(&value).expect("JSON values serialize");
        let request = self
            .http
            .post(format!("{}{}", self.base_url, endpoint.path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes.clone());
        Self::decode(self.send(request, Some((key, &bytes))).await?).await
    }

    /// Sends `key`'s status report.
    pub async fn report_status(&self, key: &Keypair, request: &StatusRequest) -> ClientResult<StatusResponse> {
        self.post(key, &endpoint::STATUS, request).await
    }

    /// An upload grant for `key`'s own folder. `files` names the objects to presign PUTs for when the server
    /// runs in PUT upload mode, and `sizes` their sizes, which the URLs then sign (both ignored in POST mode).
    pub async fn folder_access(
        &self,
        key: &Keypair,
        coldkey: &str,
        files: &[String],
        sizes: Option<&[u64]>,
        timestamp: i64,
    ) -> ClientResult<FolderAccessResponse> {
        let values = SignedValues::at(timestamp).coldkey(coldkey);
        let body = LegacyS3Request {
            coldkey: Some(coldkey.to_string()),
            file_sizes: sizes.map(|sizes| sizes.iter().map(|&n| i64::try_from(n).unwrap_or(i64::MAX)).collect()),
            ..legacy_request(key, &endpoint::FOLDER_ACCESS, values, files)
        };
        self.post(key, &endpoint::FOLDER_ACCESS, &body).await
    }

    /// A validator's listing grant for `miner`'s folder, with presigned GETs for `files` (relative to it).
    pub async fn miner_access(
        &self,
        key: &Keypair,
        miner: &str,
        files: &[String],
        timestamp: i64,
    ) -> ClientResult<MinerAccessResponse> {
        self.post(key, &endpoint::MINER_ACCESS, &miner_access_request(key, miner, files, timestamp)).await
    }

    /// A validator's listing grant for one page of `epoch`'s work in `miner`'s folder, from where `paging` says.
    pub async fn miner_epoch_listing(
        &self,
        key: &Keypair,
        miner: &str,
        epoch: EpochId,
        paging: &ListPaging,
        timestamp: i64,
    ) -> ClientResult<MinerAccessResponse> {
        let body = LegacyS3Request {
            epoch: Some(epoch.to_string()),
            start_after: paging.start_after.clone(),
            continuation_token: paging.continuation_token.clone(),
            max_keys: paging.max_keys.map(i64::from),
            ..miner_access_request(key, miner, &[], timestamp)
        };
        self.post(key, &endpoint::MINER_ACCESS, &body).await
    }

    /// A validator's upload grant for its results of `epoch`.
    pub async fn validator_upload(
        &self,
        key: &Keypair,
        epoch: EpochId,
        estimated_mb: f64,
        timestamp: i64,
    ) -> ClientResult<ValidatorUploadResponse> {
        let body = ValidatorUploadRequest {
            hotkey: Some(key.hotkey().to_string()),
            signature: Some(sign(key, &endpoint::VALIDATOR_UPLOAD, SignedValues::at(timestamp))),
            timestamp: Some(timestamp),
            epoch_id: Some(epoch.to_string()),
            purpose: Some("validation_results".to_string()),
            estimated_data_size_mb: Some(estimated_mb),
            retention_days: Some(30),
        };
        self.post(key, &endpoint::VALIDATOR_UPLOAD, &body).await
    }
}

/// The client side's clock, Unix seconds: what signed requests carry.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The client side's clock, Unix milliseconds: what Epistula headers carry.
pub fn unix_now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

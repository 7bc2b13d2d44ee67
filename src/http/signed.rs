//! The `Signed` extractor: every signed endpoint's prologue, driven by its row in the endpoint table
//! ([`crate::domain::access::endpoint`]). It reads the query string (GET) or the JSON body (POST), refuses S3 endpoints
//! when no store is configured, lets the endpoint parse its own values (400 on bad input), then authenticates
//! by Epistula headers when the request has them and by the legacy fields otherwise: the fields' format, the
//! application's admission (timestamp window, registration, signature, role) and, only once the signature
//! verified, the hotkey's rate budget and (Epistula) the uuid's single use. Handlers receive the caller and
//! typed values.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use serde::de::DeserializeOwned;

use crate::api::SignedQuery;
use crate::app::{AccessDenied, App, Proof, SignedClaim};
use crate::domain::access::auth::{parse_timestamp, HotkeySignature};
use crate::domain::access::endpoint::{Endpoint, Method, SignedValues};
use crate::domain::access::epistula::{get_target, EpistulaHeaders};
use crate::domain::epoch::EpochId;
use crate::domain::hotkey::Hotkey;

use super::error::ApiError;
use super::extract::{parse_json, parse_value, read_body, QueryParams};
use super::limits::RateLimits;

/// The signed fields of a request, as they arrived.
#[derive(Debug, Default)]
pub struct SignedFields {
    pub hotkey: Option<String>,
    pub signature: Option<String>,
    pub timestamp: Option<i64>,
}

impl SignedFields {
    /// From a signed GET's query string; a timestamp that is not a decimal integer is refused.
    pub fn from_query(query: SignedQuery) -> Result<Self, ApiError> {
        let timestamp = query
            .timestamp
            .map(|t| parse_timestamp(&t).ok_or_else(|| ApiError::bad_request("Invalid timestamp")))
            .transpose()?;
        Ok(SignedFields { hotkey: query.hotkey, signature: query.signature, timestamp })
    }
}

/// A request to one signed endpoint, parsed into typed values.
pub trait SignedRequest: Sized + Send {
    /// The endpoint's row in the table.
    const ENDPOINT: &'static Endpoint;
    /// What arrives: the query string for GET, the JSON body for POST.
    type Raw: DeserializeOwned + Send;

    /// The typed request and its signed fields; `path` holds the path's `{name}` values.
    fn parse(raw: Self::Raw, path: &PathValues) -> Result<(Self, SignedFields), ApiError>;

    /// The values its commitment names besides the hotkey and timestamp.
    fn values(&self) -> SignedValues<'_> {
        SignedValues::default()
    }
}

/// Names the endpoint a generic signed request ([`QueryOnlyRequest`], [`EpochPathRequest`]) stands for.
pub trait NamedEndpoint {
    const ENDPOINT: &'static Endpoint;
}

/// A signed GET that carries nothing but the signed fields, for the endpoint `E` stands for.
pub struct QueryOnlyRequest<E>(PhantomData<fn() -> E>);

impl<E: NamedEndpoint> SignedRequest for QueryOnlyRequest<E> {
    const ENDPOINT: &'static Endpoint = E::ENDPOINT;
    type Raw = SignedQuery;

    fn parse(query: SignedQuery, _: &PathValues) -> Result<(Self, SignedFields), ApiError> {
        Ok((QueryOnlyRequest(PhantomData), SignedFields::from_query(query)?))
    }
}

/// A signed GET whose path names an epoch (`…/epoch/{epochId}…`) and whose commitment signs it, for the
/// endpoint `E` stands for: the id is parsed (400 when it is not one) and signed in its canonical form.
pub struct EpochPathRequest<E> {
    pub epoch: EpochId,
    epoch_text: String,
    endpoint: PhantomData<fn() -> E>,
}

impl<E: NamedEndpoint> SignedRequest for EpochPathRequest<E> {
    const ENDPOINT: &'static Endpoint = E::ENDPOINT;
    type Raw = SignedQuery;

    fn parse(query: SignedQuery, path: &PathValues) -> Result<(Self, SignedFields), ApiError> {
        let epoch: EpochId = parse_value(path.get("epochId").unwrap_or_default())?;
        let fields = SignedFields::from_query(query)?;
        Ok((EpochPathRequest { epoch, epoch_text: epoch.to_string(), endpoint: PhantomData }, fields))
    }

    fn values(&self) -> SignedValues<'_> {
        SignedValues::default().epoch(&self.epoch_text)
    }
}

/// The path's `{name}` values.
pub struct PathValues(Vec<(String, String)>);

impl PathValues {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// A signed request whose caller was admitted.
pub struct Signed<T> {
    pub caller: Hotkey,
    pub signature: HotkeySignature,
    pub request: T,
}

impl<T: SignedRequest> FromRequest<Arc<App>> for Signed<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let path = match RawPathParams::from_request_parts(&mut parts, app).await {
            Ok(params) => PathValues(params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            Err(_) => PathValues(Vec::new()),
        };
        let limits = parts.extensions.get::<Arc<RateLimits>>().cloned().expect("the router adds the rate limits");
        let epistula = EpistulaHeaders::parse(|name| parts.headers.get(name).and_then(|v| v.to_str().ok()))
            .transpose()
            .map_err(|error| malformed(ApiError::bad_request(error.to_string())))?;
        // A GET's signed body is the empty one, whatever it carries, or (bound) its method and path.
        let get_target = (T::ENDPOINT.method == Method::Get).then(|| get_target(parts.uri.path()));
        let (raw, body): (T::Raw, Bytes) = match T::ENDPOINT.method {
            Method::Get => (QueryParams::from_request_parts(&mut parts, app).await?.0, Bytes::new()),
            Method::Post => {
                let body = read_body(Request::from_parts(parts, body), app).await?;
                (parse_json(&body)?, body)
            }
        };
        if T::ENDPOINT.needs_s3 {
            app.s3_available()?;
        }
        let (request, fields) = T::parse(raw, &path)?;
        let (caller, signature) = match &epistula {
            Some(headers) => {
                let signed = EpistulaSigned { headers, body: &body, get_target: get_target.as_deref() };
                authenticate_epistula(app, T::ENDPOINT, signed, &fields, &limits).await?
            }
            None => authenticate(app, T::ENDPOINT, fields, request.values(), &limits)?,
        };
        Ok(Signed { caller, signature, request })
    }
}

/// A field the request must carry, non-empty: 400 "`field` is required" otherwise.
pub fn required<'a>(value: Option<&'a str>, field: &str) -> Result<&'a str, ApiError> {
    value.filter(|s| !s.is_empty()).ok_or_else(|| ApiError::bad_request(format!("{field} is required")))
}

/// An SS58 hotkey field.
pub fn parse_hotkey(raw: Option<&str>, field: &str) -> Result<Hotkey, ApiError> {
    required(raw, field)?
        .parse()
        .map_err(|_| ApiError::bad_request(format!("Invalid {field}: expected an SS58 address")))
}

/// Counts a request refused for its form before any signature work.
fn malformed(error: ApiError) -> ApiError {
    crate::metrics::auth_failure("malformed");
    error
}

/// Counts a refusal by its reason and turns it into the contract's answer.
fn refused(denied: AccessDenied) -> ApiError {
    crate::metrics::auth_failure(denied.reason);
    ApiError::from(denied.error)
}

/// Checks the legacy signed fields and admits the caller to `endpoint`.
fn authenticate(
    app: &App,
    endpoint: &Endpoint,
    fields: SignedFields,
    values: SignedValues<'_>,
    limits: &RateLimits,
) -> Result<(Hotkey, HotkeySignature), ApiError> {
    let hotkey = parse_hotkey(fields.hotkey.as_deref(), "hotkey").map_err(malformed)?;
    let signature: HotkeySignature = required(fields.signature.as_deref(), "signature")
        .and_then(|s| {
            s.parse().map_err(|_| ApiError::bad_request("Invalid signature format: expected 64 bytes of hex"))
        })
        .map_err(malformed)?;
    let timestamp = fields.timestamp.ok_or_else(|| malformed(ApiError::bad_request("timestamp is required")))?;
    let claim = SignedClaim { hotkey: &hotkey, proof: Proof::Commitment { signature: &signature, timestamp, values } };
    app.admit(endpoint, &claim).map_err(refused)?;
    limits.check_signed(endpoint.rate, &hotkey, &signature)?;
    Ok((hotkey, signature))
}

/// An Epistula request's headers and what they may sign: the body, or a GET's target.
struct EpistulaSigned<'a> {
    headers: &'a EpistulaHeaders,
    body: &'a [u8],
    get_target: Option<&'a [u8]>,
}

/// Admits the signer of Epistula headers to `endpoint`, spending the request's uuid. The legacy fields are not
/// checked then, except that a `hotkey`, when sent, must name the signer, and that a legacy `signature` does not
/// ride along (whoever sees the request could replay it the legacy way, which the uuid is there to prevent).
async fn authenticate_epistula(
    app: &App,
    endpoint: &Endpoint,
    signed: EpistulaSigned<'_>,
    fields: &SignedFields,
    limits: &RateLimits,
) -> Result<(Hotkey, HotkeySignature), ApiError> {
    let EpistulaSigned { headers, body, get_target } = signed;
    let signer = &headers.signed_by;
    if fields.hotkey.as_deref().is_some_and(|hotkey| !hotkey.is_empty() && hotkey != signer.as_str()) {
        return Err(malformed(ApiError::bad_request("hotkey must be the Epistula-Signed-By address")));
    }
    if fields.signature.as_deref().is_some_and(|signature| !signature.is_empty()) {
        return Err(malformed(ApiError::bad_request(
            "A request is signed either with Epistula headers or with the legacy signature, not both: drop the \
             signature field",
        )));
    }
    let claim = SignedClaim { hotkey: signer, proof: Proof::Epistula { headers, body, get_target } };
    app.admit(endpoint, &claim).map_err(refused)?;
    limits.check_signed(endpoint.rate, signer, &headers.signature)?;
    app.spend_request_uuid(headers).await.map_err(refused)?;
    Ok((signer.clone(), headers.signature))
}

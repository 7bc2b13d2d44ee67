//! What lets anyone verify an epoch, public: `GET …/epoch/{epochId}/inputs`, its published inputs byte for byte
//! as published (their hash is the proof's `inputsHash`), gzip-encoded for clients that accept it and cacheable
//! forever (they never change); and `GET …/epoch/{epochId}/proof`, a started epoch's selection, nonce and
//! proof.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{EpochInputsDocument, EpochProofResponse, ErrorBody};
use crate::app::App;
use crate::domain::epoch::EpochId;

use super::error::ApiError;
use super::extract::parse_value;

pub const INPUTS_PATH_PREFIX: &str = "/api/v1/zipcode-assignments/epoch/";
const INPUTS_PATH_SUFFIX: &str = "/inputs";
const PROOF_PATH_SUFFIX: &str = "/proof";

/// Whether `path` is an epoch's inputs or proof (public, rate-limited per address).
pub fn is_verification_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix(INPUTS_PATH_PREFIX) else { return false };
    [INPUTS_PATH_SUFFIX, PROOF_PATH_SUFFIX]
        .iter()
        .filter_map(|suffix| rest.strip_suffix(suffix))
        .any(|id| !id.is_empty() && !id.contains('/'))
}

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new().routes(routes!(inputs)).routes(routes!(proof))
}

/// A started epoch's selection, nonce and proof: everything `zipcoord verify-epoch` checks against the
/// published inputs and the beacon's pulse.
///
/// Public: once an epoch has started, its round's randomness is public and anyone can recompute its
/// assignment from the inputs. Future epochs are 404, like everywhere.
#[utoipa::path(
    get,
    path = "/api/v1/zipcode-assignments/epoch/{epochId}/proof",
    tag = "assignments",
    params(
        ("epochId" = String, Path, description = "Epoch id, its start in UTC", pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}$", example = "2025-10-01T16-00-00"),
    ),
    responses(
        (status = 200, description = "The epoch's selection and proof", body = EpochProofResponse),
        (status = 400, description = "Malformed epoch id", body = ErrorBody),
        (status = 404, description = "Unknown or future epoch, or one made before epochs were beacon-seeded", body = ErrorBody),
        (status = 503, description = "The epoch's beacon pulse is awaited; see Retry-After", body = ErrorBody),
    ),
)]
async fn proof(
    State(app): State<Arc<App>>,
    Path(epoch_id): Path<String>,
) -> Result<Json<EpochProofResponse>, ApiError> {
    let epoch: EpochId = parse_value(&epoch_id)?;
    let assignment = app.started_epoch(epoch).await?;
    let proof = assignment.proof.as_ref().ok_or_else(|| {
        ApiError::not_found(format!("Epoch {epoch} has no proof: it was made before epochs were beacon-seeded"))
    })?;
    Ok(Json(EpochProofResponse {
        success: true,
        epoch_id: epoch.to_string(),
        nonce: assignment.nonce.to_string(),
        zipcodes: assignment.zipcodes.iter().map(|z| z.zipcode.to_string()).collect(),
        total_expected_listings: assignment.total_expected(),
        proof: crate::api::EpochProofBody::of(epoch, proof),
        groups: assignment.groups.as_ref().map(|groups| {
            groups
                .groups
                .iter()
                .map(|g| crate::api::ProofGroup {
                    zipcode_count: g.count,
                    members: g.members.iter().map(|m| m.to_string()).collect(),
                })
                .collect()
        }),
    }))
}

/// An epoch's published inputs: everything its selection reads, fixed before its beacon round exists.
///
/// The next epoch's inputs are published when the current one starts (`/stats` names their hash), so anyone
/// can hold them before the round that seeds the epoch is emitted. Recompute an epoch with `zipcoord
/// verify-epoch` or `scripts/verify_epoch.py`. Served gzip-encoded when the request accepts it; the `ETag` is
/// the inputs hash.
#[utoipa::path(
    get,
    path = "/api/v1/zipcode-assignments/epoch/{epochId}/inputs",
    tag = "assignments",
    params(
        ("epochId" = String, Path, description = "Epoch id, its start in UTC", pattern = r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}$", example = "2025-10-01T16-00-00"),
    ),
    responses(
        (status = 200, description = "The canonical inputs document", body = EpochInputsDocument),
        (status = 304, description = "Not modified (If-None-Match named the inputs hash)"),
        (status = 400, description = "Malformed epoch id", body = ErrorBody),
        (status = 404, description = "Not published (yet, or pruned)", body = ErrorBody),
    ),
)]
async fn inputs(
    State(app): State<Arc<App>>,
    Path(epoch_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let epoch: EpochId = parse_value(&epoch_id)?;
    let stored = app.inputs_document(epoch).await?;
    let etag = HeaderValue::from_str(&format!("\"{}\"", stored.record.hash))
        .map_err(|_| ApiError::unavailable("Service temporarily unavailable"))?;
    let cache = HeaderValue::from_static("public, max-age=31536000, immutable");
    if headers.get(header::IF_NONE_MATCH).is_some_and(|tag| tag == etag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag), (header::CACHE_CONTROL, cache)]).into_response());
    }
    let json = HeaderValue::from_static("application/json");
    let vary = HeaderValue::from_static("accept-encoding");
    if accepts_gzip(&headers) {
        let gzip = HeaderValue::from_static("gzip");
        let response_headers = [
            (header::CONTENT_TYPE, json),
            (header::CONTENT_ENCODING, gzip),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
            (header::VARY, vary),
        ];
        return Ok((response_headers, stored.gzip).into_response());
    }
    let body = stored.canonical_json().map_err(|error| ApiError::from(crate::app::AppError::from(error)))?;
    let response_headers =
        [(header::CONTENT_TYPE, json), (header::ETAG, etag), (header::CACHE_CONTROL, cache), (header::VARY, vary)];
    Ok((response_headers, body).into_response())
}

/// Whether `Accept-Encoding` admits gzip (`q=0` refuses it).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let codings = headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok());
    codings.flat_map(|v| v.split(',')).any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| p.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0));
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_inputs_paths_and_gzip_acceptance() {
        let epoch: EpochId = "2025-10-01T16-00-00".parse().unwrap();
        assert!(is_verification_path(&crate::api::inputs_path(epoch)));
        assert!(is_verification_path("/api/v1/zipcode-assignments/epoch/2025-10-01T16-00-00/proof"));
        assert!(!is_verification_path("/api/v1/zipcode-assignments/epoch/2025-10-01T16-00-00"));
        assert!(!is_verification_path("/api/v1/zipcode-assignments/epoch//inputs"));
        assert!(!is_verification_path("/api/v1/zipcode-assignments/epoch/a/b/inputs"));
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate"));
        assert!(with("br;q=1.0, gzip;q=0.5"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}

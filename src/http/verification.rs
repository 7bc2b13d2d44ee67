//! What lets anyone verify an epoch, public: `GET …/epoch/{epochId}/inputs`, its published inputs byte for byte
//! as published (their hash is the proof's `inputsHash`), gzip-encoded for clients that accept it and cacheable
//! forever (they never change); and `GET …/epoch/{epochId}/proof`, a started epoch's selection, nonce and
//! proof.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{EpochInputsDocument, EpochProofResponse, ErrorBody};
use crate::app::App;
use crate::domain::epoch::EpochId;

use super::encoded::{Encoded, EncodedAnswers};
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
        (status = 404, description = "Unknown or future epoch, one made before epochs were beacon-seeded, or one whose published inputs admit no selection (the message then gives the round's pulse, so anyone can confirm)", body = ErrorBody),
        (status = 503, description = "The epoch's beacon pulse is awaited; see Retry-After", body = ErrorBody),
    ),
)]
async fn proof(
    State(app): State<Arc<App>>,
    Path(epoch_id): Path<String>,
) -> Result<Json<EpochProofResponse>, ApiError> {
    let epoch: EpochId = parse_value(&epoch_id)?;
    let assignment = match app.started_epoch(epoch).await {
        Err(crate::app::AppError::NotFound(message)) => {
            // Nothing could be selected: the pulse that seeded the attempt is published, so anyone can confirm.
            return Err(match app.unselectable_epoch(epoch).await? {
                Some(why) => ApiError::whole(
                    axum::http::StatusCode::NOT_FOUND,
                    format!(
                        "Epoch {epoch} has no assignment: nothing can be selected from its published inputs ({}). Its \
                     seed comes from {} round {} (signature {}, randomness {}): run the selection on \
                     {INPUTS_PATH_PREFIX}{epoch}{INPUTS_PATH_SUFFIX} with it to confirm",
                        why.reason, why.chain, why.round, why.signature_hex, why.randomness_hex
                    ),
                ),
                None => ApiError::not_found(message),
            });
        }
        other => other?,
    };
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
    Extension(encoded): Extension<Arc<EncodedAnswers>>,
    Path(epoch_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let epoch: EpochId = parse_value(&epoch_id)?;
    let document = encoded
        .inputs(epoch, async {
            let stored = app.inputs_document(epoch).await?;
            let json = stored.canonical_json().map_err(crate::app::AppError::from)?;
            Ok::<_, ApiError>(Encoded::new(json, stored.gzip, &stored.record.hash))
        })
        .await?;
    Ok(document.respond(&headers, "public, max-age=31536000, immutable"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_inputs_and_proof_paths() {
        let epoch: EpochId = "2025-10-01T16-00-00".parse().unwrap();
        assert!(is_verification_path(&crate::api::inputs_path(epoch)));
        assert!(is_verification_path("/api/v1/zipcode-assignments/epoch/2025-10-01T16-00-00/proof"));
        assert!(!is_verification_path("/api/v1/zipcode-assignments/epoch/2025-10-01T16-00-00"));
        assert!(!is_verification_path("/api/v1/zipcode-assignments/epoch//inputs"));
        assert!(!is_verification_path("/api/v1/zipcode-assignments/epoch/a/b/inputs"));
    }
}

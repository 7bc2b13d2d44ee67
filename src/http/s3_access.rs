//! The S3 access endpoints: a miner's upload grant for its own folder, validators' listings of miners' data,
//! and validators' upload of their results. Each grant is scoped to one prefix, expires, and is recorded.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    iso8601_millis, FolderAccessResponse, FolderMetadata, GlobalUrls, LegacyS3Request, MinerAccessResponse, MinerUrls,
    StructureInfo, UploadMetadata, ValidatorAccessResponse, ValidatorUploadRequest, ValidatorUploadResponse,
    ValidatorUrls,
};
use crate::app::{App, MinerReadRequest};
use crate::domain::access::endpoint::{self, Endpoint, SignedValues};
use crate::domain::access::layout;
use crate::domain::epoch::EpochId;
use crate::s3::{ListPaging, MAX_KEYS_PER_PAGE};

use super::error::ApiError;
use super::extract::parse_value;
use super::signed::{parse_hotkey, required, PathValues, Signed, SignedFields, SignedRequest};

pub fn router() -> OpenApiRouter<Arc<App>> {
    OpenApiRouter::new()
        .routes(routes!(folder_access))
        .routes(routes!(miner_access))
        .routes(routes!(validator_access))
        .routes(routes!(validator_upload))
}

fn structure_info() -> StructureInfo {
    StructureInfo { folder_structure: layout::FOLDER_STRUCTURE.into(), description: layout::ACCESS_RULES.into() }
}

/// Longest `start_after` or `continuation_token` accepted (S3 keys are at most 1,024 bytes).
const MAX_PAGING_TEXT: usize = 1_024;

/// The listing's paging fields: a start key and a continuation token of sane length and characters, and a page
/// size S3 can give.
fn parse_paging(body: &LegacyS3Request) -> Result<ListPaging, ApiError> {
    let text = |value: &Option<String>, field: &str, allowed: fn(char) -> bool| match value {
        Some(text) if text.is_empty() || text.len() > MAX_PAGING_TEXT || !text.chars().all(allowed) => {
            Err(ApiError::bad_request(format!("Invalid {field}: 1 to {MAX_PAGING_TEXT} bytes of a key or token")))
        }
        other => Ok(other.clone()),
    };
    let max_keys = match body.max_keys {
        Some(n) if n < 1 || n > i64::from(MAX_KEYS_PER_PAGE) => {
            return Err(ApiError::bad_request(format!("max_keys must be between 1 and {MAX_KEYS_PER_PAGE}")))
        }
        other => other.map(|n| n as u16),
    };
    Ok(ListPaging {
        start_after: text(&body.start_after, "start_after", |c| !c.is_control())?,
        continuation_token: text(&body.continuation_token, "continuation_token", |c| c.is_ascii_graphic())?,
        max_keys,
    })
}

fn legacy_fields(body: &LegacyS3Request) -> SignedFields {
    SignedFields { hotkey: body.hotkey.clone(), signature: body.signature.clone(), timestamp: body.timestamp }
}

/// An upload grant for the caller's own folder `data/hotkey={hotkey}/`, for registered miners.
///
/// In POST mode the answer is a presigned POST policy (`url` + `fields`) that enforces the object size range; in
/// PUT mode, presigned PUT URLs for the body's `files`, each signing its size when `file_sizes` gives them. 503
/// when the service has no S3 store configured.
#[utoipa::path(
    post,
    path = endpoint::FOLDER_ACCESS.path,
    tag = "s3",
    request_body(content = LegacyS3Request, content_type = "application/json"),
    responses(
        (status = 200, description = "Upload grant", body = FolderAccessResponse),
    ),
)]
async fn folder_access(
    State(app): State<Arc<App>>,
    Signed { caller, request, .. }: Signed<FolderAccessRequest>,
) -> Result<Json<FolderAccessResponse>, ApiError> {
    let grant = app.grant_miner_folder(&caller, &request.files, request.sizes.as_deref(), request.expiry).await?;
    let expiry = iso8601_millis(grant.expires.timestamp_millis());
    Ok(Json(FolderAccessResponse {
        success: true,
        message: format!("Upload access granted to {} until {expiry}", grant.folder),
        folder: grant.folder.clone(),
        url: grant.bucket_url.clone(),
        upload_url: grant.bucket_url,
        fields: grant.fields,
        expiry,
        list_url: grant.list_url,
        structure_info: structure_info(),
        metadata: FolderMetadata { folder_path: grant.folder },
        upload_mode: grant.upload_mode.as_str().to_string(),
        put_urls: grant.put_urls,
    }))
}

/// `POST /get-folder-access`, parsed.
struct FolderAccessRequest {
    coldkey: String,
    files: Vec<String>,
    sizes: Option<Vec<u64>>,
    expiry: Option<i64>,
}

impl SignedRequest for FolderAccessRequest {
    const ENDPOINT: &'static Endpoint = &endpoint::FOLDER_ACCESS;
    type Raw = LegacyS3Request;

    fn parse(body: LegacyS3Request, _: &PathValues) -> Result<(Self, SignedFields), ApiError> {
        let coldkey = required(body.coldkey.as_deref(), "coldkey")?;
        if coldkey.len() > 64 {
            return Err(ApiError::bad_request("Invalid coldkey"));
        }
        let sizes = body
            .file_sizes
            .as_ref()
            .map(|sizes| sizes.iter().map(|&n| u64::try_from(n)).collect::<Result<Vec<_>, _>>())
            .transpose()
            .map_err(|_| ApiError::bad_request("file_sizes must be >= 0"))?;
        let request = FolderAccessRequest {
            coldkey: coldkey.to_string(),
            files: body.files.clone().unwrap_or_default(),
            sizes,
            expiry: body.expiry,
        };
        Ok((request, legacy_fields(&body)))
    }

    fn values(&self) -> SignedValues<'_> {
        SignedValues::default().coldkey(&self.coldkey)
    }
}

/// A listing and read grant for one miner's folder, for validators.
///
/// `miner_url` lists the folder; name objects from that listing in `files` (relative to `prefix`) to get a
/// presigned GET for each.
#[utoipa::path(
    post,
    path = endpoint::MINER_ACCESS.path,
    tag = "s3",
    request_body(content = LegacyS3Request, content_type = "application/json"),
    responses(
        (status = 200, description = "Listing grant", body = MinerAccessResponse),
    ),
)]
async fn miner_access(
    State(app): State<Arc<App>>,
    Signed { caller, request, .. }: Signed<MinerAccessRequest>,
) -> Result<Json<MinerAccessResponse>, ApiError> {
    let grant = app.grant_miner_read(&caller, &request.read).await?;
    let narrowed = request.read.epoch.is_some();
    Ok(Json(MinerAccessResponse {
        bucket: grant.bucket,
        region: grant.region,
        miner_hotkey: request.read.miner.to_string(),
        miner_url: grant.list_url,
        prefix: grant.prefix,
        expiry: iso8601_millis(grant.expires.timestamp_millis()),
        download_urls: grant.download_urls,
        list_prefix: narrowed.then_some(grant.list_prefix),
    }))
}

/// `POST /get-miner-specific-access`, parsed.
struct MinerAccessRequest {
    read: MinerReadRequest,
    /// As the validator signed it.
    raw_miner: String,
}

impl SignedRequest for MinerAccessRequest {
    const ENDPOINT: &'static Endpoint = &endpoint::MINER_ACCESS;
    type Raw = LegacyS3Request;

    fn parse(body: LegacyS3Request, _: &PathValues) -> Result<(Self, SignedFields), ApiError> {
        let raw_miner = required(body.miner_hotkey.as_deref(), "miner_hotkey")?;
        let miner = parse_hotkey(Some(raw_miner), "miner_hotkey")?;
        let files = body.files.clone().unwrap_or_default();
        layout::check_object_names(&files).map_err(|e| ApiError::bad_request(e.to_string()))?;
        let epoch = body.epoch.as_deref().map(parse_value::<EpochId>).transpose()?;
        let read = MinerReadRequest { miner, epoch, paging: parse_paging(&body)?, files, expiry: body.expiry };
        Ok((MinerAccessRequest { read, raw_miner: raw_miner.to_string() }, legacy_fields(&body)))
    }

    fn values(&self) -> SignedValues<'_> {
        SignedValues::default().miner_hotkey(&self.raw_miner)
    }
}

/// A listing and read grant for every miner's data, for validators.
///
#[utoipa::path(
    post,
    path = endpoint::VALIDATOR_ACCESS.path,
    tag = "s3",
    request_body(content = LegacyS3Request, content_type = "application/json"),
    responses(
        (status = 200, description = "Listing grant", body = ValidatorAccessResponse),
    ),
)]
async fn validator_access(
    State(app): State<Arc<App>>,
    Signed { caller, request, .. }: Signed<ValidatorAccessRequest>,
) -> Result<Json<ValidatorAccessResponse>, ApiError> {
    let grant = app.grant_validator_read(&caller, &request.paging, request.expiry).await?;
    Ok(Json(ValidatorAccessResponse {
        bucket: grant.bucket,
        region: grant.region,
        validator_hotkey: caller.to_string(),
        expiry: iso8601_millis(grant.expires.timestamp_millis()),
        expiry_seconds: (grant.expires - grant.granted).num_seconds(),
        urls: ValidatorUrls {
            global: GlobalUrls { list_all_data: grant.list_all_url },
            miners: MinerUrls { list_all_miners: grant.list_miners_url },
        },
        structure_info: structure_info(),
    }))
}

/// `POST /get-validator-access`, parsed.
struct ValidatorAccessRequest {
    paging: ListPaging,
    expiry: Option<i64>,
}

impl SignedRequest for ValidatorAccessRequest {
    const ENDPOINT: &'static Endpoint = &endpoint::VALIDATOR_ACCESS;
    type Raw = LegacyS3Request;

    fn parse(body: LegacyS3Request, _: &PathValues) -> Result<(Self, SignedFields), ApiError> {
        if body.epoch.is_some() {
            return Err(ApiError::bad_request(
                "epoch narrows one miner's folder: ask /get-miner-specific-access for it",
            ));
        }
        let request = ValidatorAccessRequest { paging: parse_paging(&body)?, expiry: body.expiry };
        Ok((request, legacy_fields(&body)))
    }
}

/// An upload grant for a validator's results under `validators/{hotkey}/{epochId}/`.
///
#[utoipa::path(
    post,
    path = endpoint::VALIDATOR_UPLOAD.path,
    tag = "s3",
    request_body(content = ValidatorUploadRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Upload grant", body = ValidatorUploadResponse),
    ),
)]
async fn validator_upload(
    State(app): State<Arc<App>>,
    Signed { caller, request, .. }: Signed<ValidatorUploadGrantRequest>,
) -> Result<Json<ValidatorUploadResponse>, ApiError> {
    let grant = app.grant_validator_upload(&caller, request.epoch).await?;
    Ok(Json(ValidatorUploadResponse {
        success: true,
        message: format!("Upload access granted to {}", grant.folder),
        upload_url: grant.url.clone(),
        url: grant.url,
        fields: grant.fields.into_iter().collect(),
        metadata: UploadMetadata {
            folder_path: grant.folder,
            expires_at: iso8601_millis(grant.expires.timestamp_millis()),
            max_file_size: grant.max_file_size,
        },
    }))
}

/// `POST /api/v1/s3-access/validator-upload`, parsed.
struct ValidatorUploadGrantRequest {
    epoch: EpochId,
}

impl SignedRequest for ValidatorUploadGrantRequest {
    const ENDPOINT: &'static Endpoint = &endpoint::VALIDATOR_UPLOAD;
    type Raw = ValidatorUploadRequest;

    fn parse(body: ValidatorUploadRequest, _: &PathValues) -> Result<(Self, SignedFields), ApiError> {
        let epoch: EpochId = parse_value(required(body.epoch_id.as_deref(), "epochId")?)?;
        let fields = SignedFields { hotkey: body.hotkey, signature: body.signature, timestamp: body.timestamp };
        Ok((ValidatorUploadGrantRequest { epoch }, fields))
    }
}

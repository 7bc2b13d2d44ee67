//! The S3 access endpoints: a miner's upload grant for its own folder, validators' listings of miners' data,
//! and validators' upload of their results. Each grant is scoped to one prefix, expires, and is recorded.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    iso8601_millis, ErrorBody, FolderAccessResponse, FolderMetadata, GlobalUrls, LegacyS3Request, MinerAccessResponse,
    MinerUrls, ObjectUrl, StructureInfo, UploadMetadata, ValidatorAccessResponse, ValidatorUploadRequest,
    ValidatorUploadResponse, ValidatorUrls,
};
use crate::domain::auth::{Commitment, Hotkey, Role, TimestampWindow};
use crate::domain::epoch::EpochId;
use crate::domain::grant::{miner_folder, validator_folder, AccessGrant, GrantKind};
use crate::s3::{grant_expiry, S3Presigner, UploadMode};
use crate::service::{App, AppState};

use super::auth::{authenticate, parse_hotkey, required, Caller, Requirement, SignedFields};
use super::error::ApiError;
use super::extract::{parse_value, JsonBody};
use super::limits::{HotkeyClass, RateLimits};

/// Most object URLs (PUT or GET) handed out in one request.
const MAX_FILES: usize = 1_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(folder_access))
        .routes(routes!(miner_access))
        .routes(routes!(validator_access))
        .routes(routes!(validator_upload))
}

fn structure_info() -> StructureInfo {
    StructureInfo {
        folder_structure: super::health::FOLDER_STRUCTURE.into(),
        description: "Each miner writes only under data/hotkey={its hotkey}/; validators list and read every miner's \
                      folder and write results under validators/{their hotkey}/{epochId}/."
            .into(),
    }
}

fn now_utc(app: &App) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(app.now_ms()).unwrap_or_default()
}

/// The contract's rule for a body's `expiry`: when present it must not have passed.
fn check_expiry(expiry: Option<i64>, now_unix: i64) -> Result<(), ApiError> {
    match expiry {
        Some(expiry) if expiry < now_unix => Err(ApiError::bad_request("Invalid timestamp")),
        _ => Ok(()),
    }
}

fn legacy_fields(body: &LegacyS3Request) -> SignedFields<'_> {
    SignedFields { hotkey: body.hotkey.as_deref(), signature: body.signature.as_deref(), timestamp: body.timestamp }
}

async fn record(
    app: &App,
    caller: &Caller,
    kind: GrantKind,
    prefix: &str,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<(), ApiError> {
    let grant = AccessGrant {
        hotkey: caller.hotkey.clone(),
        kind,
        prefix: prefix.to_string(),
        granted_at_ms: now.timestamp_millis(),
        expires_at_ms: expires.timestamp_millis(),
    };
    Ok(app.record_grant(&grant).await?)
}

/// Object names a caller asked URLs for: relative, no `..`, bounded.
fn checked_files(files: &[String]) -> Result<&[String], ApiError> {
    if files.len() > MAX_FILES {
        return Err(ApiError::bad_request(format!("at most {MAX_FILES} files per request")));
    }
    for file in files {
        let bad = file.is_empty()
            || file.len() > 512
            || file.starts_with('/')
            || file.split('/').any(|segment| segment.is_empty() || segment == "." || segment == "..")
            || file.chars().any(char::is_control);
        if bad {
            return Err(ApiError::bad_request(format!(
                "invalid file name '{}': a relative path without empty, . or .. segments",
                file.chars().take(60).collect::<String>()
            )));
        }
    }
    Ok(files)
}

/// A presigned `method` URL for each of `files` below `folder`.
fn object_urls(
    presigner: &S3Presigner,
    method: &str,
    folder: &str,
    files: &[String],
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Vec<ObjectUrl> {
    files
        .iter()
        .map(|file| {
            let key = format!("{folder}{file}");
            ObjectUrl { url: presigner.object_url(method, &key, now, expires), key }
        })
        .collect()
}

/// An upload grant for the caller's own folder `data/hotkey={hotkey}/`, for registered miners.
///
/// Signed: `signature` is over `s3:data:access:{coldkey}:{hotkey}:{timestamp}`. In POST mode the answer is a
/// presigned POST policy (`url` + `fields`); in PUT mode, presigned PUT URLs for the body's `files`. 503 when
/// the service has no S3 store configured.
#[utoipa::path(
    post,
    path = "/get-folder-access",
    tag = "s3",
    request_body(content = LegacyS3Request, content_type = "application/json"),
    responses(
        (status = 200, description = "Upload grant", body = FolderAccessResponse),
        (status = 401, description = "Bad signature, or the hotkey is not registered", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ),
)]
async fn folder_access(
    State(app): State<AppState>,
    Extension(limits): Extension<Arc<RateLimits>>,
    JsonBody(body): JsonBody<LegacyS3Request>,
) -> Result<Json<FolderAccessResponse>, ApiError> {
    let presigner = app.s3()?;
    let coldkey = required(body.coldkey.as_deref(), "coldkey")?;
    if coldkey.len() > 64 {
        return Err(ApiError::bad_request("Invalid coldkey"));
    }
    check_expiry(body.expiry, app.now_unix())?;
    let caller = authenticate(
        &app,
        legacy_fields(&body),
        Requirement { window: TimestampWindow::S3, role: Role::Miner, class: HotkeyClass::S3Grant, limits: &limits },
        |hotkey, timestamp| vec![Commitment::FolderAccess { coldkey, hotkey, timestamp }.to_string()],
    )?;
    let settings = presigner.settings();
    let now = now_utc(&app);
    let expires = grant_expiry(now, settings.upload_lifetime, body.expiry);
    let list_expires = grant_expiry(now, settings.list_lifetime, body.expiry);
    let folder = miner_folder(&caller.hotkey);
    let (fields, put_urls) = match settings.upload_mode {
        UploadMode::Post => {
            let upload = presigner.post_upload(&folder, &folder, settings.object_size, now, expires);
            (upload.fields.into_iter().collect::<BTreeMap<_, _>>(), Vec::new())
        }
        UploadMode::Put => {
            let files = checked_files(body.files.as_deref().unwrap_or_default())?;
            (BTreeMap::new(), object_urls(presigner, "PUT", &folder, files, now, expires))
        }
    };
    record(&app, &caller, GrantKind::MinerFolder, &folder, now, expires).await?;
    let bucket_url = presigner.bucket_url();
    Ok(Json(FolderAccessResponse {
        success: true,
        message: format!("Upload access granted to {folder} until {}", iso8601_millis(expires.timestamp_millis())),
        folder: folder.clone(),
        url: bucket_url.clone(),
        upload_url: bucket_url,
        fields,
        expiry: iso8601_millis(expires.timestamp_millis()),
        list_url: presigner.list_url(&folder, None, now, list_expires),
        structure_info: structure_info(),
        metadata: FolderMetadata { folder_path: folder },
        upload_mode: settings.upload_mode.as_str().to_string(),
        put_urls,
    }))
}

/// A listing and read grant for one miner's folder, for validators.
///
/// Signed: `signature` is over `s3:validator:miner:{miner_hotkey}:{timestamp}`. `miner_url` lists the folder;
/// name objects from that listing in `files` (relative to `prefix`) to get a presigned GET for each.
#[utoipa::path(
    post,
    path = "/get-miner-specific-access",
    tag = "s3",
    request_body(content = LegacyS3Request, content_type = "application/json"),
    responses(
        (status = 200, description = "Listing grant", body = MinerAccessResponse),
        (status = 401, description = "Bad signature, or the hotkey is not registered", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 403, description = "No validator permit, or stake below the minimum", body = ErrorBody),
    ),
)]
async fn miner_access(
    State(app): State<AppState>,
    Extension(limits): Extension<Arc<RateLimits>>,
    JsonBody(body): JsonBody<LegacyS3Request>,
) -> Result<Json<MinerAccessResponse>, ApiError> {
    let presigner = app.s3()?;
    let raw_miner = required(body.miner_hotkey.as_deref(), "miner_hotkey")?;
    let miner: Hotkey = parse_hotkey(Some(raw_miner), "miner_hotkey")?;
    let files = checked_files(body.files.as_deref().unwrap_or_default())?;
    check_expiry(body.expiry, app.now_unix())?;
    let caller = authenticate(
        &app,
        legacy_fields(&body),
        Requirement {
            window: TimestampWindow::S3,
            role: Role::Validator,
            class: HotkeyClass::ValidatorBurst,
            limits: &limits,
        },
        |_, timestamp| vec![Commitment::MinerSpecificAccess { miner_hotkey: raw_miner, timestamp }.to_string()],
    )?;
    let settings = presigner.settings();
    let now = now_utc(&app);
    let expires = grant_expiry(now, settings.list_lifetime, body.expiry);
    let prefix = miner_folder(&miner);
    record(&app, &caller, GrantKind::MinerRead, &prefix, now, expires).await?;
    let download_urls = object_urls(presigner, "GET", &prefix, files, now, expires);
    Ok(Json(MinerAccessResponse {
        bucket: settings.bucket.clone(),
        region: settings.region.clone(),
        miner_hotkey: miner.to_string(),
        miner_url: presigner.list_url(&prefix, None, now, expires),
        prefix,
        expiry: iso8601_millis(expires.timestamp_millis()),
        download_urls,
    }))
}

/// A listing and read grant for every miner's data, for validators.
///
/// Signed: `signature` is over `s3:validator:access:{timestamp}`.
#[utoipa::path(
    post,
    path = "/get-validator-access",
    tag = "s3",
    request_body(content = LegacyS3Request, content_type = "application/json"),
    responses(
        (status = 200, description = "Listing grant", body = ValidatorAccessResponse),
        (status = 401, description = "Bad signature, or the hotkey is not registered", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 403, description = "No validator permit, or stake below the minimum", body = ErrorBody),
    ),
)]
async fn validator_access(
    State(app): State<AppState>,
    Extension(limits): Extension<Arc<RateLimits>>,
    JsonBody(body): JsonBody<LegacyS3Request>,
) -> Result<Json<ValidatorAccessResponse>, ApiError> {
    let presigner = app.s3()?;
    check_expiry(body.expiry, app.now_unix())?;
    let caller = authenticate(
        &app,
        legacy_fields(&body),
        Requirement {
            window: TimestampWindow::S3,
            role: Role::Validator,
            class: HotkeyClass::S3Grant,
            limits: &limits,
        },
        |_, timestamp| vec![Commitment::ValidatorAccess { timestamp }.to_string()],
    )?;
    let settings = presigner.settings();
    let now = now_utc(&app);
    let expires = grant_expiry(now, settings.list_lifetime, body.expiry);
    let prefix = "data/hotkey=";
    record(&app, &caller, GrantKind::ValidatorRead, prefix, now, expires).await?;
    Ok(Json(ValidatorAccessResponse {
        bucket: settings.bucket.clone(),
        region: settings.region.clone(),
        validator_hotkey: caller.hotkey.to_string(),
        expiry: iso8601_millis(expires.timestamp_millis()),
        expiry_seconds: (expires - now).num_seconds(),
        urls: ValidatorUrls {
            global: GlobalUrls { list_all_data: presigner.list_url(prefix, None, now, expires) },
            miners: MinerUrls { list_all_miners: presigner.list_url(prefix, Some("/"), now, expires) },
        },
        structure_info: structure_info(),
    }))
}

/// An upload grant for a validator's results under `validators/{hotkey}/{epochId}/`.
///
/// Signed: `signature` is over `s3:validator:upload:{timestamp}`.
#[utoipa::path(
    post,
    path = "/api/v1/s3-access/validator-upload",
    tag = "s3",
    request_body(content = ValidatorUploadRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Upload grant", body = ValidatorUploadResponse),
        (status = 401, description = "Bad signature, or the hotkey is not registered", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 403, description = "No validator permit, or stake below the minimum", body = ErrorBody),
    ),
)]
async fn validator_upload(
    State(app): State<AppState>,
    Extension(limits): Extension<Arc<RateLimits>>,
    JsonBody(body): JsonBody<ValidatorUploadRequest>,
) -> Result<Json<ValidatorUploadResponse>, ApiError> {
    let presigner = app.s3()?;
    let raw_epoch = required(body.epoch_id.as_deref(), "epochId")?;
    let epoch: EpochId = parse_value(raw_epoch)?;
    let fields = SignedFields {
        hotkey: body.hotkey.as_deref(),
        signature: body.signature.as_deref(),
        timestamp: body.timestamp,
    };
    let caller = authenticate(
        &app,
        fields,
        Requirement {
            window: TimestampWindow::S3,
            role: Role::Validator,
            class: HotkeyClass::S3Grant,
            limits: &limits,
        },
        |_, timestamp| vec![Commitment::ValidatorUpload { timestamp }.to_string()],
    )?;
    let settings = presigner.settings();
    let now = now_utc(&app);
    let expires = grant_expiry(now, settings.upload_lifetime, None);
    let policy_prefix = format!("validators/{}/", caller.hotkey);
    let folder = validator_folder(&caller.hotkey, epoch);
    let max_file_size = settings.object_size.1;
    let upload = presigner.post_upload(&policy_prefix, &folder, (1, max_file_size), now, expires);
    record(&app, &caller, GrantKind::ValidatorUpload, &folder, now, expires).await?;
    Ok(Json(ValidatorUploadResponse {
        success: true,
        message: format!("Upload access granted to {folder}"),
        upload_url: upload.url.clone(),
        url: upload.url,
        fields: upload.fields.into_iter().collect(),
        metadata: UploadMetadata {
            folder_path: folder,
            expires_at: iso8601_millis(expires.timestamp_millis()),
            max_file_size,
        },
    }))
}

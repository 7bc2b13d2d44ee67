//! The S3 access endpoints' wire types: the legacy snake_case bodies of `/get-folder-access`,
//! `/get-miner-specific-access` and `/get-validator-access`, and the camelCase validator upload.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Body of the legacy S3 endpoints (snake_case). Every field optional here so a missing one gets a precise
/// message; `timestamp` and `expiry` are Unix seconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct LegacyS3Request {
    /// The caller's hotkey (SS58); required unless the request is Epistula-signed (then, if sent, the signer).
    #[schema(value_type = String, example = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")]
    pub hotkey: Option<String>,
    /// Signature over the endpoint's commitment string (see the endpoint).
    /// Required unless the request is Epistula-signed.
    #[schema(value_type = String, example = "8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a")]
    pub signature: Option<String>,
    /// Unix seconds; from 300 s before to 60 s after the server's clock.
    /// Required unless the request is Epistula-signed.
    #[schema(value_type = i64, example = 1759338000)]
    pub timestamp: Option<i64>,
    /// `/get-folder-access`: the miner's coldkey, part of the signed commitment.
    #[schema(example = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty")]
    pub coldkey: Option<String>,
    /// `/get-miner-specific-access`: the miner whose folder to list.
    #[schema(example = "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y")]
    pub miner_hotkey: Option<String>,
    /// Optional Unix seconds at which the grant should expire; it can only shorten the server's lifetime.
    pub expiry: Option<i64>,
    /// Object names relative to the miner's folder: `/get-folder-access` in PUT upload mode presigns a PUT for
    /// each, `/get-miner-specific-access` a GET (how validators download what they listed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
    /// `/get-folder-access` in PUT upload mode: each of `files`' size in bytes, in the same order. With them each
    /// PUT URL signs its `Content-Length`, so the store refuses an upload of another size (an addition to the
    /// contract; without them the URLs sign the host only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = json!([48213, 1024]))]
    pub file_sizes: Option<Vec<i64>>,
    /// `/get-miner-specific-access`: list only this epoch's work, `data/hotkey={miner}/epoch={epoch}/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "2025-10-01T16-00-00")]
    pub epoch: Option<String>,
    /// Listing grants: list the keys after this one (a key inside the listed prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after: Option<String>,
    /// Listing grants: the previous page's `NextContinuationToken`, for the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
    /// Listing grants: at most this many keys per page, 1 to 1,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_keys: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StructureInfo {
    pub folder_structure: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FolderMetadata {
    #[serde(rename = "folderPath")]
    pub folder_path: String,
}

/// A presigned URL for one object: a PUT (miners, PUT upload mode) or a GET (validators reading a miner's files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ObjectUrl {
    pub key: String,
    pub url: String,
}

/// `POST /get-folder-access`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FolderAccessResponse {
    pub success: bool,
    pub message: String,
    pub folder: String,
    pub url: String,
    #[serde(rename = "uploadUrl")]
    pub upload_url: String,
    /// Presigned POST form fields (POST mode); empty in PUT mode.
    pub fields: BTreeMap<String, String>,
    pub expiry: String,
    pub list_url: String,
    pub structure_info: StructureInfo,
    pub metadata: FolderMetadata,
    pub upload_mode: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub put_urls: Vec<ObjectUrl>,
}

/// `POST /get-miner-specific-access`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MinerAccessResponse {
    pub bucket: String,
    pub region: String,
    pub miner_hotkey: String,
    pub prefix: String,
    pub miner_url: String,
    pub expiry: String,
    /// Presigned GETs for the `files` the request named (relative to `prefix`); absent when it named none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub download_urls: Vec<ObjectUrl>,
    /// What `miner_url` lists when the request named an `epoch`: `data/hotkey={miner}/epoch={epoch}/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_prefix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GlobalUrls {
    pub list_all_data: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MinerUrls {
    pub list_all_miners: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ValidatorUrls {
    pub global: GlobalUrls,
    pub miners: MinerUrls,
}

/// `POST /get-validator-access`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ValidatorAccessResponse {
    pub bucket: String,
    pub region: String,
    pub validator_hotkey: String,
    pub expiry: String,
    pub expiry_seconds: i64,
    pub urls: ValidatorUrls,
    pub structure_info: StructureInfo,
}

/// `POST /api/v1/s3-access/validator-upload` (camelCase).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorUploadRequest {
    /// The caller's hotkey (SS58); required unless the request is Epistula-signed (then, if sent, the signer).
    #[schema(value_type = String, example = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY")]
    pub hotkey: Option<String>,
    /// Signature over `s3:validator:upload:{timestamp}`.
    /// Required unless the request is Epistula-signed.
    #[schema(value_type = String, example = "8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a8e1f4c2a")]
    pub signature: Option<String>,
    /// Unix seconds; from 300 s before to 60 s after the server's clock.
    /// Required unless the request is Epistula-signed.
    #[schema(value_type = i64, example = 1759338000)]
    pub timestamp: Option<i64>,
    /// The epoch the results belong to.
    #[schema(required = true, value_type = String, example = "2025-10-01T16-00-00")]
    pub epoch_id: Option<String>,
    pub purpose: Option<String>,
    pub estimated_data_size_mb: Option<f64>,
    pub retention_days: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadMetadata {
    pub folder_path: String,
    pub expires_at: String,
    pub max_file_size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorUploadResponse {
    pub success: bool,
    pub message: String,
    pub upload_url: String,
    pub url: String,
    pub fields: BTreeMap<String, String>,
    pub metadata: UploadMetadata,
}

//! The S3 grants: a miner's upload access to its own folder, a validator's listing and reading of one miner's
//! folder or of every miner's data, and a validator's upload of its results. Each grant is scoped to one
//! prefix of the layout, expires, and is recorded for audit.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::api::ObjectUrl;
use crate::domain::access::grant::{AccessGrant, GrantKind};
use crate::domain::access::layout;
use crate::domain::epoch::EpochId;
use crate::domain::hotkey::Hotkey;
use crate::s3::{grant_expiry, ListPaging, S3Presigner, UploadMode};

use super::{App, AppError, AppResult};

/// A miner's upload grant for its folder.
pub struct MinerFolderGrant {
    pub folder: String,
    pub bucket_url: String,
    pub upload_mode: UploadMode,
    /// POST mode: the policy's form fields.
    pub fields: BTreeMap<String, String>,
    /// PUT mode: a presigned PUT per named file.
    pub put_urls: Vec<ObjectUrl>,
    pub list_url: String,
    pub expires: DateTime<Utc>,
}

/// A validator's listing and read grant for one miner's folder.
pub struct MinerReadGrant {
    pub bucket: String,
    pub region: String,
    /// The miner's folder; `files` and download keys are relative to it.
    pub prefix: String,
    /// What `list_url` lists: the folder, or one epoch's work in it.
    pub list_prefix: String,
    pub list_url: String,
    pub download_urls: Vec<ObjectUrl>,
    pub expires: DateTime<Utc>,
}

/// A validator's listing grant for every miner's data.
pub struct ValidatorReadGrant {
    pub bucket: String,
    pub region: String,
    pub list_all_url: String,
    /// Lists the miners' folders (delimiter `/`).
    pub list_miners_url: String,
    pub granted: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

/// A validator's upload grant for its results of one epoch.
pub struct ValidatorUploadGrant {
    pub folder: String,
    pub url: String,
    pub fields: Vec<(String, String)>,
    pub max_file_size: u64,
    pub expires: DateTime<Utc>,
}

impl App {
    /// The S3 presigner, or why there is none (503 naming the missing settings).
    pub(super) fn presigner(&self) -> AppResult<&S3Presigner> {
        self.s3.as_ref().map_err(|missing| AppError::S3Unavailable(missing.clone()))
    }

    /// Whether the S3 endpoints can answer; checked before anything else about their requests.
    pub fn s3_available(&self) -> AppResult<()> {
        self.presigner().map(|_| ())
    }

    pub(super) fn now_utc(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.now_ms()).unwrap_or_default()
    }

    /// The contract's rule for a body's `expiry`: when present it must not have passed.
    fn check_expiry(&self, expiry: Option<i64>) -> AppResult<()> {
        match expiry {
            Some(expiry) if expiry < self.now_unix() => Err(AppError::Rejected("Invalid timestamp".to_string())),
            _ => Ok(()),
        }
    }

    async fn record_grant(
        &self,
        hotkey: &Hotkey,
        kind: GrantKind,
        prefix: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> AppResult<()> {
        let grant = AccessGrant {
            hotkey: hotkey.clone(),
            kind,
            prefix: prefix.to_string(),
            granted_at_ms: now.timestamp_millis(),
            expires_at_ms: expires.timestamp_millis(),
        };
        self.store.record_grant(&grant).await?;
        crate::metrics::s3_grant(kind.as_str());
        tracing::info!(hotkey = %grant.hotkey, kind = %grant.kind, prefix = %grant.prefix, "S3 access granted");
        Ok(())
    }

    /// Upload access to `miner`'s own folder: a POST policy, or in PUT mode a presigned PUT for each of `files`,
    /// signing each one's size when `sizes` gives them (in the order of `files`).
    pub async fn grant_miner_folder(
        &self,
        miner: &Hotkey,
        files: &[String],
        sizes: Option<&[u64]>,
        expiry: Option<i64>,
    ) -> AppResult<MinerFolderGrant> {
        let presigner = self.presigner()?;
        self.check_expiry(expiry)?;
        let settings = presigner.settings();
        let now = self.now_utc();
        let expires = grant_expiry(now, settings.upload_lifetime, expiry);
        let list_expires = grant_expiry(now, settings.list_lifetime, expiry);
        let folder = layout::miner_folder(miner);
        let (fields, put_urls) = match settings.upload_mode {
            UploadMode::Post => {
                let upload = presigner.post_upload(&folder, &folder, settings.object_size, now, expires);
                (upload.fields.into_iter().collect(), Vec::new())
            }
            UploadMode::Put => {
                layout::check_object_names(files).map_err(|e| AppError::Rejected(e.to_string()))?;
                if let Some(sizes) = sizes {
                    check_sizes(files, sizes, settings.object_size)?;
                }
                (BTreeMap::new(), object_urls(presigner, "PUT", &folder, files, sizes, now, expires))
            }
        };
        self.record_grant(miner, GrantKind::MinerFolder, &folder, now, expires).await?;
        Ok(MinerFolderGrant {
            bucket_url: presigner.bucket_url(),
            upload_mode: settings.upload_mode,
            fields,
            put_urls,
            list_url: presigner.list_url(&folder, None, &ListPaging::default(), now, list_expires),
            folder,
            expires,
        })
    }

    /// A validator's listing of `miner`'s folder (or of one `epoch`'s work in it, from where `paging` says),
    /// with a presigned GET for each of `files` (relative to the folder).
    pub async fn grant_miner_read(&self, validator: &Hotkey, request: &MinerReadRequest) -> AppResult<MinerReadGrant> {
        let presigner = self.presigner()?;
        self.check_expiry(request.expiry)?;
        let settings = presigner.settings();
        let now = self.now_utc();
        let expires = grant_expiry(now, settings.list_lifetime, request.expiry);
        let prefix = layout::miner_folder(&request.miner);
        let list_prefix = match request.epoch {
            Some(epoch) => format!("{prefix}{}", layout::epoch_folder(epoch)),
            None => prefix.clone(),
        };
        check_paging(&request.paging, &list_prefix)?;
        self.record_grant(validator, GrantKind::MinerRead, &list_prefix, now, expires).await?;
        Ok(MinerReadGrant {
            bucket: settings.bucket.clone(),
            region: settings.region.clone(),
            list_url: presigner.list_url(&list_prefix, None, &request.paging, now, expires),
            list_prefix,
            download_urls: object_urls(presigner, "GET", &prefix, &request.files, None, now, expires),
            prefix,
            expires,
        })
    }

    /// A validator's listing of every miner's data, from where `paging` says.
    pub async fn grant_validator_read(
        &self,
        validator: &Hotkey,
        paging: &ListPaging,
        expiry: Option<i64>,
    ) -> AppResult<ValidatorReadGrant> {
        let presigner = self.presigner()?;
        self.check_expiry(expiry)?;
        check_paging(paging, layout::MINERS_PREFIX)?;
        let settings = presigner.settings();
        let now = self.now_utc();
        let expires = grant_expiry(now, settings.list_lifetime, expiry);
        let prefix = layout::MINERS_PREFIX;
        self.record_grant(validator, GrantKind::ValidatorRead, prefix, now, expires).await?;
        Ok(ValidatorReadGrant {
            bucket: settings.bucket.clone(),
            region: settings.region.clone(),
            list_all_url: presigner.list_url(prefix, None, paging, now, expires),
            list_miners_url: presigner.list_url(prefix, Some("/"), paging, now, expires),
            granted: now,
            expires,
        })
    }

    /// A validator's upload of its results for `epoch` under `validators/{hotkey}/{epochId}/`.
    pub async fn grant_validator_upload(&self, validator: &Hotkey, epoch: EpochId) -> AppResult<ValidatorUploadGrant> {
        let presigner = self.presigner()?;
        let started = self.settings.epochs.clock.is_boundary(epoch) && epoch <= self.current_epoch_id();
        if !started || epoch.start_unix() < self.retention_cutoff_unix() {
            return Err(AppError::Rejected(format!(
                "Epoch {epoch} is not an epoch that has started within the retention period"
            )));
        }
        let settings = presigner.settings();
        let now = self.now_utc();
        let expires = grant_expiry(now, settings.upload_lifetime, None);
        let folder = layout::validator_folder(validator, epoch);
        let max_file_size = settings.object_size.1;
        let upload =
            presigner.post_upload(&layout::validator_prefix(validator), &folder, (1, max_file_size), now, expires);
        self.record_grant(validator, GrantKind::ValidatorUpload, &folder, now, expires).await?;
        Ok(ValidatorUploadGrant { folder, url: upload.url, fields: upload.fields, max_file_size, expires })
    }
}

/// What a validator asks of one miner's folder.
pub struct MinerReadRequest {
    pub miner: Hotkey,
    /// List only this epoch's work.
    pub epoch: Option<EpochId>,
    pub paging: ListPaging,
    /// Objects (relative to the folder) to presign GETs for.
    pub files: Vec<String>,
    pub expiry: Option<i64>,
}

/// One size per file, each within the store's object size range.
fn check_sizes(files: &[String], sizes: &[u64], (min, max): (u64, u64)) -> AppResult<()> {
    if sizes.len() != files.len() {
        return Err(AppError::Rejected(format!(
            "file_sizes has {} entries for {} files: give one size per file, in the same order",
            sizes.len(),
            files.len()
        )));
    }
    match files.iter().zip(sizes).find(|(_, size)| !(min..=max).contains(*size)) {
        Some((file, size)) => {
            Err(AppError::Rejected(format!("{file} would be {size} bytes; objects must be {min} to {max} bytes")))
        }
        None => Ok(()),
    }
}

/// A listing may start only after a key inside what it lists.
fn check_paging(paging: &ListPaging, list_prefix: &str) -> AppResult<()> {
    match &paging.start_after {
        Some(key) if !key.starts_with(list_prefix) => {
            Err(AppError::Rejected(format!("start_after must be a key under {list_prefix}")))
        }
        _ => Ok(()),
    }
}

/// A presigned `method` URL for each of `files` below `folder`.
fn object_urls(
    presigner: &S3Presigner,
    method: &str,
    folder: &str,
    files: &[String],
    sizes: Option<&[u64]>,
    now: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Vec<ObjectUrl> {
    files
        .iter()
        .enumerate()
        .map(|(n, file)| {
            let key = format!("{folder}{file}");
            let size = sizes.and_then(|sizes| sizes.get(n).copied());
            ObjectUrl { url: presigner.object_url(method, &key, size, now, expires), key }
        })
        .collect()
}

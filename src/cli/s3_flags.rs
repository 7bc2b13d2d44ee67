//! The S3 store's flags and `ZIPCOORD_S3_*` environment variables, turned into the store's settings (the
//! server's and `bucket prune`'s).

use clap::Args;

use super::flag_error::FlagError;
use super::secret_text::SecretText;
use crate::s3::{Addressing, S3Secret, S3Settings, UploadMode};
use crate::settings::{defaults, s3_store, S3Config};

/// The S3 store behind the access endpoints. Unset: those endpoints answer 503 naming what is missing.
#[derive(Debug, Clone, Args)]
pub struct S3Args {
    /// Endpoint URL (`scheme://host[:port]`); defaults to AWS's regional endpoint.
    #[arg(long = "s3-endpoint", env = "ZIPCOORD_S3_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Region used in signatures (`us-east-1`, `nyc3`, `auto` for R2).
    #[arg(long = "s3-region", env = "ZIPCOORD_S3_REGION", default_value = defaults::S3_REGION)]
    pub region: String,
    #[arg(long = "s3-bucket", env = "ZIPCOORD_S3_BUCKET")]
    pub bucket: Option<String>,
    #[arg(long = "s3-access-key-id", env = "ZIPCOORD_S3_ACCESS_KEY_ID", hide_env_values = true)]
    pub access_key_id: Option<String>,
    #[arg(long = "s3-secret-access-key", env = "ZIPCOORD_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_access_key: Option<SecretText>,
    /// Temporary credentials' session token, if any.
    #[arg(long = "s3-session-token", env = "ZIPCOORD_S3_SESSION_TOKEN", hide_env_values = true)]
    pub session_token: Option<SecretText>,
    /// Path-style URLs (`endpoint/bucket/key`) instead of virtual-host style (`bucket.endpoint/key`).
    #[arg(long = "s3-path-style", env = "ZIPCOORD_S3_PATH_STYLE", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub path_style: bool,
    /// `post` (signed POST policies) or `put` (presigned PUT URLs, for stores without POST uploads such as R2).
    #[arg(long = "s3-upload-mode", env = "ZIPCOORD_S3_UPLOAD_MODE", value_enum, default_value = "post")]
    pub upload_mode: UploadMode,
    /// Hours an upload grant stays valid (a client's `expiry` can shorten it).
    #[arg(long = "s3-upload-lifetime-hours", env = "ZIPCOORD_S3_UPLOAD_LIFETIME_HOURS", default_value_t = defaults::S3_UPLOAD_LIFETIME_HOURS, value_parser = clap::value_parser!(u32).range(1..=168))]
    pub upload_lifetime_hours: u32,
    /// Hours a listing URL stays valid.
    #[arg(long = "s3-list-lifetime-hours", env = "ZIPCOORD_S3_LIST_LIFETIME_HOURS", default_value_t = defaults::S3_LIST_LIFETIME_HOURS, value_parser = clap::value_parser!(u32).range(1..=168))]
    pub list_lifetime_hours: u32,
    /// Smallest object a miner may upload, in bytes.
    #[arg(long = "s3-min-object-bytes", env = "ZIPCOORD_S3_MIN_OBJECT_BYTES", default_value_t = defaults::S3_MIN_OBJECT_BYTES)]
    pub min_object_bytes: u64,
    /// Largest object a miner may upload, in bytes.
    #[arg(long = "s3-max-object-bytes", env = "ZIPCOORD_S3_MAX_OBJECT_BYTES", default_value_t = defaults::S3_MAX_OBJECT_BYTES)]
    pub max_object_bytes: u64,
}

impl S3Args {
    /// Names the settings still missing for S3 access, if any (the access endpoints answer 503 with it).
    pub fn missing(&self) -> Option<String> {
        let missing: Vec<&str> = [
            ("ZIPCOORD_S3_BUCKET", self.bucket.is_none()),
            ("ZIPCOORD_S3_ACCESS_KEY_ID", self.access_key_id.is_none()),
            ("ZIPCOORD_S3_SECRET_ACCESS_KEY", self.secret_access_key.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, absent)| absent.then_some(name))
        .collect();
        (!missing.is_empty()).then(|| format!("S3 storage is not configured: set {}", missing.join(", ")))
    }

    /// Whether these flags name a store of their own (endpoint, bucket or credentials): with `serve --dev` they
    /// then win over the embedded store, even when incomplete.
    pub fn names_a_store(&self) -> bool {
        self.endpoint.is_some()
            || self.bucket.is_some()
            || self.access_key_id.is_some()
            || self.secret_access_key.is_some()
            || self.session_token.is_some()
    }

    /// The store's settings, `Ok(Err(what is missing))` when not configured, `Err` when configured wrongly (a
    /// startup error).
    pub fn settings(&self) -> Result<S3Config, FlagError> {
        if let Some(missing) = self.missing() {
            return Ok(Err(missing));
        }
        let endpoint = self.endpoint.clone().unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", self.region));
        let secret = S3Secret::new(self.secret_access_key.as_ref().map(|s| s.expose()).unwrap_or_default());
        let store = s3_store(
            &endpoint,
            self.bucket.as_deref().unwrap_or_default(),
            self.access_key_id.as_deref().unwrap_or_default(),
            secret,
        )?;
        let store = S3Settings {
            session_token: self.session_token.as_ref().map(|s| S3Secret::new(s.expose())),
            addressing: if self.path_style { Addressing::Path } else { Addressing::VirtualHost },
            ..store
        };
        self.tune(store).map(Ok)
    }

    /// `store` (an endpoint, a bucket and its keys) with these flags' region, upload mode, lifetimes and object
    /// sizes: how `serve --dev` applies them to its embedded store.
    pub fn tune(&self, store: S3Settings) -> Result<S3Settings, FlagError> {
        if self.min_object_bytes > self.max_object_bytes {
            return Err(FlagError::S3ObjectSizes);
        }
        Ok(S3Settings {
            region: self.region.clone(),
            upload_mode: self.upload_mode,
            upload_lifetime: chrono::Duration::hours(i64::from(self.upload_lifetime_hours)),
            list_lifetime: chrono::Duration::hours(i64::from(self.list_lifetime_hours)),
            object_size: (self.min_object_bytes, self.max_object_bytes),
            ..store
        })
    }
}

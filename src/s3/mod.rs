//! The S3 store behind the access endpoints: its settings, and the narrowly scoped, short-lived grants zipcoord
//! hands out (presigned POST policies, ListObjectsV2 and object URLs). zipcoord is the only holder of the bucket
//! keys; every grant is limited to one prefix and expires.

pub mod sigv4;

use std::fmt;

use chrono::{DateTime, Duration, Utc};

use sigv4::{presign_url, sign_post_policy, uri_encode, PresignRequest, SigningCredentials};

/// How object URLs name the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// `https://endpoint/bucket/key` (MinIO, s3s, R2, most self-hosted stores).
    Path,
    /// `https://bucket.endpoint/key` (AWS, DigitalOcean Spaces).
    VirtualHost,
}

/// How miners upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UploadMode {
    /// Browser-style POST with a signed policy (AWS, Spaces, MinIO).
    Post,
    /// Presigned PUT URLs per object, for stores without POST uploads (Cloudflare R2).
    Put,
}

impl UploadMode {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadMode::Post => "post",
            UploadMode::Put => "put",
        }
    }
}

/// A credential that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Secret(String);

impl S3Secret {
    pub fn new(value: impl Into<String>) -> Self {
        S3Secret(value.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for S3Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Everything needed to sign grants for one bucket.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// `http` or `https`.
    pub scheme: String,
    /// `host[:port]` of the endpoint, without the bucket.
    pub endpoint_host: String,
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    pub secret_access_key: S3Secret,
    pub session_token: Option<S3Secret>,
    pub addressing: Addressing,
    pub upload_mode: UploadMode,
    pub upload_lifetime: Duration,
    pub list_lifetime: Duration,
    /// Inclusive object size bounds for miners' uploads, in bytes.
    pub object_size: (u64, u64),
}

/// Where a ListObjectsV2 starts and how many keys it returns. A presigned URL fixes its whole query, so a
/// client that pages asks for a new listing grant with these values signed in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPaging {
    /// List keys after this one.
    pub start_after: Option<String>,
    /// The `NextContinuationToken` of the previous page.
    pub continuation_token: Option<String>,
    /// At most this many keys (S3 answers at most 1,000 per page).
    pub max_keys: Option<u16>,
}

/// Most keys S3 returns in one ListObjectsV2 page.
pub const MAX_KEYS_PER_PAGE: u16 = 1_000;

/// A presigned POST upload: where to send it and the form fields to send before `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostUpload {
    pub url: String,
    /// Includes `key` = prefix + the literal `${filename}`.
    pub fields: Vec<(String, String)>,
}

/// An S3 endpoint that is not `scheme://host[:port]` (the endpoint as given, trimmed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadEndpoint {
    #[error("S3 endpoint '{0}' must start with http:// or https://")]
    Scheme(String),
    #[error("S3 endpoint '{0}' must be scheme://host[:port] without a path")]
    NotJustAHost(String),
}

/// Splits an endpoint URL into scheme and host; a path is not allowed (the bucket is added by addressing).
pub fn parse_endpoint(endpoint: &str) -> Result<(String, String), BadEndpoint> {
    let trimmed = endpoint.trim().trim_end_matches('/');
    let (scheme, host) = trimmed.split_once("://").ok_or_else(|| BadEndpoint::Scheme(trimmed.to_string()))?;
    if scheme != "http" && scheme != "https" {
        return Err(BadEndpoint::Scheme(trimmed.to_string()));
    }
    if host.is_empty() || host.contains('/') || host.contains('?') || host.contains('@') {
        return Err(BadEndpoint::NotJustAHost(trimmed.to_string()));
    }
    Ok((scheme.to_string(), host.to_string()))
}

/// Signs grants for the configured bucket.
#[derive(Debug, Clone)]
pub struct S3Presigner {
    settings: S3Settings,
}

impl S3Presigner {
    pub fn new(settings: S3Settings) -> Self {
        S3Presigner { settings }
    }

    pub fn settings(&self) -> &S3Settings {
        &self.settings
    }

    fn credentials(&self) -> SigningCredentials<'_> {
        SigningCredentials {
            access_key_id: &self.settings.access_key_id,
            secret_access_key: self.settings.secret_access_key.expose(),
            session_token: self.settings.session_token.as_ref().map(S3Secret::expose),
            region: &self.settings.region,
        }
    }

    fn host(&self) -> String {
        match self.settings.addressing {
            Addressing::Path => self.settings.endpoint_host.clone(),
            Addressing::VirtualHost => format!("{}.{}", self.settings.bucket, self.settings.endpoint_host),
        }
    }

    fn bucket_path(&self) -> String {
        match self.settings.addressing {
            Addressing::Path => format!("/{}", uri_encode(&self.settings.bucket, false)),
            Addressing::VirtualHost => "/".to_string(),
        }
    }

    fn object_path(&self, key: &str) -> String {
        match self.settings.addressing {
            Addressing::Path => format!("/{}/{}", uri_encode(&self.settings.bucket, false), uri_encode(key, true)),
            Addressing::VirtualHost => format!("/{}", uri_encode(key, true)),
        }
    }

    /// The bucket's URL: where POST uploads go.
    pub fn bucket_url(&self) -> String {
        format!("{}://{}{}", self.settings.scheme, self.host(), self.bucket_path())
    }

    /// A POST policy for keys under `policy_prefix`, with `fields.key` = `key_folder${filename}` (the folder
    /// lies inside the policy prefix).
    pub fn post_upload(
        &self,
        policy_prefix: &str,
        key_folder: &str,
        size_range: (u64, u64),
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> PostUpload {
        let signed =
            sign_post_policy(&self.credentials(), &self.settings.bucket, policy_prefix, size_range, now, expires_at);
        let mut fields = vec![("key".to_string(), format!("{key_folder}${{filename}}"))];
        fields.extend(signed.fields);
        PostUpload { url: self.bucket_url(), fields }
    }

    fn lifetime_seconds(now: DateTime<Utc>, expires_at: DateTime<Utc>) -> u64 {
        (expires_at - now).num_seconds().max(1) as u64
    }

    /// A presigned ListObjectsV2 of `prefix` (with `delimiter`, when given), from where `paging` says.
    pub fn list_url(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        paging: &ListPaging,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> String {
        let max_keys = paging.max_keys.map(|n| n.to_string());
        let mut query = vec![("list-type", "2"), ("prefix", prefix)];
        let optional = [
            ("delimiter", delimiter),
            ("start-after", paging.start_after.as_deref()),
            ("continuation-token", paging.continuation_token.as_deref()),
            ("max-keys", max_keys.as_deref()),
        ];
        query.extend(optional.into_iter().filter_map(|(name, value)| Some((name, value?))));
        let host = self.host();
        let path = self.bucket_path();
        let request = PresignRequest {
            method: "GET",
            scheme: &self.settings.scheme,
            host: &host,
            canonical_path: &path,
            query: &query,
            expires_seconds: Self::lifetime_seconds(now, expires_at),
            content_length: None,
        };
        presign_url(&self.credentials(), &request, now)
    }

    /// A presigned `GET` (read), `DELETE` or `PUT` (upload) of one object; a `PUT` of a known size signs it.
    pub fn object_url(
        &self,
        method: &str,
        key: &str,
        content_length: Option<u64>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> String {
        let host = self.host();
        let path = self.object_path(key);
        let request = PresignRequest {
            method,
            scheme: &self.settings.scheme,
            host: &host,
            canonical_path: &path,
            query: &[],
            expires_seconds: Self::lifetime_seconds(now, expires_at),
            content_length,
        };
        presign_url(&self.credentials(), &request, now)
    }
}

/// When a grant expires: its default lifetime from now, shortened (never extended) by a client's `expiry`.
pub fn grant_expiry(now: DateTime<Utc>, lifetime: Duration, client_expiry_unix: Option<i64>) -> DateTime<Utc> {
    let default = now + lifetime;
    match client_expiry_unix.and_then(|e| DateTime::<Utc>::from_timestamp(e, 0)) {
        Some(requested) if requested < default => requested.max(now + Duration::seconds(1)),
        _ => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(addressing: Addressing) -> S3Settings {
        S3Settings {
            scheme: "https".into(),
            endpoint_host: "nyc3.digitaloceanspaces.com".into(),
            region: "nyc3".into(),
            bucket: "resi".into(),
            access_key_id: "AKID".into(),
            secret_access_key: S3Secret::new("super-secret-key"),
            session_token: None,
            addressing,
            upload_mode: UploadMode::Post,
            upload_lifetime: Duration::hours(24),
            list_lifetime: Duration::hours(3),
            object_size: (1024, 5_368_709_120),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_759_338_000, 0).unwrap()
    }

    #[test]
    fn addresses_path_and_virtual_host_styles() {
        let path = S3Presigner::new(settings(Addressing::Path));
        assert_eq!(path.bucket_url(), "https://nyc3.digitaloceanspaces.com/resi");
        let url = path.object_url("GET", "data/hotkey=5F/a b.json", None, now(), now() + Duration::hours(1));
        assert!(url.starts_with("https://nyc3.digitaloceanspaces.com/resi/data/hotkey%3D5F/a%20b.json?"), "{url}");
        assert!(url.contains("X-Amz-Expires=3600"));
        let vhost = S3Presigner::new(settings(Addressing::VirtualHost));
        assert_eq!(vhost.bucket_url(), "https://resi.nyc3.digitaloceanspaces.com/");
        let list =
            vhost.list_url("data/hotkey=5F/", Some("/"), &ListPaging::default(), now(), now() + Duration::hours(3));
        assert!(list.starts_with("https://resi.nyc3.digitaloceanspaces.com/?X-Amz-Algorithm="), "{list}");
        assert!(
            list.contains(
                "&X-Amz-SignedHeaders=host&delimiter=%2F&list-type=2&prefix=data%2Fhotkey%3D5F%2F&X-Amz-Signature="
            ),
            "{list}"
        );
    }

    #[test]
    fn listings_sign_their_paging_into_the_query() {
        let presigner = S3Presigner::new(settings(Addressing::Path));
        let paging = ListPaging {
            start_after: Some("data/hotkey=5F/epoch=a b".into()),
            continuation_token: Some("1/x+y==".into()),
            max_keys: Some(2),
        };
        let list = presigner.list_url("data/hotkey=5F/", None, &paging, now(), now() + Duration::hours(3));
        assert!(list.starts_with("https://nyc3.digitaloceanspaces.com/resi?"), "{list}");
        for expected in [
            "continuation-token=1%2Fx%2By%3D%3D",
            "max-keys=2",
            "start-after=data%2Fhotkey%3D5F%2Fepoch%3Da%20b",
            "list-type=2&max-keys=2&prefix=data%2Fhotkey%3D5F%2F&start-after=",
        ] {
            assert!(list.contains(expected), "{expected} in {list}");
        }
    }

    #[test]
    fn post_uploads_name_the_filename_placeholder_and_hide_the_secret() {
        let presigner = S3Presigner::new(settings(Addressing::Path));
        let upload =
            presigner.post_upload("data/hotkey=5F/", "data/hotkey=5F/", (1024, 10), now(), now() + Duration::hours(24));
        assert_eq!(upload.fields[0], ("key".to_string(), "data/hotkey=5F/${filename}".to_string()));
        assert!(upload.fields.iter().all(|(_, v)| !v.contains("super-secret-key")));
        assert!(!format!("{presigner:?}").contains("super-secret-key"));
    }

    #[test]
    fn client_expiry_only_shortens() {
        let lifetime = Duration::hours(24);
        assert_eq!(grant_expiry(now(), lifetime, None), now() + lifetime);
        assert_eq!(grant_expiry(now(), lifetime, Some(now().timestamp() + 86_400 * 30)), now() + lifetime);
        assert_eq!(grant_expiry(now(), lifetime, Some(now().timestamp() + 60)), now() + Duration::seconds(60));
    }

    #[test]
    fn endpoints_are_scheme_and_host() {
        assert_eq!(parse_endpoint("http://127.0.0.1:9000/").unwrap(), ("http".into(), "127.0.0.1:9000".into()));
        assert_eq!(parse_endpoint("127.0.0.1:9000"), Err(BadEndpoint::Scheme("127.0.0.1:9000".into())));
        assert_eq!(parse_endpoint("https://host/bucket"), Err(BadEndpoint::NotJustAHost("https://host/bucket".into())));
        assert!(parse_endpoint("ftp://host").unwrap_err().to_string().contains("must start with http://"));
    }
}

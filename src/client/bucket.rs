//! The bucket side of the clients: uploading through the grants zipcoord hands out (a presigned POST policy or
//! presigned PUTs), listing a folder with a presigned ListObjectsV2 URL, and reading objects with presigned
//! GETs. Talks to the S3-compatible store directly; zipcoord never sees the data.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use crate::s3::ListPaging;

#[derive(Debug, thiserror::Error)]
pub enum BucketError {
    /// Without the request's URL: a presigned URL carries a signature, which stays out of logs and answers.
    #[error("storage request failed: {0}")]
    Transport(reqwest::Error),
    #[error("storage answered {status}: {code} {message}")]
    Rejected { status: u16, code: String, message: String },
    #[error("storage answer not understood: {0}")]
    Malformed(String),
    #[error("object is larger than {0} bytes")]
    TooLarge(u64),
}

impl From<reqwest::Error> for BucketError {
    fn from(error: reqwest::Error) -> Self {
        BucketError::Transport(error.without_url())
    }
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// S3's `LastModified`, Unix milliseconds: when the store received the object.
    pub last_modified_ms: i64,
}

/// One page of a folder listing; `truncated` when the store has more, which a new listing grant with
/// `next_continuation_token` (or the last key as `start_after`) fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderListing {
    pub objects: Vec<ObjectInfo>,
    pub truncated: bool,
    pub next_continuation_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListBucketResult {
    #[serde(default)]
    contents: Vec<Contents>,
    #[serde(default)]
    is_truncated: bool,
    #[serde(default)]
    next_continuation_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Contents {
    key: String,
    size: u64,
    last_modified: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct S3ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// Parses a ListObjectsV2 answer.
pub fn parse_listing(xml: &str) -> Result<FolderListing, BucketError> {
    let result: ListBucketResult = quick_xml::de::from_str(xml).map_err(|e| BucketError::Malformed(e.to_string()))?;
    let objects = result
        .contents
        .into_iter()
        .map(|c| {
            let last_modified_ms = crate::api::parse_iso8601(&c.last_modified)
                .ok_or_else(|| BucketError::Malformed(format!("LastModified '{}'", c.last_modified)))?;
            Ok(ObjectInfo { key: c.key, size: c.size, last_modified_ms })
        })
        .collect::<Result<_, BucketError>>()?;
    Ok(FolderListing {
        objects,
        truncated: result.is_truncated,
        next_continuation_token: result.next_continuation_token.filter(|t| !t.is_empty()),
    })
}

impl FolderListing {
    /// Where the next page starts, `None` after the last: the store's continuation token, or, from stores that
    /// give none, the last key as `start_after` (as S3 itself allows).
    pub fn next_page(&self) -> Option<ListPaging> {
        if !self.truncated {
            return None;
        }
        match (&self.next_continuation_token, self.objects.last()) {
            (Some(token), _) => Some(ListPaging { continuation_token: Some(token.clone()), ..ListPaging::default() }),
            (None, Some(last)) => Some(ListPaging { start_after: Some(last.key.clone()), ..ListPaging::default() }),
            (None, None) => None,
        }
    }
}

/// An HTTP client for the store.
#[derive(Clone)]
pub struct Bucket {
    http: reqwest::Client,
}

impl Default for Bucket {
    fn default() -> Self {
        Self::new()
    }
}

impl Bucket {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("a client without TLS settings always builds");
        Bucket { http }
    }

    async fn rejected(response: reqwest::Response) -> BucketError {
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let body: S3ErrorBody = quick_xml::de::from_str(&text)
            .unwrap_or(S3ErrorBody { code: String::new(), message: text.chars().take(200).collect() });
        BucketError::Rejected { status, code: body.code, message: body.message }
    }

    /// Uploads `content` as `key` through a presigned POST policy (`url` + `fields`, whose `key` field holds
    /// `${filename}`, replaced here as browsers and the Python clients do). The store must answer 204.
    pub async fn post_object(
        &self,
        url: &str,
        fields: &BTreeMap<String, String>,
        file_name: &str,
        content: Vec<u8>,
    ) -> Result<(), BucketError> {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in fields {
            let value = if name == "key" { value.replace("${filename}", file_name) } else { value.clone() };
            form = form.text(name.clone(), value);
        }
        let leaf = file_name.rsplit('/').next().unwrap_or(file_name).to_string();
        form = form.part("file", reqwest::multipart::Part::bytes(content).file_name(leaf));
        let response = self.http.post(url).multipart(form).send().await?;
        if response.status().as_u16() == 204 {
            Ok(())
        } else {
            Err(Self::rejected(response).await)
        }
    }

    /// Uploads `content` with a presigned PUT URL.
    pub async fn put_object(&self, url: &str, content: Vec<u8>) -> Result<(), BucketError> {
        let response = self.http.put(url).body(content).send().await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(Self::rejected(response).await)
        }
    }

    /// Lists a folder with a presigned ListObjectsV2 URL.
    pub async fn list(&self, list_url: &str) -> Result<FolderListing, BucketError> {
        let response = self.http.get(list_url).send().await?;
        if !response.status().is_success() {
            return Err(Self::rejected(response).await);
        }
        parse_listing(&response.text().await?)
    }

    /// Deletes an object with a presigned DELETE URL (S3 answers 204, also when it was already gone).
    pub async fn delete(&self, url: &str) -> Result<(), BucketError> {
        let response = self.http.delete(url).send().await?;
        if !response.status().is_success() {
            return Err(Self::rejected(response).await);
        }
        Ok(())
    }

    /// Reads an object with a presigned GET URL, refusing more than `max_bytes`.
    pub async fn get(&self, url: &str, max_bytes: u64) -> Result<Vec<u8>, BucketError> {
        let mut response = self.http.get(url).send().await?;
        if !response.status().is_success() {
            return Err(Self::rejected(response).await);
        }
        if response.content_length().is_some_and(|length| length > max_bytes) {
            return Err(BucketError::TooLarge(max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if (body.len() + chunk.len()) as u64 > max_bytes {
                return Err(BucketError::TooLarge(max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_request_never_shows_its_presigned_url() {
        let url = "http://127.0.0.1:1/bucket?list-type=2&X-Amz-Signature=0123456789abcdef0123456789abcdef";
        let error = Bucket::new().list(url).await.unwrap_err();
        assert!(matches!(error, BucketError::Transport(_)), "{error}");
        assert!(!error.to_string().contains("X-Amz-Signature"), "{error}");
    }

    #[test]
    fn reads_a_listing_with_namespace_and_escapes() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>data/</Prefix>
<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>
<Contents><Key>data/a&amp;b.json</Key><LastModified>2025-10-01T16:05:00.000Z</LastModified><ETag>"x"</ETag><Size>1500</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>data/c.json</Key><LastModified>2025-10-01T16:06:00Z</LastModified><Size>2</Size></Contents>
</ListBucketResult>"#;
        let listing = parse_listing(xml).unwrap();
        assert!(!listing.truncated);
        assert_eq!(
            listing.objects,
            vec![
                ObjectInfo { key: "data/a&b.json".into(), size: 1500, last_modified_ms: 1_759_334_700_000 },
                ObjectInfo { key: "data/c.json".into(), size: 2, last_modified_ms: 1_759_334_760_000 },
            ]
        );
        assert_eq!(listing.next_continuation_token, None);
        let page = r#"<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>1/x+y==</NextContinuationToken></ListBucketResult>"#;
        let empty = parse_listing(page).unwrap();
        assert!(empty.objects.is_empty() && empty.truncated);
        assert_eq!(empty.next_continuation_token.as_deref(), Some("1/x+y=="));
        assert!(parse_listing("<html>").is_err());
    }

    #[test]
    fn the_next_page_starts_at_the_token_else_after_the_last_key() {
        let object = |key: &str| ObjectInfo { key: key.into(), size: 1, last_modified_ms: 0 };
        let page = |truncated, token: Option<&str>, keys: &[&str]| FolderListing {
            objects: keys.iter().map(|k| object(k)).collect(),
            truncated,
            next_continuation_token: token.map(str::to_string),
        };
        assert_eq!(page(false, Some("t"), &["a"]).next_page(), None, "the last page");
        let by_token = page(true, Some("t"), &["a"]).next_page().unwrap();
        assert_eq!((by_token.continuation_token.as_deref(), by_token.start_after), (Some("t"), None));
        let by_key = page(true, None, &["a", "b"]).next_page().unwrap();
        assert_eq!((by_key.start_after.as_deref(), by_key.continuation_token), (Some("b"), None));
        assert_eq!(page(true, None, &[]).next_page(), None, "nothing to continue from");
    }
}

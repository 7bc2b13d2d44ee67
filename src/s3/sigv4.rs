//! AWS Signature Version 4 for S3, written on hmac/sha2/base64: presigned URLs (query signing) and browser
//! POST policies. Pure: the signing time is an argument.
//!
//! No maintained crate presigns POST policies (aws-sdk-s3 cannot), and the whole algorithm is small: a signing
//! key derived from the secret by an HMAC chain over date, region and service, then an HMAC over either a
//! canonical request's hash (URLs) or the base64 policy (POST).

use std::fmt::Write as _;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
const SERVICE: &str = "s3";

/// Credentials and scope of one signer.
#[derive(Clone)]
pub struct SigningCredentials<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
    pub region: &'a str,
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret_access_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac(format!("AWS4{secret_access_key}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, everything else `%XX`; `/` kept only in paths.
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for byte in input.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            b'/' if keep_slash => out.push('/'),
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

fn amz_date(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

fn scope_date(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d").to_string()
}

impl SigningCredentials<'_> {
    fn credential(&self, at: DateTime<Utc>) -> String {
        format!("{}/{}/{}/{SERVICE}/aws4_request", self.access_key_id, scope_date(at), self.region)
    }

    fn sign(&self, at: DateTime<Utc>, string_to_sign: &str) -> String {
        hex::encode(hmac(
            &signing_key(self.secret_access_key, &scope_date(at), self.region, SERVICE),
            string_to_sign.as_bytes(),
        ))
    }
}

/// A request to presign: `GET`/`PUT` of `canonical_path` (already URI-encoded, starting with `/`) on `host`.
pub struct PresignRequest<'a> {
    pub method: &'a str,
    pub scheme: &'a str,
    pub host: &'a str,
    pub canonical_path: &'a str,
    /// Extra query parameters (unencoded), e.g. `list-type=2`.
    pub query: &'a [(&'a str, &'a str)],
    pub expires_seconds: u64,
    /// A PUT's body size, signed as the `content-length` header so that no other size is accepted.
    pub content_length: Option<u64>,
}

/// A presigned URL: the request authenticated by query parameters, valid for `expires_seconds` from `at`.
pub fn presign_url(credentials: &SigningCredentials<'_>, request: &PresignRequest<'_>, at: DateTime<Utc>) -> String {
    let amz = amz_date(at);
    let credential = credentials.credential(at);
    let expires = request.expires_seconds.to_string();
    let mut params: Vec<(String, String)> =
        request.query.iter().map(|(k, v)| (uri_encode(k, false), uri_encode(v, false))).collect();
    params.push(("X-Amz-Algorithm".into(), ALGORITHM.into()));
    params.push(("X-Amz-Credential".into(), uri_encode(&credential, false)));
    params.push(("X-Amz-Date".into(), amz.clone()));
    params.push(("X-Amz-Expires".into(), expires));
    if let Some(token) = credentials.session_token {
        params.push(("X-Amz-Security-Token".into(), uri_encode(token, false)));
    }
    let (canonical_headers, signed_headers) = match request.content_length {
        Some(length) => (format!("content-length:{length}\nhost:{}\n", request.host), "content-length;host"),
        None => (format!("host:{}\n", request.host), "host"),
    };
    params.push(("X-Amz-SignedHeaders".into(), uri_encode(signed_headers, false)));
    params.sort();
    let canonical_query = params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let canonical_request = format!(
        "{}\n{}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\nUNSIGNED-PAYLOAD",
        request.method, request.canonical_path
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz}\n{}/{}/{SERVICE}/aws4_request\n{}",
        scope_date(at),
        credentials.region,
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let signature = credentials.sign(at, &string_to_sign);
    format!(
        "{}://{}{}?{canonical_query}&X-Amz-Signature={signature}",
        request.scheme, request.host, request.canonical_path
    )
}

/// A signed POST policy: the form fields a browser-style upload sends besides `key` and `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedPolicy {
    /// `(name, value)` in the order they should be sent: policy, algorithm, credential, date, token, signature.
    pub fields: Vec<(String, String)>,
}

/// Builds and signs a POST policy for `bucket` allowing keys that start with `key_prefix`, object sizes in
/// `size_range`, until `expires_at`.
pub fn sign_post_policy(
    credentials: &SigningCredentials<'_>,
    bucket: &str,
    key_prefix: &str,
    size_range: (u64, u64),
    at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> SignedPolicy {
    let amz = amz_date(at);
    let credential = credentials.credential(at);
    let mut conditions = vec![
        serde_json::json!({ "bucket": bucket }),
        serde_json::json!(["starts-with", "$key", key_prefix]),
        serde_json::json!(["content-length-range", size_range.0, size_range.1]),
        serde_json::json!({ "x-amz-algorithm": ALGORITHM }),
        serde_json::json!({ "x-amz-credential": credential }),
        serde_json::json!({ "x-amz-date": amz }),
    ];
    if let Some(token) = credentials.session_token {
        conditions.push(serde_json::json!({ "x-amz-security-token": token }));
    }
    let policy = serde_json::json!({
        "expiration": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "conditions": conditions,
    });
    let encoded = base64::engine::general_purpose::STANDARD.encode(policy.to_string());
    let signature = credentials.sign(at, &encoded);
    let mut fields = vec![
        ("policy".to_string(), encoded),
        ("x-amz-algorithm".to_string(), ALGORITHM.to_string()),
        ("x-amz-credential".to_string(), credential),
        ("x-amz-date".to_string(), amz),
    ];
    if let Some(token) = credentials.session_token {
        fields.push(("x-amz-security-token".to_string(), token.to_string()));
    }
    fields.push(("x-amz-signature".to_string(), signature));
    SignedPolicy { fields }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWS_EXAMPLE_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
    const AWS_EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn derives_the_documented_signing_key() {
        // AWS General Reference, "Examples of how to derive a signing key for Signature Version 4".
        let key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
        assert_eq!(hex::encode(key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    }

    #[test]
    fn presigns_the_documented_get_object_url() {
        // Amazon S3 API Reference, "Authenticating Requests: Using Query Parameters": GET /test.txt from
        // examplebucket, 2013-05-24, valid 86400 s.
        let credentials = SigningCredentials {
            access_key_id: AWS_EXAMPLE_KEY_ID,
            secret_access_key: AWS_EXAMPLE_SECRET,
            session_token: None,
            region: "us-east-1",
        };
        let request = PresignRequest {
            method: "GET",
            scheme: "https",
            host: "examplebucket.s3.amazonaws.com",
            canonical_path: "/test.txt",
            query: &[],
            expires_seconds: 86_400,
            content_length: None,
        };
        let url = presign_url(&credentials, &request, at("2013-05-24T00:00:00Z"));
        assert_eq!(
            url,
            "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn encodes_like_sigv4() {
        assert_eq!(uri_encode("data/hotkey=5F/x y+z~", true), "data/hotkey%3D5F/x%20y%2Bz~");
        assert_eq!(uri_encode("data/hotkey=5F/", false), "data%2Fhotkey%3D5F%2F");
        assert_eq!(uri_encode("é", false), "%C3%A9");
    }

    #[test]
    fn post_policies_carry_the_conditions_and_a_verifiable_signature() {
        let credentials = SigningCredentials {
            access_key_id: AWS_EXAMPLE_KEY_ID,
            secret_access_key: AWS_EXAMPLE_SECRET,
            session_token: Some("token/with+chars"),
            region: "nyc3",
        };
        let signed = sign_post_policy(
            &credentials,
            "bucket",
            "data/hotkey=5F/",
            (1024, 5_368_709_120),
            at("2025-10-01T17:00:00Z"),
            at("2025-10-02T17:00:00Z"),
        );
        let field = |name: &str| signed.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap();
        let policy: serde_json::Value =
            serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(field("policy")).unwrap())
                .unwrap();
        assert_eq!(policy["expiration"], "2025-10-02T17:00:00.000Z");
        let conditions = policy["conditions"].as_array().unwrap();
        assert!(conditions.contains(&serde_json::json!(["starts-with", "$key", "data/hotkey=5F/"])));
        assert!(conditions.contains(&serde_json::json!(["content-length-range", 1024, 5_368_709_120u64])));
        assert!(conditions.contains(&serde_json::json!({"x-amz-security-token": "token/with+chars"})));
        assert_eq!(field("x-amz-credential"), "AKIAIOSFODNN7EXAMPLE/20251001/nyc3/s3/aws4_request");
        assert_eq!(field("x-amz-date"), "20251001T170000Z");
        let expected =
            hex::encode(hmac(&signing_key(AWS_EXAMPLE_SECRET, "20251001", "nyc3", "s3"), field("policy").as_bytes()));
        assert_eq!(field("x-amz-signature"), expected);
        assert!(!signed.fields.iter().any(|(_, v)| v.contains(AWS_EXAMPLE_SECRET)));
    }
}

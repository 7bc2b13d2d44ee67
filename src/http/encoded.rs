//! Public answers that are the same for everyone until something changes, encoded once and served many times:
//! an epoch's inputs (fixed once published) and the universe's map (until the zipcode table changes). Each is
//! kept as its JSON bytes, their gzip and an `ETag`; a request naming the tag gets a 304, one accepting gzip the
//! gzip, any other the plain bytes, none of it serialized or compressed again.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::domain::epoch::EpochId;

/// One answer, encoded both ways.
pub struct Encoded {
    json: Bytes,
    gzip: Bytes,
    etag: HeaderValue,
}

impl Encoded {
    /// `json` and its gzip, tagged `tag` (an entity tag's inside, quoted here).
    pub fn new(json: Vec<u8>, gzip: Vec<u8>, tag: &str) -> Encoded {
        let etag = HeaderValue::from_str(&format!("\"{tag}\"")).unwrap_or(HeaderValue::from_static("\"\""));
        Encoded { json: json.into(), gzip: gzip.into(), etag }
    }

    /// `json`, compressed here, tagged by its content.
    pub fn compressing(json: Vec<u8>) -> Encoded {
        use sha2::Digest;
        let tag = hex::encode(&sha2::Sha256::digest(&json)[..16]);
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(&json).expect("writing to memory cannot fail");
        let gzip = encoder.finish().expect("writing to memory cannot fail");
        Encoded::new(json, gzip, &tag)
    }

    /// The answer to a request with `request` headers, cacheable as `cache_control` says.
    pub fn respond(&self, request: &HeaderMap, cache_control: &'static str) -> Response {
        let cache = HeaderValue::from_static(cache_control);
        if request.get(header::IF_NONE_MATCH).is_some_and(|tag| tag == self.etag) {
            let headers = [(header::ETAG, self.etag.clone()), (header::CACHE_CONTROL, cache)];
            return (StatusCode::NOT_MODIFIED, headers).into_response();
        }
        let (body, encoding) = match accepts_gzip(request) {
            true => (self.gzip.clone(), Some(HeaderValue::from_static("gzip"))),
            false => (self.json.clone(), None),
        };
        let headers = [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::ETAG, self.etag.clone()),
            (header::CACHE_CONTROL, cache),
            (header::VARY, HeaderValue::from_static("accept-encoding")),
        ];
        let mut response = (headers, body).into_response();
        if let Some(encoding) = encoding {
            response.headers_mut().insert(header::CONTENT_ENCODING, encoding);
        }
        response
    }
}

/// Whether `Accept-Encoding` admits gzip (`q=0` refuses it).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    let codings = headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok());
    codings.flat_map(|v| v.split(',')).any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| p.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0));
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

/// Epochs whose encoded inputs are held (the current, the next and a couple before: what clients ask for).
const INPUTS_HELD: usize = 4;

/// The encoded answers the router shares. Async locks: concurrent misses wait for one composition.
#[derive(Default)]
pub struct EncodedAnswers {
    /// The newest epochs' inputs, by epoch.
    inputs: tokio::sync::Mutex<BTreeMap<EpochId, Arc<Encoded>>>,
    /// The universe's map, with the zipcode table revision it was drawn at.
    map: tokio::sync::Mutex<Option<(Option<String>, Arc<Encoded>)>>,
}

impl EncodedAnswers {
    /// `epoch`'s inputs, from `compose` the first time.
    pub async fn inputs<E>(
        &self,
        epoch: EpochId,
        compose: impl std::future::Future<Output = Result<Encoded, E>>,
    ) -> Result<Arc<Encoded>, E> {
        let mut held = self.inputs.lock().await;
        if let Some(encoded) = held.get(&epoch) {
            return Ok(encoded.clone());
        }
        let encoded = Arc::new(compose.await?);
        held.insert(epoch, encoded.clone());
        while held.len() > INPUTS_HELD {
            held.pop_first();
        }
        Ok(encoded)
    }

    /// The map at `revision`, from `compose` when the held one is of another revision.
    pub async fn map<E>(
        &self,
        revision: &Option<String>,
        compose: impl std::future::Future<Output = Result<Encoded, E>>,
    ) -> Result<Arc<Encoded>, E> {
        let mut held = self.map.lock().await;
        if let Some((at, encoded)) = held.as_ref() {
            if at == revision {
                return Ok(encoded.clone());
            }
        }
        let encoded = Arc::new(compose.await?);
        *held = Some((revision.clone(), encoded.clone()));
        Ok(encoded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs.iter().map(|(name, value)| (name.clone(), HeaderValue::from_str(value).unwrap())).collect()
    }

    #[test]
    fn gzip_is_accepted_unless_refused() {
        let with = |value: &str| accepts_gzip(&headers(&[(header::ACCEPT_ENCODING, value)]));
        assert!(with("gzip, deflate"));
        assert!(with("br;q=1.0, gzip;q=0.5"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn an_answer_is_plain_gzip_or_not_modified_as_asked() {
        let encoded = Encoded::compressing(br#"{"a":1}"#.to_vec());
        let tag = encoded.etag.to_str().unwrap().to_string();
        assert_eq!(tag.len(), 34, "32 hex digits, quoted: {tag}");
        let plain = encoded.respond(&HeaderMap::new(), "no-cache");
        assert_eq!(plain.status(), StatusCode::OK);
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        assert_eq!(plain.headers()[header::CACHE_CONTROL], "no-cache");
        let gzipped = encoded.respond(&headers(&[(header::ACCEPT_ENCODING, "gzip")]), "no-cache");
        assert_eq!(gzipped.headers()[header::CONTENT_ENCODING], "gzip");
        let held = encoded.respond(&headers(&[(header::IF_NONE_MATCH, &tag)]), "no-cache");
        assert_eq!(held.status(), StatusCode::NOT_MODIFIED);
        let stale = encoded.respond(&headers(&[(header::IF_NONE_MATCH, "\"other\"")]), "no-cache");
        assert_eq!(stale.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn a_held_answer_is_composed_once_per_key() {
        let answers = EncodedAnswers::default();
        let composed = std::sync::atomic::AtomicUsize::new(0);
        let compose = || async {
            composed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, ()>(Encoded::compressing(b"{}".to_vec()))
        };
        let revision = Some("r1".to_string());
        let both = tokio::join!(answers.map(&revision, compose()), answers.map(&revision, compose()));
        assert!(both.0.is_ok() && both.1.is_ok());
        assert_eq!(composed.load(std::sync::atomic::Ordering::SeqCst), 1, "concurrent misses compose once");
        answers.map(&Some("r2".to_string()), compose()).await.unwrap();
        assert_eq!(composed.load(std::sync::atomic::Ordering::SeqCst), 2, "a new revision composes again");
        let epochs: Vec<EpochId> = (0..6).map(|n| EpochId::from_start_unix(1_759_334_400 + n * 14_400)).collect();
        for &epoch in &epochs {
            answers.inputs(epoch, compose()).await.unwrap();
        }
        answers.inputs(epochs[5], compose()).await.unwrap();
        assert_eq!(composed.load(std::sync::atomic::Ordering::SeqCst), 8, "held: not composed again");
        assert_eq!(answers.inputs.lock().await.len(), INPUTS_HELD);
        assert!(!answers.inputs.lock().await.contains_key(&epochs[0]), "the oldest epochs go first");
    }
}

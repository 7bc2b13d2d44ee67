//! What `serve --dev` prints once it listens: ready-to-run signed requests for the dev keys, valid five minutes,
//! the S3 side included (a miner's upload grant and an upload with it, a validator's listing of that folder).
//! The commands are meant to be pasted as they stand; a test runs them so.

use std::fmt::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::DateTime;

use crate::chain::dev::{dev_coldkey, DEV_MINERS, DEV_VALIDATORS};
use crate::client::{sign, signed_query};
use crate::domain::access::endpoint::{self, SignedValues};
use crate::domain::access::keys::Keypair;
use crate::domain::access::layout::listing_file_name;
use crate::domain::epoch::zipcode::Zipcode;
use crate::domain::epoch::EpochId;
use crate::s3::UploadMode;
use crate::settings::S3Config;

/// The examples' last line: whoever reads the output knows the examples are all there.
pub const LAST_LINE: &str = "Stop with Ctrl-C; the database and the bucket stay for the next `serve --dev` here.";

/// The store `serve --dev` started because none was configured.
pub struct EmbeddedStoreInfo {
    pub endpoint: String,
    /// Where its bucket's objects lie.
    pub folder: PathBuf,
}

pub struct DevExamples<'a> {
    pub addr: SocketAddr,
    pub now_unix: i64,
    /// The current epoch, which the validator example reads.
    pub epoch: EpochId,
    pub s3: &'a S3Config,
    pub embedded: Option<EmbeddedStoreInfo>,
}

impl DevExamples<'_> {
    pub fn render(&self) -> String {
        let miner = Keypair::from_uri(DEV_MINERS[0]).expect("dev URI");
        let validator = Keypair::from_uri(DEV_VALIDATORS[0]).expect("dev URI");
        let host = format!("http://{}", self.addr);
        let base = format!("{host}/api/v1/zipcode-assignments");
        let at = SignedValues::at(self.now_unix);
        let query = |key: &Keypair, endpoint, values| {
            let signed = signed_query(key, endpoint, values);
            format!(
                "hotkey={}&signature={}&timestamp={}",
                signed.hotkey.unwrap_or_default(),
                signed.signature.unwrap_or_default(),
                self.now_unix
            )
        };
        let epoch = self.epoch.to_string();

        let mut out = String::new();
        let _ = writeln!(out, "\nDev mode: //Alice and //Bob are validators, //Charlie .. //Ferdie miners.");
        let _ = writeln!(out, "{}", self.s3_line());
        let _ = writeln!(
            out,
            "\nSigned examples, valid for 5 minutes (restart for fresh ones); run them in a scratch folder:\n"
        );
        let _ = writeln!(out, "  # anyone: the epoch's statistics");
        let _ = writeln!(out, "  curl -s -w '\\n' '{base}/stats'");
        let _ = writeln!(out, "  # //Charlie, a miner: its assignment");
        let _ = writeln!(out, "  curl -s -w '\\n' '{base}/current?{}'", query(&miner, &endpoint::CURRENT, at));
        if let Ok(store) = self.s3 {
            let stamp = DateTime::from_timestamp(self.now_unix, 0).unwrap_or_default().format("%Y%m%d_%H%M%S");
            let zipcode: Zipcode = "10001".parse().expect("a zipcode");
            let object = listing_file_name(self.epoch, &zipcode, &stamp.to_string());
            self.write_upload(&mut out, &host, &miner, store.upload_mode, store.object_size.0, &object);
        }
        let _ = writeln!(out, "  # //Alice, a validator: epoch {epoch}");
        let _ = writeln!(
            out,
            "  curl -s -w '\\n' '{base}/epoch/{epoch}?{}'",
            query(&validator, &endpoint::EPOCH, at.epoch(&epoch))
        );
        if self.s3.is_ok() {
            let miner_hotkey = miner.hotkey().to_string();
            let body = serde_json::json!({
                "hotkey": validator.hotkey().to_string(),
                "timestamp": self.now_unix,
                "signature": sign(&validator, &endpoint::MINER_ACCESS, at.miner_hotkey(&miner_hotkey)),
                "miner_hotkey": miner_hotkey,
            });
            let _ = writeln!(out, "  # //Alice: a listing grant for //Charlie's folder, and the listing (S3's XML)");
            let _ = writeln!(out, "  {} > access.json", post_json(&host, &endpoint::MINER_ACCESS, &body));
            let _ = writeln!(out, "  curl -s -w '\\n' \"$({})\"", read_json("access.json", r#"["miner_url"]"#));
        }
        let _ = writeln!(out, "\n{LAST_LINE}");
        out
    }

    /// Where the S3 grants point.
    fn s3_line(&self) -> String {
        match (self.s3, &self.embedded) {
            (Ok(store), Some(embedded)) => format!(
                "S3: an embedded store at {} (this machine only), bucket `{}` kept in {}; ZIPCOORD_S3_* settings \
                 name another store.",
                embedded.endpoint,
                store.bucket,
                embedded.folder.display()
            ),
            (Ok(store), None) => {
                format!("S3: bucket `{}` at {}://{}.", store.bucket, store.scheme, store.endpoint_host)
            }
            (Err(missing), _) => format!("S3: {missing} (the S3 endpoints answer 503 until then)."),
        }
    }

    /// `miner`'s upload grant, a listings file of at least `min_bytes` and its upload as `object` (relative to
    /// the miner's folder).
    fn write_upload(
        &self,
        out: &mut String,
        host: &str,
        miner: &Keypair,
        mode: UploadMode,
        min_bytes: u64,
        object: &str,
    ) {
        let coldkey = dev_coldkey(DEV_MINERS[0]).to_string();
        let mut body = serde_json::json!({
            "hotkey": miner.hotkey().to_string(),
            "coldkey": coldkey,
            "timestamp": self.now_unix,
            "signature": sign(miner, &endpoint::FOLDER_ACCESS, SignedValues::at(self.now_unix).coldkey(&coldkey)),
        });
        let (kind, answer) = match mode {
            UploadMode::Post => ("a POST policy", 204),
            UploadMode::Put => ("a presigned PUT", 200),
        };
        if mode == UploadMode::Put {
            body["files"] = serde_json::json!([object]);
        }
        // Each entry takes more than 50 bytes, so the file is never below the store's minimum object size.
        let entries = min_bytes / 50 + 1;
        let _ = writeln!(
            out,
            "  # //Charlie: an upload grant for its folder ({kind}), a listings file, and the upload ({answer}: stored)"
        );
        let _ = writeln!(out, "  {} > grant.json", post_json(host, &endpoint::FOLDER_ACCESS, &body));
        let _ = writeln!(
            out,
            "  python3 -c 'import json; print(json.dumps([{{\"zpid\": 1000 + i, \"zipcode\": \"10001\", \"price\": \
             450000 + 100 * i}} for i in range({entries})]))' > listing.json"
        );
        let upload = match mode {
            UploadMode::Post => format!(
                "$(python3 -c 'import json; g = json.load(open(\"grant.json\")); f = dict(g[\"fields\"], \
                 key=g[\"folder\"] + \"{object}\"); print(\" \".join([\"-F \" + k + \"=\" + v for k, v in \
                 f.items()] + [g[\"url\"]]))') -F file=@listing.json"
            ),
            UploadMode::Put => {
                format!("-T listing.json \"$({})\"", read_json("grant.json", r#"["put_urls"][0]["url"]"#))
            }
        };
        let _ = writeln!(out, "  curl -s -o /dev/null -w '%{{http_code}}\\n' {upload}");
    }
}

/// A `curl` line posting `body` as JSON to `endpoint`.
fn post_json(host: &str, endpoint: &endpoint::Endpoint, body: &serde_json::Value) -> String {
    format!("curl -s -X POST '{host}{}' -H 'Content-Type: application/json' -d '{body}'", endpoint.path)
}

/// A `python3` command printing `path` (a JSON file) at `index`.
fn read_json(path: &str, index: &str) -> String {
    format!("python3 -c 'import json; print(json.load(open(\"{path}\")){index})'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples(s3: &S3Config) -> String {
        let epoch: EpochId = "2026-12-03T00-00-00".parse().unwrap();
        DevExamples { addr: "127.0.0.1:8080".parse().unwrap(), now_unix: 1_796_263_200, epoch, s3, embedded: None }
            .render()
    }

    #[test]
    fn without_a_store_the_examples_say_what_is_missing_and_leave_s3_out() {
        let text = examples(&Err("S3 storage is not configured: set ZIPCOORD_S3_BUCKET".to_string()));
        assert!(text.contains("set ZIPCOORD_S3_BUCKET (the S3 endpoints answer 503"), "{text}");
        assert!(!text.contains("get-folder-access") && !text.contains("get-miner-specific-access"), "{text}");
        assert!(text.contains("/current?hotkey=5") && text.contains("/epoch/2026-12-03T00-00-00?hotkey=5"), "{text}");
        assert!(text.trim_end().ends_with(LAST_LINE));
    }

    #[test]
    fn the_upload_example_follows_the_upload_mode_and_the_minimum_size() {
        let secret = crate::s3::S3Secret::new("never-shown-secret");
        let store = crate::settings::s3_store("http://127.0.0.1:9000", "b", "key-id", secret).unwrap();
        let post = examples(&Ok(crate::s3::S3Settings { object_size: (5_000, 10_000_000), ..store.clone() }));
        assert!(post.contains("-F file=@listing.json") && post.contains("for i in range(101)"), "{post}");
        assert!(post.contains("get-miner-specific-access"), "{post}");
        assert!(post.contains("epoch=2026-12-03T00-00-00/zipcode=10001/data_"), "{post}");
        let put = examples(&Ok(crate::s3::S3Settings { upload_mode: UploadMode::Put, ..store }));
        assert!(put.contains("\"files\":[\"epoch=2026-12-03T00-00-00/zipcode=10001/data_"), "{put}");
        assert!(put.contains("-T listing.json") && put.contains("[\"put_urls\"][0][\"url\"]"), "{put}");
        assert!(!post.contains("never-shown-secret") && !put.contains("never-shown-secret"));
    }
}

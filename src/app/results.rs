//! Validators' verdicts served to miners: once an epoch's judging window has passed, the server reads each
//! permitted validator's newest valid results file for it from the bucket (with its own credentials, a few
//! validators at a time), checks it, and keeps the answer a few minutes. One read at a time: when every miner
//! asks at the window's end, the first read serves them all.

use std::sync::Arc;

use chrono::Duration;
use sha2::Digest;

use super::cache::BoundedMap;
use super::{App, AppError, AppResult};
use crate::api::{
    check_published, iso8601_millis, EpochResultsResponse, MinerVerdict, SkippedResults, UnusableResults,
    ValidatorVerdicts,
};
use crate::client::bucket::{Bucket, BucketError};
use crate::domain::access::layout::validator_folder;
use crate::domain::epoch::EpochId;
use crate::domain::hotkey::Hotkey;
use crate::s3::{ListPaging, S3Presigner};

/// How long an answer is served from memory: validators that judge late still show up within minutes.
const CACHE_TTL_MS: i64 = 5 * 60 * 1000;
/// Epochs whose answers are kept at once.
const CACHED_EPOCHS: usize = 64;
/// Validators read at once.
const PARALLEL_READS: usize = 8;
/// Results files tried per validator, newest first, before giving up on it.
const FILES_TRIED: usize = 3;
/// Largest results file read (a judgement of 256 miners with reasons is a few hundred KB).
const MAX_RESULTS_BYTES: u64 = 4 << 20;

pub(super) struct ResultsBook {
    cache: BoundedMap<EpochId, (i64, Arc<EpochResultsResponse>)>,
    reading: tokio::sync::Mutex<()>,
    bucket: Bucket,
}

impl ResultsBook {
    pub(super) fn new() -> Self {
        ResultsBook {
            cache: BoundedMap::new(CACHED_EPOCHS),
            reading: tokio::sync::Mutex::new(()),
            bucket: Bucket::new(),
        }
    }

    fn fresh(&self, epoch: EpochId, now_ms: i64) -> Option<Arc<EpochResultsResponse>> {
        self.cache.get(&epoch).filter(|(read_at, _)| now_ms - read_at < CACHE_TTL_MS).map(|(_, answer)| answer)
    }
}

/// What reading one validator's folder came to.
struct ValidatorRead {
    verdicts: Option<ValidatorVerdicts>,
    skipped: Vec<SkippedResults>,
}

impl App {
    /// Every permitted validator's published verdicts on `epoch`, once its judging window has passed.
    pub async fn epoch_results(&self, epoch: EpochId) -> AppResult<Arc<EpochResultsResponse>> {
        let presigner = self.presigner()?;
        let clock = self.settings.epochs.clock;
        let window_end = clock.judging_window_end(epoch);
        let now_unix = self.now_unix();
        if clock.is_boundary(epoch) && now_unix < window_end && epoch <= self.current_epoch_id() {
            return Err(AppError::TooEarly {
                retry_after_seconds: u64::try_from(window_end - now_unix).unwrap_or(1),
                message: format!(
                    "The results of epoch {epoch} are served once its judging window has passed, at {}",
                    iso8601_millis(window_end * 1000)
                ),
            });
        }
        self.started_epoch(epoch).await?;
        self.judged_results(presigner, epoch).await
    }

    /// The listings honest miners delivered on `epoch`, if its verdicts were read lately (never reads them:
    /// the dashboard shows what recalibration and miners' requests brought in).
    pub(super) fn delivered_listings(&self, epoch: EpochId) -> Option<u64> {
        self.results.cache.get(&epoch).and_then(|(_, answer)| answer.delivered_listings())
    }

    /// The verdicts on `epoch` (a stored epoch whose judging window has passed), from memory or read afresh.
    pub(super) async fn judged_results(
        &self,
        presigner: &S3Presigner,
        epoch: EpochId,
    ) -> AppResult<Arc<EpochResultsResponse>> {
        let window_end = self.settings.epochs.clock.judging_window_end(epoch);
        if let Some(answer) = self.results.fresh(epoch, self.now_ms()) {
            return Ok(answer);
        }
        let _turn = self.results.reading.lock().await;
        if let Some(answer) = self.results.fresh(epoch, self.now_ms()) {
            return Ok(answer);
        }
        let answer = Arc::new(self.read_results(presigner, epoch, window_end).await?);
        self.results.cache.insert(epoch, (self.now_ms(), answer.clone()));
        Ok(answer)
    }

    async fn read_results(
        &self,
        presigner: &S3Presigner,
        epoch: EpochId,
        window_end: i64,
    ) -> AppResult<EpochResultsResponse> {
        let snapshot = self.fresh_metagraph()?;
        let mut validators: Vec<(u16, Hotkey)> = snapshot
            .neurons
            .iter()
            .filter(|(_, neuron)| neuron.validator_permit)
            .map(|(hotkey, neuron)| (neuron.uid, hotkey.clone()))
            .collect();
        validators.sort();
        let now = self.now_utc();
        let expires = now + Duration::minutes(5);
        let mut answer = EpochResultsResponse {
            success: true,
            epoch_id: epoch.to_string(),
            judging_window_ended_at: iso8601_millis(window_end * 1000),
            read_at: iso8601_millis(self.now_ms()),
            validators: Vec::new(),
            skipped_count: 0,
            skipped: Vec::new(),
        };
        for batch in validators.chunks(PARALLEL_READS) {
            let mut reads = tokio::task::JoinSet::new();
            for (index, (uid, hotkey)) in batch.iter().enumerate() {
                let folder = validator_folder(hotkey, epoch);
                let presigner = S3Presigner::new(presigner.settings().clone());
                let urls = move |read: Read<'_>| match read {
                    Read::List(paging) => presigner.list_url(&folder, None, paging, now, expires),
                    Read::Object(key) => presigner.object_url("GET", key, None, now, expires),
                };
                let bucket = self.results.bucket.clone();
                let (uid, hotkey, epoch_id) = (*uid, hotkey.to_string(), epoch.to_string());
                reads.spawn(async move { (index, read_validator(&bucket, uid, &hotkey, &epoch_id, urls).await) });
            }
            let mut results: Vec<(usize, Result<ValidatorRead, BucketError>)> = reads.join_all().await;
            results.sort_by_key(|(index, _)| *index);
            for (_, read) in results {
                let read = read.map_err(|error| {
                    tracing::warn!(%epoch, %error, "validators' results cannot be listed");
                    AppError::S3Unavailable(format!("The store did not answer the results listing: {error}"))
                })?;
                answer.validators.extend(read.verdicts);
                answer.skipped.extend(read.skipped);
            }
        }
        answer.skipped_count = answer.skipped.len();
        if answer.skipped_count > 0 {
            tracing::warn!(%epoch, skipped = answer.skipped_count, "results files skipped");
        }
        Ok(answer)
    }
}

/// What a presigned URL is for: a page of the validator's folder, or one object in it.
enum Read<'a> {
    List(&'a ListPaging),
    Object(&'a str),
}

/// Listing pages read per validator folder at most (a folder of one epoch holds a few files).
const MAX_LISTING_PAGES: usize = 10;

/// Lists one validator's folder for the epoch, page by page, and takes its newest results file that checks
/// out.
async fn read_validator(
    bucket: &Bucket,
    uid: u16,
    hotkey: &str,
    epoch_id: &str,
    url: impl Fn(Read<'_>) -> String,
) -> Result<ValidatorRead, BucketError> {
    let mut files = Vec::new();
    let mut paging = ListPaging::default();
    for _ in 0..MAX_LISTING_PAGES {
        let page = bucket.list(&url(Read::List(&paging))).await?;
        files.extend(page.objects.iter().map(|object| object.key.clone()).filter(|key| {
            key.rsplit('/').next().is_some_and(|name| name.starts_with("results_") && name.ends_with(".json"))
        }));
        match page.next_page() {
            Some(next) => paging = next,
            None => break,
        }
    }
    // `results_{YYYYmmdd_HHMMSS}.json`: the names sort by time.
    files.sort_unstable_by(|a, b| b.cmp(a));
    let mut read = ValidatorRead { verdicts: None, skipped: Vec::new() };
    for file in files.into_iter().take(FILES_TRIED) {
        let checked = match bucket.get(&url(Read::Object(&file)), MAX_RESULTS_BYTES).await {
            Ok(bytes) => check_published(&bytes, hotkey, epoch_id).map(|judgement| (judgement, bytes)),
            Err(error) => Err(UnusableResults::Unreadable(error.to_string())),
        };
        match checked {
            Ok((judgement, bytes)) => {
                read.verdicts = Some(ValidatorVerdicts {
                    uid,
                    hotkey: hotkey.to_string(),
                    file,
                    sha256: hex::encode(sha2::Sha256::digest(&bytes)),
                    judged_at: judgement.judged_at,
                    miners: judgement.miners.iter().map(MinerVerdict::from).collect(),
                    zipcode_listings: judgement.zipcode_listings,
                });
                break;
            }
            Err(reason) => read.skipped.push(SkippedResults { file, reason: reason.to_string() }),
        }
    }
    Ok(read)
}

//! The validator: judges epoch N during N+1 (and, after an outage of the coordinator, the epochs it could not
//! judge meanwhile, once the API answers again). It gets `/epoch/{id}` (from the API, else computed or relayed,
//! see [`crate::client::epochs`]), lists and downloads every miner's files
//! for that epoch through `/get-miner-specific-access`, applies the checks of [`crate::domain::judging::validation`],
//! spot-checks a fixed number of listings per miner through a [`ListingVerifier`], turns the verdicts into
//! weights with [`crate::domain::judging::scoring`], and uploads the results through `/api/v1/s3-access/validator-upload`.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinSet;

use super::on_chain::OnChainWeights;
use crate::api::{iso8601_millis, parse_iso8601, AssignmentResponse};
use crate::chain::MetagraphSource;
use crate::client::bucket::{Bucket, BucketError};
use crate::client::epochs::Epochs;
use crate::client::validator::case::Miner;
use crate::client::validator::credibility::CredibilityBook;
use crate::client::validator::group_judging::{self, ValidationMode};
use crate::client::validator::judged::JudgedBook;
use crate::client::validator::judging::{CheckOutcomes, CheckRequest, EpochJudging, JudgingRules};
use crate::client::validator::verifier::{check_at_source, ListingVerifier};
use crate::client::validator::ValidatorError;
use crate::client::{unix_now, ClientError, ZipcoordClient};
use crate::domain::access::keys::Keypair;
use crate::domain::access::layout;
use crate::domain::epoch::zipcode::Zipcode;
use crate::domain::epoch::EpochId;
use crate::domain::judging::consensus::ConsensusSettings;
use crate::domain::judging::listing::ListingFile;
use crate::domain::judging::scoring::RewardSplit;
use crate::domain::judging::validation::{EpochTerms, StoredFile, Submission, MAX_OBJECTS_PER_EPOCH};
use crate::domain::judging::weights::{sdk_weight_vector, WeightLimits, WeightPolicy};
use crate::s3::ListPaging;

/// How a validator judges.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatorSettings {
    /// Listings spot-checked per miner (sampled; `groups` epochs in `both` mode add disputed listings).
    pub spot_checks: usize,
    /// How listings are checked in `groups` epochs (`shared` epochs are always spot-checked).
    pub validation: ValidationMode,
    /// When a group's reports make a consensus, and who it contradicts.
    pub consensus: ConsensusSettings,
    pub split: RewardSplit,
    /// Files larger than this are not downloaded (and not counted).
    pub max_file_bytes: u64,
    /// How long into epoch N+1 to wait before judging N, so uploads in flight at the deadline land.
    pub judge_delay: Duration,
    /// Whether to upload the results to the bucket.
    pub publish: bool,
}

impl Default for ValidatorSettings {
    fn default() -> Self {
        ValidatorSettings {
            spot_checks: 10,
            validation: ValidationMode::Both,
            consensus: ConsensusSettings::default(),
            split: RewardSplit::default(),
            max_file_bytes: 64 * 1024 * 1024,
            judge_delay: Duration::from_secs(60),
            publish: true,
        }
    }
}

pub use crate::api::{ChainWeights, EpochJudgement, MinerResult};

pub struct Validator {
    epochs: Arc<Epochs>,
    client: ZipcoordClient,
    bucket: Bucket,
    key: Keypair,
    metagraph: Arc<dyn MetagraphSource>,
    verifier: Arc<dyn ListingVerifier>,
    settings: ValidatorSettings,
    on_chain: Option<OnChainWeights>,
}

/// Downloads at once per miner.
const PARALLEL_DOWNLOADS: usize = 16;
/// Object URLs asked for per grant, at most.
const FILES_PER_GRANT: usize = 500;
/// Bytes of names per grant request, at most: with the signed fields the body stays inside the server's default
/// 64 KiB limit whatever the names are.
const NAME_BYTES_PER_GRANT: usize = 40 * 1024;

/// The server refused a request built from this miner's keys (400, 413): that miner's problem, not the epoch's.
fn refused_for_this_miner(error: &ClientError) -> bool {
    matches!(error, ClientError::Api { status: 400 | 413, .. })
}

/// A miner's coldkey as the metagraph names it (its hotkey when the metagraph does not know it: one voice).
fn inspection_coldkey(snapshot: &crate::domain::access::metagraph::MetagraphSnapshot, hotkey: &str) -> String {
    let neuron = hotkey.parse().ok().and_then(|hotkey| snapshot.neuron(&hotkey));
    neuron.map_or(hotkey, |neuron| neuron.coldkey.as_str()).to_string()
}

/// Runs pure CPU work on a blocking thread, so the runtime keeps serving meanwhile.
async fn off_the_runtime<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(error) => std::panic::resume_unwind(error.into_panic()),
    }
}

/// `names` split into grant requests that fit [`FILES_PER_GRANT`] and [`NAME_BYTES_PER_GRANT`] (as JSON, where
/// quotes and backslashes take two bytes).
fn grant_batches<'a>(miner: &str, names: &'a [String]) -> Vec<&'a [String]> {
    let json_bytes = |name: &String| name.len() + name.matches(['"', '\\']).count() + 3;
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, miner.len());
    for (index, name) in names.iter().enumerate() {
        let size = json_bytes(name);
        if index > start && (index - start >= FILES_PER_GRANT || bytes + size > NAME_BYTES_PER_GRANT) {
            batches.push(&names[start..index]);
            (start, bytes) = (index, miner.len());
        }
        bytes += size;
    }
    if start < names.len() {
        batches.push(&names[start..]);
    }
    batches
}

impl Validator {
    pub fn new(
        epochs: Arc<Epochs>,
        key: Keypair,
        metagraph: Arc<dyn MetagraphSource>,
        verifier: Arc<dyn ListingVerifier>,
        settings: ValidatorSettings,
    ) -> Self {
        let client = epochs.api().clone();
        Validator { epochs, client, bucket: Bucket::new(), key, metagraph, verifier, settings, on_chain: None }
    }

    /// Puts each judged epoch's weights on chain with `on_chain`.
    pub fn with_on_chain(mut self, on_chain: OnChainWeights) -> Self {
        self.on_chain = Some(on_chain);
        self
    }

    /// What this validator holds of the epochs (what its relay serves).
    pub fn epochs(&self) -> &Arc<Epochs> {
        &self.epochs
    }

    pub fn hotkey(&self) -> String {
        self.key.hotkey().to_string()
    }

    fn terms(assignment: &AssignmentResponse) -> Result<EpochTerms, ValidatorError> {
        let time = |field: &str, text: &str| {
            parse_iso8601(text).ok_or_else(|| ValidatorError::Assignment(format!("unreadable {field} '{text}'")))
        };
        let unusable = |field: &str, text: &str| ValidatorError::Assignment(format!("unreadable {field} '{text}'"));
        let zipcode = |text: &String| text.parse::<Zipcode>().map_err(|_| unusable("zipcode", text));
        Ok(EpochTerms {
            epoch: assignment.epoch_id.parse().map_err(|_| unusable("epochId", &assignment.epoch_id))?,
            nonce: assignment.nonce.parse().map_err(|_| unusable("nonce", &assignment.nonce))?,
            start_ms: time("epochStart", &assignment.epoch_start)?,
            end_ms: time("epochEnd", &assignment.epoch_end)?,
            tolerance_percent: assignment.tolerance_percent,
            expected: assignment
                .zipcodes
                .iter()
                .map(|z| Ok((zipcode(&z.zipcode)?, z.expected_listings)))
                .collect::<Result<_, ValidatorError>>()?,
        })
    }

    /// Every object `miner` stored under `epoch={epoch}/`, page by page (at most [`MAX_OBJECTS_PER_EPOCH`]):
    /// `(key relative to the miner's folder) -> (uploaded at, size)`, and what could not be listed and why. A
    /// listing the miner's own keys break (a refused continuation, an unreadable page) ends that miner's
    /// listing, never the judgement of the others; a server or store that cannot be reached ends it all.
    async fn epoch_objects(
        &self,
        miner: &str,
        epoch: EpochId,
    ) -> Result<(BTreeMap<String, (i64, u64)>, Vec<String>), ValidatorError> {
        let mut objects = BTreeMap::new();
        let mut paging = ListPaging::default();
        loop {
            let access = match self.client.miner_epoch_listing(&self.key, miner, epoch, &paging, unix_now()).await {
                Ok(access) => access,
                Err(error) if refused_for_this_miner(&error) => {
                    let note = format!(
                        "listing stopped after {} objects: the server refused to go on ({error})",
                        objects.len()
                    );
                    return Ok((objects, vec![note]));
                }
                Err(error) => return Err(error.into()),
            };
            let epoch_folder = format!("{}{}", access.prefix, layout::epoch_folder(epoch));
            let page = match self.bucket.list(&access.miner_url).await {
                Ok(page) => page,
                Err(error @ (BucketError::Malformed(_) | BucketError::Rejected { status: 400, .. })) => {
                    let note = format!("listing stopped after {} objects: unreadable page ({error})", objects.len());
                    return Ok((objects, vec![note]));
                }
                Err(error) => return Err(error.into()),
            };
            let next = page.next_page();
            for object in page.objects {
                if objects.len() >= MAX_OBJECTS_PER_EPOCH {
                    let note = format!(
                        "more than {MAX_OBJECTS_PER_EPOCH} objects in this epoch: only the first \
                         {MAX_OBJECTS_PER_EPOCH} were judged, the rest were not counted"
                    );
                    return Ok((objects, vec![note]));
                }
                if object.key.starts_with(&epoch_folder) {
                    let relative = object.key[access.prefix.len()..].to_string();
                    objects.insert(relative, (object.last_modified_ms, object.size));
                }
            }
            match next {
                Some(next) => paging = next,
                None => return Ok((objects, Vec::new())),
            }
        }
    }

    /// Everything `miner` uploaded under `epoch={epoch}/`, downloaded and parsed. Objects whose keys the
    /// contract cannot name are left out and said so.
    async fn submission(&self, uid: u16, miner: &str, epoch: EpochId) -> Result<Submission, ValidatorError> {
        let (objects, mut unread) = self.epoch_objects(miner, epoch).await?;
        let (names, unnameable): (Vec<String>, Vec<String>) =
            objects.keys().cloned().partition(|name| layout::check_object_name(name).is_ok());
        if !unnameable.is_empty() {
            unread.push(format!(
                "{} objects have keys no grant can name (e.g. {}) and were not judged",
                unnameable.len(),
                unnameable[0].chars().take(80).collect::<String>()
            ));
        }
        let mut files = Vec::with_capacity(names.len());
        for batch in grant_batches(miner, &names) {
            let grant = match self.client.miner_access(&self.key, miner, batch, unix_now()).await {
                Ok(grant) => grant,
                Err(error) if refused_for_this_miner(&error) => {
                    unread.push(format!("{} objects could not be fetched: {error}", batch.len()));
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            let folder = &grant.prefix;
            let mut downloads = JoinSet::new();
            let permits = Arc::new(tokio::sync::Semaphore::new(PARALLEL_DOWNLOADS));
            for object in grant.download_urls {
                let relative = object.key.strip_prefix(folder.as_str()).unwrap_or(&object.key).to_string();
                let Some(&(uploaded_at_ms, size)) = objects.get(&relative) else { continue };
                let (bucket, permits, max) = (self.bucket.clone(), permits.clone(), self.settings.max_file_bytes);
                downloads.spawn(async move {
                    let _permit = permits.acquire_owned().await.expect("the semaphore is never closed");
                    let content = if size > max {
                        None
                    } else {
                        match bucket.get(&object.url, max).await {
                            Ok(bytes) => {
                                off_the_runtime(move || serde_json::from_slice::<ListingFile>(&bytes).ok()).await
                            }
                            Err(error) => {
                                tracing::warn!(key = object.key, %error, "download failed");
                                None
                            }
                        }
                    };
                    StoredFile { key: relative, uploaded_at_ms, content }
                });
            }
            while let Some(joined) = downloads.join_next().await {
                files.push(joined.expect("download tasks do not panic"));
            }
        }
        Ok(Submission { uid, hotkey: miner.to_string(), files, unread })
    }

    /// Judges `epoch` (which must have ended) and returns the weights; uploads the results when configured. The
    /// judging stages run on blocking threads: a `groups` epoch costs seconds of CPU, and the runtime also
    /// serves this validator's relay and polling.
    pub async fn judge(&self, epoch: EpochId) -> Result<EpochJudgement, ValidatorError> {
        let sourced = self.epochs.epoch(&self.key, epoch).await?;
        if sourced.source != crate::client::epochs::Source::Api {
            tracing::info!(%epoch, source = %sourced.source, "judging an epoch the API did not serve");
        }
        let terms = Self::terms(&sourced.assignment)?;
        let snapshot = self.metagraph.fetch(unix_now()).await.map_err(|e| ValidatorError::Metagraph(e.to_string()))?;
        // Every registered hotkey, this validator's own included: validators that judge the same bucket then
        // publish the same weight vector, and a neuron that did not mine is simply absent.
        let mut miners: Vec<(u16, String)> =
            snapshot.neurons.iter().map(|(hotkey, neuron)| (neuron.uid, hotkey.to_string())).collect();
        miners.sort();

        // In a `groups` epoch each miner is held to its own groups' batches.
        let grouped = sourced.assignment.groups.clone();
        let mut judging = EpochJudging::new(terms.clone(), grouped.clone(), self.rules());
        for (uid, hotkey) in &miners {
            let worked =
                grouped.as_ref().map(|g| group_judging::groups_of(&sourced.assignment, g, hotkey)).unwrap_or_default();
            let submission = self.submission(*uid, hotkey, epoch).await?;
            let miner = Miner { uid: *uid, hotkey: hotkey.clone(), coldkey: inspection_coldkey(&snapshot, hotkey) };
            judging = off_the_runtime(move || {
                judging.admit(miner, worked, &submission);
                judging
            })
            .await;
        }
        let credibility = CredibilityBook::load(self.epochs.state())?;
        let (mut judging, mut credibility) = off_the_runtime(move || {
            judging.follow(&credibility);
            judging.compare(&credibility);
            (judging, credibility)
        })
        .await;
        let first = judging.first_checks();
        judging.record_checks(self.check_at_source(first).await);
        let second = judging.second_checks();
        judging.record_checks(self.check_at_source(second).await);

        let registered: BTreeSet<String> = miners.iter().map(|(_, hotkey)| hotkey.clone()).collect();
        let (settled, mut credibility) = off_the_runtime(move || (judging.settle(&mut credibility), credibility)).await;
        credibility.save(self.epochs.state(), &|hotkey| registered.contains(hotkey));
        // The vector the SDK would emit for this split alone (no burn, no subnet limits): what the chain receives
        // is formed again when it is submitted, with the subnet's hyperparameters and the owner's burn.
        let neurons = snapshot.neurons.values().map(|n| usize::from(n.uid) + 1).max().unwrap_or(0);
        let emitted = WeightPolicy::default()
            .scores(&settled.weights, &[], neurons)
            .map(|scores| sdk_weight_vector(&scores, WeightLimits::NONE))
            .unwrap_or_default();
        let judgement = EpochJudgement {
            epoch_id: terms.epoch.to_string(),
            validator: self.hotkey(),
            judged_at: iso8601_millis(Utc::now().timestamp_millis()),
            spot_checks_per_miner: self.settings.spot_checks,
            weights: settled.weights.iter().map(|(uid, w)| (uid.to_string(), *w)).collect(),
            chain_weights: ChainWeights { uids: emitted.uids, weights: emitted.values },
            miners: settled.results,
            zipcode_listings: settled.deliveries.into_iter().map(|(z, d)| (z.to_string(), d.into())).collect(),
        };
        if self.settings.publish {
            self.publish(epoch, &judgement).await?;
        }
        Ok(judgement)
    }

    fn rules(&self) -> JudgingRules {
        JudgingRules {
            validation: self.settings.validation,
            spot_checks: self.settings.spot_checks,
            consensus: self.settings.consensus,
            split: self.settings.split.clone(),
        }
    }

    /// Checks the requested listings at their source, one miner after another.
    async fn check_at_source(&self, requests: Vec<CheckRequest>) -> Vec<CheckOutcomes> {
        let mut all = Vec::with_capacity(requests.len());
        for request in requests {
            let outcomes = check_at_source(&*self.verifier, &request.listings).await;
            all.push(CheckOutcomes { case: request.case, outcomes, why: request.why });
        }
        all
    }

    /// Uploads the judgement as `validators/{hotkey}/{epoch}/results_{YYYYmmdd_HHMMSS}.json`.
    async fn publish(&self, epoch: EpochId, judgement: &EpochJudgement) -> Result<(), ValidatorError> {
        let content = serde_json::to_vec_pretty(judgement).expect("judgements serialize");
        let megabytes = content.len() as f64 / 1_048_576.0;
        let grant = self.client.validator_upload(&self.key, epoch, megabytes, unix_now()).await?;
        let name = layout::results_file_name(&Utc::now().format("%Y%m%d_%H%M%S").to_string());
        self.bucket.post_object(&grant.url, &grant.fields, &name, content).await?;
        Ok(())
    }

    /// Every `poll`, judges each ended epoch not judged yet (the one before the current once it is
    /// `judge_delay` old, and those an outage of the coordinator kept it from judging, at most
    /// [`crate::client::validator::judged::JUDGE_BACKLOG_EPOCHS`] back and never from before this validator's state began), handing each result
    /// to `on_judged`, until `shutdown` completes. It also keeps the current epoch's assignment, for its relay.
    /// Epochs that started before the server kept history (404) are skipped.
    pub async fn run(
        &self,
        poll: Duration,
        shutdown: impl Future<Output = ()>,
        mut on_judged: impl FnMut(EpochId, Result<EpochJudgement, ValidatorError>),
    ) {
        tokio::pin!(shutdown);
        loop {
            if let Some(current) = self.epochs.current_epoch_id().await {
                self.hold_current(current).await;
                self.judge_pending(current, &mut on_judged).await;
            }
            if let Some(on_chain) = &self.on_chain {
                on_chain.keep_alive(&self.key, self.epochs.state()).await;
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = &mut shutdown => return,
            }
        }
    }

    /// Judges the ended epochs not judged yet, recording each in the judged book. When the book cannot be read
    /// now nothing is judged: a fresh book would judge (and upload) epochs judged before.
    async fn judge_pending(
        &self,
        current: EpochId,
        on_judged: &mut impl FnMut(EpochId, Result<EpochJudgement, ValidatorError>),
    ) {
        let mut book = match JudgedBook::load(self.epochs.state(), self.epochs.clock(), current) {
            Ok(book) => book,
            Err(error) => {
                tracing::warn!(%error, "cannot read the judged epochs now; judging waits for the next poll");
                return;
            }
        };
        for epoch in self.epochs_to_judge(current, &book) {
            let outcome = self.judge(epoch).await;
            let finished = outcome.as_ref().map_or_else(ValidatorError::is_unknown_epoch, |_| true);
            let unreachable = matches!(&outcome, Err(error) if error.is_outage());
            if finished {
                book.record(self.epochs.state(), epoch);
            }
            if let (Ok(judgement), Some(on_chain)) = (&outcome, &self.on_chain) {
                on_chain.put(&self.key, judgement, self.epochs.state()).await;
            }
            on_judged(epoch, outcome);
            if unreachable {
                break;
            }
        }
    }

    /// Gets and keeps the current epoch's assignment, if not kept yet.
    async fn hold_current(&self, current: EpochId) {
        if self.epochs.kept(current).is_none() {
            if let Err(error) = self.epochs.epoch(&self.key, current).await {
                tracing::debug!(%current, %error, "the current assignment is not held yet");
            }
        }
    }

    /// The ended epochs to judge now, oldest first.
    fn epochs_to_judge(&self, current: EpochId, book: &JudgedBook) -> Vec<EpochId> {
        let Some(clock) = self.epochs.clock() else { return Vec::new() };
        let ready = self.epochs.now_unix() - current.start_unix() >= self.settings.judge_delay.as_secs() as i64;
        book.to_judge(clock, current, ready)
    }
}

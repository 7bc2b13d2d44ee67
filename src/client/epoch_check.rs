//! `zipcoord verify-epoch`: fetches a started epoch's proof and its published inputs from a server (or a
//! validator's relay), and recomputes the epoch from them and the beacon's pulse, trusting nothing the server
//! says that it can check; and, with any registered hotkey to read validators' verdicts, the recalibration of its
//! expected listings ([`verify_calibration`]).

use std::collections::BTreeSet;

use crate::api::{parse_iso8601, AssignmentResponse, EpochProofBody, EpochProofResponse};
use crate::client::{ClientError, ZipcoordClient};
use crate::domain::access::keys::Keypair;
use crate::domain::epoch::calibration::section::CalibrationDiffers;
use crate::domain::epoch::inputs::{inputs_hash_hex, EpochInputs};
use crate::domain::epoch::proof::parse_hex;
use crate::domain::epoch::recompute::{recompute, rolls_forward, Discrepancy, EpochClaim, Verified};
use crate::domain::epoch::zipcode::Zipcode;
use crate::domain::epoch::EpochId;

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot fetch the epoch: {0}")]
    Fetch(#[from] ClientError),
    #[error("the server's proof is malformed: {0}")]
    Malformed(String),
    #[error(transparent)]
    Discrepancy(#[from] Discrepancy),
    #[error("calibration: {0}")]
    Calibration(#[from] CalibrationDiffers),
}

/// What rechecking an epoch's calibration found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalibrationChecked {
    pub moves: usize,
    pub files: usize,
    pub epochs: usize,
    /// Validators that publish verdicts on an evidence epoch now but were not read for the calibration (their
    /// file came later, or the operator left it out): `epochId hotkey`.
    pub unnamed: Vec<String>,
}

/// Recomputes the calibration of `epoch`'s inputs from the verdicts the results endpoint serves (read with `key`,
/// any registered hotkey): `None` when the inputs were not recalibrated. The inputs must be the ones the proof
/// names.
pub async fn verify_calibration(
    client: &ZipcoordClient,
    key: &Keypair,
    epoch: EpochId,
    now_unix: i64,
) -> Result<Option<CalibrationChecked>, CheckError> {
    let proof = client.epoch_proof(epoch).await?;
    let document = client.epoch_inputs(epoch).await?;
    if inputs_hash_hex(&document) != proof.proof.inputs_hash {
        return Err(CheckError::Malformed(format!("the inputs of {epoch} do not match its proof's hash")));
    }
    let inputs = EpochInputs::from_canonical_json(&document).map_err(|e| CheckError::Malformed(e.to_string()))?;
    let Some(section) = &inputs.calibration else { return Ok(None) };
    let epochs: BTreeSet<EpochId> = section.evidence.iter().map(|file| file.epoch).collect();
    let (mut evidence, mut unnamed) = (Vec::new(), Vec::new());
    for &judged in &epochs {
        let answer = client.epoch_results(key, judged, now_unix).await?;
        for evidence_file in answer.validators.iter().filter_map(|verdicts| verdicts.evidence(judged)) {
            let named =
                section.evidence.iter().any(|f| f.epoch == judged && f.validator == evidence_file.file.validator);
            if named {
                evidence.push(evidence_file);
            } else {
                unnamed.push(format!("{judged} {}", evidence_file.file.validator));
            }
        }
    }
    section.recheck(&inputs.candidates, &evidence, inputs.policy.min_listings, inputs.policy.max_listings)?;
    Ok(Some(CalibrationChecked {
        moves: section.moves.len(),
        files: section.evidence.len(),
        epochs: epochs.len(),
        unnamed,
    }))
}

/// What the server claims, parsed; a field that does not parse is itself a failed check.
pub fn claim_of(answer: &EpochProofResponse) -> Result<EpochClaim, CheckError> {
    let groups =
        answer.groups.as_ref().map(|groups| groups.iter().map(|g| (g.zipcode_count, g.members.clone())).collect());
    claim(&answer.epoch_id, &answer.nonce, answer.zipcodes.iter(), &answer.proof, groups)
}

/// What a whole epoch as `/epoch/{id}` serves it (a relay's answer, say) claims: in a `groups` epoch its
/// zipcodes in picking order are its groups' batches one after the other, as the proof lists them.
pub fn claim_of_served(answer: &AssignmentResponse) -> Result<EpochClaim, CheckError> {
    let proof = answer.proof.as_ref().ok_or_else(|| CheckError::Malformed("the answer carries no proof".into()))?;
    match &answer.groups {
        None => claim(&answer.epoch_id, &answer.nonce, answer.zipcodes.iter().map(|z| &z.zipcode), proof, None),
        Some(body) => {
            let groups = body.groups.iter().map(|g| (g.zipcodes.len(), g.members.clone())).collect();
            let zipcodes = body.groups.iter().flat_map(|g| &g.zipcodes);
            claim(&answer.epoch_id, &answer.nonce, zipcodes, proof, Some(groups))
        }
    }
}

fn claim<'a>(
    epoch_id: &str,
    nonce: &str,
    zipcodes: impl Iterator<Item = &'a String>,
    proof: &EpochProofBody,
    groups: Option<Vec<(usize, Vec<String>)>>,
) -> Result<EpochClaim, CheckError> {
    let malformed = |what: &str| CheckError::Malformed(what.to_string());
    let hash = |text: &str, what: &str| parse_hex::<32>(text, "a hash").map_err(|e| malformed(&format!("{what}: {e}")));
    Ok(EpochClaim {
        epoch: epoch_id.parse().map_err(|_| malformed("epochId"))?,
        nonce: nonce.parse().map_err(|e| malformed(&format!("nonce: {e}")))?,
        zipcodes: zipcodes
            .map(|z| z.parse::<Zipcode>().map_err(|_| malformed("zipcodes")))
            .collect::<Result<_, _>>()?,
        kind: proof.kind.parse().map_err(|e| malformed(&format!("proof.kind: {e}")))?,
        reason: proof.reason.clone(),
        chain_hash: hash(&proof.chain_hash, "proof.chainHash")?,
        round: proof.round,
        signature: proof.signature.clone(),
        randomness: proof.randomness.as_deref().map(|text| hash(text, "proof.randomness")).transpose()?,
        inputs_hash: hash(&proof.inputs_hash, "proof.inputsHash")?,
        inputs_published_at_ms: parse_iso8601(&proof.inputs_published_at)
            .ok_or_else(|| malformed("proof.inputsPublishedAt"))?,
        algorithm_version: proof.algorithm_version.clone(),
        groups,
    })
}

/// Recomputes `epoch` as served by `client`'s server.
pub async fn verify_epoch(client: &ZipcoordClient, epoch: EpochId) -> Result<Verified, CheckError> {
    let answer = client.epoch_proof(epoch).await?;
    let claim = claim_of(&answer)?;
    if claim.epoch != epoch {
        return Err(CheckError::Malformed(format!("asked for epoch {epoch}, the server answered {}", claim.epoch)));
    }
    let inputs = client.epoch_inputs(epoch).await?;
    let mut verified = recompute(&claim, &inputs)?;
    if verified.published_ahead_seconds <= 0 {
        verified.rolled_forward_from = rolled_forward_from(client, epoch, &inputs).await?;
    }
    Ok(verified)
}

/// The previous epoch, if `inputs` (of `epoch`, published after its round) are the roll-forward of its published
/// inputs and selection.
async fn rolled_forward_from(
    client: &ZipcoordClient,
    epoch: EpochId,
    inputs: &[u8],
) -> Result<Option<EpochId>, CheckError> {
    let Some(clock) = client.stats().await?.epoch_clock() else { return Ok(None) };
    let previous = clock.previous(epoch);
    let answer = match client.epoch_proof(previous).await {
        Ok(answer) => answer,
        Err(ClientError::Api { status: 404, .. }) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let previous_inputs = match client.epoch_inputs(previous).await {
        Ok(document) => document,
        Err(ClientError::Api { status: 404, .. }) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    if inputs_hash_hex(&previous_inputs) != answer.proof.inputs_hash {
        return Err(CheckError::Malformed(format!("the inputs of {previous} do not match its proof's hash")));
    }
    let picked = claim_of(&answer)?.zipcodes;
    Ok(rolls_forward(&previous_inputs, &picked, epoch, inputs).then_some(previous))
}

/// The line `verify-epoch` prints for a verified epoch.
pub fn describe(epoch: EpochId, verified: &Verified) -> String {
    let published = if verified.published_ahead_seconds > 0 {
        format!("published {} s before the round", verified.published_ahead_seconds)
    } else if let Some(previous) = verified.rolled_forward_from {
        format!(
            "published {} s after the round (the server was down) but rolled forward from epoch {previous}'s \
             published inputs and selection, so fixed before it",
            -verified.published_ahead_seconds
        )
    } else {
        format!(
            "published {} s AFTER the round: the operator could have chosen them knowing its randomness",
            -verified.published_ahead_seconds
        )
    };
    let grouped = if verified.groups > 0 { format!(" in {} groups", verified.groups) } else { String::new() };
    format!(
        "verified: epoch {epoch}: {} zipcodes{grouped}, {} expected listings, from round {} of {} and inputs \
         {published}",
        verified.zipcodes, verified.expected_listings, verified.round, verified.chain_name
    )
}

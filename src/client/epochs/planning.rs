//! Planning an epoch on the client: from kept inputs and a verified pulse, as the server planned it, and a kept
//! answer planned again so a relay can render each miner's own view.

use std::collections::HashMap;

use super::{Epochs, KnownInputs, Unobtainable};
use crate::api::{AssignedZipcode, AssignmentResponse, AssignmentView};
use crate::client::epoch_check::claim_of_served;
use crate::domain::epoch::assignment::{plan_beacon_epoch, EpochAssignment, PublishedInputs};
use crate::domain::epoch::beacon::{Pulse, Randomness};
use crate::domain::epoch::inputs::inputs_hash_hex;
use crate::domain::epoch::recompute::recompute;
use crate::domain::epoch::{EpochClock, EpochId};

impl Epochs {
    /// Plans `known`'s epoch from a verified pulse, with the places of the built-in universe.
    pub(super) fn plan(
        &self,
        clock: EpochClock,
        known: &KnownInputs,
        pulse: Pulse,
        randomness: Randomness,
    ) -> Result<EpochAssignment, Unobtainable> {
        let hash = inputs_hash_hex(&known.bytes);
        let published = PublishedInputs { inputs: &known.inputs, hash: &hash, published_at_ms: (self.now_ms)() };
        let chain_name = crate::domain::epoch::beacon::known_chain(&known.inputs.beacon_chain_hash)
            .map_or("unknown", |chain| chain.name);
        let no_places = HashMap::new();
        let (mut assignment, _) =
            plan_beacon_epoch(clock, &published, chain_name, pulse, randomness, &no_places, (self.now_ms)())?;
        // The inputs carry no place names; the built-in table has them for every standard zipcode.
        for zipcode in &mut assignment.zipcodes {
            if let Some(place) = self.places.locate(zipcode.zipcode) {
                (zipcode.state, zipcode.city, zipcode.county) = (place.state, place.city, place.county);
            }
        }
        Ok(assignment)
    }

    /// [`Self::plan`], answered as `view` sees it.
    pub(super) fn compute(
        &self,
        clock: EpochClock,
        known: &KnownInputs,
        pulse: Pulse,
        randomness: Randomness,
        view: AssignmentView<'_>,
    ) -> Result<AssignmentResponse, Unobtainable> {
        Ok(AssignmentResponse::of(&self.plan(clock, known, pulse, randomness)?, None, view))
    }

    /// The kept (whole) assignment of `epoch`, planned again here from the kept inputs and the pulse its proof
    /// carries, once it recomputes, with the places the kept answer names: what a relay renders each miner's
    /// own view from.
    pub fn replan_kept(&self, epoch: EpochId) -> Result<EpochAssignment, String> {
        let clock = self.clock().ok_or("the epoch length is not known yet")?;
        let kept = self.kept(epoch).ok_or_else(|| format!("no assignment of epoch {epoch} is held"))?;
        let known = self.known_inputs_file(epoch).ok_or_else(|| format!("no inputs of epoch {epoch} are held"))?;
        let claim = claim_of_served(&kept.assignment).map_err(|e| e.to_string())?;
        let verified = recompute(&claim, &known.bytes).map_err(|e| format!("it does not recompute: {e}"))?;
        let mut planned = self.plan(clock, &known, verified.pulse, verified.randomness).map_err(|e| e.to_string())?;
        let places: HashMap<&str, &AssignedZipcode> =
            kept.assignment.zipcodes.iter().map(|z| (z.zipcode.as_str(), z)).collect();
        for zipcode in &mut planned.zipcodes {
            if let Some(place) = places.get(zipcode.zipcode.as_str()) {
                (zipcode.state, zipcode.city, zipcode.county) =
                    (place.state.clone(), place.city.clone(), place.county.clone());
            }
        }
        Ok(planned)
    }
}

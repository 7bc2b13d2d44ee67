//! The two calls that put a validator's weights on chain, encoded as the runtime in front of us declares them:
//! `SubtensorModule.set_weights(netuid, dests, weights, version_key)` when commit-reveal is off and
//! `SubtensorModule.commit_timelocked_weights(netuid, commit, reveal_round, commit_reveal_version)` when it is
//! on. Indices come from the metadata; a runtime whose call lost, reordered or retyped an argument is refused.

use parity_scale_codec::{Compact, Encode};

use super::runtime::{RuntimeError, RuntimeLayout, Shape, SUBTENSOR_PALLET};

/// A weight call with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightCall {
    SetWeights { netuid: u16, dests: Vec<u16>, weights: Vec<u16>, version_key: u64 },
    CommitTimelockedWeights { netuid: u16, commit: Vec<u8>, reveal_round: u64, commit_reveal_version: u16 },
}

/// The chain's bound on a timelocked commit (`BoundedVec<u8, ConstU32<5000>>`).
pub const MAX_COMMIT_BYTES: usize = 5000;

impl WeightCall {
    /// The call's name in the pallet.
    pub fn name(&self) -> &'static str {
        match self {
            WeightCall::SetWeights { .. } => "set_weights",
            WeightCall::CommitTimelockedWeights { .. } => "commit_timelocked_weights",
        }
    }

    /// The argument names and shapes this encoder writes, in order.
    fn expected(&self) -> [(&'static str, Shape); 4] {
        let vec = |s: Shape| Shape::Sequence(Box::new(s));
        match self {
            WeightCall::SetWeights { .. } => [
                ("netuid", Shape::U16),
                ("dests", vec(Shape::U16)),
                ("weights", vec(Shape::U16)),
                ("version_key", Shape::U64),
            ],
            WeightCall::CommitTimelockedWeights { .. } => [
                ("netuid", Shape::U16),
                ("commit", vec(Shape::U8)),
                ("reveal_round", Shape::U64),
                ("commit_reveal_version", Shape::U16),
            ],
        }
    }

    /// The call's bytes (pallet index, call index, arguments) under `runtime`.
    pub fn encode(&self, runtime: &RuntimeLayout) -> Result<Vec<u8>, RuntimeError> {
        let layout = runtime.call(SUBTENSOR_PALLET, self.name())?;
        let expected = self.expected();
        let fits = layout.arguments.len() == expected.len()
            && layout
                .arguments
                .iter()
                .zip(&expected)
                .all(|((name, shape), (want, wanted))| name == want && shape == wanted);
        if !fits {
            let show = |args: &mut dyn Iterator<Item = (String, String)>| {
                args.map(|(name, shape)| format!("{name}: {shape}")).collect::<Vec<_>>().join(", ")
            };
            return Err(RuntimeError::Arguments {
                pallet: SUBTENSOR_PALLET.to_string(),
                call: self.name().to_string(),
                found: show(&mut layout.arguments.iter().map(|(n, s)| (n.clone(), s.to_string()))),
                expected: show(&mut expected.iter().map(|(n, s)| (n.to_string(), s.to_string()))),
            });
        }
        let mut bytes = vec![layout.pallet_index, layout.call_index];
        match self {
            WeightCall::SetWeights { netuid, dests, weights, version_key } => {
                (netuid, dests, weights, version_key).encode_to(&mut bytes);
            }
            WeightCall::CommitTimelockedWeights { netuid, commit, reveal_round, commit_reveal_version } => {
                netuid.encode_to(&mut bytes);
                Compact(commit.len() as u32).encode_to(&mut bytes);
                bytes.extend_from_slice(commit);
                (reveal_round, commit_reveal_version).encode_to(&mut bytes);
            }
        }
        Ok(bytes)
    }
}

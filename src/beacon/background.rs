//! Pulses as request paths see them: fetched in the background, one fetch per round at a time, and read from
//! what the last fetch brought. A request glances at the fetch for a moment (a local source or a quick relay
//! answers within it) and otherwise answers at once that the pulse is awaited: a slow relay (seconds per
//! answer) never holds a request, nor the epoch-creation lock behind it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;

use super::PulseSource;
use crate::domain::epoch::beacon::{BeaconChain, Pulse, Randomness, Round};

/// After a failed fetch, the next one starts no sooner than this (a request that comes meanwhile reads the
/// failure).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// Rounds remembered at most (epochs ask for one round each; a few recent ones are plenty).
const ROUNDS_KEPT: usize = 16;

enum RoundState {
    /// A fetch is under way; its receiver turns `true` when it ends.
    Fetching {
        since: Instant,
        done: watch::Receiver<bool>,
    },
    Verified(Pulse, Randomness),
    Failed {
        at: Instant,
        reason: String,
    },
}

/// Why a glance found no verified pulse of a round.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PulseAwaited {
    /// The last fetch failed, for the source's reason (asked again after a pause).
    #[error("{0}")]
    Failed(String),
    #[error("the pulse of round {round} is being fetched ({seconds} s so far)")]
    Fetching { round: Round, seconds: u64 },
    #[error("the pulse of round {0} is not fetched yet")]
    NotFetched(Round),
}

/// A pulse source behind a background single flight per round.
pub struct BackgroundPulses {
    source: Arc<dyn PulseSource>,
    rounds: Arc<Mutex<BTreeMap<Round, RoundState>>>,
}

impl BackgroundPulses {
    pub fn new(source: Box<dyn PulseSource>) -> Self {
        BackgroundPulses { source: Arc::from(source), rounds: Arc::default() }
    }

    pub fn chain(&self) -> &BeaconChain {
        self.source.chain()
    }

    pub fn describe(&self) -> String {
        self.source.describe()
    }

    /// The verified pulse of `round` if a fetch brought it, waiting at most `glance` for one under way (and
    /// starting one if none is and the last failure is not too recent); otherwise why it is not here.
    pub async fn glance(&self, round: Round, glance: Duration) -> Result<(Pulse, Randomness), PulseAwaited> {
        let mut done = match self.state_or_fetch(round) {
            Ok(found) => return found,
            Err(done) => done,
        };
        let _ = tokio::time::timeout(glance, done.wait_for(|ended| *ended)).await;
        match self.rounds.lock().get(&round) {
            Some(RoundState::Verified(pulse, randomness)) => Ok((*pulse, *randomness)),
            Some(RoundState::Failed { reason, .. }) => Err(PulseAwaited::Failed(reason.clone())),
            Some(RoundState::Fetching { since, .. }) => {
                Err(PulseAwaited::Fetching { round, seconds: since.elapsed().as_secs() })
            }
            None => Err(PulseAwaited::NotFetched(round)),
        }
    }

    /// What is known of `round`, or the end of the fetch to wait for (started here if need be).
    #[allow(clippy::type_complexity)]
    fn state_or_fetch(&self, round: Round) -> Result<Result<(Pulse, Randomness), PulseAwaited>, watch::Receiver<bool>> {
        let mut rounds = self.rounds.lock();
        match rounds.get(&round) {
            Some(RoundState::Verified(pulse, randomness)) => return Ok(Ok((*pulse, *randomness))),
            Some(RoundState::Fetching { done, .. }) => return Err(done.clone()),
            Some(RoundState::Failed { at, reason }) if at.elapsed() < RETRY_AFTER_FAILURE => {
                return Ok(Err(PulseAwaited::Failed(reason.clone())))
            }
            _ => {}
        }
        let (ended, done) = watch::channel(false);
        rounds.insert(round, RoundState::Fetching { since: Instant::now(), done: done.clone() });
        while rounds.len() > ROUNDS_KEPT {
            rounds.pop_first();
        }
        let (source, shared) = (self.source.clone(), self.rounds.clone());
        tokio::spawn(async move {
            let state = match source.verified_pulse(round).await {
                Ok((pulse, randomness)) => RoundState::Verified(pulse, randomness),
                Err(failure) => {
                    crate::metrics::beacon_failure();
                    RoundState::Failed { at: Instant::now(), reason: failure.to_string() }
                }
            };
            shared.lock().insert(round, state);
            let _ = ended.send(true);
        });
        Err(done)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::beacon::{BeaconFailure, PulseFuture};
    use crate::domain::epoch::beacon::DevBeacon;

    /// The dev chain's pulses, each answered after `delay`, counting the requests.
    struct SlowSource {
        beacon: DevBeacon,
        delay: Duration,
        asked: Arc<AtomicUsize>,
        fail: bool,
    }

    impl PulseSource for SlowSource {
        fn chain(&self) -> &BeaconChain {
            self.beacon.chain()
        }

        fn describe(&self) -> String {
            "slow".to_string()
        }

        fn verified_pulse(&self, round: Round) -> PulseFuture<'_> {
            Box::pin(async move {
                self.asked.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(self.delay).await;
                if self.fail {
                    return Err(BeaconFailure::Unavailable { round, reasons: "relay: HTTP 502".into() });
                }
                let pulse = self.beacon.pulse(round);
                let randomness = self.beacon.chain().verify(&pulse)?;
                Ok((pulse, randomness))
            })
        }
    }

    fn slow(delay: Duration, fail: bool) -> (BackgroundPulses, Arc<AtomicUsize>) {
        let asked = Arc::new(AtomicUsize::new(0));
        let source = SlowSource { beacon: DevBeacon::new(), delay, asked: asked.clone(), fail };
        (BackgroundPulses::new(Box::new(source)), asked)
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_source_is_asked_once_and_no_glance_waits_for_it() {
        let (pulses, asked) = slow(Duration::from_secs(10), false);
        for _ in 0..20 {
            let started = tokio::time::Instant::now();
            let pending = pulses.glance(7, Duration::from_millis(100)).await.unwrap_err().to_string();
            assert!(pending.contains("round 7 is being fetched"), "{pending}");
            assert!(started.elapsed() <= Duration::from_millis(100));
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1, "one fetch in flight, however many requests");
        tokio::time::sleep(Duration::from_secs(10)).await;
        let (pulse, _) = pulses.glance(7, Duration::ZERO).await.expect("the fetch brought it");
        assert_eq!(pulse.round, 7);
        assert_eq!(asked.load(Ordering::SeqCst), 1, "kept, not asked again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_quick_source_answers_within_the_glance_and_failures_are_retried_after_a_pause() {
        let (quick, _) = slow(Duration::from_millis(5), false);
        assert!(quick.glance(3, Duration::from_millis(100)).await.is_ok());

        let (failing, asked) = slow(Duration::from_millis(5), true);
        let reason = failing.glance(3, Duration::from_millis(100)).await.unwrap_err();
        assert!(matches!(&reason, PulseAwaited::Failed(why) if why.contains("HTTP 502")), "{reason}");
        assert_eq!(failing.glance(3, Duration::from_millis(100)).await.unwrap_err(), reason, "read, not asked again");
        assert_eq!(asked.load(Ordering::SeqCst), 1);
        tokio::time::sleep(RETRY_AFTER_FAILURE).await;
        let _ = failing.glance(3, Duration::from_millis(100)).await;
        assert_eq!(asked.load(Ordering::SeqCst), 2, "asked again after the pause");
    }
}

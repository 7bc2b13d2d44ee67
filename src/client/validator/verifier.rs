//! How a validator spot-checks a listing at its source: the `ListingVerifier` trait, an external command (the
//! operator's own lookup against Zillow, an MLS feed...), and the synthetic market for local networks and tests.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::client::command;
use crate::client::synthetic::{self, MarketSizes};
use crate::domain::judging::listing::Listing;
use crate::domain::judging::validation::SpotCheck;

pub type VerifyFuture<'a> = Pin<Box<dyn Future<Output = SpotCheck> + Send + 'a>>;

pub trait ListingVerifier: Send + Sync {
    fn describe(&self) -> String;
    /// Checks `listing`, filed under a zipcode whose assignment expected `expected_listings`.
    fn verify<'a>(&'a self, listing: &'a Listing, expected_listings: u32) -> VerifyFuture<'a>;
}

/// Checks `listings` (each with its zipcode's expected listings) at their source one after another: the outcome
/// for each listing id.
pub async fn check_at_source(verifier: &dyn ListingVerifier, listings: &[(Listing, u32)]) -> Vec<(String, SpotCheck)> {
    let mut outcomes = Vec::with_capacity(listings.len());
    for (listing, expected) in listings {
        outcomes.push((listing.listing_id.clone(), verifier.verify(listing, *expected).await));
    }
    outcomes
}

/// Checks against the synthetic market of these sizes.
pub struct SyntheticVerifier(pub MarketSizes);

impl ListingVerifier for SyntheticVerifier {
    fn describe(&self) -> String {
        "synthetic market".to_string()
    }

    fn verify<'a>(&'a self, listing: &'a Listing, expected_listings: u32) -> VerifyFuture<'a> {
        Box::pin(async move {
            match synthetic::check(listing, self.0.size(&listing.zipcode, expected_listings)) {
                Ok(()) => SpotCheck::Confirmed,
                Err(reason) => SpotCheck::Refuted { reason: reason.to_string() },
            }
        })
    }
}

/// Runs a shell command per listing, with the listing's JSON on stdin: exit 0 confirms it, exit 1 refutes it
/// (the first line of stdout says why), anything else (or a timeout) means the source could not be asked.
pub struct CommandVerifier {
    pub command: String,
    pub timeout: Duration,
}

impl ListingVerifier for CommandVerifier {
    fn describe(&self) -> String {
        format!("command `{}`", self.command)
    }

    fn verify<'a>(&'a self, listing: &'a Listing, _expected_listings: u32) -> VerifyFuture<'a> {
        Box::pin(async move {
            let input = serde_json::to_vec(listing).expect("listings serialize");
            let env =
                [("ZIPCOORD_LISTING_ID", listing.listing_id.clone()), ("ZIPCOORD_ZIPCODE", listing.zipcode.clone())];
            match command::run(&self.command, &env, Some(input), self.timeout, 64 * 1024).await {
                Ok(output) if output.code == Some(0) => SpotCheck::Confirmed,
                Ok(output) if output.code == Some(1) => {
                    let text = String::from_utf8_lossy(&output.stdout);
                    let reason = text.lines().next().unwrap_or("").trim();
                    SpotCheck::Refuted {
                        reason: if reason.is_empty() { "refuted by the source".into() } else { reason.to_string() },
                    }
                }
                Ok(output) => SpotCheck::Unavailable {
                    reason: format!("verifier exited with {:?}: {}", output.code, output.stderr_tail),
                },
                Err(error) => SpotCheck::Unavailable { reason: error.to_string() },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn command_verifiers_confirm_refute_or_abstain() {
        let listing = synthetic::listing("02134", "Boston", "MA", 0, "2025-10-01T16:05:00.000Z");
        let verifier = |command: &str| CommandVerifier { command: command.into(), timeout: Duration::from_secs(10) };
        let id_check = format!("grep -q '\"listingId\":\"{}\"'", listing.listing_id);
        assert_eq!(verifier(&id_check).verify(&listing, 1).await, SpotCheck::Confirmed);
        assert_eq!(
            verifier("echo 'sold in 2019'; exit 1").verify(&listing, 1).await,
            SpotCheck::Refuted { reason: "sold in 2019".into() }
        );
        assert!(matches!(verifier("exit 7").verify(&listing, 1).await, SpotCheck::Unavailable { .. }));
        let slow = CommandVerifier { command: "sleep 30".into(), timeout: Duration::from_millis(100) };
        assert!(matches!(slow.verify(&listing, 1).await, SpotCheck::Unavailable { .. }));
    }

    #[tokio::test]
    async fn the_synthetic_verifier_refutes_invented_listings() {
        let mut listing = synthetic::listing("02134", "Boston", "MA", 1, "2025-10-01T16:05:00.000Z");
        let verifier = SyntheticVerifier(MarketSizes::AsExpected);
        assert_eq!(verifier.verify(&listing, 2).await, SpotCheck::Confirmed);
        assert!(matches!(verifier.verify(&listing, 1).await, SpotCheck::Refuted { .. }), "beyond the expectation");
        // A varied market holds what it holds, whatever the assignment expected.
        let size = MarketSizes::Varied.size("02134", 1);
        let last = synthetic::listing("02134", "Boston", "MA", size - 1, "2025-10-01T16:05:00.000Z");
        assert_eq!(SyntheticVerifier(MarketSizes::Varied).verify(&last, 1).await, SpotCheck::Confirmed);
        listing.listing_id = "made-up".into();
        assert!(matches!(verifier.verify(&listing, 2).await, SpotCheck::Refuted { .. }));
    }
}

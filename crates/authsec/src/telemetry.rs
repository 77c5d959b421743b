//! Metrics, recorded through the [`metrics`](https://docs.rs/metrics) facade.
//!
//! authsec records; the application decides where the numbers go. Without an installed
//! recorder every call here is a no-op costing one atomic load. To export them, install any
//! `metrics` recorder at start-up — e.g. `metrics-exporter-prometheus`, as the gateway does —
//! call [`describe`] once, and [`observe`] (plus [`observe_policy`] in the remote policy
//! modes) before each scrape for the gauges.
//!
//! | metric | type | labels | recorded |
//! |---|---|---|---|
//! | `authsec_decisions_total` | counter | `decision` (`allow`/`deny`), `reason` (the body `reason`, `allowed` for an allow) | once per decision |
//! | `authsec_decision_duration_seconds` | histogram | `decision` | once per decision: token, policy and session checks (not the inner service) |
//! | `authsec_token_cache_lookups_total` | counter | `cache` (`verified_token`/`introspection`), `result` (`hit`/`miss`) | once per lookup; hit ratio = hits ÷ lookups |
//! | `authsec_jwks_refreshes_total` | counter | `result` (`success`/`failure`) | once per JWKS fetch |
//! | `authsec_token_cache_entries` | gauge | `cache` | by [`observe`] |
//! | `authsec_introspection_calls_total` | counter | — | by [`observe`] (requests sent to the introspection endpoint) |
//! | `authsec_jwks_keys` | gauge | — | by [`observe`] (usable keys in the JWKS cache) |
//! | `authsec_policy_fetches_total` | counter | `result` (`success`/`failure`) | once per request to the console's policy endpoint (remote policy modes) |
//! | `authsec_policy_generation` | gauge | — | by [`observe_policy`] (the held console policy's generation) |
//! | `authsec_policy_age_seconds` | gauge | — | by [`observe_policy`] (since the console last answered) |
//! | `authsec_policy_stale` | gauge | — | by [`observe_policy`]: `0` fresh, `1` past the TTL (still used, refreshing), `2` past TTL + maximum staleness (not used), `3` none held |
//!
//! Labels take a small, fixed set of values: tokens, subjects and tool names never appear.
//!
//! The module holds the metric names, [`describe`], [`observe`] and [`observe_policy`]; the
//! recording itself happens inside the SDK.
//!
//! ```
//! // With no recorder installed this records nothing and costs next to nothing.
//! authsec::telemetry::describe();
//! ```

use std::time::Duration;

#[cfg(feature = "remote-policy")]
use crate::policy::remote::{Freshness, RemotePolicy};
use crate::validate::Validator;

/// `authsec_decisions_total`.
pub const DECISIONS: &str = "authsec_decisions_total";
/// `authsec_decision_duration_seconds`.
pub const DECISION_DURATION: &str = "authsec_decision_duration_seconds";
/// `authsec_token_cache_lookups_total`.
pub const CACHE_LOOKUPS: &str = "authsec_token_cache_lookups_total";
/// `authsec_jwks_refreshes_total`.
pub const JWKS_REFRESHES: &str = "authsec_jwks_refreshes_total";
/// `authsec_token_cache_entries`.
pub const CACHE_ENTRIES: &str = "authsec_token_cache_entries";
/// `authsec_introspection_calls_total`.
pub const INTROSPECTION_CALLS: &str = "authsec_introspection_calls_total";
/// `authsec_jwks_keys`.
pub const JWKS_KEYS: &str = "authsec_jwks_keys";
/// `authsec_policy_fetches_total`.
pub const POLICY_FETCHES: &str = "authsec_policy_fetches_total";
/// `authsec_policy_generation`.
pub const POLICY_GENERATION: &str = "authsec_policy_generation";
/// `authsec_policy_age_seconds`.
pub const POLICY_AGE: &str = "authsec_policy_age_seconds";
/// `authsec_policy_stale`.
pub const POLICY_STALE: &str = "authsec_policy_stale";

/// Suggested histogram buckets for [`DECISION_DURATION`], in seconds: a cached token is
/// decided in microseconds, a JWKS or introspection round trip takes milliseconds.
pub const DECISION_DURATION_BUCKETS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The token caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cache {
    /// Verified JWTs (skips parsing and the signature).
    VerifiedToken,
    /// Introspection answers (skips the round trip to the authorization server).
    Introspection,
}

impl Cache {
    /// The `cache` label value.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Cache::VerifiedToken => "verified_token",
            Cache::Introspection => "introspection",
        }
    }
}

/// Records one decision (called by [`crate::decision::emit`]).
pub(crate) fn decision(decision: &'static str, reason: &'static str, latency: Duration) {
    metrics::counter!(DECISIONS, "decision" => decision, "reason" => reason).increment(1);
    metrics::histogram!(DECISION_DURATION, "decision" => decision).record(latency.as_secs_f64());
}

/// Records one token-cache lookup.
pub(crate) fn cache_lookup(cache: Cache, hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!(CACHE_LOOKUPS, "cache" => cache.label(), "result" => result).increment(1);
}

/// Records one JWKS fetch.
pub(crate) fn jwks_refresh(ok: bool) {
    let result = if ok { "success" } else { "failure" };
    metrics::counter!(JWKS_REFRESHES, "result" => result).increment(1);
}

/// Records one request to the console's policy endpoint.
#[cfg(feature = "remote-policy")]
pub(crate) fn policy_fetch(ok: bool) {
    let result = if ok { "success" } else { "failure" };
    metrics::counter!(POLICY_FETCHES, "result" => result).increment(1);
}

/// The [`POLICY_STALE`] level of a held policy's freshness (`None`: nothing held).
#[cfg(feature = "remote-policy")]
pub(crate) fn stale_level(freshness: Option<Freshness>) -> u8 {
    match freshness {
        Some(Freshness::Fresh) => 0,
        Some(Freshness::Stale) => 1,
        Some(Freshness::Expired) => 2,
        None => 3,
    }
}

/// Sets the console policy gauges: generation, age and staleness. Call it before rendering a
/// scrape, with [`crate::http::AuthSecLayer::remote_policy`].
#[cfg(feature = "remote-policy")]
pub fn observe_policy(remote: &RemotePolicy) {
    let status = remote.status();
    if let Some(generation) = status.generation {
        metrics::gauge!(POLICY_GENERATION).set(generation as f64);
    }
    if let Some(age) = status.age_secs {
        metrics::gauge!(POLICY_AGE).set(age as f64);
    }
    metrics::gauge!(POLICY_STALE).set(f64::from(stale_level(status.freshness)));
}

/// Sets the gauges that are read rather than counted: cache sizes, introspection calls, keys.
/// Call it before rendering a scrape.
pub fn observe(validator: &Validator) {
    let stats = validator.cache_stats();
    metrics::gauge!(CACHE_ENTRIES, "cache" => Cache::VerifiedToken.label())
        .set(stats.verified_tokens as f64);
    if validator.introspector().is_some() {
        metrics::gauge!(CACHE_ENTRIES, "cache" => Cache::Introspection.label())
            .set(stats.introspection_answers as f64);
        metrics::counter!(INTROSPECTION_CALLS).absolute(stats.introspection_calls);
    }
    metrics::gauge!(JWKS_KEYS).set(validator.keys().current().len() as f64);
}

/// Registers the help text of every authsec metric with the installed recorder.
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        DECISIONS,
        "Authorization decisions by outcome (decision) and denial reason."
    );
    describe_histogram!(
        DECISION_DURATION,
        Unit::Seconds,
        "Time to decide a request: token validation, session and tool policy checks."
    );
    describe_counter!(
        CACHE_LOOKUPS,
        "Token cache lookups by cache and result; hit ratio = hit / (hit + miss)."
    );
    describe_counter!(
        JWKS_REFRESHES,
        "JWKS fetches by result; on failure the last good keys are kept."
    );
    describe_gauge!(
        CACHE_ENTRIES,
        "Entries in each token cache (keyed by a keyed hash of the token, never the token)."
    );
    describe_counter!(
        INTROSPECTION_CALLS,
        "Requests sent to the RFC 7662 introspection endpoint."
    );
    describe_gauge!(JWKS_KEYS, "Usable signing keys in the JWKS cache.");
    describe_counter!(
        POLICY_FETCHES,
        "Requests to the console's policy endpoint by result (remote policy modes)."
    );
    describe_gauge!(POLICY_GENERATION, "Generation of the held console policy.");
    describe_gauge!(
        POLICY_AGE,
        Unit::Seconds,
        "Seconds since the console last answered with a policy."
    );
    describe_gauge!(
        POLICY_STALE,
        "Console policy staleness: 0 fresh, 1 past the TTL (used while refreshing), 2 past TTL + maximum staleness (not used), 3 none held."
    );
}

//! The [`Validator`]: token in, [`Principal`] or [`AuthError`] out.
//!
//! Every check is a small pure function below (`check_alg`, `check_issuer`, `check_audience`,
//! …), named by a [`Check`](pipeline::Check). Their order is written once, in [`pipeline`]: the validator runs
//! the pipeline and stops at the first failure; [`crate::diagnose`] runs the same pipeline to
//! the end to explain a token. An introspection response is checked by the same functions as a
//! JWT, and the mode is dispatched in one place ([`route`]).
//!
//! **Validation modes** (`AUTHSEC_VALIDATION_MODE`, resolved once at start-up; a token is
//! *opaque* when it is not three dot-separated segments, i.e. not a compact JWS):
//!
//! | mode | JWT | opaque token |
//! |---|---|---|
//! | `jwt_only` | local checks | refused (`malformed_token`) |
//! | `introspection_only` | introspection | introspection |
//! | `jwt_and_introspect` | local checks, then introspection (same `sub`) | introspection |
//! | `jwt_or_introspect` | local checks only (no revocation) | introspection |
//! | `auto` | both endpoints configured → `jwt_and_introspect`; only introspection → `introspection_only`; else `jwt_only` | |
//!
//! Introspection never rescues a JWT that failed a local check: it is not even called.
//!
//! **Caches** (both keyed by [`crate::token::cache_key`], never the token, bounded by `token_cache_entries` each):
//! a verified JWT skips signature verification on a repeat but `exp`/`nbf`/`iat` are re-checked
//! against the clock every time; introspection answers are cached by [`crate::introspect`] and
//! re-checked the same way. In `jwt_and_introspect` both are consulted on every request, so the
//! JWT cache never bypasses revocation. Policy decisions are never cached here.
//!
//! **Backend failures** (JWKS or introspection unreachable, slow, erroring, unparsable, with
//! nothing valid cached) become 503 `validation_unavailable` in exactly one place,
//! `backend_failure` in this module — never "inactive", never "allow".
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use authsec::{Config, Validator};
//! let config = Config::from_env()?;
//! let validator = Validator::new(config).await?;
//! match validator.validate("eyJ...").await {
//!     Ok(principal) => println!("caller: {:?}", principal.subject()),
//!     Err(denial) => println!("denied: {} ({})", denial.description(), denial.reason()),
//! }
//! # Ok(()) }
//! ```

pub mod pipeline;

use std::sync::Arc;

use crate::cache::DigestCache;
use crate::config::{Config, ConfigError, TypPolicy};
use crate::error::AuthError;
use crate::fetch::{ClientStartError, HttpClient};
use crate::introspect::{Introspection, IntrospectionError, Introspector};
use crate::keys::{self, Algorithm, DiscoveryError, KeyCache, KeyLookupError, KeySet, KeySource};
use crate::principal::Principal;
use crate::token::{CacheKey, Claims, Header, Jws};

use pipeline::{Claimed, KeyAnswer, Recalled, Seen};

/// How tokens are validated (`AUTHSEC_VALIDATION_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValidationMode {
    /// JWTs only, checked locally against the JWKS.
    JwtOnly,
    /// Every token goes to RFC 7662 introspection.
    IntrospectionOnly,
    /// A JWT must pass local checks *and* introspection; opaque tokens go to introspection.
    JwtAndIntrospect,
    /// JWTs locally only, opaque tokens by introspection (migration; no JWT revocation).
    JwtOrIntrospect,
    /// Chosen from the configured endpoints: both → `JwtAndIntrospect`.
    #[default]
    Auto,
}

/// Why a validator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The issuer's metadata names another issuer.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// The HTTP client cannot start (its TLS backend failed).
    #[error("the HTTP client cannot start: {0}")]
    Http(#[from] ClientStartError),
}

/// A verified JWT as cached: the principal plus the times re-checked on every request, and
/// the key-set generation it was verified under (a refresh may withdraw the key).
#[derive(Clone)]
struct Verified {
    principal: Principal,
    exp: i64,
    nbf: Option<i64>,
    iat: Option<i64>,
    key_generation: u64,
}

struct Inner {
    config: Config,
    keys: Arc<KeyCache>,
    verified: DigestCache<Verified>,
    /// The introspection client, when the effective mode uses one.
    introspector: Option<Arc<Introspector>>,
    http: HttpClient,
}

/// Sizes of a validator's caches (for tests and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Entries in the verified-JWT cache.
    pub verified_tokens: usize,
    /// Entries in the introspection cache (0 without introspection).
    pub introspection_answers: usize,
    /// Distinct tokens being introspected right now.
    pub introspections_in_flight: usize,
    /// Requests sent to the introspection endpoint so far.
    pub introspection_calls: u64,
}

/// What failed when a backend could not answer.
pub(crate) enum BackendFailure<'a> {
    Keys(&'a str),
    Introspection(&'a IntrospectionError),
}

/// An introspection endpoint's answer as the checks see it: the active answer's claims, or the
/// denial (inactive: `token_revoked`; no answer: [`backend_failure`]).
pub(crate) fn introspection_verdict(
    answer: Result<Introspection, IntrospectionError>,
) -> Result<Arc<Claims>, AuthError> {
    match answer {
        Ok(Introspection::Active(claims)) => Ok(claims),
        Ok(Introspection::Inactive) => Err(AuthError::TokenRevoked),
        Err(e) => Err(backend_failure(BackendFailure::Introspection(&e))),
    }
}

/// The one place that decides what a backend failure becomes: 503 `validation_unavailable`.
/// Not "inactive" (that would tell a client with a valid token to re-authorize) and never
/// "allow" (fail closed). Nothing here is cached, so the next request asks the backend again.
pub(crate) fn backend_failure(failure: BackendFailure<'_>) -> AuthError {
    AuthError::ValidationUnavailable {
        detail: match failure {
            BackendFailure::Keys(detail) => format!("signing keys unavailable: {detail}"),
            BackendFailure::Introspection(e) => e.to_string(),
        },
    }
}

/// True when `token` has the shape of a compact JWS (three segments); anything else is opaque.
pub fn is_compact_jws(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

/// Validates bearer tokens against a [`Config`]. Cheap to clone (shared).
#[derive(Clone)]
pub struct Validator(Arc<Inner>);

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("issuer", &self.0.config.issuer)
            .field("resource", &self.0.config.resource_uri)
            .finish()
    }
}

/// The one HTTP client of the SDK — JWKS, discovery, introspection and the console: a 10 s
/// timeout (a request may set its own, as the console's long polls do), 5 s to connect, no
/// redirects, rustls, the environment's proxies ([`crate::fetch`]). Fails only when TLS cannot
/// start; the SDK then refuses to start rather than fall back to a client without these
/// settings.
pub(crate) fn try_http_client() -> Result<HttpClient, ClientStartError> {
    HttpClient::new()
}

/// [`try_http_client`] for callers that cannot fail (tests, offline tools).
///
/// # Panics
/// When TLS cannot start.
pub(crate) fn http_client() -> HttpClient {
    try_http_client().expect("the HTTP client's TLS backend failed to start")
}

impl Validator {
    /// Starts a validator: logs risky settings, runs discovery when no JWKS URL is configured
    /// (a metadata `issuer` that differs from the configured one fails start-up), loads the
    /// keys and starts their background refresh. An unreachable JWKS does not fail start-up:
    /// requests get 503 until keys load.
    pub async fn new(config: Config) -> Result<Self, StartupError> {
        let http = try_http_client()?;
        let source = match &config.jwks_url {
            Some(url) => KeySource::Url(url.clone()),
            None => match keys::discover(&http, &config.issuer).await {
                Ok(meta) => {
                    note_advertised_introspection(&config, &meta);
                    match meta.jwks_uri.as_deref().map(crate::uri::parse_absolute) {
                        Some(Ok(u)) => KeySource::Url(u),
                        _ => KeySource::Discover {
                            issuer: config.issuer.clone(),
                        },
                    }
                }
                Err(e @ DiscoveryError::IssuerMismatch { .. }) => return Err(e.into()),
                Err(e) => {
                    tracing::warn!(target: "authsec::keys", error = %e, "discovery failed at start-up; retrying on demand");
                    KeySource::Discover {
                        issuer: config.issuer.clone(),
                    }
                }
            },
        };
        let cache = Arc::new(KeyCache::new(
            source,
            http.clone(),
            config.jwks_min_refresh_interval,
        ));
        if let Err(e) = cache.refresh().await {
            tracing::warn!(target: "authsec::keys", error = %e, "JWKS not loaded at start-up; requests get 503 until it loads");
        }
        cache.spawn_background_refresh();
        Ok(Self::assemble(config, cache, http))
    }

    /// A validator over a fixed key set: no network (tests, offline diagnosis).
    pub fn with_keys(config: Config, keys: KeySet) -> Self {
        Self::assemble(config, Arc::new(KeyCache::fixed(keys)), http_client())
    }

    /// A validator over an existing key cache.
    pub fn with_key_cache(config: Config, keys: Arc<KeyCache>) -> Self {
        Self::assemble(config, keys, http_client())
    }

    fn assemble(config: Config, keys: Arc<KeyCache>, http: HttpClient) -> Self {
        config.clock.warn_if_not_system();
        if !config.legacy_client_id_audiences.is_empty() {
            tracing::warn!(
                target: "authsec::config",
                client_ids = ?config.legacy_client_id_audiences,
                "legacy_client_id_audiences is set: tokens whose aud is one of these client ids are \
                 accepted in place of the resource URI. This weakens confused-deputy protection; \
                 configure the authorization server to issue aud = resource instead."
            );
        }
        let verified = DigestCache::new(config.token_cache_entries);
        let introspector = resolve_mode(&config, &http);
        Validator(Arc::new(Inner {
            config,
            keys,
            verified,
            introspector,
            http,
        }))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// The JWKS cache.
    pub fn keys(&self) -> &Arc<KeyCache> {
        &self.0.keys
    }

    /// The HTTP client used for the authorization server.
    pub fn http(&self) -> &HttpClient {
        &self.0.http
    }

    /// The validation mode in effect (`auto` resolved).
    pub fn mode(&self) -> ValidationMode {
        self.0.config.effective_validation_mode()
    }

    /// The introspection client, when the mode uses one.
    pub fn introspector(&self) -> Option<&Arc<Introspector>> {
        self.0.introspector.as_ref()
    }

    /// Current cache sizes.
    pub fn cache_stats(&self) -> CacheStats {
        let introspector = self.introspector();
        CacheStats {
            verified_tokens: self.0.verified.len(),
            introspection_answers: introspector.map_or(0, |i| i.cache_len()),
            introspections_in_flight: introspector.map_or(0, |i| i.in_flight()),
            introspection_calls: introspector.map_or(0, |i| i.calls()),
        }
    }

    /// Validates a bearer token according to the validation mode: every check in order,
    /// stopped at the first failure.
    pub async fn validate(&self, token: &str) -> Result<Principal, AuthError> {
        let config = &self.0.config;
        let now = config.clock.now();
        match pipeline::run(token, config, now, None, self, pipeline::first_failure).await? {
            Some(principal) => Ok(principal),
            // Every route either establishes a principal or fails a check; fail closed anyway.
            None => Err(AuthError::ValidationUnavailable {
                detail: "no check established a principal".into(),
            }),
        }
    }
}

/// The validator's environment for the pipeline: the verified-token cache, the key cache and
/// the introspection client.
impl pipeline::Env for Validator {
    #[inline]
    fn recall(&self, key: &CacheKey, now: i64) -> Option<Recalled> {
        let cached = self
            .0
            .verified
            .get(key, now)
            .filter(|hit| hit.key_generation == self.0.keys.generation());
        crate::telemetry::cache_lookup(crate::telemetry::Cache::VerifiedToken, cached.is_some());
        cached.map(|hit| Recalled {
            principal: hit.principal,
            exp: hit.exp,
            nbf: hit.nbf,
            iat: hit.iat,
        })
    }

    fn remember(&self, key: &CacheKey, principal: &Principal, generation: u64, now: i64) {
        let Some(exp) = principal.expires_at() else {
            return;
        };
        let deadline = exp.saturating_add(self.0.config.clock_skew_secs);
        self.0.verified.insert(
            *key,
            Verified {
                principal: principal.clone(),
                exp,
                nbf: principal.not_before(),
                iat: principal.issued_at(),
                key_generation: generation,
            },
            deadline,
            now,
        );
    }

    async fn key(&self, kid: Option<&str>, alg: Algorithm) -> KeyAnswer {
        // Read before the lookup: if a refresh lands in between, the entry is re-verified.
        let generation = self.0.keys.generation();
        match self.0.keys.find(kid, alg).await {
            Ok(key) => KeyAnswer::Found(key, generation),
            Err(KeyLookupError::Unknown) => KeyAnswer::Unknown,
            Err(KeyLookupError::Unavailable(why)) => {
                let detail =
                    why.map_or_else(|| "JWKS not loaded yet".to_owned(), |e| e.to_string());
                KeyAnswer::Failed(backend_failure(BackendFailure::Keys(&detail)))
            }
        }
    }

    async fn introspect(
        &self,
        token: &str,
        key: &CacheKey,
        now: i64,
    ) -> Option<Result<Arc<Claims>, AuthError>> {
        Some(match &self.0.introspector {
            Some(introspector) => {
                introspection_verdict(introspector.introspect(token, key, now).await)
            }
            // The route needs an introspection endpoint only when one is configured.
            None => Err(AuthError::ValidationUnavailable {
                detail: "no introspection client".into(),
            }),
        })
    }
}

/// Builds the introspection client the effective mode needs; logs what an operator must know
/// about the mode. (Which checks a token meets is [`route`]'s to say.)
fn resolve_mode(config: &Config, http: &HttpClient) -> Option<Arc<Introspector>> {
    let mode = config.effective_validation_mode();
    let introspector = config.introspection.clone().map(|i| {
        Arc::new(Introspector::new(
            i,
            http.clone(),
            config.clock.clone(),
            config.token_cache_entries,
        ))
    });
    let resolved = match (mode, introspector) {
        (ValidationMode::JwtOnly, _) => None,
        (ValidationMode::IntrospectionOnly | ValidationMode::JwtAndIntrospect, Some(i)) => Some(i),
        (ValidationMode::JwtOrIntrospect, Some(i)) => {
            tracing::warn!(
                target: "authsec::config",
                "validation_mode jwt_or_introspect: JWTs are validated locally only, so a revoked \
                 JWT is accepted until it expires; only opaque tokens are introspected. Use \
                 jwt_and_introspect once the migration is done."
            );
            Some(i)
        }
        (ValidationMode::Auto, _) | (_, None) => {
            tracing::error!(
                target: "authsec::config",
                mode = mode.as_str(),
                "validation mode needs an introspection endpoint and none is configured; \
                 every token is refused with 503"
            );
            None
        }
    };
    tracing::info!(
        target: "authsec::config",
        configured = config.validation_mode.as_str(),
        effective = mode.as_str(),
        "token validation mode"
    );
    resolved
}

/// Discovery found an introspection endpoint that is not configured: say so, and do not use it.
/// Introspection needs client credentials, and where tokens are sent must be an explicit choice.
fn note_advertised_introspection(config: &Config, meta: &keys::ServerMetadata) {
    if let (None, Some(endpoint)) = (&config.introspection, &meta.introspection_endpoint) {
        tracing::info!(
            target: "authsec::config",
            introspection_endpoint = %endpoint,
            "the authorization server advertises an introspection endpoint; it is not used \
             (revocation is not checked) unless AUTHSEC_INTROSPECTION_URL and its client \
             credentials are set"
        );
    }
}

/// Claim checks for an active introspection answer, with the same functions as a JWT:
///
/// * `token_use`/`typ`, when present, must not mark a refresh or ID token (some servers answer
///   `active: true` for those too);
/// * `iss`, when present, equals the configured issuer (the configured endpoint vouches for its
///   own tokens when it omits `iss`);
/// * `aud` must contain the resource when present — and when absent only if
///   `require_audience` is false (`introspection_require_aud = false`, or a locally verified
///   JWT already bound the token to this resource);
/// * `exp` (when present), `nbf` and `iat` against `now` with the clock-skew leeway.
pub fn check_introspected_claims(
    claims: &Claims,
    config: &Config,
    require_audience: bool,
    now: i64,
) -> Result<(), AuthError> {
    let claimed = Claimed::Introspected { require_audience };
    let seen = Seen::default();
    pipeline::claim_checks(
        claims,
        claimed,
        config,
        now,
        seen,
        &mut pipeline::to_first_failure(),
    )
}

/// Refuses an introspection answer that says the token is a refresh or ID token: ORY Hydra
/// sends `token_use: refresh_token` / `id_token`, Keycloak `typ: Refresh` / `Offline` / `ID`.
pub fn check_token_use(claims: &Claims) -> Result<(), AuthError> {
    const NOT_ACCESS: &[&str] = &["refresh_token", "refresh", "offline", "id_token", "id"];
    for member in ["token_use", "typ"] {
        if let Some(serde_json::Value::String(v)) = claims.raw.get(member) {
            if NOT_ACCESS.iter().any(|n| n.eq_ignore_ascii_case(v)) {
                return Err(AuthError::TypNotAllowed {
                    expected: vec!["access_token".into()],
                    actual: Some(v.clone()),
                });
            }
        }
    }
    Ok(())
}

/// `jwt_and_introspect`: introspection must name the JWT's subject (absent on both counts as
/// the same).
pub fn check_subject(jwt: Option<&str>, introspected: Option<&str>) -> Result<(), AuthError> {
    if jwt == introspected {
        Ok(())
    } else {
        Err(AuthError::SubjectMismatch {
            jwt: jwt.map(str::to_owned),
            introspected: introspected.map(str::to_owned),
        })
    }
}

/// Header checks that need no key, in the pipeline's order: `alg` allowed, no `crit`, not
/// nested, `typ` allowed.
pub fn check_header(header: &Header, typ_policy: TypPolicy) -> Result<Algorithm, AuthError> {
    let mut sink = pipeline::to_first_failure();
    match pipeline::header_checks(header, typ_policy, Seen::default(), &mut sink)? {
        Some(alg) => Ok(alg),
        // Stopped at the first failure, so an allowed `alg` is always there.
        None => check_alg(&header.alg),
    }
}

/// `alg` must be a supported asymmetric algorithm; `none` (any casing) and HMAC never are.
pub fn check_alg(alg: &str) -> Result<Algorithm, AuthError> {
    Ok(authsec_proto::jws::check_alg(alg, &Algorithm::ALL)?)
}

/// authsec understands no JWS extensions, so any `crit` entry is unsupported (RFC 7515 §4.1.11).
pub fn check_crit(header: &Header) -> Result<(), AuthError> {
    Ok(authsec_proto::jws::check_crit(header)?)
}

/// Nested JWTs (`cty: JWT`) are never unwrapped.
pub fn check_cty(header: &Header) -> Result<(), AuthError> {
    match header.cty.as_deref() {
        Some(cty)
            if cty.eq_ignore_ascii_case("jwt") || cty.eq_ignore_ascii_case("application/jwt") =>
        {
            Err(AuthError::NestedJwt)
        }
        _ => Ok(()),
    }
}

/// The `typ` values each policy accepts (compared ignoring ASCII case, as media types are).
pub fn accepted_typs(policy: TypPolicy) -> &'static [&'static str] {
    match policy {
        TypPolicy::Lenient => &["at+jwt", "application/at+jwt", "JWT"],
        TypPolicy::Rfc9068 => &["at+jwt", "application/at+jwt"],
    }
}

/// `typ` per policy: lenient accepts `at+jwt`, `application/at+jwt`, `JWT` or none;
/// RFC 9068 accepts only the first two.
pub fn check_typ(header: &Header, policy: TypPolicy) -> Result<(), AuthError> {
    let accepted = accepted_typs(policy);
    let ok = match header.typ.as_deref() {
        None => policy == TypPolicy::Lenient,
        Some(t) => accepted.iter().any(|a| a.eq_ignore_ascii_case(t)),
    };
    if ok {
        Ok(())
    } else {
        Err(AuthError::TypNotAllowed {
            expected: accepted.iter().map(|s| s.to_string()).collect(),
            actual: header.typ.clone(),
        })
    }
}

/// The key must be pinned to the token's `alg`, and the signature must verify.
pub fn check_signature(
    jws: &Jws<'_>,
    alg: Algorithm,
    key: &keys::VerifyKey,
) -> Result<(), AuthError> {
    check_signature_over(jws.signing_input, &jws.signature, alg, key)
}

/// [`check_signature`] for any JWS (e.g. a compact JWS whose payload is not a JWT).
pub fn check_signature_over(
    signing_input: &str,
    signature: &[u8],
    alg: Algorithm,
    key: &keys::VerifyKey,
) -> Result<(), AuthError> {
    Ok(authsec_proto::jws::check_signature(
        signing_input,
        signature,
        alg,
        key,
    )?)
}

/// A JWT's claim checks in the pipeline's order: `iss`, `aud`, `exp` (required), `nbf`, `iat`.
pub fn check_claims(claims: &Claims, config: &Config, now: i64) -> Result<(), AuthError> {
    let mut sink = pipeline::to_first_failure();
    pipeline::claim_checks(
        claims,
        Claimed::Jwt,
        config,
        now,
        Seen::default(),
        &mut sink,
    )
}

/// `iss` equals the configured issuer byte for byte.
pub fn check_issuer(claims: &Claims, issuer: &str) -> Result<(), AuthError> {
    if claims.iss.as_deref() == Some(issuer) {
        Ok(())
    } else {
        Err(AuthError::IssuerMismatch {
            expected: issuer.to_owned(),
            actual: claims.iss.clone(),
        })
    }
}

/// `aud` (string or array) contains the resource URI byte for byte — or, only when opted in,
/// one of the legacy client ids.
pub fn check_audience(
    claims: &Claims,
    resource: &str,
    legacy_client_ids: &[String],
) -> Result<(), AuthError> {
    let aud = claims.aud.as_deref().unwrap_or_default();
    if aud.iter().any(|a| a == resource) {
        return Ok(());
    }
    if let Some(id) = aud.iter().find(|a| legacy_client_ids.contains(a)) {
        tracing::warn!(target: "authsec::validate", client_id = %id, "accepted aud = client_id under legacy_client_id_audiences");
        return Ok(());
    }
    let mut expected = vec![resource.to_owned()];
    expected.extend(legacy_client_ids.iter().cloned());
    Err(AuthError::AudienceMismatch {
        expected,
        actual: aud.to_vec(),
    })
}

/// Valid while `now < exp + leeway`.
#[inline]
pub fn check_exp(exp: i64, now: i64, leeway: i64) -> Result<(), AuthError> {
    let limit = exp.checked_add(leeway).ok_or_else(|| out_of_range("exp"))?;
    if now < limit {
        Ok(())
    } else {
        Err(AuthError::Expired { exp, now, leeway })
    }
}

/// Valid once `value <= now + leeway`.
#[inline]
pub fn check_not_before(
    claim: &'static str,
    value: Option<i64>,
    now: i64,
    leeway: i64,
) -> Result<(), AuthError> {
    let Some(value) = value else { return Ok(()) };
    if value.checked_sub(leeway).is_none() {
        return Err(out_of_range(claim));
    }
    if value <= now.saturating_add(leeway) {
        Ok(())
    } else {
        Err(AuthError::NotYetValid {
            claim,
            value,
            now,
            leeway,
        })
    }
}

fn out_of_range(name: &str) -> AuthError {
    AuthError::Malformed(crate::error::Malformed::Claim {
        name: name.to_owned(),
        detail: "is out of range".into(),
    })
}

//! The [`Validator`]: token in, [`Principal`] or [`AuthError`] out.
//!
//! Every check is a small pure function below (`check_alg`, `check_issuer`, `check_audience`,
//! …). The validator runs them in order and stops at the first failure; [`crate::diagnose`]
//! runs all of them to explain a token. A check is written once: an introspection response is
//! checked by [`check_introspected_claims`] with the same functions as a JWT.
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
//! **Caches** (both keyed by SHA-256 of the token, bounded by `token_cache_entries` each):
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
//! use authsec::{config::Config, validate::Validator};
//! let config = Config::from_env()?;
//! let validator = Validator::new(config).await?;
//! match validator.validate("eyJ...").await {
//!     Ok(principal) => println!("caller: {:?}", principal.subject()),
//!     Err(denial) => println!("denied: {} ({})", denial.description(), denial.reason()),
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use crate::cache::DigestCache;
use crate::config::{Config, ConfigError, TypPolicy, ValidationMode};
use crate::error::AuthError;
use crate::introspect::{Introspection, IntrospectionError, Introspector};
use crate::keys::{self, Algorithm, DiscoveryError, KeyCache, KeyLookupError, KeySet, KeySource};
use crate::principal::{Principal, TokenKind};
use crate::token::{self, Claims, Fingerprint, Header, Jws};

/// Why a validator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The issuer's metadata names another issuer.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
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

/// The effective validation mode, with the introspection client the mode needs.
enum Mode {
    JwtOnly,
    IntrospectionOnly(Arc<Introspector>),
    JwtAndIntrospect(Arc<Introspector>),
    JwtOrIntrospect(Arc<Introspector>),
    /// A mode that needs introspection without an introspection configuration (only reachable
    /// by editing a built `Config`): every token is refused with 503.
    Misconfigured,
}

struct Inner {
    config: Config,
    keys: Arc<KeyCache>,
    verified: DigestCache<Verified>,
    mode: Mode,
    http: reqwest::Client,
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

/// The HTTP client for JWKS, discovery and introspection: short timeouts, no redirects to
/// other hosts, rustls.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("authsec/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

impl Validator {
    /// Starts a validator: logs risky settings, runs discovery when no JWKS URL is configured
    /// (a metadata `issuer` that differs from the configured one fails start-up), loads the
    /// keys and starts their background refresh. An unreachable JWKS does not fail start-up:
    /// requests get 503 until keys load.
    pub async fn new(config: Config) -> Result<Self, StartupError> {
        let http = http_client();
        let source = match &config.jwks_url {
            Some(url) => KeySource::Url(url.clone()),
            None => match keys::discover(&http, &config.issuer).await {
                Ok(meta) => {
                    note_advertised_introspection(&config, &meta);
                    match meta.jwks_uri.as_deref().map(url::Url::parse) {
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

    fn assemble(config: Config, keys: Arc<KeyCache>, http: reqwest::Client) -> Self {
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
        let mode = resolve_mode(&config, &http);
        Validator(Arc::new(Inner {
            config,
            keys,
            verified,
            mode,
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
    pub fn http(&self) -> &reqwest::Client {
        &self.0.http
    }

    /// The validation mode in effect (`auto` resolved).
    pub fn mode(&self) -> ValidationMode {
        match self.0.mode {
            Mode::JwtOnly => ValidationMode::JwtOnly,
            Mode::IntrospectionOnly(_) => ValidationMode::IntrospectionOnly,
            Mode::JwtAndIntrospect(_) => ValidationMode::JwtAndIntrospect,
            Mode::JwtOrIntrospect(_) => ValidationMode::JwtOrIntrospect,
            Mode::Misconfigured => self.0.config.validation_mode,
        }
    }

    /// The introspection client, when the mode uses one.
    pub fn introspector(&self) -> Option<&Arc<Introspector>> {
        match &self.0.mode {
            Mode::IntrospectionOnly(i) | Mode::JwtAndIntrospect(i) | Mode::JwtOrIntrospect(i) => {
                Some(i)
            }
            Mode::JwtOnly | Mode::Misconfigured => None,
        }
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

    /// Validates a bearer token according to the validation mode (see the module docs).
    pub async fn validate(&self, token: &str) -> Result<Principal, AuthError> {
        let config = &self.0.config;
        if token.len() > config.max_token_bytes {
            return Err(AuthError::TokenTooLarge {
                size: token.len(),
                limit: config.max_token_bytes,
            });
        }
        let digest = token::token_digest(token);
        let now = config.clock.now();
        match &self.0.mode {
            Mode::JwtOnly => self.local(token, &digest, now, TokenKind::Jwt).await,
            Mode::JwtOrIntrospect(_) if is_compact_jws(token) => {
                self.local(token, &digest, now, TokenKind::Jwt).await
            }
            Mode::JwtAndIntrospect(introspector) if is_compact_jws(token) => {
                // Local checks first: a JWT that fails them is refused without asking the
                // authorization server (introspection never rescues it).
                let principal = self
                    .local(token, &digest, now, TokenKind::JwtIntrospected)
                    .await?;
                self.confirm_active(introspector, principal, token, &digest, now)
                    .await
            }
            Mode::IntrospectionOnly(introspector)
            | Mode::JwtAndIntrospect(introspector)
            | Mode::JwtOrIntrospect(introspector) => {
                self.introspected(introspector, token, &digest, now).await
            }
            Mode::Misconfigured => Err(AuthError::ValidationUnavailable {
                detail: format!(
                    "validation mode {} needs an introspection endpoint",
                    config.validation_mode.as_str()
                ),
            }),
        }
    }

    /// A JWT by local checks: from the verified-token cache (times re-checked) or verified now.
    async fn local(
        &self,
        token: &str,
        digest: &[u8; 32],
        now: i64,
        kind: TokenKind,
    ) -> Result<Principal, AuthError> {
        let cached = self
            .0
            .verified
            .get(digest, now)
            .filter(|hit| hit.key_generation == self.0.keys.generation());
        crate::telemetry::cache_lookup(crate::telemetry::Cache::VerifiedToken, cached.is_some());
        if let Some(hit) = cached {
            // The signature was verified before, under this key set; time still moves.
            check_times(
                hit.exp,
                hit.nbf,
                hit.iat,
                now,
                self.0.config.clock_skew_secs,
            )?;
            return Ok(hit.principal);
        }
        self.validate_jwt(token, digest, now, kind).await
    }

    /// The introspection answer for a token, as claims when active.
    async fn active_claims(
        &self,
        introspector: &Arc<Introspector>,
        token: &str,
        digest: &[u8; 32],
        now: i64,
    ) -> Result<Arc<Claims>, AuthError> {
        match introspector.introspect(token, digest, now).await {
            Ok(Introspection::Active(claims)) => Ok(claims),
            Ok(Introspection::Inactive) => Err(AuthError::TokenRevoked),
            Err(e) => Err(backend_failure(BackendFailure::Introspection(&e))),
        }
    }

    /// A token validated by introspection alone (opaque tokens; `introspection_only`).
    async fn introspected(
        &self,
        introspector: &Arc<Introspector>,
        token: &str,
        digest: &[u8; 32],
        now: i64,
    ) -> Result<Principal, AuthError> {
        let config = &self.0.config;
        let claims = self.active_claims(introspector, token, digest, now).await?;
        let require_audience = introspector.config().require_audience;
        check_introspected_claims(&claims, config, require_audience, now)?;
        Ok(Principal::from_claims(
            &claims,
            &config.issuer,
            Fingerprint::from_digest(digest),
            TokenKind::Introspected,
        ))
    }

    /// `jwt_and_introspect`: a locally valid JWT must also be active, for the same subject.
    /// The JWT's verified `aud` already binds it to this resource, so the answer's `aud` is
    /// checked only when present.
    async fn confirm_active(
        &self,
        introspector: &Arc<Introspector>,
        principal: Principal,
        token: &str,
        digest: &[u8; 32],
        now: i64,
    ) -> Result<Principal, AuthError> {
        let claims = self.active_claims(introspector, token, digest, now).await?;
        check_introspected_claims(&claims, &self.0.config, false, now)?;
        check_subject(principal.subject(), claims.sub.as_deref())?;
        Ok(principal)
    }

    async fn validate_jwt(
        &self,
        token: &str,
        digest: &[u8; 32],
        now: i64,
        kind: TokenKind,
    ) -> Result<Principal, AuthError> {
        let config = &self.0.config;
        // Read before the lookup: if a refresh lands in between, the entry is re-verified.
        let key_generation = self.0.keys.generation();
        let jws = token::parse_jws(token)?;
        let alg = check_header(&jws.header, config.typ_policy)?;
        let key = match self.0.keys.find(jws.header.kid.as_deref(), alg).await {
            Ok(k) => k,
            Err(KeyLookupError::Unknown) => {
                // A token from another (e.g. moved) issuer is signed by keys we never had:
                // say so, rather than only "unknown key". Still a denial either way.
                check_issuer(&jws.claims, &config.issuer)?;
                return Err(AuthError::UnknownKey {
                    kid: jws.header.kid.clone(),
                });
            }
            Err(KeyLookupError::Unavailable(detail)) => {
                return Err(backend_failure(BackendFailure::Keys(&detail)))
            }
        };
        check_signature(&jws, alg, &key)?;
        check_claims(&jws.claims, config, now)?;
        let (exp, nbf, iat) = (jws.claims.exp, jws.claims.nbf, jws.claims.iat);
        let principal = Principal::from_owned_claims(
            jws.claims,
            &config.issuer,
            Fingerprint::from_digest(digest),
            kind,
        );
        if let Some(exp) = exp {
            let deadline = exp.saturating_add(config.clock_skew_secs);
            self.0.verified.insert(
                *digest,
                Verified {
                    principal: principal.clone(),
                    exp,
                    nbf,
                    iat,
                    key_generation,
                },
                deadline,
                now,
            );
        }
        Ok(principal)
    }
}

/// Resolves `auto` and builds the introspection client the mode needs; logs what an operator
/// must know about the mode.
fn resolve_mode(config: &Config, http: &reqwest::Client) -> Mode {
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
        (ValidationMode::JwtOnly, _) => Mode::JwtOnly,
        (ValidationMode::IntrospectionOnly, Some(i)) => Mode::IntrospectionOnly(i),
        (ValidationMode::JwtAndIntrospect, Some(i)) => Mode::JwtAndIntrospect(i),
        (ValidationMode::JwtOrIntrospect, Some(i)) => {
            tracing::warn!(
                target: "authsec::config",
                "validation_mode jwt_or_introspect: JWTs are validated locally only, so a revoked \
                 JWT is accepted until it expires; only opaque tokens are introspected. Use \
                 jwt_and_introspect once the migration is done."
            );
            Mode::JwtOrIntrospect(i)
        }
        (ValidationMode::Auto, _) | (_, None) => {
            tracing::error!(
                target: "authsec::config",
                mode = mode.as_str(),
                "validation mode needs an introspection endpoint and none is configured; \
                 every token is refused with 503"
            );
            Mode::Misconfigured
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
    check_token_use(claims)?;
    if claims.iss.is_some() {
        check_issuer(claims, &config.issuer)?;
    }
    if require_audience || claims.aud.is_some() {
        check_audience(
            claims,
            &config.resource_uri,
            &config.legacy_client_id_audiences,
        )?;
    }
    let leeway = config.clock_skew_secs;
    if let Some(exp) = claims.exp {
        check_exp(exp, now, leeway)?;
    }
    check_not_before("nbf", claims.nbf, now, leeway)?;
    check_not_before("iat", claims.iat, now, leeway)
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

/// Header checks that need no key: `alg` allowed, no `crit`, not nested, `typ` allowed.
pub fn check_header(header: &Header, typ_policy: TypPolicy) -> Result<Algorithm, AuthError> {
    let alg = check_alg(&header.alg)?;
    check_crit(header)?;
    check_cty(header)?;
    check_typ(header, typ_policy)?;
    Ok(alg)
}

/// `alg` must be a supported asymmetric algorithm; `none` (any casing) and HMAC never are.
pub fn check_alg(alg: &str) -> Result<Algorithm, AuthError> {
    Algorithm::from_name(alg).ok_or_else(|| AuthError::AlgorithmNotAllowed {
        alg: alg.to_owned(),
    })
}

/// authsec understands no JWS extensions, so any `crit` entry is unsupported (RFC 7515 §4.1.11).
pub fn check_crit(header: &Header) -> Result<(), AuthError> {
    match &header.crit {
        Some(names) => Err(AuthError::UnsupportedCritical {
            names: names.clone(),
        }),
        None => Ok(()),
    }
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

/// [`check_signature`] for any JWS (e.g. a [`token::CompactJws`] whose payload is not a JWT).
pub fn check_signature_over(
    signing_input: &str,
    signature: &[u8],
    alg: Algorithm,
    key: &keys::VerifyKey,
) -> Result<(), AuthError> {
    if !key.allows(alg) {
        return Err(AuthError::KeyAlgorithmMismatch {
            kid: key.kid.clone(),
            key: key.pinned_to.clone(),
            token_alg: alg.name().to_owned(),
        });
    }
    if key.verify(alg, signing_input.as_bytes(), signature) {
        Ok(())
    } else {
        Err(AuthError::BadSignature)
    }
}

/// Claim checks in the validator's order: `iss`, `aud`, `exp`, `nbf`, `iat`.
pub fn check_claims(claims: &Claims, config: &Config, now: i64) -> Result<(), AuthError> {
    check_issuer(claims, &config.issuer)?;
    check_audience(
        claims,
        &config.resource_uri,
        &config.legacy_client_id_audiences,
    )?;
    let exp = claims.exp.ok_or(AuthError::MissingClaim { claim: "exp" })?;
    check_times(exp, claims.nbf, claims.iat, now, config.clock_skew_secs)
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

/// `exp` after now and `nbf`/`iat` not after now, each with `leeway` seconds of skew.
pub fn check_times(
    exp: i64,
    nbf: Option<i64>,
    iat: Option<i64>,
    now: i64,
    leeway: i64,
) -> Result<(), AuthError> {
    check_exp(exp, now, leeway)?;
    check_not_before("nbf", nbf, now, leeway)?;
    check_not_before("iat", iat, now, leeway)
}

/// Valid while `now < exp + leeway`.
pub fn check_exp(exp: i64, now: i64, leeway: i64) -> Result<(), AuthError> {
    let limit = exp.checked_add(leeway).ok_or_else(|| out_of_range("exp"))?;
    if now < limit {
        Ok(())
    } else {
        Err(AuthError::Expired { exp, now, leeway })
    }
}

/// Valid once `value <= now + leeway`.
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

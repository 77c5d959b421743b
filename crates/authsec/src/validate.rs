//! The [`Validator`]: token in, [`Principal`] or [`AuthError`] out.
//!
//! Every check is a small pure function below (`check_alg`, `check_issuer`, `check_audience`,
//! …). The validator runs them in order and stops at the first failure; [`crate::diagnose`]
//! runs all of them to explain a token. A check is written once.
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
use crate::config::{Config, ConfigError, TypPolicy};
use crate::error::AuthError;
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

struct Inner {
    config: Config,
    keys: Arc<KeyCache>,
    verified: DigestCache<Verified>,
    http: reqwest::Client,
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
                Ok(meta) => match meta.jwks_uri.as_deref().map(url::Url::parse) {
                    Some(Ok(u)) => KeySource::Url(u),
                    _ => KeySource::Discover {
                        issuer: config.issuer.clone(),
                    },
                },
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
        Validator(Arc::new(Inner {
            config,
            keys,
            verified,
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

    /// Validates a bearer token.
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
        if let Some(hit) = self.0.verified.get(&digest, now) {
            // The signature was verified before, under this key set; time still moves.
            if hit.key_generation == self.0.keys.generation() {
                check_times(hit.exp, hit.nbf, hit.iat, now, config.clock_skew_secs)?;
                return Ok(hit.principal);
            }
        }
        self.validate_jwt(token, &digest, now).await
    }

    async fn validate_jwt(
        &self,
        token: &str,
        digest: &[u8; 32],
        now: i64,
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
                return Err(AuthError::ValidationUnavailable {
                    detail: format!("signing keys unavailable: {detail}"),
                })
            }
        };
        check_signature(&jws, alg, &key)?;
        check_claims(&jws.claims, config, now)?;
        let (exp, nbf, iat) = (jws.claims.exp, jws.claims.nbf, jws.claims.iat);
        let principal = Principal::from_owned_claims(
            jws.claims,
            &config.issuer,
            Fingerprint::from_digest(digest),
            TokenKind::Jwt,
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

//! The check pipeline: every check a token meets, in order, written once.
//!
//! `run` takes one token through its checks and hands each result, as a `Step`, to a
//! sink. The [`Validator`](super::Validator) stops at the first failure; [`crate::diagnose`]
//! keeps going and turns every step into a finding. What the token does not carry comes from
//! an `Env`: the validator's is its key cache, its introspection client and its
//! verified-token cache; diagnose's is the evidence it was given.
//!
//! Which checks a token meets depends on its [`Route`], chosen by [`route`] from the
//! validation mode and the token's shape (the one place the mode is dispatched):
//!
//! | route | checks, in order |
//! |---|---|
//! | every token | `Size`, `Mode` |
//! | [`Route::Local`] | `Format`, `Algorithm`, `Crit`, `Cty`, `Typ`, `Key`, `Signature`, `Issuer`, `Audience`, `Expiry`, `NotBefore`, `IssuedAt` (a JWT verified before: `Expiry`, `NotBefore`, `IssuedAt` only) |
//! | [`Route::LocalThenIntrospection`] | the local checks, then `Active`, `IntrospectedSubject` |
//! | [`Route::Introspection`] | `Format`, `Active`, `TokenUse`, `Issuer`, `Audience`, `Expiry`, `NotBefore`, `IssuedAt` |
//! | an operation on a tool, prompt or resource (diagnose) | `Target` last: [`PolicyView::decide_target`], the HTTP layer's decision |
//!
//! A check that cannot run because an earlier one failed (no key without an allowed `alg`) or
//! because the environment lacks what it needs (diagnosis without keys) is
//! "not run"; the validator treats that as a failure (fail closed).

use std::future::Future;
use std::ops::ControlFlow;
use std::sync::Arc;

use super::ValidationMode;
use crate::config::{Config, TypPolicy};
use crate::error::AuthError;
use crate::keys::{Algorithm, VerifyKey};
use crate::policy::{PolicyView, Target};
use crate::principal::{Principal, TokenKind};
use crate::token::{self, CacheKey, Claims, Fingerprint, Header};

use super::{
    check_alg, check_audience, check_crit, check_cty, check_exp, check_introspected_claims,
    check_issuer, check_not_before, check_signature, check_subject, check_token_use, check_typ,
    is_compact_jws,
};

/// Every check, declared in the order a JWT meets them (an introspected token meets `Active`
/// before its claim checks; see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Check {
    /// At most `max_token_bytes` long (refused unparsed above).
    Size,
    /// The validation mode has the endpoints it needs.
    Mode,
    /// A compact JWS (header.payload.signature); on the introspection route, any token.
    Format,
    /// `alg` is an allowed asymmetric algorithm.
    Algorithm,
    /// No `crit` header.
    Crit,
    /// Not a nested JWT (`cty`).
    Cty,
    /// `typ` per the typ policy.
    Typ,
    /// A trusted key for the token's `kid` and `alg`.
    Key,
    /// The signature verifies with that key (which is pinned to the `alg`).
    Signature,
    /// The introspection endpoint says the token is active.
    Active,
    /// An introspection answer does not mark a refresh or ID token.
    TokenUse,
    /// `iss` is the configured issuer.
    Issuer,
    /// `aud` contains the resource.
    Audience,
    /// `exp` not past (with leeway).
    Expiry,
    /// `nbf` not in the future (with leeway).
    NotBefore,
    /// `iat` not in the future (with leeway).
    IssuedAt,
    /// `jwt_and_introspect`: the introspection answer agrees with the JWT (claims, subject).
    IntrospectedSubject,
    /// The policy allows the operation's target: a `tools/call`'s tool, a `prompts/get`'s
    /// prompt or a `resources/read`'s resource.
    Target,
}

impl Check {
    /// The check's short name, as findings and logs show it (`alg`, `kid`, `aud`, …).
    pub fn name(self) -> &'static str {
        match self {
            Check::Size => "size",
            Check::Mode => "mode",
            Check::Format => "format",
            Check::Algorithm => "alg",
            Check::Crit => "crit",
            Check::Cty => "cty",
            Check::Typ => "typ",
            Check::Key => "kid",
            Check::Signature => "signature",
            Check::Active => "active",
            Check::TokenUse => "token_use",
            Check::Issuer => "iss",
            Check::Audience => "aud",
            Check::Expiry => "exp",
            Check::NotBefore => "nbf",
            Check::IssuedAt => "iat",
            Check::IntrospectedSubject => "introspected_sub",
            Check::Target => "target",
        }
    }
}

/// Which checks a token meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A JWT checked locally (signature and claims).
    Local,
    /// A JWT checked locally, then confirmed active by introspection (`jwt_and_introspect`).
    LocalThenIntrospection,
    /// Introspection alone (opaque tokens; `introspection_only`).
    Introspection,
    /// The mode needs an introspection endpoint and none is configured: every token is 503.
    Unavailable,
}

/// The one dispatch on the validation mode (see the `validate` module's table). `mode` is the effective
/// mode (`auto` resolved); `introspection` says whether an introspection endpoint is configured.
pub fn route(mode: ValidationMode, introspection: bool, token: &str) -> Route {
    match (mode, introspection) {
        (ValidationMode::JwtOnly, _) => Route::Local,
        (ValidationMode::Auto, _) | (_, false) => Route::Unavailable,
        (ValidationMode::IntrospectionOnly, true) => Route::Introspection,
        (ValidationMode::JwtAndIntrospect, true) if is_compact_jws(token) => {
            Route::LocalThenIntrospection
        }
        (ValidationMode::JwtOrIntrospect, true) if is_compact_jws(token) => Route::Local,
        (ValidationMode::JwtAndIntrospect | ValidationMode::JwtOrIntrospect, true) => {
            Route::Introspection
        }
    }
}

/// Why a check did not run.
// Without the `diagnose` feature nothing builds the diagnosis-only variants.
#[cfg_attr(not(feature = "diagnose"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotRun {
    /// It needs what an earlier, failed check would have given (a key needs an allowed `alg`;
    /// a signature needs a key).
    After(Check),
    /// No keys were given (offline diagnosis).
    NoKeys,
    /// The keys could not be loaded (diagnosis; the validator answers 503 instead).
    KeysUnavailable,
    /// The introspection endpoint was not asked (offline diagnosis).
    NotAsked,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ran {
    Pass,
    Fail(AuthError),
    NotRun(NotRun),
}

impl From<Result<(), AuthError>> for Ran {
    #[inline]
    fn from(r: Result<(), AuthError>) -> Self {
        match r {
            Ok(()) => Ran::Pass,
            Err(e) => Ran::Fail(e),
        }
    }
}

/// What a check looked at, for a sink that explains it.
// Only diagnose reads it (the validator's sink needs the result alone).
#[cfg_attr(not(feature = "diagnose"), allow(dead_code))]
#[derive(Clone, Copy, Default)]
pub(crate) struct Seen<'s> {
    /// The JWT's protected header.
    pub header: Option<&'s Header>,
    /// The claims being judged: the JWT's, or the introspection answer's.
    pub claims: Option<&'s Claims>,
    /// The JWT's subject beside an introspection answer (`IntrospectedSubject`).
    pub jwt_sub: Option<&'s str>,
    /// The key the signature was checked with, and the token's algorithm.
    pub key: Option<(&'s VerifyKey, Algorithm)>,
    /// The principal a `Tool` decision was made for.
    pub principal: Option<&'s Principal>,
    /// The token takes the introspection route: `claims` are the answer's.
    pub introspected: bool,
}

/// One check and its result.
#[cfg_attr(not(feature = "diagnose"), allow(dead_code))]
pub(crate) struct Step<'s> {
    pub check: Check,
    pub ran: Ran,
    pub seen: Seen<'s>,
}

/// What the environment says about the token's key.
#[cfg_attr(not(feature = "diagnose"), allow(dead_code))]
pub(crate) enum KeyAnswer {
    /// The key, and the key-set generation read before the lookup (a verification is
    /// remembered under it).
    Found(Arc<VerifyKey>, u64),
    /// Keys are loaded and none fits.
    Unknown,
    /// No answer: the validator's 503.
    Failed(AuthError),
    /// Not looked up (diagnosis).
    NotRun(NotRun),
}

/// A JWT verified on an earlier request: its principal and the times re-checked on every
/// request.
pub(crate) struct Recalled {
    pub principal: Principal,
    pub exp: i64,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
}

/// Where the checks get what the token does not carry.
pub(crate) trait Env {
    /// A JWT verified before under the current keys (the verified-token cache), if any.
    fn recall(&self, key: &CacheKey, now: i64) -> Option<Recalled>;
    /// A JWT passed every local check with a key of `generation`.
    fn remember(&self, key: &CacheKey, principal: &Principal, generation: u64, now: i64);
    /// The key for `kid` and `alg`.
    fn key(&self, kid: Option<&str>, alg: Algorithm) -> impl Future<Output = KeyAnswer>;
    /// The introspection endpoint's verdict: the active answer's claims, or the denial
    /// (`None`: not asked).
    fn introspect(
        &self,
        token: &str,
        key: &CacheKey,
        now: i64,
    ) -> impl Future<Output = Option<Result<Arc<Claims>, AuthError>>>;
}

/// Hands steps to the sink; remembers whether any did not pass.
pub(super) struct Sink<F> {
    f: F,
    failed: bool,
}

impl<F> Sink<F> {
    // Inlined so that, for the validator's sink, a passing check costs nothing beyond itself.
    #[inline(always)]
    fn emit<B>(&mut self, check: Check, ran: Ran, seen: Seen<'_>) -> Result<(), B>
    where
        F: FnMut(Step<'_>) -> ControlFlow<B>,
    {
        self.failed |= !matches!(ran, Ran::Pass);
        match (self.f)(Step { check, ran, seen }) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(b) => Err(b),
        }
    }
}

/// The sink that stops at the first check that did not pass (the validator's). A check that
/// could not run is a failure too: fail closed.
#[inline]
pub(crate) fn first_failure(step: Step<'_>) -> ControlFlow<AuthError> {
    match step.ran {
        Ran::Pass => ControlFlow::Continue(()),
        Ran::Fail(e) => ControlFlow::Break(e),
        Ran::NotRun(why) => ControlFlow::Break(could_not_run(step.check, why)),
    }
}

#[cold]
fn could_not_run(check: Check, why: NotRun) -> AuthError {
    AuthError::ValidationUnavailable {
        detail: format!("check {} could not run ({why:?})", check.name()),
    }
}

/// Takes `token` through every check of its route, in order, handing each result to `sink`,
/// then — for an operation on a tool, prompt or resource — the policy decision. Returns the
/// principal the checks established (built even when a check failed, if the sink kept going
/// and the claims could be read), or what the sink broke with.
pub(crate) async fn run<E: Env, B>(
    token: &str,
    config: &Config,
    now: i64,
    target: Option<(&Target, &PolicyView<'_>)>,
    env: &E,
    sink: impl FnMut(Step<'_>) -> ControlFlow<B>,
) -> Result<Option<Principal>, B> {
    let mut s = Sink {
        f: sink,
        failed: false,
    };
    let none = Seen::default();
    if token.len() > config.max_token_bytes {
        let err = AuthError::TokenTooLarge {
            size: token.len(),
            limit: config.max_token_bytes,
        };
        s.emit(Check::Size, Ran::Fail(err), none)?;
        return Ok(None);
    }
    s.emit(Check::Size, Ran::Pass, none)?;
    let route = route(
        config.effective_validation_mode(),
        config.introspection.is_some(),
        token,
    );
    if route == Route::Unavailable {
        let err = AuthError::ValidationUnavailable {
            detail: format!(
                "validation mode {} needs an introspection endpoint",
                config.validation_mode.as_str()
            ),
        };
        s.emit(Check::Mode, Ran::Fail(err), none)?;
        return Ok(None);
    }
    s.emit(Check::Mode, Ran::Pass, none)?;
    let cache_key = token::cache_key(token);
    let principal = match route {
        Route::Local => local(token, config, now, &cache_key, TokenKind::Jwt, env, &mut s).await?,
        Route::LocalThenIntrospection => {
            let kind = TokenKind::JwtIntrospected;
            let Some(principal) = local(token, config, now, &cache_key, kind, env, &mut s).await?
            else {
                return Ok(None);
            };
            // The validator gets here only when every local check passed: introspection never
            // rescues a JWT. (Diagnosis shows the answer it was given either way.)
            match env.introspect(token, &cache_key, now).await {
                None => s.emit(Check::Active, Ran::NotRun(NotRun::NotAsked), none)?,
                Some(Err(e)) => s.emit(Check::Active, Ran::Fail(e), none)?,
                Some(Ok(answer)) => {
                    let seen = Seen {
                        claims: Some(&answer),
                        jwt_sub: principal.subject(),
                        ..none
                    };
                    s.emit(Check::Active, Ran::Pass, seen)?;
                    // The JWT's verified `aud` already binds the token to this resource, so
                    // the answer's `aud` is checked only when present.
                    let agrees = check_introspected_claims(&answer, config, false, now)
                        .and_then(|()| check_subject(principal.subject(), answer.sub.as_deref()));
                    s.emit(Check::IntrospectedSubject, agrees.into(), seen)?;
                }
            }
            Some(principal)
        }
        Route::Introspection => introspected(token, config, now, &cache_key, env, &mut s).await?,
        Route::Unavailable => None,
    };
    if let (Some((target, policy)), Some(principal)) = (target, &principal) {
        let seen = Seen {
            principal: Some(principal),
            ..none
        };
        let decision = policy.decide_target(principal.scopes(), target.kind, &target.name);
        s.emit(Check::Target, decision.into(), seen)?;
    }
    Ok(principal)
}

/// The local checks of a JWT: from the verified-token cache (times only) or in full.
async fn local<E: Env, F, B>(
    token: &str,
    config: &Config,
    now: i64,
    cache_key: &CacheKey,
    kind: TokenKind,
    env: &E,
    s: &mut Sink<F>,
) -> Result<Option<Principal>, B>
where
    F: FnMut(Step<'_>) -> ControlFlow<B>,
{
    let none = Seen::default();
    if let Some(hit) = env.recall(cache_key, now) {
        // The signature was verified before, under this key set; time still moves.
        let leeway = config.clock_skew_secs;
        time_checks(Some(hit.exp), true, hit.nbf, hit.iat, now, leeway, none, s)?;
        return Ok(Some(hit.principal));
    }
    let jws = match token::parse_jws(token) {
        Ok(jws) => jws,
        Err(e) => {
            s.emit(Check::Format, Ran::Fail(AuthError::Malformed(e)), none)?;
            return Ok(None);
        }
    };
    let seen = Seen {
        header: Some(&jws.header),
        claims: Some(&jws.claims),
        ..none
    };
    s.emit(Check::Format, Ran::Pass, seen)?;
    let alg = header_checks(&jws.header, config.typ_policy, seen, s)?;
    let generation = match alg {
        None => {
            let after = Ran::NotRun(NotRun::After(Check::Algorithm));
            s.emit(Check::Key, after.clone(), seen)?;
            s.emit(Check::Signature, after, seen)?;
            None
        }
        Some(alg) => match env.key(jws.header.kid.as_deref(), alg).await {
            KeyAnswer::Found(key, generation) => {
                let seen = Seen {
                    key: Some((&key, alg)),
                    ..seen
                };
                s.emit(Check::Key, Ran::Pass, seen)?;
                let verified = check_signature(&jws, alg, &key);
                s.emit(Check::Signature, verified.into(), seen)?;
                Some(generation)
            }
            KeyAnswer::Unknown => {
                // A token from another (e.g. moved) issuer is signed by keys we never had:
                // the key check names the issuer rather than only "unknown key".
                let err = match check_issuer(&jws.claims, &config.issuer) {
                    Err(e) => e,
                    Ok(()) => AuthError::UnknownKey {
                        kid: jws.header.kid.clone(),
                    },
                };
                s.emit(Check::Key, Ran::Fail(err), seen)?;
                let after = Ran::NotRun(NotRun::After(Check::Key));
                s.emit(Check::Signature, after, seen)?;
                None
            }
            KeyAnswer::Failed(e) => {
                s.emit(Check::Key, Ran::Fail(e), seen)?;
                let after = Ran::NotRun(NotRun::After(Check::Key));
                s.emit(Check::Signature, after, seen)?;
                None
            }
            KeyAnswer::NotRun(why) => {
                s.emit(Check::Key, Ran::NotRun(why), seen)?;
                s.emit(Check::Signature, Ran::NotRun(why), seen)?;
                None
            }
        },
    };
    claim_checks(&jws.claims, Claimed::Jwt, config, now, seen, s)?;
    let passed = !s.failed;
    let principal =
        Principal::from_owned_claims(jws.claims, &config.issuer, Fingerprint::of(token), kind);
    if let (true, Some(generation)) = (passed, generation) {
        env.remember(cache_key, &principal, generation, now);
    }
    Ok(Some(principal))
}

/// A token judged by the introspection endpoint alone.
async fn introspected<E: Env, F, B>(
    token: &str,
    config: &Config,
    now: i64,
    cache_key: &CacheKey,
    env: &E,
    s: &mut Sink<F>,
) -> Result<Option<Principal>, B>
where
    F: FnMut(Step<'_>) -> ControlFlow<B>,
{
    let none = Seen {
        introspected: true,
        ..Seen::default()
    };
    s.emit(Check::Format, Ran::Pass, none)?;
    let answer = match env.introspect(token, cache_key, now).await {
        None => {
            s.emit(Check::Active, Ran::NotRun(NotRun::NotAsked), none)?;
            return Ok(None);
        }
        Some(Err(e)) => {
            s.emit(Check::Active, Ran::Fail(e), none)?;
            return Ok(None);
        }
        Some(Ok(answer)) => answer,
    };
    let seen = Seen {
        claims: Some(&answer),
        ..none
    };
    s.emit(Check::Active, Ran::Pass, seen)?;
    let require_audience = config
        .introspection
        .as_ref()
        .is_none_or(|i| i.require_audience);
    claim_checks(
        &answer,
        Claimed::Introspected { require_audience },
        config,
        now,
        seen,
        s,
    )?;
    Ok(Some(Principal::from_claims(
        &answer,
        &config.issuer,
        Fingerprint::of(token),
        TokenKind::Introspected,
    )))
}

/// `Algorithm`, `Crit`, `Cty`, `Typ`; the algorithm when allowed.
#[inline]
pub(super) fn header_checks<F, B>(
    header: &Header,
    typ_policy: TypPolicy,
    seen: Seen<'_>,
    s: &mut Sink<F>,
) -> Result<Option<Algorithm>, B>
where
    F: FnMut(Step<'_>) -> ControlFlow<B>,
{
    let alg = check_alg(&header.alg);
    let allowed = alg.as_ref().ok().copied();
    s.emit(Check::Algorithm, alg.map(drop).into(), seen)?;
    s.emit(Check::Crit, check_crit(header).into(), seen)?;
    s.emit(Check::Cty, check_cty(header).into(), seen)?;
    s.emit(Check::Typ, check_typ(header, typ_policy).into(), seen)?;
    Ok(allowed)
}

/// Whose claims the claim checks judge.
#[derive(Clone, Copy)]
pub(super) enum Claimed {
    /// A JWT's: `iss`, `aud` and `exp` are required.
    Jwt,
    /// An active introspection answer's: `token_use`/`typ` must not mark a refresh or ID
    /// token; `iss` and `exp` are checked when present (the configured endpoint vouches for
    /// its own tokens); `aud` when present, or always when `require_audience`.
    Introspected { require_audience: bool },
}

/// `TokenUse` (introspection answers), `Issuer`, `Audience`, `Expiry`, `NotBefore`, `IssuedAt`.
#[inline]
pub(super) fn claim_checks<F, B>(
    claims: &Claims,
    claimed: Claimed,
    config: &Config,
    now: i64,
    seen: Seen<'_>,
    s: &mut Sink<F>,
) -> Result<(), B>
where
    F: FnMut(Step<'_>) -> ControlFlow<B>,
{
    let introspected = matches!(claimed, Claimed::Introspected { .. });
    if introspected {
        s.emit(Check::TokenUse, check_token_use(claims).into(), seen)?;
    }
    let issuer = if introspected && claims.iss.is_none() {
        Ok(())
    } else {
        check_issuer(claims, &config.issuer)
    };
    s.emit(Check::Issuer, issuer.into(), seen)?;
    let audience = match claimed {
        Claimed::Introspected {
            require_audience: false,
        } if claims.aud.is_none() => Ok(()),
        _ => check_audience(
            claims,
            &config.resource_uri,
            &config.legacy_client_id_audiences,
        ),
    };
    s.emit(Check::Audience, audience.into(), seen)?;
    time_checks(
        claims.exp,
        !introspected,
        claims.nbf,
        claims.iat,
        now,
        config.clock_skew_secs,
        seen,
        s,
    )
}

/// `Expiry` (a missing `exp` fails when `exp_required`), `NotBefore`, `IssuedAt`, each with
/// `leeway` seconds of skew.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(super) fn time_checks<F, B>(
    exp: Option<i64>,
    exp_required: bool,
    nbf: Option<i64>,
    iat: Option<i64>,
    now: i64,
    leeway: i64,
    seen: Seen<'_>,
    s: &mut Sink<F>,
) -> Result<(), B>
where
    F: FnMut(Step<'_>) -> ControlFlow<B>,
{
    let expiry = match exp {
        Some(exp) => check_exp(exp, now, leeway),
        None if exp_required => Err(AuthError::MissingClaim { claim: "exp" }),
        None => Ok(()),
    };
    s.emit(Check::Expiry, expiry.into(), seen)?;
    s.emit(
        Check::NotBefore,
        check_not_before("nbf", nbf, now, leeway).into(),
        seen,
    )?;
    s.emit(
        Check::IssuedAt,
        check_not_before("iat", iat, now, leeway).into(),
        seen,
    )
}

/// A sink for a sub-sequence of checks run to its first failure (the composite `check_*`
/// helpers of [`super`]).
pub(super) fn to_first_failure() -> Sink<impl FnMut(Step<'_>) -> ControlFlow<AuthError>> {
    Sink {
        f: first_failure,
        failed: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authsec_testkit::{jwks, TestKey};
    use serde_json::json;

    const ISS: &str = "https://auth.example.com";
    const RES: &str = "https://mcp.example.com/mcp";
    const NOW: i64 = 1_800_000_000;

    /// Keys from a fixed set; introspection answers `answer`; nothing remembered.
    struct Fixed {
        keys: crate::keys::KeySet,
        answer: Option<Result<Arc<Claims>, AuthError>>,
    }

    impl Env for Fixed {
        fn recall(&self, _: &CacheKey, _: i64) -> Option<Recalled> {
            None
        }
        fn remember(&self, _: &CacheKey, _: &Principal, _: u64, _: i64) {}
        async fn key(&self, kid: Option<&str>, alg: Algorithm) -> KeyAnswer {
            match self.keys.find(kid, alg) {
                Some(key) => KeyAnswer::Found(key, 0),
                None => KeyAnswer::Unknown,
            }
        }
        async fn introspect(
            &self,
            _: &str,
            _: &CacheKey,
            _: i64,
        ) -> Option<Result<Arc<Claims>, AuthError>> {
            self.answer.clone()
        }
    }

    fn key() -> &'static TestKey {
        static KEY: std::sync::OnceLock<TestKey> = std::sync::OnceLock::new();
        KEY.get_or_init(|| TestKey::es256("k1"))
    }

    fn fixed(answer: Option<Result<Arc<Claims>, AuthError>>) -> Fixed {
        let keys = crate::keys::KeySet::from_json(jwks(&[key()]).to_string().as_bytes());
        Fixed {
            keys: keys.expect("jwks"),
            answer,
        }
    }

    fn claims(iss: &str) -> serde_json::Value {
        json!({"iss": iss, "aud": RES, "sub": "u", "scope": "a:read", "exp": NOW + 60})
    }

    fn answer(iss: &str) -> Option<Result<Arc<Claims>, AuthError>> {
        let map = claims(iss).as_object().cloned().unwrap_or_default();
        Some(Ok(Arc::new(Claims::from_map(map).expect("claims"))))
    }

    fn config(mode: ValidationMode) -> Config {
        let mut b = Config::builder(ISS, RES)
            .tool_scopes_json(r#"{"read":["a:read"]}"#)
            .validation_mode(mode);
        if mode != ValidationMode::JwtOnly {
            b = b.introspection("https://auth.example.com/introspect", "rs", "secret");
        }
        b.build().expect("config")
    }

    /// Every step the pipeline yields, run to the end.
    async fn steps(
        token: &str,
        config: &Config,
        tool: Option<&str>,
        env: &Fixed,
    ) -> Vec<(Check, Ran)> {
        let policy = PolicyView::select(config, None);
        let mut seen = Vec::new();
        let sink = |step: Step<'_>| {
            seen.push((step.check, step.ran));
            ControlFlow::<()>::Continue(())
        };
        let target = tool.map(Target::tool);
        let _ = run(
            token,
            config,
            NOW,
            target.as_ref().map(|t| (t, &policy)),
            env,
            sink,
        )
        .await;
        seen
    }

    fn checks(steps: &[(Check, Ran)]) -> Vec<Check> {
        steps.iter().map(|(c, _)| *c).collect()
    }

    const LOCAL: [Check; 14] = [
        Check::Size,
        Check::Mode,
        Check::Format,
        Check::Algorithm,
        Check::Crit,
        Check::Cty,
        Check::Typ,
        Check::Key,
        Check::Signature,
        Check::Issuer,
        Check::Audience,
        Check::Expiry,
        Check::NotBefore,
        Check::IssuedAt,
    ];

    #[tokio::test]
    async fn a_jwt_meets_the_local_checks_in_order_then_the_tool_decision() {
        let token = key().token(&claims(ISS));
        let config = config(ValidationMode::JwtOnly);
        let steps = steps(&token, &config, Some("read"), &fixed(None)).await;
        assert_eq!(checks(&steps), [&LOCAL[..], &[Check::Target]].concat());
        assert!(steps.iter().all(|(_, ran)| *ran == Ran::Pass), "{steps:?}");
    }

    #[tokio::test]
    async fn jwt_and_introspect_asks_the_endpoint_after_the_local_checks() {
        let token = key().token(&claims(ISS));
        let config = config(ValidationMode::JwtAndIntrospect);
        let steps = steps(&token, &config, None, &fixed(answer(ISS))).await;
        let expected = [&LOCAL[..], &[Check::Active, Check::IntrospectedSubject]].concat();
        assert_eq!(checks(&steps), expected);
    }

    #[tokio::test]
    async fn an_opaque_token_meets_active_before_the_answer_claims() {
        let config = config(ValidationMode::JwtOrIntrospect);
        let steps = steps("opaque", &config, None, &fixed(answer(ISS))).await;
        assert_eq!(
            checks(&steps),
            [
                Check::Size,
                Check::Mode,
                Check::Format,
                Check::Active,
                Check::TokenUse,
                Check::Issuer,
                Check::Audience,
                Check::Expiry,
                Check::NotBefore,
                Check::IssuedAt,
            ]
        );
    }

    #[tokio::test]
    async fn an_unknown_key_from_another_issuer_is_an_issuer_mismatch_at_the_key_check() {
        let token = TestKey::es256("k9").token(&claims("https://old.example.com"));
        let config = config(ValidationMode::JwtOnly);
        let stopped = run(&token, &config, NOW, None, &fixed(None), first_failure).await;
        assert_eq!(
            stopped.err(),
            Some(AuthError::IssuerMismatch {
                expected: ISS.into(),
                actual: Some("https://old.example.com".into()),
            })
        );
        let steps = steps(&token, &config, None, &fixed(None)).await;
        assert_eq!(
            steps[8],
            (Check::Signature, Ran::NotRun(NotRun::After(Check::Key)))
        );
    }

    #[test]
    fn the_mode_is_dispatched_on_the_token_shape() {
        use ValidationMode::*;
        let (jwt, opaque) = ("a.b.c", "opaque");
        assert_eq!(route(JwtOnly, false, opaque), Route::Local);
        assert_eq!(route(IntrospectionOnly, true, jwt), Route::Introspection);
        assert_eq!(
            route(JwtAndIntrospect, true, jwt),
            Route::LocalThenIntrospection
        );
        assert_eq!(route(JwtAndIntrospect, true, opaque), Route::Introspection);
        assert_eq!(route(JwtOrIntrospect, true, jwt), Route::Local);
        assert_eq!(route(JwtOrIntrospect, true, opaque), Route::Introspection);
        assert_eq!(route(IntrospectionOnly, false, jwt), Route::Unavailable);
        assert_eq!(route(Auto, true, jwt), Route::Unavailable);
    }
}

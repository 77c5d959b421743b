//! The explainer: runs every check on a token and returns every finding at once.
//!
//! The [`Validator`](crate::Validator) stops at the first failed check; [`diagnose`]
//! runs the same pipeline (the same checks, in the validator's order, from the same
//! function) to the end, and says for each check what was expected, what the token carries,
//! and how to fix a failure (the prose is in one place, the private `hints` module). A `tools/call`, `prompts/get` or
//! `resources/read` is decided by [`PolicyView::decide_target`], as the HTTP layer decides it. The first failure is the denial the
//! SDK would send, rendered through [`challenge::render`].
//!
//! Diagnosis is pure: anything that needs the network (the JWKS, the authorization server's
//! metadata, its clock, the introspection endpoint) is gathered by the caller and passed in as
//! [`Evidence`]. Without keys the signature is reported as not checked and the verdict assumes
//! it verifies.
//!
//! ```
//! use authsec::{config::Config, diagnose::{diagnose, Evidence, Verdict}};
//!
//! let config = Config::builder("https://auth.example.com", "https://mcp.example.com/mcp")
//!     .build()
//!     .unwrap();
//! // header {"alg":"RS256"}, claims {"iss":"https://auth.example.com","aud":"https://mcp.example.com/mcp/","exp":1}
//! let token = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5jb20iLCJhdWQiOiJodHRwczovL21jcC5leGFtcGxlLmNvbS9tY3AvIiwiZXhwIjoxfQ.c2ln";
//! let d = diagnose(token, &config, None, &Evidence::default());
//! assert_eq!(d.verdict, Verdict::Deny);
//! assert_eq!(d.reason(), "audience_mismatch");
//! let aud = d.finding("aud").unwrap();
//! assert!(aud.hint.as_deref().unwrap().starts_with("Trailing slash: the token's aud"));
//! ```

mod hints;
pub use hints::{duration, relative};

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::ops::ControlFlow;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::challenge::{self, ChallengeContext, Denial};
use crate::config::{Config, TypPolicy};
use crate::error::AuthError;
use crate::introspect::{Introspection, IntrospectionError};
use crate::keys::{self, Algorithm, KeySet};
use crate::policy::PolicyMode;
use crate::policy::{PolicyView, Target, TargetKind, ToolRule};
use crate::principal::Principal;
use crate::token::{CacheKey, Claims, Fingerprint};
use crate::validate;
use crate::validate::pipeline::Check;
use crate::validate::pipeline::{self, Env, KeyAnswer, NotRun, Ran, Recalled, Step};

/// What the caller learned from the network, if anything. The default is fully offline.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The keys to find the token's key in and verify its signature with.
    pub keys: KeyEvidence,
    /// What the issuer's `.well-known` metadata says, when it was fetched.
    pub issuer_metadata: Option<IssuerMetadata>,
    /// The authorization server's clock relative to this machine's, when measured.
    pub clock_skew: Option<ClockSkew>,
    /// The introspection endpoint's answer, when it was asked (online, with credentials).
    pub introspection: Option<Result<Introspection, IntrospectionError>>,
}

/// Keys for the `kid` and signature checks.
#[derive(Debug, Clone, Default)]
pub enum KeyEvidence {
    /// No keys (offline): `kid` and signature are not checked; the verdict assumes they pass.
    #[default]
    NotChecked,
    /// A loaded key set and where it came from (a URL or a file).
    Keys {
        /// The parsed JWKS.
        set: Arc<KeySet>,
        /// Where it came from, for messages.
        source: String,
    },
    /// Fetching or parsing the keys failed.
    Unavailable {
        /// Where the keys were looked for.
        source: String,
        /// What went wrong.
        error: String,
    },
}

/// The result of asking the configured issuer's metadata (RFC 8414 / OpenID Discovery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerMetadata {
    /// A document was found at `url` and names `issuer`.
    Published {
        /// The metadata URL.
        url: String,
        /// The `issuer` member.
        issuer: String,
    },
    /// No metadata document could be fetched.
    Unreachable {
        /// What each attempt returned.
        detail: String,
    },
}

impl IssuerMetadata {
    /// Converts the result of [`keys::discover`].
    pub fn from_discovery(result: &Result<keys::ServerMetadata, keys::DiscoveryError>) -> Self {
        match result {
            Ok(meta) => IssuerMetadata::Published {
                url: meta.source_url.clone(),
                issuer: meta.issuer.clone(),
            },
            Err(keys::DiscoveryError::IssuerMismatch { published, url, .. }) => {
                IssuerMetadata::Published {
                    url: url.clone(),
                    issuer: published.clone(),
                }
            }
            Err(keys::DiscoveryError::Unreachable { detail, .. }) => IssuerMetadata::Unreachable {
                detail: detail.clone(),
            },
        }
    }
}

/// The authorization server's clock relative to this machine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockSkew {
    /// Where the time was read (e.g. the `Date` header of a metadata URL).
    pub source: String,
    /// Authorization server time minus local time, in seconds (negative: the AS is behind).
    pub server_minus_local_secs: i64,
}

/// The decision the SDK would make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The request would be let through.
    Allow,
    /// The request would be denied.
    Deny,
}

impl Verdict {
    /// `"allow"` or `"deny"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
        }
    }
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The check passed.
    Pass,
    /// The check passed, but something deserves attention (see the hint).
    Warn,
    /// The check failed: the SDK would deny on it (if nothing earlier failed).
    Fail,
    /// The check could not run (offline, or an earlier problem prevents it).
    NotChecked,
}

impl Outcome {
    /// JSON `ok`: `true` (pass or warn), `false` (fail), `null` (not checked).
    pub fn ok(self) -> Option<bool> {
        match self {
            Outcome::Pass | Outcome::Warn => Some(true),
            Outcome::Fail => Some(false),
            Outcome::NotChecked => None,
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The check's name (`aud`, `exp`, `scope`, …; see the README for the list).
    pub check: &'static str,
    /// How it came out.
    pub outcome: Outcome,
    /// What the configuration expects.
    pub expected: Value,
    /// What the token (or the world) has.
    pub actual: Value,
    /// How to fix a failure, or what to look at for a warning.
    pub hint: Option<String>,
    /// The denial this check produced, when it failed.
    pub error: Option<AuthError>,
}

impl Finding {
    fn new(check: &'static str, expected: Value, actual: Value) -> Self {
        Finding {
            check,
            outcome: Outcome::Pass,
            expected,
            actual,
            hint: None,
            error: None,
        }
    }
    fn fail(mut self, error: AuthError, hint: impl Into<String>) -> Self {
        self.outcome = Outcome::Fail;
        self.error = Some(error);
        self.hint = Some(hint.into());
        self
    }
    fn warn(mut self, hint: impl Into<String>) -> Self {
        self.outcome = Outcome::Warn;
        self.hint = Some(hint.into());
        self
    }
    fn not_checked(mut self, hint: impl Into<String>) -> Self {
        self.outcome = Outcome::NotChecked;
        self.hint = Some(hint.into());
        self
    }
    /// The finding for a check's result: unchanged when it passed, failed with `hint` when
    /// it failed.
    fn judged(self, ran: Ran, hint: impl FnOnce(&AuthError) -> String) -> Self {
        match ran {
            Ran::Pass => self,
            Ran::Fail(e) => {
                let hint = hint(&e);
                self.fail(e, hint)
            }
            Ran::NotRun(_) => self.not_checked("not checked"),
        }
    }

    /// `{"check","ok","expected","actual","hint"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "check": self.check,
            "ok": self.outcome.ok(),
            "expected": self.expected,
            "actual": self.actual,
            "hint": self.hint,
        })
    }
}

/// Everything [`diagnose`] found.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    /// What the SDK would decide.
    pub verdict: Verdict,
    /// The first failure in the validator's order: the one the SDK would report.
    pub error: Option<AuthError>,
    /// The response the SDK would send for `error`.
    pub response: Option<Denial>,
    /// Every check, in the validator's order.
    pub findings: Vec<Finding>,
    /// The token's fingerprint (never the token).
    pub fingerprint: Fingerprint,
    /// The time the token was judged at (the configuration's clock).
    pub now: i64,
}

impl Diagnosis {
    /// HTTP status the SDK would answer with (200 when allowed).
    pub fn status(&self) -> u16 {
        self.response.as_ref().map_or(200, |r| r.status.as_u16())
    }

    /// The body's `reason` (`"allowed"` when allowed).
    pub fn reason(&self) -> &'static str {
        self.error.as_ref().map_or("allowed", AuthError::reason)
    }

    /// The finding for a check, by name.
    pub fn finding(&self, check: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.check == check)
    }

    /// `{"verdict","status","reason","response":{"status","www_authenticate","body"},"findings":[…]}`.
    pub fn to_json(&self) -> Value {
        let response = match &self.response {
            Some(r) => json!({
                "status": r.status.as_u16(),
                "www_authenticate": r.www_authenticate,
                "body": r.body,
            }),
            None => json!({"status": 200, "www_authenticate": null, "body": null}),
        };
        json!({
            "verdict": self.verdict.as_str(),
            "status": self.status(),
            "reason": self.reason(),
            "response": response,
            "findings": self.findings.iter().map(Finding::to_json).collect::<Vec<_>>(),
        })
    }
}

/// Runs every check on `token` against `config`, for an operation on `target` when given (a
/// `tools/call` of a tool, `prompts/get` of a prompt, `resources/read` of a resource URI).
///
/// "Now" is `config.clock.now()`, exactly as the validator sees it.
pub fn diagnose(
    token: &str,
    config: &Config,
    target: Option<&Target>,
    evidence: &Evidence,
) -> Diagnosis {
    let now = config.clock.now();
    let policy = policy_view(config);
    let ctx = challenge_context(config, &policy, target);
    let explainer = Explainer {
        config,
        evidence,
        token,
        now,
        target,
        policy: &policy,
    };
    let given = Given(evidence);
    let mut findings = Vec::new();
    let mut error = None;
    let run = pipeline::run(
        token,
        config,
        now,
        target.map(|t| (t, &policy)),
        &given,
        |step: Step<'_>| {
            if let (None, Ran::Fail(e)) = (&error, &step.ran) {
                error = Some(e.clone());
            }
            explainer.explain(step, &mut findings);
            ControlFlow::<Infallible>::Continue(())
        },
    );
    let principal = match ready(run) {
        Some(Ok(principal)) => principal,
        Some(Err(never)) => match never {},
        // Diagnosis reads only its evidence; a pipeline that waited is reported, not trusted.
        None => {
            error.get_or_insert(AuthError::ValidationUnavailable {
                detail: "diagnosis could not complete".into(),
            });
            None
        }
    };
    if let (None, Some(principal)) = (target, &principal) {
        findings.push(explainer.policy_state(TargetKind::Tool));
        findings.push(
            Finding::new("scope", Value::Null, json!(principal.scopes().join(" ")))
                .not_checked(hints::NO_TOOL),
        );
    }
    Diagnosis {
        verdict: if error.is_some() {
            Verdict::Deny
        } else {
            Verdict::Allow
        },
        response: error.as_ref().map(|e| challenge::render(e, &ctx)),
        error,
        findings,
        fingerprint: Fingerprint::of(token),
        now,
    }
}

/// The context of the denial the layer would send: a 401 names the scopes of every scoped rule
/// deciding `target` (a resource may match several templates), else the configured default.
fn challenge_context(
    config: &Config,
    policy: &PolicyView<'_>,
    target: Option<&Target>,
) -> ChallengeContext {
    let mut ctx = ChallengeContext::for_request(config, None);
    let rules = target.map_or_else(Vec::new, |t| policy.rules(t.kind, &t.name));
    let mut scoped: Vec<String> = Vec::new();
    for rule in rules
        .into_iter()
        .filter(|r| matches!(r, ToolRule::Scoped { .. }))
    {
        for s in rule.scopes() {
            if !scoped.contains(s) {
                scoped.push(s.clone());
            }
        }
    }
    if !scoped.is_empty() {
        ctx.scope = scoped;
    }
    ctx
}

/// The rules a diagnosis decides with: those [`PolicyView::select`] picks for the local modes.
/// In the remote modes the live policy is the console's, which diagnosis is not given: it
/// decides with the local map, and the `policy` finding says so.
fn policy_view(config: &Config) -> PolicyView<'_> {
    match config.policy_mode {
        PolicyMode::LocalOnly | PolicyMode::Open => PolicyView::select(config, None),
        PolicyMode::RemoteRequired | PolicyMode::RemoteWithLocalFallback => {
            PolicyView::local(config, PolicyMode::LocalOnly)
        }
    }
}

/// Polls a future that never waits to completion (`None` if it would wait).
fn ready<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

/// The pipeline's environment for a diagnosis: the evidence, nothing remembered.
struct Given<'e>(&'e Evidence);

impl Env for Given<'_> {
    fn recall(&self, _: &CacheKey, _: i64) -> Option<Recalled> {
        None
    }

    fn remember(&self, _: &CacheKey, _: &Principal, _: u64, _: i64) {}

    async fn key(&self, kid: Option<&str>, alg: Algorithm) -> KeyAnswer {
        match &self.0.keys {
            KeyEvidence::NotChecked => KeyAnswer::NotRun(NotRun::NoKeys),
            KeyEvidence::Unavailable { .. } => KeyAnswer::NotRun(NotRun::KeysUnavailable),
            KeyEvidence::Keys { set, .. } => match set.find(kid, alg) {
                Some(key) => KeyAnswer::Found(key, 0),
                None => KeyAnswer::Unknown,
            },
        }
    }

    async fn introspect(
        &self,
        _: &str,
        _: &CacheKey,
        _: i64,
    ) -> Option<Result<Arc<Claims>, AuthError>> {
        self.0
            .introspection
            .clone()
            .map(validate::introspection_verdict)
    }
}

/// Turns each step of the pipeline into findings.
struct Explainer<'a> {
    config: &'a Config,
    evidence: &'a Evidence,
    token: &'a str,
    now: i64,
    target: Option<&'a Target>,
    policy: &'a PolicyView<'a>,
}

impl Explainer<'_> {
    fn explain(&self, step: Step<'_>, out: &mut Vec<Finding>) {
        let Step { check, ran, seen } = step;
        let name = check.name();
        let config = self.config;
        let header = seen.header;
        let claims = seen.claims;
        match check {
            Check::Size => out.push(
                Finding::new(
                    name,
                    json!(format!("at most {} bytes", config.max_token_bytes)),
                    json!(format!("{} bytes", self.token.len())),
                )
                .judged(ran, |_| hints::TOO_LARGE.into()),
            ),
            // A usable mode is not news (the `format` finding of an introspected token names
            // it); one that cannot validate anything is.
            Check::Mode => {
                if let Ran::Fail(e) = ran {
                    let mode = config.validation_mode.as_str();
                    out.push(
                        Finding::new(
                            name,
                            json!("a validation mode with the endpoints it needs"),
                            json!(mode),
                        )
                        .fail(e, hints::mode_unavailable(mode)),
                    );
                }
            }
            Check::Format if seen.introspected => out.push(Finding::new(
                name,
                json!(format!(
                    "a token the introspection endpoint knows ({})",
                    config.validation_mode.as_str()
                )),
                json!(if validate::is_compact_jws(self.token) {
                    "a JWT"
                } else {
                    "an opaque token"
                }),
            )),
            Check::Format => {
                let expected = json!("a compact JWS (header.payload.signature)");
                out.push(
                    match &ran {
                        Ran::Fail(e) => Finding::new(name, expected, json!(e.to_string())),
                        _ => Finding::new(name, expected, json!("compact JWS")),
                    }
                    .judged(ran, |e| hints::malformed(e, self.token)),
                );
            }
            Check::Algorithm => {
                let allowed: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
                let alg = header.map_or("", |h| h.alg.as_str());
                out.push(
                    Finding::new(name, json!(allowed), json!(alg)).judged(ran, |_| hints::alg(alg)),
                );
            }
            Check::Crit => out.push(
                Finding::new(
                    name,
                    Value::Null,
                    json!(header.and_then(|h| h.crit.as_ref())),
                )
                .judged(ran, |_| hints::CRIT.into()),
            ),
            Check::Cty => out.push(
                Finding::new(
                    name,
                    json!("absent (not a nested JWT)"),
                    json!(header.and_then(|h| h.cty.as_deref())),
                )
                .judged(ran, |_| hints::CTY.into()),
            ),
            Check::Typ => {
                let policy = config.typ_policy;
                let mut accepted: Vec<String> = validate::accepted_typs(policy)
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                if policy == TypPolicy::Lenient {
                    accepted.push("absent".into());
                }
                let typ = header.and_then(|h| h.typ.as_deref());
                out.push(
                    Finding::new(name, json!(accepted), json!(typ))
                        .judged(ran, |_| hints::typ(policy, typ, claims)),
                );
            }
            Check::Key => out.push(self.key(ran, header.and_then(|h| h.kid.as_deref()), seen)),
            Check::Signature => out.push(self.signature(ran, seen.key)),
            Check::Active => {
                let f = Finding::new(name, json!(true), Value::Null);
                out.push(match ran {
                    Ran::Pass => Finding {
                        actual: json!(true),
                        ..f
                    },
                    Ran::Fail(e @ AuthError::TokenRevoked) => Finding {
                        actual: json!(false),
                        ..f
                    }
                    .fail(e, hints::INACTIVE),
                    Ran::Fail(e) => {
                        let hint = hints::no_answer(&detail(&e));
                        Finding {
                            actual: json!("no answer"),
                            ..f
                        }
                        .fail(e, hint)
                    }
                    Ran::NotRun(_) => f.not_checked(hints::NOT_ASKED),
                });
            }
            Check::TokenUse => {
                let value = claims.and_then(|c| {
                    ["token_use", "typ"]
                        .iter()
                        .find_map(|m| c.raw.get(*m).and_then(Value::as_str).map(str::to_owned))
                });
                let hint = hints::token_use(value.as_deref().unwrap_or_default());
                out.push(
                    Finding::new(name, json!("an access token"), json!(value))
                        .judged(ran, |_| hint),
                );
            }
            Check::Issuer => {
                if let Some(claims) = claims {
                    out.push(self.issuer(ran, claims, seen.introspected));
                }
            }
            Check::Audience => {
                if let Some(claims) = claims {
                    out.push(self.audience(ran, claims, seen.introspected));
                }
            }
            Check::Expiry => {
                if let Some(claims) = claims {
                    out.push(self.exp(ran, claims.exp, seen.introspected));
                }
            }
            Check::NotBefore | Check::IssuedAt => {
                let Some(claims) = claims else { return };
                let value = if check == Check::NotBefore {
                    claims.nbf
                } else {
                    claims.iat
                };
                out.push(self.not_before(name, ran, value));
                if check == Check::IssuedAt {
                    out.push(self.subject(claims));
                    out.extend(self.clock());
                }
            }
            Check::IntrospectedSubject => out.push(
                Finding::new(
                    name,
                    json!(seen.jwt_sub),
                    json!(claims.and_then(|c| c.sub.as_deref())),
                )
                .judged(ran, |_| hints::ANSWER_DISAGREES.into()),
            ),
            Check::Target => {
                if let (Some(target), Some(principal)) = (self.target, seen.principal) {
                    out.push(self.policy_state(target.kind));
                    self.decision(target, principal.scopes(), ran, out);
                }
            }
        }
    }

    /// The keys named in the evidence, and where they came from.
    fn key_set(&self) -> Option<(&KeySet, &str)> {
        match &self.evidence.keys {
            KeyEvidence::Keys { set, source } => Some((set, source)),
            _ => None,
        }
    }

    fn key(&self, ran: Ran, kid: Option<&str>, seen: pipeline::Seen<'_>) -> Finding {
        let name = Check::Key.name();
        let actual = json!(kid);
        // What the evidence lacks outranks what an earlier check prevented.
        match (&self.evidence.keys, ran) {
            (KeyEvidence::NotChecked, Ran::NotRun(_)) => {
                Finding::new(name, json!("a key in the JWKS"), actual)
                    .not_checked(hints::KEY_OFFLINE)
            }
            (KeyEvidence::Unavailable { source, error }, Ran::NotRun(_)) => {
                Finding::new(name, json!(format!("a key in {source}")), actual)
                    .not_checked(hints::keys_unavailable(source, error))
            }
            (_, ran) => {
                let (kids, source) = match self.key_set() {
                    Some((set, source)) => (set.kids(), source),
                    None => (Vec::new(), "the JWKS"),
                };
                let f = Finding::new(name, json!(kids), actual);
                match ran {
                    Ran::Pass => f,
                    Ran::NotRun(_) => f.not_checked(hints::ALG_NOT_ALLOWED),
                    Ran::Fail(e) => {
                        let alg = seen.header.map_or("", |h| h.alg.as_str());
                        let hint = hints::unknown_key(kid, alg, source, &kids);
                        f.fail(e, hint)
                    }
                }
            }
        }
    }

    fn signature(&self, ran: Ran, key: Option<(&keys::VerifyKey, Algorithm)>) -> Finding {
        let name = Check::Signature.name();
        let not_checked = |actual: &str, hint: &str| {
            Finding::new(name, json!("verifies"), json!(actual)).not_checked(hint)
        };
        match (&self.evidence.keys, ran, key) {
            (KeyEvidence::NotChecked, Ran::NotRun(_), _) => {
                not_checked("not checked (offline)", hints::SIGNATURE_OFFLINE)
            }
            (KeyEvidence::Unavailable { .. }, Ran::NotRun(_), _) => {
                not_checked("not checked", hints::NO_KEYS)
            }
            (_, Ran::NotRun(NotRun::After(Check::Algorithm)), _) => {
                not_checked("not checked", hints::ALG_NOT_ALLOWED)
            }
            (_, Ran::NotRun(_), _) | (_, _, None) => {
                not_checked("not checked", hints::NO_KEY_FOR_TOKEN)
            }
            (_, ran, Some((key, alg))) => {
                let expected = json!(format!(
                    "verifies with key {} ({})",
                    hints::describe_opt(key.kid.as_deref()),
                    key.pinned_to
                ));
                let f = Finding::new(name, expected, Value::Null);
                match ran {
                    Ran::Fail(e @ AuthError::KeyAlgorithmMismatch { .. }) => Finding {
                        actual: json!(format!("alg {}", alg.name())),
                        ..f
                    }
                    .fail(e, hints::key_alg_mismatch(&key.pinned_to, alg.name())),
                    Ran::Fail(e) => Finding {
                        actual: json!("does not verify"),
                        ..f
                    }
                    .fail(e, hints::BAD_SIGNATURE),
                    _ => Finding {
                        actual: json!("verified"),
                        ..f
                    },
                }
            }
        }
    }

    fn issuer(&self, ran: Ran, claims: &Claims, introspected: bool) -> Finding {
        let configured = &self.config.issuer;
        let f = Finding::new(Check::Issuer.name(), json!(configured), json!(claims.iss));
        if introspected && claims.iss.is_none() {
            return f.warn(hints::ANSWER_WITHOUT_ISS);
        }
        match ran {
            Ran::Pass => match &self.evidence.issuer_metadata {
                Some(IssuerMetadata::Published { url, issuer }) if issuer != configured => {
                    let discovers_keys = self.config.jwks_url.is_none();
                    f.warn(hints::issuer_metadata_differs(
                        url,
                        issuer,
                        configured,
                        discovers_keys,
                    ))
                }
                _ => f,
            },
            ran => f.judged(ran, |_| {
                hints::issuer(
                    configured,
                    claims.iss.as_deref(),
                    self.evidence.issuer_metadata.as_ref(),
                )
            }),
        }
    }

    fn audience(&self, ran: Ran, claims: &Claims, introspected: bool) -> Finding {
        let resource = &self.config.resource_uri;
        let legacy = &self.config.legacy_client_id_audiences;
        let mut expected = vec![resource.clone()];
        expected.extend(legacy.iter().cloned());
        let actual = claims.raw.get("aud").cloned().unwrap_or(Value::Null);
        let f = Finding::new(
            Check::Audience.name(),
            if expected.len() == 1 {
                json!(resource)
            } else {
                json!(expected)
            },
            actual,
        );
        let aud = claims.aud.as_deref().unwrap_or_default();
        match ran {
            Ran::Pass if introspected && claims.aud.is_none() => f.warn(hints::ANSWER_WITHOUT_AUD),
            Ran::Pass if aud.iter().any(|a| a == resource) => f,
            Ran::Pass => f.warn(hints::audience_via_legacy_client_id(resource, aud)),
            ran => f.judged(ran, |_| hints::audience(resource, claims)),
        }
    }

    fn exp(&self, ran: Ran, exp: Option<i64>, introspected: bool) -> Finding {
        let name = Check::Expiry.name();
        let now = self.now;
        let leeway = self.config.clock_skew_secs;
        let after = format!("after {} (now − {leeway}s)", now - leeway);
        let Some(exp) = exp else {
            if introspected {
                // The answer's `exp` is checked when present; the endpoint vouches otherwise.
                return Finding::new(name, json!(format!("{after}, when present")), Value::Null);
            }
            return Finding::new(name, json!(format!("present, {after}")), Value::Null)
                .judged(ran, |_| hints::MISSING_EXP.into());
        };
        let f = Finding::new(name, json!(after), json!(describe_time(exp, now)));
        match ran {
            Ran::Pass => {
                let remaining = exp + leeway - now;
                match &self.evidence.clock_skew {
                    Some(s)
                        if s.server_minus_local_secs < 0
                            && remaining <= -s.server_minus_local_secs =>
                    {
                        f.warn(hints::exp_near_skew(remaining, -s.server_minus_local_secs))
                    }
                    _ => f,
                }
            }
            ran => {
                let clock = &self.config.clock;
                let still_valid_at = |t| validate::check_exp(exp, t, leeway).is_ok();
                let overridden = clock.is_overridden().then(|| {
                    let system = crate::clock::system_now();
                    (system, still_valid_at(system))
                });
                let skew = self.evidence.clock_skew.as_ref().map(|s| {
                    let server_now = now + s.server_minus_local_secs;
                    (s, still_valid_at(server_now))
                });
                let facts = hints::Expired {
                    exp,
                    now,
                    leeway,
                    overridden,
                    skew,
                };
                f.judged(ran, |_| hints::expired(&facts))
            }
        }
    }

    fn not_before(&self, claim: &'static str, ran: Ran, value: Option<i64>) -> Finding {
        let now = self.now;
        let leeway = self.config.clock_skew_secs;
        let f = Finding::new(
            claim,
            json!(format!("not after {} (now + {leeway}s)", now + leeway)),
            match value {
                Some(v) => json!(describe_time(v, now)),
                None => Value::Null,
            },
        );
        match ran {
            Ran::Fail(e @ AuthError::Malformed(_)) => f.fail(e, hints::out_of_range(claim)),
            ran => f.judged(ran, |_| {
                let overridden_at = self.config.clock.is_overridden().then_some(now);
                let ahead = value.unwrap_or(now) - now;
                let skew = self.evidence.clock_skew.as_ref();
                hints::not_yet_valid(claim, ahead, leeway, overridden_at, skew)
            }),
        }
    }

    /// Not a check: the SDK accepts a token without `sub`, but it is worth knowing.
    fn subject(&self, claims: &Claims) -> Finding {
        let f = Finding::new("sub", json!("present (who the user is)"), json!(claims.sub));
        if claims.sub.is_some() {
            f
        } else {
            f.warn(hints::MISSING_SUB)
        }
    }

    /// Not a check: the clock every time check is judged against.
    fn clock(&self) -> Option<Finding> {
        let clock = &self.config.clock;
        if clock.is_overridden() {
            let system = crate::clock::system_now();
            return Some(
                Finding::new(
                    "clock",
                    json!("the system clock"),
                    json!(format!("overridden: {}", self.now)),
                )
                .warn(hints::clock_overridden(self.now, system)),
            );
        }
        let s = self.evidence.clock_skew.as_ref()?;
        let sign = if s.server_minus_local_secs < 0 {
            ""
        } else {
            "+"
        };
        let f = Finding::new(
            "clock",
            json!(format!(
                "within the {}s leeway of the authorization server",
                self.config.clock_skew_secs
            )),
            json!(format!(
                "authorization server {sign}{}s ({})",
                s.server_minus_local_secs, s.source
            )),
        );
        // The Date header has one-second resolution.
        Some(if s.server_minus_local_secs.abs() <= 2 {
            f
        } else {
            f.warn(hints::clock_skew(s))
        })
    }

    /// Not a check: which rules decide targets of `kind`, and how many are mapped.
    fn policy_state(&self, kind: TargetKind) -> Finding {
        let config = self.config;
        let mode = config.policy_mode;
        let mapped = self.mapped(kind).len();
        let kind = kind.as_str();
        let state = Finding::new(
            "policy",
            json!(format!("{kind}s mapped")),
            json!(format!("{}, {mapped} {kind}(s) mapped", mode.as_str())),
        );
        match mode {
            PolicyMode::Open => state.warn(hints::POLICY_OPEN),
            PolicyMode::RemoteRequired | PolicyMode::RemoteWithLocalFallback => {
                state.warn(hints::policy_remote(
                    mode.as_str(),
                    config.effective_console_url().unwrap_or("not configured"),
                ))
            }
            PolicyMode::LocalOnly if mapped == 0 => state.warn(hints::nothing_mapped(kind)),
            PolicyMode::LocalOnly => state,
        }
    }

    /// The names (for resources: URIs and templates) the local map has for `kind`.
    fn mapped(&self, kind: TargetKind) -> Vec<&str> {
        let config = self.config;
        match kind {
            TargetKind::Tool => config.tool_policy.iter().map(|(n, _)| n).collect(),
            TargetKind::Prompt => config.prompt_policy.iter().map(|(n, _)| n).collect(),
            TargetKind::Resource => config.resource_policy.iter().map(|(n, _)| n).collect(),
        }
    }

    /// The target's finding (`tool`, `prompt` or `resource`) and the `scope` finding for the
    /// decision [`PolicyView::decide_target`] made.
    fn decision(&self, target: &Target, granted: &[String], ran: Ran, out: &mut Vec<Finding>) {
        let kind = target.kind.as_str();
        let granted_text = json!(granted.join(" "));
        if self.policy.is_open() {
            out.push(
                Finding::new(kind, Value::Null, json!(target.name))
                    .not_checked(hints::TARGETS_OPEN),
            );
            out.push(
                Finding::new("scope", Value::Null, granted_text).not_checked(hints::SCOPES_OPEN),
            );
            return;
        }
        let names = self.mapped(target.kind);
        let target_finding = Finding::new(kind, json!(names), json!(target.name));
        let rules = self.policy.rules(target.kind, &target.name);
        let expected = match rules.as_slice() {
            [] => Value::Null,
            rules => json!(rules
                .iter()
                .map(|r| describe_rule(r, kind))
                .collect::<Vec<_>>()
                .join(", and ")),
        };
        let scope = Finding::new("scope", expected, granted_text);
        let Ran::Fail(e) = ran else {
            out.push(target_finding);
            out.push(scope);
            return;
        };
        match &e {
            AuthError::InsufficientScope {
                target,
                required,
                scope_match,
                granted,
            } => {
                let hint = hints::scope(target, required, *scope_match, granted);
                out.push(target_finding);
                out.push(scope.fail(e, hint));
            }
            AuthError::Unmapped { .. } => {
                let hint = hints::unmapped(target, &names);
                out.push(target_finding.fail(e, hint));
                out.push(scope.not_checked(hints::UNMAPPED_SCOPE));
            }
            _ => {
                let hint = hints::console_policy(&e, kind);
                out.push(target_finding.fail(e, hint));
                out.push(scope.not_checked(hints::UNMAPPED_SCOPE));
            }
        }
    }
}

/// What a rule requires, as the `scope` finding's expected value says it.
fn describe_rule(rule: &ToolRule, kind: &str) -> String {
    match rule {
        ToolRule::Public => format!("nothing (public {kind})"),
        ToolRule::Scoped {
            scopes,
            scope_match,
        } if scopes.len() > 1 => format!("{} of: {}", scope_match.as_str(), scopes.join(" ")),
        ToolRule::Scoped { scopes, .. } => scopes.join(" "),
    }
}

/// The detail of a backend failure, as its hint quotes it.
fn detail(e: &AuthError) -> String {
    match e {
        AuthError::ValidationUnavailable { detail } => detail.clone(),
        other => other.description(),
    }
}

/// `1800003600, in 1h`: an instant as the token carries it, seen from `now`.
fn describe_time(t: i64, now: i64) -> String {
    format!("{t}, {}", relative(t, now))
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "pass",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
            Outcome::NotChecked => "not checked",
        })
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::ValidationMode;

    fn fixed_clock_config(at: i64) -> Config {
        Config::builder("https://auth.example.com", "https://mcp.example.com/mcp")
            .clock(crate::clock::Clock::fixed(at))
            .build()
            .unwrap()
    }

    fn token(exp: i64) -> String {
        authsec_testkit::TestKey::es256("k1").token(&json!({
            "iss": "https://auth.example.com", "aud": "https://mcp.example.com/mcp",
            "sub": "u", "exp": exp
        }))
    }

    #[test]
    fn a_fixed_clock_that_makes_a_token_expire_says_remove_the_override() {
        let now = crate::clock::system_now();
        // The clock was pinned a day ahead (say, by a test fixture left in production code).
        let config = fixed_clock_config(now + 86_400);
        let d = diagnose(&token(now + 3600), &config, None, &Evidence::default());
        assert_eq!(d.verdict, Verdict::Deny);
        assert_eq!(d.reason(), "token_expired");
        let exp = d.finding("exp").unwrap();
        let hint = exp.hint.as_deref().unwrap();
        assert!(
            hint.contains("the configured clock is overridden"),
            "{hint}"
        );
        assert!(
            hint.contains("by the system clock the token is still valid"),
            "{hint}"
        );
        assert!(hint.contains("Remove the override"), "{hint}");
        let clock = d.finding("clock").unwrap();
        assert_eq!(clock.outcome, Outcome::Warn);
        assert_eq!(clock.expected, json!("the system clock"));
        assert!(clock
            .hint
            .as_deref()
            .unwrap()
            .contains("Remove the override outside tests"));
    }

    #[test]
    fn a_fixed_clock_is_reported_even_when_the_token_passes() {
        let now = crate::clock::system_now();
        let d = diagnose(
            &token(now + 3600),
            &fixed_clock_config(now),
            None,
            &Evidence::default(),
        );
        assert_eq!(d.verdict, Verdict::Allow);
        assert_eq!(d.finding("clock").unwrap().outcome, Outcome::Warn);
        // The system clock is the default: no clock finding at all.
        let config = Config::builder("https://auth.example.com", "https://mcp.example.com/mcp")
            .build()
            .unwrap();
        let d = diagnose(&token(now + 3600), &config, None, &Evidence::default());
        assert!(d.finding("clock").is_none());
    }

    #[test]
    fn the_json_form_has_ok_null_for_checks_not_run() {
        let now = crate::clock::system_now();
        let d = diagnose(
            &token(now + 3600),
            &fixed_clock_config(now),
            None,
            &Evidence::default(),
        );
        let v = d.to_json();
        let sig = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == "signature")
            .unwrap();
        assert_eq!(sig["ok"], Value::Null);
        assert_eq!(v["response"]["status"], 200);
    }

    fn introspection_config() -> Config {
        Config::builder("https://auth.example.com", "https://mcp.example.com/mcp")
            .introspection("https://auth.example.com/introspect", "rs", "secret")
            .validation_mode(ValidationMode::IntrospectionOnly)
            .tool_scopes_json(r#"{"list_notes":["notes:read"]}"#)
            .clock(crate::clock::Clock::fixed(1_800_000_000))
            .build()
            .unwrap()
    }

    fn answer(json: serde_json::Value) -> Evidence {
        let map = json.as_object().unwrap().clone();
        Evidence {
            introspection: Some(Ok(Introspection::Active(Arc::new(
                Claims::from_map(map).unwrap(),
            )))),
            ..Evidence::default()
        }
    }

    #[test]
    fn an_inactive_opaque_token_is_diagnosed_as_revoked() {
        let evidence = Evidence {
            introspection: Some(Ok(Introspection::Inactive)),
            ..Evidence::default()
        };
        let d = diagnose(
            "opaque-token",
            &introspection_config(),
            Some(&Target::tool("list_notes")),
            &evidence,
        );
        assert_eq!(d.error, Some(AuthError::TokenRevoked));
        assert_eq!(d.status(), 401);
        let active = d.finding("active").unwrap();
        assert_eq!(active.outcome, Outcome::Fail);
        assert_eq!(active.actual, json!(false));
        let hint = active.hint.as_deref().unwrap_or_default();
        assert!(hint.contains("Re-authorize"), "{hint}");
    }

    #[test]
    fn an_active_answer_without_aud_is_an_audience_mismatch() {
        let evidence = answer(json!({"active": true, "scope": "notes:read", "exp": 1_800_000_100}));
        let d = diagnose(
            "opaque-token",
            &introspection_config(),
            Some(&Target::tool("list_notes")),
            &evidence,
        );
        assert_eq!(d.reason(), "audience_mismatch");
        assert_eq!(d.finding("active").unwrap().actual, json!(true));
        assert_eq!(d.finding("aud").unwrap().outcome, Outcome::Fail);
    }

    #[test]
    fn an_active_answer_for_this_resource_with_the_scope_is_allowed() {
        let evidence = answer(json!({"active": true, "scope": "notes:read",
            "aud": "https://mcp.example.com/mcp", "exp": 1_800_000_100}));
        let d = diagnose(
            "opaque-token",
            &introspection_config(),
            Some(&Target::tool("list_notes")),
            &evidence,
        );
        assert_eq!(d.verdict, Verdict::Allow, "{:?}", d.error);
    }

    #[test]
    fn an_unreachable_introspection_endpoint_is_503() {
        let evidence = Evidence {
            introspection: Some(Err(IntrospectionError::Status {
                url: "https://auth.example.com/introspect".into(),
                status: 500,
            })),
            ..Evidence::default()
        };
        let d = diagnose("opaque-token", &introspection_config(), None, &evidence);
        assert_eq!(d.status(), 503);
        assert_eq!(d.reason(), "validation_unavailable");
    }
}

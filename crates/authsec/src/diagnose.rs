//! The explainer: runs every check on a token and returns every finding at once.
//!
//! The [`Validator`](crate::validate::Validator) stops at the first failed check; [`diagnose`]
//! runs all of them — the same functions from [`crate::validate`], never a copy — and says for
//! each one what was expected, what the token carries, and how to fix a failure. It also
//! predicts the exact response the SDK would send, by rendering the first failure (in the
//! validator's order: header → key → signature → `iss` → `aud` → `exp` → `nbf` → `iat` → tool
//! policy) through [`challenge::render`].
//!
//! Diagnosis is pure: anything that needs the network (the JWKS, the authorization server's
//! metadata, its clock) is gathered by the caller and passed in as [`Evidence`]. Without keys
//! the signature is reported as not checked and the verdict assumes it verifies.
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

use std::fmt;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::challenge::{self, ChallengeContext, Denial};
use crate::config::{Config, PolicyMode, TypPolicy, ValidationMode};
use crate::error::{AuthError, Malformed, ScopeMatch};
use crate::introspect::{Introspection, IntrospectionError};
use crate::keys::{self, Algorithm, KeySet};
use crate::policy::ToolRule;
use crate::token::{self, Claims, Fingerprint, Jws};
use crate::validate;

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

/// Runs every check on `token` against `config`, for a `tools/call` of `tool` when given.
///
/// "Now" is `config.clock.now()`, exactly as the validator sees it.
pub fn diagnose(
    token: &str,
    config: &Config,
    tool: Option<&str>,
    evidence: &Evidence,
) -> Diagnosis {
    let now = config.clock.now();
    let rule = tool.and_then(|t| config.tool_policy.get(t));
    let ctx = ChallengeContext::for_request(config, rule);
    let mut findings = Vec::new();
    let fingerprint = Fingerprint::of(token);

    let size = Finding::new(
        "size",
        json!(format!("at most {} bytes", config.max_token_bytes)),
        json!(format!("{} bytes", token.len())),
    );
    if token.len() > config.max_token_bytes {
        let err = AuthError::TokenTooLarge {
            size: token.len(),
            limit: config.max_token_bytes,
        };
        findings.push(size.fail(
            err.clone(),
            "the SDK refuses tokens above max_token_bytes unparsed; raise AUTHSEC_MAX_TOKEN_BYTES \
             only if your authorization server really issues tokens this large",
        ));
        return finish(findings, Some(err), &ctx, fingerprint, now);
    }
    findings.push(size);

    let mode = config.effective_validation_mode();
    let opaque = !validate::is_compact_jws(token);
    if mode == ValidationMode::IntrospectionOnly || (opaque && mode != ValidationMode::JwtOnly) {
        return introspected(
            token,
            config,
            tool,
            evidence,
            findings,
            &ctx,
            fingerprint,
            now,
        );
    }

    let jws = match token::parse_jws(token) {
        Ok(j) => j,
        Err(err) => {
            let hint = malformed_hint(&err, token);
            findings.push(
                Finding::new(
                    "format",
                    json!("a compact JWS (header.payload.signature)"),
                    json!(err.to_string()),
                )
                .fail(err.clone(), hint),
            );
            return finish(findings, Some(err), &ctx, fingerprint, now);
        }
    };
    findings.push(Finding::new(
        "format",
        json!("a compact JWS (header.payload.signature)"),
        json!("compact JWS"),
    ));

    let run = Run {
        config,
        jws: &jws,
        claims: &jws.claims,
        now,
        evidence,
    };
    let alg = run.header(&mut findings);
    let key_error = run.key_and_signature(alg, &mut findings);
    run.claims(&mut findings);
    let mut error = first_denial(&findings, key_error);
    if mode == ValidationMode::JwtAndIntrospect {
        // The validator asks the authorization server only after every local check passed.
        let (finding, active) = active_finding(evidence);
        findings.push(finding);
        if let Some(Ok(claims)) = &active {
            let sub = Finding::new("introspected_sub", json!(jws.claims.sub), json!(claims.sub));
            findings.push(
                match validate::check_introspected_claims(claims, config, false, now).and_then(
                    |()| validate::check_subject(jws.claims.sub.as_deref(), claims.sub.as_deref()),
                ) {
                    Ok(()) => sub,
                    Err(e) => sub.fail(
                        e,
                        "the introspection answer disagrees with the JWT (another subject, \
                         issuer, audience or lifetime): the SDK refuses the token",
                    ),
                },
            );
        }
        if error.is_none() {
            error = active
                .and_then(Result::err)
                .or_else(|| failed(&findings, "introspected_sub"));
        }
    }
    run.tool_policy(tool, &mut findings);
    let error = error
        .or_else(|| failed(&findings, "tool"))
        .or_else(|| failed(&findings, "scope"));
    finish(findings, error, &ctx, fingerprint, now)
}

fn failed(findings: &[Finding], check: &str) -> Option<AuthError> {
    findings
        .iter()
        .find(|f| f.check == check && f.outcome == Outcome::Fail)
        .and_then(|f| f.error.clone())
}

/// The `active` finding from the introspection evidence, and what the validator would make of
/// it: the active claims, or the denial.
fn active_finding(evidence: &Evidence) -> (Finding, Option<Result<Arc<Claims>, AuthError>>) {
    let f = Finding::new("active", json!(true), Value::Null);
    match &evidence.introspection {
        None => (
            f.not_checked(
                "not asked (offline): run with --online and the introspection credentials \
                 (AUTHSEC_INTROSPECTION_URL, _CLIENT_ID, _CLIENT_SECRET) to ask the \
                 authorization server whether the token is still active",
            ),
            None,
        ),
        Some(Err(e)) => {
            let err = validate::backend_failure(validate::BackendFailure::Introspection(e));
            let mut f = f.fail(
                err.clone(),
                format!(
                    "the introspection endpoint gave no answer ({e}); the SDK answers 503 and \
                     never lets the request through. Check the endpoint URL, the client \
                     credentials and the authorization server's health"
                ),
            );
            f.actual = json!("no answer");
            (f, Some(Err(err)))
        }
        Some(Ok(Introspection::Inactive)) => {
            let mut f = f.fail(
                AuthError::TokenRevoked,
                "the authorization server says the token is not active: it was revoked, has \
                 expired there, or was never issued by it. Re-authorize to get a new token",
            );
            f.actual = json!(false);
            (f, Some(Err(AuthError::TokenRevoked)))
        }
        Some(Ok(Introspection::Active(claims))) => {
            let mut f = f;
            f.actual = json!(true);
            (f, Some(Ok(claims.clone())))
        }
    }
}

/// A token the validator would introspect instead of checking locally (an opaque token, or any
/// token in `introspection_only`): the answer's claims go through the same checks.
#[allow(clippy::too_many_arguments)]
fn introspected(
    token: &str,
    config: &Config,
    tool: Option<&str>,
    evidence: &Evidence,
    mut findings: Vec<Finding>,
    ctx: &ChallengeContext,
    fingerprint: Fingerprint,
    now: i64,
) -> Diagnosis {
    let shape = if validate::is_compact_jws(token) {
        "a JWT"
    } else {
        "an opaque token"
    };
    findings.push(Finding::new(
        "format",
        json!(format!(
            "a token the introspection endpoint knows ({})",
            config.validation_mode.as_str()
        )),
        json!(shape),
    ));
    let (finding, active) = active_finding(evidence);
    findings.push(finding);
    let claims = match active {
        Some(Ok(claims)) => claims,
        Some(Err(err)) => return finish(findings, Some(err), ctx, fingerprint, now),
        None => {
            let err = None;
            return finish(findings, err, ctx, fingerprint, now);
        }
    };
    let require_aud = config
        .introspection
        .as_ref()
        .is_none_or(|i| i.require_audience);
    let empty = Jws {
        header: token::Header {
            alg: String::new(),
            kid: None,
            typ: None,
            cty: None,
            crit: None,
            embedded_key_members: Vec::new(),
        },
        claims: Claims::default(),
        signing_input: "",
        signature: Vec::new(),
    };
    let run = Run {
        config,
        jws: &empty,
        claims: &claims,
        now,
        evidence,
    };
    findings.push(run.issuer_if_present());
    if require_aud || claims.aud.is_some() {
        findings.push(run.audience());
    }
    let leeway = config.clock_skew_secs;
    if claims.exp.is_some() {
        findings.push(run.exp(leeway));
    }
    findings.push(run.not_before("nbf", claims.nbf, leeway));
    findings.push(run.not_before("iat", claims.iat, leeway));
    run.tool_policy(tool, &mut findings);
    // The validator's verdict on the answer, in its own order; the findings explain it.
    let error = validate::check_introspected_claims(&claims, config, require_aud, now)
        .err()
        .or_else(|| failed(&findings, "tool"))
        .or_else(|| failed(&findings, "scope"));
    finish(findings, error, ctx, fingerprint, now)
}

/// The validator's order: the first failure of size, format, header, then the key (an unknown
/// key whose `iss` is not ours is an issuer mismatch), signature, claims, tool policy.
fn first_denial(findings: &[Finding], key_error: Option<AuthError>) -> Option<AuthError> {
    let failed = |check: &str| {
        findings
            .iter()
            .find(|f| f.check == check && f.outcome == Outcome::Fail)
            .and_then(|f| f.error.clone())
    };
    for check in ["size", "format", "alg", "crit", "cty", "typ"] {
        if let Some(e) = failed(check) {
            return Some(e);
        }
    }
    if let Some(e) = key_error {
        if matches!(e, AuthError::UnknownKey { .. }) {
            if let Some(iss) = failed("iss") {
                return Some(iss);
            }
        }
        return Some(e);
    }
    for check in ["signature", "iss", "aud", "exp", "nbf", "iat"] {
        if let Some(e) = failed(check) {
            return Some(e);
        }
    }
    None
}

fn finish(
    findings: Vec<Finding>,
    error: Option<AuthError>,
    ctx: &ChallengeContext,
    fingerprint: Fingerprint,
    now: i64,
) -> Diagnosis {
    Diagnosis {
        verdict: if error.is_some() {
            Verdict::Deny
        } else {
            Verdict::Allow
        },
        response: error.as_ref().map(|e| challenge::render(e, ctx)),
        error,
        findings,
        fingerprint,
        now,
    }
}

struct Run<'a> {
    config: &'a Config,
    jws: &'a Jws<'a>,
    /// The claims the checks judge: the JWT's, or the introspection answer's.
    claims: &'a Claims,
    now: i64,
    evidence: &'a Evidence,
}

impl Run<'_> {
    fn claims_of(&self) -> &Claims {
        self.claims
    }

    fn header(&self, findings: &mut Vec<Finding>) -> Option<Algorithm> {
        let header = &self.jws.header;
        let allowed: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
        let alg = Finding::new("alg", json!(allowed), json!(header.alg));
        let alg_value = match validate::check_alg(&header.alg) {
            Ok(a) => {
                findings.push(alg);
                Some(a)
            }
            Err(e) => {
                findings.push(alg.fail(e, alg_hint(&header.alg)));
                None
            }
        };

        let crit = Finding::new("crit", Value::Null, json!(header.crit));
        findings.push(match validate::check_crit(header) {
            Ok(()) => crit,
            Err(e) => crit.fail(
                e,
                "the token marks header extensions as critical (crit), and authsec understands \
                 none (RFC 7515 §4.1.11); configure the authorization server not to add crit",
            ),
        });

        let cty = Finding::new("cty", json!("absent (not a nested JWT)"), json!(header.cty));
        findings.push(match validate::check_cty(header) {
            Ok(()) => cty,
            Err(e) => cty.fail(
                e,
                "nested JWTs (cty: JWT) are never unwrapped; the authorization server must issue a \
                 plain signed access token",
            ),
        });

        let policy = self.config.typ_policy;
        let mut accepted: Vec<String> = validate::accepted_typs(policy)
            .iter()
            .map(|s| s.to_string())
            .collect();
        if policy == TypPolicy::Lenient {
            accepted.push("absent".into());
        }
        let typ = Finding::new("typ", json!(accepted), json!(header.typ));
        findings.push(match validate::check_typ(header, policy) {
            Ok(()) => typ,
            Err(e) => {
                let mut hint = match policy {
                    TypPolicy::Rfc9068 => format!(
                        "typ_policy is rfc9068, which accepts only at+jwt; configure the authorization \
                         server to issue RFC 9068 access tokens, or set AUTHSEC_TYP_POLICY=lenient \
                         (currently {})",
                        describe_opt(header.typ.as_deref())
                    ),
                    TypPolicy::Lenient => format!(
                        "typ {} is not an access-token type; send an access token (at+jwt)",
                        describe_opt(header.typ.as_deref())
                    ),
                };
                if looks_like_id_token(self.claims_of()) {
                    hint.push_str(
                        ". This looks like an OpenID Connect ID token (it has nonce/at_hash): \
                         send the access token instead",
                    );
                }
                typ.fail(e, hint)
            }
        });
        alg_value
    }

    /// The `kid` and `signature` findings; returns the key-lookup error the validator would see.
    fn key_and_signature(
        &self,
        alg: Option<Algorithm>,
        findings: &mut Vec<Finding>,
    ) -> Option<AuthError> {
        let header = &self.jws.header;
        let kid_actual = json!(header.kid);
        let (set, source) = match &self.evidence.keys {
            KeyEvidence::NotChecked => {
                findings.push(
                    Finding::new("kid", json!("a key in the JWKS"), kid_actual).not_checked(
                        "not checked (offline): pass --jwks-file FILE or --online to look the key up",
                    ),
                );
                findings.push(
                    Finding::new(
                        "signature",
                        json!("verifies"),
                        json!("not checked (offline)"),
                    )
                    .not_checked(
                        "not checked (offline): the verdict assumes the signature verifies; \
                             pass --jwks-file FILE or --online to verify it",
                    ),
                );
                return None;
            }
            KeyEvidence::Unavailable { source, error } => {
                findings.push(
                    Finding::new("kid", json!(format!("a key in {source}")), kid_actual)
                        .not_checked(format!(
                            "keys could not be loaded from {source}: {error}. While the SDK cannot \
                             load keys it answers 503 validation_unavailable"
                        )),
                );
                findings.push(
                    Finding::new("signature", json!("verifies"), json!("not checked"))
                        .not_checked("not checked: no keys"),
                );
                return None;
            }
            KeyEvidence::Keys { set, source } => (set, source),
        };
        let Some(alg) = alg else {
            findings.push(
                Finding::new("kid", json!(set.kids()), kid_actual)
                    .not_checked("not checked: the alg is not allowed"),
            );
            findings.push(
                Finding::new("signature", json!("verifies"), json!("not checked"))
                    .not_checked("not checked: the alg is not allowed"),
            );
            return None;
        };
        let kid = Finding::new("kid", json!(set.kids()), kid_actual);
        let Some(key) = set.find(header.kid.as_deref(), alg) else {
            let err = AuthError::UnknownKey {
                kid: header.kid.clone(),
            };
            let hint = match &header.kid {
                Some(k) => format!(
                    "no key with kid {k:?} in {source} (it has {}). The token was signed by a key \
                     this server does not trust: issued by another authorization server or \
                     environment, or the keys were rotated after this JWKS was fetched",
                    list_or_none(&set.kids())
                ),
                None => format!(
                    "the token has no kid and {source} does not hold exactly one key for {}; \
                     configure the authorization server to put kid in the header",
                    alg.name()
                ),
            };
            findings.push(kid.fail(err.clone(), hint));
            findings.push(
                Finding::new("signature", json!("verifies"), json!("not checked"))
                    .not_checked("not checked: no key for this token"),
            );
            return Some(err);
        };
        findings.push(kid);
        let sig = Finding::new(
            "signature",
            json!(format!(
                "verifies with key {} ({})",
                describe_opt(key.kid.as_deref()),
                key.pinned_to
            )),
            Value::Null,
        );
        findings.push(match validate::check_signature(self.jws, alg, &key) {
            Ok(()) => Finding {
                actual: json!("verified"),
                ..sig
            },
            Err(e @ AuthError::KeyAlgorithmMismatch { .. }) => Finding {
                actual: json!(format!("alg {}", alg.name())),
                ..sig
            }
            .fail(
                e,
                format!(
                    "the key is pinned to {} but the token says alg {}: a key is never used with \
                     another algorithm (alg confusion); the token was not signed by this key",
                    key.pinned_to,
                    alg.name()
                ),
            ),
            Err(e) => Finding {
                actual: json!("does not verify"),
                ..sig
            }
            .fail(
                e,
                "the signature does not verify with the published key: the token was altered, or \
                 signed by a different key that reuses this kid",
            ),
        });
        None
    }

    fn claims(&self, findings: &mut Vec<Finding>) {
        findings.push(self.issuer());
        findings.push(self.audience());
        let leeway = self.config.clock_skew_secs;
        findings.push(self.exp(leeway));
        findings.push(self.not_before("nbf", self.claims_of().nbf, leeway));
        findings.push(self.not_before("iat", self.claims_of().iat, leeway));
        let sub = Finding::new(
            "sub",
            json!("present (who the user is)"),
            json!(self.claims_of().sub),
        );
        findings.push(if self.claims_of().sub.is_some() {
            sub
        } else {
            sub.warn(
                "the token has no sub: the SDK accepts it, but Principal::subject() is None and \
                 handlers or sessions that key on the user get nothing",
            )
        });
        if let Some(f) = self.clock() {
            findings.push(f);
        }
    }

    /// Introspection answers may omit `iss`: the configured endpoint vouches for its own tokens.
    fn issuer_if_present(&self) -> Finding {
        if self.claims_of().iss.is_none() {
            return Finding::new("iss", json!(self.config.issuer), Value::Null).warn(
                "the introspection answer has no iss; the SDK accepts that, since the configured \
                 endpoint vouches for its own tokens",
            );
        }
        self.issuer()
    }

    fn issuer(&self) -> Finding {
        let configured = &self.config.issuer;
        let claims = self.claims_of();
        let f = Finding::new("iss", json!(configured), json!(claims.iss));
        let published = match &self.evidence.issuer_metadata {
            Some(IssuerMetadata::Published { url, issuer }) => Some((url, issuer)),
            _ => None,
        };
        match validate::check_issuer(claims, configured) {
            Ok(()) => match published {
                Some((url, issuer)) if issuer != configured && self.config.jwks_url.is_none() => f
                    .warn(format!(
                        "{url} says issuer is {issuer:?}, not {configured:?}: the SDK discovers \
                         keys from that metadata and refuses to start while they differ. Set \
                         AUTHSEC_ISSUER to exactly what the authorization server publishes"
                    )),
                Some((url, issuer)) if issuer != configured => f.warn(format!(
                    "{url} says issuer is {issuer:?}, not {configured:?}; tokens carry the \
                     configured value today, but the two should agree"
                )),
                _ => f,
            },
            Err(e) => {
                let hint = issuer_hint(
                    configured,
                    claims.iss.as_deref(),
                    self.evidence.issuer_metadata.as_ref(),
                );
                f.fail(e, hint)
            }
        }
    }

    fn audience(&self) -> Finding {
        let claims = self.claims_of();
        let resource = &self.config.resource_uri;
        let legacy = &self.config.legacy_client_id_audiences;
        let mut expected = vec![resource.clone()];
        expected.extend(legacy.iter().cloned());
        let actual = claims.raw.get("aud").cloned().unwrap_or(Value::Null);
        let f = Finding::new(
            "aud",
            if expected.len() == 1 {
                json!(resource)
            } else {
                json!(expected)
            },
            actual,
        );
        match validate::check_audience(claims, resource, legacy) {
            Ok(()) => {
                let aud = claims.aud.as_deref().unwrap_or_default();
                if aud.iter().any(|a| a == resource) {
                    f
                } else {
                    f.warn(format!(
                        "accepted only through legacy_client_id_audiences ({}): aud is a client \
                         id, not this resource, which weakens confused-deputy protection. Not \
                         recommended long-term: configure the authorization server to set \
                         aud={resource}",
                        aud.join(", ")
                    ))
                }
            }
            Err(e) => f.fail(e, audience_hint(resource, claims)),
        }
    }

    fn exp(&self, leeway: i64) -> Finding {
        let now = self.now;
        let Some(exp) = self.claims_of().exp else {
            return Finding::new(
                "exp",
                json!(format!(
                    "present, after {} (now − {leeway}s)",
                    at(now - leeway)
                )),
                Value::Null,
            )
            .fail(
                AuthError::MissingClaim { claim: "exp" },
                "the token has no exp; the SDK requires one (a token that never expires cannot be \
                 contained). Configure the authorization server to set an access-token lifetime",
            );
        };
        let f = Finding::new(
            "exp",
            json!(format!("after {} (now − {leeway}s)", at(now - leeway))),
            json!(describe_time(exp, now)),
        );
        match validate::check_exp(exp, now, leeway) {
            Ok(()) => {
                let remaining = exp + leeway - now;
                match &self.evidence.clock_skew {
                    Some(s)
                        if s.server_minus_local_secs < 0
                            && remaining <= -s.server_minus_local_secs =>
                    {
                        f.warn(format!(
                            "valid for {} more, and this machine is {} ahead of the authorization \
                             server: tokens near expiry will be refused early. Use NTP",
                            human_duration(remaining),
                            human_duration(-s.server_minus_local_secs)
                        ))
                    }
                    _ => f,
                }
            }
            Err(e) => f.fail(e, self.exp_hint(exp, leeway)),
        }
    }

    fn exp_hint(&self, exp: i64, leeway: i64) -> String {
        let now = self.now;
        let clock = &self.config.clock;
        if clock.is_overridden() {
            let system = crate::clock::system_now();
            let by_system = if validate::check_exp(exp, system, leeway).is_ok() {
                "by the system clock the token is still valid"
            } else {
                "by the system clock it has expired too"
            };
            return format!(
                "the configured clock is overridden (fixed/manual at {}, the system clock says {}); \
                 expiry is judged against it and {by_system}. Remove the override: the clock \
                 setting exists for tests",
                at(now),
                at(system)
            );
        }
        let late = now - exp;
        if let Some(s) = &self.evidence.clock_skew {
            let as_now = now + s.server_minus_local_secs;
            if validate::check_exp(exp, as_now, leeway).is_ok() {
                return format!(
                    "expired only by this machine's clock: {} measures the authorization server {} \
                     {}, and by its clock the token is still valid. Fix the clock skew (use NTP); \
                     even 60s makes tokens near expiry fail",
                    s.source,
                    human_duration(s.server_minus_local_secs.abs()),
                    if s.server_minus_local_secs < 0 {
                        "behind this machine"
                    } else {
                        "ahead of this machine"
                    }
                );
            }
            return format!(
                "expired {} ago (beyond the {leeway}s leeway); the clocks agree within {} ({}), \
                 so this is an old token: the client should refresh it. If it does not, the client \
                 is buggy or its refresh token expired too — re-authorize",
                human_duration(late),
                human_duration(s.server_minus_local_secs.abs()),
                s.source
            );
        }
        format!(
            "expired {} ago (beyond the {leeway}s leeway). Most often the client is sitting on an \
             old token and should refresh it (if it does not, the client is buggy or its refresh \
             token expired too). If the token was just issued, this server's clock is ahead of \
             the authorization server's: use NTP (--online measures the skew)",
            human_duration(late)
        )
    }

    fn not_before(&self, claim: &'static str, value: Option<i64>, leeway: i64) -> Finding {
        let now = self.now;
        let f = Finding::new(
            claim,
            json!(format!("not after {} (now + {leeway}s)", at(now + leeway))),
            match value {
                Some(v) => json!(describe_time(v, now)),
                None => Value::Null,
            },
        );
        match validate::check_not_before(claim, value, now, leeway) {
            Ok(()) => f,
            Err(e @ AuthError::Malformed(_)) => f.fail(e, format!("{claim} is out of range")),
            Err(e) => {
                let ahead = value.unwrap_or(now) - now;
                let what = if claim == "nbf" {
                    "the token is not valid yet (nbf)"
                } else {
                    "the token claims to be issued in the future (iat)"
                };
                let cause = if self.config.clock.is_overridden() {
                    format!(
                        "the configured clock is overridden (fixed/manual at {}); remove the \
                         override: the clock setting exists for tests",
                        at(now)
                    )
                } else if let Some(s) = &self.evidence.clock_skew {
                    format!(
                        "{} measures the authorization server {} {} this machine; use NTP",
                        s.source,
                        human_duration(s.server_minus_local_secs.abs()),
                        if s.server_minus_local_secs < 0 {
                            "behind"
                        } else {
                            "ahead of"
                        }
                    )
                } else {
                    "the authorization server's clock is ahead of this server's: use NTP \
                     (--online measures the skew)"
                        .into()
                };
                f.fail(
                    e,
                    format!(
                        "{what}: {} from now, beyond the {leeway}s leeway. {cause}",
                        human_duration(ahead)
                    ),
                )
            }
        }
    }

    fn clock(&self) -> Option<Finding> {
        let clock = &self.config.clock;
        if clock.is_overridden() {
            let system = crate::clock::system_now();
            return Some(
                Finding::new(
                    "clock",
                    json!("the system clock"),
                    json!(format!("overridden: {}", at(self.now))),
                )
                .warn(format!(
                    "the configuration's clock is overridden (it says {}, the system clock {}); \
                         every exp/nbf/iat is judged against it. Remove the override outside tests",
                    at(self.now),
                    at(system)
                )),
            );
        }
        let s = self.evidence.clock_skew.as_ref()?;
        let f = Finding::new(
            "clock",
            json!(format!(
                "within the {}s leeway of the authorization server",
                self.config.clock_skew_secs
            )),
            json!(format!(
                "authorization server {}{}s ({})",
                if s.server_minus_local_secs < 0 {
                    ""
                } else {
                    "+"
                },
                s.server_minus_local_secs,
                s.source
            )),
        );
        // The Date header has one-second resolution.
        Some(if s.server_minus_local_secs.abs() <= 2 {
            f
        } else {
            f.warn(format!(
                "this machine and the authorization server disagree by {}: tokens near expiry \
                 (or just issued) fail. Use NTP on both. Measured from this machine — run \
                 diagnose on the MCP server's host to measure its clock",
                human_duration(s.server_minus_local_secs.abs())
            ))
        })
    }

    fn tool_policy(&self, tool: Option<&str>, findings: &mut Vec<Finding>) {
        let config = self.config;
        let policy = &config.tool_policy;
        let mode = config.policy_mode;
        let names: Vec<&str> = policy.iter().map(|(n, _)| n).collect();
        let state = Finding::new(
            "policy",
            json!("tools mapped"),
            json!(format!("{}, {} tool(s) mapped", mode.as_str(), names.len())),
        );
        let granted = &self.claims_of().scopes;
        findings.push(match mode {
            PolicyMode::Open => state.warn(
                "policy_mode is open: per-tool checks are off and any valid token may call any \
                 tool. Use local_only or a remote mode in production",
            ),
            PolicyMode::RemoteRequired | PolicyMode::RemoteWithLocalFallback => {
                state.warn(format!(
                "policy_mode is {}: the live policy comes from the console ({}) and may differ \
                 from the local map checked here. Open the Tools tab there and check what is \
                 mapped to this tool now",
                mode.as_str(),
                config.effective_console_url().unwrap_or("not configured")
            ))
            }
            PolicyMode::LocalOnly if policy.is_empty() => state.warn(
                "no tool is mapped: every tools/call is denied with tool_unmapped. Map tools in \
                 AUTHSEC_TOOL_SCOPES_JSON or [tool_scopes] ([] for a public tool)",
            ),
            PolicyMode::LocalOnly => state,
        });

        let Some(tool) = tool else {
            findings.push(
                Finding::new("scope", Value::Null, json!(granted.join(" ")))
                    .not_checked("no --tool given: pass --tool NAME to check the tool's policy"),
            );
            return;
        };
        if mode == PolicyMode::Open {
            findings.push(
                Finding::new("tool", Value::Null, json!(tool))
                    .not_checked("policy_mode is open: tools are not checked"),
            );
            findings.push(
                Finding::new("scope", Value::Null, json!(granted.join(" ")))
                    .not_checked("policy_mode is open: scopes are not checked"),
            );
            return;
        }
        let Some(rule) = policy.get(tool) else {
            let err = AuthError::ToolUnmapped {
                tool: tool.to_owned(),
            };
            let hint = unmapped_hint(tool, &names);
            findings.push(Finding::new("tool", json!(names), json!(tool)).fail(err, hint));
            findings.push(
                Finding::new("scope", Value::Null, json!(granted.join(" ")))
                    .not_checked("not checked: the tool has no policy entry"),
            );
            return;
        };
        findings.push(Finding::new("tool", json!(names), json!(tool)));
        let expected = match rule {
            ToolRule::Public => json!("nothing (public tool)"),
            ToolRule::Scoped {
                scopes,
                scope_match: ScopeMatch::Any,
            } if scopes.len() > 1 => json!(format!("any of: {}", scopes.join(" "))),
            ToolRule::Scoped {
                scopes,
                scope_match: ScopeMatch::All,
            } if scopes.len() > 1 => json!(format!("all of: {}", scopes.join(" "))),
            ToolRule::Scoped { scopes, .. } => json!(scopes.join(" ")),
        };
        let f = Finding::new("scope", expected, json!(granted.join(" ")));
        if rule.is_satisfied_by(granted) {
            findings.push(f);
            return;
        }
        let ToolRule::Scoped {
            scopes: required,
            scope_match,
        } = rule
        else {
            findings.push(f);
            return;
        };
        let err = AuthError::InsufficientScope {
            tool: tool.to_owned(),
            required: required.clone(),
            scope_match: *scope_match,
            granted: granted.clone(),
        };
        findings.push(f.fail(err, scope_hint(tool, required, *scope_match, granted)));
    }
}

fn describe_opt(v: Option<&str>) -> String {
    match v {
        Some(s) => format!("{s:?}"),
        None => "absent".into(),
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "no keys with a kid".into()
    } else {
        format!("kids {}", items.join(", "))
    }
}

fn looks_like_id_token(claims: &Claims) -> bool {
    claims.raw.contains_key("nonce") || claims.raw.contains_key("at_hash")
}

fn malformed_hint(err: &AuthError, token: &str) -> String {
    match err {
        AuthError::Malformed(Malformed::Segments(1)) => format!(
            "this is not a JWT ({} characters, no dots): probably an opaque access token. \
             Opaque tokens can only be checked by introspection (AUTHSEC_INTROSPECTION_URL); \
             or configure the authorization server to issue JWT access tokens",
            token.len()
        ),
        AuthError::Malformed(Malformed::Jwe) => "this is an encrypted JWT (JWE, 5 parts); authsec \
             verifies signed access tokens only. Configure the authorization server to issue \
             signed (JWS) access tokens for this resource, or use introspection"
            .into(),
        AuthError::Malformed(Malformed::JsonSerialization) => "JWS JSON serialization is not a \
             bearer token; send the compact form header.payload.signature"
            .into(),
        AuthError::Malformed(Malformed::Duplicate { .. }) => "duplicate JSON members make the \
             token ambiguous (RFC 7515 §5.2); whatever produced it is broken or hostile"
            .into(),
        _ => "the token is damaged: check that it was copied whole (no line breaks, no quotes, \
              no 'Bearer ' prefix twice) and that it is the access token, not a refresh token"
            .into(),
    }
}

fn alg_hint(alg: &str) -> String {
    if alg.eq_ignore_ascii_case("none") {
        return "the token is unsigned (alg none) and can never be accepted; it must be signed by \
                the authorization server"
            .into();
    }
    if alg.to_ascii_uppercase().starts_with("HS") {
        return format!(
            "{alg} is a shared-secret (HMAC) signature, never accepted for access tokens a \
             resource server verifies; configure the authorization server to sign with an \
             asymmetric key published in its JWKS (RS256, ES256, EdDSA)"
        );
    }
    if let Some(a) = Algorithm::ALL
        .iter()
        .find(|a| a.name().eq_ignore_ascii_case(alg))
    {
        return format!(
            "alg values are case-sensitive (RFC 7515): {alg:?} is not {:?}",
            a.name()
        );
    }
    format!(
        "{alg:?} is not a supported signature algorithm; configure the authorization server to \
         sign with one of RS256…RS512, PS256…PS512, ES256, ES384, EdDSA"
    )
}

/// Which side of a pair has a trailing slash the other lacks, if that is the only difference.
fn trailing_slash(configured: &str, token: &str) -> Option<&'static str> {
    if configured.trim_end_matches('/') != token.trim_end_matches('/') {
        return None;
    }
    match (configured.ends_with('/'), token.ends_with('/')) {
        (false, true) => Some("token"),
        (true, false) => Some("configuration"),
        _ => None,
    }
}

fn host_of(u: &str) -> Option<String> {
    url::Url::parse(u).ok()?.host_str().map(str::to_owned)
}

fn issuer_hint(configured: &str, iss: Option<&str>, meta: Option<&IssuerMetadata>) -> String {
    let Some(iss) = iss else {
        return "the token has no iss; configure the authorization server to issue RFC 9068 \
                access tokens (which carry iss), or validate opaque tokens by introspection"
            .into();
    };
    let mut hint = match trailing_slash(configured, iss) {
        Some("token") => format!(
            "Trailing slash: the token's iss {iss:?} ends with '/', the configured issuer \
             {configured:?} does not. Issuers are compared byte for byte; set AUTHSEC_ISSUER to \
             exactly what the authorization server puts in iss"
        ),
        Some(_) => format!(
            "Trailing slash: the configured issuer {configured:?} ends with '/', the token's iss \
             {iss:?} does not (Hydra, for one, issues no trailing slash). Set AUTHSEC_ISSUER to \
             exactly {iss:?}"
        ),
        None if configured.eq_ignore_ascii_case(iss) => format!(
            "iss differs from the configured issuer only in letter case; issuers are compared \
             byte for byte: set AUTHSEC_ISSUER to exactly {iss:?}"
        ),
        None if host_of(configured) != host_of(iss) => format!(
            "the token was issued by {iss:?} but this server trusts {configured:?}. If the \
             authorization server moved (e.g. from {} to {}), tokens from the old URL are still \
             in circulation: the client must re-authorize. If the configuration is what is \
             wrong, align AUTHSEC_ISSUER with what the authorization server publishes",
            host_of(iss).unwrap_or_else(|| iss.to_owned()),
            host_of(configured).unwrap_or_else(|| configured.to_owned())
        ),
        None => format!(
            "the token was issued by {iss:?} but this server trusts {configured:?} (same host, \
             different path: another tenant or realm?). Align AUTHSEC_ISSUER with what the \
             authorization server puts in iss"
        ),
    };
    match meta {
        Some(IssuerMetadata::Published { url, issuer }) if issuer == iss => {
            hint.push_str(&format!(
                ". The authorization server's metadata ({url}) says issuer is {issuer:?} — the \
             token's value: the configuration is wrong; set AUTHSEC_ISSUER={issuer}"
            ))
        }
        Some(IssuerMetadata::Published { url, issuer }) if issuer == configured => {
            hint.push_str(&format!(
                ". The authorization server's metadata ({url}) says issuer is {issuer:?}, as \
                 configured: the token comes from elsewhere (an old or moved issuer, or another \
                 environment). Re-authorize against {issuer}"
            ))
        }
        Some(IssuerMetadata::Published { url, issuer }) => hint.push_str(&format!(
            ". The metadata at {url} says issuer is {issuer:?}, which matches neither: fix \
             AUTHSEC_ISSUER first, then re-authorize"
        )),
        Some(IssuerMetadata::Unreachable { detail }) => hint.push_str(&format!(
            ". The configured issuer's metadata could not be fetched ({detail})"
        )),
        None => hint.push_str(&format!(
            ". Run with --online to see what the issuer's metadata says ({})",
            keys::metadata_urls(configured).join(" or ")
        )),
    }
    hint
}

fn audience_hint(resource: &str, claims: &Claims) -> String {
    let Some(aud) = claims.aud.as_deref().filter(|a| !a.is_empty()) else {
        return format!(
            "the token has no aud: the authorization server did not bind it to a resource. \
             Configure it to set aud from the resource the client is accessing, and have the \
             client pass resource={resource} (RFC 8707; some servers call it audience) on the \
             authorization and token requests"
        );
    };
    let array = match claims.raw.get("aud") {
        Some(Value::Array(items)) => Some(items.len()),
        _ => None,
    };
    let mut notes = Vec::new();
    for a in aud {
        if let Some(side) = trailing_slash(resource, a) {
            notes.push(if side == "token" {
                format!(
                    "Trailing slash: the token's aud {a:?} ends with '/', the configured resource \
                     {resource:?} does not. Pick one form and use it everywhere — authorization \
                     server, AUTHSEC_RESOURCE_URI, the public URL: the slash matters"
                )
            } else {
                format!(
                    "Trailing slash: the configured resource {resource:?} ends with '/', the \
                     token's aud {a:?} does not. Pick one form and use it everywhere — \
                     authorization server, AUTHSEC_RESOURCE_URI, the public URL: the slash matters"
                )
            });
        } else if claims.client_id.as_deref() == Some(a.as_str())
            || (url::Url::parse(a).is_err() && !a.contains('/'))
        {
            notes.push(format!(
                "aud {a:?} is an OAuth client id, not a resource (Hydra's long-time default): aud \
                 is then per client, so two clients of this server get different values. Enable \
                 the authorization server's audience configuration so tokens carry \
                 aud={resource} (client passes resource={resource}, RFC 8707). Stopgap, not \
                 recommended long-term: AUTHSEC_LEGACY_CLIENT_ID_AUDIENCES={a}"
            ));
        } else if a.eq_ignore_ascii_case(resource) {
            notes.push(format!(
                "aud {a:?} differs from {resource:?} only in letter case; audiences are compared \
                 byte for byte"
            ));
        }
    }
    let mut hint = match array {
        Some(n) => format!(
            "aud is an array of {n}; one entry must equal {resource:?} byte for byte and none \
             does"
        ),
        None if !notes.is_empty() => return notes.join(". "),
        None => format!("aud {:?} is not {resource:?}", aud[0]),
    };
    if notes.is_empty() {
        hint.push_str(
            ": the token was issued for another resource. Have the client request it with \
             resource=",
        );
        hint.push_str(resource);
        hint.push_str(" (RFC 8707), or fix AUTHSEC_RESOURCE_URI if that is what differs");
    } else {
        hint.push_str(". ");
        hint.push_str(&notes.join(". "));
    }
    hint
}

fn unmapped_hint(tool: &str, names: &[&str]) -> String {
    let mut hint = format!(
        "tool {tool:?} has no policy entry, so it is denied to everyone (403 tool_unmapped)"
    );
    if let Some(same) = names.iter().find(|n| n.eq_ignore_ascii_case(tool)) {
        hint.push_str(&format!(
            ". {same:?} is mapped: the names differ only in letter case (tool names are exact)."
        ));
    } else if let Some((best, d)) = closest(tool, names.iter().copied()) {
        if d <= 3.max(tool.len() / 3) {
            hint.push_str(&format!(". Did you mean {best:?}?"));
        }
    }
    if !hint.ends_with('?') && !hint.ends_with('.') {
        hint.push('.');
    }
    hint.push_str(
        " Map it in AUTHSEC_TOOL_SCOPES_JSON or [tool_scopes] ([] for public), or in the \
         console's Tools tab: the mapping may have changed since the test was set up",
    );
    hint
}

fn scope_hint(tool: &str, required: &[String], mode: ScopeMatch, granted: &[String]) -> String {
    let missing: Vec<&String> = required.iter().filter(|r| !granted.contains(r)).collect();
    let mut notes = Vec::new();
    for r in &missing {
        let Some((best, d)) = closest(r, granted.iter().map(String::as_str)) else {
            continue;
        };
        if best.eq_ignore_ascii_case(r) {
            notes.push(format!(
                "Granted {best:?} differs from required {r:?} only in letter case: scopes are \
                 case-sensitive"
            ));
        } else if let (Some((rn, rr)), Some((gn, gr))) = (r.split_once(':'), best.split_once(':')) {
            if rr == gr && rn != gn {
                notes.push(format!(
                    "Granted {best:?} has the right name in another namespace ({gn:?}, required \
                     {rn:?})"
                ));
            } else if rn == gn && d <= 2 {
                notes.push(format!(
                    "Granted {best:?} is close to required {r:?}: a typo?"
                ));
            } else if rn == gn {
                notes.push(format!(
                    "The closest granted scope is {best:?}; the tool needs {r:?}"
                ));
            }
        } else if d <= 2 {
            notes.push(format!(
                "Granted {best:?} is close to required {r:?}: a typo?"
            ));
        }
    }
    let need = match (mode, required.len()) {
        (_, 1) => required[0].clone(),
        (ScopeMatch::Any, _) => format!("any of {}", required.join(" ")),
        (ScopeMatch::All, _) => format!(
            "all of {} (missing {})",
            required.join(" "),
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    };
    let mut hint = format!(
        "tool {tool:?} needs {need}; the token grants {}",
        if granted.is_empty() {
            "no scopes".to_owned()
        } else {
            granted.join(" ")
        }
    );
    for n in notes {
        hint.push_str(". ");
        hint.push_str(&n);
    }
    hint.push_str(
        ". If the scope was requested, the user may have consented to a subset — the token's \
         scope claim is the truth; the client should step up by re-authorizing with the scope \
         the 403 challenge names. If the mapping is wrong, fix the tool policy",
    );
    hint
}

/// The closest candidate by edit distance, with its distance.
fn closest<'c>(
    target: &str,
    candidates: impl Iterator<Item = &'c str>,
) -> Option<(&'c str, usize)> {
    candidates
        .map(|c| (c, edit_distance(target, c)))
        .min_by_key(|(_, d)| *d)
}

/// Levenshtein distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// `2026-11-26 03:27:30 UTC`.
pub fn format_utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A compact duration: `45s`, `3m12s`, `59m`, `2h5m`, `3d4h`.
pub fn human_duration(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let mut out = String::new();
    let parts = [(d, "d"), (h, "h"), (m, "m"), (sec, "s")];
    let first = parts.iter().position(|(v, _)| *v > 0);
    match first {
        None => out.push_str("0s"),
        Some(i) => {
            for (v, unit) in parts.iter().skip(i).take(2) {
                if *v > 0 {
                    out.push_str(&format!("{v}{unit}"));
                }
            }
        }
    }
    out
}

/// `in 59m`, `3m12s ago`, `now`.
pub fn relative(t: i64, now: i64) -> String {
    match t - now {
        0 => "now".into(),
        d if d > 0 => format!("in {}", human_duration(d)),
        d => format!("{} ago", human_duration(-d)),
    }
}

fn at(t: i64) -> String {
    format_utc(t)
}

fn describe_time(t: i64, now: i64) -> String {
    format!("{}, {}", format_utc(t), relative(t, now))
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

    #[test]
    fn utc_formatting_handles_epoch_and_leap_years() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(1_730_000_000), "2024-10-27 03:33:20 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn durations_show_the_two_largest_units() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(192), "3m12s");
        assert_eq!(human_duration(3540), "59m");
        assert_eq!(human_duration(3600 + 5 * 60 + 7), "1h5m");
        assert_eq!(human_duration(86_400 * 3 + 3600 * 4), "3d4h");
        assert_eq!(relative(100, 292), "3m12s ago");
        assert_eq!(relative(3640, 100), "in 59m");
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("tools:write", "tools:Write"), 1);
        assert_eq!(edit_distance("add_note", "add_notes"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }

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

    #[test]
    fn trailing_slash_names_the_side_that_has_it() {
        assert_eq!(
            trailing_slash("https://a/mcp", "https://a/mcp/"),
            Some("token")
        );
        assert_eq!(
            trailing_slash("https://a/mcp/", "https://a/mcp"),
            Some("configuration")
        );
        assert_eq!(trailing_slash("https://a/mcp", "https://b/mcp/"), None);
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
            Some("list_notes"),
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
            Some("list_notes"),
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
            Some("list_notes"),
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

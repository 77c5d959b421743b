//! The prose of [`diagnose`](super::diagnose): how to fix each failure, what to look at for
//! each warning, why a check did not run.
//!
//! Every function takes the facts it talks about and returns a sentence or two; none decides
//! anything (the checks did). Wording names the setting to change (`AUTHSEC_*`) and the party
//! that must change it (the authorization server, the client, this server's configuration).
//! How a caller gathers missing evidence (a command-line flag, a console button) is the
//! caller's to say: a hint says only what is missing.

use serde_json::Value;

use crate::config::TypPolicy;
use crate::error::{AuthError, Malformed, ScopeMatch};
use crate::keys::{self, Algorithm};
use crate::policy::{edit_distance, Target, TargetKind};
use crate::token::Claims;

use super::{ClockSkew, IssuerMetadata};

// --- size, mode, format ------------------------------------------------------------------

pub(super) const TOO_LARGE: &str = "the SDK refuses tokens above max_token_bytes unparsed; raise \
     AUTHSEC_MAX_TOKEN_BYTES only if your authorization server really issues tokens this large";

pub(super) fn mode_unavailable(mode: &str) -> String {
    format!(
        "validation mode {mode} needs an introspection endpoint and none is configured: the SDK \
         answers every request 503. Set AUTHSEC_INTROSPECTION_URL and its client credentials, or \
         AUTHSEC_VALIDATION_MODE=jwt_only"
    )
}

pub(super) fn malformed(err: &AuthError, token: &str) -> String {
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

// --- header ------------------------------------------------------------------------------

pub(super) fn alg(alg: &str) -> String {
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

pub(super) const CRIT: &str = "the token marks header extensions as critical (crit), and authsec \
     understands none (RFC 7515 §4.1.11); configure the authorization server not to add crit";

pub(super) const CTY: &str = "nested JWTs (cty: JWT) are never unwrapped; the authorization \
     server must issue a plain signed access token";

pub(super) fn typ(policy: TypPolicy, typ: Option<&str>, claims: Option<&Claims>) -> String {
    let mut hint = match policy {
        TypPolicy::Rfc9068 => format!(
            "typ_policy is rfc9068, which accepts only at+jwt; configure the authorization \
             server to issue RFC 9068 access tokens, or set AUTHSEC_TYP_POLICY=lenient \
             (currently {})",
            describe_opt(typ)
        ),
        TypPolicy::Lenient => format!(
            "typ {} is not an access-token type; send an access token (at+jwt)",
            describe_opt(typ)
        ),
    };
    if claims.is_some_and(looks_like_id_token) {
        hint.push_str(
            ". This looks like an OpenID Connect ID token (it has nonce/at_hash): send the \
             access token instead",
        );
    }
    hint
}

fn looks_like_id_token(claims: &Claims) -> bool {
    claims.raw.contains_key("nonce") || claims.raw.contains_key("at_hash")
}

// --- key and signature -------------------------------------------------------------------

pub(super) const KEY_OFFLINE: &str =
    "not checked (offline): no keys were given to look the key up in";

pub(super) const SIGNATURE_OFFLINE: &str =
    "not checked (offline): no keys were given; the verdict assumes the signature verifies";

pub(super) fn keys_unavailable(source: &str, error: &str) -> String {
    format!(
        "keys could not be loaded from {source}: {error}. While the SDK cannot load keys it \
         answers 503 validation_unavailable"
    )
}

pub(super) const NO_KEYS: &str = "not checked: no keys";

pub(super) const ALG_NOT_ALLOWED: &str = "not checked: the alg is not allowed";

pub(super) const NO_KEY_FOR_TOKEN: &str = "not checked: no key for this token";

pub(super) fn unknown_key(kid: Option<&str>, alg: &str, source: &str, kids: &[String]) -> String {
    match kid {
        Some(k) => format!(
            "no key with kid {k:?} in {source} (it has {}). The token was signed by a key this \
             server does not trust: issued by another authorization server or environment, or \
             the keys were rotated after this JWKS was fetched",
            list_or_none(kids)
        ),
        None => format!(
            "the token has no kid and {source} does not hold exactly one key for {alg}; \
             configure the authorization server to put kid in the header"
        ),
    }
}

pub(super) fn key_alg_mismatch(pinned_to: &str, alg: &str) -> String {
    format!(
        "the key is pinned to {pinned_to} but the token says alg {alg}: a key is never used with \
         another algorithm (alg confusion); the token was not signed by this key"
    )
}

pub(super) const BAD_SIGNATURE: &str = "the signature does not verify with the published key: the \
     token was altered, or signed by a different key that reuses this kid";

// --- claims ------------------------------------------------------------------------------

pub(super) const ANSWER_WITHOUT_ISS: &str = "the introspection answer has no iss; the SDK \
     accepts that, since the configured endpoint vouches for its own tokens";

pub(super) fn issuer_metadata_differs(
    url: &str,
    published: &str,
    configured: &str,
    discovers_keys: bool,
) -> String {
    if discovers_keys {
        format!(
            "{url} says issuer is {published:?}, not {configured:?}: the SDK discovers keys from \
             that metadata and refuses to start while they differ. Set AUTHSEC_ISSUER to exactly \
             what the authorization server publishes"
        )
    } else {
        format!(
            "{url} says issuer is {published:?}, not {configured:?}; tokens carry the configured \
             value today, but the two should agree"
        )
    }
}

pub(super) fn issuer(configured: &str, iss: Option<&str>, meta: Option<&IssuerMetadata>) -> String {
    let Some(iss) = iss else {
        return "the token has no iss; configure the authorization server to issue RFC 9068 \
                access tokens (which carry iss), or validate opaque tokens by introspection"
            .into();
    };
    let mut hint = match trailing_slash(configured, iss) {
        Some(Side::Token) => format!(
            "Trailing slash: the token's iss {iss:?} ends with '/', the configured issuer \
             {configured:?} does not. Issuers are compared byte for byte; set AUTHSEC_ISSUER to \
             exactly what the authorization server puts in iss"
        ),
        Some(Side::Configuration) => format!(
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
            ". The issuer's metadata ({}) was not fetched; it says which issuer is right",
            keys::metadata_urls(configured).join(" or ")
        )),
    }
    hint
}

pub(super) fn audience_via_legacy_client_id(resource: &str, aud: &[String]) -> String {
    format!(
        "accepted only through legacy_client_id_audiences ({}): aud is a client id, not this \
         resource, which weakens confused-deputy protection. Not recommended long-term: \
         configure the authorization server to set aud={resource}",
        aud.join(", ")
    )
}

pub(super) const ANSWER_WITHOUT_AUD: &str = "the introspection answer has no aud; accepted \
     because introspection_require_aud is false, so nothing binds the token to this resource";

pub(super) fn audience(resource: &str, claims: &Claims) -> String {
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
            notes.push(match side {
                Side::Token => format!(
                    "Trailing slash: the token's aud {a:?} ends with '/', the configured resource \
                     {resource:?} does not. Pick one form and use it everywhere — authorization \
                     server, AUTHSEC_RESOURCE_URI, the public URL: the slash matters"
                ),
                Side::Configuration => format!(
                    "Trailing slash: the configured resource {resource:?} ends with '/', the \
                     token's aud {a:?} does not. Pick one form and use it everywhere — \
                     authorization server, AUTHSEC_RESOURCE_URI, the public URL: the slash matters"
                ),
            });
        } else if claims.client_id.as_deref() == Some(a.as_str())
            || (!crate::uri::has_scheme(a) && !a.contains('/'))
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

pub(super) const MISSING_EXP: &str = "the token has no exp; the SDK requires one (a token that \
     never expires cannot be contained). Configure the authorization server to set an \
     access-token lifetime";

pub(super) fn exp_near_skew(remaining: i64, ahead: i64) -> String {
    format!(
        "valid for {} more, and this machine is {} ahead of the authorization server: tokens \
         near expiry will be refused early. Use NTP",
        duration(remaining),
        duration(ahead)
    )
}

/// What the facts about the clocks say about an expiry failure.
pub(super) struct Expired<'a> {
    pub exp: i64,
    pub now: i64,
    pub leeway: i64,
    /// The configured clock is fixed or manual: (the system clock, still valid by it).
    pub overridden: Option<(i64, bool)>,
    /// The measured skew, and whether the token is still valid by the server's clock.
    pub skew: Option<(&'a ClockSkew, bool)>,
}

pub(super) fn expired(e: &Expired<'_>) -> String {
    let Expired {
        exp, now, leeway, ..
    } = *e;
    if let Some((system, valid_by_system)) = e.overridden {
        let by_system = if valid_by_system {
            "by the system clock the token is still valid"
        } else {
            "by the system clock it has expired too"
        };
        return format!(
            "the configured clock is overridden (fixed/manual at {now}, {} the system clock's \
             {system}); expiry is judged against it and {by_system}. Remove the override: the \
             clock setting exists for tests",
            offset(now - system)
        );
    }
    let late = now - exp;
    if let Some((s, valid_by_server)) = e.skew {
        if valid_by_server {
            return format!(
                "expired only by this machine's clock: {} measures the authorization server {} \
                 {}, and by its clock the token is still valid. Fix the clock skew (use NTP); \
                 even 60s makes tokens near expiry fail",
                s.source,
                duration(s.server_minus_local_secs.abs()),
                if s.server_minus_local_secs < 0 {
                    "behind this machine"
                } else {
                    "ahead of this machine"
                }
            );
        }
        return format!(
            "expired {} ago (beyond the {leeway}s leeway); the clocks agree within {} ({}), so \
             this is an old token: the client should refresh it. If it does not, the client is \
             buggy or its refresh token expired too — re-authorize",
            duration(late),
            duration(s.server_minus_local_secs.abs()),
            s.source
        );
    }
    format!(
        "expired {} ago (beyond the {leeway}s leeway). Most often the client is sitting on an \
         old token and should refresh it (if it does not, the client is buggy or its refresh \
         token expired too). If the token was just issued, this server's clock is ahead of the \
         authorization server's: use NTP",
        duration(late)
    )
}

pub(super) fn out_of_range(claim: &str) -> String {
    format!("{claim} is out of range")
}

pub(super) fn not_yet_valid(
    claim: &str,
    ahead: i64,
    leeway: i64,
    overridden_at: Option<i64>,
    skew: Option<&ClockSkew>,
) -> String {
    let what = if claim == "nbf" {
        "the token is not valid yet (nbf)"
    } else {
        "the token claims to be issued in the future (iat)"
    };
    let cause = if let Some(now) = overridden_at {
        format!(
            "the configured clock is overridden (fixed/manual at {now}); remove the override: \
             the clock setting exists for tests"
        )
    } else if let Some(s) = skew {
        format!(
            "{} measures the authorization server {} {} this machine; use NTP",
            s.source,
            duration(s.server_minus_local_secs.abs()),
            if s.server_minus_local_secs < 0 {
                "behind"
            } else {
                "ahead of"
            }
        )
    } else {
        "the authorization server's clock is ahead of this server's: use NTP".into()
    };
    format!(
        "{what}: {} from now, beyond the {leeway}s leeway. {cause}",
        duration(ahead)
    )
}

pub(super) const MISSING_SUB: &str = "the token has no sub: the SDK accepts it, but \
     Principal::subject() is None and handlers or sessions that key on the user get nothing";

pub(super) fn clock_overridden(now: i64, system: i64) -> String {
    format!(
        "the configuration's clock is overridden (it says {now}, {} the system clock's {system}); \
         every exp/nbf/iat is judged against it. Remove the override outside tests",
        offset(now - system)
    )
}

pub(super) fn clock_skew(skew: &ClockSkew) -> String {
    format!(
        "this machine and the authorization server disagree by {}: tokens near expiry (or just \
         issued) fail. Use NTP on both. Measured from this machine — run diagnose on the MCP \
         server's host to measure its clock",
        duration(skew.server_minus_local_secs.abs())
    )
}

pub(super) fn token_use(value: &str) -> String {
    format!(
        "the introspection endpoint says this is a {value:?} token, not an access token: send \
         the access token"
    )
}

// --- introspection -----------------------------------------------------------------------

pub(super) const NOT_ASKED: &str = "not asked (offline): the authorization server was not asked \
     whether the token is still active (that needs AUTHSEC_INTROSPECTION_URL, _CLIENT_ID and \
     _CLIENT_SECRET)";

pub(super) fn no_answer(detail: &str) -> String {
    format!(
        "the introspection endpoint gave no answer ({detail}); the SDK answers 503 and never \
         lets the request through. Check the endpoint URL, the client credentials and the \
         authorization server's health"
    )
}

pub(super) const INACTIVE: &str = "the authorization server says the token is not active: it was \
     revoked, has expired there, or was never issued by it. Re-authorize to get a new token";

pub(super) const ANSWER_DISAGREES: &str = "the introspection answer disagrees with the JWT \
     (another subject, issuer, audience or lifetime): the SDK refuses the token";

// --- tool policy -------------------------------------------------------------------------

pub(super) const POLICY_OPEN: &str = "policy_mode is open: per-tool checks are off and any valid \
     token may call any tool. Use local_only or a remote mode in production";

pub(super) fn policy_remote(mode: &str, console: &str) -> String {
    format!(
        "policy_mode is {mode}: the live policy comes from the console ({console}) and may \
         differ from the local map checked here. Open the Tools tab there and check what is \
         mapped to this tool now"
    )
}

pub(super) fn nothing_mapped(kind: &str) -> String {
    let (operation, upper) = operation(kind);
    format!(
        "no {kind} is mapped: every {operation} is denied with {kind}_unmapped. Map {kind}s in \
         AUTHSEC_{upper}_SCOPES_JSON or [{kind}_scopes] ([] for a public {kind})"
    )
}

/// The operation deciding a target of `kind`, and the kind in upper case (for its variable).
fn operation(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "prompt" => ("prompts/get", "PROMPT"),
        "resource" => ("resources/read", "RESOURCE"),
        _ => ("tools/call", "TOOL"),
    }
}

pub(super) const NO_TOOL: &str = "no tool, prompt or resource given: the policy was not checked";

pub(super) const TARGETS_OPEN: &str =
    "policy_mode is open: tools, prompts and resources are not checked";

pub(super) const SCOPES_OPEN: &str = "policy_mode is open: scopes are not checked";

pub(super) const UNMAPPED_SCOPE: &str = "not checked: no policy entry maps it";

pub(super) fn unmapped(target: &Target, names: &[&str]) -> String {
    let kind = target.kind.as_str();
    let name = target.name.as_str();
    let mut hint = format!(
        "{kind} {name:?} has no policy entry, so it is denied to everyone (403 {kind}_unmapped)"
    );
    let differ = match target.kind {
        TargetKind::Resource => {
            "the URIs differ only in letter case (URIs are compared byte for byte)".to_owned()
        }
        TargetKind::Tool | TargetKind::Prompt => {
            format!("the names differ only in letter case ({kind} names are exact)")
        }
    };
    if let Some(same) = names.iter().find(|n| n.eq_ignore_ascii_case(name)) {
        hint.push_str(&format!(". {same:?} is mapped: {differ}."));
    } else if let Some((best, d)) = closest(name, names.iter().copied()) {
        if d <= 3.max(name.len() / 3) {
            hint.push_str(&format!(". Did you mean {best:?}?"));
        }
    }
    if !hint.ends_with('?') && !hint.ends_with('.') {
        hint.push('.');
    }
    let (_, upper) = operation(kind);
    let tab = match target.kind {
        TargetKind::Tool => "Tools",
        TargetKind::Prompt => "Prompts",
        TargetKind::Resource => "Resources",
    };
    hint.push_str(&format!(
        " Map it in AUTHSEC_{upper}_SCOPES_JSON or [{kind}_scopes] ([] for public), or in the \
         console's {tab} tab: the mapping may have changed since the test was set up"
    ));
    hint
}

pub(super) fn console_policy(err: &AuthError, kind: &str) -> String {
    format!(
        "{}: the console's policy decides this {kind} and it cannot be used now",
        err.description()
    )
}

pub(super) fn scope(
    target: &Target,
    required: &[String],
    mode: ScopeMatch,
    granted: &[String],
) -> String {
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
                    "The closest granted scope is {best:?}; the {} needs {r:?}",
                    target.kind.as_str()
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
        "{} {:?} needs {need}; the token grants {}",
        target.kind.as_str(),
        target.name,
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
         the 403 challenge names. If the mapping is wrong, fix the policy",
    );
    hint
}

// --- wording helpers ---------------------------------------------------------------------

/// A compact duration, as every hint words one: `45s`, `3m12s`, `59m`, `2h5m`, `3d4h` (the
/// two largest units).
pub fn duration(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let parts = [(d, "d"), (h, "h"), (m, "m"), (sec, "s")];
    let Some(first) = parts.iter().position(|(v, _)| *v > 0) else {
        return "0s".into();
    };
    parts[first..]
        .iter()
        .take(2)
        .filter(|(v, _)| *v > 0)
        .map(|(v, unit)| format!("{v}{unit}"))
        .collect()
}

/// `in 59m`, `3m12s ago`, `now`: instant `t` seen from `now`.
pub fn relative(t: i64, now: i64) -> String {
    match t - now {
        0 => "now".into(),
        d if d > 0 => format!("in {}", duration(d)),
        d => format!("{} ago", duration(-d)),
    }
}

/// `3h ahead of` / `5m behind` / `equal to`.
fn offset(diff: i64) -> String {
    match diff {
        0 => "equal to".into(),
        d if d > 0 => format!("{} ahead of", duration(d)),
        d => format!("{} behind", duration(-d)),
    }
}

pub(super) fn describe_opt(v: Option<&str>) -> String {
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

/// Which side of a pair has the trailing slash the other lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Token,
    Configuration,
}

/// The side with a trailing slash, if that is the only difference.
fn trailing_slash(configured: &str, token: &str) -> Option<Side> {
    if configured.trim_end_matches('/') != token.trim_end_matches('/') {
        return None;
    }
    match (configured.ends_with('/'), token.ends_with('/')) {
        (false, true) => Some(Side::Token),
        (true, false) => Some(Side::Configuration),
        _ => None,
    }
}

fn host_of(u: &str) -> Option<String> {
    crate::uri::host(&crate::uri::parse_absolute(u).ok()?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_show_the_two_largest_units() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(192), "3m12s");
        assert_eq!(duration(3540), "59m");
        assert_eq!(duration(3600 + 5 * 60 + 7), "1h5m");
        assert_eq!(duration(86_400 * 3 + 3600 * 4), "3d4h");
        assert_eq!(relative(100, 292), "3m12s ago");
        assert_eq!(relative(3640, 100), "in 59m");
    }

    #[test]
    fn trailing_slash_names_the_side_that_has_it() {
        assert_eq!(
            trailing_slash("https://a/mcp", "https://a/mcp/"),
            Some(Side::Token)
        );
        assert_eq!(
            trailing_slash("https://a/mcp/", "https://a/mcp"),
            Some(Side::Configuration)
        );
        assert_eq!(trailing_slash("https://a/mcp", "https://b/mcp/"), None);
    }
}

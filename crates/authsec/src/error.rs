//! [`AuthError`]: every reason authsec can deny a request, as data.
//!
//! Each variant names one condition and carries the expected and actual values, so callers
//! can match on it, tests can assert it, and [`crate::diagnose`] can explain it. The mapping
//! to HTTP (status, `WWW-Authenticate`, JSON body) lives in one place: [`crate::challenge`].

use std::fmt;

/// Why a request was denied.
///
/// The variant decides the HTTP status and the OAuth error code; see [`AuthError::status`],
/// [`AuthError::error_code`] and [`AuthError::reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization: Bearer` credentials were sent (RFC 6750 §3.1: no `error` code).
    #[error("no bearer token")]
    NoToken,
    /// The request carries credentials in a way RFC 6750 forbids or cannot be parsed.
    #[error("invalid request: {0}")]
    InvalidRequest(InvalidRequest),
    /// The token is larger than the configured cap; it was not parsed.
    #[error("token is {size} bytes, above the {limit}-byte limit")]
    TokenTooLarge {
        /// Size of the presented token in bytes.
        size: usize,
        /// The configured cap (`max_token_bytes`).
        limit: usize,
    },
    /// The token is not a well-formed compact JWS with well-typed claims.
    #[error("malformed token: {0}")]
    Malformed(Malformed),
    /// The header's `alg` is not one authsec accepts (`none`, symmetric, or unknown).
    #[error("algorithm {alg:?} is not allowed")]
    AlgorithmNotAllowed {
        /// The `alg` header value as sent.
        alg: String,
    },
    /// No key in the JWKS matches the token's `kid`.
    #[error("no key with kid {kid:?} in the JWKS")]
    UnknownKey {
        /// The `kid` header value, if any.
        kid: Option<String>,
    },
    /// The key named by `kid` is pinned to another algorithm or key type.
    #[error("key {kid:?} is a {key} key; the token says alg {token_alg}")]
    KeyAlgorithmMismatch {
        /// The `kid` of the selected key.
        kid: Option<String>,
        /// What the key is pinned to (its JWK `alg`, or its `kty`/`crv`).
        key: String,
        /// The token header's `alg`.
        token_alg: String,
    },
    /// The header lists `crit` extensions authsec does not understand (RFC 7515 §4.1.11).
    #[error("unsupported critical header parameters {names:?}")]
    UnsupportedCritical {
        /// The `crit` entries.
        names: Vec<String>,
    },
    /// The token is a nested JWT (`cty: JWT`), which authsec never unwraps.
    #[error("nested JWTs (cty: JWT) are not accepted")]
    NestedJwt,
    /// The header's `typ` is not allowed by the configured typ policy.
    #[error("typ {actual:?} is not allowed; expected one of {expected:?}")]
    TypNotAllowed {
        /// Accepted values.
        expected: Vec<String>,
        /// The `typ` header value, if any.
        actual: Option<String>,
    },
    /// The signature does not verify with the selected key.
    #[error("bad signature")]
    BadSignature,
    /// `iss` is not the configured issuer, byte for byte.
    #[error("issuer mismatch: expected {expected:?}, got {actual:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The token's `iss`, if present.
        actual: Option<String>,
    },
    /// `aud` does not contain the resource URI, byte for byte.
    #[error("audience mismatch: expected {expected:?}, got {actual:?}")]
    AudienceMismatch {
        /// The configured resource URI (plus any opted-in legacy client ids).
        expected: Vec<String>,
        /// The token's audiences (empty when `aud` is absent).
        actual: Vec<String>,
    },
    /// A claim that must be present is absent.
    #[error("required claim {claim:?} is missing")]
    MissingClaim {
        /// Claim name.
        claim: &'static str,
    },
    /// `exp` is not after the current time, even with the leeway.
    #[error("expired at {exp} (now {now}, leeway {leeway}s)")]
    Expired {
        /// The token's `exp` (Unix seconds).
        exp: i64,
        /// The validator's clock (Unix seconds).
        now: i64,
        /// Allowed clock skew in seconds.
        leeway: i64,
    },
    /// `nbf` or `iat` lies in the future, beyond the leeway.
    #[error("not valid before {value} ({claim}; now {now}, leeway {leeway}s)")]
    NotYetValid {
        /// `"nbf"` or `"iat"`.
        claim: &'static str,
        /// The claim's value (Unix seconds).
        value: i64,
        /// The validator's clock (Unix seconds).
        now: i64,
        /// Allowed clock skew in seconds.
        leeway: i64,
    },
    /// Introspection says the token is not active (revoked, expired or unknown to the AS).
    #[error("token inactive")]
    TokenRevoked,
    /// Introspection and the JWT disagree about who the token belongs to.
    #[error("introspection subject {introspected:?} differs from the JWT subject {jwt:?}")]
    SubjectMismatch {
        /// `sub` in the JWT.
        jwt: Option<String>,
        /// `sub` in the introspection response.
        introspected: Option<String>,
    },
    /// The token is valid but lacks the scopes the tool, prompt or resource requires.
    #[error("{} {:?} requires {required:?}; token grants {granted:?}", target.kind.as_str(), target.name)]
    InsufficientScope {
        /// The tool called, prompt got or resource read.
        target: Target,
        /// The target's required scopes.
        required: Vec<String>,
        /// Whether any one (`Any`) or all (`All`) of `required` are needed.
        scope_match: ScopeMatch,
        /// The scopes the token grants.
        granted: Vec<String>,
    },
    /// The tool, prompt or resource has no policy entry, so it is denied to everyone
    /// (`tool_unmapped`, `prompt_unmapped`, `resource_unmapped`).
    #[error("{} {:?} has no policy entry", target.kind.as_str(), target.name)]
    Unmapped {
        /// What was asked for.
        target: Target,
    },
    /// The policy says nothing may be called (`policy_complete = false`).
    #[error("policy is incomplete ({reason})")]
    PolicyIncomplete {
        /// What was asked for.
        target: Target,
        /// The console's reason, e.g. `rs_needs_setup`.
        reason: String,
    },
    /// An `Mcp-Session-Id` created for one principal was presented by another.
    #[error("session belongs to another principal")]
    SessionPrincipalMismatch,
    /// An `Mcp-Session-Id` this deployment did not issue (or issued under another session
    /// key, e.g. before a restart without `AUTHSEC_SESSION_KEY`): the client must start a new
    /// session.
    #[error("unknown session")]
    SessionUnknown,
    /// The request body is larger than the inspection cap.
    #[error("request body above {limit} bytes")]
    PayloadTooLarge {
        /// The configured cap in bytes.
        limit: usize,
    },
    /// The key or introspection backend failed and nothing valid is cached.
    #[error("token validation unavailable: {detail}")]
    ValidationUnavailable {
        /// What failed (never contains the token).
        detail: String,
    },
    /// The policy backend failed and nothing fresh enough is cached.
    #[error("policy unavailable: {detail}")]
    PolicyUnavailable {
        /// What failed.
        detail: String,
    },
}

/// The ways a request's credentials can violate RFC 6750 §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidRequest {
    /// `access_token` in the URI query (RFC 6750 §2.3 is not supported: tokens leak into logs).
    TokenInQuery,
    /// `access_token` in a form-encoded body (RFC 6750 §2.2 is not supported).
    TokenInBody,
    /// More than one `Authorization` header.
    MultipleAuthorizationHeaders,
    /// `Authorization: Bearer` with no token, bad characters, or extra parts.
    MalformedAuthorizationHeader,
    /// The request body is not valid JSON-RPC.
    MalformedBody,
    /// The `Mcp-Name` header disagrees with the tool named in the body.
    McpNameMismatch,
    /// The `Mcp-Method` header disagrees with the method in the body.
    McpMethodMismatch,
    /// A `GET` or `DELETE` (any method but `POST`) carries a body; MCP messages travel only in
    /// `POST` bodies.
    BodyNotAllowed,
    /// The `Mcp-Session-Id` header is repeated, empty or not visible ASCII.
    MalformedSessionId,
}

impl InvalidRequest {
    /// Stable machine-readable reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::TokenInQuery => "token_in_query",
            Self::TokenInBody => "token_in_body",
            Self::MultipleAuthorizationHeaders => "multiple_authorization_headers",
            Self::MalformedAuthorizationHeader => "malformed_authorization_header",
            Self::MalformedBody => "malformed_body",
            Self::McpNameMismatch => "mcp_name_mismatch",
            Self::McpMethodMismatch => "mcp_method_mismatch",
            Self::BodyNotAllowed => "body_not_allowed",
            Self::MalformedSessionId => "malformed_session_id",
        }
    }
}

impl fmt::Display for InvalidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TokenInQuery => "access token in the query string",
            Self::TokenInBody => "access token in the request body",
            Self::MultipleAuthorizationHeaders => "more than one Authorization header",
            Self::MalformedAuthorizationHeader => "malformed Authorization header",
            Self::MalformedBody => "request body is not valid JSON-RPC",
            Self::McpNameMismatch => "Mcp-Name header does not match the request body",
            Self::McpMethodMismatch => "Mcp-Method header does not match the request body",
            Self::BodyNotAllowed => "only POST requests carry a body",
            Self::MalformedSessionId => "malformed Mcp-Session-Id header",
        })
    }
}

pub use authsec_proto::jws::{Malformed, Part};
pub use authsec_proto::ScopeMatch;

use crate::policy::{Target, TargetKind};

impl From<Malformed> for AuthError {
    fn from(m: Malformed) -> Self {
        AuthError::Malformed(m)
    }
}

impl From<authsec_proto::jws::JwsError> for AuthError {
    fn from(e: authsec_proto::jws::JwsError) -> Self {
        use authsec_proto::jws::JwsError as J;
        match e {
            J::Malformed(m) => m.into(),
            J::AlgorithmNotAllowed { alg } => AuthError::AlgorithmNotAllowed { alg },
            J::UnsupportedCritical { names } => AuthError::UnsupportedCritical { names },
            J::TypNotAllowed { expected, actual } => AuthError::TypNotAllowed { expected, actual },
            J::UnknownKey { kid } => AuthError::UnknownKey { kid },
            J::KeyAlgorithmMismatch {
                kid,
                key,
                token_alg,
            } => AuthError::KeyAlgorithmMismatch {
                kid,
                key,
                token_alg,
            },
            J::BadSignature => AuthError::BadSignature,
        }
    }
}

impl AuthError {
    /// The HTTP status this denial is rendered with.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Self::InvalidRequest(_) => S::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => S::PAYLOAD_TOO_LARGE,
            Self::InsufficientScope { .. }
            | Self::Unmapped { .. }
            | Self::PolicyIncomplete { .. }
            | Self::SessionPrincipalMismatch => S::FORBIDDEN,
            Self::SessionUnknown => S::NOT_FOUND,
            Self::ValidationUnavailable { .. } | Self::PolicyUnavailable { .. } => {
                S::SERVICE_UNAVAILABLE
            }
            _ => S::UNAUTHORIZED,
        }
    }

    /// The OAuth error code of the body's `error` member and the challenge's `error`; none
    /// for [`AuthError::NoToken`] (RFC 6750 §3.1: a request without credentials is told what
    /// to present, not that something failed).
    pub fn error_code(&self) -> Option<&'static str> {
        if *self == Self::NoToken {
            return None;
        }
        Some(match self.status().as_u16() {
            400 | 404 | 413 => "invalid_request",
            403 => "insufficient_scope",
            503 => "temporarily_unavailable",
            _ => "invalid_token",
        })
    }

    /// The tool, prompt or resource a policy denial is about.
    pub fn target(&self) -> Option<&Target> {
        match self {
            Self::InsufficientScope { target, .. }
            | Self::Unmapped { target }
            | Self::PolicyIncomplete { target, .. } => Some(target),
            _ => None,
        }
    }

    /// Stable machine-readable reason, the body's `reason` member.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoToken => "no_token",
            Self::InvalidRequest(r) => r.reason(),
            Self::TokenTooLarge { .. } => "token_too_large",
            Self::Malformed(_) => "malformed_token",
            Self::AlgorithmNotAllowed { .. } => "alg_not_allowed",
            Self::UnknownKey { .. } => "unknown_key",
            Self::KeyAlgorithmMismatch { .. } => "key_alg_mismatch",
            Self::UnsupportedCritical { .. } => "unsupported_crit",
            Self::NestedJwt => "nested_jwt",
            Self::TypNotAllowed { .. } => "invalid_typ",
            Self::BadSignature => "bad_signature",
            Self::IssuerMismatch { .. } => "issuer_mismatch",
            Self::AudienceMismatch { .. } => "audience_mismatch",
            Self::MissingClaim { .. } => "missing_claim",
            Self::Expired { .. } => "token_expired",
            Self::NotYetValid { .. } => "token_not_yet_valid",
            Self::TokenRevoked => "token_revoked",
            Self::SubjectMismatch { .. } => "subject_mismatch",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::Unmapped { target } => match target.kind {
                TargetKind::Tool => "tool_unmapped",
                TargetKind::Prompt => "prompt_unmapped",
                TargetKind::Resource => "resource_unmapped",
            },
            Self::PolicyIncomplete { .. } => "policy_incomplete",
            Self::SessionPrincipalMismatch => "session_principal_mismatch",
            Self::SessionUnknown => "session_unknown",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::ValidationUnavailable { .. } => "validation_unavailable",
            Self::PolicyUnavailable { .. } => "policy_unavailable",
        }
    }

    /// The short human reason for `error_description`. Never contains the token.
    pub fn description(&self) -> String {
        match self {
            Self::NoToken => "no bearer token".into(),
            Self::IssuerMismatch { .. } => "issuer mismatch".into(),
            Self::AudienceMismatch { .. } => "audience mismatch".into(),
            Self::Expired { .. } => "expired".into(),
            Self::NotYetValid { .. } => "not yet valid".into(),
            Self::TokenRevoked => "token inactive".into(),
            Self::MissingClaim { claim } => format!("missing {claim}"),
            Self::UnknownKey { .. } => "unknown signing key".into(),
            Self::BadSignature => "bad signature".into(),
            Self::AlgorithmNotAllowed { .. } => "algorithm not allowed".into(),
            // The three below spell out values rather than their Rust `Debug` forms.
            Self::KeyAlgorithmMismatch {
                kid,
                key,
                token_alg,
            } => format!(
                "key {} is pinned to {key}; the token says alg {token_alg}",
                kid.as_deref().unwrap_or("without kid")
            ),
            Self::UnsupportedCritical { names } => {
                format!(
                    "unsupported critical header parameters: {}",
                    names.join(", ")
                )
            }
            Self::TypNotAllowed { expected, actual } => match actual {
                Some(typ) => format!(
                    "typ {typ} is not allowed; expected {}",
                    expected.join(" or ")
                ),
                None => format!("typ is missing; expected {}", expected.join(" or ")),
            },
            Self::InsufficientScope { target, .. } => format!("{target} requires more scope"),
            Self::Unmapped { target } => format!("{target} is not mapped to any scope"),
            Self::PolicyIncomplete { target, reason } => {
                format!("{target} denied: policy incomplete ({reason})")
            }
            Self::ValidationUnavailable { .. } => "token validation unavailable".into(),
            Self::PolicyUnavailable { .. } => "policy unavailable".into(),
            Self::SessionUnknown => "unknown session: start a new session".into(),
            other => other.to_string(),
        }
    }
}

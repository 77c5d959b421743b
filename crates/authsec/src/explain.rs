//! Client side: a denial (`WWW-Authenticate` and/or JSON body) parsed into a typed
//! [`McpAuthError`], and what the client should do next.
//!
//! The server side renders denials in one place ([`crate::challenge`]); this module reads them
//! back — from authsec or any RFC 6750 resource server — so a client, a log line or a person
//! can tell an expired token (refresh) from a missing scope (step up) from a server that needs
//! fixing.
//!
//! ```
//! use authsec::explain::{parse, ErrorCode, NextStep};
//!
//! let denial = parse(
//!     Some(403),
//!     Some(r#"Bearer error="insufficient_scope", scope="notes:write notes:read", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#),
//!     Some(r#"{"error":"insufficient_scope","reason":"insufficient_scope","tool":"add_note","required_scopes":["notes:write"],"granted_scopes":["notes:read"]}"#),
//! )
//! .unwrap();
//! assert_eq!(denial.error, Some(ErrorCode::InsufficientScope));
//! assert_eq!(denial.tool.as_deref(), Some("add_note"));
//! match denial.next_step() {
//!     NextStep::StepUp { scopes, .. } => assert_eq!(scopes, ["notes:write", "notes:read"]),
//!     other => panic!("{other:?}"),
//! }
//! ```

use std::fmt;

use serde_json::{json, Value};

use crate::error::ScopeMatch;

/// One challenge of a `WWW-Authenticate` header (RFC 9110 §11.6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The auth scheme as sent (`Bearer`, `DPoP`, …); compare ignoring case.
    pub scheme: String,
    /// `name=value` parameters, names lower-cased, quoted values unescaped.
    pub params: Vec<(String, String)>,
    /// A token68 credential-style value instead of parameters, if any.
    pub token68: Option<String>,
}

impl Challenge {
    /// A parameter by name (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a denial could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExplainError {
    /// The `WWW-Authenticate` value does not follow RFC 9110 §11.6.1.
    #[error("WWW-Authenticate is not a valid challenge list: {0}")]
    Header(String),
    /// The body is not a JSON object.
    #[error("the body is not a JSON object: {0}")]
    Body(String),
    /// Nothing to explain: no header and no body.
    #[error("nothing to explain: give a WWW-Authenticate value and/or a JSON body")]
    Empty,
}

/// Parses a `WWW-Authenticate` value into its challenges.
///
/// ```
/// let c = authsec::explain::parse_www_authenticate(r#"Bearer realm="mcp", error="invalid_token", DPoP algs="ES256""#).unwrap();
/// assert_eq!(c.len(), 2);
/// assert_eq!(c[0].param("error"), Some("invalid_token"));
/// assert_eq!(c[1].scheme, "DPoP");
/// ```
pub fn parse_www_authenticate(value: &str) -> Result<Vec<Challenge>, ExplainError> {
    let mut p = Cursor {
        s: value.as_bytes(),
        i: 0,
    };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        p.skip_list_separators();
        if p.done() {
            break;
        }
        let scheme = p
            .token()
            .ok_or_else(|| p.error("expected an auth scheme"))?;
        let mut challenge = Challenge {
            scheme,
            params: Vec::new(),
            token68: None,
        };
        // Spaces after the scheme, then either token68 or #auth-param.
        let had_space = p.skip_spaces();
        if had_space && !p.done() && p.peek() != Some(b',') {
            if let Some(t68) = p.try_token68() {
                challenge.token68 = Some(t68);
            } else {
                loop {
                    let (name, value) = p.auth_param()?;
                    challenge.params.push((name.to_ascii_lowercase(), value));
                    // Another param of this challenge follows a comma, unless a new scheme does.
                    let save = p.i;
                    p.skip_list_separators();
                    if p.done() || !p.at_auth_param() {
                        p.i = save;
                        break;
                    }
                }
            }
        }
        out.push(challenge);
        p.skip_spaces();
        match p.peek() {
            None => break,
            Some(b',') => continue,
            Some(c) => return Err(p.error(&format!("unexpected {:?}", c as char))),
        }
    }
    if out.is_empty() {
        return Err(ExplainError::Header("no challenge".into()));
    }
    Ok(out)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_token68_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-._~+/".contains(&c)
}

impl Cursor<'_> {
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn error(&self, what: &str) -> ExplainError {
        ExplainError::Header(format!("{what} at byte {}", self.i))
    }
    fn skip_spaces(&mut self) -> bool {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i > start
    }
    fn skip_list_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }
    /// True when the input here reads `token BWS "="` followed by a value (not a token68's `=`).
    fn at_auth_param(&self) -> bool {
        let mut j = self.i;
        let start = j;
        while self.s.get(j).copied().is_some_and(is_tchar) {
            j += 1;
        }
        if j == start {
            return false;
        }
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        if self.s.get(j) != Some(&b'=') {
            return false;
        }
        j += 1;
        while matches!(self.s.get(j), Some(b' ' | b'\t')) {
            j += 1;
        }
        matches!(self.s.get(j), Some(c) if *c == b'"' || is_tchar(*c))
    }
    fn try_token68(&mut self) -> Option<String> {
        if self.at_auth_param() {
            return None;
        }
        let start = self.i;
        while self.peek().is_some_and(is_token68_char) {
            self.i += 1;
        }
        while self.peek() == Some(b'=') {
            self.i += 1;
        }
        let end = self.i;
        self.skip_spaces();
        if end > start && matches!(self.peek(), None | Some(b',')) {
            Some(String::from_utf8_lossy(&self.s[start..end]).into_owned())
        } else {
            self.i = start;
            None
        }
    }
    fn auth_param(&mut self) -> Result<(String, String), ExplainError> {
        let name = self
            .token()
            .ok_or_else(|| self.error("expected a parameter name"))?;
        self.skip_spaces();
        if self.peek() != Some(b'=') {
            return Err(self.error(&format!("expected '=' after {name}")));
        }
        self.i += 1;
        self.skip_spaces();
        let value = if self.peek() == Some(b'"') {
            self.quoted()?
        } else {
            self.token()
                .ok_or_else(|| self.error(&format!("expected a value for {name}")))?
        };
        Ok((name, value))
    }
    fn quoted(&mut self) -> Result<String, ExplainError> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated quoted string")),
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = self
                        .peek()
                        .ok_or_else(|| self.error("dangling backslash"))?;
                    out.push(c);
                    self.i += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// An OAuth error code (RFC 6750 §3.1 and RFC 6749 `temporarily_unavailable`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorCode {
    /// `invalid_request`.
    InvalidRequest,
    /// `invalid_token`.
    InvalidToken,
    /// `insufficient_scope`.
    InsufficientScope,
    /// `temporarily_unavailable`.
    TemporarilyUnavailable,
    /// Anything else, as sent.
    Other(String),
}

impl ErrorCode {
    /// Parses a code.
    pub fn parse(s: &str) -> Self {
        match s {
            "invalid_request" => ErrorCode::InvalidRequest,
            "invalid_token" => ErrorCode::InvalidToken,
            "insufficient_scope" => ErrorCode::InsufficientScope,
            "temporarily_unavailable" => ErrorCode::TemporarilyUnavailable,
            other => ErrorCode::Other(other.to_owned()),
        }
    }
    /// The code as sent.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::Other(s) => s,
        }
    }
}

/// A denial as a client sees it: the merged content of the `Bearer` challenge and the body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct McpAuthError {
    /// HTTP status, when known.
    pub status: Option<u16>,
    /// True when the response carried a `Bearer` challenge.
    pub bearer_challenge: bool,
    /// The challenge's `error`, else the body's.
    pub error: Option<ErrorCode>,
    /// The challenge's `error_description`, else the body's.
    pub error_description: Option<String>,
    /// The body's `reason` (authsec), else inferred from a known `error_description`.
    pub reason: Option<String>,
    /// The challenge's `scope`: what to request (step-up on 403, initial scope on 401).
    pub scope: Vec<String>,
    /// The challenge's `resource_metadata` (RFC 9728): where to discover the authorization server.
    pub resource_metadata: Option<String>,
    /// The challenge's `realm`.
    pub realm: Option<String>,
    /// The tool that was denied (body).
    pub tool: Option<String>,
    /// The prompt that was denied (body).
    pub prompt: Option<String>,
    /// The resource (URI) that was denied (body).
    pub resource: Option<String>,
    /// Scopes the tool requires (body).
    pub required_scopes: Vec<String>,
    /// Scopes the token grants (body).
    pub granted_scopes: Vec<String>,
    /// `all` when every required scope is needed (body); absent means any one.
    pub scope_match: Option<ScopeMatch>,
}

/// Reads a denial from any of: the status, the `WWW-Authenticate` value, the JSON body.
pub fn parse(
    status: Option<u16>,
    www_authenticate: Option<&str>,
    body: Option<&str>,
) -> Result<McpAuthError, ExplainError> {
    let www_authenticate = www_authenticate.filter(|s| !s.trim().is_empty());
    let body = body.filter(|s| !s.trim().is_empty());
    if www_authenticate.is_none() && body.is_none() && status.is_none() {
        return Err(ExplainError::Empty);
    }
    let mut e = McpAuthError {
        status,
        ..McpAuthError::default()
    };
    if let Some(h) = www_authenticate {
        let challenges = parse_www_authenticate(h)?;
        if let Some(b) = challenges
            .iter()
            .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
        {
            e.bearer_challenge = true;
            e.error = b.param("error").map(ErrorCode::parse);
            e.error_description = b.param("error_description").map(str::to_owned);
            e.scope = split_scope(b.param("scope"));
            e.resource_metadata = b.param("resource_metadata").map(str::to_owned);
            e.realm = b.param("realm").map(str::to_owned);
        }
    }
    if let Some(text) = body {
        let v: Value =
            serde_json::from_str(text).map_err(|err| ExplainError::Body(err.to_string()))?;
        let Value::Object(obj) = v else {
            return Err(ExplainError::Body("not an object".into()));
        };
        let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
        let list = |k: &str| -> Vec<String> {
            match obj.get(k) {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
                Some(Value::String(s)) => split_scope(Some(s)),
                _ => Vec::new(),
            }
        };
        if e.error.is_none() {
            e.error = s("error").map(|c| ErrorCode::parse(&c));
        }
        if e.error_description.is_none() {
            e.error_description = s("error_description");
        }
        e.reason = s("reason");
        e.tool = s("tool");
        e.prompt = s("prompt");
        e.resource = s("resource");
        e.required_scopes = list("required_scopes");
        e.granted_scopes = list("granted_scopes");
        e.scope_match = match s("scope_match").as_deref() {
            Some("all") => Some(ScopeMatch::All),
            Some("any") => Some(ScopeMatch::Any),
            _ => None,
        };
    }
    if e.reason.is_none() {
        e.reason = infer_reason(&e).map(str::to_owned);
    }
    Ok(e)
}

fn split_scope(s: Option<&str>) -> Vec<String> {
    s.unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// authsec's fixed `error_description`s and a challenge without `error` mean one reason each.
fn infer_reason(e: &McpAuthError) -> Option<&'static str> {
    if e.bearer_challenge && e.error.is_none() && e.status.is_none_or(|s| s == 401) {
        return Some("no_token");
    }
    let d = e.error_description.as_deref()?;
    if let Some(r) = d.strip_prefix("invalid request: ") {
        return Some(match r {
            "access token in the query string" => "token_in_query",
            "access token in the request body" => "token_in_body",
            "more than one Authorization header" => "multiple_authorization_headers",
            "malformed Authorization header" => "malformed_authorization_header",
            "request body is not valid JSON-RPC" => "malformed_body",
            "Mcp-Name header does not match the request body" => "mcp_name_mismatch",
            "Mcp-Method header does not match the request body" => "mcp_method_mismatch",
            "only POST requests carry a body" => "body_not_allowed",
            "malformed Mcp-Session-Id header" => "malformed_session_id",
            _ => return None,
        });
    }
    Some(match d {
        "no bearer token" => "no_token",
        "issuer mismatch" => "issuer_mismatch",
        "audience mismatch" => "audience_mismatch",
        "expired" => "token_expired",
        "not yet valid" => "token_not_yet_valid",
        "token inactive" => "token_revoked",
        "unknown signing key" => "unknown_key",
        "bad signature" => "bad_signature",
        "algorithm not allowed" => "alg_not_allowed",
        "token validation unavailable" => "validation_unavailable",
        "policy unavailable" => "policy_unavailable",
        "unknown session: start a new session" => "session_unknown",
        "nested JWTs (cty: JWT) are not accepted" => "nested_jwt",
        d if d.starts_with("missing ") => "missing_claim",
        d if d.starts_with("token is ") && d.ends_with("-byte limit") => "token_too_large",
        d if d.starts_with("key ")
            && d.contains(" is pinned to ")
            && d.contains("; the token says alg ") =>
        {
            "key_alg_mismatch"
        }
        d if d.starts_with("unsupported critical header parameters") => "unsupported_crit",
        d if d.starts_with("typ is missing; expected ")
            || (d.starts_with("typ ") && d.contains(" is not allowed; expected ")) =>
        {
            "invalid_typ"
        }
        d if d.starts_with("introspection subject ") => "subject_mismatch",
        // Other servers that (against RFC 6750 §3.1) send invalid_token for a missing token,
        // e.g. the TypeScript MCP SDK's "Missing Authorization header".
        d if d.to_ascii_lowercase().contains("missing authorization") => "no_token",
        d if d.starts_with("malformed token") => "malformed_token",
        d => match target_described(d) {
            Some((_, rest)) if rest.ends_with(" requires more scope") => "insufficient_scope",
            Some((kind, rest)) if rest.ends_with(" is not mapped to any scope") => match kind {
                "tool" => "tool_unmapped",
                "prompt" => "prompt_unmapped",
                _ => "resource_unmapped",
            },
            Some((_, rest)) if rest.contains(" denied: policy incomplete") => "policy_incomplete",
            _ => return None,
        },
    })
}

/// A description about a tool, prompt or resource (`tool add_note requires more scope`): the
/// kind and the rest.
fn target_described(d: &str) -> Option<(&'static str, &str)> {
    ["tool", "prompt", "resource"].into_iter().find_map(|kind| {
        d.strip_prefix(kind)
            .and_then(|r| r.strip_prefix(' '))
            .map(|rest| (kind, rest))
    })
}

/// What the client (or, failing that, the server's operator) should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// No token was sent: discover the authorization server from `resource_metadata` and
    /// authorize, requesting `scopes` (all of `scopes_supported` when empty).
    Authorize {
        /// The challenge's scope.
        scopes: Vec<String>,
        /// Where to start discovery.
        resource_metadata: Option<String>,
    },
    /// The token lacks scope: re-authorize requesting exactly `scopes` (step-up).
    StepUp {
        /// The challenge's scope (required, plus granted unless the server says otherwise).
        scopes: Vec<String>,
        /// Where to start discovery.
        resource_metadata: Option<String>,
    },
    /// The token expired: use the refresh token; if that fails, authorize again.
    Refresh,
    /// The token can never work here (wrong issuer/audience, revoked, bad signature): get a
    /// new one.
    Reauthorize {
        /// Why, and what to pass.
        why: String,
    },
    /// Fix the request itself (400).
    FixRequest {
        /// What is wrong.
        what: String,
    },
    /// Nothing the client can do: the server's configuration or policy must change.
    FixServer {
        /// What to change.
        what: String,
    },
    /// Clocks disagree: the token's validity starts in the future.
    FixClock,
    /// The server could not decide now; retry with backoff.
    RetryLater,
    /// The session belongs to another principal: start a new session.
    NewSession,
    /// Not enough information.
    Unknown,
}

impl NextStep {
    /// A machine-readable name: `authorize`, `step_up`, `refresh`, ….
    pub fn action(&self) -> &'static str {
        match self {
            NextStep::Authorize { .. } => "authorize",
            NextStep::StepUp { .. } => "step_up",
            NextStep::Refresh => "refresh",
            NextStep::Reauthorize { .. } => "reauthorize",
            NextStep::FixRequest { .. } => "fix_request",
            NextStep::FixServer { .. } => "fix_server",
            NextStep::FixClock => "fix_clock",
            NextStep::RetryLater => "retry_later",
            NextStep::NewSession => "new_session",
            NextStep::Unknown => "unknown",
        }
    }
}

impl fmt::Display for NextStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NextStep::Authorize {
                scopes,
                resource_metadata,
            } => {
                write!(f, "authorize: fetch ")?;
                match resource_metadata {
                    Some(rm) => write!(f, "{rm}")?,
                    None => write!(f, "the protected resource metadata (RFC 9728)")?,
                }
                write!(
                    f,
                    ", discover its authorization server, and run the authorization code flow \
                     with PKCE and resource=<the resource> (RFC 8707), requesting "
                )?;
                if scopes.is_empty() {
                    write!(f, "the metadata's scopes_supported")
                } else {
                    write!(f, "scope=\"{}\"", scopes.join(" "))
                }
            }
            NextStep::StepUp { scopes, .. } => write!(
                f,
                "step up: re-authorize requesting scope=\"{}\" (the user must consent to it), \
                 then retry with the new token",
                scopes.join(" ")
            ),
            NextStep::Refresh => write!(
                f,
                "refresh: use the refresh token to get a new access token and retry; if the \
                 refresh fails, authorize again"
            ),
            NextStep::Reauthorize { why } => write!(f, "re-authorize: {why}"),
            NextStep::FixRequest { what } => write!(f, "fix the request: {what}"),
            NextStep::FixServer { what } => write!(
                f,
                "nothing the client can do: {what} (server operator: `authsec diagnose` shows \
                 the failing check)"
            ),
            NextStep::FixClock => write!(
                f,
                "the token is not valid yet by the server's clock: the server and the \
                 authorization server disagree on the time (use NTP); retrying in a moment may work"
            ),
            NextStep::RetryLater => write!(
                f,
                "retry later with backoff: the server could not reach its key, introspection or \
                 policy backend"
            ),
            NextStep::NewSession => write!(
                f,
                "start a new MCP session (drop Mcp-Session-Id): it belongs to another principal"
            ),
            NextStep::Unknown => write!(
                f,
                "not enough detail to say; with the token, `authsec diagnose` names the failing check"
            ),
        }
    }
}

impl McpAuthError {
    /// What to do next.
    pub fn next_step(&self) -> NextStep {
        let rm = self.resource_metadata.clone();
        match self.reason.as_deref() {
            Some("no_token") => {
                return NextStep::Authorize {
                    scopes: self.scope.clone(),
                    resource_metadata: rm,
                }
            }
            Some("token_expired") => return NextStep::Refresh,
            Some("token_not_yet_valid") => return NextStep::FixClock,
            Some("token_revoked") => {
                return NextStep::Reauthorize {
                    why: "the token was revoked (introspection says active=false)".into(),
                }
            }
            Some("audience_mismatch") => {
                return NextStep::Reauthorize {
                    why: "the token was issued for another resource (aud). Request it with \
                          resource=<this server's resource URI> (RFC 8707); if the new token \
                          still has the wrong aud, the authorization server's audience \
                          configuration must change"
                        .into(),
                }
            }
            Some("issuer_mismatch") => {
                return NextStep::Reauthorize {
                    why: "the token comes from an authorization server this resource does not \
                          trust; discover the right one from the resource metadata"
                        .into(),
                }
            }
            Some(
                "unknown_key" | "bad_signature" | "key_alg_mismatch" | "malformed_token"
                | "alg_not_allowed" | "invalid_typ" | "unsupported_crit" | "nested_jwt"
                | "missing_claim" | "subject_mismatch" | "token_too_large",
            ) => {
                return NextStep::Reauthorize {
                    why: format!(
                        "the server cannot accept this token ({}); if a fresh token fails the \
                         same way, the server or authorization server is misconfigured",
                        self.error_description.as_deref().unwrap_or("invalid token")
                    ),
                }
            }
            Some(r @ ("tool_unmapped" | "prompt_unmapped" | "resource_unmapped")) => {
                let kind = r.trim_end_matches("_unmapped");
                let name = match kind {
                    "prompt" => &self.prompt,
                    "resource" => &self.resource,
                    _ => &self.tool,
                };
                return NextStep::FixServer {
                    what: format!(
                        "{kind} {} has no policy entry, so it is denied to everyone; map it to a \
                         scope (or [] for public)",
                        name.as_deref().unwrap_or("?")
                    ),
                };
            }
            Some("policy_incomplete") => {
                return NextStep::FixServer {
                    what: "the resource server's policy is incomplete; finish its setup in the \
                           console"
                        .into(),
                }
            }
            Some("session_principal_mismatch" | "session_unknown") => return NextStep::NewSession,
            Some("validation_unavailable" | "policy_unavailable") => return NextStep::RetryLater,
            _ => {}
        }
        match (&self.error, self.status) {
            (Some(ErrorCode::InsufficientScope), _) if !self.scope.is_empty() => NextStep::StepUp {
                scopes: self.scope.clone(),
                resource_metadata: rm,
            },
            (Some(ErrorCode::InsufficientScope), _) if !self.required_scopes.is_empty() => {
                let mut scopes = self.required_scopes.clone();
                for g in &self.granted_scopes {
                    if !scopes.contains(g) {
                        scopes.push(g.clone());
                    }
                }
                NextStep::StepUp {
                    scopes,
                    resource_metadata: rm,
                }
            }
            (Some(ErrorCode::InsufficientScope), _) => NextStep::FixServer {
                what: "the server denies this operation without naming a scope that would allow it"
                    .into(),
            },
            (Some(ErrorCode::InvalidRequest), _) | (None, Some(400)) => NextStep::FixRequest {
                what: format!(
                    "{}; send the token only in the Authorization: Bearer header",
                    self.error_description
                        .as_deref()
                        .unwrap_or("the request is malformed")
                ),
            },
            (Some(ErrorCode::TemporarilyUnavailable), _) | (None, Some(503)) => {
                NextStep::RetryLater
            }
            (Some(ErrorCode::InvalidToken), _) => NextStep::Reauthorize {
                why: match self.error_description.as_deref() {
                    None | Some("") => "invalid_token with no further detail — in the \
                                        troubleshooting checklist that is most often an iss \
                                        mismatch; get a new token, and if it fails the same way \
                                        run `authsec diagnose` on it"
                        .into(),
                    Some(d) => format!("the token was refused ({d})"),
                },
            },
            _ => NextStep::Unknown,
        }
    }

    /// What the denial means, in one sentence.
    pub fn meaning(&self) -> &'static str {
        match self.reason.as_deref() {
            Some("no_token") => {
                "the request carried no bearer token; the server says where to get one"
            }
            Some("token_expired") => "the token has expired",
            Some("token_not_yet_valid") => {
                "the token's validity (nbf/iat) starts in the future by the server's clock"
            }
            Some("token_revoked") => "the authorization server says the token is no longer active",
            Some("audience_mismatch") => {
                "the token was issued for another resource (its aud does not name this server)"
            }
            Some("issuer_mismatch") => {
                "the token was issued by an authorization server this resource does not trust"
            }
            Some("unknown_key") => "the token is signed by a key the server does not know",
            Some("bad_signature") => "the token's signature does not verify",
            Some("alg_not_allowed" | "key_alg_mismatch") => {
                "the token's signature algorithm is not acceptable"
            }
            Some("malformed_token") => "the token is not a well-formed JWT",
            Some("missing_claim") => "the token lacks a required claim",
            Some("insufficient_scope") => {
                "the token is valid but does not grant the scope this operation needs"
            }
            Some("tool_unmapped") => {
                "the tool has no policy entry, so it is denied to every caller"
            }
            Some("prompt_unmapped") => {
                "the prompt has no policy entry, so it is denied to every caller"
            }
            Some("resource_unmapped") => {
                "no policy entry (URI or URI template) covers the resource, so it is denied to \
                 every caller"
            }
            Some("policy_incomplete") => {
                "the server's policy is incomplete, so every tool is denied"
            }
            Some("validation_unavailable") => {
                "the server could not reach its keys or introspection endpoint"
            }
            Some("policy_unavailable") => "the server could not load its tool policy",
            Some("session_principal_mismatch") => "the MCP session belongs to a different caller",
            Some("session_unknown") => {
                "the server does not know this MCP session (ended, or issued before a restart)"
            }
            Some("body_not_allowed") => "only POST requests to the MCP endpoint may carry a body",
            Some("malformed_session_id") => "the Mcp-Session-Id header is repeated or malformed",
            Some(r) if r.starts_with("token_in_") => {
                "the token was sent somewhere other than the Authorization header"
            }
            _ => match (&self.error, self.status) {
                (Some(ErrorCode::InsufficientScope), _) => {
                    "the token does not grant what this operation needs"
                }
                (Some(ErrorCode::InvalidToken), _) => "the token was refused",
                (Some(ErrorCode::InvalidRequest), _) => "the request is malformed",
                (Some(ErrorCode::TemporarilyUnavailable), _) => {
                    "the server is temporarily unable to decide"
                }
                (None, Some(401)) => "authentication is required",
                _ => "the server denied the request",
            },
        }
    }

    /// One line: status, code, reason and description.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.status {
            parts.push(s.to_string());
        }
        match &self.error {
            Some(e) => parts.push(e.as_str().to_owned()),
            None if self.bearer_challenge => parts.push("(no error code)".to_owned()),
            None => {}
        }
        if let Some(r) = &self.reason {
            parts.push(format!("reason {r}"));
        }
        let mut s = parts.join(" ");
        if let Some(d) = &self.error_description {
            s.push_str(&format!(": {d}"));
        }
        s
    }

    /// The parsed denial plus its next step, as JSON.
    pub fn to_json(&self) -> Value {
        let step = self.next_step();
        let mut next = json!({"action": step.action(), "advice": step.to_string()});
        if let NextStep::Authorize { scopes, .. } | NextStep::StepUp { scopes, .. } = &step {
            next["scopes"] = json!(scopes);
        }
        json!({
            "status": self.status,
            "meaning": self.meaning(),
            "error": self.error.as_ref().map(ErrorCode::as_str),
            "error_description": self.error_description,
            "reason": self.reason,
            "scope": self.scope,
            "resource_metadata": self.resource_metadata,
            "tool": self.tool,
            "prompt": self.prompt,
            "resource": self.resource,
            "required_scopes": self.required_scopes,
            "granted_scopes": self.granted_scopes,
            "next_step": next,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_params_are_unquoted_and_names_lowercased() {
        let c = parse_www_authenticate(
            r#"Bearer Error="invalid_token", error_description="a \"quoted\" word", scope=read"#,
        )
        .unwrap();
        assert_eq!(
            c,
            [Challenge {
                scheme: "Bearer".into(),
                params: vec![
                    ("error".into(), "invalid_token".into()),
                    ("error_description".into(), "a \"quoted\" word".into()),
                    ("scope".into(), "read".into()),
                ],
                token68: None,
            }]
        );
    }

    #[test]
    fn several_challenges_and_token68_are_separated() {
        let c = parse_www_authenticate(r#"Basic realm="x", Negotiate abc123==, Bearer"#).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].param("realm"), Some("x"));
        assert_eq!(c[1].token68.as_deref(), Some("abc123=="));
        assert_eq!(c[2].scheme, "Bearer");
        assert!(c[2].params.is_empty());
    }

    #[test]
    fn malformed_headers_are_errors() {
        assert!(parse_www_authenticate(r#"Bearer error="unterminated"#).is_err());
        assert!(parse_www_authenticate("").is_err());
        assert!(parse_www_authenticate(r#"Bearer error="a" junk"#).is_err());
    }

    #[test]
    fn a_challenge_without_error_is_a_missing_token() {
        let e = parse(
            Some(401),
            Some(r#"Bearer resource_metadata="https://h/.well-known/oauth-protected-resource/mcp", scope="a b""#),
            None,
        )
        .unwrap();
        assert_eq!(e.reason.as_deref(), Some("no_token"));
        assert_eq!(
            e.next_step(),
            NextStep::Authorize {
                scopes: vec!["a".into(), "b".into()],
                resource_metadata: Some(
                    "https://h/.well-known/oauth-protected-resource/mcp".into()
                )
            }
        );
    }

    #[test]
    fn expired_means_refresh_and_bare_invalid_token_points_at_iss() {
        let e = parse(
            Some(401),
            Some(r#"Bearer error="invalid_token", error_description="expired""#),
            None,
        )
        .unwrap();
        assert_eq!(e.reason.as_deref(), Some("token_expired"));
        assert_eq!(e.next_step(), NextStep::Refresh);
        let e = parse(Some(401), Some(r#"Bearer error="invalid_token""#), None).unwrap();
        let NextStep::Reauthorize { why } = e.next_step() else {
            panic!()
        };
        assert!(why.contains("iss mismatch"), "{why}");
    }

    #[test]
    fn a_403_body_without_a_challenge_scope_still_steps_up_from_required_scopes() {
        let e = parse(
            Some(403),
            None,
            Some(r#"{"error":"insufficient_scope","required_scopes":["rs-xyz:tools:write"]}"#),
        )
        .unwrap();
        assert_eq!(
            e.next_step(),
            NextStep::StepUp {
                scopes: vec!["rs-xyz:tools:write".into()],
                resource_metadata: None
            }
        );
    }

    #[test]
    fn unmapped_tool_is_for_the_server_to_fix() {
        let e = parse(
            Some(403),
            Some(r#"Bearer error="insufficient_scope", error_description="tool x is not mapped to any scope""#),
            None,
        )
        .unwrap();
        assert_eq!(e.reason.as_deref(), Some("tool_unmapped"));
        assert_eq!(e.next_step().action(), "fix_server");
    }

    mod round_trip {
        use super::super::*;
        use crate::challenge::ChallengeScope;
        use crate::challenge::{render, ChallengeContext};
        use crate::error::{AuthError, InvalidRequest as Ir, Malformed as Mf};
        use crate::policy::{Target, TargetKind};
        use proptest::prelude::*;

        fn scope_token() -> impl Strategy<Value = String> {
            // RFC 6749 §3.3 scope-token characters.
            "[!#-\\[\\]-~]{1,12}"
        }

        fn scopes(min: usize) -> impl Strategy<Value = Vec<String>> {
            proptest::collection::vec(scope_token(), min..4)
        }

        fn word() -> impl Strategy<Value = String> {
            "[a-z_]{1,10}"
        }

        fn auth_error() -> impl Strategy<Value = AuthError> {
            use AuthError::*;
            prop_oneof![
                Just(NoToken),
                prop_oneof![
                    Just(Ir::TokenInQuery),
                    Just(Ir::TokenInBody),
                    Just(Ir::MultipleAuthorizationHeaders),
                    Just(Ir::MalformedAuthorizationHeader),
                    Just(Ir::MalformedBody),
                    Just(Ir::McpNameMismatch),
                    Just(Ir::McpMethodMismatch),
                    Just(Ir::BodyNotAllowed),
                    Just(Ir::MalformedSessionId),
                ]
                .prop_map(AuthError::InvalidRequest),
                (1usize..100_000, 64usize..20_000)
                    .prop_map(|(size, limit)| TokenTooLarge { size, limit }),
                (0usize..9).prop_map(|n| Malformed(Mf::Segments(n))),
                word().prop_map(|alg| AlgorithmNotAllowed { alg }),
                proptest::option::of(word()).prop_map(|kid| UnknownKey { kid }),
                (proptest::option::of(word()), word(), word()).prop_map(|(kid, key, token_alg)| {
                    KeyAlgorithmMismatch {
                        kid,
                        key,
                        token_alg,
                    }
                }),
                proptest::collection::vec(word(), 1..3)
                    .prop_map(|names| UnsupportedCritical { names }),
                Just(NestedJwt),
                (
                    proptest::collection::vec(word(), 1..3),
                    proptest::option::of(word())
                )
                    .prop_map(|(expected, actual)| TypNotAllowed { expected, actual }),
                Just(BadSignature),
                (word(), proptest::option::of(word()))
                    .prop_map(|(expected, actual)| IssuerMismatch { expected, actual }),
                (
                    proptest::collection::vec(word(), 1..3),
                    proptest::collection::vec(word(), 0..3)
                )
                    .prop_map(|(expected, actual)| AudienceMismatch { expected, actual }),
                Just(MissingClaim { claim: "exp" }),
                (0i64..2_000_000_000, 0i64..2_000_000_000, 0i64..3600)
                    .prop_map(|(exp, now, leeway)| Expired { exp, now, leeway }),
                (
                    prop_oneof![Just("nbf"), Just("iat")],
                    0i64..2_000_000_000,
                    0i64..3600
                )
                    .prop_map(|(claim, value, leeway)| NotYetValid {
                        claim,
                        value,
                        now: 0,
                        leeway
                    }),
                Just(TokenRevoked),
                (proptest::option::of(word()), proptest::option::of(word()))
                    .prop_map(|(jwt, introspected)| SubjectMismatch { jwt, introspected }),
                (target(), scopes(1), any::<bool>(), scopes(0)).prop_map(
                    |(target, required, all, granted)| InsufficientScope {
                        target,
                        required,
                        scope_match: if all {
                            ScopeMatch::All
                        } else {
                            ScopeMatch::Any
                        },
                        granted,
                    }
                ),
                target().prop_map(|target| Unmapped { target }),
                (target(), word()).prop_map(|(target, reason)| PolicyIncomplete { target, reason }),
                Just(SessionPrincipalMismatch),
                Just(SessionUnknown),
                (1usize..10_000_000).prop_map(|limit| PayloadTooLarge { limit }),
                word().prop_map(|detail| ValidationUnavailable { detail }),
                word().prop_map(|detail| PolicyUnavailable { detail }),
            ]
        }

        fn target() -> impl Strategy<Value = Target> {
            (0u8..3, word()).prop_map(|(k, name)| {
                let kind = [TargetKind::Tool, TargetKind::Prompt, TargetKind::Resource][k as usize];
                Target::new(kind, name)
            })
        }

        /// The member of a parsed denial naming a target of `kind`.
        fn named(parsed: &McpAuthError, kind: TargetKind) -> Option<&str> {
            match kind {
                TargetKind::Tool => parsed.tool.as_deref(),
                TargetKind::Prompt => parsed.prompt.as_deref(),
                TargetKind::Resource => parsed.resource.as_deref(),
            }
        }

        fn context() -> impl Strategy<Value = ChallengeContext> {
            (
                "https://[a-z]{1,8}\\.example(/[a-z]{1,5})?",
                scopes(0),
                any::<bool>(),
            )
                .prop_map(|(base, scope, required_only)| ChallengeContext {
                    resource_metadata: format!("{base}/.well-known/oauth-protected-resource"),
                    scope,
                    challenge_scope: if required_only {
                        ChallengeScope::RequiredOnly
                    } else {
                        ChallengeScope::RequiredAndGranted
                    },
                })
        }

        /// The challenge scope authsec promises (DESIGN.md, "Challenge scope").
        fn expected_scope(err: &AuthError, ctx: &ChallengeContext) -> Vec<String> {
            match err {
                AuthError::InsufficientScope {
                    required, granted, ..
                } => {
                    let mut s = required.clone();
                    if ctx.challenge_scope == ChallengeScope::RequiredAndGranted {
                        for g in granted {
                            if !s.contains(g) {
                                s.push(g.clone());
                            }
                        }
                    }
                    s
                }
                _ if err.status() == http::StatusCode::UNAUTHORIZED => ctx.scope.clone(),
                _ => Vec::new(),
            }
        }

        proptest! {
            #[test]
            fn every_rendered_denial_parses_back_to_the_same_error_reason_and_scopes(
                err in auth_error(),
                ctx in context(),
            ) {
                let denial = render(&err, &ctx);
                let body = denial.body.to_string();
                let parsed = parse(
                    Some(denial.status.as_u16()),
                    denial.www_authenticate.as_deref(),
                    Some(&body),
                ).unwrap();
                prop_assert_eq!(
                    parsed.error.as_ref().map(ErrorCode::as_str),
                    denial.body["error"].as_str()
                );
                prop_assert_eq!(parsed.reason.as_deref(), Some(err.reason()));
                prop_assert_eq!(&parsed.scope, &expected_scope(&err, &ctx));
                prop_assert_eq!(parsed.bearer_challenge, denial.www_authenticate.is_some());
                if denial.www_authenticate.is_some() {
                    prop_assert_eq!(parsed.resource_metadata.as_deref(), Some(ctx.resource_metadata.as_str()));
                }
                match &err {
                    AuthError::InsufficientScope { target, required, granted, scope_match } => {
                        prop_assert_eq!(named(&parsed, target.kind), Some(target.name.as_str()));
                        prop_assert_eq!(&parsed.required_scopes, required);
                        prop_assert_eq!(&parsed.granted_scopes, granted);
                        prop_assert_eq!(
                            parsed.scope_match,
                            (*scope_match == ScopeMatch::All).then_some(ScopeMatch::All)
                        );
                        prop_assert_eq!(
                            parsed.next_step(),
                            NextStep::StepUp {
                                scopes: expected_scope(&err, &ctx),
                                resource_metadata: Some(ctx.resource_metadata.clone()),
                            }
                        );
                    }
                    AuthError::Unmapped { target } | AuthError::PolicyIncomplete { target, .. } => {
                        prop_assert_eq!(named(&parsed, target.kind), Some(target.name.as_str()));
                        prop_assert_eq!(parsed.next_step().action(), "fix_server");
                    }
                    AuthError::NoToken => prop_assert_eq!(parsed.next_step().action(), "authorize"),
                    AuthError::Expired { .. } => prop_assert_eq!(parsed.next_step(), NextStep::Refresh),
                    _ => {}
                }
            }

            #[test]
            fn the_header_alone_gives_the_same_error_reason_and_scopes(
                err in auth_error(),
                ctx in context(),
            ) {
                let denial = render(&err, &ctx);
                let Some(header) = denial.www_authenticate.as_deref() else {
                    return Ok(());
                };
                let parsed = parse(Some(denial.status.as_u16()), Some(header), None).unwrap();
                prop_assert_eq!(parsed.error.as_ref().map(ErrorCode::as_str), err.error_code());
                prop_assert_eq!(parsed.reason.as_deref(), Some(err.reason()));
                prop_assert_eq!(&parsed.scope, &expected_scope(&err, &ctx));
            }

            #[test]
            fn the_parser_never_panics(header in "\\PC{0,80}", body in "\\PC{0,80}") {
                let _ = parse_www_authenticate(&header);
                let _ = parse(None, Some(&header), Some(&body));
            }
        }
    }

    #[test]
    fn invalid_token_for_a_missing_header_is_read_as_no_token() {
        let e = parse(
            Some(401),
            Some(r#"Bearer error="invalid_token", error_description="Missing Authorization header", resource_metadata="https://h/.well-known/oauth-protected-resource/mcp""#),
            Some(r#"{"error":"invalid_token","error_description":"Missing Authorization header"}"#),
        )
        .unwrap();
        assert_eq!(e.reason.as_deref(), Some("no_token"));
        assert_eq!(e.next_step().action(), "authorize");
    }

    #[test]
    fn a_body_that_is_not_json_is_an_error() {
        assert!(matches!(
            parse(None, None, Some("<html>")),
            Err(ExplainError::Body(_))
        ));
        assert_eq!(parse(None, None, None), Err(ExplainError::Empty));
    }
}

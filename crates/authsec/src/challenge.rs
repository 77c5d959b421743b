//! [`AuthError`] → HTTP: status, `WWW-Authenticate` and JSON body, in one place.
//!
//! | condition | status | challenge |
//! |---|---|---|
//! | no token | 401 | `Bearer resource_metadata, scope` (no `error`, RFC 6750 §3.1) |
//! | invalid request | 400 | `error="invalid_request"` |
//! | token problems | 401 | `error="invalid_token", error_description, resource_metadata, scope` |
//! | scope missing | 403 | `error="insufficient_scope", scope, resource_metadata` |
//! | unmapped tool, prompt or resource | 403 | `error="insufficient_scope"` without `scope` |
//! | backend down | 503 | none |
//!
//! A policy denial's body names its target in a member of its kind: `tool`, `prompt` or
//! `resource` (the URI).
//!
//! ```
//! use authsec::{challenge, AuthError, Config};
//!
//! let config = Config::builder("https://auth.example.com", "https://mcp.example.com/mcp")
//!     .build()
//!     .unwrap();
//! let ctx = challenge::ChallengeContext::for_request(&config, None);
//! let denial = challenge::render(
//!     &AuthError::AudienceMismatch { expected: vec![config.resource_uri.clone()], actual: vec![] },
//!     &ctx,
//! );
//! assert_eq!(denial.status, 401);
//! assert_eq!(
//!     denial.www_authenticate.unwrap(),
//!     "Bearer error=\"invalid_token\", error_description=\"audience mismatch\", \
//!      resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""
//! );
//! ```

use serde_json::{json, Value};

use crate::config::Config;
use crate::error::AuthError;
use crate::policy::ToolRule;

/// What the `scope` of a 403 step-up challenge contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChallengeScope {
    /// Follows the request's MCP protocol revision (the `MCP-Protocol-Version` header, else
    /// the body's `_meta`): 2026-07-28 and later name the operation's scopes only (their
    /// clients accumulate, SEP-2350); earlier revisions, or none, get required plus granted.
    /// The default.
    #[default]
    ByProtocol,
    /// The tool's scopes plus those already granted — safe for clients that replace their
    /// token rather than accumulate scopes.
    RequiredAndGranted,
    /// Only the tool's scopes.
    RequiredOnly,
}

/// The first MCP revision whose clients accumulate scopes on step-up (SEP-2350).
pub const ACCUMULATING_PROTOCOL: &str = "2026-07-28";

impl ChallengeScope {
    /// The rule for one request of MCP revision `protocol` (`YYYY-MM-DD`, if known).
    pub fn for_protocol(self, protocol: Option<&str>) -> ChallengeScope {
        match self {
            ChallengeScope::ByProtocol if crate::mcp::is_2026_07_28_or_later(protocol) => {
                ChallengeScope::RequiredOnly
            }
            ChallengeScope::ByProtocol => ChallengeScope::RequiredAndGranted,
            fixed => fixed,
        }
    }
}

/// A rendered denial.
#[derive(Debug, Clone, PartialEq)]
pub struct Denial {
    /// HTTP status.
    pub status: http::StatusCode,
    /// `WWW-Authenticate` value, when the status carries one.
    pub www_authenticate: Option<String>,
    /// The JSON body: `{"error", "error_description", "reason", …}`.
    pub body: Value,
}

/// What a challenge needs beyond the error itself.
#[derive(Debug, Clone, Default)]
pub struct ChallengeContext {
    /// Absolute URL of the protected resource metadata.
    pub resource_metadata: String,
    /// For 401s: the scopes the requested operation needs (see [`scope_for_401`]).
    pub scope: Vec<String>,
    /// For 403s: required only, or required plus granted ([`ChallengeScope::ByProtocol`] not
    /// resolved for a request counts as required plus granted).
    pub challenge_scope: ChallengeScope,
}

impl ChallengeContext {
    /// The context for a request: `rule` is the policy of the tool being called, if any.
    pub fn for_request(config: &Config, rule: Option<&ToolRule>) -> Self {
        ChallengeContext {
            resource_metadata: crate::metadata::metadata_url(&config.resource_uri),
            scope: scope_for_401(config, rule),
            challenge_scope: config.challenge_scope,
        }
    }
}

/// The `scope` of a 401 (least privilege): a mapped tool's (prompt's, resource's) scopes for
/// its `tools/call` (`prompts/get`, `resources/read`);
/// otherwise `base_scopes` if configured, else `scopes_supported`.
pub fn scope_for_401(config: &Config, rule: Option<&ToolRule>) -> Vec<String> {
    match rule {
        Some(ToolRule::Scoped { scopes, .. }) => scopes.clone(),
        _ if !config.base_scopes.is_empty() => config.base_scopes.clone(),
        _ => config.scopes_supported(),
    }
}

/// Renders a denial. The only function that turns an [`AuthError`] into HTTP.
pub fn render(err: &AuthError, ctx: &ChallengeContext) -> Denial {
    let status = err.status();
    let description = err.description();
    let mut body = json!({
        "error_description": description,
        "reason": err.reason(),
    });
    if let Some(code) = err.error_code() {
        body["error"] = json!(code);
    }
    let mut params: Vec<(&str, String)> = Vec::new();
    let rm = ("resource_metadata", ctx.resource_metadata.clone());
    let www_authenticate = match err {
        AuthError::ValidationUnavailable { .. }
        | AuthError::PolicyUnavailable { .. }
        | AuthError::PayloadTooLarge { .. }
        | AuthError::SessionPrincipalMismatch
        | AuthError::SessionUnknown => None,
        AuthError::NoToken => {
            params.push(rm);
            push_scope(&mut params, &ctx.scope);
            Some(params)
        }
        AuthError::InvalidRequest(_) => {
            params.push(("error", "invalid_request".into()));
            params.push(("error_description", description.clone()));
            params.push(rm);
            Some(params)
        }
        AuthError::InsufficientScope {
            target,
            required,
            granted,
            scope_match,
        } => {
            body[target.kind.as_str()] = json!(target.name);
            body["required_scopes"] = json!(required);
            body["granted_scopes"] = json!(granted);
            if *scope_match == crate::error::ScopeMatch::All {
                body["scope_match"] = json!("all");
            }
            let mut scope = required.clone();
            if ctx.challenge_scope != ChallengeScope::RequiredOnly {
                for g in granted {
                    if !scope.contains(g) {
                        scope.push(g.clone());
                    }
                }
            }
            params.push(("error", "insufficient_scope".into()));
            params.push(("error_description", description.clone()));
            push_scope(&mut params, &scope);
            params.push(rm);
            Some(params)
        }
        AuthError::Unmapped { target } | AuthError::PolicyIncomplete { target, .. } => {
            body[target.kind.as_str()] = json!(target.name);
            params.push(("error", "insufficient_scope".into()));
            params.push(("error_description", description.clone()));
            params.push(rm);
            Some(params)
        }
        _ => {
            params.push(("error", "invalid_token".into()));
            params.push(("error_description", description.clone()));
            params.push(rm);
            push_scope(&mut params, &ctx.scope);
            Some(params)
        }
    };
    if matches!(
        err,
        AuthError::SessionPrincipalMismatch | AuthError::PayloadTooLarge { .. }
    ) {
        body["error"] = json!("invalid_request");
    }
    Denial {
        status,
        www_authenticate: www_authenticate.map(|p| bearer_challenge(&p)),
        body,
    }
}

fn push_scope(params: &mut Vec<(&str, String)>, scope: &[String]) {
    if !scope.is_empty() {
        params.push(("scope", scope.join(" ")));
    }
}

/// Formats `Bearer k="v", …`, dropping characters RFC 6750 §3 does not allow in values
/// (`"`, `\` and anything outside printable ASCII).
pub fn bearer_challenge(params: &[(&str, String)]) -> String {
    let mut out = String::from("Bearer");
    for (i, (k, v)) in params.iter().enumerate() {
        out.push_str(if i == 0 { " " } else { ", " });
        out.push_str(k);
        out.push_str("=\"");
        out.extend(
            v.chars()
                .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\'),
        );
        out.push('"');
    }
    out
}

impl Denial {
    /// Builds the HTTP response (`Content-Type: application/json`, `Cache-Control: no-store`).
    pub fn into_response<B: From<String>>(self) -> http::Response<B> {
        let mut builder = http::Response::builder()
            .status(self.status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CACHE_CONTROL, "no-store");
        if let Some(h) = &self.www_authenticate {
            builder = builder.header(http::header::WWW_AUTHENTICATE, h);
        }
        let mut resp = http::Response::new(B::from(self.body.to_string()));
        if let Ok(built) = builder.body(()) {
            let (parts, ()) = built.into_parts();
            *resp.status_mut() = parts.status;
            *resp.headers_mut() = parts.headers;
        }
        resp
    }
}

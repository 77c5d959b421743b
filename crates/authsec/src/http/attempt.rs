//! [`Attempt`]: what the stages know about one request while it is decided. [`super::inspect`]
//! creates it, and it travels down the stages as the request's body (so no stage can run
//! before the one that fills in what it reads, and nothing is allocated to carry it); the
//! [`super::filter`] stage hands the inner service the buffered body in its place.
//!
//! It is also the one way out of a decision: [`Attempt::deny`] renders a denial and
//! [`Attempt::emit`] an allow, each emitting the request's one `authsec::decision` event.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};

use super::filter::ResponseBody;
use super::Shared;
use crate::challenge::{self, ChallengeContext};
use crate::config::Config;
use crate::decision::{self, DecisionRecord};
use crate::error::{AuthError, InvalidRequest};
use crate::mcp::{self, Inspection};
use crate::policy::{ConsolePolicy, PolicyUnavailable, PolicyView, TargetKind, ToolRule};
use crate::principal::Principal;
use crate::token::Fingerprint;

/// What the remote policy client holds for one request (`None` without one, or before
/// [`super::authenticate`] read it).
// Boxed: it travels in every request's `Attempt`, which moves from stage to stage.
pub(super) type ConsoleState = Option<Result<Arc<ConsolePolicy>, Box<PolicyUnavailable>>>;

/// One request being decided: its buffered body and what each stage found. The body type of
/// the requests between the stages of [`super::AuthSecLayer`].
pub struct Attempt {
    pub(super) shared: Arc<Shared>,
    /// The console's policy for this request; read by [`super::authenticate`], the first
    /// stage whose denials depend on the policy (the scope of a 401).
    pub(super) console: ConsoleState,
    started: Instant,
    http_method: Method,
    /// The `MCP-Protocol-Version` header.
    protocol_version: Option<String>,
    /// The request body, buffered.
    pub(super) body: Bytes,
    /// The JSON-RPC inspection of a `POST` body.
    pub(super) inspection: Option<Result<Inspection, AuthError>>,
    /// The presented token's fingerprint, when it failed validation.
    pub(super) fingerprint: Option<Fingerprint>,
    pub(super) principal: Option<Principal>,
}

impl std::fmt::Debug for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("method", &self.http_method)
            .field("body_bytes", &self.body.len())
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

impl Attempt {
    /// A request with `method` and `headers` arriving now.
    pub(super) fn new(shared: Arc<Shared>, method: &Method, headers: &http::HeaderMap) -> Self {
        Attempt {
            shared,
            console: None,
            started: Instant::now(),
            http_method: method.clone(),
            protocol_version: headers
                .get(mcp::PROTOCOL_VERSION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            body: Bytes::new(),
            inspection: None,
            fingerprint: None,
            principal: None,
        }
    }

    pub(super) fn config(&self) -> &Config {
        self.shared.validator.config()
    }

    /// The policy in force for this request: the local maps, or the console's.
    pub(super) fn policy(&self) -> PolicyView<'_> {
        PolicyView::select(self.config(), self.console.as_ref())
    }

    pub(super) fn inspected(&self) -> Option<&Inspection> {
        self.inspection.as_ref().and_then(|r| r.as_ref().ok())
    }

    /// The request's MCP revision: the `MCP-Protocol-Version` header, else the body's `_meta`.
    fn protocol(&self) -> Option<&str> {
        self.protocol_version
            .as_deref()
            .or_else(|| self.inspected().and_then(Inspection::protocol_version))
    }

    /// The challenge context: a 401's `scope` names what this request needs; a 403's follows
    /// the request's protocol revision.
    fn challenge_context(&self) -> ChallengeContext {
        let config = self.config();
        let policy = self.policy();
        let mut ctx = ChallengeContext::for_request(config, None);
        ctx.challenge_scope = config.challenge_scope.for_protocol(self.protocol());
        if config.base_scopes.is_empty() {
            ctx.scope = policy.scopes_supported(config);
        }
        let mut scoped: Vec<String> = Vec::new();
        for (kind, name) in self.inspected().into_iter().flat_map(Inspection::targets) {
            for rule in policy.rules(kind, name) {
                if let ToolRule::Scoped { .. } = rule {
                    for s in challenge::scope_for_401(config, Some(rule)) {
                        if !scoped.contains(&s) {
                            scoped.push(s);
                        }
                    }
                }
            }
        }
        if !scoped.is_empty() {
            ctx.scope = scoped;
        }
        ctx
    }

    /// Emits the request's decision event: an allow (`Ok`) or a deny.
    pub(super) fn emit(&self, outcome: Result<(), &AuthError>) {
        let policy = self.policy();
        let denied = outcome
            .err()
            .and_then(AuthError::target)
            .map(|t| (t.kind, t.name.as_str()));
        let target = denied.or_else(|| self.inspected().and_then(|i| i.targets().next()));
        let required = match (outcome, target) {
            (Err(AuthError::InsufficientScope { required, .. }), _) => required.as_slice(),
            (_, Some((TargetKind::Tool, tool))) => {
                policy.rule(tool).map(ToolRule::scopes).unwrap_or_default()
            }
            (_, Some((kind, name))) => policy
                .rules(kind, name)
                .first()
                .map(|r| r.scopes())
                .unwrap_or_default(),
            (_, None) => &[],
        };
        let method = match self.inspected() {
            Some(i) => i.method_label(),
            None => self.http_method.as_str(),
        };
        decision::emit(
            &DecisionRecord {
                principal: self.principal.as_ref(),
                fingerprint: self.fingerprint,
                method: Some(method),
                target,
                required_scopes: required,
                latency: self.started.elapsed(),
                protocol_version: self.protocol(),
                traceparent: self.inspected().and_then(Inspection::traceparent),
            },
            outcome,
        );
    }

    /// Renders a denial (in band when configured and possible) and emits it.
    pub(super) fn deny<B>(&self, err: AuthError) -> Response<ResponseBody<B>> {
        self.emit(Err(&err));
        let denial = challenge::render(&err, &self.challenge_context());
        // 2026-07-28 clients expect a JSON-RPC `HeaderMismatch` error; earlier revisions have no
        // routing headers, and their clients get the OAuth-style body.
        if is_header_mismatch(&err) && mcp::is_2026_07_28_or_later(self.protocol()) {
            let reply = mcp::header_mismatch_reply(self.inspected(), &denial);
            let mut resp = json_response(StatusCode::BAD_REQUEST, reply.to_string());
            if let Some(v) = denial
                .www_authenticate
                .as_deref()
                .and_then(|h| HeaderValue::from_str(h).ok())
            {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            return resp;
        }
        if let Some(inspection) = self
            .inspected()
            .filter(|_| in_band_eligible(self.config(), &err))
        {
            return match mcp::in_band_denial(inspection, &denial) {
                Some(reply) => json_response(StatusCode::OK, reply.to_string()),
                None => Response::builder()
                    .status(StatusCode::ACCEPTED)
                    .body(ResponseBody::full(Bytes::new()))
                    .unwrap_or_default(),
            };
        }
        denial
            .into_response::<String>()
            .map(|s| ResponseBody::full(Bytes::from(s)))
    }
}

/// A refusal for the routing headers (`Mcp-Method`, `Mcp-Name`).
fn is_header_mismatch(err: &AuthError) -> bool {
    matches!(
        err,
        AuthError::InvalidRequest(
            InvalidRequest::McpMethodMismatch | InvalidRequest::McpNameMismatch
        )
    )
}

/// In-band mode answers token (401) and policy (403) denials of JSON-RPC requests in band;
/// malformed requests (400/413), session hijacks and unavailable backends stay HTTP errors.
fn in_band_eligible(config: &Config, err: &AuthError) -> bool {
    config.in_band_denials
        && (err.status() == StatusCode::UNAUTHORIZED
            || matches!(
                err,
                AuthError::InsufficientScope { .. }
                    | AuthError::Unmapped { .. }
                    | AuthError::PolicyIncomplete { .. }
            ))
}

/// A JSON response the layer answers itself (`no-store`).
pub(super) fn json_response<B>(status: StatusCode, body: String) -> Response<ResponseBody<B>> {
    let mut resp = Response::new(ResponseBody::full(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

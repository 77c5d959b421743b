//! HTTP integration: a tower [`AuthSecLayer`] that protects any MCP Streamable HTTP service,
//! [`mount_mcp`] for axum (the protected endpoint plus its RFC 9728 metadata route), and the
//! [`Principal`] as an axum extractor and an rmcp tool-handler argument.
//!
//! For every request to the MCP endpoint — `POST`, the `GET` SSE stream and `DELETE` — the
//! layer, in order:
//!
//! 1. buffers the body up to [`Config::max_body_bytes`] (above: 413) and parses it as JSON-RPC
//!    (single message or batch; see [`crate::mcp`]);
//! 2. requires a valid bearer token ([`Validator::validate`]); a 401 names, in `scope`, what the
//!    operation needs (a mapped tool's, prompt's or resource's scopes for its `tools/call`,
//!    `prompts/get` or `resources/read`, else the base scopes or `scopes_supported`);
//! 3. refuses unparsable bodies (400 `malformed_body`), a body on any method but `POST` (400
//!    `body_not_allowed`) and an `Mcp-Name` header that disagrees with the body (400
//!    `mcp_name_mismatch`);
//! 4. opens the `Mcp-Session-Id`: it must have been issued by this deployment for this
//!    principal (403 `session_principal_mismatch`, 404 `session_unknown`; see
//!    [`crate::session`]'s table), and the inner service sees its own id;
//! 5. decides every target of the body ([`Inspection::targets`]: the tool of a `tools/call`,
//!    the prompt of a `prompts/get`, the resource of a `resources/read` or
//!    `resources/subscribe`, each resource a `subscriptions/listen` subscribes to) with the
//!    policy in force ([`PolicyView`]: the local maps, or the console's policy in the remote
//!    modes); one denial denies the body whole (403 `insufficient_scope` / `tool_unmapped` /
//!    `prompt_unmapped` / `resource_unmapped` / `policy_incomplete`, naming the target in a
//!    `tool`, `prompt` or `resource` member; 503 `policy_unavailable` without a usable policy
//!    in `remote_required`);
//! 6. inserts the [`Principal`] into the request extensions and calls the inner service;
//! 7. seals a session id the inner service issues to the principal, and filters every
//!    `tools/list`, `prompts/list`, `resources/list` and `resources/templates/list` result in
//!    the response (JSON and SSE, whatever its id) to what the principal may use, marked
//!    `"cacheScope": "private"`; a response that may carry one but cannot be read is withheld
//!    (502, see [`crate::filter`]).
//!
//! Exactly one `authsec::decision` event is emitted per request.
//!
//! [`AuthSecLayer::start`] builds the layer in any policy mode: it publishes the manifest of
//! tools, prompts and resources (when configured) and, in the remote policy modes, fetches the
//! console's policy before the server serves. [`AuthSecLayer::new`] builds it at once for the
//! local modes, and refuses the remote ones ([`LayerError`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use authsec::{http::{mount_mcp, AuthSecLayer}, Config, Validator};
//!
//! let validator = Validator::new(Config::from_env()?).await?;
//! let layer = AuthSecLayer::start(validator).await?;
//! // Any Streamable HTTP MCP service, e.g. rmcp's `StreamableHttpService`; here a stand-in.
//! let mcp_service = axum::Router::new().fallback(|| async { "an MCP server" });
//! let app: axum::Router = mount_mcp(axum::Router::new(), "/mcp", mcp_service, layer);
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use pin_project_lite::pin_project;

use crate::challenge::{self, ChallengeContext};
use crate::config::{Config, PolicyMode};
use crate::decision::{self, DecisionRecord};
use crate::error::{AuthError, InvalidRequest};
use crate::filter::{self, Listed, SseFilter};
use crate::mcp::{self, Inspection};
use crate::metadata;
use crate::policy::remote::{Manifest, RemotePolicy, RemotePolicyError};
use crate::policy::{ConsolePolicy, PolicyView, TargetKind, ToolRule};
use crate::principal::Principal;
use crate::session::SessionSeal;
use crate::token::{self, Fingerprint};
use crate::validate::Validator;

/// A boxed error, the error type of [`ResponseBody`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type the inner service receives: the buffered request body.
pub type RequestBody = Full<Bytes>;

struct Shared {
    validator: Validator,
    sessions: SessionSeal,
    remote: Option<RemotePolicy>,
}

/// What the remote policy client holds for one request (`None` without one).
type ConsoleState = Option<Result<Arc<ConsolePolicy>, String>>;

impl Shared {
    async fn console_state(&self) -> ConsoleState {
        match &self.remote {
            Some(remote) => Some(remote.current().await),
            None => None,
        }
    }
}

/// The tower layer protecting an MCP Streamable HTTP endpoint. Cheap to clone; every clone
/// shares the validator and the session key.
#[derive(Clone)]
pub struct AuthSecLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AuthSecLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSecLayer")
            .field("validator", &self.shared.validator)
            .finish()
    }
}

impl AuthSecLayer {
    /// A layer deciding with `validator` and its configuration, for the policy modes that need
    /// no console (`local_only`, `open`). A remote policy mode is
    /// [`LayerError::RemotePolicyWithoutClient`]: start such a layer with
    /// [`AuthSecLayer::start`], which fetches the console's policy first.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use authsec::{http::AuthSecLayer, Config, Validator};
    ///
    /// let layer = AuthSecLayer::new(Validator::new(Config::from_env()?).await?)?;
    /// # Ok(()) }
    /// ```
    pub fn new(validator: Validator) -> Result<Self, LayerError> {
        match validator.config().policy_mode {
            mode @ (PolicyMode::RemoteRequired | PolicyMode::RemoteWithLocalFallback) => {
                Err(LayerError::RemotePolicyWithoutClient { mode })
            }
            PolicyMode::LocalOnly | PolicyMode::Open => Ok(Self::build(validator, None)),
        }
    }

    /// Starts a layer for `validator`'s configuration, in any policy mode. Options chain before
    /// the `.await`:
    ///
    /// - [`Start::manifest`]: the tools, prompts and resources to publish when
    ///   `publish_manifest` is on (a failure is logged, never fatal);
    /// - [`Start::remote_policy`]: a console policy client already running; without one, the
    ///   remote policy modes start one ([`RemotePolicy::start`]; in `remote_required` a failed
    ///   first fetch is the error returned).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use authsec::{http::AuthSecLayer, policy::remote::Manifest, Config, Validator};
    ///
    /// let validator = Validator::new(Config::from_env()?).await?;
    /// let manifest = Manifest::default(); // the server's tools, prompts and resources
    /// let layer = AuthSecLayer::start(validator).manifest(&manifest).await?;
    /// # Ok(()) }
    /// ```
    pub fn start<'a>(validator: Validator) -> Start<'a> {
        Start {
            validator,
            manifest: None,
            remote: None,
        }
    }

    fn build(validator: Validator, remote: Option<RemotePolicy>) -> Self {
        if validator.config().policy_mode == PolicyMode::Open {
            tracing::warn!(
                target: "authsec::config",
                "policy_mode = open: any valid token may call any tool, get any prompt and read \
                 any resource; per-tool scopes are NOT enforced"
            );
        } else {
            log_unmapped_kinds(validator.config());
        }
        let key = validator.config().session_key.as_ref();
        if key.is_none() {
            tracing::info!(
                target: "authsec::config",
                "no session_key set: session ids are sealed with a random key, so sessions end \
                 with this process and are not shared with other instances (set \
                 AUTHSEC_SESSION_KEY to the same secret on every instance)"
            );
        }
        let sessions = SessionSeal::new(key.map(|k| k.expose().as_bytes()));
        AuthSecLayer {
            shared: Arc::new(Shared {
                validator,
                sessions,
                remote,
            }),
        }
    }

    /// The validator.
    pub fn validator(&self) -> &Validator {
        &self.shared.validator
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        self.shared.validator.config()
    }

    /// The remote policy client (in the remote policy modes).
    pub fn remote_policy(&self) -> Option<&RemotePolicy> {
        self.shared.remote.as_ref()
    }

    /// `scopes_supported` now: configured, else from the policy in force (the console's in
    /// the remote modes). The protected resource metadata serves this.
    pub async fn scopes_supported(&self) -> Vec<String> {
        let console = self.shared.console_state().await;
        PolicyView::select(self.config(), console.as_ref()).scopes_supported(self.config())
    }
}

/// Says at start-up which kinds the local policy maps nothing of: every prompt or resource is
/// then denied (unmapped), which a server that configured only tools may not expect. In the
/// remote modes the console's policy decides, and the local maps only as a fallback.
fn log_unmapped_kinds(config: &Config) {
    let remote = matches!(config.policy_mode, PolicyMode::RemoteRequired);
    for (kind, empty, setting, methods) in [
        (
            "prompt",
            config.prompt_policy.is_empty(),
            "AUTHSEC_PROMPT_SCOPES_JSON",
            "prompts/get is denied (prompt_unmapped) and prompts/list is empty",
        ),
        (
            "resource",
            config.resource_policy.is_empty(),
            "AUTHSEC_RESOURCE_SCOPES_JSON",
            "resources/read and resource subscriptions are denied (resource_unmapped) and \
             resources/list and resources/templates/list are empty",
        ),
    ] {
        if empty && !remote {
            tracing::info!(
                target: "authsec::config",
                kind,
                setting,
                "no {kind} is mapped in the local policy: every {methods}; map them in \
                 {setting} ([] for public)"
            );
        }
    }
}

/// Publishes the manifest at start-up; failures are logged (the policy, not the manifest,
/// decides what is allowed).
async fn publish_at_startup(config: &Config, manifest: &Manifest) {
    let client = match crate::policy::remote::ConsoleClient::new(config) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(target: "authsec::policy", error = %e, "publish_manifest is on but the manifest cannot be sent");
            return;
        }
    };
    if manifest.is_empty() {
        tracing::warn!(target: "authsec::policy", "publish_manifest is on but no tools, prompts or resources were given; nothing published");
        return;
    }
    match client.publish_manifest(manifest).await {
        Ok(outcome) => tracing::info!(
            target: "authsec::policy",
            generation = outcome.generation,
            added = ?outcome.added,
            updated = ?outcome.updated,
            unchanged = outcome.unchanged,
            prompts_added = ?outcome.prompts_added,
            resources_added = ?outcome.resources_added,
            "manifest published (a tool, prompt or resource the console has no mapping for is denied until an admin maps it)"
        ),
        Err(e) => {
            tracing::warn!(target: "authsec::policy", error = %e, "manifest not published")
        }
    }
}

/// The start of an [`AuthSecLayer`] ([`AuthSecLayer::start`]): chain its options, then
/// `.await` it.
#[must_use = "a layer starts when awaited"]
pub struct Start<'a> {
    validator: Validator,
    manifest: Option<&'a Manifest>,
    remote: Option<RemotePolicy>,
}

impl std::fmt::Debug for Start<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Start")
            .field("validator", &self.validator)
            .field("manifest", &self.manifest.is_some())
            .field("remote_policy", &self.remote.is_some())
            .finish()
    }
}

impl<'a> Start<'a> {
    /// The tools, prompts and resources published to the console when `publish_manifest` is
    /// on. Without one, nothing is published (and that is logged when the setting is on).
    pub fn manifest(mut self, manifest: &'a Manifest) -> Self {
        self.manifest = Some(manifest);
        self
    }

    /// Decide with this console policy client instead of starting one (in the remote policy
    /// modes; the local modes have none).
    pub fn remote_policy(mut self, remote: RemotePolicy) -> Self {
        self.remote = Some(remote);
        self
    }

    async fn run(self) -> Result<AuthSecLayer, LayerError> {
        let config = self.validator.config();
        if config.publish_manifest {
            publish_at_startup(config, self.manifest.unwrap_or(&Manifest::default())).await;
        }
        let remote = match config.policy_mode {
            PolicyMode::RemoteRequired | PolicyMode::RemoteWithLocalFallback => match self.remote {
                Some(remote) => remote,
                None => RemotePolicy::start(config).await?,
            },
            PolicyMode::LocalOnly | PolicyMode::Open => {
                return Ok(AuthSecLayer::build(self.validator, None))
            }
        };
        Ok(AuthSecLayer::build(self.validator, Some(remote)))
    }
}

impl<'a> std::future::IntoFuture for Start<'a> {
    type Output = Result<AuthSecLayer, LayerError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// Why an [`AuthSecLayer`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// A remote policy mode needs the console's policy client, which only
    /// [`AuthSecLayer::start`] provides.
    #[error(
        "policy_mode = {} needs the console's policy: build the layer with AuthSecLayer::start(validator).await",
        mode.as_str()
    )]
    RemotePolicyWithoutClient {
        /// The configured mode.
        mode: PolicyMode,
    },
    /// The console's first policy could not be fetched (`remote_required`), or its client not
    /// configured.
    #[error(transparent)]
    RemotePolicy(#[from] RemotePolicyError),
}

impl<S> tower_layer::Layer<S> for AuthSecLayer {
    type Service = AuthSec<S>;
    fn layer(&self, inner: S) -> AuthSec<S> {
        AuthSec {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The protected service produced by [`AuthSecLayer`].
#[derive(Clone)]
pub struct AuthSec<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for AuthSec<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSec")
            .field("validator", &self.shared.validator)
            .finish()
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for AuthSec<S>
where
    S: tower_service::Service<Request<RequestBody>, Response = Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // The ready service goes into the future; a fresh clone stays for the next call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(handle(shared, inner, req))
    }
}

/// Everything known about one request while it is decided; renders and logs the outcome.
struct Attempt<'a> {
    shared: &'a Shared,
    policy: PolicyView<'a>,
    started: Instant,
    http_method: Method,
    /// The `MCP-Protocol-Version` header.
    protocol_version: Option<String>,
    inspection: Option<Result<Inspection, AuthError>>,
    fingerprint: Option<Fingerprint>,
    principal: Option<Principal>,
}

impl Attempt<'_> {
    fn config(&self) -> &Config {
        self.shared.validator.config()
    }

    fn inspected(&self) -> Option<&Inspection> {
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
        let mut ctx = ChallengeContext::for_request(config, None);
        ctx.challenge_scope = config.challenge_scope.for_protocol(self.protocol());
        if config.base_scopes.is_empty() {
            ctx.scope = self.policy.scopes_supported(config);
        }
        let mut scoped: Vec<String> = Vec::new();
        for (kind, name) in self.inspected().into_iter().flat_map(Inspection::targets) {
            for rule in self.policy.rules(kind, name) {
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

    fn emit(&self, outcome: Result<(), &AuthError>) {
        let denied = outcome
            .err()
            .and_then(AuthError::target)
            .map(|t| (t.kind, t.name.as_str()));
        let target = denied.or_else(|| self.inspected().and_then(|i| i.targets().next()));
        let required = match (outcome, target) {
            (Err(AuthError::InsufficientScope { required, .. }), _) => required.as_slice(),
            (_, Some((TargetKind::Tool, tool))) => self
                .policy
                .rule(tool)
                .map(ToolRule::scopes)
                .unwrap_or_default(),
            (_, Some((kind, name))) => self
                .policy
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
                protocol_version: self
                    .protocol_version
                    .as_deref()
                    .or_else(|| self.inspected().and_then(Inspection::protocol_version)),
                traceparent: self.inspected().and_then(Inspection::traceparent),
            },
            outcome,
        );
    }

    /// Renders a denial (in band when configured and possible) and logs it.
    fn deny<B>(&self, err: AuthError) -> Response<ResponseBody<B>> {
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

fn json_response<B>(status: StatusCode, body: String) -> Response<ResponseBody<B>> {
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

async fn read_body<B>(headers: &HeaderMap, body: B, limit: usize) -> Result<Bytes, AuthError>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(AuthError::PayloadTooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(AuthError::PayloadTooLarge { limit }),
        Err(_) => Err(AuthError::InvalidRequest(InvalidRequest::MalformedBody)),
    }
}

async fn handle<S, ReqBody, ResBody>(
    shared: Arc<Shared>,
    mut inner: S,
    req: Request<ReqBody>,
) -> Result<Response<ResponseBody<ResBody>>, S::Error>
where
    S: tower_service::Service<Request<RequestBody>, Response = Response<ResBody>>,
    ReqBody: Body,
    ReqBody::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
{
    let (mut parts, body) = req.into_parts();
    let config = shared.validator.config();
    let started = Instant::now();
    let console = shared.console_state().await;
    let mut attempt = Attempt {
        shared: &shared,
        policy: PolicyView::select(config, console.as_ref()),
        started,
        http_method: parts.method.clone(),
        protocol_version: parts
            .headers
            .get(mcp::PROTOCOL_VERSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        inspection: None,
        fingerprint: None,
        principal: None,
    };

    let bytes = match read_body(&parts.headers, body, config.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return Ok(attempt.deny(e)),
    };
    // MCP messages travel in POST bodies only. A body on another method is refused (after
    // authentication): it can neither call a tool nor change how a response is filtered.
    let is_post = parts.method == Method::POST;
    if is_post {
        attempt.inspection = Some(mcp::inspect(&bytes));
    }

    // In-band mode lets the handshake and liveness through without a token, so clients that
    // cannot act on HTTP challenges still connect and then learn in band why a call fails.
    // Only a POST that opens no existing session: a request without a valid token never
    // touches a session.
    let lifecycle_pass = config.in_band_denials
        && is_post
        && !parts.headers.contains_key(mcp::SESSION_HEADER)
        && attempt
            .inspected()
            .is_some_and(Inspection::is_lifecycle_only);

    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let principal = if token::form_body_has_access_token(content_type, &bytes) {
        Err(AuthError::InvalidRequest(InvalidRequest::TokenInBody))
    } else {
        match token::extract_bearer(&parts.headers, parts.uri.query(), config.max_token_bytes) {
            Ok(token) => shared.validator.validate(token).await.inspect_err(|_| {
                attempt.fingerprint = Some(Fingerprint::of(token));
            }),
            Err(e) => Err(e),
        }
    };
    let principal = match principal {
        Ok(p) => {
            attempt.principal = Some(p.clone());
            Some(p)
        }
        Err(_) if lifecycle_pass => None,
        Err(e) => return Ok(attempt.deny(e)),
    };

    if !is_post && !bytes.is_empty() {
        return Ok(attempt.deny(AuthError::InvalidRequest(InvalidRequest::BodyNotAllowed)));
    }
    if let Some(Err(e)) = &attempt.inspection {
        return Ok(attempt.deny(e.clone()));
    }
    if let Some(inspection) = attempt.inspected() {
        if let Err(e) = mcp::check_mcp_name(&parts.headers, inspection) {
            return Ok(attempt.deny(e));
        }
    }

    // The verified sealed id and its inner id, to answer an echo of the same id without
    // sealing it again.
    let mut presented = None;
    match shared.sessions.open(&parts.headers, principal.as_ref()) {
        Ok(Some(inner_id)) => match HeaderValue::from_str(&inner_id) {
            Ok(v) => {
                if let Some(sealed) = parts.headers.insert(mcp::SESSION_HEADER, v) {
                    presented = Some((inner_id, sealed));
                }
            }
            Err(_) => {
                return Ok(attempt.deny(AuthError::InvalidRequest(
                    InvalidRequest::MalformedSessionId,
                )))
            }
        },
        Ok(None) => {}
        Err(e) => return Ok(attempt.deny(e)),
    }

    if let (Some(principal), Some(inspection)) = (&principal, attempt.inspected()) {
        for (kind, name) in inspection.targets() {
            if let Err(e) = attempt.policy.decide_target(principal.scopes(), kind, name) {
                return Ok(attempt.deny(e));
            }
        }
    }

    attempt.emit(Ok(()));
    let filtering = config.filter_tools_list && !attempt.policy.is_open();
    drop(attempt);

    if let Some(p) = &principal {
        parts.extensions.insert(p.clone());
    }
    let response = inner
        .call(Request::from_parts(parts, Full::new(bytes)))
        .await?;
    let (mut rparts, rbody) = response.into_parts();
    shared.sessions.seal_response(
        &mut rparts.headers,
        principal.as_ref(),
        presented.as_ref().map(|(id, sealed)| (id.as_str(), sealed)),
    );

    if !filtering {
        return Ok(Response::from_parts(rparts, ResponseBody::inner(rbody)));
    }
    let allow = ListAllow {
        shared,
        console,
        principal,
    };
    Ok(filter_response(rparts, rbody, allow).await)
}

/// Which listed items a caller may see: the tools, prompts and resources the policy in force
/// lets it use, and the resource templates it maps and allows. Without a principal (the
/// in-band handshake) none.
struct ListAllow {
    shared: Arc<Shared>,
    console: ConsoleState,
    principal: Option<Principal>,
}

impl ListAllow {
    fn allows(&self, item: Listed<'_>) -> bool {
        let Some(p) = self.principal.as_ref() else {
            return false;
        };
        let view = PolicyView::select(self.shared.validator.config(), self.console.as_ref());
        let (kind, name) = match item {
            Listed::Tool(n) => (TargetKind::Tool, n),
            Listed::Prompt(n) => (TargetKind::Prompt, n),
            Listed::Resource(uri) => (TargetKind::Resource, uri),
            Listed::ResourceTemplate(t) => return view.allows_template(p.scopes(), t),
        };
        view.decide_target(p.scopes(), kind, name).is_ok()
    }
}

/// Filters every list result of a response for the caller (see [`crate::filter`]): event
/// streams as they flow, anything else buffered. A response that may carry a list but cannot
/// be read — an unknown `Content-Encoding`, invalid JSON, a list in a body of another media
/// type — is withheld: 502 with a JSON-RPC error.
async fn filter_response<B>(
    mut rparts: http::response::Parts,
    rbody: B,
    allow: ListAllow,
) -> Response<ResponseBody<B>>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    if rbody.size_hint().exact() == Some(0) && rbody.is_end_stream() {
        return Response::from_parts(rparts, ResponseBody::inner(rbody));
    }
    let encoded = rparts
        .headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if encoded {
        return withheld(rparts, "the response is compressed");
    }
    let media = rparts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if media.as_deref() == Some("text/event-stream") {
        rparts.headers.remove(header::CONTENT_LENGTH);
        let allow = Box::new(move |item: Listed<'_>| allow.allows(item));
        return Response::from_parts(rparts, ResponseBody::sse(rbody, SseFilter::new(allow)));
    }
    let Ok(collected) = rbody.collect().await else {
        return withheld(rparts, "the response body failed mid-way");
    };
    let original = collected.to_bytes();
    let is_json = media
        .as_deref()
        .is_some_and(|m| m == "application/json" || m.ends_with("+json"));
    let filtered = if is_json {
        filter::filter_json(&original, &|item: Listed<'_>| allow.allows(item))
    } else if filter::may_carry_list(&original) {
        Err(filter::Unreadable)
    } else {
        Ok(None)
    };
    let body = match filtered {
        Ok(None) => original,
        Ok(Some(body)) => {
            rparts.headers.remove(header::CONTENT_LENGTH);
            Bytes::from(body)
        }
        Err(filter::Unreadable) if is_json => return withheld(rparts, "invalid JSON"),
        Err(filter::Unreadable) => {
            return withheld(rparts, "an unknown media type that may carry a list")
        }
    };
    Response::from_parts(rparts, ResponseBody::full(body))
}

/// The 502 that replaces a response that cannot be filtered.
fn withheld<B>(mut rparts: http::response::Parts, why: &str) -> Response<ResponseBody<B>> {
    tracing::warn!(
        target: "authsec::filter",
        why,
        status = rparts.status.as_u16(),
        "a response of the MCP server could not be read for list filtering; answered 502"
    );
    let mut resp = json_response(
        StatusCode::BAD_GATEWAY,
        filter::withheld_error().to_string(),
    );
    // Keep what is not about the body (the session id a client needs, for one).
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
    ] {
        rparts.headers.remove(name);
    }
    for (name, value) in rparts
        .headers
        .drain()
        .filter_map(|(n, v)| n.map(|n| (n, v)))
    {
        resp.headers_mut().entry(name).or_insert(value);
    }
    resp
}

pin_project! {
    /// The response body of [`AuthSec`]: the inner body, a rendered denial, or the inner SSE
    /// stream passing through a `tools/list` filter.
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Full { data: Option<Bytes> },
        Sse { #[pin] body: B, filter: SseFilter, done: bool },
    }
}

impl<B> ResponseBody<B> {
    fn inner(body: B) -> Self {
        ResponseBody {
            kind: Kind::Inner { body },
        }
    }
    fn full(data: Bytes) -> Self {
        ResponseBody {
            kind: Kind::Full {
                data: (!data.is_empty()).then_some(data),
            },
        }
    }
    fn sse(body: B, filter: SseFilter) -> Self {
        ResponseBody {
            kind: Kind::Sse {
                body,
                filter,
                done: false,
            },
        }
    }
}

impl<B> Default for ResponseBody<B> {
    fn default() -> Self {
        ResponseBody::full(Bytes::new())
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match &self.kind {
            Kind::Inner { .. } => "ResponseBody::Inner",
            Kind::Full { .. } => "ResponseBody::Full",
            Kind::Sse { .. } => "ResponseBody::Sse",
        })
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx).map_err(Into::into),
            KindProj::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            KindProj::Sse {
                mut body,
                filter,
                done,
            } => loop {
                if *done {
                    return Poll::Ready(None);
                }
                match body.as_mut().poll_frame(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                        Ok(data) => {
                            let out = filter.push(&data);
                            if out.ended {
                                *done = true;
                                log_withheld_event();
                            }
                            if !out.bytes.is_empty() {
                                return Poll::Ready(Some(Ok(Frame::data(out.bytes))));
                            }
                        }
                        Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                    },
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
                    Poll::Ready(None) => {
                        *done = true;
                        let out = filter.finish();
                        if out.ended {
                            log_withheld_event();
                        }
                        if !out.bytes.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(out.bytes))));
                        }
                    }
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Full { data } => data.is_none(),
            Kind::Sse { done, .. } => *done,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Kind::Sse { .. } => SizeHint::default(),
        }
    }
}

fn log_withheld_event() {
    tracing::warn!(
        target: "authsec::filter",
        "an event of the MCP server's stream could not be read for list filtering; the stream was ended"
    );
}

/// Mounts `service` at `path` behind the authsec layer, and the RFC 9728 protected resource
/// metadata at the well-known path derived from the configured resource URI
/// (`/.well-known/oauth-protected-resource/mcp` for `https://host/mcp`).
///
/// `layer` comes from [`AuthSecLayer::new`] or [`AuthSecLayer::start`], so it holds the console
/// policy client every remote policy mode needs.
pub fn mount_mcp<St, S, B>(
    router: axum::Router<St>,
    path: &str,
    service: S,
    layer: AuthSecLayer,
) -> axum::Router<St>
where
    St: Clone + Send + Sync + 'static,
    S: tower_service::Service<
            Request<RequestBody>,
            Response = Response<B>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let config = layer.config().clone();
    let resource_path = url::Url::parse(&config.resource_uri)
        .map(|u| u.path().to_owned())
        .unwrap_or_default();
    if resource_path != path {
        tracing::warn!(
            target: "authsec::config",
            mounted = path,
            resource_uri = %config.resource_uri,
            "the MCP endpoint is mounted at a path other than the resource URI's; this is right \
             only behind a proxy that rewrites paths"
        );
    }
    let prm_path = metadata::well_known_path(&config.resource_uri);
    let metadata_route = {
        let layer = layer.clone();
        // `scopes_supported` follows the policy in force (the console's, live).
        axum::routing::get(move || {
            let layer = layer.clone();
            async move {
                let scopes = layer.scopes_supported().await;
                metadata::response::<axum::body::Body>(layer.config(), &scopes)
            }
        })
    };
    router
        .route(&prm_path, metadata_route)
        .route_service(path, tower_layer::Layer::layer(&layer, service))
}

/// The axum rejection when a handler asks for a [`Principal`] on a route the layer does not
/// protect: a server configuration error, answered with 500.
#[derive(Debug, Clone, Copy)]
pub struct MissingPrincipal;

impl axum::response::IntoResponse for MissingPrincipal {
    fn into_response(self) -> axum::response::Response {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "no authenticated principal: this route is not behind authsec's AuthSecLayer",
        )
            .into_response()
    }
}

impl<St: Send + Sync> axum::extract::FromRequestParts<St> for Principal {
    type Rejection = MissingPrincipal;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &St,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(MissingPrincipal)
    }
}

impl<St: Send + Sync> axum::extract::OptionalFromRequestParts<St> for Principal {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &St,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Principal>().cloned())
    }
}

/// rmcp integration: the caller's [`Principal`] inside tool handlers.
///
/// rmcp's Streamable HTTP server puts the request's `http::request::Parts` into the request
/// context's extensions; the layer put the principal into the parts' extensions. A tool
/// handler can take `Principal` as an argument:
///
/// ```ignore
/// #[tool(description = "Who am I?")]
/// async fn whoami(&self, principal: authsec::Principal) -> String {
///     principal.subject().unwrap_or_default().to_owned()
/// }
/// ```
#[cfg(feature = "rmcp")]
pub mod rmcp_support {
    use rmcp::handler::server::common::{AsRequestContext, FromContextPart};

    use crate::principal::Principal;

    /// The principal in an rmcp extensions map (from the HTTP parts, or inserted directly).
    pub fn principal_from_extensions(ext: &rmcp::model::Extensions) -> Option<Principal> {
        ext.get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>())
            .or_else(|| ext.get::<Principal>())
            .cloned()
    }

    /// How `config`'s tool policy covers the tools of `router`: tools it leaves unmapped
    /// (denied to everyone) and entries naming no tool of the router (a typo such as
    /// `get_wether`). Check it at start-up:
    ///
    /// ```ignore
    /// let coverage = tool_coverage(validator.config(), &MyServer::tool_router());
    /// if !coverage.is_complete() {
    ///     eprintln!("tool policy:\n{coverage}"); // or refuse to start
    /// }
    /// ```
    pub fn tool_coverage<S: Send + Sync + 'static>(
        config: &crate::config::Config,
        router: &rmcp::handler::server::router::tool::ToolRouter<S>,
    ) -> crate::policy::Coverage {
        let tools = router.list_all();
        config
            .tool_policy
            .coverage(tools.iter().map(|t| t.name.as_ref()))
    }

    /// The principal of an rmcp request context.
    pub fn principal_from_context(
        ctx: &rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Option<Principal> {
        principal_from_extensions(&ctx.extensions)
    }

    impl<C: AsRequestContext> FromContextPart<C> for Principal {
        fn from_context_part(context: &mut C) -> Result<Self, rmcp::ErrorData> {
            principal_from_extensions(&context.as_request_context().extensions).ok_or_else(|| {
                rmcp::ErrorData::internal_error(
                    "no authenticated principal: serve this rmcp service behind authsec's AuthSecLayer",
                    None,
                )
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeySet;

    fn validator(mode: PolicyMode) -> Validator {
        let config = Config::builder("https://issuer.example", "https://mcp.example/mcp")
            .policy_mode(mode)
            .resource_server_id("rs-525da3b4")
            .console_url("http://127.0.0.1:9")
            .console_credentials("rs-525da3b4", "secret")
            .build()
            .expect("config");
        Validator::with_keys(config, KeySet::default())
    }

    #[test]
    fn new_refuses_remote_required_without_a_policy_client() {
        let err = AuthSecLayer::new(validator(PolicyMode::RemoteRequired)).unwrap_err();
        assert_eq!(
            err,
            LayerError::RemotePolicyWithoutClient {
                mode: PolicyMode::RemoteRequired
            }
        );
        assert_eq!(
            err.to_string(),
            "policy_mode = remote_required needs the console's policy: build the layer with \
             AuthSecLayer::start(validator).await"
        );
    }

    #[test]
    fn new_refuses_remote_with_local_fallback_without_a_policy_client() {
        let err = AuthSecLayer::new(validator(PolicyMode::RemoteWithLocalFallback)).unwrap_err();
        assert_eq!(
            err,
            LayerError::RemotePolicyWithoutClient {
                mode: PolicyMode::RemoteWithLocalFallback
            }
        );
    }

    #[test]
    fn new_builds_the_local_modes_without_a_policy_client() {
        for mode in [PolicyMode::LocalOnly, PolicyMode::Open] {
            let layer = AuthSecLayer::new(validator(mode)).expect("a local mode");
            assert!(layer.remote_policy().is_none());
        }
    }

    #[tokio::test]
    async fn start_uses_the_given_policy_client_in_a_remote_mode() {
        let v = validator(PolicyMode::RemoteWithLocalFallback);
        let remote = RemotePolicy::new(v.config()).expect("remote policy client");
        let layer = AuthSecLayer::start(v)
            .remote_policy(remote)
            .await
            .expect("started");
        assert!(layer.remote_policy().is_some());
    }

    #[tokio::test]
    async fn start_in_a_local_mode_holds_no_policy_client() {
        let layer = AuthSecLayer::start(validator(PolicyMode::LocalOnly))
            .await
            .expect("started");
        assert!(layer.remote_policy().is_none());
    }
}

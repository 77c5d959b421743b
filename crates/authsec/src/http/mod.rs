//! HTTP integration: a tower [`AuthSecLayer`] that protects any MCP Streamable HTTP service,
//! [`mount_mcp`] for axum (the protected endpoint plus its RFC 9728 metadata route), and the
//! [`Principal`](crate::Principal) as an axum extractor and an rmcp tool-handler argument.
//!
//! The layer is a stack of small stages, each a tower [`Service`](tower_service::Service) (and
//! a crate-private [`Layer`](tower_layer::Layer) that builds it) in its own module, composed
//! with [`tower::ServiceBuilder`]; the stages' types are public only because [`AuthSec`] names
//! them. For every request to the MCP endpoint — `POST`, the `GET` SSE stream and `DELETE` —
//! in order:
//!
//! 1. [`inspect`]: buffers the body up to [`Config::max_body_bytes`] (above: 413) and parses a
//!    `POST` body as JSON-RPC (single message or batch; see the JSON-RPC inspection);
//! 2. [`authenticate`]: requires a valid bearer token ([`Validator::validate`]); a 401 names,
//!    in `scope`, what the operation needs (a mapped tool's, prompt's or resource's scopes for
//!    its `tools/call`, `prompts/get` or `resources/read`, else the base scopes or
//!    `scopes_supported`); in-band mode lets the lifecycle handshake through without one;
//! 3. [`inspect::WellFormed`]: refuses unparsable bodies (400 `malformed_body`), a body on any
//!    method but `POST` (400 `body_not_allowed`) and routing headers that disagree with the
//!    body (400 `mcp_method_mismatch` / `mcp_name_mismatch`);
//! 4. [`session`]: opens the `Mcp-Session-Id`: it must have been issued by this deployment for
//!    this principal (403 `session_principal_mismatch`, 404 `session_unknown`; see
//!    [`session`]'s table), and the inner service sees its own id;
//! 5. [`authorize`]: decides every target of the body with the policy in force (the local
//!    maps, or the console's policy in the remote modes); one denial denies the body whole
//!    (403 `insufficient_scope` / `tool_unmapped` / `prompt_unmapped` / `resource_unmapped` /
//!    `policy_incomplete`; 503 `policy_unavailable` without a usable policy in
//!    `remote_required`);
//! 6. [`filter`]: inserts the [`Principal`](crate::Principal) into the request extensions,
//!    calls the inner service and filters every `tools/list`, `prompts/list`,
//!    `resources/list` and `resources/templates/list` result in the response (JSON and SSE,
//!    whatever its id) to what the principal may use, marked `"cacheScope": "private"`; a response that may carry
//!    one but cannot be read is withheld (502);
//!
//! and on the way out [`session`] seals a session id the inner service issued to the principal.
//!
//! What the stages learn travels with the request as its body, one [`Attempt`]; a denial
//! from any stage, or the allow in [`authorize`], is the request's one `authsec::decision`
//! event.
//!
//! The layer takes any request body that is `Unpin` (axum's, hyper's and `http-body-util`'s
//! are): a body that has already arrived is read without deferring the call.
//!
//! [`AuthSecLayer::start`] builds the layer in any policy mode: it publishes the manifest of
//! tools, prompts and resources (when configured) and, in the remote policy modes, fetches the
//! console's policy before the server serves. [`AuthSecLayer::new`] builds it at once for the
//! local modes, and refuses the remote ones ([`LayerError`]).
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
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

use bytes::Bytes;
use http_body_util::Full;
use tower::layer::util::{Identity, Stack};
use tower::ServiceBuilder;

use crate::config::{Config, PolicyMode};
#[cfg(feature = "remote-policy")]
use crate::policy::remote::{Manifest, RemotePolicy, RemotePolicyError};
use crate::policy::PolicyView;
use crate::session::SessionSeal;
use crate::validate::Validator;

mod attempt;
pub mod authenticate;
pub mod authorize;
mod buffer;
pub mod filter;
pub mod inspect;
mod reply;
pub mod session;

#[cfg(feature = "axum")]
mod axum_router;

pub use attempt::Attempt;
#[cfg(feature = "axum")]
pub use axum_router::{mount_mcp, MissingPrincipal};
pub use filter::ResponseBody;
pub use reply::Reply;

use attempt::ConsoleState;
use authenticate::{Authenticate, AuthenticateLayer};
use authorize::{Authorize, AuthorizeLayer};
use filter::{Filter, FilterLayer};
use inspect::{Inspect, InspectLayer, WellFormed, WellFormedLayer};
use session::{Session, SessionLayer};

/// A boxed error, the error type of [`ResponseBody`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type the inner service receives: the buffered request body.
pub type RequestBody = Full<Bytes>;

struct Shared {
    validator: Validator,
    sessions: SessionSeal,
    remote: Option<RemoteClient>,
}

/// The console's policy client; without the `remote-policy` feature there is none.
#[cfg(feature = "remote-policy")]
type RemoteClient = RemotePolicy;
#[cfg(not(feature = "remote-policy"))]
type RemoteClient = std::convert::Infallible;

impl Shared {
    async fn console_state(&self) -> ConsoleState {
        match &self.remote {
            #[cfg(feature = "remote-policy")]
            Some(remote) => Some(remote.current().await.map_err(Box::new)),
            #[cfg(not(feature = "remote-policy"))]
            Some(never) => match *never {},
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
            #[cfg(feature = "remote-policy")]
            manifest: None,
            remote: None,
            _lifetime: std::marker::PhantomData,
        }
    }

    fn build(validator: Validator, remote: Option<RemoteClient>) -> Self {
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
    #[cfg(feature = "remote-policy")]
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
#[cfg(feature = "remote-policy")]
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
    #[cfg(feature = "remote-policy")]
    manifest: Option<&'a Manifest>,
    remote: Option<RemoteClient>,
    _lifetime: std::marker::PhantomData<&'a ()>,
}

impl std::fmt::Debug for Start<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Start");
        d.field("validator", &self.validator);
        #[cfg(feature = "remote-policy")]
        d.field("manifest", &self.manifest.is_some());
        d.field("remote_policy", &self.remote.is_some()).finish()
    }
}

#[cfg(feature = "remote-policy")]
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
}

impl Start<'_> {
    #[cfg(feature = "remote-policy")]
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

    /// Without the console client a remote policy mode cannot have been configured
    /// ([`Config`] refuses it); [`AuthSecLayer::new`] says so if it was set by hand.
    #[cfg(not(feature = "remote-policy"))]
    async fn run(self) -> Result<AuthSecLayer, LayerError> {
        AuthSecLayer::new(self.validator)
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
    #[cfg(feature = "remote-policy")]
    #[error(transparent)]
    RemotePolicy(#[from] RemotePolicyError),
}

/// The stages of the layer, outermost first.
type Stages = Stack<
    FilterLayer,
    Stack<
        AuthorizeLayer,
        Stack<
            SessionLayer,
            Stack<WellFormedLayer, Stack<AuthenticateLayer, Stack<InspectLayer, Identity>>>,
        >,
    >,
>;

impl AuthSecLayer {
    /// The stages in order, as one [`ServiceBuilder`].
    fn stages(&self) -> ServiceBuilder<Stages> {
        ServiceBuilder::new()
            .layer(InspectLayer::new(self.shared.clone()))
            .layer(AuthenticateLayer)
            .layer(WellFormedLayer)
            .layer(SessionLayer)
            .layer(AuthorizeLayer)
            .layer(FilterLayer)
    }
}

impl<S> tower_layer::Layer<S> for AuthSecLayer {
    type Service = AuthSec<S>;
    fn layer(&self, inner: S) -> AuthSec<S> {
        self.stages().service(inner)
    }
}

/// The protected service produced by [`AuthSecLayer`]: its stages around `S`.
pub type AuthSec<S> = Inspect<Authenticate<WellFormed<Session<Authorize<Filter<S>>>>>>;

/// rmcp integration: the caller's [`Principal`](crate::Principal) inside tool handlers.
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
        let mut builder =
            Config::builder("https://issuer.example", "https://mcp.example/mcp").policy_mode(mode);
        if cfg!(feature = "remote-policy") {
            builder = builder
                .resource_server_id("rs-525da3b4")
                .console_url("http://127.0.0.1:9")
                .console_credentials("rs-525da3b4", "secret");
        }
        let config = builder.build().expect("config");
        Validator::with_keys(config, KeySet::default())
    }

    #[cfg(feature = "remote-policy")]
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

    #[cfg(feature = "remote-policy")]
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
            assert!(layer.shared.remote.is_none());
        }
    }

    #[cfg(feature = "remote-policy")]
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
        assert!(layer.shared.remote.is_none());
    }
}

/// What the stages' tests share: a layer deciding `echo` with `demo:read`, tokens for it, and
/// a next stage that records what reached it.
#[cfg(test)]
mod testing {
    use std::convert::Infallible;
    use std::sync::{Mutex, OnceLock};
    use std::task::{Context, Poll};

    use authsec_testkit::{claims, jwks, TestKey};
    use http::{HeaderMap, HeaderValue, Method};
    use http_body_util::BodyExt;
    use serde_json::Value;

    use super::*;
    use crate::config::ConfigBuilder;
    use crate::keys::KeySet;
    use crate::principal::Principal;
    use crate::principal::TokenKind;
    use crate::token::{Claims, Fingerprint};
    use http::{Request, Response};
    use http_body::Body;
    use tower_service::Service;

    pub(super) const ISSUER: &str = "https://as.example.com";
    pub(super) const RESOURCE: &str = "https://mcp.example.com/mcp";

    fn key() -> &'static TestKey {
        static KEY: OnceLock<TestKey> = OnceLock::new();
        KEY.get_or_init(|| TestKey::es256("k1"))
    }

    /// A local-policy layer (`echo` needs `demo:read`), its configuration adjusted by `tweak`.
    pub(super) fn local_layer(tweak: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> AuthSecLayer {
        let builder =
            Config::builder(ISSUER, RESOURCE).tool_scopes_json(r#"{"echo":["demo:read"]}"#);
        let config = tweak(builder).build().expect("config");
        let keys = KeySet::from_json(jwks(&[key()]).to_string().as_bytes()).expect("jwks");
        AuthSecLayer::new(Validator::with_keys(config, keys)).expect("a local policy mode")
    }

    /// A token for `alice` granting `scope`.
    pub(super) fn token(scope: &str) -> String {
        let mut c = claims(ISSUER, RESOURCE, scope);
        c["sub"] = "alice".into();
        key().token(&c)
    }

    /// A principal `subject` of the test issuer, granted nothing.
    pub(super) fn principal(subject: &str) -> Principal {
        principal_with(subject, "")
    }

    /// A principal `subject` of the test issuer, granted the space-separated `scopes`.
    pub(super) fn principal_with(subject: &str, scopes: &str) -> Principal {
        let claims = Claims {
            sub: Some(subject.to_owned()),
            scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            ..Claims::default()
        };
        Principal::from_owned_claims(claims, ISSUER, Fingerprint::of(subject), TokenKind::Jwt)
    }

    /// A request as [`inspect::Inspect`] passes it on: `body` buffered, and inspected when
    /// `method` is `POST`.
    pub(super) fn attempt_request(
        layer: &AuthSecLayer,
        method: Method,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Request<Attempt> {
        let mut builder = Request::builder().method(method).uri("/mcp");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (parts, ()) = builder.body(()).expect("request").into_parts();
        let mut attempt = Attempt::new(layer.shared.clone(), &parts.method, &parts.headers);
        if parts.method == Method::POST {
            attempt.inspection = Some(crate::mcp::inspect(body.as_bytes()));
        }
        attempt.body = Bytes::copy_from_slice(body.as_bytes());
        Request::from_parts(parts, attempt)
    }

    /// The JSON body of a response.
    pub(super) async fn body_json<B>(resp: Response<ResponseBody<B>>) -> Value
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        serde_json::from_slice(&bytes).expect("JSON body")
    }

    /// The next stage: answers 200 (with an `Mcp-Session-Id` when told to) and keeps the request
    /// it was given.
    #[derive(Clone, Default)]
    pub(super) struct Capture {
        seen: Arc<Mutex<Option<Request<Attempt>>>>,
        session: Option<&'static str>,
    }

    impl Capture {
        /// Answers with this `Mcp-Session-Id`.
        pub(super) fn answering_session(mut self, id: &'static str) -> Self {
            self.session = Some(id);
            self
        }

        pub(super) fn called(&self) -> bool {
            self.seen.lock().expect("lock").is_some()
        }

        /// The attempt the stage passed on.
        pub(super) fn attempt(&self) -> Attempt {
            self.seen
                .lock()
                .expect("lock")
                .take()
                .expect("called")
                .into_body()
        }

        /// The headers the stage passed on.
        pub(super) fn headers(&self) -> HeaderMap {
            let seen = self.seen.lock().expect("lock");
            seen.as_ref().expect("called").headers().clone()
        }
    }

    impl Service<Request<Attempt>> for Capture {
        type Response = Response<ResponseBody<Full<Bytes>>>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: Request<Attempt>) -> Self::Future {
            *self.seen.lock().expect("lock") = Some(req);
            let mut resp = Response::new(ResponseBody::full(Bytes::from_static(b"{}")));
            if let Some(id) = self.session {
                resp.headers_mut()
                    .insert(crate::mcp::SESSION_HEADER, HeaderValue::from_static(id));
            }
            std::future::ready(Ok(resp))
        }
    }
}

//! [`Access`]: everything an agent needs to call one protected resource — discovery, scope
//! selection, the grant, the cache, and what to do with a denial.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use authsec::explain::{ErrorCode, McpAuthError, NextStep};
use url::Url;

use crate::authorize::{self, AuthorizationRequest, Interactive, Loopback, Registered};
use crate::cache::{CacheKey, TokenCache};
use crate::credentials::{ClientAuth, ClientCredentials};
use crate::discovery::{self, Discovered};
use crate::enterprise::{self, IdentityAssertion};
use crate::error::Error;
use crate::token::{request_token, AccessToken, Token, TokenRequest};

/// How many step-up authorizations one request may trigger before
/// [`Error::StepUpLimit`]. With the first authorization that is three in all, the most the
/// MCP conformance suite allows.
pub const DEFAULT_MAX_STEP_UPS: u32 = 2;

/// A token is refreshed when it has less than this left.
pub const DEFAULT_REFRESH_AHEAD: Duration = Duration::from_secs(60);

/// Access to one protected resource (an MCP endpoint URL).
///
/// ```no_run
/// # async fn run() -> Result<(), authsec_client::Error> {
/// use authsec_client::{Access, ClientAuth, ClientCredentials, Secret};
///
/// let access = Access::for_resource("https://notes.example/mcp")?
///     .client_credentials(ClientCredentials::new(
///         "agent-7",
///         ClientAuth::Secret(Secret::new(std::env::var("CLIENT_SECRET").unwrap_or_default())),
///     ))
///     .build()?;
/// // Discovery (RFC 9728, RFC 8414), scope selection and the token request (RFC 8707 resource);
/// // cached and refreshed ahead of expiry.
/// let token = access.token().await?;
/// let _header = format!("Bearer {}", token.access_token.secret());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Access {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    url: Url,
    grant: Grant,
    cache: TokenCache,
    refresh_ahead: Duration,
    max_step_ups: u32,
    legacy_discovery: bool,
    fixed_scopes: Option<Vec<String>>,
    state: tokio::sync::Mutex<State>,
}

#[derive(Debug, Clone)]
enum Grant {
    ClientCredentials(ClientCredentials),
    AuthorizationCode {
        flow: Interactive,
        preregistered: Option<ClientCredentials>,
    },
    EnterpriseManaged {
        identity: IdentityAssertion,
        client: ClientCredentials,
    },
}

#[derive(Debug, Default)]
struct State {
    discovered: Option<Discovered>,
    /// The `resource_metadata` URL discovery started from.
    hint: Option<String>,
    /// The scopes requested now; `None` until selected.
    scopes: Option<Vec<String>>,
    /// The issuer configured credentials without one were first used with.
    bound_issuer: Option<String>,
    /// Client ids obtained by registration or metadata document, per issuer.
    registrations: HashMap<String, Registered>,
    /// The loopback port once one was picked (a registered redirect URI names it).
    redirect_port: Option<u16>,
}

/// Builds an [`Access`].
#[derive(Debug)]
pub struct AccessBuilder {
    url: Url,
    grant: Option<Grant>,
    http: Option<reqwest::Client>,
    cache: TokenCache,
    refresh_ahead: Duration,
    max_step_ups: u32,
    legacy_discovery: bool,
    scopes: Option<Vec<String>>,
}

/// The outcome of one attempt in [`Access::run`].
#[derive(Debug)]
pub enum Attempt<T> {
    /// The resource answered.
    Done(T),
    /// The resource denied the request (401 or 403), parsed by [`authsec::explain::parse`].
    Denied(Box<McpAuthError>),
}

/// Why [`Access::run`] gave up.
#[derive(Debug, thiserror::Error)]
pub enum RunError<E> {
    /// Getting a token failed, or a denial could not be overcome.
    #[error(transparent)]
    Auth(Error),
    /// The attempt itself failed.
    #[error(transparent)]
    Transport(E),
}

impl Access {
    /// Starts building access to the resource at `url` (an MCP endpoint).
    pub fn for_resource(url: &str) -> Result<AccessBuilder, Error> {
        let url =
            Url::parse(url).map_err(|e| Error::Config(format!("resource URL {url:?}: {e}")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(Error::Config(format!("resource URL {url} is not http(s)")));
        }
        Ok(AccessBuilder {
            url,
            grant: None,
            http: None,
            cache: TokenCache::new(),
            refresh_ahead: DEFAULT_REFRESH_AHEAD,
            max_step_ups: DEFAULT_MAX_STEP_UPS,
            legacy_discovery: false,
            scopes: None,
        })
    }

    /// The resource URL.
    pub fn url(&self) -> &Url {
        &self.inner.url
    }

    /// The scopes requested now (empty before the first token).
    pub async fn scopes(&self) -> Vec<String> {
        self.inner
            .state
            .lock()
            .await
            .scopes
            .clone()
            .unwrap_or_default()
    }

    /// What discovery found, once it ran.
    pub async fn discovered(&self) -> Option<Discovered> {
        self.inner.state.lock().await.discovered.clone()
    }

    /// A token for the resource: discovery from the well-known URLs if nothing is known yet,
    /// scopes as configured, else the metadata's `scopes_supported`, else none.
    pub async fn token(&self) -> Result<Token, Error> {
        {
            let mut st = self.inner.state.lock().await;
            if st.discovered.is_none() {
                self.discover(&mut st, None).await?;
            }
            if st.scopes.is_none() {
                st.scopes = Some(self.default_scopes(&st, &[]));
            }
        }
        self.fetch(false).await
    }

    /// Handles a 401: discovers from its `resource_metadata` (when new), takes its `scope`,
    /// drops `refused` (the token that was sent, if any) from the cache, and gets a token.
    pub async fn on_unauthorized(
        &self,
        denial: &McpAuthError,
        refused: Option<&AccessToken>,
    ) -> Result<Token, Error> {
        let stale_key = {
            let mut st = self.inner.state.lock().await;
            let hint = denial.resource_metadata.clone();
            if st.discovered.is_none() || (hint.is_some() && hint != st.hint) {
                self.discover(&mut st, hint.as_deref()).await?;
            }
            let current = st.scopes.clone();
            st.scopes = Some(match (refused, current) {
                // The token was refused (expired, revoked): keep what it had, add what is named.
                (Some(_), Some(cur)) => union(&cur, &denial.scope),
                _ => self.default_scopes(&st, &denial.scope),
            });
            Self::key(&st)
        };
        // Outside the state lock: a fetch holding the slot may need the state.
        if let (Some(refused), Some(key)) = (refused, stale_key) {
            self.inner.cache.invalidate(&key, refused.secret()).await;
        }
        self.fetch(false).await
    }

    /// Handles a 403 `insufficient_scope`: authorizes again requesting what was requested
    /// before plus what the challenge names (SEP-2350: a client accumulates scopes), and
    /// returns the new token. A denial that is not a step-up is [`Error::Denied`].
    pub async fn step_up(&self, denial: &McpAuthError) -> Result<Token, Error> {
        let NextStep::StepUp { scopes, .. } = denial.next_step() else {
            return Err(Error::Denied(Box::new(denial.clone())));
        };
        let force = {
            let mut st = self.inner.state.lock().await;
            if st.discovered.is_none() {
                self.discover(&mut st, denial.resource_metadata.as_deref())
                    .await?;
            }
            let current = st.scopes.clone().unwrap_or_default();
            let wanted = union(&current, &scopes);
            let unchanged =
                wanted.iter().collect::<BTreeSet<_>>() == current.iter().collect::<BTreeSet<_>>();
            st.scopes = Some(wanted);
            unchanged
        };
        // Asking again for the same scopes can still help (consent or policy may have changed
        // since), but the cached token cannot.
        self.fetch(force).await
    }

    /// Runs `attempt` with a token, reacting to denials: a 401 gets a token (discovering the
    /// authorization server from the challenge) and a retry, and a fresh token refused again is
    /// [`Error::Unauthorized`]; a 403 `insufficient_scope` steps up, at most
    /// [`AccessBuilder::max_step_ups`] times, then ends in [`Error::StepUpLimit`]; any other
    /// denial ends in [`Error::Denied`].
    ///
    /// The first attempt goes without a token until one was obtained, so the resource's
    /// challenge says where and what to ask for.
    pub async fn run<T, E, F, Fut>(&self, mut attempt: F) -> Result<T, RunError<E>>
    where
        F: FnMut(Option<AccessToken>) -> Fut,
        Fut: Future<Output = Result<Attempt<T>, E>>,
    {
        let known = self.inner.state.lock().await.scopes.is_some();
        let mut token = if known {
            Some(self.token().await.map_err(RunError::Auth)?.access_token)
        } else {
            None
        };
        let mut step_ups = 0u32;
        let mut fresh = false;
        loop {
            let denial = match attempt(token.clone()).await.map_err(RunError::Transport)? {
                Attempt::Done(t) => return Ok(t),
                Attempt::Denied(d) => d,
            };
            let status = denial.status.unwrap_or_default();
            if status == 401 {
                if fresh && token.is_some() {
                    return Err(RunError::Auth(Error::Unauthorized(denial)));
                }
                let t = self
                    .on_unauthorized(&denial, token.as_ref())
                    .await
                    .map_err(RunError::Auth)?;
                token = Some(t.access_token);
                fresh = true;
            } else if status == 403 && denial.error == Some(ErrorCode::InsufficientScope) {
                if step_ups >= self.inner.max_step_ups {
                    let requested = self.scopes().await;
                    tracing::warn!(
                        target: "authsec::client",
                        attempts = step_ups,
                        requested = %requested.join(" "),
                        "still insufficient_scope after the step-up limit"
                    );
                    return Err(RunError::Auth(Error::StepUpLimit {
                        attempts: step_ups,
                        requested,
                        denial,
                    }));
                }
                let t = self.step_up(&denial).await.map_err(RunError::Auth)?;
                step_ups += 1;
                token = Some(t.access_token);
                fresh = true;
            } else {
                return Err(RunError::Auth(Error::Denied(denial)));
            }
        }
    }

    /// The challenge's scope, else the resource's `scopes_supported`, else none (MCP
    /// 2025-11-25 "Scope selection strategy"); configured scopes win over all three.
    fn default_scopes(&self, st: &State, challenge: &[String]) -> Vec<String> {
        if let Some(s) = &self.inner.fixed_scopes {
            return s.clone();
        }
        if !challenge.is_empty() {
            return challenge.to_vec();
        }
        st.discovered
            .as_ref()
            .and_then(|d| d.resource_metadata.as_ref())
            .and_then(|m| m.scopes_supported.clone())
            .unwrap_or_default()
    }

    async fn discover(&self, st: &mut State, hint: Option<&str>) -> Result<(), Error> {
        let http = &self.inner.http;
        let url = &self.inner.url;
        let (prm, tried) = discovery::fetch_resource_metadata(http, url, hint).await?;
        let discovered = match prm {
            Some(prm) => {
                // One authorization server: the first listed (MCP 2025-11-25 leaves the choice
                // to the client).
                let issuer = prm.authorization_servers.first().cloned().ok_or_else(|| {
                    Error::InvalidMetadata {
                        url: hint.map_or_else(|| url.to_string(), str::to_owned),
                        what: "authorization_servers is empty".into(),
                    }
                })?;
                let server = discovery::fetch_server_metadata(http, &issuer).await?;
                Discovered {
                    resource: prm.resource.clone(),
                    resource_metadata: Some(prm),
                    server,
                }
            }
            None if self.inner.legacy_discovery => Discovered {
                resource: discovery::canonical_resource(url),
                resource_metadata: None,
                server: discovery::legacy_server_metadata(http, url).await?,
            },
            None => {
                return Err(Error::MetadataNotFound {
                    document: "protected resource metadata",
                    tried,
                })
            }
        };
        tracing::debug!(
            target: "authsec::client",
            resource = %discovered.resource,
            issuer = %discovered.server.issuer,
            "discovered the authorization server"
        );
        st.discovered = Some(discovered);
        st.hint = hint.map(str::to_owned);
        Ok(())
    }

    fn key(st: &State) -> Option<CacheKey> {
        let d = st.discovered.as_ref()?;
        Some(CacheKey {
            issuer: d.server.issuer.clone(),
            resource: d.resource.clone(),
            scopes: st.scopes.clone().unwrap_or_default().into_iter().collect(),
        })
    }

    /// The cached token for the current (issuer, resource, scopes), or a new one; `force`
    /// skips a cached one.
    async fn fetch(&self, force: bool) -> Result<Token, Error> {
        let (key, discovered, scopes) = {
            let st = self.inner.state.lock().await;
            let key = Self::key(&st).ok_or_else(|| Error::Config("nothing discovered".into()))?;
            let d = st
                .discovered
                .clone()
                .ok_or_else(|| Error::Config("nothing discovered".into()))?;
            (key, d, st.scopes.clone().unwrap_or_default())
        };
        let margin = (!force).then_some(self.inner.refresh_ahead);
        self.inner
            .cache
            .get_or_fetch(&key, margin, |stale| async move {
                if let Some(rt) = stale.and_then(|t| t.refresh_token) {
                    match self.refresh(&discovered, &scopes, rt.expose()).await {
                        Ok(t) => return Ok(t),
                        Err(e) => tracing::debug!(
                            target: "authsec::client",
                            error = %e,
                            "refresh failed; authorizing again"
                        ),
                    }
                }
                self.obtain(&discovered, &scopes).await
            })
            .await
    }

    async fn obtain(&self, d: &Discovered, scopes: &[String]) -> Result<Token, Error> {
        let server = &d.server;
        match &self.inner.grant {
            Grant::ClientCredentials(creds) => {
                self.bind(creds, &server.issuer).await?;
                if server.grant_types_supported.is_some()
                    && !server.supports_grant("client_credentials")
                {
                    return Err(Error::Unsupported {
                        issuer: server.issuer.clone(),
                        what: "the client_credentials grant".into(),
                    });
                }
                tracing::debug!(
                    target: "authsec::client",
                    issuer = %server.issuer,
                    scope = %scopes.join(" "),
                    "client_credentials token request"
                );
                request_token(
                    &self.inner.http,
                    TokenRequest {
                        server,
                        client_id: &creds.client_id,
                        auth: &creds.auth,
                        grant: vec![("grant_type", "client_credentials".into())],
                        resource: &d.resource,
                        scopes,
                    },
                )
                .await
            }
            Grant::EnterpriseManaged { identity, client } => {
                self.bind(client, &server.issuer).await?;
                if server.grant_types_supported.is_some()
                    && !server.supports_grant(enterprise::JWT_BEARER)
                {
                    return Err(Error::Unsupported {
                        issuer: server.issuer.clone(),
                        what: "the jwt-bearer grant".into(),
                    });
                }
                let jag = enterprise::id_jag(
                    &self.inner.http,
                    identity,
                    &server.issuer,
                    &d.resource,
                    scopes,
                )
                .await?;
                request_token(
                    &self.inner.http,
                    TokenRequest {
                        server,
                        client_id: &client.client_id,
                        auth: &client.auth,
                        grant: vec![
                            ("grant_type", enterprise::JWT_BEARER.into()),
                            ("assertion", jag.expose().to_owned()),
                        ],
                        resource: &d.resource,
                        scopes,
                    },
                )
                .await
            }
            Grant::AuthorizationCode {
                flow,
                preregistered,
            } => {
                self.authorization_code(d, scopes, flow, preregistered.as_ref())
                    .await
            }
        }
    }

    /// Checks (or sets, on first use) the issuer `creds` are bound to.
    async fn bind(&self, creds: &ClientCredentials, issuer: &str) -> Result<(), Error> {
        let mut st = self.inner.state.lock().await;
        match creds.issuer.as_ref().or(st.bound_issuer.as_ref()) {
            Some(bound) if bound != issuer => Err(Error::CredentialsForAnotherIssuer {
                bound: bound.clone(),
                discovered: issuer.to_owned(),
            }),
            Some(_) => Ok(()),
            None => {
                st.bound_issuer = Some(issuer.to_owned());
                Ok(())
            }
        }
    }

    async fn refresh(&self, d: &Discovered, scopes: &[String], rt: &str) -> Result<Token, Error> {
        let (client_id, auth) = match &self.inner.grant {
            Grant::ClientCredentials(c) | Grant::EnterpriseManaged { client: c, .. } => {
                (c.client_id.clone(), c.auth.clone())
            }
            Grant::AuthorizationCode { .. } => {
                let st = self.inner.state.lock().await;
                match st.registrations.get(&d.server.issuer) {
                    Some(r) => (r.client_id.clone(), r.auth.clone()),
                    None => return Err(Error::Config("no client for the refresh".into())),
                }
            }
        };
        let mut t = request_token(
            &self.inner.http,
            TokenRequest {
                server: &d.server,
                client_id: &client_id,
                auth: &auth,
                grant: vec![
                    ("grant_type", "refresh_token".into()),
                    ("refresh_token", rt.to_owned()),
                ],
                resource: &d.resource,
                scopes,
            },
        )
        .await?;
        if t.refresh_token.is_none() {
            // RFC 6749 §6: the old refresh token stays valid unless a new one is issued.
            t.refresh_token = Some(crate::credentials::Secret::new(rt));
        }
        Ok(t)
    }

    async fn authorization_code(
        &self,
        d: &Discovered,
        scopes: &[String],
        flow: &Interactive,
        preregistered: Option<&ClientCredentials>,
    ) -> Result<Token, Error> {
        let server = &d.server;
        let endpoint = server
            .authorization_endpoint
            .clone()
            .ok_or_else(|| Error::Unsupported {
                issuer: server.issuer.clone(),
                what: "the authorization code grant (no authorization_endpoint)".into(),
            })?;
        // MCP 2025-11-25: no advertised S256, no authorization.
        let s256 = server
            .code_challenge_methods_supported
            .as_ref()
            .is_some_and(|m| m.iter().any(|m| m == "S256"));
        if !s256 {
            return Err(Error::Unsupported {
                issuer: server.issuer.clone(),
                what: "PKCE with S256 (code_challenge_methods_supported)".into(),
            });
        }
        let port = self
            .inner
            .state
            .lock()
            .await
            .redirect_port
            .unwrap_or(flow.port);
        let listener = Loopback::bind(port).await?;
        self.inner.state.lock().await.redirect_port = Some(listener.port);
        let client = self
            .interactive_client(server, flow, preregistered, &listener.redirect_uri)
            .await?;
        let verifier = authorize::random_b64(32)?;
        let state = authorize::random_b64(16)?;
        // SEP-2207: ask for a refresh token where the server offers offline_access.
        let mut request_scopes = scopes.to_vec();
        if server
            .scopes_supported
            .as_ref()
            .is_some_and(|s| s.iter().any(|s| s == "offline_access"))
            && !request_scopes.iter().any(|s| s == "offline_access")
        {
            request_scopes.push("offline_access".into());
        }
        let url = AuthorizationRequest {
            endpoint: &endpoint,
            client_id: &client.client_id,
            redirect_uri: &listener.redirect_uri,
            challenge: &authorize::pkce_challenge(&verifier),
            state: &state,
            resource: &d.resource,
            scopes: &request_scopes,
        }
        .url()?;
        tracing::debug!(
            target: "authsec::client",
            issuer = %server.issuer,
            scope = %request_scopes.join(" "),
            "authorization request"
        );
        let code = tokio::time::timeout(flow.timeout, async {
            let response = listener.code(
                &state,
                &server.issuer,
                server.authorization_response_iss_parameter_supported,
            );
            tokio::pin!(response);
            // The user agent may return before the redirect arrives (a browser opened) or after
            // (an HTTP client that follows it); a failure to open ends the wait at once.
            tokio::select! {
                opened = (flow.user_agent)(url) => {
                    opened.map_err(|e| {
                        Error::Config(format!("could not open the authorization URL: {e}"))
                    })?;
                    response.await
                }
                code = &mut response => code,
            }
        })
        .await
        .map_err(|_| Error::AuthorizationTimeout {
            secs: flow.timeout.as_secs(),
        })??;
        let mut t = request_token(
            &self.inner.http,
            TokenRequest {
                server,
                client_id: &client.client_id,
                auth: &client.auth,
                grant: vec![
                    ("grant_type", "authorization_code".into()),
                    ("code", code),
                    ("redirect_uri", listener.redirect_uri.clone()),
                    ("code_verifier", verifier),
                ],
                resource: &d.resource,
                scopes: &[],
            },
        )
        .await?;
        // The scope of an authorization code is fixed by the authorization request.
        t.requested = scopes.to_vec();
        if t.scopes.is_empty() {
            t.scopes = scopes.to_vec();
        }
        Ok(t)
    }

    /// Who this client is at `server`: pre-registered credentials for it, else a client ID
    /// metadata document if the server accepts them, else dynamic registration.
    async fn interactive_client(
        &self,
        server: &discovery::ServerMetadata,
        flow: &Interactive,
        preregistered: Option<&ClientCredentials>,
        redirect_uri: &str,
    ) -> Result<Registered, Error> {
        if let Some(creds) = preregistered {
            if self.bind(creds, &server.issuer).await.is_ok() {
                let r = Registered {
                    client_id: creds.client_id.clone(),
                    auth: creds.auth.clone(),
                };
                self.remember(&server.issuer, &r).await;
                return Ok(r);
            }
        }
        if let Some(r) = self
            .inner
            .state
            .lock()
            .await
            .registrations
            .get(&server.issuer)
        {
            return Ok(r.clone());
        }
        let r = match (&flow.client_metadata_url, &server.registration_endpoint) {
            (Some(url), _) if server.client_id_metadata_document_supported => Registered {
                client_id: url.clone(),
                auth: ClientAuth::None,
            },
            (_, Some(endpoint)) => {
                authorize::register(
                    &self.inner.http,
                    server,
                    endpoint,
                    &flow.client_name,
                    redirect_uri,
                )
                .await?
            }
            _ => {
                return Err(Error::NoClientRegistration {
                    issuer: server.issuer.clone(),
                })
            }
        };
        self.remember(&server.issuer, &r).await;
        Ok(r)
    }

    async fn remember(&self, issuer: &str, r: &Registered) {
        self.inner
            .state
            .lock()
            .await
            .registrations
            .insert(issuer.to_owned(), r.clone());
    }
}

/// `a` followed by the members of `b` it lacks.
fn union(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = a.to_vec();
    for s in b {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    out
}

impl AccessBuilder {
    /// A machine client: the `client_credentials` grant with these credentials.
    pub fn client_credentials(mut self, creds: ClientCredentials) -> Self {
        self.grant = Some(Grant::ClientCredentials(creds));
        self
    }

    /// An interactive client: the authorization code grant with PKCE and a loopback redirect;
    /// `preregistered` credentials are used with the issuer they belong to.
    pub fn authorization_code(
        mut self,
        flow: Interactive,
        preregistered: Option<ClientCredentials>,
    ) -> Self {
        self.grant = Some(Grant::AuthorizationCode {
            flow,
            preregistered,
        });
        self
    }

    /// Enterprise-managed authorization (SEP-990): `identity`'s ID token is exchanged at the
    /// identity provider for an ID-JAG, which `client` presents with the `jwt-bearer` grant.
    pub fn enterprise_managed(
        mut self,
        identity: IdentityAssertion,
        client: ClientCredentials,
    ) -> Self {
        self.grant = Some(Grant::EnterpriseManaged { identity, client });
        self
    }

    /// Requests exactly these scopes instead of selecting them from challenges and metadata
    /// (step-up still adds what a 403 names).
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The HTTP client for metadata, registration and token requests.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Shares a token cache with other [`Access`] values.
    pub fn cache(mut self, cache: TokenCache) -> Self {
        self.cache = cache;
        self
    }

    /// Step-up authorizations allowed per request ([`DEFAULT_MAX_STEP_UPS`]).
    pub fn max_step_ups(mut self, n: u32) -> Self {
        self.max_step_ups = n;
        self
    }

    /// How long before expiry a token is replaced ([`DEFAULT_REFRESH_AHEAD`]).
    pub fn refresh_ahead(mut self, d: Duration) -> Self {
        self.refresh_ahead = d;
        self
    }

    /// Also accepts MCP 2025-03-26 servers without protected resource metadata: their origin
    /// is taken as the authorization server. Off by default: it trusts the resource's origin to
    /// name the authorization server, which RFC 9728 metadata makes explicit.
    pub fn allow_2025_03_26_discovery(mut self) -> Self {
        self.legacy_discovery = true;
        self
    }

    /// Builds the [`Access`].
    pub fn build(self) -> Result<Access, Error> {
        let grant = self.grant.ok_or_else(|| {
            Error::Config(
                "no grant: call client_credentials, authorization_code or enterprise_managed"
                    .into(),
            )
        })?;
        let http = match self.http {
            Some(h) => h,
            None => reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                // Metadata and token endpoints are not followed across redirects: a redirect
                // could move a client secret to another host.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| Error::Config(format!("HTTP client: {e}")))?,
        };
        Ok(Access {
            inner: Arc::new(Inner {
                http,
                url: self.url,
                grant,
                cache: self.cache,
                refresh_ahead: self.refresh_ahead,
                max_step_ups: self.max_step_ups,
                legacy_discovery: self.legacy_discovery,
                fixed_scopes: self.scopes,
                state: tokio::sync::Mutex::new(State::default()),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_keeps_order_and_adds_only_new_scopes() {
        let a = vec!["notes:read".to_owned(), "x".to_owned()];
        let b = vec!["notes:write".to_owned(), "notes:read".to_owned()];
        assert_eq!(union(&a, &b), ["notes:read", "x", "notes:write"]);
    }
}

//! # authsec-gateway
//!
//! `authsec gateway`: the same protection as the SDK's tower layer, in front of an MCP server
//! written in any language. The gateway validates the bearer token, enforces per-tool policy,
//! filters `tools/list`, then forwards the request with the caller's identity in
//! `X-Authsec-*` headers — never the token itself (the MCP authorization spec forbids token
//! passthrough).
//!
//! One request's path: client → [`authsec::http::AuthSecLayer`] (token, session binding, tool
//! policy; a denial is answered here) → [`Upstream`] (headers rewritten, body streamed) → the
//! MCP server; its response streams back through the layer, which rewrites only `tools/list`
//! results. Before the layer, [`rebinding`] refuses requests whose `Origin` or `Host` is not
//! the gateway's (DNS rebinding protection).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use authsec_gateway::GatewayConfig;
//!
//! let gateway = GatewayConfig::new("http://127.0.0.1:3001/mcp".parse()?)?;
//! let authsec = authsec::Config::from_env()?;
//! authsec_gateway::run(gateway, authsec, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod prometheus;
pub mod rebinding;
pub mod upstream;

use std::future::{Future, IntoFuture};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use authsec::http::{mount_mcp, AuthSecLayer};
use authsec::policy::remote::{
    manifest_from_mcp_prompts, manifest_from_mcp_resources, manifest_from_mcp_tools, Manifest,
};
use authsec::StartupError;
use authsec::Validator;
use axum::routing::{get, MethodRouter};
use axum::serve::ListenerExt;
use axum::Router;
use http::{HeaderName, HeaderValue};
use url::Url;

pub use rebinding::{HostPolicy, Refusal};
pub use upstream::{rpc_error, IdentityHeaders, Timeouts, Upstream, UpstreamInventory};

/// Where the gateway listens unless told otherwise: loopback only, port 8080.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// The liveness route.
pub const HEALTH_PATH: &str = "/healthz";

/// The readiness route: 200 once the gateway can decide requests (see [`readiness`]).
pub const READY_PATH: &str = "/readyz";

/// The Prometheus scrape route.
pub const METRICS_PATH: &str = "/metrics";

/// The gateway's own settings (the protection itself is an [`authsec::Config`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GatewayConfig {
    /// The upstream MCP endpoint, e.g. `http://127.0.0.1:3001/mcp`.
    pub upstream: Url,
    /// Where to listen.
    pub listen: SocketAddr,
    /// The path of the protected MCP endpoint; `None` (the default) uses the path of the
    /// resource URI, which is where clients send their requests.
    pub path: Option<String>,
    /// The names of the identity headers sent upstream.
    pub identity: IdentityHeaders,
    /// Upstream and shutdown timeouts.
    pub timeouts: Timeouts,
    /// Browser origins allowed to call the gateway (CORS); empty: no CORS headers, so
    /// browsers refuse cross-origin calls. See [`GatewayConfig::cors_allow_origins`].
    /// These are also the origins, besides the resource URI's, whose `Origin` header the
    /// MCP endpoint accepts ([`rebinding`]).
    pub cors: Vec<HeaderValue>,
    /// Host names accepted in `Host` besides the resource URI's host and the bound address;
    /// `*` accepts any. See [`GatewayConfig::allowed_hosts`].
    pub allowed_hosts: Vec<String>,
}

impl GatewayConfig {
    /// A configuration forwarding to `upstream`, listening on [`DEFAULT_LISTEN`]. The URL must
    /// be `http` or `https` with a host.
    pub fn new(upstream: Url) -> Result<Self, GatewayError> {
        if !matches!(upstream.scheme(), "http" | "https") {
            return Err(GatewayError::InvalidUpstream {
                url: upstream.to_string(),
                problem: "the scheme must be http or https",
            });
        }
        if upstream.host_str().is_none_or(str::is_empty) {
            return Err(GatewayError::InvalidUpstream {
                url: upstream.to_string(),
                problem: "the URL has no host",
            });
        }
        Ok(GatewayConfig {
            upstream,
            listen: DEFAULT_LISTEN,
            path: None,
            identity: IdentityHeaders::default(),
            timeouts: Timeouts::default(),
            cors: Vec::new(),
            allowed_hosts: Vec::new(),
        })
    }

    /// Listens on `addr`.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Serves the MCP endpoint at `path` instead of the resource URI's path.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Sends the identity under these header names.
    pub fn identity_headers(mut self, identity: IdentityHeaders) -> Self {
        self.identity = identity;
        self
    }

    /// Uses these timeouts.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Lets browser-based MCP clients from these origins call the gateway: preflight requests
    /// are answered without a token, and responses carry `Access-Control-Allow-Origin` and
    /// expose `WWW-Authenticate` (so the client can find the resource metadata of a 401) and
    /// `Mcp-Session-Id`. Each origin is `scheme://host[:port]`, or `*` for any origin.
    pub fn cors_allow_origins<I, S>(mut self, origins: I) -> Result<Self, GatewayError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for origin in origins {
            let origin = origin.as_ref();
            self.cors.push(
                parse_origin(origin).ok_or_else(|| GatewayError::InvalidOrigin {
                    origin: origin.to_owned(),
                })?,
            );
        }
        Ok(self)
    }

    /// Accepts these host names in the `Host` header of requests to the MCP endpoint and its
    /// metadata, besides the resource URI's host and the address the gateway is bound to
    /// (with `localhost` for a loopback address): the names clients use when they reach the
    /// gateway by another name than the public URL (an internal DNS name, a pod IP). Each is
    /// a bare host name or IP address (IPv6 in brackets), without port; `*` accepts any host,
    /// which turns off the `Host` half of the DNS rebinding protection.
    pub fn allowed_hosts<I, S>(mut self, hosts: I) -> Result<Self, GatewayError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for host in hosts {
            let host = host.as_ref();
            if !rebinding::valid_host_entry(host) {
                return Err(GatewayError::InvalidHost {
                    host: host.to_owned(),
                });
            }
            self.allowed_hosts.push(host.to_ascii_lowercase());
        }
        Ok(self)
    }

    /// The path the MCP endpoint is served at: [`GatewayConfig::path`], else the resource
    /// URI's path.
    pub fn mcp_path(&self, authsec: &authsec::Config) -> String {
        match &self.path {
            Some(p) => p.clone(),
            None => Url::parse(&authsec.resource_uri)
                .map(|u| u.path().to_owned())
                .unwrap_or_else(|_| "/".to_owned()),
        }
    }
}

/// Why the gateway could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The upstream URL cannot be proxied to.
    #[error("upstream URL {url}: {problem}")]
    InvalidUpstream {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The MCP endpoint's path collides with one of the gateway's own routes.
    #[error("the MCP endpoint path {path:?} collides with the gateway's own {path:?} route; serve MCP at another path")]
    PathConflict {
        /// The colliding path.
        path: String,
    },
    /// A CORS origin is not `scheme://host[:port]` or `*`.
    #[error(
        "CORS origin {origin:?}: expected scheme://host[:port] (no path), or * for any origin"
    )]
    InvalidOrigin {
        /// The origin as given.
        origin: String,
    },
    /// An allowed host is not a bare host name or IP address, or `*`.
    #[error("allowed host {host:?}: expected a host name or IP address without scheme, port or path (IPv6 in brackets), or * for any host")]
    InvalidHost {
        /// The host as given.
        host: String,
    },
    /// The validator could not start (e.g. the issuer's metadata names another issuer).
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// The layer could not start: a remote policy mode could not fetch its first policy
    /// (`remote_required`).
    #[error(transparent)]
    Policy(#[from] authsec::http::LayerError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The server failed.
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// The gateway's router: the MCP endpoint (`POST`, `GET` for SSE, `DELETE`) behind the authsec
/// layer and forwarded to the upstream, the RFC 9728 metadata route, [`HEALTH_PATH`],
/// [`READY_PATH`] and [`METRICS_PATH`].
///
/// The MCP endpoint and the metadata route check `Origin` and `Host` first ([`rebinding`],
/// with `gateway.listen` as the bound address). The operational routes do not: probes and
/// scrapers address the gateway by whatever IP it has, and these routes carry no caller data.
///
/// # Panics
///
/// When the MCP path is [`HEALTH_PATH`], [`READY_PATH`] or [`METRICS_PATH`] ([`Gateway::bind`] checks this
/// and returns [`GatewayError::PathConflict`] instead).
pub fn router(layer: AuthSecLayer, gateway: &GatewayConfig) -> Router {
    let scraped = layer.clone();
    let path = gateway.mcp_path(layer.config());
    let upstream = Upstream::new(
        gateway.upstream.clone(),
        gateway.identity.clone(),
        gateway.timeouts,
    );
    let mcp = MethodRouter::new()
        .post_service(upstream.clone())
        .get_service(upstream.clone())
        .delete_service(upstream);
    let ready = layer.clone();
    let own = Router::new()
        .route(
            HEALTH_PATH,
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            READY_PATH,
            get(move || {
                let layer = ready.clone();
                async move { readiness(&layer).await }
            }),
        )
        .route(
            METRICS_PATH,
            get(move || {
                let response = prometheus::render(&scraped);
                async move { response }
            }),
        );
    let hosts = HostPolicy::new(
        &layer.config().resource_uri,
        gateway.listen,
        &gateway.cors,
        &gateway.allowed_hosts,
    );
    let guarded = mount_mcp(Router::new(), &path, mcp, layer).layer(
        axum::middleware::from_fn_with_state(Arc::new(hosts), rebinding::guard),
    );
    let app = own.merge(guarded);
    if gateway.cors.is_empty() {
        app
    } else {
        app.layer(cors_layer(&gateway.cors))
    }
}

/// Whether the gateway can decide requests: signing keys are loaded (unless every token is
/// introspected) and, in `remote_required`, the console's policy is usable. What is missing is
/// fetched now (each within its own retry limits), so a gateway started while its
/// authorization server or console was down becomes ready without waiting for traffic that a
/// load balancer would not send it. 200 `{"status":"ready"}`, or 503
/// `{"status":"not_ready","reasons":[…]}`.
pub async fn readiness(layer: &AuthSecLayer) -> axum::response::Response {
    use authsec::config::{PolicyMode, ValidationMode};
    use axum::response::IntoResponse;
    let mut reasons = Vec::new();
    let validator = layer.validator();
    if validator.mode() != ValidationMode::IntrospectionOnly {
        let keys = validator.keys();
        if keys.current().is_empty() {
            keys.refresh_if_allowed().await;
        }
        if keys.current().is_empty() {
            reasons.push(format!(
                "no signing keys loaded from the authorization server's JWKS: {}",
                keys.last_error()
                    .map_or_else(|| "not fetched yet".to_owned(), |e| e.to_string())
            ));
        }
    }
    if let Some(remote) = layer.remote_policy() {
        if layer.config().policy_mode == PolicyMode::RemoteRequired {
            if let Err(why) = remote.current().await {
                reasons.push(why.to_string());
            }
        }
    }
    if reasons.is_empty() {
        axum::Json(serde_json::json!({"status": "ready"})).into_response()
    } else {
        (
            http::StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "not_ready", "reasons": reasons})),
        )
            .into_response()
    }
}

/// An origin as browsers send it: `*`, or `scheme://host[:port]` with nothing after.
fn parse_origin(origin: &str) -> Option<HeaderValue> {
    if origin != "*" {
        let url = Url::parse(origin).ok()?;
        let canonical = url.origin().ascii_serialization();
        if !matches!(url.scheme(), "http" | "https") || canonical != origin.trim_end_matches('/') {
            return None;
        }
    }
    HeaderValue::from_str(origin.trim_end_matches('/')).ok()
}

/// The CORS layer for `origins`: outermost, so a preflight never reaches the token check.
fn cors_layer(origins: &[HeaderValue]) -> tower_http::cors::CorsLayer {
    use http::{header, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().cloned())
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("mcp-name"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            header::WWW_AUTHENTICATE,
            HeaderName::from_static("mcp-session-id"),
            HeaderName::from_static("mcp-protocol-version"),
        ])
        .max_age(Duration::from_secs(3600))
}

/// A gateway bound to its address, not yet serving (so a caller can learn the address first).
#[derive(Debug)]
pub struct Gateway {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    app: Router,
    drain: Duration,
}

impl Gateway {
    /// Binds `config.listen` and builds the router around `layer`.
    pub async fn bind(config: GatewayConfig, layer: AuthSecLayer) -> Result<Self, GatewayError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| GatewayError::Bind {
                addr: config.listen,
                source,
            })?;
        Self::with_listener(listener, config, layer)
    }

    /// Serves on an already bound `listener` (`config.listen` is replaced by its address):
    /// for socket activation, or to know the address before the resource URI is configured.
    pub fn with_listener(
        listener: tokio::net::TcpListener,
        mut config: GatewayConfig,
        layer: AuthSecLayer,
    ) -> Result<Self, GatewayError> {
        let path = config.mcp_path(layer.config());
        if [HEALTH_PATH, READY_PATH, METRICS_PATH].contains(&path.as_str()) {
            return Err(GatewayError::PathConflict { path });
        }
        if config.upstream.scheme() == "http" && !is_loopback(&config.upstream) {
            tracing::warn!(
                target: "authsec::gateway",
                upstream = %config.upstream,
                "plain http to a non-loopback upstream: the identity headers travel unencrypted; \
                 the upstream must be reachable only through the gateway"
            );
        }
        let addr = listener.local_addr().map_err(|source| GatewayError::Bind {
            addr: config.listen,
            source,
        })?;
        config.listen = addr;
        tracing::info!(
            target: "authsec::gateway",
            listen = %addr,
            path,
            upstream = %config.upstream,
            "authsec gateway ready"
        );
        Ok(Gateway {
            listener,
            addr,
            app: router(layer, &config),
            drain: config.timeouts.drain,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then stops accepting connections and waits for the
    /// responses in flight — streams included — to finish, for at most the drain timeout.
    pub async fn serve<F>(self, shutdown: F) -> Result<(), GatewayError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
        let signal = async move {
            shutdown.await;
            tracing::info!(target: "authsec::gateway", "shutting down: draining in-flight requests");
            let _ = stopping_tx.send(true);
        };
        let listener = self.listener.tap_io(|tcp| {
            // Small JSON-RPC messages and SSE events: send each as soon as it is written.
            let _ = tcp.set_nodelay(true);
        });
        let server = axum::serve(listener, self.app)
            .with_graceful_shutdown(signal)
            .into_future();
        let drain = self.drain;
        let deadline = async move {
            if stopping_rx.wait_for(|stopping| *stopping).await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(drain).await;
        };
        let upkeep = prometheus::spawn_upkeep(Duration::from_secs(5));
        let result = tokio::select! {
            served = server => served.map_err(GatewayError::Serve),
            () = deadline => {
                tracing::warn!(target: "authsec::gateway", drain = ?drain, "drain timeout elapsed; closing the remaining streams");
                Ok(())
            }
        };
        if let Some(task) = upkeep {
            task.abort();
        }
        result
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The protection `run` puts in front of the upstream: installs the Prometheus recorder (first,
/// so that the first JWKS fetch is counted), starts a validator for `authsec`, publishes the
/// upstream's tools, prompts and resources to the console when `publish_manifest` is on (read
/// with [`Upstream::list_inventory`]; a failure is logged, never fatal) and, in the remote policy modes,
/// fetches the console's policy and keeps it fresh.
pub async fn start_layer(
    authsec: authsec::Config,
    gateway: &GatewayConfig,
) -> Result<AuthSecLayer, GatewayError> {
    let _ = prometheus::handle();
    let validator = Validator::new(authsec).await?;
    let config = validator.config();
    let manifest = if config.publish_manifest {
        let upstream = Upstream::new(
            gateway.upstream.clone(),
            gateway.identity.clone(),
            gateway.timeouts,
        );
        match upstream.list_inventory().await {
            Ok(listed) => Manifest {
                tools: manifest_from_mcp_tools(&listed.tools, &config.tool_policy),
                prompts: manifest_from_mcp_prompts(&listed.prompts, &config.prompt_policy),
                resources: manifest_from_mcp_resources(&listed.resources, &config.resource_policy),
            },
            Err(e) => {
                tracing::warn!(
                    target: "authsec::gateway",
                    upstream = %gateway.upstream,
                    error = %e,
                    "cannot read the upstream's tools/list; no manifest is published"
                );
                Manifest::default()
            }
        }
    } else {
        Manifest::default()
    };
    Ok(AuthSecLayer::start(validator).manifest(&manifest).await?)
}

/// Starts the protection ([`start_layer`]), binds `gateway.listen` and serves until
/// `shutdown` completes (see [`Gateway::serve`]).
pub async fn run<F>(
    gateway: GatewayConfig,
    authsec: authsec::Config,
    shutdown: F,
) -> Result<(), GatewayError>
where
    F: Future<Output = ()> + Send + 'static,
{
    let layer = start_layer(authsec, &gateway).await?;
    Gateway::bind(gateway, layer).await?.serve(shutdown).await
}

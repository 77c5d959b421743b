//! # authsec
//!
//! OAuth 2.1 protection for MCP (Model Context Protocol) servers: bearer-token validation
//! (JWT via JWKS, or RFC 7662 introspection), per-tool, per-prompt and per-resource scope
//! policy, RFC 9728 protected resource metadata, precise RFC 6750 challenges and one structured
//! decision log line per request.
//!
//! ## Protect an rmcp server
//!
//! [`mount_mcp`] puts an [`AuthSecLayer`] in front of an rmcp Streamable HTTP service and serves
//! the protected resource metadata at the well-known path of the resource URI. Every request's
//! token is validated by the [`Validator`] and every `tools/call` decided by the policy before
//! rmcp sees it; `tools/list` answers list only what the caller may call. With the `rmcp`
//! feature a tool handler takes the caller as a [`Principal`] argument.
//!
//! ```no_run
//! # #[cfg(all(feature = "rmcp", feature = "axum"))]
//! # {
//! use std::sync::Arc;
//!
//! use authsec::{mount_mcp, AuthSecLayer, Config, Principal, Validator};
//! use rmcp::handler::server::router::tool::ToolRouter;
//! use rmcp::model::{ServerCapabilities, ServerConfig};
//! use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
//! use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
//! use rmcp::{tool, tool_handler, tool_router, ServerHandler};
//!
//! #[derive(Clone)]
//! struct Hello {
//!     tool_router: ToolRouter<Self>,
//! }
//!
//! #[tool_router]
//! impl Hello {
//!     #[tool(description = "The caller's subject")]
//!     async fn whoami(&self, principal: Principal) -> String {
//!         // authsec has validated the token and decided this call before the handler runs.
//!         principal.subject().unwrap_or_default().to_owned()
//!     }
//!
//!     #[tool(description = "The server's time")]
//!     async fn server_time(&self) -> String {
//!         format!("{:?}", std::time::SystemTime::now())
//!     }
//! }
//!
//! #[tool_handler(router = self.tool_router)]
//! impl ServerHandler for Hello {
//!     fn get_info(&self) -> ServerConfig {
//!         ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
//!     }
//! }
//!
//! async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//!     // `Config::from_env()` reads the same from AUTHSEC_ISSUER, AUTHSEC_RESOURCE_URI and
//!     // AUTHSEC_TOOL_SCOPES_JSON.
//!     let config = Config::builder("https://auth.example.com", "https://mcp.example.com/mcp")
//!         .tool_scopes_json(r#"{"whoami": ["profile:read", "admin"], "server_time": []}"#)
//!         .build()?;
//!     let validator = Validator::new(config).await?;
//!     let service = StreamableHttpService::new(
//!         || Ok(Hello { tool_router: Hello::tool_router() }),
//!         Arc::new(LocalSessionManager::default()),
//!         StreamableHttpServerConfig::default(),
//!     );
//!     let layer = AuthSecLayer::start(validator).await?;
//!     let app = mount_mcp(axum::Router::new(), "/mcp", service, layer);
//!     let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! # }
//! ```
//!
//! The tool policy (`AUTHSEC_TOOL_SCOPES_JSON`, or [`ConfigBuilder::tool_scopes_json`] /
//! [`ConfigBuilder::tool_policy`] in code) maps each tool to the scopes it needs:
//! `["a","b"]` means **any one** of `a` or `b`, `{"all":["a","b"]}` both, `[]` any valid token.
//! A tool that is not listed is denied to everyone. A caller without the scope gets a 403 whose
//! `WWW-Authenticate` names the scopes to ask for; an invalid token a 401 that says why
//! ([`AuthError`] lists every reason). Prompts and resources have the same rules
//! (`AUTHSEC_PROMPT_SCOPES_JSON`, `AUTHSEC_RESOURCE_SCOPES_JSON`), and
//! `AUTHSEC_POLICY_MODE` takes the policy from the authsec console instead.
//!
//! The guide in the repository (`docs/src/guide/rmcp.md`) covers what the layer does with each
//! request, axum and plain tower services, CORS, sessions and in-band denials; the
//! configuration reference (`docs/src/reference/configuration.md`) lists every setting.
//!
//! ## What is where
//!
//! The crate root holds what a protected server uses: [`Config`] and its errors, [`Validator`],
//! [`Principal`], [`AuthError`], [`mount_mcp`] and [`AuthSecLayer`], the policy types
//! ([`ToolPolicy`], [`ToolRule`], [`PolicyMode`]) and the errors parsing them can return. A
//! request flows one way: the bearer token ([`extract_bearer`]) → the [`Validator`] (with
//! [`keys`], [`Introspector`], [`Clock`]) → [`Principal`] → the request's tool → [`policy`]
//! decides → [`challenge`] renders a denial.
//!
//! The public modules hold the rest of the API: [`config`], [`policy`], [`http`],
//! [`challenge`], [`keys`] (key sets and their discovery), [`fetch`] (the SDK's HTTP client),
//! [`metadata`] (RFC 9728), [`telemetry`] (metric names), `diagnose` and `explain`, and
//! `testing` (feature `test-issuer`).
//!
//! ## Features
//!
//! * `toml` (default): [`Config::from_toml_file`] and [`Config::from_toml_str`].
//! * `diagnose` (default): the explainers — `diagnose` runs every check on a token and says
//!   what was expected, what the token carries and how to fix it; `explain` reads a denial back
//!   into a typed error and the client's next step. A server needs neither to be protected.
//! * `rmcp`: [`Principal`] as an rmcp tool-handler argument, and `http::rmcp_support`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cache;
pub mod challenge;
mod clock;
pub mod config;
mod decision;
#[cfg(feature = "diagnose")]
pub mod diagnose;
mod error;
#[cfg(feature = "diagnose")]
pub mod explain;
pub mod fetch;
mod filter;
pub mod http;
mod introspect;
pub mod keys;
mod mcp;
pub mod metadata;
pub mod policy;
mod principal;
mod session;
pub mod telemetry;
#[cfg(feature = "test-issuer")]
pub mod testing;
mod token;
mod uri;
mod validate;

pub use clock::{system_now, Clock, ManualClock};
pub use config::{
    Config, ConfigBuilder, ConfigError, ConfigErrorKind, UnknownKeyword, ValidationMode,
};
pub use error::{AuthError, InvalidRequest, Malformed, Part, ScopeMatch};
#[cfg(feature = "axum")]
pub use http::{mount_mcp, MissingPrincipal};
pub use http::{AuthSec, AuthSecLayer, LayerError};
pub use introspect::{Introspection, IntrospectionError, Introspector};
pub use keys::{JwkError, JwksError, KeySet};
#[cfg(feature = "remote-policy")]
pub use policy::remote::{Manifest, RemotePolicy, RemotePolicyError};
pub use policy::{
    PolicyError, PolicyMode, PromptPolicy, ResourceKeyError, ResourcePolicy, ToolPolicy, ToolRule,
};
pub use principal::{Principal, TokenKind};
pub use token::{extract_bearer, Claims, Fingerprint};
pub use validate::{CacheStats, StartupError, Validator};

/// The crate's internals, for its own tests, benchmarks and fuzz targets: not part of the API,
/// no stability. Other crates use the documented items above.
#[doc(hidden)]
pub mod internal {
    /// The response filter (`tools/list` answers, SSE events).
    pub mod filter {
        pub use crate::filter::{
            filter_json, withheld_event, Listed, SseFilter, SseOutput, Unreadable,
        };
    }
    /// RFC 7662 answer parsing.
    pub mod introspect {
        pub use crate::introspect::{parse_response, ResponseError};
    }
    /// JSON-RPC inspection of MCP requests and in-band denials.
    pub mod mcp {
        pub use crate::mcp::{
            check_mcp_name, in_band_denial, inspect, Inspection, MessageKind, DENIAL_ERROR_CODE,
            MCP_NAME_HEADER, PROTOCOL_VERSION_META_KEY,
        };
    }
    /// Bearer extraction, cache keys and the JWS parsers.
    pub mod token {
        pub use crate::token::{
            cache_key, extract_bearer, form_body_has_access_token, parse_compact, parse_jws,
            parse_object, Claims,
        };
    }
    /// The validator's checks, one function each.
    pub mod validate {
        pub use crate::validate::{
            check_claims, check_header, check_issuer, check_signature, check_signature_over,
            is_compact_jws,
        };
    }
}

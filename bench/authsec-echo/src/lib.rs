//! The authsec side of the peer comparison (`bench/run.sh`): the same one-tool MCP server the
//! peers run — `echo`, stateless Streamable HTTP answering plain JSON — built on rmcp, served
//! bare ([`bare_app`]) or behind authsec ([`protected_app`], JWT validation with the
//! verified-token cache on).
//!
//! The binaries: `authsec-echo` serves either app; `bench-issuer` publishes a JWKS on loopback
//! and prints the one RS256 token every benchmark request carries.

use std::sync::Arc;

use authsec::http::{mount_mcp, AuthSecLayer};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool, tool_handler, tool_router, ServerHandler};
use serde::Deserialize;

/// The path the MCP endpoint is served at.
pub const MCP_PATH: &str = "/mcp";

/// `echo` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EchoArgs {
    /// The text to send back.
    pub text: String,
}

/// The rmcp handler: one tool, `echo`.
#[derive(Debug, Clone)]
pub struct EchoServer {
    tool_router: ToolRouter<Self>,
}

impl Default for EchoServer {
    fn default() -> Self {
        Self::new()
    }
}

#[tool_router]
impl EchoServer {
    /// The handler.
    pub fn new() -> Self {
        EchoServer {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Echo the text back.")]
    async fn echo(&self, Parameters(EchoArgs { text }): Parameters<EchoArgs>) -> String {
        text
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for EchoServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// The rmcp Streamable HTTP service: stateless (no sessions), plain JSON answers, loopback
/// `Host` names only (rmcp's DNS-rebinding check).
pub fn mcp_service() -> StreamableHttpService<EchoServer, LocalSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(["localhost", "127.0.0.1", "::1"])
        .with_legacy_session_mode(false)
        .with_json_response(true);
    StreamableHttpService::new(
        || Ok(EchoServer::new()),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// The echo server behind authsec: `/mcp` and its protected resource metadata route.
pub fn protected_app(layer: AuthSecLayer) -> axum::Router {
    mount_mcp(axum::Router::new(), MCP_PATH, mcp_service(), layer)
}

/// The same server without authsec: the baseline of the auth/bare ratio. No token is checked.
pub fn bare_app() -> axum::Router {
    axum::Router::new().route_service(MCP_PATH, mcp_service())
}

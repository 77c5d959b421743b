//! The smallest protected rmcp server: the README's "Protect an rmcp server" snippet.
//!
//! ```text
//! AUTHSEC_ISSUER=https://auth.example.com AUTHSEC_RESOURCE_URI=http://127.0.0.1:8080/mcp \
//! AUTHSEC_TOOL_SCOPES_JSON='{"whoami":[]}' cargo run -p notes-server --example minimal
//! ```

use std::sync::Arc;

use authsec::{mount_mcp, AuthSecLayer, Config, Principal, Validator};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool, tool_handler, tool_router, ServerHandler};

#[derive(Clone)]
struct Hello {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Hello {
    #[tool(description = "The caller's subject")]
    async fn whoami(&self, principal: Principal) -> String {
        // authsec has validated the token and decided this call before the handler runs.
        principal.subject().unwrap_or_default().to_owned()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Hello {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let validator = Validator::new(Config::from_env()?).await?;
    let service = StreamableHttpService::new(
        || {
            Ok(Hello {
                tool_router: Hello::tool_router(),
            })
        },
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    // POST/GET/DELETE /mcp behind authsec, plus
    // GET /.well-known/oauth-protected-resource/mcp (RFC 9728).
    let layer = AuthSecLayer::start(validator).await?;
    let app = mount_mcp(axum::Router::new(), "/mcp", service, layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    axum::serve(listener, app).await?;
    Ok(())
}

//! MCP 2026-07-28 multi round-trip requests (`input_required`, retried with `requestState` and
//! `inputResponses`): each round is a request of its own, so the layer decides every round on
//! the token and the target that round carries — a retry is never let through because an
//! earlier round was.
//!
//! The server is an rmcp server of this test's own, because the notes example has no tool that
//! asks for input: `purge_notes` (needs `notes:admin`) answers its first round with
//! `input_required` and completes when retried with the state it handed out.

mod common;

use authsec::config::Config;
use authsec::http::{mount_mcp, AuthSecLayer};
use authsec::Validator;
use authsec_testkit::{claims, jwks, FakeAuthServer, TestKey};
use common::{denial, messages, ACCEPT};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::RequestState;
use rmcp::model::{
    CallToolResponse, CallToolResult, ContentBlock, InputRequiredResult, ServerCapabilities,
    ServerConfig,
};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool, tool_handler, tool_router, ServerHandler};
use serde_json::{json, Value};
use std::sync::Arc;

const MODERN: &str = "2026-07-28";
const STATE: &str = "confirm-purge";

#[derive(Clone)]
struct Purger {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Purger {
    fn new() -> Self {
        Purger {
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "Delete every note, after a confirmation round (needs notes:admin).")]
    async fn purge_notes(&self, RequestState(state): RequestState) -> CallToolResponse {
        match state.as_deref() {
            Some(STATE) => CallToolResult::success(vec![ContentBlock::text("purged")]).into(),
            _ => InputRequiredResult::from_request_state(STATE).into(),
        }
    }

    #[tool(description = "Count the notes (needs notes:read).")]
    async fn count_notes(&self) -> String {
        "0".into()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Purger {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

struct Server {
    key: TestKey,
    auth: FakeAuthServer,
    mcp: String,
    http: reqwest::Client,
}

impl Server {
    async fn start() -> Self {
        let key = TestKey::es256("k1");
        let auth = FakeAuthServer::start(jwks(&[&key])).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mcp = format!("http://{}/mcp", listener.local_addr().unwrap());
        let config = Config::builder(auth.issuer(), &mcp)
            .jwks_url(auth.jwks_url())
            .tool_scopes_json(r#"{"purge_notes":["notes:admin"],"count_notes":["notes:read"]}"#)
            .build()
            .unwrap();
        let validator = Validator::new(config).await.unwrap();
        let transport = StreamableHttpServerConfig::default()
            .with_allowed_hosts(["127.0.0.1".to_owned()])
            .with_legacy_session_mode(false)
            .with_json_response(true);
        let service = StreamableHttpService::new(
            || Ok(Purger::new()),
            Arc::new(LocalSessionManager::default()),
            transport,
        );
        let layer = AuthSecLayer::new(validator).unwrap();
        let app = mount_mcp(axum::Router::new(), "/mcp", service, layer);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Server {
            key,
            auth,
            mcp,
            http: reqwest::Client::new(),
        }
    }

    fn token(&self, scope: &str) -> String {
        self.key
            .token(&claims(&self.auth.issuer(), &self.mcp, scope))
    }

    /// A stateless 2026-07-28 `tools/call` of `tool`; `retry` adds the state and the answers of
    /// the round before.
    async fn call(&self, token: &str, tool: &str, retry: bool) -> reqwest::Response {
        let mut params = json!({
            "name": tool,
            "arguments": {},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        });
        if retry {
            params["requestState"] = json!(STATE);
            params["inputResponses"] = json!({});
        }
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params});
        self.http
            .post(&self.mcp)
            .header("accept", ACCEPT)
            .header("content-type", "application/json")
            .header("mcp-protocol-version", MODERN)
            .header("mcp-method", "tools/call")
            .header("mcp-name", tool)
            .bearer_auth(token)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }
}

fn result(messages: &[Value]) -> &Value {
    assert_eq!(messages.len(), 1, "{messages:?}");
    &messages[0]["result"]
}

#[tokio::test]
async fn both_rounds_of_an_allowed_call_go_through() {
    let s = Server::start().await;
    let admin = s.token("notes:admin");

    let first = s.call(&admin, "purge_notes", false).await;
    assert_eq!(first.status(), 200);
    let first = messages(first).await;
    assert_eq!(
        result(&first),
        &json!({"resultType": "input_required", "requestState": STATE})
    );

    let second = s.call(&admin, "purge_notes", true).await;
    assert_eq!(second.status(), 200);
    let second = messages(second).await;
    assert_eq!(result(&second)["content"][0]["text"], "purged");
}

#[tokio::test]
async fn a_retry_is_decided_again_on_its_own_token() {
    let s = Server::start().await;
    let admin = s.token("notes:admin");
    let reader = s.token("notes:read");

    let first = s.call(&admin, "purge_notes", false).await;
    assert_eq!(first.status(), 200);

    // The retry carries the state the allowed round was given, but a token without the scope.
    let (status, www, body) = denial(s.call(&reader, "purge_notes", true).await).await;
    assert_eq!(status, 403);
    let www = www.expect("a challenge");
    assert!(
        www.contains(r#"error="insufficient_scope""#) && www.contains(r#"scope="notes:admin""#),
        "{www}"
    );
    assert_eq!(body["tool"], "purge_notes");
    assert_eq!(body["required_scopes"], json!(["notes:admin"]));
    assert_eq!(body["granted_scopes"], json!(["notes:read"]));
}

#[tokio::test]
async fn a_retry_naming_another_tool_is_decided_on_that_tool() {
    let s = Server::start().await;
    let reader = s.token("notes:read");

    // Round one of a tool the token may call …
    let first = s.call(&reader, "count_notes", false).await;
    assert_eq!(first.status(), 200);
    // … then a "retry" that names a tool it may not: decided on purge_notes.
    let (status, _, body) = denial(s.call(&reader, "purge_notes", true).await).await;
    assert_eq!(status, 403);
    assert_eq!(body["reason"], "insufficient_scope");
    assert_eq!(body["tool"], "purge_notes");

    // And a retry of an unmapped tool is unmapped, whatever state it carries.
    let (status, _, body) = denial(s.call(&reader, "purge_everything", true).await).await;
    assert_eq!(status, 403);
    assert_eq!(body["reason"], "tool_unmapped");
}

#[tokio::test]
async fn a_retry_without_a_token_is_401() {
    let s = Server::start().await;
    let admin = s.token("notes:admin");
    assert_eq!(s.call(&admin, "purge_notes", false).await.status(), 200);
    let resp = s
        .http
        .post(&s.mcp)
        .header("accept", ACCEPT)
        .header("content-type", "application/json")
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "tools/call")
        .header("mcp-name", "purge_notes")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": "purge_notes", "arguments": {}, "requestState": STATE, "inputResponses": {},
                "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN,
                          "io.modelcontextprotocol/clientCapabilities": {}}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let www = resp.headers()["www-authenticate"].to_str().unwrap();
    assert!(www.contains(r#"scope="notes:admin""#), "{www}");
}

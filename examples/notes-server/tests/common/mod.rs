//! Shared harness: a loopback authorization-server fake serving a test key's JWKS, and the
//! notes server (the same code as the binary) behind authsec on an ephemeral port.
#![allow(dead_code)]

use authsec::config::{Config, ConfigBuilder};
use authsec::http::AuthSecLayer;
use authsec::Validator;
use authsec_notes::{
    protected_app, Transport, EXAMPLE_PROMPT_SCOPES_JSON, EXAMPLE_RESOURCE_SCOPES_JSON,
    EXAMPLE_TOOL_SCOPES_JSON,
};
use authsec_testkit::{claims, jwks, FakeAuthServer, TestKey};
use serde_json::{json, Value};

pub const ACCEPT: &str = "application/json, text/event-stream";

pub struct Harness {
    pub key: TestKey,
    pub auth: FakeAuthServer,
    /// `http://127.0.0.1:PORT`
    pub origin: String,
    /// `http://127.0.0.1:PORT/mcp`, also the resource URI.
    pub mcp: String,
    pub http: reqwest::Client,
}

impl Harness {
    /// The notes server with sessions and the example's tool map.
    pub async fn start() -> Self {
        Self::start_with(Transport::Sessions, |b| b).await
    }

    pub async fn start_with(
        transport: Transport,
        tweak: impl FnOnce(ConfigBuilder) -> ConfigBuilder,
    ) -> Self {
        let key = TestKey::es256("k1");
        let auth = FakeAuthServer::start(jwks(&[&key])).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let origin = format!("http://{addr}");
        let mcp = format!("{origin}/mcp");
        let builder = Config::builder(auth.issuer(), &mcp)
            .jwks_url(auth.jwks_url())
            .tool_scopes_json(EXAMPLE_TOOL_SCOPES_JSON)
            .prompt_scopes_json(EXAMPLE_PROMPT_SCOPES_JSON)
            .resource_scopes_json(EXAMPLE_RESOURCE_SCOPES_JSON);
        let config = tweak(builder).build().unwrap();
        let validator = Validator::new(config).await.unwrap();
        let app = protected_app(AuthSecLayer::new(validator).unwrap(), transport);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Harness {
            key,
            auth,
            origin,
            mcp,
            http: reqwest::Client::new(),
        }
    }

    /// The `resource_metadata` URL challenges name.
    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.origin)
    }

    /// A valid token for `user-1` with `scope`.
    pub fn token(&self, scope: &str) -> String {
        self.key
            .token(&claims(&self.auth.issuer(), &self.mcp, scope))
    }

    /// A valid token for `sub` with `scope`.
    pub fn token_for(&self, sub: &str, scope: &str) -> String {
        let mut c = claims(&self.auth.issuer(), &self.mcp, scope);
        c["sub"] = json!(sub);
        self.key.token(&c)
    }

    /// A token with claims changed by `edit`.
    pub fn token_with(&self, scope: &str, edit: impl FnOnce(&mut Value)) -> String {
        let mut c = claims(&self.auth.issuer(), &self.mcp, scope);
        edit(&mut c);
        self.key.token(&c)
    }

    /// A POST to the MCP endpoint with the headers the Streamable HTTP transport requires.
    pub fn post(&self, token: Option<&str>, session: Option<&str>) -> reqwest::RequestBuilder {
        let mut rb = self
            .http
            .post(&self.mcp)
            .header("accept", ACCEPT)
            .header("content-type", "application/json");
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(s) = session {
            rb = rb.header("mcp-session-id", s);
        }
        rb
    }

    pub async fn send(
        &self,
        token: Option<&str>,
        session: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        self.post(token, session)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// Runs the handshake (`initialize`, then `notifications/initialized`); returns the session id.
    pub async fn initialize(&self, token: Option<&str>) -> String {
        let resp = self.send(token, None, &initialize_request()).await;
        assert_eq!(resp.status(), 200, "initialize failed");
        let session = resp.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let messages = messages(resp).await;
        assert!(
            messages[0]["result"]["serverInfo"].is_object(),
            "{messages:?}"
        );
        let resp = self
            .send(
                token,
                Some(&session),
                &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
            )
            .await;
        assert_eq!(resp.status(), 202);
        session
    }
}

pub fn initialize_request() -> Value {
    json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},
        "clientInfo":{"name":"authsec-tests","version":"1.0"}}})
}

pub fn call(id: u64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":arguments}})
}

pub fn list(id: u64) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/list","params":{}})
}

/// The JSON-RPC messages of a response: the JSON body, or every `data:` of an SSE body.
pub async fn messages(resp: reqwest::Response) -> Vec<Value> {
    let sse = resp
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("text/event-stream"));
    let text = resp.text().await.unwrap();
    if sse {
        sse_data(&text)
    } else {
        vec![serde_json::from_str(&text).unwrap()]
    }
}

/// Every non-empty `data:` payload of an SSE text, parsed as JSON.
pub fn sse_data(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            let data = data.join("\n");
            (!data.is_empty()).then(|| serde_json::from_str(&data).unwrap())
        })
        .collect()
}

/// The tool names of a `tools/list` result.
pub fn tool_names(message: &Value) -> Vec<String> {
    let mut names: Vec<String> = message["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {message}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Status, `WWW-Authenticate` and JSON body of a denial.
pub async fn denial(resp: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = resp.status().as_u16();
    let www = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp.json::<Value>().await.unwrap();
    (status, www, body)
}

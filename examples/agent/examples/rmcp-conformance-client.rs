//! The comparison for `scripts/client-conformance.sh`: a conformance-suite client on rmcp's
//! own OAuth support (`rmcp::transport::auth`), used the way its API documents — `OAuthState`
//! for discovery, registration and the authorization code flow, `authenticate_client_credentials`
//! for machines, `AuthClient` for tokens on requests, and `request_scope_upgrade` on a 403.
//!
//! Run by the suite as `rmcp-conformance-client <server URL>` with `MCP_CONFORMANCE_SCENARIO`
//! and `MCP_CONFORMANCE_CONTEXT` set.

use std::process::ExitCode;

use rmcp::model::CallToolRequestParams;
use rmcp::transport::auth::{
    AuthClient, AuthorizationCallback, AuthorizationManager, AuthorizationRequest,
    ClientCredentialsConfig, JwtSigningAlgorithm, OAuthState,
};
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransport, StreamableHttpClientTransportConfig, StreamableHttpError,
};
use rmcp::ServiceExt;
use serde_json::{json, Value};

const CLIENT_METADATA_URL: &str = "https://conformance-test.local/client-metadata.json";
/// Never contacted: the "browser" below reads the code from the redirect's Location.
const REDIRECT_URI: &str = "http://127.0.0.1:53682/callback";

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The user's browser: the authorization endpoint answers at once with a redirect carrying
/// the code.
async fn follow(url: &str) -> Result<AuthorizationCallback, Error> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let resp = browser.get(url).send().await?;
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .ok_or("no redirect from the authorization endpoint")?
        .to_str()?;
    Ok(AuthorizationCallback::from_redirect_url(location)?)
}

/// The resource's 401 challenge, if any.
async fn challenge(url: &str) -> Result<Option<String>, Error> {
    let resp = reqwest::Client::new()
        .post(url)
        .header("Accept", "application/json, text/event-stream")
        .json(
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "rmcp-conformance-client", "version": "0"}}}),
        )
        .send()
        .await?;
    Ok(resp
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned))
}

async fn authorize(url: &str, scenario: &str, ctx: &Value) -> Result<AuthorizationManager, Error> {
    let s = |k: &str| ctx[k].as_str().map(str::to_owned);
    let mut state = OAuthState::new(url, None).await?;
    match scenario {
        "auth/client-credentials-jwt" => {
            state
                .authenticate_client_credentials(ClientCredentialsConfig::PrivateKeyJwt {
                    client_id: s("client_id").unwrap_or_default(),
                    signing_key: s("private_key_pem").unwrap_or_default().into_bytes(),
                    signing_algorithm: JwtSigningAlgorithm::ES256,
                    token_endpoint_audience: None,
                    scopes: vec![],
                    resource: Some(url.to_owned()),
                })
                .await?;
        }
        "auth/client-credentials-basic" => {
            state
                .authenticate_client_credentials(ClientCredentialsConfig::ClientSecret {
                    client_id: s("client_id").unwrap_or_default(),
                    client_secret: s("client_secret").unwrap_or_default(),
                    scopes: vec![],
                    resource: Some(url.to_owned()),
                })
                .await?;
        }
        _ => {
            let mut request = AuthorizationRequest::new(REDIRECT_URI)
                .with_client_name("rmcp conformance client")
                .with_client_metadata_url(CLIENT_METADATA_URL)
                .with_initial_scope_selection();
            if let Some(c) = challenge(url).await? {
                request = request.with_challenge(c);
            }
            if let Some(id) = s("client_id") {
                request = request.with_preregistered_client(id);
            }
            if let Some(secret) = s("client_secret") {
                request = request.with_client_secret(secret);
            }
            state.start_authorization(request).await?;
            let cb = follow(&state.get_authorization_url().await?).await?;
            state
                .handle_callback_with_issuer(&cb.code, &cb.csrf_token, cb.issuer.as_deref())
                .await?;
        }
    }
    state
        .into_authorization_manager()
        .ok_or_else(|| "not authorized".into())
}

/// The scope a 403 asks for, when that is why `e` failed.
fn insufficient_scope(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut e = Some(e);
    while let Some(err) = e {
        if let Some(StreamableHttpError::InsufficientScope(s)) =
            err.downcast_ref::<StreamableHttpError<reqwest::Error>>()
        {
            return Some(s.get_required_scope().unwrap_or_default().to_owned());
        }
        e = err.source();
    }
    None
}

async fn run(url: &str) -> Result<(), Error> {
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let ctx: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    let manager = authorize(url, &scenario, &ctx).await?;
    let auth = AuthClient::new(reqwest::Client::new(), manager);
    let transport = StreamableHttpClientTransport::with_client(
        auth.clone(),
        StreamableHttpClientTransportConfig::with_uri(url),
    );
    let client = ().serve(transport).await?;
    let tools = client.list_all_tools().await?;
    if tools.iter().any(|t| t.name == "test-tool") {
        loop {
            match client
                .call_tool(CallToolRequestParams::new("test-tool"))
                .await
            {
                Ok(_) => break,
                Err(e) => {
                    let Some(scope) = insufficient_scope(&e) else {
                        return Err(e.into());
                    };
                    let manager = auth.auth_manager.lock().await;
                    if !manager.can_attempt_scope_upgrade().await {
                        return Err(e.into());
                    }
                    let cb = follow(&manager.request_scope_upgrade(&scope).await?).await?;
                    manager
                        .exchange_code_for_token_with_issuer(
                            &cb.code,
                            &cb.csrf_token,
                            cb.issuer.as_deref(),
                        )
                        .await?;
                }
            }
        }
    }
    client.cancel().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: rmcp-conformance-client <server URL>");
        return ExitCode::from(2);
    };
    match run(&url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

//! authsec-client against real authorization servers — oidc-provider (interop/as.mjs) and the
//! authsec console's token service — calling the notes example through rmcp: client
//! authentication by secret (basic, post) and private key (against both), step-up that keeps
//! earlier scopes, and the step-up limit.
//!
//! The notes server is configured so that every step-up is the client's doing: a 401 names only
//! `notes:read` (base scopes), and a 403 names only the missing scope (`required_only`), so a
//! token with both `notes:read` and `notes:write` can only come from a client that accumulates.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use authsec::config::ChallengeScope;
use authsec::http::AuthSecLayer;
use authsec::{Config, Validator};
use authsec_client::rmcp::{auth_error, AuthsecHttpClient};
use authsec_client::{Access, ClientAuth, ClientCredentials, Error, PrivateKey, Secret};
use authsec_notes::{protected_app, Transport, EXAMPLE_TOOL_SCOPES_JSON};
use authsec_testkit::console::TestConsole;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransport, StreamableHttpClientTransportConfig,
};
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};

/// oidc-provider on loopback, stopped on drop.
struct Oidc {
    child: Child,
    issuer: String,
}

impl Drop for Oidc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

/// Starts interop/as.mjs (installing its npm packages first if needed); `jwks` registers the
/// `jwt-agent` private_key_jwt client.
fn oidc_provider(jwks: Option<&Value>) -> Oidc {
    assert!(
        Command::new("node").arg("--version").output().is_ok(),
        "node is not installed: oidc-provider cannot run (install Node.js 20+ and npm)"
    );
    let dir = interop_dir();
    if !dir.join("node_modules/oidc-provider").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .expect("run npm ci in interop/");
        assert!(status.success(), "npm ci failed in {}", dir.display());
    }
    let mut cmd = Command::new("node");
    cmd.arg("as.mjs")
        .arg("0")
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(j) = jwks {
        cmd.env("AS_JWT_CLIENT_JWKS", j.to_string());
    }
    let mut child = cmd.spawn().expect("start oidc-provider");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the issuer line");
    let v: Value = serde_json::from_str(&line).expect("issuer JSON line");
    Oidc {
        issuer: v["issuer"].as_str().expect("issuer").to_owned(),
        child,
    }
}

/// Starts the notes example protected for tokens of `issuer`; returns its MCP URL.
async fn notes_server(issuer: &str, jwks_url: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mcp = format!("http://{}/mcp", listener.local_addr().unwrap());
    serve_notes(listener, &mcp, issuer, jwks_url).await;
    mcp
}

/// Serves the notes example on `listener` (its URL is `mcp`): the README's tool mapping, a 401
/// naming `notes:read`, a 403 naming only the missing scope.
async fn serve_notes(listener: tokio::net::TcpListener, mcp: &str, issuer: &str, jwks_url: &str) {
    let mut config = Config::builder(issuer, mcp)
        .jwks_url(jwks_url)
        .tool_scopes_json(EXAMPLE_TOOL_SCOPES_JSON)
        .challenge_scope(ChallengeScope::RequiredOnly)
        .build()
        .unwrap();
    config.base_scopes = vec!["notes:read".into()];
    let app = protected_app(
        AuthSecLayer::new(Validator::new(config).await.unwrap()).unwrap(),
        Transport::StatelessJson,
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

async fn connect(mcp: &str, access: Access) -> RunningService<RoleClient, ()> {
    let transport = StreamableHttpClientTransport::with_client(
        AuthsecHttpClient::new(reqwest::Client::new(), access),
        StreamableHttpClientTransportConfig::with_uri(mcp),
    );
    ().serve(transport).await.expect("connect")
}

async fn call(
    client: &RunningService<RoleClient, ()>,
    tool: &'static str,
    args: Value,
) -> Result<rmcp::model::CallToolResult, rmcp::ServiceError> {
    let mut params = CallToolRequestParams::new(tool);
    if let Value::Object(a) = args {
        params = params.with_arguments(a);
    }
    client.call_tool(params).await
}

/// The `scope` claim of the token `access` holds now.
async fn token_scopes(access: &Access) -> Vec<String> {
    let token = access.token().await.unwrap();
    let payload = token.access_token.secret().split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    let mut s: Vec<String> = claims["scope"]
        .as_str()
        .unwrap_or_default()
        .split(' ')
        .map(str::to_owned)
        .collect();
    s.sort();
    s
}

fn secret_client(id: &str, auth: ClientAuth) -> ClientCredentials {
    ClientCredentials::new(id, auth)
}

async fn lists_notes_with(oidc: &Oidc, creds: ClientCredentials) {
    let mcp = notes_server(&oidc.issuer, &format!("{}/jwks", oidc.issuer)).await;
    let access = Access::for_resource(&mcp)
        .unwrap()
        .client_credentials(creds)
        .build()
        .unwrap();
    let client = connect(&mcp, access.clone()).await;
    let result = call(&client, "list_notes", json!({})).await.unwrap();
    assert_eq!(result.is_error, Some(false));
    assert_eq!(access.scopes().await, ["notes:read"]);
    assert_eq!(token_scopes(&access).await, ["notes:read"]);
    client.cancel().await.unwrap();
}

#[tokio::test]
#[ignore = "needs Node.js and npm (oidc-provider): cargo nextest run --run-ignored all"]
async fn client_secret_basic_against_oidc_provider_calls_the_notes_server() {
    let oidc = oidc_provider(None);
    // `agent` is registered for client_secret_basic only: oidc-provider refuses any other method.
    lists_notes_with(
        &oidc,
        secret_client(
            "agent",
            ClientAuth::SecretBasic(Secret::new("agent-secret")),
        ),
    )
    .await;
}

#[tokio::test]
#[ignore = "needs Node.js and npm (oidc-provider): cargo nextest run --run-ignored all"]
async fn client_secret_post_against_oidc_provider_calls_the_notes_server() {
    let oidc = oidc_provider(None);
    lists_notes_with(
        &oidc,
        secret_client(
            "post-agent",
            ClientAuth::SecretPost(Secret::new("post-agent-secret")),
        ),
    )
    .await;
}

/// A new P-256 private key, PKCS#8 PEM.
fn es256_pem() -> String {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(pkcs8.as_ref())
    )
}

#[tokio::test]
#[ignore = "needs Node.js and npm (oidc-provider): cargo nextest run --run-ignored all"]
async fn private_key_jwt_against_oidc_provider_calls_the_notes_server() {
    let key = PrivateKey::from_pem(&es256_pem())
        .unwrap()
        .with_kid("agent-key-1");
    let oidc = oidc_provider(Some(&json!({"keys": [key.public_jwk()]})));
    lists_notes_with(
        &oidc,
        secret_client("jwt-agent", ClientAuth::private_key_jwt(key)),
    )
    .await;
}

#[tokio::test]
#[ignore = "needs Node.js and npm (oidc-provider): cargo nextest run --run-ignored all"]
async fn step_up_against_oidc_provider_requests_held_and_challenged_scopes() {
    let oidc = oidc_provider(None);
    let mcp = notes_server(&oidc.issuer, &format!("{}/jwks", oidc.issuer)).await;
    let access = Access::for_resource(&mcp)
        .unwrap()
        .client_credentials(secret_client(
            "agent",
            ClientAuth::Secret(Secret::new("agent-secret")),
        ))
        .build()
        .unwrap();
    let client = connect(&mcp, access.clone()).await;
    call(&client, "list_notes", json!({})).await.unwrap();
    assert_eq!(token_scopes(&access).await, ["notes:read"]);
    // add_note needs notes:write; the 403 names only that.
    let added = call(&client, "add_note", json!({"text": "from an agent"}))
        .await
        .unwrap();
    assert_eq!(added.is_error, Some(false));
    assert_eq!(access.scopes().await, ["notes:read", "notes:write"]);
    assert_eq!(token_scopes(&access).await, ["notes:read", "notes:write"]);
    client.cancel().await.unwrap();
}

/// A real console, the notes server trusting its tokens (served on the returned MCP URL), and
/// an `agent` client allowed `notes:read notes:write` (not `notes:admin`).
async fn console_setup() -> (TestConsole, String, authsec_testkit::console::Credentials) {
    let console = TestConsole::start().await;
    // The resource URI must be known before the console registers it: bind first.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mcp = format!("http://{}/mcp", listener.local_addr().unwrap());
    let rs = console
        .resource_server("notes", &mcp, &["notes:read", "notes:write", "notes:admin"])
        .await;
    let agent = console
        .client(&rs.id, "agent", &["notes:read", "notes:write"])
        .await;
    serve_notes(listener, &mcp, &console.base, &console.jwks_url()).await;
    (console, mcp, agent)
}

#[tokio::test]
async fn step_up_against_the_console_requests_held_and_challenged_scopes() {
    let (console, mcp, agent) = console_setup().await;
    let access = Access::for_resource(&mcp)
        .unwrap()
        .client_credentials(
            ClientCredentials::new(&agent.id, ClientAuth::Secret(Secret::new(&agent.secret)))
                .for_issuer(&console.base),
        )
        .build()
        .unwrap();
    let client = connect(&mcp, access.clone()).await;
    call(&client, "list_notes", json!({})).await.unwrap();
    assert_eq!(token_scopes(&access).await, ["notes:read"]);
    let added = call(&client, "add_note", json!({"text": "x"}))
        .await
        .unwrap();
    assert_eq!(added.is_error, Some(false));
    assert_eq!(token_scopes(&access).await, ["notes:read", "notes:write"]);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn private_key_jwt_against_the_console_calls_the_notes_server_and_steps_up() {
    let (console, mcp, _) = console_setup().await;
    let key = PrivateKey::from_pem(&es256_pem())
        .unwrap()
        .with_kid("agent-key-1");
    let (_, rs) = console
        .admin(reqwest::Method::GET, "/api/resource-servers", None)
        .await;
    let rs = rs["resource_servers"][0]["id"].as_str().unwrap().to_owned();
    let client_id = console
        .client_with_jwks(
            &rs,
            "key agent",
            &["notes:read", "notes:write"],
            &json!({"keys": [key.public_jwk()]}),
        )
        .await;
    let access = Access::for_resource(&mcp)
        .unwrap()
        .client_credentials(
            ClientCredentials::new(&client_id, ClientAuth::private_key_jwt(key))
                .for_issuer(&console.base),
        )
        .build()
        .unwrap();
    let client = connect(&mcp, access.clone()).await;
    call(&client, "list_notes", json!({})).await.unwrap();
    assert_eq!(token_scopes(&access).await, ["notes:read"]);
    // The step-up is a second token request with a second assertion: its `jti` is new, or the
    // console would refuse it as a replay.
    let added = call(&client, "add_note", json!({"text": "signed by key"}))
        .await
        .unwrap();
    assert_eq!(added.is_error, Some(false));
    assert_eq!(token_scopes(&access).await, ["notes:read", "notes:write"]);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn step_up_gives_up_after_the_limit_with_a_typed_error() {
    let (_console, mcp, agent) = console_setup().await;
    let access = Access::for_resource(&mcp)
        .unwrap()
        .client_credentials(ClientCredentials::new(
            &agent.id,
            ClientAuth::Secret(Secret::new(&agent.secret)),
        ))
        .build()
        .unwrap();
    let client = connect(&mcp, access.clone()).await;
    call(&client, "list_notes", json!({})).await.unwrap();
    // delete_note needs notes:admin, which the console never grants this client (it issues
    // requested ∩ allowed): each step-up gets a token without it.
    let err = call(&client, "delete_note", json!({"id": 1}))
        .await
        .unwrap_err();
    match auth_error(&err) {
        Some(Error::StepUpLimit {
            attempts,
            requested,
            denial,
        }) => {
            assert_eq!(*attempts, 2);
            assert_eq!(requested, &["notes:read", "notes:admin"]);
            assert_eq!(denial.status, Some(403));
            assert_eq!(denial.scope, ["notes:admin"]);
        }
        other => panic!("expected StepUpLimit, got {other:?} from {err}"),
    }
    // The console grants requested ∩ allowed: the token still carries only notes:read.
    assert_eq!(token_scopes(&access).await, ["notes:read"]);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn credentials_bound_to_another_issuer_are_never_sent() {
    let (console, mcp, agent) = console_setup().await;
    let access = Access::for_resource(&mcp)
        .unwrap()
        .client_credentials(
            ClientCredentials::new(&agent.id, ClientAuth::Secret(Secret::new(&agent.secret)))
                .for_issuer("https://as.example"),
        )
        .build()
        .unwrap();
    match access.token().await {
        Err(Error::CredentialsForAnotherIssuer { bound, discovered }) => {
            assert_eq!(bound, "https://as.example");
            assert_eq!(discovered, console.base);
        }
        other => panic!("expected CredentialsForAnotherIssuer, got {other:?}"),
    }
}

#[tokio::test]
async fn a_fresh_token_refused_again_is_unauthorized_with_the_servers_reason() {
    // The notes server trusts the console as issuer but takes its keys from elsewhere (a
    // misconfigured JWKS URL): every console token fails with unknown_key.
    let console = TestConsole::start().await;
    let other_keys = authsec_testkit::FakeAuthServer::start(authsec_testkit::jwks(&[
        &authsec_testkit::TestKey::es256("elsewhere"),
    ]))
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mcp = format!("http://{}/mcp", listener.local_addr().unwrap());
    let rs = console
        .resource_server("notes", &mcp, &["notes:read"])
        .await;
    let agent = console.client(&rs.id, "agent", &["notes:read"]).await;
    serve_notes(listener, &mcp, &console.base, &other_keys.jwks_url()).await;
    let access = Access::for_resource(&mcp)
        .unwrap()
        .client_credentials(ClientCredentials::new(
            &agent.id,
            ClientAuth::Secret(Secret::new(&agent.secret)),
        ))
        .build()
        .unwrap();
    let transport = StreamableHttpClientTransport::with_client(
        AuthsecHttpClient::new(reqwest::Client::new(), access),
        StreamableHttpClientTransportConfig::with_uri(mcp.as_str()),
    );
    let err = ().serve(transport).await.unwrap_err();
    match auth_error(&err) {
        Some(Error::Unauthorized(denial)) => {
            assert_eq!(denial.status, Some(401));
            assert_eq!(denial.reason.as_deref(), Some("unknown_key"));
            assert_eq!(denial.next_step().action(), "reauthorize");
        }
        other => panic!("expected Unauthorized, got {other:?} from {err}"),
    }
}

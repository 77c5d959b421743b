//! The benchmark's authsec servers answer the benchmark request exactly as the runner's
//! correctness gate expects, and the two binaries work together as `bench/run.py` starts them.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use authsec::config::Config;
use authsec::http::AuthSecLayer;
use authsec::Validator;
use authsec_echo::{bare_app, protected_app};
use authsec_testkit::{claims, jwks, FakeAuthServer, TestKey};
use serde_json::{json, Value};

const RESOURCE: &str = "https://bench.authsec.example/mcp";
const SCOPE: &str = "bench:echo";
const TOOL_SCOPES: &str = r#"{"echo":["bench:echo"]}"#;

fn echo_request() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": "echo", "arguments": {"text": "authsec-bench"}}})
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/mcp")
}

async fn post(url: &str, token: Option<&str>) -> reqwest::Response {
    let mut rb = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2025-06-18")
        .body(echo_request().to_string());
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    rb.send().await.unwrap()
}

async fn assert_echoed(resp: reqwest::Response) {
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["id"], 1);
    assert_eq!(
        body["result"]["content"],
        json!([{"type": "text", "text": "authsec-bench"}])
    );
}

struct Protected {
    key: TestKey,
    auth: FakeAuthServer,
    url: String,
}

async fn protected() -> Protected {
    let key = TestKey::rsa("bench-rs256", "RS256");
    let auth = FakeAuthServer::start(jwks(&[&key])).await;
    let config = Config::builder(auth.issuer(), RESOURCE)
        .jwks_url(auth.jwks_url())
        .tool_scopes_json(TOOL_SCOPES)
        .build()
        .unwrap();
    let layer = AuthSecLayer::new(Validator::new(config).await.unwrap()).unwrap();
    let url = serve(protected_app(layer)).await;
    Protected { key, auth, url }
}

#[tokio::test]
async fn protected_echo_answers_the_benchmark_request_with_plain_json() {
    let p = protected().await;
    let token = p.key.token(&claims(&p.auth.issuer(), RESOURCE, SCOPE));
    assert_echoed(post(&p.url, Some(&token)).await).await;
}

#[tokio::test]
async fn protected_echo_refuses_a_missing_token() {
    let p = protected().await;
    let resp = post(&p.url, None).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["reason"], "no_token");
}

#[tokio::test]
async fn protected_echo_refuses_a_token_for_another_audience() {
    let p = protected().await;
    let token = p.key.token(&claims(
        &p.auth.issuer(),
        "https://bench.authsec.example/other",
        SCOPE,
    ));
    let resp = post(&p.url, Some(&token)).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["reason"], "audience_mismatch");
}

#[tokio::test]
async fn bare_echo_answers_without_a_token() {
    let url = serve(bare_app()).await;
    assert_echoed(post(&url, None).await).await;
}

/// Kills the child when dropped, so a failed assertion leaves no process behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn bench_issuer_token_is_accepted_by_the_authsec_echo_binary_and_its_wrong_audience_token_is_not(
) {
    let mut issuer = Guard(
        Command::new(env!("CARGO_BIN_EXE_bench-issuer"))
            .args([RESOURCE, SCOPE])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(issuer.0.stdout.take().unwrap()).lines();
    let mut value = |name: &str| {
        let line = lines.next().unwrap().unwrap();
        line.strip_prefix(&format!("{name}="))
            .unwrap_or_else(|| panic!("expected {name}=…, got {line:?}"))
            .to_owned()
    };
    let (issuer_url, jwks_url) = (value("ISSUER"), value("JWKS_URL"));
    let (token, wrong_aud_token) = (value("TOKEN"), value("WRONG_AUD_TOKEN"));

    let port = free_port();
    let _server = Guard(
        Command::new(env!("CARGO_BIN_EXE_authsec-echo"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("AUTHSEC_ISSUER", &issuer_url)
            .env("AUTHSEC_JWKS_URL", &jwks_url)
            .env("AUTHSEC_RESOURCE_URI", RESOURCE)
            .env("AUTHSEC_TOOL_SCOPES_JSON", TOOL_SCOPES)
            .env("AUTHSEC_VALIDATION_MODE", "jwt_only")
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "authsec-echo did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let url = format!("http://127.0.0.1:{port}/mcp");
    assert_echoed(post(&url, Some(&token)).await).await;
    let resp = post(&url, Some(&wrong_aud_token)).await;
    assert_eq!(resp.status(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["reason"], "audience_mismatch");
}

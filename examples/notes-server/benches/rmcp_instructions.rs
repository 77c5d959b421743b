//! authsec's cost on a real rmcp server, in CPU instructions (deterministic where wall-clock
//! timings on a shared machine are not). `scripts/instructions.sh` runs this binary under
//! valgrind (callgrind) for N and 2N requests, bare and protected, and divides the
//! differences by N.
//!
//! `rmcp_instructions bare|protected N` sends N stateless 2026-07-28 `tools/call`s of
//! `server_time` to the notes example's rmcp service (plain JSON answers, no session), either
//! straight to it or through `protected_app` (a repeated ES256 token, cached after the first
//! request). Both runs first send one request through the protected app, so that start-up work
//! is the same and cancels out.

use std::hint::black_box;

use authsec::config::Config;
use authsec::http::AuthSecLayer;
use authsec::keys::KeySet;
use authsec::Validator;
use authsec_notes::{protected_app, unprotected_app, Transport, EXAMPLE_TOOL_SCOPES_JSON};
use authsec_testkit::{claims, jwks, TestKey};
use axum::body::Body;
use http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

const ISSUER: &str = "https://as.example.com";
const RESOURCE: &str = "http://127.0.0.1/mcp";
const CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"server_time","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;

fn request(token: &str) -> Request<Body> {
    Request::post(RESOURCE)
        .header("host", "127.0.0.1")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "server_time")
        .body(Body::from(CALL))
        .expect("request")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(which), Some(n)) = (args.next(), args.next().and_then(|n| n.parse::<u64>().ok()))
    else {
        // `cargo bench` runs every bench target with `--bench`: nothing to do here.
        eprintln!("usage: rmcp_instructions bare|protected N (see scripts/instructions.sh)");
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let key = TestKey::es256("k1");
    let token = key.token(&claims(ISSUER, RESOURCE, "notes:read"));
    let config = Config::builder(ISSUER, RESOURCE)
        .tool_scopes_json(EXAMPLE_TOOL_SCOPES_JSON)
        .build()
        .expect("config");
    let keys = KeySet::from_json(jwks(&[&key]).to_string().as_bytes()).expect("jwks");
    let layer = AuthSecLayer::new(Validator::with_keys(config, keys)).expect("a local policy mode");
    let protected = protected_app(layer, Transport::StatelessJson);
    let bare = unprotected_app(Transport::StatelessJson);
    let app = match which.as_str() {
        "bare" => bare,
        "protected" => protected.clone(),
        other => panic!("unknown variant {other:?}"),
    };
    let send = |app: axum::Router| {
        let req = request(&token);
        rt.block_on(async move {
            let resp = app.oneshot(req).await.expect("infallible");
            let status = resp.status();
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            (status, body)
        })
    };
    // The first verification fills the token cache, in both runs.
    let (status, body) = send(protected);
    assert_eq!(
        status, 200,
        "the measured request must be allowed: {body:?}"
    );
    assert!(
        body.starts_with(br#"{"jsonrpc":"2.0","id":1,"result":"#),
        "{body:?}"
    );
    for _ in 0..n {
        let (status, body) = send(app.clone());
        assert_eq!(status, 200);
        black_box(body);
    }
}

//! Testing a protected server with the SDK's `test-issuer` feature: tokens from
//! `authsec::testing::TestIssuer`, the server exactly as it runs in production. The guide's
//! "Testing your server" section shows this file's first test.

use authsec::testing::TestIssuer;
use authsec::{AuthSecLayer, Validator};
use authsec_notes::{protected_app, serve, Transport, EXAMPLE_TOOL_SCOPES_JSON};
use serde_json::{json, Value};

/// The notes server on a loopback port, trusting `issuer`; returns its MCP URL.
async fn notes_server(issuer: &TestIssuer) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mcp = format!("http://{}/mcp", listener.local_addr().unwrap());
    let config = issuer
        .config(&mcp)
        .tool_scopes_json(EXAMPLE_TOOL_SCOPES_JSON)
        .build()
        .unwrap();
    let layer = AuthSecLayer::new(Validator::new(config).await.unwrap()).unwrap();
    let app = protected_app(layer, Transport::StatelessJson);
    tokio::spawn(serve(listener, app, std::future::pending()));
    mcp
}

/// `tools/call` of `tool` with `token`: the status and the JSON body.
async fn call(mcp: &str, token: &str, tool: &str, arguments: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(mcp)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": tool, "arguments": arguments}}))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_token_with_the_tools_scope_may_call_it_and_one_without_may_not() {
    let issuer = TestIssuer::start().await.unwrap();
    let mcp = notes_server(&issuer).await;

    let writer = issuer
        .token(&mcp)
        .subject("alice")
        .scope("notes:write")
        .mint();
    let (status, body) = call(&mcp, &writer, "add_note", json!({"text": "hi"})).await;
    assert_eq!(status, 200, "{body}");

    let reader = issuer.token(&mcp).scope("notes:read").mint();
    let (status, body) = call(&mcp, &reader, "add_note", json!({"text": "hi"})).await;
    assert_eq!(status, 403);
    assert_eq!(body["reason"], "insufficient_scope");
    assert_eq!(body["required_scopes"], json!(["notes:write"]));
}

#[tokio::test]
async fn an_expired_token_is_401_token_expired() {
    let issuer = TestIssuer::start().await.unwrap();
    let mcp = notes_server(&issuer).await;
    let expired = issuer
        .token(&mcp)
        .scope("notes:read")
        .expires_at(authsec::system_now() - 600)
        .mint();
    let (status, body) = call(&mcp, &expired, "list_notes", json!({})).await;
    assert_eq!((status, &body["reason"]), (401, &json!("token_expired")));
}

#[tokio::test]
async fn a_token_for_another_resource_is_401_audience_mismatch() {
    let issuer = TestIssuer::start().await.unwrap();
    let mcp = notes_server(&issuer).await;
    let elsewhere = issuer
        .token("https://other.example/mcp")
        .scope("notes:read")
        .mint();
    let (status, body) = call(&mcp, &elsewhere, "list_notes", json!({})).await;
    assert_eq!(
        (status, &body["reason"]),
        (401, &json!("audience_mismatch"))
    );
}
